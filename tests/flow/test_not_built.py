"""Drivers compiled out of lifeboatd (-Dipmi=disabled, -Dredfish=disabled,
or their library missing at build time) stay known: the hardware type is
still listed, node validate says the interface is "known but not built into
this lifeboatd", and a power action fails with that message in last_error
while the daemon keeps serving.

LB_NOT_BUILT names the hardware types the build left out; tests/meson.build
sets it from the build's configuration when it runs this file.  Unset (a
plain pytest run against build/), every driver is expected to be built.
"""

import os

import pytest

from conftest import wait_for

NOT_BUILT = set(os.environ.get('LB_NOT_BUILT', '').split())

# hardware type -> (its power interface, driver_info that validates)
DRIVERS = {
    'ipmi': ('ipmitool', {'ipmi_address': '127.0.0.1',
                          'ipmi_username': 'admin', 'ipmi_password': 'pw'}),
    'redfish': ('redfish', {'redfish_address': 'https://127.0.0.1:1',
                            'redfish_system_id': '/redfish/v1/Systems/1',
                            'redfish_username': 'admin',
                            'redfish_password': 'pw'}),
}

MESSAGE = "The %s interface '%s' is known but not built into this lifeboatd."


def create(d, driver, name):
    # A plain POST: conftest's create_node() and cli() skip a test whose
    # node needs a compiled-out driver, and this one is about such nodes.
    r = d.post('/v1/nodes', {'driver': driver, 'name': name,
                             'driver_info': DRIVERS[driver][1]})
    assert r.status_code == 201, r.text
    return r.json()


def validate(d, name):
    rows = d.cli_json('node', 'validate', name)
    return {r['Interface']: (r['Result'], r['Reason']) for r in rows}


@pytest.mark.parametrize('driver', sorted(DRIVERS))
def test_driver_known_built_or_not(module_daemon, driver):
    d = module_daemon
    iface = DRIVERS[driver][0]
    listed = [row['Supported driver(s)']
              for row in d.cli_json('driver', 'list')]
    assert driver in listed, listed
    node = create(d, driver, 'nb-' + driver)
    assert node['power_interface'] == iface, node
    got = validate(d, node['name'])
    if driver not in NOT_BUILT:
        assert got['power'][0] is True, got
        assert got['management'][0] is True, got
        return
    assert got['power'] == (False, MESSAGE % ('power', iface)), got
    assert got['management'] == (False, MESSAGE % ('management', iface)), got

    rc, out, err = d.cli('node', 'power', 'on', node['name'])
    assert rc == 0, (out, err)          # the 202; the failure comes later

    def failed():
        n = d.get('/v1/nodes/' + node['uuid']).json()
        return n if n['target_power_state'] is None else None
    n = wait_for(failed, 30, what='the power action to end')
    assert n['power_state'] is None, n
    assert n['last_error'] == ("Failed to change power state to 'power "
                               "on'. Error: the management interface '%s' "
                               "is not built into this lifeboatd" % iface), n
    assert d.get('/').status_code == 200
    assert d.proc.poll() is None
