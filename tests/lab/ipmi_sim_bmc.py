#!/usr/bin/python3
"""A lab IPMI BMC with Serial-over-LAN: OpenIPMI's real ``ipmi_sim``.

virtualbmc and our pyghmi-based ipmi_bmc.py have no SOL; ``ipmi_sim``
(Debian ``openipmi`` 2.0.33) does.  This script writes an ipmi_sim
lan.conf and emulator command file into a work directory and runs
``ipmi_sim -n -c lan.conf -f emu.cmds -s state`` as its child (stopped by
PID), in front of one machine:

  --machine stub   sim_vm.py, a stand-in VM that speaks ipmi_sim's VM
                   protocol as QEMU does (fast, no CPU; flow tests)
  --machine qemu   a real qemu-system-x86_64 with ipmi-bmc-extern (e2e)

ipmi_sim sends chassis commands (power, reset, soft off, boot device) to
its ``chassis_control`` program, sim_chassis_control.py, which hands them
to this process (sim_chassis.py) over a unix socket: it starts the machine
on power on, booting from the device set last (stub: printed on its serial
line; QEMU: ``-boot order=n|c|d``), and powers it off, shuts it down or
resets it (stub: by signal; QEMU: over QMP).
The machine's serial port reaches ipmi_sim's ``sol`` device through a small
relay in this process (one thread), which also appends every byte the
machine prints to ``--serial-log``: ipmi_sim retries a lost SOL device
connection only every 10 s, so the relay keeps that connection up across
machine power cycles, as a BMC's UART is always there.

Ports: UDP ``--port`` is the LAN channel (1); UDP ``--port + 1`` is a
second LAN channel numbered 14, there only because ipmi_sim 2.0.33
dereferences channel 0xE on a Get Channel Payload Support for it (which
ipmiconsole sends) and crashes unless the channel exists.  TCP ports
inside are picked free at start and listed in <work-dir>/state.json.

Threads: the main thread starts ipmi_sim (under ``setpriv --pdeathsig
KILL``, so it never outlives this script) and waits for SIGTERM; the serial
relay and the chassis (which starts and stops the machine) have a thread
each.  ``SimBmc`` is the test side: it runs this
script as a child and is used from the caller's thread (see its
docstring).  Examples:
  ipmi_sim_bmc.py --port 9001 --user admin --password password
  ipmitool -I lanplus -C 3 -H 127.0.0.1 -p 9001 -U admin -P password power on
  ipmitool -I lanplus -C 3 -H 127.0.0.1 -p 9001 -U admin -P password \\
      chassis bootdev pxe
  ipmiconsole -h 127.0.0.1:9001 -u admin -p password \\
      -W opensesspriv,solpayloadsize
  ipmitool -I lanplus -C 3 -H 127.0.0.1 -p 9001 -U admin -P password \\
      sol deactivate
"""

import argparse
import json
import logging
import os
import random
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import control                                            # noqa: E402
import sim_chassis                                        # noqa: E402

LOG = logging.getLogger('ipmi_sim')
HERE = Path(__file__).resolve().parent
PYTHON = '/usr/bin/python3'
READY_TIMEOUT = 15.0

# One BMC (MC 0x20) with chassis support: what ipmitool, freeipmi and
# Ironic need; no sensors, no SEL.
EMU_CMDS = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
mc_enable 0x20
"""

LAN_CHANNEL = """\
  startlan {channel}
    addr {address} {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid {guid}
  endlan
"""

LAN_CONF = """\
# written by tests/lab/ipmi_sim_bmc.py; see ipmi_lan(5)
name "{name}"
set_working_mc 0x20
{channels}
  serial 15 127.0.0.1 {vm_port} codec VM
  chassis_control "{chassis_control}"
  sol "tcp:127.0.0.1:{sol_port}" 115200
  user 2 true "{user}" "{password}" admin 10 none md2 md5 straight
"""


def free_tcp_port(address='127.0.0.1'):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def conf_string(value, what):
    """lan.conf strings are double-quoted without escapes."""
    if '"' in value or '\n' in value:
        raise ValueError('%s must not contain " or a newline' % what)
    return value


def machine_argv(args, ports, qmp_path):
    """The machine's command line for a boot device (sim_chassis.py)."""
    def stub(boot):
        return [PYTHON, str(HERE / 'sim_vm.py'), '--name', args.name,
                '--vm-port', str(ports['vm']),
                '--serial-port', str(ports['machine_serial']),
                '--wire-port', str(ports['wire']), '--boot', boot]

    def qemu(boot):
        argv = [
            'qemu-system-x86_64', '-accel', 'tcg', '-nodefaults',
            '-display', 'none', '-name', args.name,
            '-chardev', 'socket,id=ipmi0,host=127.0.0.1,port=%d,reconnect=1'
            % ports['vm'],
            '-device', 'ipmi-bmc-extern,id=bmc0,chardev=ipmi0',
            '-device', 'isa-ipmi-kcs,bmc=bmc0',
            '-chardev', 'socket,id=ser0,host=127.0.0.1,port=%d'
            % ports['machine_serial'],
            '-serial', 'chardev:ser0',
            '-qmp', 'unix:%s,server=on,wait=off' % qmp_path]
        order = sim_chassis.QEMU_BOOT.get(boot, args.qemu_boot)
        if order:
            argv += ['-boot', order]
        return argv + shlex.split(args.qemu_args)
    return stub if args.machine == 'stub' else qemu


def chassis_control(sock):
    """lan.conf's chassis_control: ipmi_sim appends ``get NAME`` or ``set
    NAME "VALUE"`` and runs it through /bin/sh."""
    argv = [PYTHON, '-S', str(HERE / 'sim_chassis_control.py'), str(sock)]
    return conf_string(' '.join(shlex.quote(a) for a in argv),
                       'the chassis_control command')


def render_lan_conf(args, ports, chassis_sock):
    guid = '%032x' % (ports['vm'] * 65537 + args.port)
    channels = ''.join(
        LAN_CHANNEL.format(channel=ch, address=args.address, port=port,
                           guid=guid)
        for ch, port in ((1, args.port), (14, args.port + 1)))
    return LAN_CONF.format(
        name=conf_string(args.name, '--name'), channels=channels,
        vm_port=ports['vm'], sol_port=ports['sol'],
        chassis_control=chassis_control(chassis_sock),
        user=conf_string(args.user, '--user'),
        password=conf_string(args.password, '--password'))


class SerialRelay:
    """Bytes between the machine's serial port (it connects to
    ``machine_port``) and ipmi_sim's sol device (it connects to
    ``sol_port``); what the machine prints is also appended to
    ``log_path``.  While one side is not connected its bytes are dropped,
    as on a serial line.  A newer connection on either side replaces the
    older one.  Runs on its own thread."""

    def __init__(self, log_path):
        self.log = open(log_path, 'ab')
        self.sel = selectors.DefaultSelector()
        self.conn = {'machine': None, 'sol': None}
        self.ports = {}
        for side in self.conn:
            lsock = socket.create_server(('127.0.0.1', 0))
            self.ports[side] = lsock.getsockname()[1]
            self.sel.register(lsock, selectors.EVENT_READ, ('listen', side))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name='relay',
                                       daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.log.close()

    def _drop(self, side):
        sock = self.conn[side]
        if sock is not None:
            self.sel.unregister(sock)
            sock.close()
            self.conn[side] = None
            LOG.info('serial relay: %s side disconnected', side)

    def _run(self):
        while not self.stopping.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                kind, side = key.data
                if kind == 'listen':
                    sock, _ = key.fileobj.accept()
                    self._drop(side)
                    self.conn[side] = sock
                    self.sel.register(sock, selectors.EVENT_READ,
                                      ('data', side))
                    LOG.info('serial relay: %s side connected', side)
                    continue
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b''
                if not data:
                    self._drop(side)
                    continue
                if side == 'machine':
                    self.log.write(data)
                    self.log.flush()
                peer = self.conn['sol' if side == 'machine' else 'machine']
                if peer is not None:
                    try:
                        peer.sendall(data)
                    except OSError:
                        pass    # noticed as a disconnect on its next read


def ipmi_ping(address, port, timeout=0.2):
    """True if an IPMI BMC answers a sessionless Get Channel Authentication
    Capabilities (channel 0xE, admin) on UDP address:port."""
    msg = bytes([0x20, 0x18, 0xc8, 0x81, 0x00, 0x38, 0x8e, 0x04])
    msg += bytes([-sum(msg[3:]) & 0xff])
    pkt = bytes([0x06, 0x00, 0xff, 0x07, 0x00]) + bytes(8) + \
        bytes([len(msg)]) + msg
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(pkt, (address, port))
            return len(s.recv(512)) > 0
        except OSError:
            return False


def stop_pid(popen, timeout=5):
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def wait_up(args, sim, stop):
    """Polls until ipmi_sim answers IPMI; False if it died or never did."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not ipmi_ping(args.address, args.port):
        if sim.poll() is not None or time.monotonic() > deadline:
            LOG.error('ipmi_sim did not come up (exit %s)', sim.poll())
            return False
        if stop.is_set():
            return False
    return True


def serve(args, work, stop):
    """Runs ipmi_sim until ``stop`` is set or it dies; returns an exit
    code."""
    state = work / 'state'
    state.mkdir(exist_ok=True)
    serial_log = Path(args.serial_log or work / 'serial.log')
    relay = SerialRelay(serial_log)
    ports = {'vm': free_tcp_port(), 'sol': relay.ports['sol'],
             'machine_serial': relay.ports['machine'],
             'wire': free_tcp_port()}
    # unix socket paths must stay short (108 bytes): not in the work dir
    sockets = Path(tempfile.mkdtemp(prefix='simbmc-'))
    qmp_path = sockets / 'qmp.sock' if args.machine == 'qemu' else None
    chassis = sim_chassis.ChassisServer(sim_chassis.Chassis(
        machine_argv(args, ports, qmp_path), work / 'machine.log',
        qmp_path=qmp_path and str(qmp_path), kill_wait=args.kill_wait),
        str(sockets / 'chassis.sock'))
    (work / 'lan.conf').write_text(
        render_lan_conf(args, ports, chassis.path))
    (work / 'emu.cmds').write_text(EMU_CMDS)
    relay.start()
    chassis.start()
    argv = ['setpriv', '--pdeathsig', 'KILL', '--',
            'ipmi_sim', '-n', '-c', str(work / 'lan.conf'),
            '-f', str(work / 'emu.cmds'), '-s', str(state)]
    sim = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        if not wait_up(args, sim, stop):
            return 0 if stop.is_set() else 1
        info = {'pid': os.getpid(), 'ipmi_sim_pid': sim.pid,
                'address': args.address, 'port': args.port,
                'aux_port': args.port + 1, 'machine': args.machine,
                'serial_log': str(serial_log), 'ports': ports,
                'chassis_socket': chassis.path}
        tmp = work / 'state.json.tmp'
        tmp.write_text(json.dumps(info, indent=1))
        tmp.rename(work / 'state.json')
        LOG.info('ipmi_sim (pid %d) on udp %s:%d (channel 14: %d), user '
                 '%r, machine %s, serial log %s', sim.pid, args.address,
                 args.port, args.port + 1, args.user, args.machine,
                 serial_log)
        LOG.info('ready')
        while not stop.wait(0.2):
            if sim.poll() is not None:
                LOG.error('ipmi_sim exited (%s)', sim.returncode)
                return 1
        return 0
    finally:
        stop_pid(sim)
        chassis.stop()              # powers the machine off
        relay.stop()
        shutil.rmtree(sockets, ignore_errors=True)


def free_udp_pair(address='127.0.0.1'):
    """A UDP port p with p + 1 also free (LAN channels 1 and 14), below
    32768: libipmiconsole (FreeIPMI 1.6.10) answers "hostname invalid" to
    a HOST:PORT with a port above 32767."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, 32766)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            try:
                a.bind((address, port))
                b.bind((address, port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError('no free pair of UDP ports')


class SimBmc:
    """This script as a child process, for tests and labs::

        bmc = SimBmc(tmp_path / 'bmc', user='admin', password='secret')
        bmc.start()            # polls until it answers IPMI ('ready')
        bmc.port, bmc.pid, bmc.ipmi_sim_pid, bmc.machine_pid()
        bmc.power_state()      # 'on' while the machine process lives
        bmc.boot_device()      # the device set last: pxe, default, ...
        bmc.serial_write(b'login: ')       # stub: the machine prints
        bmc.serial_read(5, until=b'\\r')   # stub: what SOL users typed
        bmc.serial_log()       # all the machine printed (both modes)
        bmc.sol_deactivate()   # drop the active SOL session, as a BMC does
        bmc.stop()

    ``prefix`` runs it (and sol_deactivate's ipmitool) under a command
    prefix such as ``['ip', 'netns', 'exec', 'NS']``; then pass ``port``
    (free in that namespace; port + 1 is used too).  serial_write and
    serial_read reach the stand-in machine over 127.0.0.1, so they need
    the stub machine and no namespace; machine_pid, power_state and
    boot_device ask the chassis thread over its unix socket, which works
    from any namespace.  ``extra_args`` go to the command line (--machine
    qemu, --qemu-args ..., --serial-log ...).
    """

    def __init__(self, work_dir, user='admin', password='password',
                 port=None, address='127.0.0.1', prefix=(), extra_args=()):
        self.work = Path(work_dir)
        self.user, self.password = user, password
        self.address = address
        self.port = port if port is not None else free_udp_pair(address)
        self.prefix = [str(a) for a in prefix]
        self.extra_args = [str(a) for a in extra_args]
        self.proc = None
        self.pid = None
        self.info = None
        self._log = None
        self._wire = None
        self._typed = bytearray()

    @property
    def log_path(self):
        return self.work / 'ipmi_sim_bmc.log'

    @property
    def ipmi_sim_pid(self):
        return self.info['ipmi_sim_pid']

    def start(self, timeout=READY_TIMEOUT + 5):
        self.work.mkdir(parents=True, exist_ok=True)
        argv = self.prefix + [
            PYTHON, str(Path(__file__).resolve()), '--address', self.address,
            '--port', str(self.port), '--user', self.user, '--password',
            self.password, '--work-dir', str(self.work)] + self.extra_args
        self._log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        state = self.work / 'state.json'
        deadline = time.monotonic() + timeout
        while not (state.exists() and ' ready\n' in self.log()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('ipmi_sim_bmc.py did not start:\n'
                                   + self.log()[-3000:])
            time.sleep(0.05)
        self.info = json.loads(state.read_text())
        return self

    def log(self):
        return self.log_path.read_text(errors='replace')

    def serial_log(self):
        return Path(self.info['serial_log']).read_bytes()

    def chassis(self, *words):
        """A request to the chassis thread, as ipmi_sim makes it."""
        ok, text = sim_chassis.call(self.info['chassis_socket'], *words)
        if not ok:
            raise RuntimeError('chassis %s: %s' % (' '.join(words), text))
        return text

    def machine_pid(self):
        """The running machine's PID, or None."""
        return int(self.chassis('get', 'pid').split(':')[1]) or None

    def power_state(self):
        """'on' or 'off', from the chassis, not through IPMI."""
        return 'on' if self.chassis('get', 'power') == 'power:1\n' \
            else 'off'

    def boot_device(self):
        """ipmi_sim's name of the boot device set last: none, pxe,
        default (disk), cdrom or bios."""
        return self.chassis('get', 'boot').split(':')[1].strip()

    def _wire_drain(self, wait):
        """Moves typed bytes from the stand-in machine into the buffer;
        forgets the connection when that machine is gone."""
        self._wire.settimeout(wait)
        try:
            data = self._wire.recv(4096)
        except socket.timeout:
            return
        except OSError:
            data = b''
        if data:
            self._typed += data
        else:
            self._wire.close()
            self._wire = None

    def _wire_conn(self, timeout):
        if self._wire is not None:
            self._wire_drain(0)
        deadline = time.monotonic() + timeout
        while self._wire is None:
            try:
                self._wire = socket.create_connection(
                    ('127.0.0.1', self.info['ports']['wire']), timeout=2)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError('the machine is not running (power '
                                       '%s)' % self.power_state())
                time.sleep(0.05)
        return self._wire

    def serial_write(self, data, timeout=10):
        """Bytes "printed by the machine" on its serial port (stub)."""
        self._wire_conn(timeout).sendall(data)

    def serial_read(self, timeout, until=None):
        """Bytes typed by SOL users (stub): everything received within
        ``timeout`` seconds, or up to and including ``until`` (a
        TimeoutError carries what came if it never does)."""
        deadline = time.monotonic() + timeout
        while until is None or until not in self._typed:
            left = deadline - time.monotonic()
            if left <= 0:
                if until is None:
                    break
                raise TimeoutError('no %r typed; got %r' %
                                   (until, bytes(self._typed)))
            if self._wire is None:
                self._wire_conn(left)
            else:
                self._wire_drain(min(left, 0.2))
        if until is None:
            out, self._typed = bytes(self._typed), bytearray()
        else:
            end = self._typed.index(until) + len(until)
            out = bytes(self._typed[:end])
            del self._typed[:end]
        return out

    def ipmitool(self, *args, timeout=30):
        """ipmitool lanplus against this BMC (cipher suite 3: without -C,
        ipmitool 1.8.19 first waits 10 s for Get Channel Cipher Suites,
        which ipmi_sim does not answer)."""
        argv = self.prefix + [
            'ipmitool', '-I', 'lanplus', '-C', '3', '-H', self.address,
            '-p', str(self.port), '-U', self.user, '-P', self.password]
        return subprocess.run(argv + [str(a) for a in args],
                              capture_output=True, text=True,
                              timeout=timeout)

    def sol_deactivate(self):
        """What a field BMC does to a SOL session: deactivate the payload
        from another session (ipmitool sol deactivate).  ipmi_sim then
        ignores the active session's SOL packets and sends no more, so its
        client notices at its next SOL packet (typed byte or serial
        keepalive) once its retransmissions run out."""
        r = self.ipmitool('sol', 'deactivate')
        if r.returncode != 0:
            raise RuntimeError('sol deactivate failed: %s%s'
                               % (r.stdout, r.stderr))

    def stop(self, timeout=15):
        if self._wire is not None:
            self._wire.close()
            self._wire = None
        if self.proc is not None:
            stop_pid(self.proc, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode if self.proc else None


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='An IPMI 2.0 BMC with Serial-over-LAN for the lifeboat '
                    "lab: OpenIPMI's ipmi_sim in front of one machine.",
        epilog='examples:' + __doc__.split('Examples:', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--address', default='127.0.0.1',
                   help='address of the LAN channels (default 127.0.0.1)')
    p.add_argument('--port', type=int, default=9001,
                   help='UDP port of LAN channel 1; channel 14 uses '
                        'port + 1 (default 9001)')
    p.add_argument('--user', default='admin',
                   help='the ADMINISTRATOR user (user id 2)')
    p.add_argument('--password', default='password')
    p.add_argument('--name', default='lab-sim',
                   help='BMC and machine name')
    p.add_argument('--machine', choices=('stub', 'qemu'), default='stub')
    p.add_argument('--qemu-args', default='-machine pc -m 256',
                   help='more QEMU arguments (--machine qemu)')
    p.add_argument('--qemu-boot', default='order=n',
                   help="QEMU's -boot while no boot device is set (boot "
                        "device none: the machine's own order; '' for "
                        "QEMU's default; default order=n)")
    p.add_argument('--serial-log', default=None,
                   help='file the machine\'s serial output is appended to '
                        '(default <work-dir>/serial.log)')
    p.add_argument('--kill-wait', type=int, default=2,
                   help='seconds the machine has to power off when told '
                        'to, before SIGKILL')
    p.add_argument('--work-dir', default=None,
                   help='working directory (default: a temporary one, '
                        'removed at exit)')
    p.add_argument('-v', '--verbose', action='store_true')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    control.setup_logging('ipmi_sim_bmc', args.verbose)
    stop = control.stop_event_on_signals()
    tmp_work = args.work_dir is None
    work = Path(args.work_dir or tempfile.mkdtemp(prefix='lab-ipmi-sim-'))
    work.mkdir(parents=True, exist_ok=True)
    (work / 'state.json').unlink(missing_ok=True)
    try:
        rc = serve(args, work, stop)
    except (OSError, ValueError) as e:
        LOG.error('cannot start: %s', e)
        rc = 1
    finally:
        if tmp_work:
            shutil.rmtree(work, ignore_errors=True)
    LOG.info('stopped')
    return rc


if __name__ == '__main__':
    sys.exit(main())
