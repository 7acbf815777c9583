"""What the rescued machine's DHCP client gets from a real dnsmasq after
lifeboat's clean-up (issue 12, item 1), per kind of network.

lifeboat's real staging and clean-up code (build/tests/stage_boot runs the
pxe boot interface's prepare_ramdisk and clean_up_ramdisk, the same code
lifeboatd runs) writes dnsmasq's dhcp-hostsdir and dhcp-optsdir files; a
real dnsmasq 2.90 serves them; busybox udhcpc asks, from a veth NIC with
the node's MAC whose peer sits in a second network namespace with
dnsmasq.  Before clean-up the client gets the boot file.  After the
clean-up of a node that stays on this network (noop, flat: a bare
'<mac>') its renewal is acknowledged with the same address and no boot
file; after that of a node a tenant DHCP takes over (switch: '<mac>,
ignore') dnsmasq ignores it.

Needs root (unshare -n -m, with its own /run); no traffic leaves the
namespaces, which end with the test's processes (each stopped by its PID
in the driver's trap).  Every wait polls with a deadline.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGE_BOOT = os.environ.get('STAGE_BOOT',
                            str(REPO / 'build' / 'tests' / 'stage_boot'))
UUID = '7d1c0f3e-5b2a-4c8e-9f10-2a3b4c5d6e7f'
MAC = '52:54:00:7a:11:01'

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='needs root for network namespaces'),
    pytest.mark.skipif(not os.path.exists(STAGE_BOOT),
                       reason='stage_boot not built: ninja -C build'),
    pytest.mark.skipif(None in (shutil.which('dnsmasq'),
                                shutil.which('busybox'),
                                shutil.which('unshare')),
                       reason='needs dnsmasq, busybox and unshare'),
]

# Records every udhcpc event; configures the address so that renewals
# go out by unicast, as on a real machine.
RECORD = r'''#!/bin/sh
echo "$1 ip=$ip bootfile=$bootfile tftp=$tftp" >> "$W/events"
case "$1" in
bound)	ip addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
'''

DRIVER = r'''
set -e
mount -t tmpfs none /run
ip link set lo up
ip netns add srv
ip link add v0 address "$MAC" type veth peer name p0
ip link set p0 netns srv
ip netns exec srv sh -c 'ip link set lo up; ip link set p0 up
	ip addr add 10.77.3.1/24 dev p0'
ip link set v0 up
"$STAGE" prepare --iface pxe --uuid "$UUID" --mac "$MAC" --bios \
	--tftp-root "$W/tftp" --kernel "$W/kernel" --ramdisk "$W/ramdisk" \
	--tftp-server 10.77.3.1 --hostsdir "$W/hosts" --optsdir "$W/opts"
# root: pytest's temporary directories are not readable by nobody
ip netns exec srv dnsmasq --keep-in-foreground --port=0 --interface=p0 \
	--user=root \
	--bind-interfaces --dhcp-range=10.77.3.100,10.77.3.150,2m \
	--dhcp-hostsdir="$W/hosts" --dhcp-optsdir="$W/opts" --log-dhcp \
	--dhcp-leasefile="$W/dm.leases" --log-facility="$W/dm.log" \
	--pid-file=/run/dm.pid >/dev/null 2>&1 &
DM=$!
busybox udhcpc -f -i v0 -s "$W/record" -O bootfile -O tftp -t 20 -T 1 \
	-A 1 >"$W/udhcpc.log" 2>&1 &
UD=$!
trap 'kill $UD $DM 2>/dev/null || true' EXIT
# poll FILE PATTERN: until the pattern is in the file (30 s at most)
poll() {
	for i in $(seq 300); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $1"
	return 1
}
poll "$W/events" '^bound '
ACKS=$(grep -c "DHCPACK(p0) .* $MAC" "$W/dm.log")
"$STAGE" clean --iface pxe --uuid "$UUID" --mac "$MAC" --bios \
	--tftp-root "$W/tftp" --hostsdir "$W/hosts" --optsdir "$W/opts" \
	$CLEAN_ARGS
echo "=== host file"
cat "$W/hosts/ironic-$MAC.conf"
# dnsmasq rereads the rewritten host file (inotify) before the renewal
for i in $(seq 300); do
	[ "$(grep -c "ironic-$MAC.conf" "$W/dm.log")" -ge 2 ] && break
	sleep 0.1
done
kill -USR1 $UD
if [ "$EXPECT" = renew ]; then
	poll "$W/events" '^renew '
else
	poll "$W/dm.log" "$MAC ignored"
fi
echo "=== acks before clean-up"
echo "$ACKS"
'''


def run(tmp_path, clean_args, expect):
    w = tmp_path
    for d in ('tftp', 'hosts', 'opts'):
        (w / d).mkdir()
    (w / 'kernel').write_bytes(b'K' * 100)
    (w / 'ramdisk').write_bytes(b'R' * 100)
    (w / 'record').write_text(RECORD)
    (w / 'record').chmod(0o755)
    env = dict(os.environ, W=str(w), MAC=MAC, UUID=UUID, STAGE=STAGE_BOOT,
               CLEAN_ARGS=clean_args, EXPECT=expect)
    p = subprocess.run(['unshare', '-n', '-m', 'sh', '-c', DRIVER],
                       capture_output=True, text=True, timeout=120, env=env)
    log = (w / 'dm.log').read_text() if (w / 'dm.log').exists() else ''
    events = ((w / 'events').read_text().splitlines()
              if (w / 'events').exists() else [])
    assert p.returncode == 0, (p.stdout, p.stderr, log, events)
    out = {}
    for part in p.stdout.split('=== ')[1:]:
        title, _, body = part.partition('\n')
        out[title] = body
    return out, events, log


def acks(log):
    """(address, tags) of each DHCPACK dnsmasq sent to MAC, in order."""
    res, tags = [], ''
    for line in log.splitlines():
        m = re.search(r'tags: (.*)$', line)
        if m:
            tags = m.group(1)
        m = re.search(r'DHCPACK\(p0\) (\S+) ' + MAC, line)
        if m:
            res.append((m.group(1), tags))
    return res


def bound(events):
    """The first lease's event (udhcpc starts with a deconfig)."""
    got = [e for e in events if not e.startswith('deconfig ')]
    assert got and got[0].startswith('bound '), events
    return got[0], got[0].split()[1]


def test_flat_clean_up_keeps_the_lease_without_boot_file(tmp_path):
    out, events, log = run(tmp_path, '', 'renew')
    assert out['host file'] == MAC + '\n'
    first, ip = bound(events)
    assert re.fullmatch(r'ip=10\.77\.3\.1\d\d', ip), events
    # Staged: the PXE boot file and the TFTP server.
    assert first == 'bound %s bootfile=pxelinux.0 tftp=10.77.3.1' % ip
    renew = [e for e in events if e.startswith('renew ')]
    assert renew == ['renew %s bootfile= tftp=' % ip], events
    # never lost the address after the first lease
    assert 'deconfig' not in ' '.join(events[events.index(first):]), events
    # dnsmasq's view: the node's tag before clean-up, only "known" after.
    got = acks(log)
    n = int(out['acks before clean-up'])
    assert n >= 1 and len(got) > n, got
    assert all(UUID in tags for _, tags in got[:n]), got
    after = got[n:]
    assert [a for a, _ in after] == [ip[3:]] * len(after), got
    assert all(UUID not in tags and 'known' in tags for _, tags in after), got


def test_tenant_dhcp_clean_up_ignores_the_mac(tmp_path):
    out, events, log = run(tmp_path, '--tenant-dhcp', 'ignored')
    assert out['host file'] == MAC + ',ignore\n'
    first, ip = bound(events)
    assert first == 'bound %s bootfile=pxelinux.0 tftp=10.77.3.1' % ip
    assert not [e for e in events if e.startswith('renew ')], events
    n = int(out['acks before clean-up'])
    assert len(acks(log)) == n, log
