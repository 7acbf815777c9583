"""The console captured during a rescue ([console] capture_during_rescue,
capture_error_lines), through a real rescue of an ipmi node behind the
lab's ipmi_sim BMC (tests/lab/ipmi_sim_bmc.py, its stand-in machine
printing on the serial port SOL carries): the rescue's console goes into
state_path/console/<uuid>.log with secrets redacted (0600), a rescue that
times out ends its last_error with the log's last lines (there when the
state turns: `rescue --wait` prints it then), the log stays until the next
rescue starts a new one, a lifeboatd restarted in rescue wait appends to
it, and with capture off nothing is recorded.  The console API and the console server have their own
files (test_console_api.py, test_console.py); the same with a real QEMU
machine and ramdisk is tests/e2e/test_console.py.
"""

import os
import shutil
import stat
import sys
import time

import pytest

from conftest import unique, unique_mac, wait_for
from power_helpers import LAB
from rescue_helpers import TIMEOUT_MSG, RescueLab, put_rescue, wait_state

sys.path.insert(0, str(LAB))

from ipmi_sim_bmc import SimBmc                                # noqa: E402

USER = 'admin'
PASSWORD = 'Cap-Lab-7'
SECRET = 'Zq7tokenVALUE0123456789'

pytestmark = pytest.mark.skipif(
    shutil.which('ipmi_sim') is None, reason='needs ipmi_sim (openipmi)')


@pytest.fixture
def bmc(tmp_path):
    b = SimBmc(tmp_path / 'simbmc', user=USER, password=PASSWORD).start()
    yield b
    b.stop()


def lab_for(launcher, tmp_path, **console):
    """Rescues that time out 3 s after the ramdisk was booted."""
    return RescueLab(launcher, tmp_path / 'lab',
                     conductor={'rescue_callback_timeout': 3},
                     console=dict(console))


def sol_node(lab, bmc):
    """An active ipmi node on the BMC, console ipmitool-socat (not
    enabled: the capture needs no enabled console)."""
    d = lab.d
    info = lab.rescue_driver_info(
        ipmi_address='127.0.0.1', ipmi_port=str(bmc.port),
        ipmi_username=USER, ipmi_password=PASSWORD, ipmi_cipher_suite='3',
        ipmi_workarounds='opensesspriv,solpayloadsize')
    node = d.create_node(name=unique('cap'), driver='ipmi',
                         console_interface='ipmitool-socat',
                         rescue_interface='agent', boot_interface='pxe',
                         driver_info=info,
                         properties={'capabilities': 'boot_mode:bios'})
    d.create_port(node['uuid'], unique_mac())
    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        r = d.put('/v1/nodes/%s/states/provision' % node['uuid'],
                  {'target': verb})
        assert r.status_code == 202, r.text
        n = wait_state(d, node['uuid'], {final, 'enroll', 'adopt failed'}, 30)
        assert n['provision_state'] == final, n
    return node


def to_rescue_wait(lab, uuid):
    r = put_rescue(lab.d, uuid)
    assert r.status_code == 202, r.text
    n = wait_state(lab.d, uuid, {'rescue wait', 'rescue failed'}, 30)
    assert n['provision_state'] == 'rescue wait', n['last_error']


def log_path(lab, uuid):
    return lab.d.state_path / 'console' / ('%s.log' % uuid)


def print_until_captured(bmc, path, what=b'firmware says', timeout=20):
    """The machine prints numbered lines until one is in the capture log:
    from then on SOL carries what it prints into the log."""
    deadline = time.monotonic() + timeout
    i = 0
    while time.monotonic() < deadline:
        i += 1
        bmc.serial_write(b'%s %d\r\n' % (what, i))
        t = time.monotonic() + 0.5
        while time.monotonic() < t:
            if path.exists() and what in path.read_bytes():
                return
            time.sleep(0.05)
    raise AssertionError('nothing reached %s' % path)


def test_timeout_ends_last_error_with_the_console(launcher, tmp_path, bmc):
    lab = lab_for(launcher, tmp_path, capture_error_lines=3)
    node = sol_node(lab, bmc)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    path = log_path(lab, uuid)
    print_until_captured(bmc, path)
    # What a kernel that never reaches the agent prints.
    bmc.serial_write(b'Kernel command line: console=ttyS0 ipa-agent-token='
                     + SECRET.encode() + b' ipa-api-url=http://x\r\n'
                     b'VFS: Cannot open root device "(null)"\r\n'
                     b'\x1b[1mKernel panic - not syncing: VFS: Unable to '
                     b'mount root fs on unknown-block(0,0)\x1b[0m\r\n')
    wait_for(lambda: b'Kernel panic' in path.read_bytes(), 10,
             what='the panic in the capture log')
    n = wait_state(lab.d, uuid, {'rescue failed'}, 30)
    err = n['last_error']
    head, sep, tail = err.partition("\nLast lines of the node's console:\n")
    assert head.startswith(TIMEOUT_MSG) and sep, err
    # The last 3 lines, escapes gone, the token redacted.
    assert tail.split('\n') == [
        'Kernel command line: console=ttyS0 ipa-agent-token=*** '
        'ipa-api-url=http://x',
        'VFS: Cannot open root device "(null)"',
        'Kernel panic - not syncing: VFS: Unable to mount root fs on '
        'unknown-block(0,0)'], err
    text = path.read_bytes()
    assert SECRET.encode() not in text
    assert b'ipa-agent-token=***' in text
    assert b'boot pxe' in text      # the machine's own line at power on
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert SECRET not in lab.d.log_text()
    # The log stays for the operator until the next rescue starts anew.
    wait_for(lambda: lab.d.get('/v1/nodes/%s' % uuid).json()['reservation']
             is None, 30, what='the clean-up')
    assert b'Kernel panic' in path.read_bytes()
    to_rescue_wait(lab, uuid)
    wait_for(lambda: b'Kernel panic' not in path.read_bytes(), 10,
             what='a fresh capture log')


def test_capture_off_records_nothing(launcher, tmp_path, bmc):
    lab = lab_for(launcher, tmp_path, capture_during_rescue='false')
    node = sol_node(lab, bmc)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    bmc.serial_write(b'Kernel panic - not syncing: nobody listens\r\n')
    n = wait_state(lab.d, uuid, {'rescue failed'}, 30)
    assert n['last_error'].startswith(TIMEOUT_MSG), n['last_error']
    assert 'console' not in n['last_error'].split('.')[-1]
    assert 'Last lines' not in n['last_error']
    assert not log_path(lab, uuid).exists()


def test_restart_in_rescue_wait_resumes_the_capture(launcher, tmp_path, bmc):
    lab = RescueLab(launcher, tmp_path / 'lab',
                    conductor={'rescue_callback_timeout': 600})
    node = sol_node(lab, bmc)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    path = log_path(lab, uuid)
    print_until_captured(bmc, path)
    lab.d.restart()
    print_until_captured(bmc, path, b'after the restart')
    text = path.read_bytes()
    # appended to, not started anew: the rescue's first lines are there
    assert b'boot pxe' in text and b'firmware says' in text, text
    assert 'console capture:' not in lab.d.log_text()    # no SOL trouble
    n = lab.d.get('/v1/nodes/%s' % uuid).json()
    assert n['provision_state'] == 'rescue wait' and n['reservation'] is None
