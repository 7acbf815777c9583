"""Microversions and discovery (contract §1.1, §1.2, §2.1).

* no version header means 1.1 (the minimum), not the maximum;
* ``latest`` and ``OpenStack-API-Version: baremetal 1.x`` are understood;
* unsupported or unparsable versions get 406 with the min/max headers and
  without X-OpenStack-Ironic-API-Version;
* fields newer than the request's version are hidden (Ironic's
  VERSIONED_FIELDS table), fields at or below it are shown;
* every /v1 response carries the min and max headers.
"""

import pytest

from conftest import (FIELD_MINOR, MAX_HEADER, MAX_VERSION, MIN_HEADER,
                      MIN_VERSION, NODE_KEYS_1_78, VERSION_HEADER,
                      assert_error, unique)

def keys_at(minor):
    return {k for k in NODE_KEYS_1_78 if FIELD_MINOR.get(k, 1) <= minor}


@pytest.fixture(scope='module')
def node(module_daemon):
    return module_daemon.create_node(name='ver-node')


# -- discovery ---------------------------------------------------------------

def test_root_document(module_daemon):
    r = module_daemon.get('/', version=None)
    assert r.status_code == 200
    body = r.json()
    dv = body['default_version']
    assert dv['id'] == 'v1'
    assert dv['version'] == MAX_VERSION          # the *maximum*
    assert dv['min_version'] == MIN_VERSION
    assert dv['status'] == 'CURRENT'
    assert {'href': module_daemon.url + '/v1/', 'rel': 'self'} in dv['links']
    assert body['versions'] == [dv]
    assert body['name'] == 'OpenStack Ironic API'


@pytest.mark.parametrize('path', ['/v1', '/v1/'])
def test_v1_without_version_header(module_daemon, path):
    # The client's negotiation fallback: GET /v1 with no version header.
    r = module_daemon.get(path, version=None)
    assert r.status_code == 200
    assert r.headers[MIN_HEADER] == MIN_VERSION
    assert r.headers[MAX_HEADER] == MAX_VERSION
    body = r.json()
    assert body['id'] == 'v1'
    assert body['media_types'] == {
        'base': 'application/json',
        'type': 'application/vnd.openstack.ironic.v1+json'}
    url = module_daemon.url
    assert body['nodes'] == [{'href': url + '/v1/nodes/', 'rel': 'self'},
                             {'href': url + '/nodes/', 'rel': 'bookmark'}]
    for key in ('ports', 'drivers', 'chassis'):
        assert body[key][0] == {'href': '%s/v1/%s/' % (url, key),
                                'rel': 'self'}
    assert body['version']['version'] == MAX_VERSION
    assert body['version']['min_version'] == MIN_VERSION


# -- no header = 1.1 ---------------------------------------------------------------

def test_no_header_is_1_1(module_daemon):
    d = module_daemon
    r = d.post('/v1/nodes', {'driver': 'fake-hardware'}, version=None)
    assert r.status_code == 201
    assert r.headers[VERSION_HEADER] == '1.1'
    node = r.json()
    # Before 1.11 new nodes start in 'available', not 'enroll'.
    assert node['provision_state'] == 'available'
    # Only 1.1 fields: no name (1.5), no interfaces (1.20+), no
    # rescue_interface (1.38).
    assert set(node) == keys_at(1)
    assert 'name' not in node and 'rescue_interface' not in node
    # Reading it back without a header: still 1.1.
    r = d.get('/v1/nodes/' + node['uuid'], version=None)
    assert r.status_code == 200
    assert r.headers[VERSION_HEADER] == '1.1'
    assert set(r.json()) == keys_at(1)
    # List items at 1.1 have no name either.
    r = d.get('/v1/nodes', version=None)
    for item in r.json()['nodes']:
        assert set(item) == {'uuid', 'instance_uuid', 'power_state',
                             'provision_state', 'maintenance', 'links'}


def test_enroll_needs_1_11(module_daemon):
    d = module_daemon
    assert d.create_node(_version='1.10')['provision_state'] == 'available'
    assert d.create_node(_version='1.11')['provision_state'] == 'enroll'


@pytest.mark.parametrize('minor', [1, 5, 10, 20, 31, 37, 38, 40, 49, 50, 52,
                                   66, 74, 75, 78])
def test_fields_follow_version(module_daemon, node, minor):
    r = module_daemon.get('/v1/nodes/' + node['uuid'],
                          version='1.%d' % minor)
    assert r.status_code == 200
    assert r.headers[VERSION_HEADER] == '1.%d' % minor
    assert set(r.json()) == keys_at(minor)


def test_rescue_interface_needs_1_38(module_daemon, node):
    d = module_daemon
    assert 'rescue_interface' not in d.get('/v1/nodes/' + node['uuid'],
                                           version='1.37').json()
    assert d.get('/v1/nodes/' + node['uuid'],
                 version='1.38').json()['rescue_interface'] == 'fake'


# -- other ways of asking ------------------------------------------------------

def test_latest(module_daemon, node):
    r = module_daemon.get('/v1/nodes/ver-node', version='latest')
    assert r.status_code == 200
    assert r.headers[VERSION_HEADER] == MAX_VERSION
    assert set(r.json()) == NODE_KEYS_1_78


def test_generic_openstack_api_version_header(module_daemon, node):
    r = module_daemon.get('/v1/nodes/ver-node', version=None,
                          headers={'OpenStack-API-Version': 'baremetal 1.50'})
    assert r.status_code == 200
    assert r.headers[VERSION_HEADER] == '1.50'
    body = r.json()
    assert set(body) == keys_at(50)
    assert 'owner' in body and 'description' not in body


@pytest.mark.parametrize('version,message', [
    ('1.0', 'Version 1.0 was requested but the minor version is not '
            'supported by this service. The supported version range is: '
            '[1.1, 1.78].'),
    ('1.79', 'Version 1.79 was requested but the minor version is not '
             'supported by this service. The supported version range is: '
             '[1.1, 1.78].'),
    ('1.99', 'Version 1.99 was requested but the minor version is not '
             'supported by this service. The supported version range is: '
             '[1.1, 1.78].'),
    ('2.1', None),
    ('junk', None),
    ('1', None),
    ('1.x', None),
])
def test_unacceptable_versions(module_daemon, node, version, message):
    d = module_daemon
    for method, path, body in (('GET', '/v1/nodes', None),
                               ('GET', '/v1/nodes/ver-node', None),
                               ('POST', '/v1/nodes',
                                {'driver': 'fake-hardware'})):
        before = d.get('/v1/nodes?fields=uuid').json()
        r = d.request(method, path, version=version, json=body)
        inner = assert_error(r, 406, message)
        assert '[1.1, 1.78]' in inner['faultstring']
        assert r.headers[MIN_HEADER] == MIN_VERSION
        assert r.headers[MAX_HEADER] == MAX_VERSION
        assert VERSION_HEADER not in r.headers
        assert d.get('/v1/nodes?fields=uuid').json() == before


def test_feature_gate_406(module_daemon):
    # ?fields needs 1.8: per-feature 406, still with the range headers.
    r = module_daemon.get('/v1/nodes?fields=uuid', version='1.7')
    assert_error(r, 406)
    r = module_daemon.get('/v1/nodes?fields=uuid', version='1.8')
    assert r.status_code == 200


# -- headers on every /v1 response --------------------------------------------------

@pytest.mark.parametrize('method,path,body,version,status', [
    ('GET', '/v1', None, None, 200),
    ('GET', '/v1/nodes', None, '1.1', 200),
    ('GET', '/v1/nodes', None, '1.78', 200),
    ('GET', '/v1/nodes/detail', None, '1.50', 200),
    ('GET', '/v1/nodes/ver-node', None, '1.50', 200),
    ('GET', '/v1/nodes/ver-node/validate', None, '1.78', 200),
    ('GET', '/v1/ports', None, '1.78', 200),
    ('GET', '/v1/drivers', None, '1.78', 200),
    ('GET', '/v1/drivers/ipmi', None, '1.78', 200),
    ('POST', '/v1/nodes', {'driver': 'fake-hardware'}, '1.78', 201),
    ('GET', '/v1/nodes/nope', None, '1.50', 404),
    ('GET', '/v1/ports/nope', None, '1.50', 404),
    ('GET', '/v1/bogus', None, '1.78', 404),
    ('POST', '/v1', {}, '1.78', 405),
    ('POST', '/v1/nodes', {'bogus': 1}, '1.60', 400),
    ('GET', '/v1/nodes', None, '1.99', 406),
])
def test_range_headers_everywhere(module_daemon, node, method, path, body,
                                  version, status):
    r = module_daemon.request(method, path, version=version, json=body)
    assert r.status_code == status, r.text
    assert r.headers.get(MIN_HEADER) == MIN_VERSION
    assert r.headers.get(MAX_HEADER) == MAX_VERSION
    if status == 406:
        assert VERSION_HEADER not in r.headers
    else:
        # The version this request was processed at.
        assert r.headers.get(VERSION_HEADER) == (version or MIN_VERSION)
    if status >= 400:
        assert_error(r, status)


# -- the CLI pinned to 1.38 --------------------------------------------------------

def test_cli_pinned_1_38(module_daemon, node):
    shown = module_daemon.cli_json('node', 'show', 'ver-node',
                                   api_version='1.38')
    # Exactly the fields of 1.38 (the CLI drops the link lists).
    assert set(shown) == keys_at(38) - {'links', 'ports', 'states',
                                        'portgroups', 'volume'}
    assert shown['rescue_interface'] == 'fake'
    assert shown['uuid'] == node['uuid']


def test_names_hidden_below_1_5(module_daemon):
    # A name set at the max version is invisible at 1.1, but the node is
    # still there by UUID.
    d = module_daemon
    n = d.create_node(name=unique('ver'))
    r = d.get('/v1/nodes/' + n['uuid'], version='1.1')
    assert r.status_code == 200 and 'name' not in r.json()
