"""HTTP basic authentication (auth_strategy = http_basic).

The htpasswd file is made with the real ``htpasswd -cbB`` (bcrypt).
Discovery (``GET /`` and ``GET /v1``) stays open so the client can
negotiate; everything else needs valid credentials.
"""

import base64
import subprocess

import pytest

from conftest import MAX_VERSION, assert_error, unique

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
