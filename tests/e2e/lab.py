"""The end-to-end lab: one network namespace whose bridges play the
top-of-rack switch, the services a rescue needs, lifeboatd, and one of the
lab's BMCs in front of a QEMU machine: the IPMI BMC with a SeaBIOS machine
that PXE-boots (the default), or (``bmc='redfish', firmware='uefi',
pxe=False``) the Redfish BMC with an OVMF machine that can only boot from
its disk or the BMC's virtual CD: no TFTP server, no boot options from
DHCP and no option ROM on its NIC.

Layout (names and addresses are private to the namespace ``lb-e2e-<pid>``),
with a VLAN-filtering bridge (``[switch] backend = linux-bridge``)::

    QEMU virtio-net --- tap0 ---+ br0 (vlan_filtering=1, no default PVID)
                                |-- br0.100  10.100.0.1/24     tenant VLAN
                                `-- br0.200  10.200.0.1/24     rescuing VLAN

and, on kernels without bridge VLAN filtering or 802.1Q (this build
machine's kernel has neither: CONFIG_BRIDGE_VLAN_FILTERING and
CONFIG_VLAN_8021Q are off), one bridge per VLAN
(``[switch] backend = linux-bridge-per-vlan``)::

    QEMU virtio-net --- tap0 --- br0v100  10.100.0.1/24        tenant VLAN
                                 br0v200  10.200.0.1/24        rescuing VLAN

or (``network='flat'``) one flat network without VLANs, where one
dnsmasq configured from ``etc/dnsmasq.conf.example`` (hostsdir/optsdir, a
dynamic range, lease time 2m) is the only DHCP server, before, during and
after the rescue::

    QEMU virtio-net --- tap0 --- br0  10.200.0.1/24, fd98::1/64

With ``bmc='ipmi-sim'`` the BMC is OpenIPMI's ``ipmi_sim``
(tests/lab/ipmi_sim_bmc.py, UDP 127.0.0.1:6230 in the namespace), which
needs the FreeIPMI workaround flags ``opensesspriv,solpayloadsize`` (in
the node's driver_info) and has Serial-over-LAN: QEMU's serial port is the
BMC's (relayed to ipmi_sim's SOL and appended to the lab's console file),
and the node gets ``console_interface ipmitool-socat``, served by
lifeboatd at ``[console] socat_address`` = the rescuing VLAN's gateway,
ports from CONSOLE_PORT.

With ``bmc_network='management'`` (Redfish only) the BMC lives in a
namespace of its own, ``lb-e2e-<pid>-mgmt``, joined to the lab's by a
veth on a management subnet and nothing else (no default route)::

    lb-e2e-<pid>                              lb-e2e-<pid>-mgmt
    ve-mgmt 10.50.0.1/24  <--- veth --->  eth0 10.50.0.2/24  Redfish BMC

lifeboatd serves ``[deploy] external_http_url`` (http://10.50.0.1:8088) for
the BMC there, while the ramdisk's ``http_url`` stays on the rescuing
VLAN, which the BMC cannot reach; QEMU still runs in the lab's namespace
(the BMC starts it through nsenter), on tap0.

Either way ``local_link_connection`` is {switch_info: br0, port_id: tap0},
tap0 starts as an access port of the tenant VLAN 100 and lifeboat's
``switch`` network interface moves it to the rescuing VLAN 200 and back.
The mode is probed (``LB_E2E_SWITCH`` forces one).

On the tenant VLAN: a dnsmasq that gives the machine's MAC a fixed
address and no boot file.  On the rescuing VLAN: fd98::1/64 and router
advertisements (so iPXE does not wait ~13 s for IPv6), lifeboat's dnsmasq
(dhcp-hostsdir/dhcp-optsdir, ``dhcp-match=set:ipxe,175``; ``no-ping`` and
iPXE's ``no-pxedhcp`` (option 175.176) save ~3 s of DHCP), in.tftpd with
pxelinux.0, lpxelinux.0, ldlinux.c32 and ipxe.lkrn (``pxe_bootfile`` picks
the one lifeboat hands out, ``pxe_fetch`` sets [pxe] pxelinux_fetch), and
lifeboatd (API and HTTP boot root).  The
IPMI BMC (UDP 127.0.0.1:6230 in the namespace) starts QEMU in the
namespace so that QEMU can open tap0; QEMU's serial console goes to a
file (appended across power cycles) that a thread here tails.

Every line a process prints and every console line gets a monotonic time
stamp when it is read (``Lab.events``).  Every process is started here,
tracked by its PID, and stopped by that PID in reverse order (SIGTERM,
then SIGKILL); QEMU PIDs are learnt from the BMC's log and stopped by PID
too.  ``Lab.close()`` (also run by ``with Lab() as lab``) stops
everything, deletes the namespaces and the work directory, whatever failed
before, and copies the logs to ``keep``.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What the lab runs, from the build tree unless the environment says else
# (the e2e tests and tools/demo read the same).
LIFEBOATD = Path(os.environ.get('LIFEBOATD',
                                REPO / 'build' / 'conductor' / 'lifeboatd'))
RAMDISK_DIR = Path(os.environ.get('LB_E2E_RAMDISK_DIR',
                                  REPO / 'build' / 'ramdisk-image'))
AGENT = Path(os.environ.get('LB_E2E_AGENT',
                            REPO / 'build' / 'ramdisk' / 'lifeboat-agent'))
PYTHON = '/usr/bin/python3'
OPENSTACK = '/usr/bin/openstack'
IPMI_BMC = REPO / 'tests' / 'lab' / 'ipmi_bmc.py'
sys.path.append(str(REPO / 'tests' / 'lab'))
sys.path.append(str(REPO / 'tests' / 'e2e'))
from ipmi_sim_bmc import SimBmc     # noqa: E402  (bmc ipmi-sim)
import instance as instance_mod     # noqa: E402  (FILES)
REDFISH_BMC = REPO / 'tests' / 'lab' / 'redfish_bmc.py'

TENANT_VLAN = 100
RESCUE_VLAN = 200
TENANT_NET = '10.100.0'
RESCUE_NET = '10.200.0'
GATEWAY_TENANT = TENANT_NET + '.1'
GATEWAY_RESCUE = RESCUE_NET + '.1'
MACHINE_MAC = '52:54:00:e2:e0:01'
MACHINE_TENANT_IP = TENANT_NET + '.50'
ULA = 'fd98::1/64'
SWITCH_MAC = '02:00:00:e2:e0:fe'      # the "switch" (switch_id)
SWITCH_MAC2 = '02:00:00:e2:e0:fd'     # the rescuing VLAN's bridge, per-VLAN
API_PORT = 6385
HTTP_PORT = 8088
BMC_PORT = 6230
REDFISH_PORT = 8000
REDFISH_SYSTEM = '/redfish/v1/Systems/1'
REDFISH_CD = '/redfish/v1/Managers/1/VirtualMedia/Cd'
BMC_CONTROL_PORT = 6200
CONSOLE_PORT = 6300                   # [console] port_range (ipmi-sim)
# what ipmi_sim needs from libfreeipmi and libipmiconsole (ipmi-sim)
SIM_WORKAROUNDS = 'opensesspriv,solpayloadsize'
MGMT_NET = '10.50.0'                  # bmc_network='management'
MGMT_HOST_IP = MGMT_NET + '.1'        # lifeboatd's external_http_url
MGMT_BMC_IP = MGMT_NET + '.2'
BMC_USER = 'admin'
BMC_PASSWORD = 'password'

FLAT_LEASE = '2m'                      # a renewal within a minute
DNSMASQ_EXAMPLE = REPO / 'etc' / 'dnsmasq.conf.example'

PXELINUX = '/usr/lib/PXELINUX/pxelinux.0'
# pxelinux with an HTTP client: lifeboat then stages kernel and ramdisk
# below http_root and names them by URL ([pxe] pxelinux_fetch = auto)
LPXELINUX = '/usr/lib/PXELINUX/lpxelinux.0'
# iPXE as a Linux kernel (package ipxe): pxelinux boots it with
# [pxe] pxelinux_fetch = ipxe, and it fetches kernel and ramdisk over HTTP
IPXE_LKRN = '/boot/ipxe.lkrn'
LDLINUX = '/usr/lib/syslinux/modules/bios/ldlinux.c32'
# UEFI network loaders, under lifeboat's default [pxe] uefi_pxe_bootfile_name
# and uefi_ipxe_bootfile_name: grub (which reads grub/grub.cfg, lifeboat's
# master config) and iPXE for UEFI's network stack (Debian's ipxe)
UEFI_LOADERS = {'bootx64.efi':
                '/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi',
                'snponly.efi': '/usr/lib/ipxe/snponly.efi'}

STOP_GRACE = 5.0

_ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1bc')


class LabError(RuntimeError):
    pass


# ------------------------------------------------------------- the events

class Events:
    """Time-stamped lines from every source, in the order they were read.

    A line is ``(t, source, text)`` with ``t`` from ``time.monotonic()``.
    Each line is also appended to ``<logdir>/<source>.log`` with its time
    relative to the lab's start.
    """

    def __init__(self, logdir, t0, deadline=None):
        self.logdir = Path(logdir)
        self.t0 = t0
        self.deadline = deadline    # monotonic; no wait goes past it
        self.lines = []
        self.cond = threading.Condition()
        self._files = {}

    def add(self, source, text):
        t = time.monotonic()
        with self.cond:
            self.lines.append((t, source, text))
            f = self._files.get(source)
            if f is None:
                f = self._files[source] = open(
                    self.logdir / ('%s.log' % source), 'a', buffering=1)
            f.write('%9.3f %s\n' % (t - self.t0, text))
            self.cond.notify_all()
        return t

    def mark(self):
        """A position: only lines after it are matched by ``wait(after=)``."""
        with self.cond:
            return len(self.lines)

    def find(self, pattern, source=None, after=0):
        rx = re.compile(pattern)
        with self.cond:
            for t, src, text in self.lines[after:]:
                if (source is None or src == source) and rx.search(text):
                    return t, text
        return None

    def wait(self, pattern, source=None, after=0, timeout=60.0, fail=None,
             what=None):
        """The first line after ``after`` matching ``pattern``: (t, text).

        ``fail`` (a pattern) ends the wait early with an error when a line
        matches it (for example lifeboatd logging "rescue failed").
        """
        rx = re.compile(pattern)
        frx = re.compile(fail) if fail else None
        deadline = time.monotonic() + timeout
        if self.deadline is not None and deadline > self.deadline:
            deadline = self.deadline
            timeout = max(0.0, deadline - time.monotonic())
            what = '%s (cut short: the lab\'s time budget is spent)' % (
                what or pattern)
        i = after
        with self.cond:
            while True:
                while i < len(self.lines):
                    t, src, text = self.lines[i]
                    i += 1
                    if source is not None and src != source:
                        continue
                    if rx.search(text):
                        return t, text
                    if frx is not None and frx.search(text):
                        raise LabError('while waiting for %s: %s: %s' % (
                            what or pattern, src, text))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabError('timed out after %.0f s waiting for %s '
                                   '(source %s)' % (timeout, what or pattern,
                                                    source or 'any'))
                self.cond.wait(min(left, 0.5))

    def tail(self, source, n=40):
        with self.cond:
            got = [(t, text) for t, src, text in self.lines if src == source]
        return '\n'.join('%9.3f %s' % (t - self.t0, text)
                         for t, text in got[-n:])

    def close(self):
        with self.cond:
            for f in self._files.values():
                f.close()
            self._files.clear()


def _pump(stream, events, source):
    for raw in iter(stream.readline, b''):
        text = _ANSI.sub('', raw.decode('utf-8', 'replace')).rstrip('\r\n')
        events.add(source, text.replace('\r', ''))
    stream.close()


class FileTail(threading.Thread):
    """Follows a file that QEMU appends the serial console to."""

    def __init__(self, path, events, source, interval=0.05):
        super().__init__(daemon=True, name='tail-%s' % source)
        self.path = Path(path)
        self.events = events
        self.source = source
        self.interval = interval
        self.stop = threading.Event()

    def run(self):
        pos, partial = 0, b''
        while True:
            stopping = self.stop.is_set()
            try:
                with open(self.path, 'rb') as f:
                    f.seek(pos)
                    data = f.read()
            except FileNotFoundError:
                data = b''
            if data:
                pos += len(data)
                partial += data
                *lines, partial = re.split(rb'\r?\n|\r(?!\n)', partial)
                for raw in lines:
                    text = _ANSI.sub('', raw.decode('utf-8', 'replace'))
                    if text.strip():
                        self.events.add(self.source, text)
            if stopping:
                if partial.strip():
                    self.events.add(self.source,
                                    partial.decode('utf-8', 'replace'))
                return
            self.stop.wait(self.interval)


# -------------------------------------------------------------- processes

class Proc:
    def __init__(self, name, popen):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.threads = []

    def alive(self):
        return self.popen.poll() is None


def _pid_is(pid, word):
    """Whether PID still runs a program whose command line has ``word``
    (guards against killing a reused PID)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return word.encode() in f.read()
    except OSError:
        return False


def _stop_pid(pid, grace=STOP_GRACE, popen=None):
    """SIGTERM, then SIGKILL after ``grace`` seconds; by PID only."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if popen is not None:
            if popen.poll() is not None:
                return
        elif not os.path.exists('/proc/%d' % pid) or _zombie(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if popen is not None:
        try:
            popen.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _zombie(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


# ---------------------------------------------------------- requirements

# program -> Debian package (tools/deps demo installs them all)
TOOLS = {
    'ip': 'iproute2', 'bridge': 'iproute2', 'ping': 'iputils-ping',
    'curl': 'curl', 'dnsmasq': 'dnsmasq-base', 'in.tftpd': 'tftpd-hpa',
    'qemu-system-x86_64': 'qemu-system-x86', 'sshpass': 'sshpass',
    'ssh': 'openssh-client', 'mkfs.fat': 'dosfstools', 'mcopy': 'mtools',
    'syslinux': 'syslinux', 'cpio': 'cpio', 'mmd': 'mtools',
    'grub-mkimage': 'grub-common', 'xorriso': 'xorriso',
}
FILES = {
    PXELINUX: 'pxelinux', LPXELINUX: 'pxelinux',
    LDLINUX: 'syslinux-common', IPXE_LKRN: 'ipxe',
    instance_mod.MBR_BIN: 'syslinux-common',
    instance_mod.BUSYBOX: 'busybox-static',
    '/usr/lib/ipxe/qemu/efi-virtio.rom': 'ipxe-qemu',
    instance_mod.GRUB_EFI_DIR: 'grub-efi-amd64-bin',
    '/usr/share/ovmf/OVMF.fd': 'ovmf',
    OPENSTACK: 'python3-openstackclient python3-ironicclient',
}


def missing_requirements(lifeboatd):
    """Why a lab cannot run here (None if it can): root, the Debian
    packages of TOOLS and FILES, ``lifeboatd`` built, IPv6."""
    if os.geteuid() != 0:
        return ('needs root (network namespaces, a bridge, tap devices); '
                'run as root')
    missing = sorted({pkg for tool, pkg in TOOLS.items()
                      if shutil.which(tool) is None} |
                     {pkg for f, pkg in FILES.items()
                      if not os.path.exists(f)})
    if missing:
        return 'missing Debian packages: apt-get install %s' % ' '.join(
            missing)
    if not Path(lifeboatd).is_file():
        return '%s is not built (ninja -C build)' % lifeboatd
    if not os.path.isdir('/proc/sys/net/ipv6'):
        return 'the kernel has no IPv6 (the lab uses an IPv6 RA)'
    return None


def missing_rescue_parts(ramdisk_dir, agent):
    """Why a rescue cannot run yet (None if it can): the ramdisk image in
    ``ramdisk_dir`` and the ``agent`` it should carry."""
    ramdisk_dir = Path(ramdisk_dir)
    for f in (ramdisk_dir / 'vmlinuz', ramdisk_dir / 'initramfs'):
        if not f.is_file():
            return '%s is missing (build the rescue ramdisk: ramdisk/build)' \
                % f
    if not Path(agent).is_file():
        return '%s is missing (ninja -C build)' % agent
    info = ramdisk_dir / 'build-info'
    if info.is_file() and 'placeholder' in info.read_text():
        return ('%s holds the placeholder agent, not lifeboat-agent '
                '(rebuild it: ramdisk/build)' % ramdisk_dir)
    return None


# ------------------------------------------------------------------- lab

def _check_lab_options(bmc, firmware, network, bmc_network):
    if bmc not in ('ipmi', 'redfish', 'ipmi-sim') or \
            firmware not in ('bios', 'uefi') or \
            (bmc == 'ipmi-sim' and firmware != 'bios'):
        raise ValueError('bmc ipmi|redfish|ipmi-sim, firmware bios|uefi '
                         '(ipmi-sim: bios)')
    if network not in ('vlan', 'flat'):
        raise ValueError('network vlan|flat')
    if bmc_network not in (None, 'management') or (
            bmc_network and bmc != 'redfish'):
        raise ValueError('bmc_network: None, or management (redfish)')


class Lab:
    """See the module docstring.  Use as a context manager."""

    def __init__(self, lifeboatd, ramdisk_dir, instance_disk, keep=None,
                 log=None, switch_backend=None, budget=None, bmc='ipmi',
                 firmware='bios', pxe=True, quirks=(), machine=None,
                 conductor=None, network='vlan',
                 pxe_bootfile='pxelinux.0', bmc_network=None,
                 pxe_fetch=None, console=None):
        _check_lab_options(bmc, firmware, network, bmc_network)
        # vlan: the switch with a tenant and a rescuing VLAN; flat: one
        # bridge, one dnsmasq (see the module docstring)
        self.network = network
        # 'management': the BMC in its own namespace (module docstring)
        self.bmc_network = bmc_network
        self.bmc_ns = None
        self.bmc_ip = MGMT_BMC_IP if bmc_network else '127.0.0.1'
        self.bmc = bmc
        self.firmware = firmware
        self.pxe = pxe
        # [pxe] pxe_bootfile_name: pxelinux.0 (all over TFTP) or
        # lpxelinux.0 (kernel and ramdisk over HTTP)
        self.pxe_bootfile = pxe_bootfile
        # [pxe] pxelinux_fetch (None: lifeboat's default, auto)
        self.pxe_fetch = pxe_fetch
        self.quirks = list(quirks)
        # the machine's hardware (see qemu_args); None: the default machine
        self.machine = dict(machine or {})
        unknown = set(self.machine) - {'memory', 'nic', 'nic_romfile',
                                       'disks', 'devices', 'instance_disk'}
        if unknown:
            raise ValueError('unknown machine options: %s' % sorted(unknown))
        # [conductor] options that override the lab's
        self.conductor = dict(conductor or {})
        # [console] options that override the lab's (ipmi-sim)
        self.console_opts = dict(console or {})
        self.sim_bmc = None             # the SimBmc (ipmi-sim)
        self.lifeboatd = str(lifeboatd)
        self.ramdisk_dir = Path(ramdisk_dir)
        self.instance_disk = Path(instance_disk) if instance_disk else None
        self.ns = 'lb-e2e-%d' % os.getpid()
        self.t0 = time.monotonic()
        self.say = log or (lambda msg: None)
        self.keep = Path(keep) if keep else None   # where logs are copied
        reap_stale(self.events_log_fallback)
        self.work = Path(tempfile.mkdtemp(prefix='lb-e2e-%d-' % os.getpid()))
        os.chmod(self.work, 0o755)    # tftpd and dnsmasq run as nobody
        self.logdir = self.work / 'logs'
        self.logdir.mkdir()
        self.deadline = self.t0 + budget if budget else None
        self.events = Events(self.logdir, self.t0, self.deadline)
        self.procs = []
        self.qemu_pids = set()
        self.extra_ns = []
        self.tails = []
        self.ns_created = False
        self.closed = False
        self.bridge_mac = None
        # linux-bridge (VLAN filtering) or linux-bridge-per-vlan; None:
        # whichever this kernel supports
        self.switch_backend = switch_backend
        self.rescue_dnsmasq_extra = []
        self.api_url = 'http://%s:%d' % (GATEWAY_RESCUE, API_PORT)
        self.http_url = 'http://%s:%d' % (GATEWAY_RESCUE, HTTP_PORT)
        # where the BMC fetches virtual media from (None: http_url)
        self.external_http_url = ('http://%s:%d' % (MGMT_HOST_IP, HTTP_PORT)
                                  if bmc_network else None)
        d = self.work
        self.tftp_root = d / 'tftpboot'
        self.http_root = d / 'httpboot'
        self.hostsdir = d / 'dnsmasq-hostsdir'
        self.optsdir = d / 'dnsmasq-optsdir'
        self.state = d / 'lifeboat-state'
        self.qmp_dir = d / 'qmp'
        self.console = d / 'console.log'
        self.disk = d / 'disk.img'
        for p in (self.tftp_root, self.http_root, self.hostsdir,
                  self.optsdir, self.state, self.qmp_dir,
                  self.tftp_root / 'pxelinux.cfg'):
            p.mkdir(parents=True, exist_ok=True)
            os.chmod(p, 0o755)

    # --------------------------------------------------------- plumbing
    def __enter__(self):
        return self

    def events_log_fallback(self, msg):
        self.say(msg)

    def __exit__(self, *exc):
        self.close()

    def rel(self, t):
        return t - self.t0

    def budget_left(self, want):
        """``want`` seconds, or less if the lab's time budget is short."""
        if self.deadline is None:
            return want
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise LabError('the lab\'s time budget is spent')
        return min(want, left)

    def sh(self, *argv, check=True, timeout=60, input=None):
        """Runs a command in the host namespace; returns CompletedProcess."""
        argv = [str(a) for a in argv]
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise LabError('%s: exit %d: %s%s' % (
                shlex.join(argv), p.returncode, p.stderr.strip(),
                p.stdout.strip()))
        return p

    def nsrun(self, *argv, ns=None, **kw):
        """Runs a command inside the lab's namespace."""
        return self.sh('ip', 'netns', 'exec', ns or self.ns, *argv, **kw)

    def spawn(self, name, argv, ns=True, env=None):
        """Starts a long-running process, its output pumped into events;
        ``ns``: in the lab's namespace, or in the one named."""
        argv = [str(a) for a in argv]
        if ns:
            argv = ['ip', 'netns', 'exec',
                    ns if isinstance(ns, str) else self.ns] + argv
        self.events.add('lab', 'start %s: %s' % (name, shlex.join(argv)))
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        proc = Proc(name, popen)
        self.procs.append(proc)
        th = threading.Thread(target=_pump, daemon=True,
                              args=(popen.stdout, self.events, name))
        th.start()
        proc.threads.append(th)
        return proc

    def wait_ready(self, proc, pattern, timeout=30):
        mark = 0
        deadline = time.monotonic() + timeout
        while True:
            found = self.events.find(pattern, proc.name, mark)
            if found:
                return found
            if not proc.alive():
                raise LabError('%s exited (status %s) before it was ready:\n%s'
                               % (proc.name, proc.popen.returncode,
                                  self.events.tail(proc.name)))
            if time.monotonic() > deadline:
                raise LabError('%s not ready after %d s:\n%s' % (
                    proc.name, timeout, self.events.tail(proc.name)))
            time.sleep(0.05)

    def stop(self, proc):
        if proc.alive():
            self.events.add('lab', 'stop %s (pid %d)' % (proc.name, proc.pid))
            _stop_pid(proc.pid, popen=proc.popen)
        for th in proc.threads:
            th.join(2)

    # ---------------------------------------------------------- network
    def _probe_vlan_filtering(self):
        """Whether this kernel has bridge VLAN filtering and 802.1Q
        devices (CONFIG_BRIDGE_VLAN_FILTERING, CONFIG_VLAN_8021Q)."""
        ip = lambda *a: self.sh('ip', '-n', self.ns, *a,       # noqa: E731
                                check=False).returncode == 0
        ok = (ip('link', 'add', 'probe0', 'type', 'bridge', 'vlan_filtering',
                 '1') and
              ip('link', 'add', 'link', 'probe0', 'name', 'probe0.9', 'type',
                 'vlan', 'id', '9'))
        ip('link', 'del', 'probe0.9')
        ip('link', 'del', 'probe0')
        return ok

    def vlan_iface(self, vid):
        """The host's interface on VLAN ``vid`` (the flat network's
        bridge for any ``vid``)."""
        if self.network == 'flat':
            return 'br0'
        if self.switch_backend == 'linux-bridge':
            return 'br0.%d' % vid
        return 'br0v%d' % vid

    def setup_network(self):
        ns = self.ns
        self.sh('ip', 'netns', 'add', ns)
        self.ns_created = True
        ip = lambda *a: self.sh('ip', '-n', ns, *a)          # noqa: E731
        br = lambda *a: self.nsrun('bridge', *a)              # noqa: E731
        ip('link', 'set', 'lo', 'up')
        # Answer ARP only for addresses of the interface asked on, so a
        # machine on one VLAN cannot resolve the host's other VLAN.
        for key in ('net.ipv4.conf.all.arp_ignore=1',
                    'net.ipv4.conf.default.arp_ignore=1',
                    'net.ipv4.ip_forward=0'):
            self.nsrun('sysctl', '-qw', key)
        if self.network == 'flat':
            return self._setup_flat_network()
        if self.switch_backend is None:
            self.switch_backend = ('linux-bridge' if
                                   self._probe_vlan_filtering() else
                                   'linux-bridge-per-vlan')
        if self.switch_backend == 'linux-bridge':
            # one VLAN-filtering bridge, the host on 802.1Q sub-interfaces
            ip('link', 'add', 'br0', 'type', 'bridge', 'vlan_filtering', '1',
               'vlan_default_pvid', '0', 'stp_state', '0')
            ip('link', 'set', 'br0', 'address', SWITCH_MAC)
            ip('link', 'set', 'br0', 'up')
            for vid in (TENANT_VLAN, RESCUE_VLAN):
                br('vlan', 'add', 'dev', 'br0', 'vid', vid, 'self')
                ip('link', 'add', 'link', 'br0', 'name', self.vlan_iface(vid),
                   'type', 'vlan', 'id', vid)
        else:
            # no VLAN filtering in this kernel: one bridge per VLAN,
            # br0v<VID>, as lifeboat's linux-bridge-per-vlan backend expects
            for vid in (TENANT_VLAN, RESCUE_VLAN):
                ip('link', 'add', self.vlan_iface(vid), 'type', 'bridge',
                   'stp_state', '0', 'forward_delay', '0')
                ip('link', 'set', self.vlan_iface(vid), 'address',
                   SWITCH_MAC if vid == TENANT_VLAN else SWITCH_MAC2)
        for vid, net in ((TENANT_VLAN, TENANT_NET), (RESCUE_VLAN, RESCUE_NET)):
            ip('addr', 'add', '%s.1/24' % net, 'dev', self.vlan_iface(vid))
            ip('link', 'set', self.vlan_iface(vid), 'up')
        ip('-6', 'addr', 'add', ULA, 'dev', self.vlan_iface(RESCUE_VLAN),
           'nodad')
        ip('tuntap', 'add', 'tap0', 'mode', 'tap')
        self.attach('tap0', TENANT_VLAN)
        self.bridge_mac = SWITCH_MAC
        self.events.add('lab', 'namespace %s: switch %s (%s), tap0 on vlan '
                        '%d' % (ns, SWITCH_MAC, self.switch_backend,
                                TENANT_VLAN))
        if self.bmc_network:
            self.setup_bmc_network()

    def setup_bmc_network(self):
        """The BMC's namespace and its one link to the lab: a veth on the
        management subnet, no default route, so the BMC reaches
        MGMT_HOST_IP and nothing else of the lab's."""
        child = self.bmc_ns = '%s-mgmt' % self.ns
        self.sh('ip', 'netns', 'add', child)
        self.extra_ns.append(child)
        self.sh('ip', '-n', self.ns, 'link', 'add', 've-mgmt', 'type',
                'veth', 'peer', 'name', 'eth0', 'netns', child)
        self.sh('ip', '-n', self.ns, 'addr', 'add', MGMT_HOST_IP + '/24',
                'dev', 've-mgmt')
        self.sh('ip', '-n', self.ns, 'link', 'set', 've-mgmt', 'up')
        self.sh('ip', '-n', child, 'link', 'set', 'lo', 'up')
        self.sh('ip', '-n', child, 'addr', 'add', MGMT_BMC_IP + '/24', 'dev',
                'eth0')
        self.sh('ip', '-n', child, 'link', 'set', 'eth0', 'up')
        self.events.add('lab', 'namespace %s: the BMC at %s, lifeboatd at '
                        '%s' % (child, MGMT_BMC_IP, MGMT_HOST_IP))

    def bmc_fetch(self, url):
        """What ``curl URL`` gets from the BMC's namespace: (HTTP status,
        curl's error; 0 and the error when nothing answered)."""
        p = self.nsrun('curl', '-sS', '-m', '5', '-o', '/dev/null', '-w',
                       '%{http_code}', url, ns=self.bmc_ns or self.ns,
                       check=False)
        return int(p.stdout or 0), p.stderr.strip()

    def _setup_flat_network(self):
        """One bridge, no VLANs, tap0 on it: the host has the rescuing
        network's addresses there, so every URL stays the same."""
        ip = lambda *a: self.sh('ip', '-n', self.ns, *a)     # noqa: E731
        ip('link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0',
           'forward_delay', '0')
        ip('link', 'set', 'br0', 'address', SWITCH_MAC)
        ip('addr', 'add', '%s.1/24' % RESCUE_NET, 'dev', 'br0')
        ip('link', 'set', 'br0', 'up')
        ip('-6', 'addr', 'add', ULA, 'dev', 'br0', 'nodad')
        ip('tuntap', 'add', 'tap0', 'mode', 'tap')
        self.attach('tap0', None)
        self.bridge_mac = SWITCH_MAC
        self.events.add('lab', 'namespace %s: flat network br0 (%s), tap0 '
                        'on it' % (self.ns, SWITCH_MAC))

    def attach(self, port, vid):
        """Makes ``port`` an access port of ``vid`` and brings it up."""
        if self.network == 'flat':
            self.sh('ip', '-n', self.ns, 'link', 'set', port, 'master', 'br0')
        elif self.switch_backend == 'linux-bridge':
            self.sh('ip', '-n', self.ns, 'link', 'set', port, 'master', 'br0')
            self.nsrun('bridge', 'vlan', 'add', 'dev', port, 'vid', vid,
                       'pvid', 'untagged')
        else:
            self.sh('ip', '-n', self.ns, 'link', 'set', port, 'master',
                    self.vlan_iface(vid))
        self.sh('ip', '-n', self.ns, 'link', 'set', port, 'up')

    def port_vlans(self, port):
        """The VLANs ``port`` carries: {vid: set(flags)}.  With bridges
        per VLAN: {vid: {'PVID', 'Egress Untagged'}} for its bridge."""
        if self.switch_backend != 'linux-bridge':
            link = json.loads(self.sh('ip', '-n', self.ns, '-j', 'link',
                                      'show', port).stdout)
            master = link[0].get('master', '')
            m = re.fullmatch(r'br0v(\d+)', master)
            return {int(m.group(1)): {'PVID', 'Egress Untagged'}} if m \
                else {}
        out = json.loads(self.nsrun('bridge', '-j', 'vlan', 'show', 'dev',
                                    port).stdout or '[]')
        got = {}
        for entry in out:
            if entry.get('ifname') != port:
                continue
            for v in entry.get('vlans', []):
                got[v['vlan']] = set(v.get('flags', []))
        return got

    def pvid(self, port):
        """The access VLAN of a switch port."""
        for vid, flags in self.port_vlans(port).items():
            if 'PVID' in flags:
                return vid
        return None

    def add_client(self, name, vid, addrs):
        """A veth into a child namespace as an access port of ``vid``."""
        child = '%s-%s' % (self.ns, name)
        self.sh('ip', 'netns', 'add', child)
        self.extra_ns.append(child)
        port = 've-%s' % name
        self.sh('ip', '-n', self.ns, 'link', 'add', port, 'type', 'veth',
                'peer', 'name', 'eth0', 'netns', child)
        self.attach(port, vid)
        self.sh('ip', '-n', child, 'link', 'set', 'lo', 'up')
        for a in addrs:
            self.sh('ip', '-n', child, 'addr', 'add', a, 'dev', 'eth0')
        self.sh('ip', '-n', child, 'link', 'set', 'eth0', 'up')
        return child, port

    def remove_client(self, child, port):
        self.sh('ip', '-n', self.ns, 'link', 'del', port, check=False)
        self.sh('ip', 'netns', 'del', child, check=False)
        if child in self.extra_ns:
            self.extra_ns.remove(child)

    def set_access_vlan(self, port, vid):
        """What a switch does to move an access port (and what lifeboat's
        switch backends do to tap0)."""
        if self.switch_backend != 'linux-bridge':
            self.sh('ip', '-n', self.ns, 'link', 'set', port, 'master',
                    self.vlan_iface(vid))
            return
        old = self.pvid(port)
        self.nsrun('bridge', 'vlan', 'add', 'dev', port, 'vid', vid, 'pvid',
                   'untagged')
        if old is not None and old != vid:
            self.nsrun('bridge', 'vlan', 'del', 'dev', port, 'vid', old)

    def ping(self, ns, addr, count=1, wait=1):
        p = self.sh('ip', 'netns', 'exec', ns, 'ping', '-n', '-q', '-c',
                    count, '-W', wait, addr, check=False)
        return p.returncode == 0

    # --------------------------------------------------------- services
    def start_tftp(self):
        for src in (PXELINUX, LPXELINUX, LDLINUX, IPXE_LKRN):
            shutil.copy(src, self.tftp_root / os.path.basename(src))
        for name, src in UEFI_LOADERS.items():
            if os.path.exists(src):
                shutil.copy(src, self.tftp_root / name)
        p = self.spawn('tftpd', ['in.tftpd', '--foreground', '--listen',
                                 '--address', '%s:69' % GATEWAY_RESCUE,
                                 '--secure', '--verbose', self.tftp_root])
        time.sleep(0.2)
        if not p.alive():
            raise LabError('in.tftpd exited: %s' % self.events.tail('tftpd'))
        return p

    def _dnsmasq(self, name, iface, extra):
        argv = ['dnsmasq', '--keep-in-foreground', '--log-facility=-',
                '--conf-file=/dev/null', '--port=0', '--log-dhcp',
                '--interface=%s' % iface, '--bind-interfaces',
                '--dhcp-leasefile=%s' % (self.work / ('%s.leases' % name)),
                '--pid-file=%s' % (self.work / ('%s.pid' % name))] + extra
        p = self.spawn(name, argv)
        self.wait_ready(p, r'DHCP, .*(IP range|static leases)')
        return p

    def flat_dnsmasq_conf(self):
        """etc/dnsmasq.conf.example with this lab's range (lease time
        FLAT_LEASE), files and directories, plus router advertisements (so
        iPXE does not wait for IPv6); its other lines as they are."""
        ours = {
            'dhcp-range': '%s.100,%s.199,%s' % (RESCUE_NET, RESCUE_NET,
                                                FLAT_LEASE),
            'dhcp-leasefile': self.work / 'dnsmasq-flat.leases',
            'dhcp-hostsdir': self.hostsdir,
            'dhcp-optsdir': self.optsdir,
        }
        lines = []
        for line in DNSMASQ_EXAMPLE.read_text().splitlines():
            key = line.split('=', 1)[0].strip()
            if line.startswith('#') or key not in ours:
                lines.append(line)
            else:
                lines.append('%s=%s' % (key, ours.pop(key)))
        if ours:
            raise LabError('%s has no %s line' % (DNSMASQ_EXAMPLE,
                                                  sorted(ours)))
        lines += ['enable-ra', 'dhcp-range=fd98::,ra-only,64',
                  'pid-file=%s' % (self.work / 'dnsmasq-flat.pid')]
        path = self.work / 'dnsmasq-flat.conf'
        path.write_text('\n'.join(lines) + '\n')
        return path

    def start_dhcp(self):
        if self.network == 'flat':
            p = self.spawn('dnsmasq-flat', [
                'dnsmasq', '--keep-in-foreground', '--log-facility=-',
                '--conf-file=%s' % self.flat_dnsmasq_conf()])
            self.wait_ready(p, r'DHCP, IP range')
            return
        self._dnsmasq('dnsmasq-tenant', self.vlan_iface(TENANT_VLAN), [
            '--dhcp-range=%s.0,static,255.255.255.0,10m' % TENANT_NET,
            '--dhcp-host=%s,%s,instance' % (MACHINE_MAC, MACHINE_TENANT_IP),
            '--dhcp-authoritative'])
        if not self.pxe:
            # addresses only: no boot file, no hostsdir/optsdir for
            # lifeboat to write, no TFTP server behind it
            self._dnsmasq('dnsmasq-rescue', self.vlan_iface(RESCUE_VLAN), [
                '--dhcp-range=%s.100,%s.199,255.255.255.0,10m' % (
                    RESCUE_NET, RESCUE_NET),
                '--enable-ra', '--dhcp-range=fd98::,ra-only,64',
                '--no-ping'])
            return
        self._dnsmasq('dnsmasq-rescue', self.vlan_iface(RESCUE_VLAN), [
            '--dhcp-range=%s.100,%s.199,255.255.255.0,10m' % (RESCUE_NET,
                                                              RESCUE_NET),
            '--enable-ra', '--dhcp-range=fd98::,ra-only,64',
            '--dhcp-hostsdir=%s' % self.hostsdir,
            '--dhcp-optsdir=%s' % self.optsdir,
            '--dhcp-match=set:ipxe,175',
            # the client architecture (option 93), as in
            # etc/dnsmasq.conf.example: nodes without boot_mode get
            # pxelinux/undionly.kpxe on BIOS, the UEFI loaders on UEFI
            '--dhcp-match=set:bios,option:client-arch,0',
            '--dhcp-match=set:efi64,option:client-arch,7',
            '--dhcp-match=set:efi64,option:client-arch,9',
            # iPXE: do not wait ~3 s for ProxyDHCP offers (ipxe.no-pxedhcp)
            '--dhcp-option=tag:ipxe,encap:175,176,1b',
            # no 3 s ICMP probe of an address before offering it
            '--no-ping'] + list(self.rescue_dnsmasq_extra))

    def lifeboat_config(self):
        conf = {
            'DEFAULT': {'state_path': self.state, 'host': 'e2e-conductor',
                        'debug': 'true',
                        'enabled_boot_interfaces':
                            'pxe,ipxe,fake' if self.pxe else
                            'redfish-virtual-media,fake',
                        'enabled_network_interfaces':
                            'noop,flat,switch' if self.network == 'flat'
                            else 'noop,switch'},
            'api': {'host_ip': GATEWAY_RESCUE, 'port': API_PORT},
            'conductor': {
                'api_url': self.api_url,
                'file_url_allowed_paths': self.ramdisk_dir,
                'rescue_callback_timeout': 150,
                'check_rescue_state_interval': 5,
                'sync_power_state_interval': 0,
                'power_state_change_timeout': 30,
                **self.conductor,
            },
            'pxe': {'tftp_root': self.tftp_root,
                    'tftp_server': GATEWAY_RESCUE,
                    'pxe_bootfile_name': self.pxe_bootfile,
                    'kernel_append_params':
                        'nofb vga=normal console=ttyS0,115200'},
            'deploy': {'http_root': self.http_root,
                       'http_url': self.http_url},
            'dhcp': {'dhcp_provider': 'dnsmasq' if self.pxe else 'none'},
            'dnsmasq': {'dhcp_hostsdir': self.hostsdir,
                        'dhcp_optsdir': self.optsdir},
            'switch': {'rescuing_network': RESCUE_VLAN,
                       'backend': self.switch_backend},
            'ipmi': {'min_command_interval': 0},
        }
        if self.network == 'flat':
            del conf['switch']          # no switch on a flat network
        if os.environ.get('LB_TEST_DB_URL'):
            # tests/lab/pg_cluster.py run: this lab's own database there
            # (a Unix socket: reachable from the lab's namespace too).
            sys.path.append(str(REPO / 'tests' / 'lab'))
            import pg_cluster
            if getattr(self, 'db_url', None) is None:
                self.db_url = pg_cluster.new_database(
                    os.environ['LB_TEST_DB_URL'])
            conf['database'] = {'connection': self.db_url}
        if self.external_http_url:
            conf['deploy']['external_http_url'] = self.external_http_url
        if self.pxe_fetch is not None:
            conf['pxe']['pxelinux_fetch'] = self.pxe_fetch
        if self.bmc == 'ipmi-sim':
            conf['console'] = {
                'port_range': '%d:%d' % (CONSOLE_PORT, CONSOLE_PORT + 4),
                'socat_address': GATEWAY_RESCUE, **self.console_opts}
        lines = []
        for section, opts in conf.items():
            lines.append('[%s]' % section)
            lines += ['%s = %s' % (k, v) for k, v in opts.items()]
            lines.append('')
        path = self.work / 'lifeboat.conf'
        path.write_text('\n'.join(lines))
        return path

    def start_lifeboatd(self):
        conf = self.lifeboat_config()
        self.nsrun(self.lifeboatd, '--config-file', conf, '--check')
        p = self.spawn('lifeboatd', [self.lifeboatd, '--config-file', conf])
        deadline = time.monotonic() + 20
        while True:
            if not p.alive():
                raise LabError('lifeboatd exited (status %s):\n%s' % (
                    p.popen.returncode, self.events.tail('lifeboatd')))
            r = self.http('GET', '/', check=False)
            if r[0] == 200:
                # On a PostgreSQL run, the daemon says it uses it.
                if getattr(self, 'db_url', None) is not None and \
                        'store: PostgreSQL database' not in \
                        self.events.tail('lifeboatd', 400):
                    raise LabError('lifeboatd is not on PostgreSQL')
                return p
            if time.monotonic() > deadline:
                raise LabError('lifeboatd does not answer:\n%s' %
                               self.events.tail('lifeboatd'))
            time.sleep(0.1)

    def disk_path(self, name):
        """The file of one of the machine's ``disks``."""
        return self.work / name

    def machine_devices(self):
        """The machine's ``disks`` (sparse files in the work directory,
        made once) and ``devices`` (QEMU arguments; ``{work}`` is the work
        directory) as QEMU arguments."""
        for name, mib in self.machine.get('disks', {}).items():
            path = self.disk_path(name)
            if not path.exists():
                with open(path, 'wb') as f:
                    f.truncate(int(mib) << 20)
        return [a.replace('{work}', str(self.work))
                for a in self.machine.get('devices', ())]

    def qemu_args(self):
        """The BMC's QEMU arguments.  ``machine`` (all optional):
        ``memory`` (MiB, 512), ``nic`` (the NIC's QEMU model,
        virtio-net-pci), ``nic_romfile`` (its option ROM; '' for none,
        default QEMU's), ``instance_disk`` (False: no instance disk),
        ``disks`` ({file name: MiB}) and ``devices`` (QEMU arguments)."""
        m = self.machine
        if not m:
            return self._default_qemu_args()
        common = [
            '-machine pc -m %d -nodefaults -display none' % m.get('memory',
                                                                  512),
            *self._serial_args(),
            '-netdev tap,id=n0,ifname=tap0,script=no,downscript=no',
        ]
        nic = '-device %s,netdev=n0,mac=%s' % (m.get('nic', 'virtio-net-pci'),
                                               MACHINE_MAC)
        if m.get('nic_romfile') is not None:
            nic += ',romfile=%s' % m['nic_romfile']
        elif not self.pxe:
            nic += ',romfile='
        args = common + [nic]
        if m.get('instance_disk', True):
            shutil.copyfile(self.instance_disk, self.disk)
            args.append('-drive file=%s,format=raw,if=none,id=disk0' %
                        self.disk)
            args.append('-device virtio-blk-pci,drive=disk0%s' % (
                '' if self.pxe else ',bootindex=1'))
        return ' '.join(args + [shlex.quote(a) for a in
                                self.machine_devices()])

    def _default_qemu_args(self):
        shutil.copyfile(self.instance_disk, self.disk)
        common = [
            '-machine pc -m 512 -nodefaults -display none',
            *self._serial_args(),
            '-netdev tap,id=n0,ifname=tap0,script=no,downscript=no',
        ]
        if self.pxe:
            return ' '.join(common + [
                '-device virtio-net-pci,netdev=n0,mac=%s' % MACHINE_MAC,
                '-drive file=%s,format=raw,if=virtio' % self.disk])
        # no option ROM: this NIC cannot network-boot; the disk is the
        # firmware's choice unless the BMC's CD gets bootindex 0
        return ' '.join(common + [
            '-device virtio-net-pci,netdev=n0,mac=%s,romfile=' % MACHINE_MAC,
            '-drive file=%s,format=raw,if=none,id=disk0' % self.disk,
            '-device virtio-blk-pci,drive=disk0,bootindex=1'])

    def _serial_args(self):
        """QEMU's serial port: the console file, or (ipmi-sim) the BMC's,
        which brings its own; SeaBIOS then prints on it too."""
        if self.bmc != 'ipmi-sim':
            return ['-chardev file,id=ser0,path=%s,append=on' % self.console,
                    '-serial chardev:ser0']
        sercon = self.work / 'sercon-port'
        sercon.write_bytes((0x3f8).to_bytes(2, 'little'))
        return ['-fw_cfg name=etc/sercon-port,file=%s' % sercon]

    def start_sim_bmc(self):
        """ipmi_sim (tests/lab/ipmi_sim_bmc.py) in the namespace, in
        front of QEMU; its log is the 'bmc' source, QEMU's serial output
        the console file."""
        bmc = self.sim_bmc = SimBmc(
            self.work / 'bmc', user=BMC_USER, password=BMC_PASSWORD,
            port=BMC_PORT, prefix=['ip', 'netns', 'exec', self.ns],
            extra_args=['--machine', 'qemu', '--name', 'e2e-machine',
                        '--qemu-args', self.qemu_args(), '--qemu-boot',
                        'order=cn', '--serial-log', self.console])
        self.events.add('lab', 'start bmc: ipmi_sim_bmc.py in %s' % self.ns)
        tails = [FileTail(bmc.log_path, self.events, 'bmc'),
                 FileTail(bmc.work / 'machine.log', self.events, 'qemu'),
                 FileTail(self.console, self.events, 'console')]
        for tail in tails:
            tail.start()
            self.tails.append(tail)
        bmc.start()
        self.procs.append(Proc('bmc', bmc.proc))
        threading.Thread(target=self._watch_qemu, daemon=True).start()
        return self.procs[-1]

    def start_bmc(self):
        if self.bmc == 'redfish':
            return self.start_redfish_bmc()
        if self.bmc == 'ipmi-sim':
            return self.start_sim_bmc()
        p = self.spawn('bmc', [
            PYTHON, IPMI_BMC, '--address', '127.0.0.1', '--port', BMC_PORT,
            '--user', BMC_USER, '--password', BMC_PASSWORD,
            '--control-port', BMC_CONTROL_PORT, '--state-dir',
            self.work / 'bmc', '--machine', 'qemu', '--qmp-dir',
            self.qmp_dir, '--qemu-args', self.qemu_args()])
        self.wait_ready(p, r'\bready\b')
        # Learn every QEMU PID the BMC starts, to stop it by PID later.
        threading.Thread(target=self._watch_qemu, daemon=True).start()
        tail = FileTail(self.console, self.events, 'console')
        tail.start()
        self.tails.append(tail)
        return p

    def start_redfish_bmc(self, quirks=None):
        """The Redfish BMC (port REDFISH_PORT, system 1); ``quirks``
        (default: the lab's) as --quirk values."""
        argv = [PYTHON, REDFISH_BMC, '--address', self.bmc_ip, '--port',
                REDFISH_PORT, '--user', BMC_USER, '--password', BMC_PASSWORD,
                '--control-port', BMC_CONTROL_PORT, '--state-dir',
                self.work / 'bmc', '--machine', 'qemu', '--boot-mode',
                self.firmware, '--qmp-dir', self.qmp_dir, '--qemu-args',
                self.qemu_args()]
        if self.bmc_ns:
            # QEMU needs tap0, in the lab's namespace; its PID stays the
            # wrapper's (exec all the way).  Image URLs anywhere in 10/8
            # are tried: the namespace's one route decides what answers.
            wrapper = self.work / 'qemu-in-lab'
            wrapper.write_text('#!/bin/sh\nexec nsenter --net=/run/netns/%s '
                               '-- qemu-system-x86_64 "$@"\n' % self.ns)
            wrapper.chmod(0o755)
            argv += ['--qemu-binary', wrapper, '--image-network',
                     '10.0.0.0/8']
        for q in (self.quirks if quirks is None else quirks):
            argv += ['--quirk', q]
        p = self.spawn('bmc', argv, ns=self.bmc_ns or True)
        self.wait_ready(p, r'\bready\b')
        if not getattr(self, '_qemu_watched', False):
            self._qemu_watched = True
            threading.Thread(target=self._watch_qemu, daemon=True).start()
            tail = FileTail(self.console, self.events, 'console')
            tail.start()
            self.tails.append(tail)
        self.bmc_proc = p
        return p

    def restart_bmc(self, quirks):
        """Stops the BMC (and so its QEMU) by PID and starts it again with
        other quirks; the machine is off afterwards."""
        self.stop(self.bmc_proc)
        return self.start_redfish_bmc(quirks)

    def redfish(self, method, path, body=None):
        """(status, JSON or text) of one request to the Redfish BMC."""
        argv = ['curl', '-sS', '-m', '20', '-u', '%s:%s' % (
            BMC_USER, BMC_PASSWORD), '-X', method, '-o', '-', '-w',
            '\n%{http_code}']
        if body is not None:
            argv += ['-H', 'Content-Type: application/json',
                     '--data-binary', json.dumps(body)]
        argv.append('http://%s:%d%s' % (self.bmc_ip, REDFISH_PORT, path))
        p = self.nsrun(*argv, check=False)
        text, _, code = p.stdout.rpartition('\n')
        try:
            return int(code), json.loads(text)
        except ValueError:
            return int(code or 0), text

    def _watch_qemu(self):
        # ipmi_bmc.py and redfish_bmc.py; ipmi_sim_bmc.py
        rx = re.compile(r'QEMU started, pid (\d+)|machine started \(pid '
                        r'(\d+)\)')
        i = 0
        while not self.closed:
            with self.events.cond:
                lines = self.events.lines[i:]
                i = len(self.events.lines)
                if not lines:
                    self.events.cond.wait(0.5)
            for _, src, text in lines:
                m = rx.search(text) if src == 'bmc' else None
                if m:
                    self.qemu_pids.add(int(m.group(1) or m.group(2)))

    def driver_info(self):
        if self.bmc == 'redfish':
            return {
                'redfish_address': 'http://%s:%d' % (self.bmc_ip,
                                                     REDFISH_PORT),
                'redfish_system_id': REDFISH_SYSTEM,
                'redfish_username': BMC_USER,
                'redfish_password': BMC_PASSWORD,
                'rescue_kernel': 'file://%s' % (self.ramdisk_dir /
                                                'vmlinuz'),
                'rescue_ramdisk': 'file://%s' % (self.ramdisk_dir /
                                                 'initramfs')}
        info = {'ipmi_address': '127.0.0.1', 'ipmi_port': str(BMC_PORT),
                'ipmi_username': BMC_USER, 'ipmi_password': BMC_PASSWORD,
                'rescue_kernel': 'file://%s' % (self.ramdisk_dir / 'vmlinuz'),
                'rescue_ramdisk': 'file://%s' % (self.ramdisk_dir /
                                                 'initramfs')}
        if self.bmc == 'ipmi-sim':
            info['ipmi_workarounds'] = SIM_WORKAROUNDS
        return info

    def local_link_connection(self):
        return {'switch_id': self.bridge_mac, 'port_id': 'tap0',
                'switch_info': 'br0'}

    def start(self):
        """Everything, in order: network, dnsmasq x2, tftpd, BMC,
        lifeboatd."""
        self.setup_network()
        self.start_dhcp()
        if self.pxe:
            self.start_tftp()
        self.start_bmc()
        self.start_lifeboatd()
        return self

    # ----------------------------------------------------------- clients
    def cli(self, *args, timeout=120, check=True):
        """``openstack baremetal ...`` inside the namespace."""
        env = ['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
               'HOME=%s' % self.work, 'OS_AUTH_TYPE=none',
               'OS_ENDPOINT=%s' % self.api_url, 'LANG=C.UTF-8']
        self.say('$ openstack baremetal %s' % shlex.join(map(str, args)))
        t = time.monotonic()
        p = self.nsrun(*env, OPENSTACK, 'baremetal', *args,
                       timeout=self.budget_left(timeout), check=False)
        self.events.add('cli', '$ openstack baremetal %s -> %d (%.1f s)%s' % (
            shlex.join(map(str, args)), p.returncode, time.monotonic() - t,
            (': ' + p.stderr.strip()[-500:]) if p.returncode else ''))
        if check and p.returncode != 0:
            raise LabError('openstack baremetal %s: exit %d: %s' % (
                shlex.join(map(str, args)), p.returncode, p.stderr.strip()))
        return p

    def cli_json(self, *args, **kw):
        return json.loads(self.cli(*args, '-f', 'json', **kw).stdout)

    def enroll(self, name, driver, boot_interface, boot_mode, pxe=True,
               network_interface='switch'):
        """The machine as a node, through the real CLI: `node create` with
        this lab's driver_info (and ``network_interface``), the boot_mode
        capability (None: none, so lifeboat serves both modes), its port
        with the lab's local_link_connection (pxe_enabled with ``pxe``),
        then `manage` and `adopt`.  Returns the node's UUID; the node is
        `active`."""
        args = ['node', 'create', '--driver', driver, '--name', name,
                '--boot-interface', boot_interface,
                '--network-interface', network_interface,
                '--rescue-interface', 'agent']
        if self.bmc == 'ipmi-sim':
            args += ['--console-interface', 'ipmitool-socat']
        if boot_mode is not None:
            args += ['--property', 'capabilities=boot_mode:%s' % boot_mode]
        for k, v in self.driver_info().items():
            args += ['--driver-info', '%s=%s' % (k, v)]
        uuid = self.cli_json(*args)['uuid']
        llc = []
        for k, v in self.local_link_connection().items():
            llc += ['--local-link-connection', '%s=%s' % (k, v)]
        if pxe:
            llc += ['--pxe-enabled', 'true']
        self.cli('port', 'create', MACHINE_MAC, '--node', uuid, *llc)
        self.cli('node', 'manage', uuid, '--wait', '120')
        self.cli('node', 'adopt', uuid, '--wait', '120')
        node = self.cli_json('node', 'show', uuid)
        assert node['provision_state'] == 'active', node
        return uuid

    def http(self, method, path, body=None, headers=None, check=True,
             base=None):
        """(status, text) of one HTTP request made inside the namespace."""
        argv = ['curl', '-sS', '-m', '20', '-X', method, '-o', '-', '-w',
                '\n%{http_code}']
        for k, v in (headers or {}).items():
            argv += ['-H', '%s: %s' % (k, v)]
        if body is not None:
            argv += ['-H', 'Content-Type: application/json', '--data-binary',
                     json.dumps(body)]
        argv.append((base or self.api_url) + path)
        p = self.nsrun(*argv, check=False)
        if p.returncode != 0:
            if check:
                raise LabError('curl %s %s: %s' % (method, path,
                                                   p.stderr.strip()))
            return 0, p.stderr
        text, _, code = p.stdout.rpartition('\n')
        return int(code), text

    def ssh(self, user, host, password, command, timeout=30):
        """sshpass + ssh inside the namespace; CompletedProcess."""
        return self.nsrun(
            'sshpass', '-p', password, 'ssh', '-F', '/dev/null',
            '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null',
            '-o', 'GlobalKnownHostsFile=/dev/null',
            '-o', 'PreferredAuthentications=password,keyboard-interactive',
            '-o', 'PubkeyAuthentication=no', '-o', 'ConnectTimeout=5',
            '-o', 'NumberOfPasswordPrompts=1', '-o', 'LogLevel=ERROR',
            '%s@%s' % (user, host), command, check=False, timeout=timeout)

    def bmc_machine(self):
        code, text = self.http('GET', '/machines/0', check=False,
                               base='http://%s:%d' % (self.bmc_ip,
                                                      BMC_CONTROL_PORT))
        return json.loads(text) if code == 200 else None

    # ---------------------------------------------------------- teardown
    def leftover_pids(self):
        """PIDs this lab started that still run (empty after close())."""
        return _leftover_pids(self)

    def close(self):
        if self.closed:
            return
        self.closed = True
        errors = []
        # Learn the QEMU PIDs the BMC still has, then stop everything in
        # reverse order of start, each by its PID.
        try:
            if self.sim_bmc is not None and self.sim_bmc.info:
                m = {'pid': self.sim_bmc.machine_pid()}
            else:
                m = self.bmc_machine() if self.ns_created else None
            if m and m.get('pid'):
                self.qemu_pids.add(int(m['pid']))
        except Exception:       # noqa: BLE001 - best effort
            pass
        for proc in reversed(self.procs):
            try:
                self.stop(proc)
            except Exception as e:      # noqa: BLE001
                errors.append('%s: %s' % (proc.name, e))
        if self.sim_bmc is not None:
            self.sim_bmc.stop()     # stopped above; closes its log
        for pid in sorted(self.qemu_pids):
            if _pid_is(pid, 'qemu-system') and not _zombie(pid):
                self.events.add('lab', 'stop qemu (pid %d)' % pid)
                _stop_pid(pid)
        for tail in self.tails:
            tail.stop.set()
            tail.join(2)
        for child in list(self.extra_ns):
            self.sh('ip', 'netns', 'del', child, check=False)
        if self.ns_created:
            p = self.sh('ip', 'netns', 'del', self.ns, check=False)
            if p.returncode != 0:
                errors.append('ip netns del %s: %s' % (self.ns, p.stderr))
        self.events.add('lab', 'closed')
        self.events.close()
        if self.keep is not None:
            shutil.rmtree(self.keep, ignore_errors=True)
            self.keep.mkdir(parents=True, exist_ok=True)
            for f in list(self.logdir.glob('*.log')) + [
                    self.work / 'lifeboat.conf']:
                if f.exists():
                    shutil.copy(f, self.keep / f.name)
        shutil.rmtree(self.work, ignore_errors=True)
        if errors:
            raise LabError('lab teardown: ' + '; '.join(errors))


def _leftover_pids(lab):
    pids = [p.pid for p in lab.procs if p.alive()]
    pids += [pid for pid in lab.qemu_pids
             if _pid_is(pid, 'qemu-system') and not _zombie(pid)]
    return sorted(pids)


def _pid_alive(pid):
    return os.path.exists('/proc/%d' % pid) and not _zombie(pid)


def reap_stale(say=print):
    """Cleans up after labs whose test process died without closing them
    (SIGKILL, power loss): for each namespace ``lb-e2e-<pid>[-x]`` and work
    directory ``/tmp/lb-e2e-<pid>-*`` of a PID that no longer runs, stops
    the processes still inside the namespace (by PID, from ``ip netns
    pids``) and deletes the namespace and the directory."""
    p = subprocess.run(['ip', 'netns', 'list'], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ''
        m = re.fullmatch(r'lb-e2e-(\d+)(-[a-z0-9]+)?', name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        pids = subprocess.run(['ip', 'netns', 'pids', name],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout
        for pid in pids.split():
            _stop_pid(int(pid), grace=2.0)
        subprocess.run(['ip', 'netns', 'del', name],
                       stderr=subprocess.DEVNULL)
        say('removed the stale lab namespace %s' % name)
    tmp = Path(tempfile.gettempdir())
    for d in tmp.glob('lb-e2e-*-*'):
        m = re.fullmatch(r'lb-e2e-(\d+)-\w+', d.name)
        if m and d.is_dir() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            say('removed the stale lab directory %s' % d)


def leftovers(prefix='lb-e2e-'):
    """Namespaces of this process still present (for tests of cleanup)."""
    p = subprocess.run(['ip', 'netns', 'list'], stdout=subprocess.PIPE,
                       text=True)
    mine = '%s%d' % (prefix, os.getpid())
    return [line.split()[0] for line in p.stdout.splitlines()
            if line.split() and line.split()[0].startswith(mine)]
