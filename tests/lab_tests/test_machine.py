"""InMemoryMachine: the state model both BMC emulators rely on."""

import pytest

import machine as M
from conftest import wait_for


def test_power_on_boots_default_disk():
    m = M.InMemoryMachine('m')
    assert m.power_state() == 'off'
    m.power_on()
    assert m.power_state() == 'on'
    assert m.boots == ['disk']
    m.power_on()                      # already on: no second boot
    assert m.boots == ['disk']
    m.power_off()
    assert m.power_state() == 'off'
    assert m.seconds_since_off() is not None


def test_once_override_is_consumed_by_the_next_boot():
    m = M.InMemoryMachine('m')
    m.set_boot(device='pxe', enabled='once', mode='uefi')
    m.power_on()
    assert m.boots == ['pxe']
    assert m.boot_info() == {'device': 'none', 'enabled': 'disabled',
                             'mode': 'uefi'}
    m.reset()
    assert m.boots == ['pxe', 'disk']


def test_continuous_override_applies_to_every_boot():
    m = M.InMemoryMachine('m')
    m.set_boot(device='cdrom', enabled='continuous')
    m.power_on()
    m.reset()
    m.power_cycle()
    assert m.boots == ['cdrom'] * 3
    assert m.boot_info()['enabled'] == 'continuous'


def test_disabled_override_boots_default():
    m = M.InMemoryMachine('m')
    m.set_boot(device='pxe', enabled='disabled')
    m.power_on()
    assert m.boots == ['disk']


def test_bad_boot_values_are_refused():
    m = M.InMemoryMachine('m')
    for kw in ({'device': 'usb'}, {'enabled': 'always'}, {'mode': 'efi'}):
        with pytest.raises(ValueError):
            m.set_boot(**kw)
    assert m.boot_info() == {'device': 'none', 'enabled': 'disabled',
                             'mode': 'bios'}


def test_reset_cycle_nmi_need_power():
    m = M.InMemoryMachine('m')
    for action in (m.reset, m.power_cycle, m.nmi, m.soft_reboot):
        with pytest.raises(M.MachineStateError):
            action()


def test_soft_off_immediate_and_delayed():
    m = M.InMemoryMachine('m')
    m.power_on()
    m.soft_off()
    assert m.power_state() == 'off'

    m = M.InMemoryMachine('m', soft_off_delay=0.3)
    m.power_on()
    m.soft_off()
    assert m.power_state() == 'on'    # the OS is still shutting down
    wait_for(lambda: m.power_state() == 'off', 5, what='soft off')
    assert 'OS shut down (soft off complete)' in m.snapshot()['log']


def test_soft_off_ignored_when_acpi_is_ignored():
    m = M.InMemoryMachine('m', ignore_acpi=True)
    m.power_on()
    m.soft_off()
    m.soft_reboot()
    assert m._timer is None           # nothing is scheduled: never goes off
    assert m.power_state() == 'on'
    assert m.boots == ['disk']
    assert any('ignored' in a for a in m.snapshot()['log'])


def test_stale_soft_off_does_not_hit_a_new_power_on():
    m = M.InMemoryMachine('m', soft_off_delay=0.2)
    m.power_on()
    m.soft_off()
    m.power_off()
    m.power_on()
    m._timer.join(5)                  # the pending soft off fires now
    assert m.power_state() == 'on'


def test_media_and_snapshot():
    m = M.InMemoryMachine('m', index=3)
    m.insert_media('http://127.0.0.1/x.iso', '/tmp/x.iso')
    snap = m.snapshot()
    assert snap['index'] == 3
    assert snap['media'] == {'image': 'http://127.0.0.1/x.iso',
                             'path': '/tmp/x.iso', 'inserted': True}
    m.eject_media()
    assert m.media_info()['inserted'] is False
    m.configure(soft_off_delay=2, ignore_acpi=True)
    assert (m.soft_off_delay, m.ignore_acpi) == (2.0, True)
    with pytest.raises(ValueError):
        m.configure(colour='red')


def test_qemu_argv_follows_boot_override(tmp_path):
    """The QEMU command line, without starting QEMU."""
    m = M.QemuMachine('q', index=5, run_dir=str(tmp_path),
                      extra_args=['-netdev', 'user,id=n{index}',
                                  '-device', 'e1000,mac={mac}'])
    assert m.extra_args == ['-netdev', 'user,id=n5', '-device',
                            'e1000,mac=52:54:00:00:00:05']
    argv = m._build_argv('pxe', once=True)
    assert argv[argv.index('-boot') + 1] == 'once=n,order=c'
    argv = m._build_argv('cdrom', once=False)
    assert argv[argv.index('-boot') + 1] == 'order=d'
    m.media_inserted, m.media_path = True, '/tmp/a,b.iso'
    argv = m._build_argv('disk', once=False)
    assert 'file=/tmp/a,,b.iso' in argv[argv.index('-drive') + 1]
    m.boot_mode = 'uefi'
    m.uefi_firmware = '/fw.fd'
    argv = m._build_argv('cdrom', once=True)
    assert argv[argv.index('-bios') + 1] == '/fw.fd'
    assert any(a.endswith('bootindex=0') for a in argv)


def test_uefi_network_boot_puts_the_nic_first(tmp_path):
    """OVMF network-boots only what bootindex puts first: in UEFI mode a
    pxe/http boot gives the first NIC bootindex=0, other boots do not."""
    m = M.QemuMachine('q', index=1, run_dir=str(tmp_path), boot_mode='uefi',
                      uefi_firmware='/fw.fd',
                      extra_args=['-netdev', 'tap,id=n0', '-device',
                                  'virtio-net-pci,netdev=n0,mac={mac}',
                                  '-device', 'e1000,netdev=n1'])
    for device in ('pxe', 'http'):
        argv = m._build_argv(device, once=True)
        assert 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,bootindex=0' \
            in argv, argv
        assert 'e1000,netdev=n1' in argv
    for device in ('disk', 'cdrom'):
        argv = m._build_argv(device, once=False)
        assert 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01' in argv
    # BIOS (SeaBIOS follows -boot) and a NIC that has its own: unchanged
    m.boot_mode = 'bios'
    assert 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01' in \
        m._build_argv('pxe', once=True)
    assert M.nic_first(['-device', 'x,netdev=a,bootindex=3']) == [
        '-device', 'x,netdev=a,bootindex=3']
    # the instance list itself is never changed
    assert m.extra_args[3] == 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01'
