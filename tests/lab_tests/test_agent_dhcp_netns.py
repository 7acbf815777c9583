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

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
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


# ------------------------------- after finalize: stay, or move (issue 12)
#
# The agent, FakeIronic and this file's scenario() run in one network
# namespace (the machine's), with a PID namespace of their own: everything
# ends with the scenario.  The machine's v0 is cabled (p0) to bridge brA
# in namespace srv, where dnsmasq A (the provisioning network, like
# lifeboat's: a host entry per MAC in a hosts file, "ignore" written to
# it at finalize) serves 10.77.1.0/24; dnsmasq B (the tenant network, a
# fixed address per MAC as neutron's) serves 10.88.1.0/24 on brB.  Moving
# p0 from brA to brB is the switch moving the port to the tenant VLAN.

MAC = '52:54:00:4c:0b:01'
OLD_IP = '10.77.1.60'
NEW_IP = '10.88.1.50'


def sh(*argv, check=True):
    return subprocess.run([str(a) for a in argv], check=check,
                          capture_output=True, text=True).stdout


def addrs():
    out = sh('ip', '-4', '-o', 'addr', 'show', 'dev', 'v0')
    return tuple(line.split()[3] for line in out.splitlines())


class Sampler:
    """The addresses of v0 every 50 ms: [(monotonic, (cidr, ...))]."""

    def __init__(self):
        self.samples = []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            self.samples.append((time.monotonic(), addrs()))
            time.sleep(0.05)

    def stop(self):
        self.stopped = True
        self.thread.join()
        return self.samples

    def first(self, cidr):
        return next((t for t, a in list(self.samples) if cidr in a), None)


def dnsmasq(name, bridge, net, host):
    hosts = Path('/run/%s.hosts' % name)
    hosts.write_text(host + '\n')
    log = Path('/run/%s.log' % name)
    p = subprocess.Popen(
        ['ip', 'netns', 'exec', 'srv', 'dnsmasq', '--keep-in-foreground',
         '--port=0', '--interface=' + bridge, '--bind-interfaces',
         '--dhcp-range=%s.0,static,1h' % net,
         '--dhcp-option=3,%s.1' % net, '--dhcp-hostsfile=%s' % hosts,
         '--dhcp-leasefile=/run/%s.leases' % name,
         '--pid-file=/run/%s.pid' % name, '--log-dhcp',
         '--log-facility=%s' % log],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    return p, hosts, log


def scenario(name):
    """Runs in the namespaces; prints one JSON line for the test."""
    import requests
    from conftest import wait_for
    from test_fake_agent import FakeIronic, HASH

    sh('mount', '-t', 'tmpfs', 'none', '/run')
    sh('mount', '-t', 'sysfs', 'none', '/sys')
    sh('ip', 'link', 'set', 'lo', 'up')
    sh('ip', 'netns', 'add', 'srv')
    sh('ip', 'link', 'add', 'v0', 'address', MAC, 'type', 'veth', 'peer',
       'name', 'p0')
    sh('ip', 'link', 'set', 'p0', 'netns', 'srv')
    for cmd in ('ip link add brA type bridge', 'ip link add brB type bridge',
                'ip link set brA up', 'ip link set brB up',
                'ip addr add 10.77.1.1/24 dev brA',
                'ip addr add 10.88.1.1/24 dev brB',
                'ip link set p0 master brA', 'ip link set p0 up'):
        sh('ip', 'netns', 'exec', 'srv', *cmd.split())
    dm_a, hosts_a, log_a = dnsmasq('a', 'brA', '10.77.1',
                                   '%s,%s' % (MAC, OLD_IP))
    dm_b, _, log_b = dnsmasq('b', 'brB', '10.88.1', '%s,%s' % (MAC, NEW_IP))
    fake = FakeIronic(max_version='1.65')
    root = Path('/run/root')
    (root / 'etc').mkdir(parents=True)
    (root / 'run' / 'lifeboat').mkdir(parents=True)
    (root / 'etc' / 'passwd').write_text('root:x:0:0:root:/root:/bin/sh\n')
    (root / 'etc' / 'shadow').write_text('root:*:19000:0:99999:7:::\n')
    tools = root / 'run' / 'lifeboat' / 'tools.unpacking'
    if name == 'move':
        # /init still unpacking the tools: SSH waits, the network does not
        tools.write_text('')
    cmdline = Path('/run/cmdline')
    cmdline.write_text(
        'BOOTIF=01-%s ipa-api-url=%s ipa-lookup-interval=0.2 '
        'ipa-listen-host=127.0.0.1 ipa-listen-port=9999 '
        'ipa-enable-auto-tls=0\n' % (MAC.replace(':', '-'), fake.url))
    agent_log = open('/run/agent.log', 'wb')
    agent = subprocess.Popen(
        [os.environ['AGENT'], '--cmdline-file', cmdline, '--root', root,
         '--sshd', '/bin/true', '--dhcp-cmd', 'busybox udhcpc',
         '--dhcp-script', os.environ['SCRIPT']],
        stdin=subprocess.DEVNULL, stdout=agent_log, stderr=subprocess.STDOUT)
    log = Path('/run/agent.log')
    result = {}

    def acks(path, ip):
        text = path.read_text() if path.exists() else ''
        return text.count('DHCPACK(%s) %s ' % (
            'brA' if path == log_a else 'brB', ip))

    def ignore_on_a():
        # what lifeboat does at finalize where a tenant DHCP takes over
        hosts_a.write_text('%s,ignore\n' % MAC)
        os.kill(dm_a.pid, signal.SIGHUP)

    def keeper():
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                argv = Path('/proc/%s/cmdline' % pid).read_bytes()
            except OSError:
                continue
            argv = argv.decode().split('\0')[:-1]
            if argv[:2] == ['busybox', 'udhcpc'] and '-q' not in argv:
                return int(pid), argv
        return None

    try:
        wait_for(fake.heartbeats, 30, what='a heartbeat')
        assert addrs() == (OLD_IP + '/24',), addrs()
        sampler = Sampler()
        before = acks(log_a, OLD_IP)
        params = {'rescue_password': HASH, 'hashed': True}
        if name != 'stay':
            params['lifeboat_network_moves'] = True
        t0 = time.monotonic()
        r = requests.post('http://127.0.0.1:9999/v1/commands/?agent_token='
                          + fake.token, json={
                              'name': 'rescue.finalize_rescue',
                              'params': params}, timeout=10)
        assert r.json()['command_status'] == 'SUCCEEDED', r.text
        if name == 'stay':
            # the lasting client starts at once and renews from A
            wait_for(lambda: acks(log_a, OLD_IP) > before, 10,
                     what='a renewal from dnsmasq A')
            result['renewed_after'] = time.monotonic() - t0
            pid, argv = wait_for(keeper, 5, what='the lasting udhcpc')
            result['keeper'] = argv
            # then A stops answering; udhcpc asked twice to renew gives
            # up on it (deconfig) at once
            ignore_on_a()
            wait_for(lambda: 'read %s' % hosts_a in log_a.read_text()
                     .split('DHCPACK', 2)[-1], 5, what='A to re-read')
            os.kill(pid, signal.SIGUSR1)
            wait_for(lambda: 'udhcpc: sending renew' in log.read_text(), 5,
                     what='the renewal')
            os.kill(pid, signal.SIGUSR1)
            wait_for(lambda: 'deconfig: keeping' in log.read_text(), 10,
                     what='the deconfig')
            # and looks for a server again (every 3 s), which A ignores
            wait_for(lambda: log_a.read_text().count('ignored') >= 2, 15,
                     what='two discoveries after the deconfig')
        else:
            # A answers the first looks, then ignores the node; then
            # the port moves (with a carrier bounce for 'bounce')
            wait_for(lambda: 'the old server still answers'
                     in log.read_text(), 10, what='a look answered by A')
            ignore_on_a()
            n = log_a.read_text().count('ignored')
            wait_for(lambda: log_a.read_text().count('ignored') >= n + 2,
                     10, what='two looks ignored by A')
            mv = ['ip', 'netns', 'exec', 'srv', 'ip', 'link', 'set', 'p0']
            if name == 'bounce':
                sh(*mv, 'down')
                wait_for(lambda: 'v0: link lost' in log.read_text(), 5,
                         what='the agent to see the link go')
                sh(*mv, 'master', 'brB')
                t_move = time.monotonic()
                sh(*mv, 'up')
            else:
                t_move = time.monotonic()
                sh(*mv, 'master', 'brB')
            wait_for(lambda: sampler.first(NEW_IP + '/24'), 30,
                     what="B's address")
            result['moved_after'] = sampler.first(NEW_IP + '/24') - t_move
            if name == 'move':
                result['sshd_before_tools'] = 'SSH server' in \
                    log.read_text()
                tools.unlink()
                wait_for(lambda: "SSH server '/bin/true' started" in
                         log.read_text(), 10, what='SSH after the tools')
            result['old_until'] = max(
                t for t, a in sampler.samples if OLD_IP + '/24' in a) - t_move
            wait_for(lambda: 'keeps the lease of %s' % NEW_IP
                     in log.read_text(), 10, what='the lasting client')
            wait_for(lambda: acks(log_b, NEW_IP) >= 2, 10,
                     what='the lasting client to renew from B')
            result['keeper'] = wait_for(keeper, 5, what='udhcpc')[1]
        samples = sampler.stop()
        # every sample from finalize on: the old address, or the new one
        result['samples'] = sorted({a for t, a in samples})
        result['gaps'] = sum(1 for t, a in samples if not a)
        result['n_samples'] = len(samples)
    except AssertionError as e:
        result['error'] = str(e)
    finally:
        agent.terminate()
        agent.wait(15)
        fake.close()
        for p in (dm_a, dm_b):
            p.terminate()
            p.wait(5)
        result['agent'] = log.read_text()
        result['dnsmasq_a'] = log_a.read_text()
        result['dnsmasq_b'] = log_b.read_text()
    print(json.dumps(result))


def run_scenario(name):
    env = dict(os.environ, AGENT=str(AGENT), SCRIPT=str(SCRIPT))
    p = subprocess.run(['unshare', '--net', '--mount', '--pid', '--fork',
                        '--kill-child', '--mount-proc',
                        '--propagation', 'private', '/usr/bin/python3',
                        __file__, name], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=180,
                       cwd=Path(__file__).parent)
    assert p.returncode == 0 and p.stdout.strip(), p.stdout + p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    if 'error' in out:
        # whole, for the report (the assertion's repr is cut short)
        for key in ('error', 'agent', 'dnsmasq_a', 'dnsmasq_b'):
            print('---- %s\n%s' % (key, out.get(key)))
    assert 'error' not in out, (out['error'], out['agent'], out['dnsmasq_a'],
                                out['dnsmasq_b'])
    return out


def test_after_finalize_the_address_stays_and_renews():
    """No lifeboat_network_moves: the lasting client starts at once,
    asking for the address the NIC has, renews it from dnsmasq, and keeps
    it when dnsmasq stops answering; the address never disappears."""
    out = run_scenario('stay')
    log = out['agent']
    assert out['renewed_after'] < 3, out['renewed_after']
    assert out['keeper'][2:] == ['-i', 'v0', '-f', '-t', '5', '-r', OLD_IP,
                                 '-s', str(SCRIPT)], out['keeper']
    assert 'DHCP client on v0 (pid' in log and \
        'keeps the lease of %s' % OLD_IP in log, log
    assert 'udhcpc(v0): deconfig: keeping %s/24' % OLD_IP in log, log
    assert out['samples'] == [[OLD_IP + '/24']], out['samples']
    assert out['gaps'] == 0 and out['n_samples'] > 30, out
    assert 'moves to another network' not in log, log


@pytest.mark.parametrize('bounce', [False, True],
                         ids=['same-link', 'carrier-bounce'])
def test_after_finalize_the_agent_follows_the_move(bounce):
    """lifeboat_network_moves: the old address stays while the old server
    answers or stays silent, and the new network's lease replaces it
    within about two seconds of the move; a lasting client then keeps
    it."""
    out = run_scenario('bounce' if bounce else 'move')
    log = out['agent']
    print('%s: new address %.2f s after the move, old one held until '
          '%.2f s' % ('bounce' if bounce else 'move', out['moved_after'],
                      out['old_until']))
    assert 'the node moves to another network' in log, log
    assert 'DHCP on v0: the old server still answers (%s from 10.77.1.1)' \
        % OLD_IP in log, log
    assert 'the new network answered' in log and \
        '%s from 10.88.1.1 (was %s from 10.77.1.1)' % (NEW_IP, OLD_IP) \
        in log, log
    if bounce:
        assert 'v0: link lost' in log and \
            'v0: link back; looking for the DHCP server now' in log, log
    assert out['moved_after'] < 2.5, out['moved_after']
    if not bounce:
        # the tools were still unpacking all along: SSH waited for them,
        # the move was followed meanwhile
        assert out['sshd_before_tools'] is False, log
    # the old address until the new one: never none, never both for long
    assert out['gaps'] == 0, out
    assert set(map(tuple, out['samples'])) <= {
        (OLD_IP + '/24',), (NEW_IP + '/24',)}, out['samples']
    assert out['old_until'] <= out['moved_after'] + 0.1, out
    assert out['keeper'][2:] == ['-i', 'v0', '-f', '-t', '5', '-r', NEW_IP,
                                 '-s', str(SCRIPT)], out['keeper']


if __name__ == '__main__':
    scenario(sys.argv[1])
