"""End to end: rescue a QEMU machine through lifeboatd, the real
``openstack baremetal`` CLI, the lab's IPMI BMC, a VLAN-filtering bridge,
dnsmasq, tftp-hpa, pxelinux/iPXE and lifeboat's own rescue ramdisk.

The tests run in order and share one lab (conftest.py ``lab``):

1. ``test_vlan_isolation``   the bridge keeps the two VLANs apart and an
                             access-port flip moves a client between them;
2. ``test_pxe_harness``      a second QEMU PXE-boots pxelinux from the
                             lab's tftpd on the rescuing VLAN (dnsmasq
                             driven by hostsdir/optsdir files), without
                             lifeboat;
3. ``test_rescue_pxe``       enroll (no boot_mode capability) + adopt
                             the machine, see the instance
                             boot from disk; rescue with the ``pxe`` boot
                             interface and [pxe] pxelinux_fetch = ipxe:
                             pxelinux.0 boots ipxe.lkrn, which fetches the
                             ramdisk and kernel from lifeboatd's HTTP boot
                             root, and BOOTIF reaches the rescue kernel
                             (test_rescue_hardware.py keeps plain
                             pxelinux.0 over TFTP, tests/flow lpxelinux.0
                             over HTTP); ssh as rescue; wrong
                             password and
                             wrong agent token refused; unrescue, the
                             instance boots from disk again;
4. ``test_rescue_ipxe``      the same rescue and unrescue with ``ipxe``.

Phase timings are printed at the end of the run (conftest.py).
"""

import json
import os
import re
import threading
import time

import pytest

import lab as L

# the pxe rescue: pxelinux.0 boots iPXE (ipxe.lkrn), which fetches ramdisk
# and kernel over HTTP with its own NIC driver
LAB_OPTIONS = {'pxe_fetch': 'ipxe'}

NODE_NAME = 'e2e-machine'
RESCUE_PASSWORD = 'Lifeboat-e2e-pw1'
WRONG_PASSWORD = 'not-the-password'
BANNER = r'LIFEBOAT-INSTANCE up'
TENANT_ADDRESS_LINE = r'LIFEBOAT-INSTANCE address %s\b' % re.escape(
    L.MACHINE_TENANT_IP)
TOKEN_INVALID_MSG = 'Invalid or missing agent token received.'

BOOT_TIMEOUT = 120        # power on -> instance banner
RESCUE_TIMEOUT = 180      # rescue --wait (lifeboat gives up at 150 s)
UNRESCUE_TIMEOUT = 120
SSH_TIMEOUT = 120         # rescue reached -> ssh on the tenant address works


# The boot files (DHCP option 67) a rescue of a node without boot_mode is
# sent, by firmware and boot interface.  QEMU's virtio-net ROM is iPXE on
# SeaBIOS and on OVMF alike (it sends option 175 with option 93 = 0 or 7),
# so ipxe goes straight to boot.ipxe on both; undionly.kpxe and
# snponly.efi, for other firmware's PXE, are test_dhcp_arch's.
BOOT_IPXE = 'http://%s:%d/boot.ipxe' % (L.GATEWAY_RESCUE, L.HTTP_PORT)
LOADERS = {
    'bios': {'pxe': ['pxelinux.0'], 'ipxe': [BOOT_IPXE]},
    'uefi': {'pxe': ['bootx64.efi'], 'ipxe': [BOOT_IPXE]},
}


def uuid_rx():
    return r'[0-9a-f-]{36}'


# ------------------------------------------------------------ layer tests

def test_vlan_isolation(lab):
    """Access ports on different VLANs cannot talk; moving one's PVID (what
    the switch network interface does to tap0) puts it on the other VLAN."""
    a_ns, a_port = lab.add_client('a', L.TENANT_VLAN, ['10.100.0.21/24'])
    b_ns, b_port = lab.add_client('b', L.RESCUE_VLAN,
                                  ['10.100.0.22/24', '10.200.0.22/24'])
    try:
        assert lab.pvid(a_port) == L.TENANT_VLAN
        assert lab.pvid(b_port) == L.RESCUE_VLAN
        assert lab.ping(a_ns, L.GATEWAY_TENANT), 'tenant VLAN broken'
        assert lab.ping(b_ns, L.GATEWAY_RESCUE), 'rescuing VLAN broken'
        # same subnet, different VLANs: no way across
        assert not lab.ping(a_ns, '10.100.0.22')
        assert not lab.ping(b_ns, '10.100.0.21')
        assert not lab.ping(b_ns, L.GATEWAY_TENANT)
        assert not lab.ping(a_ns, L.GATEWAY_RESCUE)
        lab.set_access_vlan(b_port, L.TENANT_VLAN)
        assert lab.pvid(b_port) == L.TENANT_VLAN
        assert L.RESCUE_VLAN not in lab.port_vlans(b_port)
        assert lab.ping(b_ns, '10.100.0.21', count=3)
        assert lab.ping(b_ns, L.GATEWAY_TENANT)
        assert not lab.ping(b_ns, L.GATEWAY_RESCUE)
        # the machine's port starts on the tenant VLAN only
        assert lab.port_vlans('tap0') == {
            L.TENANT_VLAN: {'PVID', 'Egress Untagged'}}
    finally:
        lab.remove_client(a_ns, a_port)
        lab.remove_client(b_ns, b_port)
    assert not [n for n in L.leftovers() if n != lab.ns]


def test_pxe_harness(lab, instance, timings):
    """QEMU PXE-boots pxelinux -> the instance kernel and initramfs from
    in.tftpd on the rescuing VLAN, with the boot options coming from a
    dnsmasq hostsdir/optsdir pair as lifeboat writes them."""
    mac = '52:54:00:e2:e0:02'
    tag = 'e2e-harness'
    hostfile = lab.hostsdir / ('e2e-%s.conf' % mac)
    optsfile = lab.optsdir / ('e2e-%s.conf' % tag)
    subdir = lab.tftp_root / 'e2e-harness'
    pxecfg = lab.tftp_root / 'pxelinux.cfg' / ('01-' + mac.replace(':', '-'))
    console = lab.work / 'harness-console.log'
    subdir.mkdir()
    L.shutil.copy(instance['kernel'], subdir / 'vmlinuz')
    L.shutil.copy(instance['initrd'], subdir / 'initrd')
    pxecfg.write_text('default instance\nlabel instance\n'
                      'kernel e2e-harness/vmlinuz\n'
                      'append initrd=e2e-harness/initrd console=ttyS0\n'
                      'ipappend 2\n')
    optsfile.write_text('tag:%s,67,pxelinux.0\ntag:%s,66,%s\n'
                        'tag:%s,255,%s\n' % (tag, tag, L.GATEWAY_RESCUE, tag,
                                             L.GATEWAY_RESCUE))
    hostfile.write_text('%s,set:%s\n' % (mac, tag))
    lab.sh('ip', '-n', lab.ns, 'tuntap', 'add', 'tap1', 'mode', 'tap')
    lab.attach('tap1', L.RESCUE_VLAN)
    mark = lab.events.mark()
    tail = L.FileTail(console, lab.events, 'harness-console')
    tail.start()
    proc = None
    try:
        t0 = time.monotonic()
        proc = lab.spawn('harness-qemu', [
            'qemu-system-x86_64', '-accel', 'tcg', '-machine', 'pc', '-m',
            '512', '-nodefaults', '-display', 'none', '-no-reboot',
            '-boot', 'n', '-serial', 'file:%s' % console,
            '-netdev', 'tap,id=n1,ifname=tap1,script=no,downscript=no',
            '-device', 'virtio-net-pci,netdev=n1,mac=%s' % mac])
        t_dhcp, _ = lab.events.wait(r'DHCPACK\(%s\) \S+ %s' % (
            re.escape(lab.vlan_iface(L.RESCUE_VLAN)), mac), 'dnsmasq-rescue',
            mark, 60,
            what='the PXE DHCPACK')
        t_up, _ = lab.events.wait(BANNER, 'harness-console', mark, 120,
                                  what='the instance banner over PXE')
        t_ip, line = lab.events.wait(r'LIFEBOAT-INSTANCE address 10\.200\.0\.',
                                     'harness-console', mark, 60,
                                     what='a rescuing-VLAN lease')
        timings('PXE harness (no lifeboat): QEMU -> pxelinux -> '
                       'kernel', [
                           ('firmware DHCP on the rescuing VLAN', t_dhcp - t0,
                            t_dhcp - t0),
                           ('pxelinux + TFTP + kernel to /init', t_up - t_dhcp,
                            t_up - t0),
                           ('DHCP from the booted kernel', t_ip - t_up,
                            t_ip - t0)])
        assert proc.alive()
    finally:
        if proc is not None:
            lab.stop(proc)
        tail.stop.set()
        tail.join(2)
        lab.sh('ip', '-n', lab.ns, 'link', 'del', 'tap1', check=False)
        for f in (hostfile, optsfile, pxecfg):
            f.unlink(missing_ok=True)
        L.shutil.rmtree(subdir, ignore_errors=True)


# -------------------------------------------------------------- the flow

def node_show(lab, uuid):
    return lab.cli_json('node', 'show', uuid)


def enroll(lab, boot_interface, timings):
    """Enroll + adopt the QEMU machine and power it on from disk; returns
    the node UUID once the instance's banner and tenant lease are seen."""
    # No boot_mode: lifeboat serves BIOS and UEFI loaders by the DHCP
    # client's architecture (this SeaBIOS machine's iPXE ROM says 0).
    uuid = lab.enroll(NODE_NAME, lab.bmc, boot_interface, None)
    # As an operator would: the instance's disk first, for good, read
    # back from the BMC.
    lab.cli('node', 'boot', 'device', 'set', uuid, 'disk', '--persistent')
    shown = lab.cli_json('node', 'boot', 'device', 'show', uuid)
    assert shown == {'boot_device': 'disk', 'persistent': True}, shown
    mark = lab.events.mark()
    t0 = time.monotonic()
    lab.cli('node', 'power', 'on', uuid)
    t_up, _ = lab.events.wait(BANNER, 'console', mark, BOOT_TIMEOUT,
                              what='the instance banner after adopt')
    lab.events.wait(TENANT_ADDRESS_LINE, 'console', mark, 60,
                    what='the instance tenant lease')
    timings('instance boot from disk after adopt', [
        ('power on -> "%s"' % BANNER, t_up - t0, t_up - t0)])
    return uuid


def active_node(lab, boot_interface, timings):
    """The enrolled node, active and running the instance, with
    ``boot_interface``; enrolls it (again) when needed."""
    nodes = lab.cli_json('node', 'list', '--fields', 'uuid', 'name',
                         'provision_state')
    mine = [n for n in nodes if n.get('Name', n.get('name')) == NODE_NAME]
    if mine:
        uuid = mine[0].get('UUID', mine[0].get('uuid'))
        node = node_show(lab, uuid)
        if (node['provision_state'] == 'active' and
                node['power_state'] == 'power on'):
            if node['boot_interface'] != boot_interface:
                # interfaces change only in maintenance once active
                lab.cli('node', 'maintenance', 'set', uuid, '--reason',
                        'e2e: switch to %s' % boot_interface)
                lab.cli('node', 'set', uuid, '--boot-interface',
                        boot_interface)
                lab.cli('node', 'maintenance', 'unset', uuid)
            return uuid
        # a failed earlier test left it somewhere else: start over
        lab.cli('node', 'maintenance', 'set', uuid, check=False)
        lab.cli('node', 'power', 'off', uuid, check=False)
        lab.cli('node', 'delete', uuid)
    return enroll(lab, boot_interface, timings)


def lifeboat_line(lab, uuid, what, mark, timeout, fail=True):
    return lab.events.wait(
        r'node %s: %s' % (uuid, what), 'lifeboatd', mark, timeout,
        fail=(r'node %s: .*(failed|-> rescue failed|-> unrescue failed)'
              % uuid) if fail else None, what=what)


def wrong_token_heartbeat(lab, uuid):
    """A heartbeat with a wrong token: lifeboat must refuse it (400)."""
    body = {'callback_url': 'http://%s.150:9999' % L.RESCUE_NET,
            'agent_token': 'x' * 43, 'agent_version': 'e2e-impostor'}
    code, text = lab.http('POST', '/v1/heartbeat/%s' % uuid, body, headers={
        'X-OpenStack-Ironic-API-Version': '1.68'})
    try:
        fault = json.loads(json.loads(text)['error_message'])['faultstring']
    except (ValueError, KeyError, TypeError):
        fault = text
    return code, fault


def rescue_and_check(lab, uuid, boot_interface, problems, timings):
    """Steps 2, 3 and 6 of the issue: rescue, ssh, timings.  Checks that
    need not stop the flow (so that unrescue still runs) append to
    ``problems``."""
    mark = lab.events.mark()
    t0 = time.monotonic()
    seen = {}

    def watch():
        # while the CLI waits: the port on the rescuing VLAN, and
        # heartbeats with a wrong token, once before the agent has booted
        # (no token yet) and once right after lookup issued the real one
        lifeboat_line(lab, uuid, r'rescue: powered on, waiting', mark,
                      RESCUE_TIMEOUT)
        seen['pvid_during'] = lab.pvid('tap0')
        seen['staged'] = tuple(
            sorted(os.listdir(d)) if d.is_dir() else None
            for d in (lab.tftp_root / uuid, lab.http_root / uuid))
        seen['wrong_token_before_lookup'] = (
            wrong_token_heartbeat(lab, uuid) + (time.monotonic(),))
        lifeboat_line(lab, uuid, r'agent token issued at lookup', mark,
                      RESCUE_TIMEOUT)
        seen['wrong_token_after_lookup'] = (
            wrong_token_heartbeat(lab, uuid) + (time.monotonic(),))

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
    if p.returncode != 0:
        node = node_show(lab, uuid)
        pytest.fail('rescue failed: %s; state %s, last_error %r\n'
                    'lifeboatd:\n%s\nconsole:\n%s' % (
                        p.stderr.strip(), node['provision_state'],
                        node['last_error'], lab.events.tail('lifeboatd'),
                        lab.events.tail('console')))
    watcher.join(30)
    if 'watch_error' in seen:
        raise seen['watch_error']
    node = node_show(lab, uuid)
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] in (None, ''), node
    assert node['instance_info'].get('rescue_password') in (None, '******')
    assert 'hashed_rescue_password' not in node['instance_info'] or \
        node['instance_info']['hashed_rescue_password'] == '******', node

    # lifeboatd's phase lines and the console, as read
    ev = {}
    ev['rescue request accepted'] = lifeboat_line(
        lab, uuid, r'active -> rescuing \(rescue\)', mark, 1)[0]
    ev['power off'] = lifeboat_line(lab, uuid, r'rescue: powered off', mark,
                                    1)[0]
    ev['port moved'] = lifeboat_line(lab, uuid, r'rescue: ports moved to '
                                     r'the rescuing network', mark, 1)[0]
    ev['ramdisk staged'] = lifeboat_line(lab, uuid, r'rescue: ramdisk '
                                         r'staged', mark, 1)[0]
    ev['power on'] = lifeboat_line(lab, uuid, r'rescue: powered on, '
                                   r'waiting for the agent', mark, 1)[0]
    ev['DHCP (firmware, rescuing VLAN)'] = lab.events.wait(
        r'DHCPACK\(%s\) \S+ %s' % (re.escape(lab.vlan_iface(L.RESCUE_VLAN)),
                                   L.MACHINE_MAC),
        'dnsmasq-rescue', mark, 1, what='the firmware DHCPACK')[0]
    # a BIOS machine's pxelinux chains iPXE (pxelinux_fetch = ipxe) in this
    # module's lab; a UEFI one's grub reads everything over TFTP
    chained = (boot_interface == 'pxe' and lab.firmware == 'bios' and
               lab.pxe_fetch == 'ipxe')
    if chained:
        # iPXE took both from the HTTP boot root, not from TFTP
        for what in ('rescue_ramdisk', 'rescue_kernel'):
            ev['%s fetch (HTTP)' % what] = lab.events.wait(
                r'http boot[^:]*: GET /%s/%s -> 200' % (uuid, what),
                'lifeboatd', mark, 1, what='iPXE fetching %s over HTTP' % what)[0]
        # no boot_mode: grub's config and images stay on TFTP for UEFI
        # clients; pxelinux's config names only HTTP URLs
        assert seen['staged'] == (
            ['config', 'grub.cfg', 'rescue_kernel', 'rescue_ramdisk'],
            ['rescue_kernel', 'rescue_ramdisk']), seen
    elif boot_interface == 'pxe':
        # everything on TFTP, for pxelinux and grub alike
        assert seen['staged'] == (
            ['config', 'grub.cfg', 'rescue_kernel', 'rescue_ramdisk'],
            None), seen
    ev['kernel loaded (first kernel line)'] = lab.events.wait(
        r'Linux version|lifeboat-ramdisk: init started', 'console', mark, 1,
        what='the rescue kernel on the console')[0]
    ev['ramdisk /init'] = lab.events.wait(
        r'lifeboat-ramdisk: init started', 'console', mark, 1)[0]
    ev['first heartbeat'] = lifeboat_line(
        lab, uuid, r'rescue wait -> rescuing \(agent heartbeat\)', mark, 1)[0]
    ev['finalize'] = lifeboat_line(lab, uuid, r'rescuing -> rescue '
                                   r'\(finalize done', mark, 1)[0]
    ev['rescue (CLI --wait returned)'] = t_cli

    # no boot_mode: the BMC was given the network boot without a mode, so
    # the machine booted in its firmware's; dnsmasq sent that firmware's
    # loader (matched on option 93), then the rescue's own files
    lab.events.wait(r'boot from pxe \(%s\)' % lab.firmware, 'bmc', mark, 1,
                    what='a network boot in %s mode' % lab.firmware)
    for loader in LOADERS[lab.firmware][boot_interface]:
        lab.events.wait(r'option: 67 bootfile-name +%s\s*$' %
                        re.escape(loader), 'dnsmasq-rescue', mark, 1,
                        what='dnsmasq sending %s' % loader)

    # heartbeats with a wrong token were refused (400) and changed nothing
    for key in ('wrong_token_before_lookup', 'wrong_token_after_lookup'):
        code, fault, _ = seen[key]
        assert (code, fault) == (400, TOKEN_INVALID_MSG), (key, code, fault)
    seen['after_lookup_before_finalize'] = (
        seen['wrong_token_after_lookup'][2] < ev['finalize'])

    # the port was on the rescuing VLAN, and is back on the tenant VLAN
    assert seen['pvid_during'] == L.RESCUE_VLAN, seen
    assert lab.pvid('tap0') == L.TENANT_VLAN
    assert lab.port_vlans('tap0') == {
        L.TENANT_VLAN: {'PVID', 'Egress Untagged'}}

    # step 3: ssh rescue@<tenant address> with the rescue password
    deadline = time.monotonic() + SSH_TIMEOUT
    while True:
        last = lab.ssh('rescue', L.MACHINE_TENANT_IP, RESCUE_PASSWORD,
                       'id -un; ip -4 -o addr show')
        if last.returncode == 0:
            break
        if time.monotonic() > deadline:
            pytest.fail('ssh rescue@%s never worked (exit %d): %s\n'
                        'console:\n%s' % (L.MACHINE_TENANT_IP,
                                          last.returncode, last.stderr,
                                          lab.events.tail('console')))
        time.sleep(1)
    ev['ssh rescue@tenant address works'] = time.monotonic()
    assert L.MACHINE_TENANT_IP in last.stdout, last.stdout
    if chained:
        # pxelinux's BOOTIF (the booting NIC) went through iPXE's command
        # line onto the rescue kernel's (grub, for UEFI, has none: the
        # agent then runs DHCP on every NIC with a carrier)
        cmdline = lab.ssh('rescue', L.MACHINE_TENANT_IP, RESCUE_PASSWORD,
                          'cat /proc/cmdline')
        assert cmdline.returncode == 0, cmdline.stderr
        assert 'BOOTIF=01-%s' % L.MACHINE_MAC.replace(':', '-') in \
            cmdline.stdout.split(), cmdline.stdout
    # the instance's disk is visible (storage drivers load in the
    # background, so give them a few seconds)
    deadline = time.monotonic() + 20
    while True:
        parts = lab.ssh('rescue', L.MACHINE_TENANT_IP, RESCUE_PASSWORD,
                        'cat /proc/partitions')
        if re.search(r'\bvda1?\b', parts.stdout) or \
                time.monotonic() > deadline:
            break
        time.sleep(1)
    lab.events.add('lab', 'ssh rescue@%s cat /proc/partitions (exit %d): %s'
                   % (L.MACHINE_TENANT_IP, parts.returncode,
                      parts.stdout.replace('\n', ' | ')))
    if not (re.search(r'\bvda\b', parts.stdout) and
            re.search(r'\bvda1\b', parts.stdout)):
        why = [t for t in lab.events.tail('console', 400).splitlines()
               if 'cannot load' in t or 'not found' in t][:6]
        problems.append('%s: the instance disk is not visible in the rescue '
                        'ramdisk: /proc/partitions = %r; console: %s' % (
                            boot_interface, parts.stdout, why))

    # a wrong password is refused by the rescued machine's SSH server
    bad = lab.ssh('rescue', L.MACHINE_TENANT_IP, WRONG_PASSWORD, 'true')
    # (sshpass exits 5 when asked again; with one prompt ssh gives up: 255)
    assert bad.returncode in (5, 255), (bad.returncode, bad.stderr)
    assert 'Permission denied' in bad.stderr, bad.stderr

    # the staging is gone: no per-node boot files or dnsmasq options, and
    # dnsmasq ignores the MAC on the rescuing VLAN again
    assert not (lab.tftp_root / uuid).exists()
    assert not (lab.http_root / uuid).exists()
    assert not list(lab.optsdir.glob('*%s*' % uuid))
    for f in lab.hostsdir.glob('*%s*' % L.MACHINE_MAC):
        assert f.read_text().strip() == '%s,ignore' % L.MACHINE_MAC, f

    order = ['rescue request accepted', 'power off', 'port moved', 'ramdisk staged', 'power on',
             'DHCP (firmware, rescuing VLAN)'] + [
                 '%s fetch (HTTP)' % w for w in ('rescue_ramdisk',
                                                 'rescue_kernel')
                 if chained] + [
             'kernel loaded (first kernel line)', 'ramdisk /init',
             'first heartbeat', 'finalize', 'rescue (CLI --wait returned)',
             'ssh rescue@tenant address works']
    rows, prev = [], t0
    for name in order:
        rows.append((name, ev[name] - prev, ev[name] - t0))
        prev = ev[name]
    rows.append(('TOTAL (rescue command -> node in rescue)', None,
                 ev['finalize'] - t0))
    timings(
        'rescue with the %s boot interface (node %s); wrong-token '
        'heartbeats: 400 before lookup, 400 after lookup (%s finalize)' % (
            boot_interface, uuid, 'before' if
            seen['after_lookup_before_finalize'] else 'after'), rows)
    return rows


def unrescue_and_check(lab, uuid, boot_interface, timings):
    """Step 4: unrescue; active, and the instance boots from disk again."""
    mark = lab.events.mark()
    t0 = time.monotonic()
    lab.cli('node', 'unrescue', uuid, '--wait', str(UNRESCUE_TIMEOUT),
            timeout=UNRESCUE_TIMEOUT + 30)
    t_cli = time.monotonic()
    t_active, _ = lifeboat_line(lab, uuid, r'unrescuing -> active', mark, 1)
    node = node_show(lab, uuid)
    assert node['provision_state'] == 'active', node
    assert node['power_state'] == 'power on', node
    t_up, _ = lab.events.wait(BANNER, 'console', mark, BOOT_TIMEOUT,
                              what='the instance banner after unrescue')
    lab.events.wait(TENANT_ADDRESS_LINE, 'console', mark, 60,
                    what='the instance tenant lease after unrescue')
    assert lab.pvid('tap0') == L.TENANT_VLAN
    # the rescue ramdisk is not running any more: its sshd is gone
    assert lab.ssh('rescue', L.MACHINE_TENANT_IP, RESCUE_PASSWORD,
                   'true', timeout=30).returncode != 0
    rows = sorted([('node active (lifeboatd)', t_active),
                   ('instance banner on the console', t_up),
                   ('unrescue --wait returned', t_cli)], key=lambda r: r[1])
    prev, out = t0, []
    for name, t in rows:
        out.append((name, t - prev, t - t0))
        prev = t
    timings('unrescue with the %s boot interface' % boot_interface,
                   out)


def rescue_cycle(lab, boot_interface, timings):
    problems = []
    uuid = active_node(lab, boot_interface, timings)
    assert node_show(lab, uuid)['boot_interface'] == boot_interface
    try:
        rescue_and_check(lab, uuid, boot_interface, problems, timings)
    finally:
        # bring the instance back even when a rescue check failed, so the
        # next test starts from an active node
        if node_show(lab, uuid)['provision_state'] == 'rescue':
            unrescue_and_check(lab, uuid, boot_interface, timings)
    assert not problems, '\n'.join(problems)


def test_rescue_pxe(rescue_ready, lab, timings):
    rescue_cycle(lab, 'pxe', timings)


def test_rescue_ipxe(rescue_ready, lab, timings):
    rescue_cycle(lab, 'ipxe', timings)
