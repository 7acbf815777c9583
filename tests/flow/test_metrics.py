"""GET /metrics ([metrics] host_ip/port): a rescue and an unrescue through
the agent rescue interface (lab IPMI BMC, tests/lab/fake_agent.py, the
real CLI) move the phase histograms, the BMC call counters, the API
request counters and the agent's counters by what happened; node gauges
match ``node list``; every scrape passes ``promtool check metrics``.  And:
no listener unless a port is set, 404/405 off the one route, bad options
refused by --check, a port in use a clear start-up error.

Every process is stopped by its PID at teardown; every wait polls.
"""

import re
import socket
import subprocess

import pytest
import requests

from conftest import LIFEBOATD, free_port, unique
from metrics_helpers import promtool_check, scrape
from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import (OnRescueWait, RescueLab, cli_rescue_watched,
                            settled)
from rescue_helpers import agents, emu  # noqa: F401 (fixtures)

PASSWORD = 'Resc-ue-PW1'
HOST = '127.0.0.2'           # not the default, and only loopback
PHASE_RE = r'node %s: (?:un)?rescue: (.+) \(\d+\.\d+ s\)$'


def metrics_lab(launcher, tmp_path, **conductor):
    port = free_port()
    lab = RescueLab(launcher, tmp_path / 'lab',
                    conductor=dict(workers_pool_size=6, **conductor),
                    metrics={'host_ip': HOST, 'port': port})
    return lab, 'http://%s:%d/metrics' % (HOST, port)


def phase_lines(d, uuid):
    """The phase names of the node's phase() log lines, in order."""
    found = (re.search(PHASE_RE % uuid, l)
             for l in d.log_text().splitlines())
    return [m.group(1) for m in found if m]


def checked(url):
    s = scrape(url)
    rc, out = promtool_check(s.text)
    assert (rc, out) == (0, ''), out
    return s


def delta(before, after, name, **labels):
    return after.value(name, **labels) - before.value(name, **labels)


def bad_heartbeat(d, ident):
    return d.post('/v1/heartbeat/%s' % ident,
                  {'callback_url': 'http://127.0.0.1:9/',
                   'agent_token': 'not-the-token', 'agent_version': '9.0'})


def test_rescue_moves_the_metrics(launcher, tmp_path, emu, agents):
    lab, url = metrics_lab(launcher, tmp_path)
    d = lab.d
    node, mac = lab.node(emu, 0)
    uuid, name = node['uuid'], node['name']
    other = d.create_node(name=unique('idle'))
    rc, out, err = d.cli('node', 'maintenance', 'set', other['uuid'])
    assert rc == 0, (out, err)
    s0 = checked(url)

    # -- a rescue through the CLI, the agent started at rescue wait
    watcher = OnRescueWait(d, uuid,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    agent = cli_rescue_watched(d, name, watcher, PASSWORD)
    assert agent.wait_exit(30) == 0
    assert settled(d, uuid)['provision_state'] == 'rescue'
    s1 = checked(url)
    rescue_phases = len(phase_lines(d, uuid))
    assert rescue_phases >= 5, phase_lines(d, uuid)
    hist = 'lifeboat_rescue_phase_duration_seconds_count'
    assert delta(s0, s1, hist, flow='rescue') == rescue_phases
    assert delta(s0, s1, hist, flow='unrescue') == 0
    assert {lab_['phase'] for lab_, v in s1.series(hist)
            if lab_['flow'] == 'rescue'} == set(phase_lines(d, uuid))
    agent_phase = 'lifeboat_agent_phase_duration_seconds_count'
    assert delta(s0, s1, agent_phase, phase='lookup') == 1
    assert delta(s0, s1, agent_phase, phase='first_heartbeat') == 1
    assert delta(s0, s1, 'lifeboat_agent_heartbeats_total',
                 result='accepted', reason='finalize') == 1
    assert delta(s0, s1, 'lifeboat_agent_lookups_total',
                 result='accepted', reason='ok') >= 1

    # -- unrescue, then a heartbeat with a wrong token and one for nobody
    rc, out, err = d.cli('node', 'unrescue', name, '--wait', timeout=120)
    assert rc == 0, (out, err)
    assert settled(d, uuid)['provision_state'] == 'active'
    assert bad_heartbeat(d, uuid).status_code == 400
    assert bad_heartbeat(d, '1be26c0b-03f2-4d2d-ae87-c02d7f33c123') \
        .status_code == 404
    s2 = checked(url)
    assert delta(s1, s2, hist, flow='unrescue') == \
        len(phase_lines(d, uuid)) - rescue_phases
    assert delta(s1, s2, hist, flow='rescue') == 0
    hb = 'lifeboat_agent_heartbeats_total'
    assert delta(s1, s2, hb, result='refused', reason='bad_token') == 1
    assert delta(s1, s2, hb, result='refused', reason='unknown_node') == 1
    assert delta(s1, s2, hb, result='accepted') == 0

    # -- BMC calls: off, boot device, on for each of the two (the lab
    # machine's log says the same in test_rescue.py)
    calls = 'lifeboat_bmc_calls_total'
    assert delta(s0, s2, calls, driver='ipmi', operation='power_set',
                 result='ok') == 4
    assert delta(s0, s2, calls, driver='ipmi', operation='boot_device_set',
                 result='ok') == 2
    assert delta(s0, s2, calls, result='error') == 0
    assert delta(s0, s2, 'lifeboat_bmc_call_duration_seconds_count',
                 driver='ipmi', operation='power_set') == 4
    assert s2.value('lifeboat_bmc_calls_in_flight') == 0

    # -- API requests by route pattern and status, never by path
    req = 'lifeboat_api_requests_total'
    prov = 'v1/nodes/*/states/provision'
    assert delta(s0, s2, req, method='PUT', route=prov, status='202') == 2
    assert delta(s0, s2, req, method='POST', route='v1/heartbeat/*',
                 status='400') == 1
    assert delta(s0, s2, req, method='POST', route='v1/heartbeat/*',
                 status='404') == 1
    assert delta(s0, s2, req, method='POST', route='v1/heartbeat/*',
                 status='202') >= 1
    assert delta(s0, s2, req, method='GET', route='v1/lookup',
                 status='200') >= 1
    assert delta(s0, s2, 'lifeboat_api_request_duration_seconds_count',
                 method='PUT', route=prov) == 2
    assert uuid not in s2.text and name not in s2.text

    # -- jobs, store, workers
    job = 'lifeboat_job_duration_seconds_count'
    for kind in ('rescue', 'finalize', 'unrescue'):
        assert delta(s0, s2, job, kind=kind) == 1, kind
    store = 'lifeboat_store_transaction_duration_seconds_count'
    assert delta(s0, s2, store, kind='write') >= 6
    assert delta(s0, s2, store, kind='read') >= 6
    assert s2.value('lifeboat_workers') == 6
    assert s2.value('lifeboat_workers_busy') == 0
    assert s2.value('lifeboat_jobs_queued') == 0

    # -- node gauges: what node list shows
    nodes = d.cli_json('node', 'list')
    want_prov, want_power = {}, {}
    for n in nodes:
        ps = n['Provisioning State']
        pw = n['Power State'] or 'none'
        want_prov[ps] = want_prov.get(ps, 0) + 1
        want_power[pw] = want_power.get(pw, 0) + 1
    prov = dict((lab_['provision_state'], v) for lab_, v in
                s2.series('lifeboat_nodes_by_provision_state'))
    power = dict((lab_['power_state'], v) for lab_, v in
                 s2.series('lifeboat_nodes_by_power_state'))
    # every state has a series, 0 where no node is (stable for alerts)
    assert {'enroll', 'rescue', 'rescue failed', 'rescue wait',
            'unrescue failed', 'active', 'error'} <= set(prov)
    assert {'power on', 'power off', 'none'} <= set(power)
    got_prov = {k: v for k, v in prov.items() if v}
    got_power = {k: v for k, v in power.items() if v}
    assert got_prov == want_prov == {'active': 1, 'enroll': 1}
    assert got_power == want_power
    assert s2.value('lifeboat_nodes_in_maintenance') == \
        sum(1 for n in nodes if n['Maintenance']) == 1


def listening_ports(pid):
    """TCP ports the process listens on (from /proc, no tools)."""
    inodes = set()
    for fd in (p for p in subprocess.run(
            ['ls', '-l', '/proc/%d/fd' % pid], capture_output=True,
            text=True).stdout.splitlines() if 'socket:[' in p):
        inodes.add(fd.split('socket:[')[1].rstrip(']'))
    ports = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == '0A' and cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(':', 1)[1], 16))
    return ports


def test_listener_off_by_default(launcher):
    d = launcher.start()
    assert listening_ports(d.proc.pid) == {d.port}
    assert 'metrics listening' not in d.log_text()


def test_other_paths_and_methods(launcher):
    port = free_port()
    d = launcher.start(metrics={'port': port})
    assert listening_ports(d.proc.pid) == {d.port, port}
    base = 'http://127.0.0.1:%d' % port
    assert requests.get(base + '/', timeout=10).status_code == 404
    assert requests.get(base + '/metrics/x', timeout=10).status_code == 404
    assert requests.get(base + '/v1/nodes', timeout=10).status_code == 404
    r = requests.post(base + '/metrics', data='x', timeout=10)
    assert r.status_code == 405 and 'GET' in r.headers['Allow']
    assert requests.head(base + '/metrics', timeout=10).status_code == 200
    # The API does not serve it, and it is no API route.
    assert d.get('/metrics').status_code == 404
    s = checked(base + '/metrics')
    assert s.value('lifeboat_api_requests_total', route='unmatched',
                   status='404') == 1


def check_file(tmp_path, text):
    conf = tmp_path / 'm.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n%s' % (tmp_path / 's', text))
    p = subprocess.run([LIFEBOATD, '--config-file', str(conf), '--check'],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize('text,words', [
    ('[metrics]\nport = 70000\n', 'port'),
    ('[metrics]\nport = -1\n', 'port'),
    ('[metrics]\nport = http\n', 'port'),
    ('[metrics]\nhost_ip = metrics.example\nport = 9100\n', 'host_ip'),
    ('[metrics]\nhost_ip = 300.1.1.1\nport = 9100\n', 'host_ip'),
    ('[api]\nport = 9100\n[metrics]\nport = 9100\n', "API's port"),
    ('[api]\nhost_ip = 0.0.0.0\nport = 9100\n'
     '[metrics]\nhost_ip = 127.0.0.1\nport = 9100\n', "API's port"),
])
def test_check_refuses_bad_values(tmp_path, text, words):
    rc, out = check_file(tmp_path, text)
    assert rc == 1, out
    assert '[metrics]' in out and words in out, out


def test_check_accepts_good_values(tmp_path):
    rc, out = check_file(tmp_path, '[metrics]\nhost_ip = ::1\nport = 9100\n')
    assert rc == 0, out


def test_port_in_use_is_a_start_error(tmp_path):
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        conf = tmp_path / 'm.conf'
        conf.write_text('[DEFAULT]\nstate_path = %s\n[api]\nport = %d\n'
                        '[metrics]\nport = %d\n'
                        % (tmp_path / 's', free_port(), port))
        p = subprocess.run([LIFEBOATD, '--config-file', str(conf)],
                           capture_output=True, text=True, timeout=60)
    finally:
        busy.close()
    assert p.returncode == 1, p.stderr
    assert ('cannot listen on 127.0.0.1 port %d ([metrics] host_ip, port)'
            % port) in p.stderr, p.stderr
