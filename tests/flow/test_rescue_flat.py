"""Flat networks keep the rescued machine reachable (issue 12, item 1):
after a rescue, lifeboat's dnsmasq host entry for the node's MAC is a bare
'<mac>' where the node stays on the one network that dnsmasq serves (the
``noop`` and ``flat`` network interfaces), and '<mac>,ignore' only where
a tenant network with its own DHCP takes the node over (``switch``).
finalize_rescue tells the agent that the network moves
("lifeboat_network_moves": true) only in that last case, and an agent
that rejects the parameter as IPA does is asked again without it.

lifeboatd, the simulated agent (tests/lab/fake_agent.py) and the real
``openstack baremetal`` CLI.  The ``switch`` cases need root: they run in
a network namespace with real bridges (test_rescue_exits.py's fixture).
Every wait polls with a deadline.
"""

import os

import pytest

from conftest import wait_for
from rescue_helpers import end_state, put_verb, settled, to_rescue_wait
from rescue_helpers import agents, lab  # noqa: F401 (fixtures)
from test_rescue_exits import access_vlan, switch, switch_lab, \
    switch_node  # noqa: F401 (switch is a fixture)
from test_rescue_exits import RESCUING, TENANT

PASSWORD = 'Flat-Resc-ue-PW1'
MOVES = 'lifeboat_network_moves'
REJECTED = ("Invalid command parameters: finalize_rescue() got an "
            "unexpected keyword argument '%s'" % MOVES)

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason='needs root (network namespaces)')


def finalize_posts(agent):
    """(params sent, HTTP status answered) of each POST the agent got."""
    ins = agent.commands_in()
    outs = [e for e in agent.entries('agent_out') if e['method'] == 'POST']
    assert len(ins) == len(outs), (ins, outs)
    for e in ins:
        assert e['body']['name'] == 'rescue.finalize_rescue', e
    return [(i['body']['params'], o['status']) for i, o in zip(ins, outs)]


def rescue(lab, uuid, mac, agents, *agent_args):
    """A rescue over the API with a simulated agent; the agent and the
    node once in rescue."""
    to_rescue_wait(lab, uuid, PASSWORD)
    host = lab.host_file(mac).read_text()
    assert host == '%s,set:%s,set:ironic\n' % (mac, uuid)
    agent = agents.start(lab.api_url, mac, *agent_args)
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    assert agent.wait_exit(30) == 0
    assert agent.rescued()
    return agent, node


def assert_hash(params, agent):
    assert params['rescue_password'] == agent.password_hash(), params
    assert params['hashed'] is True, params


def options_gone(lab, uuid):
    return not os.path.lexists(lab.optsdir / ('ironic-%s.conf' % uuid))


@pytest.mark.parametrize('network', ['noop', 'flat'])
def test_flat_rescue_keeps_the_mac_served(lab, agents, network):
    node, mac = lab.node(network=network)
    assert node['network_interface'] == network, node
    uuid = node['uuid']
    agent, node = rescue(lab, uuid, mac, agents, '--accept-network-moves')

    # The node stays where it is: the agent is not told anything more.
    posts = finalize_posts(agent)
    assert len(posts) == 1, posts
    params, status = posts[0]
    assert status == 200
    assert set(params) == {'rescue_password', 'hashed'}, params
    assert_hash(params, agent)

    # dnsmasq keeps answering the MAC, with no tag: no boot options.
    assert lab.host_file(mac).read_text() == '%s\n' % mac
    assert options_gone(lab, uuid)
    assert lab.leftovers(uuid, mac) == []

    rc, out, err = lab.d.cli('node', 'unrescue', uuid, '--wait')
    assert rc == 0, (out, err)
    node = settled(lab.d, uuid)
    assert node['provision_state'] == 'active', node
    assert lab.host_file(mac).read_text() == '%s\n' % mac
    assert options_gone(lab, uuid)


@pytest.mark.parametrize('network', ['noop', 'flat'])
def test_flat_abort_keeps_the_mac_served(lab, network):
    """Every way out goes through the same clean-up: abort here."""
    node, mac = lab.node(network=network)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid, PASSWORD)
    r = put_verb(lab.d, uuid, 'abort')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed'})
    assert lab.host_file(mac).read_text() == '%s\n' % mac
    assert options_gone(lab, uuid)


@needs_root
def test_switch_rescue_ignores_the_mac_and_tells_the_agent(
        switch, launcher, tmp_path, agents):  # noqa: F811
    lab = switch_lab(launcher, tmp_path)
    node, mac = switch_node(lab)
    uuid = node['uuid']
    agent, node = rescue(lab, uuid, mac, agents, '--accept-network-moves')
    assert access_vlan() == TENANT

    posts = finalize_posts(agent)
    assert len(posts) == 1, posts
    params, status = posts[0]
    assert status == 200
    assert params[MOVES] is True, params
    assert set(params) == {'rescue_password', 'hashed', MOVES}, params
    assert_hash(params, agent)
    assert [e['moves'] for e in agent.events('network_moves')] == [True]

    # The tenant VLAN's own DHCP serves the node now, as in Ironic.
    assert lab.host_file(mac).read_text() == '%s,ignore\n' % mac
    assert options_gone(lab, uuid)


@needs_root
def test_switch_ipa_rejects_the_parameter_then_rescue_succeeds(
        switch, launcher, tmp_path, agents):  # noqa: F811
    """IPA (and the simulated agent without --accept-network-moves)
    answers an unknown finalize_rescue parameter with HTTP 400
    InvalidCommandParamsError and changes nothing: lifeboat asks once
    more without it."""
    lab = switch_lab(launcher, tmp_path)
    node, mac = switch_node(lab)
    uuid = node['uuid']
    agent, node = rescue(lab, uuid, mac, agents)
    assert access_vlan() == TENANT
    assert access_vlan() != RESCUING

    posts = finalize_posts(agent)
    assert len(posts) == 2, posts
    (first, s1), (second, s2) = posts
    assert (first.get(MOVES), s1) == (True, 400), posts
    assert MOVES not in second and s2 == 200, posts
    assert_hash(second, agent)
    rejected = [e for e in agent.entries('agent_out')
                if e['method'] == 'POST' and e['status'] == 400]
    assert rejected[0]['body'] == {'faultcode': 'Client',
                                   'faultstring': REJECTED}, rejected
    assert [e['param'] for e in agent.events('finalize_rejected')] == [MOVES]
    assert lab.host_file(mac).read_text() == '%s,ignore\n' % mac
    wait_for(lambda: 'does not know %s' % MOVES in lab.d.log_text(), 10,
             what='the retry logged')
