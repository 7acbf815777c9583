"""Every BMC command of a rescue and an unrescue is spaced by the BMC's
``min_command_interval`` (issue 13): power, boot device and virtual media
alike.  The lab BMCs record each command they receive (``--record FILE``,
tests/lab/control.py's Recorder); one driver call is one IPMI session or
one Redfish connection, and the gap between the end of one and the start
of the next must be at least the interval (less 0.05 s for the two
processes' clocks and scheduling).

lifeboatd, the lab IPMI and Redfish BMCs, the simulated agent
(tests/lab/fake_agent.py) started once the node shows "rescue wait", and
the real ``openstack baremetal`` CLI.  Every process is stopped by its PID
at teardown; every wait polls with a deadline.
"""

import json

from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import (OnRescueWait, RescueLab, cli_rescue_watched,
                            settled)
from rescue_helpers import agents  # noqa: F401 (a fixture)
from test_rescue import RESCUE_BOOT_LOG, UNRESCUE_LOG
from test_rescue_vmedia import rescue_wait_watcher, vmedia_node

PASSWORD = 'Resc-ue-PW1'
CLI_TIMEOUT = 180
INTERVAL = 1.0
SLACK = 0.05


# ----------------------------------------------------------------- helpers

class Recording:
    """The JSON lines a lab BMC recorded; ``mark()`` remembers where a
    phase starts so that ``commands()`` returns only what came after."""

    def __init__(self, path):
        self.path = path
        self.start = 0

    def records(self):
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        return [json.loads(ln) for ln in lines if ln.strip()]

    def mark(self):
        self.start = len(self.records())

    def commands(self, port, keep=lambda r: True):
        """One entry per driver call since mark(): consecutive records from
        one client (IPMI session / HTTP connection) to BMC ``port``."""
        recs = sorted((r for r in self.records()[self.start:]
                       if r['bmc'] == port and keep(r)),
                      key=lambda r: r['mono'])
        calls = []
        for r in recs:
            if calls and calls[-1]['client'] == r['client']:
                calls[-1]['end'] = max(calls[-1]['end'], r['end'])
                calls[-1]['kinds'].append(r['kind'])
            else:
                calls.append({'client': r['client'], 'start': r['mono'],
                              'end': r['end'], 'kinds': [r['kind']]})
        return calls


def too_close(calls, interval=INTERVAL):
    """(gap, earlier call's kinds, later call's kinds) of each pair of
    consecutive calls closer than the interval allows."""
    return [(round(b['start'] - a['end'], 3), a['kinds'], b['kinds'])
            for a, b in zip(calls, calls[1:])
            if b['start'] - a['end'] < interval - SLACK]


def summary(calls):
    """Each call's start, gap to the one before, and kinds, for a failure
    message."""
    out, prev = [], None
    for c in calls:
        gap = '' if prev is None else ' (+%.3f s)' % (c['start'] - prev)
        out.append('%.3f%s %s' % (c['start'], gap, ', '.join(
            k for k in c['kinds'] if not k.startswith('session'))))
        prev = c['end']
    return '\n'.join(out)


def kinds_in_order(calls, wanted):
    """Whether the calls contain the kinds ``wanted`` in that order (each
    in its own call), so a recording that misses commands cannot pass."""
    i = 0
    for call in calls:
        if i < len(wanted) and wanted[i] in call['kinds']:
            i += 1
    return i == len(wanted)


def ipmi_lab(launcher, tmp_path, bmcs):  # noqa: F811 (a fixture's value)
    rec = Recording(tmp_path / 'ipmi-record.jsonl')
    emu = bmcs.ipmi(1, '--record', rec.path)
    emu.set_power(0, 'on')
    lab = RescueLab(launcher, tmp_path / 'lab',
                    ipmi={'min_command_interval': int(INTERVAL)})
    node, mac = lab.node(emu, 0, boot='pxe')
    assert node['power_state'] == 'power on', node
    return lab, emu, rec, node, mac


def rescue_over_ipmi(lab, emu, agents, node, mac):  # noqa: F811
    """A CLI rescue with the agent started at rescue wait; asserts that it
    worked: the agent finished, the node is in rescue, the machine went
    off, got a PXE boot once and came on."""
    emu.clear_log(0)
    watcher = OnRescueWait(lab.d, node['uuid'], start_agent=lambda:
                           agents.start(lab.api_url, mac))
    rescue_by_cli(lab, node, watcher)
    assert emu.machine(0)['log'] == RESCUE_BOOT_LOG, emu.machine(0)['log']


def rescue_by_cli(lab, node, watcher):
    """``node rescue --wait`` with 'watcher' starting the agent; asserts
    the agent finished and the node is in rescue without an error."""
    agent = cli_rescue_watched(lab.d, node['name'], watcher, PASSWORD,
                               timeout=CLI_TIMEOUT)
    assert agent.wait_exit(30) == 0
    assert agent.rescued()
    done = settled(lab.d, node['uuid'])
    assert done['provision_state'] == 'rescue', done
    assert done['last_error'] is None, done


def unrescue_by_cli(lab, node):
    rc, out, err = lab.d.cli('node', 'unrescue', node['name'], '--wait',
                             timeout=CLI_TIMEOUT)
    assert rc == 0, (out, err)
    done = settled(lab.d, node['uuid'])
    assert done['provision_state'] == 'active', done
    assert done['last_error'] is None, done
    assert done['power_state'] == 'power on', done


# ------------------------------------------------------------------- IPMI

def test_ipmi_rescue_commands_spaced(launcher, tmp_path, bmcs, agents):
    lab, emu, rec, node, mac = ipmi_lab(launcher, tmp_path, bmcs)
    rec.mark()
    rescue_over_ipmi(lab, emu, agents, node, mac)

    calls = rec.commands(emu.port)
    assert kinds_in_order(calls, ['power off', 'bootdev set', 'power on']), \
        calls
    assert too_close(calls) == [], summary(calls)


def test_ipmi_unrescue_commands_spaced(launcher, tmp_path, bmcs, agents):
    lab, emu, rec, node, mac = ipmi_lab(launcher, tmp_path, bmcs)
    rescue_over_ipmi(lab, emu, agents, node, mac)

    emu.clear_log(0)
    rec.mark()
    unrescue_by_cli(lab, node)
    machine = emu.machine(0)
    assert machine['log'] == UNRESCUE_LOG, machine['log']
    assert machine['boot'] == {'device': 'disk', 'enabled': 'continuous',
                               'mode': 'bios'}, machine

    calls = rec.commands(emu.port)
    assert kinds_in_order(calls, ['power off', 'bootdev set', 'power on']), \
        calls
    assert too_close(calls) == [], summary(calls)


# ---------------------------------------------------------------- Redfish

def from_lifeboat(record):
    """The test's own Redfish reads (python-requests) are no BMC commands
    of lifeboat's."""
    return not (record.get('user_agent') or '').startswith(
        'python-requests')


def test_redfish_vmedia_rescue_commands_spaced(launcher, tmp_path, bmcs,
                                               agents):
    rec = Recording(tmp_path / 'redfish-record.jsonl')
    emu = bmcs.redfish(1, '--record', rec.path)
    lab = RescueLab(launcher, tmp_path / 'lab',
                    conductor={'rescue_callback_timeout': 60,
                               'power_state_change_timeout': 10},
                    redfish={'min_command_interval': INTERVAL,
                             'max_concurrent_per_bmc': 1})
    node, (mac,) = vmedia_node(lab, emu)

    # -- rescue: off, insert, one-time CD boot, on; eject once rescued
    emu.clear_log(0)
    rec.mark()
    rescue_by_cli(lab, node, rescue_wait_watcher(lab, emu, agents,
                                                  node['uuid'], mac))
    assert emu.machine(0)['media']['inserted'] is False, emu.machine(0)
    calls = rec.commands(emu.port, keep=from_lifeboat)
    assert kinds_in_order(calls, ['vmedia insert', 'bootdev set',
                                  'power On', 'vmedia eject']), calls
    assert too_close(calls) == [], summary(calls)

    # -- unrescue: off, disk boot, on
    rec.mark()
    unrescue_by_cli(lab, node)
    calls = rec.commands(emu.port, keep=from_lifeboat)
    assert kinds_in_order(calls, ['bootdev set', 'power On']), calls
    assert too_close(calls) == [], summary(calls)
