"""A clean shutdown before the rescue's hard power-off (issue 12 item 6):
``[conductor] rescue_soft_power_off_timeout`` and its per-node override,
``driver_info`` ``rescue_soft_power_off_timeout``.

lifeboatd rescues nodes of the lab IPMI BMC (tests/lab/ipmi_bmc.py) and the
lab Redfish BMC (tests/lab/redfish_bmc.py), each in front of an in-memory
machine that models ACPI: it shuts down ``soft_off_delay`` seconds after a
soft power-off, or never when it "ignores ACPI".  What the BMC was asked
for is read from the machine's action log on the emulator's control
endpoint; when it happened, by polling that log in a background thread.
The rescue goes on over PXE with the simulated agent (tests/lab/
fake_agent.py), started once the node shows "rescue wait", and the real
``openstack baremetal`` CLI waits for it.

Every process (daemons, BMC emulators, agents) is stopped by its PID at
teardown, pass or fail, and every wait polls with a deadline.
"""

import json
import re
import threading
import time

import pytest
import requests

from conftest import assert_error, store_rows, unique, unique_mac
from power_helpers import TIMING_MARGIN, get_node
from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import (OnRescueWait, RescueLab, cli_rescue_watched,
                            put_rescue, put_verb, settled, wait_state)
from rescue_helpers import agents  # noqa: F401 (a fixture)

PASSWORD = 'Resc-ue-PW1'
KEY = 'rescue_soft_power_off_timeout'
SYSTEM = '/redfish/v1/Systems/1'
# The drivers poll the BMC once a second while they wait for "off".
POLL = 1.0
# How much of lifeboatd's log a failed assertion shows.
LOG_TAIL = 2000

BAD_VALUE_MSG = ('Invalid driver_info rescue_soft_power_off_timeout %s: '
                 'expected a whole number of seconds from 0 to 3600 (an '
                 'integer, or a string of digits)')


# ----------------------------------------------------------------- helpers

class LogWatch(threading.Thread):
    """Polls machine 0's action log and notes when each line first showed
    (time.monotonic()), so a test can time what the BMC was asked for."""

    def __init__(self, emu):
        super().__init__(daemon=True)
        self.emu = emu
        self.seen = []              # [(monotonic time, action)]
        self.error = None
        self._halt = threading.Event()

    def run(self):
        try:
            while not self._halt.is_set():
                log = self.emu.actions(0)
                now = time.monotonic()
                for action in log[len(self.seen):]:
                    self.seen.append((now, action))
                self._halt.wait(0.05)
        except Exception as e:          # reported by stop()
            self.error = e

    def stop(self):
        self._halt.set()
        self.join(30)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error

    def when(self, action):
        for t, a in self.seen:
            if a == action:
                return t
        raise AssertionError('%r not in %r' % (action, self.seen))


def soft_lab(launcher, tmp_path, bmcs, kind, timeout=None):
    """(RescueLab, emulator): lifeboatd with the rescue configuration and,
    unless None, [conductor] rescue_soft_power_off_timeout = timeout."""
    emu = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    cond = {} if timeout is None else {KEY: timeout}
    return RescueLab(launcher, tmp_path / 'lab', conductor=cond), emu


def machine_node(lab, emu, driver_info=None, power='on'):
    """An active node of machine 0 (left powered ``power``) that rescues
    over PXE; returns (node, mac)."""
    emu.set_power(0, power)
    info = lab.rescue_driver_info(**emu.driver_info(0))
    if emu.kind == 'redfish':
        info['redfish_system_id'] = SYSTEM
    info.update(driver_info or {})
    node = lab.d.create_node(
        name=unique('soft-' + emu.kind), driver=emu.driver,
        boot_interface='pxe', rescue_interface='agent', driver_info=info,
        properties={'capabilities': 'boot_mode:bios'})
    mac = unique_mac()
    lab.d.create_port(node['uuid'], mac)
    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        r = put_verb(lab.d, node['uuid'], verb)
        assert r.status_code == 202, (verb, r.text)
        node = wait_state(lab.d, node['uuid'],
                          {final, 'enroll', 'adopt failed'}, 30)
        assert node['provision_state'] == final, node
    assert node['power_state'] == 'power %s' % power, node
    return node, mac


def rescue(lab, emu, agents, node, mac):
    """``node rescue --wait`` through the CLI, the agent started at rescue
    wait.  Returns (machine log at rescue wait, LogWatch, daemon log of
    the rescue); asserts that the rescue completed."""
    emu.clear_log(0)
    mark = len(lab.d.log_text())
    watch = LogWatch(emu)
    watch.start()
    watcher = OnRescueWait(
        lab.d, node['uuid'], on_wait=lambda n: emu.actions(0),
        start_agent=lambda: agents.start(lab.api_url, mac))
    try:
        agent = cli_rescue_watched(lab.d, node['name'], watcher, PASSWORD)
    finally:
        watch.stop()
    assert agent.wait_exit(30) == 0
    assert agent.rescued()
    done = settled(lab.d, node['uuid'])
    assert done['provision_state'] == 'rescue', done
    assert done['last_error'] is None, done
    assert emu.power(0) == 'on'
    # what lifeboat records matches the machine, even for one that was off
    assert done['power_state'] == 'power on', done
    return watcher.captured, watch, lab.d.log_text()[mark:]


def boot_log(src):
    """What the machine logs from the one-time PXE boot on (BIOS)."""
    return ['%s: set boot device=pxe enabled=once mode=bios' % src,
            '%s: power on' % src, 'boot from pxe (bios)']


def soft_lines(log, uuid):
    return re.findall(r'node %s: rescue: soft power-off [^\n]*' % uuid, log)


KINDS = ['ipmi', 'redfish']


# ================================================ the OS honours ACPI

@pytest.mark.parametrize('kind', KINDS)
def test_soft_power_off_honoured(launcher, tmp_path, bmcs, agents, kind):
    delay = 1.5
    lab, emu = soft_lab(launcher, tmp_path, bmcs, kind, timeout=20)
    node, mac = machine_node(lab, emu)
    emu.ctl(0, 'config', {'soft_off_delay': delay, 'ignore_acpi': False})
    at_wait, watch, log = rescue(lab, emu, agents, node, mac)

    # A soft power-off, the OS shut down, and no hard power-off at all.
    assert at_wait == ['%s: soft off requested' % kind,
                       'OS shut down (soft off complete)'] + \
        boot_log(kind), at_wait
    took = watch.when('OS shut down (soft off complete)') - \
        watch.when('%s: soft off requested' % kind)
    assert delay - 0.2 <= took <= delay + 0.5, took
    lines = soft_lines(log, node['uuid'])
    assert len(lines) == 1, log[-LOG_TAIL:]
    m = re.fullmatch(r'node \S+: rescue: soft power-off done in '
                     r'(\d+\.\d) s', lines[0])
    assert m, lines
    assert delay - 0.1 <= float(m.group(1)) <= delay + POLL + TIMING_MARGIN
    # An INFO line, not a warning or an error.
    assert re.search(r'INFO[^\n]*rescue: soft power-off done', log), \
        log[-LOG_TAIL:]


# ================================================== the OS ignores it

@pytest.mark.parametrize('kind', KINDS)
def test_soft_power_off_ignored(launcher, tmp_path, bmcs, agents, kind):
    timeout = 3
    lab, emu = soft_lab(launcher, tmp_path, bmcs, kind, timeout=timeout)
    node, mac = machine_node(lab, emu)
    emu.ctl(0, 'config', {'ignore_acpi': True})
    at_wait, watch, log = rescue(lab, emu, agents, node, mac)

    assert at_wait == ['%s: soft off ignored by the OS' % kind,
                       '%s: power off' % kind] + boot_log(kind), at_wait
    # The hard power-off came once the timeout had passed, not earlier.
    waited = watch.when('%s: power off' % kind) - \
        watch.when('%s: soft off ignored by the OS' % kind)
    assert timeout - 0.2 <= waited <= timeout + TIMING_MARGIN, waited
    lines = soft_lines(log, node['uuid'])
    assert lines == ['node %s: rescue: soft power-off did not finish in '
                     '%d s; powered off hard' % (node['uuid'], timeout)], \
        log[-LOG_TAIL:]
    assert re.search(r'INFO[^\n]*soft power-off did not finish', log), \
        log[-LOG_TAIL:]
    # Not an error: nothing reaches last_error (rescue() checked it).


def test_bmc_spacing_not_counted(launcher, tmp_path, bmcs, agents):
    """With [ipmi] min_command_interval, the soft power-off waits for its
    turn at the BMC first; that wait does not shorten the OS's time.  The
    hard power-off then waits its own turn after the soft one ends."""
    timeout, interval = 3, 2
    emu = bmcs.ipmi()
    lab = RescueLab(launcher, tmp_path / 'lab', conductor={KEY: timeout},
                    ipmi={'min_command_interval': interval})
    node, mac = machine_node(lab, emu)
    emu.ctl(0, 'config', {'ignore_acpi': True})
    at_wait, watch, log = rescue(lab, emu, agents, node, mac)
    assert at_wait[:2] == ['ipmi: soft off ignored by the OS',
                           'ipmi: power off'], at_wait
    waited = watch.when('ipmi: power off') - \
        watch.when('ipmi: soft off ignored by the OS')
    assert timeout + interval - 0.2 <= waited <= \
        timeout + interval + TIMING_MARGIN, waited
    assert soft_lines(log, node['uuid']) == [
        'node %s: rescue: soft power-off did not finish in %d s; powered '
        'off hard' % (node['uuid'], timeout)], log[-LOG_TAIL:]


# ============================================ driver_info, both directions

# Which power-off a rescue does for a node already off, or with the node's
# rescue_soft_power_off_timeout over the configuration's (both ways, as a
# string and as an integer), is tested in virtual time with the fake
# power driver: tests/unit/test_engine_time.c.  Here, what the CLI sends.

def test_cli_sets_an_integer(launcher, tmp_path, bmcs):
    """``node set --driver-info KEY=2`` stores the JSON integer 2 (which
    the rescue honours, see above); ``node unset`` removes it."""
    lab, emu = soft_lab(launcher, tmp_path, bmcs, 'ipmi')
    node, _ = machine_node(lab, emu)
    rc, out, err = lab.d.cli('node', 'set', node['name'], '--driver-info',
                             '%s=2' % KEY)
    assert rc == 0, (out, err)
    assert get_node(lab.d, node['uuid'])['driver_info'][KEY] == 2
    rc, out, err = lab.d.cli('node', 'unset', node['name'], '--driver-info',
                             KEY)
    assert rc == 0, (out, err)
    assert KEY not in get_node(lab.d, node['uuid'])['driver_info']


# ========================================================== bad values

def test_bad_value_refused(launcher, tmp_path, bmcs):
    """Refused where it is set (create, patch, the CLI) in Ironic's error
    format, and nothing changes."""
    lab, emu = soft_lab(launcher, tmp_path, bmcs, 'ipmi')
    d = lab.d
    # Documented where the CLI lists a driver's properties.
    for driver in ('ipmi', 'redfish'):
        rc, out, err = d.cli('driver', 'property', 'list', driver,
                             '-f', 'json')
        assert rc == 0, (out, err)
        props = {p['Property']: p['Description'] for p in json.loads(out)}
        assert props[KEY].startswith('Seconds the rescue waits'), props
    info = lab.rescue_driver_info(**emu.driver_info(0))
    for value, shown in (('abc', '"abc"'), (-1, '-1'), ('-1', '"-1"'),
                         ('5s', '"5s"'), (1.5, '1.5'), (3601, '3601'),
                         (True, 'true')):
        r = d.post('/v1/nodes', {'driver': 'ipmi', 'name': unique('bad'),
                                 'driver_info': dict(info, **{KEY: value})})
        assert_error(r, 400, BAD_VALUE_MSG % shown)
    r = d.get('/v1/nodes')
    assert r.status_code == 200 and r.json()['nodes'] == [], r.text

    node, _ = machine_node(lab, emu, driver_info={KEY: 4})
    before = get_node(d, node['uuid'])
    r = d.patch('/v1/nodes/%s' % node['uuid'],
                [{'op': 'replace', 'path': '/driver_info/%s' % KEY,
                  'value': '-4'},
                 {'op': 'replace', 'path': '/description',
                  'value': 'changed'}])
    assert_error(r, 400, BAD_VALUE_MSG % '"-4"')
    rc, out, err = d.cli('node', 'set', node['name'], '--driver-info',
                         '%s=later' % KEY)
    assert rc != 0, (out, err)
    assert BAD_VALUE_MSG % '"later"' in err, err
    after = get_node(d, node['uuid'])
    assert after['driver_info'] == before['driver_info'], after
    assert after['description'] is None, after
    assert after['updated_at'] == before['updated_at'], after
    # The stored 4 still applies (a soft power-off first: virtual time,
    # tests/unit/test_engine_time.c).
    assert after['driver_info'][KEY] == 4, after


def test_bad_stored_value_at_validate_and_rescue(launcher, tmp_path, bmcs):
    """A bad value that got into the database past the API (written here
    straight into it, as an older lifeboatd could have stored it): node
    validate names it under the rescue interface, the rescue verb refuses
    it before anything happens, and other fields can still be changed."""
    lab, emu = soft_lab(launcher, tmp_path, bmcs, 'ipmi')
    d = lab.d
    node, _ = machine_node(lab, emu, driver_info={KEY: '5'})
    uuid = node['uuid']
    d.stop()
    (text,), = store_rows(d, 'SELECT driver_info FROM nodes WHERE '
                          'uuid = ?', (uuid,))
    info = dict(json.loads(text), **{KEY: 'soon'})
    store_rows(d, 'UPDATE nodes SET driver_info = ? WHERE uuid = ?',
               (json.dumps(info), uuid))
    d.session = requests.Session()
    d.start()
    msg = BAD_VALUE_MSG % '"soon"'

    r = d.get('/v1/nodes/%s/validate' % uuid)
    assert r.status_code == 200, r.text
    assert r.json()['rescue'] == {'result': False, 'reason': msg}, r.json()
    assert r.json()['power'] == {'result': True}, r.json()

    emu.clear_log(0)
    before = get_node(d, uuid)
    r = put_rescue(d, uuid, PASSWORD)
    assert_error(r, 400, 'Failed to rescue instance None for node %s: '
                 'Validation failed: %s' % (uuid, msg))
    after = get_node(d, uuid)
    assert after == before, after
    assert emu.actions(0) == [] and emu.power(0) == 'on'

    r = d.patch('/v1/nodes/%s' % uuid, [{'op': 'replace',
                                         'path': '/description',
                                         'value': 'still editable'}])
    assert r.status_code == 200, r.text
    rc, out, err = d.cli('node', 'set', node['name'], '--driver-info',
                         '%s=1' % KEY)
    assert rc == 0, (out, err)
    r = d.get('/v1/nodes/%s/validate' % uuid)
    # Back to what the agent interface says outside a rescue.
    assert 'rescue_password' in r.json()['rescue']['reason'], r.json()
