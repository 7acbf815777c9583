"""A node's boot device through the real CLI: ``openstack baremetal node
boot device set|show`` (``/v1/nodes/{node}/management/boot_device``),
against the lab IPMI and Redfish BMCs.

As in Ironic, the call reaches the BMC while the request waits, under the
node's lock: a locked node answers 409, bad input 400 with the BMC left
alone, and a BMC failure 500 with the lock released.
"""

import concurrent.futures
import os

import pytest
import requests

from conftest import assert_error, unique, wait_for
from power_helpers import (LOCKED_MSG, closed_udp_port, conductor_conf,
                           get_node, put_power, wait_power_done)
from power_helpers import bmcs  # noqa: F401 (a fixture)

PATH = '/v1/nodes/%s/management/boot_device'


def new_node(d, emu, password=None):
    info = emu.driver_info() if password is None else \
        emu.driver_info(password=password)
    return d.create_node(driver=emu.driver, name=unique('bd'),
                         driver_info=info)


def bmc_boot(emu):
    """The override the BMC holds: (device, 'once'|'continuous'|...)."""
    boot = emu.machine(0)['boot']
    return boot['device'], boot['enabled']


@pytest.mark.parametrize('kind', ['ipmi', 'redfish'])
def test_cli_set_and_show(launcher, bmcs, kind):
    emu = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    d = launcher.start(**conductor_conf())
    node = new_node(d, emu)
    name = node['name']

    # Nothing set on the BMC yet: Ironic shows nulls.
    assert bmc_boot(emu)[1] == 'disabled'
    shown = d.cli_json('node', 'boot', 'device', 'show', name)
    assert shown == {'boot_device': None, 'persistent': None}, shown

    rc, out, err = d.cli('node', 'boot', 'device', 'set', name, 'pxe')
    assert rc == 0, (out, err)
    assert bmc_boot(emu) == ('pxe', 'once')
    shown = d.cli_json('node', 'boot', 'device', 'show', name)
    assert shown == {'boot_device': 'pxe', 'persistent': False}, shown

    rc, out, err = d.cli('node', 'boot', 'device', 'set', name, 'disk',
                         '--persistent')
    assert rc == 0, (out, err)
    assert bmc_boot(emu) == ('disk', 'continuous')
    shown = d.cli_json('node', 'boot', 'device', 'show', name)
    assert shown == {'boot_device': 'disk', 'persistent': True}, shown

    # The CLI joins the list; the API sends it as a list.
    shown = d.cli_json('node', 'boot', 'device', 'show', '--supported', name)
    assert shown == {'supported_boot_devices': 'pxe, disk, cdrom, bios'}, \
        shown
    r = d.get((PATH % name) + '/supported')
    assert r.status_code == 200, r.text
    assert r.json() == {'supported_boot_devices': ['pxe', 'disk', 'cdrom',
                                                   'bios']}
    node = get_node(d, node['uuid'])
    assert node['reservation'] is None, node
    assert node['last_error'] is None, node


def test_bad_input_changes_nothing(launcher, bmcs):
    emu = bmcs.redfish()
    d = launcher.start(**conductor_conf())
    uuid = new_node(d, emu)['uuid']
    r = d.put(PATH % uuid, {'boot_device': 'cdrom', 'persistent': True})
    assert r.status_code == 204, r.text
    assert r.content == b''
    before = emu.machine(0)['boot'], get_node(d, uuid)
    emu.clear_log(0)

    cases = [
        ({'boot_device': 'floppy'}, 'Invalid boot device floppy specified.'),
        ({'boot_device': 5}, "Invalid input for field/attribute "
                             "boot_device. Expected 'string'"),
        ({'boot_device': 'pxe', 'persistent': 'yes'},
         "Invalid input for field/attribute persistent. Expected "
         "'boolean'"),
        ({'boot_device': 'pxe', 'device': 'pxe'},
         'Unknown argument: "device"'),
        ({'persistent': True}, 'Missing argument: "boot_device"'),
        (['pxe'], 'Invalid input: the request body must be a JSON object'),
    ]
    for body, message in cases:
        assert_error(d.put(PATH % uuid, body), 400, message)
    r = d.request('PUT', PATH % uuid, data=b'{"boot_device": ',
                  headers={'Content-Type': 'application/json'})
    assert_error(r, 400)
    assert_error(d.put(PATH % 'no-such-node', {'boot_device': 'pxe'}), 404,
                 'Node no-such-node could not be found.')
    assert_error(d.get(PATH % 'no-such-node'), 404,
                 'Node no-such-node could not be found.')
    # Before 1.5 a node is named by its UUID only.
    assert_error(d.get(PATH % 'by-name', version='1.4'), 400,
                 'Expected a UUID but received by-name.')
    r = d.request('POST', PATH % uuid, json={'boot_device': 'pxe'})
    assert r.status_code == 405, r.text

    assert emu.actions(0) == [], 'the BMC was called'
    after = emu.machine(0)['boot'], get_node(d, uuid)
    assert after == before
    r = d.get(PATH % uuid)
    assert r.status_code == 200, r.text
    assert r.json() == {'boot_device': 'cdrom', 'persistent': True}


@pytest.mark.parametrize('kind', ['ipmi', 'redfish'])
def test_bmc_failure_is_reported_and_unlocks(launcher, bmcs, kind):
    emu = bmcs.ipmi() if kind == 'ipmi' else bmcs.redfish()
    d = launcher.start(**conductor_conf())
    secret = 'NotThePa55w0rd-314'
    uuid = new_node(d, emu, password=secret)['uuid']
    for r in (d.put(PATH % uuid, {'boot_device': 'pxe'}),
              d.get(PATH % uuid)):
        # The BMC's refusal is the server's failure, never the client's
        # 401, and says what went wrong.
        inner = assert_error(r, 500)
        assert 'password' in inner['faultstring'] or \
            'authenticat' in inner['faultstring'].lower(), inner
        assert secret not in inner['faultstring'], inner
    node = get_node(d, uuid)
    assert node['reservation'] is None, node
    assert bmc_boot(emu)[1] == 'disabled'
    assert secret not in d.log_text()


def test_locked_node_answers_409(launcher, bmcs):
    # Power on is refused with 409 for 5 s after a power off, so the power
    # job holds the node's lock for seconds.
    emu = bmcs.redfish(1, '--quirk', 'power-on-409=5')
    d = launcher.start(**conductor_conf())
    uuid = new_node(d, emu)['uuid']
    emu.set_power(0, 'on')
    assert put_power(d, uuid, 'power off').status_code == 202
    wait_power_done(d, uuid)
    assert put_power(d, uuid, 'power on').status_code == 202
    assert_error(d.put(PATH % uuid, {'boot_device': 'pxe'}), 409,
                 LOCKED_MSG % uuid)
    assert_error(d.get(PATH % uuid), 409, LOCKED_MSG % uuid)
    node, _ = wait_power_done(d, uuid, timeout=60)
    assert node['power_state'] == 'power on', node
    # The lock was the power job's; the refused calls did not take it.
    assert node['reservation'] is None, node
    r = d.put(PATH % uuid, {'boot_device': 'pxe'})
    assert r.status_code == 204, r.text
    assert bmc_boot(emu) == ('pxe', 'once')


def test_dead_bmcs_leave_the_api_serving(launcher):
    # A boot device call waits for its BMC without holding an API thread:
    # with two threads and two calls stuck on BMCs that never answer (each
    # for the IPMI timeout, 9 s), every connection, old or new, is still
    # served at once.
    d = launcher.start(api={'api_workers': 2},
                       **conductor_conf(sync_power_state_interval=0))
    dead = []
    for _ in range(2):
        info = {'ipmi_address': '127.0.0.1',
                'ipmi_port': str(closed_udp_port()),
                'ipmi_username': 'admin', 'ipmi_password': 'password'}
        dead.append(d.create_node(driver='ipmi', driver_info=info,
                                  name=unique('dead'))['uuid'])
    # Kept-alive connections, spread over both API threads.
    sessions = [requests.Session() for _ in range(6)]
    headers = {'X-OpenStack-Ironic-API-Version': '1.78'}
    for s in sessions:
        assert s.get(d.url + '/v1/nodes', headers=headers,
                     timeout=10).status_code == 200
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(d.get, PATH % dead[0]),
                 pool.submit(d.put, PATH % dead[1], {'boot_device': 'pxe'})]
        wait_for(lambda: all(get_node(d, u)['reservation'] for u in dead),
                 10, what='both calls to hold their node locks')
        for s in sessions + [requests.Session()]:
            r = s.get(d.url + '/v1/nodes/detail', headers=headers,
                      timeout=30)
            assert r.status_code == 200, r.text
        # All of that was answered while both calls still waited.
        assert all(c.running() for c in calls)
        for c in calls:
            inner = assert_error(c.result(timeout=60), 500)
            assert 'timed out' in inner['faultstring'], inner
    for u in dead:
        assert get_node(d, u)['reservation'] is None


def _fds_and_rss(pid):
    fds = len(os.listdir('/proc/%d/fd' % pid))
    with open('/proc/%d/status' % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith('VmRSS:'))
    return fds, rss * 1024


def test_many_calls_leave_fds_and_rss_flat(launcher):
    """Each boot device call runs on a thread of its own: 10,000 of them
    (``node boot device show`` as the CLI sends it, a few through the CLI
    itself) leave the daemon's fds and RSS where they were, and the node
    unlocked.  Before, each thread left a database connection open: about
    two fds and 200 KiB a call, until jobs could no longer record their
    end."""
    d = launcher.start()
    # One node per client: each call takes the node's lock.
    nodes = [d.create_node(name=unique('bd-many')) for _ in range(4)]
    for node in nodes:
        assert d.put(PATH % node['uuid'],
                     {'boot_device': 'pxe'}).status_code == 204

    def show(node, n):
        with requests.Session() as s:
            for _ in range(n):
                r = s.get(d.url + PATH % node['uuid'], headers={
                    'X-OpenStack-Ironic-API-Version': '1.78'}, timeout=30)
                assert r.status_code == 200, r.text
                assert r.json() == {'boot_device': 'pxe',
                                    'persistent': False}

    def burst(total):
        with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
            for f in [pool.submit(show, node, total // len(nodes))
                      for node in nodes]:
                f.result()

    burst(400)                              # warm caches and thread stacks
    for _ in range(3):
        assert d.cli_json('node', 'boot', 'device', 'show',
                          nodes[0]['uuid']) == {'boot_device': 'pxe',
                                            'persistent': False}
    fds0, rss0 = _fds_and_rss(d.proc.pid)
    burst(10000)
    fds1, rss1 = _fds_and_rss(d.proc.pid)
    print('fds %d -> %d, RSS %.1f -> %.1f MiB after 10,000 calls' % (
        fds0, fds1, rss0 / 2 ** 20, rss1 / 2 ** 20))
    assert fds1 <= fds0 + 4, (fds0, fds1)
    assert rss1 <= rss0 + 8 * 2 ** 20, (rss0, rss1)
    for node in nodes:
        assert d.get('/v1/nodes/' + node['uuid']).json()[
            'reservation'] is None
    # Jobs still record their end: a power action completes.
    uuid = nodes[0]['uuid']
    assert d.put('/v1/nodes/%s/states/power' % uuid,
                 {'target': 'power on'}).status_code == 202
    wait_for(lambda: d.get('/v1/nodes/' + uuid).json()[
        'target_power_state'] is None, 30, what='the power action to end')
    assert d.get('/v1/nodes/' + uuid).json()['power_state'] == 'power on'
