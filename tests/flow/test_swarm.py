"""bench/swarm.py against a real lifeboatd: many rescues at once, every
ramdisk agent played by the one swarm process (lookup with the node's MACs,
heartbeats with the token, finalize_rescue answered with the token
checked), and the fake power interface's test knobs seen by API clients.

Nodes are fake-hardware (``power_interface=fake``, with fake_delay,
fake_delay_jitter and fake_bmc set) booting over PXE with the ``agent``
rescue interface; one test mixes in a lab IPMI and a lab Redfish BMC.
"""

import asyncio
import os
import re
import sys
import threading
import warnings

import requests

from conftest import wait_for
from power_helpers import bmcs  # noqa: F401 (a fixture)
from power_helpers import get_node
from rescue_helpers import MASK, RescueLab, end_state, put_rescue, \
    put_verb, wait_state

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'bench'))
from swarm import Swarm  # noqa: E402

N = 20
SYSTEM = '/redfish/v1/Systems/1'
# crypt(3) SHA-256 or SHA-512: $5$ or $6$, optional rounds, salt, hash
CRYPT_RE = re.compile(r'^\$[56]\$(rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$'
                      r'[./0-9A-Za-z]{43,86}$')
TOKEN_INVALID = '401 Unauthorized: Token invalid.'


def crypt_matches(password, hashed):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import crypt
    return crypt.crypt(password, hashed) == hashed


def password(i):
    return 'Swarm-Resc-PW-%02d' % i


def fake_info(i):
    """The knobs every fake node gets: a little latency, shared BMCs."""
    return {'fake_delay': '0.01', 'fake_delay_jitter': 0.02,
            'fake_bmc': 'rack%d' % (i % 4)}


def adopt_all(lab, uuids):
    """manage then adopt every node, all in flight at once."""
    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        for uuid in uuids:
            r = put_verb(lab.d, uuid, verb)
            assert r.status_code == 202, (verb, r.text)
        for uuid in uuids:
            node = end_state(lab.d, uuid, {final, 'enroll', 'adopt failed'})
            assert node['provision_state'] == final, node


def start_swarm(lab, uuids, tmp_path):
    s = Swarm(api_url=lab.api_url, heartbeat_interval=0.5,
              poll_interval=0.05, nodes=set(uuids),
              heartbeat_error_interval=0.2,
              log_path=str(tmp_path / 'swarm.jsonl'))
    s.start()
    return s


def assert_rescued(lab, s, uuid, pw, boots=1):
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'}, 60)
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    a = s.agent(uuid)
    assert a['state'] == 'rescued', a
    assert a['token_known'] and a['boots'] == boots, a
    assert a['heartbeats'] >= 1, a
    # The node's agent_url is the agent the swarm booted for it.
    assert node['driver_internal_info']['agent_url'] == a['url'], node
    assert node['driver_internal_info']['agent_secret_token'] == MASK
    # finalize_rescue got a crypt hash of the password, never the password.
    assert a['finalize_calls'] == 1, a
    got = a['rescue_password']
    assert a['hashed'] is True, a
    assert CRYPT_RE.match(got), got
    assert pw not in got
    assert crypt_matches(pw, got)
    return a


def unrescue_all(lab, s, uuids):
    for uuid in uuids:
        r = put_verb(lab.d, uuid, 'unrescue')
        assert r.status_code == 202, r.text
    for uuid in uuids:
        node = end_state(lab.d, uuid, {'active', 'unrescue failed'}, 60)
        assert node['provision_state'] == 'active', node
        assert node['last_error'] is None, node
    # The rescue systems went away with their nodes' rescue.
    wait_for(lambda: all(s.agent(u)['state'] == 'gone' for u in uuids), 10,
             what='every agent gone after unrescue')


def assert_swarm_refuses_bad_tokens(s, uuid):
    """The swarm's agent checks the token: a command without it or with a
    wrong one gets IPA's 401 and changes nothing."""
    a = s.agent(uuid)
    before = s.stats()['bad_token_commands']
    url = a['url'] + '/v1/commands/'
    body = {'name': 'rescue.finalize_rescue',
            'params': {'rescue_password': '$5$abcdefgh$' + 'x' * 43,
                       'hashed': True}}
    for query in ('?wait=false&agent_token=' + 'W' * 43, '?wait=false'):
        r = requests.post(url + query, json=body, verify=s.cert_path,
                          timeout=10)
        assert r.status_code == 401, r.text
        assert r.json() == {'faultcode': 'Client',
                            'faultstring': TOKEN_INVALID}, r.text
    after = s.agent(uuid)
    assert after['finalize_calls'] == a['finalize_calls']
    assert after['finalize_params'] == a['finalize_params']
    assert s.stats()['bad_token_commands'] == before + 2


def test_swarm_rescues_twenty_nodes(launcher, tmp_path):
    lab = RescueLab(launcher, tmp_path / 'lab')
    made = [lab.node(adopt=False, driver_info=fake_info(i))[0]
            for i in range(N)]
    uuids = [n['uuid'] for n in made]
    adopt_all(lab, uuids)
    s = start_swarm(lab, uuids, tmp_path)
    try:
        for i, uuid in enumerate(uuids[1:], 1):
            r = put_rescue(lab.d, uuid, password(i))
            assert r.status_code == 202, r.text
        # One through the real CLI, while the API's nineteen run.
        rc, out, err = lab.d.cli('node', 'rescue', made[0]['name'],
                                 '--rescue-password', password(0),
                                 '--wait', '60')
        assert rc == 0, (out, err)
        agents = [assert_rescued(lab, s, uuid, password(i))
                  for i, uuid in enumerate(uuids)]
        assert len({a['url'] for a in agents}) == N       # a port each
        assert all(a['url'].startswith('https://') for a in agents)
        st = s.stats()
        assert st['booted'] == N and st['lookups'] == N, st
        assert st['finalized'] == N and st['agents_alive'] == N, st
        assert st['errors'] == 0 and st['heartbeat_errors'] == 0, st

        assert_swarm_refuses_bad_tokens(s, uuids[3])
        # The nodes did not notice.
        assert get_node(lab.d, uuids[3])['provision_state'] == 'rescue'

        unrescue_all(lab, s, uuids)
        assert s.stats()['agents_alive'] == 0
        # Rescued again, a node boots a new agent: new lookup, new token.
        r = put_rescue(lab.d, uuids[1], password(1))
        assert r.status_code == 202, r.text
        again = assert_rescued(lab, s, uuids[1], password(1), boots=2)
        assert lab.d.log_text().count('node %s: agent token issued at '
                                      'lookup' % uuids[1]) == 2
        assert again['rescue_password'] != agents[1]['rescue_password']
        assert s.stats()['lookups'] == N + 1
    finally:
        s.stop()
    s.stop()                    # idempotent
    text = (tmp_path / 'swarm.jsonl').read_text() + lab.d.log_text()
    for i in range(N):
        assert password(i) not in text
    for a in agents:
        assert a['rescue_password'] not in text


def test_lab_bmcs_among_fake_nodes(launcher, tmp_path, bmcs):
    ipmi = bmcs.ipmi(1)
    redfish = bmcs.redfish(1)
    for emu in (ipmi, redfish):
        emu.set_power(0, 'on')
    lab = RescueLab(launcher, tmp_path / 'lab')
    nodes = [lab.node(ipmi, 0)[0],
             lab.node(redfish, 0, driver_info={
                 'redfish_system_id': SYSTEM})[0]]
    fakes = [lab.node(adopt=False, driver_info=fake_info(i))[0]
             for i in range(4)]
    adopt_all(lab, [n['uuid'] for n in fakes])
    uuids = [n['uuid'] for n in nodes + fakes]
    assert [n['driver'] for n in nodes + fakes] == \
        ['ipmi', 'redfish'] + ['fake-hardware'] * 4
    s = start_swarm(lab, uuids, tmp_path)
    try:
        for i, uuid in enumerate(uuids):
            r = put_rescue(lab.d, uuid, password(i))
            assert r.status_code == 202, r.text
        for i, uuid in enumerate(uuids):
            assert_rescued(lab, s, uuid, password(i))
        # The lab machines were really powered through their BMCs.
        for emu in (ipmi, redfish):
            assert emu.power(0) == 'on'
            assert any('off' in str(a).lower() for a in emu.actions(0)), \
                emu.actions(0)
        assert s.stats()['errors'] == 0, s.stats()
        unrescue_all(lab, s, uuids)
    finally:
        s.stop()


def test_fake_knobs_through_the_api(launcher, tmp_path):
    lab = RescueLab(launcher, tmp_path / 'lab')
    node, _ = lab.node(adopt=False, driver_info={'fake_fail_rate': '1.5'})
    uuid = node['uuid']
    v = lab.d.get('/v1/nodes/%s/validate' % uuid).json()
    assert v['power'] == {'result': False, 'reason': (
        'Invalid value for fake_fail_rate: "1.5" (a number from 0 to 1 is '
        'required)')}, v
    # As in Ironic, manage checks the BMC in the background: the node
    # stays in enroll with the reason.
    r = put_verb(lab.d, uuid, 'manage')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'manageable', 'enroll'})
    assert node['provision_state'] == 'enroll', node
    assert node['last_error'].endswith(
        'Error: Invalid value for fake_fail_rate: "1.5" (a number from 0 '
        'to 1 is required)'), node
    # Every call fails at rate 1, with the injected failure's message.
    patch = [{'op': 'add', 'path': '/driver_info/fake_fail_rate',
              'value': '1'}]
    r = lab.d.patch('/v1/nodes/%s' % uuid, patch)
    assert r.status_code == 200, r.text
    r = put_verb(lab.d, uuid, 'manage')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'manageable', 'enroll'})
    assert node['provision_state'] == 'enroll', node
    assert 'fake BMC: injected failure (fake_fail_rate 1)' in \
        node['last_error'], node
    # At 0 it never fails.
    patch[0]['value'] = 0
    r = lab.d.patch('/v1/nodes/%s' % uuid, patch)
    assert r.status_code == 200, r.text
    r = put_verb(lab.d, uuid, 'manage')
    assert r.status_code == 202, r.text
    node = wait_state(lab.d, uuid, {'manageable', 'enroll'}, 30)
    assert node['provision_state'] == 'manageable', node


def test_swarm_outlives_a_lifeboatd_kill(launcher, tmp_path):
    """kill -9 of lifeboatd under heartbeating agents: the swarm counts the
    failed heartbeats and lists, retries, and the rescues finish once
    lifeboatd is back."""
    lab = RescueLab(launcher, tmp_path / 'lab')
    made = [lab.node(adopt=False, driver_info=fake_info(i))[0]
            for i in range(3)]
    uuids = [n['uuid'] for n in made]
    adopt_all(lab, uuids)
    for i, uuid in enumerate(uuids):
        r = put_rescue(lab.d, uuid, password(i))
        assert r.status_code == 202, r.text
        wait_state(lab.d, uuid, {'rescue wait'})
        # In maintenance a heartbeat is only recorded: the agents beat on.
        r = lab.d.put('/v1/nodes/%s/maintenance' % uuid, {'reason': 'hold'})
        assert r.status_code == 202, r.text
    s = start_swarm(lab, uuids, tmp_path)
    try:
        wait_for(lambda: s.stats()['heartbeats'] >= 6, 20,
                 what='two heartbeats per agent')
        lab.d.kill()
        wait_for(lambda: s.stats()['heartbeat_errors'] >= 3 and
                 s.stats()['poll_errors'] >= 1, 20,
                 what='failed heartbeats and node lists')
        assert s.stats()['agents_alive'] == 3
        assert all(s.agent(u)['state'] == 'heartbeating' for u in uuids)
        lab.d.start()
        for uuid in uuids:
            # The restart's console restore may hold the node a moment:
            # 409 "please retry", as Ironic's clients do; a stuck lock
            # still fails here.
            codes = []
            wait_for(lambda: codes.append(lab.d.delete(
                '/v1/nodes/%s/maintenance' % uuid).status_code) or
                codes[-1] != 409, 10, interval=0.1, what='the node lock')
            assert codes[-1] == 202, codes
        for i, uuid in enumerate(uuids):
            assert_rescued(lab, s, uuid, password(i))
        assert s.stats()['lookups'] == 3        # the same agents
    finally:
        s.stop()


class HeldSwarm(Swarm):
    """A swarm whose node lists the test can hold: while ``hold`` is set
    no list starts, so whatever happens meanwhile happens between two of
    its polls.  ``held`` is set once a list waits."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.hold = threading.Event()
        self.held = threading.Event()

    async def _list_nodes(self):
        while self.hold.is_set():
            self.held.set()
            await asyncio.sleep(0.02)
        self.held.clear()
        return await super()._list_nodes()


def test_rescued_again_between_two_polls_boots_a_new_agent(launcher,
                                                          tmp_path):
    """A node aborted and rescued again between two of the swarm's polls
    reboots its ramdisk, as a real machine does: the old agent (and its
    token) goes, a new one looks up and finishes the second rescue."""
    lab = RescueLab(launcher, tmp_path / 'lab')
    uuid = lab.node(adopt=False, driver_info=fake_info(0))[0]['uuid']
    adopt_all(lab, [uuid])
    r = put_rescue(lab.d, uuid, password(0))
    assert r.status_code == 202, r.text
    wait_state(lab.d, uuid, {'rescue wait'})
    # In maintenance the first agent's heartbeats are only recorded.
    r = lab.d.put('/v1/nodes/%s/maintenance' % uuid, {'reason': 'hold'})
    assert r.status_code == 202, r.text
    s = HeldSwarm(api_url=lab.api_url, heartbeat_interval=0.3,
                  poll_interval=0.05, nodes={uuid},
                  heartbeat_error_interval=0.2,
                  log_path=str(tmp_path / 'swarm.jsonl'))
    s.start()
    try:
        wait_for(lambda: (s.agent(uuid) or {}).get('heartbeats', 0) >= 1,
                 20, what='the first agent heartbeating')
        first = s.agent(uuid)
        s.hold.set()
        wait_for(s.held.is_set, 10, what='the swarm between two polls')
        r = put_verb(lab.d, uuid, 'abort')
        assert r.status_code == 202, r.text
        end_state(lab.d, uuid, {'rescue failed'})
        r = lab.d.delete('/v1/nodes/%s/maintenance' % uuid)
        assert r.status_code == 202, r.text
        r = put_rescue(lab.d, uuid, password(1))
        assert r.status_code == 202, r.text
        wait_state(lab.d, uuid, {'rescue wait'})
        assert s.agent(uuid)['boots'] == 1      # no poll saw any of it
        s.hold.clear()
        assert_rescued(lab, s, uuid, password(1), boots=2)
        assert first['boots'] == 1 and first['token_known'], first
        assert s.stats()['lookups'] == 2
        assert lab.d.log_text().count('node %s: agent token issued at '
                                      'lookup' % uuid) == 2
    finally:
        s.stop()
    log = (tmp_path / 'swarm.jsonl').read_text()
    assert 'node rescued again' in log
