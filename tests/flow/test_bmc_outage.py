"""BMC outages the way Ironic handles them (issue 14 item 4).

A lab BMC (tests/lab/ipmi_bmc.py or tests/lab/redfish_bmc.py) stops
answering when its process is stopped with SIGSTOP (by PID) and answers
again after SIGCONT: the kernel still accepts its TCP connections and
queues its UDP datagrams, as with a hung BMC.

* The power sync puts a node whose BMC does not answer into maintenance
  with fault "power failure" after [conductor] power_state_sync_max_retries
  + 1 failed rounds, seen through the real ``openstack baremetal`` CLI; the
  power-failure recovery takes it out once the BMC answers again.
* A rescue during an outage longer than the driver's retry budget
  ([ipmi] command_retry_timeout, or the Redfish call's time: [conductor]
  power_state_change_timeout) ends in "rescue failed", in budget, with the
  staging cleaned up; a shorter outage only delays it.  Meanwhile a node of
  another BMC powers off and on as fast as ever.

The counting, the exact texts, and what the recovery leaves alone are
tested in virtual time in tests/unit/test_engine_time.c.  Small budgets
keep this file cheap; the issue's 60 s outage is a manual run (see the
helper's report).  Every process is stopped by PID; every wait polls.
"""

import os
import signal
import time
from contextlib import contextmanager

import pytest

from conftest import unique, wait_for
from power_helpers import (TIMING_MARGIN, adopted_node, conductor_conf,
                           get_node, put_power, wait_power_done)
from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import (OnRescueWait, RescueLab, put_rescue, settled,
                            wait_state)
from rescue_helpers import agents  # noqa: F401 (a fixture)
from test_rescue_soft_off import machine_node

KINDS = ['ipmi', 'redfish']
PASSWORD = 'Resc-ue-PW1'

# The budgets this file configures.
IPMI_RETRY = 2              # [ipmi] command_retry_timeout
POWER_TIMEOUT = 4           # [conductor] power_state_change_timeout
# The Redfish driver's bound on a power action (power_redfish.c): the
# timeout, two poll intervals and a second.
REDFISH_ACTION = POWER_TIMEOUT + 3
BUDGET = {'ipmi': IPMI_RETRY, 'redfish': REDFISH_ACTION}
# A rescue that fails there: the power-off, then (Redfish) the clean-up's
# virtual media eject, a call bounded by power_state_change_timeout.
RESCUE_BUDGET = {'ipmi': IPMI_RETRY,
                 'redfish': REDFISH_ACTION + POWER_TIMEOUT + 2}
DRIVER_OPTS = {
    'ipmi': {'min_command_interval': 0, 'command_retry_timeout': IPMI_RETRY},
    'redfish': {'connection_attempts': 2, 'connection_retry_interval': 1},
}

MAX_RETRIES_PREFIX = ('During sync_power_state, max retries exceeded for '
                      'node %s, node state None does not match expected '
                      "state 'power on'. Updating DB state to 'None' "
                      'Switching node to maintenance mode. Error: ')


@contextmanager
def outage(emu):
    """The emulator's process stopped; continued on leaving, pass or fail."""
    os.kill(emu.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(emu.proc.pid, signal.SIGCONT)


def start_daemon(launcher, **conductor):
    """lifeboatd with power_helpers' settings, 'conductor' and the small
    driver budgets."""
    conf = conductor_conf(**conductor)
    conf['ipmi'].update(DRIVER_OPTS['ipmi'])
    conf['redfish'] = DRIVER_OPTS['redfish']
    return launcher.start(**conf)


def cli_node(d, uuid):
    return d.cli_json('node', 'show', uuid, '--fields', 'maintenance',
                      'fault', 'maintenance_reason', 'last_error',
                      'power_state')


# ============================================ sync -> maintenance -> back

@pytest.mark.parametrize('kind', KINDS)
def test_sync_maintenance_and_recovery(launcher, bmcs, kind):
    emu = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    emu.set_power(0, 'on')
    d = start_daemon(launcher, sync_power_state_interval=1,
                     power_state_sync_max_retries=1,
                     power_failure_recovery_interval=1,
                     power_state_change_timeout=POWER_TIMEOUT)
    uuid = adopted_node(d, emu, name=unique('outage-' + kind))['uuid']
    wait_for(lambda: get_node(d, uuid)['power_state'] == 'power on', 10,
             interval=0.1, what='a first good sync')
    with outage(emu):
        # Two failed rounds (max_retries 1), each a read that gives up
        # within the budget, one round apart.
        n = wait_for(lambda: (lambda n: n if n['maintenance'] else None)(
            get_node(d, uuid)), 2 * (BUDGET[kind] + 1) + 2 * TIMING_MARGIN,
            interval=0.1, what='maintenance')
        shown = cli_node(d, uuid)
        assert shown['maintenance'] is True, shown
        assert shown['fault'] == 'power failure', shown
        assert shown['power_state'] is None, shown
        assert shown['maintenance_reason'].startswith(
            MAX_RETRIES_PREFIX % uuid), shown
        assert 'no answer' in shown['maintenance_reason'], shown
        assert shown['last_error'] == shown['maintenance_reason'], shown
        assert n['provision_state'] == 'active', n
    # The BMC answers: out at the next recovery round, last_error kept.
    start = time.monotonic()
    wait_for(lambda: not get_node(d, uuid)['maintenance'],
             1 + BUDGET[kind] + TIMING_MARGIN, interval=0.1,
             what='recovery')
    took = time.monotonic() - start
    shown = cli_node(d, uuid)
    assert shown['fault'] is None and shown['maintenance_reason'] is None, \
        shown
    assert shown['last_error'].startswith(MAX_RETRIES_PREFIX % uuid), shown
    assert shown['power_state'] == 'power on', shown
    assert took <= 1 + TIMING_MARGIN, took
    assert 'node %s: BMC answers again (power on), out of power failure ' \
        'maintenance' % uuid in d.log_text()


# ========================================= clearing maintenance by hand

@pytest.mark.parametrize('how', ['delete', 'patch'])
def test_clearing_maintenance_clears_fault(launcher, bmcs, how):
    emu = bmcs.ipmi()
    emu.set_power(0, 'on')
    d = start_daemon(launcher, sync_power_state_interval=1,
                     power_state_sync_max_retries=0,
                     power_failure_recovery_interval=0)
    uuid = adopted_node(d, emu, name=unique('clear'))['uuid']
    with outage(emu):
        n = wait_for(lambda: (lambda n: n if n['maintenance'] else None)(
            get_node(d, uuid)), 2 * (IPMI_RETRY + 1) + TIMING_MARGIN,
            interval=0.1, what='maintenance')
    assert n['fault'] == 'power failure', n
    if how == 'delete':
        r = d.delete('/v1/nodes/%s/maintenance' % uuid)
    else:
        r = d.patch('/v1/nodes/' + uuid, [
            {'op': 'replace', 'path': '/maintenance', 'value': False}])
    assert r.status_code in (200, 202), r.text
    n = get_node(d, uuid)
    assert n['maintenance'] is False, n
    assert n['fault'] is None and n['maintenance_reason'] is None, n
    assert n['last_error'].startswith('During sync_power_state'), n


# ===================================================== rescue in an outage

def rescue_lab(launcher, tmp_path, bmcs, kind):
    """(lab, emulator of the node to rescue, the other BMC's node)."""
    lab = RescueLab(launcher, tmp_path / 'lab',
                    conductor={'power_state_change_timeout': POWER_TIMEOUT},
                    ipmi=DRIVER_OPTS['ipmi'], redfish=DRIVER_OPTS['redfish'])
    emu = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    other = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    other.set_power(0, 'on')
    other_node = adopted_node(lab.d, other, name=unique('other'))
    return lab, emu, other_node


def power_cycle_seconds(d, uuid):
    """Seconds an operator's power off then on take (each asserted)."""
    start = time.monotonic()
    for target in ('power off', 'power on'):
        r = put_power(d, uuid, target)
        assert r.status_code == 202, r.text
        n, _ = wait_power_done(d, uuid)
        assert n['power_state'] == target and n['last_error'] is None, n
    return time.monotonic() - start


@pytest.mark.parametrize('kind', KINDS)
def test_rescue_during_outage(launcher, tmp_path, bmcs, agents, kind):
    lab, emu, other = rescue_lab(launcher, tmp_path, bmcs, kind)
    node, mac = machine_node(lab, emu)
    uuid = node['uuid']
    before = power_cycle_seconds(lab.d, other['uuid'])

    # (a) Longer than the budget: rescue failed, in budget, cleaned up;
    # the other BMC's node meanwhile as fast as before.
    with outage(emu):
        start = time.monotonic()
        r = put_rescue(lab.d, uuid, PASSWORD)
        assert r.status_code == 202, r.text
        during = power_cycle_seconds(lab.d, other['uuid'])
        n = wait_state(lab.d, uuid, {'rescue failed', 'rescue wait'},
                       RESCUE_BUDGET[kind] + 2 * TIMING_MARGIN)
        n = settled(lab.d, uuid)
        took = time.monotonic() - start
    assert n['provision_state'] == 'rescue failed', n
    assert 'no answer' in n['last_error'], n
    assert emu.kind.lower() in n['last_error'].lower(), n
    assert took <= RESCUE_BUDGET[kind] + TIMING_MARGIN, (took, n)
    assert lab.leftovers(uuid, mac) == [], lab.leftovers(uuid, mac)
    assert during <= before + TIMING_MARGIN, (before, during)

    # (b) Shorter than the budget: only a delay; the rescue completes.
    watcher = OnRescueWait(lab.d, uuid,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    with outage(emu):
        r = put_rescue(lab.d, uuid, PASSWORD)
        assert r.status_code == 202, r.text
        watcher.start()
        time.sleep(BUDGET[kind] / 2.0)      # the outage itself
        assert get_node(lab.d, uuid)['provision_state'] == 'rescuing'
    try:
        n = wait_state(lab.d, uuid, {'rescue', 'rescue failed'}, 60)
    finally:
        watcher.stop()
    watcher.result()
    n = settled(lab.d, uuid)
    assert n['provision_state'] == 'rescue', n
    assert n['last_error'] is None, n
    assert emu.power(0) == 'on'
