"""The ipmitool-socat console through the real `openstack baremetal` CLI,
against the lab's ipmi_sim BMC (tests/lab/ipmi_sim_bmc.py, which needs
ipmi_workarounds=opensesspriv,solpayloadsize, as field BMCs need flags):
console enable/show/disable with bytes both ways over the tcp:// URL, a
second client refused while the first goes on, the idle timeout, the BMC
dropping SOL and the console coming back, a lifeboatd restart serving
again on the same port (the flags from [ipmi] workarounds there), and the
errors of a wrong password and of a missing workaround flag.  The console API with the fake interface is in
test_console_api.py.
"""

import shutil
import socket
import sys
import time

import pytest

from conftest import unique, wait_for
from power_helpers import LAB, free_port_range

sys.path.insert(0, str(LAB))

from ipmi_sim_bmc import SimBmc                                # noqa: E402

USER = 'admin'
PASSWORD = 'Sol-Lab-4'
WORKAROUNDS = 'opensesspriv,solpayloadsize'

pytestmark = pytest.mark.skipif(
    shutil.which('ipmi_sim') is None or shutil.which('ipmitool') is None,
    reason='needs ipmi_sim (openipmi) and ipmitool')


@pytest.fixture(scope='module')
def bmc(tmp_path_factory):
    b = SimBmc(tmp_path_factory.mktemp('simbmc'), user=USER,
               password=PASSWORD).start()
    # the stand-in machine (its serial port) runs while powered on
    r = b.ipmitool('power', 'on')
    assert r.returncode == 0, r.stderr
    wait_for(lambda: b.power_state() == 'on', 10, what='machine on')
    yield b
    b.stop()


def console_sections(**console):
    base = free_port_range(4, socket.SOCK_STREAM)
    conf = {'port_range': '%d:%d' % (base, base + 4),
            'socat_address': '127.0.0.1', 'capture_max_size': 65536,
            'terminal_timeout': 0, 'subprocess_timeout': 5}
    conf.update(console)
    return {'console': conf}


@pytest.fixture(scope='module')
def cdaemon(module_launcher, bmc):
    return module_launcher.start(**console_sections())


def sol_node(d, bmc, password=PASSWORD, workarounds=WORKAROUNDS):
    info = {'ipmi_address': '127.0.0.1', 'ipmi_port': str(bmc.port),
            'ipmi_username': USER, 'ipmi_password': password}
    if workarounds is not None:
        info['ipmi_workarounds'] = workarounds
    return d.create_node(name=unique('sol'), driver='ipmi',
                         console_interface='ipmitool-socat',
                         driver_info=info)


def settled(d, ident):
    node = d.get('/v1/nodes/%s' % ident).json()
    return node if node['reservation'] is None else None


def cli_console(d, verb, ident, enabled):
    rc, out, err = d.cli('node', 'console', verb, ident)
    assert rc == 0, (out, err)
    wait_for(lambda: (settled(d, ident) or {}).get('console_enabled')
             is enabled or (settled(d, ident) or {}).get('last_error'),
             15, what='console %s' % verb)
    return d.get('/v1/nodes/%s' % ident).json()


def enable(d, ident, host='127.0.0.1'):
    node = cli_console(d, 'enable', ident, True)
    assert node['console_enabled'], node['last_error']
    show = d.cli_json('node', 'console', 'show', ident)
    assert show['console_enabled'] is True
    url = show['console_info']['url']
    assert show['console_info']['type'] == 'socat'
    assert url.startswith('tcp://%s:' % host), url
    port = int(url.rsplit(':', 1)[1])
    assert node['driver_internal_info'][
        'allocated_ipmi_terminal_port'] == port
    return port


def connect(port, address='127.0.0.1'):
    s = socket.create_connection((address, port), timeout=5)
    s.settimeout(0.2)
    return s


def read_until(s, needle, timeout):
    """Bytes from s until needle came (NULs dropped), or EOF if needle is
    None; fails on timeout."""
    got = b''
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            if needle is None:
                return got
            break
        got += chunk.replace(b'\0', b'')
        if needle is not None and needle in got:
            return got
    raise AssertionError('%r not seen in %.0f s; got %r'
                         % (needle or 'EOF', timeout, got))


def test_enable_show_bytes_both_ways_second_client_disable(cdaemon, bmc):
    d = cdaemon
    node = sol_node(d, bmc)
    port = enable(d, node['name'])
    first = connect(port)
    bmc.serial_write(b'\r\nrescue login: ')
    read_until(first, b'rescue login: ', 10)
    first.sendall(b'root\r')
    assert bmc.serial_read(10, until=b'root\r').endswith(b'root\r')

    # One client at a time: the second is told and closed.
    second = connect(port)
    msg = read_until(second, None, 5)
    assert msg == ('lifeboat: the console of node %s is in use by another '
                   'client\r\n' % node['uuid']).encode()
    second.close()
    bmc.serial_write(b'Password: ')
    read_until(first, b'Password: ', 10)

    cli_console(d, 'disable', node['name'], False)
    assert b'was disabled' in read_until(first, None, 10)
    first.close()
    with pytest.raises(OSError):
        connect(port)
    assert d.cli_json('node', 'console', 'show', node['name']) == {
        'console_enabled': False, 'console_info': None}
    log = d.log_text()
    assert 'console of node %s: serving on 127.0.0.1:%d' % (
        node['uuid'], port) in log
    assert 'client connected from 127.0.0.1' in log
    assert PASSWORD not in log


def test_bmc_drops_sol_and_it_comes_back(cdaemon, bmc):
    d = cdaemon
    node = sol_node(d, bmc)
    port = enable(d, node['name'])
    s = connect(port)
    bmc.serial_write(b'before the drop\r\n')
    read_until(s, b'before the drop', 10)
    bmc.sol_deactivate()
    got = read_until(s, b'is back\r\n', 40)
    assert (b'lifeboat: Serial-over-LAN of node %s lost (the BMC stopped '
            b'answering' % node['uuid'].encode()) in got
    bmc.serial_write(b'after the drop\r\n')
    read_until(s, b'after the drop', 10)
    s.close()
    assert 'SOL back' in d.log_text()
    cli_console(d, 'disable', node['name'], False)


def test_idle_client_is_closed_on_ipv6(launcher, bmc):
    d = launcher.start(**console_sections(terminal_timeout=2,
                                          socat_address='::1'))
    node = sol_node(d, bmc)
    port = enable(d, node['name'], host='[::1]')
    with pytest.raises(OSError):
        connect(port)               # not on IPv4
    s = connect(port, '::1')
    s_port = s.getsockname()[1]
    t0 = time.monotonic()
    got = read_until(s, None, 15)
    assert time.monotonic() - t0 >= 1.5
    assert (b'lifeboat: closing the console of node %s: no data for 2 s'
            % node['uuid'].encode()) in got
    s.close()
    wait_for(lambda: 'client [::1]:%d closed (idle 2 s)'
             % s_port in d.log_text(), 5, what='idle log')
    cli_console(d, 'disable', node['name'], False)


def test_restart_serves_again_on_the_same_port(launcher, bmc):
    # the flags from [ipmi] workarounds, the node setting none
    sections = console_sections()
    sections['ipmi'] = {'workarounds': WORKAROUNDS}
    d = launcher.start(**sections)
    node = sol_node(d, bmc, workarounds=None)
    port = enable(d, node['name'])
    d.restart()
    wait_for(lambda: 'console started again' in d.log_text(), 20,
             what='console started again')
    node = d.get('/v1/nodes/%s' % node['uuid']).json()
    assert node['console_enabled'] is True
    assert node['driver_internal_info'][
        'allocated_ipmi_terminal_port'] == port
    s = connect(port)
    bmc.serial_write(b'after the restart\r\n')
    read_until(s, b'after the restart', 10)
    s.close()
    cli_console(d, 'disable', node['name'], False)


def enable_fails(d, node):
    """console enable through the CLI: the job fails, the node says why."""
    rc, out, err = d.cli('node', 'console', 'enable', node['name'])
    assert rc == 0, (out, err)
    wait_for(lambda: (settled(d, node['uuid']) or {}).get('last_error'),
             15, what='last_error')
    node = d.get('/v1/nodes/%s' % node['uuid']).json()
    assert node['console_enabled'] is False
    return node


def test_wrong_password_names_it(cdaemon, bmc):
    d = cdaemon
    node = enable_fails(d, sol_node(d, bmc, password='Not-The-One'))
    assert node['last_error'].startswith(
        'Error enabling the console on node %s. Reason: ' % node['uuid'])
    assert "wrong password for user 'admin'" in node['last_error']
    assert 'Not-The-One' not in node['last_error']
    assert 'Not-The-One' not in d.log_text()
    assert 'allocated_ipmi_terminal_port' not in node[
        'driver_internal_info']


def test_missing_workaround_names_the_flag(cdaemon, bmc):
    d = cdaemon
    node = enable_fails(d, sol_node(d, bmc, workarounds='opensesspriv'))
    assert ('; libipmiconsole: "BMC Implementation" (the BMC may need '
            'ipmi_workarounds=opensesspriv,solpayloadsize)'
            in node['last_error']), node['last_error']
