"""The chassis behind ipmi_sim_bmc.py: power and boot device of its machine.

ipmi_sim 2.0.33 answers Set/Get System Boot Options only when lan.conf
names a ``chassis_control`` program, and then it sends every chassis
command (power, reset, boot device, soft shutdown, identify) to that
program rather than to the machine (lanserv/bmc_chassis.c).  The program,
sim_chassis_control.py, forwards each call over a unix socket to
``ChassisServer`` here, which owns the machine process: it starts the
stand-in machine or QEMU on power on with the boot device chosen then,
tells it to power off, shut down gracefully or reset (the stand-in by
signal, QEMU over QMP), and kills it by PID when it does not go.

ipmi_sim passes the boot device only (data byte 2 of parameter 5), not the
persistent or valid bits, so the device set last stays until it is set
again, as a BMC keeps a persistent device.

Threads: ``ChassisServer`` runs on one thread of its own, which also
starts every machine (setpriv's parent-death signal is tied to that
thread) and reaps it; the caller's thread only starts and stops it.
"""

import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import threading
import time

LOG = logging.getLogger('ipmi_sim')

# ipmi_sim's names for boot device selectors (bmc_chassis.c boot_map)
BOOT_DEVICES = ('none', 'pxe', 'default', 'cdrom', 'bios')
# QEMU's -boot for a device; 'none' is the machine's own order
QEMU_BOOT = {'pxe': 'order=n', 'default': 'order=c', 'cdrom': 'order=d',
             'bios': 'menu=on'}
# how the stand-in machine (sim_vm.py) is told what the VM protocol would
# have told it: power off, graceful shutdown, reset
STUB_SIGNALS = {'off': signal.SIGTERM, 'soft': signal.SIGUSR1,
                'reset': signal.SIGUSR2}
QMP_COMMANDS = {'off': 'quit', 'soft': 'system_powerdown',
                'reset': 'system_reset'}
REPLY_MAX = 1024


class ChassisError(Exception):
    pass


def qmp(path, command, timeout=5.0):
    """One QMP command on QEMU's unix socket ``path``; its reply."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        f = s.makefile('rwb')
        f.readline()                                    # the greeting
        for cmd in ('qmp_capabilities', command):
            f.write(json.dumps({'execute': cmd}).encode() + b'\n')
            f.flush()
            while True:
                line = f.readline()
                if not line:
                    return None         # quit: QEMU closes the socket
                reply = json.loads(line)
                if 'event' not in reply:
                    break
            if 'error' in reply:
                raise ChassisError('qmp %s: %s' % (cmd, reply['error']))
        return reply


class Chassis:
    """Power and boot device.  ``machine_argv(boot)`` is the command line
    of the machine for a boot device; ``qmp_path`` is QEMU's QMP socket
    (None for the stand-in machine).  Used from ChassisServer's thread."""

    def __init__(self, machine_argv, log_path, qmp_path=None, kill_wait=2):
        self.machine_argv = machine_argv
        self.log_path = log_path
        self.qmp_path = qmp_path
        self.kill_wait = kill_wait
        self.boot = 'none'
        self.proc = None

    def reap(self):
        if self.proc is not None and self.proc.poll() is not None:
            LOG.info('machine (pid %d) exited (%s)', self.proc.pid,
                     self.proc.returncode)
            self.proc = None

    def is_on(self):
        self.reap()
        return self.proc is not None

    def pid(self):
        return self.proc.pid if self.is_on() else None

    def power_on(self):
        if self.is_on():
            return
        argv = self.machine_argv(self.boot)
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(
                ['setpriv', '--pdeathsig', 'KILL', '--'] + argv,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        LOG.info('machine started (pid %d), boot device %s', self.proc.pid,
                 self.boot)

    def tell(self, what):
        """Asks the running machine to power off, shut down or reset."""
        if not self.is_on():
            return False
        LOG.info('machine (pid %d): %s', self.proc.pid, what)
        if self.qmp_path is None:
            self.proc.send_signal(STUB_SIGNALS[what])
            return True
        try:
            qmp(self.qmp_path, QMP_COMMANDS[what])
        except (OSError, ValueError, ChassisError) as e:
            LOG.warning('qmp %s: %s', QMP_COMMANDS[what], e)
            return False
        return True

    def power_off(self):
        if not self.is_on():
            return
        if not self.tell('off'):
            self.proc.kill()
        try:
            self.proc.wait(self.kill_wait)
        except subprocess.TimeoutExpired:
            LOG.warning('machine (pid %d) still on after %d s: SIGKILL',
                        self.proc.pid, self.kill_wait)
            self.proc.kill()
            self.proc.wait()
        self.reap()

    def set_boot(self, device):
        if device not in BOOT_DEVICES:
            raise ChassisError('unknown boot device %r' % device)
        self.boot = device
        LOG.info('boot device %s (at the next power on)', device)

    def handle(self, words):
        """One call of ipmi_sim's chassis_control program: ``get NAME...``
        or ``set NAME VALUE...`` (lanserv/extcmd.c); the text it prints."""
        if words[:1] == ['get']:
            values = {'power': '1' if self.is_on() else '0',
                      'boot': self.boot, 'pid': str(self.pid() or 0)}
            try:
                return ''.join('%s:%s\n' % (n, values[n]) for n in words[1:])
            except KeyError as e:
                raise ChassisError('cannot get %s' % e)
        if words[:1] != ['set'] or len(words) < 3:
            raise ChassisError('bad call %r' % ' '.join(words))
        name, value = words[1], ' '.join(words[2:])
        if name == 'power':
            self.power_on() if value == '1' else self.power_off()
        elif name == 'reset':
            self.tell('reset')
        elif name == 'shutdown':
            self.tell('soft')
        elif name == 'boot':
            self.set_boot(value)
        elif name == 'identify':
            LOG.info('identify %s', value)
        else:
            raise ChassisError('cannot set %s' % name)
        return ''


class ChassisServer:
    """Serves ``chassis`` on a unix socket at ``path``: a request is one
    line of words, the reply ``0`` or ``1`` on a line, then the text to
    print or the error.  One request at a time, on its own thread."""

    def __init__(self, chassis, path):
        self.chassis = chassis
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(8)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name='chassis',
                                       daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(self.chassis.kill_wait + 10)
        self.listener.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _serve(self, conn):
        conn.settimeout(5)
        data = b''
        while not data.endswith(b'\n') and len(data) < REPLY_MAX:
            chunk = conn.recv(REPLY_MAX)
            if not chunk:
                break
            data += chunk
        words = data.decode(errors='replace').split()
        try:
            reply = '0\n' + self.chassis.handle(words)
        except (ChassisError, OSError) as e:
            LOG.error('chassis_control %s: %s', ' '.join(words), e)
            reply = '1\n%s\n' % e
        conn.sendall(reply.encode())

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ)
        while not self.stopping.is_set():
            if sel.select(timeout=0.2):
                conn, _ = self.listener.accept()
                with conn:
                    try:
                        self._serve(conn)
                    except OSError as e:
                        LOG.warning('chassis_control connection: %s', e)
            self.chassis.reap()
        if self.chassis.is_on():
            self.chassis.power_off()
        sel.close()


def call(path, *words, timeout=30.0):
    """A chassis request (sim_chassis_control.py and SimBmc): (ok, text)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((' '.join(words) + '\n').encode())
        data = b''
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(REPLY_MAX)
            if not chunk:
                break
            data += chunk
    status, _, text = data.decode(errors='replace').partition('\n')
    return status == '0', text
