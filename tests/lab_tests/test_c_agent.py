"""lifeboat-agent (ramdisk/, the C rescue agent) against a real lifeboatd.

The agent runs on the host with --no-dhcp, a fake /proc/cmdline
(--cmdline-file), --root in a temporary directory and --sshd pointing at a
script that records how it was started.  lifeboatd gets a temporary
configuration and a fake-hardware node (boot interface fake, rescue
interface agent, file:// rescue images under [conductor]
file_url_allowed_paths); the rescue is driven with the real
``openstack baremetal node rescue --wait``.  lifeboatd advertises 1.78, so
the agent serves HTTPS with its auto-TLS certificate and lifeboatd trusts
exactly that certificate.

One more test runs the agent where test_fake_agent.py runs the Python
simulation (against its FakeIronic) and checks the same wire behaviour.

Loopback only; every process is stopped by its PID (the ``spawn``
fixture); every wait polls with a deadline.
"""

import json
import os
import re
import socket
import subprocess
import time
import uuid
import warnings
from pathlib import Path

import pytest
import requests

from conftest import free_ports, http_json, wait_for

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get('LB_BUILD_DIR', REPO / 'build'))
AGENT = BUILD / 'ramdisk' / 'lifeboat-agent'
LIFEBOATD = BUILD / 'conductor' / 'lifeboatd'
OPENSTACK = '/usr/bin/openstack'
VERSION = {'X-OpenStack-Ironic-API-Version': '1.78'}
TOKEN_INVALID = {'faultcode': 'Client',
                 'faultstring': '401 Unauthorized: Token invalid.'}
PASSWORD = 'Resc-ue PW:1'

pytestmark = pytest.mark.skipif(
    not (AGENT.exists() and LIFEBOATD.exists()),
    reason='build/ramdisk/lifeboat-agent or build/conductor/lifeboatd '
           'is not built')


def crypt(password, salt):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import crypt as _crypt
    return _crypt.crypt(password, salt)


def session():
    s = requests.Session()
    s.trust_env = False
    return s


# ---------------------------------------------------------------- lifeboatd

class Lifeboatd:
    def __init__(self, spawn, workdir, heartbeat_timeout=300):
        self.dir = Path(workdir)
        self.state = self.dir / 'state'
        images = self.dir / 'images'
        images.mkdir(parents=True)
        self.kernel = images / 'rescue.kernel'
        self.ramdisk = images / 'rescue.initramfs'
        self.kernel.write_bytes(b'kernel ' * 100)
        self.ramdisk.write_bytes(b'ramdisk ' * 100)
        self.port = free_ports(1)
        self.url = 'http://127.0.0.1:%d' % self.port
        conf = self.dir / 'lifeboat.conf'
        conf.write_text('\n'.join([
            '[DEFAULT]', 'state_path = %s' % self.state,
            'log_level = debug', 'host = test-conductor',
            'auth_strategy = noauth',
            '[api]', 'host_ip = 127.0.0.1', 'port = %d' % self.port,
            'ramdisk_heartbeat_timeout = %d' % heartbeat_timeout,
            '[conductor]', 'sync_power_state_interval = 0',
            'rescue_callback_timeout = 1800',
            'file_url_allowed_paths = %s' % images, '']))
        self.proc = spawn([LIFEBOATD, '--config-file', conf], 'lifeboatd')
        wait_for(self._ready, 20, what='lifeboatd on port %d' % self.port)

    def _ready(self):
        if not self.proc.running():
            raise AssertionError('lifeboatd exited:\n' + self.proc.log())
        return http_json('GET', self.url + '/', timeout=2)[0] == 200

    def api(self, method, path, body=None):
        status, _, out = http_json(method, self.url + path, body, VERSION)
        return status, out

    def node(self, ident):
        status, out = self.api('GET', '/v1/nodes/%s' % ident)
        assert status == 200, out
        return out

    def wait_state(self, ident, states, timeout=60):
        return wait_for(lambda: (lambda n: n if n['provision_state'] in states
                                 else None)(self.node(ident)), timeout,
                        what='%s to reach %s' % (ident, states))

    def active_node(self, mac):
        name = 'c-agent-%s' % uuid.uuid4().hex[:8]
        status, node = self.api('POST', '/v1/nodes', {
            'name': name, 'driver': 'fake-hardware',
            'boot_interface': 'fake', 'rescue_interface': 'agent',
            'power_interface': 'fake', 'management_interface': 'fake',
            'driver_info': {'rescue_kernel': 'file://%s' % self.kernel,
                            'rescue_ramdisk': 'file://%s' % self.ramdisk}})
        assert status == 201, node
        status, out = self.api('POST', '/v1/ports', {
            'node_uuid': node['uuid'], 'address': mac})
        assert status == 201, out
        for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
            status, out = self.api('PUT', '/v1/nodes/%s/states/provision'
                                   % node['uuid'], {'target': verb})
            assert status == 202, (verb, out)
            self.wait_state(node['uuid'], {final}, 30)
        return node

    def cli(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env.update(OS_AUTH_TYPE='none', OS_ENDPOINT=self.url,
                   PYTHONWARNINGS='ignore')
        return subprocess.Popen(
            [OPENSTACK, 'baremetal'] + [str(a) for a in args], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)


# -------------------------------------------------------------- the agent

class CAgent:
    """One lifeboat-agent with its fake cmdline, --root and sshd script."""

    def __init__(self, spawn, workdir, api_url, mac, *extra_cmdline,
                 args=('--no-dhcp',), tools_pending=False):
        """mac: the BOOTIF address, or None for a cmdline without one.
        tools_pending: /init is still unpacking the tools (the file it
        removes when they are in exists under --root)."""
        self.dir = Path(workdir)
        self.root = self.dir / 'root'
        self.root.mkdir(parents=True)
        (self.root / 'run' / 'lifeboat').mkdir(parents=True)
        self.tools_pending = self.root / 'run/lifeboat/tools.unpacking'
        if tools_pending:
            self.tools_pending.touch()
        (self.root / 'etc').mkdir()
        (self.root / 'etc' / 'passwd').write_text(
            'root:x:0:0:root:/root:/bin/sh\n')
        (self.root / 'etc' / 'shadow').write_text('root:*:19000:0:99999:7:::\n')
        self.sshd_log = self.dir / 'sshd.ran'
        self.sshd = self.dir / 'sshd.sh'
        self.sshd.write_text('#!/bin/sh\necho "$*" >> %s\nexit 0\n'
                             % self.sshd_log)
        self.sshd.chmod(0o755)
        self.port = free_ports(1)
        cmdline = ['BOOT_IMAGE=/vmlinuz', 'nofb', 'vga=normal', 'ipa-debug=1',
                   'ipa-api-url=%s' % api_url,
                   'ipa-global-request-id=req-%s' % uuid.uuid4(),
                   'ipa-listen-host=127.0.0.1',
                   'ipa-listen-port=%d' % self.port,
                   'ipa-advertise-host=127.0.0.1',
                   'ipa-lookup-interval=0.2'] + list(extra_cmdline)
        if mac is not None:
            cmdline.insert(5, 'BOOTIF=01-%s' % mac.replace(':', '-'))
        self.cmdline = self.dir / 'cmdline'
        self.cmdline.write_text(' '.join(cmdline) + '\n')
        self.proc = spawn([AGENT, '--cmdline-file', self.cmdline,
                           '--root', self.root, '--sshd', self.sshd]
                          + list(args), 'lifeboat-agent')

    def log(self):
        return self.proc.log()

    def heartbeat_lines(self):
        return re.findall(r'heartbeat \d+ (?:accepted|failed)', self.log())

    def wait_exit(self, timeout=30):
        wait_for(lambda: not self.proc.running(), timeout,
                 what='lifeboat-agent to exit')
        return self.proc.popen.returncode


def rescue_line(shadow):
    lines = [l for l in shadow.splitlines() if l.startswith('rescue:')]
    assert len(lines) == 1, shadow
    return lines[0].split(':')


# ------------------------------------------------------------------ tests

def test_rescue_with_lifeboatd(spawn, tmp_path):
    d = Lifeboatd(spawn, tmp_path / 'lifeboatd')
    mac = '52:54:00:c0:%02x:%02x' % tuple(os.urandom(2))
    node = d.active_node(mac)
    cli = d.cli('node', 'rescue', node['uuid'], '--rescue-password',
                PASSWORD, '--wait', '120')
    try:
        d.wait_state(node['uuid'], {'rescue wait'}, 60)
        agent = CAgent(spawn, tmp_path / 'agent', d.url, mac)
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 0, (out, err, agent.log())
    n = d.node(node['uuid'])
    assert n['provision_state'] == 'rescue', n
    assert n['target_provision_state'] is None and n['last_error'] is None
    dii = n['driver_internal_info']
    assert dii['agent_url'] == 'https://127.0.0.1:%d' % agent.port
    assert dii['agent_version'] == '11.2.0'

    # the rescue user: $5$ hash from lifeboatd that verifies against PW
    root = agent.root
    shadow = (root / 'etc' / 'shadow').read_text()
    assert shadow.startswith('root:*:19000:0:99999:7:::\n')
    fields = rescue_line(shadow)
    hashed = fields[1]
    assert re.fullmatch(r'\$5\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{43}', hashed)
    assert crypt(PASSWORD, hashed) == hashed
    assert crypt(PASSWORD + 'x', hashed) != hashed
    assert oct((root / 'etc' / 'shadow').stat().st_mode & 0o777) == '0o600'
    passwd = (root / 'etc' / 'passwd').read_text().splitlines()
    assert passwd[0] == 'root:x:0:0:root:/root:/bin/sh'
    assert re.fullmatch(r'rescue:x:(\d+):(\d+):rescue:/home/rescue:/bin/sh',
                        passwd[1]), passwd
    assert (root / 'etc' / 'ipa-rescue-config' /
            'ipa-rescue-password').read_text() == hashed
    assert (root / 'etc' / '.rescued').exists()
    assert (root / 'home' / 'rescue').is_dir()

    # the SSH server was started, after the reply: dropbear's arguments
    wait_for(agent.sshd_log.exists, 10, what='the sshd script')
    assert agent.sshd_log.read_text() == '-R -E -p 22\n'

    # it stopped heartbeating and serving, and exited
    assert agent.wait_exit(15) == 0
    log = agent.log()
    beats = agent.heartbeat_lines()
    assert beats and all('accepted' in b for b in beats), log
    after = log.split('rescue finalized', 1)[1]
    assert not re.search(r'heartbeat \d+', after), log
    last = dii.get('agent_last_heartbeat')
    time.sleep(1.5)
    assert d.node(node['uuid'])['driver_internal_info'].get(
        'agent_last_heartbeat') == last
    with pytest.raises(requests.ConnectionError):
        session().get(dii['agent_url'] + '/', verify=False, timeout=3)
    # secrets never reach the agent's log
    assert PASSWORD not in log and hashed not in log
    assert 'agent_token=' not in log


def test_first_heartbeat_marked_and_ssh_waits_for_the_tools(spawn,
                                                            tmp_path):
    """The agent tells /init its first heartbeat is in (the tools are
    unpacked then), and after finalize starts SSH only once /init says the
    tools are in: the rescue user never logs into a ramdisk without sudo,
    mount or the disks' drivers."""
    d = Lifeboatd(spawn, tmp_path / 'lifeboatd')
    mac = '52:54:00:c4:%02x:%02x' % tuple(os.urandom(2))
    node = d.active_node(mac)
    cli = d.cli('node', 'rescue', node['uuid'], '--rescue-password',
                PASSWORD, '--wait', '120')
    try:
        d.wait_state(node['uuid'], {'rescue wait'}, 60)
        agent = CAgent(spawn, tmp_path / 'agent', d.url, mac,
                       tools_pending=True)
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 0, (out, err, agent.log())
    marker = agent.root / 'run' / 'lifeboat' / 'heartbeat'
    assert marker.exists(), agent.log()
    assert (agent.root / 'etc' / '.rescued').exists()
    wait_for(lambda: 'waiting for the repair tools to be unpacked'
             in agent.log(), 10, what='the agent to wait for the tools')
    assert not agent.sshd_log.exists(), agent.log()
    assert agent.proc.running()
    agent.tools_pending.unlink()
    wait_for(agent.sshd_log.exists, 10, what='the sshd script')
    assert agent.wait_exit(15) == 0
    log = agent.log()
    assert log.index('waiting for the repair tools') < \
        log.index("SSH server '%s' started" % agent.sshd), log
    assert 'still not unpacked' not in log


def held_rescue(spawn, tmp_path, mac_byte):
    """A lifeboatd with a node in rescue wait, held there by maintenance
    (heartbeats are only recorded), and the C agent heartbeating for it:
    (lifeboatd, node, agent, the agent_url lifeboatd recorded)."""
    d = Lifeboatd(spawn, tmp_path / 'lifeboatd', heartbeat_timeout=2)
    mac = '52:54:00:%02x:%02x:%02x' % ((mac_byte,) + tuple(os.urandom(2)))
    node = d.active_node(mac)
    status, out = d.api('PUT', '/v1/nodes/%s/states/provision' % node['uuid'],
                        {'target': 'rescue', 'rescue_password': PASSWORD})
    assert status == 202, out
    d.wait_state(node['uuid'], {'rescue wait'}, 60)
    status, out = d.api('PUT', '/v1/nodes/%s/maintenance' % node['uuid'],
                        {'reason': 'hold the rescue'})
    assert status == 202, out
    agent = CAgent(spawn, tmp_path / 'agent', d.url, mac)
    url = wait_for(lambda: d.node(node['uuid'])['driver_internal_info'].get(
        'agent_url'), 30, what='a recorded heartbeat')
    return d, node, agent, url


def test_wrong_token_gets_401_from_c_agent(spawn, tmp_path):
    """The failure case with lifeboatd: the node is in maintenance, so the
    heartbeats are only recorded and the agent keeps serving; commands with
    a missing or wrong token get IPA's 401; out of maintenance, the next
    heartbeat finishes the rescue."""
    d, node, agent, url = held_rescue(spawn, tmp_path, 0xc1)
    assert url == 'https://127.0.0.1:%d' % agent.port
    ca = d.state / 'certificates' / ('%s.crt' % node['uuid'])
    wait_for(ca.exists, 10, what='the pinned agent certificate')
    s = session()
    body = {'name': 'rescue.finalize_rescue',
            'params': {'rescue_password': '$5$x$y', 'hashed': True}}
    for query in ('?wait=false', '?wait=false&agent_token=',
                  '?wait=false&agent_token=' + 'x' * 43):
        r = s.post(url + '/v1/commands/' + query, json=body, verify=str(ca),
                   timeout=10)
        assert (r.status_code, r.json()) == (401, TOKEN_INVALID), query
        assert r.headers['Content-Type'] == 'application/json'
    r = s.get(url + '/v1/commands/?agent_token=wrong', verify=str(ca),
              timeout=10)
    assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
    assert not (agent.root / 'etc' / '.rescued').exists()
    assert 'rescue:' not in (agent.root / 'etc' / 'shadow').read_text()
    assert agent.proc.running()
    assert d.node(node['uuid'])['provision_state'] == 'rescue wait'

    status, out = d.api('DELETE', '/v1/nodes/%s/maintenance' % node['uuid'])
    assert status == 202, out
    d.wait_state(node['uuid'], {'rescue', 'rescue failed'}, 30)
    n = d.node(node['uuid'])
    assert n['provision_state'] == 'rescue', n
    hashed = rescue_line((agent.root / 'etc' / 'shadow').read_text())[1]
    assert crypt(PASSWORD, hashed) == hashed
    assert agent.wait_exit(15) == 0


def idle_sockets(source, port, count):
    """'count' TCP connections from 'source' (a loopback address) to the
    agent that never send a byte."""
    out = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.connect(('127.0.0.1', port))
        s.setblocking(False)
        out.append(s)
    return out


def closed_by_peer(s):
    """True once the other end closed (or reset) the connection."""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_restarted_agent_refuses_tokenless_commands(spawn, tmp_path):
    """An agent whose lookup says "******" (it restarted: the token was
    issued to its earlier life) has no token while tokens are required:
    it refuses every command, the tokenless finalize_rescue included
    (IPA would run that one).  It also drops a connection that sends no
    request head within a few seconds."""
    from test_fake_agent import FakeIronic, HASH
    fake = FakeIronic(max_version='1.78', token='x' * 43)
    try:
        agent = CAgent(spawn, tmp_path / 'agent', fake.url,
                       '52:54:00:aa:bb:02', 'ipa-enable-auto-tls=0')
        wait_for(fake.heartbeats, 20, what='a heartbeat')
        assert 'we do not have a token on file' in agent.log()
        url = 'http://127.0.0.1:%d' % agent.port
        probe = idle_sockets('127.0.0.1', agent.port, 1)[0]
        opened = time.monotonic()
        s = session()
        fin = {'name': 'rescue.finalize_rescue',
               'params': {'rescue_password': HASH, 'hashed': True}}
        for query in ('', '?wait=false', '?wait=false&agent_token=',
                      '?agent_token', '?wait=false&agent_token=' + 'x' * 43):
            for prefix in ('/v1/commands/', '/commands/'):
                r = s.post(url + prefix + query, json=fin, timeout=10)
                assert (r.status_code, r.json()) == (401, TOKEN_INVALID), \
                    (prefix, query)
        etc = agent.root / 'etc'
        assert not (etc / '.rescued').exists()
        assert not (etc / 'ipa-rescue-config').exists()
        assert 'rescue:' not in (etc / 'shadow').read_text()
        assert agent.proc.running()
        # The idle connection goes after the head timeout (5 s), not
        # after the whole-request one (30 s).
        wait_for(lambda: closed_by_peer(probe), 12, interval=0.1,
                 what='the agent to drop an idle connection')
        assert 4 <= time.monotonic() - opened < 12
        probe.close()
    finally:
        fake.close()


def test_idle_sockets_do_not_block_finalize(spawn, tmp_path):
    """32 idle connections from one address (as many as the agent serves)
    take at most a few slots: the conductor's finalize_rescue, from another
    address, still gets through."""
    d, node, agent, _ = held_rescue(spawn, tmp_path, 0xc2)
    socks = idle_sockets('127.0.0.9', agent.port, 32)
    try:
        # All but the per-peer few are closed at once (asserted after the
        # rescue, which is what matters).
        dropped = 0
        deadline = time.monotonic() + 3
        while dropped < 28 and time.monotonic() < deadline:
            dropped = sum(map(closed_by_peer, socks))
            time.sleep(0.05)
        status, out = d.api('DELETE', '/v1/nodes/%s/maintenance'
                            % node['uuid'])
        assert status == 202, out
        n = d.wait_state(node['uuid'], {'rescue', 'rescue failed'}, 30)
        assert n['provision_state'] == 'rescue', n
        assert n['last_error'] is None, n
        hashed = rescue_line((agent.root / 'etc' / 'shadow').read_text())[1]
        assert crypt(PASSWORD, hashed) == hashed
        assert dropped == 28, dropped
        assert agent.wait_exit(15) == 0
    finally:
        for s in socks:
            s.close()


def test_wire_like_fake_agent(spawn, tmp_path):
    """test_fake_agent.py's command API checks, with the C agent in place
    of the Python simulation, plus the exact heartbeat body."""
    from test_fake_agent import FakeIronic, HASH
    fake = FakeIronic(max_version='1.78')
    try:
        agent = CAgent(spawn, tmp_path / 'agent', fake.url,
                       '52:54:00:aa:bb:01', 'ipa-enable-auto-tls=0')
        hb = wait_for(fake.heartbeats, 20, what='a heartbeat')[0]
        tok = fake.token
        url = 'http://127.0.0.1:%d' % agent.port
        root, lookup = fake.roots()[0], fake.lookups()[0]
        assert lookup['path'].startswith(
            '/v1/lookup?addresses=52%3A54%3A00%3Aaa%3Abb%3A01')
        headers = dict(lookup['headers'])
        assert headers['X-OpenStack-Ironic-API-Version'] == '1.62'
        assert headers['X-OpenStack-Request-ID'].startswith('req-')
        assert 'X-OpenStack-Ironic-API-Version' not in dict(root['headers'])
        assert dict(hb['headers'])['X-OpenStack-Ironic-API-Version'] == \
            '1.68'
        assert hb['body'] == (
            '{"callback_url": "%s", "agent_token": "%s", '
            '"agent_version": "11.2.0"}' % (url, tok)).encode()

        s = session()
        r = s.get(url + '/')
        assert r.json()['default_version']['links'][0] == {
            'href': url + '/v1', 'rel': 'self'}
        r = s.get(url + '/v1/status')
        assert r.json()['version'] == '11.2.0'
        assert isinstance(r.json()['started_at'], float)
        assert s.get(url + '/v1/nope').status_code == 404
        assert s.get(url + '/v1/commands/').json() == {'commands': []}
        r = s.get(url + '/v1/commands/?agent_token=wrong')
        assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
        r = s.get(url + '/v1/commands/')
        assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
        cmd = url + '/v1/commands/?wait=false&agent_token='
        fin = {'name': 'rescue.finalize_rescue',
               'params': {'rescue_password': HASH, 'hashed': True}}
        r = s.post(url + '/v1/commands/?wait=false', json=fin)
        assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
        r = s.post(cmd + 'x' * 43, json=fin)
        assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
        r = s.post(cmd + tok, json={'name': 'rescue.finalize_rescue'})
        assert r.json()['faultstring'] == ('400 Bad Request: Missing or '
                                           'invalid name or params')
        r = s.post(cmd + tok, json={'name': 'rescue.nope', 'params': {}})
        assert (r.status_code, r.json()) == (400, {
            'faultcode': 'Client',
            'faultstring': 'Invalid command: Unknown command: nope'})
        r = s.post(cmd + tok, json={'name': 'nope.x', 'params': {}})
        assert r.status_code == 404
        r = s.post(cmd + tok, json=fin)
        assert r.status_code == 200
        body = r.json()
        assert body['command_name'] == 'finalize_rescue'
        assert body['command_status'] == 'SUCCEEDED'
        assert uuid.UUID(body['id'])
        assert agent.wait_exit(15) == 0
        n = len(fake.heartbeats())
        time.sleep(0.5)
        assert len(fake.heartbeats()) == n
        assert (agent.root / 'etc' / 'ipa-rescue-config' /
                'ipa-rescue-password').read_bytes() == HASH.encode()
        log = agent.log()
        assert tok not in log and HASH not in log
    finally:
        fake.close()


def test_dhcp_commands(spawn, tmp_path):
    """--dhcp-cmd: one udhcpc round on the BOOTIF NIC before lookup, a
    lasting client (no -q, no -n) after finalize; every MAC in lookup.
    The other NIC has a link too: with BOOTIF it gets no DHCP."""
    from test_fake_agent import FakeIronic, HASH
    sysfs = tmp_path / 'sys-class-net'
    nics = {'lbtest0': ('1', '52:54:00:dd:00:01'),
            'lbtest1': ('1', '52:54:00:DD:00:02'),
            'lbib0': ('32', '80:00:02:08:fe:80:00:00:00:00:00:00:00:02'),
            'lo': ('772', '00:00:00:00:00:00')}
    for name, (kind, addr) in nics.items():
        (sysfs / name).mkdir(parents=True)
        (sysfs / name / 'type').write_text(kind + '\n')
        (sysfs / name / 'address').write_text(addr + '\n')
        (sysfs / name / 'carrier').write_text('1\n')
    calls = tmp_path / 'dhcp.calls'
    dhcp = tmp_path / 'udhcpc'
    dhcp.write_text('#!/bin/sh\necho "$$ $*" >> %s\n'
                    'case " $* " in *" -q "*) exit 0;; esac\n'
                    'exec sleep 300\n' % calls)
    dhcp.chmod(0o755)
    fake = FakeIronic(max_version='1.65')
    try:
        agent = CAgent(spawn, tmp_path / 'agent', fake.url,
                       '52:54:00:dd:00:02', args=(
                           '--sys-class-net', sysfs, '--dhcp-cmd', dhcp,
                           '--dhcp-script', '/x/default.script',
                           '--dhcp-renew-delay', '0'))
        wait_for(fake.heartbeats, 20, what='a heartbeat')
        lines = calls.read_text().splitlines()
        assert [l.split(' ', 1)[1] for l in lines] == [
            '-i lbtest1 -f -q -t 5 -n -s /x/default.script']
        assert fake.lookups()[0]['path'] == (
            '/v1/lookup?addresses=52%3A54%3A00%3Add%3A00%3A02%2C'
            '52%3A54%3A00%3Add%3A00%3A01')
        r = session().post(
            'http://127.0.0.1:%d/v1/commands/?agent_token=%s'
            % (agent.port, fake.token),
            json={'name': 'rescue.finalize_rescue',
                  'params': {'rescue_password': HASH, 'hashed': True}})
        assert r.json()['command_status'] == 'SUCCEEDED'
        line = wait_for(lambda: (lambda ls: ls[1] if len(ls) > 1 else None)(
            calls.read_text().splitlines()), 10, what='the lasting client')
        pid, args = line.split(' ', 1)
        assert args == '-i lbtest1 -f -t 5 -s /x/default.script'
        # the agent stays to look after it, without heartbeats or API
        n = len(fake.heartbeats())
        time.sleep(1)
        assert agent.proc.running() and len(fake.heartbeats()) == n
        with pytest.raises(requests.ConnectionError):
            session().get('http://127.0.0.1:%d/' % agent.port, timeout=3)
        # stopping the agent stops its DHCP client too
        assert agent.proc.stop() == 0
        wait_for(lambda: not os.path.exists('/proc/%s' % pid), 10,
                 what='the DHCP client to stop')
    finally:
        fake.close()


# ------------------------------------------- DHCP without BOOTIF (issue 11)

def fake_sysfs(root, nics):
    """nics: name -> (mac, carrier '0'/'1' or None for no carrier file)."""
    for name, (mac, carrier) in nics.items():
        d = root / name
        d.mkdir(parents=True)
        (d / 'type').write_text('1\n')
        (d / 'address').write_text(mac + '\n')
        if carrier is not None:
            (d / 'carrier').write_text(carrier + '\n')
    return root


class FakeUdhcpc:
    """A udhcpc stand-in: records "PID ARGS" per run; a one-shot run
    (-q) on IF exits with the status in IF.exit (0: a lease), after
    waiting for release() if IF.block exists; a lasting run sleeps."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / 'udhcpc.d'
        self.dir.mkdir()
        self.calls = tmp_path / 'dhcp.calls'
        self.path = tmp_path / 'udhcpc'
        self.path.write_text(
            '#!/bin/sh\n'
            'echo "$$ $*" >> %(calls)s\n'
            'case " $* " in *" -q "*) ;; *) exec sleep 300;; esac\n'
            'prev=; for a in "$@"; do [ "$prev" = -i ] && IF=$a; prev=$a;'
            ' done\n'
            'if [ -e %(d)s/$IF.block ]; then\n'
            '  while [ ! -e %(d)s/release ]; do sleep 0.05; done\n'
            'fi\n'
            'exit $(cat %(d)s/$IF.exit 2>/dev/null || echo 0)\n'
            % {'calls': self.calls, 'd': self.dir})
        self.path.chmod(0o755)

    def set(self, ifname, status=0, block=False):
        (self.dir / (ifname + '.exit')).write_text('%d\n' % status)
        if block:
            (self.dir / (ifname + '.block')).touch()

    def release(self):
        (self.dir / 'release').touch()

    def runs(self):
        """[(pid, ifname, one_shot)] in start order."""
        if not self.calls.exists():
            return []
        out = []
        for line in self.calls.read_text().splitlines():
            pid, args = line.split(' ', 1)
            words = args.split()
            out.append((int(pid), words[words.index('-i') + 1],
                        '-q' in words))
        return out

    def one_shot(self):
        return [ifname for _, ifname, once in self.runs() if once]


def proc_state(pid):
    """'R', 'S', 'Z'... or None once the process is gone (reaped)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        return None


def dhcp_agent(spawn, tmp_path, fake, sysfs, udhcpc, carrier_wait):
    return CAgent(spawn, tmp_path / 'agent', fake.url, None, args=(
        '--sys-class-net', sysfs, '--dhcp-cmd', udhcpc.path,
        '--dhcp-script', '/x/default.script', '--dhcp-renew-delay', '0',
        '--carrier-wait', str(carrier_wait)))


def finalize(agent, fake):
    from test_fake_agent import HASH
    r = session().post(
        'http://127.0.0.1:%d/v1/commands/?agent_token=%s'
        % (agent.port, fake.token),
        json={'name': 'rescue.finalize_rescue',
              'params': {'rescue_password': HASH, 'hashed': True}})
    assert r.json()['command_status'] == 'SUCCEEDED'


def test_dhcp_without_bootif_only_on_nics_with_link(spawn, tmp_path):
    """No BOOTIF: DHCP on the NICs that show carrier, each as soon as it
    does (lbtest2's link comes late), none on the NICs without link; the
    lasting clients after finalize only on the NIC that got a lease."""
    from test_fake_agent import FakeIronic
    sysfs = fake_sysfs(tmp_path / 'sys-class-net', {
        'lbtest0': ('52:54:00:ee:00:01', '0'),
        'lbtest1': ('52:54:00:ee:00:02', '1'),
        'lbtest2': ('52:54:00:ee:00:03', '0'),
        'lbtest3': ('52:54:00:ee:00:04', None)})
    udhcpc = FakeUdhcpc(tmp_path)
    udhcpc.set('lbtest2', status=1)
    fake = FakeIronic(max_version='1.65')
    try:
        agent = dhcp_agent(spawn, tmp_path, fake, sysfs, udhcpc, 5)
        wait_for(udhcpc.one_shot, 10, what='DHCP on the NIC with link')
        assert udhcpc.one_shot() == ['lbtest1']
        (sysfs / 'lbtest2' / 'carrier').write_text('1\n')
        wait_for(lambda: len(udhcpc.one_shot()) == 2, 10,
                 what='DHCP on lbtest2 once its link shows')
        wait_for(lambda: 'lbtest3: no link within 5 s' in agent.log(), 15,
                 what='the carrier wait to end')
        log = agent.log()
        assert 'lbtest0: no link within 5 s; no DHCP on it' in log, log
        assert 'DHCP: lbtest1 wins (the first lease), lookup starts' \
            in log, log
        assert 'DHCP on lbtest2: no lease (exit status 1)' in log, log
        assert sorted(udhcpc.one_shot()) == ['lbtest1', 'lbtest2']
        wait_for(fake.heartbeats, 20, what='a heartbeat')
        assert fake.lookups()[0]['path'] == (
            '/v1/lookup?addresses=52%3A54%3A00%3Aee%3A00%3A01%2C'
            '52%3A54%3A00%3Aee%3A00%3A02%2C52%3A54%3A00%3Aee%3A00%3A03%2C'
            '52%3A54%3A00%3Aee%3A00%3A04')
        finalize(agent, fake)
        wait_for(lambda: 'keeps the lease' in agent.log(), 10,
                 what='the lasting client')
        assert agent.proc.stop() == 0
        kept = re.findall(r'DHCP client on (\S+) \(pid \d+\) keeps the lease',
                          agent.log())
        assert kept == ['lbtest1'], agent.log()
    finally:
        fake.close()


def test_dhcp_without_link_anywhere_tries_every_nic(spawn, tmp_path):
    """No NIC reports carrier (some drivers never do): after the carrier
    wait, DHCP on every NIC, and lookup follows the lease."""
    from test_fake_agent import FakeIronic
    sysfs = fake_sysfs(tmp_path / 'sys-class-net', {
        'lbtest0': ('52:54:00:ef:00:01', '0'),
        'lbtest1': ('52:54:00:ef:00:02', None)})
    udhcpc = FakeUdhcpc(tmp_path)
    udhcpc.set('lbtest0', status=1)
    fake = FakeIronic(max_version='1.65')
    try:
        agent = dhcp_agent(spawn, tmp_path, fake, sysfs, udhcpc, 1)
        wait_for(fake.lookups, 20, what='a lookup')
        assert sorted(udhcpc.one_shot()) == ['lbtest0', 'lbtest1']
        log = agent.log()
        assert 'no NIC reported a link within 1 s; DHCP on every NIC' \
            in log, log
        assert 'DHCP: lbtest1 wins (the first lease)' in log, log
    finally:
        fake.close()


def test_dhcp_first_lease_starts_lookup(spawn, tmp_path):
    """Lookup starts with the first lease, with every MAC, while the
    other NIC's DHCP client still runs; that client is left to end on
    its own and then reaped (no zombie)."""
    from test_fake_agent import FakeIronic
    sysfs = fake_sysfs(tmp_path / 'sys-class-net', {
        'lbtest0': ('52:54:00:f0:00:01', '1'),
        'lbtest1': ('52:54:00:f0:00:02', '1')})
    udhcpc = FakeUdhcpc(tmp_path)
    udhcpc.set('lbtest0', status=1, block=True)
    fake = FakeIronic(max_version='1.65')
    try:
        agent = dhcp_agent(spawn, tmp_path, fake, sysfs, udhcpc, 5)
        lookup = wait_for(fake.lookups, 20,
                          what='a lookup before the slow DHCP ends')[0]
        slow = [pid for pid, ifname, _ in udhcpc.runs()
                if ifname == 'lbtest0']
        assert len(slow) == 1, udhcpc.runs()
        assert proc_state(slow[0]) not in (None, 'Z'), \
            'the slow DHCP client should still be running'
        assert lookup['path'] == (
            '/v1/lookup?addresses=52%3A54%3A00%3Af0%3A00%3A01%2C'
            '52%3A54%3A00%3Af0%3A00%3A02')
        assert 'DHCP: lbtest1 wins (the first lease), lookup starts' \
            in agent.log()
        wait_for(fake.heartbeats, 20, what='a heartbeat')
        assert proc_state(slow[0]) not in (None, 'Z')
        udhcpc.release()
        wait_for(lambda: proc_state(slow[0]) is None, 10,
                 what='the slow DHCP client to be reaped')
        assert 'DHCP on lbtest0: no lease (exit status 1)' in agent.log()
        assert agent.proc.running()
    finally:
        fake.close()


# ------------------------------ finalize's lifeboat_network_moves (issue 12)

def test_finalize_network_moves_parameter(spawn, tmp_path):
    """finalize_rescue takes lifeboat's own lifeboat_network_moves (a
    boolean); any other unknown parameter still fails with IPA's words and
    changes nothing.  With it, the agent looks for the new network with
    one-shot clients, one a second, until a lease other than the one at
    finalize is recorded; then a lasting client takes over."""
    from test_fake_agent import FakeIronic, HASH
    sysfs = fake_sysfs(tmp_path / 'sys-class-net', {
        'lbtest1': ('52:54:00:f1:00:01', '1')})
    udhcpc = FakeUdhcpc(tmp_path)
    fake = FakeIronic(max_version='1.65')
    try:
        agent = CAgent(spawn, tmp_path / 'agent', fake.url,
                       '52:54:00:f1:00:01', args=(
                           '--sys-class-net', sysfs, '--dhcp-cmd',
                           udhcpc.path, '--dhcp-script', '/x/default.script'))
        wait_for(fake.heartbeats, 20, what='a heartbeat')
        url = 'http://127.0.0.1:%d/v1/commands/?agent_token=%s' % (
            agent.port, fake.token)
        s = session()
        for params, error in (
                ({'lifeboat_network_moves': True, 'bogus': 1},
                 "finalize_rescue() got an unexpected keyword argument "
                 "'bogus'"),
                ({'lifeboat_network_moves': 'yes'},
                 'lifeboat_network_moves must be a boolean')):
            params.update(rescue_password=HASH, hashed=True)
            r = s.post(url, json={'name': 'rescue.finalize_rescue',
                                  'params': params})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body['command_status'] == 'FAILED', body
            assert body['command_error']['details'] == error, body
        etc = agent.root / 'etc'
        assert not (etc / '.rescued').exists()
        assert 'rescue:' not in (etc / 'shadow').read_text()
        assert agent.proc.running()

        r = s.post(url, json={'name': 'rescue.finalize_rescue', 'params': {
            'rescue_password': HASH, 'hashed': True,
            'lifeboat_network_moves': True}})
        assert r.json()['command_status'] == 'SUCCEEDED', r.text
        assert (etc / '.rescued').exists()
        # looks, one a second, each a one-shot client; nothing recorded
        # (the fake writes no lease) is no answer
        wait_for(lambda: len(udhcpc.runs()) >= 4, 10, what='three looks')
        runs = udhcpc.runs()
        assert [once for _, _, once in runs] == [True] * len(runs), runs
        args = [l.split(' ', 1)[1]
                for l in udhcpc.calls.read_text().splitlines()]
        assert args[1:4] == ['-i lbtest1 -f -q -t 1 -T 1 -n -s '
                             '/x/default.script'] * 3, args
        log = agent.log()
        assert 'the node moves to another network' in log, log
        assert 'keeps the lease' not in log and 'old server' not in log
        # the script records the new network's lease: a lasting client
        (agent.root / 'run' / 'lifeboat' / 'lease.lbtest1').write_text(
            'interface=lbtest1\nip=10.9.9.5\nprefix=24\nserverid=10.9.9.1\n')
        wait_for(lambda: 'keeps the lease' in agent.log(), 10,
                 what='the lasting client')
        assert 'the new network answered' in agent.log()
        assert '10.9.9.5 from 10.9.9.1 (was none from none)' in agent.log()
        assert not udhcpc.runs()[-1][2], udhcpc.runs()
    finally:
        fake.close()


def test_lasting_client_restarts_when_the_link_comes_back(spawn, tmp_path):
    """Without lifeboat_network_moves the lasting client starts at once;
    a carrier lost and back (a switch port moved) restarts it at once, so
    it looks for a server on whatever network the port is on now."""
    from test_fake_agent import FakeIronic
    sysfs = fake_sysfs(tmp_path / 'sys-class-net', {
        'lbtest1': ('52:54:00:f2:00:01', '1')})
    udhcpc = FakeUdhcpc(tmp_path)
    fake = FakeIronic(max_version='1.65')
    try:
        agent = CAgent(spawn, tmp_path / 'agent', fake.url,
                       '52:54:00:f2:00:01', args=(
                           '--sys-class-net', sysfs, '--dhcp-cmd',
                           udhcpc.path, '--dhcp-script', '/x/default.script'))
        wait_for(fake.heartbeats, 20, what='a heartbeat')
        finalize(agent, fake)
        first = wait_for(lambda: [p for p, _, once in udhcpc.runs()
                                  if not once], 5, what='the lasting client')
        assert 'keeps the lease' in agent.log()
        (sysfs / 'lbtest1' / 'carrier').write_text('0\n')
        wait_for(lambda: 'lbtest1: link lost' in agent.log(), 5,
                 what='the agent to see the link go')
        assert proc_state(first[0]) not in (None, 'Z')
        (sysfs / 'lbtest1' / 'carrier').write_text('1\n')
        wait_for(lambda: len([p for p, _, once in udhcpc.runs()
                              if not once]) == 2, 5,
                 what='a new lasting client')
        assert 'lbtest1: link back; restarting its DHCP client now' \
            in agent.log()
        wait_for(lambda: proc_state(first[0]) is None, 5,
                 what='the old client to be stopped and reaped')
        assert 'exited; restarting' not in agent.log()
        assert 'looking' not in agent.log().split('rescue finalized')[1]
    finally:
        fake.close()
