"""The rescue flow end to end (contract sections 1.5, 1.6, 2.2, 3, 5, 6):
lifeboatd, the lab IPMI BMC (tests/lab/ipmi_bmc.py), the simulated agent
(tests/lab/fake_agent.py) and the real ``openstack baremetal`` CLI.

The agent is never started up front: a background thread polls the node and
launches fake_agent.py only once the node shows "rescue wait" (as a real
ramdisk would only run after the PXE boot), while the CLI runs
``node rescue ... --wait`` in the foreground.

Every process (daemons, BMC emulators, agents, the in-test image server) is
stopped by its PID / shut down at teardown, pass or fail, and every wait
polls with a deadline.

"""

import concurrent.futures
import hashlib
import os
import re
import subprocess
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt         # Python 3.11 (Debian 12); the hashes are crypt(3)

import pytest
import requests

from conftest import CONDUCTOR_HOST, assert_error, unique, wait_for
from power_helpers import (LOCKED_MSG, RESTART_PROVISION_MSG, closed_tcp_port,
                           get_node)
from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import (
    AGENT_FAILED_PREFIX, BAD_STATE_MSG, BLANK_PASSWORD_MSG,
    CALLBACK_CHANGED_MSG, CERT_CHANGED_MSG, KERNEL_DATA, MAINTENANCE_MSG,
    MASK, NOT_ACCEPTABLE_MSG, RAMDISK_DATA, TIMEOUT_MSG, TOKEN_INVALID_MSG,
    TOKEN_REQUIRED_MSG, ImageServer, OnRescueWait, PasswordBmcs,
    RescueLab, cli_rescue_watched, end_state, ironic_error, put_rescue,
    put_verb, settled, to_rescue_wait, wait_state)
from rescue_helpers import agents, emu, lab  # noqa: F401 (fixtures)

PASSWORD = 'Resc-ue-PW1'
HASH_RE = {'sha256': r'\$5\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{43}',
           'sha512': r'\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}'}
CLI_WAIT_TIMEOUT = 120

# What the lab machine logs for a rescue boot and for unrescue (BIOS mode).
RESCUE_BOOT_LOG = ['ipmi: power off',
                   'ipmi: set boot device=pxe enabled=once mode=bios',
                   'ipmi: power on', 'boot from pxe (bios)']
UNRESCUE_LOG = ['ipmi: power off',
                'ipmi: set boot device=disk enabled=continuous mode=bios',
                'ipmi: power on', 'boot from disk (bios)']
# The kernel parameters lifeboat may add (contract 5.1, 6).
KNOWN_PARAMS = {'selinux=0', 'troubleshoot=0', 'text', 'nofb', 'vga=normal',
                'ipa-debug=1'}


@pytest.fixture
def images():
    srv = ImageServer({'/k': KERNEL_DATA, '/r': RAMDISK_DATA})
    yield srv
    srv.close()


# ----------------------------------------------------------------- helpers

def assert_password_gone(node):
    assert 'hashed_rescue_password' not in node['instance_info'], node
    assert 'rescue_password' not in node['instance_info'], node


def assert_cleaned(lab, node, mac, staged=True):
    """No staged boot file is left; the dnsmasq host entry is a bare
    '<mac>' (these nodes' noop network keeps them on the network
    lifeboat's dnsmasq serves; or, when nothing was ever staged, absent);
    no password."""
    assert node['network_interface'] == 'noop', node
    assert lab.leftovers(node['uuid'], mac) == [], node['uuid']
    host = lab.host_file(mac)
    if staged or host.exists():
        assert host.read_text() == '%s\n' % mac
    assert_password_gone(node)


def assert_failed(node, error):
    assert node['provision_state'] == 'rescue failed', node
    assert node['target_provision_state'] == 'rescue', node
    assert node['reservation'] is None, node
    if error is None or isinstance(error, str):
        assert node['last_error'] == error, node
    else:
        assert error(node['last_error']), node['last_error']


def heartbeat_fault(entry):
    return ironic_error(entry.get('body_text') or '')


def check_hash(hash_, password, algorithm='sha256'):
    assert hash_ is not None, 'the agent got no password'
    assert re.fullmatch(HASH_RE[algorithm], hash_), hash_
    assert crypt.crypt(password, hash_) == hash_
    assert crypt.crypt(password + 'x', hash_) != hash_


def check_finalize_call(agent, hash_):
    """The one command the agent got: contract 5.3, over HTTPS."""
    calls = agent.commands_in()
    assert len(calls) == 1, calls
    call = calls[0]
    assert call['method'] == 'POST', call
    assert call['path'] == ('/v1/commands/?wait=false&agent_token=%s'
                            % agent.token()), call
    assert call['body'] == {'name': 'rescue.finalize_rescue',
                            'params': {'rescue_password': hash_,
                                       'hashed': True}}, call
    assert agent.announce()['callback_url'].startswith('https://')


def check_pxe_config(text, uuid, api_url):
    m = re.fullmatch(r'default deploy\n\nlabel deploy\n'
                     r'kernel %s/rescue_kernel\n'
                     r'append initrd=%s/rescue_ramdisk ([^\n]*)\n'
                     r'ipappend 2\n' % (uuid, uuid), text)
    assert m, text
    assert check_params(m.group(1).split(), api_url) == set(), text


def check_params(params, api_url):
    assert params[:5] == ['selinux=0', 'troubleshoot=0', 'text', 'nofb',
                          'vga=normal'], params
    assert 'ipa-api-url=%s' % api_url in params, params
    ids = [p for p in params if p.startswith('ipa-global-request-id=')]
    assert len(ids) == 1 and re.fullmatch(
        r'ipa-global-request-id=req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
        r'[0-9a-f]{4}-[0-9a-f]{12}', ids[0]), params
    rest = set(params) - KNOWN_PARAMS - set(ids) - {
        'ipa-api-url=%s' % api_url}
    return rest


def check_ipxe_script(text, uuid, http_url, api_url):
    assert text.startswith('#!ipxe\n'), text
    m = re.search(r'^kernel %s/%s/rescue_kernel (.*) BOOTIF=\$\{mac\} '
                  r'initrd=rescue_ramdisk \|\| goto retry$'
                  % (re.escape(http_url), uuid), text, re.M)
    assert m, text
    assert check_params(m.group(1).split(), api_url) == set(), text
    assert re.search(r'^initrd %s/%s/rescue_ramdisk \|\| goto retry\nboot$'
                     % (re.escape(http_url), uuid), text, re.M), text


def dnsmasq_opts(uuid, boot, http_url):
    tag = 'tag:%s,' % uuid
    if boot == 'pxe':
        first = [tag + '67,pxelinux.0']
    else:
        first = [tag + 'tag:!ipxe,67,undionly.kpxe',
                 tag + 'tag:ipxe,67,%s/boot.ipxe' % http_url]
    return '\n'.join(first + [tag + '66,127.0.0.1', tag + '150,127.0.0.1',
                              tag + '255,127.0.0.1']) + '\n'


# ================================================== 1, 2: the happy path

@pytest.mark.parametrize('boot', ['pxe', 'ipxe'])
def test_cli_rescue_and_unrescue(lab, emu, agents, boot):
    d = lab.d
    node, mac = lab.node(emu, 0, boot=boot)
    uuid, name = node['uuid'], node['name']
    assert node['power_state'] == 'power on', node
    emu.clear_log(0)

    def on_wait(n):
        snap = {'files': lab.capture(uuid, mac), 'machine': emu.machine(0)}
        where = lab.tftp if boot == 'pxe' else lab.http
        snap['images'] = tuple(
            (where / uuid / f).read_bytes() if (where / uuid / f).exists()
            else None for f in ('rescue_kernel', 'rescue_ramdisk'))
        if boot == 'ipxe':
            for what in ('config', 'rescue_kernel'):
                p = subprocess.run(
                    ['curl', '-sS', '-f', '--max-time', '10',
                     '%s/%s/%s' % (lab.http_url, uuid, what)],
                    capture_output=True, timeout=20)
                snap[what] = (p.returncode, p.stdout, p.stderr)
        return snap

    watcher = OnRescueWait(d, uuid, on_wait=on_wait,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    agent = cli_rescue_watched(d, name, watcher, PASSWORD,
                               timeout=CLI_WAIT_TIMEOUT)
    assert set(watcher.states) <= {'active', 'rescuing', 'rescue wait'}, \
        watcher.states

    # -- what existed during rescue wait
    seen = watcher.seen
    assert seen['instance_info'].get('hashed_rescue_password') == MASK, seen
    assert 'rescue_password' not in seen['instance_info'], seen
    assert seen['power_state'] == 'power on', seen
    files = watcher.captured['files']
    host = (None, '%s,set:%s,set:ironic\n' % (mac, uuid))
    opts = (None, dnsmasq_opts(uuid, boot, lab.http_url))
    if boot == 'pxe':
        assert set(files) == {'tftp_dir', 'tftp_config', 'pxelinux_link',
                              'dnsmasq_opts', 'host'}, files
        assert files['tftp_dir'][1] == ['config', 'rescue_kernel',
                                        'rescue_ramdisk'], files
        link, text = files['pxelinux_link']
        assert link == '../%s/config' % uuid, files
        assert files['tftp_config'] == (None, text)
        check_pxe_config(text, uuid, lab.api_url)
    else:
        assert set(files) == {'http_dir', 'ipxe_config', 'ipxe_link',
                              'dnsmasq_opts', 'host'}, files
        assert files['http_dir'][1] == ['config', 'rescue_kernel',
                                        'rescue_ramdisk'], files
        link, text = files['ipxe_link']
        assert link == '../%s/config' % uuid, files
        assert files['ipxe_config'] == (None, text)
        check_ipxe_script(text, uuid, lab.http_url, lab.api_url)
        rc_c, body, err_c = watcher.captured['config']
        assert rc_c == 0, err_c
        assert body.decode() == text
        rc_k, body, err_k = watcher.captured['rescue_kernel']
        assert rc_k == 0 and body == KERNEL_DATA, err_k
    assert watcher.captured['images'] == (KERNEL_DATA, RAMDISK_DATA)
    assert files['dnsmasq_opts'] == opts, files
    assert files['host'] == host, files
    machine = watcher.captured['machine']
    assert machine['power_state'] == 'on', machine
    assert machine['log'] == RESCUE_BOOT_LOG, machine['log']
    assert machine['boots'][-1] == 'pxe', machine
    # The one-time override was used up by that boot.
    assert machine['boot']['enabled'] == 'disabled', machine

    # -- the agent got the hash and finished
    assert agent.wait_exit(30) == 0
    hash_ = agent.password_hash()
    check_hash(hash_, PASSWORD)
    assert agent.rescued()
    check_finalize_call(agent, hash_)

    # -- after the rescue
    node = settled(d, uuid)
    assert node['provision_state'] == 'rescue', node
    assert node['target_provision_state'] is None, node
    assert node['last_error'] is None, node
    assert node['power_state'] == 'power on', node
    assert node['driver_internal_info']['agent_url'] == \
        agent.announce()['callback_url'], node
    assert_cleaned(lab, node, mac)
    assert not os.path.lexists(lab.staged_files(uuid, mac)['dnsmasq_opts'])
    machine = emu.machine(0)
    assert machine['power_state'] == 'on'
    assert machine['log'] == RESCUE_BOOT_LOG, machine['log']

    # -- unrescue
    emu.clear_log(0)
    rc, out, err = d.cli('node', 'unrescue', name, '--wait',
                         timeout=CLI_WAIT_TIMEOUT)
    assert rc == 0, (out, err)
    node = settled(d, uuid)
    assert node['provision_state'] == 'active', node
    assert node['target_provision_state'] is None, node
    assert node['last_error'] is None, node
    assert node['power_state'] == 'power on', node
    for key in ('agent_url', 'agent_secret_token', 'agent_verify_ca'):
        assert key not in node['driver_internal_info'], node
    assert_cleaned(lab, node, mac)
    machine = emu.machine(0)
    assert machine['power_state'] == 'on', machine
    assert machine['boot'] == {'device': 'disk', 'enabled': 'continuous',
                               'mode': 'bios'}, machine
    assert machine['log'] == UNRESCUE_LOG, machine['log']


def test_sha512_hash_and_checksums(launcher, tmp_path, emu, agents):
    lab = RescueLab(launcher, tmp_path / 'lab',
                    conductor={'rescue_password_hash_algorithm': 'sha512'})
    node, mac = lab.node(emu, 0, driver_info={
        # Correct checksums are accepted (contract 4.3).
        'rescue_kernel_checksum':
            'sha256:' + hashlib.sha256(KERNEL_DATA).hexdigest(),
        'rescue_ramdisk_checksum':
            'sha256:' + hashlib.sha256(RAMDISK_DATA).hexdigest()})
    uuid = node['uuid']
    watcher = OnRescueWait(lab.d, uuid,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    watcher.start()
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    watcher.result()
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    agent = watcher.agent
    assert agent.wait_exit(30) == 0
    check_hash(agent.password_hash(), PASSWORD, 'sha512')
    assert_cleaned(lab, node, mac)


# lpxelinux (pxelinux with an HTTP client) as the boot file, or any pxelinux
# with [pxe] pxelinux_fetch = http: the kernel and ramdisk are fetched from
# lifeboatd's HTTP boot root; TFTP keeps the loader's config only.  With
# pxelinux_fetch = ipxe, pxelinux boots iPXE ([pxe] ipxe_kernel_name) whose
# command line fetches the same URLs; with tftp, lpxelinux keeps TFTP.
@pytest.mark.parametrize('bootfile,mode', [('lpxelinux.0', None),
                                           ('pxelinux.0', 'http'),
                                           ('pxelinux.0', 'ipxe'),
                                           ('lpxelinux.0', 'tftp')])
def test_pxe_images_over_http(launcher, tmp_path, emu, agents, bootfile,
                              mode):
    pxe = {'pxe_bootfile_name': bootfile}
    if mode is not None:
        pxe['pxelinux_fetch'] = mode
    if mode == 'ipxe':
        pxe['ipxe_kernel_name'] = 'ipxe/ipxe.lkrn'
    lab = RescueLab(launcher, tmp_path / 'lab', pxe=pxe)
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']

    def on_wait(n):
        got = {'files': lab.capture(uuid, mac),
               'http_dir': sorted(os.listdir(lab.http / uuid))
               if os.path.isdir(lab.http / uuid) else None}
        for what in ('rescue_kernel', 'rescue_ramdisk'):
            p = subprocess.run(
                ['curl', '-sS', '-f', '--http1.0', '--max-time', '10',
                 '%s/%s/%s' % (lab.http_url, uuid, what)],
                capture_output=True, timeout=20)
            got[what] = (p.returncode, p.stdout, p.stderr)
        return got

    watcher = OnRescueWait(lab.d, uuid, on_wait=on_wait,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    watcher.start()
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    watcher.result()
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node

    seen = watcher.captured
    files = seen['files']
    text = files['tftp_config'][1]
    assert files['pxelinux_link'][0] == '../%s/config' % uuid, files
    if mode == 'tftp':
        # the option beats auto's choice of HTTP for lpxelinux.0
        assert files['tftp_dir'][1] == \
            ['config', 'rescue_kernel', 'rescue_ramdisk'], files
        assert text.startswith('default deploy\n\nlabel deploy\n'
                               'kernel %s/rescue_kernel\n' % uuid), text
        assert seen['http_dir'] is None, seen
        assert seen['rescue_kernel'][0] != 0, seen['rescue_kernel']
        assert watcher.agent.wait_exit(30) == 0
        assert_cleaned(lab, node, mac)
        assert not os.path.lexists(lab.tftp / uuid)
        return
    # TFTP: the config only, naming the images by URL
    assert files['tftp_dir'][1] == ['config'], files
    base = '%s/%s' % (lab.http_url, uuid)
    if mode == 'ipxe':
        # one command line: iPXE runs it as its script; pxelinux appends
        # BOOTIF, which ends up on the rescue kernel's command line
        m = re.fullmatch(r'default deploy\n\nlabel deploy\n'
                         r'kernel ipxe/ipxe\.lkrn\n'
                         r'append dhcp && initrd %s/rescue_ramdisk && '
                         r'chain %s/rescue_kernel ([^\n]*)\n'
                         r'ipappend 2\n' % (re.escape(base), re.escape(base)),
                         text)
    else:
        m = re.fullmatch(r'default deploy\n\nlabel deploy\n'
                         r'kernel %s/rescue_kernel\n'
                         r'append initrd=%s/rescue_ramdisk ([^\n]*)\n'
                         r'ipappend 2\n' % (re.escape(base), re.escape(base)),
                         text)
    assert m, text
    assert check_params(m.group(1).split(), lab.api_url) == set(), text
    # HTTP: the images, served by lifeboatd at those URLs
    assert seen['http_dir'] == ['rescue_kernel', 'rescue_ramdisk'], seen
    assert seen['rescue_kernel'][:2] == (0, KERNEL_DATA), seen['rescue_kernel']
    assert seen['rescue_ramdisk'][:2] == (0, RAMDISK_DATA), \
        seen['rescue_ramdisk']
    # the loader the operator named still goes out over DHCP
    assert files['dnsmasq_opts'][1].splitlines()[0] == \
        'tag:%s,67,%s' % (uuid, bootfile), files
    # finalize cleaned up both roots
    assert watcher.agent.wait_exit(30) == 0
    assert_cleaned(lab, node, mac)
    assert not os.path.lexists(lab.http / uuid)
    assert not os.path.lexists(lab.tftp / uuid)


# ================================================ 3: the failure paths

def timeout_lab(launcher, tmp_path, timeout):
    return RescueLab(launcher, tmp_path / 'lab',
                     conductor={'rescue_callback_timeout': timeout,
                                'check_rescue_state_interval': 1})


def test_callback_timeout(launcher, tmp_path, emu):
    """No ramdisk ever calls: the error says it never looked up, and where
    to look."""
    timeout = 4
    lab = timeout_lab(launcher, tmp_path, timeout)
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    t0 = time.monotonic()
    assert lab.leftovers(uuid, mac) != []
    node = end_state(lab.d, uuid, {'rescue failed', 'rescue'},
                     timeout + 20)
    waited = time.monotonic() - t0
    assert timeout - 1 <= waited <= timeout + 1 + 6, waited
    assert_failed(node, lambda e: e.startswith(TIMEOUT_MSG + ': '))
    error = node['last_error']
    m = re.search(r'the rescue ramdisk never looked up \(no lookup with '
                  r"any of the node's MACs since it was powered on for the "
                  r'rescue, (\d+) s ago\)\. ', error)
    assert m and timeout <= int(m.group(1)) <= timeout + 8, error
    assert "has a driver for the node's NIC" in error, error
    assert "'lifeboat-ramdisk: no driver for PCI'" in error, error
    assert 'DHCP on the rescuing network answers the node' in error, error
    assert error.endswith('the node can reach %s.' % lab.api_url), error
    assert node['power_state'] == 'power off', node
    assert emu.power(0) == 'off'
    assert emu.actions(0)[-1] == 'ipmi: power off'
    assert 'agent_url' not in node['driver_internal_info'], node
    assert_cleaned(lab, node, mac)


# The other timeout messages (after a lookup, after a heartbeat), the
# moment the timeout fires and the clean-up are tested in virtual time:
# tests/unit/test_engine_time.c; test_callback_timeout above is the
# wall-clock smoke test.


def test_lookup_time_recorded_for_the_timeout(launcher, tmp_path, emu):
    """A ramdisk's lookup leaves its time in driver_internal_info, where
    the callback timeout's message takes it from."""
    lab = timeout_lab(launcher, tmp_path, 1800)
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    assert 'agent_lookup_at' not in get_node_dii(lab, uuid)
    s = requests.Session()
    s.trust_env = False
    r = s.get(lab.d.url + '/v1/lookup', params={'addresses': mac},
              headers={'X-OpenStack-Ironic-API-Version': '1.68'})
    assert r.status_code == 200, r.text
    assert r.json()['node']['uuid'] == uuid
    dii = get_node_dii(lab, uuid)
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}',
                        dii.get('agent_lookup_at') or ''), dii


def get_node_dii(lab, uuid):
    s = requests.Session()
    s.trust_env = False
    r = s.get(lab.d.url + '/v1/nodes/%s' % uuid,
              headers={'X-OpenStack-Ironic-API-Version': '1.78'})
    assert r.status_code == 200, r.text
    return r.json()['driver_internal_info']


def test_agent_reports_failure(lab, emu, agents):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    watcher = OnRescueWait(lab.d, uuid, start_agent=lambda: agents.start(
        lab.api_url, mac, '--finalize-result', 'failed',
        '--heartbeat-error-interval', '0.3'))
    watcher.start()
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed', 'rescue'})
    watcher.result()
    agent = watcher.agent
    assert_failed(node, AGENT_FAILED_PREFIX + (
        "Rescue Operation failed when writing the hashed rescue password to "
        "the password file. Error [Errno 28] No space left on device: "
        "'/etc/ipa-rescue-config/ipa-rescue-password'"))
    assert node['power_state'] == 'power off', node
    assert emu.power(0) == 'off'
    assert 'agent_url' not in node['driver_internal_info'], node
    assert_cleaned(lab, node, mac)
    # The token went with the failure: the agent's next heartbeat is
    # refused (contract 3.3 step 5.4).
    n_before = len(agent.heartbeats())
    hb = agent.wait_heartbeats(n_before + 1)[-1]
    assert hb['status'] == 400, hb
    assert heartbeat_fault(hb) == TOKEN_INVALID_MSG, hb
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescue failed', node


def test_agent_unreachable(lab, emu, agents):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    dead = closed_tcp_port()
    watcher = OnRescueWait(lab.d, uuid, start_agent=lambda: agents.start(
        lab.api_url, mac, '--advertise-port', dead))
    watcher.start()
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed', 'rescue'}, 90)
    watcher.result()
    assert_failed(node, lambda e: e.startswith(
        'Node failed to perform rescue operation: ') and len(e) > 41)
    assert watcher.agent.announce()['callback_url'] == \
        'https://127.0.0.1:%d' % dead
    assert watcher.agent.commands_in() == []
    assert node['power_state'] == 'power off', node
    assert emu.power(0) == 'off'
    assert 'agent_url' not in node['driver_internal_info'], node
    assert_cleaned(lab, node, mac)


@pytest.mark.parametrize('knob,message', [
    ('--wrong-token', TOKEN_INVALID_MSG),
    ('--no-token', TOKEN_REQUIRED_MSG)])
def test_heartbeat_token_rejected(lab, emu, agents, knob, message):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    agent = agents.start(lab.api_url, mac, knob,
                         '--heartbeat-error-interval', '0.3')
    agent.wait_heartbeats(1)
    before = lab.d.snapshot()
    beats = agent.wait_heartbeats(4)
    after = lab.d.snapshot()
    assert after == before          # nothing at all changed
    for hb in beats:
        assert hb['status'] == 400, hb
        assert heartbeat_fault(hb) == message, hb
        if knob == '--no-token':
            assert 'agent_token' not in hb['sent'], hb
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert node['target_provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    for key in ('agent_url', 'agent_verify_ca', 'agent_version',
                'agent_last_heartbeat'):
        assert key not in node['driver_internal_info'], node
    assert agent.commands_in() == []
    assert lab.leftovers(uuid, mac) != []


def test_callback_url_change_rejected(lab, emu, agents):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    # Heartbeat back to back so that the second one (on another URL) is
    # sent while the rescue is being finalized from the first.
    watcher = OnRescueWait(lab.d, uuid, start_agent=lambda: agents.start(
        lab.api_url, mac, '--change-callback-after', '1',
        '--heartbeat-error-interval', '0.1', interval=0))
    watcher.start()
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    watcher.result()
    agent = watcher.agent
    assert agent.wait_exit(30) == 0
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    first = agent.announce()['callback_url']
    assert node['driver_internal_info']['agent_url'] == first, node
    beats = agent.heartbeats()
    assert beats[0]['status'] == 202, beats[0]
    assert beats[0]['sent']['callback_url'] == first
    later = beats[1:]
    assert later, 'the agent sent no second heartbeat'
    for hb in later:
        assert hb['sent']['callback_url'] != first, hb
        assert hb['status'] == 400, hb
        assert heartbeat_fault(hb) == CALLBACK_CHANGED_MSG, hb
    check_hash(agent.password_hash(), PASSWORD)
    assert_cleaned(lab, node, mac)


def test_certificate_change_rejected(lab, emu, agents):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    # In maintenance heartbeats are only recorded (contract 3.3), so the
    # first certificate is pinned without the rescue moving on.
    r = lab.d.put('/v1/nodes/%s/maintenance' % uuid, {'reason': 'hold'})
    assert r.status_code == 202, r.text
    agent = agents.start(lab.api_url, mac, '--change-cert-after', '1',
                         '--heartbeat-error-interval', '0.3', interval=0.3)
    first = agent.wait_heartbeats(1)[0]
    assert first['status'] == 202, first
    pem1 = first['sent']['agent_verify_ca']
    node = get_node(lab.d, uuid)
    dii = node['driver_internal_info']
    assert dii['agent_url'] == agent.announce()['callback_url'], node
    pinned = dii['agent_verify_ca']
    with open(pinned) as f:
        assert f.read() == pem1
    wait_for(lambda: len(agent.heartbeats()) >= 2, 30, what='heartbeat 2')
    before = lab.d.snapshot()
    beats = agent.wait_heartbeats(4)
    after = lab.d.snapshot()
    assert after == before
    for hb in beats[1:]:
        assert hb['sent']['agent_verify_ca'] != pem1, hb
        assert hb['status'] == 400, hb
        assert heartbeat_fault(hb) == CERT_CHANGED_MSG, hb
    with open(pinned) as f:
        assert f.read() == pem1
    # Out of maintenance the new certificate is still refused; the rescue
    # does not go on.
    r = lab.d.delete('/v1/nodes/%s/maintenance' % uuid)
    assert r.status_code == 202, r.text
    n = len(agent.heartbeats())
    hb = agent.wait_heartbeats(n + 1)[-1]
    assert hb['status'] == 400 and heartbeat_fault(hb) == CERT_CHANGED_MSG
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert agent.commands_in() == []
    # The operator gives up.
    r = put_verb(lab.d, uuid, 'abort')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed'})
    assert_failed(node, None)
    assert_cleaned(lab, node, mac)


def test_abort_from_rescue_wait(lab, emu):
    node, mac = lab.node(emu, 0)
    uuid, name = node['uuid'], node['name']
    to_rescue_wait(lab, uuid)
    assert lab.leftovers(uuid, mac) != []
    emu.clear_log(0)
    rc, out, err = lab.d.cli('node', 'abort', name)
    assert rc == 0, (out, err)
    node = end_state(lab.d, uuid, {'rescue failed'})
    assert_failed(node, None)
    assert node['power_state'] == 'power on', node
    assert emu.power(0) == 'on'
    assert emu.actions(0) == []             # not powered off
    assert 'agent_url' not in node['driver_internal_info'], node
    assert_cleaned(lab, node, mac)
    # Abort is a verb of "rescue wait" only (contract 1.5 step 3, 2.2).
    before = lab.d.snapshot()
    r = put_verb(lab.d, uuid, 'abort')
    assert_error(r, 400, BAD_STATE_MSG % ('abort', uuid, 'rescue failed'))
    assert lab.d.snapshot() == before


def test_abort_from_rescuing(lab, emu, images):
    node, mac = lab.node(emu, 0, driver_info={
        'rescue_kernel': images.url + '/k',
        'rescue_ramdisk': images.url + '/r'})
    uuid = node['uuid']
    images.stall('/k')
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    wait_for(lambda: images.stalled('/k') >= 1, 30, what='the image fetch')
    before = lab.d.snapshot()
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescuing', node
    r = put_verb(lab.d, uuid, 'abort')
    # Abort is not a verb of "rescuing" (contract 2.2).  The rescue worker
    # holds the node, and for a locked node Ironic's API answers an invalid
    # verb with 409 NodeLocked before it would say 400 InvalidStateRequested
    # (contract 1.5 step 3).
    assert node['reservation'] == CONDUCTOR_HOST, node
    assert_error(r, 409, LOCKED_MSG % uuid)
    assert lab.d.snapshot() == before
    images.release()
    node = wait_state(lab.d, uuid, {'rescue wait', 'rescue failed'})
    assert node['provision_state'] == 'rescue wait', node


def test_unrescue_fails_at_the_bmc(lab, emu, agents):
    node, mac = lab.node(emu, 0)
    uuid, name = node['uuid'], node['name']
    watcher = OnRescueWait(lab.d, uuid,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    watcher.start()
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    watcher.result()
    assert node['provision_state'] == 'rescue', node

    rc, out, err = lab.d.cli('node', 'set', name, '--driver-info',
                             'ipmi_password=Wr0ngPa55')
    assert rc == 0, (out, err)
    emu.clear_log(0)
    r = put_verb(lab.d, uuid, 'unrescue')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'unrescue failed', 'active'})
    assert node['provision_state'] == 'unrescue failed', node
    assert node['target_provision_state'] == 'active', node
    assert node['last_error'].startswith('Failed to unrescue: '), node
    assert 'Wr0ngPa55' not in node['last_error']
    assert emu.power(0) == 'on'
    assert emu.actions(0) == []
    assert_password_gone(node)

    # Fixed, the same verb goes through from "unrescue failed".
    rc, out, err = lab.d.cli('node', 'set', name, '--driver-info',
                             'ipmi_password=password')
    assert rc == 0, (out, err)
    r = put_verb(lab.d, uuid, 'unrescue')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'unrescue failed', 'active'})
    assert node['provision_state'] == 'active', node
    assert node['last_error'] is None, node
    assert emu.machine(0)['log'] == UNRESCUE_LOG


def image_failure(lab, emu, case):
    if case == 'unreachable':
        extra = {'rescue_kernel': 'http://127.0.0.1:%d/k' % closed_tcp_port()}
    else:
        extra = {'rescue_ramdisk_checksum':
                 'sha256:' + hashlib.sha256(b'something else').hexdigest()}
    node, mac = lab.node(emu, 0, driver_info=extra)
    uuid = node['uuid']
    emu.clear_log(0)
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed', 'rescue wait'})
    return node, mac


@pytest.mark.parametrize('case', ['unreachable', 'checksum'])
def test_image_failure(lab, emu, case):
    node, mac = image_failure(lab, emu, case)
    assert_failed(node, lambda e: e.startswith('Failed to rescue: '))
    if case == 'checksum':
        assert 'checksum' in node['last_error'].lower(), node
    else:
        assert '127.0.0.1' in node['last_error'], node
    assert 'agent_url' not in node['driver_internal_info'], node
    assert_cleaned(lab, node, mac, staged=False)




@pytest.mark.parametrize('case', ['unreachable', 'checksum'])
def test_image_failure_leaves_the_instance_running(lab, emu, case):
    node, mac = image_failure(lab, emu, case)
    assert node['provision_state'] == 'rescue failed', node
    assert emu.actions(0) == []
    assert emu.power(0) == 'on'
    assert node['power_state'] == 'power on', node


# ---------------------------------------- refused at the rescue request

def test_file_href_outside_allowed_paths(lab, emu, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    secret = outside / 'k'
    secret.write_bytes(b'not for publishing')
    link = lab.images / 'sneaky'
    link.symlink_to(secret)
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    for href in ('file://%s' % secret,
                 'file://%s/../../outside/k' % lab.images,
                 'file://%s' % link):
        r = lab.d.patch('/v1/nodes/' + uuid, [
            {'op': 'replace', 'path': '/driver_info/rescue_kernel',
             'value': href}])
        assert r.status_code == 200, r.text
        before = lab.d.snapshot()
        emu.clear_log(0)
        r = put_rescue(lab.d, uuid, PASSWORD)
        assert_error(r, 400, match=r'Failed to rescue instance None for '
                     r'node %s: Validation failed: .+' % uuid)
        assert lab.d.snapshot() == before, href
        assert emu.actions(0) == []
        assert lab.leftovers(uuid, mac) == []
        assert not lab.host_file(mac).exists()




def test_validation_failure_message(lab, emu, tmp_path):
    for remove, missing in ((['rescue_kernel', 'rescue_ramdisk'],
                             "['rescue_kernel', 'rescue_ramdisk']"),
                            (['rescue_kernel'], "['rescue_kernel']")):
        node, mac = lab.node(emu, 0)
        uuid = node['uuid']
        r = lab.d.patch('/v1/nodes/' + uuid, [
            {'op': 'remove', 'path': '/driver_info/' + k} for k in remove])
        assert r.status_code == 200, r.text
        r = put_rescue(lab.d, uuid, PASSWORD)
        assert_error(r, 400, 'Failed to rescue instance None for node %s: '
                     'Validation failed: Cannot validate PXE bootloader. '
                     'Some parameters were missing in node\'s driver_info '
                     'and configuration. Missing are: %s' % (uuid, missing))
    outside = tmp_path / 'outside-k'
    outside.write_bytes(b'x')
    node, mac = lab.node(emu, 0, driver_info={
        'rescue_kernel': 'file://%s' % outside})
    uuid = node['uuid']
    r = put_rescue(lab.d, uuid, PASSWORD)
    prefix = 'Failed to rescue instance None for node %s: Validation ' \
        'failed: ' % uuid
    text = assert_error(r, 400)['faultstring']
    assert text.startswith(prefix), text
    reason = text[len(prefix):]
    assert 'Failed to rescue' not in reason, text
    assert 'rescue_kernel' in reason and str(outside) in reason, text


def test_request_checks(lab, emu):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    before = lab.d.snapshot()
    for password in (None, '', '   ', '\t\n'):
        r = put_rescue(lab.d, uuid, password)
        assert_error(r, 400, BLANK_PASSWORD_MSG)
    # The verbs need 1.38 (contract 1.2, 1.5 step 1).
    r = put_rescue(lab.d, uuid, PASSWORD, version='1.37')
    assert_error(r, 406, NOT_ACCEPTABLE_MSG)
    r = put_verb(lab.d, uuid, 'unrescue', version='1.37')
    assert_error(r, 406, NOT_ACCEPTABLE_MSG)
    rc, out, err = lab.d.cli('node', 'rescue', uuid, '--rescue-password',
                             PASSWORD, api_version='1.37')
    assert rc != 0, out
    assert 'Requested API version 1.37 is not supported' in err, err
    rc, out, err = lab.d.cli('node', 'rescue', uuid, '--rescue-password', ' ')
    assert (rc, err) == (1, BLANK_PASSWORD_MSG + ' (HTTP 400)\n')
    assert lab.d.snapshot() == before




def test_rescue_in_maintenance(lab, emu):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    r = lab.d.put('/v1/nodes/%s/maintenance' % uuid, {'reason': 'x'})
    assert r.status_code == 202, r.text
    before = lab.d.snapshot()
    emu.clear_log(0)
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 400, r.text
    assert lab.d.snapshot() == before
    assert emu.actions(0) == []
    assert lab.leftovers(uuid, mac) == []
    assert_error(r, 400, MAINTENANCE_MSG % uuid)


# ===================================================== 4: restarts

def test_restart_during_rescuing(lab, emu, agents, images):
    node, mac = lab.node(emu, 0, driver_info={
        'rescue_kernel': images.url + '/k',
        'rescue_ramdisk': images.url + '/r'})
    uuid = node['uuid']
    emu.clear_log(0)
    images.stall('/k')
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    wait_for(lambda: images.stalled('/k') >= 1, 30, what='the image fetch')
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescuing', node
    lab.d.restart(hard=True)
    images.release()
    # Recovery's clean-up holds the node until it is done.
    node = settled(lab.d, uuid)
    assert_failed(node, RESTART_PROVISION_MSG % 'rescuing')
    assert_password_gone(node)
    assert emu.actions(0) == []

    # A new rescue works (the interrupted download left nothing usable).
    watcher = OnRescueWait(lab.d, uuid,
                           start_agent=lambda: agents.start(lab.api_url, mac))
    watcher.start()
    r = put_rescue(lab.d, uuid, 'An0ther-PW')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    watcher.result()
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    agent = watcher.agent
    assert agent.wait_exit(30) == 0
    check_hash(agent.password_hash(), 'An0ther-PW')
    assert images.count('/k') >= 1 and images.count('/r') == 1
    assert_cleaned(lab, node, mac)


def test_restart_during_rescue_wait(lab, emu, agents):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    waiting = to_rescue_wait(lab, uuid)
    staged = lab.leftovers(uuid, mac)
    assert staged != []
    lab.d.restart(hard=True)
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert node['target_provision_state'] == 'rescue', node
    assert node['reservation'] is None, node
    assert node['last_error'] is None, node
    assert node['provision_updated_at'] == waiting['provision_updated_at']
    assert node['instance_info'].get('hashed_rescue_password') == MASK
    assert lab.leftovers(uuid, mac) == staged

    agent = agents.start(lab.api_url, mac)
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    assert agent.wait_exit(30) == 0
    check_hash(agent.password_hash(), PASSWORD)
    assert_cleaned(lab, node, mac)


# ===================================================== 5: secrets

def test_secrets_stay_secret(launcher, tmp_path, agents):
    bmc_password = 'Bmc-S3cr3t-q7Zx'
    rescue_password = 'Resc-S3cr3t-w8Yv'
    bm = PasswordBmcs(tmp_path / 'bmcs', bmc_password)
    bm.workdir.mkdir()
    try:
        emu = bm.ipmi(1)
        emu.set_power(0, 'on')
        lab = RescueLab(launcher, tmp_path / 'lab')
        d = lab.d
        node, mac = lab.node(emu, 0, driver_info=emu.driver_info(
            0, password=bmc_password))
        uuid, name = node['uuid'], node['name']
        port = d.get('/v1/ports?node=%s' % uuid).json()['ports'][0]
        replies = []

        def take(when):
            for path in ('/v1/nodes/' + uuid, '/v1/nodes/detail',
                         '/v1/nodes/%s/states' % uuid,
                         '/v1/nodes/%s/validate' % uuid, '/v1/ports/detail',
                         '/v1/ports/' + port['uuid'],
                         '/v1/nodes/%s/ports/detail' % uuid):
                r = d.get(path)
                assert r.status_code == 200, (path, r.text)
                replies.append(('%s GET %s' % (when, path), r.text))
            for args in (('node', 'show', name), ('node', 'list', '--long'),
                         ('port', 'list', '--long'),
                         ('node', 'validate', name)):
                rc, out, err = d.cli(*args, '-f', 'json')
                assert rc == 0, (args, out, err)
                replies.append(('%s CLI %s' % (when, ' '.join(args)),
                                out + err))

        rc, out, err = d.cli('node', 'rescue', name, '--rescue-password',
                             rescue_password)
        assert rc == 0, (out, err)
        replies.append(('CLI node rescue', out + err))
        wait_state(d, uuid, {'rescue wait', 'rescue failed'})
        take('rescue wait')
        agent = agents.start(lab.api_url, mac)
        node = end_state(d, uuid, {'rescue', 'rescue failed'})
        assert node['provision_state'] == 'rescue', node
        assert agent.wait_exit(30) == 0
        take('rescue')
        rc, out, err = d.cli('node', 'unrescue', name)
        assert rc == 0, (out, err)
        replies.append(('CLI node unrescue', out + err))
        node = end_state(d, uuid, {'active', 'unrescue failed'})
        assert node['provision_state'] == 'active', node
        take('active')

        token = agent.token()
        hash_ = agent.password_hash()
        assert token and len(token) >= 32
        check_hash(hash_, rescue_password)
        secrets = {'BMC password': bmc_password,
                   'rescue password': rescue_password,
                   'agent token': token, 'password hash': hash_}
        # The lookup reply is the one place the token goes.
        lookups = [e for e in agent.entries('lookup') if e['status'] == 200]
        assert lookups[0]['body']['config']['agent_token'] == token
        # ... and nothing else secret goes with it (contract 5.2).
        for e in lookups:
            ii = e['body']['node']['instance_info']
            assert ii.get('hashed_rescue_password') == MASK, ii
            for what, value in secrets.items():
                if what != 'agent token':
                    assert value not in e['body_text'], 'lookup: ' + what
        for where, text in replies:
            for what, value in secrets.items():
                assert value not in text, '%s shows the %s' % (where, what)
        log = d.log_text()
        assert 'agent token issued' in log      # debug logging is on
        for n, line in enumerate(log.splitlines(), 1):
            for what, value in secrets.items():
                assert value not in line, \
                    'lifeboatd log line %d has the %s: %s' % (n, what, line)
    finally:
        bm.close()


# ===================================================== 6: many nodes

def test_fifty_nodes_at_once(launcher, tmp_path, agents, images):
    count, max_agents = 50, 6
    # All 50 rescue jobs wait for the one stalled download at once, so the
    # pool needs more than the default 16 workers (with 16, 34 of the PUTs
    # get 503 "No free conductor workers available", as Ironic would say).
    lab = RescueLab(launcher, tmp_path / 'lab',
                    conductor={'workers_pool_size': 64})
    d = lab.d
    info = {'rescue_kernel': images.url + '/k',
            'rescue_ramdisk': images.url + '/r'}
    nodes = {}
    for i in range(count):
        node, mac = lab.node(None, boot='fake', bios=False,
                             name=unique('many-%02d' % i), driver_info=info)
        nodes[node['uuid']] = mac

    # Every node wants the images at the same time: the kernel stalls until
    # all 50 rescues were accepted and are waiting for it.
    images.stall('/k')

    def rescue(uuid):
        return requests.put(
            '%s/v1/nodes/%s/states/provision' % (d.url, uuid),
            json={'target': 'rescue', 'rescue_password': PASSWORD},
            headers={'X-OpenStack-Ironic-API-Version': '1.78'}, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = dict(zip(nodes, pool.map(rescue, nodes)))
    bad = {u: (r.status_code, r.text) for u, r in answers.items()
           if r.status_code != 202}
    assert not bad, bad

    def states():
        r = d.get('/v1/nodes?fields=uuid,provision_state,last_error'
                  '&limit=1000')
        assert r.status_code == 200, r.text
        return {n['uuid']: n for n in r.json()['nodes'] if n['uuid'] in nodes}

    wait_for(lambda: all(n['provision_state'] == 'rescuing'
                         for n in states().values()), 30,
             what='all nodes rescuing')
    wait_for(lambda: images.stalled('/k') >= 1, 30, what='the kernel fetch')
    assert images.stalled('/k') == 1, 'parallel downloads of one image'
    images.release('/k')

    started, running = {}, []
    deadline = time.monotonic() + 240
    while True:
        now = states()
        failed = {u: n['last_error'] for u, n in now.items()
                  if n['provision_state'] not in
                  ('rescuing', 'rescue wait', 'rescue')}
        assert not failed, failed
        if all(n['provision_state'] == 'rescue' for n in now.values()):
            break
        assert time.monotonic() < deadline, sorted(
            n['provision_state'] for n in now.values())
        running = [a for a in running if a.proc.poll() is None]
        for uuid, n in now.items():
            if len(running) >= max_agents:
                break
            if n['provision_state'] == 'rescue wait' and uuid not in started:
                started[uuid] = agents.start(lab.api_url, nodes[uuid])
                running.append(started[uuid])
        time.sleep(0.1)

    assert len(started) == count
    for uuid, agent in started.items():
        assert agent.wait_exit(30) == 0, uuid
        check_hash(agent.password_hash(), PASSWORD)
    for uuid in nodes:
        node = get_node(d, uuid)
        assert node['provision_state'] == 'rescue', node
        assert node['last_error'] is None, node
        assert node['reservation'] is None, node
        assert_password_gone(node)
    assert images.count('/k') == 1, images.requests
    assert images.count('/r') == 1, images.requests
