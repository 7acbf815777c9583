"""HTTP basic authentication (auth_strategy = http_basic).

The htpasswd file is made with the real ``htpasswd -cbB`` (bcrypt).
Discovery (``GET /`` and ``GET /v1``) stays open so the client can
negotiate; everything else needs valid credentials.
"""

import base64
import http.client
import subprocess
import time

import pytest

from conftest import MAX_VERSION, VERSION_HEADER, assert_error, unique

USER, PASSWORD = 'admin', 'secretpw'
AUTH_MESSAGE = ('Authentication required: this endpoint needs valid HTTP '
                'basic credentials.')


@pytest.fixture(scope='module')
def d(module_launcher, tmp_path_factory):
    htpasswd = tmp_path_factory.mktemp('auth') / 'htpasswd'
    subprocess.run(['htpasswd', '-cbB', str(htpasswd), USER, PASSWORD],
                   check=True, capture_output=True, timeout=30)
    assert htpasswd.read_text().startswith(USER + ':$2')     # bcrypt
    return module_launcher.start(DEFAULT={
        'auth_strategy': 'http_basic',
        'http_basic_auth_user_file': str(htpasswd)})


def basic(user, password):
    token = base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
    return {'Authorization': 'Basic ' + token}


def assert_401(r):
    assert_error(r, 401, AUTH_MESSAGE)
    assert r.headers['WWW-Authenticate'].startswith('Basic realm=')


def test_no_credentials(d):
    assert_401(d.get('/v1/nodes'))


@pytest.mark.parametrize('headers', [
    basic(USER, 'wrong'),
    basic('nobody', PASSWORD),
    basic(USER, ''),
    {'Authorization': 'Basic !!!not-base64'},
    {'Authorization': 'Bearer ' + PASSWORD},
    {'Authorization': 'Basic ' + base64.b64encode(b'no-colon').decode()},
], ids=['wrong-password', 'unknown-user', 'empty-password', 'garbage',
        'bearer', 'no-colon'])
def test_bad_credentials(d, headers):
    assert_401(d.get('/v1/nodes', headers=headers))


def test_right_credentials(d):
    r = d.get('/v1/nodes', headers=basic(USER, PASSWORD))
    assert r.status_code == 200
    assert set(r.json()) == {'nodes'}
    assert isinstance(r.json()['nodes'], list)


def test_writes_need_credentials(d):
    name = unique('auth-node')
    before = d.get('/v1/nodes', headers=basic(USER, PASSWORD)).json()
    assert_401(d.post('/v1/nodes', {'driver': 'fake-hardware',
                                    'name': name}))
    assert_401(d.post('/v1/nodes', {'driver': 'fake-hardware', 'name': name},
                      headers=basic(USER, 'wrong')))
    assert d.get('/v1/nodes', headers=basic(USER, PASSWORD)).json() == before
    r = d.post('/v1/nodes', {'driver': 'fake-hardware', 'name': name},
               headers=basic(USER, PASSWORD))
    assert r.status_code == 201
    assert_401(d.delete('/v1/nodes/' + name))
    assert d.get('/v1/nodes/' + name,
                 headers=basic(USER, PASSWORD)).status_code == 200


@pytest.mark.parametrize('path', ['/', '/v1', '/v1/'])
def test_discovery_is_open(d, path):
    r = d.get(path, version=None)
    assert r.status_code == 200
    assert r.json()
    if path != '/':
        assert r.headers['X-OpenStack-Ironic-API-Maximum-Version'] == \
            MAX_VERSION


def test_cli_with_basic_auth(d):
    name = unique('auth-cli')
    r = d.post('/v1/nodes', {'driver': 'fake-hardware', 'name': name},
               headers=basic(USER, PASSWORD))
    assert r.status_code == 201
    rows = d.cli_json('node', 'list', auth=(USER, PASSWORD))
    assert {'UUID': r.json()['uuid'], 'Name': name, 'Instance UUID': None,
            'Power State': None, 'Provisioning State': 'enroll',
            'Maintenance': False} in rows


def test_cli_without_credentials_fails_cleanly(d):
    rc, out, err = d.cli('node', 'list')            # OS_AUTH_TYPE=none
    assert (rc, out) == (1, '')
    assert err.strip() == AUTH_MESSAGE + ' (HTTP 401)'


def test_cli_wrong_password_fails_cleanly(d):
    rc, out, err = d.cli('node', 'list', auth=(USER, 'wrong'))
    assert (rc, out) == (1, '')
    assert err.strip() == AUTH_MESSAGE + ' (HTTP 401)'


def timed_get(d, path, headers, source):
    """GET from 'source' (an address of 127/8): (status, seconds)."""
    conn = http.client.HTTPConnection('127.0.0.1', d.port, timeout=60,
                                      source_address=(source, 0))
    start = time.monotonic()
    try:
        conn.request('GET', path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - start
    finally:
        conn.close()


def test_failed_logins_stop_costing_bcrypt(launcher, tmp_path):
    """50 bad logins from one address cost a handful of bcrypt runs, not 50
    (at cost 12 a run takes a quarter of a second or more); a good login
    from another address still works, and stays cheap while cached."""
    htpasswd = tmp_path / 'htpasswd'
    subprocess.run(['htpasswd', '-cbB', '-C', '12', str(htpasswd), USER,
                    PASSWORD], check=True, capture_output=True, timeout=60)
    assert htpasswd.read_text().startswith(USER + ':$2y$12$')
    d = launcher.start(DEFAULT={'auth_strategy': 'http_basic',
                                'http_basic_auth_user_file': str(htpasswd)})
    good = dict(basic(USER, PASSWORD), **{VERSION_HEADER: MAX_VERSION})
    bad = dict(basic(USER, 'guess'), **{VERSION_HEADER: MAX_VERSION})

    status, one_run = timed_get(d, '/v1/nodes', good, '127.0.0.2')
    assert status == 200
    start = time.monotonic()
    for i in range(50):
        status, _ = timed_get(d, '/v1/nodes', dict(
            basic(USER, 'guess-%d' % i), **{VERSION_HEADER: MAX_VERSION}),
            '127.0.0.1')
        assert status == 401
    fifty = time.monotonic() - start
    # A few runs are allowed per window; fifty would take 50 x one_run.
    assert fifty < 12 * one_run, (fifty, one_run)
    # Still refused, in Ironic's format.
    assert_401(d.get('/v1/nodes', headers=bad))
    # The other address: served, and from the cache (no second run).
    status, took = timed_get(d, '/v1/nodes', good, '127.0.0.2')
    assert status == 200
    assert took < one_run / 2, (took, one_run)
