#!/usr/bin/python3
"""An IPMI 2.0 (RMCP+ / "lanplus") BMC emulator for the lifeboat lab.

Built on pyghmi's ``pyghmi.ipmi.bmc.Bmc`` (the base virtualbmc uses), with
one machine (tests/lab/machine.py) behind each BMC.  One process serves
``--count`` BMCs on consecutive UDP ports starting at ``--port``; BMC i
drives machine i.

Supported commands (what ipmitool, freeipmi and Ironic's ipmitool driver
use): Get Device ID, Get Chassis Status, Chassis Control (off, on, cycle,
hard reset, NMI, soft off = ACPI), Get/Set System Boot Options (parameter 5
boot flags with the persistent and EFI bits; parameters 0, 3, 4 accepted),
Set Session Privilege, Close Session.

``--record FILE`` appends one JSON line per command to FILE (control.py's
Recorder): "session open", "session close", "power status", "power on",
"power off", "bootdev set", "bootdev get", ...; "client" tells the
sessions (one per connection of lifeboat's driver) apart.

Examples:
  ipmi_bmc.py --port 6230 --count 50 --control-port 6200
  ipmitool -I lanplus -H 127.0.0.1 -p 6230 -U admin -P password power on
  ipmipower -D LAN_2_0 -h 127.0.0.1:6231 -u admin -p password --stat
  curl http://127.0.0.1:6200/machines/0
"""

import argparse
import logging
import os
import shutil
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyghmi.ipmi.bmc as pyghmi_bmc                      # noqa: E402
import pyghmi.ipmi.private.constants as ipmi_constants    # noqa: E402
import pyghmi.ipmi.private.serversession as serversession  # noqa: E402
import pyghmi.ipmi.private.session as ipmisession         # noqa: E402

import control                                            # noqa: E402
import machine as lab_machine                             # noqa: E402

LOG = logging.getLogger('ipmi')

# IPMI completion codes
CC_OK = 0x00
CC_PARAM_NOT_SUPPORTED = 0x80
CC_INVALID_DATA = 0xcc
CC_REQ_DATA_LEN = 0xc7
CC_NOT_IN_PRESENT_STATE = 0xd5
CC_UNSPECIFIED = 0xff

# RMCP+ status code in RAKP 2 for an unknown user name.
RAKP_UNAUTHORIZED_NAME = 0x0d

# Boot flags (parameter 5), data byte 2 bits 5:2 "boot device selector".
BOOTDEV_TO_CODE = {'none': 0x0, 'pxe': 0x1, 'disk': 0x2, 'cdrom': 0x5,
                   'bios': 0x6, 'http': 0x1}
CODE_TO_BOOTDEV = {0x0: 'none', 0x1: 'pxe', 0x2: 'disk', 0x3: 'disk',
                   0x5: 'cdrom', 0x6: 'bios', 0x8: 'cdrom', 0x9: 'cdrom',
                   0xb: 'disk'}

COMMAND_NAMES = {
    (0x06, 0x01): 'Get Device ID',
    (0x06, 0x02): 'Cold Reset',
    (0x06, 0x3b): 'Set Session Privilege Level',
    (0x06, 0x3c): 'Close Session',
    (0x06, 0x48): 'Activate Payload',
    (0x06, 0x49): 'Deactivate Payload',
    (0x00, 0x01): 'Get Chassis Status',
    (0x00, 0x02): 'Chassis Control',
    (0x00, 0x08): 'Set System Boot Options',
    (0x00, 0x09): 'Get System Boot Options',
}
CHASSIS_CONTROL = {0: 'power off', 1: 'power on', 2: 'power cycle',
                   3: 'hard reset', 4: 'diag interrupt (NMI)',
                   5: 'soft off (ACPI)'}


class LabServerSession(serversession.ServerSession):
    """pyghmi's server session with three fixes:

    * an unknown user name gets a RAKP 2 error (status 0x0D) instead of
      silence, so clients fail at once rather than after ~15 s of retries;
    * failed logins (wrong password: the client rejects our RAKP 2 and its
      RAKP 3 does not verify) are logged;
    * Close Session forgets the session (pyghmi keeps them forever), and a
      Set Session Privilege below "user" no longer raises AttributeError.
    """

    def __init__(self, *a, **kw):
        self.clientpriv = 4   # fix: pyghmi never sets it for priv <= 1
        super().__init__(*a, **kw)

    def _got_rakp1(self, data):
        namelen = data[27]
        name = bytes(data[28:28 + namelen]).decode('utf-8', 'replace')
        if namelen == 0 or name not in self.authdata:
            self.bmc.log.warning('login refused: unknown user %r from %s',
                                 name, self.sockaddr[0])
            reply = (bytearray([data[0], RAKP_UNAUTHORIZED_NAME, 0, 0])
                     + self.clientsessionid)
            self.send_payload(reply, ipmi_constants.payload_types['rakp2'],
                              retry=False)
            return
        super()._got_rakp1(data)

    def _got_rakp3(self, data):
        super()._got_rakp3(data)
        user = getattr(self, 'username', b'').decode('utf-8', 'replace')
        if getattr(self, 'ipmicallback', None) == self.handle_client_request:
            self.bmc.log.info('session opened for %r from %s', user,
                              self.sockaddr[0])
        else:
            self.bmc.log.warning('login refused: bad password for %r '
                                 'from %s', user, self.sockaddr[0])

    def close_server_session(self):
        self.bmc.recorder.record(self.bmc.port, self.sockaddr,
                                 'session close')
        handlers = ipmisession.Session.bmc_handlers.get(self.sockaddr)
        if handlers and handlers.get(self.bmc.port) is self:
            del handlers[self.bmc.port]
            if not handlers:
                del ipmisession.Session.bmc_handlers[self.sockaddr]


class LabBmc(pyghmi_bmc.Bmc):
    """One BMC on one UDP port, driving one machine."""

    def __init__(self, machine, user, password, port, address,
                 recorder=None):
        bmc_uuid = uuid.uuid5(uuid.NAMESPACE_URL,
                              'lifeboat-lab-ipmi:%s:%d' % (address, port))
        super().__init__({user: password}, port=port, address=address,
                         bmcuuid=bmc_uuid)
        self.machine = machine
        self.recorder = recorder or control.Recorder(None)
        self.log = logging.getLogger('ipmi.%d' % port)
        # Get Device ID answers
        self.deviceid = 0x20
        self.revision = 0x01
        self.firmwaremajor = 1
        self.firmwareminor = 0x00
        self.mfgid = 0           # "unspecified"
        self.prodid = 0x4c42     # 'LB'
        # System boot options parameters 0 (set in progress) and 3 (BMC
        # boot flag valid bit clearing) are remembered and echoed back.
        self.set_in_progress = 0
        self.flag_clearing = 0

    # --- session setup: use our session class for RMCP+ open requests ---
    def sessionless_data(self, data, sockaddr):
        if (len(data) >= 22 and data[0] == 6 and data[2:4] == b'\xff\x07'
                and data[4] == 6 and data[5] == 16):
            # RMCP+ Open Session Request (payload type 0x10)
            self.recorder.record(self.port, sockaddr, 'session open')
            LabServerSession(self.authdata, self.kg, sockaddr,
                             self.serversocket, bytearray(data[16:]),
                             self.uuid, bmc=self)
            return
        super().sessionless_data(data, sockaddr)

    # ---------------------------------------------------- dispatching ---
    def handle_raw_request(self, request, session):
        netfn, cmd = request['netfn'], request['command']
        data = list(request['data'])
        name = COMMAND_NAMES.get((netfn, cmd),
                                 'netfn 0x%02x cmd 0x%02x' % (netfn, cmd))
        if (netfn, cmd) == (0x00, 0x02) and data:
            name += ': ' + CHASSIS_CONTROL.get(data[0], hex(data[0]))
        self.log.info('%s [%s] from %s', name,
                      ' '.join('%02x' % b for b in data),
                      session.sockaddr[0])
        self.recorder.record(self.port, session.sockaddr,
                             record_kind(netfn, cmd, data, name),
                             data=' '.join('%02x' % b for b in data))
        try:
            if (netfn, cmd) == (0x00, 0x08):
                return self.set_boot_options(data, session)
            if (netfn, cmd) == (0x00, 0x09):
                return self.get_boot_options(data, session)
            if (netfn, cmd) == (0x06, 0x01):
                return self.send_device_id(session)
        except Exception:
            self.log.exception('%s failed', name)
            return session.send_ipmi_response(code=CC_UNSPECIFIED)
        return super().handle_raw_request(request, session)

    def send_device_id(self, session):
        # pyghmi sends 4-byte manufacturer and product IDs (14 bytes), which
        # freeipmi rejects; the spec says 3 + 2 bytes (11 or 15 bytes).
        data = [self.deviceid, self.revision, self.firmwaremajor & 0x7f,
                self.firmwareminor, 0x02,   # IPMI version 2.0 (BCD)
                0x80,                       # additional: chassis device
                self.mfgid & 0xff, (self.mfgid >> 8) & 0xff,
                (self.mfgid >> 16) & 0x0f,
                self.prodid & 0xff, (self.prodid >> 8) & 0xff]
        session.send_ipmi_response(data=data)

    # --------------------------------------------------------- power ---
    def _power(self, what, fn):
        try:
            fn(source='ipmi')
            return CC_OK
        except lab_machine.MachineStateError as e:
            self.log.warning('%s refused: %s', what, e)
            return CC_NOT_IN_PRESENT_STATE
        except Exception:
            self.log.exception('%s failed', what)
            return CC_UNSPECIFIED

    def get_power_state(self):
        return self.machine.power_state()       # 'on' / 'off'

    def power_on(self):
        return self._power('power on', self.machine.power_on)

    def power_off(self):
        return self._power('power off', self.machine.power_off)

    def power_cycle(self):
        return self._power('power cycle', self.machine.power_cycle)

    def power_reset(self):
        return self._power('hard reset', self.machine.reset)

    def power_shutdown(self):
        return self._power('soft off', self.machine.soft_off)

    def pulse_diag(self):
        return self._power('NMI', self.machine.nmi)

    def cold_reset(self):
        self.log.info('BMC cold reset (nothing to do)')
        return CC_OK

    # -------------------------------------------------- boot options ---
    def get_boot_options(self, data, session):
        if not data:
            return session.send_ipmi_response(code=CC_REQ_DATA_LEN)
        param = data[0] & 0x7f
        if param == 0:
            return session.send_ipmi_response(
                data=[1, 0, self.set_in_progress])
        if param == 3:
            return session.send_ipmi_response(
                data=[1, 3, self.flag_clearing])
        if param == 4:
            return session.send_ipmi_response(data=[1, 4, 0, 0])
        if param != 5:
            return session.send_ipmi_response(code=CC_PARAM_NOT_SUPPORTED)
        info = self.machine.boot_info()
        valid = info['enabled'] != 'disabled' and info['device'] != 'none'
        b1 = ((0x80 if valid else 0)
              | (0x40 if info['enabled'] == 'continuous' else 0)
              | (0x20 if info['mode'] == 'uefi' else 0))
        b2 = (BOOTDEV_TO_CODE[info['device']] << 2) if valid else 0
        session.send_ipmi_response(data=[1, 5, b1, b2, 0, 0, 0])

    def set_boot_options(self, data, session):
        if not data:
            return session.send_ipmi_response(code=CC_REQ_DATA_LEN)
        param = data[0] & 0x7f
        if param == 0:
            if len(data) >= 2:
                self.set_in_progress = data[1] & 0x03
            return session.send_ipmi_response()
        if param == 3:
            if len(data) >= 2:
                self.flag_clearing = data[1] & 0x1f
            return session.send_ipmi_response()
        if param == 4:
            return session.send_ipmi_response()   # boot info acknowledge
        if param != 5:
            return session.send_ipmi_response(code=CC_PARAM_NOT_SUPPORTED)
        if len(data) < 3:
            return session.send_ipmi_response(code=CC_REQ_DATA_LEN)
        flags, devbyte = data[1], data[2]
        code = (devbyte >> 2) & 0x0f
        device = CODE_TO_BOOTDEV.get(code)
        if device is None:
            self.log.warning('unsupported boot device selector 0x%x', code)
            return session.send_ipmi_response(code=CC_INVALID_DATA)
        if not flags & 0x80 or device == 'none':
            enabled, device = 'disabled', 'none'
        else:
            enabled = 'continuous' if flags & 0x40 else 'once'
        mode = 'uefi' if flags & 0x20 else 'bios'
        self.machine.set_boot(device=device, enabled=enabled, mode=mode,
                              source='ipmi')
        session.send_ipmi_response()


def record_kind(netfn, cmd, data, name):
    """What --record calls a command: the power and boot-device commands
    by what they do, the rest by their IPMI name in lower case."""
    if (netfn, cmd) == (0x00, 0x01):
        return 'power status'
    if (netfn, cmd) == (0x00, 0x02) and data:
        return CHASSIS_CONTROL.get(data[0], 'chassis control')
    if (netfn, cmd) in ((0x00, 0x08), (0x00, 0x09)) and data:
        verb = 'set' if cmd == 0x08 else 'get'
        if data[0] & 0x7f == 5:
            return 'bootdev ' + verb
        return 'boot option %d %s' % (data[0] & 0x7f, verb)
    return name.lower()


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='IPMI 2.0 lanplus BMC emulator (pyghmi) for the '
                    'lifeboat lab: --count BMCs on consecutive UDP ports, '
                    'each with its own machine.',
        epilog='examples:' + __doc__.split('Examples:', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--address', default='127.0.0.1',
                   help='address to listen on (default 127.0.0.1)')
    p.add_argument('--port', '--port-base', dest='port', type=int,
                   default=6230, help='UDP port of the first BMC '
                   '(default 6230)')
    p.add_argument('--count', type=int, default=1,
                   help='number of BMCs/machines (default 1)')
    p.add_argument('--user', default='admin')
    p.add_argument('--password', default='password')
    p.add_argument('--control-port', type=int, default=None,
                   help='TCP port of the JSON control endpoint (0: any '
                        'free port, logged; default: none)')
    p.add_argument('--state-dir', default=None,
                   help='working directory (default: a temporary one, '
                        'removed at exit)')
    p.add_argument('-v', '--verbose', action='store_true')
    control.add_record_argument(p)
    lab_machine.add_machine_arguments(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    control.setup_logging('ipmi_bmc', args.verbose)
    stop = control.stop_event_on_signals()
    tmp_state = args.state_dir is None
    state_dir = args.state_dir or tempfile.mkdtemp(prefix='lab-ipmi-')
    os.makedirs(state_dir, exist_ok=True)
    machines = lab_machine.make_machines(args, args.count, state_dir)
    bmcs = []
    ctl = None
    recorder = control.Recorder(args.record)
    try:
        for i, mach in enumerate(machines):
            bmcs.append(LabBmc(mach, args.user, args.password,
                               args.port + i, args.address, recorder))
        LOG.info('%d BMC(s) on udp %s:%d-%d (user %r), machines: %s',
                 len(bmcs), args.address, args.port,
                 args.port + len(bmcs) - 1, args.user, args.machine)
        if args.control_port is not None:
            ctl = control.ControlServer(
                machines, args.address, args.control_port,
                info=lambda: {'kind': 'ipmi', 'address': args.address,
                              'port_base': args.port, 'count': args.count})
            ctl.start()
        LOG.info('ready')
        while not stop.is_set():
            # pyghmi's event loop: one iteration handles all BMCs' sockets
            ipmisession.Session.wait_for_rsp(timeout=0.2)
    except OSError as e:
        LOG.error('cannot start: %s', e)
        return 1
    finally:
        for mach in machines:
            try:
                mach.close()
            except Exception:
                LOG.exception('closing %s', mach.name)
        if ctl:
            ctl.stop()
        recorder.close()
        if tmp_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    LOG.info('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
