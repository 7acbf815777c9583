"""Graceful stop and systemd supervision (issue 14 item 5).

lifeboatd speaks systemd's notify protocol to a fake NOTIFY_SOCKET made
here (an AF_UNIX datagram socket, by path and in the abstract "@" form):
READY=1 only once the API answers, WATCHDOG=1 every half WATCHDOG_USEC
while healthy and none while the store's write lock is held by this test
(BEGIN EXCLUSIVE on the daemon's SQLite file), STOPPING=1 on SIGTERM.  A
stop waits for running jobs (fake power with fake_delay), answers reads
and refuses work with 503 meanwhile, fails back queued jobs, and past
[DEFAULT] graceful_shutdown_timeout names what it hands over and exits 1
for the next start to recover.
"""

import re
import signal
import socket
import subprocess
import threading
import time
import uuid as uuidlib
from pathlib import Path

import pytest

from conftest import (CONDUCTOR_HOST, LIFEBOATD, StoreWriteLock,
                      assert_error, wait_for)
from power_helpers import (RESTART_POWER_MSG, get_node, put_power,
                           put_provision)
from rescue_helpers import RescueLab, to_rescue_wait

STOPPING_MSG = ('Conductor %s is stopping and takes no new work; retry '
                'once it is back.' % CONDUCTOR_HOST)
JOB_DELAY = 2.0         # fake_delay of a job a stop waits for
TIMEOUT = 1             # graceful_shutdown_timeout where it runs out
MARGIN = 4.0            # seconds of slack on exit times (shared box)


class NotifySocket:
    """A fake systemd notify socket; records (monotonic time, message)."""

    def __init__(self, tmp_path, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = 'lb-notify-%s' % uuidlib.uuid4().hex
            self.sock.bind('\0' + name)
            self.env = '@' + name
        else:
            path = str(tmp_path / 'notify.sock')
            self.sock.bind(path)
            self.env = path
        self.sock.settimeout(0.1)
        self.messages = []
        self.on_message = None
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.closing:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            msg = data.decode()
            if self.on_message is not None:
                self.on_message(msg)
            with self.lock:
                self.messages.append((time.monotonic(), msg))

    def with_line(self, line):
        """(time, message) of every message holding 'line'."""
        with self.lock:
            return [(t, m) for t, m in self.messages
                    if line in m.split('\n')]

    def close(self):
        self.closing = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture(params=['path', 'abstract'])
def notify(request, tmp_path, monkeypatch):
    ns = NotifySocket(tmp_path, request.param == 'abstract')
    monkeypatch.setenv('NOTIFY_SOCKET', ns.env)
    monkeypatch.delenv('WATCHDOG_USEC', raising=False)
    monkeypatch.delenv('WATCHDOG_PID', raising=False)
    yield ns
    ns.close()


def conf(**default):
    default.setdefault('graceful_shutdown_timeout', 30)
    return {'DEFAULT': default, 'conductor': {'workers_pool_size': 4}}


def fake_node(d, delay):
    return d.create_node(driver_info={'fake_delay': delay})


def job_started(d, uuid, what):
    wait_for(lambda: re.search('node %s: %s started' % (uuid, what),
                               d.log_text()), 10, what='%s to start' % what)


def sigterm(d):
    """SIGTERM the daemon; returns its process (the fixture forgets it)."""
    proc, d.proc = d.proc, None
    proc.send_signal(signal.SIGTERM)
    return proc


def test_ready_only_once_the_api_answers(launcher, notify):
    seen = {}

    def probe(msg):
        # Sent after listen(): a connection made now is accepted.
        port = re.search(r'on 127\.0\.0\.1:([0-9]+)', msg)
        if 'READY=1' in msg.split('\n') and port and 'connect' not in seen:
            with socket.socket() as s:
                seen['connect'] = s.connect_ex(('127.0.0.1',
                                                int(port.group(1))))
    notify.on_message = probe
    d = launcher.start(**conf())
    wait_for(lambda: notify.with_line('READY=1'), 5, what='READY=1')
    ready = notify.with_line('READY=1')
    assert len(ready) == 1, notify.messages
    assert seen['connect'] == 0
    assert ("STATUS=serving as conductor '%s' on 127.0.0.1:%d"
            % (CONDUCTOR_HOST, d.port)) in ready[0][1].split('\n')
    proc = sigterm(d)
    assert proc.wait(timeout=10) == 0
    stopping = notify.with_line('STOPPING=1')
    assert len(stopping) == 1 and stopping[0][0] > ready[0][0]
    assert 'STATUS=stopping: no new work' in stopping[0][1].split('\n')
    assert re.search(r'stopped in [0-9.]+ s after waiting for 0 jobs',
                     d.log_text())
    assert 'cannot notify' not in d.log_text()


def test_without_notify_socket_nothing_changes(launcher, monkeypatch):
    for var in ('NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'):
        monkeypatch.delenv(var, raising=False)
    d = launcher.start(**conf())
    assert d.get('/v1/nodes').status_code == 200
    assert sigterm(d).wait(timeout=10) == 0
    log = d.log_text()
    assert 'cannot notify' not in log and 'watchdog' not in log


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


@pytest.mark.parametrize('notify', ['path'], indirect=True)
def test_watchdog_pings_only_while_healthy(launcher, notify, monkeypatch):
    monkeypatch.setenv('WATCHDOG_USEC', '1000000')     # pings every 0.5 s
    d = launcher.start(**conf())
    wait_for(lambda: len(notify.with_line('WATCHDOG=1')) >= 4, 5,
             what='four pings')
    healthy = [t for t, _ in notify.with_line('WATCHDOG=1')]
    assert all(0.25 < g < 0.9 for g in gaps(healthy)), gaps(healthy)
    assert 'watchdog: pinging systemd every 0.5 s' in d.log_text()

    # Wedge the store for real: the daemon's store, write-locked.
    with StoreWriteLock(d):
        locked = time.monotonic()
        time.sleep(0.1)             # a ping already on its way may land
        wait_for(lambda: time.monotonic() - locked > 2.5, 5,
                 interval=0.1, what='the wedge to last')
        during = [t for t, _ in notify.with_line('WATCHDOG=1')
                  if t > locked + 0.6]
        assert during == [], during
    released = time.monotonic()
    wait_for(lambda: [t for t, _ in notify.with_line('WATCHDOG=1')
                      if t > released], 3, what='pings to resume')
    log = d.log_text()
    assert 'watchdog: not pinging systemd: the health check took' in log
    wait_for(lambda: 'watchdog: healthy again' in d.log_text(), 3,
             what='the log to say so')
    assert notify.with_line('STATUS=unhealthy: the health check took %s'
                            % re.search(r'health check took ([0-9.]+ s)',
                                        log).group(1))


@pytest.mark.parametrize('notify', ['abstract'], indirect=True)
def test_sigterm_waits_for_a_running_job(launcher, notify):
    d = launcher.start(**conf())
    busy = fake_node(d, JOB_DELAY)
    other = fake_node(d, 0)
    assert put_power(d, busy['uuid'], 'power on').status_code == 202
    job_started(d, busy['uuid'], 'power action')
    start = time.monotonic()
    proc = sigterm(d)
    wait_for(lambda: notify.with_line('STOPPING=1'), 5, what='STOPPING=1')

    # Reads answer; work is refused in Ironic's format.
    assert get_node(d, busy['uuid'])['target_power_state'] == 'power on'
    assert d.get('/v1/nodes').status_code == 200
    assert_error(put_power(d, other['uuid'], 'power on'), 503,
                 STOPPING_MSG)
    assert_error(put_provision(d, other['uuid'], 'manage'), 503,
                 STOPPING_MSG)
    assert_error(d.post('/v1/nodes', {'driver': 'fake-hardware'}), 503,
                 STOPPING_MSG)
    assert_error(d.put('/v1/nodes/%s/management/boot_device'
                       % other['uuid'], {'boot_device': 'pxe'}), 503,
                 STOPPING_MSG)
    assert_error(d.post('/v1/nodes/%s/vifs' % other['uuid'],
                        {'id': 'vif-a'}), 503, STOPPING_MSG)
    assert_error(d.delete('/v1/nodes/%s/vifs/vif-a' % other['uuid']), 503,
                 STOPPING_MSG)
    assert d.get('/v1/nodes/%s/vifs' % other['uuid']).status_code == 200
    assert get_node(d, other['uuid'])['target_power_state'] is None
    assert len(d.get('/v1/nodes').json()['nodes']) == 2

    assert proc.wait(timeout=JOB_DELAY * 2 + MARGIN) == 0
    assert time.monotonic() - start < JOB_DELAY * 2 + MARGIN
    assert re.search(r'stopped in [0-9.]+ s after waiting for 1 jobs',
                     d.log_text())
    d.start()
    node = get_node(d, busy['uuid'])
    assert (node['power_state'], node['target_power_state'],
            node['last_error'], node['reservation']) == \
        ('power on', None, None, None)


def test_a_heartbeat_that_would_finalize_is_refused(launcher, tmp_path,
                                                    monkeypatch):
    monkeypatch.delenv('NOTIFY_SOCKET', raising=False)
    lab = RescueLab(launcher, tmp_path / 'lab',
                    DEFAULT={'graceful_shutdown_timeout': 30})
    d = lab.d
    node, _ = lab.node(None, boot='fake', bios=False)
    to_rescue_wait(lab, node['uuid'])
    r = d.get('/v1/lookup?node_uuid=%s' % node['uuid'], version='1.62')
    assert r.status_code == 200, r.text
    token = r.json()['config']['agent_token']
    busy = fake_node(d, JOB_DELAY)
    assert put_power(d, busy['uuid'], 'power on').status_code == 202
    job_started(d, busy['uuid'], 'power action')
    proc = sigterm(d)
    wait_for(lambda: 'queued jobs failed back' in d.log_text(), 5,
             what='the stop to begin')
    r = d.post('/v1/heartbeat/%s' % node['uuid'], {
        'callback_url': 'http://127.0.0.1:9', 'agent_token': token,
        'agent_version': '11.2.0'}, version='1.68')
    assert_error(r, 503, STOPPING_MSG)
    n = get_node(d, node['uuid'])
    assert (n['provision_state'], n['reservation']) == ('rescue wait', None)
    assert proc.wait(timeout=JOB_DELAY * 2 + MARGIN) == 0


def test_past_the_timeout_nodes_are_handed_over(launcher, monkeypatch):
    monkeypatch.delenv('NOTIFY_SOCKET', raising=False)
    d = launcher.start(**conf(graceful_shutdown_timeout=TIMEOUT))
    busy = fake_node(d, 30)
    assert put_power(d, busy['uuid'], 'power on').status_code == 202
    job_started(d, busy['uuid'], 'power action')
    start = time.monotonic()
    proc = sigterm(d)
    assert proc.wait(timeout=TIMEOUT + MARGIN) == 1
    assert time.monotonic() - start < TIMEOUT + MARGIN
    log = d.log_text()
    assert ('graceful_shutdown_timeout (%d s) passed with 1 jobs running'
            % TIMEOUT) in log
    assert re.search(r"handing over node %s: power action running for "
                     r"[0-9]+ s in provision state 'enroll', power "
                     r"'None' -> 'power on'" % busy['uuid'], log), log
    d.start()
    node = get_node(d, busy['uuid'])
    assert node['target_power_state'] is None
    assert node['reservation'] is None
    assert node['last_error'] == RESTART_POWER_MSG % 'power on'


def test_a_soft_power_off_wait_ends_at_the_stop(launcher, monkeypatch):
    """A safe point: the wait for a soft power-off is cut short (no hard
    power-off follows); the action fails with the reason, exit 0."""
    monkeypatch.delenv('NOTIFY_SOCKET', raising=False)
    d = launcher.start(**conf())
    node = d.create_node(driver_info={'fake_soft_off': 'ignore'})
    assert put_power(d, node['uuid'], 'power on').status_code == 202
    wait_for(lambda: get_node(d, node['uuid'])['target_power_state']
             is None, 10, what='power on')
    assert put_power(d, node['uuid'], 'soft power off',
                     timeout=60).status_code == 202
    job_started(d, node['uuid'], 'power action')
    start = time.monotonic()
    assert sigterm(d).wait(timeout=MARGIN) == 0
    assert time.monotonic() - start < MARGIN
    d.start()
    n = get_node(d, node['uuid'])
    assert (n['power_state'], n['target_power_state'], n['reservation']) \
        == ('power on', None, None)
    assert n['last_error'] == (
        "Failed to change power state to 'power off'. Error: soft "
        "power off not confirmed: lifeboatd stopped waiting for it")


def test_queued_jobs_are_failed_back(launcher, monkeypatch):
    monkeypatch.delenv('NOTIFY_SOCKET', raising=False)
    sections = conf()
    sections['conductor']['workers_pool_size'] = 2     # 2 run, 2 queue
    d = launcher.start(**sections)
    runners = [fake_node(d, JOB_DELAY) for _ in range(2)]
    queued_power = fake_node(d, 0)
    queued_verify = fake_node(d, 0)
    for n in runners:
        assert put_power(d, n['uuid'], 'power on').status_code == 202
    for n in runners:
        job_started(d, n['uuid'], 'power action')
    assert put_power(d, queued_power['uuid'],
                     'power on').status_code == 202
    assert put_provision(d, queued_verify['uuid'],
                         'manage').status_code == 202
    proc = sigterm(d)

    def settled(uuid):
        n = get_node(d, uuid)
        return n if n['reservation'] is None else None
    # While the running jobs still run: the queued ones were put back.
    p = wait_for(lambda: settled(queued_power['uuid']), 5,
                 what='the queued power action to be put back')
    v = wait_for(lambda: settled(queued_verify['uuid']), 5,
                 what='the queued verify to be put back')
    assert get_node(d, runners[0]['uuid'])['reservation'] is not None
    assert (p['provision_state'], p['power_state'],
            p['target_power_state'], p['last_error']) == \
        ('enroll', None, None,
         'lifeboatd stopped before the power action began')
    assert (v['provision_state'], v['target_provision_state'],
            v['last_error']) == \
        ('enroll', None, 'lifeboatd stopped before the verify began')
    assert proc.wait(timeout=JOB_DELAY * 2 + MARGIN) == 0
    assert re.search(r'2 queued jobs failed back, waiting up to 30 s for '
                     r'2 running', d.log_text())
    d.start()
    for n in runners:
        assert get_node(d, n['uuid'])['power_state'] == 'power on'
    again = get_node(d, queued_verify['uuid'])
    assert (again['provision_state'], again['last_error']) == \
        ('enroll', 'lifeboatd stopped before the verify began')


def test_unit_file_is_type_notify_and_verifies(tmp_path):
    text = (Path(__file__).resolve().parents[2] / 'etc' /
            'lifeboatd.service.in').read_text()
    unit = tmp_path / 'lifeboatd.service'
    unit.write_text(text.replace('@SBINDIR@/lifeboatd', LIFEBOATD))
    keys = dict(re.findall(r'^(\w+)=(.*)$', text, re.M))
    assert keys['Type'] == 'notify' and keys['NotifyAccess'] == 'main'
    assert int(keys['WatchdogSec']) > 0
    assert keys['Restart'] == 'on-failure'
    # Covers the default graceful_shutdown_timeout (60 s).
    assert int(keys['TimeoutStopSec']) > 60
    p = subprocess.run(['systemd-analyze', 'verify', str(unit)],
                       capture_output=True, text=True, timeout=60)
    problems = [line for line in (p.stdout + p.stderr).splitlines()
                if 'lifeboatd.service' in line]
    assert p.returncode == 0 and problems == [], p.stdout + p.stderr
