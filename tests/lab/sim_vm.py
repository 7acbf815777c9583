#!/usr/bin/python3
"""A stand-in "virtual machine" for ipmi_sim_bmc.py's QEMU-less mode.

The BMC's chassis (sim_chassis.py) starts it on a power on, as it would
start QEMU, so the chassis is powered on while this process lives.  It
prints ``[NAME: power on]`` and ``[NAME: boot DEVICE]`` (``--boot``, the
boot device the BMC had then) on its serial line, as firmware would show
them.  It speaks the VM protocol of OpenIPMI's lanserv/README.vm to
ipmi_sim's ``serial 15 ... codec VM`` port the way QEMU's ipmi-bmc-extern
device does: version and capabilities on connect, then it obeys power off
(exits), graceful shutdown (exits), reset (prints a reset line) and NMI.
With a chassis_control program ipmi_sim sends power off, soft off and reset
to that program instead, and the chassis passes them on as signals: SIGTERM
(power off), SIGUSR1 (graceful shutdown), SIGUSR2 (reset), with the same
lines and effects.

Its serial port is a TCP connection to the BMC's serial relay (where QEMU's
``-serial`` chardev would connect).  A test plays the machine's software
through ``--wire-port``: bytes a client sends there are "printed by the
machine" on the serial port, and bytes typed by a SOL user are sent to that
client.  Single-threaded: one selector loop over its sockets.
"""

import argparse
import selectors
import signal
import socket
import sys
import time

VM_MSG_CHAR = 0xa0
VM_CMD_CHAR = 0xa1
VM_ESCAPE_CHAR = 0xaa
VM_CMD_VERSION = 0xff
VM_PROTOCOL_VERSION = 1
VM_CMD_POWEROFF = 0x03
VM_CMD_RESET = 0x04
VM_CMD_SEND_NMI = 0x07
VM_CMD_CAPABILITIES = 0x08
VM_CMD_GRACEFUL_SHUTDOWN = 0x09
# power off, reset, NMI, graceful shutdown (what QEMU announces, less the
# interrupt and attention bits a machine without a guest driver never uses)
VM_CAPABILITIES = 0x01 | 0x02 | 0x08 | 0x20
# the chassis's signals, as the VM commands they stand for
SIGNAL_COMMANDS = {signal.SIGTERM: VM_CMD_POWEROFF,
                   signal.SIGUSR1: VM_CMD_GRACEFUL_SHUTDOWN,
                   signal.SIGUSR2: VM_CMD_RESET}

CONNECT_TIMEOUT = 10.0


def vm_escape(data):
    """README.vm framing: each of the three special bytes goes as 0xaa then
    the byte with bit 4 set (0xa0 -> 0xaa 0xb0); the receiver clears it."""
    out = bytearray()
    for b in data:
        if b in (VM_MSG_CHAR, VM_CMD_CHAR, VM_ESCAPE_CHAR):
            out += bytes([VM_ESCAPE_CHAR, b | 0x10])
        else:
            out.append(b)
    return bytes(out)


def vm_command(*data):
    return vm_escape(bytes(data)) + bytes([VM_CMD_CHAR])


class VmDecoder:
    """Splits ipmi_sim's byte stream into (kind, bytes) frames, kind being
    'cmd' (ended by 0xa1) or 'msg' (an IPMI message, ended by 0xa0)."""

    def __init__(self):
        self.buf = bytearray()
        self.escape = False

    def feed(self, data):
        frames = []
        for b in data:
            if b in (VM_MSG_CHAR, VM_CMD_CHAR):
                if self.buf:
                    frames.append(('cmd' if b == VM_CMD_CHAR else 'msg',
                                   bytes(self.buf)))
                self.buf.clear()
                self.escape = False
            elif b == VM_ESCAPE_CHAR:
                self.escape = True
            else:
                self.buf.append(b & ~0x10 if self.escape else b)
                self.escape = False
        return frames


def connect(port, timeout=CONNECT_TIMEOUT):
    """Connect to 127.0.0.1:port, retrying while nobody listens yet
    (QEMU's reconnect= does the same)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(('127.0.0.1', port), timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class StandInVm:
    def __init__(self, args):
        self.name = args.name
        self.vm = connect(args.vm_port)
        self.serial = connect(args.serial_port)
        self.wire_listener = socket.create_server(('127.0.0.1',
                                                   args.wire_port))
        self.wire = None
        self.decoder = VmDecoder()
        self.sel = selectors.DefaultSelector()
        # signals arrive as bytes on a socket the loop selects on
        self.sig_r, sig_w = socket.socketpair()
        sig_w.setblocking(False)
        self._sig_w = sig_w
        for signum in SIGNAL_COMMANDS:
            signal.signal(signum, lambda *_: None)
        signal.set_wakeup_fd(sig_w.fileno(), warn_on_full_buffer=False)
        for sock, what in ((self.vm, 'vm'), (self.serial, 'serial'),
                           (self.wire_listener, 'listen'),
                           (self.sig_r, 'signal')):
            sock.setblocking(True)
            self.sel.register(sock, selectors.EVENT_READ, what)
        self.vm.sendall(vm_command(VM_CMD_VERSION, VM_PROTOCOL_VERSION) +
                        vm_command(VM_CMD_CAPABILITIES, VM_CAPABILITIES))
        self.print_line('power on')
        self.print_line('boot %s' % args.boot)

    def print_line(self, what):
        """A line the machine's firmware prints on its serial port."""
        self.serial.sendall(b'[%s: %s]\r\n' % (self.name.encode(),
                                               what.encode()))

    def on_vm_command(self, cmd):
        """Returns False when the machine is to power off."""
        op = cmd[0]
        if op in (VM_CMD_POWEROFF, VM_CMD_GRACEFUL_SHUTDOWN):
            self.print_line('power off' if op == VM_CMD_POWEROFF
                            else 'graceful shutdown')
            return False
        if op == VM_CMD_RESET:
            self.print_line('reset')
        elif op == VM_CMD_SEND_NMI:
            self.print_line('NMI')
        return True

    def step(self):
        for key, _ in self.sel.select(timeout=1.0):
            what = key.data
            if what == 'listen':
                conn, _ = self.wire_listener.accept()
                if self.wire is not None:       # the newest client wins
                    self.sel.unregister(self.wire)
                    self.wire.close()
                self.wire = conn
                self.sel.register(conn, selectors.EVENT_READ, 'wire')
                continue
            data = key.fileobj.recv(4096)
            if what == 'signal':
                for signum in data:
                    cmd = SIGNAL_COMMANDS.get(signum)
                    if cmd is not None and not self.on_vm_command([cmd]):
                        return False
            elif what == 'vm':
                if not data:
                    return False                # the BMC went away
                for kind, frame in self.decoder.feed(data):
                    if kind == 'cmd' and not self.on_vm_command(frame):
                        return False
            elif what == 'serial':
                if not data:
                    return False
                if self.wire is not None:       # typed by the SOL user
                    self.wire.sendall(data)
            elif what == 'wire':
                if not data:
                    self.sel.unregister(self.wire)
                    self.wire.close()
                    self.wire = None
                else:                           # printed by the machine
                    self.serial.sendall(data)
        return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--name', default='machine')
    p.add_argument('--vm-port', type=int, required=True,
                   help="ipmi_sim's VM protocol port (serial 15 ... codec "
                        "VM)")
    p.add_argument('--serial-port', type=int, required=True,
                   help="the serial relay's machine side")
    p.add_argument('--wire-port', type=int, required=True,
                   help='where a test plays the machine (see above)')
    p.add_argument('--boot', default='none',
                   help='the boot device the BMC had at power on')
    args = p.parse_args(argv)
    vm = StandInVm(args)
    while vm.step():
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
