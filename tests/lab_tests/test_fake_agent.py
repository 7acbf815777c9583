"""Tests for tests/lab/fake_agent.py, the simulated ironic-python-agent.

Each test runs the agent (a real process, stopped by PID at teardown)
against FakeIronic, an in-test http.server thread that records every raw
request and answers like Ironic does (ironic-contract.md section 5.2): a
token on the first lookup, "******" afterwards, 202 to good heartbeats and
400 with the double-encoded error body to bad ones.  Waiting is by polling.
"""

import http.client
import http.server
import json
import re
import secrets
import select
import signal
import ssl
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

LAB = Path(__file__).resolve().parents[1] / 'lab'
AGENT = LAB / 'fake_agent.py'
PYTHON = '/usr/bin/python3'
MACS = ['52:54:00:aa:bb:01', '52:54:00:aa:bb:02']
HASH = '$5$zmJpogSMWgzN36u5$XP9hizfST3j5x3umDLSb6yV7mAy5IHA3B631WPjz8d8'
TOKEN_INVALID = {'faultcode': 'Client',
                 'faultstring': '401 Unauthorized: Token invalid.'}


def poll(predicate, timeout=10.0, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s' % what)
        time.sleep(0.02)


def ironic_error(text):
    return json.dumps({'error_message': json.dumps(
        {'faultcode': 'Client', 'faultstring': text, 'debuginfo': None})})


# ------------------------------------------------------------- fake Ironic

class FakeIronic:
    """Records raw requests; answers GET /, lookup and heartbeat."""

    def __init__(self, max_version='1.78', heartbeat_timeout=300,
                 token=None, root_fails=False):
        self.max_version = max_version
        self.heartbeat_timeout = heartbeat_timeout
        self.root_fails = root_fails
        self.node_uuid = str(uuid.uuid4())
        self.token = token            # pre-set = pregenerated (vmedia)
        self.lookup_script = []       # (status, body) answered first
        self.requests = []
        self.lock = threading.Lock()
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                fake._handle(self)

            do_POST = do_GET

        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        self.srv.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, args=(0.05,),
                         daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def version_tuple(self):
        return tuple(int(x) for x in self.max_version.split('.'))

    def _send(self, h, status, body=None, version=None):
        data = body.encode() if isinstance(body, str) else (
            json.dumps(body).encode() if body is not None else b'')
        h.send_response(status)
        h.send_header('X-OpenStack-Ironic-API-Minimum-Version', '1.1')
        h.send_header('X-OpenStack-Ironic-API-Maximum-Version',
                      self.max_version)
        if version:
            h.send_header('X-OpenStack-Ironic-API-Version', version)
        if data:
            h.send_header('Content-Type', 'application/json')
        h.send_header('Content-Length', str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h):
        length = int(h.headers.get('Content-Length') or 0)
        body = h.rfile.read(length) if length else b''
        rec = {'method': h.command, 'path': h.path,
               'headers': list(h.headers.items()), 'body': body,
               't': time.monotonic()}
        with self.lock:
            self.requests.append(rec)
        version = h.headers.get('X-OpenStack-Ironic-API-Version')
        path = h.path.split('?')[0]
        if h.command == 'GET' and path == '/':
            if self.root_fails:
                return self._send(h, 500, 'oops, not JSON')
            v = {'id': 'v1', 'links': [{'href': self.url + '/v1/',
                                        'rel': 'self'}],
                 'status': 'CURRENT', 'min_version': '1.1',
                 'version': self.max_version}
            return self._send(h, 200, {
                'name': 'OpenStack Ironic API', 'description': 'fake',
                'default_version': v, 'versions': [v]})
        if h.command == 'GET' and path == '/v1/lookup':
            with self.lock:
                scripted = (self.lookup_script.pop(0)
                            if self.lookup_script else None)
            if scripted:
                return self._send(h, scripted[0], scripted[1], version)
            config = {'metrics': {'backend': 'noop'},
                      'heartbeat_timeout': self.heartbeat_timeout}
            if version and tuple(map(int, version.split('.'))) >= (1, 62):
                with self.lock:
                    if self.token is None:
                        self.token = secrets.token_urlsafe()
                        config['agent_token'] = self.token
                    else:
                        config['agent_token'] = '******'
                config['agent_token_required'] = True
            return self._send(h, 200, {
                'node': {'uuid': self.node_uuid, 'properties': {},
                         'instance_info': {}, 'driver_internal_info': {}},
                'config': config}, version)
        m = re.fullmatch(r'/v1/heartbeat/([^/?]+)', path)
        if h.command == 'POST' and m:
            try:
                sent = json.loads(body)
            except ValueError:
                return self._send(h, 400, ironic_error('bad body'), version)
            if self.token is not None and \
                    sent.get('agent_token') != self.token:
                return self._send(h, 400, ironic_error(
                    'Invalid or missing agent token received.'), version)
            return self._send(h, 202, None, version)
        self._send(h, 404, ironic_error('Resource could not be found.'))

    # -- queries
    def of(self, method, prefix):
        with self.lock:
            return [r for r in self.requests
                    if r['method'] == method and r['path'].startswith(prefix)]

    def heartbeats(self):
        return self.of('POST', '/v1/heartbeat/')

    def lookups(self):
        return self.of('GET', '/v1/lookup')

    def roots(self):
        return [r for r in self.of('GET', '/') if r['path'] == '/']


def header(rec, name):
    vals = [v for k, v in rec['headers'] if k.lower() == name.lower()]
    assert len(vals) <= 1, vals
    return vals[0] if vals else None


# --------------------------------------------------------------- the agent

class AgentProc:
    def __init__(self, argv, state_dir, stderr_path):
        self.state_dir = Path(state_dir)
        self.stderr_path = stderr_path
        self._err = open(stderr_path, 'wb')
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE,
                                      stderr=self._err)
        self.pid = self.popen.pid
        self._line = None

    def first_line(self, timeout=15):
        if self._line is None:
            ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
            assert ready, 'no first line from the agent:\n' + self.stderr()
            raw = self.popen.stdout.readline()
            assert raw, 'agent exited without a line:\n' + self.stderr()
            self._line = json.loads(raw)
        return self._line

    @property
    def url(self):
        return self.first_line()['callback_url']

    def stderr(self):
        return Path(self.stderr_path).read_text(errors='replace')

    def wire(self, kind=None):
        path = self.state_dir / 'agent.log.jsonl'
        if not path.exists():
            return []
        out = [json.loads(l) for l in path.read_text().splitlines() if l]
        return [e for e in out if kind is None or e['kind'] == kind]

    def wait(self, timeout=10):
        return self.popen.wait(timeout)

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen.stdout.close()
        self._err.close()
        return self.popen.returncode


@pytest.fixture
def ironic():
    made = []

    def make(**kw):
        made.append(FakeIronic(**kw))
        return made[-1]
    yield make
    for f in made:
        f.close()


@pytest.fixture
def agent(tmp_path):
    procs = []

    def start(fake, *extra, macs=MACS, node_uuid=True):
        n = len(procs)
        state = tmp_path / ('agent-%d' % n)
        argv = [PYTHON, str(AGENT), '--api-url', fake.url,
                '--state-dir', str(state)]
        for m in macs:
            argv += ['--mac', m]
        if node_uuid:
            argv += ['--node-uuid', fake.node_uuid]
        argv += [str(a) for a in extra]
        procs.append(AgentProc(argv, state, tmp_path / ('agent-%d.err' % n)))
        return procs[-1]
    yield start
    for p in procs:
        p.stop()


def session():
    s = requests.Session()
    s.trust_env = False
    return s


def cmd_url(a, token=None, wait='false'):
    q = {'wait': wait}
    if token is not None:
        q['agent_token'] = token
    return a.url + '/v1/commands/?' + '&'.join(
        '%s=%s' % kv for kv in q.items())


FINALIZE = {'name': 'rescue.finalize_rescue',
            'params': {'rescue_password': HASH, 'hashed': True}}


# ------------------------------------------------------------------ tests

def test_help():
    out = subprocess.run([PYTHON, str(AGENT), '--help'], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0
    for opt in ('--api-url', '--mac', '--node-uuid', '--listen', '--port',
                '--advertise-host', '--agent-version', '--token',
                '--lookup-timeout', '--lookup-interval',
                '--heartbeat-interval', '--tls', '--state-dir',
                '--finalize-result', '--wrong-token', '--no-token',
                '--no-version', '--change-callback-after',
                '--change-cert-after', '--stop-after-lookup',
                '--accept-network-moves'):
        assert opt in out.stdout, opt


def test_wire_exact_server_178(ironic, agent):
    fake = ironic(max_version='1.78')
    a = agent(fake, '--tls', 'off')
    line = a.first_line()
    assert line['pid'] == a.pid and line['tls'] is False
    assert re.fullmatch(r'http://127\.0\.0\.1:\d+', line['callback_url'])
    poll(fake.heartbeats, what='a heartbeat')
    root, lookup, hb = fake.requests[:3]

    assert (root['method'], root['path'], root['body']) == ('GET', '/', b'')
    assert header(root, 'X-OpenStack-Ironic-API-Version') is None
    assert header(root, 'Accept') == 'application/json'
    assert header(root, 'Content-Type') == 'application/json'

    assert lookup['path'] == (
        '/v1/lookup?addresses=52%3A54%3A00%3Aaa%3Abb%3A01%2C'
        '52%3A54%3A00%3Aaa%3Abb%3A02&node_uuid=' + fake.node_uuid)
    assert header(lookup, 'X-OpenStack-Ironic-API-Version') == '1.62'
    assert header(lookup, 'Accept') == 'application/json'
    assert header(lookup, 'Content-Type') == 'application/json'
    assert lookup['body'] == b''

    assert hb['path'] == '/v1/heartbeat/' + fake.node_uuid
    assert header(hb, 'X-OpenStack-Ironic-API-Version') == '1.68'
    assert header(hb, 'Content-Type') == 'application/json'
    assert header(hb, 'Accept') == 'application/json'
    assert header(hb, 'User-Agent').startswith('python-requests/')
    expected = ('{"callback_url": "%s", "agent_token": "%s", '
                '"agent_version": "11.2.0"}'
                % (line['callback_url'], fake.token)).encode()
    assert hb['body'] == expected
    assert header(hb, 'Content-Length') == str(len(expected))
    assert len(fake.token) == 43
    assert len(fake.roots()) == 1          # discovery is cached

    # the wire log mirrors what was sent and received
    kinds = [e['kind'] for e in a.wire() if e['kind'] != 'event']
    assert kinds[:3] == ['api_root', 'lookup', 'heartbeat']
    lk = a.wire('lookup')[0]
    assert lk['status'] == 200 and lk['body']['config']['agent_token'] \
        == fake.token
    h = a.wire('heartbeat')[0]
    assert h['status'] == 202 and h['body_text'] == '' and h['n'] == 1
    assert h['sent_text'].encode() == expected
    assert h['request_headers']['X-OpenStack-Ironic-API-Version'] == '1.68'


def test_wire_exact_server_150(ironic, agent):
    fake = ironic(max_version='1.50')
    a = agent(fake, node_uuid=False)          # --tls auto: stays on http
    line = a.first_line()
    assert line['tls'] is False and line['callback_url'].startswith('http:')
    poll(fake.heartbeats, what='a heartbeat')
    lookup, hb = fake.lookups()[0], fake.heartbeats()[0]
    assert lookup['path'] == ('/v1/lookup?addresses=52%3A54%3A00%3Aaa%3Abb'
                              '%3A01%2C52%3A54%3A00%3Aaa%3Abb%3A02')
    assert header(lookup, 'X-OpenStack-Ironic-API-Version') == '1.50'
    assert header(hb, 'X-OpenStack-Ironic-API-Version') == '1.50'
    # < 1.62: no token at all; >= 1.36: agent_version
    assert hb['body'] == ('{"callback_url": "%s", "agent_version": "11.2.0"}'
                          % line['callback_url']).encode()
    assert fake.token is None


def test_command_api_token_check_and_finalize(ironic, agent):
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--heartbeat-interval', '0.2')
    a.first_line()
    poll(fake.heartbeats, what='a heartbeat')
    tok = fake.token
    s = session()

    r = s.get(a.url + '/')
    assert r.status_code == 200
    assert r.json()['default_version']['links'][0] == {
        'href': a.url + '/v1', 'rel': 'self'}
    r = s.get(a.url + '/v1/')
    assert r.status_code == 200 and r.json()['id'] == 'v1'
    assert r.json()['commands'][0]['href'] == a.url + '/v1/commands'
    r = s.get(a.url + '/v1/status')
    assert r.status_code == 200 and r.json()['version'] == '11.2.0'
    assert isinstance(r.json()['started_at'], float)
    r = s.get(a.url + '/v1/nope')
    assert r.status_code == 404 and r.json()['faultcode'] == 'Client'

    # GETs: IPA only enforces the token once some GET carried one
    assert s.get(a.url + '/v1/commands/').json() == {'commands': []}
    r = s.get(a.url + '/v1/commands/?agent_token=wrong')
    assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
    r = s.get(a.url + '/v1/commands/')
    assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
    r = s.get(cmd_url(a, tok))
    assert (r.status_code, r.json()) == (200, {'commands': []})

    # POST: always checked (after the body is validated)
    r = s.post(cmd_url(a), json=FINALIZE)
    assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
    assert r.headers['Content-Type'] == 'application/json'
    r = s.post(cmd_url(a, 'x' * 43), json=FINALIZE)
    assert (r.status_code, r.json()) == (401, TOKEN_INVALID)
    r = s.post(cmd_url(a, tok), json={'name': 'rescue.finalize_rescue'})
    assert r.status_code == 400
    assert r.json()['faultstring'] == ('400 Bad Request: Missing or invalid '
                                       'name or params')
    r = s.post(cmd_url(a, tok), json={'name': 'nope.x', 'params': {}})
    assert (r.status_code, r.json()) == (404, {
        'faultcode': 'Client',
        'faultstring': 'Not found: Extension with id nope not found.'})
    r = s.post(cmd_url(a, tok), json={'name': 'rescue.nope', 'params': {}})
    assert (r.status_code, r.json()) == (400, {
        'faultcode': 'Client',
        'faultstring': 'Invalid command: Unknown command: nope'})
    assert not (a.state_dir / 'ipa-rescue-password').exists()

    r = s.post(cmd_url(a, tok), json=FINALIZE)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {'id', 'command_name', 'command_status',
                         'command_error', 'command_result'}
    assert uuid.UUID(body['id'])
    assert body['command_name'] == 'finalize_rescue'
    assert body['command_status'] == 'SUCCEEDED'
    assert body['command_error'] is None and body['command_result'] is None

    assert a.wait(10) == 0
    assert (a.state_dir / 'ipa-rescue-password').read_bytes() == HASH.encode()
    assert (a.state_dir / '.rescued').exists()
    n = len(fake.heartbeats())
    with pytest.raises(requests.ConnectionError):
        s.get(a.url + '/', timeout=2)
    assert len(fake.heartbeats()) == n
    ins = [e for e in a.wire('agent_in') if e['method'] == 'POST']
    assert ins[-1]['body'] == FINALIZE
    assert ins[-1]['query'] == {'wait': ['false'], 'agent_token': [tok]}
    assert a.wire('agent_out')[-1]['status'] == 200
    assert a.wire('event')[-1] == {'kind': 'event', 'event': 'exit',
                                   'code': 0, 't': a.wire()[-1]['t']}


def test_finalize_unhashed_password_is_crypted(ironic, agent):
    fake = ironic(max_version='1.65')
    a = agent(fake)
    a.first_line()
    poll(fake.heartbeats)
    r = session().post(cmd_url(a, fake.token), json={
        'name': 'rescue.finalize_rescue',
        'params': {'rescue_password': 'sekrit'}})
    assert r.json()['command_status'] == 'SUCCEEDED'
    assert a.wait(10) == 0
    stored = (a.state_dir / 'ipa-rescue-password').read_text()
    assert re.fullmatch(r'\$5\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{43}', stored)
    salt = stored.split('$')[2]
    out = subprocess.run(['openssl', 'passwd', '-5', '-salt', salt,
                          'sekrit'], capture_output=True, text=True)
    assert out.stdout.strip() == stored


def test_auto_tls(ironic, agent, tmp_path):
    fake = ironic(max_version='1.78')
    a = agent(fake)
    line = a.first_line()
    assert line['tls'] is True
    assert re.fullmatch(r'https://127\.0\.0\.1:\d+', line['callback_url'])
    hb = poll(fake.heartbeats, what='a heartbeat')[0]
    sent = json.loads(hb['body'])
    assert list(sent) == ['callback_url', 'agent_token', 'agent_version',
                          'agent_verify_ca']
    assert sent['callback_url'] == line['callback_url']
    pem = sent['agent_verify_ca']
    assert pem.startswith('-----BEGIN CERTIFICATE-----\n')
    assert pem.endswith('-----END CERTIFICATE-----\n')
    ca = tmp_path / 'agent-ca.pem'
    ca.write_text(pem)
    text = subprocess.run(['openssl', 'x509', '-in', str(ca), '-noout',
                           '-text'], capture_output=True, text=True,
                          check=True).stdout
    assert 'IP Address:127.0.0.1' in text
    assert 'Subject: CN = 127.0.0.1' in text
    assert 'P-384' in text
    assert 'X509v3 Subject Alternative Name: critical' in text

    port = int(line['callback_url'].rsplit(':', 1)[1])
    ctx = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx,
                                       timeout=5)
    conn.request('GET', '/v1/commands/?agent_token=' + fake.token)
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (200, {'commands': []})
    conn.close()

    # a client that does not trust exactly that PEM fails
    other = ssl.create_default_context()
    conn = http.client.HTTPSConnection('127.0.0.1', port, context=other,
                                       timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request('GET', '/v1/status')
    conn.close()

    r = session().post(cmd_url(a, fake.token), json=FINALIZE, verify=str(ca))
    assert r.json()['command_status'] == 'SUCCEEDED'
    assert a.wait(10) == 0


def test_pregenerated_token_and_masked_lookup(ironic, agent):
    fake = ironic(token=secrets.token_urlsafe())    # lookup gives "******"
    a = agent(fake, '--tls', 'off', '--token=' + fake.token)
    a.first_line()
    hb = poll(fake.heartbeats)[0]
    assert json.loads(hb['body'])['agent_token'] == fake.token
    r = session().get(cmd_url(a, fake.token))
    assert r.status_code == 200
    a.stop()

    # without a token on file IPA carries on with "agent_token": null
    b = agent(fake, '--tls', 'off', '--heartbeat-error-interval', '0.1')
    b.first_line()
    poll(lambda: len(fake.heartbeats()) >= 3, what='retried heartbeats')
    hb = fake.heartbeats()[-1]
    assert json.loads(hb['body'])['agent_token'] is None
    assert b.wire('heartbeat')[-1]['status'] == 400
    assert b.wire('event')[0]['event'] == 'token'


def test_lookup_retries_404_and_409(ironic, agent):
    fake = ironic()
    fake.lookup_script = [(404, ironic_error('Resource could not be found.')),
                          (409, ironic_error('Node is locked')),
                          (404, ironic_error('Resource could not be found.'))]
    a = agent(fake, '--tls', 'off', '--lookup-interval', '0.01',
              '--lookup-max-interval', '0.05',
              '--lookup-conflict-pauses', '0.3,0.6,0.9')
    a.first_line()
    poll(fake.heartbeats)
    lk = fake.lookups()
    assert len(lk) == 4
    assert lk[2]['t'] - lk[1]['t'] >= 0.3           # the 409 pause
    assert len(fake.roots()) == 1
    assert [e['status'] for e in a.wire('lookup')] == [404, 409, 404, 200]


def test_discovery_failure_falls_back_to_131(ironic, agent):
    fake = ironic(root_fails=True)
    fake.lookup_script = [(404, ironic_error('Resource could not be found.'))]
    a = agent(fake, '--lookup-interval', '0.01', '--lookup-max-interval',
              '0.05', '--heartbeat-interval', '0.1')
    line = a.first_line()
    assert line['tls'] is False                       # 1.31 < 1.68
    poll(lambda: len(fake.heartbeats()) >= 2)
    methods = [(r['method'], r['path'].split('?')[0])
               for r in fake.requests][:7]
    # not cached: discovery before each lookup, the TLS check, each heartbeat
    assert methods == [('GET', '/'), ('GET', '/v1/lookup'),
                       ('GET', '/'), ('GET', '/v1/lookup'),
                       ('GET', '/'),
                       ('GET', '/'), ('POST', '/v1/heartbeat/' +
                                      fake.node_uuid)]
    assert header(fake.lookups()[0], 'X-OpenStack-Ironic-API-Version') \
        == '1.31'
    hb = fake.heartbeats()[0]
    assert header(hb, 'X-OpenStack-Ironic-API-Version') == '1.31'
    # 1.31 is below 1.36 (agent_version) and 1.62 (agent_token)
    assert hb['body'] == ('{"callback_url": "%s"}'
                          % line['callback_url']).encode()


def test_lookup_timeout_exits_1(ironic, agent):
    fake = ironic()
    fake.lookup_script = [(404, ironic_error('nope'))] * 1000
    a = agent(fake, '--lookup-timeout', '0.5', '--lookup-interval', '0.05',
              '--lookup-max-interval', '0.1')
    line = a.first_line()
    assert line['callback_url'] is None and 'look up' in line['error']
    assert a.wait(10) == 1
    assert len(fake.lookups()) >= 2 and not fake.heartbeats()


def test_stop_after_lookup(ironic, agent):
    fake = ironic()
    a = agent(fake, '--stop-after-lookup')
    assert a.first_line()['callback_url'] is None
    assert a.wait(10) == 0
    assert len(fake.lookups()) == 1 and not fake.heartbeats()
    assert fake.token is not None


def test_heartbeat_interval_from_heartbeat_timeout(ironic, agent):
    fake = ironic(heartbeat_timeout=1)
    a = agent(fake, '--tls', 'off')
    a.first_line()
    poll(lambda: len(fake.heartbeats()) >= 3, timeout=5)
    t = [r['t'] for r in fake.heartbeats()[:3]]
    for gap in (t[1] - t[0], t[2] - t[1]):
        assert 0.28 <= gap <= 0.85, gap              # 1 s x U(0.3, 0.6)


def test_wrong_token(ironic, agent):
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--wrong-token',
              '--heartbeat-error-interval', '0.1')
    a.first_line()
    poll(lambda: len(fake.heartbeats()) >= 3, what='retried heartbeats')
    for hb in fake.heartbeats():
        sent = json.loads(hb['body'])['agent_token']
        assert sent != fake.token and len(sent) == 43
    assert {e['status'] for e in a.wire('heartbeat')} == {400}
    assert 'Invalid or missing agent token' in a.wire('heartbeat')[0]['body'][
        'error_message']
    # the agent itself still holds the real token
    assert session().get(cmd_url(a, fake.token)).status_code == 200


@pytest.mark.parametrize('knob,missing', [('--no-token', 'agent_token'),
                                          ('--no-version', 'agent_version')])
def test_omitted_heartbeat_fields(ironic, agent, knob, missing):
    fake = ironic()
    a = agent(fake, '--tls', 'off', knob)
    a.first_line()
    sent = json.loads(poll(fake.heartbeats)[0]['body'])
    assert missing not in sent
    assert set(sent) == {'callback_url', 'agent_token',
                         'agent_version'} - {missing}


def test_change_callback_after(ironic, agent):
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--change-callback-after', '1',
              '--heartbeat-interval', '0.1')
    a.first_line()
    poll(lambda: len(fake.heartbeats()) >= 3)
    urls = [json.loads(h['body'])['callback_url']
            for h in fake.heartbeats()[:3]]
    assert urls[0] == a.url and urls[1] == urls[2] != urls[0]
    assert urls[1].rsplit(':', 1)[0] == a.url.rsplit(':', 1)[0]
    for u in urls[:2]:
        assert session().get(u + '/v1/status').status_code == 200


def test_change_cert_after(ironic, agent, tmp_path):
    fake = ironic()
    a = agent(fake, '--change-cert-after', '1', '--heartbeat-interval', '0.1')
    a.first_line()
    poll(lambda: len(fake.heartbeats()) >= 3)
    pems = [json.loads(h['body'])['agent_verify_ca']
            for h in fake.heartbeats()[:3]]
    assert pems[0] != pems[1] == pems[2]
    old, new = tmp_path / 'old.pem', tmp_path / 'new.pem'
    old.write_text(pems[0])
    new.write_text(pems[1])
    s = session()
    with pytest.raises(requests.exceptions.SSLError):
        s.get(a.url + '/v1/status', verify=str(old))
    assert s.get(a.url + '/v1/status', verify=str(new)).status_code == 200


def test_finalize_failed(ironic, agent):
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--finalize-result', 'failed',
              '--heartbeat-interval', '0.1')
    a.first_line()
    poll(fake.heartbeats)
    s = session()
    r = s.post(cmd_url(a, fake.token), json=FINALIZE)
    assert r.status_code == 200
    body = r.json()
    assert body['command_status'] == 'FAILED'
    assert body['command_result'] is None
    err = body['command_error']
    assert set(err) == {'type', 'code', 'message', 'details'}
    assert err['code'] == 500 and err['type'] == 'CommandExecutionError'
    assert err['details'] and err['message']
    # IPA keeps serving and heartbeating after a failed finalize
    n = len(fake.heartbeats())
    poll(lambda: len(fake.heartbeats()) > n + 1, what='more heartbeats')
    listed = s.get(cmd_url(a, fake.token)).json()['commands']
    assert [c['id'] for c in listed] == [body['id']]
    assert a.popen.poll() is None
    assert not (a.state_dir / 'ipa-rescue-password').exists()
    assert not (a.state_dir / '.rescued').exists()


MOVES = {'name': 'rescue.finalize_rescue',
         'params': dict(FINALIZE['params'], lifeboat_network_moves=True)}


def test_finalize_rejects_unknown_parameter_as_ipa(ironic, agent):
    """IPA's execute_command: the TypeError of an unknown keyword is an
    InvalidCommandParamsError, HTTP 400, and nothing changes; the same
    command without it then succeeds."""
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--heartbeat-interval', '0.2')
    a.first_line()
    poll(fake.heartbeats)
    s = session()
    r = s.post(cmd_url(a, fake.token), json=MOVES)
    assert (r.status_code, r.json()) == (400, {
        'faultcode': 'Client',
        'faultstring': "Invalid command parameters: finalize_rescue() got "
                       "an unexpected keyword argument "
                       "'lifeboat_network_moves'"})
    assert s.get(cmd_url(a, fake.token)).json() == {'commands': []}
    assert not (a.state_dir / 'ipa-rescue-password').exists()
    assert a.popen.poll() is None
    r = s.post(cmd_url(a, fake.token), json=FINALIZE)
    assert r.json()['command_status'] == 'SUCCEEDED'
    assert a.wait(10) == 0
    assert [e['moves'] for e in a.wire('event')
            if e['event'] == 'network_moves'] == [False]


def test_finalize_accepts_network_moves_when_asked(ironic, agent):
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--accept-network-moves')
    a.first_line()
    poll(fake.heartbeats)
    r = session().post(cmd_url(a, fake.token), json=MOVES)
    assert r.json()['command_status'] == 'SUCCEEDED'
    assert a.wait(10) == 0
    assert (a.state_dir / 'ipa-rescue-password').read_bytes() == HASH.encode()
    assert [e['moves'] for e in a.wire('event')
            if e['event'] == 'network_moves'] == [True]


def test_finalize_error500(ironic, agent):
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--finalize-result', 'error500')
    a.first_line()
    poll(fake.heartbeats)
    r = session().post(cmd_url(a, fake.token), json=FINALIZE)
    assert r.status_code == 500
    assert r.json()['faultcode'] == 'Server' and r.json()['faultstring']
    assert a.popen.poll() is None
    assert session().get(a.url + '/v1/status').status_code == 200


def test_finalize_hang(ironic, agent):
    fake = ironic()
    a = agent(fake, '--tls', 'off', '--finalize-result', 'hang')
    a.first_line()
    poll(fake.heartbeats)
    s = session()
    with pytest.raises(requests.exceptions.ReadTimeout):
        s.post(cmd_url(a, fake.token), json=FINALIZE, timeout=0.5)
    listed = s.get(cmd_url(a, fake.token)).json()['commands']
    assert [c['command_status'] for c in listed] == ['RUNNING']
    r = s.post(cmd_url(a, fake.token), json=FINALIZE, timeout=5)
    assert (r.status_code, r.json()) == (409, {
        'faultcode': 'Client',
        'faultstring': 'Agent is busy: executing command finalize_rescue'})
    assert a.stop() == 0                               # SIGTERM -> 0
