"""Helpers for tests/flow/test_rescue.py: a lifeboatd configured for the
rescue flow, rescue-ready nodes, the simulated agent (tests/lab/
fake_agent.py) started when a node reaches "rescue wait", and an in-test
HTTP image server that counts downloads and can stall them.

Every process started here (agents; the daemons and BMC emulators come from
conftest.Launcher and power_helpers.Bmcs) is stopped by its PID when its
owner closes, pass or fail.  Every wait polls with a deadline.
"""

import hashlib
import http.server
import json
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port, unique, unique_mac, wait_for
from power_helpers import Bmcs, call_failed, get_node

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / 'tests' / 'lab' / 'fake_agent.py'
PYTHON = '/usr/bin/python3'

KERNEL_DATA = b'rescue-kernel ' * 1000
RAMDISK_DATA = b'rescue-ramdisk ' * 3000

MASK = '******'

# Node lifecycle messages (contract sections 1.5, 3).
BLANK_PASSWORD_MSG = ('A non-empty "rescue_password" is required when '
                      'setting target provision state to rescue')
AGENT_FAILED_PREFIX = ('Node failed to perform rescue operation: Agent '
                       'returned bad result for command finalize_rescue: ')
TIMEOUT_MSG = ('Timeout reached while waiting for rescue ramdisk callback '
               'for node')
MAINTENANCE_MSG = ("The rescuing operation can't be performed on node %s "
                   "because it's in maintenance mode.")
BAD_STATE_MSG = ('The requested action "%s" can not be performed on node '
                 '"%s" while it is in state "%s".')
TOKEN_REQUIRED_MSG = 'Agent token is required for heartbeat processing.'
TOKEN_INVALID_MSG = 'Invalid or missing agent token received.'
CALLBACK_CHANGED_MSG = 'Detected change in ramdisk provided "callback_url"'
CERT_CHANGED_MSG = 'Detected change in ramdisk provided "agent_verify_ca"'
NOT_ACCEPTABLE_MSG = 'Request not acceptable.'


def mac_dashes(mac):
    return mac.replace(':', '-')


def ironic_error(text):
    """The faultstring of an Ironic error body (double-encoded JSON)."""
    try:
        return json.loads(json.loads(text)['error_message'])['faultstring']
    except (ValueError, KeyError, TypeError):
        return None


# ------------------------------------------------------------- the daemon

class RescueLab:
    """A lifeboatd with the brief's rescue configuration in ``workdir``.

    ``workdir`` holds images/, tftpboot/, httpboot/, hostsdir/, optsdir/;
    images/ has a kernel and a ramdisk that file:// hrefs may use.
    """

    def __init__(self, launcher, workdir, conductor=None, **sections):
        self.dir = Path(workdir)
        self.images = self.dir / 'images'
        self.tftp = self.dir / 'tftpboot'
        self.http = self.dir / 'httpboot'
        self.hostsdir = self.dir / 'hostsdir'
        self.optsdir = self.dir / 'optsdir'
        for p in (self.images, self.tftp, self.http, self.hostsdir,
                  self.optsdir):
            p.mkdir(parents=True, exist_ok=True)
        self.kernel = self.images / 'rescue.kernel'
        self.ramdisk = self.images / 'rescue.initramfs'
        self.kernel.write_bytes(KERNEL_DATA)
        self.ramdisk.write_bytes(RAMDISK_DATA)
        self.http_port = free_port()
        self.http_url = 'http://127.0.0.1:%d' % self.http_port
        cond = {
            'sync_power_state_interval': 0,
            'power_state_change_timeout': 10,
            'rescue_callback_timeout': 1800,
            'check_rescue_state_interval': 1,
            'file_url_allowed_paths': str(self.images),
        }
        cond.update(conductor or {})
        conf = {
            'conductor': cond,
            'pxe': {'tftp_root': str(self.tftp)},
            'deploy': {'http_root': str(self.http),
                       'http_url': self.http_url},
            'dhcp': {'dhcp_provider': 'dnsmasq'},
            'dnsmasq': {'dhcp_hostsdir': str(self.hostsdir),
                        'dhcp_optsdir': str(self.optsdir)},
            'ipmi': {'min_command_interval': 0},
        }
        for name, opts in sections.items():
            conf.setdefault(name, {}).update(opts)
        self.d = launcher.start(**conf)

    @property
    def api_url(self):
        return self.d.url

    def rescue_driver_info(self, **extra):
        info = {'rescue_kernel': 'file://%s' % self.kernel,
                'rescue_ramdisk': 'file://%s' % self.ramdisk}
        info.update(extra)
        return info

    def node(self, emu=None, i=0, boot='pxe', bios=True, name=None,
             driver_info=None, adopt=True, mac=None, network=None,
             boot_mode=None):
        """A rescue-ready node (active unless ``adopt`` is false).

        ``emu`` (an IPMI or Redfish emulator) gives an ipmi or redfish
        node for its machine i;
        without it the node is fake-hardware.  ``network`` names its
        network interface (else the default).  The node's boot_mode
        capability is ``boot_mode`` if given, else bios (``bios``) or none.
        Returns (node, mac).
        """
        name = name or unique('rsc')
        mac = mac or unique_mac()
        info = self.rescue_driver_info()
        fields = {'name': name, 'rescue_interface': 'agent',
                  'boot_interface': boot}
        if network is not None:
            fields['network_interface'] = network
        if emu is not None:
            info.update(emu.driver_info(i))
            fields['driver'] = emu.driver
        else:
            fields.update(driver='fake-hardware', power_interface='fake',
                          management_interface='fake')
        info.update(driver_info or {})
        fields['driver_info'] = info
        if boot_mode is not None:
            fields['properties'] = {'capabilities': 'boot_mode:' + boot_mode}
        elif bios:
            fields['properties'] = {'capabilities': 'boot_mode:bios'}
        node = self.d.create_node(**fields)
        self.d.create_port(node['uuid'], mac)
        if adopt:
            for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
                r = self.d.put('/v1/nodes/%s/states/provision' % node['uuid'],
                               {'target': verb})
                assert r.status_code == 202, (verb, r.text)
                node = wait_state(self.d, node['uuid'],
                                  {final, 'enroll', 'adopt failed'}, 30)
                assert node['provision_state'] == final, node
        return node, mac

    # -- files a rescue stages ----------------------------------------------

    def staged_files(self, uuid, mac):
        """Every path the rescue of (uuid, mac) may create, by role."""
        return {
            'tftp_dir': self.tftp / uuid,
            'tftp_config': self.tftp / uuid / 'config',
            'pxelinux_link': self.tftp / 'pxelinux.cfg' / ('01-' +
                                                           mac_dashes(mac)),
            'grub_link': self.tftp / ('grub.cfg-01-' + mac_dashes(mac)),
            'grub_mac_link': self.tftp / (mac + '.conf'),
            'http_dir': self.http / uuid,
            'ipxe_config': self.http / uuid / 'config',
            'ipxe_link': self.http / 'pxelinux.cfg' / mac_dashes(mac),
            'dnsmasq_opts': self.optsdir / ('ironic-%s.conf' % uuid),
        }

    def host_file(self, mac):
        return self.hostsdir / ('ironic-%s.conf' % mac)

    def capture(self, uuid, mac):
        """{role: (is_symlink, link target or None, text or None)} of what
        exists now, plus the dnsmasq host file."""
        out = {}
        paths = dict(self.staged_files(uuid, mac), host=self.host_file(mac))
        for role, p in paths.items():
            if not os.path.lexists(p):
                continue
            link = os.readlink(p) if p.is_symlink() else None
            text = None
            if p.is_dir():
                text = sorted(os.listdir(p))
            elif p.is_file():
                text = p.read_text(errors='replace')
            out[role] = (link, text)
        return out

    def leftovers(self, uuid, mac):
        """The staged paths that still exist (the host file excluded)."""
        return sorted(role for role, p in self.staged_files(uuid, mac).items()
                      if os.path.lexists(p))


def wait_state(d, ident, states, timeout=30):
    if isinstance(states, str):
        states = {states}
    return wait_for(lambda: (lambda n: n if n['provision_state'] in states
                             else None)(get_node(d, ident)),
                    timeout, interval=0.05,
                    what='%s to reach %s' % (ident, sorted(states)))


def settled(d, uuid, timeout=30):
    """The node once no job holds it and no power action is pending."""
    return wait_for(lambda: (lambda n: n if n['reservation'] is None and
                             n['target_power_state'] is None else None)(
        get_node(d, uuid)), timeout, interval=0.05,
        what='node %s to settle' % uuid)


def end_state(d, uuid, states, timeout=60):
    """The node once in one of 'states' and settled."""
    wait_state(d, uuid, states, timeout)
    return settled(d, uuid)


def cli_rescue_watched(d, name, watcher, password, timeout=120):
    """``node rescue NAME --rescue-password PW --wait`` through the CLI
    while 'watcher' (an OnRescueWait) acts at rescue wait; asserts the CLI
    succeeded after the node passed rescue wait, and returns the agent the
    watcher started."""
    watcher.start()
    try:
        rc, out, err = d.cli('node', 'rescue', name, '--rescue-password',
                             password, '--wait', timeout=timeout)
    finally:
        watcher.stop()
    watcher.result()
    assert rc == 0, (out, err)
    assert watcher.states[-1] == 'rescue wait', watcher.states
    assert watcher.agent is not None
    return watcher.agent


def to_rescue_wait(lab, uuid, password='Resc-ue-PW1'):
    """The rescue verb over the API; the node once in rescue wait (target
    rescue) with no job holding it."""
    r = put_rescue(lab.d, uuid, password)
    assert r.status_code == 202, r.text
    node = wait_state(lab.d, uuid, {'rescue wait', 'rescue failed'}, 60)
    assert node['provision_state'] == 'rescue wait', node
    assert node['target_provision_state'] == 'rescue', node
    return settled(lab.d, uuid)


def put_rescue(d, ident, password='Resc-ue-PW1', version=None, **body):
    body = dict(body, target='rescue')
    if password is not None:
        body['rescue_password'] = password
    kw = {} if version is None else {'version': version}
    return d.put('/v1/nodes/%s/states/provision' % ident, body, **kw)


def put_verb(d, ident, target, **kw):
    return d.put('/v1/nodes/%s/states/provision' % ident, {'target': target},
                 **kw)


class PasswordBmcs(Bmcs):
    """power_helpers.Bmcs with a BMC password of the test's choosing."""

    def __init__(self, workdir, password):
        super().__init__(workdir)
        self.password = password


# ------------------------------------------------------------- the agent

class Agent:
    """One fake_agent.py process."""

    def __init__(self, argv, state_dir):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.argv = [str(a) for a in argv]
        self.stderr_path = self.state_dir / 'stderr.log'
        self._stderr = open(self.stderr_path, 'wb')
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        self.pid = self.proc.pid
        self._announce = None
        self._buf = b''

    # -- output
    def announce(self, timeout=30):
        """The agent's one stdout line (after its lookup)."""
        if self._announce is not None:
            return self._announce
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b'\n' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('agent %d: no announce line in %.0f s; '
                                     'stderr:\n%s' % (self.pid, timeout,
                                                      self.stderr()[-3000:]))
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise AssertionError('agent %d exited before announcing;'
                                         ' stderr:\n%s' % (
                                             self.pid, self.stderr()[-3000:]))
                self._buf += chunk
        self._announce = json.loads(self._buf.split(b'\n', 1)[0])
        return self._announce

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors='replace')
        except OSError:
            return ''

    def entries(self, kind=None):
        path = self.state_dir / 'agent.log.jsonl'
        out = []
        try:
            with open(path) as f:
                for line in f:
                    if line.strip():
                        try:
                            e = json.loads(line)
                        except ValueError:
                            continue        # a line being written
                        if kind is None or e.get('kind') == kind:
                            out.append(e)
        except FileNotFoundError:
            pass
        return out

    def events(self, name=None):
        return [e for e in self.entries('event')
                if name is None or e.get('event') == name]

    def heartbeats(self):
        return self.entries('heartbeat')

    def token(self):
        for e in self.events('token'):
            if e.get('token'):
                return e['token']
        return None

    def password_hash(self):
        p = self.state_dir / 'ipa-rescue-password'
        return p.read_text() if p.exists() else None

    def rescued(self):
        return (self.state_dir / '.rescued').exists()

    def commands_in(self):
        return [e for e in self.entries('agent_in')
                if e.get('method') == 'POST']

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError('agent %d still running after %.0f s; '
                                 'stderr:\n%s' % (self.pid, timeout,
                                                  self.stderr()[-3000:]))

    def wait_heartbeats(self, n, timeout=30):
        return wait_for(lambda: (lambda hb: hb if len(hb) >= n else None)(
            self.heartbeats()), timeout, interval=0.05,
            what='%d heartbeats of agent %d' % (n, self.pid))

    def stop(self):
        """SIGTERM by PID, SIGKILL after a bounded wait."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for f in (self.proc.stdout, self._stderr):
            try:
                f.close()
            except OSError:
                pass
        return self.proc.returncode


class Agents:
    """Starts agents; close() stops every one by its PID."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.agents = []
        self.lock = threading.Lock()
        self.closed = False

    def start(self, api_url, mac, *extra, interval=0.5):
        with self.lock:
            if self.closed:         # e.g. a watcher thread outliving a test
                raise RuntimeError('agents already stopped')
            n = len(self.agents)
            state_dir = self.workdir / ('agent-%d' % n)
            argv = [PYTHON, AGENT, '--api-url', api_url, '--mac', mac,
                    '--state-dir', state_dir]
            if interval is not None:
                argv += ['--heartbeat-interval', interval]
            argv += list(extra)
            agent = Agent(argv, state_dir)
            self.agents.append(agent)
        return agent

    def close(self, failed=False):
        with self.lock:
            self.closed = True
        for a in list(self.agents):
            try:
                if failed:
                    print('==== agent %d stderr (tail) ====\n%s'
                          % (a.pid, a.stderr()[-2000:]))
            finally:
                a.stop()


class OnRescueWait(threading.Thread):
    """Polls a node in the background; when it first shows "rescue wait"
    it calls ``on_wait(node)`` (e.g. capture staged files) and then starts
    an agent with ``start_agent()``.  Stops by itself when the node settles
    elsewhere, or at ``stop()``."""

    def __init__(self, d, uuid, start_agent=None, on_wait=None,
                 timeout=120):
        super().__init__(daemon=True)
        self.d = d
        self.uuid = uuid
        self.start_agent = start_agent
        self.on_wait = on_wait
        self.timeout = timeout
        self.agent = None
        self.seen = None        # the node document in rescue wait
        self.captured = None
        self.error = None
        self.states = []
        self._halt = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.timeout
        s = requests.Session()
        try:
            while not self._halt.is_set() and time.monotonic() < deadline:
                r = s.get('%s/v1/nodes/%s' % (self.d.url, self.uuid),
                          headers={'X-OpenStack-Ironic-API-Version': '1.78'},
                          timeout=10)
                node = r.json()
                st = node['provision_state']
                if not self.states or self.states[-1] != st:
                    self.states.append(st)
                if st == 'rescue wait':
                    self.seen = node
                    if self.on_wait is not None:
                        self.captured = self.on_wait(node)
                    if self.start_agent is not None:
                        self.agent = self.start_agent()
                    return
                if st in ('rescue failed', 'active', 'rescue') and \
                        len(self.states) > 1:
                    return
                self._halt.wait(0.05)
        except Exception as e:          # reported by result()
            self.error = e
        finally:
            s.close()

    def stop(self):
        self._halt.set()
        self.join(30)

    def result(self, timeout=120):
        self.join(timeout)
        assert not self.is_alive(), 'rescue-wait watcher still running'
        if self.error is not None:
            raise self.error
        return self


# ------------------------------------------------------- image server

class ImageServer:
    """Serves named blobs over HTTP on 127.0.0.1 with an ETag, counting
    per path the full downloads (200 to a GET) and the revalidations (304
    to a GET with a matching If-None-Match).

    ``stall(path)`` makes GETs of ``path`` wait (nothing sent yet) until
    ``release(path)``.
    """

    def __init__(self, files):
        self.files = dict(files)           # '/k' -> bytes
        self.downloads = {}
        self.revalidations = {}
        self.requests = []                 # (method, path, status)
        self.lock = threading.Lock()
        self.gates = {}
        self.waiting = {}
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _serve(self, head):
                path = self.path.split('?')[0]
                with srv.lock:
                    gate = None if head else srv.gates.get(path)
                    if gate is not None:
                        srv.waiting[path] = srv.waiting.get(path, 0) + 1
                if gate is not None:
                    gate.wait(300)
                data = srv.files.get(path)
                if data is None:
                    status, body, etag = 404, b'not found', None
                else:
                    etag = '"%s"' % hashlib.sha256(data).hexdigest()[:20]
                    if self.headers.get('If-None-Match') == etag:
                        status, body = 304, b''
                    else:
                        status, body = 200, data
                with srv.lock:
                    srv.requests.append((self.command, path, status))
                    if not head and status == 200:
                        srv.downloads[path] = srv.downloads.get(path, 0) + 1
                    if not head and status == 304:
                        srv.revalidations[path] = \
                            srv.revalidations.get(path, 0) + 1
                self.send_response(status)
                if etag:
                    self.send_header('ETag', etag)
                if status != 304:
                    self.send_header('Content-Type',
                                     'application/octet-stream')
                    self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if not head and body:
                    self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.httpd.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       args=(0.05,), daemon=True)
        self.thread.start()

    def count(self, path):
        """Full downloads of ``path`` so far."""
        with self.lock:
            return self.downloads.get(path, 0)

    def stall(self, path):
        with self.lock:
            self.gates[path] = threading.Event()

    def stalled(self, path):
        with self.lock:
            return self.waiting.get(path, 0)

    def release(self, path=None):
        with self.lock:
            gates = (list(self.gates.values()) if path is None
                     else [self.gates.get(path)])
            if path is None:
                self.gates = {}
            else:
                self.gates.pop(path, None)
        for g in gates:
            if g is not None:
                g.set()

    def close(self):
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def lab(launcher, tmp_path):
    """A RescueLab with the default rescue configuration.
    A fixture: modules use it by importing it."""
    return RescueLab(launcher, tmp_path / 'lab')


@pytest.fixture
def emu(bmcs):
    """One lab IPMI machine, powered on (an instance is running).
    A fixture: modules use it by importing it (with power_helpers' bmcs)."""
    e = bmcs.ipmi(1)
    e.set_power(0, 'on')
    return e


@pytest.fixture
def agents(tmp_path, request):
    """Simulated agents for one test; all stopped at teardown.
    A fixture: modules use it by importing it."""
    a = Agents(tmp_path / 'agents')
    yield a
    a.close(failed=call_failed(request))
