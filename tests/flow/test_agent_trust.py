"""Trust at the agent's endpoints (issue 10, items 5, 6 and 10): what a
stranger on the provisioning network can do with lookup and heartbeat.

* A flood of heartbeats with a wrong token is refused on a read of the node
  (no write lock, no worker), so a real heartbeat sent among 1,000 of them
  is still answered within 100 ms and the rescue goes on.
* A lookup in rescue wait after the token was issued (the ramdisk restarted
  by itself) leaves a clear last_error, once, without the token; lifeboat's
  own power-off before the boot wipes the token, so only the ramdisk it
  booted is issued one.
* A callback_url with a control character, a scheme other than http or
  https, or no host is refused with 400 and changes nothing.

The agent here is the test itself (lookup and heartbeat over raw HTTP) plus
a small in-test HTTP server that answers finalize_rescue, or
tests/lab/fake_agent.py.  Every socket and server is closed at the end;
every wait polls with a deadline.
"""

import http.server
import json
import resource
import select
import socket
import subprocess
import sqlite3
import threading
import time

import pytest

from conftest import PG_BIN, assert_error, pg_args, wait_for
from power_helpers import get_node
from rescue_helpers import (MASK, TOKEN_INVALID_MSG, OnRescueWait, RescueLab,
                            end_state, put_verb, to_rescue_wait)
from rescue_helpers import agents, emu  # noqa: F401 (fixtures)
from power_helpers import bmcs  # noqa: F401 (a fixture)

FLOOD = 1000
FLOOD_SOURCES = ['127.0.1.%d' % i for i in range(1, 51)]    # 20 each
REAL_SOURCE = '127.0.2.1'
ANSWER_WITHIN = 0.100
RELOOKUP_MSG = (
    'The rescue ramdisk looked the node up again after its agent token had '
    'been issued: the agent restarted by itself and cannot authenticate, '
    'so the rescue cannot finish. Abort the rescue (openstack baremetal '
    'node abort) and rescue the node again; lifeboat issues a new token '
    'only to a ramdisk it booted itself.')


# ----------------------------------------------------------------- helpers

class MiniAgent:
    """Answers POST /v1/commands/ like IPA's finalize_rescue and records
    the calls; nothing else."""

    def __init__(self):
        self.calls = []
        agent = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(n) or b'{}')
                agent.calls.append((self.path, body))
                out = json.dumps({
                    'id': '6b1ad0b7-3a39-4d4b-9bd6-38dbcbd9a1a4',
                    'command_name': 'finalize_rescue',
                    'command_status': 'SUCCEEDED', 'command_error': None,
                    'command_result': None}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.srv.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def mini_agent():
    a = MiniAgent()
    yield a
    a.close()


@pytest.fixture
def many_fds():
    """Room for a thousand sockets here and in the daemon started after
    (it inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < FLOOD + 200:
        pytest.skip('RLIMIT_NOFILE hard limit %d is too low' % hard)
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def lookup(d, uuid, version='1.62'):
    r = d.get('/v1/lookup?node_uuid=%s' % uuid, version=version)
    assert r.status_code == 200, r.text
    return r.json()['config'].get('agent_token')


def heartbeat(d, uuid, body, version='1.68'):
    return d.post('/v1/heartbeat/%s' % uuid, body, version=version)


def raw_heartbeat(port, uuid, body):
    data = json.dumps(body).encode()
    return (b'POST /v1/heartbeat/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n'
            b'X-OpenStack-Ironic-API-Version: 1.68\r\n'
            b'Content-Type: application/json\r\nContent-Length: %d\r\n'
            b'Connection: close\r\n\r\n' % (uuid.encode(), port, len(data))
            + data)


def connect_from(source, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((source, 0))
    try:
        s.connect(('127.0.0.1', port))
    except BlockingIOError:
        pass
    return s


def read_reply(s, deadline):
    """The whole reply on 's' (closed by the server after it)."""
    data = b''
    while time.monotonic() < deadline:
        ready, _, _ = select.select([s], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def status_and_fault(reply):
    head, _, body = reply.partition(b'\r\n\r\n')
    status = int(head.split(b' ', 2)[1]) if head else None
    try:
        fault = json.loads(json.loads(body)['error_message'])['faultstring']
    except (ValueError, KeyError, TypeError):
        fault = None
    return status, fault


class StoreWriter(threading.Thread):
    """Stands in for the conductor's own writers (jobs finishing, other
    agents' heartbeats): takes the store's write lock for 'hold' seconds
    every 'every' seconds, as a transaction on another connection does
    (on PostgreSQL: a psql session's LOCK TABLE nodes IN EXCLUSIVE MODE,
    which row locks and writes wait for)."""

    def __init__(self, d, hold=0.002, every=0.010):
        super().__init__(daemon=True)
        self.path = str(d.state_path / 'lifeboat.sqlite')
        self.pg_url = getattr(d, '_pg_url', None)
        self.hold, self.every = hold, every
        self.halt = threading.Event()
        self.rounds = 0

    def run(self):
        if self.pg_url is not None:
            self.run_pg()
            return
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            while not self.halt.is_set():
                db.execute('BEGIN IMMEDIATE')
                time.sleep(self.hold)
                db.execute('COMMIT')
                self.rounds += 1
                self.halt.wait(self.every - self.hold)
        finally:
            db.close()

    def run_pg(self):
        args, db = pg_args(self.pg_url)
        psql = subprocess.Popen(
            [PG_BIN + 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db]
            + args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            text=True)
        try:
            while not self.halt.is_set() and psql.poll() is None:
                psql.stdin.write('BEGIN; LOCK TABLE nodes IN EXCLUSIVE MODE; '
                                 'SELECT pg_sleep(%f); COMMIT;\n' % self.hold)
                psql.stdin.flush()
                self.rounds += 1
                self.halt.wait(self.every)
        finally:
            psql.stdin.close()
            psql.wait(10)

    def stop(self):
        self.halt.set()
        self.join(10)


def warm_up(d, uuid, rounds=3, width=64):
    """Store reads on every API thread, so the flood meets threads that
    already have their store connection (as a running conductor's do)."""
    req = (b'GET /v1/nodes/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
           b'Connection: close\r\n\r\n' % uuid.encode())
    for _ in range(rounds):
        # Spread over addresses: one may hold [api] max_connections_per_ip.
        socks = [connect_from('127.0.3.%d' % (i % 8 + 1), d.port)
                 for i in range(width)]
        deadline = time.monotonic() + 30
        wait_writable(socks, deadline)
        for s in socks:
            s.sendall(req)
        for s in socks:
            assert status_and_fault(read_reply(s, deadline))[0] == 200
            s.close()


def answered(socks):
    """How many of 'socks' have a reply (or the end) waiting."""
    return sum(len(select.select(socks[i:i + 500], [], [], 0)[0])
               for i in range(0, len(socks), 500))


def wait_writable(socks, deadline):
    pending = set(socks)
    while pending:
        assert time.monotonic() < deadline, '%d connects pending' % len(
            pending)
        _, ready, _ = select.select([], list(pending)[:900], [], 0.5)
        pending -= set(ready)


# ------------------------------------------------- 6: heartbeat flood

def test_real_heartbeat_answered_amid_bad_ones(launcher, tmp_path, many_fds,
                                               mini_agent):
    """1,000 heartbeats with a wrong token, from 50 addresses, are in
    flight when the real one (the right token, the node in rescue wait) is
    sent from another address: it is answered (202) within 100 ms and the
    rescue finishes.  Every bad one gets Ironic's 400.

    The conductor is busy, as a real one is: another writer takes the
    store's write lock for 2 ms every 10 ms, and only two workers exist.
    A heartbeat that took the write lock or a worker before checking the
    token queues on the lock, and its flood leaves no worker for the real
    one (503) or for itself (503 instead of 400)."""
    # As many API threads as a mid-size conductor has cores.
    lab = RescueLab(launcher, tmp_path / 'lab', api={'api_workers': 8},
                    conductor={'workers_pool_size': 2})
    d = lab.d
    node, _ = lab.node(None, boot='fake', bios=False)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    token = lookup(d, uuid)
    assert token and token != MASK
    bad = raw_heartbeat(d.port, uuid, {
        'callback_url': mini_agent.url, 'agent_token': 'x' * len(token),
        'agent_version': '11.2.0'})
    good = raw_heartbeat(d.port, uuid, {
        'callback_url': mini_agent.url, 'agent_token': token,
        'agent_version': '11.2.0'})
    before = get_node(d, uuid)
    warm_up(d, uuid)

    writer = StoreWriter(d)
    writer.start()
    deadline = time.monotonic() + 60
    flood = [connect_from(FLOOD_SOURCES[i % len(FLOOD_SOURCES)], d.port)
             for i in range(FLOOD)]
    real = None
    try:
        wait_writable(flood, deadline)
        # All but the last byte first, then the last bytes at once: the
        # thousand requests are complete (in flight) within a few ms.
        for s in flood:
            s.sendall(bad[:-1])
        real = socket.create_connection(('127.0.0.1', d.port), timeout=10,
                                        source_address=(REAL_SOURCE, 0))
        for s in flood[:FLOOD // 2]:
            s.sendall(bad[-1:])
        # Half of the flood is complete, half is a byte short: all of it
        # is in flight when the real one goes.
        unanswered = FLOOD - answered(flood)
        real.sendall(good)
        sent = time.monotonic()
        for s in flood[FLOOD // 2:]:
            s.sendall(bad[-1:])
        first = real.recv(1)
        took = time.monotonic() - sent
        pending = FLOOD - answered(flood)
        real.setblocking(False)
        reply = first + read_reply(real, deadline)
        print('real heartbeat answered in %.1f ms; %d bad ones unanswered '
              'when it was sent, %d when it was answered'
              % (took * 1000, unanswered, pending))
        assert unanswered >= FLOOD // 2, unanswered
        assert status_and_fault(reply)[0] == 202, reply
        assert took < ANSWER_WITHIN, (
            'the real heartbeat took %.0f ms' % (took * 1000))
        replies = [status_and_fault(read_reply(s, deadline)) for s in flood]
        wrong = [r for r in replies if r != (400, TOKEN_INVALID_MSG)]
        assert not wrong, (len(wrong), wrong[:5])
    finally:
        writer.stop()
        for s in flood:
            s.close()
        if real is not None:
            real.close()
    assert writer.rounds > 0

    node = end_state(d, uuid, {'rescue', 'rescue failed'}, 30)
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    assert len(mini_agent.calls) == 1, mini_agent.calls
    path, body = mini_agent.calls[0]
    assert body['name'] == 'rescue.finalize_rescue'
    assert 'agent_token=%s' % token in path
    assert before['driver_internal_info'].get('agent_url') is None
    assert 'heartbeat refused' in d.log_text()


# ------------------------------------- 5: an agent restarted by itself

def finish_with(d, uuid, token, url):
    """The real agent's heartbeat; the node once the rescue is over."""
    r = heartbeat(d, uuid, {'callback_url': url, 'agent_token': token,
                            'agent_version': '11.2.0'})
    assert r.status_code == 202, r.text
    return end_state(d, uuid, {'rescue', 'rescue failed'}, 30)


def test_second_lookup_in_rescue_wait_is_reported(launcher, tmp_path,
                                                  mini_agent):
    """The ramdisk lifeboat booted got the token; a second lookup in rescue
    wait means it restarted by itself and can never heartbeat ("******").
    The node says so in last_error (once, in the log too, never the
    token), and the way out it names works: abort, rescue again, and the
    new boot's lookup is issued a fresh token."""
    lab = RescueLab(launcher, tmp_path / 'lab')
    d = lab.d
    node, _ = lab.node(None, boot='fake', bios=False)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    first = lookup(d, uuid)
    assert first and first != MASK
    assert get_node(d, uuid)['last_error'] is None
    for _ in range(3):
        assert lookup(d, uuid) == MASK
    node = get_node(d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert node['last_error'] == RELOOKUP_MSG, node
    assert node['driver_internal_info']['agent_secret_token'] == MASK
    log = d.log_text()
    assert log.count('lookup again in rescue wait') == 1, log[-3000:]
    assert first not in log
    assert first not in json.dumps(d.snapshot())
    # The old token is still the only one: a heartbeat with it works, so
    # nothing was taken from an agent that did not restart after all.
    r = heartbeat(d, uuid, {'callback_url': mini_agent.url,
                            'agent_token': 'y' * len(first),
                            'agent_version': '11.2.0'})
    assert_error(r, 400, TOKEN_INVALID_MSG)

    # What last_error says to do.
    r = put_verb(d, uuid, 'abort')
    assert r.status_code == 202, r.text
    end_state(d, uuid, {'rescue failed'})
    to_rescue_wait(lab, uuid, password='An0ther-PW')
    assert get_node(d, uuid)['last_error'] is None
    second = lookup(d, uuid)
    assert second and second not in (MASK, first)
    node = finish_with(d, uuid, second, mini_agent.url)
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    assert len(mini_agent.calls) == 1


def test_restarted_agent_with_the_simulated_ipa(launcher, tmp_path, emu,
                                                agents):
    """The same with tests/lab/fake_agent.py on a lab IPMI machine: the
    first agent looks up and dies; its restart gets "******", has no
    token and is refused; the node says why, and abort plus a new rescue
    (lifeboat powers the machine off and on) finishes with a new agent."""
    lab = RescueLab(launcher, tmp_path / 'lab')
    d = lab.d
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    first = agents.start(lab.api_url, mac, '--stop-after-lookup')
    assert first.wait_exit(30) == 0
    assert first.token()
    again = agents.start(lab.api_url, mac, '--heartbeat-error-interval',
                         '0.3')
    beats = again.wait_heartbeats(2)
    lookups = [e for e in again.entries('lookup') if e['status'] == 200]
    assert lookups[0]['body']['config']['agent_token'] == MASK
    for hb in beats:
        assert hb['status'] == 400, hb
    node = get_node(d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert node['last_error'] == RELOOKUP_MSG, node
    assert first.token() not in d.log_text()
    assert again.commands_in() == []
    again.stop()

    r = put_verb(d, uuid, 'abort')
    assert r.status_code == 202, r.text
    end_state(d, uuid, {'rescue failed'})
    watcher = OnRescueWait(d, uuid, start_agent=lambda: agents.start(
        lab.api_url, mac))
    watcher.start()
    r = d.put('/v1/nodes/%s/states/provision' % uuid,
              {'target': 'rescue', 'rescue_password': 'An0ther-PW'})
    assert r.status_code == 202, r.text
    node = end_state(d, uuid, {'rescue', 'rescue failed'}, 60)
    watcher.result()
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    assert watcher.agent.wait_exit(30) == 0
    assert watcher.agent.token() not in (None, first.token())


def test_token_issued_only_to_the_ramdisk_lifeboat_booted(launcher, tmp_path,
                                                          mini_agent):
    """A lookup while the rescue job has not yet powered the node off (an
    agent left running from an earlier rescue, or a stranger) is issued a
    token; lifeboat's power-off wipes it, so the ramdisk it then boots is
    issued its own and can finish the rescue.  An operator's reboot in
    rescue wait wipes it too (Ironic's rule for power off and reboot)."""
    from rescue_helpers import ImageServer, KERNEL_DATA, RAMDISK_DATA
    images = ImageServer({'/k': KERNEL_DATA, '/r': RAMDISK_DATA})
    try:
        lab = RescueLab(launcher, tmp_path / 'lab')
        d = lab.d
        node, _ = lab.node(None, boot='fake', bios=False, driver_info={
            'rescue_kernel': images.url + '/k',
            'rescue_ramdisk': images.url + '/r'})
        uuid = node['uuid']
        images.stall('/k')
        r = d.put('/v1/nodes/%s/states/provision' % uuid,
                  {'target': 'rescue', 'rescue_password': 'Resc-ue-PW1'})
        assert r.status_code == 202, r.text
        wait_for(lambda: images.stalled('/k') >= 1, 30,
                 what='the kernel fetch')
        assert get_node(d, uuid)['provision_state'] == 'rescuing'
        early = lookup(d, uuid)
        assert early and early != MASK
        images.release()
        node = end_state(d, uuid, {'rescue wait', 'rescue failed'}, 30)
        assert node['provision_state'] == 'rescue wait', node
        dii = get_node(d, uuid)['driver_internal_info']
        assert 'agent_secret_token' not in dii, dii
        booted = lookup(d, uuid)
        assert booted and booted not in (MASK, early)
        assert get_node(d, uuid)['last_error'] is None

        # The operator reboots the node: its next lookup gets a new one.
        r = d.put('/v1/nodes/%s/states/power' % uuid,
                  {'target': 'rebooting'})
        assert r.status_code == 202, r.text
        node = wait_for(lambda: (lambda n: n if n['target_power_state']
                                 is None else None)(get_node(d, uuid)), 30,
                        what='the reboot')
        assert 'agent_secret_token' not in node['driver_internal_info']
        again = lookup(d, uuid)
        assert again and again not in (MASK, early, booted)
        r = heartbeat(d, uuid, {'callback_url': mini_agent.url,
                                'agent_token': booted,
                                'agent_version': '11.2.0'})
        assert_error(r, 400, TOKEN_INVALID_MSG)
        node = finish_with(d, uuid, again, mini_agent.url)
        assert node['provision_state'] == 'rescue', node
        assert node['last_error'] is None, node
    finally:
        images.close()


# ------------------------------------------- 10: callback_url spellings

CONTROL_MSG = 'Invalid callback_url: it holds a control character'
SCHEME_MSG = 'Invalid callback_url: it must be an http:// or https:// URL'
NO_HOST_MSG = 'Invalid callback_url: it names no host'

BAD_CALLBACK_URLS = [
    ('http://127.0.0.1:9999/\n', CONTROL_MSG),
    ('http://127.0.0.1:9999\r\nX-Injected: 1', CONTROL_MSG),
    ('http://127.0.0.1\t:9999', CONTROL_MSG),
    ('http://127.0.0.1:9999/\x7f', CONTROL_MSG),
    ('http://127.0.0.1:9999\x00.example', CONTROL_MSG),
    ('\x1bhttp://127.0.0.1:9999', CONTROL_MSG),
    ('http://127.0.0.1:9999/\x01', CONTROL_MSG),
    ('ftp://127.0.0.1:9999', SCHEME_MSG),
    ('file:///etc/passwd', SCHEME_MSG),
    ('FILE://localhost/etc/passwd', SCHEME_MSG),
    ('gopher://127.0.0.1:70/', SCHEME_MSG),
    ('javascript:alert(1)', SCHEME_MSG),
    ('httpx://127.0.0.1:9999', SCHEME_MSG),
    ('xhttp://127.0.0.1:9999', SCHEME_MSG),
    ('hxxp://127.0.0.1:9999', SCHEME_MSG),
    ('127.0.0.1:9999', SCHEME_MSG),
    ('//127.0.0.1:9999', SCHEME_MSG),
    ('', SCHEME_MSG),
    ('http://', NO_HOST_MSG),
    ('https://', NO_HOST_MSG),
    ('http://:9999', NO_HOST_MSG),
    ('HTTPS://:9999/x', NO_HOST_MSG),
    ('http://@/', NO_HOST_MSG),
]


def test_bad_callback_urls_refused(launcher, tmp_path):
    """Every bad spelling: 400 in Ironic's format, nothing changed, the
    rescue still waiting; the good token is sent each time."""
    lab = RescueLab(launcher, tmp_path / 'lab')
    d = lab.d
    node, _ = lab.node(None, boot='fake', bios=False)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    token = lookup(d, uuid)
    before = d.snapshot()
    for url, message in BAD_CALLBACK_URLS:
        r = heartbeat(d, uuid, {'callback_url': url, 'agent_token': token,
                                'agent_version': '11.2.0'})
        assert_error(r, 400, message)
    assert d.snapshot() == before
    log = d.log_text()
    assert 'X-Injected' not in log and '\x1b' not in log


@pytest.mark.parametrize('scheme', ['HTTP', 'Http', 'hTTp'])
def test_callback_url_scheme_case(launcher, tmp_path, mini_agent, scheme):
    """The scheme is compared as parsed, so its case does not matter: the
    rescue finishes through an HTTP:// URL; with [agent] require_tls it is
    still plain HTTP and refused."""
    lab = RescueLab(launcher, tmp_path / 'lab')
    d = lab.d
    node, _ = lab.node(None, boot='fake', bios=False)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    token = lookup(d, uuid)
    url = mini_agent.url.replace('http', scheme, 1)
    node = finish_with(d, uuid, token, url)
    assert node['provision_state'] == 'rescue', node
    assert node['driver_internal_info']['agent_url'] == url
    assert len(mini_agent.calls) == 1


def test_require_tls_uses_the_parsed_scheme(launcher, tmp_path):
    lab = RescueLab(launcher, tmp_path / 'lab', agent={'require_tls': True})
    d = lab.d
    node, _ = lab.node(None, boot='fake', bios=False)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    token = lookup(d, uuid)
    before = d.snapshot()
    for url in ('HTTP://127.0.0.1:9', 'http://127.0.0.1:9'):
        r = heartbeat(d, uuid, {'callback_url': url, 'agent_token': token,
                                'agent_version': '11.2.0'})
        assert_error(r, 400, 'TLS is required by configuration')
    assert d.snapshot() == before
    # HTTPS in any case passes the TLS rule (and is recorded as sent).
    r = heartbeat(d, uuid, {'callback_url': 'HTTPS://127.0.0.1:9',
                            'agent_token': token, 'agent_version': '11.2.0'})
    assert r.status_code == 202, r.text
