"""Three lifeboatd on one database (issue 17): any API, the owner acts,
and a dead conductor's nodes go on under the others.

The store is PostgreSQL when LB_TEST_DB_URL names a cluster (tools/test
runs this file so, under tests/lab/pg_cluster.py), else one SQLite file
the three share.  Nodes are fake-hardware booting over PXE with the agent
rescue interface, each conductor with boot roots of its own (local
disks); bench/swarm.py plays every rescue ramdisk, through one
conductor's API, so the heartbeats of the others' nodes are handed on.

- the ring gives each conductor a share; a verb sent to a conductor that
  does not manage the node is done by the one that does (its history
  events name the owner), with the owner's status codes and messages; a
  forged forwarding header is refused and changes nothing;
- 30 rescues sent round-robin to the three APIs, c2 SIGKILLed while
  they run: within two heartbeat timeouts every node is in `rescue`, or
  in `rescue failed` with a reason, none locked or lost, and c2's nodes
  still waiting for their ramdisks are staged again on their new owners'
  disks, boot from there and are rescued; c2 restarted removes the
  staging it left for them, gets its share back and unrescues through its
  own API.
"""

import os
import sys
import time

import pytest

import uuid as uuidlib

from conftest import Daemon, assert_error, free_port, pg_new_database, \
    wait_for
from metrics_helpers import scrape
from test_conductors import tooz_owner

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'bench'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'lab'))
from swarm import Swarm  # noqa: E402

N = 30
HOSTS = ('c1', 'c2', 'c3')
TIMEOUT = 8                     # [conductor] heartbeat_timeout
PASSWORD = 'Multi-Resc-PW-1'
PROVISION = '/v1/nodes/%s/states/provision'
METRICS = {}                    # host -> its [metrics] port
BUSY = {'rescuing', 'rescue wait', 'unrescuing'}


def database(tmp_path):
    if os.environ.get('LB_TEST_DB_URL'):
        return pg_new_database(os.environ['LB_TEST_DB_URL'])
    return 'sqlite:///%s' % (tmp_path / 'shared.sqlite')


def roots(base, host):
    """A conductor's own boot roots (local disks, not shared)."""
    r = {k: base / host / k for k in ('tftp', 'http', 'hosts', 'opts')}
    for p in r.values():
        p.mkdir(parents=True, exist_ok=True)
    return r


def start(launcher, host, db, images):
    """c3 registers [conductor] rpc_url by another name (localhost) than
    its API's default; the others register the default."""
    extra = {}
    port = free_port()
    r = roots(images.parent, host)
    METRICS[host] = free_port()
    if host == 'c3':
        extra = {'rpc_url': 'http://localhost:%d/' % port}
    d = Daemon(launcher.base / host, dict(
        DEFAULT={'host': host, 'enabled_hardware_types': 'fake-hardware',
                 'hash_ring_reset_interval': '1'},
        conductor={'heartbeat_interval': '1',
                   'heartbeat_timeout': str(TIMEOUT),
                   'sync_power_state_interval': '0',
                   'rescue_callback_timeout': '600',
                   'check_rescue_state_interval': '1',
                   'rescue_kernel': 'file://%s/k' % images,
                   'rescue_ramdisk': 'file://%s/r' % images,
                   'file_url_allowed_paths': str(images), **extra},
        pxe={'tftp_root': str(r['tftp'])},
        deploy={'http_root': str(r['http']),
                'http_url': 'http://127.0.0.1:%d' % free_port()},
        dhcp={'dhcp_provider': 'dnsmasq'},
        dnsmasq={'dhcp_hostsdir': str(r['hosts']),
                 'dhcp_optsdir': str(r['opts'])},
        metrics={'port': str(METRICS[host])},
        database={'connection': db}))
    d.port = port
    launcher.daemons.append(d)
    return d.start()


@pytest.fixture
def trio(launcher, tmp_path):
    db = database(tmp_path)
    images = tmp_path / 'images'
    images.mkdir()
    (images / 'k').write_bytes(b'kernel' * 1000)
    (images / 'r').write_bytes(b'ramdisk' * 1000)
    ds = {h: start(launcher, h, db, images) for h in HOSTS}
    wait_for(lambda: all(len(alive(d)) == 3 for d in ds.values()), 20,
             interval=0.2, what='three alive conductors')
    return ds


def alive(d):
    rows = d.get('/v1/conductors').json()['conductors']
    return sorted(r['hostname'] for r in rows if r['alive'])


def owners(d, uuids):
    nodes = d.get('/v1/nodes?fields=uuid,conductor&limit=1000').json()['nodes']
    return {n['uuid']: n['conductor'] for n in nodes if n['uuid'] in uuids}


def mac(i):
    return '52:54:00:17:%02x:%02x' % (i // 256, i % 256)


def spread_uuids(n):
    """n node UUIDs that Ironic's ring (2^5 points a host) spreads over the
    three conductors with at least a quarter of them each, so every test
    has every case whatever the random UUIDs would have given."""
    while True:
        uuids = [str(uuidlib.uuid4()) for _ in range(n)]
        share = [tooz_owner(HOSTS, u, 5) for u in uuids]
        if all(share.count(h) >= n // 4 for h in HOSTS):
            return uuids


def make_nodes(d, n, delay='0.05'):
    """n fake-hardware nodes booting over PXE; the fake BMC takes 'delay'
    seconds a call."""
    uuids = []
    for i, u in enumerate(spread_uuids(n)):
        node = d.create_node(
            uuid=u, name='multi-%02d' % i, driver='fake-hardware',
            power_interface='fake', management_interface='fake',
            boot_interface='pxe', rescue_interface='agent',
            network_interface='noop',
            properties={'capabilities': 'boot_mode:bios'},
            driver_info={'fake_delay': delay, 'fake_bmc': 'rack%d' % i})
        d.create_port(node['uuid'], mac(i))
        uuids.append(node['uuid'])
    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        for u in uuids:
            r = d.put(PROVISION % u, {'target': verb})
            assert r.status_code == 202, r.text
        for u in uuids:
            wait_for(lambda: d.get('/v1/nodes/' + u).json()[
                'provision_state'] == final, 30, interval=0.05,
                what='%s %s' % (u, final))
    return uuids


def agreed(trio, uuids):
    """The mapping once every API gives the same one, with a share for
    each conductor (each rebuilds its rings every second)."""
    seen = {}

    def same():
        seen['m'] = owners(trio['c1'], uuids)
        return (set(seen['m'].values()) == set(HOSTS) and
                all(owners(d, uuids) == seen['m'] for d in trio.values()))
    wait_for(same, 10, interval=0.2, what='one mapping on every API')
    return seen['m']


def settled(d, uuid):
    node = d.get('/v1/nodes/' + uuid).json()
    if node['provision_state'] in BUSY or node['reservation'] is not None:
        return None
    return node


def test_any_api_owner_acts(trio):
    c1 = trio['c1']
    uuids = make_nodes(c1, 9)
    got = agreed(trio, uuids)

    for u in uuids:
        owner = got[u]
        other = next(h for h in HOSTS if h != owner)
        d = trio[other]
        # The owner's own answer, given through a conductor that is not.
        assert_error(d.put(PROVISION % u, {'target': 'rescue'}), 400,
                     'A non-empty "rescue_password" is required when '
                     'setting target provision state to rescue')
        assert_error(d.put(PROVISION % u, {'target': 'unrescue'}), 400,
                     'The requested action "unrescue" can not be '
                     'performed on node "%s" while it is in state '
                     '"active".' % u)
        r = d.put('/v1/nodes/%s/states/power' % u, {'target': 'power off'})
        assert r.status_code == 202, r.text
        wait_for(lambda: settled(d, u) and settled(d, u)['power_state'] ==
                 'power off', 20, interval=0.05, what='power off')
        assert 'handed to conductor %s' % owner in d.log_text()
        # The owner did the work: its history names it.
        events = trio[owner].get('/v1/nodes/%s/history?detail=true' %
                                 u).json()['history']
        assert events and all(e['conductor'] == owner for e in events), \
            events
        r = d.get('/v1/nodes/%s/management/boot_device' % u)
        assert r.status_code == 200 and 'boot_device' in r.json(), r.text

    # A forged forwarding header: refused, and the node stays as it is.
    u = uuids[0]
    before = c1.get('/v1/nodes/' + u).json()
    r = c1.put('/v1/nodes/%s/states/power' % u, {'target': 'power on'},
               headers={'X-Lifeboat-Forwarded': 'c2 %d AAAA' % time.time()})
    assert_error(r, 403, "The request's X-Lifeboat-Forwarded header is not "
                 "a valid signature of a lifeboat conductor.")
    assert c1.get('/v1/nodes/' + u).json()['power_state'] == \
        before['power_state']


def staged(base, host, uuid, i):
    """Whether host's own roots hold the node's PXE config and its dnsmasq
    host entry."""
    r = roots(base, host)
    return ((r['tftp'] / uuid / 'config').is_file() and
            (r['hosts'] / ('ironic-%s.conf' % mac(i))).is_file())


def test_sigkill_during_30_rescues(trio, tmp_path):
    c1, c2, c3 = trio['c1'], trio['c2'], trio['c3']
    uuids = make_nodes(c1, N)
    before = agreed(trio, uuids)
    theirs = [u for u in uuids if before[u] == 'c2']
    assert len(theirs) >= N // 4, before
    # Three of c2's nodes wait for their ramdisks past its death; the
    # others' BMCs are slow, so c2 dies with rescues running.
    waiting = theirs[:3]
    for u in uuids:
        if u not in waiting:
            r = c1.patch('/v1/nodes/' + u, [{
                'op': 'add', 'path': '/driver_info/fake_delay',
                'value': '0.5'}])
            assert r.status_code == 200, r.text
    index = {u: i for i, u in enumerate(uuids)}
    rest = [u for u in uuids if u not in waiting]
    # Two of c2's nodes have their consoles on (the fake console).
    consoles = theirs[3:5]
    for u in consoles:
        r = c1.patch('/v1/nodes/' + u, [{'op': 'replace',
                                         'path': '/console_interface',
                                         'value': 'fake'}])
        assert r.status_code == 200, r.text
        r = c3.put('/v1/nodes/%s/states/console' % u, {'enabled': True})
        assert r.status_code == 202, r.text
        wait_for(lambda: c1.get('/v1/nodes/%s/states/console' % u).json()[
            'console_enabled'], 10, interval=0.05, what='console on')

    swarm = Swarm(api_url=c1.url, heartbeat_interval=0.5, poll_interval=0.1,
                  nodes=set(rest), heartbeat_error_interval=0.5,
                  log_path=str(tmp_path / 'swarm.jsonl'))
    late = None
    swarm.start()
    try:
        for u in waiting:
            r = c3.put(PROVISION % u, {'target': 'rescue',
                                       'rescue_password': PASSWORD})
            assert r.status_code == 202, r.text
        wait_for(lambda: all(c1.get('/v1/nodes/' + u).json()[
            'provision_state'] == 'rescue wait' for u in waiting), 20,
            interval=0.05, what='rescue wait')
        for u in waiting:
            assert staged(tmp_path, 'c2', u, index[u])
            assert not staged(tmp_path, 'c1', u, index[u])
            assert not staged(tmp_path, 'c3', u, index[u])
        # One more of c2's nodes is in the middle of a slow power off.
        p = c1.create_node(uuid=next(u for u in spread_uuids(N)
                                     if tooz_owner(HOSTS, u, 5) == 'c2'),
                           name='multi-power', driver='fake-hardware',
                           power_interface='fake',
                           management_interface='fake',
                           driver_info={'fake_delay': '4'})['uuid']
        r = c1.put('/v1/nodes/%s/states/power' % p, {'target': 'power off'})
        assert r.status_code == 202, r.text
        wait_for(lambda: c2.get('/v1/nodes/' + p).json()[
            'target_power_state'] == 'power off', 10, interval=0.05,
            what='the power action under way')
        apis = [trio[h] for h in HOSTS]
        for i, u in enumerate(rest):
            r = apis[i % 3].put(PROVISION % u, {'target': 'rescue',
                                                'rescue_password': PASSWORD})
            assert r.status_code == 202, r.text
        c2.kill()
        killed = time.monotonic()

        # Within two heartbeat timeouts: every node settled, none lost,
        # and the ramdisks still to boot staged on their new owners.
        def all_settled():
            now = owners(c1, uuids)
            return (all(settled(c1, u) for u in rest) and
                    all(now[u] != 'c2' and staged(tmp_path, now[u], u,
                                                  index[u])
                        for u in waiting))
        wait_for(all_settled, 2 * TIMEOUT, interval=0.2,
                 what='every node settled after the kill')
        took = time.monotonic() - killed
        listed = {n['uuid'] for n in c1.get(
            '/v1/nodes?limit=1000').json()['nodes']}
        assert set(uuids) <= listed
        failed = 0
        for u in rest:
            node = c1.get('/v1/nodes/' + u).json()
            assert node['provision_state'] in ('rescue', 'rescue failed'), \
                node
            if node['provision_state'] == 'rescue failed':
                assert 'Conductor c2 went offline' in node['last_error'], \
                    node
                assert u in theirs
                failed += 1
            else:
                assert node['last_error'] is None, node
        now = owners(c1, uuids)
        assert 'c2' not in now.values(), now
        # The power action c2 cut short: cleared, said, and read again
        # from the BMC by the new owner.
        pn = wait_for(lambda: settled(c1, p), 10, interval=0.1,
                      what='the power action taken over')
        assert pn['target_power_state'] is None, pn
        assert ("Conductor c2 went offline during a power action to "
                "'power off'" in pn['last_error']), pn
        pnew = pn['conductor']
        wait_for(lambda: 'node %s: power read again after the take-over' % p
                 in trio[pnew].log_text(), 40, interval=0.2,
                 what='the power read again')
        # Their consoles started again on their new owners.
        for u in consoles:
            wait_for(lambda: 'node %s: console started again' % u in
                     trio[now[u]].log_text(), 5, interval=0.1,
                     what='console of %s on %s' % (u, now[u]))
            r = c3.get('/v1/nodes/%s/states/console' % u)
            assert r.json()['console_enabled'] is True, r.text
        for u in uuids:
            if u not in theirs:
                assert now[u] == before[u]     # only c2's share moved
        # The take-over and the hand-overs, counted where they happened.
        taken = {'lock': 0, 'restaged': 0, 'console': 0}
        for h in ('c1', 'c3'):
            sc = scrape('http://127.0.0.1:%d/metrics' % METRICS[h])
            for what in taken:
                taken[what] += sc.value('lifeboat_nodes_taken_over_total',
                                        what=what)
        assert taken['lock'] == failed + 1, taken    # + the power action
        assert taken['restaged'] == len(waiting), taken
        assert taken['console'] >= len(consoles) + len(waiting), taken
        print('settled %.1f s after the kill; %d of c2\'s %d nodes failed '
              'cleanly, %d re-staged' % (took, failed, len(theirs),
                                        len(waiting)))

        # The late ramdisks boot from their new owners and are rescued;
        # the rescue's end removes the staging there.
        late = Swarm(api_url=c3.url, heartbeat_interval=0.5,
                     poll_interval=0.1, nodes=set(waiting),
                     heartbeat_error_interval=0.5)
        late.start()
        for u in waiting:
            node = wait_for(lambda: settled(c1, u), 30, interval=0.1,
                            what='late rescue')
            assert node['provision_state'] == 'rescue', node
            assert not staged(tmp_path, now[u], u, index[u])

        # c2's own disk still has what it staged before it died ...
        for u in waiting:
            assert staged(tmp_path, 'c2', u, index[u])

        # c2 back: its share comes back, and it acts on it again.
        c2.restart()
        # ... which it removes now that those rescues ended elsewhere.
        for u in waiting:
            wait_for(lambda: not staged(tmp_path, 'c2', u, index[u]) and
                     not (roots(tmp_path, 'c2')['tftp'] / u).exists(), 10,
                     interval=0.1, what='stale staging of %s removed' % u)
        wait_for(lambda: owners(c1, uuids) == before, 20, interval=0.2,
                 what="c2's share back")
        # The consoles its stand-ins ran stop there: one session each.
        for u in consoles:
            wait_for(lambda: "node %s: its console is conductor c2's again"
                     % u in trio[now[u]].log_text(), 10, interval=0.1,
                     what='console of %s handed back' % u)
            assert 'node %s: console started again' % u in c2.log_text()
        for u in uuids:
            r = c2.put(PROVISION % u, {'target': 'unrescue'})
            assert r.status_code == 202, r.text
        wait_for(lambda: all(settled(c1, u) and settled(c1, u)[
            'provision_state'] == 'active' for u in uuids), 60,
            interval=0.2, what='every node unrescued')
        # c2 did its own unrescues and handed the others to their owners.
        handed = scrape('http://127.0.0.1:%d/metrics' % METRICS['c2'])
        assert handed.value('lifeboat_requests_handed_over_total',
                            result='answered') == N - len(theirs)
        for u in theirs:
            events = c2.get('/v1/nodes/%s/history?detail=true' %
                            u).json()['history']
            assert events[-1]['conductor'] == 'c2', events[-1]
    finally:
        swarm.stop()
        if late is not None:
            late.stop()
