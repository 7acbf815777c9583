"""Options of etc/lifeboat.conf.example that no other flow test sets, each
set to a value of the test's own and its effect asserted (a test here fails
if lifeboatd ignored the option):

* [pxe] pxe_bootfile_name, uefi_pxe_bootfile_name, ipxe_bootfile_name,
  uefi_ipxe_bootfile_name: the boot file (DHCP option 67) in the node's
  dnsmasq opts file, by boot interface and boot_mode capability;
* [deploy] default_boot_mode: for a node without boot_mode, both boot
  files, the default mode's to clients without the other's architecture
  tag;
* [agent] certificates_path: where an auto-TLS agent's certificate is
  pinned, and that unrescue removes it from there;
* [agent] command_timeout, max_command_attempts: the finalize_rescue call
  to an agent that never answers fails after command_timeout seconds, and
  to one that cannot be talked to after max_command_attempts attempts.

The "agent" the conductor calls in the last two is a socket server in the
test (127.0.0.1) that counts the requests it gets; the simulated agent
(tests/lab/fake_agent.py) advertises it as its callback URL.  Every process
is stopped by its PID by its fixture; every wait polls with a deadline.
"""

import os
import socket
import threading
import time

from conftest import wait_for
from power_helpers import get_node
from rescue_helpers import (RescueLab, end_state, put_verb, settled,
                            to_rescue_wait)
from rescue_helpers import agents  # noqa: F401 (a fixture)

DEFAULT_BOOTFILES = ('pxelinux.0', 'bootx64.efi', 'undionly.kpxe',
                     'snponly.efi')


# ------------------------------------------------------- the boot files

def test_bootfile_names(launcher, tmp_path):
    names = {'pxe_bootfile_name': 'lb-test-bios.0',
             'uefi_pxe_bootfile_name': 'lb-test-uefi.efi',
             'ipxe_bootfile_name': 'lb-test-ipxe.kpxe',
             'uefi_ipxe_bootfile_name': 'lb-test-ipxe-uefi.efi'}
    lab = RescueLab(launcher, tmp_path / 'lab', pxe=names,
                    deploy={'default_boot_mode': 'bios'})
    cases = [('pxe', 'bios', 'pxe_bootfile_name'),
             ('pxe', 'uefi', 'uefi_pxe_bootfile_name'),
             ('ipxe', 'bios', 'ipxe_bootfile_name'),
             ('ipxe', 'uefi', 'uefi_ipxe_bootfile_name')]
    got, want = {}, {}
    for boot, mode, option in cases:
        node, mac = lab.node(None, boot=boot, boot_mode=mode)
        uuid = node['uuid']
        to_rescue_wait(lab, uuid)
        opts = lab.staged_files(uuid, mac)['dnsmasq_opts'].read_text()
        tag = 'tag:%s,' % uuid
        if boot == 'pxe':
            want[option] = [tag + '67,' + names[option]]
        else:
            want[option] = [tag + 'tag:!ipxe,67,' + names[option],
                            tag + 'tag:ipxe,67,%s/boot.ipxe' % lab.http_url]
        got[option] = [ln for ln in opts.splitlines() if ',67,' in ln]
        for default in DEFAULT_BOOTFILES:
            if default not in opts:
                continue
            got.setdefault('defaults', []).append((option, default))
        # The boot file is only named to DHCP; nothing by that name is
        # staged in the boot roots.
        for root in (lab.tftp, lab.http):
            assert list(root.rglob(names[option])) == [], root
    assert got == want

    # No boot_mode: UEFI clients (tag efi64) get the UEFI file, every
    # other client the default_boot_mode (bios) one.
    for boot, bios, uefi, ipxe in (
            ('pxe', 'pxe_bootfile_name', 'uefi_pxe_bootfile_name', ''),
            ('ipxe', 'ipxe_bootfile_name', 'uefi_ipxe_bootfile_name',
             'tag:!ipxe,')):
        node, mac = lab.node(None, boot=boot, bios=False)
        uuid = node['uuid']
        to_rescue_wait(lab, uuid)
        opts = lab.staged_files(uuid, mac)['dnsmasq_opts'].read_text()
        tag = 'tag:%s,%s' % (uuid, ipxe)
        assert [ln for ln in opts.splitlines()
                if ',67,' in ln and 'tag:ipxe' not in ln] == [
            tag + 'tag:efi64,67,' + names[uefi],
            tag + 'tag:!efi64,67,' + names[bios]], opts


# ------------------------------------------------- the agent certificate

def test_certificates_path(launcher, tmp_path, agents):
    certs = tmp_path / 'agent-certs'
    lab = RescueLab(launcher, tmp_path / 'lab',
                    agent={'certificates_path': str(certs)})
    node, mac = lab.node(None)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    agent = agents.start(lab.api_url, mac, '--tls', 'on')
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    pinned = node['driver_internal_info']['agent_verify_ca']
    assert pinned == str(certs / ('%s.crt' % uuid)), node
    pem = agent.heartbeats()[0]['sent']['agent_verify_ca']
    with open(pinned) as f:
        assert f.read() == pem
    assert not os.path.lexists(lab.d.state_path / 'certificates' /
                               ('%s.crt' % uuid))
    # The finalize call trusted that certificate (HTTPS, no other CA).
    wait_for(lambda: agent.rescued(), 30, what='the agent to be rescued')
    assert [c['body']['name'] for c in agent.commands_in()] == \
        ['rescue.finalize_rescue']
    assert agent.announce()['callback_url'].startswith('https://')

    # Unrescue forgets the agent and removes its certificate.
    r = put_verb(lab.d, uuid, 'unrescue')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'active', 'unrescue failed'})
    assert node['provision_state'] == 'active', node
    assert 'agent_verify_ca' not in node['driver_internal_info'], node
    assert not os.path.lexists(pinned)
    assert certs.is_dir()


def test_certificate_removed_after_power_off(launcher, tmp_path, agents):
    """A power off while rescued forgets the pinned certificate (the next
    ramdisk has another); unrescue still removes its file."""
    certs = tmp_path / 'agent-certs'
    lab = RescueLab(launcher, tmp_path / 'lab',
                    agent={'certificates_path': str(certs)})
    node, mac = lab.node(None)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    agents.start(lab.api_url, mac, '--tls', 'on')
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'})
    assert node['provision_state'] == 'rescue', node
    pinned = node['driver_internal_info']['agent_verify_ca']
    assert pinned == str(certs / ('%s.crt' % uuid)), node
    r = lab.d.put('/v1/nodes/%s/states/power' % uuid,
                  {'target': 'power off'})
    assert r.status_code == 202, r.text
    node = settled(lab.d, uuid)
    assert node['power_state'] == 'power off', node
    assert 'agent_verify_ca' not in node['driver_internal_info'], node
    r = put_verb(lab.d, uuid, 'unrescue')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'active', 'unrescue failed'})
    assert node['provision_state'] == 'active', node
    assert os.listdir(certs) == []


# ------------------------------------------- an agent that does not answer

class MuteAgent:
    """A TCP server on 127.0.0.1 standing in for an agent's API: it reads
    each request and then either holds the connection open without a word
    (``mode='silent'``) or closes it without a reply (``mode='close'``).
    Records (monotonic time, request line) per request."""

    def __init__(self, mode):
        self.mode = mode
        self.requests = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.conns = []
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.halt.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,),
                             daemon=True).start()

    def _handle(self, conn):
        conn.settimeout(10)
        data = b''
        try:
            while b'\r\n\r\n' not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        with self.lock:
            # The request line without its query (the agent token).
            line = data.split(b'\r\n', 1)[0].split(b'?', 1)[0]
            self.requests.append((time.monotonic(), line.decode('latin-1')))
            if self.mode == 'silent':
                self.conns.append(conn)
                return
        conn.close()

    def posts(self):
        with self.lock:
            return [(t, line) for t, line in self.requests
                    if line == 'POST /v1/commands/']

    def close(self):
        self.halt.set()
        self.thread.join(5)
        self.sock.close()
        with self.lock:
            for c in self.conns:
                c.close()


def rescue_with_mute_agent(lab, agents, mute):
    """Rescue a node whose agent advertises ``mute`` as its API; returns
    (node once the rescue ended, seconds from the first finalize request
    to the end seen)."""
    node, mac = lab.node(None)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    agents.start(lab.api_url, mac, '--tls', 'off', '--advertise-port',
                 str(mute.port), '--heartbeat-error-interval', '0.5')
    wait_for(lambda: mute.posts(), 30, interval=0.02,
             what='the finalize request')
    node = wait_for(lambda: (lambda n: n if n['provision_state'] in
                             ('rescue', 'rescue failed') else None)(
        get_node(lab.d, uuid)), 30, interval=0.05, what='the rescue to end')
    ended = time.monotonic()
    node = settled(lab.d, uuid)
    return node, ended - mute.posts()[0][0]


def agent_call_lab(launcher, tmp_path):
    """A lab whose agent calls give up after 2 s and try twice."""
    return RescueLab(launcher, tmp_path / 'lab',
                     agent={'command_timeout': 2, 'max_command_attempts': 2})


def test_command_timeout(launcher, tmp_path, agents):
    mute = MuteAgent('silent')
    try:
        lab = agent_call_lab(launcher, tmp_path)
        node, took = rescue_with_mute_agent(lab, agents, mute)
        assert node['provision_state'] == 'rescue failed', node
        assert node['last_error'] == (
            'Node failed to perform rescue operation: the agent at '
            'http://127.0.0.1:%d did not answer within 2 s' % mute.port), \
            node
        # Given up after the 2 s (the default is 60), and not retried:
        # only a call that cannot connect is.
        assert 1.5 <= took < 10, took
        assert len(mute.posts()) == 1, mute.requests
    finally:
        mute.close()


def test_max_command_attempts(launcher, tmp_path, agents):
    mute = MuteAgent('close')
    try:
        lab = agent_call_lab(launcher, tmp_path)
        node, took = rescue_with_mute_agent(lab, agents, mute)
        assert node['provision_state'] == 'rescue failed', node
        assert node['last_error'].startswith(
            'Node failed to perform rescue operation: cannot reach the '
            'agent at http://127.0.0.1:%d: ' % mute.port), node
        posts = mute.posts()
        assert len(posts) == 2, mute.requests   # the default is 3
        # A pause between attempts; the second one failed at once.
        assert posts[1][0] - posts[0][0] >= 1, posts
        assert took < 10, took
    finally:
        mute.close()
