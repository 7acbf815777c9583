"""Secrets never leave the daemon (contract §2.1 masking, §8 item 7).

Secret values are stored in driver_info / instance_info; no API reply
(create, show, list --long, fields, PATCH replies, error replies, validate)
and no log line (the daemon runs at debug level) may contain them.  Masked
keys show the literal "******"; empty values stay as they are.

The module has its own daemon so its log holds only this module's traffic.
"""

import pytest

from conftest import assert_error, unique

IPMI_PASSWORD = 's3cretVALUE'
CONFIGDRIVE = 'c0nfigDRIVEvalue'
TOKEN = 't0kenVALUEx'
NEW_PASSWORD = 'n3wSECRETvalue'
CLI_PASSWORD = 'cl1SECRETvalue'
ALL_SECRETS = [IPMI_PASSWORD, CONFIGDRIVE, TOKEN, NEW_PASSWORD, CLI_PASSWORD]
MASK = '******'


@pytest.fixture(scope='module')
def d(module_launcher):
    return module_launcher.start()


def assert_clean(text, where):
    for secret in ALL_SECRETS:
        assert secret not in text, '%s leaks %r' % (where, secret)


def assert_log_clean(d):
    log = d.log_text()
    assert log, 'empty log'
    for n, line in enumerate(log.splitlines(), 1):
        for secret in ALL_SECRETS:
            assert secret not in line, 'log line %d leaks: %s' % (n, line)


def test_api_replies_hide_secrets(d):
    name = unique('sec-http')
    replies = []

    def call(method, path, body=None, status=200, **kw):
        r = d.request(method, path, json=body, **kw)
        assert r.status_code == status, r.text
        replies.append(('%s %s' % (method, path), r))
        return r

    node = call('POST', '/v1/nodes', {
        'driver': 'ipmi', 'name': name,
        'driver_info': {'ipmi_address': '10.0.0.5',
                        'ipmi_password': IPMI_PASSWORD},
        'instance_info': {'configdrive': CONFIGDRIVE, 'some_token': TOKEN,
                          'image_source': 'http://img/x'}}, 201).json()
    assert node['driver_info'] == {'ipmi_address': '10.0.0.5',
                                   'ipmi_password': MASK}
    assert node['instance_info'] == {'configdrive': MASK, 'some_token': MASK,
                                     'image_source': 'http://img/x'}
    uuid = node['uuid']

    for path in ('/v1/nodes/' + name, '/v1/nodes/' + uuid,
                 '/v1/nodes/detail', '/v1/nodes?detail=true',
                 '/v1/nodes?fields=uuid,driver_info,instance_info',
                 '/v1/nodes/%s?fields=driver_info,instance_info' % uuid,
                 '/v1/nodes/%s/validate' % uuid):
        call('GET', path)
    shown = d.get('/v1/nodes/' + uuid).json()
    assert shown['driver_info']['ipmi_password'] == MASK
    assert shown['instance_info']['configdrive'] == MASK
    assert shown['instance_info']['some_token'] == MASK

    # PATCH replies: an unrelated change, and replacing the secret itself.
    r = call('PATCH', '/v1/nodes/' + uuid,
             [{'op': 'add', 'path': '/extra/x', 'value': 'y'}])
    assert r.json()['driver_info']['ipmi_password'] == MASK
    r = call('PATCH', '/v1/nodes/' + uuid,
             [{'op': 'replace', 'path': '/driver_info/ipmi_password',
               'value': NEW_PASSWORD}])
    assert r.json()['driver_info']['ipmi_password'] == MASK

    # Error replies that concern the secret fields.
    r = call('PATCH', '/v1/nodes/' + uuid,
             [{'op': 'test', 'path': '/driver_info/ipmi_password',
               'value': 'wrong'}], 400)
    assert_error(r, 400)
    r = call('PATCH', '/v1/nodes/' + uuid,
             [{'op': 'replace', 'path': '/driver_info/ipmi_password',
               'value': NEW_PASSWORD + 'x'},
              {'op': 'add', 'path': '/bogus', 'value': 1}], 400)
    assert_error(r, 400)
    r = call('PATCH', '/v1/nodes/' + uuid,
             [{'op': 'copy', 'from': '/driver_info/ipmi_password',
               'path': '/driver_info/ipmi_password/x'}], 400)
    assert_error(r, 400)
    r = call('POST', '/v1/nodes', {
        'driver': 'ipmi', 'name': name,
        'driver_info': {'ipmi_password': IPMI_PASSWORD}}, 409)
    assert_error(r, 409)

    for where, r in replies:
        assert_clean(r.text, where)
        assert_clean(str(dict(r.headers)), where + ' headers')
    assert_log_clean(d)


@pytest.mark.parametrize('kind', ['node', 'port'])
def test_patch_cannot_read_masked_values(d, kind):
    """copy/move/test are refused (Ironic's schema allows add, replace and
    remove only), so no PATCH can copy a masked secret into a field shown in
    clear, move it there, or probe it: a right and a wrong guess read the
    same, and nothing changes."""
    node = d.create_node(name=unique('sec-patch'), driver='ipmi',
                         driver_info={'ipmi_address': '10.0.0.5',
                                      'ipmi_password': IPMI_PASSWORD},
                         instance_info={'some_token': TOKEN})
    if kind == 'node':
        path = '/v1/nodes/' + node['uuid']
        secret, value = '/driver_info/ipmi_password', IPMI_PASSWORD
    else:
        port = d.create_port(node['uuid'], extra={'a': 'port-extra'})
        path = '/v1/ports/' + port['uuid']
        secret, value = '/extra/a', 'port-extra'
    before = d.get(path).json()
    replies = []
    for op, want in [
            ({'op': 'copy', 'from': secret, 'path': '/extra/x'},
             "Schema error for patch: Additional properties are not "
             "allowed ('from' was unexpected)"),
            ({'op': 'move', 'from': secret, 'path': '/extra/x'},
             "Schema error for patch: Additional properties are not "
             "allowed ('from' was unexpected)"),
            ({'op': 'test', 'path': secret, 'value': value},
             "Schema error for patch: 'test' is not one of ['add', "
             "'replace', 'remove']"),
            ({'op': 'test', 'path': secret, 'value': 'wrong-guess'},
             "Schema error for patch: 'test' is not one of ['add', "
             "'replace', 'remove']")]:
        r = d.patch(path, [op])
        assert_error(r, 400, want)
        replies.append(r)
        # A valid op before the refused one does not get through either.
        r = d.patch(path, [{'op': 'add', 'path': '/extra/y', 'value': 'z'},
                           op])
        assert_error(r, 400, want)
        replies.append(r)
    assert d.get(path).json() == before
    for r in replies:
        assert_clean(r.text, 'PATCH ' + path)
    assert_log_clean(d)


def test_cli_output_hides_secrets(d):
    name = unique('sec-cli')
    rc, out, err = d.cli('node', 'create', '--driver', 'ipmi', '--name', name,
                         '--driver-info', 'ipmi_address=10.0.0.7',
                         '--driver-info', 'ipmi_password=' + CLI_PASSWORD,
                         '-f', 'json')
    assert rc == 0, err
    assert_clean(out + err, 'node create')
    rc, out, err = d.cli('node', 'set', name,
                         '--instance-info', 'configdrive=' + CONFIGDRIVE,
                         '--instance-info', 'some_token=' + TOKEN)
    assert (rc, out, err) == (0, '', '')
    node = d.cli_json('node', 'show', name)
    assert node['driver_info'] == {'ipmi_address': '10.0.0.7',
                                   'ipmi_password': MASK}
    assert node['instance_info'] == {'configdrive': MASK, 'some_token': MASK}
    rc, out, err = d.cli('node', 'list', '--long', '-f', 'json')
    assert rc == 0, err
    assert_clean(out + err, 'node list --long')
    assert_log_clean(d)


@pytest.mark.parametrize('key,value,shown', [
    ('ipmi_password', 'pw-A1', MASK),
    ('IPMI_Password', 'pw-A2', MASK),          # case-insensitive
    ('redfish_password', 'pw-A3', MASK),
    ('some_password', 'pw-A4', MASK),
    ('my_secret_thing', 'pw-A5', MASK),
    ('auth_token', 'pw-A6', MASK),
    ('private_key', 'pw-A7', MASK),
    ('snmp_auth_key', 'pw-A8', MASK),
    ('snmp_priv_key', 'pw-A9', MASK),
    ('passphrase', 'pw-B1', MASK),
    ('empty_password', '', ''),                # empty values stay empty
    ('ipmi_username', 'admin', 'admin'),       # not a secret
])
def test_driver_info_masking_rules(d, key, value, shown):
    node = d.create_node(driver='ipmi', driver_info={key: value})
    assert node['driver_info'] == {key: shown}
    assert d.get('/v1/nodes/' + node['uuid']).json()['driver_info'] == \
        {key: shown}
    if shown == MASK:
        assert value not in d.log_text()


def test_instance_info_image_url_masked(d):
    node = d.create_node(instance_info={'image_url': 'http://host/img?sig=X1',
                                        'image_source': 'glance-id'})
    assert node['instance_info'] == {'image_url': MASK,
                                     'image_source': 'glance-id'}


def test_nested_secrets_masked(d):
    r = d.post('/v1/nodes', {
        'driver': 'ipmi',
        'driver_info': {'creds': {'password': 'n3stedVALUE', 'user': 'u'}},
        'instance_info': {'nested': {'configdrive': 'n3stedDRIVE'}}})
    assert r.status_code == 201
    assert 'n3stedVALUE' not in r.text and 'n3stedDRIVE' not in r.text
    node = r.json()
    assert node['driver_info'] == {'creds': {'password': MASK, 'user': 'u'}}
    assert node['instance_info'] == {'nested': {'configdrive': MASK}}


def test_log_is_clean_at_the_end(d):
    assert_log_clean(d)
