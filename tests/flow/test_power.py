"""The engine: power actions, provision verbs, power-state sync, locks and
crash recovery, against the lab BMC emulators (tests/lab) and through the
real ``openstack baremetal`` CLI (contract sections 1.5, 1.6, 2.2, 4.1, 4.2,
7.2).

Each test starts its own daemon (``launcher``) and its own emulators
(``bmcs``); both are stopped by PID at teardown, pass or fail.  Durations
are measured, never slept: every wait polls with a deadline.  Unless a test
says otherwise the daemon runs the brief's engine settings: power sync every
2 s, power_state_change_timeout 10 s, 16 workers, [ipmi]
min_command_interval 0.

Tests marked xfail(strict=True) document lifeboatd bugs; the reason names
the request, what lifeboatd answers and what Ironic (the contract) does.
"""

import concurrent.futures
import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

import conftest
from conftest import CONDUCTOR_HOST, assert_error, unique, wait_for
from power_helpers import (
    LOCKED_MSG, POWER_TIMEOUT, REPO, RESTART_POWER_MSG, RESTART_PROVISION_MSG,
    STABLE_STATES, SYNC_INTERVAL, TIMING_MARGIN, adopted_node,
    assert_settled, closed_tcp_port, closed_udp_port, cmdline,
    conductor_conf, get_node, http_json, log_mark, log_since, pid_alive,
    provision, put_power, put_provision, wait_power_done)
from power_helpers import bmcs  # noqa: F401 (a fixture)


# What the lab machines log for each action (tests/lab/machine.py).
BOOT = 'boot from disk (bios)'


def cli_create_args(emu, name, i=0):
    args = ['node', 'create', '--driver', emu.driver, '--name', name]
    for key, value in emu.driver_info(i).items():
        args += ['--driver-info', '%s=%s' % (key, value)]
    return args


def ipmi_timeout_error(port):
    return ('IPMI call to 127.0.0.1:%d timed out: no answer within 9 s '
            '(check ipmi_address, ipmi_port and that the BMC is reachable)'
            % port)


# ------------------------------------------------- 1, 2: the CLI power flow

@pytest.mark.parametrize('kind', ['ipmi', 'redfish'])
def test_cli_manage_adopt_and_power(launcher, bmcs, kind):
    emu = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    d = launcher.start(**conductor_conf())
    name = unique('pw-' + kind)
    # A running server is brought under management.
    emu.set_power(0, 'on')

    created = d.cli_json(*cli_create_args(emu, name))
    uuid = created['uuid']
    assert created['driver'] == emu.driver
    assert created['provision_state'] == 'enroll'
    assert created['power_state'] is None
    assert created['power_interface'] == ('ipmitool' if kind == 'ipmi'
                                          else 'redfish')

    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        rc, out, err = d.cli('node', verb, '--wait', '60', name)
        assert rc == 0, (verb, out, err)
        node = get_node(d, uuid)
        assert node['provision_state'] == final, node
        assert node['target_provision_state'] is None, node
        assert node['power_state'] == 'power on', node
        assert node['last_error'] is None, node
        assert_settled(node)
    assert emu.power(0) == 'on'

    src = kind      # the emulator logs who acted: 'ipmi: ...'/'redfish: ...'
    steps = [
        (['power', 'off'], 'power off', 'power off', 'off',
         ['%s: power off' % src]),
        (['power', 'on'], 'power on', 'power on', 'on',
         ['%s: power on' % src, BOOT]),
        (['reboot'], 'rebooting', 'power on', 'on',
         # Ironic's reboot: off (when on) then on, not a reset.
         ['%s: power off' % src, '%s: power on' % src, BOOT]),
        (['power', 'off', '--soft', '--power-timeout', '30'],
         'soft power off', 'power off', 'off',
         ['%s: soft off requested' % src, 'OS shut down (soft off complete)']),
    ]
    for args, target, want_state, want_machine, want_log in steps:
        emu.clear_log(0)
        mark = log_mark(d)
        rc, out, err = d.cli('node', *args, name)
        assert rc == 0, (args, out, err)
        # The CLI asked for exactly this target (contract 1.5).
        assert ("node %s: power action '%s' started" % (uuid, target)
                in log_since(d, mark)), args
        node, _ = wait_power_done(d, uuid)
        assert node['power_state'] == want_state, (args, node)
        assert node['last_error'] is None, (args, node)
        assert node['provision_state'] == 'active', (args, node)
        assert_settled(node)
        machine = emu.machine(0)
        assert machine['power_state'] == want_machine, (args, machine)
        assert machine['log'] == want_log, (args, machine['log'])


# ------------------------------------------------------ 3: wrong password

@pytest.mark.parametrize('kind', ['ipmi', 'redfish'])
def test_wrong_password(launcher, bmcs, kind):
    emu = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    # No power sync: with the wrong password it fails too, and after three
    # failures (6 s at 2 s, as long as two CLI calls take on a loaded
    # machine) its last_error replaced the power action's under test.
    d = launcher.start(**conductor_conf(sync_power_state_interval=0))
    name = unique('pw-auth-' + kind)
    node = adopted_node(d, emu, name=name)
    assert node['power_state'] == 'power off'
    uuid = node['uuid']
    key = 'ipmi_password' if kind == 'ipmi' else 'redfish_password'

    rc, out, err = d.cli('node', 'set', name, '--driver-info',
                         key + '=Wr0ngPa55')
    assert rc == 0, (out, err)
    emu.clear_log(0)
    rc, out, err = d.cli('node', 'power', 'on', name)
    assert rc == 0, (out, err)          # the 202; the failure comes later
    node, _ = wait_power_done(d, uuid)
    assert_settled(node)
    assert node['power_state'] == 'power off', node
    assert node['provision_state'] == 'active', node
    error = node['last_error']
    assert error.startswith("Failed to change power state to 'power on'. "
                            "Error: "), error
    words = set(re.findall(r'[a-z0-9_]+', error.lower()))
    assert {'authentication', 'failed'} <= words, error
    if kind == 'ipmi':
        assert {'password', 'ipmi_password', 'admin'} <= words, error
    else:
        assert {'401', 'admin'} <= words, error
    assert 'Wr0ngPa55' not in error             # the secret is not echoed
    assert emu.machine(0)['power_state'] == 'off'
    assert emu.actions(0) == []

    # With the right password again the same verb works and clears it.
    rc, out, err = d.cli('node', 'set', name, '--driver-info',
                         key + '=password')
    assert rc == 0, (out, err)
    rc, out, err = d.cli('node', 'power', 'on', name)
    assert rc == 0, (out, err)
    node, _ = wait_power_done(d, uuid)
    assert node['power_state'] == 'power on', node
    assert node['last_error'] is None, node
    assert_settled(node)
    assert emu.power(0) == 'on'


# --------------------------------------------------- 4: unreachable BMCs

def test_unreachable_bmc(launcher):
    # Power sync is off here so that only the operator's calls reach the
    # dead addresses, and every node has its own dead address (see the
    # xfail tests below for the sync running and for a shared BMC).
    d = launcher.start(**conductor_conf(sync_power_state_interval=0))
    nodes, ports = {}, {}
    for kind in ('ipmi', 'redfish'):
        for op in ('power', 'manage'):
            if kind == 'ipmi':
                port = closed_udp_port()
                info = {'ipmi_address': '127.0.0.1', 'ipmi_port': str(port),
                        'ipmi_username': 'admin', 'ipmi_password': 'password'}
            else:
                port = closed_tcp_port()
                info = {'redfish_address': 'http://127.0.0.1:%d' % port,
                        'redfish_username': 'admin',
                        'redfish_password': 'password'}
            ports[kind, op] = port
            nodes[kind, op] = d.create_node(
                driver=kind, driver_info=info,
                name=unique('dead-%s-%s' % (kind, op)))['uuid']

    started = {}
    for (kind, op), uuid in nodes.items():
        if op == 'power':
            r = put_power(d, uuid, 'power on')
        else:
            r = put_provision(d, uuid, 'manage')
        assert r.status_code == 202, r.text
        started[kind, op] = time.monotonic()

    def settled(key):
        n = get_node(d, nodes[key])
        if key[1] == 'power':
            return n if n['target_power_state'] is None else None
        return n if n['provision_state'] != 'verifying' else None

    done = {}
    deadline = POWER_TIMEOUT + 20
    for key in nodes:
        done[key] = wait_for(lambda: settled(key), deadline,
                             what='%s %s to finish' % key)
        done[key]['_elapsed'] = time.monotonic() - started[key]

    for key, n in done.items():
        # Fails within power_state_change_timeout (+ polling margin).
        assert n['_elapsed'] <= POWER_TIMEOUT + TIMING_MARGIN, (key, n)
        assert_settled(n)
        assert n['power_state'] is None, n
        assert n['provision_state'] == 'enroll', n
        assert n['target_provision_state'] is None, n

    p = done['ipmi', 'power']
    assert p['last_error'] == (
        "Failed to change power state to 'power on'. Error: " +
        ipmi_timeout_error(ports['ipmi', 'power'])), p
    m = done['ipmi', 'manage']
    assert m['last_error'] == (
        'Failed to get power state for node %s. Error: %s'
        % (m['uuid'], ipmi_timeout_error(ports['ipmi', 'manage']))), m
    p = done['redfish', 'power']
    port = ports['redfish', 'power']
    assert re.fullmatch(
        "Failed to change power state to 'power on'. Error: cannot reach "
        "Redfish BMC at http://127.0.0.1:%d: Failed to connect to 127.0.0.1 "
        "port %d .*" % (port, port), p['last_error']), p
    m = done['redfish', 'manage']
    port = ports['redfish', 'manage']
    assert re.fullmatch(
        'Failed to get power state for node %s. Error: cannot reach Redfish '
        'BMC at http://127.0.0.1:%d: Failed to connect to 127.0.0.1 port %d '
        '.*' % (m['uuid'], port, port), m['last_error']), m


def test_shared_dead_bmc_respects_timeout(launcher):
    d = launcher.start(**conductor_conf(sync_power_state_interval=0))
    port = closed_udp_port()
    info = {'ipmi_address': '127.0.0.1', 'ipmi_port': str(port),
            'ipmi_username': 'admin', 'ipmi_password': 'password'}
    uuids = [d.create_node(driver='ipmi', driver_info=info,
                           name=unique('shared-%d' % i))['uuid']
             for i in range(2)]
    start = time.monotonic()
    for uuid in uuids:
        r = put_power(d, uuid, 'power on')
        assert r.status_code == 202, r.text
    for uuid in uuids:
        node, _ = wait_power_done(d, uuid, timeout=POWER_TIMEOUT * 3)
        assert_settled(node)
        assert node['last_error'], node
        elapsed = time.monotonic() - start
        assert elapsed <= POWER_TIMEOUT + TIMING_MARGIN, (uuid, elapsed)


# The power action on a BMC the sync keeps busy, nodes in enroll left
# alone by the sync, and the sync's failure counting into maintenance
# (and its recovery) are tested in virtual time:
# tests/unit/test_engine_time.c; with paused lab BMCs in
# test_bmc_outage.py.


ASAN_LIFEBOATD = REPO / 'build-asan' / 'conductor' / 'lifeboatd'


@pytest.mark.skipif(not os.access(str(ASAN_LIFEBOATD), os.X_OK),
                    reason='needs the ASan build (ninja -C build-asan)')
def test_stop_during_failing_sync_is_clean(launcher, bmcs, monkeypatch):
    monkeypatch.setattr(conftest, 'LIFEBOATD', str(ASAN_LIFEBOATD))
    monkeypatch.setenv('ASAN_OPTIONS', 'detect_leaks=0')
    emu = bmcs.ipmi()
    d = launcher.start(**conductor_conf())
    emu.set_power(0, 'on')
    uuid = adopted_node(d, emu, name=unique('asan'))['uuid']
    r = d.patch('/v1/nodes/' + uuid, [{
        'op': 'replace', 'path': '/driver_info/ipmi_port',
        'value': str(closed_udp_port())}])
    assert r.status_code == 200, r.text
    # A failure is counted; later reads of the node are in flight (one is
    # queued every 2 s, each takes 9-10 s against the dead address).
    wait_for(lambda: 'node %s: power state sync failed (1)' % uuid
             in d.log_text(), POWER_TIMEOUT * 3, interval=0.1,
             what='a counted sync failure')
    proc, d.proc = d.proc, None
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(60)          # running IPMI reads are waited for
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    text = d.log_text()
    assert 'ERROR: AddressSanitizer' not in text, \
        text[text.find('ERROR: AddressSanitizer'):][:3000]
    assert rc == 0, rc


# --------------------------------------------------------- 5: power sync

def test_power_sync(launcher, bmcs):
    ipmi, redfish = bmcs.ipmi(), bmcs.redfish()
    d = launcher.start(**conductor_conf())
    for emu in (ipmi, redfish):
        emu.set_power(0, 'on')
    nodes = {emu.kind: adopted_node(d, emu, name=unique('sync-' + emu.kind))
             for emu in (ipmi, redfish)}

    # One change behind each real BMC's back, seen within two rounds (the
    # way back, the timing to the round, failures into maintenance:
    # tests/unit/test_engine_time.c, in virtual time).
    mark = log_mark(d)
    start = time.monotonic()
    for emu in (ipmi, redfish):
        emu.set_power(0, 'off')
    for emu in (ipmi, redfish):
        uuid = nodes[emu.kind]['uuid']
        n = wait_for(lambda: (lambda n: n if n['power_state'] ==
                              'power off' else None)(get_node(d, uuid)),
                     SYNC_INTERVAL * 2 + TIMING_MARGIN,
                     interval=0.05, what='sync of %s' % emu.kind)
        elapsed = time.monotonic() - start
        assert elapsed <= SYNC_INTERVAL * 2, (emu.kind, elapsed)
        assert n['last_error'] is None, n
        assert n['provision_state'] == 'active', n
        assert_settled(n)
        # The sync only reads: the machine was not touched.
        assert emu.power(0) == 'off'
    text = log_since(d, mark)
    for node in nodes.values():
        assert ('node %s: power state changed outside lifeboat: power on -> '
                'power off' % node['uuid']) in text


# ------------------------------------------------------- 6: SIGKILL

def _fire(d, plan):
    """Send every (uuid, kind, target) at once; {uuid: (kind, target,
    status, text)}."""
    def one(item):
        uuid, kind, target = item
        if kind == 'power':
            r = put_power(d, uuid, target)
        else:
            r = put_provision(d, uuid, target)
        return uuid, (kind, target, r.status_code, r.text)
    with concurrent.futures.ThreadPoolExecutor(len(plan)) as pool:
        return dict(pool.map(one, plan))


def _plan(nodes):
    """One action per node from its current state (power for every 4th)."""
    plan = []
    for i, n in enumerate(nodes):
        toggle = 'power off' if n['power_state'] == 'power on' else 'power on'
        verb = {'enroll': 'manage', 'manageable': 'adopt',
                'adopt failed': 'adopt'}.get(n['provision_state'])
        if i % 4 == 3 or verb is None:
            plan.append((n['uuid'], 'power', toggle))
        else:
            plan.append((n['uuid'], 'provision', verb))
    return plan


def test_sigkill_with_operations_in_flight(launcher, bmcs):
    emu = bmcs.ipmi(10)
    # min_command_interval 1: IPMI power actions take over a second.
    conf = conductor_conf(workers_pool_size=32)
    conf['ipmi']['min_command_interval'] = 1
    d = launcher.start(**conf)
    for i in range(0, 10, 2):
        emu.set_power(i, 'on')
    uuids = [d.create_node(name='kill-fake-%02d' % i)['uuid']
             for i in range(50)]
    uuids += [d.create_node(driver='ipmi', name='kill-ipmi-%d' % i,
                            driver_info=emu.driver_info(i))['uuid']
              for i in range(10)]
    # Some nodes start from manageable so that adopt is fired too.
    for uuid in uuids[:20] + uuids[50:55]:
        provision(d, uuid, 'manage', 'manageable')

    def detail():
        r = d.get('/v1/nodes/detail')
        assert r.status_code == 200, r.text
        return {n['uuid']: n for n in r.json()['nodes']}

    for attempt in range(3):
        before = detail()
        assert set(before) == set(uuids)
        plan = _plan([before[u] for u in uuids])
        results = _fire(d, plan)
        d.kill()                                    # SIGKILL, no clean-up
        accepted = {u for u, res in results.items() if res[2] == 202}
        for uuid, (kind, target, status, text) in results.items():
            # 503: no free worker (Ironic's NoFreeConductorWorker).
            assert status in (202, 503), (kind, target, status, text)
        assert len(accepted) >= 30, results
        d.session = requests.Session()
        d.start()                                   # same state dir
        after = detail()

        assert set(after) == set(uuids)             # nothing lost or added
        interrupted = []
        for uuid in uuids:
            n, b = after[uuid], before[uuid]
            kind, target, status, _ = results[uuid]
            state = n['provision_state']
            assert n['reservation'] is None, n
            assert n['target_power_state'] is None, n
            assert state in STABLE_STATES or state.endswith(' failed'), n
            if state in STABLE_STATES:
                assert n['target_provision_state'] is None, n
            error = n['last_error'] or ''
            if error.startswith('Conductor %s restarted' % CONDUCTOR_HOST):
                interrupted.append(uuid)
                assert status == 202, (n, results[uuid])
                if kind == 'power':
                    assert error == RESTART_POWER_MSG % target, n
                    assert state == b['provision_state'], n
                elif target == 'manage':
                    assert error == RESTART_PROVISION_MSG % 'verifying', n
                    assert state == 'enroll', n
                else:
                    assert error == RESTART_PROVISION_MSG % 'adopting', n
                    assert state == 'adopt failed', n
                    assert n['target_provision_state'] == 'active', n
            elif status == 202:
                # Accepted and not interrupted: it finished before the kill.
                if kind == 'power':
                    assert n['power_state'] == target, n
                    assert n['last_error'] is None, n
                else:
                    assert state == {'manage': 'manageable',
                                     'adopt': 'active'}[target], n
            else:
                assert (state, n['power_state']) == (
                    b['provision_state'], b['power_state']), n
        print('attempt %d: %d accepted, interrupted: %s' % (
            attempt, len(accepted),
            sorted(results[u][1] for u in interrupted)))
        if interrupted:
            break
    else:
        pytest.fail('no operation was in flight at any of 3 kills')

    # The restarted conductor takes new work on interrupted nodes.
    uuid = interrupted[0]
    r = put_power(d, uuid, 'power on')
    assert r.status_code == 202, r.text
    n, _ = wait_power_done(d, uuid)
    assert n['power_state'] == 'power on', n
    assert n['last_error'] is None, n
    assert_settled(n)


# ---------------------------------------------------- 7: lock contention

def test_lock_contention(launcher, bmcs):
    # After a power off this BMC refuses power on with 409 for 5 s; lifeboat
    # retries (1, 2, 4 s), so the power on takes about 7 s.
    emu = bmcs.redfish(1, '--quirk', 'power-on-409=5')
    d = launcher.start(**conductor_conf())
    emu.set_power(0, 'on')
    node = adopted_node(d, emu, name=unique('lock'))
    uuid = node['uuid']
    r = put_power(d, uuid, 'power off')
    assert r.status_code == 202, r.text
    node, _ = wait_power_done(d, uuid)
    assert node['power_state'] == 'power off', node

    r = put_power(d, uuid, 'power on')
    assert r.status_code == 202, r.text
    start = time.monotonic()
    # Written before the 202 (contract 1.5): target, lock, no last_error.
    node = get_node(d, uuid)
    assert node['target_power_state'] == 'power on', node
    assert node['reservation'] == CONDUCTOR_HOST, node
    assert node['last_error'] is None, node

    for target in ('power off', 'rebooting'):
        r = put_power(d, uuid, target)
        assert_error(r, 409, LOCKED_MSG % uuid)
    # Provision verbs are refused the same way, valid or not from active.
    for verb in ('deleted', 'manage'):
        r = put_provision(d, uuid, verb)
        assert_error(r, 409, LOCKED_MSG % uuid)
    # The lock is still this conductor's and the job still runs.
    assert time.monotonic() - start < 4, 'the 409s came too late to count'
    assert get_node(d, uuid)['reservation'] == CONDUCTOR_HOST

    node, _ = wait_power_done(d, uuid, timeout=60)
    elapsed = time.monotonic() - start
    assert elapsed >= 4, elapsed        # it really was slow
    assert node['power_state'] == 'power on', node
    assert node['last_error'] is None, node
    assert_settled(node)
    assert emu.power(0) == 'on'
    r = put_power(d, uuid, 'power off')
    assert r.status_code == 202, r.text
    node, _ = wait_power_done(d, uuid)
    assert node['power_state'] == 'power off', node
    assert_settled(node)


# ------------------------------------------------------------- 8: QEMU

@pytest.mark.qemu
def test_qemu_power(launcher, bmcs, tmp_path):
    qmp_dir = tmp_path / 'qmp'
    qmp_dir.mkdir()
    emu = bmcs.ipmi(1, '--machine', 'qemu', '--qemu-args',
                    '-machine pc -m 64 -nodefaults -display none',
                    '--qmp-dir', qmp_dir)
    d = launcher.start(**conductor_conf())
    assert emu.machine(0)['kind'] == 'qemu'
    assert emu.machine(0)['pid'] is None
    name = unique('qemu')
    node = adopted_node(d, emu, name=name)
    assert node['power_state'] == 'power off'

    rc, out, err = d.cli('node', 'power', 'on', name)
    assert rc == 0, (out, err)
    node, _ = wait_power_done(d, node['uuid'], timeout=60)
    assert node['power_state'] == 'power on', node
    assert node['last_error'] is None, node
    assert_settled(node)
    m = emu.machine(0)
    pid = m['pid']
    assert m['power_state'] == 'on', m
    assert pid and pid_alive(pid), m
    argv = cmdline(pid)
    assert argv[0].endswith('qemu-system-x86_64'), argv
    assert '-accel' in argv and 'tcg' in argv, argv
    status = emu.ctl(0, 'qmp', {'execute': 'query-status', 'arguments': {}})
    assert 'running' in repr(status), status

    rc, out, err = d.cli('node', 'power', 'off', name)
    assert rc == 0, (out, err)
    node, _ = wait_power_done(d, node['uuid'], timeout=60)
    assert node['power_state'] == 'power off', node
    assert node['last_error'] is None, node
    assert_settled(node)
    wait_for(lambda: not pid_alive(pid), 15, what='QEMU %d to exit' % pid)
    m = emu.machine(0)
    assert m['power_state'] == 'off' and m['pid'] is None, m


# ------------------------------------- 9: versions and errors of the verbs

def _unchanged(d, uuid, before):
    n = get_node(d, uuid)
    for key in ('provision_state', 'target_provision_state', 'power_state',
                'target_power_state', 'reservation', 'last_error'):
        assert n[key] == before[key], (key, n)


def test_verb_versions_and_errors(launcher):
    d = launcher.start(**conductor_conf(sync_power_state_interval=0))
    node = d.create_node(name=unique('verbs'))          # fake-hardware
    uuid = node['uuid']
    before = get_node(d, uuid)
    assert before['provision_state'] == 'enroll'

    def bad_state(verb, state='enroll'):
        return ('The requested action "%s" can not be performed on node '
                '"%s" while it is in state "%s".' % (verb, uuid, state))

    # Verbs gated by microversion: 406 before the state machine is asked;
    # at the floor version the state machine refuses them from enroll.
    for verb, floor, extra in (('rescue', 38, {'rescue_password': 'pw'}),
                               ('unrescue', 38, {}), ('adopt', 17, {}),
                               ('abort', 13, {}), ('provide', 4, {})):
        r = put_provision(d, uuid, verb, version='1.%d' % (floor - 1),
                          **extra)
        assert_error(r, 406, 'Request not acceptable.')
        r = put_provision(d, uuid, verb, version='1.%d' % floor, **extra)
        assert_error(r, 400, bad_state(verb))
        _unchanged(d, uuid, before)
    assert_error(put_provision(d, uuid, 'manage', version='1.3'), 406,
                 'Request not acceptable.')
    # Unknown verbs get the state-machine message too.
    assert_error(put_provision(d, uuid, 'bogus'), 400, bad_state('bogus'))
    # Unknown body keys are refused; nothing starts.
    assert_error(put_provision(d, uuid, 'manage', bogus_key=1), 400)
    assert_error(put_provision(d, uuid, 'manage', rescue_password='x'), 400,
                 '"rescue_password" is only valid when setting target '
                 'provision state to rescue')
    assert_error(put_power(d, uuid, 'power on', bogus_key=1), 400)
    assert_error(put_power(d, uuid, 'bogus'), 400)
    assert_error(put_power(d, uuid, 'on'), 400)
    # Soft power and timeout need 1.27.
    for body in ({'target': 'soft power off'},
                 {'target': 'soft rebooting'},
                 {'target': 'power off', 'timeout': 30}):
        r = d.put('/v1/nodes/%s/states/power' % uuid, body, version='1.26')
        assert_error(r, 406, 'Request not acceptable.')
    for timeout in (0, -1, 'ten', 1.5):
        assert_error(put_power(d, uuid, 'power off', timeout=timeout), 400)
    _unchanged(d, uuid, before)

    # The node still works: the same verbs succeed once valid.
    n = provision(d, uuid, 'manage', 'manageable')
    assert n['last_error'] is None and n['target_provision_state'] is None
    assert_error(put_provision(d, uuid, 'abort'), 400,
                 bad_state('abort', 'manageable'))
    n = provision(d, uuid, 'adopt', 'active')
    assert n['target_provision_state'] is None
    assert_settled(n)


def test_power_bogus_target_message(launcher):
    d = launcher.start(**conductor_conf(sync_power_state_interval=0))
    uuid = d.create_node(name=unique('bogus'))['uuid']
    n = provision(d, uuid, 'manage', 'manageable')
    assert n['power_state'] == 'power off'
    assert_error(put_power(d, uuid, 'bogus'), 400,
                 'The requested action "bogus" can not be performed on node '
                 '"%s" while it is in state "power off".' % uuid)


def test_wait_never_sees_transient_state_without_target(launcher, bmcs):
    """Sample the nodes every few ms while the CLI waits on manage and
    adopt, for a reachable BMC and an unreachable one (9 s in verifying)."""
    emu = bmcs.ipmi()
    d = launcher.start(**conductor_conf(sync_power_state_interval=0))
    emu.set_power(0, 'on')
    good = d.create_node(driver='ipmi', name=unique('wait-good'),
                         driver_info=emu.driver_info(0))
    dead_port = closed_udp_port()
    dead = d.create_node(driver='ipmi', name=unique('wait-dead'),
                         driver_info=dict(emu.driver_info(0),
                                          ipmi_port=str(dead_port)))
    samples = []
    stop = threading.Event()
    errors = []

    def sample():
        s = requests.Session()
        try:
            while not stop.is_set():
                for n in (good, dead):
                    r = s.get(d.url + '/v1/nodes/' + n['uuid'],
                              headers={'X-OpenStack-Ironic-API-Version':
                                       '1.78'}, timeout=10)
                    body = r.json()
                    samples.append((body['name'], body['provision_state'],
                                    body['target_provision_state']))
                time.sleep(0.005)
        except Exception as e:              # reported by the main thread
            errors.append(e)
        finally:
            s.close()
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        env_cli = [
            (good['name'], ['node', 'manage', '--wait', '60', good['name']]),
            (dead['name'], ['node', 'manage', '--wait', '60', dead['name']]),
        ]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            res = dict(pool.map(lambda a: (a[0], d.cli(*a[1])), env_cli))
        rc, out, err = d.cli('node', 'adopt', '--wait', '60', good['name'])
    finally:
        stop.set()
        t.join(15)
    assert not errors, errors
    assert res[good['name']][0] == 0, res[good['name']]
    assert rc == 0, (out, err)
    # Verification failed: back to enroll, which --wait reports as an
    # unexpected stable state (contract 1.6 rule 3).
    rc_dead, out_dead, err_dead = res[dead['name']]
    assert rc_dead == 1, res[dead['name']]
    assert ('Node %s failed to reach state manageable. It\'s in unexpected '
            'stable state enroll' % dead['name']) in err_dead, err_dead
    n = get_node(d, dead['uuid'])
    assert n['provision_state'] == 'enroll' and n['last_error'], n

    transient = [s for s in samples if s[1] not in STABLE_STATES]
    assert any(s == (dead['name'], 'verifying', 'manageable')
               for s in transient), 'the poller never saw verifying'
    bad = [s for s in transient if s[2] is None]
    assert not bad, bad
    assert get_node(d, good['uuid'])['provision_state'] == 'active'



def test_redfish_verify_ca_is_no_file_oracle(launcher, bmcs):
    """driver_info/redfish_verify_ca must not tell an API user which paths
    exist on the conductor: a missing file, a file that is no CA and an
    unreadable-as-PEM one are all accepted at create and validate, and all
    fail at the BMC with one message; the BMC's own certificate works."""
    d = launcher.start()
    emu = bmcs.redfish(1, '--tls')
    status, info = http_json('GET', emu.control + '/')
    assert status == 200, info
    cert = info['tls_cert']
    base = dict(emu.driver_info(),
                redfish_address='https://127.0.0.1:%d' % emu.port)
    errors = {}
    for ca in (cert, '/no/such/ca.pem', '/etc/hostname', '/etc/shadow'):
        node = d.create_node(driver='redfish', name=unique('ca'),
                             driver_info=dict(base, redfish_verify_ca=ca))
        v = d.get('/v1/nodes/%s/validate' % node['uuid']).json()
        assert v['power'] == {'result': True}, (ca, v['power'])
        assert put_power(d, node['uuid'], 'power on').status_code == 202
        done, _ = wait_power_done(d, node['uuid'])
        if ca == cert:
            assert done['power_state'] == 'power on', done['last_error']
            assert done['last_error'] is None
        else:
            assert done['power_state'] != 'power on'
            errors[ca] = done['last_error']
    assert len(set(errors.values())) == 1, errors
    msg = errors['/no/such/ca.pem']
    assert 'could not be verified with driver_info/redfish_verify_ca' in msg
    for ca in errors:
        assert ca not in msg


def test_lab_bmc_starts_again_when_its_port_was_taken(tmp_path, monkeypatch):
    """A port found free can be bound by another process (tools/test runs
    two lanes) before the emulator binds it: the emulator exits with
    EADDRINUSE, and Bmcs starts it again on other ports."""
    import socket
    import power_helpers
    held = socket.socket()
    held.bind(('127.0.0.1', 0))
    held.listen()
    real = power_helpers.free_port_range
    calls = []

    def first_taken(count, kind):
        calls.append(kind)
        return held.getsockname()[1] if len(calls) == 1 else real(count,
                                                                  kind)
    monkeypatch.setattr(power_helpers, 'free_port_range', first_taken)
    b = power_helpers.Bmcs(tmp_path)
    try:
        emu = b.redfish(1)
        assert emu.port != held.getsockname()[1]
        assert len(b.emulators) == 1 and emu.power(0) in ('on', 'off')
    finally:
        b.close()
        held.close()
