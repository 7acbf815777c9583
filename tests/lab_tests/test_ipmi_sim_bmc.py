"""ipmi_sim_bmc.py (OpenIPMI's ipmi_sim with Serial-over-LAN) against real
clients: ipmitool (power, sol activate/deactivate), freeipmi's ipmipower,
ipmi-chassis (libfreeipmi) and ipmiconsole (libipmiconsole), and the
workaround flags this BMC needs as field BMCs do."""

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from conftest import LAB, PYTHON, pid_alive, wait_for

import ipmi_sim_bmc

USER, PASSWORD = 'admin', 's3cret'
SOL_FLAGS = 'opensesspriv,solpayloadsize'


class PtyClient:
    """An interactive SOL client (ipmitool sol activate, ipmiconsole) on a
    pseudo-terminal, as an operator runs it; killed by PID at the end."""

    def __init__(self, argv):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                     stderr=slave, start_new_session=True)
        os.close(slave)
        self.out = b''

    def expect(self, pattern, timeout=10):
        """Reads until ``pattern`` (bytes) has been printed; returns all
        output so far."""
        deadline = time.monotonic() + timeout
        while pattern not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('no %r from %s; got %r' % (
                    pattern, self.proc.args[0], self.out[-2000:]))
            if select.select([self.master], [], [], min(left, 0.2))[0]:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:     # EIO: the client exited
                    if self.proc.poll() is not None:
                        raise AssertionError('%s exited; got %r' % (
                            self.proc.args[0], self.out[-2000:]))
        return self.out

    def send(self, data):
        os.write(self.master, data)

    def wait(self, timeout):
        """Waits for the client to exit, collecting its output."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    pass
        return self.proc.poll()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def sim_bmc(tmp_path):
    """sim_bmc(*extra_args) -> a started SimBmc; stopped at teardown."""
    bmcs = []

    def start(*extra):
        bmc = ipmi_sim_bmc.SimBmc(tmp_path / ('bmc%d' % len(bmcs)),
                                  user=USER, password=PASSWORD,
                                  extra_args=extra)
        bmcs.append(bmc)
        return bmc.start()
    yield start
    for bmc in bmcs:
        bmc.stop()
        assert not pid_alive(bmc.ipmi_sim_pid)


@pytest.fixture
def pty_client():
    clients = []

    def start(argv):
        clients.append(PtyClient([str(a) for a in argv]))
        return clients[-1]
    yield start
    for c in clients:
        c.close()


def ipmitool(bmc, *args, check=True):
    r = bmc.ipmitool(*args)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def freeipmi(tool, bmc, *args, timeout=30):
    return subprocess.run(
        [tool, '-D', 'LAN_2_0', '-h', '127.0.0.1:%d' % bmc.port,
         '-u', USER, '-p', PASSWORD, *args],
        capture_output=True, text=True, timeout=timeout)


def ipmiconsole_argv(bmc, *extra):
    return ['ipmiconsole', '-h', '127.0.0.1:%d' % bmc.port, '-u', USER,
            '-p', PASSWORD, *extra]


def power_on(bmc):
    """Powers on and waits for THIS boot's line (the serial log keeps
    earlier ones): a command sent before the machine is up races with its
    start, and ipmi_sim may not survive the machine dying then."""
    seen = bmc.serial_log().count(b'power on]')
    ipmitool(bmc, 'power', 'on')
    wait_for(bmc.machine_pid, 10, what='the machine process')
    wait_for(lambda: bmc.serial_log().count(b'power on]') > seen, 10,
             what='the machine on its serial port')


def test_help():
    r = subprocess.run([PYTHON, LAB / 'ipmi_sim_bmc.py', '--help'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for opt in ('--port', '--machine', '--qemu-args', '--serial-log',
                '--work-dir'):
        assert opt in r.stdout


def test_power_with_ipmitool_and_ipmipower(sim_bmc):
    bmc = sim_bmc()
    assert ipmitool(bmc, 'power', 'status').stdout.strip() == \
        'Chassis Power is off'
    assert bmc.power_state() == 'off'
    power_on(bmc)
    assert ipmitool(bmc, 'power', 'status').stdout.strip() == \
        'Chassis Power is on'
    pid = bmc.machine_pid()
    # a reset reaches the running machine through the VM protocol
    ipmitool(bmc, 'power', 'reset')
    wait_for(lambda: b'[lab-sim: reset]' in bmc.serial_log(), 10,
             what='the reset on the serial port')
    assert bmc.machine_pid() == pid

    # ipmipower needs opensesspriv; with it, it sees and drives power
    r = freeipmi('ipmipower', bmc, '--stat')
    assert 'privilege level cannot be obtained for this user' in \
        r.stdout + r.stderr
    r = freeipmi('ipmipower', bmc, '-W', 'opensesspriv', '--stat')
    assert r.stdout.strip() == '127.0.0.1: on', r.stdout + r.stderr
    r = freeipmi('ipmipower', bmc, '-W', 'opensesspriv', '--off')
    assert r.stdout.strip() == '127.0.0.1: ok', r.stdout + r.stderr
    wait_for(lambda: bmc.power_state() == 'off', 10, what='power off')
    # the machine was told to power off (VM protocol), not killed
    assert b'[lab-sim: power off]' in bmc.serial_log()
    assert not pid_alive(pid)
    assert 'is off' in ipmitool(bmc, 'power', 'status').stdout

    # soft off = the VM protocol's graceful shutdown
    power_on(bmc)
    ipmitool(bmc, 'power', 'soft')
    wait_for(lambda: bmc.power_state() == 'off', 10, what='soft off')
    assert b'[lab-sim: graceful shutdown]' in bmc.serial_log()
    assert '[lab-sim: boot none]' in bmc.serial_log().decode()


def test_libfreeipmi_needs_opensesspriv(sim_bmc):
    """ipmi-chassis opens its session with libfreeipmi's
    ipmi_ctx_open_outofband_2_0: it fails without
    IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE."""
    bmc = sim_bmc()
    r = freeipmi('ipmi-chassis', bmc, '--get-chassis-status')
    assert r.returncode != 0
    assert 'privilege level cannot be obtained for this user' in r.stderr
    r = freeipmi('ipmi-chassis', bmc, '-W', 'opensesspriv',
                 '--get-chassis-status')
    assert r.returncode == 0, r.stderr
    assert 'System Power                        : off' in r.stdout


def test_cipher_suites(sim_bmc):
    bmc = sim_bmc()
    for suite in ('0', '1', '2', '3', '6'):
        r = bmc.ipmitool('-C', suite, 'power', 'status')
        assert r.stdout.strip() == 'Chassis Power is off', (suite, r.stderr)
    # ipmi_sim offers cipher suites 0-14 only
    r = bmc.ipmitool('-C', '17', 'power', 'status')
    assert r.returncode != 0
    assert 'Unable to establish IPMI v2 / RMCP+ session' in r.stderr


def boot_flags(bmc):
    """ipmitool's view of boot parameter 5, one line per flag."""
    out = ipmitool(bmc, 'chassis', 'bootparam', 'get', '5').stdout
    return [line.strip(' -') for line in out.splitlines()]


def test_boot_device(sim_bmc):
    """ipmi_sim takes boot flags through its chassis_control program; the
    machine boots from the device set last, at its next power on."""
    bmc = sim_bmc()
    assert bmc.boot_device() == 'none'
    assert 'Boot Device Selector : No override' in boot_flags(bmc)
    assert ipmitool(bmc, 'chassis', 'bootdev', 'pxe').stdout.strip() == \
        'Set Boot Device to pxe'
    assert bmc.boot_device() == 'pxe'
    flags = boot_flags(bmc)
    assert 'Boot Device Selector : Force PXE' in flags
    # ipmi_sim answers with the device only: never valid, never persistent
    assert 'Boot Flag Invalid' in flags
    assert 'Options apply to only next boot' in flags
    # libfreeipmi reads it too
    r = freeipmi('ipmi-chassis', bmc, '-W', 'opensesspriv',
                 '--get-boot-flags')
    assert 'Boot device selector          : Force PXE' in r.stdout, \
        r.stdout + r.stderr
    power_on(bmc)
    assert b'[lab-sim: power on]\r\n[lab-sim: boot pxe]\r\n' in \
        bmc.serial_log()

    # set while on: the running machine is not touched; the next power on
    # (here a power cycle) boots from it
    ipmitool(bmc, 'chassis', 'bootdev', 'disk')
    assert bmc.boot_device() == 'default'
    ipmitool(bmc, 'power', 'cycle')
    wait_for(lambda: b'[lab-sim: boot default]' in bmc.serial_log(), 15,
             what='the machine to boot from disk')
    # ipmi_sim passes no persistence: the device stays until set again
    ipmitool(bmc, 'chassis', 'bootdev', 'cdrom', 'options=persistent')
    ipmitool(bmc, 'power', 'off')
    wait_for(lambda: bmc.power_state() == 'off', 10, what='power off')
    for _ in range(2):
        n = bmc.serial_log().count(b'[lab-sim: boot cdrom]')
        power_on(bmc)
        wait_for(lambda: bmc.serial_log().count(b'[lab-sim: boot cdrom]')
                 == n + 1, 10, what='a boot from cdrom')
        ipmitool(bmc, 'power', 'off')
        wait_for(lambda: bmc.power_state() == 'off', 10, what='power off')


def test_refused_boot_device_leaves_sessions_working(sim_bmc):
    """A device ipmi_sim has no name for is refused (0xff); the BMC keeps
    the one it had, and later sessions still authenticate."""
    bmc = sim_bmc()
    ipmitool(bmc, 'chassis', 'bootdev', 'bios')
    r = ipmitool(bmc, 'chassis', 'bootdev', 'floppy', check=False)
    assert 'Set Chassis Boot Parameter 5 failed: Unspecified error' in \
        r.stderr
    assert bmc.boot_device() == 'bios'
    for _ in range(3):
        assert 'is off' in ipmitool(bmc, 'power', 'status').stdout
    r = freeipmi('ipmipower', bmc, '-W', 'opensesspriv', '--stat')
    assert r.stdout.strip() == '127.0.0.1: off', r.stdout + r.stderr
    assert 'Boot Device Selector : Force Boot into BIOS Setup' in \
        boot_flags(bmc)


def test_ipmiconsole_needs_the_workaround_flags(sim_bmc):
    bmc = sim_bmc()
    r = subprocess.run(ipmiconsole_argv(bmc), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert '[error received]: privilege level cannot be obtained for ' \
        'this user' in r.stdout + r.stderr
    r = subprocess.run(ipmiconsole_argv(bmc, '-W', 'opensesspriv'),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    assert '[error received]: BMC Implementation' in r.stdout + r.stderr
    # ipmiconsole's Get Channel Payload Support for channel 0xE did not
    # take ipmi_sim down (channel 14 exists for it)
    assert pid_alive(bmc.ipmi_sim_pid)
    assert 'is off' in ipmitool(bmc, 'power', 'status').stdout


def test_ipmiconsole_both_ways_across_a_power_cycle(sim_bmc, pty_client):
    bmc = sim_bmc()
    power_on(bmc)
    con = pty_client(ipmiconsole_argv(bmc, '-W', SOL_FLAGS))
    con.expect(b'[SOL established]')
    bmc.serial_write(b'printed by the machine 1\r\n')
    con.expect(b'printed by the machine 1')
    # (no CR: a pty not yet in raw mode would turn it into LF)
    con.send(b'typed by the user!')
    assert bmc.serial_read(10, until=b'!') == b'typed by the user!'

    # a new machine process reaches the same SOL session at once
    ipmitool(bmc, 'power', 'cycle')
    out = con.expect(b'[lab-sim: power on]')
    assert b'[lab-sim: power off]' in out
    bmc.serial_write(b'printed by the machine 2\r\n')
    con.expect(b'printed by the machine 2')
    con.send(b'&.')
    assert con.wait(10) is not None
    assert pid_alive(bmc.ipmi_sim_pid)
    log = bmc.serial_log()
    assert b'printed by the machine 1' in log
    assert b'printed by the machine 2' in log


def test_ipmitool_sol_both_ways(sim_bmc, pty_client):
    bmc = sim_bmc()
    power_on(bmc)
    con = pty_client(['ipmitool', '-I', 'lanplus', '-C', '3', '-H',
                      '127.0.0.1', '-p', bmc.port, '-U', USER, '-P',
                      PASSWORD, 'sol', 'activate'])
    con.expect(b'[SOL Session operational')
    bmc.serial_write(b'printed for ipmitool\r\n')
    con.expect(b'printed for ipmitool')
    con.send(b'typed in ipmitool!')
    assert bmc.serial_read(10, until=b'!') == b'typed in ipmitool!'
    con.send(b'\r~.')      # ipmitool's escape, at the start of a line
    assert con.wait(10) is not None


def test_sol_deactivate_ends_ipmiconsole(sim_bmc, pty_client):
    bmc = sim_bmc()
    power_on(bmc)
    con = pty_client(ipmiconsole_argv(bmc, '-W', SOL_FLAGS,
                                      '--retransmission-timeout=40'))
    con.expect(b'[SOL established]')
    bmc.sol_deactivate()
    # ipmi_sim no longer answers the session's SOL packets: the next typed
    # byte runs out of retransmissions and the client gives up
    con.send(b'x')
    assert con.wait(30) is not None
    assert b'[error received]: excess retransmissions sent' in con.out
    assert b'x' not in bmc.serial_read(0.2)
    # and SOL can be activated again
    con2 = pty_client(ipmiconsole_argv(bmc, '-W', SOL_FLAGS))
    con2.expect(b'[SOL established]')
    bmc.serial_write(b'after the drop\r\n')
    con2.expect(b'after the drop')


@pytest.mark.qemu
def test_qemu_machine_serial_over_sol(sim_bmc, pty_client, tmp_path):
    # SeaBIOS prints to the serial port only when told where it is
    sercon = tmp_path / 'sercon-port'
    sercon.write_bytes((0x3f8).to_bytes(2, 'little'))
    bmc = sim_bmc('--machine', 'qemu', '--qemu-args',
                  '-machine pc -m 64 -fw_cfg name=etc/sercon-port,file=%s'
                  % sercon)
    con = pty_client(ipmiconsole_argv(bmc, '-W', SOL_FLAGS))
    con.expect(b'[SOL established]')
    ipmitool(bmc, 'chassis', 'bootdev', 'cdrom')
    ipmitool(bmc, 'power', 'on')
    con.expect(b'SeaBIOS (version', timeout=20)
    pid = bmc.machine_pid()
    cmdline = open('/proc/%d/cmdline' % pid, 'rb').read().split(b'\0')
    assert cmdline[0] == b'qemu-system-x86_64'
    assert cmdline[cmdline.index(b'-boot') + 1] == b'order=d'
    assert 'is on' in ipmitool(bmc, 'power', 'status').stdout
    assert b'SeaBIOS (version' in bmc.serial_log()
    ipmitool(bmc, 'power', 'off')
    wait_for(lambda: not pid_alive(pid), 10, what='QEMU to exit')
    assert 'is off' in ipmitool(bmc, 'power', 'status').stdout
    # QEMU quit on QMP's quit, not on a SIGTERM
    assert b'terminating on signal' not in \
        (bmc.work / 'machine.log').read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root (ip netns)')
def test_runs_in_a_network_namespace(tmp_path):
    """What the e2e lab does: the BMC inside a namespace, through a command
    prefix; its port is not reachable from outside."""
    ns = 'lb-ipmisim-%d' % os.getpid()
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    bmc = None
    try:
        prefix = ['ip', 'netns', 'exec', ns]
        subprocess.run(prefix + ['ip', 'link', 'set', 'lo', 'up'],
                       check=True)
        bmc = ipmi_sim_bmc.SimBmc(tmp_path / 'bmc', user=USER,
                                  password=PASSWORD, port=9001,
                                  prefix=prefix).start()
        assert ipmitool(bmc, 'power', 'on').stdout.strip() == \
            'Chassis Power Control: Up/On'
        wait_for(lambda: bmc.power_state() == 'on', 10, what='power on')
        wait_for(lambda: b'power on]' in bmc.serial_log(), 10,
                 what='the machine on its serial port')
        # from outside the namespace nothing answers on that port
        assert not ipmi_sim_bmc.ipmi_ping('127.0.0.1', 9001)
    finally:
        if bmc is not None:
            bmc.stop()
            assert not pid_alive(bmc.ipmi_sim_pid)
        subprocess.run(['ip', 'netns', 'del', ns], check=True)
