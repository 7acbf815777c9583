"""Node history (API 1.78, contract wave 2 section 2) through the real CLI.

A rescue and an unrescue through the ``agent`` rescue interface (lab IPMI
BMC, fake agent) list every phase with its duration; power actions and
maintenance changes appear; a failed rescue is an ERROR row with
last_error's text; a restart records Ironic's transition text; paging,
every 400/404, 404 at 1.77; node deletion; the retention options; the
user with http_basic.  Every wait polls with a deadline.
"""

import base64
import re
import subprocess

from conftest import CONDUCTOR_HOST, assert_error, store_rows, unique, wait_for
from rescue_helpers import (
    ImageServer, OnRescueWait, PasswordBmcs, RescueLab, cli_rescue_watched,
    end_state, put_rescue, settled, to_rescue_wait)
from rescue_helpers import agents  # noqa: F401 (a fixture)

PASSWORD = 'Hist-ory-PW1'
BMC_PASSWORD = 'Bmc-Hist-S3cr3t'
DURATION = r' \(\d+\.\d\d s\)'
AFTER_ON = r' \(\d+\.\d\d s after power on\)'
RESCUE_PHASES = [
    'rescue: images ready' + DURATION,
    'rescue: powered off' + DURATION,
    'rescue: ports moved to the rescuing network' + DURATION,
    'rescue: ramdisk staged, one-time network boot set' + DURATION,
    'rescue: powered on, waiting for the agent' + DURATION,
    'rescue: agent lookup' + AFTER_ON,
    'rescue: first heartbeat' + AFTER_ON,
    'rescue: finalized, the agent has the password' + DURATION,
    'rescue: staging removed, ports moved back to the tenant network' +
    DURATION,
    'rescue: done, total' + DURATION,
]
UNRESCUE_PHASES = [
    'unrescue: powered off' + DURATION,
    'unrescue: staging removed, ports moved back to the tenant network' +
    DURATION,
    'unrescue: disk boot set, powered on' + DURATION,
    'unrescue: done, total' + DURATION,
]
PECAN_404 = ('{"error_message": "{\\"code\\": 404, \\"title\\": '
             '\\"Not Found\\", \\"description\\": \\"\\"}"}')


def history(d, ident, **params):
    r = d.get('/v1/nodes/%s/history' % ident, params=params)
    assert r.status_code == 200, r.text
    return r.json()


# The CLI's column labels (python-ironicclient's resource_fields).
LABELS = {'UUID': 'uuid', 'Created At': 'created_at',
          'Severity': 'severity', 'Description of the event': 'event',
          'Event Origin Type': 'event_type', 'Conductor': 'conductor',
          'User': 'user'}


def cli_rows(d, *args, **kw):
    """``node history ...`` -f json, keys as the API's field names."""
    rows = d.cli_json('node', 'history', *args, **kw)
    if isinstance(rows, dict):
        rows = [rows]
    return [{LABELS.get(k, k): v for k, v in row.items()} for row in rows]


def cli_ok(d, *args, **kw):
    rc, out, err = d.cli(*args, **kw)
    assert rc == 0, (args, out, err)


def db_count(d, node_uuid=None):
    if node_uuid is None:
        return store_rows(d, 'SELECT COUNT(*) FROM node_history')[0][0]
    return store_rows(d, 'SELECT COUNT(*) FROM node_history h JOIN nodes n '
                      'ON n.id = h.node_id WHERE n.uuid = ?',
                      (node_uuid,))[0][0]


def maintenance_cycle(d, ident, n, reason='r'):
    for i in range(n):
        r = d.put('/v1/nodes/%s/maintenance' % ident,
                  {'reason': '%s %d' % (reason, i)})
        assert r.status_code == 202, r.text
        r = d.delete('/v1/nodes/%s/maintenance' % ident)
        assert r.status_code == 202, r.text


# ======================================= a rescue and an unrescue, the CLI

def test_rescue_unrescue_power_maintenance(launcher, tmp_path, agents):
    bm = PasswordBmcs(tmp_path / 'bmcs', BMC_PASSWORD)
    bm.workdir.mkdir()
    try:
        emu = bm.ipmi(1)
        emu.set_power(0, 'on')
        rescue_and_more(launcher, tmp_path, agents, emu)
    finally:
        bm.close()


def rescue_and_more(launcher, tmp_path, agents, emu):
    lab = RescueLab(launcher, tmp_path / 'lab')
    d = lab.d
    node, mac = lab.node(emu, 0, driver_info=emu.driver_info(
        0, password=BMC_PASSWORD))
    uuid, name = node['uuid'], node['name']
    watcher = OnRescueWait(d, uuid,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    agent = cli_rescue_watched(d, name, watcher, PASSWORD)
    assert agent.wait_exit(30) == 0
    assert settled(d, uuid)['provision_state'] == 'rescue'
    cli_ok(d, 'node', 'unrescue', name)
    assert end_state(d, uuid, {'active', 'unrescue failed'})[
        'provision_state'] == 'active'
    cli_ok(d, 'node', 'power', 'off', name)
    cli_ok(d, 'node', 'power', 'on', name)
    settled(d, uuid)
    cli_ok(d, 'node', 'maintenance', 'set', name, '--reason', 'disk swap')
    cli_ok(d, 'node', 'maintenance', 'unset', name)

    rows = cli_rows(d, 'list', name)
    assert all(set(r) == {'uuid', 'created_at', 'severity', 'event'}
               for r in rows), rows
    events = [r['event'] for r in rows]
    expected = RESCUE_PHASES + UNRESCUE_PHASES + [
        r"power action 'power off' requested by the API: power on -> "
        r"power off" + DURATION,
        r"power action 'power on' requested by the API: power off -> "
        r"power on" + DURATION,
        'maintenance set by the API: disk swap',
        'maintenance unset by the API',
    ]
    assert len(events) == len(expected), events
    for text, pattern in zip(events, expected):
        assert re.fullmatch(pattern, text), (pattern, text)
    assert {r['severity'] for r in rows} == {'INFO'}, rows
    assert all(r['created_at'].endswith('+00:00') for r in rows), rows
    stamps = [r['created_at'] for r in rows]
    assert stamps == sorted(stamps), stamps

    long_rows = cli_rows(d, 'list', name, '--long')
    assert [r['uuid'] for r in long_rows] == [r['uuid'] for r in rows]
    types = [r['event_type'] for r in long_rows]
    assert types == (['rescue'] * 10 + ['unrescue'] * 4 + ['power'] * 2 +
                     ['maintenance'] * 2), types
    assert {r['conductor'] for r in long_rows} == {CONDUCTOR_HOST}
    assert {r['user'] for r in long_rows} == {None}     # noauth

    one = cli_rows(d, 'get', name, rows[-1]['uuid'])[0]
    assert one == dict(long_rows[-1]), one
    # The password (nor its hash, the agent's token, the BMC's password)
    # is never there.
    everything = str(history(d, uuid, detail='true'))
    assert PASSWORD not in everything and BMC_PASSWORD not in everything
    assert agent.password_hash() not in everything
    assert agent.token() not in everything


# ========================================== failures, restarts, at ERROR

def test_timeout_and_restart_are_errors(launcher, tmp_path):
    lab = RescueLab(launcher, tmp_path / 'lab',
                    conductor={'rescue_callback_timeout': 2})
    d = lab.d
    waiting, _ = lab.node(name=unique('hist-timeout'))
    to_rescue_wait(lab, waiting['uuid'], PASSWORD)
    node = end_state(d, waiting['uuid'], {'rescue failed'}, 30)
    last = history(d, waiting['uuid'], detail='true')['history'][-1]
    assert last['severity'] == 'ERROR', last
    assert last['event_type'] == 'rescue', last
    assert last['event'] == node['last_error'], (last, node)
    assert last['event'].startswith('Timeout reached while waiting for '
                                    'rescue ramdisk callback'), last

    images = ImageServer({'/k': b'k' * 100, '/r': b'r' * 100})
    try:
        # A job that fails: its end writes last_error and the ERROR row.
        failing, _ = lab.node(name=unique('hist-fail'), driver_info={
            'rescue_kernel': images.url + '/missing',
            'rescue_ramdisk': images.url + '/r'})
        r = put_rescue(d, failing['uuid'], PASSWORD)
        assert r.status_code == 202, r.text
        node = end_state(d, failing['uuid'], {'rescue failed'}, 30)
        last = history(d, failing['uuid'], detail='true')['history'][-1]
        assert node['last_error'].startswith('Failed to rescue: '), node
        assert (last['severity'], last['event_type'], last['event']) == (
            'ERROR', 'rescue', node['last_error']), (last, node)

        # A restart with a node in "rescuing": Ironic's transition text.
        busy, _ = lab.node(name=unique('hist-restart'), driver_info={
            'rescue_kernel': images.url + '/k',
            'rescue_ramdisk': images.url + '/r'})
        images.stall('/k')
        r = put_rescue(d, busy['uuid'], PASSWORD)
        assert r.status_code == 202, r.text
        wait_for(lambda: images.stalled('/k') >= 1, 30, what='the fetch')
        d.restart(hard=True)
        images.release()
        settled(d, busy['uuid'])
    finally:
        images.close()
    rows = history(d, busy['uuid'], detail='true')['history']
    errors = [r for r in rows if r['severity'] == 'ERROR']
    assert len(errors) == 1, rows
    assert errors[0]['event_type'] == 'transition', errors
    assert errors[0]['event'] == (
        "The rescuing state can't be resumed by conductor %s. Moving to "
        "fail state." % CONDUCTOR_HOST), errors
    assert PASSWORD not in str(rows)


# ================================================ the API: paging, errors

def test_paging_errors_and_deletion(daemon):
    d = daemon
    node = d.create_node(name=unique('hist'))
    other = d.create_node(name=unique('hist-other'))
    uuid = node['uuid']
    assert history(d, uuid) == {'history': []}
    maintenance_cycle(d, uuid, 3)
    long_reason = 'x' * 240
    r = d.put('/v1/nodes/%s/maintenance' % uuid, {'reason': long_reason})
    assert r.status_code == 202, r.text
    maintenance_cycle(d, other['uuid'], 1)

    full = history(d, uuid, detail='true')['history']
    assert len(full) == 7, full
    # Non-detail lists cut an event past 255 characters to 251 + "...".
    short = history(d, node['name'])['history']
    assert short[-1]['event'] == ('maintenance set by the API: ' +
                                  long_reason)[:251] + '...'
    assert full[-1]['event'].endswith(long_reason)
    assert set(short[0]) == {'uuid', 'created_at', 'severity', 'event',
                             'links'}
    assert short[0]['links'] == [{
        'href': '%s/v1/nodes/%s/history/%s' % (d.url, uuid,
                                                short[0]['uuid']),
        'rel': 'self'}]
    assert set(full[0]) == {'uuid', 'created_at', 'severity', 'event',
                            'event_type', 'conductor', 'user', 'links'}

    # Paging with limit: "next" (with detail) until the last page.
    seen, url = [], None
    page = history(d, uuid, limit=3, detail='True')
    while True:
        seen += page['history']
        if 'next' not in page:
            break
        url = page['next']
        assert url.startswith('%s/v1/nodes/%s/history?limit=3&marker=' %
                              (d.url, uuid)), url
        assert url.endswith('&detail=True'), url
        r = d.get(url)
        assert r.status_code == 200, r.text
        page = r.json()
    assert seen == full
    assert 'next' not in history(d, uuid, limit=7)       # exactly all
    assert 'next' in history(d, uuid, limit=6)
    assert history(d, uuid, marker=full[4]['uuid'])['history'] == \
        [dict(e, event=e['event'][:251] + '...')
         if len(e['event']) > 255 else e for e in
         [{k: v for k, v in x.items()
           if k not in ('event_type', 'conductor', 'user')}
          for x in full[5:]]]
    # .../history/detail (the CLI's --long) is the detailed list.
    r = d.get('/v1/nodes/%s/history/detail' % uuid)
    assert r.status_code == 200 and r.json()['history'] == full
    r = d.get('/v1/nodes/%s/history/%s' % (uuid, full[2]['uuid']))
    assert r.status_code == 200 and r.json() == full[2]

    base = '/v1/nodes/%s/history' % uuid
    assert_error(d.get(base, params={'fields': 'uuid'}), 400,
                 'Unexpected arguments: fields')
    assert_error(d.get(base, params={'limit': 0}), 400,
                 'Limit must be positive')
    assert_error(d.get(base, params={'marker': 'notauuid'}), 400,
                 'Expected UUID for marker: notauuid')
    assert_error(d.get(base, params={'detail': 'maybe'}), 400,
                 "Invalid detail: Unrecognized value 'maybe', acceptable "
                 "values are: '0', '1', 'f', 'false', 'n', 'no', 'off', "
                 "'on', 't', 'true', 'y', 'yes'")
    assert_error(d.get('/v1/nodes/nosuch/history'), 404,
                 'Node nosuch could not be found.')
    missing = '00000000-1111-2222-3333-444444444444'
    assert_error(d.get('%s/%s' % (base, missing)), 404,
                 'Node history record %s could not be found.' % missing)
    theirs = history(d, other['uuid'])['history'][0]['uuid']
    assert_error(d.get('%s/%s' % (base, theirs)), 404,
                 'Node history record %s could not be found.' % theirs)
    assert_error(d.get(base, params={'marker': theirs}), 404,
                 'Node history record %s could not be found.' % theirs)
    for path in (base, '%s/%s' % (base, full[0]['uuid'])):
        r = d.get(path, version='1.77')
        assert r.status_code == 404 and r.text == PECAN_404, r.text

    # Deleting the node deletes its rows; the other node keeps its own.
    assert db_count(d, uuid) == 7
    assert d.delete('/v1/nodes/%s' % uuid).status_code == 204
    assert db_count(d) == 2
    assert_error(d.get(base), 404, 'Node %s could not be found.' % uuid)


# ================================================== retention options

def test_purge_max_entries_and_batch(launcher):
    d = launcher.start(conductor={'node_history_max_entries': 3,
                                  'node_history_cleanup_batch_count': 1,
                                  'node_history_cleanup_interval': 3})
    first = d.create_node(name=unique('hist-a'))['uuid']
    second = d.create_node(name=unique('hist-b'))['uuid']
    maintenance_cycle(d, first, 3)
    maintenance_cycle(d, second, 3)
    oldest_kept = history(d, first)['history'][3]['uuid']
    # One purge: the first node crosses the batch of 1, so it stops there.
    wait_for(lambda: db_count(d, first) == 3, 15, what='the first purge')
    assert db_count(d, second) == 6
    assert history(d, first)['history'][0]['uuid'] == oldest_kept
    wait_for(lambda: db_count(d, second) == 3, 15, what='the second purge')


def test_minimum_days_and_history_off(launcher):
    d = launcher.start()
    uuid = d.create_node(name=unique('hist-days'))['uuid']
    maintenance_cycle(d, uuid, 2)
    assert db_count(d, uuid) == 4
    d.sections['conductor'] = {'node_history': 'false',
                               'node_history_minimum_days': 1,
                               'node_history_max_entries': 1,
                               'node_history_cleanup_interval': 1}
    d.restart()
    mark = len(d.log_text())
    wait_for(lambda: d.log_text().count('node history: nothing to purge',
                                        mark) >= 2, 15, what='two purges')
    assert db_count(d, uuid) == 4           # younger than a day: kept
    maintenance_cycle(d, uuid, 1)           # node_history = false
    assert db_count(d, uuid) == 4


# ======================================================= the user, basic

def test_user_with_http_basic(launcher, tmp_path):
    htpasswd = tmp_path / 'htpasswd'
    subprocess.run(['htpasswd', '-cbB', str(htpasswd), 'operator',
                    'op-secret-pw'], check=True, capture_output=True,
                   timeout=30)
    d = launcher.start(DEFAULT={'auth_strategy': 'http_basic',
                                'http_basic_auth_user_file': str(htpasswd)})
    token = base64.b64encode(b'operator:op-secret-pw').decode()
    auth = {'Authorization': 'Basic ' + token}
    r = d.post('/v1/nodes', {'driver': 'fake-hardware',
                             'name': unique('hist-auth')}, headers=auth)
    assert r.status_code == 201, r.text
    name = r.json()['name']
    creds = ('operator', 'op-secret-pw')
    cli_ok(d, 'node', 'maintenance', 'set', name, '--reason', 'audit',
           auth=creds)
    cli_ok(d, 'node', 'maintenance', 'unset', name, auth=creds)
    cli_ok(d, 'node', 'power', 'on', name, auth=creds)
    wait_for(lambda: len(d.get('/v1/nodes/%s/history' % name, headers=auth)
                         .json()['history']) == 3, 30, what='the power row')
    rows = cli_rows(d, 'list', name, '--long', auth=creds)
    assert [r['user'] for r in rows] == ['operator'] * 3, rows
    assert rows[0]['event'] == 'maintenance set by operator: audit', rows
    assert rows[2]['event'].startswith(
        "power action 'power on' requested by operator: "), rows
    assert 'op-secret-pw' not in str(rows) and token not in str(rows)
