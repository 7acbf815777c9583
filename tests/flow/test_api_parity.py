"""API parity the openstack CLI and Nova trip over (issue 16, item 4).

Each test drives the real `openstack baremetal` CLI or raw requests
against a real lifeboatd and compares with what Ironic 21.4 answers.
"""

import json
import uuid as uuidlib

import pytest

from conftest import MAX_VERSION, assert_error, wait_for


def _set_instance(d, node, value):
    return d.patch('/v1/nodes/' + node,
                   [{'op': 'add', 'path': '/instance_uuid', 'value': value}])


def test_second_instance_claim_is_refused(daemon):
    d = daemon
    node = d.create_node(name='claimed')['uuid']
    first, second = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    rc, out, err = d.cli('node', 'set', node, '--instance-uuid', first)
    assert rc == 0, (out, err)
    before = d.get('/v1/nodes/' + node).json()

    r = _set_instance(d, node, second)
    assert_error(r, 409, 'Node %s is associated with instance %s.'
                 % (node, first))
    # (the CLI would show the same text after retrying every 409 five
    # times, 2 s apart: 10 s of test time for nothing more)
    # the refused claims changed nothing
    assert d.get('/v1/nodes/' + node).json() == before

    # the same value again is no change, and clearing is allowed
    r = _set_instance(d, node, first)
    assert r.status_code == 200 and r.json()['instance_uuid'] == first
    rc, out, err = d.cli('node', 'unset', node, '--instance-uuid')
    assert rc == 0, (out, err)
    assert d.get('/v1/nodes/' + node).json()['instance_uuid'] is None
    # a node without a claim may be claimed anew
    r = _set_instance(d, node, second)
    assert r.status_code == 200 and r.json()['instance_uuid'] == second


# -- discovery documents and chassis ------------------------------------

# The links /v1 gives that answer only POST (the agent's heartbeat, on a
# node); every other link answers GET.
POST_ONLY = {'heartbeat'}


def _links(doc):
    for key, value in doc.items():
        if isinstance(value, list) and value and \
                all(isinstance(x, dict) and 'href' in x for x in value):
            yield key, value


def test_every_discovery_link_is_served(daemon):
    d = daemon
    seen = set()
    for doc_path in ('/', '/v1'):
        doc = d.get(doc_path).json()
        docs = [doc] + ([doc['default_version']] + doc['versions']
                        if doc_path == '/' else [doc['version']])
        for item in docs:
            for key, links in _links(item):
                for link in links:
                    href = link['href']
                    if not href.startswith(d.url) or \
                            link['rel'] == 'bookmark':
                        continue    # the docs site; Ironic's unversioned
                    seen.add(key)
                    if key in POST_ONLY:
                        r = d.post(href + '00000000-0000-4000-8000-'
                                   '000000000000', {})
                        # reached the handler, which reads the body first
                        assert r.status_code == 400, (href, r.text)
                        assert 'callback_url' in r.text, r.text
                        continue
                    r = d.get(href)
                    # lookup reaches its handler and asks for parameters
                    want = 400 if key == 'lookup' else 200
                    assert r.status_code == want, (key, href, r.text)
    assert {'chassis', 'nodes', 'ports', 'drivers', 'lookup',
            'heartbeat', 'conductors'} <= seen
    # each extra link from its version on, as Ironic's
    assert 'conductors' not in d.get('/v1', version='1.48').json()
    assert 'lookup' not in d.get('/v1', version='1.21').json()


CHASSIS = '0a1b2c3d-0000-4000-8000-00000000c4a5'


def test_chassis_collection_is_empty_and_read_only(daemon):
    d = daemon
    d.create_node(name='no-chassis')
    for path in ('/v1/chassis', '/v1/chassis/detail',
                 '/v1/chassis?limit=2&sort_key=uuid&sort_dir=desc',
                 '/v1/chassis?fields=uuid,description',
                 '/v1/chassis?detail=true'):
        r = d.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.json() == {'chassis': []}, path
    assert d.cli_json('chassis', 'list') == []
    assert d.cli_json('chassis', 'list', '--long') == []

    assert_error(d.get('/v1/chassis/' + CHASSIS), 404,
                 'Chassis %s could not be found.' % CHASSIS)
    assert_error(d.get('/v1/chassis/foo'), 400,
                 'Expected UUID for chassis_uuid: foo')
    assert_error(d.get('/v1/chassis?marker=' + CHASSIS), 404,
                 'Chassis %s could not be found.' % CHASSIS)
    assert_error(d.get('/v1/chassis?sort_key=extra'), 400,
                 'The sort_key value extra is an invalid field for sorting')
    assert_error(d.get('/v1/chassis?bogus=1'), 400)
    # version gates: fields 1.8, ?detail 1.43
    assert_error(d.get('/v1/chassis?fields=uuid', version='1.7'), 406,
                 match=r'Request not acceptable\..*1\.8.*')
    assert_error(d.get('/v1/chassis?detail=true', version='1.42'), 406,
                 match=r'Request not acceptable\..*1\.43.*')
    assert_error(d.get('/v1/chassis?detail=true&fields=uuid'), 400,
                 'Can not specify ?detail=True and fields in the same '
                 'request.')
    assert_error(d.get('/v1/chassis/detail?fields=uuid'), 400)
    assert_error(d.get('/v1/chassis/detail?detail=true'), 400)
    rc, out, err = d.cli('chassis', 'show', CHASSIS)
    assert rc != 0 and 'Chassis %s could not be found.' % CHASSIS in err

    # read-only: creating, changing or deleting one is refused
    assert d.post('/v1/chassis', {'description': 'x'}).status_code == 405
    assert d.patch('/v1/chassis/' + CHASSIS, []).status_code == 405
    assert d.delete('/v1/chassis/' + CHASSIS).status_code == 405
    assert d.get('/v1/chassis').json() == {'chassis': []}


# -- node list filters ---------------------------------------------------

def _node_names(d, query, version=MAX_VERSION):
    """The names of the nodes listed (by UUID: no names before 1.5)."""
    name = {n['uuid']: n['name'] for n in d.get('/v1/nodes').json()['nodes']}
    r = d.get('/v1/nodes?' + query, version=version)
    assert r.status_code == 200, (query, r.text)
    return sorted(name[n['uuid']] for n in r.json()['nodes'])


def test_list_filters_description_project_chassis(daemon):
    d = daemon
    d.create_node(name='fa', description='Rack 7 database primary',
                  owner='p1')
    d.create_node(name='fb', description='rack 7 web', lessee='p1',
                  owner='p3')
    d.create_node(name='fc', description='spare, 100% tested', owner='p2',
                  lessee='p4')
    d.create_node(name='fd')

    # case-insensitive substring; '%' and '_' are SQL wildcards as in Ironic
    assert _node_names(d, 'description_contains=rack') == ['fa', 'fb']
    assert _node_names(d, 'description_contains=RACK%207%20DATA') == ['fa']
    assert _node_names(d, 'description_contains=rack_7') == ['fa', 'fb']
    assert _node_names(d, 'description_contains=nothing') == []
    # (Debian's CLI 5.0.1 has --description-contains but its client
    # library refuses it before sending: NodeManager.list() takes no such
    # argument; hence raw requests here.)

    # project: owner or lessee
    assert _node_names(d, 'project=p1') == ['fa', 'fb']
    assert _node_names(d, 'project=p4') == ['fc']
    assert _node_names(d, 'project=p3&description_contains=web') == ['fb']
    assert _node_names(d, 'project=nobody') == []
    # Ironic 21.4.4 gates neither (verified at 1.1, contract wave 2 §5.2)
    assert _node_names(d, 'project=p2', version='1.1') == ['fc']
    assert _node_names(d, 'description_contains=spare',
                       version='1.1') == ['fc']
    assert _node_names(d, 'description_contains=spare',
                       version=None) == ['fc']

    # chassis_uuid: checked as a UUID, then looked up; lifeboat keeps none
    assert_error(d.get('/v1/nodes?chassis_uuid=foo'), 400,
                 'Expected UUID for chassis_uuid: foo')
    assert_error(d.get('/v1/nodes/detail?chassis_uuid=' + CHASSIS), 404,
                 'Chassis %s could not be found.' % CHASSIS)
    assert_error(d.get('/v1/nodes?chassis_uuid=' + CHASSIS,
                       version='1.1'), 404,
                 'Chassis %s could not be found.' % CHASSIS)
    rc, out, err = d.cli('node', 'list', '--chassis', CHASSIS)
    assert rc != 0 and 'Chassis %s could not be found.' % CHASSIS in err


# Ironic 21.4.4's gates on node list filters: (param, value, version).
GATED = [('provision_state', 'enroll', 9), ('driver', 'fake-hardware', 16),
         ('resource_class', 'x', 21), ('fault', 'power failure', 42),
         ('conductor_group', 'g', 46), ('owner', 'p1', 50),
         ('lessee', 'p1', 65)]


def test_list_filters_are_version_gated(launcher):
    # A node of group g needs a conductor of group g (Ironic's NoValidHost)
    d = launcher.start(conductor={'conductor_group': 'g'})
    d.create_node(name='g1', owner='p1', lessee='p1', resource_class='x',
                  conductor_group='g', _version='1.65')
    for param, value, minor in GATED:
        query = '/v1/nodes?%s=%s' % (param, value)
        below = d.get(query, version='1.%d' % (minor - 1))
        if param == 'provision_state':
            assert_error(below, 406, 'Request not acceptable.')
        else:
            assert_error(below, 406, 'Request not acceptable. The minimal '
                         'required API version should be 1.%d' % minor)
        at = d.get(query, version='1.%d' % minor)
        assert at.status_code == 200, (param, at.text)
        # made at 1.65, so in enroll; no node has a fault
        want = [] if param == 'fault' else ['g1']
        assert [n['name'] for n in at.json()['nodes']] == want, param


# -- VIFs (1.28) -------------------------------------------------------

VIF1 = '11111111-2222-4333-8444-555555555555'
VIF2 = 'tenant-net-port.b'


def _vifs(d, node):
    return sorted(v['ID'] for v in d.cli_json('node', 'vif', 'list', node))


def test_vifs_on_flat_are_kept_in_port_internal_info(daemon):
    d = daemon
    node = d.create_node(name='vifs', network_interface='flat')['uuid']
    p_boot = d.create_port(node, pxe_enabled=True)['uuid']
    p_other = d.create_port(node, pxe_enabled=False)['uuid']
    assert _vifs(d, node) == []

    # the PXE port is taken first, as Ironic's free port choice
    rc, out, err = d.cli('node', 'vif', 'attach', 'vifs', VIF1)
    assert rc == 0, (out, err)
    port = d.get('/v1/ports/' + p_boot).json()
    assert port['internal_info'] == {'tenant_vif_port_id': VIF1}
    assert _vifs(d, node) == [VIF1]

    # the same VIF again: 409; no free port left after a second: 400
    assert_error(d.post('/v1/nodes/%s/vifs' % node, {'id': VIF1}), 409,
                 'Unable to attach VIF because VIF %s is already attached '
                 'to Ironic Port %s' % (VIF1, p_boot))
    rc, out, err = d.cli('node', 'vif', 'attach', node, VIF2,
                         '--port-uuid', p_other, '--vif-info', 'k=v')
    assert rc == 0, (out, err)
    assert d.get('/v1/ports/' + p_other).json()['internal_info'] == \
        {'tenant_vif_port_id': VIF2}
    assert _vifs(d, node) == sorted([VIF1, VIF2])
    assert_error(d.post('/v1/nodes/%s/vifs' % node, {'id': 'third'}), 400,
                 'Unable to attach VIF third, not enough free physical '
                 'ports.')

    # bad bodies change nothing
    before = d.snapshot()
    assert_error(d.post('/v1/nodes/%s/vifs' % node, {}), 400,
                 "Schema error for vif: 'id' is a required property")
    r = d.request('POST', '/v1/nodes/%s/vifs' % node, data=b'',
                  headers={'Content-Type': 'application/json'})
    assert_error(r, 400, "Schema error for vif: 'id' is a required property")
    # jsonschema's words: the instance as Python prints it
    for body, shown, kind in (([1], '[1]', 'object'),
                              ('x', "'x'", 'object'),
                              ({'id': 1}, '1', 'string'),
                              ({'id': None}, 'None', 'string'),
                              ({'id': ["it's", True, 1.5, {'k': False}]},
                               '["it\'s", True, 1.5, {\'k\': False}]',
                               'string')):
        assert_error(d.post('/v1/nodes/%s/vifs' % node, body), 400,
                     'Schema error for vif: %s is not of type %r'
                     % (shown, kind))
    assert_error(d.post('/v1/nodes/%s/vifs' % node, {'id': 'bad id!'}), 400,
                 'Expected UUID or name for id: bad id!')
    assert_error(d.post('/v1/nodes/%s/vifs' % node,
                        {'id': 'x', 'port_uuid': p_boot,
                         'portgroup_uuid': p_other}), 400,
                 'Cannot specify both port_uuid and portgroup_uuid')
    assert_error(d.delete('/v1/nodes/%s/vifs/nope' % node), 400,
                 'Unable to detach VIF nope from node %s because it is not '
                 'attached to it.' % node)
    # below 1.28 the resource does not exist: pecan's 404, as Ironic's
    for r in (d.get('/v1/nodes/%s/vifs' % node, version='1.27'),
              d.post('/v1/nodes/%s/vifs' % node, {'id': 'y'},
                     version='1.27'),
              d.delete('/v1/nodes/%s/vifs/%s' % (node, VIF1),
                       version='1.27')):
        assert r.status_code == 404 and r.json() == {
            'error_message': json.dumps({'code': 404, 'title': 'Not Found',
                                         'description': ''})}, r.text
    assert d.snapshot() == before

    rc, out, err = d.cli('node', 'vif', 'detach', node, VIF1)
    assert rc == 0, (out, err)
    assert d.get('/v1/ports/' + p_boot).json()['internal_info'] == {}
    assert _vifs(d, node) == [VIF2]
    # the freed port takes the next VIF
    r = d.post('/v1/nodes/%s/vifs' % node, {'id': 'third'})
    assert r.status_code == 204, r.text
    assert d.get('/v1/ports/' + p_boot).json()['internal_info'] == \
        {'tenant_vif_port_id': 'third'}


def test_vifs_on_noop_are_accepted_and_not_kept(daemon):
    d = daemon
    node = d.create_node(name='vifs-noop', network_interface='noop')['uuid']
    port = d.create_port(node)['uuid']
    rc, out, err = d.cli('node', 'vif', 'attach', node, VIF1)
    assert rc == 0, (out, err)
    assert _vifs(d, node) == []            # Ironic's noop lists none
    assert d.get('/v1/ports/' + port).json()['internal_info'] == {}
    rc, out, err = d.cli('node', 'vif', 'detach', node, 'never-attached')
    assert rc == 0, (out, err)
    assert_error(d.get('/v1/nodes/nosuch/vifs'), 404)


@pytest.mark.parametrize('network', ['noop', 'flat'])
def test_vif_changes_on_a_locked_node_are_409(daemon, network):
    """Ironic's conductor locks the node for attach and detach, whatever
    its network interface: Nova retries a 409.  Listing takes no lock."""
    d = daemon
    name = 'vif-locked-' + network
    node = d.create_node(name=name, network_interface=network,
                         driver_info={'fake_delay': 2})['uuid']
    d.create_port(node)
    r = d.put('/v1/nodes/%s/states/power' % node, {'target': 'power on'})
    assert r.status_code == 202, r.text
    before = d.snapshot()
    locked = ('Node %s is locked by host %s, please retry after the current '
              'operation is completed.'
              % (node, d.get('/v1/nodes/' + node).json()['reservation']))
    assert_error(d.post('/v1/nodes/%s/vifs' % node, {'id': VIF1}), 409,
                 locked)
    assert_error(d.delete('/v1/nodes/%s/vifs/%s' % (node, VIF1)), 409,
                 locked)
    assert d.get('/v1/nodes/%s/vifs' % node).status_code == 200
    after = d.snapshot()
    assert after == before
    wait_for(lambda: d.get('/v1/nodes/' + node).json()['reservation']
             is None, 10, what='power action done')
    assert d.post('/v1/nodes/%s/vifs' % node,
                  {'id': VIF1}).status_code == 204


def test_port_holding_a_vif_is_kept_until_maintenance(daemon):
    d = daemon
    node = d.create_node(name='vif-port', network_interface='flat')['uuid']
    port = d.create_port(node)['uuid']
    assert d.post('/v1/nodes/%s/vifs' % node,
                  {'id': VIF1}).status_code == 204
    assert_error(d.delete('/v1/ports/' + port), 409,
                 'Cannot delete the port %s as it is bound to VIF %s for '
                 'tenant use.' % (port, VIF1))
    assert d.get('/v1/ports/' + port).status_code == 200
    rc, out, err = d.cli('node', 'maintenance', 'set', node)
    assert rc == 0, (out, err)
    assert d.delete('/v1/ports/' + port).status_code == 204
    assert _vifs(d, node) == []
