"""QEMU-backed machines: real qemu-system-x86_64 processes behind the BMCs.

SeaBIOS writes its log to the isa-debugcon port 0x402; the tests capture it
in a file to see which device the firmware really tried to boot.
"""

import re
import subprocess

import pytest
import sushy

import machine as M
from conftest import cmdline, pid_alive, wait_for

pytestmark = pytest.mark.qemu

QEMU_ARGS = '-machine pc -m 64 -nodefaults -display none'
USER, PASSWORD = 'admin', 'secret'


def debugcon_args(path):
    return ['-chardev', 'file,id=dbg,path=%s' % path,
            '-device', 'isa-debugcon,iobase=0x402,chardev=dbg']


def firmware_boots(path):
    """The first device SeaBIOS tried in each boot, from its debug log."""
    try:
        text = open(path, errors='replace').read()
    except FileNotFoundError:
        return []
    boots = []
    # one "Running on QEMU" per POST (the version banner shows twice)
    for chunk in text.split('Running on QEMU')[1:]:
        m = re.search(r'Booting from ([^.\n]+)', chunk)
        boots.append(m.group(1) if m else None)
    return boots


@pytest.fixture
def qemu_machine(tmp_path):
    """An in-process QemuMachine; its QEMU is stopped at teardown."""
    made = []

    def make(extra=()):
        m = M.QemuMachine('t%d' % len(made), run_dir=str(tmp_path / 'run'),
                          extra_args=QEMU_ARGS.split() + list(extra))
        made.append(m)
        return m
    yield make
    for m in made:
        pid = m.pid()
        m.close()
        if pid and pid_alive(pid):       # belt and braces
            subprocess.run(['kill', '-9', str(pid)])


def test_qemu_power_and_cd(qemu_machine, tmp_path):
    iso = tmp_path / 'a.iso'
    iso.write_bytes(b'\0' * 65536)
    m = qemu_machine()
    assert m.power_state() == 'off' and m.pid() is None
    m.power_on()
    pid = m.pid()
    assert pid_alive(pid)
    assert any(b'qemu-system-x86_64' in a for a in cmdline(pid))
    assert m.power_state() == 'on'
    assert m.qmp('query-status')['status'] == 'running'

    def cd():
        return [b for b in m.qmp('query-block') if b.get('qdev') ==
                M.CD_DEVICE_ID][0]
    assert 'inserted' not in cd()
    m.insert_media('http://127.0.0.1/a.iso', str(iso))
    assert cd()['inserted']['file'] == str(iso)
    m.eject_media()
    assert 'inserted' not in cd()
    m.nmi()
    m.power_off()
    assert m.power_state() == 'off'
    assert not pid_alive(pid)


def test_qemu_guest_exit_is_power_off(qemu_machine):
    m = qemu_machine()
    m.power_on()
    pid = m.pid()
    m.qmp('quit')           # as if the guest powered itself off
    wait_for(lambda: m.power_state() == 'off', what='QEMU exit noticed')
    assert not pid_alive(pid)
    assert m.seconds_since_off() is not None
    assert any('exited' in a for a in m.snapshot()['log'])


def test_firmware_boots_cd_once_then_disk(qemu_machine, tmp_path):
    iso = tmp_path / 'b.iso'
    iso.write_bytes(b'\0' * 65536)       # not bootable: SeaBIOS moves on
    log = tmp_path / 'seabios.log'
    m = qemu_machine(debugcon_args(log))
    m.insert_media('http://127.0.0.1/b.iso', str(iso))
    m.set_boot(device='cdrom', enabled='once')
    m.power_on()
    assert 'once=d,order=c' in m.argv
    wait_for(lambda: firmware_boots(log) == ['DVD/CD'], what='CD boot')
    pid = m.pid()
    m.reset()                      # the one-time override is used up
    assert m.pid() == pid          # same process: a QMP system_reset
    # a POST under TCG on a busy machine can take a while: poll longer,
    # and say what SeaBIOS did if it never tries the disk
    try:
        wait_for(lambda: firmware_boots(log) == ['DVD/CD', 'Hard Disk'],
                 timeout=90, what='disk boot after reset')
    except AssertionError as e:
        raise AssertionError('%s; boots seen: %r' % (e, firmware_boots(log)))
    # a new override the running QEMU cannot honour: restart the process
    m.set_boot(device='cdrom', enabled='continuous')
    m.reset()
    assert m.pid() != pid
    assert 'order=d' in m.argv


def test_ipmi_bmc_drives_qemu(ipmi_bmc, tmp_path):
    from test_ipmi_bmc import ipmitool
    bmc = ipmi_bmc('--machine', 'qemu', '--qemu-args', QEMU_ARGS,
                   '--qmp-dir', tmp_path / 'qmp')
    assert 'is off' in ipmitool(bmc, 'power', 'status').stdout
    ipmitool(bmc, 'power', 'on')
    m = bmc.machine()
    pid = m['pid']
    bmc.proc.extra_pids.append(pid)
    assert pid_alive(pid)
    assert any(b'qemu-system-x86_64' in a for a in cmdline(pid))
    assert 'is on' in ipmitool(bmc, 'power', 'status').stdout
    # boot device + power cycle: a new QEMU booting the CD once
    ipmitool(bmc, 'chassis', 'bootdev', 'cdrom')
    ipmitool(bmc, 'power', 'cycle')
    m = bmc.machine()
    bmc.proc.extra_pids.append(m['pid'])
    assert m['pid'] != pid and not pid_alive(pid)
    assert b'once=d,order=c' in cmdline(m['pid'])
    # the guest goes away behind the BMC's back
    bmc.ctl(0, 'qmp', {'execute': 'quit'})
    wait_for(lambda: 'is off' in ipmitool(bmc, 'power', 'status').stdout,
             what='BMC to see QEMU gone')
    ipmitool(bmc, 'power', 'on')
    pid = bmc.machine()['pid']
    bmc.proc.extra_pids.append(pid)
    ipmitool(bmc, 'power', 'off')
    assert not pid_alive(pid)
    assert bmc.machine()['pid'] is None


def test_redfish_bmc_virtual_media_on_qemu(redfish_bmc, image_server,
                                           tmp_path):
    base, www = image_server
    (www / 'rescue.iso').write_bytes(b'\0' * 65536)
    bmc = redfish_bmc('--machine', 'qemu', '--qemu-args', QEMU_ARGS,
                      '--state-dir', tmp_path / 'state')
    root = sushy.Sushy(bmc.url() + '/redfish/v1', username=USER,
                       password=PASSWORD)
    system = root.get_system()
    system.reset_system(sushy.ResetType.ON)
    bmc.proc.extra_pids.append(bmc.machine()['pid'])
    cd = system.managers[0].virtual_media.get_members()[0]
    cd.insert_media(base + '/rescue.iso')
    path = bmc.machine()['media']['path']

    def qemu_cd():
        blocks = bmc.ctl(0, 'qmp', {'execute': 'query-block'})['return']
        return [b for b in blocks if b.get('qdev') == 'cdrom0'][0]
    assert qemu_cd()['inserted']['file'] == path
    # Ironic's sequence: boot Cd once, power off, power on
    system.set_system_boot_options(
        sushy.BootSource.CD, enabled=sushy.BootSourceOverrideEnabled.ONCE)
    system.reset_system(sushy.ResetType.FORCE_OFF)
    system.reset_system(sushy.ResetType.ON)
    m = bmc.machine()
    bmc.proc.extra_pids.append(m['pid'])
    args = cmdline(m['pid'])
    assert b'once=d,order=c' in args
    assert any(a.endswith(('file=' + path).encode()) for a in args)
    cd.eject_media()
    assert 'inserted' not in qemu_cd()
    system.refresh()
    assert system.power_state == sushy.PowerState.ON


def test_emulator_exit_stops_qemu(ipmi_bmc, tmp_path):
    from test_ipmi_bmc import ipmitool
    bmc = ipmi_bmc('--machine', 'qemu', '--qemu-args', QEMU_ARGS, count=2)
    ipmitool(bmc, 'power', 'on', index=0)
    ipmitool(bmc, 'power', 'on', index=1)
    pids = [bmc.machine(i)['pid'] for i in range(2)]
    bmc.proc.extra_pids.extend(pids)
    assert all(pid_alive(p) for p in pids)
    assert bmc.proc.stop() == 0              # SIGTERM: QEMUs are stopped
    assert not any(pid_alive(p) for p in pids)


def test_emulator_sigkill_takes_qemu_along(ipmi_bmc):
    from test_ipmi_bmc import ipmitool
    bmc = ipmi_bmc('--machine', 'qemu', '--qemu-args', QEMU_ARGS)
    ipmitool(bmc, 'power', 'on')
    pid = bmc.machine()['pid']
    bmc.proc.extra_pids.append(pid)
    bmc.proc.popen.kill()                    # no chance to clean up
    bmc.proc.popen.wait()
    # PR_SET_PDEATHSIG on the QEMU child
    wait_for(lambda: not pid_alive(pid), what='QEMU to die with its BMC')


@pytest.mark.skipif(M.default_uefi_firmware() is None,
                    reason='no OVMF firmware (package ovmf)')
def test_uefi_cd_once(qemu_machine, tmp_path):
    """OVMF ignores -boot: the CD gets bootindex=0, and since a reset keeps
    that, the end of a one-time CD boot means a new QEMU process."""
    iso = tmp_path / 'u.iso'
    iso.write_bytes(b'\0' * 65536)
    m = qemu_machine()
    m.insert_media('http://127.0.0.1/u.iso', str(iso))
    m.set_boot(device='cdrom', enabled='once', mode='uefi')
    m.power_on()
    assert m.argv[m.argv.index('-bios') + 1] == M.default_uefi_firmware()
    assert any(a.endswith('bootindex=0') for a in m.argv)
    assert m.power_state() == 'on'
    pid = m.pid()
    m.reset()
    assert m.pid() != pid and not pid_alive(pid)
    assert not any(a.endswith('bootindex=0') for a in m.argv)
    assert m.boots == ['cdrom', 'disk']
