"""ipmi_bmc.py against real IPMI clients: ipmitool and freeipmi."""

import json
import subprocess
import time

import pytest

from conftest import LAB, PYTHON, wait_for

USER, PASSWORD = 'admin', 'secret'


def ipmitool(bmc, *args, index=0, user=USER, password=PASSWORD, check=True):
    r = subprocess.run(
        ['ipmitool', '-I', 'lanplus', '-H', '127.0.0.1',
         '-p', str(bmc.port + index), '-U', user, '-P', password, *args],
        capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def freeipmi(tool, bmc, *args, index=0, user=USER, password=PASSWORD):
    # freeipmi takes a non-default port as HOST:PORT
    return subprocess.run(
        [tool, '-D', 'LAN_2_0', '-h', '127.0.0.1:%d' % (bmc.port + index),
         '-u', user, '-p', password, *args],
        capture_output=True, text=True, timeout=60)


def bootparam5(bmc, index=0):
    return ipmitool(bmc, 'chassis', 'bootparam', 'get', '5',
                    index=index).stdout


def test_help():
    r = subprocess.run([PYTHON, LAB / 'ipmi_bmc.py', '--help'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for opt in ('--port-base', '--count', '--control-port', '--machine',
                '--qemu-args'):
        assert opt in r.stdout


def test_power_with_ipmitool(ipmi_bmc):
    bmc = ipmi_bmc()
    assert ipmitool(bmc, 'power', 'status').stdout.strip() == \
        'Chassis Power is off'
    ipmitool(bmc, 'power', 'on')
    assert ipmitool(bmc, 'power', 'status').stdout.strip() == \
        'Chassis Power is on'
    assert bmc.machine()['power_state'] == 'on'
    ipmitool(bmc, 'power', 'off')
    assert 'is off' in ipmitool(bmc, 'power', 'status').stdout
    log = bmc.machine()['log']
    assert 'ipmi: power on' in log and 'ipmi: power off' in log


def test_reset_cycle_soft_and_diag(ipmi_bmc):
    bmc = ipmi_bmc('--soft-off-delay', '0.3')
    # not possible while off: "Command not supported in present state"
    r = ipmitool(bmc, 'power', 'cycle', check=False)
    assert r.returncode != 0 and 'not supported in present state' in \
        r.stderr
    ipmitool(bmc, 'power', 'on')
    ipmitool(bmc, 'power', 'reset')
    ipmitool(bmc, 'power', 'cycle')
    ipmitool(bmc, 'chassis', 'power', 'diag')
    assert bmc.machine()['boots'] == ['disk', 'disk', 'disk']
    ipmitool(bmc, 'power', 'soft')
    wait_for(lambda: 'is off' in ipmitool(bmc, 'power', 'status').stdout,
             what='soft off')
    log = bmc.machine()['log']
    for line in ('ipmi: reset', 'ipmi: NMI', 'ipmi: soft off requested',
                 'OS shut down (soft off complete)'):
        assert line in log


def test_soft_off_ignored(ipmi_bmc):
    bmc = ipmi_bmc('--ignore-acpi')
    ipmitool(bmc, 'power', 'on')
    ipmitool(bmc, 'power', 'soft')
    assert 'ipmi: soft off ignored by the OS' in bmc.machine()['log']
    assert 'is on' in ipmitool(bmc, 'power', 'status').stdout


def test_bootdev_once_and_bootparam(ipmi_bmc):
    bmc = ipmi_bmc()
    out = bootparam5(bmc)
    assert 'Boot Device Selector : No override' in out
    ipmitool(bmc, 'chassis', 'bootdev', 'pxe')
    out = bootparam5(bmc)
    assert 'Boot Flag Valid' in out
    assert 'Options apply to only next boot' in out
    assert 'Boot Device Selector : Force PXE' in out
    assert 'BIOS EFI boot' not in out
    assert bmc.machine()['boot'] == {'device': 'pxe', 'enabled': 'once',
                                     'mode': 'bios'}
    ipmitool(bmc, 'power', 'on')
    assert bmc.machine()['boots'] == ['pxe']
    # the one-time override is used up by that boot
    assert 'No override' in bootparam5(bmc)
    ipmitool(bmc, 'power', 'reset')
    assert bmc.machine()['boots'] == ['pxe', 'disk']


def test_bootdev_persistent_efi(ipmi_bmc):
    bmc = ipmi_bmc()
    ipmitool(bmc, 'chassis', 'bootdev', 'cdrom',
             'options=persistent,efiboot')
    out = bootparam5(bmc)
    assert 'Options apply to all future boots' in out
    assert 'BIOS EFI boot' in out
    assert 'Force Boot from CD/DVD' in out
    ipmitool(bmc, 'power', 'on')
    ipmitool(bmc, 'power', 'reset')
    assert bmc.machine()['boots'] == ['cdrom', 'cdrom']
    assert bmc.machine()['boot']['mode'] == 'uefi'


@pytest.mark.parametrize('dev,selector,machine_dev', [
    ('disk', 'Force Boot from default Hard-Drive', 'disk'),
    ('bios', 'Force Boot into BIOS Setup', 'bios'),
    ('pxe', 'Force PXE', 'pxe'),
])
def test_bootdev_devices(ipmi_bmc, dev, selector, machine_dev):
    bmc = ipmi_bmc()
    ipmitool(bmc, 'chassis', 'bootdev', dev)
    assert selector in bootparam5(bmc)
    assert bmc.machine()['boot']['device'] == machine_dev
    ipmitool(bmc, 'chassis', 'bootdev', 'none')
    assert bmc.machine()['boot']['enabled'] == 'disabled'


def test_ironic_raw_boot_flag_timeout_command(ipmi_bmc):
    # Ironic disables the 60 s boot flag timeout with this raw command
    bmc = ipmi_bmc()
    ipmitool(bmc, 'raw', '0x00', '0x08', '0x03', '0x08')
    out = ipmitool(bmc, 'raw', '0x00', '0x09', '0x03', '0x00', '0x00').stdout
    assert out.split() == ['01', '03', '08']


def test_device_id(ipmi_bmc):
    bmc = ipmi_bmc()
    out = ipmitool(bmc, 'mc', 'info').stdout
    assert 'IPMI Version              : 2.0' in out
    # freeipmi checks the reply length strictly (pyghmi's own is wrong)
    r = freeipmi('bmc-info', bmc)
    assert r.returncode == 0, r.stderr
    assert 'IPMI Version          : 2.0' in r.stdout


def test_ipmipower(ipmi_bmc):
    bmc = ipmi_bmc()
    r = freeipmi('ipmipower', bmc, '--stat')
    assert r.stdout.strip() == '127.0.0.1: off', r.stderr
    assert freeipmi('ipmipower', bmc, '--on').stdout.strip() == \
        '127.0.0.1: ok'
    assert freeipmi('ipmipower', bmc, '--stat').stdout.strip() == \
        '127.0.0.1: on'
    assert bmc.machine()['power_state'] == 'on'
    assert freeipmi('ipmipower', bmc, '--off').stdout.strip() == \
        '127.0.0.1: ok'
    assert bmc.machine()['power_state'] == 'off'
    r = freeipmi('ipmi-chassis', bmc, '--get-chassis-status')
    assert 'System Power                        : off' in r.stdout


def test_wrong_credentials_refused(ipmi_bmc):
    bmc = ipmi_bmc()
    started = time.monotonic()
    r = ipmitool(bmc, 'power', 'on', password='wrong', check=False)
    assert r.returncode != 0
    assert 'Unable to establish IPMI v2 / RMCP+ session' in r.stderr
    # an unknown user gets an RAKP 2 error at once (pyghmi alone stays
    # silent and the client retries for ~15 s)
    r = ipmitool(bmc, 'power', 'on', user='mallory', check=False)
    assert r.returncode != 0
    assert time.monotonic() - started < 10
    assert 'password invalid' in freeipmi('ipmipower', bmc, '--on',
                                          password='wrong').stdout
    assert 'username invalid' in freeipmi('ipmipower', bmc, '--on',
                                          user='mallory').stdout
    assert bmc.machine()['power_state'] == 'off'
    assert bmc.machine()['log'] == []
    assert "login refused: unknown user 'mallory'" in bmc.proc.log()


def test_many_bmcs_and_control_behind_the_back(ipmi_bmc):
    bmc = ipmi_bmc(count=3)
    assert bmc.info()['count'] == 3
    ipmitool(bmc, 'power', 'on', index=2)
    states = [bmc.machine(i)['power_state'] for i in range(3)]
    assert states == ['off', 'off', 'on']
    # the machine changes power by itself: the BMC reports it
    bmc.ctl(1, 'power', {'state': 'on'})
    assert 'is on' in ipmitool(bmc, 'power', 'status', index=1).stdout
    bmc.ctl(2, 'power', {'state': 'off'})
    assert 'is off' in ipmitool(bmc, 'power', 'status', index=2).stdout
    assert 'control: power off' in bmc.machine(2)['log']
    # boot device set behind the back shows in bootparam
    bmc.ctl(0, 'boot', {'device': 'pxe', 'enabled': 'continuous',
                        'mode': 'uefi'})
    out = bootparam5(bmc, index=0)
    assert 'Force PXE' in out and 'all future boots' in out


def test_sigterm_exits_cleanly(ipmi_bmc):
    bmc = ipmi_bmc()
    ipmitool(bmc, 'power', 'on')
    assert bmc.proc.stop() == 0
    assert 'stopped' in bmc.proc.log()


def test_port_in_use_fails(ipmi_bmc, spawn):
    bmc = ipmi_bmc()
    proc = spawn([PYTHON, LAB / 'ipmi_bmc.py', '--port', bmc.port],
                 'ipmi_bmc_dup')
    wait_for(lambda: not proc.running(), what='second emulator to exit')
    assert proc.popen.returncode == 1
    assert 'cannot start' in proc.log()


def test_record(ipmi_bmc, tmp_path):
    """--record FILE: one JSON line per command, each ipmitool run its own
    session (client), the commands named by what they do, in order."""
    path = tmp_path / 'record.jsonl'
    bmc = ipmi_bmc('--record', path)
    before = time.time()
    ipmitool(bmc, 'power', 'on')
    ipmitool(bmc, 'chassis', 'bootdev', 'pxe')
    ipmitool(bmc, 'power', 'status')
    recs = [json.loads(ln) for ln in path.read_text().splitlines()]
    sessions = []
    for r in recs:
        assert r['bmc'] == bmc.port, r
        assert before <= r['t'] <= time.time(), r
        assert r['mono'] <= r['end'], r
        if not sessions or sessions[-1][0] != r['client']:
            sessions.append((r['client'], []))
        sessions[-1][1].append(r['kind'])
    assert len({c for c, _ in sessions}) == 3, sessions
    kinds = [k for _, k in sessions]
    assert kinds[0][0] == 'session open' and 'power on' in kinds[0], kinds
    assert 'bootdev set' in kinds[1] and 'power on' not in kinds[1], kinds
    assert 'power status' in kinds[2] and 'power on' not in kinds[2], kinds
    monos = [r['mono'] for r in recs]
    assert monos == sorted(monos), recs
