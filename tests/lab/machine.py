#!/usr/bin/python3
"""The machines that sit behind the lab's BMC emulators.

A BMC emulator (ipmi_bmc.py, redfish_bmc.py) only translates its protocol
into calls on a Machine; everything a "server" does lives here:

* power: on / off / soft off (ACPI) / reset / power cycle / NMI;
* boot override: a device (none, pxe, disk, cdrom, bios, http), how long it
  applies (disabled, once, continuous) and the firmware mode (uefi, bios);
  a "once" override is consumed by the next boot;
* one virtual CD slot (image URL, local file, inserted flag);
* a log of actions, readable through the BMCs' control endpoint.

InMemoryMachine just keeps state (a soft off completes after a configurable
delay, or never when it "ignores ACPI"); QemuMachine runs a real
qemu-system-x86_64 process, driven over QMP.

Both are thread safe: every public method takes the machine's lock, because
a BMC's protocol thread and the control endpoint's threads call them
concurrently.
"""

import collections
import ctypes
import json
import logging
import os
import queue
import shlex
import signal
import socket
import subprocess
import threading
import time

LOG = logging.getLogger('lab.machine')

BOOT_DEVICES = ('none', 'pxe', 'disk', 'cdrom', 'bios', 'http')
BOOT_ENABLED = ('disabled', 'once', 'continuous')
BOOT_MODES = ('uefi', 'bios')

# The device a machine boots when no override applies.
DEFAULT_BOOT_DEVICE = 'disk'


class MachineStateError(Exception):
    """The action is not possible in the machine's present state."""


class MachineError(Exception):
    """The action failed (e.g. QEMU did not start)."""


class Machine:
    """State and behaviour shared by every machine kind."""

    kind = 'abstract'

    def __init__(self, name, index=0, boot_mode='bios', soft_off_delay=0.0,
                 ignore_acpi=False):
        self.name = name
        self.index = index
        self.lock = threading.RLock()
        self.boot_device = 'none'
        self.boot_enabled = 'disabled'
        self.boot_mode = boot_mode
        self.soft_off_delay = float(soft_off_delay)
        self.ignore_acpi = bool(ignore_acpi)
        self.media_image = None      # URL the image came from
        self.media_path = None       # local file holding it
        self.media_inserted = False
        self.boots = []              # devices of every boot so far
        self.last_off = None         # time.monotonic() of the last power-off
        self.actions = collections.deque(maxlen=2000)

    # ----------------------------------------------------------------- log
    def record(self, action):
        """Append one action to the machine's log (and to stderr)."""
        self.actions.append({'time': time.time(), 'action': action})
        LOG.info('machine %s: %s', self.name, action)

    # ------------------------------------------------------------ booting
    def set_boot(self, device=None, enabled=None, mode=None, source='bmc'):
        """Change the boot override; None leaves a field as it is."""
        with self.lock:
            if device is not None and device not in BOOT_DEVICES:
                raise ValueError('bad boot device %r' % device)
            if enabled is not None and enabled not in BOOT_ENABLED:
                raise ValueError('bad boot override %r' % enabled)
            if mode is not None and mode not in BOOT_MODES:
                raise ValueError('bad boot mode %r' % mode)
            if device is not None:
                self.boot_device = device
            if enabled is not None:
                self.boot_enabled = enabled
            if mode is not None:
                self.boot_mode = mode
            self.record('%s: set boot device=%s enabled=%s mode=%s' % (
                source, self.boot_device, self.boot_enabled, self.boot_mode))

    def boot_info(self):
        with self.lock:
            return {'device': self.boot_device, 'enabled': self.boot_enabled,
                    'mode': self.boot_mode}

    def _next_boot_device(self):
        """The device the next boot uses, without consuming anything."""
        if self.boot_enabled != 'disabled' and self.boot_device != 'none':
            return self.boot_device
        return DEFAULT_BOOT_DEVICE

    def _consume_boot(self):
        """Called at every boot: returns the device and clears a once
        override (real BMCs then report the override as disabled)."""
        device = self._next_boot_device()
        if self.boot_enabled == 'once':
            self.boot_enabled = 'disabled'
            self.boot_device = 'none'
        self.boots.append(device)
        self.record('boot from %s (%s)' % (device, self.boot_mode))
        return device

    # ------------------------------------------------------------- media
    def insert_media(self, image, path):
        with self.lock:
            self.media_image = image
            self.media_path = path
            self.media_inserted = True
            self.record('insert media %s (%s)' % (image, path))

    def eject_media(self):
        with self.lock:
            self.media_image = None
            self.media_path = None
            self.media_inserted = False
            self.record('eject media')

    def media_info(self):
        with self.lock:
            return {'image': self.media_image, 'path': self.media_path,
                    'inserted': self.media_inserted}

    # ------------------------------------------------------------- power
    # Subclasses implement power_state() -> 'on'|'off', power_on(),
    # power_off(), soft_off(), reset(), nmi().  power_cycle() is generic.
    def power_cycle(self, source='bmc'):
        with self.lock:
            if self.power_state() != 'on':
                raise MachineStateError('power cycle: machine is off')
            self.power_off(source=source)
            self.power_on(source=source)

    def soft_reboot(self, source='bmc'):
        """An OS-level reboot request (Redfish GracefulRestart): ignored by
        a machine that ignores ACPI, otherwise a reset."""
        with self.lock:
            if self.power_state() != 'on':
                raise MachineStateError('graceful restart: machine is off')
            if self.ignore_acpi:
                self.record('%s: graceful restart ignored by the OS' % source)
                return
            self.record('%s: graceful restart' % source)
            self.reset(source=source)

    def _mark_off(self):
        self.last_off = time.monotonic()

    def seconds_since_off(self):
        """Seconds since the machine last went off, or None."""
        with self.lock:
            self.power_state()   # lets QemuMachine notice a guest poweroff
            if self.last_off is None:
                return None
            return time.monotonic() - self.last_off

    def configure(self, **kw):
        """Change soft_off_delay / ignore_acpi at run time."""
        with self.lock:
            if 'soft_off_delay' in kw:
                self.soft_off_delay = float(kw.pop('soft_off_delay'))
            if 'ignore_acpi' in kw:
                self.ignore_acpi = bool(kw.pop('ignore_acpi'))
            if kw:
                raise ValueError('unknown settings: %s' % sorted(kw))
            self.record('configure soft_off_delay=%s ignore_acpi=%s' % (
                self.soft_off_delay, self.ignore_acpi))

    def snapshot(self, log_tail=200):
        """Everything the control endpoint shows about this machine."""
        with self.lock:
            return {
                'index': self.index,
                'name': self.name,
                'kind': self.kind,
                'power_state': self.power_state(),
                'boot': self.boot_info(),
                'media': self.media_info(),
                'boots': list(self.boots),
                'soft_off_delay': self.soft_off_delay,
                'ignore_acpi': self.ignore_acpi,
                'log': [a['action'] for a in self.actions][-log_tail:],
            }

    def close(self):
        """Release everything (QEMU: stop the process)."""


class InMemoryMachine(Machine):
    """A machine that is only state: fast, deterministic, no processes."""

    kind = 'memory'

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._on = False
        # Bumped at every power transition so that a pending delayed soft
        # off does not fire after the machine was switched off and on again.
        self._generation = 0
        self._timer = None

    def power_state(self):
        with self.lock:
            return 'on' if self._on else 'off'

    def power_on(self, source='bmc'):
        with self.lock:
            if self._on:
                self.record('%s: power on (already on)' % source)
                return
            self._generation += 1
            self._on = True
            self.record('%s: power on' % source)
            self._consume_boot()

    def power_off(self, source='bmc'):
        with self.lock:
            if not self._on:
                self.record('%s: power off (already off)' % source)
                return
            self._generation += 1
            self._on = False
            self._mark_off()
            self.record('%s: power off' % source)

    def soft_off(self, source='bmc'):
        """ACPI power button: off after soft_off_delay, or never."""
        with self.lock:
            if not self._on:
                self.record('%s: soft off (already off)' % source)
                return
            if self.ignore_acpi:
                self.record('%s: soft off ignored by the OS' % source)
                return
            self.record('%s: soft off requested' % source)
            if self.soft_off_delay <= 0:
                self._soft_off_done(self._generation)
                return
            gen = self._generation
            self._timer = threading.Timer(self.soft_off_delay,
                                          self._soft_off_done, (gen,))
            self._timer.daemon = True
            self._timer.start()

    def _soft_off_done(self, gen):
        with self.lock:
            if gen != self._generation or not self._on:
                return   # the machine was switched meanwhile
            self._generation += 1
            self._on = False
            self._mark_off()
            self.record('OS shut down (soft off complete)')

    def reset(self, source='bmc'):
        with self.lock:
            if not self._on:
                raise MachineStateError('reset: machine is off')
            self._generation += 1
            self.record('%s: reset' % source)
            self._consume_boot()

    def nmi(self, source='bmc'):
        with self.lock:
            if not self._on:
                raise MachineStateError('nmi: machine is off')
            self.record('%s: NMI' % source)

    def close(self):
        with self.lock:
            self._generation += 1
            if self._timer:
                self._timer.cancel()


# --------------------------------------------------------------------- QEMU

class QmpError(Exception):
    pass


class Qmp:
    """A minimal QMP client: JSON lines over a unix socket.

    One connection per command sequence (QEMU's QMP chardev serves a single
    client at a time, so holding a connection would lock out everyone else,
    e.g. a test poking at the same QEMU through the control endpoint).
    """

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
            self.file = self.sock.makefile('rwb')
            greeting = self._read()
            if 'QMP' not in greeting:
                raise QmpError('not a QMP greeting: %r' % greeting)
            self.execute('qmp_capabilities')
        except BaseException:
            self.sock.close()
            raise

    def _read(self):
        line = self.file.readline()
        if not line:
            raise QmpError('QMP connection closed')
        return json.loads(line)

    def execute(self, command, **arguments):
        msg = {'execute': command}
        if arguments:
            msg['arguments'] = arguments
        self.file.write(json.dumps(msg).encode() + b'\r\n')
        self.file.flush()
        while True:
            reply = self._read()
            if 'event' in reply:
                continue            # asynchronous events: not needed here
            if 'error' in reply:
                raise QmpError('%s: %s' % (command, reply['error']))
            if 'return' in reply:
                return reply['return']

    def close(self):
        try:
            self.file.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Spawner:
    """Starts child processes from one long-lived thread.

    The children get PR_SET_PDEATHSIG=SIGKILL so they die with the emulator
    even if it is SIGKILLed.  The kernel sends that signal when the *thread*
    that forked exits, so forking from short-lived request threads would kill
    QEMU as soon as the HTTP request is answered; hence this thread.
    """

    def __init__(self):
        self._q = queue.Queue()
        self._thread = None
        self._lock = threading.Lock()
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._prctl = libc.prctl
        except (OSError, AttributeError):
            self._prctl = None

    def _preexec(self):
        if self._prctl is not None:
            self._prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG = 1
        os.setpgrp()   # own process group: a ^C to the BMC doesn't hit QEMU

    def _run(self):
        while True:
            argv, kw, box, done = self._q.get()
            try:
                box.append(subprocess.Popen(argv, preexec_fn=self._preexec,
                                            **kw))
            except Exception as e:   # handed back to the caller
                box.append(e)
            done.set()

    def popen(self, argv, **kw):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run,
                                                name='spawner', daemon=True)
                self._thread.start()
        box, done = [], threading.Event()
        self._q.put((argv, kw, box, done))
        done.wait()
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]


SPAWNER = _Spawner()

# QEMU -boot letters for the machine's boot devices.
_QEMU_BOOT_LETTER = {'pxe': 'n', 'http': 'n', 'disk': 'c', 'cdrom': 'd',
                     'bios': 'c'}

# IDs of the CD drive this module adds to every QEMU.
CD_DRIVE_ID = 'cd0'        # -drive if=none,id=cd0 (block backend)
CD_DEVICE_ID = 'cdrom0'    # -device ide-cd,id=cdrom0 (guest device)


def default_uefi_firmware():
    for path in ('/usr/share/OVMF/OVMF.fd', '/usr/share/ovmf/OVMF.fd'):
        if os.path.exists(path):
            return path
    return None


def nic_first(args):
    """``args`` with ``bootindex=0`` on its first NIC (a ``-device`` with
    ``netdev=``), unless that already has a bootindex: OVMF ignores
    ``-boot`` and network-boots only a device that bootindex puts first."""
    out = list(args)
    for i in range(len(out) - 1):
        if out[i] == '-device' and 'netdev=' in out[i + 1]:
            if 'bootindex=' not in out[i + 1]:
                out[i + 1] += ',bootindex=0'
            break
    return out


def mac_for_index(index):
    """A stable, locally administered MAC per machine index (QEMU's OUI)."""
    return '52:54:00:%02x:%02x:%02x' % ((index >> 16) & 0xff,
                                        (index >> 8) & 0xff, index & 0xff)


class QemuMachine(Machine):
    """A qemu-system-x86_64 process: power on starts it, power off ends it.

    * power on: a new process, ``-boot`` chosen from the boot override
      (once -> ``-boot once=X,order=c``, continuous -> ``-boot order=X``;
      X is n for pxe/http, c for disk, d for cdrom; bios -> ``menu=on``);
      in UEFI mode the OVMF firmware is added with ``-bios`` and, when
      booting from CD, the CD device gets ``bootindex=0`` (OVMF ignores
      ``-boot order``), from the network the first NIC of ``extra_args``;
    * power off: QMP ``quit``, then SIGKILL by PID if it lingers;
    * soft off: QMP ``system_powerdown`` (ACPI; the guest may ignore it);
    * reset: QMP ``system_reset``, or a restart of the process when the
      pending boot override needs other QEMU arguments;
    * power state: "on" iff the process is alive and QMP status is running;
    * CD: ``-drive if=none,id=cd0,media=cdrom`` + ``-device
      ide-cd,drive=cd0,id=cdrom0``; QMP ``blockdev-change-medium`` /
      ``eject`` while running, ``file=`` at start otherwise.

    ``extra_args`` are appended verbatim after placeholder expansion:
    ``{index}``, ``{name}``, ``{mac}``, ``{run_dir}``.
    """

    kind = 'qemu'

    def __init__(self, name, index=0, extra_args=(), run_dir='/tmp',
                 qemu_binary='qemu-system-x86_64', uefi_firmware=None,
                 **kw):
        super().__init__(name, index=index, **kw)
        self.qemu_binary = qemu_binary
        self.uefi_firmware = uefi_firmware or default_uefi_firmware()
        self.run_dir = run_dir
        os.makedirs(run_dir, exist_ok=True)
        self.qmp_path = os.path.join(run_dir, '%s.qmp' % name)
        self.console_log = os.path.join(run_dir, '%s.log' % name)
        subst = {'{index}': str(index), '{name}': name,
                 '{mac}': mac_for_index(index), '{run_dir}': run_dir}
        self.extra_args = []
        for arg in extra_args:
            for k, v in subst.items():
                arg = arg.replace(k, v)
            self.extra_args.append(arg)
        self.proc = None
        # (device, mode) that a reset of the running process boots from;
        # None when no process runs.
        self._reset_boots = None
        self.argv = None

    # -------------------------------------------------------------- QMP
    def qmp(self, command, **arguments):
        """Run one QMP command on the running QEMU."""
        with self.lock:
            if not self._alive():
                raise MachineStateError('%s: QEMU is not running' % command)
            with Qmp(self.qmp_path) as q:
                return q.execute(command, **arguments)

    def _alive(self):
        if self.proc is None:
            return False
        if self.proc.poll() is None:
            return True
        # The process ended (guest powered off, crash, killed): reap it.
        self.record('QEMU pid %d exited with %s' % (self.proc.pid,
                                                    self.proc.returncode))
        self.proc = None
        self._reset_boots = None
        self._mark_off()
        return False

    def pid(self):
        with self.lock:
            return self.proc.pid if self._alive() else None

    def power_state(self):
        with self.lock:
            if not self._alive():
                return 'off'
            try:
                status = self.qmp('query-status')
            except (OSError, QmpError) as e:
                # Most likely QEMU is exiting (guest power-off): give it a
                # moment so that the exit is noticed and recorded.
                LOG.warning('%s: query-status failed: %s', self.name, e)
                try:
                    self.proc.wait(2)
                except subprocess.TimeoutExpired:
                    pass
                self._alive()
                return 'off'
            return 'on' if status.get('status') == 'running' else 'off'

    # ---------------------------------------------------------- process
    def _build_argv(self, device, once):
        """The QEMU command line for a boot from ``device``."""
        letter = _QEMU_BOOT_LETTER[device]
        if once:
            boot = 'once=%s,order=%s' % (letter, _QEMU_BOOT_LETTER['disk'])
        else:
            boot = 'order=%s' % letter
        if device == 'bios':
            boot += ',menu=on'
        drive = 'if=none,id=%s,media=cdrom' % CD_DRIVE_ID
        if self.media_inserted and self.media_path:
            # commas in a -drive value are escaped by doubling them
            drive += ',format=raw,readonly=on,file=%s' % (
                self.media_path.replace(',', ',,'))
        cd_dev = 'ide-cd,drive=%s,id=%s' % (CD_DRIVE_ID, CD_DEVICE_ID)
        argv = [self.qemu_binary, '-name', self.name, '-accel', 'tcg',
                '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path,
                '-boot', boot, '-drive', drive]
        if self.boot_mode == 'uefi':
            if not self.uefi_firmware:
                raise MachineError('UEFI boot mode but no OVMF firmware')
            argv += ['-bios', self.uefi_firmware]
            if device == 'cdrom':
                cd_dev += ',bootindex=0'
        extra = self.extra_args
        if self.boot_mode == 'uefi' and device in ('pxe', 'http'):
            extra = nic_first(extra)
        argv += ['-device', cd_dev] + extra
        return argv

    def _start(self, source):
        once = self.boot_enabled == 'once'
        device = self._consume_boot()
        argv = self._build_argv(device, once)
        try:
            os.unlink(self.qmp_path)
        except FileNotFoundError:
            pass
        logf = open(self.console_log, 'ab')
        try:
            self.proc = SPAWNER.popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=logf, stderr=subprocess.STDOUT)
        finally:
            logf.close()
        self.argv = argv
        self.record('%s: QEMU started, pid %d: %s' % (
            source, self.proc.pid, shlex.join(argv)))
        # Wait (polling) until QMP answers, or the process dies.
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                self._mark_off()
                raise MachineError('QEMU exited at start (rc %s), see %s'
                                   % (rc, self.console_log))
            try:
                with Qmp(self.qmp_path, timeout=5) as q:
                    q.execute('query-status')
                break
            except (OSError, QmpError):
                if time.monotonic() > deadline:
                    self._kill()
                    raise MachineError('QEMU QMP did not come up')
                time.sleep(0.02)
        # After the first boot, a process started with once=X boots the
        # default device on reset; one started with order=X keeps X.  OVMF
        # ignores -boot (once= works through CMOS, for SeaBIOS only) and
        # follows bootindex, which a reset keeps: model it as "same again".
        if once and self.boot_mode != 'uefi':
            self._reset_boots = (DEFAULT_BOOT_DEVICE, self.boot_mode)
        else:
            self._reset_boots = (device, self.boot_mode)

    def _kill(self, grace=5.0):
        """Stop the process: QMP quit, then SIGKILL by PID."""
        proc = self.proc
        if proc is None:
            return
        try:
            with Qmp(self.qmp_path, timeout=2) as q:
                q.execute('quit')
        except (OSError, QmpError):
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.record('QEMU pid %d did not quit, SIGKILL' % proc.pid)
            proc.kill()
            proc.wait()
        self.proc = None
        self._reset_boots = None
        self._mark_off()

    # ------------------------------------------------------------ power
    def power_on(self, source='bmc'):
        with self.lock:
            if self._alive():
                status = self.qmp('query-status').get('status')
                if status == 'running':
                    self.record('%s: power on (already on)' % source)
                    return
                # e.g. paused: treat like a dead machine and start afresh
                self._kill()
            self.record('%s: power on' % source)
            self._start(source)

    def power_off(self, source='bmc'):
        with self.lock:
            if not self._alive():
                self.record('%s: power off (already off)' % source)
                return
            self.record('%s: power off' % source)
            self._kill()

    def soft_off(self, source='bmc'):
        with self.lock:
            if not self._alive():
                self.record('%s: soft off (already off)' % source)
                return
            if self.ignore_acpi:   # pretend the guest ignores the button
                self.record('%s: soft off ignored (ignore_acpi)' % source)
                return
            self.record('%s: soft off (ACPI system_powerdown)' % source)
            self.qmp('system_powerdown')

    def reset(self, source='bmc'):
        with self.lock:
            if not self._alive():
                raise MachineStateError('reset: machine is off')
            wanted = (self._next_boot_device(), self.boot_mode)
            if wanted == self._reset_boots:
                self.record('%s: reset (QMP system_reset)' % source)
                self.qmp('system_reset')
                self._consume_boot()   # the process's own boot order applies
            else:
                # QEMU fixes the boot order at start: restart the process.
                self.record('%s: reset (restart QEMU for boot %s/%s)' % (
                    source, wanted[0], wanted[1]))
                self._kill()
                self._start(source)

    def nmi(self, source='bmc'):
        with self.lock:
            if not self._alive():
                raise MachineStateError('nmi: machine is off')
            self.record('%s: NMI' % source)
            self.qmp('inject-nmi')

    # ------------------------------------------------------------ media
    def insert_media(self, image, path):
        with self.lock:
            super().insert_media(image, path)
            if self._alive():
                self.qmp('blockdev-change-medium', id=CD_DEVICE_ID,
                         filename=path, format='raw',
                         **{'read-only-mode': 'read-only'})

    def eject_media(self):
        with self.lock:
            super().eject_media()
            if self._alive():
                self.qmp('eject', id=CD_DEVICE_ID, force=True)

    def snapshot(self, log_tail=200):
        with self.lock:
            snap = super().snapshot(log_tail)
            snap['pid'] = self.pid()
            snap['qmp'] = self.qmp_path
            snap['console_log'] = self.console_log
            snap['argv'] = self.argv if snap['pid'] else None
            return snap

    def close(self):
        with self.lock:
            if self._alive():
                self.record('emulator exiting: stopping QEMU')
                self._kill(grace=3)


# ------------------------------------------------------- command line glue

def add_machine_arguments(parser):
    """The machine options both BMC emulators accept."""
    g = parser.add_argument_group('machines')
    g.add_argument('--machine', choices=('memory', 'qemu'), default='memory',
                   help='what is behind each BMC (default: memory)')
    g.add_argument('--boot-mode', choices=BOOT_MODES, default='bios',
                   help='initial firmware boot mode (default: bios)')
    g.add_argument('--soft-off-delay', type=float, default=0.0,
                   metavar='SECONDS',
                   help='memory machines: seconds an ACPI soft off takes '
                        '(default 0)')
    g.add_argument('--ignore-acpi', action='store_true',
                   help='memory machines: never complete a soft off')
    g.add_argument('--qemu-args', default='-machine pc -m 256 -nodefaults '
                   '-display none', metavar='ARGS',
                   help='extra qemu arguments, shell-quoted; {index}, '
                        '{name}, {mac} and {run_dir} are replaced per '
                        "machine (default: '%(default)s')")
    g.add_argument('--qemu-binary', default='qemu-system-x86_64')
    g.add_argument('--qemu-uefi-firmware', default=None, metavar='PATH',
                   help='firmware for UEFI boot mode (default: OVMF.fd)')
    g.add_argument('--qmp-dir', default=None, metavar='DIR',
                   help='where QMP sockets and QEMU output go (default: '
                        'the state dir)')
    g.add_argument('--name-prefix', default='node-', metavar='PREFIX',
                   help='machine names are PREFIX0, PREFIX1, ...')


def make_machines(args, count, run_dir):
    machines = []
    for i in range(count):
        name = '%s%d' % (args.name_prefix, i)
        common = dict(index=i, boot_mode=args.boot_mode,
                      soft_off_delay=args.soft_off_delay,
                      ignore_acpi=args.ignore_acpi)
        if args.machine == 'memory':
            machines.append(InMemoryMachine(name, **common))
        else:
            machines.append(QemuMachine(
                name, extra_args=shlex.split(args.qemu_args),
                run_dir=args.qmp_dir or run_dir,
                qemu_binary=args.qemu_binary,
                uefi_firmware=args.qemu_uefi_firmware, **common))
    return machines
