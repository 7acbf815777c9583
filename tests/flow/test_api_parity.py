"""API parity the openstack CLI and Nova trip over (issue 16, item 4).

Each test drives the real `openstack baremetal` CLI or raw requests
against a real lifeboatd and compares with what Ironic 21.4 answers.
"""

import uuid as uuidlib

from conftest import MAX_VERSION, assert_error


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
    rc, out, err = d.cli('node', 'set', 'claimed', '--instance-uuid', second)
    assert rc != 0 and ('Node %s is associated with instance %s.'
                        % (node, first)) in err, (out, err)
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
            'heartbeat'} <= seen


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


def test_list_filters_are_version_gated(daemon):
    d = daemon
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
