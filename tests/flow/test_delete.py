"""Node delete rules (contract §1.4, "DELETE is allowed in ...").

The module's daemon runs with ``[conductor] allow_deleting_available_nodes
= false`` so that there is a stable state (``available``, reachable by
creating a node at API 1.1-1.10) from which deletion is refused unless the
node is in maintenance.  Every test uses its own nodes.
"""

import uuid as uuidlib

import pytest

from conftest import assert_error, unique, unique_mac


@pytest.fixture(scope='module')
def d(module_launcher):
    return module_launcher.start(
        conductor={'allow_deleting_available_nodes': 'false'})


def test_enroll_node_is_deletable(d):
    node = d.create_node(name=unique('del-enroll'))
    assert node['provision_state'] == 'enroll'
    r = d.delete('/v1/nodes/' + node['name'])
    # 204: no body, no Content-Type (contract §1.3).
    assert r.status_code == 204
    assert r.content == b''
    assert 'Content-Type' not in r.headers
    assert_error(d.get('/v1/nodes/' + node['uuid']), 404,
                 'Node %s could not be found.' % node['uuid'])


def test_maintenance_node_can_be_deleted(d):
    node = d.create_node(name=unique('del-maint'), _version='1.10')
    assert node['provision_state'] == 'available'
    before = d.snapshot()
    # Not in an allowed state and not in maintenance: refused.
    r = d.delete('/v1/nodes/' + node['uuid'])
    assert_error(r, 409, match=r'.*available.*')
    assert d.snapshot() == before
    # Maintenance on (202, no body) ...
    r = d.put('/v1/nodes/%s/maintenance' % node['uuid'], {'reason': 'gone'})
    assert r.status_code == 202 and r.content == b''
    got = d.get('/v1/nodes/' + node['uuid']).json()
    assert (got['maintenance'], got['maintenance_reason']) == (True, 'gone')
    # ... and now it can be deleted.
    assert d.delete('/v1/nodes/' + node['uuid']).status_code == 204
    assert_error(d.get('/v1/nodes/' + node['uuid']), 404)


def test_delete_removes_ports(d):
    node = d.create_node(name=unique('del-ports'))
    macs = [unique_mac(), unique_mac()]
    ports = [d.create_port(node['uuid'], m) for m in macs]
    other = d.create_node(name=unique('del-ports-other'))
    keep = d.create_port(other['uuid'])

    assert d.delete('/v1/nodes/' + node['uuid']).status_code == 204
    for p in ports:
        assert_error(d.get('/v1/ports/' + p['uuid']), 404,
                     'Port %s could not be found.' % p['uuid'])
    all_ports = [p['uuid'] for p in d.get('/v1/ports').json()['ports']]
    assert keep['uuid'] in all_ports
    assert not set(all_ports) & {p['uuid'] for p in ports}
    # The MACs are really free again (the rows are gone, not hidden).
    again = d.create_port(other['uuid'], macs[0])
    assert again['address'] == macs[0]
    # The other node's port is untouched.
    assert d.get('/v1/ports/' + keep['uuid']).json()['node_uuid'] == \
        other['uuid']


def test_associated_node_cannot_be_deleted(d):
    node = d.create_node(name=unique('del-assoc'))
    port = d.create_port(node['uuid'])
    instance = str(uuidlib.uuid4())
    r = d.patch('/v1/nodes/' + node['uuid'],
                [{'op': 'add', 'path': '/instance_uuid', 'value': instance}])
    assert r.status_code == 200 and r.json()['instance_uuid'] == instance
    before = d.snapshot()
    message = 'Node %s is associated with instance %s.' % (node['uuid'],
                                                            instance)
    assert_error(d.delete('/v1/nodes/' + node['uuid']), 409, message)
    assert d.snapshot() == before
    # Maintenance does not lift this rule.
    assert d.put('/v1/nodes/%s/maintenance' % node['uuid'],
                 {'reason': 'x'}).status_code == 202
    before = d.snapshot()
    assert_error(d.delete('/v1/nodes/' + node['uuid']), 409, message)
    assert d.snapshot() == before
    assert d.get('/v1/ports/' + port['uuid']).status_code == 200
    # Once the instance is gone, the node goes too.
    r = d.patch('/v1/nodes/' + node['uuid'],
                [{'op': 'remove', 'path': '/instance_uuid'}])
    assert r.status_code == 200 and r.json()['instance_uuid'] is None
    assert d.delete('/v1/nodes/' + node['uuid']).status_code == 204
    assert_error(d.get('/v1/ports/' + port['uuid']), 404)


def test_delete_by_name_and_twice(d):
    name = unique('del-twice')
    d.create_node(name=name)
    assert d.delete('/v1/nodes/' + name).status_code == 204
    assert_error(d.delete('/v1/nodes/' + name), 404,
                 'Node %s could not be found.' % name)
