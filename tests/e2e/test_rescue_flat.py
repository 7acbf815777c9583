"""End to end: rescue on one flat network with one dnsmasq (issue 12, the
first "done when" point).

The lab (conftest.py ``lab`` with ``LAB_OPTIONS`` below) has no VLANs:
tap0 sits on one bridge, br0, and one dnsmasq configured from
``etc/dnsmasq.conf.example`` (hostsdir/optsdir, a dynamic range, lease
time 2m so that a renewal falls within a minute) is the machine's only
DHCP server, for the instance, the firmware and the rescue ramdisk alike.
No separate tenant DHCP.

``test_rescue_flat_pxe``  (``noop`` network interface, ``pxe``) and
``test_rescue_flat_ipxe`` (``flat`` network interface, ``ipxe``):
``rescue --wait`` returns; ``ssh rescue@<the address dnsmasq leased>``
works; lifeboat's host file for the MAC is a bare ``<mac>`` and the
options are gone; then, once dnsmasq has logged a DHCPACK to the MAC after
the node reached ``rescue`` and at least 60 s have passed, that ACK
carried no boot file and no node tag, and ssh works again.  ``unrescue
--wait`` gives ``active``, and the instance gets its address from the same
dnsmasq.

The ramdisk's agent may restart its DHCP client after finalize (the
image's agent does, 10 s after finalize, flushing the address for a
moment), so ssh is polled with a deadline.  Every wait polls.
"""

import re
import time

import pytest

import lab as L

LAB_OPTIONS = {'name': 'flat', 'network': 'flat'}

NODE_NAME = 'e2e-flat'
RESCUE_PASSWORD = 'Lifeboat-flat-pw1'
BANNER = r'LIFEBOAT-INSTANCE up'
ADDRESS = r'LIFEBOAT-INSTANCE address (\S+)'
DNSMASQ = 'dnsmasq-flat'

BOOT_TIMEOUT = 120
RESCUE_TIMEOUT = 180
UNRESCUE_TIMEOUT = 120
SSH_TIMEOUT = 120
KEEP_FOR = 60             # s in rescue that the address must survive
RENEW_TIMEOUT = 150       # a renewal after rescue (T1 of a 2m lease: 60 s)

# dnsmasq --log-dhcp: "dnsmasq-dhcp[pid]: <xid> <what>"
_XID = re.compile(r'dnsmasq-dhcp\[\d+\]: (\d+) (.*)$')


def node_show(lab, uuid):
    return lab.cli_json('node', 'show', uuid)


def t_of(lab, mark):
    """The time of the last line before ``mark`` (0 for none)."""
    with lab.events.cond:
        return lab.events.lines[mark - 1][0] if mark > 0 else 0.0


def dhcp_lines(lab, after_t=0.0):
    """(t, xid, text) of dnsmasq's DHCP log lines read after ``after_t``."""
    with lab.events.cond:
        lines = list(lab.events.lines)
    out = []
    for t, src, text in lines:
        m = _XID.search(text)
        if src == DNSMASQ and m and t > after_t:
            out.append((t, m.group(1), m.group(2)))
    return out


def acks(lab, after_t=0.0):
    """(t, address, xid) of every DHCPACK to the machine's MAC."""
    rx = re.compile(r'DHCPACK\(br0\) (\S+) %s' % re.escape(L.MACHINE_MAC))
    return [(t, m.group(1), xid) for t, xid, text in dhcp_lines(lab, after_t)
            for m in [rx.match(text)] if m]


def exchange(lab, ack_t, xid):
    """The log lines of the request an ACK answered and of the ACK: same
    xid, from the DHCPREQUEST before it to the next DHCP message."""
    lines = [(t, text) for t, x, text in dhcp_lines(lab) if x == xid]
    i = max(n for n, (t, text) in enumerate(lines)
            if t <= ack_t and text.startswith('DHCPACK'))
    j = i
    while j > 0 and not lines[j][1].startswith('DHCPREQUEST'):
        j -= 1
    k = i + 1
    while k < len(lines) and not re.match(r'DHCP[A-Z]+\(', lines[k][1]):
        k += 1
    return [text for _, text in lines[j:k]]


def wait_ssh(lab, address, what):
    deadline = time.monotonic() + SSH_TIMEOUT
    while True:
        p = lab.ssh('rescue', address, RESCUE_PASSWORD,
                    'id -un; ip -4 -o addr show')
        if p.returncode == 0:
            assert p.stdout.split()[0] == 'rescue', p.stdout
            assert address in p.stdout, p.stdout
            return time.monotonic()
        if time.monotonic() > deadline:
            pytest.fail('%s: ssh rescue@%s never worked (exit %d): %s\n'
                        'console:\n%s\ndnsmasq:\n%s' % (
                            what, address, p.returncode, p.stderr,
                            lab.events.tail('console'),
                            lab.events.tail(DNSMASQ)))
        time.sleep(1)


def instance_address(lab, mark, what):
    """The address the instance printed, checked against dnsmasq's ACK."""
    lab.events.wait(BANNER, 'console', mark, BOOT_TIMEOUT,
                    what='the instance banner ' + what)
    t, line = lab.events.wait(ADDRESS, 'console', mark, 60,
                              what='the instance lease ' + what)
    address = re.search(ADDRESS, line).group(1)
    assert address.startswith(L.RESCUE_NET + '.'), address
    # from this lab's one dnsmasq (whose pump may read its line later)
    lab.events.wait(r'DHCPACK\(br0\) %s %s' % (
        re.escape(address), re.escape(L.MACHINE_MAC)), DNSMASQ, mark, 10,
        what='dnsmasq\'s DHCPACK of the instance address')
    return address


def active_node(lab, boot_interface, network_interface):
    """The machine enrolled (first test) or switched to these interfaces
    in maintenance (later), active with its instance up."""
    nodes = lab.cli_json('node', 'list', '--fields', 'uuid', 'name')
    mine = [n.get('UUID', n.get('uuid')) for n in nodes
            if n.get('Name', n.get('name')) == NODE_NAME]
    if mine:
        uuid = mine[0]
        node = node_show(lab, uuid)
        assert node['provision_state'] == 'active', node
        lab.cli('node', 'maintenance', 'set', uuid, '--reason',
                'e2e: switch interfaces')
        lab.cli('node', 'set', uuid, '--boot-interface', boot_interface,
                '--network-interface', network_interface)
        lab.cli('node', 'maintenance', 'unset', uuid)
        return uuid
    uuid = lab.enroll(NODE_NAME, 'ipmi', boot_interface, 'bios',
                      network_interface=network_interface)
    lab.cli('node', 'boot', 'device', 'set', uuid, 'disk', '--persistent')
    mark = lab.events.mark()
    lab.cli('node', 'power', 'on', uuid)
    instance_address(lab, mark, 'after adopt')
    return uuid


def rescue_on_flat_network(lab, boot_interface, network_interface, timings):
    uuid = active_node(lab, boot_interface, network_interface)
    node = node_show(lab, uuid)
    assert (node['boot_interface'], node['network_interface']) == (
        boot_interface, network_interface), node
    mark = lab.events.mark()
    t0 = time.monotonic()
    p = lab.cli('node', 'rescue', uuid, '--rescue-password', RESCUE_PASSWORD,
                '--wait', str(RESCUE_TIMEOUT), timeout=RESCUE_TIMEOUT + 30,
                check=False)
    t_cli = time.monotonic()
    node = node_show(lab, uuid)
    if p.returncode != 0:
        pytest.fail('rescue failed: %s; state %s, last_error %r\n'
                    'lifeboatd:\n%s\nconsole:\n%s' % (
                        p.stderr.strip(), node['provision_state'],
                        node['last_error'], lab.events.tail('lifeboatd'),
                        lab.events.tail('console')))
    assert node['provision_state'] == 'rescue', node
    try:
        in_rescue(lab, uuid, mark, t0, t_cli, boot_interface,
                  network_interface, timings)
    finally:
        # leave the instance running for the next test, whatever failed
        if node_show(lab, uuid)['provision_state'] == 'rescue':
            unrescue(lab, uuid)


def in_rescue(lab, uuid, mark, t0, t_cli, boot_interface, network_interface,
              timings):
    t_rescue, _ = lab.events.wait(r'node %s: rescuing -> rescue \(finalize'
                                  % uuid, 'lifeboatd', mark, 1)

    # clean-up left dnsmasq answering the MAC, without the node's options
    host = lab.hostsdir / ('ironic-%s.conf' % L.MACHINE_MAC)
    assert host.read_text() == L.MACHINE_MAC + '\n'
    assert not list(lab.optsdir.glob('*%s*' % uuid))
    assert not (lab.tftp_root / uuid).exists()
    assert not (lab.http_root / uuid).exists()

    # the address dnsmasq leased to the machine for the rescue
    before = [a for a in acks(lab, t_of(lab, mark)) if a[0] <= t_cli]
    assert before, lab.events.tail(DNSMASQ)
    address = before[-1][1]
    t_ssh = wait_ssh(lab, address, 'after rescue --wait')

    # a DHCPACK after the node reached rescue, and 60 s in rescue
    deadline = t_rescue + RENEW_TIMEOUT
    while True:
        after = acks(lab, t_rescue)
        now = time.monotonic()
        if after and now >= t_rescue + KEEP_FOR:
            break
        if now > deadline:
            pytest.fail('no DHCPACK to %s within %d s of rescue:\n%s' % (
                L.MACHINE_MAC, RENEW_TIMEOUT, lab.events.tail(DNSMASQ)))
        time.sleep(1)
    for t, a, xid in after:
        lines = exchange(lab, t, xid)
        assert a == address, (a, address, lines)
        assert not [x for x in lines if 'bootfile' in x or
                    'option: 67' in x], lines
        tags = [x for x in lines if x.startswith('tags:')]
        assert tags and all(uuid not in x and 'known' in x
                            for x in tags), lines
    assert not [x for _, _, x in dhcp_lines(lab, t_rescue)
                if 'ignored' in x], lab.events.tail(DNSMASQ)
    t_again = wait_ssh(lab, address, '%.0f s after rescue'
                       % (time.monotonic() - t_rescue))
    assert t_again - t_rescue >= KEEP_FOR

    # unrescue: the instance gets its address from the same dnsmasq
    t1 = time.monotonic()
    instance = unrescue(lab, uuid)
    t_inst = time.monotonic()
    assert host.read_text() == L.MACHINE_MAC + '\n'
    timings('rescue on a flat network (%s, %s; timings under shared load)'
            % (boot_interface, network_interface), [
                ('rescue --wait returned', t_cli - t0, t_cli - t0),
                ('ssh rescue@%s works' % address, t_ssh - t_cli, t_ssh - t0),
                ('DHCPACK after rescue: %d, first at' % len(after),
                 None, after[0][0] - t0),
                ('ssh again (>= %d s in rescue)' % KEEP_FOR,
                 t_again - t_ssh, t_again - t0),
                ('unrescue -> instance address %s' % instance,
                 t_inst - t1, t_inst - t0)])


def unrescue(lab, uuid):
    """unrescue --wait: active, and the instance's address from this
    lab's dnsmasq."""
    mark = lab.events.mark()
    lab.cli('node', 'unrescue', uuid, '--wait', str(UNRESCUE_TIMEOUT),
            timeout=UNRESCUE_TIMEOUT + 30)
    node = node_show(lab, uuid)
    assert node['provision_state'] == 'active', node
    return instance_address(lab, mark, 'after unrescue')


def test_rescue_flat_pxe(rescue_ready, lab, timings):
    rescue_on_flat_network(lab, 'pxe', 'noop', timings)


def test_rescue_flat_ipxe(rescue_ready, lab, timings):
    rescue_on_flat_network(lab, 'ipxe', 'flat', timings)
