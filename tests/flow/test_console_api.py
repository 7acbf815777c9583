"""The node console API (contract wave 2, section 1) with the fake console
interface: `openstack baremetal node console enable|disable|show`, the
request checks in Ironic's words, the lock rules, PATCH of the driver
while the console is on, and the console's state across a restart.  The
IPMI Serial-over-LAN console itself is tested in test_console.py against
the lab's ipmi_sim BMC.
"""

import pytest

from conftest import assert_error, unique, wait_for

FAKE_CONSOLE = {'console_interface': 'fake'}


def console(d, ident):
    r = d.get('/v1/nodes/%s/states/console' % ident)
    assert r.status_code == 200, r.text
    return r.json()


def wait_console(d, ident, enabled):
    wait_for(lambda: d.get('/v1/nodes/%s' % ident).json()
             ['console_enabled'] is enabled and
             d.get('/v1/nodes/%s' % ident).json()['reservation'] is None,
             10, what='console_enabled %s' % enabled)


def test_cli_enable_show_disable(module_daemon):
    d = module_daemon
    name = unique('con')
    d.create_node(name=name, **FAKE_CONSOLE)
    show = d.cli_json('node', 'console', 'show', name)
    assert show == {'console_enabled': False, 'console_info': None}

    rc, out, err = d.cli('node', 'console', 'enable', name)
    assert rc == 0, (out, err)
    wait_console(d, name, True)
    show = d.cli_json('node', 'console', 'show', name)
    assert show == {'console_enabled': True, 'console_info': {}}
    assert d.get('/v1/nodes/%s/states' % name).json()['console_enabled']

    rc, out, err = d.cli('node', 'console', 'disable', name)
    assert rc == 0, (out, err)
    wait_console(d, name, False)
    assert console(d, name) == {'console_enabled': False,
                                'console_info': None}
    assert 'console enabled' in d.log_text()


def test_put_answers_202_with_location_and_no_body(module_daemon):
    d = module_daemon
    name = unique('con')
    d.create_node(name=name, **FAKE_CONSOLE)
    r = d.put('/v1/nodes/%s/states/console' % name, {'enabled': True})
    assert r.status_code == 202, r.text
    assert r.content == b''
    assert r.headers['Location'].endswith(
        '/v1/nodes/%s/states/console' % name)
    wait_console(d, name, True)
    # As asked already: 202 again, nothing queued.
    r = d.put('/v1/nodes/%s/states/console' % name, {'enabled': 'on'})
    assert r.status_code == 202, r.text
    assert d.get('/v1/nodes/%s' % name).json()['reservation'] is None
    # ?enabled= alone, as Ironic takes it.
    r = d.put('/v1/nodes/%s/states/console?enabled=false' % name)
    assert r.status_code == 202, r.text
    wait_console(d, name, False)


ACCEPTABLE = ("acceptable values are: '0', '1', 'f', 'false', 'n', 'no', "
              "'off', 'on', 't', 'true', 'y', 'yes'")


@pytest.mark.parametrize('body,message', [
    (None, 'Missing mandatory parameter: enabled'),
    ({}, 'Missing mandatory parameter: enabled'),
    ({'enabled': 'maybe'},
     "Invalid enabled: Unrecognized value 'maybe', " + ACCEPTABLE),
    ({'enabled': True, 'foo': 1}, 'Unexpected arguments: foo'),
    ([True], 'Invalid input: the request body must be a JSON object'),
])
def test_bad_requests_change_nothing(module_daemon, body, message):
    d = module_daemon
    node = d.create_node(name=unique('con'), **FAKE_CONSOLE)
    before = d.get('/v1/nodes/%s' % node['uuid']).json()
    r = d.put('/v1/nodes/%s/states/console' % node['uuid'], body)
    assert_error(r, 400, message)
    assert d.get('/v1/nodes/%s' % node['uuid']).json() == before


def test_no_console_is_unsupported_but_readable(module_daemon):
    d = module_daemon
    node = d.create_node(name=unique('con'), console_interface='no-console')
    assert console(d, node['uuid']) == {'console_enabled': False,
                                        'console_info': None}
    for enabled in (True, False):
        r = d.put('/v1/nodes/%s/states/console' % node['uuid'],
                  {'enabled': enabled})
        assert_error(r, 400, 'Driver fake-hardware does not support '
                     'console (disabled or not implemented).')
    r = d.get('/v1/nodes/%s/validate' % node['uuid'])
    assert r.json()['console'] == {
        'result': False, 'reason': 'Driver fake-hardware does not support '
        'console (disabled or not implemented).'}
    rc, out, err = d.cli('node', 'console', 'enable', node['uuid'])
    assert rc != 0 and 'does not support console' in err, (out, err)


def test_unknown_node_is_404(module_daemon):
    d = module_daemon
    r = d.put('/v1/nodes/%s/states/console' % unique('nope'),
              {'enabled': True})
    assert r.status_code == 404, r.text
    r = d.get('/v1/nodes/%s/states/console' % unique('nope'))
    assert r.status_code == 404, r.text


def test_locked_node_is_409_and_unchanged(module_daemon):
    """A node reserved by a job (a slow fake power action) refuses."""
    d = module_daemon
    name = unique('con')
    d.create_node(name=name, driver_info={'fake_delay': 2}, **FAKE_CONSOLE)
    r = d.put('/v1/nodes/%s/states/power' % name, {'target': 'power on'})
    assert r.status_code == 202, r.text
    assert d.get('/v1/nodes/%s' % name).json()['reservation'] is not None
    r = d.put('/v1/nodes/%s/states/console' % name, {'enabled': True})
    assert_error(r, 409, match=r'Node \S+ is locked by host .*')
    wait_for(lambda: d.get('/v1/nodes/%s' % name).json()['reservation']
             is None, 10, what='power action done')
    assert d.get('/v1/nodes/%s' % name).json()['console_enabled'] is False


def test_driver_and_console_interface_fixed_while_enabled(module_daemon):
    d = module_daemon
    name = unique('con')
    d.create_node(name=name, **FAKE_CONSOLE)
    d.put('/v1/nodes/%s/states/console' % name, {'enabled': True})
    wait_console(d, name, True)
    r = d.patch('/v1/nodes/%s' % name, [
        {'op': 'replace', 'path': '/driver', 'value': 'ipmi'},
        {'op': 'add', 'path': '/description', 'value': 'x'}])
    assert_error(r, 409, 'Node %s can not update the driver while the '
                 'console is enabled. Please stop the console first.' % name)
    r = d.patch('/v1/nodes/%s' % name, [
        {'op': 'replace', 'path': '/console_interface',
         'value': 'no-console'}])
    assert_error(r, 409, match='Node %s can not update the console '
                 'interface while the console is enabled.*' % name)
    # Other fields still change.
    r = d.patch('/v1/nodes/%s' % name, [
        {'op': 'add', 'path': '/description', 'value': 'y'}])
    assert r.status_code == 200, r.text


def test_enabled_console_survives_a_restart(daemon):
    d = daemon
    node = d.create_node(name=unique('con'), **FAKE_CONSOLE)
    d.put('/v1/nodes/%s/states/console' % node['uuid'], {'enabled': True})
    wait_console(d, node['uuid'], True)
    d.restart()
    wait_console(d, node['uuid'], True)
    assert console(d, node['uuid']) == {'console_enabled': True,
                                        'console_info': {}}
    assert 'console started again' in d.log_text()


def test_delete_with_console_enabled(module_daemon):
    d = module_daemon
    node = d.create_node(name=unique('con'), **FAKE_CONSOLE)
    d.put('/v1/nodes/%s/states/console' % node['uuid'], {'enabled': True})
    wait_console(d, node['uuid'], True)
    r = d.delete('/v1/nodes/%s' % node['uuid'])
    assert r.status_code == 204, r.text
    assert d.get('/v1/nodes/%s' % node['uuid']).status_code == 404


def test_shellinabox_is_known_but_not_built(launcher):
    d = launcher.start(DEFAULT={
        'enabled_console_interfaces':
            'no-console,fake,ipmitool-socat,ipmitool-shellinabox'})
    node = d.create_node(name=unique('con'), driver='ipmi',
                         console_interface='ipmitool-shellinabox',
                         driver_info={'ipmi_address': '127.0.0.1'})
    message = ("The console interface 'ipmitool-shellinabox' is known but "
               "not built into this lifeboatd.")
    r = d.put('/v1/nodes/%s/states/console' % node['uuid'],
              {'enabled': True})
    assert_error(r, 400, message)
    assert d.get('/v1/nodes/%s/validate' % node['uuid']).json()[
        'console'] == {'result': False, 'reason': message}
