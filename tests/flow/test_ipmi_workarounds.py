"""FreeIPMI's workaround flags on the IPMI power and management sessions:
driver_info ``ipmi_workarounds`` and the ``[ipmi] workarounds`` default,
through the real ``openstack baremetal`` CLI against OpenIPMI's real
``ipmi_sim`` 2.0.33 (tests/lab/ipmi_sim_bmc.py, its stand-in machine),
which, as field BMCs do, needs ``opensesspriv``: without it libfreeipmi's
session fails with "privilege level cannot be obtained for this user".

Each test starts its own daemon and BMC; both are stopped by PID at
teardown.  Every wait polls with a deadline.
"""

import subprocess
import sys

import pytest

from conftest import LIFEBOATD, assert_error, unique, wait_for
from power_helpers import (
    BMC_PASSWORD, BMC_USER, LAB, assert_settled, conductor_conf, get_node,
    wait_power_done)

sys.path.insert(0, str(LAB))
from ipmi_sim_bmc import SimBmc  # noqa: E402

HINT = ('libfreeipmi: "privilege level cannot be obtained for this user" '
        '(the BMC may need ipmi_workarounds=opensesspriv)')


@pytest.fixture
def sim(tmp_path):
    bmc = SimBmc(tmp_path / 'bmc', user=BMC_USER, password=BMC_PASSWORD)
    bmc.start()
    yield bmc
    bmc.stop()


def daemon(launcher, workarounds=None):
    # No power sync: only the operator's calls reach the BMC.
    conf = conductor_conf(sync_power_state_interval=0)
    if workarounds is not None:
        conf['ipmi']['workarounds'] = workarounds
    return launcher.start(**conf)


def cli_node(d, sim, name, **extra):
    args = ['node', 'create', '--driver', 'ipmi', '--name', name]
    info = {'ipmi_address': '127.0.0.1', 'ipmi_port': str(sim.port),
            'ipmi_username': BMC_USER, 'ipmi_password': BMC_PASSWORD}
    info.update(extra)
    for key, value in info.items():
        args += ['--driver-info', '%s=%s' % (key, value)]
    return d.cli_json(*args)


def power(d, name, action):
    """``node power on|off NAME``; the node once the action has ended."""
    uuid = get_node(d, name)['uuid']
    rc, out, err = d.cli('node', 'power', action, name)
    assert rc == 0, (action, out, err)      # the 202: the result comes later
    node, _ = wait_power_done(d, uuid)
    assert_settled(node)
    return node


def assert_works(d, sim, name):
    for action in ('on', 'off'):
        node = power(d, name, action)
        assert node['last_error'] is None, (action, node)
        assert node['power_state'] == 'power ' + action, node
        wait_for(lambda: sim.power_state() == action, 10,
                 what='the machine to be ' + action)


def assert_fails(d, sim, name, action, hint=HINT):
    before = sim.power_state()
    node = power(d, name, action)
    error = node['last_error']
    assert error.startswith("Failed to change power state to 'power %s'. "
                            "Error: IPMI authentication to 127.0.0.1:%d "
                            "failed: user 'admin' may not use privilege "
                            "level ADMINISTRATOR (check ipmi_priv_level"
                            % (action, sim.port)), error
    assert error.endswith(hint), error
    assert BMC_PASSWORD not in error
    assert sim.power_state() == before


def test_node_flag(launcher, sim):
    d = daemon(launcher)
    name = unique('wa-node')
    cli_node(d, sim, name)
    # Suite 17 (ipmi_sim refuses it with a reply libfreeipmi cannot parse),
    # then suite 3: refused for want of the flag, and the message says so.
    assert_fails(d, sim, name, 'on')
    rc, out, err = d.cli('node', 'set', name, '--driver-info',
                         'ipmi_workarounds=opensesspriv')
    assert rc == 0, (out, err)
    assert_works(d, sim, name)
    node = get_node(d, name)
    assert node['driver_internal_info']['ipmi_probed_cipher_suite'] == 3
    assert node['driver_info']['ipmi_workarounds'] == 'opensesspriv'


def test_config_default_and_none(launcher, sim):
    d = daemon(launcher, workarounds='OpenSessPriv')
    plain, none = unique('wa-default'), unique('wa-none')
    cli_node(d, sim, plain)
    cli_node(d, sim, none, ipmi_workarounds='none')
    assert_works(d, sim, plain)
    # The node's key replaces the default: "none" is no flag at all.
    assert_fails(d, sim, none, 'on')
    # Flags already set are kept in the value the message suggests.
    rc, out, err = d.cli('node', 'set', none, '--driver-info',
                         'ipmi_workarounds=solpayloadsize, solport')
    assert rc == 0, (out, err)
    assert_fails(d, sim, none, 'on', hint=(
        'libfreeipmi: "privilege level cannot be obtained for this user" '
        '(the BMC may need ipmi_workarounds='
        'opensesspriv,solpayloadsize,solport)'))


BAD = [
    ('bogus', "Invalid value for ipmi_workarounds: 'bogus' is not a "
     "FreeIPMI workaround flag; the valid names are authcap, "
     "nochecksumcheck, idzero, unexpectedauth, forcepermsg, endianseq, "
     "noauthcodecheck, intel20, supermicro20, sun20, opensesspriv, "
     "integritycheckvalue, solpayloadsize, solport, solstatus, "
     "solchannelsupport, serialalertsdeferred, solpacketseq, or none"),
    ('none,opensesspriv', "Invalid value for ipmi_workarounds: 'none' (no "
     "workaround) cannot be combined with other names"),
]


@pytest.mark.parametrize('value,message', BAD,
                         ids=['unknown', 'none-and-more'])
def test_bad_values_change_nothing(launcher, value, message):
    d = daemon(launcher)
    name = unique('wa-bad')
    info = {'ipmi_address': '127.0.0.1', 'ipmi_workarounds': 'solport'}
    node = d.create_node(driver='ipmi', name=name, driver_info=info)
    before = get_node(d, name)

    rc, out, err = d.cli('node', 'set', name, '--driver-info',
                         'ipmi_workarounds=' + value)
    assert rc != 0, out
    assert message in err, err
    r = d.patch('/v1/nodes/' + node['uuid'], [
        {'op': 'add', 'path': '/driver_info/ipmi_workarounds',
         'value': value}])
    assert_error(r, 400, message)
    r = d.patch('/v1/nodes/' + node['uuid'], [
        {'op': 'add', 'path': '/driver_info/ipmi_workarounds',
         'value': ['opensesspriv']}])
    assert_error(r, 400, 'Invalid value for ipmi_workarounds: '
                 '["opensesspriv"], expected a string of comma-separated '
                 'FreeIPMI workaround flags')
    after = get_node(d, name)
    assert after['driver_info'] == before['driver_info']
    assert after['updated_at'] == before['updated_at']
    # Create refuses it too, and makes no node.
    r = d.post('/v1/nodes', {'driver': 'ipmi', 'name': name + '-2',
                             'driver_info': {'ipmi_address': '127.0.0.1',
                                             'ipmi_workarounds': value}})
    assert_error(r, 400, message)
    assert d.get('/v1/nodes/%s-2' % name).status_code == 404


def test_bad_config_fails_check(tmp_path):
    conf = tmp_path / 'lifeboat.conf'
    conf.write_text('[ipmi]\nworkarounds = opensesspriv, ipmiping\n')
    p = subprocess.run([LIFEBOATD, '--config-file', str(conf), '--check'],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert ("[ipmi] workarounds: 'ipmiping' is not a FreeIPMI workaround "
            "flag; the valid names are authcap," in p.stderr), p.stderr
    conf.write_text('[ipmi]\nworkarounds = OpenSessPriv , solpayloadsize\n')
    p = subprocess.run([LIFEBOATD, '--config-file', str(conf), '--check'],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (p.stdout, p.stderr)


def boot_device(d, name):
    return d.cli_json('node', 'boot', 'device', 'show', name)


def set_boot_device(d, name, device, *opts):
    rc, out, err = d.cli('node', 'boot', 'device', 'set', name, device,
                         *opts)
    assert rc == 0, (device, out, err)


def test_boot_device_through_the_cli(launcher, sim):
    """lifeboat's boot device commands reach the machine: ipmi_sim takes
    them through its chassis_control program (tests/lab/sim_chassis.py)
    and the stand-in machine prints the device it boots from."""
    d = daemon(launcher)
    name = unique('wa-boot')
    cli_node(d, sim, name, ipmi_workarounds='opensesspriv')
    set_boot_device(d, name, 'pxe')
    assert sim.boot_device() == 'pxe'
    # ipmi_sim answers Get System Boot Options without the valid bit
    assert boot_device(d, name) == {'boot_device': None,
                                    'persistent': None}
    node = power(d, name, 'on')
    assert node['last_error'] is None, node
    wait_for(lambda: b'[lab-sim: boot pxe]' in sim.serial_log(), 10,
             what='a network boot')
    set_boot_device(d, name, 'disk', '--persistent')
    assert sim.boot_device() == 'default'
    power(d, name, 'off')
    node = power(d, name, 'on')
    assert node['last_error'] is None, node
    wait_for(lambda: b'[lab-sim: boot default]' in sim.serial_log(), 10,
             what='a disk boot')
    log = sim.serial_log()
    assert log.index(b'boot pxe]') < log.index(b'boot default]')
    assert log.count(b'power on]') == 2
