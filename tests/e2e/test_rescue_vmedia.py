"""End to end: rescue a UEFI QEMU machine through Redfish virtual media.

The lab (conftest.py ``lab`` with ``LAB_OPTIONS`` below) has the lab's
Redfish BMC in front of an OVMF machine whose NIC has no option ROM, a
rescuing VLAN whose dnsmasq hands out addresses and nothing else, and no
TFTP server: the only way the rescue ramdisk gets onto the machine is the
ISO lifeboatd builds from the project's kernel and ramdisk, publishes
under its HTTP root and has the BMC insert as a virtual CD.  The BMC sits
on a management network of its own (``bmc_network='management'``, see
lab.py) from which it can reach lifeboatd's ``[deploy] external_http_url``
and the tests check that it cannot reach ``http_url`` (the rescuing
VLAN's); it fetches the ISO from the former.

1. ``test_rescue_vmedia_uefi``   enroll (redfish, redfish-virtual-media,
   switch, agent, boot_mode:uefi) and adopt the machine, see the instance
   boot from its disk; ``rescue --rescue-password PW --wait``; while it
   waits: the CD holds the ISO from lifeboatd's HTTP root at
   external_http_url (the BMC downloaded it from there), the override is
   Cd/Once/UEFI, the port is on the rescuing VLAN; then: state ``rescue``,
   the CD is ejected without a power cycle, the ISO is gone, ``ssh
   rescue@<tenant address>`` with PW works; ``unrescue --wait``: ``active``,
   the instance boots from its disk again, no media inserted.
2. ``test_rescue_vmedia_quirky_bmc``   the same with the BMC restarted as
   a quirky vendor (``sticky-inserted``: Inserted stays true after an
   eject; ``power-on-409``: power on refused for a while after a power
   off); the rescue still succeeds and lifeboatd's log names the quirks it
   applied.
"""

import re
import threading
import time

import pytest

import lab as L

LAB_OPTIONS = {'name': 'vmedia', 'bmc': 'redfish', 'firmware': 'uefi',
               'pxe': False, 'bmc_network': 'management'}

NODE_NAME = 'e2e-vmedia-machine'
RESCUE_PASSWORD = 'Lifeboat-vmedia-pw1'
WRONG_PASSWORD = 'not-the-password'
BANNER = r'LIFEBOAT-INSTANCE up'
TENANT_ADDRESS_LINE = r'LIFEBOAT-INSTANCE address %s\b' % re.escape(
    L.MACHINE_TENANT_IP)
TOKEN_INVALID_MSG = 'Invalid or missing agent token received.'

BOOT_TIMEOUT = 180        # power on -> instance banner (OVMF under TCG)
RESCUE_TIMEOUT = 240      # rescue --wait (lifeboat gives up at 150 s)
UNRESCUE_TIMEOUT = 180
SSH_TIMEOUT = 120
QUIRK_409_SECONDS = 6


def node_show(lab, uuid):
    return lab.cli_json('node', 'show', uuid)


def lifeboat_line(lab, uuid, what, mark, timeout):
    return lab.events.wait(
        r'node %s: %s' % (uuid, what), 'lifeboatd', mark, timeout,
        fail=r'node %s: .*(-> rescue failed|-> unrescue failed)' % uuid,
        what=what)


def cd_slot(lab):
    code, cd = lab.redfish('GET', L.REDFISH_CD)
    assert code == 200, (code, cd)
    return cd


def assert_no_media(lab):
    """Nothing in the CD: the machine's drive is empty (the truth, from the
    BMC's control endpoint) and the BMC's slot has no Image.  Inserted may
    stay true on a BMC with the sticky-inserted quirk, as on the real
    ones that do it."""
    media = lab.bmc_machine()['media']
    assert media['inserted'] is False, media
    cd = cd_slot(lab)
    assert not cd.get('Image'), cd
    if 'sticky-inserted' not in lab.quirks:
        assert cd['Inserted'] is False, cd


def boot_override(lab):
    code, system = lab.redfish('GET', L.REDFISH_SYSTEM)
    assert code == 200, (code, system)
    return system['Boot']


def qemu_starts(lab, mark):
    """The QEMU command lines the BMC started since ``mark``."""
    return [text for t, src, text in lab.events.lines[mark:]
            if src == 'bmc' and 'QEMU started, pid' in text]


def enroll(lab, timings):
    uuid = lab.enroll(NODE_NAME, 'redfish', 'redfish-virtual-media', 'uefi',
                      pxe=False)
    power_on_instance(lab, uuid, timings, 'after adopt')
    return uuid


def power_on_instance(lab, uuid, timings, why):
    mark = lab.events.mark()
    t0 = time.monotonic()
    lab.cli('node', 'power', 'on', uuid)
    t_up, _ = lab.events.wait(BANNER, 'console', mark, BOOT_TIMEOUT,
                              what='the instance banner %s' % why)
    lab.events.wait(TENANT_ADDRESS_LINE, 'console', mark, 60,
                    what='the instance tenant lease %s' % why)
    starts = qemu_starts(lab, mark)
    assert starts and '-bios' in starts[-1], starts      # OVMF
    timings('UEFI instance boot from disk %s' % why, [
        ('power on -> "%s"' % BANNER, t_up - t0, t_up - t0)])


def check_bmc_reach(lab):
    """The BMC reaches lifeboatd's external_http_url (its listener answers:
    404 for the root, which it does not list) and not http_url (no route:
    nothing answers)."""
    assert lab.external_http_url and lab.external_http_url != lab.http_url
    code, why = lab.bmc_fetch(lab.http_url + '/')
    assert code == 0 and why, (lab.http_url, code, why)
    code, why = lab.bmc_fetch(lab.external_http_url + '/')
    assert code == 404, (lab.external_http_url, code, why)


def rescue_and_check(lab, uuid, timings):
    if lab.bmc_network:
        check_bmc_reach(lab)
    mark = lab.events.mark()
    t0 = time.monotonic()
    seen = {}

    def watch():
        lifeboat_line(lab, uuid, r'rescue: powered on, waiting', mark,
                      RESCUE_TIMEOUT)
        seen['cd'] = cd_slot(lab)
        seen['boot'] = boot_override(lab)
        seen['pvid'] = lab.pvid('tap0')
        seen['isos'] = sorted(p.relative_to(lab.http_root).as_posix()
                              for p in lab.http_root.rglob('*.iso'))
        seen['dnsmasq files'] = sorted(
            p.name for d in (lab.hostsdir, lab.optsdir) for p in d.iterdir())

    def watch_safely():
        try:
            watch()
        except Exception as e:      # noqa: BLE001 - reported below
            seen['watch_error'] = e

    watcher = threading.Thread(target=watch_safely, daemon=True)
    watcher.start()
    p = lab.cli('node', 'rescue', uuid, '--rescue-password', RESCUE_PASSWORD,
                '--wait', str(RESCUE_TIMEOUT), timeout=RESCUE_TIMEOUT + 30,
                check=False)
    t_cli = time.monotonic()
    watcher.join(30)
    if p.returncode != 0:
        node = node_show(lab, uuid)
        pytest.fail('rescue failed: %s; state %s, last_error %r\n'
                    'lifeboatd:\n%s\nbmc:\n%s\nconsole:\n%s' % (
                        p.stderr.strip(), node['provision_state'],
                        node['last_error'], lab.events.tail('lifeboatd'),
                        lab.events.tail('bmc'), lab.events.tail('console')))
    if 'watch_error' in seen:
        raise seen['watch_error']
    node = node_show(lab, uuid)
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] in (None, ''), node

    # while lifeboat waited for the agent: the ISO from its HTTP root in
    # the CD, booted once in UEFI mode, the port on the rescuing VLAN,
    # nothing for a DHCP boot service
    cd = seen['cd']
    prefix = '%s/redfish/%s/' % (lab.external_http_url or lab.http_url, uuid)
    assert cd['Inserted'] is True, cd
    assert cd['Image'].startswith(prefix) and cd['Image'].endswith('.iso'), \
        cd
    assert not set('?=') & set(cd['Image']), cd
    assert seen['isos'] == ['redfish/%s/%s' % (
        uuid, cd['Image'][len(prefix):])], seen['isos']
    # the override lifeboat set (Cd, once, UEFI) was used by that boot
    # and is gone: the BMC reports it disabled, as real ones do
    bmc_log = [text for t, src, text in lab.events.lines[mark:]
               if src == 'bmc']
    # the BMC downloaded it from there, from lifeboatd's listener on the
    # management network (which logs the ISO's name as "…")
    assert [t for t in bmc_log if re.search(r'downloaded %s\S+\.iso ' %
                                            re.escape(prefix), t)], \
        bmc_log[-40:]
    if lab.external_http_url:
        assert lab.events.find(
            r'http boot \(external_http_url\): GET /redfish/%s/\u2026 -> '
            r'200' % uuid, 'lifeboatd', mark), lab.events.tail('lifeboatd')
    assert any('set boot device=cdrom enabled=once mode=uefi' in t
               for t in bmc_log), bmc_log[-40:]
    boots = [t for t in bmc_log if ': boot from ' in t]
    assert len(boots) == 1 and 'boot from cdrom (uefi)' in boots[0], boots
    boot = seen['boot']
    assert (boot['BootSourceOverrideEnabled'],
            boot['BootSourceOverrideMode']) == ('Disabled', 'UEFI'), boot
    assert seen['pvid'] == L.RESCUE_VLAN, seen
    assert seen['dnsmasq files'] == [], seen
    # the machine booted the CD (bootindex 0) with OVMF, once
    starts = qemu_starts(lab, mark)
    assert len(starts) == 1, starts
    assert '-bios' in starts[0] and 'bootindex=0' in starts[0], starts

    ev = {}
    for name, rx in (
            ('rescue request accepted', r'active -> rescuing \(rescue\)'),
            ('power off', r'rescue: powered off'),
            ('port moved', r'rescue: ports moved to the rescuing network'),
            ('ISO built, inserted, boot set',
             r'rescue: ramdisk staged'),
            ('power on', r'rescue: powered on, waiting for the agent'),
            ('first heartbeat', r'rescue wait -> rescuing \(agent '
                                r'heartbeat\)'),
            ('finalize', r'rescuing -> rescue \(finalize done')):
        ev[name] = lifeboat_line(lab, uuid, rx, mark, 1)[0]
    ev['kernel loaded (first kernel line)'] = lab.events.wait(
        r'Linux version|lifeboat-ramdisk: init started', 'console',
        mark, 1, what='the rescue kernel on the console')[0]
    ev['rescue (CLI --wait returned)'] = t_cli

    # after finalize: the media is ejected, the ISO gone, the machine not
    # powered off (the ramdisk runs from memory)
    assert_no_media(lab)
    assert not list(lab.http_root.rglob('*.iso'))
    assert not (lab.http_root / 'redfish' / uuid).exists()
    assert len(qemu_starts(lab, mark)) == 1
    assert lab.bmc_machine()['power_state'] == 'on'
    # a heartbeat with a wrong token changes nothing
    code, text = lab.http('POST', '/v1/heartbeat/%s' % uuid, {
        'callback_url': 'http://%s.150:9999' % L.RESCUE_NET,
        'agent_token': 'x' * 43}, headers={
            'X-OpenStack-Ironic-API-Version': '1.68'})
    assert code == 400 and TOKEN_INVALID_MSG in text, (code, text)
    assert node_show(lab, uuid)['provision_state'] == 'rescue'

    # ssh rescue@<tenant address> with the rescue password
    deadline = time.monotonic() + SSH_TIMEOUT
    while True:
        last = lab.ssh('rescue', L.MACHINE_TENANT_IP, RESCUE_PASSWORD,
                       'echo "user=$LOGNAME"; cat /proc/cmdline; '
                       'cat /proc/partitions')
        if last.returncode == 0:
            break
        if time.monotonic() > deadline:
            pytest.fail('ssh rescue@%s never worked (exit %d): %s\n'
                        'console:\n%s' % (L.MACHINE_TENANT_IP,
                                          last.returncode, last.stderr,
                                          lab.events.tail('console')))
        time.sleep(1)
    ev['ssh rescue@tenant address works'] = time.monotonic()
    # (rescue is uid 0 in lifeboat's ramdisk, which has no sudo)
    assert last.stdout.splitlines()[0] == 'user=rescue', last.stdout
    assert re.search(r'\bvda1\b', last.stdout), last.stdout
    # the kernel parameters came from the ISO: vmedia boot, the pregenerated
    # token (its value is not shown anywhere else), the one port's MAC
    assert 'boot_method=vmedia' in last.stdout, last.stdout
    assert re.search(r'\bipa-agent-token=\S{20,}', last.stdout), last.stdout
    assert 'BOOTIF=%s' % L.MACHINE_MAC in last.stdout, last.stdout
    bad = lab.ssh('rescue', L.MACHINE_TENANT_IP, WRONG_PASSWORD, 'true')
    assert bad.returncode in (5, 255), (bad.returncode, bad.stderr)
    assert 'Permission denied' in bad.stderr, bad.stderr

    order = ['rescue request accepted', 'power off', 'port moved',
             'ISO built, inserted, boot set', 'power on',
             'kernel loaded (first kernel line)', 'first heartbeat',
             'finalize', 'rescue (CLI --wait returned)',
             'ssh rescue@tenant address works']
    rows, prev = [], t0
    for name in order:
        rows.append((name, ev[name] - prev, ev[name] - t0))
        prev = ev[name]
    rows.append(('TOTAL (rescue command -> node in rescue)', None,
                 ev['finalize'] - t0))
    timings('rescue through Redfish virtual media, UEFI (node %s)' % uuid,
            rows)
    return mark


def unrescue_and_check(lab, uuid, timings):
    mark = lab.events.mark()
    t0 = time.monotonic()
    lab.cli('node', 'unrescue', uuid, '--wait', str(UNRESCUE_TIMEOUT),
            timeout=UNRESCUE_TIMEOUT + 30)
    t_cli = time.monotonic()
    node = node_show(lab, uuid)
    assert node['provision_state'] == 'active', node
    assert node['power_state'] == 'power on', node
    t_up, _ = lab.events.wait(BANNER, 'console', mark, BOOT_TIMEOUT,
                              what='the instance banner after unrescue')
    lab.events.wait(TENANT_ADDRESS_LINE, 'console', mark, 60,
                    what='the instance tenant lease after unrescue')
    # from the disk: the CD device has no bootindex, the override is gone
    starts = qemu_starts(lab, mark)
    assert starts and 'bootindex=0' not in starts[-1], starts
    assert_no_media(lab)
    assert not list(lab.http_root.rglob('*.iso'))
    assert lab.pvid('tap0') == L.TENANT_VLAN
    assert lab.ssh('rescue', L.MACHINE_TENANT_IP, RESCUE_PASSWORD, 'true',
                   timeout=30).returncode != 0
    timings('unrescue (virtual media node)', [
        ('unrescue --wait returned', t_cli - t0, t_cli - t0),
        ('instance banner on the console', t_up - t0, t_up - t0)])


def cycle(lab, uuid, timings):
    try:
        return rescue_and_check(lab, uuid, timings)
    finally:
        if node_show(lab, uuid)['provision_state'] == 'rescue':
            unrescue_and_check(lab, uuid, timings)


def the_node(lab, timings):
    nodes = lab.cli_json('node', 'list', '--fields', 'uuid', 'name')
    mine = [n for n in nodes if n.get('Name', n.get('name')) == NODE_NAME]
    if mine:
        return mine[0].get('UUID', mine[0].get('uuid'))
    return enroll(lab, timings)


def test_rescue_vmedia_uefi(rescue_ready, lab, timings):
    # the lab's configuration names no iso_builder: a build tree's
    # lifeboatd finds the build tree's copy of mkiso by itself
    # (test_rescue_installed.py: an installed tree's)
    assert 'iso_builder' not in (lab.work / 'lifeboat.conf').read_text()
    if lab.lifeboatd.endswith('/conductor/lifeboatd'):
        mkiso = lab.lifeboatd[:-len('conductor/lifeboatd')] + 'ramdisk/mkiso'
        assert lab.events.find(
            r"iso_builder = %s \(default: this lifeboatd's build tree\)$"
            % re.escape(mkiso), 'lifeboatd', 0), lab.events.tail('lifeboatd')
    uuid = the_node(lab, timings)
    cycle(lab, uuid, timings)
    node = node_show(lab, uuid)
    assert node['provision_state'] == 'active', node


def test_rescue_vmedia_quirky_bmc(rescue_ready, lab, timings):
    uuid = the_node(lab, timings)
    assert node_show(lab, uuid)['provision_state'] == 'active'
    lab.quirks = ['sticky-inserted', 'power-on-409=%d' % QUIRK_409_SECONDS]
    lab.restart_bmc(lab.quirks)
    # the BMC's restart took the machine down; bring the instance back
    power_on_instance(lab, uuid, timings, 'behind the quirky BMC')
    mark = cycle(lab, uuid, timings)
    # lifeboatd says which quirks it applied (the 409 retry when powering
    # on right after the power off, the sticky Inserted flag at eject)
    applied = ' '.join(
        text for t, src, text in lab.events.lines[mark:]
        if src == 'lifeboatd' and 'Redfish quirks applied' in text and
        uuid in text)
    assert 'power_on_409_retry' in applied, applied
    assert 'sticky_inserted' in applied, applied
    assert node_show(lab, uuid)['provision_state'] == 'active'
