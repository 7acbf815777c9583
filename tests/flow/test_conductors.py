"""Conductors (API 1.49) through the real ``openstack baremetal`` CLI: the
row lifeboatd registers and heart-beats in the store, ``conductor
list|show`` with Ironic's fields, alive from the heartbeat against
``[conductor] heartbeat_timeout``, the take-over of a host's old row, paging,
errors in Ironic's words, and the node's ``conductor`` field with the
``node list --conductor`` filter: ``[conductor] conductor_group`` and
Ironic's hash ring over the alive conductors in the shared store.
"""

import bisect
import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
import threading

from conftest import (CONDUCTOR_HOST, LIFEBOATD, assert_error,
                      pg_new_database, pg_query, wait_for)

# Short heartbeats so that aliveness changes within a test.
FAST = {'heartbeat_interval': '1', 'heartbeat_timeout': '3',
        'sync_power_state_interval': '0'}


_shared = {}


def shared_db(tmp_path):
    """The store a test's daemons share: a SQLite file, or with
    LB_TEST_DB_URL (tests/lab/pg_cluster.py run) a PostgreSQL database."""
    if tmp_path not in _shared:
        if os.environ.get('LB_TEST_DB_URL'):
            _shared[tmp_path] = pg_new_database(os.environ['LB_TEST_DB_URL'])
        else:
            _shared[tmp_path] = 'sqlite:///%s' % (tmp_path / 'shared.sqlite')
    return {'connection': _shared[tmp_path]}


def shared_rows(tmp_path, sql, params=()):
    """The rows of one statement run on the shared store."""
    url = shared_db(tmp_path)['connection']
    if url.startswith('postgresql://'):
        return pg_query(url, sql, params)
    with sqlite3.connect(str(tmp_path / 'shared.sqlite'), timeout=10) as db:
        return db.execute(sql, params).fetchall()


def db_rows(tmp_path):
    return {h: (online, created) for h, online, created in shared_rows(
        tmp_path, 'SELECT hostname, online, created_at FROM conductors')}


def test_list_show_and_heartbeat(launcher):
    d = launcher.start(conductor=FAST, DEFAULT={
        'enabled_hardware_types': 'fake-hardware,ipmi'})
    rows = d.cli_json('conductor', 'list')
    assert rows == [{'Hostname': CONDUCTOR_HOST, 'Conductor Group': '',
                     'Alive': True}], rows
    shown = d.cli_json('conductor', 'show', CONDUCTOR_HOST)
    assert shown['hostname'] == CONDUCTOR_HOST
    assert shown['alive'] is True
    assert shown['conductor_group'] == ''
    assert shown['drivers'] == ['fake-hardware', 'ipmi'], shown
    assert shown['created_at'] and shown['updated_at']
    long_rows = d.cli_json('conductor', 'list', '--long')
    assert long_rows[0]['Drivers'] == ['fake-hardware', 'ipmi'], long_rows

    # The heartbeat moves updated_at every heartbeat_interval.
    first = shown['updated_at']
    wait_for(lambda: d.get('/v1/conductors/' + CONDUCTOR_HOST).json()[
        'updated_at'] != first, 5, interval=0.1, what='a heartbeat')

    one = d.get('/v1/conductors/%s?fields=hostname,alive' % CONDUCTOR_HOST)
    assert one.status_code == 200
    assert one.json() == {'hostname': CONDUCTOR_HOST, 'alive': True}
    doc = d.get('/v1/conductors').json()['conductors'][0]
    assert set(doc) == {'hostname', 'conductor_group', 'alive', 'links'}
    assert doc['links'] == [
        {'href': d.url + '/v1/conductors/' + CONDUCTOR_HOST, 'rel': 'self'},
        {'href': d.url + '/conductors/' + CONDUCTOR_HOST,
         'rel': 'bookmark'}]


def test_errors_in_ironic_words(daemon):
    rc, out, err = daemon.cli('conductor', 'show', 'nosuch')
    assert rc != 0
    assert 'Conductor nosuch could not be found.' in err, err
    assert_error(daemon.get('/v1/conductors/nosuch'), 404,
                 'Conductor nosuch could not be found.')
    assert_error(daemon.get('/v1/conductors', version='1.48'), 404,
                 'Resource could not be found.')
    assert_error(daemon.get('/v1/conductors/' + CONDUCTOR_HOST,
                            version='1.48'), 404,
                 'Resource could not be found.')
    assert_error(daemon.get('/v1/conductors?fields=foo'), 400,
                 'Field(s) "foo" are not valid')
    assert_error(daemon.get('/v1/conductors?sort_key=alive'), 400,
                 'The sort_key value alive is an invalid field for sorting')
    assert_error(daemon.get('/v1/conductors?detail=true&fields=hostname'),
                 400)
    assert_error(daemon.get('/v1/conductors?marker=nosuch'), 404,
                 'Conductor nosuch could not be found.')


def test_offline_take_over_and_paging(launcher, tmp_path):
    """A stopped conductor stays listed and stops being alive once its
    last heartbeat is heartbeat_timeout old; a restart of the same host
    takes its row over (created_at kept; a crashed one's with a warning)."""
    db = shared_db(tmp_path)
    old = launcher.start(conductor=FAST, database=db,
                         DEFAULT={'host': 'old-host'})
    assert old.stop() == 0
    assert db_rows(tmp_path)['old-host'][0] == 0     # offline at the stop
    d = launcher.start(conductor=FAST, database=db)

    def alive():
        return {r['Hostname']: r['Alive']
                for r in d.cli_json('conductor', 'list')}
    assert set(alive()) == {'old-host', CONDUCTOR_HOST}
    wait_for(lambda: alive() == {'old-host': False, CONDUCTOR_HOST: True},
             15, interval=0.2, what='old-host to be dead')

    # Paging: one per page, the next link carries the marker.
    page = d.get('/v1/conductors?limit=1&sort_key=hostname')
    assert page.status_code == 200
    assert [c['hostname'] for c in page.json()['conductors']] == [
        'old-host']
    nxt = page.json()['next']
    assert 'marker=old-host' in nxt, nxt
    page = d.session.get(nxt, headers={'X-OpenStack-Ironic-API-Version':
                                       '1.49'})
    assert [c['hostname'] for c in page.json()['conductors']] == [
        CONDUCTOR_HOST]

    created = db_rows(tmp_path)[CONDUCTOR_HOST][1]
    d.kill()                                          # a crash: still online
    assert db_rows(tmp_path)[CONDUCTOR_HOST][0] == 1
    d.start()
    assert db_rows(tmp_path)[CONDUCTOR_HOST] == (1, created)
    assert "conductor '%s' was registered online already" % (
        CONDUCTOR_HOST) in d.log_text()
    shown = d.cli_json('conductor', 'show', CONDUCTOR_HOST)
    assert shown['alive'] is True


def test_node_conductor_field_and_filter(launcher):
    """The node's conductor is this host while it is alive and serves the
    node's driver in the default group (Ironic's ring with one member);
    ``node list --conductor`` filters on it (1.49, 406 below)."""
    d = launcher.start(conductor=FAST, DEFAULT={
        'enabled_hardware_types': 'fake-hardware,ipmi'})
    mine = d.cli_json('node', 'create', '--driver', 'fake-hardware',
                      '--name', 'mine')['uuid']
    # No conductor of group g1 exists: nobody could manage such a node.
    rc, out, err = d.cli('node', 'create', '--driver', 'fake-hardware',
                         '--name', 'grouped', '--conductor-group', 'g1')
    assert rc != 0 and no_host('g1') in err, err
    ipmi = d.cli_json('node', 'create', '--driver', 'ipmi',
                      '--name', 'ipmi-node')['uuid']
    assert d.cli_json('node', 'show', 'mine')['conductor'] == CONDUCTOR_HOST
    listed = d.cli_json('node', 'list', '--conductor', CONDUCTOR_HOST)
    assert sorted(n['UUID'] for n in listed) == sorted([mine, ipmi])
    assert d.cli_json('node', 'list', '--conductor', 'nosuch') == []
    long = {n['UUID']: n['Conductor'] for n in d.cli_json(
        'node', 'list', '--long')}
    assert long == {mine: CONDUCTOR_HOST, ipmi: CONDUCTOR_HOST}, long
    r = d.get('/v1/nodes?conductor=%s&fields=uuid,conductor'
              % CONDUCTOR_HOST)
    assert r.status_code == 200, r.text
    assert {n['uuid']: n['conductor'] for n in r.json()['nodes']} == {
        mine: CONDUCTOR_HOST, ipmi: CONDUCTOR_HOST}
    for path in ('/v1/nodes', '/v1/nodes/detail'):
        assert_error(d.get(path + '?conductor=x', version='1.48'), 406,
                     'Request not acceptable. The minimal required API '
                     'version should be 1.49')

    # ipmi no longer enabled: its nodes have no conductor any more.
    d.stop()
    d.sections['DEFAULT']['enabled_hardware_types'] = 'fake-hardware'
    d.start()
    assert d.cli_json('node', 'show', ipmi)['conductor'] is None
    listed = d.cli_json('node', 'list', '--conductor', CONDUCTOR_HOST)
    assert [n['UUID'] for n in listed] == [mine]
    assert d.cli_json('conductor', 'show', CONDUCTOR_HOST)['drivers'] == [
        'fake-hardware']


def no_host(group, driver='fake-hardware'):
    return ('No valid host was found. Reason: No conductor service '
            'registered which supports driver %s for conductor group "%s".'
            % (driver, group))


def test_conductor_group(launcher, tmp_path):
    """``[conductor] conductor_group`` (stored lower-case) is the row's
    group; this conductor manages only nodes of that group: a node no
    alive conductor serves cannot be made or patched (400), any action on
    one is Ironic's NoValidHost (404, 400 where Ironic's controllers turn
    it so), and it has ``conductor: null``, which ``node list
    --conductor`` leaves out."""
    db = shared_db(tmp_path)
    d = launcher.start(conductor=dict(FAST, conductor_group='Rack-1.A'),
                       database=db)
    rows = d.cli_json('conductor', 'list')
    assert rows == [{'Hostname': CONDUCTOR_HOST, 'Conductor Group': 'rack-1.a',
                     'Alive': True}], rows
    assert d.cli_json('conductor', 'show', CONDUCTOR_HOST)[
        'conductor_group'] == 'rack-1.a'
    mine = d.cli_json('node', 'create', '--driver', 'fake-hardware',
                      '--conductor-group', 'RACK-1.a')
    assert mine['conductor_group'] == 'rack-1.a'
    assert mine['conductor'] == CONDUCTOR_HOST
    # No conductor of the default group: refused, and nothing is made.
    assert_error(d.post('/v1/nodes', {'driver': 'fake-hardware',
                                      'name': 'nobody'}), 400, no_host(''))
    rc, out, err = d.cli('node', 'create', '--driver', 'fake-hardware',
                         '--conductor-group', 'nogroup')
    assert rc != 0 and no_host('nogroup') in err, err
    assert d.get('/v1/nodes/nobody').status_code == 404
    assert_error(d.patch('/v1/nodes/' + mine['uuid'], [{
        'op': 'replace', 'path': '/conductor_group', 'value': 'nogroup'}]),
        400, no_host('nogroup'))

    # A node of a group whose conductor stopped: every action refused.
    other = launcher.start(conductor=dict(FAST, conductor_group='other'),
                           DEFAULT={'host': 'other-host'}, database=db)
    orphan = other.create_node(name='orphan', conductor_group='other')
    u = orphan['uuid']
    other.stop()
    wait_for(lambda: d.get('/v1/nodes/' + u).json()['conductor'] is None,
             10, interval=0.1, what='the orphan without a conductor')
    before = d.get('/v1/nodes/' + u).json()
    for method, path, body, status in (
            ('put', '/states/power', {'target': 'power on'}, 404),
            ('put', '/states/provision', {'target': 'manage'}, 404),
            ('get', '/management/boot_device', None, 404),
            ('get', '/validate', None, 404),
            ('put', '/maintenance', {'reason': 'x'}, 400),
            ('get', '/vifs', None, 400),
            ('patch', '', [{'op': 'add', 'path': '/extra/a',
                            'value': 'b'}], 400),
            ('delete', '', None, 400)):
        kw = {} if body is None else {'body': body}
        assert_error(getattr(d, method)('/v1/nodes/' + u + path, **kw),
                     status, no_host('other'))
    assert_error(d.post('/v1/heartbeat/' + u, {
        'callback_url': 'http://127.0.0.1:9999', 'agent_token': 'x'}),
        400, no_host('other'))
    after = d.get('/v1/nodes/' + u).json()
    assert after == before
    listed = d.cli_json('node', 'list', '--conductor', CONDUCTOR_HOST)
    assert [n['UUID'] for n in listed] == [mine['uuid']], listed
    long = {n['UUID']: n['Conductor'] for n in d.cli_json(
        'node', 'list', '--long')}
    assert long == {mine['uuid']: CONDUCTOR_HOST, u: None}


def test_check_refuses_bad_conductor_group(tmp_path):
    conf = tmp_path / 'group.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n[conductor]\n'
                    'conductor_group = rack/1\n' % (tmp_path / 'state'))
    p = subprocess.run([LIFEBOATD, '--config-file', str(conf), '--check'],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert ("%s:4: [conductor] conductor_group: 'rack/1' is not a conductor "
            "group" % conf) in p.stdout + p.stderr, (p.stdout, p.stderr)


def tooz_owner(hosts, key, exponent):
    """What tooz's HashRing (Ironic's) gives: the reference the ring in
    lifeboatd must agree with, computed here independently."""
    ring = {}
    for host in sorted(set(hosts)):
        h = hashlib.md5(host.encode())
        for _ in range(2 ** exponent):
            h.update(host.encode())
            ring[int(h.hexdigest(), 16)] = host
    points = sorted(ring)
    i = bisect.bisect(points, int(hashlib.md5(key.encode()).hexdigest(), 16))
    return ring[points[i if i < len(points) else 0]]


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%S.%f+00:00')


class OtherConductor:
    """Another conductor's row in the shared store, heart-beating from a
    thread as its lifeboatd would (a second lifeboatd on one SQLite file
    is not safe)."""

    def __init__(self, tmp_path, host, group='', drivers=('fake-hardware',)):
        self.tmp_path, self.host, self.online = tmp_path, host, True
        self.stopping = threading.Event()
        shared_rows(tmp_path, 'INSERT INTO conductors (hostname, '
                    'conductor_group, drivers, online, created_at, '
                    'updated_at) VALUES (?, ?, ?, 1, ?, ?)', (
                        host, group, json.dumps(list(drivers)), now_iso(),
                        now_iso()))
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self):
        while not self.stopping.wait(0.5):
            shared_rows(self.tmp_path, 'UPDATE conductors SET updated_at = '
                        '?, online = ? WHERE hostname = ?',
                        (now_iso(), int(self.online), self.host))

    def close(self):
        self.stopping.set()
        self.thread.join()


def test_second_conductor_takes_its_share(launcher, tmp_path):
    """A second alive conductor of the group takes the nodes Ironic's ring
    gives it (hash_partition_exponent points each) within
    hash_ring_reset_interval, in the node's conductor field and the
    ``--conductor`` filter; a conductor of another group takes none of
    them; the power sync reads only this conductor's share; once the other
    goes offline its nodes come back."""
    db = shared_db(tmp_path)
    d = launcher.start(conductor=dict(FAST, sync_power_state_interval='1'),
                       database=db, DEFAULT={
                           'hash_ring_reset_interval': '1',
                           'hash_partition_exponent': '6'})
    uuids = [d.create_node(name='ring-%d' % i)['uuid'] for i in range(24)]
    for u in uuids:       # out of enroll, so that the power sync reads them
        r = d.put('/v1/nodes/%s/states/provision' % u, {'target': 'manage'})
        assert r.status_code == 202, r.text
    wait_for(lambda: all(n['provision_state'] == 'manageable' for n in d.get(
        '/v1/nodes?fields=provision_state').json()['nodes']), 15,
        interval=0.2, what='nodes to be manageable')
    wait_for(lambda: 'power state sync: 24 of 24 nodes queued' in
             d.log_text(), 10, interval=0.2, what='a sync of every node')
    others = [OtherConductor(tmp_path, 'other-host'),
              OtherConductor(tmp_path, 'elsewhere', group='g2')]
    try:
        hosts = [CONDUCTOR_HOST, 'other-host']
        expected = {u: tooz_owner(hosts, u, 6) for u in uuids}
        theirs = sorted(u for u in uuids if expected[u] == 'other-host')
        assert 0 < len(theirs) < len(uuids), expected

        def conductors():
            return {n['UUID']: n['Conductor'] for n in d.cli_json(
                'node', 'list', '--long')}
        wait_for(lambda: conductors() == expected, 15, interval=0.3,
                 what='the ring to give other-host its share')
        listed = d.cli_json('node', 'list', '--conductor', 'other-host')
        assert sorted(n['UUID'] for n in listed) == theirs
        assert d.cli_json('node', 'show', theirs[0])['conductor'] == \
            'other-host'
        alive = {r['Hostname']: r['Alive']
                 for r in d.cli_json('conductor', 'list')}
        assert alive == {CONDUCTOR_HOST: True, 'other-host': True,
                         'elsewhere': True}, alive
        # The power sync reads only this conductor's share.
        mine = len(uuids) - len(theirs)
        wait_for(lambda: 'power state sync: %d of 24 nodes queued' % mine
                 in d.log_text(), 10, interval=0.2,
                 what="a sync of this conductor's share only")

        # other-host goes offline: every node is this conductor's again.
        others[0].online = False
        wait_for(lambda: set(conductors().values()) == {CONDUCTOR_HOST},
                 15, interval=0.3, what='other-host to lose its nodes')
    finally:
        for o in others:
            o.close()
