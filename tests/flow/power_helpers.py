"""Helpers for tests/flow/test_power.py: the lab BMC emulators, polling of
node states, and daemon configurations for the power/provision engine.

Every emulator is started through ``Bmcs`` (the ``bmcs`` fixture of
test_power.py) and stopped by its PID when the test ends, pass or fail;
QEMU processes a test saw are killed by PID too (only if their command line
still names qemu).  Waiting is always polling with a deadline.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import CONDUCTOR_HOST, _Exited, wait_for

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / 'tests' / 'lab'
PYTHON = '/usr/bin/python3'

BMC_USER = 'admin'
BMC_PASSWORD = 'password'

SYNC_INTERVAL = 2           # [conductor] sync_power_state_interval
POWER_TIMEOUT = 10          # [conductor] power_state_change_timeout
TIMING_MARGIN = 2.5         # seconds of slack on measured durations

STABLE_STATES = {'enroll', 'manageable', 'available', 'active', 'error',
                 'rescue'}

LOCKED_MSG = ('Node %s is locked by host ' + CONDUCTOR_HOST +
              ', please retry after the current operation is completed.')
RESTART_PROVISION_MSG = ('Conductor ' + CONDUCTOR_HOST + ' restarted while '
                         'the node was in state "%s"; the operation was '
                         'interrupted.')
RESTART_POWER_MSG = ('Conductor ' + CONDUCTOR_HOST + ' restarted during a '
                     "power action to '%s'; it may not have completed.")


def conductor_conf(**conductor):
    """Daemon sections: the brief's engine settings plus overrides."""
    conf = {
        'conductor': {'sync_power_state_interval': SYNC_INTERVAL,
                      'power_state_change_timeout': POWER_TIMEOUT,
                      'workers_pool_size': 16},
        'ipmi': {'min_command_interval': 0},
    }
    conf['conductor'].update(conductor)
    return conf


# ----------------------------------------------------------------- ports

def free_port_range(count, kind):
    """A base port with base..base+count-1 free for 'kind' on 127.0.0.1."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000 - count)
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(('127.0.0.1', p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError('no free port range')


def closed_udp_port():
    """A UDP port nothing listens on (an IPMI BMC that never answers)."""
    return free_port_range(1, socket.SOCK_DGRAM)


def closed_tcp_port():
    """A TCP port nothing listens on (connection refused)."""
    return free_port_range(1, socket.SOCK_STREAM)


# ------------------------------------------------------------ processes

def http_json(method, url, body=None, timeout=10):
    """(status, parsed body) of a control-endpoint request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    return status, (json.loads(raw) if raw.strip() else None)


def pid_alive(pid):
    """True if the PID exists and is not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return [a.decode(errors='replace') for a in f.read().split(b'\0')]
    except OSError:
        return []


class EmulatorExited(_Exited, AssertionError):
    """The emulator exited while it was awaited (wait_for stops at once)."""


class Emulator:
    """One BMC emulator process (ipmi_bmc.py or redfish_bmc.py)."""

    def __init__(self, kind, argv, log_path, port, count, control_port):
        self.kind = kind
        self.port = port
        self.count = count
        self.control = 'http://127.0.0.1:%d' % control_port
        self.log_path = log_path
        self.qemu_pids = set()
        self._log = open(log_path, 'wb')
        self.proc = subprocess.Popen([str(a) for a in argv],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def log(self):
        return Path(self.log_path).read_text(errors='replace')

    def wait_ready(self, timeout=30):
        def ready():
            if self.proc.poll() is not None:
                raise EmulatorExited('%s emulator exited:\n%s'
                                     % (self.kind, self.log()[-3000:]))
            try:
                return http_json('GET', self.control + '/', timeout=2)[0] \
                    == 200
            except OSError:
                return False
        wait_for(ready, timeout, interval=0.05,
                 what='%s emulator control endpoint' % self.kind)
        return self

    # -- control endpoint -------------------------------------------------

    def machine(self, i=0):
        status, body = http_json('GET', '%s/machines/%d' % (self.control, i))
        assert status == 200, body
        if body.get('pid'):
            self.qemu_pids.add(body['pid'])
        return body

    def ctl(self, i, action, body=None):
        status, out = http_json('POST', '%s/machines/%d/%s'
                                % (self.control, i, action), body or {})
        assert status == 200, (action, body, out)
        if isinstance(out, dict) and out.get('pid'):
            self.qemu_pids.add(out['pid'])
        return out

    def power(self, i):
        return self.machine(i)['power_state']

    def set_power(self, i, state):
        """Switch machine i behind the BMC's back ('on'/'off')."""
        return self.ctl(i, 'power', {'state': state})

    def clear_log(self, i):
        self.ctl(i, 'clear-log')

    def actions(self, i):
        return self.machine(i)['log']

    # -- driver_info for lifeboat -------------------------------------------

    def driver_info(self, i=0, password=BMC_PASSWORD):
        if self.kind == 'ipmi':
            return {'ipmi_address': '127.0.0.1',
                    'ipmi_port': str(self.port + i),
                    'ipmi_username': BMC_USER,
                    'ipmi_password': password}
        return {'redfish_address': 'http://127.0.0.1:%d' % (self.port + i),
                'redfish_username': BMC_USER,
                'redfish_password': password}

    @property
    def driver(self):
        return 'ipmi' if self.kind == 'ipmi' else 'redfish'

    # -- stopping -------------------------------------------------------------

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # QEMU children die with the emulator (PR_SET_PDEATHSIG); make sure,
        # by PID, and only if the PID still is a QEMU.
        for pid in self.qemu_pids:
            if pid_alive(pid) and any('qemu' in a for a in cmdline(pid)):
                os.kill(pid, signal.SIGKILL)
        self._log.close()
        return self.proc.returncode


class Bmcs:
    """Starts lab BMC emulators; close() stops every one by PID."""

    password = BMC_PASSWORD

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.emulators = []

    def _start(self, kind, script, count, extra, sock_kind):
        """Free ports are only free when checked: another test process
        (tools/test runs two lanes) may bind one before the emulator
        does, which then exits with EADDRINUSE; it starts again on other
        ports."""
        for attempt in range(3):
            emu = self._launch(kind, script, count, extra, sock_kind)
            try:
                return emu.wait_ready()
            except AssertionError:
                if 'Address already in use' not in emu.log() or \
                        attempt == 2:
                    raise
                emu.stop()
                self.emulators.remove(emu)

    def _launch(self, kind, script, count, extra, sock_kind):
        port = free_port_range(count, sock_kind)
        control = free_port_range(1, socket.SOCK_STREAM)
        n = len(self.emulators)
        argv = [PYTHON, LAB / script, '--port', port, '--count', count,
                '--user', BMC_USER, '--password', self.password,
                '--control-port', control, '--state-dir',
                self.workdir / ('%s-%d-state' % (kind, n))]
        argv += list(extra)
        log = self.workdir / ('%s-%d.log' % (kind, n))
        emu = Emulator(kind, argv, log, port, count, control)
        self.emulators.append(emu)
        return emu

    def ipmi(self, count=1, *extra):
        return self._start('ipmi', 'ipmi_bmc.py', count, extra,
                           socket.SOCK_DGRAM)

    def redfish(self, count=1, *extra):
        return self._start('redfish', 'redfish_bmc.py', count, extra,
                           socket.SOCK_STREAM)

    def close(self, failed=False):
        for emu in reversed(self.emulators):
            try:
                emu.stop()
            finally:
                if failed:
                    sys.stderr.write('==== %s (tail) ====\n%s\n'
                                     % (emu.log_path, emu.log()[-3000:]))


# --------------------------------------------------------------- nodes

def get_node(d, ident):
    r = d.get('/v1/nodes/' + ident)
    assert r.status_code == 200, r.text
    return r.json()


def wait_power_done(d, ident, timeout=POWER_TIMEOUT + 20):
    """Poll until target_power_state is null; (node, seconds waited)."""
    start = time.monotonic()
    node = wait_for(lambda: (lambda n: n if n['target_power_state'] is None
                             else None)(get_node(d, ident)),
                    timeout, interval=0.05,
                    what='target_power_state of %s to clear' % ident)
    return node, time.monotonic() - start


def wait_provision(d, ident, states, timeout=30):
    """Poll until provision_state is one of 'states' (a str or a set)."""
    if isinstance(states, str):
        states = {states}
    return wait_for(lambda: (lambda n: n if n['provision_state'] in states
                             else None)(get_node(d, ident)),
                    timeout, interval=0.05,
                    what='%s to reach %s' % (ident, sorted(states)))


def put_power(d, ident, target, **extra):
    body = {'target': target}
    body.update(extra)
    return d.put('/v1/nodes/%s/states/power' % ident, body)


def put_provision(d, ident, target, version=None, **extra):
    body = {'target': target}
    body.update(extra)
    kw = {} if version is None else {'version': version}
    return d.put('/v1/nodes/%s/states/provision' % ident, body, **kw)


def provision(d, ident, target, final, timeout=30):
    """PUT a provision verb (202) and wait for the state 'final'."""
    r = put_provision(d, ident, target)
    assert r.status_code == 202, r.text
    return wait_provision(d, ident, final, timeout)


def adopted_node(d, emu, i=0, name=None):
    """A node for machine i of 'emu', taken to active over the API."""
    fields = {'driver': emu.driver, 'driver_info': emu.driver_info(i)}
    if name is not None:
        fields['name'] = name
    node = d.create_node(**fields)
    n = provision(d, node['uuid'], 'manage', {'manageable', 'enroll'})
    assert n['provision_state'] == 'manageable', n
    n = provision(d, node['uuid'], 'adopt', {'active', 'adopt failed'})
    assert n['provision_state'] == 'active', n
    return n


def assert_settled(node):
    """No lock and no power action in flight."""
    assert node['reservation'] is None, node
    assert node['target_power_state'] is None, node


def log_mark(d):
    """Current length of the daemon's log, for log_since()."""
    return len(d.log_text())


def log_since(d, mark):
    return d.log_text()[mark:]


def call_failed(request):
    """True when the test's call phase failed (conftest records it)."""
    rep = getattr(request.node, 'rep_call', None)
    return rep is not None and rep.failed


@pytest.fixture
def bmcs(tmp_path, request):
    """Lab BMC emulators for one test; all stopped by PID at teardown.
    A fixture: modules use it by importing it."""
    b = Bmcs(tmp_path / 'bmcs')
    b.workdir.mkdir()
    yield b
    b.close(failed=call_failed(request))
