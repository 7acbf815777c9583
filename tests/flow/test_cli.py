"""The real ``openstack baremetal`` CLI against lifeboatd (contract §1.4).

One daemon is shared by the module; every test uses its own node names and
MAC addresses.  Set-up that the CLI adds nothing to is done over HTTP, and
results are cross-checked over HTTP where that is more exact than parsing
CLI output.  Each CLI call costs about a second.
"""

import pytest

from conftest import (CONDUCTOR_HOST, assert_error, is_uuid, parse_table,
                      unique, unique_mac)

# The interfaces `node validate` reports (contract §1.4, real 21.4.4 reply).
VALIDATE_INTERFACES = {'bios', 'boot', 'console', 'deploy', 'inspect',
                       'management', 'network', 'power', 'raid', 'rescue',
                       'storage'}

INTERFACE_TYPES = ['bios', 'boot', 'console', 'deploy', 'inspect',
                   'management', 'network', 'power', 'raid', 'rescue',
                   'storage', 'vendor']


@pytest.fixture(scope='module')
def n1(module_daemon):
    """Node n1, created with exactly the command of the task (-f json)."""
    return module_daemon.cli_json(
        'node', 'create', '--driver', 'ipmi', '--name', 'n1',
        '--driver-info', 'ipmi_address=10.0.0.5',
        '--driver-info', 'ipmi_password=s3cret')


def test_node_create_ipmi(module_daemon, n1):
    # The CLI prints the 201 body: a new ipmi node in enroll, with the
    # hardware type's default interfaces and the password masked.
    assert is_uuid(n1['uuid'])
    assert n1['name'] == 'n1'
    assert n1['driver'] == 'ipmi'
    assert n1['provision_state'] == 'enroll'
    assert n1['target_provision_state'] is None
    assert n1['power_interface'] == 'ipmitool'
    assert n1['management_interface'] == 'ipmitool'
    assert n1['rescue_interface'] == 'agent'
    assert n1['driver_info'] == {'ipmi_address': '10.0.0.5',
                                 'ipmi_password': '******'}
    assert n1['maintenance'] is False
    assert n1['maintenance_reason'] is None
    assert n1['instance_uuid'] is None
    assert n1['conductor'] == CONDUCTOR_HOST
    # The server agrees with what the CLI printed.
    r = module_daemon.get('/v1/nodes/' + n1['uuid'])
    assert r.status_code == 200
    node = r.json()
    for key in ('uuid', 'name', 'driver', 'provision_state', 'driver_info',
                'power_interface', 'rescue_interface', 'created_at'):
        assert node[key] == n1[key], key


def test_create_replies_carry_location(module_daemon):
    # HTTP details of table 1.4 the CLI does not show: 201 + Location.
    d = module_daemon
    r = d.post('/v1/nodes', {'driver': 'fake-hardware',
                             'name': unique('cli-loc')})
    assert r.status_code == 201
    assert r.headers['Location'] == '%s/v1/nodes/%s' % (d.url,
                                                         r.json()['uuid'])
    r = d.post('/v1/ports', {'address': unique_mac(),
                             'node_uuid': r.json()['uuid']})
    assert r.status_code == 201
    assert r.headers['Location'] == '%s/v1/ports/%s' % (d.url,
                                                         r.json()['uuid'])


def test_node_list_shows_row(module_daemon, n1):
    rc, out, err = module_daemon.cli('node', 'list')
    assert (rc, err) == (0, '')
    rows = parse_table(out)
    assert rows[0] == ['UUID', 'Name', 'Instance UUID', 'Power State',
                       'Provisioning State', 'Maintenance']
    assert [n1['uuid'], 'n1', 'None', 'None', 'enroll', 'False'] in rows[1:]


def test_node_list_long(module_daemon, n1):
    nodes = module_daemon.cli_json('node', 'list', '--long')
    mine = [n for n in nodes if n['UUID'] == n1['uuid']]
    assert len(mine) == 1
    row = mine[0]
    assert row['Name'] == 'n1'
    assert row['Driver'] == 'ipmi'
    assert row['Provisioning State'] == 'enroll'
    assert row['Driver Info'] == {'ipmi_address': '10.0.0.5',
                                  'ipmi_password': '******'}
    assert row['Power Interface'] == 'ipmitool'
    assert row['Rescue Interface'] == 'agent'
    assert row['Maintenance'] is False


def test_node_show_masks_password(module_daemon, n1):
    node = module_daemon.cli_json('node', 'show', 'n1')
    assert node['uuid'] == n1['uuid']
    assert node['driver_info'] == {'ipmi_address': '10.0.0.5',
                                   'ipmi_password': '******'}
    # Showing by UUID gives the same document.
    r = module_daemon.get('/v1/nodes/' + n1['uuid'])
    assert r.json()['driver_info'] == node['driver_info']


def test_node_set_and_unset(module_daemon):
    d = module_daemon
    name = unique('cli-set')
    created = d.create_node(name=name, driver='ipmi',
                            driver_info={'ipmi_address': '10.0.0.6'})
    rc, out, err = d.cli('node', 'set', name, '--driver-info', 'k=v',
                         '--instance-info', 'foo=bar',
                         '--property', 'cpu_arch=x86_64', '--extra', 'a=b',
                         '--description', 'd', '--resource-class', 'c')
    assert (rc, out, err) == (0, '', '')
    node = d.get('/v1/nodes/' + name).json()
    assert node['driver_info'] == {'ipmi_address': '10.0.0.6', 'k': 'v'}
    assert node['instance_info'] == {'foo': 'bar'}
    assert node['properties'] == {'cpu_arch': 'x86_64'}
    assert node['extra'] == {'a': 'b'}
    assert node['description'] == 'd'
    assert node['resource_class'] == 'c'
    assert node['updated_at'] is not None
    assert node['created_at'] == created['created_at']

    rc, out, err = d.cli('node', 'unset', name, '--instance-info', 'foo',
                         '--description')
    assert (rc, out, err) == (0, '', '')
    after = d.get('/v1/nodes/' + name).json()
    assert after['instance_info'] == {}
    assert after['description'] is None
    # Everything else is left alone.
    for key in ('driver_info', 'properties', 'extra', 'resource_class',
                'uuid', 'name', 'provision_state'):
        assert after[key] == node[key], key


def test_port_lifecycle(module_daemon):
    d = module_daemon
    name = unique('cli-port')
    node = d.create_node(name=name)
    mac = unique_mac()

    # create: the address is normalised to lower case.
    port = d.cli_json('port', 'create', mac.upper(), '--node', node['uuid'])
    assert is_uuid(port['uuid'])
    assert port['address'] == mac
    assert port['node_uuid'] == node['uuid']
    assert port['pxe_enabled'] is True
    assert port['extra'] == {}
    assert port['portgroup_uuid'] is None

    # list --node (short): exactly this port, UUID and address.
    assert d.cli_json('port', 'list', '--node', name) == [
        {'UUID': port['uuid'], 'Address': mac}]

    # list --node --long: the full port.
    long_rows = d.cli_json('port', 'list', '--node', name, '--long')
    assert len(long_rows) == 1
    assert long_rows[0]['UUID'] == port['uuid']
    assert long_rows[0]['Address'] == mac
    assert long_rows[0]['Node UUID'] == node['uuid']
    assert long_rows[0]['PXE boot enabled'] is True

    # show
    shown = d.cli_json('port', 'show', port['uuid'])
    assert shown == port

    # set --extra
    rc, out, err = d.cli('port', 'set', port['uuid'], '--extra', 'x=y')
    assert (rc, out, err) == (0, '', '')
    assert d.get('/v1/ports/' + port['uuid']).json()['extra'] == {'x': 'y'}

    # delete, then it is gone for the CLI and for the API.
    rc, out, err = d.cli('port', 'delete', port['uuid'])
    assert (rc, err) == (0, '')
    assert out.strip() == 'Deleted port %s' % port['uuid']
    assert_error(d.get('/v1/ports/' + port['uuid']), 404,
                 'Port %s could not be found.' % port['uuid'])
    assert d.get('/v1/ports?node=' + name).json() == {'ports': []}


def test_node_validate(module_daemon, n1):
    rc, out, err = module_daemon.cli('node', 'validate', 'n1')
    assert (rc, err) == (0, '')
    rows = parse_table(out)
    assert rows[0] == ['Interface', 'Result', 'Reason']
    by_iface = {r[0]: r[1:] for r in rows[1:]}
    assert set(by_iface) == VALIDATE_INTERFACES
    # The agent rescue interface is never valid outside a rescue.
    assert by_iface['rescue'] == [
        'False', "Node %s is missing 'instance_info/rescue_password'. "
                 "It is required for rescuing node." % n1['uuid']]
    # Over HTTP: 'reason' is present exactly when 'result' is false (but
    # for a valid boot interface, which names its boot modes: below).
    body = module_daemon.get('/v1/nodes/n1/validate').json()
    assert set(body) == VALIDATE_INTERFACES
    for iface, res in body.items():
        assert isinstance(res['result'], bool), (iface, res)
        if res['result']:
            assert res == {'result': True}, (iface, res)
        else:
            assert set(res) == {'result', 'reason'}, (iface, res)
            assert isinstance(res['reason'], str) and res['reason'], iface
        assert by_iface[iface][0] == str(res['result'])


def test_maintenance_set_and_unset(module_daemon):
    d = module_daemon
    name = unique('cli-maint')
    d.create_node(name=name)
    rc, out, err = d.cli('node', 'maintenance', 'set', name, '--reason', 'r')
    assert (rc, out, err) == (0, '', '')
    shown = d.cli_json('node', 'show', name, '-c', 'maintenance',
                       '-c', 'maintenance_reason')
    assert shown == {'maintenance': True, 'maintenance_reason': 'r'}

    rc, out, err = d.cli('node', 'maintenance', 'unset', name)
    assert (rc, out, err) == (0, '', '')
    node = d.get('/v1/nodes/' + name).json()
    assert node['maintenance'] is False
    assert node['maintenance_reason'] is None


def test_node_delete(module_daemon):
    d = module_daemon
    name = unique('cli-del')
    node = d.create_node(name=name)
    rc, out, err = d.cli('node', 'delete', name)
    assert (rc, err) == (0, '')
    assert out.strip() == 'Deleted node %s' % name
    rc, out, err = d.cli('node', 'show', name)
    assert rc == 1 and out == ''
    assert err.strip() == 'Node %s could not be found. (HTTP 404)' % name
    assert_error(d.get('/v1/nodes/' + node['uuid']), 404,
                 'Node %s could not be found.' % node['uuid'])


def test_driver_list(module_daemon):
    drivers = module_daemon.cli_json('driver', 'list')
    assert sorted(drivers, key=lambda x: x['Supported driver(s)']) == [
        {'Supported driver(s)': 'fake-hardware',
         'Active host(s)': CONDUCTOR_HOST},
        {'Supported driver(s)': 'ipmi', 'Active host(s)': CONDUCTOR_HOST},
        {'Supported driver(s)': 'redfish', 'Active host(s)': CONDUCTOR_HOST},
    ]


def test_driver_show_ipmi(module_daemon):
    drv = module_daemon.cli_json('driver', 'show', 'ipmi')
    assert drv['name'] == 'ipmi'
    assert drv['type'] == 'dynamic'
    assert drv['hosts'] == CONDUCTOR_HOST
    assert drv['default_power_interface'] == 'ipmitool'
    assert drv['default_management_interface'] == 'ipmitool'
    assert drv['default_rescue_interface'] == 'agent'
    # Every interface type has a default, and the default is enabled.
    for t in INTERFACE_TYPES:
        default = drv['default_%s_interface' % t]
        enabled = drv['enabled_%s_interfaces' % t].split(', ')
        assert default in enabled, (t, default, enabled)
    # The API agrees (lists there, comma-joined strings in the CLI).
    api = module_daemon.get('/v1/drivers/ipmi').json()
    for t in INTERFACE_TYPES:
        assert api['default_%s_interface' % t] == \
            drv['default_%s_interface' % t]
        assert ', '.join(api['enabled_%s_interfaces' % t]) == \
            drv['enabled_%s_interfaces' % t]


def test_node_create_fake_hardware_explicit_interfaces(module_daemon):
    name = unique('cli-fake')
    node = module_daemon.cli_json(
        'node', 'create', '--driver', 'fake-hardware', '--name', name,
        '--boot-interface', 'pxe', '--rescue-interface', 'agent',
        '--network-interface', 'noop')
    assert node['name'] == name
    assert node['driver'] == 'fake-hardware'
    assert node['boot_interface'] == 'pxe'
    assert node['rescue_interface'] == 'agent'
    assert node['network_interface'] == 'noop'
    # Not named: the hardware type's default.
    assert node['power_interface'] == 'fake'
    assert node['provision_state'] == 'enroll'


def test_node_create_wrong_interface_for_hardware_type(module_daemon):
    d = module_daemon
    name = unique('cli-badif')
    before = d.snapshot()
    rc, out, err = d.cli('node', 'create', '--driver', 'ipmi', '--name', name,
                         '--power-interface', 'redfish')
    assert rc == 1 and out == ''
    msg = err.strip()
    assert msg.startswith("power interface implementation 'redfish' is not "
                          "supported by hardware type ipmi"), msg
    assert msg.endswith('(HTTP 400)'), msg
    assert '\n' not in msg            # one clean line, no traceback
    assert d.snapshot() == before


def test_node_create_unknown_driver(module_daemon):
    d = module_daemon
    before = d.snapshot()
    rc, out, err = d.cli('node', 'create', '--driver', 'nosuch',
                         '--name', unique('cli-nodrv'))
    assert rc == 1 and out == ''
    assert err.strip() == (
        'No valid host was found. Reason: No conductor service registered '
        'which supports driver nosuch for conductor group "". (HTTP 400)')
    assert d.snapshot() == before


def test_node_create_duplicate_name(module_daemon):
    # The only CLI 409 test: the client retries 409 six times (~10 s).
    d = module_daemon
    name = unique('cli-dup')
    first = d.create_node(name=name)
    before = d.snapshot()
    rc, out, err = d.cli('node', 'create', '--driver', 'fake-hardware',
                         '--name', name)
    assert rc == 1 and out == ''
    assert 'A node with name %s already exists.' % name in err
    assert '(HTTP 409)' in err
    assert 'Traceback' not in err
    assert d.snapshot() == before
    assert d.get('/v1/nodes/' + name).json()['uuid'] == first['uuid']


def test_node_validate_says_boot_modes(launcher, tmp_path):
    """The boot interface's Reason names the firmware mode(s) a valid node
    is served: one by its boot_mode capability, or both by the DHCP
    client's architecture with [deploy] default_boot_mode for the rest."""
    d = launcher.start(
        deploy={'default_boot_mode': 'bios'},
        dhcp={'dhcp_provider': 'dnsmasq'},
        dnsmasq={'dhcp_hostsdir': str(tmp_path), 'dhcp_optsdir':
                 str(tmp_path)})
    cases = [('pxe', None, 'serves BIOS and UEFI by the DHCP client '
              'architecture (default: bios)'),
             ('ipxe', None, 'serves BIOS and UEFI by the DHCP client '
              'architecture (default: bios)'),
             ('pxe', 'boot_mode:uefi', 'serves UEFI (boot_mode capability)'),
             ('ipxe', 'boot_mode:bios', 'serves BIOS (boot_mode capability)'),
             ('redfish-virtual-media', 'boot_mode:uefi',
              'boots the ISO in UEFI (boot_mode capability)'),
             ('redfish-virtual-media', None, 'boots the ISO (BIOS and UEFI) '
              'in the mode the BMC is in (no boot_mode capability)')]
    for boot, caps, reason in cases:
        name = unique('cli-bm')
        fields = {'name': name, 'driver': 'fake-hardware',
                  'boot_interface': boot}
        if caps is not None:
            fields['properties'] = {'capabilities': caps}
        node = d.create_node(**fields)
        d.create_port(node['uuid'], unique_mac())
        rc, out, err = d.cli('node', 'validate', name)
        assert (rc, err) == (0, ''), (boot, caps)
        rows = {r[0]: r[1:] for r in parse_table(out)[1:]}
        assert rows['boot'] == ['True', reason], (boot, caps, rows['boot'])
        body = d.get('/v1/nodes/%s/validate' % name).json()
        assert body['boot'] == {'result': True, 'reason': reason}
    # Without lifeboat writing DHCP options, the operator's server picks.
    d2 = launcher.start()
    name = unique('cli-bm')
    node = d2.create_node(name=name, driver='fake-hardware',
                          boot_interface='pxe')
    d2.create_port(node['uuid'], unique_mac())
    body = d2.get('/v1/nodes/%s/validate' % name).json()
    assert body['boot'] == {
        'result': True, 'reason': 'stages BIOS and UEFI boot files; the '
        'DHCP server ([dhcp] dhcp_provider none) picks the loader'}
