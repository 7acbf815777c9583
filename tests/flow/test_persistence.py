"""Persistence: everything survives a crash (SIGKILL) and a clean restart.

Each test has its own daemon; the restart reuses the same state directory
(and so the same SQLite database) or the same PostgreSQL database.
"""

import json
import uuid as uuidlib

from conftest import assert_error, store_rows


def populate(d):
    """Nodes and ports covering most stored fields; returns the UUIDs."""
    a = d.create_node(name='p-a', driver='ipmi',
                      driver_info={'ipmi_address': '10.0.0.5',
                                   'ipmi_password': 's3cretPERSIST'},
                      properties={'cpu_arch': 'x86_64', 'memory_mb': 4096},
                      extra={'nested': {'k': [1, 2, 'three']}},
                      description='first', resource_class='baremetal',
                      rescue_interface='agent', network_interface='noop')
    b = d.create_node(name='p-b', _version='1.10')        # 'available'
    c = d.create_node(driver='fake-hardware')              # no name
    r = d.patch('/v1/nodes/p-b', [
        {'op': 'add', 'path': '/instance_info/image_source',
         'value': 'http://img/x'},
        {'op': 'add', 'path': '/instance_uuid',
         'value': str(uuidlib.uuid4())},
    ])
    assert r.status_code == 200
    assert d.put('/v1/nodes/p-a/maintenance',
                 {'reason': 'kept over restarts'}).status_code == 202
    ports = [d.create_port(a['uuid'], '52:54:00:77:00:01'),
             d.create_port(a['uuid'], '52:54:00:77:00:02',
                           extra={'switch': 'sw1'}, pxe_enabled=False),
             d.create_port(b['uuid'], '52:54:00:77:00:03')]
    return [a['uuid'], b['uuid'], c['uuid']], [p['uuid'] for p in ports]


def check_same(d, before, node_uuids, port_uuids):
    after = d.snapshot()
    assert after == before
    assert sorted(n['uuid'] for n in after[0]) == sorted(node_uuids)
    assert sorted(p['uuid'] for p in after[1]) == sorted(port_uuids)
    # Names still resolve, and the stored (masked) secret is the real one,
    # as read from the database file itself.
    assert d.get('/v1/nodes/p-a').json()['uuid'] == node_uuids[0]
    (info,), = store_rows(d, "SELECT driver_info FROM nodes WHERE "
                         "name = ?", ('p-a',))
    assert json.loads(info)['ipmi_password'] == 's3cretPERSIST'
    # Uniqueness survives too.
    assert_error(d.post('/v1/nodes', {'driver': 'fake-hardware',
                                      'name': 'p-a'}), 409,
                 'A node with name p-a already exists.')
    assert_error(d.post('/v1/ports', {'address': '52:54:00:77:00:01',
                                      'node_uuid': node_uuids[2]}), 409,
                 'A port with MAC address 52:54:00:77:00:01 already exists.')


def test_survives_sigkill(daemon):
    d = daemon
    node_uuids, port_uuids = populate(d)
    before = d.snapshot()
    assert len(before[0]) == 3 and len(before[1]) == 3
    d.restart(hard=True)                 # SIGKILL, then start again
    check_same(d, before, node_uuids, port_uuids)
    # Still writable after the crash; new UUIDs do not collide.
    new = d.create_node(name='p-new')
    assert new['uuid'] not in node_uuids
    # And the CLI sees the same node as before the crash.
    shown = d.cli_json('node', 'show', 'p-a')
    assert shown['uuid'] == node_uuids[0]
    assert shown['maintenance'] is True
    assert shown['maintenance_reason'] == 'kept over restarts'
    assert shown['driver_info'] == {'ipmi_address': '10.0.0.5',
                                    'ipmi_password': '******'}
    assert shown['properties'] == {'cpu_arch': 'x86_64', 'memory_mb': 4096}
    assert shown['extra'] == {'nested': {'k': [1, 2, 'three']}}


def test_survives_clean_restart_and_keeps_deletes(daemon):
    d = daemon
    node_uuids, port_uuids = populate(d)
    # Changes made right before the restart must stick as well.
    assert d.delete('/v1/ports/' + port_uuids[2]).status_code == 204
    assert d.patch('/v1/nodes/p-a', [{'op': 'replace', 'path': '/description',
                                      'value': 'changed'}]).status_code == 200
    before = d.snapshot()
    assert d.stop() == 0                 # SIGTERM: a clean exit
    d.start()
    check_same(d, before, node_uuids, port_uuids[:2])
    assert d.get('/v1/nodes/p-a').json()['description'] == 'changed'
    assert_error(d.get('/v1/ports/' + port_uuids[2]), 404)
    # A crash right after that changes nothing either.
    before = d.snapshot()
    d.restart(hard=True)
    assert d.snapshot() == before
