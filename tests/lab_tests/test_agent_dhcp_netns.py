"""lifeboat-agent's DHCP round with the real pieces: busybox udhcpc, the
ramdisk's udhcpc.script, the kernel's carrier in sysfs and dnsmasq.

In a network namespace of its own (unshare -n -m, with its own sysfs and
/run) the agent sees three veth NICs whose peers sit in a second namespace:
v0's peer is down (no link), v1's peer has dnsmasq behind it, v2's peer is
up with nobody answering DHCP.  The agent must leave v0 alone, look up as
soon as v1 has its lease while v2's udhcpc is still trying, and reap v2's
client when it gives up.  Nothing listens at the API URL (srv's end of
v1): the lookup attempt in the agent's log is what is checked.  Needs root; no traffic
leaves the namespaces, which end with the test's processes (each stopped
by its PID).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get('LB_BUILD_DIR', REPO / 'build'))
AGENT = BUILD / 'ramdisk' / 'lifeboat-agent'
SCRIPT = REPO / 'ramdisk' / 'udhcpc.script'

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='needs root for network namespaces'),
    pytest.mark.skipif(not AGENT.exists(),
                       reason='build/ramdisk/lifeboat-agent is not built'),
    pytest.mark.skipif(None in (shutil.which('dnsmasq'),
                                shutil.which('busybox'),
                                shutil.which('unshare')),
                       reason='needs dnsmasq, busybox and unshare'),
]

DRIVER = r'''
set -e
mount -t tmpfs none /run
mount -t sysfs none /sys
ip link set lo up
ip netns add srv
for n in 0 1 2; do
	ip link add v$n type veth peer name p$n
	ip link set p$n netns srv
done
ip netns exec srv sh -c 'ip link set p1 up; ip link set p2 up
	ip addr add 10.77.1.1/24 dev p1; ip addr add 10.77.2.1/24 dev p2'
ip netns exec srv dnsmasq --keep-in-foreground --port=0 --interface=p1 \
	--bind-interfaces --dhcp-range=10.77.1.100,10.77.1.150,1h \
	--dhcp-option=3,10.77.1.1 --pid-file=/run/dm.pid \
	--dhcp-leasefile=/run/dm.leases --log-facility=/run/dm.log \
	>/dev/null 2>&1 &
DM=$!
trap 'kill $DM $AG 2>/dev/null || true' EXIT
# srv answers on 10.77.1.1 with a reset: no lookup waits for a timeout
echo "ipa-api-url=http://10.77.1.1:9 ipa-lookup-interval=1" >/run/cmdline
mkdir -p /run/root/etc
echo "=== macs"
cat /sys/class/net/v0/address /sys/class/net/v1/address \
	/sys/class/net/v2/address
"$AGENT" --cmdline-file /run/cmdline --root /run/root --carrier-wait 3 \
	--dhcp-cmd "busybox udhcpc" --dhcp-script "$SCRIPT" \
	>/run/agent.log 2>&1 &
AG=$!
# udhcpc -t 5 -n gives up after about 15 s
for i in $(seq 600); do
	grep -q 'DHCP on v2: no lease' /run/agent.log && break
	sleep 0.1
done
kill $AG
wait $AG || true
echo "=== agent"
cat /run/agent.log
echo "=== routes"
ip -4 route show
echo "=== udhcpc left"
pgrep -f 'udhcpc -i v[0-9] ' || true
'''


def test_first_lease_on_real_links(tmp_path):
    env = dict(os.environ, AGENT=str(AGENT), SCRIPT=str(SCRIPT))
    p = subprocess.run(['unshare', '--net', '--mount',
                        '--propagation', 'private', '/bin/sh', '-c', DRIVER],
                       env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    out, name = {}, None
    for line in p.stdout.splitlines():
        m = re.match(r'=== (.*)', line)
        if m:
            name = m.group(1)
            out[name] = []
        else:
            out[name].append(line)
    log = '\n'.join(out['agent'])
    lines = out['agent']

    def at(text):
        hits = [i for i, l in enumerate(lines) if text in l]
        assert hits, (text, log)
        return hits[0]

    assert 'DHCP on 3 NICs, each once it shows a link' in log, log
    assert 'DHCP on v1 (link up)' in log and 'DHCP on v2 (link up)' in log
    assert 'DHCP on v0 (' not in log, log
    assert 'v0: no link within 3 s; no DHCP on it' in log, log
    assert 'udhcpc(v1): bound 10.77.1.' in log, log
    # lookup with the first lease, every MAC, before v2's client gave up
    wins = at('DHCP: v1 wins (the first lease), lookup starts')
    looking = at('looking up the node at http://10.77.1.1:9 with %s'
                 % ','.join(out['macs']))
    gave_up = at('DHCP on v2: no lease (exit status 1)')
    assert wins < looking < gave_up, log
    assert [l for l in out['routes'] if l.startswith('default')] == [
        'default via 10.77.1.1 dev v1 '], out['routes']
    assert out['udhcpc left'] == [], out
