#!/usr/bin/python3
"""Pieces shared by the lab's BMC emulators: logging, signals, and the
control endpoint.

The control endpoint is a tiny JSON-over-HTTP server (its own port, plain
HTTP, no auth, bound to the emulator's address) that lets a test act on the
machines "behind the BMC's back" and see what the BMC did to them:

  GET  /                          {"machines": N, ...emulator info}
  GET  /machines                  [machine snapshot, ...]
  GET  /machines/<i>              one snapshot: power_state, boot, media,
                                  boots, log (last 200 actions), pid, ...
  POST /machines/<i>/power        {"state": "on"|"off"|"soft"|"reset"|
                                   "cycle"|"nmi"}
  POST /machines/<i>/boot         {"device": .., "enabled": .., "mode": ..}
  POST /machines/<i>/config       {"soft_off_delay": s, "ignore_acpi": b}
  POST /machines/<i>/clear-log    {}
  POST /machines/<i>/qmp          {"execute": cmd, "arguments": {..}}
                                  (QEMU machines only)

With ``--record FILE`` an emulator also appends one JSON line per command
it receives to FILE (see Recorder), for tests of command spacing.

Machine indexes start at 0.  Errors come back as {"error": "..."} with
400 (bad request), 404 (no such machine/path), 409 (not possible in the
machine's state) or 500.
"""

import http.server
import json
import logging
import re
import signal
import sys
import threading
import time

import machine as lab_machine

LOG = logging.getLogger('lab.control')


def setup_logging(name, verbose=False):
    """One line per request/action on stderr."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
        format='%(asctime)s ' + name + '[%(process)d] %(name)s: %(message)s')


def stop_event_on_signals():
    """An Event set by SIGTERM or SIGINT (the emulators' clean exit)."""
    stop = threading.Event()

    def handler(signum, frame):
        logging.getLogger('lab').info('signal %d: shutting down', signum)
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def add_record_argument(parser):
    parser.add_argument('--record', metavar='FILE', default=None,
                        help='append one JSON line per command received '
                             'to FILE (times, BMC port, client, kind)')


class Recorder:
    """The ``--record FILE`` log: one JSON object per line and command,
    {"t": epoch seconds, "mono": monotonic seconds at arrival, "end":
    monotonic seconds once answered, "bmc": BMC port, "client":
    "address:port" (one IPMI session or HTTP connection), "kind": e.g.
    "power off", "bootdev set", "vmedia insert", plus details}.  Written
    and flushed under a lock, so lines from several threads never mix.
    Without a FILE it records nothing."""

    def __init__(self, path):
        self.file = open(path, 'a', encoding='utf-8') if path else None
        self.lock = threading.Lock()

    def record(self, bmc, client, kind, start=None, **details):
        if self.file is None:
            return
        end = time.monotonic()
        entry = dict(details, t=time.time(),
                     mono=end if start is None else start, end=end,
                     bmc=bmc, client='%s:%s' % tuple(client[:2]), kind=kind)
        with self.lock:
            self.file.write(json.dumps(entry, sort_keys=True) + '\n')
            self.file.flush()

    def close(self):
        if self.file is not None:
            self.file.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'lifeboat-lab-control/1'

    def log_message(self, fmt, *args):
        pass    # we log one line per request ourselves

    def _reply(self, status, obj):
        body = json.dumps(obj, indent=1).encode() + b'\n'
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)
        LOG.info('control %s %s -> %d', self.command, self.path, status)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        if not raw.strip():
            return {}
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError('body must be a JSON object')
        return obj

    def do_GET(self):
        self._dispatch('GET')

    def do_POST(self):
        self._dispatch('POST')

    def _dispatch(self, method):
        ctl = self.server.control
        path = self.path.split('?', 1)[0].rstrip('/') or '/'
        try:
            body = self._body() if method == 'POST' else {}
            status, obj = ctl.handle(method, path, body)
        except (ValueError, KeyError, TypeError) as e:
            status, obj = 400, {'error': str(e)}
        except lab_machine.MachineStateError as e:
            status, obj = 409, {'error': str(e)}
        except Exception as e:   # report, don't kill the thread
            LOG.exception('control %s %s failed', method, path)
            status, obj = 500, {'error': '%s: %s' % (type(e).__name__, e)}
        self._reply(status, obj)


class ControlServer:
    """The control endpoint; ``info`` is a callable returning a dict merged
    into ``GET /``."""

    def __init__(self, machines, address='127.0.0.1', port=0, info=None):
        self.machines = machines
        self.info = info or (lambda: {})
        self.httpd = http.server.ThreadingHTTPServer((address, port),
                                                     _Handler)
        self.httpd.daemon_threads = True
        self.httpd.control = self
        self.port = self.httpd.server_address[1]
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       args=(0.1,), name='control',
                                       daemon=True)
        self.thread.start()
        LOG.info('control endpoint on http://%s:%d/',
                 self.httpd.server_address[0], self.port)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _machine(self, idx):
        i = int(idx)
        if not 0 <= i < len(self.machines):
            raise LookupError
        return self.machines[i]

    def handle(self, method, path, body):
        if path == '/' and method == 'GET':
            info = {'machines': len(self.machines)}
            info.update(self.info())
            return 200, info
        if path == '/machines' and method == 'GET':
            return 200, [m.snapshot() for m in self.machines]
        m = re.fullmatch(r'/machines/(\d+)(?:/([a-z-]+))?', path)
        if not m:
            return 404, {'error': 'no such path: %s' % path}
        try:
            mach = self._machine(m.group(1))
        except LookupError:
            return 404, {'error': 'no machine %s' % m.group(1)}
        action = m.group(2)
        if action is None and method == 'GET':
            return 200, mach.snapshot()
        if method != 'POST':
            return 405, {'error': 'method not allowed'}
        src = 'control'
        if action == 'power':
            state = body['state']
            fn = {'on': mach.power_on, 'off': mach.power_off,
                  'soft': mach.soft_off, 'reset': mach.reset,
                  'cycle': mach.power_cycle, 'nmi': mach.nmi}.get(state)
            if fn is None:
                raise ValueError('state must be on, off, soft, reset, cycle '
                                 'or nmi')
            fn(source=src)
            return 200, mach.snapshot()
        if action == 'boot':
            mach.set_boot(device=body.get('device'),
                          enabled=body.get('enabled'),
                          mode=body.get('mode'), source=src)
            return 200, mach.snapshot()
        if action == 'config':
            mach.configure(**body)
            return 200, mach.snapshot()
        if action == 'clear-log':
            with mach.lock:
                mach.actions.clear()
                mach.boots.clear()
            return 200, mach.snapshot()
        if action == 'qmp':
            if not isinstance(mach, lab_machine.QemuMachine):
                raise ValueError('not a QEMU machine')
            ret = mach.qmp(body['execute'], **(body.get('arguments') or {}))
            return 200, {'return': ret}
        return 404, {'error': 'no such action: %s' % action}
