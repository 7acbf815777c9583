"""End to end: the serial console over IPMI Serial-over-LAN (issue 15).

The lab (conftest.py ``lab``, ``LAB_OPTIONS`` below) has OpenIPMI's
``ipmi_sim`` as the machine's BMC (lab.py ``bmc='ipmi-sim'``): QEMU's
serial port is the BMC's SOL, the node has ``console_interface
ipmitool-socat`` and ``ipmi_workarounds=opensesspriv,solpayloadsize``,
and lifeboatd serves consoles on the rescuing VLAN's gateway.

1. ``test_console_during_rescue``  ``console enable``; ``console show``
   gives a ``tcp://`` URL; socat connected to it from the lab's namespace
   during ``rescue --wait`` sees the rescue kernel's messages, the
   ramdisk's ``lifeboat-ramdisk:`` lines and the agent's start lines; after
   the rescue a carriage return typed there brings a ``login:`` prompt
   from ttyS0 (ramdisk/init runs ``login`` on its console once
   finalize_rescue has set the rescue user's password), and the rescue
   user logs in with the rescue password and runs a command.  The BMC
   booted the machine from the network for the rescue and from its disk
   after ``unrescue``; ``console disable``.
2. ``test_panic_in_last_error``  the rescue ramdisk is a kernel image, not
   an initramfs, so the rescue kernel panics and the agent never calls
   back: after ``[conductor] rescue_callback_timeout`` the rescue fails,
   ``last_error`` ends with the console's last lines (the panic), and the
   capture log under ``<state_path>/console/`` holds the panic and no
   agent token (one is planted on the kernel command line).

Every process is stopped by PID (the lab's, and socat here).
"""

import os
import re
import stat
import subprocess
import threading
import time

import lab as L

CALLBACK_TIMEOUT = 50     # [conductor] rescue_callback_timeout
CHECK_INTERVAL = 2        # [conductor] check_rescue_state_interval
ERROR_LINES = 15          # [console] capture_error_lines (default 10)
LAB_OPTIONS = {'name': 'console', 'bmc': 'ipmi-sim', 'pxe_fetch': 'ipxe',
               'conductor': {'rescue_callback_timeout': CALLBACK_TIMEOUT,
                             'check_rescue_state_interval': CHECK_INTERVAL},
               'console': {'capture_error_lines': ERROR_LINES}}

NODE_NAME = 'e2e-console'
RESCUE_PASSWORD = 'Lifeboat-console-pw1'
PLANTED_TOKEN = 'e2eConsolePlantedToken0123456789abcdefABCDEF'
TIMEOUT_MSG = ('Timeout reached while waiting for rescue ramdisk callback '
               'for node')
PANIC = b'Kernel panic - not syncing'
RESCUE_TIMEOUT = CALLBACK_TIMEOUT + 60
UNRESCUE_TIMEOUT = 120


class ConsoleClient:
    """``socat - TCP:HOST:PORT`` in the lab's namespace, as an operator
    connects to ``console show``'s URL; a thread collects what it prints.
    Stopped by PID."""

    def __init__(self, lab, url):
        m = re.fullmatch(r'tcp://([0-9.]+):(\d+)', url)
        assert m, url
        self.err = open(lab.work / 'socat.err', 'wb')
        self.proc = subprocess.Popen(
            ['ip', 'netns', 'exec', lab.ns, 'socat', '-',
             'TCP:%s:%s' % m.groups()], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.err, start_new_session=True)
        self.out = bytearray()
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            data = os.read(self.proc.stdout.fileno(), 4096)
            with self.cond:
                if not data:
                    self.out += b'\n[socat: EOF]'
                self.out += data
                self.cond.notify_all()
            if not data:
                return

    def mark(self):
        with self.cond:
            return len(self.out)

    def expect(self, pattern, timeout, after=0):
        """The end of the first match of ``pattern`` (bytes regex) in the
        output from offset ``after`` on."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search(self.out, after)
                if m:
                    return m.end()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError('no %r on the console in %d s; '
                                         'got ...%r' % (
                                             pattern, timeout,
                                             bytes(self.out[-1500:])))
                self.cond.wait(min(left, 0.5))

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self):
        L._stop_pid(self.proc.pid, popen=self.proc)
        self.thread.join(5)
        self.err.close()


def node_show(lab, uuid):
    return lab.cli_json('node', 'show', uuid)


def the_node(lab):
    """The machine's node, enrolled once (active, powered off)."""
    for n in lab.cli_json('node', 'list', '--fields', 'uuid', 'name'):
        if n.get('Name', n.get('name')) == NODE_NAME:
            return n.get('UUID', n.get('uuid'))
    return lab.enroll(NODE_NAME, 'ipmi', 'pxe', None)


def console_url(lab, uuid, timeout=30):
    """``console enable``, then ``console show`` until it gives the URL."""
    lab.cli('node', 'console', 'enable', uuid)
    deadline = time.monotonic() + timeout
    while True:
        shown = lab.cli_json('node', 'console', 'show', uuid)
        info = shown.get('console_info') or {}
        if shown.get('console_enabled') and info.get('url'):
            assert info['type'] == 'socat', shown
            return info['url']
        assert time.monotonic() < deadline, (shown, node_show(lab, uuid))
        time.sleep(0.2)


def boots(lab, mark, last):
    """The boot devices the BMC started the machine with since mark, once
    it has logged a start with ``last``."""
    lab.events.wait(r'machine started .*boot device %s' % last, 'bmc', mark,
                    10)
    return [re.search(r'boot device (\w+)', text).group(1)
            for _, src, text in lab.events.lines[mark:]
            if src == 'bmc' and 'machine started' in text]


def capture_log(lab, uuid):
    path = lab.state / 'console' / ('%s.log' % uuid)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    return path.read_bytes()


def assert_no_secret(data):
    for value in re.findall(rb'ipa-agent-token=(\S*)', data):
        assert value == b'***', value
    assert PLANTED_TOKEN.encode() not in data
    assert RESCUE_PASSWORD.encode() not in data


def active(lab, uuid):
    """Back to ``active`` if an earlier test left the node elsewhere."""
    if node_show(lab, uuid)['provision_state'] != 'active':
        lab.cli('node', 'unrescue', uuid, '--wait', str(UNRESCUE_TIMEOUT),
                timeout=UNRESCUE_TIMEOUT + 30)
    assert node_show(lab, uuid)['provision_state'] == 'active'


def test_console_during_rescue(rescue_ready, lab, timings):
    uuid = the_node(lab)
    active(lab, uuid)
    t0 = time.monotonic()
    url = console_url(lab, uuid)
    assert url == 'tcp://%s:%d' % (L.GATEWAY_RESCUE, L.CONSOLE_PORT), url
    con = ConsoleClient(lab, url)
    mark = lab.events.mark()
    try:
        lab.cli('node', 'rescue', uuid, '--rescue-password', RESCUE_PASSWORD,
                '--wait', str(RESCUE_TIMEOUT), timeout=RESCUE_TIMEOUT + 30)
        t_rescue = time.monotonic()
        assert node_show(lab, uuid)['provision_state'] == 'rescue'
        # what the console showed while the CLI waited, in order
        pos = 0
        for pattern in (rb'SeaBIOS \(version', rb'Linux version \S+',
                        rb'Kernel command line: [^\r\n]*ipa-api-url=',
                        rb'lifeboat-ramdisk: init started',
                        rb'lifeboat-ramdisk: agent started',
                        rb'lifeboat-agent: lifeboat-agent \S+ starting',
                        rb'lifeboat-agent: node %s found' % uuid.encode()):
            pos = con.expect(pattern, 1, pos)
        pos = con.expect(rb'lifeboat-agent: rescue finalized', 30, pos)
        pos = con.expect(rb'login: ', 30, pos)
        t_login = time.monotonic()
        # typed on the console: a CR, then the rescue user's login
        con.send(b'\r')
        pos = con.expect(rb'login: ', 15, pos)
        con.send(b'rescue\r')
        pos = con.expect(rb'Password: ', 15, pos)
        con.send(RESCUE_PASSWORD.encode() + b'\r')
        pos = con.expect(rb'\$ ', 30, pos)          # the shell's prompt
        # the tty echoes the command as typed; only the shell prints the sum
        con.send(b'echo lb-console-$((6*7))\r')
        con.expect(rb'lb-console-42', 30, pos)
        t_typed = time.monotonic()
        assert_no_secret(bytes(con.out))
        # the BMC booted it from the network, once: lifeboat set pxe
        assert boots(lab, mark, 'pxe') == ['pxe'], lab.events.tail('bmc', 30)
        capture = capture_log(lab, uuid)
        assert b'Linux version' in capture
        assert_no_secret(capture)
    finally:
        con.close()
    mark = lab.events.mark()
    lab.cli('node', 'unrescue', uuid, '--wait', str(UNRESCUE_TIMEOUT),
            timeout=UNRESCUE_TIMEOUT + 30)
    assert node_show(lab, uuid)['provision_state'] == 'active'
    # a persistent disk for the instance
    assert boots(lab, mark, 'default') == ['default'], \
        lab.events.tail('bmc', 30)
    lab.cli('node', 'console', 'disable', uuid)
    shown = lab.cli_json('node', 'console', 'show', uuid)
    assert shown == {'console_enabled': False, 'console_info': None}, shown
    timings('console during a rescue (ipmi_sim SOL)', [
        ('rescue --wait (console seen)', t_rescue - t0, t_rescue - t0),
        ('login prompt on the console', t_login - t_rescue, t_login - t0),
        ('CR, login, a command -> its output', t_typed - t_login,
         t_typed - t0)])


def test_panic_in_last_error(rescue_ready, lab, timings):
    uuid = the_node(lab)
    active(lab, uuid)
    lab.cli('node', 'set', uuid, '--driver-info', 'rescue_ramdisk=file://%s'
            % (lab.ramdisk_dir / 'vmlinuz'), '--driver-info',
            'kernel_append_params=%%default%% ipa-agent-token=%s'
            % PLANTED_TOKEN)
    mark = lab.events.mark()
    t0 = time.monotonic()
    p = lab.cli('node', 'rescue', uuid, '--rescue-password', RESCUE_PASSWORD,
                '--wait', str(RESCUE_TIMEOUT), timeout=RESCUE_TIMEOUT + 30,
                check=False)
    t_cli = time.monotonic()
    node = node_show(lab, uuid)
    err = node['last_error'] or ''
    try:
        assert p.returncode != 0
        assert node['provision_state'] == 'rescue failed', node
        assert err.startswith(TIMEOUT_MSG), err
        head, sep, tail = err.partition("\nLast lines of the node's "
                                        "console:\n")
        assert sep, err
        assert 'Kernel panic - not syncing' in tail, err
        assert len(tail.splitlines()) <= ERROR_LINES, tail
        t_panic, _ = lab.events.wait(r'Kernel panic - not syncing',
                                     'console', mark, 1)
        t_fail, _ = lab.events.wait(r'node %s: .*-> rescue failed' % uuid,
                                    'lifeboatd', mark, 1)
        assert t_panic < t_fail
        capture = capture_log(lab, uuid)
        assert PANIC in capture
        assert b'VFS: Unable to mount root fs' in capture
        # the kernel printed the planted token; the capture has it redacted
        assert re.search(rb'Kernel command line: .*ipa-agent-token=\*\*\*',
                         capture), capture[-3000:]
        assert_no_secret(capture)
        assert PLANTED_TOKEN not in err and RESCUE_PASSWORD not in err
        # last_error's lines are the capture's last ones
        last = capture.decode('utf-8', 'replace').rstrip('\n') \
            .splitlines()[-1].strip()
        assert tail.rstrip('\n').splitlines()[-1].strip() == last, (tail,
                                                                    last)
        assert not lab.events.find(r'node %s: agent token issued' % uuid,
                                   'lifeboatd', mark)
    except AssertionError as e:
        raise AssertionError('%s\nlifeboatd:\n%s\nconsole:\n%s' % (
            e, lab.events.tail('lifeboatd', 30),
            lab.events.tail('console', 40))) from None
    timings('rescue whose kernel panics (callback timeout %d s)'
            % CALLBACK_TIMEOUT, [
                ('console: Kernel panic', t_panic - t0, t_panic - t0),
                ('rescue failed', t_fail - t_panic, t_fail - t0),
                ('rescue --wait returned', t_cli - t_fail, t_cli - t0)])
