"""Bad input over HTTP (and twice through the CLI).

For every case: the status code, the error body format of contract §1.3
(``{"error_message": "<JSON string>"}`` with faultcode ``Client``), the
faultstring, the min/max version headers, and that nothing in the store
changed (every node and port, in full, before == after).

Faultstrings are compared exactly where the contract (or Ironic, which it
restates) fixes the text, and with a regular expression that names the
offending field or value where it does not.
"""

import json

import pytest

from conftest import (MAX_HEADER, MIN_HEADER, VERSION_HEADER, assert_error,
                      unique_mac)

NODE = 'bi-node'            # the node the cases patch
JSONH = {'Content-Type': 'application/json'}


@pytest.fixture(scope='module')
def env(module_daemon):
    """A node with a port and a second named node, for patch/dup cases."""
    d = module_daemon
    node = d.create_node(name=NODE, driver_info={'ipmi_address': '10.0.0.9'},
                         extra={'keep': 'me'})
    port = d.create_port(node['uuid'], '52:54:00:0b:ad:01')
    d.create_node(name='bi-other')
    return {'d': d, 'node': node, 'port': port}


def _uuid(env):
    return env['node']['uuid']


# (id, method, path, kwargs, status, exact faultstring or None, regex or None)
# ``path``/``kwargs`` may be callables taking ``env`` (for UUIDs).
CASES = [
    # -- malformed bodies -------------------------------------------------
    ('malformed-json-create', 'POST', '/v1/nodes',
     {'data': '{"driver": ', 'headers': JSONH}, 400, None,
     r'(?i).*JSON.*'),
    ('malformed-json-patch', 'PATCH', '/v1/nodes/' + NODE,
     {'data': '[{"op": "add", ', 'headers': JSONH}, 400, None,
     r'(?i).*JSON.*'),
    ('empty-body-create', 'POST', '/v1/nodes',
     {'data': '', 'headers': JSONH}, 400, None, r'(?i).*(body|JSON).*'),
    ('array-body-create', 'POST', '/v1/nodes',
     {'data': '[]', 'headers': JSONH}, 400, None, r'(?i).*object.*'),
    # -- wrong types ------------------------------------------------------
    ('driver_info-string', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'driver_info': 'str'}}, 400, None,
     r'.*driver_info.*'),
    ('extra-array', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'extra': []}}, 400, None,
     r'.*extra.*'),
    ('name-number', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'name': 12}}, 400, None,
     r'.*name.*'),
    ('maintenance-maybe-patch', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/maintenance', 'value': 'maybe'}]},
     400, None, r'.*maintenance.*'),
    ('driver_info-string-patch', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/driver_info', 'value': 'str'}]},
     400, None, r'.*driver_info.*'),
    ('name-number-patch', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/name', 'value': 12}]},
     400, None, r'.*name.*'),
    # -- schema -----------------------------------------------------------
    ('unknown-field', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'bogus': 1}}, 400,
     "Additional properties are not allowed ('bogus' was unexpected)", None),
    ('missing-driver', 'POST', '/v1/nodes', {'json': {'name': 'bi-nodrv'}},
     400, "'driver' is a required property", None),
    ('bad-uuid', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'uuid': 'not-a-uuid'}}, 400, None,
     r'.*not-a-uuid.*'),
    ('unknown-interface', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'boot_interface': 'nosuch'}}, 400,
     None, r'.*nosuch.*'),
    # -- names ------------------------------------------------------------
    ('name-with-space', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'name': 'bad name'}}, 400, None,
     r'.*bad name.*'),
    ('name-with-slash', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'name': 'a/b'}}, 400, None,
     r'.*a/b.*'),
    ('name-too-long', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'name': 'a' * 256}}, 400, None,
     r'.*name.*'),
    ('rename-invalid', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/name', 'value': 'bad name'}]},
     400, None, r'.*bad name.*'),
    ('duplicate-name', 'POST', '/v1/nodes',
     {'json': {'driver': 'fake-hardware', 'name': NODE}}, 409,
     'A node with name %s already exists.' % NODE, None),
    ('rename-duplicate', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/name', 'value': 'bi-other'}]},
     409, 'A node with name bi-other already exists.', None),
    # -- MAC addresses ----------------------------------------------------
    ('mac-bad-hex', 'POST', '/v1/ports',
     lambda e: {'json': {'address': 'ZZ:54:00:AA:BB:CC',
                         'node_uuid': _uuid(e)}}, 400,
     'Expected a MAC address but received ZZ:54:00:AA:BB:CC.', None),
    ('mac-too-short', 'POST', '/v1/ports',
     lambda e: {'json': {'address': '52:54:00:AA:BB',
                         'node_uuid': _uuid(e)}}, 400,
     'Expected a MAC address but received 52:54:00:AA:BB.', None),
    ('mac-too-long', 'POST', '/v1/ports',
     lambda e: {'json': {'address': '52:54:00:aa:bb:cc:dd',
                         'node_uuid': _uuid(e)}}, 400,
     'Expected a MAC address but received 52:54:00:aa:bb:cc:dd.', None),
    ('mac-empty', 'POST', '/v1/ports',
     lambda e: {'json': {'address': '', 'node_uuid': _uuid(e)}}, 400,
     'Expected a MAC address but received .', None),
    ('mac-patch', 'PATCH', lambda e: '/v1/ports/' + e['port']['uuid'],
     {'json': [{'op': 'replace', 'path': '/address', 'value': 'nope'}]},
     400, 'Expected a MAC address but received nope.', None),
    ('mac-duplicate-other-case', 'POST', '/v1/ports',
     lambda e: {'json': {'address': '52:54:00:0B:AD:01',
                         'node_uuid': _uuid(e)}}, 409,
     'A port with MAC address 52:54:00:0b:ad:01 already exists.', None),
    ('port-unknown-node', 'POST', '/v1/ports',
     {'json': {'address': '52:54:00:0b:ad:99',
               'node_uuid': '9e9f3b5e-1d7b-4c1e-9c59-3d0c0e2b2c11'}}, 400,
     'Node 9e9f3b5e-1d7b-4c1e-9c59-3d0c0e2b2c11 could not be found.', None),
    # -- PATCH rules (contract §1.4 "Update rules for PATCH") ---------------
    ('patch-provision_state', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/provision_state',
                'value': 'active'}]}, 400, None, r'.*/?provision_state.*'),
    ('patch-driver_internal_info', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'add', 'path': '/driver_internal_info/x',
                'value': 'y'}]}, 400, None, r'.*driver_internal_info.*'),
    ('patch-traits', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'add', 'path': '/traits', 'value': ['CUSTOM_X']}]},
     400, None, r'.*traits.*'),
    ('patch-uuid', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/uuid',
                'value': '9e9f3b5e-1d7b-4c1e-9c59-3d0c0e2b2c12'}]},
     400, None, r'.*uuid.*'),
    ('patch-add-root-attribute', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'add', 'path': '/foo', 'value': 'x'}]}, 400,
     'Adding a new attribute (/foo) to the root of the resource is not '
     'allowed', None),
    ('patch-not-a-list', 'PATCH', '/v1/nodes/' + NODE,
     {'json': {'op': 'add', 'path': '/extra/a', 'value': 'x'}}, 400, None,
     r'(?i).*(patch|list|array).*'),
    ('patch-bad-op', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'frob', 'path': '/extra/a', 'value': 'x'}]}, 400, None,
     r'.*frob.*'),
    ('patch-missing-value', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'add', 'path': '/extra/a'}]}, 400, None,
     r'(?i).*value.*'),
    ('patch-remove-missing', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'remove', 'path': '/extra/nope'}]}, 400, None,
     r'.*nope.*'),
    ('patch-unknown-interface', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/power_interface',
                'value': 'nosuch'}]}, 400, None, r'.*nosuch.*'),
    ('patch-unknown-driver', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'replace', 'path': '/driver', 'value': 'nosuch'}]},
     400, 'No valid host was found. Reason: No conductor service registered '
          'which supports driver nosuch for conductor group "".', None),
    # A valid first op must not be applied when a later one fails.
    ('patch-atomic', 'PATCH', '/v1/nodes/' + NODE,
     {'json': [{'op': 'add', 'path': '/extra/new', 'value': 'x'},
               {'op': 'replace', 'path': '/provision_state',
                'value': 'active'}]}, 400, None, r'.*provision_state.*'),
    # -- lookups ----------------------------------------------------------
    ('node-not-found', 'GET', '/v1/nodes/nope', {}, 404,
     'Node nope could not be found.', None),
    ('delete-not-found', 'DELETE', '/v1/nodes/nope', {}, 404,
     'Node nope could not be found.', None),
    ('unknown-path', 'GET', '/v1/bogus', {}, 404, None, None),
    ('method-not-allowed', 'POST', '/v1', {'json': {}}, 405, None, None),
    # -- query parameters -------------------------------------------------
    ('unknown-query', 'GET', '/v1/nodes?bogus=1', {}, 400,
     'Unknown argument: "bogus"', None),
    ('limit-not-int', 'GET', '/v1/nodes?limit=abc', {}, 400, None,
     r'(?i).*limit.*'),
    ('limit-negative', 'GET', '/v1/nodes?limit=-1', {}, 400,
     'Limit must be positive', None),
    ('limit-zero', 'GET', '/v1/nodes?limit=0', {}, 400,
     'Limit must be positive', None),
    ('sort-dir', 'GET', '/v1/nodes?sort_dir=up', {}, 400,
     "Invalid sort direction: up. Acceptable values are 'asc' or 'desc'",
     None),
    ('sort-key-unknown', 'GET', '/v1/nodes?sort_key=bogus', {}, 400,
     'The sort_key value bogus is an invalid field for sorting', None),
    ('sort-key-json-field', 'GET', '/v1/nodes?sort_key=driver_info', {}, 400,
     'The sort_key value driver_info is an invalid field for sorting', None),
    ('fields-invalid', 'GET', '/v1/nodes?fields=uuid,bogus', {}, 400,
     'Field(s) "bogus" are not valid', None),
    ('fields-invalid-show', 'GET', '/v1/nodes/%s?fields=bogus' % NODE, {},
     400, 'Field(s) "bogus" are not valid', None),
    ('maintenance-filter', 'GET', '/v1/nodes?maintenance=maybe', {}, 400,
     None, r'.*maintenance.*'),
    ('port-list-bad-limit', 'GET', '/v1/ports?limit=0', {}, 400,
     'Limit must be positive', None),
    # -- echoed bytes that are not UTF-8 still make an error document -----
    ('unknown-query-not-utf8', 'GET', '/v1/nodes?%FF%FE=1', {}, 400,
     'Unknown argument: "??"', None),
    ('sort-key-not-utf8', 'GET', '/v1/nodes?sort_key=%C3%28', {}, 400,
     'The sort_key value ?( is an invalid field for sorting', None),
    ('node-not-utf8', 'GET', '/v1/nodes/%FF', {}, 404,
     'Node ? could not be found.', None),
]


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_request(env, case):
    _, method, path, kwargs, status, exact, regex = case
    d = env['d']
    path = path(env) if callable(path) else path
    kwargs = kwargs(env) if callable(kwargs) else dict(kwargs)
    before = d.snapshot()
    r = d.request(method, path, **kwargs)
    assert_error(r, status, exact, regex)
    # The request ran at the version asked for.
    assert r.headers.get(VERSION_HEADER) == '1.78'
    assert d.snapshot() == before


def test_body_too_large(env):
    # 10 MiB against max_request_body_size = 1 MiB.
    d = env['d']
    before = d.snapshot()
    body = '{"driver": "fake-hardware", "extra": {"x": "%s"}}' % (
        'a' * (10 * 1024 * 1024))
    r = d.request('POST', '/v1/nodes', data=body, headers=JSONH)
    assert_error(r, 413)
    assert d.snapshot() == before
    # The daemon is still fine afterwards.
    assert d.get('/v1/nodes/' + NODE).status_code == 200


def test_unsupported_version(env):
    d = env['d']
    before = d.snapshot()
    r = d.post('/v1/nodes', {'driver': 'fake-hardware'}, version='1.99')
    assert_error(r, 406, 'Version 1.99 was requested but the minor version '
                 'is not supported by this service. The supported version '
                 'range is: [1.1, 1.78].')
    assert r.headers[MIN_HEADER] == '1.1'
    assert r.headers[MAX_HEADER] == '1.78'
    assert VERSION_HEADER not in r.headers
    assert d.snapshot() == before


def test_uuid_shaped_name_rejected(env):
    d = env['d']
    before = d.snapshot()
    fake = '1cb19e89-1027-433d-83ab-867b2599d6bf'
    r = d.post('/v1/nodes', {'driver': 'fake-hardware', 'name': fake})
    try:
        assert_error(r, 400, match=r'.*%s.*' % fake)
        assert d.snapshot() == before
        r = d.patch('/v1/nodes/' + NODE,
                    [{'op': 'replace', 'path': '/name', 'value': fake}])
        assert_error(r, 400, match=r'.*%s.*' % fake)
        assert d.snapshot() == before
    finally:
        # Undo whatever the buggy server accepted, so other tests of this
        # module still see the store they expect.
        for n in d.get('/v1/nodes?fields=uuid,name').json()['nodes']:
            if n['name'] == fake:
                d.delete('/v1/nodes/' + n['uuid'])
        d.patch('/v1/nodes/' + env['node']['uuid'],
                [{'op': 'replace', 'path': '/name', 'value': NODE}])


def test_error_content_is_json_string(env):
    # The inner value is a JSON *string* (double encoding), with debuginfo.
    r = env['d'].get('/v1/nodes/nope')
    raw = r.json()['error_message']
    assert isinstance(raw, str)
    assert json.loads(raw) == {'faultcode': 'Client',
                               'faultstring': 'Node nope could not be found.',
                               'debuginfo': None}


# -- the CLI prints such errors cleanly: one line, the message, the code ---

def test_cli_bad_mac(env):
    d = env['d']
    before = d.snapshot()
    rc, out, err = d.cli('port', 'create', 'ZZ:54:00:AA:BB:CC',
                         '--node', _uuid(env))
    assert (rc, out) == (1, '')
    assert err.strip() == ('Expected a MAC address but received '
                           'ZZ:54:00:AA:BB:CC. (HTTP 400)')
    assert d.snapshot() == before


def test_cli_bad_interface_name(env):
    d = env['d']
    before = d.snapshot()
    rc, out, err = d.cli('node', 'create', '--driver', 'fake-hardware',
                         '--name', 'bi-cli-badif', '--boot-interface',
                         'nosuch')
    assert (rc, out) == (1, '')
    msg = err.strip()
    assert 'nosuch' in msg and msg.endswith('(HTTP 400)'), msg
    assert '\n' not in msg and 'Traceback' not in msg
    assert d.snapshot() == before


def test_good_mac_still_accepted(env):
    # Control: the same shapes with valid values do go through.
    d = env['d']
    mac = unique_mac()
    port = d.create_port(_uuid(env), mac.upper())
    assert port['address'] == mac
    assert d.delete('/v1/ports/' + port['uuid']).status_code == 204
