"""End to end: rescue a machine that is not virtio (issue 11).

The lab (conftest.py ``lab`` with ``LAB_OPTIONS`` below) is the PXE lab
with another machine behind the IPMI BMC (hardware.py): an e1000e NIC
whose iPXE option ROM PXE-boots it, an NVMe disk, a disk on an AHCI
controller and one behind an emulated MegaRAID; 1 GiB, SeaBIOS, nothing
virtio.

1. ``test_host_reader``   the host-side reader of hardware.py on an ext4
   made with host tools (no VM, no loop device): it finds the file system
   at a MiB boundary inside a "RAID member", reads files with debugfs, and
   its /etc/shadow check catches a wrong hash or a changed line;
2. ``test_rescue_hardware``   a preparation VM (the rescue ramdisk booted
   with -kernel/-initrd, ``lifeboat.debug``, no NIC, the same disks) writes
   an installed system: md RAID1 (NVMe p1 + AHCI p1, metadata 1.0) + LVM +
   ext4 with /etc/shadow (alice) and a static busybox, XFS on NVMe p2,
   LUKS2 + ext4 on AHCI p2, btrfs on the MegaRAID disk.  Then enroll,
   adopt, ``rescue --rescue-password PW --wait`` with ``pxe``; as
   ``rescue`` (not root: sudo) over ssh: the three disks in lsblk,
   assemble the RAID, activate LVM, mount, reset alice's password in a
   chroot (busybox passwd); open the LUKS volume, mount it read-only,
   copy its file out with scp and with sftp -b; ``xfs_repair -n`` and
   ``btrfs check``;
   close everything; ``unrescue --wait``: active.  Then, from the raw
   image files: alice's new hash verifies with the new password, the rest
   of /etc/shadow and the other files are unchanged, both RAID members
   agree, the XFS, LUKS and btrfs bytes are those of before the rescue.
"""

import hashlib
import re
import shutil
import subprocess
import time

import pytest

import hardware as H
import lab as L

LAB_OPTIONS = {'name': 'hardware', 'machine': H.MACHINE}

NODE_NAME = 'e2e-hardware'
RESCUE_PASSWORD = 'Lifeboat-hw-pw1'
NEW_PASSWORD = 'alice-new-pw-2'
RESCUE_TIMEOUT = 400      # rescue --wait (lifeboat gives up at 150 s)
UNRESCUE_TIMEOUT = 180
SSH_TIMEOUT = 120
IP = L.MACHINE_TENANT_IP
# PCI vendor:device of the machine's NIC and storage controllers
HARDWARE_IDS = {'8086:10d3': 'e1000e NIC', '1b36:0010': 'NVMe controller',
                '8086:2922': 'AHCI controller',
                '1000:0079': 'MegaRAID SAS controller'}


def need_host_tools():
    missing = [t for t in ('debugfs', 'mkfs.ext4', 'cpio')
               if shutil.which(t) is None]
    if missing:
        pytest.skip('needs %s (apt-get install e2fsprogs cpio)' %
                    ' '.join(missing))


# ------------------------------------------------------ the host reader

def test_host_reader(tmp_path):
    """find_ext4 + debugfs + check_shadow on an image made here."""
    need_host_tools()
    root = tmp_path / 'root'
    (root / 'etc').mkdir(parents=True)
    (root / 'srv').mkdir()
    old_shadow = H.shadow_text()
    (root / 'etc' / 'shadow').write_text(old_shadow)
    (root / 'etc' / 'passwd').write_text(H.PASSWD)
    for p, text in H.OTHER_FILES.items():
        (root / p.lstrip('/')).write_text(text)
    fs = tmp_path / 'fs.img'
    subprocess.run(['mkfs.ext4', '-q', '-F', '-L', H.EXT4_LABEL, '-d',
                    str(root), str(fs), '6M'], check=True)
    # a "member": 1 MiB of something, the ext4 at 3 MiB, a tail
    member = tmp_path / 'disk.img'
    with open(member, 'wb') as f:
        f.write(b'\x5a' * H.MIB)
        f.seek(3 * H.MIB)
        f.write(fs.read_bytes())
        f.truncate(12 * H.MIB)
    assert H.find_ext4(member, 'otherlabel') is None
    assert H.find_ext4(member, H.EXT4_LABEL) == (3 * H.MIB, 6 * H.MIB)
    # not found when the range given is before it
    assert H.find_ext4(member, H.EXT4_LABEL, 0, 2 * H.MIB) is None
    files = H.read_member(member, H.EXT4_LABEL, H.MIB, 11 * H.MIB,
                          tmp_path / 'x.img')
    assert files['/etc/shadow'] == old_shadow.encode()
    assert files['/srv/notes.txt'] == H.OTHER_FILES['/srv/notes.txt'].encode()
    old = old_shadow.encode()
    # unchanged: the hash did not change
    assert H.check_shadow(old, old, H.USER, NEW_PASSWORD) == [
        'alice: the hash did not change']
    good = H.crypt.crypt(NEW_PASSWORD, '$6$newsaltnewsaltn$')
    lines = old_shadow.splitlines(keepends=True)
    f = lines[2].split(':')
    f[1], f[2] = good, '20500'
    new_lines = lines[:2] + [':'.join(f)] + lines[3:]
    assert H.check_shadow(old, ''.join(new_lines).encode(), H.USER,
                          NEW_PASSWORD) == []
    # a hash of another password
    assert H.check_shadow(old, ''.join(new_lines).encode(), H.USER,
                          'wrong') != []
    # another line changed too
    bad = list(new_lines)
    bad[3] = bad[3].replace('19000', '19001')
    assert any('line changed' in p for p in H.check_shadow(
        old, ''.join(bad).encode(), H.USER, NEW_PASSWORD))


# ------------------------------------------------------------- the flow

def node_show(lab, uuid):
    return lab.cli_json('node', 'show', uuid)


def enroll(lab):
    """Enroll and adopt the machine; no instance to boot: it stays off."""
    return lab.enroll(NODE_NAME, 'ipmi', 'pxe', 'bios')


class Rescued:
    """ssh rescue@IP: each step logged; failures collected in problems."""

    def __init__(self, lab, problems):
        self.lab = lab
        self.problems = problems
        self.steps = []

    def run(self, what, command, timeout=120, want=0):
        t = time.monotonic()
        p = self.lab.ssh('rescue', IP, RESCUE_PASSWORD, command,
                         timeout=timeout)
        dt = time.monotonic() - t
        self.steps.append((what, dt))
        shown = command
        for secret in (NEW_PASSWORD, H.LUKS_PASSPHRASE):
            shown = shown.replace(secret, '******')
        self.lab.events.add('lab', 'rescued: %s: $ %s -> %d (%.1f s)\n%s%s'
                            % (what, shown, p.returncode, dt, p.stdout,
                               p.stderr))
        if want is not None and p.returncode != want:
            self.problems.append('%s: `%s` exited %d: %s %s' % (
                what, shown, p.returncode, p.stdout.strip()[-800:],
                p.stderr.strip()[-800:]))
        return p


def wait_ssh(lab):
    deadline = time.monotonic() + SSH_TIMEOUT
    while True:
        p = lab.ssh('rescue', IP, RESCUE_PASSWORD, 'id -un; id -u')
        if p.returncode == 0:
            return p
        if time.monotonic() > deadline:
            pytest.fail('ssh rescue@%s never worked (exit %d): %s\n'
                        'console:\n%s' % (IP, p.returncode, p.stderr,
                                          lab.events.tail('console')))
        time.sleep(1)


def lsblk_disks(r, problems):
    """{size MiB: name} of the whole disks, once the three are there
    (storage drivers load in the background)."""
    deadline = time.monotonic() + 60
    while True:
        p = r.run('lsblk', 'lsblk -bdno NAME,SIZE,TYPE', want=None)
        disks = {}
        for line in p.stdout.splitlines():
            f = line.split()
            if len(f) == 3 and f[2] == 'disk':
                disks[int(f[1]) >> 20] = f[0]
        if all(m in disks for m in H.DISKS.values()) or \
                time.monotonic() > deadline:
            return disks, p.stdout
        time.sleep(1)


def rescue_work(lab, prep, problems, tmp):
    """Everything done as the rescue user; returns the step timings."""
    r = Rescued(lab, problems)
    who = wait_ssh(lab)
    if who.stdout.split()[:2] != ['rescue', '1000']:
        problems.append('the rescue user is %r, not rescue (uid 1000)'
                        % who.stdout)
    disks, text = lsblk_disks(r, problems)
    nvme, ahci, mega = (disks.get(m) for m in (640, 512, 256))
    if not (nvme and nvme.startswith('nvme') and ahci and mega):
        problems.append('lsblk does not show the NVMe, AHCI and MegaRAID '
                        'disks: %r' % text)
        return r.steps
    part = lambda d, n: '/dev/%s%s%d' % (d, 'p' if d[-1].isdigit() else '',
                                         n)         # noqa: E731
    # the installed system: RAID1 + LVM + ext4; reset alice's password
    r.run('sudo works without a password', 'sudo -n true')
    r.run('mdadm --assemble --scan', 'sudo mdadm --assemble --scan')
    md = r.run('/proc/mdstat', 'cat /proc/mdstat').stdout
    if not re.search(r'^md\S+ : active', md, re.M):
        problems.append('mdadm --assemble --scan assembled nothing: %r' % md)
        # go on with the members named, to check the rest
        r.run('mdadm --assemble (members named)', 'sudo mdadm --assemble '
              '/dev/md0 %s %s' % (part(nvme, 1), part(ahci, 1)))
        md = r.run('/proc/mdstat', 'cat /proc/mdstat').stdout
    m = re.search(r'^(md\S+) : active raid1 (.*)$', md, re.M)
    if not m or not re.search(r'\[UU\]', md):
        problems.append('the RAID1 is not assembled with both members: %r'
                        % md)
    r.run('vgchange -ay', 'sudo vgchange -ay lbvg')
    pvs = r.run('pvs', 'sudo pvs --noheadings -o pv_name,vg_name').stdout
    if not m or not re.search(r'/dev/%s\s+lbvg' % re.escape(m.group(1)),
                              pvs):
        problems.append('LVM does not use the md device: %r' % pvs)
    r.run('mount the LV', 'sudo mkdir -p /mnt/root && '
          'sudo mount /dev/mapper/lbvg-root /mnt/root')
    r.run('chroot: who is alice', 'sudo chroot /mnt/root /bin/grep '
          '^alice: /etc/passwd')
    # busybox passwd (Debian's busybox has no chpasswd) reads the new
    # password twice from stdin
    r.run('chroot: passwd alice', "printf '%s\\n%s\\n' | sudo chroot "
          '/mnt/root /usr/bin/passwd -a sha512 alice' % (NEW_PASSWORD,
                                                         NEW_PASSWORD))
    r.run('umount the LV', 'sudo umount /mnt/root')
    r.run('vgchange -an', 'sudo vgchange -an lbvg')
    if m:
        r.run('mdadm --stop', 'sudo mdadm --stop /dev/%s' % m.group(1))

    # the LUKS volume: open with the key on stdin, mount read-only, copy
    # the file out with scp and with sftp -b
    r.run('cryptsetup open', "printf %%s '%s' | sudo cryptsetup open "
          '--key-file - %s lbsecret' % (H.LUKS_PASSPHRASE, part(ahci, 2)))
    r.run('mount LUKS read-only', 'sudo mkdir -p /mnt/secret && sudo mount '
          '-o ro,noload /dev/mapper/lbsecret /mnt/secret')
    opts = ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null',
            '-o', 'GlobalKnownHostsFile=/dev/null',
            '-o', 'PreferredAuthentications=password,keyboard-interactive',
            '-o', 'PubkeyAuthentication=no', '-o', 'ConnectTimeout=5',
            '-o', 'LogLevel=ERROR']
    got = {}
    t = time.monotonic()
    dst = tmp / 'scp-secret.bin'
    p = lab.nsrun('sshpass', '-p', RESCUE_PASSWORD, 'scp', *opts,
                  'rescue@%s:/mnt/secret/secret.bin' % IP, dst,
                  check=False, timeout=120)
    r.steps.append(('scp the file out', time.monotonic() - t))
    got['scp'] = (p, dst)
    t = time.monotonic()
    dst2 = tmp / 'sftp-secret.bin'
    batch = tmp / 'sftp.batch'
    batch.write_text('get /mnt/secret/secret.bin %s\n' % dst2)
    # -b turns BatchMode on, which forbids passwords; the -o before it
    # wins (ssh takes the first value of an option)
    p = lab.nsrun('sshpass', '-p', RESCUE_PASSWORD, 'sftp',
                  '-o', 'BatchMode=no', *opts, '-b', batch,
                  'rescue@%s' % IP, check=False, timeout=120)
    r.steps.append(('sftp -b the file out', time.monotonic() - t))
    got['sftp -b'] = (p, dst2)
    for how, (p, f) in got.items():
        if p.returncode != 0 or not f.exists():
            problems.append('%s: exit %d: %s' % (how, p.returncode,
                                                 p.stderr.strip()))
        elif hashlib.sha256(f.read_bytes()).hexdigest() != \
                prep['secret_sha256']:
            problems.append('%s: the file copied out differs (%d bytes)'
                            % (how, f.stat().st_size))
    r.run('umount LUKS', 'sudo umount /mnt/secret')
    r.run('cryptsetup close', 'sudo cryptsetup close lbsecret')

    # read-only checks of the other file systems
    r.run('xfs_repair -n', 'sudo xfs_repair -n %s' % part(nvme, 2))
    r.run('btrfs check', 'sudo btrfs check /dev/%s' % mega)
    left = r.run('nothing left open', 'cat /proc/mdstat; ls /dev/mapper; '
                 'grep /mnt /proc/mounts', want=None).stdout
    if re.search(r'^md\S+ : active|lbvg|lbsecret|/mnt/', left, re.M):
        problems.append('still open after the rescue work: %r' % left)
    return r.steps


def before_images(lab, prep):
    """sha256 of the bytes the rescue must not change."""
    xfs = H.part_range(prep['parts'], 'nvme', 2)
    luks = H.part_range(prep['parts'], 'ahci', 2)
    return {
        'XFS (NVMe p2)': H.sha256_range(lab.disk_path('nvme.img'), *xfs),
        'LUKS (AHCI p2)': H.sha256_range(lab.disk_path('ahci.img'), *luks),
        'btrfs (MegaRAID)': H.sha256_range(lab.disk_path('mega.img')),
    }


def verify_images(lab, prep, before, problems, tmp):
    """Step 5 from the raw image files alone."""
    after = before_images(lab, prep)
    for what, digest in before.items():
        if after[what] != digest:
            problems.append('%s changed during the rescue' % what)
    members = {}
    for disk in ('nvme', 'ahci'):
        off, length = H.part_range(prep['parts'], disk, 1)
        try:
            members[disk] = H.read_member(
                lab.disk_path('%s.img' % disk), H.EXT4_LABEL, off, length,
                tmp / ('%s-root.ext4' % disk))
        except ValueError as e:
            problems.append('RAID member on %s: %s' % (disk, e))
    if len(members) != 2:
        return
    if members['nvme'] != members['ahci']:
        problems.append('the RAID members disagree: %s' % sorted(
            p for p in members['nvme']
            if members['nvme'][p] != members['ahci'][p]))
    files = members['nvme']
    problems += H.check_shadow(H.shadow_text().encode(),
                               files['/etc/shadow'], H.USER, NEW_PASSWORD)
    if files['/etc/passwd'] != H.PASSWD.encode():
        problems.append('/etc/passwd changed: %r' % files['/etc/passwd'])
    for p, text in H.OTHER_FILES.items():
        if files[p] != text.encode():
            problems.append('%s changed' % p)


def test_rescue_hardware(rescue_ready, lab, timings, tmp_path):
    need_host_tools()
    problems = []
    prep = H.run_prep_vm(lab, lab.ramdisk_dir)
    before = before_images(lab, prep)
    uuid = enroll(lab)
    mark = lab.events.mark()
    t0 = time.monotonic()
    p = lab.cli('node', 'rescue', uuid, '--rescue-password', RESCUE_PASSWORD,
                '--wait', str(RESCUE_TIMEOUT), timeout=RESCUE_TIMEOUT + 30,
                check=False)
    t_cli = time.monotonic()
    node = node_show(lab, uuid)
    if p.returncode != 0 or node['provision_state'] != 'rescue':
        pytest.fail('rescue failed: %s; state %s, last_error %r\n'
                    'console:\n%s' % (p.stderr.strip(),
                                      node['provision_state'],
                                      node['last_error'],
                                      lab.events.tail('console', 120)))

    def when(what, pattern, source):
        found = lab.events.find(pattern, source, mark)
        if found is None:
            problems.append('no %s line: %s' % (source, what))
        return (what, found[0] if found else None)

    ev = [when('power on', r'node %s: rescue: powered on, waiting for the '
               r'agent' % uuid, 'lifeboatd'),
          when('firmware DHCPACK (e1000e iPXE ROM)', r'DHCPACK\(%s\) \S+ %s'
               % (re.escape(lab.vlan_iface(L.RESCUE_VLAN)), L.MACHINE_MAC),
               'dnsmasq-rescue'),
          when('ramdisk /init', r'lifeboat-ramdisk: init started', 'console'),
          when('first heartbeat', r'node %s: rescue wait -> rescuing '
               r'\(agent heartbeat\)' % uuid, 'lifeboatd'),
          when('finalize (node in rescue)', r'node %s: rescuing -> rescue '
               r'\(finalize done' % uuid, 'lifeboatd'),
          ('rescue --wait returned', t_cli)]
    unclaimed = [t for _, s, t in lab.events.lines[mark:]
                 if s == 'console' and 'no driver for PCI' in t]
    lab.events.add('lab', 'unclaimed PCI devices: %r' % unclaimed)
    for ident, what in HARDWARE_IDS.items():
        if any(ident in line for line in unclaimed):
            problems.append('the ramdisk has no driver for the %s (%s)' % (
                what, ident))
    steps = []
    try:
        steps = rescue_work(lab, prep, problems, tmp_path)
        ev.append(('rescue work over ssh done', time.monotonic()))
    finally:
        if node_show(lab, uuid)['provision_state'] == 'rescue':
            lab.cli('node', 'unrescue', uuid, '--wait', str(UNRESCUE_TIMEOUT),
                    timeout=UNRESCUE_TIMEOUT + 30)
            ev.append(('unrescue --wait returned', time.monotonic()))
            node = node_show(lab, uuid)
            if node['provision_state'] != 'active':
                problems.append('after unrescue: %s' %
                                node['provision_state'])
            # off, so that nothing runs on the disks while they are read
            lab.cli('node', 'power', 'off', uuid)
    verify_images(lab, prep, before, problems, tmp_path)
    ev.append(('raw images checked', time.monotonic()))
    rows, prev = [('prep VM (boot, write, power off)', prep['seconds'],
                   None)], t0
    for name, t in ev:
        if t is not None:
            rows.append((name, t - prev, t - t0))
            prev = t
    rows += [('  ssh: %s' % what, dt, None) for what, dt in steps]
    timings('rescue of the e1000e/NVMe/AHCI/MegaRAID machine (pxe); '
            'unclaimed PCI: %d' % len(unclaimed), rows)
    assert not problems, '\n'.join(problems)
