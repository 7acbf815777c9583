"""Every way out of a rescue cleans up, and the switch's memory survives a
crash (issue 10, items 7 and 8): lifeboatd with the ``switch`` network
interface on a real Linux bridge, the simulated agent
(tests/lab/fake_agent.py), the lab Redfish BMC and the real ``openstack
baremetal`` CLI.

Needs root: each test moves its own thread into a network namespace of its
own (unshare(CLONE_NEWNET)) before it starts anything, so the bridge, the
daemon, the BMC and the agent all live there and talk over that
namespace's loopback; the thread moves back at teardown, after every
process was stopped by its PID, and the kernel removes the namespace with
everything in it.

The switch is the one-bridge-per-VLAN backend (it needs no bridge VLAN
filtering, which not every kernel has): bridges labv10 and labv20 are
VLANs 10 and 20, and veth1, the node's switch port, starts on labv10, its
tenant VLAN.  A rescue moves it to the rescuing VLAN 20.  Every wait
polls with a deadline.
"""

import ctypes
import json
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import CONDUCTOR_HOST, assert_error, unique, unique_mac, \
    wait_for
from power_helpers import RESTART_PROVISION_MSG, get_node, pid_alive
from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import (ImageServer, KERNEL_DATA, RAMDISK_DATA,
                            RescueLab, end_state, put_rescue, put_verb,
                            settled, to_rescue_wait, wait_state)
from rescue_helpers import agents  # noqa: F401 (a fixture)

REPO = Path(__file__).resolve().parents[2]
MKISO = REPO / 'ramdisk' / 'mkiso'
SYSTEM = '/redfish/v1/Systems/1'

TENANT, RESCUING = 10, 20
PREFIX, SWITCH_PORT = 'lab', 'veth1'
LLC = {'switch_id': '52:54:00:00:00:ff', 'switch_info': PREFIX,
       'port_id': SWITCH_PORT}
CLONE_NEWNET = 0x40000000

# What a rescue leaves in driver_internal_info while it runs.
RESCUE_KEYS = ('agent_secret_token', 'agent_secret_token_pregenerated',
               'agent_url', 'agent_verify_ca', 'agent_lookup_at',
               'switch_tenant_vlans')

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason='needs root (network namespaces)')


# ------------------------------------------------------- the namespace

def _run(*argv, check=True):
    p = subprocess.run([str(a) for a in argv], capture_output=True,
                       text=True, timeout=30)
    if check:
        assert p.returncode == 0, (argv, p.stdout, p.stderr)
    return p


@pytest.fixture
def switch():
    """This thread in a new network namespace holding the VLAN bridges
    and veth1 on VLAN 10.  Request it before any fixture that starts a
    process, so every process starts inside."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open('/proc/thread-self/ns/net', os.O_RDONLY | os.O_CLOEXEC)
    if libc.unshare(CLONE_NEWNET) != 0:
        os.close(home)
        pytest.skip('cannot make a network namespace: %s'
                    % os.strerror(ctypes.get_errno()))
    try:
        _run('ip', 'link', 'set', 'lo', 'up')
        for vid in (TENANT, RESCUING):
            _run('ip', 'link', 'add', '%sv%d' % (PREFIX, vid), 'type',
                 'bridge')
        _run('ip', 'link', 'add', SWITCH_PORT, 'type', 'veth', 'peer',
             'name', 'peer1')
        _run('ip', 'link', 'set', SWITCH_PORT, 'master',
             '%sv%d' % (PREFIX, TENANT))
        assert access_vlan() == TENANT
        yield
    finally:
        # Everything started inside was stopped by the later fixtures'
        # teardown; back to the namespace this thread came from.
        assert libc.setns(home, CLONE_NEWNET) == 0, os.strerror(
            ctypes.get_errno())
        os.close(home)


def access_vlan():
    """The VLAN of the switch port, as the kernel shows it (the bridge it
    is enslaved to), independently of lifeboat's backend."""
    out = json.loads(_run('ip', '-j', 'link', 'show', 'dev',
                          SWITCH_PORT).stdout)
    master = out[0].get('master', '')
    assert master.startswith(PREFIX + 'v'), out
    return int(master[len(PREFIX) + 1:])


def assert_on_tenant():
    assert access_vlan() == TENANT


# ------------------------------------------------------------ the lab

def switch_lab(launcher, tmp_path, **sections):
    sections.setdefault('switch', {}).update(
        backend='linux-bridge-per-vlan', rescuing_network=RESCUING)
    return RescueLab(launcher, tmp_path / 'lab', conductor={
        'rescue_callback_timeout': 600}, **sections)


def switch_node(lab, emu=None, boot='redfish-virtual-media',
                driver_info=None):
    """An active node whose one port sits on the switch port: PXE and
    fake-hardware, or (with ``emu``, a Redfish emulator) redfish with
    ``boot``.  Returns (node, mac)."""
    mac = unique_mac()
    info = lab.rescue_driver_info()
    fields = {'name': unique('exit'), 'rescue_interface': 'agent',
              'network_interface': 'switch',
              'properties': {'capabilities': 'boot_mode:bios'}}
    if emu is None:
        fields.update(driver='fake-hardware', power_interface='fake',
                      management_interface='fake', boot_interface='pxe')
    else:
        emu.set_power(0, 'on')
        info.update(emu.driver_info(0), redfish_system_id=SYSTEM)
        fields.update(driver='redfish', boot_interface=boot)
    info.update(driver_info or {})
    fields['driver_info'] = info
    node = lab.d.create_node(**fields)
    lab.d.create_port(node['uuid'], mac, local_link_connection=LLC)
    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        r = put_verb(lab.d, node['uuid'], verb)
        assert r.status_code == 202, (verb, r.text)
        node = wait_state(lab.d, node['uuid'],
                          {final, 'enroll', 'adopt failed'}, 30)
        assert node['provision_state'] == final, node
    return node, mac


def certificate(lab, uuid):
    return lab.d.state_path / 'certificates' / ('%s.crt' % uuid)


def published(lab):
    """Files below http_root/redfish (the virtual media ISOs)."""
    root = lab.http / 'redfish'
    return sorted(str(p) for p in root.rglob('*')) if root.exists() else []


def assert_nothing_left(lab, uuid, mac):
    """No staged file, link or DHCP option for the node, its DHCP host
    entry is 'ignore' (or absent), no ISO, no agent certificate, no
    token, agent URL, tenant VLAN record or password; the port is back on
    its tenant VLAN."""
    assert lab.leftovers(uuid, mac) == [], uuid
    host = lab.host_file(mac)
    if host.exists():
        assert host.read_text() == '%s,ignore\n' % mac
    assert published(lab) == []
    assert not certificate(lab, uuid).exists()
    node = get_node(lab.d, uuid)
    for key in RESCUE_KEYS:
        assert key not in node['driver_internal_info'], (key, node)
    assert 'hashed_rescue_password' not in node['instance_info'], node
    assert_on_tenant()


def undeploy(lab, uuid):
    """``openstack baremetal node undeploy``; the node once available and
    settled (polled here: the CLI's --wait polls too slowly
    for a test)."""
    rc, out, err = lab.d.cli('node', 'undeploy', uuid)
    assert rc == 0, (out, err)
    node = end_state(lab.d, uuid, {'available', 'error'})
    assert node['provision_state'] == 'available', node
    assert node['last_error'] is None, node
    return node


def lookup(lab, mac):
    """The lookup a ramdisk makes; issues the agent token."""
    r = lab.d.get('/v1/lookup?addresses=' + mac, version='1.68')
    assert r.status_code == 200, r.text
    assert r.json()['config']['agent_token'] not in ('******', None)


class BlockingIsoBuilder:
    """An [redfish] iso_builder that records its PID and waits until
    release(), then runs the real ramdisk/mkiso: a rescue job held between
    the switch move and the ISO.  stop() kills it by that PID."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pidfile = self.dir / 'builder.pid'
        self.gate = self.dir / 'release'
        self.path = self.dir / 'mkiso-blocking'
        self.path.write_text(
            '#!/bin/sh\n'
            'echo $$ > %s\n'
            'while [ ! -e %s ]; do sleep 0.05; done\n'
            'exec %s "$@"\n' % (self.pidfile, self.gate, MKISO))
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)
        self.pids = set()

    def wait_started(self, timeout=30):
        wait_for(lambda: self.pidfile.exists() and
                 self.pidfile.read_text().strip(), timeout,
                 what='the ISO builder to start')
        pid = int(self.pidfile.read_text())
        self.pids.add(pid)
        return pid

    def release(self):
        self.gate.touch()

    def stop(self):
        for pid in self.pids:
            try:
                with open('/proc/%d/cmdline' % pid, 'rb') as f:
                    mine = str(self.path).encode() in f.read()
                if mine:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def builder(tmp_path):
    b = BlockingIsoBuilder(tmp_path / 'builder')
    yield b
    b.stop()


# ======================================================== item 7: exits

@pytest.mark.parametrize('where', ['rescue wait', 'rescue'])
def test_undeploy_from_rescue_cleans_up(switch, launcher, tmp_path, agents,
                                        where):
    lab = switch_lab(launcher, tmp_path)
    node, mac = switch_node(lab)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    assert access_vlan() == RESCUING
    assert lab.leftovers(uuid, mac) != []
    if where == 'rescue wait':
        lookup(lab, mac)
    else:
        agent = agents.start(lab.api_url, mac)
        node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
        assert node['provision_state'] == 'rescue', node
        assert agent.wait_exit(30) == 0
        assert 'agent_url' in node['driver_internal_info']
        assert certificate(lab, uuid).exists()
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == where, node
    assert 'agent_secret_token' in node['driver_internal_info'], node

    undeploy(lab, uuid)
    assert_nothing_left(lab, uuid, mac)
    port = lab.d.get('/v1/ports?node=' + uuid).json()['ports'][0]
    assert_port_free(lab, port)


def test_vmedia_undeploy_from_rescue_wait(switch, launcher, tmp_path,
                                          bmcs, builder):
    """The token-bearing ISO goes too; ports are frozen while it builds."""
    emu = bmcs.redfish(1)
    lab = switch_lab(launcher, tmp_path,
                     redfish={'iso_builder': builder.path})
    node, mac = switch_node(lab, emu)
    uuid = node['uuid']
    port = lab.d.get('/v1/ports?node=' + uuid).json()['ports'][0]
    r = put_rescue(lab.d, uuid)
    assert r.status_code == 202, r.text
    builder.wait_started()
    assert access_vlan() == RESCUING
    assert get_node(lab.d, uuid)['provision_state'] == 'rescuing'
    assert_port_frozen(lab, port, 'rescuing')
    builder.release()
    node = wait_state(lab.d, uuid, {'rescue wait', 'rescue failed'}, 60)
    assert node['provision_state'] == 'rescue wait', node
    settled(lab.d, uuid)
    assert published(lab) != []
    assert_port_frozen(lab, port, 'rescue wait')

    undeploy(lab, uuid)
    assert_nothing_left(lab, uuid, mac)
    assert emu.machine(0)['media']['inserted'] is False


# ================================================ item 8: crash recovery

def test_sigkill_after_the_port_moved(switch, launcher, tmp_path, bmcs,
                                      builder):
    """SIGKILL while the rescue job runs with the port on the rescuing
    VLAN: the restart ends the rescue in 'rescue failed' and puts the
    port back on its tenant VLAN; an undeploy from there leaves nothing."""
    emu = bmcs.redfish(1)
    lab = switch_lab(launcher, tmp_path,
                     redfish={'iso_builder': builder.path})
    node, mac = switch_node(lab, emu)
    uuid = node['uuid']
    r = put_rescue(lab.d, uuid)
    assert r.status_code == 202, r.text
    builder.wait_started()
    assert access_vlan() == RESCUING
    assert get_node(lab.d, uuid)['provision_state'] == 'rescuing'

    pid = builder.wait_started()
    lab.d.kill()
    # The builder dies with lifeboatd (PR_SET_PDEATHSIG): nothing of the
    # killed run writes into http_root once the next one starts.
    wait_for(lambda: not pid_alive(pid), 10,
             what='the ISO builder to die with lifeboatd')
    assert access_vlan() == RESCUING      # nobody put it back yet
    lab.d.start()
    node = settled(lab.d, uuid)
    assert node['provision_state'] == 'rescue failed', node
    assert node['last_error'] == RESTART_PROVISION_MSG % 'rescuing', node
    assert_on_tenant()
    for key in RESCUE_KEYS:
        assert key not in node['driver_internal_info'], (key, node)
    assert 'clean-up' in lab.d.log_text()

    undeploy(lab, uuid)
    assert_nothing_left(lab, uuid, mac)


# =========================================== item 8: ports stay as they are

def assert_port_frozen(lab, port, state):
    """PATCH and DELETE of the node's port: 409 in Ironic's format, and
    the port unchanged."""
    before = lab.d.get('/v1/ports/' + port['uuid']).json()
    node = before['node_uuid']
    # rescuing and unrescuing hold the node's lock; the others do not.
    locked = ('Node %s is locked by host %s, please retry after the '
              'current operation is completed.' % (node, CONDUCTOR_HOST))
    frozen = 'Port %s can not be %%s while node %s is in state "%s".' % (
        port['uuid'], node, state)
    r = lab.d.patch('/v1/ports/' + port['uuid'], [
        {'op': 'replace', 'path': '/address', 'value': unique_mac()}])
    assert_error(r, 409, locked if state.endswith('ing') else
                 frozen % 'updated')
    r = lab.d.delete('/v1/ports/' + port['uuid'])
    assert_error(r, 409, locked if state.endswith('ing') else
                 frozen % 'deleted')
    after = lab.d.get('/v1/ports/' + port['uuid'])
    assert after.status_code == 200, (state, after.text)
    assert after.json() == before, state


def assert_port_free(lab, port):
    r = lab.d.patch('/v1/ports/' + port['uuid'], [
        {'op': 'add', 'path': '/extra/k', 'value': 'v'}])
    assert r.status_code == 200, r.text


def test_port_frozen_in_rescue_states(switch, launcher, tmp_path, agents,
                                      bmcs):
    images = ImageServer({'/k': KERNEL_DATA, '/r': RAMDISK_DATA})
    try:
        _frozen(switch, launcher, tmp_path, agents, bmcs, images)
    finally:
        images.close()


def _frozen(switch, launcher, tmp_path, agents, bmcs, images):
    emu = bmcs.redfish(1)
    lab = switch_lab(launcher, tmp_path)
    # Boots through PXE with the Redfish BMC's power, so it can be held
    # at the BMC, and fetches its images from the image server, so it can
    # be held there.
    node, mac = switch_node(lab, emu, boot='pxe', driver_info={
        'rescue_kernel': images.url + '/k',
        'rescue_ramdisk': images.url + '/r'})
    uuid = node['uuid']
    port = lab.d.get('/v1/ports?node=' + uuid).json()['ports'][0]
    assert_port_free(lab, port)

    # rescuing: held while the kernel downloads.
    images.stall('/k')
    r = put_rescue(lab.d, uuid)
    assert r.status_code == 202, r.text
    wait_for(lambda: images.stalled('/k') >= 1, 30, what='the download')
    assert get_node(lab.d, uuid)['provision_state'] == 'rescuing'
    assert_port_frozen(lab, port, 'rescuing')
    images.release()
    wait_state(lab.d, uuid, {'rescue wait', 'rescue failed'}, 60)
    node = settled(lab.d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert_port_frozen(lab, port, 'rescue wait')

    agent = agents.start(lab.api_url, mac)
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    assert node['provision_state'] == 'rescue', node
    assert agent.wait_exit(30) == 0
    assert_port_frozen(lab, port, 'rescue')

    # unrescuing: held while the BMC does not answer.
    emu.proc.send_signal(signal.SIGSTOP)
    try:
        r = put_verb(lab.d, uuid, 'unrescue')
        assert r.status_code == 202, r.text
        assert get_node(lab.d, uuid)['provision_state'] == 'unrescuing'
        assert_port_frozen(lab, port, 'unrescuing')
    finally:
        emu.proc.send_signal(signal.SIGCONT)
    node = end_state(lab.d, uuid, {'active', 'unrescue failed'}, 90)
    assert_on_tenant()
    assert_port_free(lab, port)
