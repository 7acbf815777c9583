"""ramdisk/udhcpc.script, the ramdisk's udhcpc hook, run for real in a
network namespace of its own (unshare -n, with a private /run) on two veth
pairs: a second NIC's lease must not replace or shadow the default route
the first NIC's lease put in place (the one the agent looked up through).

Run once with the host's sh and iproute2 and once with busybox sh and
busybox ip, which is what the ramdisk has.  Needs root (namespaces); no
traffic leaves the namespace, which ends with the test's process.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'ramdisk' / 'udhcpc.script'
BUSYBOX = shutil.which('busybox')

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='needs root for a network namespace'),
    pytest.mark.skipif(shutil.which('unshare') is None,
                       reason='needs unshare(1) from util-linux'),
]

# One namespace for the whole run.  $RUN runs the script; $HOOK_PATH is the
# PATH the script sees; the routes are printed with the host's ip.
DRIVER = r'''
set -e
mount -t tmpfs none /run
for n in 0 1; do
	ip link add v$n type veth peer name v${n}p
	ip link set v${n}p up
done
hook() { env PATH="$HOOK_PATH" "$@" $RUN "$SCRIPT" $EVENT; }
EVENT=deconfig hook interface=v0
EVENT=deconfig hook interface=v1
EVENT=bound hook interface=v0 ip=10.10.0.5 mask=24 router=10.10.0.1
EVENT=bound hook interface=v1 ip=10.20.0.5 mask=24 \
	staticroutes="10.99.0.0/16 10.20.0.2 0.0.0.0/0 10.20.0.1"
echo "=== ifindex v1"
ip -o link show dev v1 | cut -d: -f1
echo "=== bound"
ip -4 route show
echo "=== get"
ip -4 route get 192.0.2.1
EVENT=renew hook interface=v1 ip=10.20.0.5 mask=24 router=10.20.0.1
EVENT=renew hook interface=v0 ip=10.10.0.5 mask=24 router=10.10.0.1
echo "=== renewed"
ip -4 route show
echo "=== get after renewals"
ip -4 route get 192.0.2.1
echo "=== lease"
cat /run/lifeboat/lease.v1
'''


def run_driver(tmp_path, flavour, hide_defaults=False):
    """hide_defaults: the script's "ip -4 route show" lists no default
    route, as when two NICs are bound at the same moment and neither
    script sees the other's route yet."""
    env = dict(os.environ, SCRIPT=str(SCRIPT))
    if flavour == 'busybox':
        bb = tmp_path / 'bb'
        bb.mkdir()
        for applet in ('ip', 'awk', 'cut', 'sh', 'cat', 'mkdir', 'mv',
                       'rm', 'hostname', 'grep'):
            (bb / applet).symlink_to(BUSYBOX)
        env.update(RUN='%s sh' % BUSYBOX, HOOK_PATH=str(bb))
    else:
        env.update(RUN='/bin/sh', HOOK_PATH='/usr/sbin:/usr/bin:/sbin:/bin')
    if hide_defaults:
        # a shell function: busybox sh runs its own applets before PATH
        hide = tmp_path / 'hide.sh'
        hide.write_text(
            'ip() {\n'
            '  if [ "$*" = "-4 route show" ]; then\n'
            '    command ip -4 route show | grep -v "^default"\n'
            '  else\n'
            '    command ip "$@"\n'
            '  fi\n'
            '}\n'
            'script=$1; shift; . "$script"\n')
        env['RUN'] = '%s %s' % (env['RUN'], hide)
    p = subprocess.run(['unshare', '--net', '--mount',
                        '--propagation', 'private', '/bin/sh', '-c', DRIVER],
                       env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and 'unshare failed' in p.stderr:
        pytest.skip('cannot make a namespace here: %s' % p.stderr.strip())
    assert p.returncode == 0, p.stdout + p.stderr
    sections, name = {}, None
    for line in p.stdout.splitlines():
        m = re.match(r'=== (.*)', line)
        if m:
            name = m.group(1)
            sections[name] = []
        elif name is not None:
            sections[name].append(' '.join(line.split()))
    return sections, p.stderr


def defaults(lines):
    return sorted(l for l in lines if l.startswith('default '))


@pytest.mark.parametrize('hide_defaults', [False, True],
                         ids=['in-turn', 'at-once'])
@pytest.mark.parametrize('flavour', [
    'iproute2',
    pytest.param('busybox', marks=pytest.mark.skipif(
        BUSYBOX is None, reason='busybox is not installed'))])
def test_second_lease_keeps_first_default_route(tmp_path, flavour,
                                                hide_defaults):
    out, err = run_driver(tmp_path, flavour, hide_defaults)
    idx = int(out['ifindex v1'][0])
    metric = 100 + idx
    # the first lease's default route stays first; the second NIC's comes
    # behind it (option 121's default too), its other routes as given
    assert defaults(out['bound']) == [
        'default via 10.10.0.1 dev v0',
        'default via 10.20.0.1 dev v1 metric %d' % metric], (out, err)
    assert '10.99.0.0/16 via 10.20.0.2 dev v1' in out['bound'], out
    assert out['get'][0].startswith('192.0.2.1 via 10.10.0.1 dev v0 '), out
    # renewals keep each NIC's metric, whatever the order
    assert defaults(out['renewed']) == defaults(out['bound']), (out, err)
    assert out['get after renewals'][0].startswith(
        '192.0.2.1 via 10.10.0.1 dev v0 '), out
    assert 'interface=v1' in out['lease'] and 'ip=10.20.0.5' in out['lease']


# ------------------------------------------ the address stays (issue 12)

# udhcpc runs deconfig when it starts, when a lease ran out unanswered and
# after a NAK.  Only the NAK may drop the address; a probe (LIFEBOAT_PROBE)
# answered with the recorded lease changes nothing.
KEEP_DRIVER = r'''
set -e
mount -t tmpfs none /run
ip link add v0 type veth peer name v0p
ip link set v0p up
hook() { env PATH="$HOOK_PATH" "$@" $RUN "$SCRIPT" $EVENT; }
addr() { ip -4 -o addr show dev v0 | awk '{print $4}'; }
EVENT=deconfig hook interface=v0
EVENT=bound hook interface=v0 ip=10.10.0.5 mask=24 router=10.10.0.1 \
	serverid=10.10.0.1
echo "=== bound"
addr
EVENT=deconfig hook interface=v0
echo "=== silence"
addr
EVENT=bound hook interface=v0 LIFEBOAT_PROBE=1 ip=10.10.0.5 mask=24 \
	router=10.10.0.9 serverid=10.10.0.1
echo "=== probe, same lease"
ip -4 route show
EVENT=bound hook interface=v0 LIFEBOAT_PROBE=1 ip=10.30.0.7 mask=24 \
	router=10.30.0.1 serverid=10.30.0.1
echo "=== probe, new server"
addr
ip -4 route show
EVENT=nak hook interface=v0 message=wrong-network
EVENT=deconfig hook interface=v0
echo "=== nak"
addr
ls /run/lifeboat
EVENT=bound hook interface=v0 ip=10.10.0.5 mask=24 router=10.10.0.1 \
	serverid=10.10.0.1
EVENT=nak hook interface=v0
EVENT=leasefail hook interface=v0
EVENT=deconfig hook interface=v0
echo "=== nak of an offer"
addr
'''


def hook_env(tmp_path, flavour):
    env = dict(os.environ, SCRIPT=str(SCRIPT))
    env.pop('LIFEBOAT_RUN', None)
    env.pop('LIFEBOAT_PROBE', None)
    if flavour == 'busybox':
        bb = tmp_path / 'bb'
        bb.mkdir()
        for applet in ('ip', 'awk', 'cut', 'sh', 'cat', 'mkdir', 'mv',
                       'rm', 'hostname', 'grep', 'sed'):
            (bb / applet).symlink_to(BUSYBOX)
        env.update(RUN='%s sh' % BUSYBOX, HOOK_PATH=str(bb))
    else:
        env.update(RUN='/bin/sh', HOOK_PATH='/usr/sbin:/usr/bin:/sbin:/bin')
    return env


def in_netns(driver, env, timeout=60):
    p = subprocess.run(['unshare', '--net', '--mount',
                        '--propagation', 'private', '/bin/sh', '-c', driver],
                       env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0 and 'unshare failed' in p.stderr:
        pytest.skip('cannot make a namespace here: %s' % p.stderr.strip())
    assert p.returncode == 0, p.stdout + p.stderr
    sections, name = {'': []}, ''
    for line in p.stdout.splitlines():
        m = re.match(r'=== (.*)', line)
        if m:
            name = m.group(1)
            sections[name] = []
        elif not line.startswith('udhcpc('):     # the script's own log
            sections[name].append(' '.join(line.split()))
    return sections, p.stdout + p.stderr


@pytest.mark.parametrize('flavour', [
    'iproute2',
    pytest.param('busybox', marks=pytest.mark.skipif(
        BUSYBOX is None, reason='busybox is not installed'))])
def test_silence_keeps_the_address_a_nak_drops_it(tmp_path, flavour):
    out, log = in_netns(KEEP_DRIVER, hook_env(tmp_path, flavour))
    assert out['bound'] == ['10.10.0.5/24'], log
    # nobody answered: the address stays, and the script says so
    assert out['silence'] == ['10.10.0.5/24'], log
    assert 'udhcpc(v0): deconfig: keeping 10.10.0.5/24 (lease from ' \
        '10.10.0.1; no NAK)' in log, log
    # the old server again, same address: routes untouched
    assert defaults(out['probe, same lease']) == [
        'default via 10.10.0.1 dev v0'], log
    assert 'udhcpc(v0): bound 10.10.0.5 from 10.10.0.1 again: same ' \
        'network' in log, log
    # another server: its lease replaces the old one
    assert out['probe, new server'][0] == '10.30.0.7/24', log
    assert defaults(out['probe, new server']) == [
        'default via 10.30.0.1 dev v0'], log
    # a NAK of the lease in use drops it, lease record and all
    assert out['nak'] == [], log
    assert 'dropping the address the server refused' in log, log
    # a NAK of an offer, then nobody: the address stays
    assert out['nak of an offer'] == ['10.10.0.5/24'], log


# The real thing: busybox udhcpc and dnsmasq.  dnsmasq's shortest lease is
# two minutes, so the expiry test takes that long.
REAL_DRIVER = r'''
set -e
mount -t tmpfs none /run
ip netns add srv
ip link add v0 type veth peer name p0
ip link set p0 netns srv
ip netns exec srv sh -c 'ip link set p0 up; ip addr add 10.77.1.1/24 dev p0'
dnsmasq_start() {
	ip netns exec srv dnsmasq --keep-in-foreground --port=0 \
		--interface=p0 --bind-interfaces --dhcp-range=$1 $2 \
		--dhcp-option=3,10.77.1.1 --dhcp-leasefile=/run/dm.leases \
		--log-dhcp --log-facility=/run/dm.log >/dev/null 2>&1 &
	DM=$!
}
addr() { ip -4 -o addr show dev v0 | awk '{print $4}'; }
waitlog() {
	for i in $(seq $2); do
		grep -q "$1" /run/u.log && return 0
		sleep 0.1
	done
	echo "no '$1' in time"; return 1
}
dnsmasq_start 10.77.1.100,10.77.1.150,2m --no-ping
trap 'kill $DM $U 2>/dev/null || true' EXIT
busybox udhcpc -i v0 -f -t 5 -s "$SCRIPT" >/run/u.log 2>&1 &
U=$!
waitlog 'udhcpc(v0): bound' 200
echo "=== before"
addr
kill $DM
wait $DM || true
if [ "$CASE" = nak ]; then
	# the server comes back with other addresses and refuses the old one
	rm -f /run/dm.leases
	dnsmasq_start 10.77.1.200,10.77.1.250,2m "--no-ping --dhcp-authoritative"
	sleep 0.5
	kill -USR1 $U
	end=$(($(date +%s) + 30))
	until addr | grep -q '^10\.77\.1\.2[0-5][0-9]/'; do
		[ $(date +%s) -ge $end ] && break
		addr | tr '\n' ' ' >>/run/samples; echo >>/run/samples
		sleep 0.05
	done
else
	# nobody answers: renewal (1 min), rebinding, expiry (2 min)
	# and 2 s more
	end=$(($(date +%s) + 170))
	lost=
	while [ $(date +%s) -lt $end ]; do
		addr | tr '\n' ' ' >>/run/samples; echo >>/run/samples
		[ -z "$lost" ] && grep -q 'lease lost' /run/u.log &&
			lost=$(date +%s)
		[ -n "$lost" ] && [ $(date +%s) -ge $((lost + 2)) ] && break
		sleep 0.2
	done
fi
echo "=== after"
addr
echo "=== samples"
sort /run/samples | uniq -c
echo "=== udhcpc"
cat /run/u.log
'''


def udhcpc_against_dnsmasq(tmp_path, case, timeout):
    if None in (BUSYBOX, shutil.which('dnsmasq')):
        pytest.skip('needs busybox and dnsmasq')
    env = hook_env(tmp_path, 'iproute2')
    env['CASE'] = case
    out, log = in_netns(REAL_DRIVER, env, timeout)
    samples = {}
    for line in out['samples']:
        count, _, value = line.partition(' ')
        samples[value.strip()] = int(count)
    return out, samples, log


def test_unanswered_renewal_keeps_the_address_past_expiry(tmp_path):
    out, samples, log = udhcpc_against_dnsmasq(tmp_path, 'expiry', 240)
    before = out['before']
    assert len(before) == 1 and before[0].startswith('10.77.1.'), log
    ip = before[0].split('/')[0]
    # udhcpc renewed, rebound and gave the lease up, all unanswered ...
    assert 'lease lost, entering init state' in log, log
    # ... and the address never left
    assert list(samples) == [before[0]], samples
    assert sum(samples.values()) > 300, samples
    assert out['after'] == before, log
    assert 'udhcpc(v0): deconfig: keeping %s/24' % ip in log, log


def test_nak_drops_the_address(tmp_path):
    out, samples, log = udhcpc_against_dnsmasq(tmp_path, 'nak', 90)
    before = out['before']
    assert len(before) == 1 and before[0].startswith('10.77.1.1'), log
    assert 'received DHCP NAK' in log, log
    assert 'udhcpc(v0): deconfig: dropping the address the server ' \
        'refused' in log, log
    after = out['after']
    assert len(after) == 1 and re.match(r'10\.77\.1\.2\d\d/24$', after[0]), \
        log
    # the refused address went before the new one came
    assert '' in samples, samples
