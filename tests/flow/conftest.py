"""Fixtures and helpers for the lifeboat flow tests.

These tests drive a real ``lifeboatd`` over HTTP (``requests``) and through
the real ``openstack baremetal`` CLI, and check the wire contract in
/work/shared/reference/ironic-contract.md (sections 1 and 2).

Nothing is built here: the daemon binary comes from ``$LIFEBOATD`` or
``<repo>/build/conductor/lifeboatd``.

Rules the helpers follow:

* every daemon gets a free loopback port, its own temporary state directory
  and a log file (its stdout and stderr) that stays readable for assertions,
  also across restarts (the file is appended to);
* readiness is detected by polling ``GET /`` with a deadline, never by a
  fixed sleep;
* every daemon is stopped by its PID (SIGTERM, then SIGKILL after a bounded
  wait) when its fixture ends, whether the test passed or not;
* the CLI always runs with a timeout and a clean ``OS_*`` environment.

Fixtures:

``daemon``          a fresh daemon for one test (for destructive tests).
``module_daemon``   one daemon shared by all tests of a module; tests that
                    use it must use unique node names and MAC addresses.
``launcher`` / ``module_launcher``
                    start daemons with custom configuration
                    (``launcher.start(DEFAULT={'auth_strategy': ...})``).
"""

import json
import os
import re
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

import pytest
import requests

sys.path.append(str(Path(__file__).resolve().parents[1] / 'lab'))
import pg_cluster  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LIFEBOATD = os.environ.get('LIFEBOATD',
                           str(REPO / 'build' / 'conductor' / 'lifeboatd'))
# The Debian CLI; its shebang is /usr/bin/python3 (never the python3 that
# happens to be first on PATH).
OPENSTACK = '/usr/bin/openstack'

MIN_VERSION = '1.1'
MAX_VERSION = '1.78'
CONDUCTOR_HOST = 'test-conductor'

MIN_HEADER = 'X-OpenStack-Ironic-API-Minimum-Version'
MAX_HEADER = 'X-OpenStack-Ironic-API-Maximum-Version'
VERSION_HEADER = 'X-OpenStack-Ironic-API-Version'

# The 62 keys of a real Ironic 21.4.4 node at 1.78
# (ironic-contract-data/real-ironic-21.4.4-node-show-v1.78.json, §2.1).
NODE_KEYS_1_78 = set('''
allocation_uuid automated_clean bios_interface boot_interface boot_mode
chassis_uuid clean_step conductor conductor_group console_enabled
console_interface created_at deploy_interface deploy_step description driver
driver_info driver_internal_info extra fault inspect_interface
inspection_finished_at inspection_started_at instance_info instance_uuid
last_error lessee links maintenance maintenance_reason management_interface
name network_data network_interface owner portgroups ports power_interface
power_state properties protected protected_reason provision_state
provision_updated_at raid_config raid_interface rescue_interface reservation
resource_class retired retired_reason secure_boot states storage_interface
target_power_state target_provision_state target_raid_config traits
updated_at uuid vendor_interface volume'''.split())
assert len(NODE_KEYS_1_78) == 62

# The minor version each field appeared in (Ironic api/controllers/v1/
# utils.py VERSIONED_FIELDS; 1.31 for the dynamic interfaces; the
# 'portgroups' and 'volume' links need 1.24 and 1.32).
FIELD_MINOR = {
    'driver_internal_info': 3, 'name': 5, 'inspection_finished_at': 6,
    'inspection_started_at': 6, 'clean_step': 7, 'raid_config': 12,
    'target_raid_config': 12, 'network_interface': 20, 'resource_class': 21,
    'portgroups': 24, 'boot_interface': 31, 'console_interface': 31,
    'deploy_interface': 31, 'inspect_interface': 31,
    'management_interface': 31, 'power_interface': 31, 'raid_interface': 31,
    'vendor_interface': 31, 'volume': 32, 'storage_interface': 33,
    'traits': 37, 'rescue_interface': 38, 'bios_interface': 40, 'fault': 42,
    'deploy_step': 44, 'conductor_group': 46, 'automated_clean': 47,
    'protected': 48, 'protected_reason': 48, 'conductor': 49, 'owner': 50,
    'description': 51, 'allocation_uuid': 52, 'retired': 61,
    'retired_reason': 61, 'lessee': 65, 'network_data': 66, 'boot_mode': 75,
    'secure_boot': 75,
}


START_TIMEOUT = 15.0    # seconds for the daemon to answer GET /
STOP_TIMEOUT = 5.0      # seconds after SIGTERM before SIGKILL
CLI_TIMEOUT = 60.0      # seconds for one CLI invocation (409s take ~10 s)
HTTP_TIMEOUT = 30.0     # seconds for one HTTP request


# ---------------------------------------------------------------- helpers

def wait_for(predicate, timeout, interval=0.02, what='condition'):
    """Poll ``predicate`` until it returns a true value and return it."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except _Exited:
            raise
        except Exception as e:          # keep polling; report the last one
            last_exc = e
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.1f s waiting for %s '
                                 '(last error: %r)' % (timeout, what, last_exc))
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def is_uuid(value):
    try:
        return str(uuidlib.UUID(value)) == value
    except (TypeError, ValueError, AttributeError):
        return False


def unique(prefix):
    """A node name nobody else in a shared daemon uses."""
    return '%s-%s' % (prefix, uuidlib.uuid4().hex[:8])


_mac_counter = [0]


def unique_mac():
    """A MAC address no other test of this session uses (lower case)."""
    _mac_counter[0] += 1
    n = _mac_counter[0] + (os.getpid() % 256) * 65536
    return '52:54:00:%02x:%02x:%02x' % ((n >> 16) & 0xff, (n >> 8) & 0xff,
                                        n & 0xff)


def fault(resp):
    """Decode an Ironic error body and return the inner dict.

    Checks the contract of section 1.3: the body is a JSON object with the
    single key ``error_message`` whose value is a JSON *string*.
    """
    assert resp.headers.get('Content-Type', '').startswith(
        'application/json'), resp.headers
    body = resp.json()
    assert isinstance(body, dict) and list(body) == ['error_message'], body
    assert isinstance(body['error_message'], str), body
    inner = json.loads(body['error_message'])
    assert isinstance(inner, dict), inner
    return inner


def assert_error(resp, status, faultstring=None, match=None):
    """Assert an error response: status, body format, faultcode, message.

    ``faultstring`` is compared exactly, ``match`` is a regular expression
    the whole faultstring must match (re.fullmatch, DOTALL).
    """
    assert resp.status_code == status, (resp.status_code, resp.text)
    inner = fault(resp)
    assert inner.get('faultcode') == ('Client' if status < 500 else 'Server'), \
        inner
    text = inner.get('faultstring')
    assert isinstance(text, str) and text, inner
    if faultstring is not None:
        assert text == faultstring, inner
    if match is not None:
        assert re.fullmatch(match, text, re.DOTALL), (match, text)
    # Every /v1 response, error or not, names the supported range.
    assert resp.headers.get(MIN_HEADER) == MIN_VERSION, resp.headers
    assert resp.headers.get(MAX_HEADER) == MAX_VERSION, resp.headers
    return inner


def parse_table(text):
    """Parse a cliff table into a list of row lists (header row first)."""
    rows = []
    for line in text.splitlines():
        if line.startswith('|'):
            rows.append([c.strip() for c in line.strip().strip('|').split('|')])
    return rows


# ------------------------------------------------------------- postgresql

PG_BIN = pg_cluster.BIN + '/'


def pg_args(url):
    """libpq's -h -p -U for a URL of pg_cluster.py's form
    (postgresql://USER@/DB?host=DIR&port=N), and the database's name."""
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(u.query))
    return (['-h', q['host'], '-p', q.get('port', '5432'), '-U', u.username],
            u.path.lstrip('/'))


def pg_new_database(url, template=None):
    """A new database in the cluster of 'url' (tests/lab/pg_cluster.py's):
    empty, or a copy of the database of the URL 'template' (nothing may be
    connected to it); its URL."""
    return pg_cluster.new_database(url, template)


def pg_query(url, sql, params=()):
    """The rows (tuples) of one SQL statement run by psql on the database
    of 'url'; '?' marks the values of 'params' (sent as psql variables,
    quoted by psql; None is NULL).  A statement that is not a SELECT
    returns []."""
    args, db = pg_args(url)
    parts = sql.split('?')
    assert len(parts) == len(params) + 1, (sql, params)
    text = parts[0]
    for i, value in enumerate(params):
        if value is None:
            text += 'NULL'
        else:
            args += ['-v', 'p%d=%s' % (i, value)]
            text += ":'p%d'" % i
        text += parts[i + 1]
    select = sql.lstrip().upper().startswith('SELECT')
    if select:
        text = ("SELECT coalesce(json_agg(row_to_json(q)), '[]') FROM "
                "(%s) q" % text)
    out = subprocess.run(
        [PG_BIN + 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
         '-d', db] + args, input=text + ';\n', capture_output=True,
        text=True, timeout=60)
    assert out.returncode == 0, (text, out.stderr)
    if not select:
        return []
    return json.loads(out.stdout, object_pairs_hook=lambda kv: tuple(
        v for _, v in kv))


def store_rows(d, sql, params=()):
    """The rows of a statement run on daemon d's store, SQLite or
    PostgreSQL (the daemon may be stopped): tests that look behind the
    API read (or, rarely, write) the same tables on both."""
    if getattr(d, '_pg_url', None) is not None:
        return pg_query(d._pg_url, sql, params)
    import sqlite3
    mode = 'ro' if sql.lstrip().upper().startswith('SELECT') else 'rw'
    db = sqlite3.connect('file:%s?mode=%s' % (
        d.state_path / 'lifeboat.sqlite', mode), uri=True, timeout=10)
    try:
        rows = db.execute(sql, params).fetchall()
        db.commit()
        return rows
    finally:
        db.close()


class StoreWriteLock:
    """with StoreWriteLock(d): daemon d's store takes no write meanwhile
    (reads go on): SQLite's BEGIN EXCLUSIVE on its file (WAL: readers do
    not wait), or on PostgreSQL a psql session holding LOCK TABLE nodes IN
    EXCLUSIVE MODE (SELECT ... FOR UPDATE waits, plain reads do not)."""

    def __init__(self, d):
        self.d = d
        self.db = self.psql = None

    def __enter__(self):
        url = getattr(self.d, '_pg_url', None)
        if url is None:
            import sqlite3
            self.db = sqlite3.connect(str(self.d.state_path /
                                          'lifeboat.sqlite'),
                                      isolation_level=None, timeout=10)
            self.db.execute('BEGIN EXCLUSIVE')
            return self
        args, db = pg_args(url)
        self.psql = subprocess.Popen(
            [PG_BIN + 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db]
            + args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            text=True)
        self.psql.stdin.write('BEGIN;\nLOCK TABLE nodes IN EXCLUSIVE '
                              'MODE;\n')
        self.psql.stdin.flush()
        wait_for(lambda: pg_query(url, "SELECT 1 FROM pg_locks WHERE "
                                  "relation = 'nodes'::regclass AND "
                                  "mode = 'ExclusiveLock' AND granted"),
                 10, interval=0.05, what='the lock')
        return self

    def __exit__(self, *exc):
        if self.db is not None:
            self.db.execute('ROLLBACK')
            self.db.close()
            return
        self.psql.stdin.write('ROLLBACK;\n')
        self.psql.stdin.close()
        try:
            self.psql.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.psql.kill()
            self.psql.wait()


# ----------------------------------------------------------------- daemon

class Daemon:
    """One lifeboatd process with its config, state directory and log."""

    def __init__(self, workdir, sections=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.workdir / 'state'
        self.config_path = self.workdir / 'lifeboat.conf'
        self.log_path = self.workdir / 'lifeboatd.log'
        self.sections = sections or {}
        self.port = None
        self.proc = None
        self.session = requests.Session()

    # -- configuration ----------------------------------------------------

    def config_text(self):
        conf = {
            'DEFAULT': {
                'state_path': str(self.state_path),
                'log_level': 'debug',
                'host': CONDUCTOR_HOST,
                'auth_strategy': 'noauth',
            },
            'api': {'host_ip': '127.0.0.1', 'port': str(self.port)},
            # No periodic BMC polling: node addresses here are fake.
            'conductor': {'sync_power_state_interval': '0'},
            'oslo_middleware': {'max_request_body_size': '1048576'},
        }
        if os.environ.get('LB_TEST_DB_URL'):
            conf['database'] = {'connection': self.pg_database()}
        for section, options in self.sections.items():
            conf.setdefault(section, {}).update(
                {k: str(v) for k, v in options.items()})
        lines = []
        for section, options in conf.items():
            lines.append('[%s]' % section)
            lines.extend('%s = %s' % kv for kv in options.items())
            lines.append('')
        return '\n'.join(lines)

    def pg_database(self):
        """With LB_TEST_DB_URL (tests/lab/pg_cluster.py run): a database
        of that cluster for this daemon alone, created on first use and
        kept across its restarts, as its SQLite file would be."""
        if getattr(self, '_pg_url', None) is None:
            self._pg_url = pg_new_database(os.environ['LB_TEST_DB_URL'])
        return self._pg_url

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    # -- process control --------------------------------------------------

    def start(self):
        """Start the daemon and wait until GET / answers."""
        assert self.proc is None, 'already running'
        for attempt in range(3):
            if self.port is None or attempt:
                self.port = free_port()
            self.config_path.write_text(self.config_text())
            with open(self.log_path, 'ab') as log:
                log.write(('--- start on port %d ---\n' % self.port).encode())
                log.flush()
                self.proc = subprocess.Popen(
                    [LIFEBOATD, '--config-file', str(self.config_path)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    cwd=str(self.workdir))
            try:
                wait_for(self._ready, START_TIMEOUT, what='lifeboatd to answer '
                         'GET / on port %d' % self.port)
                return self
            except _Exited:
                # Most likely someone grabbed the port; try another one.
                self.proc = None
                if 'in use' not in self.log_text():
                    break
        raise AssertionError('lifeboatd did not start; log:\n' +
                             self.log_text()[-4000:])

    def _ready(self):
        if self.proc.poll() is not None:
            raise _Exited()
        try:
            r = requests.get(self.url + '/', timeout=1)
        except requests.ConnectionError:
            return False
        return r.status_code == 200

    def stop(self):
        """SIGTERM, wait a bounded time, then SIGKILL.  Returns exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        self.session.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait(timeout=STOP_TIMEOUT)

    def kill(self):
        """SIGKILL (a crash: no chance to flush or close anything)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        self.session.close()
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)

    def restart(self, hard=False):
        """Stop (SIGKILL if ``hard``) and start again on the same state."""
        if hard:
            self.kill()
        else:
            self.stop()
        self.session = requests.Session()
        return self.start()

    def log_text(self):
        try:
            return self.log_path.read_text(errors='replace')
        except FileNotFoundError:
            return ''

    # -- HTTP -------------------------------------------------------------

    def request(self, method, path, version=MAX_VERSION, headers=None,
                **kw):
        """One HTTP request; ``version=None`` sends no version header."""
        h = {}
        if version is not None:
            h[VERSION_HEADER] = version
        h.update(headers or {})
        kw.setdefault('timeout', HTTP_TIMEOUT)
        url = path if path.startswith('http') else self.url + path
        return self.session.request(method, url, headers=h, **kw)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, body=None, **kw):
        return self.request('POST', path, json=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request('PATCH', path, json=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request('PUT', path, json=body, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)

    def create_node(self, **fields):
        """POST /v1/nodes (default driver fake-hardware); return the node."""
        fields.setdefault('driver', 'fake-hardware')
        skip_if_not_built(fields['driver'])
        version = fields.pop('_version', MAX_VERSION)
        r = self.post('/v1/nodes', fields, version=version)
        assert r.status_code == 201, r.text
        return r.json()

    def create_port(self, node_uuid, address=None, **fields):
        fields.update(node_uuid=node_uuid, address=address or unique_mac())
        r = self.post('/v1/ports', fields)
        assert r.status_code == 201, r.text
        return r.json()

    def snapshot(self):
        """Everything the API can show: every node and port in full."""
        nodes = self.get('/v1/nodes/detail')
        ports = self.get('/v1/ports/detail')
        assert nodes.status_code == 200 and ports.status_code == 200
        return (sorted(nodes.json()['nodes'], key=lambda n: n['uuid']),
                sorted(ports.json()['ports'], key=lambda p: p['uuid']))

    # -- CLI --------------------------------------------------------------

    def cli(self, *args, auth=None, api_version=None, timeout=CLI_TIMEOUT):
        """Run ``openstack baremetal ARGS``; return (rc, stdout, stderr).

        ``auth=(user, password)`` uses --os-auth-type http_basic, otherwise
        OS_AUTH_TYPE=none.  ``api_version`` pins --os-baremetal-api-version.
        """
        if '--driver' in args[:-1]:
            skip_if_not_built(args[args.index('--driver') + 1])
        env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
        env['PYTHONWARNINGS'] = 'ignore'
        cmd = [OPENSTACK]
        if auth is None:
            env['OS_AUTH_TYPE'] = 'none'
            env['OS_ENDPOINT'] = self.url
        else:
            cmd += ['--os-auth-type', 'http_basic',
                    '--os-username', auth[0], '--os-password', auth[1],
                    '--os-endpoint', self.url]
        if api_version is not None:
            cmd += ['--os-baremetal-api-version', api_version]
        cmd += ['baremetal'] + [str(a) for a in args]
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def cli_json(self, *args, **kw):
        """Run a CLI command with ``-f json``; assert rc 0; return the data."""
        rc, out, err = self.cli(*args, '-f', 'json', **kw)
        assert rc == 0, (rc, out, err)
        return json.loads(out)


class _Exited(Exception):
    """The daemon process exited while we waited for it."""


# ----------------------------------------------- drivers compiled out

# Hardware types lifeboatd may be built without, and driver_info enough to
# validate a node of each.
OPTIONAL_DRIVERS = {
    'ipmi': {'ipmi_address': '127.0.0.1'},
    'redfish': {'redfish_address': 'https://127.0.0.1:1'},
}
_not_built = None


def drivers_not_built():
    """The optional hardware types this lifeboatd was built without
    (-Dipmi=disabled, -Dredfish=disabled or a library missing), as the
    validate of a node on a throwaway daemon says; asked once a session."""
    global _not_built
    if _not_built is None:
        work = Path(tempfile.mkdtemp(prefix='lb-not-built-'))
        d = Daemon(work)
        try:
            d.start()
            found = set()
            for driver, info in OPTIONAL_DRIVERS.items():
                r = d.post('/v1/nodes', {'driver': driver,
                                         'driver_info': info})
                assert r.status_code == 201, r.text
                v = d.get('/v1/nodes/%s/validate' % r.json()['uuid'])
                if 'not built' in (v.json()['power'].get('reason') or ''):
                    found.add(driver)
            _not_built = found
        finally:
            d.stop()
            shutil.rmtree(work, ignore_errors=True)
    return _not_built


def skip_if_not_built(driver):
    """Skips the calling test if it needs a driver lifeboatd lacks."""
    if driver in OPTIONAL_DRIVERS and driver in drivers_not_built():
        pytest.skip("the %s driver is not built into this lifeboatd"
                    % driver)


class Launcher:
    """Starts daemons and stops every one of them at teardown."""

    def __init__(self, base):
        self.base = Path(base)
        self.daemons = []

    def start(self, **sections):
        d = Daemon(self.base / ('d%d' % len(self.daemons)), sections)
        self.daemons.append(d)
        return d.start()

    def close(self):
        for d in self.daemons:
            try:
                d.stop()
            except Exception:           # never leave one running
                if d.proc is not None:
                    d.proc.kill()


# --------------------------------------------------------------- fixtures

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, 'rep_' + rep.when, rep)


def _close(launcher, request=None):
    # Print the log tail of a failed test's daemons (pytest shows it).
    rep = getattr(request.node, 'rep_call', None) if request else None
    if rep is not None and rep.failed:
        for d in launcher.daemons:
            print('==== %s (tail) ====\n%s' % (d.log_path,
                                              d.log_text()[-3000:]))
    launcher.close()


@pytest.fixture(scope='session', autouse=True)
def _binary_exists():
    if not os.access(LIFEBOATD, os.X_OK):
        pytest.exit('lifeboatd not found at %s (build it or set LIFEBOATD)'
                    % LIFEBOATD, returncode=2)


@pytest.fixture
def launcher(tmp_path, request):
    lau = Launcher(tmp_path)
    yield lau
    _close(lau, request)


@pytest.fixture(scope='module')
def module_launcher(tmp_path_factory):
    lau = Launcher(tmp_path_factory.mktemp('lifeboat'))
    yield lau
    _close(lau)


@pytest.fixture
def daemon(launcher):
    """A fresh noauth daemon for one test."""
    return launcher.start()


@pytest.fixture(scope='module')
def module_daemon(module_launcher):
    """A noauth daemon shared by the tests of one module."""
    return module_launcher.start()


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'qemu: starts real qemu-system-x86_64 machines')
