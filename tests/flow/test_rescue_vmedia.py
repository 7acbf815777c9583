"""Rescue through Redfish virtual media (boot interface
``redfish-virtual-media``; contract 4.3 and 7): lifeboatd, the lab Redfish
BMC (tests/lab/redfish_bmc.py) with its in-memory machine, the simulated
agent (tests/lab/fake_agent.py) and the real ``openstack baremetal`` CLI.

lifeboatd builds an ISO with the kernel parameters baked in (among them an
agent token generated before the boot), publishes it below
``[deploy] http_root``/redfish, serves it itself at ``[deploy] http_url``,
has the BMC insert it, sets a one-time boot from the CD and powers on.  The
BMC downloads the image into its state directory; the test reads the
token out of that copy, from the ISO's boot configuration, as a real
ramdisk reads its kernel command line, and only then starts the agent
(``--token=``).  The token never comes from lifeboatd's database or API.

What the BMC did is read from its Redfish API (the CD slot, the boot
override) and from the machine's action log on its control endpoint
(power, boot override, insert, eject, in order).

Every process (daemons, BMC emulators, agents) is stopped by its PID at
teardown, pass or fail, and every wait polls with a deadline.
"""

import hashlib
import os
import re
import shlex
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt         # Python 3.11 (Debian 12); the hashes are crypt(3)

import pytest
import requests

from conftest import unique, unique_mac, wait_for
from power_helpers import BMC_PASSWORD, BMC_USER, get_node
from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import (MASK, TIMEOUT_MSG, TOKEN_REQUIRED_MSG,
                            ImageServer, OnRescueWait, RescueLab,
                            cli_rescue_watched, end_state, to_rescue_wait,
                            ironic_error, put_rescue, put_verb, settled,
                            wait_state)
from rescue_helpers import agents  # noqa: F401 (a fixture)

REPO = Path(__file__).resolve().parents[2]
MKISO = REPO / 'ramdisk' / 'mkiso'

PASSWORD = 'Resc-ue-PW1'
HASH_RE = r'\$5\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{43}'
CLI_WAIT_TIMEOUT = 120

SYSTEM = '/redfish/v1/Systems/1'
CD = '/redfish/v1/Managers/1/VirtualMedia/Cd'

# What the lab machine logs for a virtual media rescue boot (BIOS mode);
# the insert line ends with the URL and the BMC's local copy.
BOOT_LOG = ['redfish: power off', 'insert media',
            'redfish: set boot device=cdrom enabled=once mode=bios',
            'redfish: power on', 'boot from cdrom (bios)']
UNRESCUE_LOG = ['redfish: power off',
                'redfish: set boot device=disk enabled=continuous mode=bios',
                'redfish: power on', 'boot from disk (bios)']


def vmedia_lab(launcher, tmp_path, http_url=None, external_http_url=None,
               **conductor):
    """A lifeboatd with the rescue configuration of test_rescue.py, short
    timeouts, and (unless ``http_url`` says otherwise) its HTTP boot root
    at a free loopback port; ``external_http_url`` is the BMCs' URL."""
    cond = {'rescue_callback_timeout': 60, 'check_rescue_state_interval': 1,
            'power_state_change_timeout': 10}
    cond.update(conductor)
    deploy = {}
    if http_url is not None:
        deploy['http_url'] = http_url
    if external_http_url is not None:
        deploy['external_http_url'] = external_http_url
    sections = {'deploy': deploy} if deploy else {}
    lab = RescueLab(launcher, tmp_path / 'lab', conductor=cond, **sections)
    if http_url is not None:
        lab.http_url = http_url
    return lab


def vmedia_node(lab, emu, nports=1, driver_info=None, drop=()):
    """An active redfish node on machine 0 of ``emu`` (powered on) that
    rescues through virtual media; returns (node, [macs])."""
    emu.set_power(0, 'on')
    info = dict(emu.driver_info(0), redfish_system_id=SYSTEM,
                **lab.rescue_driver_info())
    info.update(driver_info or {})
    for key in drop:
        info.pop(key)
    node = lab.d.create_node(
        name=unique('vm'), driver='redfish',
        boot_interface='redfish-virtual-media', rescue_interface='agent',
        driver_info=info, properties={'capabilities': 'boot_mode:bios'})
    macs = [unique_mac() for _ in range(nports)]
    for mac in macs:
        lab.d.create_port(node['uuid'], mac)
    for verb, final in (('manage', 'manageable'), ('adopt', 'active')):
        r = put_verb(lab.d, node['uuid'], verb)
        assert r.status_code == 202, (verb, r.text)
        node = wait_state(lab.d, node['uuid'],
                          {final, 'enroll', 'adopt failed'}, 30)
        assert node['provision_state'] == final, node
    assert node['power_state'] == 'power on', node
    return node, macs


# ----------------------------------------------------------------- the BMC

def redfish(emu, path):
    """GET a Redfish resource of the BMC (HTTP Basic, no session)."""
    r = requests.get('http://127.0.0.1:%d%s' % (emu.port, path),
                     auth=(BMC_USER, BMC_PASSWORD), timeout=10)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def actions_of(machine):
    """A machine's action log, the insert line cut to 'insert media'."""
    return ['insert media' if a.startswith('insert media ') else a
            for a in machine['log']]


def actions(emu):
    return actions_of(emu.machine(0))


def bmc_requests(emu, method, path_re):
    """(path, status) of every request the BMC logged for ``method`` on a
    path matching ``path_re``."""
    out = []
    for m in re.finditer(r' %s (\S+) user=\S+ -> (\d+) ' % method,
                         emu.log()):
        if re.search(path_re, m.group(1)):
            out.append((m.group(1), int(m.group(2))))
    return out


def assert_no_media(emu, sticky=False):
    """The machine's drive is empty and the BMC's slot shows no image
    (a sticky-inserted BMC may still say Inserted)."""
    media = emu.machine(0)['media']
    assert media['inserted'] is False, media
    cd = redfish(emu, CD)
    assert cd['Image'] is None, cd
    assert cd['ConnectedVia'] == 'NotConnected', cd
    if not sticky:
        assert cd['Inserted'] is False, cd


# ------------------------------------------------------------ the ISO

def published(lab, dirs=False):
    """Every file (and with ``dirs`` every directory) below
    http_root/redfish, relative to http_root.  Where lifeboatd puts the ISO
    below redfish/ is its business: nothing here depends on its name."""
    root = lab.http / 'redfish'
    if not root.exists():
        return []
    return sorted(p.relative_to(lab.http).as_posix()
                  for p in root.rglob('*') if dirs or not p.is_dir())


def assert_unpublished(lab):
    """No ISO, no temporary file, no per-node directory is left."""
    assert published(lab, dirs=True) == []


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def extract(iso, inside):
    """The text of one file of an ISO (xorriso, as a tool would)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'out')
        p = subprocess.run(['xorriso', '-osirrox', 'on', '-indev', str(iso),
                            '-extract', inside, out],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and os.path.exists(out), \
            (inside, p.returncode, p.stderr[-2000:])
        with open(out) as f:
            return f.read()


def boot_params(iso):
    """The kernel parameters of the ISO's two boot entries, as lists:
    (isolinux (BIOS), GRUB (UEFI)); ramdisk/mkiso's layout."""
    isolinux = extract(iso, '/isolinux/isolinux.cfg')
    m = re.search(r'^\s*APPEND initrd=/initrd text (.*) --$', isolinux, re.M)
    assert m, isolinux
    bios = m.group(1).split()
    grub = extract(iso, '/EFI/BOOT/grub.cfg')
    m = re.search(r'^\s*linux /vmlinuz (.*) --$', grub, re.M)
    assert m, grub
    return bios, shlex.split(m.group(1))


def param(params, name):
    """The values of ``name=...`` in a parameter list."""
    return [p.split('=', 1)[1] for p in params if p.startswith(name + '=')]


def check_hash(hash_, password):
    assert hash_ is not None, 'the agent got no password'
    assert re.fullmatch(HASH_RE, hash_), hash_
    assert crypt.crypt(password, hash_) == hash_
    assert crypt.crypt(password + 'x', hash_) != hash_


class RamdiskBoot:
    """What a node in "rescue wait" shows, captured by OnRescueWait before
    the agent starts: the BMC's CD slot and boot override, the machine,
    the published ISO and the kernel parameters of the copy the BMC
    downloaded (where a real ramdisk reads its token from)."""

    def __init__(self, lab, emu):
        self.lab = lab
        self.emu = emu

    def __call__(self, node):
        machine = self.emu.machine(0)
        snap = {
            'node': node,
            'cd': redfish(self.emu, CD),
            'boot': redfish(self.emu, SYSTEM)['Boot'],
            'machine': machine,
            'published': published(self.lab),
        }
        snap['published_sha'] = [sha256(self.lab.http / p)
                                 for p in snap['published']]
        path = machine['media']['path']
        snap['bmc_sha'] = sha256(path) if path else None
        if path:
            snap['params'] = boot_params(path)
        # What someone who knows only the node would try (the ISO holds
        # the agent token): Ironic's name, the directories.
        uuid = node['uuid']
        snap['guesses'] = {
            what: requests.get(self.lab.http_url + what, timeout=10
                               ).status_code
            for what in ('/redfish/boot-%s.iso' % uuid, '/redfish/%s' % uuid,
                         '/redfish/%s/' % uuid, '/redfish/')}
        return snap


def token_of(snap):
    """The agent token from the BMC's copy of the ISO (its BIOS entry)."""
    tokens = param(snap['params'][0], 'ipa-agent-token')
    assert len(tokens) == 1, snap['params']
    return tokens[0]


def rescue_wait_watcher(lab, emu, agents, uuid, mac, *agent_args):
    """An OnRescueWait that captures a RamdiskBoot and starts the agent
    with the token read from the ISO."""
    watcher = None

    def start_agent():
        return agents.start(lab.api_url, mac,
                            '--token=' + token_of(watcher.captured),
                            *agent_args)

    watcher = OnRescueWait(lab.d, uuid, on_wait=RamdiskBoot(lab, emu),
                           start_agent=start_agent)
    return watcher


def assert_rescue_failed(node, error):
    assert node['provision_state'] == 'rescue failed', node
    assert node['target_provision_state'] == 'rescue', node
    assert node['reservation'] is None, node
    if error is None:
        assert node['last_error'] is None, node
    else:
        assert error(node['last_error']), node['last_error']
    assert 'hashed_rescue_password' not in node['instance_info'], node
    assert 'agent_url' not in node['driver_internal_info'], node


def check_iso_in_cd(snap, lab, uuid, base=None):
    """During "rescue wait": the one ISO below http_root/redfish is in the
    CD, at a URL below ``base`` (http_url)/redfish without '?' or '=', and
    the BMC's copy is that file."""
    base = base or lab.http_url
    cd = snap['cd']
    assert cd['Inserted'] is True, cd
    assert cd['ConnectedVia'] == 'URI', cd
    url = cd['Image']
    assert url.startswith(base + '/redfish/'), (url, base)
    assert url.endswith('.iso'), url
    assert '?' not in url and '=' not in url, url
    assert uuid in url, url
    assert snap['published'] == [url[len(base) + 1:]], \
        (snap['published'], url)
    media = snap['machine']['media']
    assert media['inserted'] is True and media['image'] == url, media
    assert snap['bmc_sha'] == snap['published_sha'][0]
    return url


def make_prebuilt_iso(lab):
    """An operator's ISO (ramdisk/mkiso, the lab's dummy kernel and
    ramdisk, one marker parameter) in the images directory."""
    iso = lab.images / 'prebuilt.iso'
    p = subprocess.run([str(MKISO), str(lab.kernel), str(lab.ramdisk),
                        str(iso), '--append', 'prebuilt-marker=1'],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return iso


# ================================================ 1: the happy path

def test_cli_rescue_and_unrescue(launcher, tmp_path, bmcs, agents):
    lab = vmedia_lab(launcher, tmp_path)
    d = lab.d
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(lab, emu)
    uuid, name = node['uuid'], node['name']
    emu.clear_log(0)

    watcher = rescue_wait_watcher(lab, emu, agents, uuid, mac)
    agent = cli_rescue_watched(d, name, watcher, PASSWORD,
                               timeout=CLI_WAIT_TIMEOUT)

    # -- during "rescue wait"
    snap = watcher.captured
    seen = snap['node']
    assert seen['power_state'] == 'power on', seen
    assert seen['instance_info'].get('hashed_rescue_password') == MASK, seen
    # The token was made before the boot (both keys masked, as Ironic's
    # mask_dict_password masks every key with "token" in it).
    dii = seen['driver_internal_info']
    assert dii.get('agent_secret_token') == MASK, seen
    assert dii.get('agent_secret_token_pregenerated') == MASK, seen
    check_iso_in_cd(snap, lab, uuid)
    # The ISO's name cannot be guessed from the node, and no directory is
    # listed.
    assert set(snap['guesses'].values()) == {404}, snap['guesses']
    # The machine went off, got the CD and a one-time CD boot, came on and
    # booted the CD; the "once" override was used up by that boot (the BMC
    # then reports it disabled, as real ones do).
    assert actions_of(snap['machine']) == BOOT_LOG, snap['machine']['log']
    assert snap['machine']['boots'] == ['cdrom'], snap['machine']
    assert (snap['boot']['BootSourceOverrideTarget'],
            snap['boot']['BootSourceOverrideEnabled']) == \
        ('None', 'Disabled'), snap['boot']
    # No DHCP boot service is involved in a virtual media boot.
    assert sorted(os.listdir(lab.hostsdir)) == []
    assert sorted(os.listdir(lab.optsdir)) == []

    # -- the kernel parameters baked into the ISO
    bios, uefi = snap['params']
    assert bios == uefi, (bios, uefi)
    assert param(bios, 'ipa-api-url') == [lab.api_url], bios
    assert param(bios, 'boot_method') == ['vmedia'], bios
    assert param(bios, 'BOOTIF') == [mac], bios
    token = token_of(snap)
    assert len(token) >= 32, token
    assert agent.token() == token

    # -- the agent got the hash, not the password, and finished
    assert agent.wait_exit(30) == 0
    hash_ = agent.password_hash()
    check_hash(hash_, PASSWORD)
    assert agent.rescued()
    calls = agent.commands_in()
    assert len(calls) == 1, calls
    assert calls[0]['path'] == ('/v1/commands/?wait=false&agent_token=%s'
                                % token), calls[0]
    assert calls[0]['body'] == {'name': 'rescue.finalize_rescue',
                                'params': {'rescue_password': hash_,
                                           'hashed': True}}, calls[0]
    assert PASSWORD not in calls[0]['body_text']
    # The lookup did not hand out the pre-generated token.
    lookups = [e for e in agent.entries('lookup') if e['status'] == 200]
    assert lookups and all(e['body']['config']['agent_token'] == MASK
                           for e in lookups), lookups

    # -- after the rescue: the node runs the ramdisk, the media is out
    node = settled(d, uuid)
    assert node['provision_state'] == 'rescue', node
    assert node['target_provision_state'] is None, node
    assert node['last_error'] is None, node
    assert node['power_state'] == 'power on', node
    assert 'hashed_rescue_password' not in node['instance_info'], node
    assert_no_media(emu)
    machine = emu.machine(0)
    assert machine['power_state'] == 'on', machine
    # Ejected once the agent had the password, and not powered off.
    assert actions(emu) == BOOT_LOG + ['eject media'], machine['log']
    assert_unpublished(lab)
    # The token is a secret: never in lifeboatd's log.
    assert token not in d.log_text()

    # -- unrescue
    emu.clear_log(0)
    rc, out, err = d.cli('node', 'unrescue', name, '--wait',
                         timeout=CLI_WAIT_TIMEOUT)
    assert rc == 0, (out, err)
    node = settled(d, uuid)
    assert node['provision_state'] == 'active', node
    assert node['last_error'] is None, node
    assert node['power_state'] == 'power on', node
    for key in ('agent_url', 'agent_secret_token',
                'agent_secret_token_pregenerated'):
        assert key not in node['driver_internal_info'], node
    machine = emu.machine(0)
    assert machine['power_state'] == 'on', machine
    assert machine['boot'] == {'device': 'disk', 'enabled': 'continuous',
                               'mode': 'bios'}, machine
    assert actions(emu) == UNRESCUE_LOG, machine['log']
    assert machine['boots'] == ['disk'], machine
    assert_no_media(emu)
    assert_unpublished(lab)


def test_iso_has_no_bootif_with_two_ports(launcher, tmp_path, bmcs):
    """BOOTIF only when it is unambiguous: with two ports it is left out."""
    lab = vmedia_lab(launcher, tmp_path)
    emu = bmcs.redfish(1)
    node, macs = vmedia_node(lab, emu, nports=2)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    snap = RamdiskBoot(lab, emu)(get_node(lab.d, uuid))
    check_iso_in_cd(snap, lab, uuid)
    bios, uefi = snap['params']
    assert bios == uefi, (bios, uefi)
    assert param(bios, 'BOOTIF') == [], bios
    assert param(bios, 'boot_method') == ['vmedia'], bios
    assert len(token_of(snap)) >= 32
    r = put_verb(lab.d, uuid, 'abort')
    assert r.status_code == 202, r.text
    end_state(lab.d, uuid, {'rescue failed'})
    assert_unpublished(lab)


def test_agent_without_the_token_is_refused(launcher, tmp_path, bmcs,
                                            agents):
    """The token was made before the boot, so lookup does not hand it out
    ("******"): an agent that did not read it from the ISO has none.  IPA
    then heartbeats with "agent_token": null, which Ironic takes as no
    token (its args.string passes None through): 400 "Agent token is
    required for heartbeat processing." (contract 5.2).  The rescue does
    not go on."""
    lab = vmedia_lab(launcher, tmp_path)
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(lab, emu)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    agent = agents.start(lab.api_url, mac, '--heartbeat-error-interval',
                         '0.3')
    beats = agent.wait_heartbeats(3)
    lookups = [e for e in agent.entries('lookup') if e['status'] == 200]
    assert lookups[0]['body']['config']['agent_token'] == MASK, lookups[0]
    node = get_node(lab.d, uuid)
    assert node['provision_state'] == 'rescue wait', node
    assert 'agent_url' not in node['driver_internal_info'], node
    assert agent.commands_in() == []
    for hb in beats:
        assert 'agent_token' in hb['sent'] and \
            hb['sent']['agent_token'] is None, hb['sent']
        assert hb['status'] == 400, hb
        assert ironic_error(hb['body_text']) == TOKEN_REQUIRED_MSG, \
            hb['body_text']


# ============================================ 2, 3: timeout and abort

def assert_off_then_ejected(lab, emu, node):
    """After the boot: powered off first, then the CD emptied (the ramdisk
    is not left running from a pulled medium), and the ISO unpublished."""
    assert node['power_state'] == 'power off', node
    assert emu.power(0) == 'off'
    assert actions(emu) == BOOT_LOG + ['redfish: power off',
                                       'eject media'], emu.actions(0)
    assert_no_media(emu)
    assert_unpublished(lab)


def test_callback_timeout(launcher, tmp_path, bmcs):
    timeout = 4
    lab = vmedia_lab(launcher, tmp_path, rescue_callback_timeout=timeout)
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(lab, emu)
    uuid = node['uuid']
    emu.clear_log(0)
    to_rescue_wait(lab, uuid)
    snap = RamdiskBoot(lab, emu)(get_node(lab.d, uuid))
    check_iso_in_cd(snap, lab, uuid)
    # No agent: nothing calls back.  The token baked into the ISO is no
    # sign of a lookup.
    node = end_state(lab.d, uuid, {'rescue failed', 'rescue'}, timeout + 30)
    assert_rescue_failed(node, lambda e: e.startswith(
        TIMEOUT_MSG + ': the rescue ramdisk never looked up '))
    assert_off_then_ejected(lab, emu, node)


def test_abort_from_rescue_wait(launcher, tmp_path, bmcs):
    lab = vmedia_lab(launcher, tmp_path)
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(lab, emu)
    uuid, name = node['uuid'], node['name']
    emu.clear_log(0)
    to_rescue_wait(lab, uuid)
    snap = RamdiskBoot(lab, emu)(get_node(lab.d, uuid))
    check_iso_in_cd(snap, lab, uuid)
    rc, out, err = lab.d.cli('node', 'abort', name)
    assert rc == 0, (out, err)
    node = end_state(lab.d, uuid, {'rescue failed'})
    assert_rescue_failed(node, None)
    # Unlike a PXE abort, a virtual media abort powers the node off.
    assert_off_then_ejected(lab, emu, node)


# ======================================== 4: the BMC cannot fetch the ISO

@pytest.mark.parametrize('option', ['http_url', 'external_http_url'])
def test_iso_url_unreachable(launcher, tmp_path, bmcs, option):
    # lifeboatd serves http_root itself on http_url's port, so that port
    # cannot be a closed one; port 0 makes lifeboatd listen on a port of
    # the kernel's choosing while the URL it hands the BMC names port 0,
    # where nothing ever listens (connection refused).  With
    # external_http_url set, that is the URL the BMC is given (http_url
    # works), and the one last_error names.
    lab = vmedia_lab(launcher, tmp_path, **{option: 'http://127.0.0.1:0'})
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(lab, emu)
    uuid = node['uuid']
    emu.clear_log(0)
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed', 'rescue wait'})
    assert_rescue_failed(node, lambda e: e.startswith('Failed to rescue: '))
    error = node['last_error']
    # The operator learns that the insert failed, which URL the BMC could
    # not download and why (the BMC's own words), e.g. "Failed to rescue:
    # the rescue ISO could not be inserted: no virtual CD or DVD of Redfish system '/redfish/v1/Systems/1'
    # accepted the image 'http://127.0.0.1:0/redfish/...iso': Redfish BMC
    # at http://127.0.0.1:PORT answered HTTP 400 to POST /redfish/v1/
    # Managers/1/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia: The
    # image http://127.0.0.1:0/redfish/...iso could not be downloaded:
    # <urlopen error [Errno 111] Connection refused>."
    assert error.startswith('Failed to rescue: the rescue ISO could not '
                            'be inserted: '), error
    assert error.endswith('(the BMC downloads it from [deploy] %s '
                          'http://127.0.0.1:0)' % option), error
    assert 'VirtualMedia.InsertMedia' in error, error
    assert "accepted the image 'http://127.0.0.1:0/redfish/" in error, error
    assert 'could not be downloaded' in error, error
    assert 'Connection refused' in error, error
    # The BMC refused the insert: nothing is in the CD.
    inserts = bmc_requests(emu, 'POST', r'VirtualMedia\.InsertMedia$')
    assert inserts and all(st == 400 for _, st in inserts), inserts
    assert_no_media(emu)
    assert_unpublished(lab)
    # The node was powered off for the boot and stays off (the clean-up's
    # own power off finds it off); no boot override, no power on.
    assert node['power_state'] == 'power off', node
    assert emu.power(0) == 'off'
    log = actions(emu)
    assert log[0] == 'redfish: power off', log
    assert set(log) <= {'redfish: power off',
                        'redfish: power off (already off)'}, log


def test_iso_secrets_stay_secret(launcher, tmp_path, bmcs):
    """Issue 10 item 10: the ISO builder (a wrapper around mkiso that
    records its argv and its standard input) never sees the agent token in
    its argv, and when the BMC cannot fetch the ISO, the ISO's random name
    is in neither last_error nor the daemon's (debug) log."""
    rec = tmp_path / 'builder'
    rec.mkdir()
    wrapper = rec / 'iso-builder'
    wrapper.write_text(
        '#!/bin/sh\n'
        'printf "%%s\\n" "$@" > %s/argv\n'
        'cat > %s/stdin\n'
        'exec %s "$@" < %s/stdin\n' % (rec, rec, shlex.quote(str(MKISO)),
                                       rec))
    wrapper.chmod(0o755)
    cond = {'rescue_callback_timeout': 60, 'check_rescue_state_interval': 1,
            'power_state_change_timeout': 10}
    lab = RescueLab(launcher, tmp_path / 'lab', conductor=cond,
                    deploy={'http_url': 'http://127.0.0.1:0'},
                    redfish={'iso_builder': str(wrapper)})
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(lab, emu)
    uuid = node['uuid']
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed', 'rescue wait'})
    assert node['provision_state'] == 'rescue failed', node
    # The builder ran, and got the parameters on stdin only.
    argv = (rec / 'argv').read_text()
    params = (rec / 'stdin').read_text()
    token = re.search(r'ipa-agent-token=(\S+)', params + argv).group(1)
    assert len(token) >= 32, params
    assert token not in argv, argv
    assert token in params, params
    assert 'ipa-agent-token' not in argv, argv
    assert argv.splitlines()[-2:] == ['--append-file', '-'], argv
    # The insert failed; the URL is shown without the ISO's name.
    error = node['last_error']
    assert error.startswith('Failed to rescue: the rescue ISO could not '
                            'be inserted: '), error
    assert "'http://127.0.0.1:0/redfish/%s/\u2026" % uuid in error, error
    iso_name = re.compile(r'redfish/%s/[A-Za-z0-9_-]{16,}\.iso' % uuid)
    assert not iso_name.search(error), error
    log = lab.d.log_text()
    assert 'could not be inserted' in log
    assert not iso_name.search(log), iso_name.findall(log)
    assert token not in log
    assert_unpublished(lab)


# ===================================================== 5: BMC quirks

@pytest.mark.parametrize('quirks,applied,log_line', [
    (['sticky-inserted', 'power-on-409=3'],
     ['power_on_409_retry', 'sticky_inserted'],
     'Redfish quirks applied: ["power_on_409_retry","sticky_inserted"]'),
    (['no-insert-action'], ['patch_instead_of_action'],
     'Redfish quirks applied: ["patch_instead_of_action"]'),
], ids=['sticky-inserted+power-on-409', 'no-insert-action'])
def test_quirky_bmc(launcher, tmp_path, bmcs, agents, quirks, applied,
                    log_line):
    lab = vmedia_lab(launcher, tmp_path)
    args = []
    for q in quirks:
        args += ['--quirk', q]
    emu = bmcs.redfish(1, *args)
    node, (mac,) = vmedia_node(lab, emu)
    uuid = node['uuid']
    emu.clear_log(0)
    watcher = rescue_wait_watcher(lab, emu, agents, uuid, mac)
    watcher.start()
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'}, 90)
    watcher.result()
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    assert node['power_state'] == 'power on', node
    snap = watcher.captured
    check_iso_in_cd(snap, lab, uuid)
    assert watcher.agent.wait_exit(30) == 0
    check_hash(watcher.agent.password_hash(), PASSWORD)

    # lifeboatd says what it worked around, and remembers it.
    lines = [line for line in lab.d.log_text().splitlines()
             if 'Redfish quirks applied' in line and uuid in line]
    assert lines and lines[-1].endswith(log_line), lines
    assert sorted(node['driver_internal_info'].get(
        'redfish_quirks_applied', [])) == applied, node

    machine = emu.machine(0)
    assert machine['power_state'] == 'on', machine
    assert machine['boots'] == ['cdrom'], machine
    assert actions(emu) == BOOT_LOG + ['eject media'], machine['log']
    assert_no_media(emu, sticky='sticky-inserted' in quirks)
    assert_unpublished(lab)
    resets = bmc_requests(emu, 'POST', r'ComputerSystem\.Reset$')
    inserts = bmc_requests(emu, 'POST', r'VirtualMedia\.InsertMedia$')
    patches = bmc_requests(emu, 'PATCH', r'/VirtualMedia/Cd$')
    if 'sticky-inserted' in quirks:
        # The slot still says Inserted, with no image: taken as ejected.
        cd = redfish(emu, CD)
        assert cd['Inserted'] is True and cd['Image'] is None, cd
        # Power on was refused while the machine settled, then retried.
        statuses = [st for _, st in resets]
        assert 409 in statuses and statuses[-1] == 204, resets
        assert inserts == [(CD + '/Actions/VirtualMedia.InsertMedia', 204)]
    else:
        # No actions on the slot: inserted and ejected by PATCHing it.
        assert inserts == [], inserts
        assert patches == [(CD, 204), (CD, 204)], patches


# =================================================== 6: a prebuilt ISO

@pytest.mark.parametrize('href', ['file', 'http'])
def test_prebuilt_rescue_iso(launcher, tmp_path, bmcs, href):
    lab = vmedia_lab(launcher, tmp_path)
    prebuilt = make_prebuilt_iso(lab)
    want = sha256(prebuilt)
    server = None
    if href == 'file':
        iso_href = 'file://%s' % prebuilt
    else:
        server = ImageServer({'/prebuilt.iso': prebuilt.read_bytes()})
        iso_href = server.url + '/prebuilt.iso'
    try:
        emu = bmcs.redfish(1)
        node, (mac,) = vmedia_node(
            lab, emu, driver_info={'rescue_iso': iso_href},
            drop=('rescue_kernel', 'rescue_ramdisk'))
        uuid = node['uuid']
        emu.clear_log(0)
        to_rescue_wait(lab, uuid)
        snap = RamdiskBoot(lab, emu)(get_node(lab.d, uuid))
    finally:
        if server is not None:
            server.close()
    check_iso_in_cd(snap, lab, uuid)
    # Inserted as it is: the BMC got the very bytes, no parameter added.
    assert snap['bmc_sha'] == want
    assert snap['params'] == (['prebuilt-marker=1'], ['prebuilt-marker=1'])

    r = put_verb(lab.d, uuid, 'abort')
    assert r.status_code == 202, r.text
    node = end_state(lab.d, uuid, {'rescue failed'})
    assert_rescue_failed(node, None)
    assert actions(emu) == BOOT_LOG + ['redfish: power off',
                                       'eject media'], emu.actions(0)
    assert_no_media(emu)
    assert_unpublished(lab)
    # The operator's ISO is untouched by the clean-up.
    assert sha256(prebuilt) == want


def test_prebuilt_rescue_iso_agent_can_finish(launcher, tmp_path, bmcs,
                                              agents):
    """A prebuilt ISO is the operator's: it cannot carry the token
    lifeboatd makes for each rescue, so its agent has none on its command
    line.  Either lifeboatd refuses such a rescue up front (saying why), or
    the agent must still be able to finish it (e.g. lookup hands out the
    token, as for PXE).  A rescue that is accepted and can only time out
    is the one wrong answer."""
    lab = vmedia_lab(launcher, tmp_path, rescue_callback_timeout=10)
    prebuilt = make_prebuilt_iso(lab)
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(
        lab, emu, driver_info={'rescue_iso': 'file://%s' % prebuilt},
        drop=('rescue_kernel', 'rescue_ramdisk'))
    uuid = node['uuid']
    r = put_rescue(lab.d, uuid, PASSWORD)
    if r.status_code == 400:
        assert 'rescue_iso' in r.text, r.text
        return
    assert r.status_code == 202, r.text
    node = wait_state(lab.d, uuid, {'rescue wait', 'rescue failed'}, 60)
    assert node['provision_state'] == 'rescue wait', node
    snap = RamdiskBoot(lab, emu)(get_node(lab.d, uuid))
    assert param(snap['params'][0], 'ipa-agent-token') == []
    # What the ISO's agent does: no --token, the ISO has none.
    agent = agents.start(lab.api_url, mac, '--heartbeat-error-interval',
                         '0.3')
    node = end_state(lab.d, uuid, {'rescue', 'rescue failed'}, 40)
    lookups = [e['body']['config'].get('agent_token')
               for e in agent.entries('lookup') if e['status'] == 200]
    beats = [(h['status'], h.get('body_text')) for h in agent.heartbeats()]
    assert node['provision_state'] == 'rescue', (
        node['last_error'], 'lookup gave the token %r' % lookups,
        'heartbeats: %r' % beats[:2])
    assert agent.wait_exit(30) == 0
    check_hash(agent.password_hash(), PASSWORD)


# ============================ 7: the BMC's own URL (external_http_url)

def free_port_on(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def test_external_http_url(launcher, tmp_path, bmcs, agents):
    """[deploy] external_http_url on another loopback address and port
    than http_url: the BMC is handed the ISO there, fetches it from
    lifeboatd's listener on that address (lifeboatd's log and the BMC's
    agree), and the rescue finishes; nothing of the ISO is fetched from
    http_url."""
    ext_url = 'http://127.0.0.2:%d' % free_port_on('127.0.0.2')
    lab = vmedia_lab(launcher, tmp_path, external_http_url=ext_url)
    assert not lab.http_url.startswith('http://127.0.0.2')
    emu = bmcs.redfish(1)
    node, (mac,) = vmedia_node(lab, emu)
    uuid, name = node['uuid'], node['name']
    emu.clear_log(0)
    watcher = rescue_wait_watcher(lab, emu, agents, uuid, mac)
    agent = cli_rescue_watched(lab.d, name, watcher, PASSWORD,
                               timeout=CLI_WAIT_TIMEOUT)
    snap = watcher.captured
    url = check_iso_in_cd(snap, lab, uuid, base=ext_url)
    assert actions_of(snap['machine']) == BOOT_LOG, snap['machine']['log']
    # The BMC downloaded it from there ...
    downloads = re.findall(r'downloaded (\S+) \(\d+ bytes', emu.log())
    assert downloads == [url], downloads
    # ... and lifeboatd served it on that listener, not on http_url's.
    log = lab.d.log_text()
    assert re.search(r'http boot \(external_http_url\): GET /redfish/%s/'
                     r'\u2026 -> 200' % uuid, log), log[-3000:]
    assert not re.search(r'http boot \(http_url\): GET /redfish/.* -> 200',
                         log)
    assert agent.wait_exit(30) == 0
    check_hash(agent.password_hash(), PASSWORD)
    node = settled(lab.d, uuid)
    assert node['provision_state'] == 'rescue', node
    assert node['last_error'] is None, node
    assert actions(emu) == BOOT_LOG + ['eject media'], emu.actions(0)
    assert_no_media(emu)
    assert_unpublished(lab)
    assert token_of(snap) not in log


def test_external_http_url_without_http_url(launcher, tmp_path, bmcs):
    """Virtual media needs only the BMC's URL: with http_url unset the
    rescue is refused up front unless external_http_url is set, and then
    the ISO is inserted from there."""
    lab = vmedia_lab(launcher, tmp_path / 'none', http_url='')
    emu = bmcs.redfish(1)
    node, _ = vmedia_node(lab, emu)
    r = put_rescue(lab.d, node['uuid'], PASSWORD)
    assert r.status_code == 400, r.text
    assert ironic_error(r.text).endswith(
        ': Validation failed: the redfish-virtual-media boot interface '
        'needs [deploy] external_http_url or http_url (and lifeboatd serves '
        '[deploy] http_root there)'), r.text
    assert get_node(lab.d, node['uuid'])['provision_state'] == 'active'
    lab.d.stop()

    ext_url = 'http://127.0.0.2:%d' % free_port_on('127.0.0.2')
    lab = vmedia_lab(launcher, tmp_path / 'ext', http_url='',
                     external_http_url=ext_url)
    node, _ = vmedia_node(lab, emu)
    uuid = node['uuid']
    to_rescue_wait(lab, uuid)
    cd = redfish(emu, CD)
    assert cd['Image'].startswith('%s/redfish/%s/' % (ext_url, uuid)), cd
    assert published(lab) == [cd['Image'][len(ext_url) + 1:]]
    r = put_verb(lab.d, uuid, 'abort')
    assert r.status_code == 202, r.text
    end_state(lab.d, uuid, {'rescue failed'})
    assert_unpublished(lab)
