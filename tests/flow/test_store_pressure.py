"""The store under pressure (issue 14): contention and a full disk.

1,000 concurrent API operations against one lifeboatd never give a 500 or a
503 and lose no update; a full disk gives a clear Ironic error, leaves the
database consistent and heals once space is freed, without a restart.
"""

import os
import sqlite3
import subprocess
import time

import pytest

from conftest import assert_error, unique, wait_for
from store_load import Plan

WORKERS = 64


def integrity(path):
    db = sqlite3.connect(str(path), timeout=30)
    try:
        return db.execute('PRAGMA integrity_check').fetchall()
    finally:
        db.close()


def test_thousand_concurrent_operations(launcher):
    # As many API threads as clients: writes really meet in the store (the
    # default is one per CPU).
    d = launcher.start(api={'max_connections_per_ip': WORKERS * 2,
                            'api_workers': WORKERS})
    plan = Plan(d, workers=WORKERS)
    results = plan.run()
    want = {'patch': {200}, 'power': {202}, 'port': {201}, 'list': {200},
        'port-doomed': {201, 400}, 'delete': {204}}
    bad = [(k, st, text[:200]) for k, st, _, text in results
           if st not in want[k]]
    assert not bad, bad[:10]
    assert len(results) == 1000
    assert plan.lost() == []
    wait_for(plan.powered, 30, interval=0.1, what='every power action')
    assert 'database is busy' not in d.log_text()
    d.stop()
    if not os.environ.get('LB_TEST_DB_URL'):     # SQLite's own check
        assert integrity(d.state_path / 'lifeboat.sqlite') == [('ok',)]


# ---------------------------------------------------------------- disk full

@pytest.fixture
def tmpfs(tmp_path):
    """A 2 MiB tmpfs of its own (root only), unmounted at the end."""
    if os.environ.get('LB_TEST_DB_URL'):
        pytest.skip('SQLite only: fills the tmpfs under its database file '
                    '(PostgreSQL\'s disk is the server\'s: its SQLSTATE '
                    '53100 is mapped in store_pg_conn.c)')
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    mnt = tmp_path / 'small'
    mnt.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs',
                    str(mnt)], check=True)
    yield mnt
    subprocess.run(['umount', str(mnt)], check=True)


def fill(path):
    """Writes 'path' until the file system is full."""
    chunk = b'\0' * 65536
    with open(path, 'wb', buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError:
                break
    with open(path, 'ab', buffering=0) as f:
        for size in (4096, 512, 1):
            try:
                while f.write(b'\0' * size):
                    pass
            except OSError:
                continue


def truncate_wal(path):
    """Checkpoints the WAL into the database file and empties it, so that
    any write needs new space (a WAL with room left would take it)."""
    db = sqlite3.connect(str(path), timeout=30)
    try:
        busy, _, _ = db.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()
        assert busy == 0
    finally:
        db.close()


def full_error(r):
    assert_error(r, 503, match=r"The conductor's database is out of disk "
                 r"space.*nothing was changed.*")


def test_disk_full_then_freed(tmpfs, launcher):
    db = tmpfs / 'lifeboat.sqlite'
    d = launcher.start(database={'connection': 'sqlite:///' + str(db)})
    node = d.create_node(name=unique('full'))
    ports = [d.create_port(node['uuid']) for _ in range(3)]
    slow = d.create_node(name=unique('slow'),
                         driver_info={'fake_delay': 1})
    r = d.put('/v1/nodes/%s/states/power' % slow['uuid'],
              {'target': 'power on'})
    assert r.status_code == 202, r.text

    truncate_wal(db)
    fill(tmpfs / 'filler')
    path = '/v1/nodes/' + node['uuid']
    full_error(d.patch(path, [{'op': 'add', 'path': '/extra/a',
                               'value': 'x' * 10000},
                              {'op': 'replace', 'path': '/description',
                               'value': 'changed'}]))
    full_error(d.post('/v1/nodes', {'driver': 'fake-hardware',
                                    'name': unique('new')}))
    full_error(d.post('/v1/ports', {'node_uuid': node['uuid'],
                                    'address': '52:54:00:ee:ee:01'}))
    # A node and its ports go together or not at all.
    full_error(d.delete(path))
    # The power job's end cannot be written: the node stays locked and
    # shows no transition until it can.
    wait_for(lambda: 'cannot record the end of' in d.log_text(), 30,
             what='the power job to try its final write')
    s = d.get('/v1/nodes/' + slow['uuid']).json()
    assert s['reservation'] and s['power_state'] != 'power on', s
    # A power action on a full disk is refused whole: nothing queued.
    full_error(d.put(path + '/states/power', {'target': 'power on'}))
    n = d.get(path).json()
    assert n['extra'] == {} and n['description'] is None
    assert n['reservation'] is None and n['target_power_state'] is None
    got = d.get('/v1/ports?node=' + node['uuid']).json()['ports']
    assert sorted(p['uuid'] for p in got) == sorted(p['uuid'] for p in ports)
    assert d.proc.poll() is None
    assert integrity(db) == [('ok',)]

    # Space again: everything works without a restart.
    os.unlink(tmpfs / 'filler')
    wait_for(lambda: (lambda s: s['power_state'] == 'power on' and
                      s['reservation'] is None)(
        d.get('/v1/nodes/' + slow['uuid']).json()), 30, interval=0.1,
        what='the power job to record its end')
    log = d.log_text()
    assert 'the end of power action recorded after' in log
    assert log.count('is out of disk space: every write fails') == 1
    assert 'writes again' in log
    r = d.patch(path, [{'op': 'add', 'path': '/extra/a', 'value': 'x'}])
    assert r.status_code == 200, r.text
    assert d.post('/v1/ports', {'node_uuid': node['uuid'],
                                'address': '52:54:00:ee:ee:01'}
                  ).status_code == 201
    assert d.delete(path).status_code == 204
    left = d.get('/v1/ports/detail').json()['ports']
    assert [p for p in left if p['node_uuid'] == node['uuid']] == []
    d.stop()
    assert integrity(db) == [('ok',)]


def test_stop_while_a_final_write_waits(tmpfs, launcher):
    """SIGTERM ends the wait of a job whose end cannot be written; the next
    start (with space again) releases the node, as after any stop."""
    db = tmpfs / 'lifeboat.sqlite'
    d = launcher.start(database={'connection': 'sqlite:///' + str(db)})
    slow = d.create_node(name=unique('slow'), driver_info={'fake_delay': 1})
    path = '/v1/nodes/' + slow['uuid']
    r = d.put(path + '/states/power', {'target': 'power on'})
    assert r.status_code == 202, r.text
    truncate_wal(db)
    fill(tmpfs / 'filler')
    wait_for(lambda: 'cannot record the end of' in d.log_text(), 30,
             what='the power job to try its final write')
    started = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - started < 3
    os.unlink(tmpfs / 'filler')
    d.start()
    n = d.get(path).json()
    assert n['reservation'] is None and n['target_power_state'] is None
    assert 'restarted during a power action' in n['last_error']
