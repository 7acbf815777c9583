"""Kill -9 at any moment (issue 14 item 3): one seeded chaos scenario,
imported by tests/flow/test_chaos.py (a short slice of fixed seeds) and by
bench/chaos (hundreds of runs, figures).

A run, for one seed: a lifeboatd on a fresh state directory holding a
copy of a template store (200 nodes enrolled once through the API,
active: 192 fake-hardware PXE nodes booting into a temporary tftp/http
root with dnsmasq host and option files; 4 redfish-virtual-media nodes
behind one lab Redfish BMC process, tests/lab/redfish_bmc.py --count 4, a
machine each; 4 fake-hardware PXE nodes with network_interface=switch,
[switch] backend linux-bridge-per-vlan, each port's local_link_connection
a veth of its own on bridges in the run's own network namespace), the
agents played by bench/swarm.py (a virtual media node's agent takes the
ipa-agent-token baked into its ISO, read from the ISO file as its machine
would boot it); a seeded mix of rescue, unrescue, power on/off/reboot,
abort and re-rescue (each round also picks two of the 8 virtual media and
switch nodes); SIGKILL at a seeded moment (early, while ramdisks are
staged, while rescues are finalized, or later); a restart on the same
state (a quarter of the runs kill that restart too while its recovery
runs, and restart again); then every invariant of the issue, each problem
a line naming the node and what is wrong:

* no node lost (every node and its port still there);
* after the recovery interval no reservation, no pending power action,
  no node in a transient state; every transition the kill cut short
  (read from the store as the kill left it) failed with a last_error;
  every node that was in rescue wait still waits with the token it had
  (or its agent has finished the rescue since);
* staged boot files and dnsmasq entries only for nodes whose rescue is
  still under way (rescuing, rescue wait), nothing half written;
* virtual media ISOs (http_root/redfish/<uuid>/) only for a node in
  rescuing/rescue wait, and a node in rescue wait has one; the BMC's
  inserted medium (its control endpoint, GET /machines/<i>) is an ISO
  that exists, or none;
* a switch node's port (read from the kernel: ip -j link show, its master
  bridge) on the rescuing VLAN only in rescuing/rescue wait, on its
  tenant VLAN otherwise; the store's switch_tenant_vlans record there
  while it is on the rescuing VLAN, that tenant VLAN, and gone after;
* no password hash outside rescuing/rescue wait, no agent token outside
  rescuing/rescue wait/rescue (the rescued system keeps its token);
* the operator's next verb works: each node's next verb is accepted and
  ends in a stable state, with the invariants above true again.

The switch nodes need root (a network namespace, bridges and veths):
without it they are plain PXE nodes and the switch invariants are not
checked (bench/chaos's summary and test_chaos.py say so).  Not covered:
agents behind the virtual media nodes' network (the swarm's agents run on
127.0.0.1 whatever the VLAN), and a switch other than the Linux bridge.

Everything runs in the caller's thread (and 8 threads sending the next
verbs) except the swarm (its own thread, bench/swarm.py); with root the
caller's thread is in the run's network namespace from setup() to close(),
and so is every thread and process started meanwhile.  Every process
started here is stopped by its PID.
"""

import ctypes
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from conftest import (Daemon, Launcher, pg_new_database, store_rows,
                      wait_for)
from power_helpers import Bmcs, get_node
from rescue_helpers import RescueLab

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'bench'))

NODES = 200
BMCS = 20               # nodes i and i + BMCS share a fake BMC
PASSWORD = 'Chaos-PW-1'
CALLBACK_TIMEOUT = 12   # [conductor] rescue_callback_timeout, seconds
RECOVERY = CALLBACK_TIMEOUT + 8     # the recovery interval we allow
SETTLE = 60             # seconds for the next verbs to end
KILL_MODES = ('early', 'staging', 'finalize', 'late')
DOUBLE_KILL = 0.25      # how many runs kill the recovery too
SENDERS = 8            # threads sending the next verbs
TEMP_GRACE = 2.0        # seconds a temporary may take to be renamed
KILL_BY = 4.0           # seconds: the latest kill, whatever the mode

STABLE = {'active', 'rescue', 'rescue failed', 'unrescue failed'}
FAILED = {'rescue failed', 'unrescue failed', 'error'}
HASH_OK = {'rescuing', 'rescue wait'}           # may hold the hash
TOKEN_OK = {'rescuing', 'rescue wait', 'rescue'}  # may hold a token
STAGED_OK = {'rescuing', 'rescue wait'}         # may have boot files
# Nodes 0-3 boot through redfish-virtual-media (one lab Redfish BMC process,
# a machine each), nodes 4-7 sit on switch ports (network_interface=switch,
# one bridge per VLAN in the run's own network namespace); the rest are
# fake-hardware PXE nodes.
VMEDIA = range(0, 4)
SWITCH = range(4, 8)
SYSTEM = '/redfish/v1/Systems/1'
PREFIX = 'chs'          # bridges chsv<VLAN>; switch ports chsp<k>
RESCUING_VLAN = 20
SPECIAL_PICKS = 2       # of each round of verbs, for VMEDIA and SWITCH
ISO_TOKEN = re.compile(rb'ipa-agent-token=([A-Za-z0-9_-]{32,})')
CLONE_NEWNET = 0x40000000


def switch_covered():
    """Switch VLANs need root (a network namespace, bridges, veths)."""
    return os.geteuid() == 0


def tenant_vlan(k):
    return 11 + k


def switch_port(k):
    return '%sp%d' % (PREFIX, k)


def mac_of(i):
    return '52:54:0c:%02x:%02x:%02x' % (i >> 16 & 0xff, i >> 8 & 0xff,
                                        i & 0xff)


def lab_sections(workdir):
    """RescueLab's configuration for a chaos run in 'workdir': small
    timeouts, the rescue images from the configuration (the template's
    nodes carry no paths)."""
    images = Path(workdir) / 'images'
    return {
        'conductor': {
            'rescue_callback_timeout': CALLBACK_TIMEOUT,
            'check_rescue_state_interval': 1,
            'power_state_change_timeout': 10,
            'rescue_kernel': 'file://%s' % (images / 'rescue.kernel'),
            'rescue_ramdisk': 'file://%s' % (images / 'rescue.initramfs'),
            'workers_pool_size': 32,
        },
        'redfish': {'min_command_interval': 0},
        'switch': {'backend': 'linux-bridge-per-vlan',
                   'rescuing_network': RESCUING_VLAN},
    }


class _Launcher(Launcher):
    """conftest.Launcher whose daemons start on a copy of a store."""

    def __init__(self, base, store=None):
        super().__init__(base)
        self.store = store

    def start(self, **sections):
        d = Daemon(self.base / ('d%d' % len(self.daemons)), sections)
        self.daemons.append(d)
        if self.store is not None and os.environ.get('LB_TEST_DB_URL'):
            d._pg_url = pg_new_database(os.environ['LB_TEST_DB_URL'],
                                        template=self.store)
        elif self.store is not None:
            d.state_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.store, d.state_path / 'lifeboat.sqlite')
        return d.start()


def _lab(workdir, store=None):
    launcher = _Launcher(Path(workdir) / 'daemons', store)
    sec = lab_sections(workdir)
    try:
        lab = RescueLab(launcher, workdir, conductor=sec['conductor'],
                        redfish=sec['redfish'], switch=sec['switch'])
    except BaseException:
        launcher.close()
        raise
    return launcher, lab


def make_template(workdir, nodes=NODES):
    """Enrols 'nodes' active nodes through the API once (the first of them
    virtual media nodes behind a lab Redfish BMC, the next ones on switch
    ports, see VMEDIA and SWITCH); returns the path of a copy of the store
    they are in (the daemon stopped cleanly), or on PostgreSQL the URL of
    their database (each run's daemon gets a copy: createdb -T)."""
    workdir = Path(workdir)
    launcher, lab = _lab(workdir / 'template')
    bmcs = Bmcs(workdir / 'template')
    d = lab.d
    try:
        emu = bmcs.redfish(len(VMEDIA))
        uuids = [_enrol(d, i, emu) for i in range(nodes)]
        for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
            for u in uuids:
                code = until_taken(lambda: d.put(
                    '/v1/nodes/%s/states/provision' % u,
                    {'target': verb}).status_code)
                assert code == 202, (verb, u, code)
            wait_for(lambda: all(n['provision_state'] == final and
                                 n['reservation'] is None
                                 for n in list_nodes(d)),
                     120, interval=0.1, what='nodes to be %s' % final)
        d.stop()
        if getattr(d, '_pg_url', None) is not None:
            return d._pg_url        # PostgreSQL: a database to copy
        out = workdir / 'template.sqlite'
        src = sqlite3.connect(str(d.state_path / 'lifeboat.sqlite'))
        dst = sqlite3.connect(str(out))
        src.backup(dst)
        src.close()
        dst.close()
        return out
    finally:
        launcher.close()
        bmcs.close()


def _enrol(d, i, emu):
    """Node i and its port; returns its uuid."""
    fields = {'name': 'chaos-%03d' % i, 'rescue_interface': 'agent',
              'network_interface': 'noop',
              'properties': {'capabilities': 'boot_mode:bios'}}
    if i in VMEDIA:
        emu.set_power(VMEDIA.index(i), 'on')
        info = dict(emu.driver_info(VMEDIA.index(i)),
                    redfish_system_id=SYSTEM)
        fields.update(driver='redfish',
                      boot_interface='redfish-virtual-media')
    else:
        info = {'fake_delay': 0.01 + 0.01 * (i % 4),
                'fake_bmc': 'bmc-%d' % (i % BMCS)}
        fields.update(driver='fake-hardware', power_interface='fake',
                      management_interface='fake', boot_interface='pxe')
    port = {}
    if i in SWITCH and switch_covered():
        fields['network_interface'] = 'switch'
        port['local_link_connection'] = {
            'switch_id': '52:54:00:0c:00:ff', 'switch_info': PREFIX,
            'port_id': switch_port(SWITCH.index(i))}
    node = d.create_node(driver_info=info, **fields)
    d.create_port(node['uuid'], mac_of(i), **port)
    return node['uuid']


def until_taken(send, timeout=60):
    """send() -> HTTP status, again while lifeboatd answers 503 (no free
    worker: Ironic's NoFreeConductorWorker, an operator retries); the
    last status."""
    codes = []

    def taken():
        codes.append(send())
        return codes[-1] != 503
    wait_for(taken, timeout, interval=0.05, what='a free worker')
    return codes[-1]


FIELDS = ('uuid,name,provision_state,target_provision_state,power_state,'
          'target_power_state,reservation,last_error,maintenance')


def list_nodes(d):
    r = d.get('/v1/nodes?fields=' + FIELDS, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()['nodes']


def store_nodes(d, uuid=None):
    """{uuid: row} read from the store itself (the daemon may be dead):
    state, reservation, target_power_state, last_error, whether the
    password hash is there, the agent token (compared, never shown), the
    switch_tenant_vlans record."""
    rows = store_rows(d, 'SELECT uuid, provision_state, reservation, '
                      'target_power_state, last_error, instance_info, '
                      'driver_internal_info FROM nodes' +
                      ('' if uuid is None else ' WHERE uuid = ?'),
                      () if uuid is None else (uuid,))
    out = {}
    for uuid, state, rsv, tps, err, ii, dii in rows:
        ii, dii = json.loads(ii or '{}'), json.loads(dii or '{}')
        out[uuid] = {'state': state, 'reservation': rsv, 'power': tps,
                     'last_error': err,
                     'hash': bool(ii.get('hashed_rescue_password') or
                                  ii.get('rescue_password')),
                     'token': dii.get('agent_secret_token'),
                     'vlans': dii.get('switch_tenant_vlans')}
    return out


class Switch:
    """The switch of a run: this thread moved into a network namespace of
    its own (every process and thread the run starts later is inside),
    one bridge per VLAN (chsv11.. the tenants', chsv20 the rescuing one)
    and a veth per switch node (chsp<k>, on its tenant VLAN chsv<11+k>).
    close() removes them and moves the thread back."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.home = os.open('/proc/thread-self/ns/net',
                            os.O_RDONLY | os.O_CLOEXEC)
        if self.libc.unshare(CLONE_NEWNET) != 0:
            os.close(self.home)
            raise OSError(ctypes.get_errno(), 'unshare(CLONE_NEWNET)')
        try:
            _ip('link', 'set', 'lo', 'up')
            for vid in [tenant_vlan(k) for k in range(len(SWITCH))] + [
                    RESCUING_VLAN]:
                _ip('link', 'add', '%sv%d' % (PREFIX, vid), 'type',
                    'bridge')
            for k in range(len(SWITCH)):
                _ip('link', 'add', switch_port(k), 'type', 'veth', 'peer',
                    'name', '%sq%d' % (PREFIX, k))
                _ip('link', 'set', switch_port(k), 'master',
                    '%sv%d' % (PREFIX, tenant_vlan(k)))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def vlan(k):
        """Switch port k's VLAN as the kernel shows it (its master
        bridge), or None when it has none."""
        out = json.loads(_ip('-j', 'link', 'show', 'dev', switch_port(k)))
        master = out[0].get('master', '')
        if not master.startswith(PREFIX + 'v'):
            return None
        return int(master[len(PREFIX) + 1:])

    def close(self):
        """Removes the links (the kernel would, with the namespace, once
        the last process in it is gone) and moves the thread back."""
        if self.home is None:
            return
        for link in [switch_port(k) for k in range(len(SWITCH))] + [
                '%sv%d' % (PREFIX, v) for v in [tenant_vlan(k) for k in
                                                 range(len(SWITCH))] +
                [RESCUING_VLAN]]:
            subprocess.run(('ip', 'link', 'del', link), capture_output=True,
                           timeout=30)
        if self.libc.setns(self.home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), 'setns back')
        os.close(self.home)
        self.home = None


def _ip(*argv):
    p = subprocess.run(('ip',) + argv, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, (argv, p.stdout, p.stderr)
    return p.stdout


class Run:
    """One seeded run: setup() .. chaos() .. recover() .. check() ..
    next_verbs() .. check(); close() always."""

    def __init__(self, seed, workdir, store, log=None, kill_by=KILL_BY,
                 double_kill=DOUBLE_KILL):
        self.seed = seed
        self.rng = random.Random(seed)
        self.workdir = Path(workdir)
        self.store = store
        self.kill_by = kill_by
        # Drawn first, so that a seed replays the same kills.
        self.kills = 2 if self.rng.random() < double_kill else 1
        self.log = log or (lambda msg: None)
        self.launcher = self.lab = self.swarm = None
        self.switch = self.bmcs = self.emu = None
        self.special = {}       # uuid -> ('vmedia' | 'switch', index)
        self.problems = []
        self.figures = {'seed': seed, 'requests': {}, 'kill_mode': None}
        self.uuids = []
        self.macs = {}
        self.at_kill = {}
        self._local = threading.local()     # a requests session a thread
        self._lock = threading.Lock()

    # -- set up and tear down ---------------------------------------------

    def setup(self):
        from swarm import Swarm
        if switch_covered():
            self.switch = Switch()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bmcs = Bmcs(self.workdir)
        self.emu = self.bmcs.redfish(len(VMEDIA))
        self.launcher, self.lab = _lab(self.workdir, self.store)
        self.d = self.lab.d
        for n in list_nodes(self.d):
            self.uuids.append(n['uuid'])
            i = int(n['name'].split('-')[1])
            if i in VMEDIA:
                self._vmedia_node(n['uuid'], VMEDIA.index(i))
            elif i in SWITCH and self.switch is not None:
                self.special[n['uuid']] = ('switch', SWITCH.index(i))
        for p in self.d.get('/v1/ports?fields=node_uuid,address').json()[
                'ports']:
            self.macs[p['node_uuid']] = p['address']
        self.swarm = Swarm(api_url=self.d.url, host='127.0.0.1',
                           heartbeat_interval=0.5, poll_interval=0.1,
                           tls='off',      # cheaper; test_agent_tls.py has TLS
                           log_path=str(self.workdir / 'swarm.jsonl'),
                           # lifeboatd down is short here: retry soon
                           heartbeat_error_interval=0.3,
                           lookup_interval=0.2, lookup_max_interval=1.0,
                           boot_token=self.iso_token)
        self.swarm.start()
        self._offset = _wall_offset()
        return self

    def _vmedia_node(self, uuid, k):
        """Node 'uuid' on this run's BMC machine k (the template's BMC is
        gone), powered on as the store has it."""
        self.special[uuid] = ('vmedia', k)
        self.emu.set_power(k, 'on')
        r = self.d.patch('/v1/nodes/' + uuid, [
            {'op': 'replace', 'path': '/driver_info/redfish_address',
             'value': self.emu.driver_info(k)['redfish_address']}])
        assert r.status_code == 200, r.text

    def isos(self, uuid):
        """The node's virtual media ISOs (and anything else) under
        http_root/redfish/<uuid>/."""
        root = self.lab.http / 'redfish' / uuid
        try:
            return sorted(root.iterdir(), key=lambda p: p.lstat().st_mtime)
        except FileNotFoundError:       # none, or one went as we looked
            return []

    def iso_token(self, uuid):
        """The agent token baked into the node's ISO (its kernel command
        line's ipa-agent-token, read from the ISO as the machine boots
        it), or None: the swarm's boot_token."""
        for iso in reversed(self.isos(uuid)):   # the newest first
            try:
                m = ISO_TOKEN.search(iso.read_bytes())
            except OSError:     # gone meanwhile, or not a file
                continue
            if m:
                return m.group(1).decode()
        return None

    def close(self):
        try:
            if self.swarm is not None:
                self.swarm.stop()
            if self.launcher is not None:
                self.launcher.close()
            if self.bmcs is not None:
                self.bmcs.close()
        finally:
            if self.switch is not None:
                self.switch.close()

    def problem(self, uuid, what):
        self.problems.append('seed %d: node %s: %s' % (self.seed, uuid,
                                                         what))

    # -- the chaos ----------------------------------------------------------

    def _verb(self, node):
        """A seeded verb for a node in its state, or None."""
        st, rng = node['provision_state'], self.rng
        power = rng.choice(('power on', 'power off', 'rebooting'))
        if node['reservation'] is not None:
            return None
        table = {
            'active': [('rescue', 6), (power, 3)],
            'rescue': [('unrescue', 6), (power, 2), ('rescue', 1)],
            'rescue wait': [('abort', 3), (None, 7)],
            'rescue failed': [('rescue', 5), ('unrescue', 5)],
            'unrescue failed': [('rescue', 5), ('unrescue', 5)],
        }
        choices = table.get(st)
        if not choices:
            return None
        verbs, weights = zip(*choices)
        return rng.choices(verbs, weights)[0]

    def _send(self, uuid, verb):
        if verb in ('power on', 'power off', 'rebooting'):
            path, body = 'power', {'target': verb}
        else:
            path, body = 'provision', {'target': verb}
            if verb == 'rescue':
                body['rescue_password'] = PASSWORD
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            r = session.put('%s/v1/nodes/%s/states/%s' % (
                self.d.url, uuid, path), json=body, timeout=5,
                headers={'X-OpenStack-Ironic-API-Version': '1.78'})
            code = r.status_code
        except requests.RequestException:
            code = 'conn'
        key = '%s %s' % (verb, code)
        with self._lock:
            self.figures['requests'][key] = self.figures['requests'].get(
                key, 0) + 1
        if isinstance(code, int) and code >= 500 and code != 503:
            self.problem(uuid, '%s answered %d: %s' % (verb, code, r.text))
        return code

    def _kill_due(self, mode, arg, started, nodes):
        t = time.monotonic() - started
        if mode in ('early', 'late'):
            return t >= arg
        if t > self.kill_by:
            return True
        if mode == 'staging':
            busy = sum(1 for n in nodes if n['provision_state'] ==
                       'rescuing' and n['reservation'] is not None)
            return busy >= arg
        return self.swarm.stats().get('finalized', 0) >= arg

    def chaos(self):
        """The seeded mix until the seeded moment; then SIGKILL."""
        rng = self.rng
        mode = rng.choice(KILL_MODES)
        arg = {'early': rng.uniform(0.0, 0.4),
               'staging': rng.randint(3, 25),
               'finalize': rng.randint(1, 30),
               'late': rng.uniform(0.5, self.kill_by)}[mode]
        self.figures['kill_mode'] = mode
        self.log('seed %d: kill %s (%s)' % (self.seed, mode, arg))
        started = time.monotonic()
        nodes = list_nodes(self.d)
        while True:
            special = [n for n in nodes if n['uuid'] in self.special]
            for node in [rng.choice(nodes) for _ in range(10)] + [
                    rng.choice(special) for _ in range(SPECIAL_PICKS)
                    if special]:
                verb = self._verb(node)
                if verb is not None:
                    self._send(node['uuid'], verb)
                    node['reservation'] = 'sent'
            nodes = list_nodes(self.d)
            if self._kill_due(mode, arg, started, nodes):
                break
        self.figures['killed_after'] = time.monotonic() - started
        self.d.kill()
        self.at_kill = store_nodes(self.d)
        mid = self.figures['mid_rescue_at_kill'] = {}
        for u, (kind, _) in self.special.items():
            if self.at_kill[u]['state'] in STAGED_OK:
                mid[kind] = mid.get(kind, 0) + 1
        # ISOs being built as lifeboatd died (the builder's temporary).
        mid['iso_builds'] = len(list(
            (self.lab.http / 'redfish').glob('*/.build-*')))
        self.figures['before'] = _count(
            {'provision_state': r['state']} for r in self.at_kill.values())

    # -- after the restart ----------------------------------------------------

    def recover(self):
        """Restarts on the same state (for some seeds a second SIGKILL cuts
        the recovery's own clean-up short first, and it starts again);
        waits up to the recovery interval for every node to settle.
        Returns the nodes."""
        self.d.session = requests.Session()
        self.figures['kills'] = self.kills
        if self.kills == 2:
            self.d.start()
            late = time.monotonic() + self.rng.uniform(0.0, 0.3)
            wait_for(lambda: time.monotonic() > late or any(
                n['reservation'] for n in list_nodes(self.d)), 5,
                interval=0.01, what='the recovery to be under way')
            self.d.kill()
            self.d.session = requests.Session()
            # What the checks hold recovery to: the store as the last
            # kill left it (agents go on between the kills).
            self.at_kill = store_nodes(self.d)
        started = time.monotonic()
        self.d.start()
        nodes = self._settle(STABLE | {'rescue wait'}, RECOVERY,
                             'every node to settle')
        self.figures['recovery_s'] = time.monotonic() - started
        self.figures['after'] = _count(nodes)
        return nodes

    def _settle(self, states, timeout, what):
        """The nodes once none is reserved or has a power action pending
        and all are in 'states'; as they are at 'timeout' otherwise (the
        checks then say what is wrong)."""
        def settled():
            nodes = list_nodes(self.d)
            if all(n['reservation'] is None and
                   n['target_power_state'] is None and
                   n['provision_state'] in states for n in nodes):
                return nodes
            return None
        try:
            return wait_for(settled, timeout, interval=0.1, what=what)
        except AssertionError:
            return list_nodes(self.d)

    def check(self, nodes, when):
        """Every invariant; problems are appended, the count returned."""
        before = len(self.problems)
        seen = {n['uuid']: n for n in nodes}
        for u in self.uuids:
            if u not in seen:
                self.problem(u, '%s: lost (not listed any more)' % when)
        for n in nodes:
            self._check_node(n, when)
        self._check_ports(when)
        self._check_secrets(seen, when)
        self._check_files(seen, when)
        return len(self.problems) - before

    def _check_node(self, n, when):
        u, st = n['uuid'], n['provision_state']
        if n['reservation'] is not None:
            self.problem(u, '%s: still reserved by %s (state %s)'
                         % (when, n['reservation'], st))
        if n['target_power_state'] is not None:
            self.problem(u, '%s: power action to %s still pending'
                         % (when, n['target_power_state']))
        if st not in STABLE and st != 'rescue wait':
            self.problem(u, '%s: in transient state "%s"' % (when, st))

    def _check_ports(self, when):
        ports = self.d.get('/v1/ports?fields=node_uuid,address').json()[
            'ports']
        have = {p['node_uuid']: p['address'] for p in ports}
        for u, mac in self.macs.items():
            if have.get(u) != mac:
                self.problem(u, '%s: port %s lost' % (when, mac))

    def _check_secrets(self, seen, when):
        for u, row in store_nodes(self.d).items():
            if row['hash'] and row['state'] not in HASH_OK:
                self.problem(u, '%s: password hash kept in "%s"'
                             % (when, row['state']))
            if row['token'] and row['state'] not in TOKEN_OK:
                self.problem(u, '%s: agent token kept in "%s"'
                             % (when, row['state']))

    def check_recovered(self, nodes):
        """What recovery did with each node against the store as the kill
        left it: a transition cut short failed with a last_error saying
        so; a node in rescue wait still waits (or was rescued since) with
        the token it had."""
        now = store_nodes(self.d)
        for n in nodes:
            u, st = n['uuid'], n['provision_state']
            was = self.at_kill.get(u)
            if was is None:
                continue
            busy = was['reservation'] is not None or \
                was['power'] is not None or was['state'] not in \
                STABLE | {'rescue wait'}
            # Cut short: a transition, or a power action (a clean-up
            # redone keeps the error the node had, or none after an abort).
            cut = was['power'] is not None or was['state'] not in \
                STABLE | {'rescue wait'}
            if cut and st in FAILED and not n['last_error']:
                self.problem(u, 'recovered from "%s" to "%s" without a '
                             'last_error' % (was['state'], st))
            if not cut and st == was['state'] and was['last_error'] and \
                    not n['last_error']:
                self.problem(u, 'lost its last_error %r in recovery'
                             % was['last_error'])
            if was['state'] == 'rescue wait' and not busy:
                if st not in ('rescue wait', 'rescue'):
                    self.problem(u, 'was waiting for its agent, recovery '
                                 'left it in "%s" (last_error %r)'
                                 % (st, n['last_error']))
                elif st == 'rescue wait' and was['token'] is not None \
                        and now[u]['token'] != was['token']:
                    self.problem(u, 'still in rescue wait but its agent '
                                 'token changed or went')

    def _check_files(self, seen, when):
        for u, mac in self.macs.items():
            self._judge(u, seen, when, lambda st, rsv, u=u, mac=mac:
                        self._files_wrong(u, mac, st, rsv))
            kind, k = self.special.get(u, (None, None))
            if kind == 'vmedia':
                self._judge(u, seen, when, lambda st, rsv, u=u, k=k:
                            self._vmedia_wrong(u, k, st, rsv))
            elif kind == 'switch':
                self._judge(u, seen, when, lambda st, rsv, u=u, k=k:
                            self._switch_wrong(u, k, st, rsv))
        self._check_stray(when)

    def _judge(self, u, seen, when, wrong):
        """wrong(state, reservation) -> what is wrong with the node, or
        None; first by the list 'seen', then (an agent may have finished
        its rescue since the list, and cleaned up) by the node now."""
        what = wrong(seen.get(u, {}).get('provision_state'),
                     seen.get(u, {}).get('reservation'))
        if what is not None:
            now = get_node(self.d, u)
            what = wrong(now['provision_state'], now['reservation'])
        if what is not None:
            self.problem(u, '%s: %s' % (when, what))

    def _vmedia_wrong(self, u, k, st, reservation):
        """An ISO only in rescuing/rescue wait; the BMC's medium is an ISO
        that exists, or none; rescue wait has both."""
        isos = self.isos(u)
        if isos and st not in STAGED_OK:
            return 'ISO left in "%s": %s' % (st, ', '.join(map(str, isos)))
        media = self.emu.machine(k)['media']
        image = media['image'] if media['inserted'] else None
        if image is not None:
            rel = image[len(self.lab.http_url):].lstrip('/')
            if not image.startswith(self.lab.http_url) or \
                    not (self.lab.http / rel).is_file():
                return 'the BMC\'s medium %s is no ISO there is (in ' \
                    '"%s")' % (image, st)
        if st == 'rescue wait' and reservation is None and \
                (not isos or image is None):
            return '"rescue wait" with ISOs %s, BMC medium %s' % (
                [str(p) for p in isos], image)
        return None

    def _switch_wrong(self, u, k, st, reservation):
        """The port on the rescuing VLAN only in rescuing/rescue wait, on
        its tenant VLAN otherwise (the kernel's bridges); the store's
        tenant VLAN record, while there is one, the tenant VLAN."""
        if st == 'rescuing' and reservation is not None:
            return None         # the rescue job moves it as we look
        vlan = Switch.vlan(k)
        tenant = tenant_vlan(k)
        want = RESCUING_VLAN if st in STAGED_OK else tenant
        rec = store_nodes(self.d, u)[u]['vlans']
        if vlan != want:
            return 'switch port %s on VLAN %s in "%s" (tenant %d, record ' \
                '%r)' % (switch_port(k), vlan, st, tenant, rec)
        if st in STAGED_OK and rec != {self.macs[u]: tenant}:
            return 'switch port %s on the rescuing VLAN, tenant VLAN ' \
                'record %r, not %d' % (switch_port(k), rec, tenant)
        if st not in STAGED_OK and rec is not None:
            return 'tenant VLAN record %r kept in "%s"' % (rec, st)
        return None

    def _files_wrong(self, u, mac, st, reservation):
        """What is wrong with the node's staged files in state 'st'."""
        lab = self.lab
        left = lab.leftovers(u, mac)
        if left and st not in STAGED_OK:
            return 'staged files left in "%s": %s' % (st, ', '.join(left))
        host = lab.host_file(mac)
        # The switch interface's tenant network has its own DHCP: ignored.
        rest = '%s,ignore\n' if self.special.get(u, ('',))[0] == \
            'switch' else '%s\n'
        if host.exists() and st not in STAGED_OK and \
                host.read_text() != rest % mac:
            return 'dnsmasq host entry in "%s": %r' % (st, host.read_text())
        if st in STAGED_OK and reservation is None and \
                self.special.get(u, ('',))[0] != 'vmedia':
            cfg = lab.staged_files(u, mac)['tftp_config']
            if not cfg.exists() or cfg.stat().st_size == 0:
                return '"%s" without its boot config' % st
        return None

    def _check_stray(self, when):
        """Files no node owns, or half written (a temporary that stays:
        one being written as we look goes in a moment)."""
        known = set(self.uuids) | {m.replace(':', '-') for m in
                                   self.macs.values()} | set(
            self.macs.values())
        # http_root/redfish/ has a directory per virtual media node only.
        vmedia = {u for u, (kind, _) in self.special.items()
                  if kind == 'vmedia'}
        temps = []
        for root, owners in ((self.lab.tftp, known), (self.lab.http, known),
                             (self.lab.optsdir, known),
                             (self.lab.hostsdir, known),
                             (self.lab.http / 'redfish', vmedia)):
            for dirpath, dirs, files in os.walk(root):
                for f in files + dirs:
                    path = os.path.join(dirpath, f)
                    if f.startswith('.') or f.endswith('~'):
                        temps.append(path)
                    elif dirpath == str(root) and f not in (
                            'pxelinux.cfg', 'master_images',
                            'redfish') and \
                            not any(k in f for k in owners):
                        self.problem('-', '%s: stray file %s'
                                     % (when, path))
        try:
            wait_for(lambda: not any(os.path.lexists(p) for p in temps),
                     TEMP_GRACE, interval=0.05, what='temporaries to go')
        except AssertionError:
            for p in temps:
                if os.path.lexists(p):
                    self.problem('-', '%s: half-written file %s'
                                 % (when, p))

    # -- the operator's next verb ---------------------------------------------

    NEXT = {'active': ('rescue', 'rescue'), 'rescue': ('unrescue', 'active'),
            'rescue failed': ('unrescue', 'active'),
            'unrescue failed': ('unrescue', 'active'),
            'rescue wait': ('abort', 'rescue failed')}

    def next_verbs(self, nodes):
        """Each node's next verb (rescue failed: rescue or unrescue, rescue
        wait: abort or keep waiting, seeded); every one must be accepted
        and end where it should.  Returns the nodes at the end."""
        plan = []
        for n in nodes:
            st = n['provision_state']
            verb, end = self.NEXT.get(st, (None, None))
            if st == 'rescue failed' and self.rng.random() < 0.5:
                verb, end = 'rescue', 'rescue'
            if st == 'rescue wait' and self.rng.random() < 0.5:
                verb, end = None, 'rescue'      # the agent finishes it
            plan.append((n['uuid'], st, verb, end))
        with ThreadPoolExecutor(SENDERS) as pool:
            codes = list(pool.map(lambda p: p[2] and until_taken(
                lambda: self._send(p[0], p[2]), SETTLE), plan))
        want = {}
        for (u, st, verb, end), code in zip(plan, codes):
            if verb is not None and code != 202:
                now = get_node(self.d, u)
                if st == 'rescue wait' and now['provision_state'] in (
                        'rescuing', 'rescue'):
                    want[u] = ('(agent)', st, 'rescue')
                    continue    # its agent came first: rescued instead
                self.problem(u, 'next verb %s refused in "%s" (%s, now '
                             '"%s")' % (verb, st, code,
                                        now['provision_state']))
                continue
            if end is not None:
                want[u] = (verb, st, end)
        nodes = self._settle(STABLE, SETTLE, 'the next verbs to end')
        for n in nodes:
            verb, st, end = want.get(n['uuid'], (None, None, None))
            if end is not None and n['provision_state'] != end and \
                    (verb is None or verb == 'rescue') and \
                    self._token_lost(n, verb):
                continue
            if end is not None and n['provision_state'] != end:
                self.problem(n['uuid'], 'next verb %s from "%s" ended in '
                             '"%s", not "%s" (last_error %r)' % (
                                 verb, st, n['provision_state'], end,
                                 n['last_error']))
        return nodes

    def _token_lost(self, n, verb):
        """True for a node whose rescue timed out for a reason outside
        lifeboatd: the wall clock was stepped during the run (see
        clock_stepped), or (a node waiting for its agent) that agent could
        not authenticate, none of its heartbeats accepted: the kill took
        the lookup's reply with it (the token was issued and stored, the
        agent never got it, and a token is issued once, as Ironic's).  (A
        node aborted and rescued again between two polls of the swarm gets
        a new agent since bench/swarm.py watches provision_updated_at.)
        The callback timeout fails the node, saying so.  Counted in the figures; check_recovered() holds the
        tokens across the restart itself."""
        agent = self.swarm.agent(n['uuid'])
        timed_out = n['provision_state'] == 'rescue failed' and \
            (n['last_error'] or '').startswith('Timeout reached')
        if timed_out and self.clock_stepped():
            self.figures['clock_timeouts'] = self.figures.get(
                'clock_timeouts', 0) + 1
            return True
        lost = verb is None and timed_out and agent is not None and \
            agent['heartbeats'] == 0
        if lost:
            self.figures['token_lost'] = self.figures.get('token_lost',
                                                          0) + 1
        return lost

    def clock_stepped(self):
        """True once the wall clock has been stepped by over a second
        during the run (then a callback timeout may fire early: counted,
        not a finding)."""
        step = _wall_offset() - self._offset
        self.figures['clock_step'] = round(step, 2)
        return abs(step) > 1.0

    def play(self):
        """The whole run; returns the problems (empty: all held).
        figures['phases']: seconds each phase took."""
        phases = self.figures['phases'] = {}
        mark = [time.monotonic()]

        def phase(name):
            now = time.monotonic()
            phases[name] = round(now - mark[0], 2)
            mark[0] = now
        self.setup()
        phase('setup')
        self.chaos()
        phase('chaos')
        nodes = self.recover()
        phase('recover')
        self.check_recovered(nodes)
        self.figures['settled'] = self.check(nodes, 'after recovery') == 0
        phase('check')
        nodes = self.next_verbs(nodes)
        phase('next_verbs')
        self.check(nodes, 'after the next verbs')
        phase('check_again')
        self.figures['swarm'] = self.swarm.stats()
        self.clock_stepped()
        return self.problems


def _wall_offset():
    """Wall clock minus monotonic clock: its change over a run is how far
    the wall clock was stepped (the callback timeout is wall time against
    provision_updated_at, as Ironic's)."""
    return time.time() - time.monotonic()


def _count(nodes):
    out = {}
    for n in nodes:
        out[n['provision_state']] = out.get(n['provision_state'], 0) + 1
    return out
