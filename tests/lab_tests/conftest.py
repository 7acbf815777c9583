"""Fixtures for the lab emulator tests.

Every process a test starts goes through the ``spawn`` fixture, which stops
it by PID (SIGTERM, then SIGKILL) when the test ends, pass or fail; QEMU
PIDs a test saw are killed too if they outlived their emulator.  Waiting is
always by polling with a deadline, never a fixed sleep.
"""

import functools
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[1] / 'lab'
PYTHON = '/usr/bin/python3'
sys.path.insert(0, str(LAB))

HAVE_QEMU = shutil.which('qemu-system-x86_64') is not None


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'qemu: needs qemu-system-x86_64 (skipped without it)')


def pytest_collection_modifyitems(config, items):
    if HAVE_QEMU:
        return
    skip = pytest.mark.skip(reason='qemu-system-x86_64 is not installed')
    for item in items:
        if 'qemu' in item.keywords:
            item.add_marker(skip)


# ----------------------------------------------------------------- helpers

def wait_for(predicate, timeout=20.0, interval=0.05, what='condition'):
    """Poll ``predicate`` until it returns a true value; return it."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:      # keep polling, report the last one
            last_exc = e
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s (last error: %r)'
                                 % (what, last_exc))
        time.sleep(interval)


def free_ports(count=1, kind=socket.SOCK_STREAM):
    """A base port such that base..base+count-1 are free (TCP or UDP)."""
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


def http_json(method, url, body=None, headers=None, timeout=10):
    """(status, headers, parsed body or None) without raising on 4xx/5xx."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=dict(headers or {}))
    if data is not None:
        req.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status, hdrs = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, hdrs = e.read(), e.code, e.headers
    return status, hdrs, (json.loads(raw) if raw.strip() else None)


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
            return f.read().split(b'\0')
    except OSError:
        return []


class Proc:
    """A started process; stop() is idempotent and returns the exit code."""

    def __init__(self, argv, log_path):
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=self._log,
                                      stderr=subprocess.STDOUT)
        self.pid = self.popen.pid
        self.extra_pids = []   # e.g. QEMU children seen by a test

    def log(self):
        return Path(self.log_path).read_text(errors='replace')

    def running(self):
        return self.popen.poll() is None

    def stop(self, timeout=15):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        for pid in self.extra_pids:
            # only if it is still a QEMU (never a recycled PID)
            if pid_alive(pid) and any(b'qemu' in a for a in cmdline(pid)):
                os.kill(pid, signal.SIGKILL)
        self._log.close()
        return self.popen.returncode


@pytest.fixture
def spawn(tmp_path, request):
    """spawn(argv, name) -> Proc; all are stopped by PID at teardown."""
    procs = []

    def start(argv, name='proc'):
        p = Proc([str(a) for a in argv],
                 str(tmp_path / ('%s-%d.log' % (name, len(procs)))))
        procs.append(p)
        return p
    yield start
    failed = []
    for p in reversed(procs):
        p.stop()
        rep = getattr(request.node, 'rep_call', None)
        if rep is not None and rep.failed:
            failed.append('--- %s ---\n%s' % (' '.join(p.argv), p.log()[-4000:]))
    if failed:
        sys.stderr.write('\n'.join(failed) + '\n')


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # lets the spawn fixture print emulator logs of failed tests
    outcome = yield
    rep = outcome.get_result()
    setattr(item, 'rep_' + rep.when, rep)


class Emulator:
    """A running BMC emulator with its control endpoint."""

    def __init__(self, proc, port, count, control_port, scheme='udp'):
        self.proc = proc
        self.port = port
        self.count = count
        self.control_port = control_port
        self.control = 'http://127.0.0.1:%d' % control_port
        self.scheme = scheme

    def wait_ready(self, timeout=30):
        def ready():
            if not self.proc.running():
                raise AssertionError('emulator exited:\n' + self.proc.log())
            return http_json('GET', self.control + '/', timeout=2)[0] == 200
        wait_for(ready, timeout, what='emulator control endpoint')
        return self

    def info(self):
        return http_json('GET', self.control + '/')[2]

    def machine(self, i=0):
        status, _, body = http_json('GET', self.control + '/machines/%d' % i)
        assert status == 200, body
        return body

    def ctl(self, i, action, body):
        status, _, out = http_json(
            'POST', self.control + '/machines/%d/%s' % (i, action), body)
        assert status == 200, out
        return out

    def url(self, i=0):
        return '%s://127.0.0.1:%d' % (self.scheme, self.port + i)


def start_emulator(spawn, script, count, sock_kind, extra, scheme):
    """A ready Emulator of script.  Free ports are only free when checked:
    the other lane of tools/test may bind one first, and the emulator
    then exits with EADDRINUSE; it starts again on other ports."""
    for attempt in range(3):
        port = free_ports(count, sock_kind)
        ctl = free_ports(1)
        proc = spawn([PYTHON, LAB / script, '--port', port, '--count',
                      count, '--user', 'admin', '--password', 'secret',
                      '--control-port', ctl, *extra], script[:-3])
        try:
            return Emulator(proc, port, count, ctl, scheme).wait_ready()
        except AssertionError:
            if 'Address already in use' not in proc.log() or attempt == 2:
                raise
            proc.stop()


@pytest.fixture
def ipmi_bmc(spawn):
    """ipmi_bmc(count=1, *extra_args) -> a ready Emulator."""
    def start(*extra, count=1):
        return start_emulator(spawn, 'ipmi_bmc.py', count,
                              socket.SOCK_DGRAM, extra, 'udp')
    return start


@pytest.fixture
def redfish_bmc(spawn):
    """redfish_bmc(count=1, *extra_args, tls=False) -> a ready Emulator."""
    def start(*extra, count=1, tls=False):
        return start_emulator(spawn, 'redfish_bmc.py', count,
                              socket.SOCK_STREAM,
                              extra + (('--tls',) if tls else ()),
                              'https' if tls else 'http')
    return start


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def image_server(tmp_path):
    """A local HTTP server (a thread) serving tmp_path/www; yields
    (base_url, directory)."""
    www = tmp_path / 'www'
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    t = threading.Thread(target=srv.serve_forever, args=(0.1,), daemon=True)
    t.start()
    yield 'http://127.0.0.1:%d' % srv.server_address[1], www
    srv.shutdown()
    srv.server_close()
