"""API parity the openstack CLI and Nova trip over (issue 16, item 4).

Each test drives the real `openstack baremetal` CLI or raw requests
against a real lifeboatd and compares with what Ironic 21.4 answers.
"""

import uuid as uuidlib

from conftest import assert_error


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
