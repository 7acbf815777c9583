"""The "real hardware" machine of test_rescue_hardware.py: its devices, the
preparation VM that writes an installed system onto its disks before the
rescue, and the host-side reader that checks those disks afterwards from
the raw image files alone (no loop devices, no host md/dm/LVM).

Runs in the pytest process (the prep VM's serial reader is a thread).

Disks (sparse raw files in the lab's work directory; found in the guest
by their size, so the names the kernel gives them do not matter):

    nvme.img  640 MiB  NVMe          GPT p1 200 MiB RAID member, p2 XFS
    ahci.img  512 MiB  AHCI (SATA)   GPT p1 200 MiB RAID member, p2 LUKS2
    mega.img  256 MiB  MegaRAID SAS  btrfs on the whole disk

md RAID1 (metadata 1.0: the superblock sits at the end, so each member
starts with the LVM PV) over the two p1, VG ``lbvg``, LV ``root``, ext4
labelled ``lbroot``: the "installed system" with /etc/passwd, /etc/shadow
(user alice), two files the test checks afterwards and a static busybox
with its applet links, so that ``chroot`` works.  The LUKS2 volume holds
an ext4 (``lbsecret``) with ``secret.bin``, random bytes made here.
"""

import hashlib
import os
import re
import shlex
import socket
import struct
import subprocess
import threading
import time
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # Python 3.11 still has it (Debian 12's python3); it checks the hash
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt

MIB = 1 << 20

DISKS = {'nvme.img': 640, 'ahci.img': 512, 'mega.img': 256}
RAID_PART_MIB = 200

DEVICES = [
    '-drive', 'file={work}/nvme.img,format=raw,if=none,id=nvme0d',
    '-device', 'nvme,serial=lbnvme0,drive=nvme0d',
    '-device', 'ahci,id=ahci0',
    '-drive', 'file={work}/ahci.img,format=raw,if=none,id=ahci0d',
    '-device', 'ide-hd,bus=ahci0.0,drive=ahci0d,serial=lbahci0',
    '-device', 'megasas-gen2,id=mega0',
    '-drive', 'file={work}/mega.img,format=raw,if=none,id=mega0d',
    '-device', 'scsi-hd,bus=mega0.0,drive=mega0d,serial=lbmega0',
]

# The machine (lab.Lab ``machine=``): e1000e with its iPXE ROM, no virtio.
MACHINE = {'memory': 1024, 'nic': 'e1000e', 'instance_disk': False,
           'disks': DISKS, 'devices': DEVICES}

USER = 'alice'
OLD_PASSWORD = 'alice-old-pw-1'
LUKS_PASSPHRASE = 'lifeboat-luks-e2e'
EXT4_LABEL = 'lbroot'
SECRET_SIZE = 192 * 1024

# /etc of the installed system; the other files are checked byte for byte
PASSWD = ('root:x:0:0:root:/root:/bin/sh\n'
          'daemon:x:1:1:daemon:/usr/sbin:/bin/false\n'
          'alice:x:1000:1000:Alice:/home/alice:/bin/sh\n'
          'bob:x:1001:1001:Bob:/home/bob:/bin/sh\n')
OTHER_FILES = {
    '/etc/hostname': 'installed-system\n',
    '/srv/notes.txt': ''.join('line %03d of the installed system\n' % i
                              for i in range(200)),
}
XFS_FILE = 'xfs says hello\n'
BTRFS_FILE = 'btrfs says hello\n'


def shadow_text():
    """/etc/shadow with fixed salts, so every line is known."""
    root = crypt.crypt('root-pw', '$6$rootsaltrootsal$')
    alice = crypt.crypt(OLD_PASSWORD, '$6$alicesaltalices$')
    bob = crypt.crypt('bob-pw', '$6$bobsaltbobsaltb$')
    return ('root:%s:19000:0:99999:7:::\n'
            'daemon:*:19000:0:99999:7:::\n'
            'alice:%s:19000:0:99999:7:::\n'
            'bob:%s:19000:0:99999:7:::\n' % (root, alice, bob))


PREP_SCRIPT = r'''#!/bin/bash
# bash, as the rescue user's shell: busybox sh would run its own applets
# (mount, modprobe) instead of the image's util-linux and kmod
# The preparation VM's script (the rescue ramdisk's console shell, after the
# agent exits for want of ipa-api-url):
# writes the installed system, the XFS, the LUKS2 volume and the btrfs.
STEP=start
trap 'rc=$?; dmesg | tail -n 12; echo "LBPREP FAILED at $STEP (exit $rc)"' EXIT
set -e
dmesg -n 1 || true
step() { STEP=$1; echo "LBPREP step $1"; }
disk_of_mib() {
	for d in /sys/block/*; do
		if [ "$(cat "$d/size")" = "$(($1 * 2048))" ]; then
			echo "/dev/${d##*/}"; return 0
		fi
	done
	return 1
}
part() { case $1 in *[0-9]) echo "${1}p$2" ;; *) echo "$1$2" ;; esac; }
wait_for() {	# a command, retried for up to 60 s
	n=0
	until "$@" >/dev/null 2>&1; do
		n=$((n + 1)); [ $n -lt 600 ] || return 1; sleep 0.1
	done
}
step disks
wait_for disk_of_mib 640
wait_for disk_of_mib 512
wait_for disk_of_mib 256
NVME=$(disk_of_mib 640); AHCI=$(disk_of_mib 512); MEGA=$(disk_of_mib 256)
echo "LBPREP disks nvme=$NVME ahci=$AHCI mega=$MEGA"
step partition
for d in $NVME $AHCI; do
	sgdisk -n 1:2048:+200M -t 1:fd00 -c 1:raid -n 2:0:0 -t 2:8300 \
		-c 2:data "$d" >/dev/null
done
N1=$(part $NVME 1); N2=$(part $NVME 2); A1=$(part $AHCI 1); A2=$(part $AHCI 2)
for p in $N1 $N2 $A1 $A2; do wait_for test -b $p; done
for p in $N1 $N2 $A1 $A2; do
	b=/sys/class/block/${p##/dev/}
	echo "LBPREP part ${p##/dev/} $(cat $b/start) $(cat $b/size)"
done
step raid
# no module is loaded by hand: md, dm, dm-crypt's ciphers and the file
# systems come on demand (/sbin/modprobe), as they do for the rescue user
mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.0 \
	--assume-clean --homehost=installed $N1 $A1
step lvm
pvcreate -y /dev/md0
vgcreate lbvg /dev/md0
lvcreate -y -n root -l 100%FREE lbvg
wait_for test -b /dev/mapper/lbvg-root
step ext4
mkfs.ext4 -q -F -L lbroot /dev/mapper/lbvg-root
mkdir -p /mnt/root
mount /dev/mapper/lbvg-root /mnt/root
cp -a /lbprep/root/. /mnt/root/
chmod 0644 /mnt/root/etc/passwd /mnt/root/etc/hostname
chmod 0640 /mnt/root/etc/shadow
mkdir -p /mnt/root/bin /mnt/root/sbin /mnt/root/usr/bin /mnt/root/usr/sbin
cp /bin/busybox /mnt/root/bin/busybox
# its applet links (--install needs /proc in the chroot)
for a in $(/bin/busybox --list-full); do
	[ -e /mnt/root/$a ] || ln -s /bin/busybox /mnt/root/$a
done
chroot /mnt/root /bin/true
umount /mnt/root
vgchange -an lbvg
mdadm --stop /dev/md0
step xfs
mkfs.xfs -q -f -L lbxfs $N2
mkdir -p /mnt/x
mount $N2 /mnt/x
cp /lbprep/xfs.txt /mnt/x/hello.txt
umount /mnt/x
step luks
printf %s "$(cat /lbprep/luks.key)" | cryptsetup luksFormat -q --type luks2 \
	--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - $A2
printf %s "$(cat /lbprep/luks.key)" | cryptsetup open --key-file - $A2 lbsecret
mkfs.ext4 -q -F -L lbsecret /dev/mapper/lbsecret
mount /dev/mapper/lbsecret /mnt/x
cp /lbprep/secret.bin /mnt/x/secret.bin
chmod 0755 /mnt/x; chmod 0644 /mnt/x/secret.bin
echo "LBPREP secret $(sha256sum /mnt/x/secret.bin)"
umount /mnt/x
cryptsetup close lbsecret
step btrfs
mkfs.btrfs -q -f -L lbbtrfs $MEGA
mount $MEGA /mnt/x
cp /lbprep/btrfs.txt /mnt/x/hello.txt
umount /mnt/x
sync
trap - EXIT
echo "LBPREP ALL DONE"
'''


# ------------------------------------------------------------ prep VM

def _cpio(root, out):
    """An uncompressed newc archive of ``root`` (appended to the ramdisk:
    the kernel unpacks concatenated archives in order)."""
    names = sorted(str(p.relative_to(root)) for p in root.rglob('*'))
    r = subprocess.run(['cpio', '-o', '-H', 'newc', '-R', '0:0', '--quiet'],
                       input=('\n'.join(names) + '\n').encode(), cwd=root,
                       stdout=subprocess.PIPE, check=True)
    out.write_bytes(r.stdout)


def make_prep_initrd(ramdisk_initramfs, workdir):
    """The ramdisk's initramfs + /lbprep (script, files); returns (path,
    sha256 of secret.bin)."""
    root = Path(workdir) / 'prep-root'
    d = root / 'lbprep'
    (d / 'root' / 'etc').mkdir(parents=True)
    (d / 'root' / 'srv').mkdir()
    (d / 'prep.sh').write_text(PREP_SCRIPT)
    os.chmod(d / 'prep.sh', 0o755)
    (d / 'root' / 'etc' / 'passwd').write_text(PASSWD)
    (d / 'root' / 'etc' / 'shadow').write_text(shadow_text())
    for path, text in OTHER_FILES.items():
        (d / 'root' / path.lstrip('/')).write_text(text)
    secret = os.urandom(SECRET_SIZE)
    (d / 'secret.bin').write_bytes(secret)
    (d / 'luks.key').write_text(LUKS_PASSPHRASE)
    (d / 'xfs.txt').write_text(XFS_FILE)
    (d / 'btrfs.txt').write_text(BTRFS_FILE)
    extra = Path(workdir) / 'prep-extra.cpio'
    _cpio(root, extra)
    out = Path(workdir) / 'prep-initrd'
    with open(out, 'wb') as f:
        f.write(Path(ramdisk_initramfs).read_bytes())
        # the kernel wants each archive 4-byte aligned
        f.write(b'\0' * (-f.tell() % 4))
        f.write(extra.read_bytes())
    return out, hashlib.sha256(secret).hexdigest()


class SerialSocket:
    """QEMU's serial port as a unix socket: each line read goes to
    ``events`` (source ``source``); ``send`` types a line."""

    def __init__(self, path, events, source):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.events = events
        self.source = source
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b''
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                data = b''
            if not data:
                if buf:
                    self.events.add(self.source, buf.decode(errors='replace'))
                return
            buf += data
            *lines, buf = buf.split(b'\n')
            for line in lines:
                self.events.add(self.source, line.decode(
                    errors='replace').rstrip('\r'))

    def send(self, line):
        self.sock.sendall(line.encode() + b'\r')

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(2)


def run_prep_vm(lab, ramdisk_dir, timeout=600):
    """Boots the rescue ramdisk's kernel + initramfs (plus /lbprep) with the
    machine's disks and no NIC, runs /lbprep/prep.sh on its ttyS0 root shell
    (the one /init opens when the agent exits) and
    powers it off.  Returns {'secret_sha256', 'parts': {name: (start,
    sectors)}, 'disks': {...}, 'seconds'}."""
    work = lab.work
    lab.machine_devices()                 # the sparse disk files
    initrd, secret_sha = make_prep_initrd(Path(ramdisk_dir) / 'initramfs',
                                          work / 'prep')
    sock = work / 'prep-serial.sock'
    src = 'prep-console'
    mark = lab.events.mark()
    t0 = time.monotonic()
    argv = ['qemu-system-x86_64', '-accel', 'tcg', '-machine', 'pc', '-m',
            '1024', '-nodefaults', '-display', 'none', '-no-reboot',
            '-chardev', 'socket,id=s0,path=%s,server=on,wait=off' % sock,
            '-serial', 'chardev:s0',
            '-kernel', str(Path(ramdisk_dir) / 'vmlinuz'),
            '-initrd', str(initrd),
            # no ipa-api-url: the agent exits and /init opens a root shell
            # on ttyS0.  Not lifeboat.debug as well: its shell would read
            # ttyS0 too, and two shells split what is typed between them
            '-append', 'console=ttyS0'] + [
                a.replace('{work}', str(work)) for a in DEVICES]
    proc = lab.spawn('prep-qemu', argv, ns=False)
    serial = None
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if not proc.alive() or time.monotonic() > deadline:
                raise AssertionError('prep VM: no serial socket:\n%s' %
                                     lab.events.tail('prep-qemu'))
            time.sleep(0.05)
        serial = SerialSocket(sock, lab.events, src)
        lab.events.wait(r'agent exited .*starting a shell on the console',
                        src, mark, 180, what='the prep VM\'s shell')
        # the shell answers (typed again until it does; harmless)
        while not lab.events.find(r'^LBPING=ok$', src, mark):
            serial.send('echo "LBPING=$(echo ok)"')
            _wait_quiet(lab, r'^LBPING=ok$', src, mark, 2)
            if time.monotonic() - t0 > 240:
                raise AssertionError('the prep VM\'s shell does not answer')
        mark2 = lab.events.mark()
        serial.send('bash /lbprep/prep.sh')
        _, line = lab.events.wait(r'^LBPREP (ALL DONE|FAILED)', src, mark2,
                                  timeout, what='the prep script')
        if 'FAILED' in line:
            raise AssertionError('prep VM: %s\n%s' % (
                line, lab.events.tail(src, 60)))
        text = [t for _, s, t in lab.events.lines[mark2:] if s == src]
        parts = {}
        got_sha = None
        for t in text:
            m = re.match(r'LBPREP part (\S+) (\d+) (\d+)', t)
            if m:
                parts[m.group(1)] = (int(m.group(2)), int(m.group(3)))
            m = re.match(r'LBPREP secret ([0-9a-f]{64})', t)
            if m:
                got_sha = m.group(1)
        assert got_sha == secret_sha, (got_sha, secret_sha)
        serial.send('poweroff -f')
        deadline = time.monotonic() + 60
        while proc.alive():
            if time.monotonic() > deadline:
                raise AssertionError('the prep VM does not power off')
            time.sleep(0.1)
        return {'secret_sha256': secret_sha, 'parts': parts,
                'seconds': time.monotonic() - t0}
    finally:
        if serial is not None:
            serial.close()
        lab.stop(proc)


def _wait_quiet(lab, pattern, source, mark, timeout):
    try:
        lab.events.wait(pattern, source, mark, timeout)
    except Exception:       # noqa: BLE001 - the caller types again
        pass


# ----------------------------------------------------- host-side reader

def part_range(parts, disk, n):
    """(offset, length) in bytes of partition ``n`` of ``disk`` ('nvme' or
    'ahci') from the prep VM's ``LBPREP part`` lines."""
    for name, (start, sectors) in parts.items():
        if (disk == 'nvme' and re.fullmatch(r'nvme\d+n\d+p%d' % n, name)) or \
                (disk == 'ahci' and re.fullmatch(r'sd[a-z]+%d' % n, name)):
            return start * 512, sectors * 512
    raise KeyError('%s partition %d not in %s' % (disk, n, parts))


def sha256_range(path, offset=0, length=None):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        f.seek(offset)
        left = length if length is not None else os.fstat(f.fileno()).st_size
        while left > 0:
            chunk = f.read(min(left, 4 * MIB))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def find_ext4(path, label, offset=0, length=None):
    """(offset, bytes) of the ext4 labelled ``label`` whose first block
    starts at a MiB boundary in ``path``'s range: its superblock is 1024
    bytes in, magic 0xEF53 at +56, volume name at +120."""
    size = os.path.getsize(path)
    end = size if length is None else offset + length
    with open(path, 'rb') as f:
        pos = offset
        while pos + 2048 <= end:
            f.seek(pos + 1024)
            sb = f.read(1024)
            if struct.unpack_from('<H', sb, 56)[0] == 0xEF53 and \
                    sb[120:136].rstrip(b'\0') == label.encode():
                blocks = struct.unpack_from('<I', sb, 4)[0]
                hi = struct.unpack_from('<I', sb, 0x150)[0]
                feat_incompat = struct.unpack_from('<I', sb, 0x60)[0]
                if feat_incompat & 0x80:        # 64bit
                    blocks |= hi << 32
                bsize = 1024 << struct.unpack_from('<I', sb, 24)[0]
                return pos, blocks * bsize
            pos += MIB
    return None


def extract(path, offset, length, out):
    with open(path, 'rb') as src, open(out, 'wb') as dst:
        src.seek(offset)
        left = length
        while left > 0:
            chunk = src.read(min(left, 4 * MIB))
            if not chunk:
                raise ValueError('%s ends before %d + %d' % (path, offset,
                                                             length))
            dst.write(chunk)
            left -= len(chunk)


def debugfs_cat(image, path):
    """The bytes of ``path`` in the ext4 image file, read by debugfs."""
    r = subprocess.run(['debugfs', '-R', 'cat %s' % shlex.quote(path),
                        str(image)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0 or b'File not found' in r.stderr:
        raise ValueError('debugfs cat %s: %s' % (path, r.stderr.decode(
            errors='replace').strip()))
    return r.stdout


def read_member(image, label, offset, length, scratch):
    """{path: bytes} for /etc/shadow, /etc/passwd and OTHER_FILES of the
    ext4 inside one RAID member (``offset``/``length``: the partition)."""
    found = find_ext4(image, label, offset, length)
    if found is None:
        raise ValueError('no ext4 "%s" in %s at %d+%d' % (label, image,
                                                          offset, length))
    extract(image, found[0], found[1], scratch)
    files = {}
    for p in ['/etc/shadow', '/etc/passwd'] + list(OTHER_FILES):
        files[p] = debugfs_cat(scratch, p)
    return files


def check_shadow(old, new, user, password):
    """Problems (a list) with ``new`` /etc/shadow: ``user``'s hash must
    verify with ``password`` (and not be the old one); every other line
    byte-identical to ``old``."""
    problems = []
    old_lines = old.decode().splitlines(keepends=True)
    new_lines = new.decode().splitlines(keepends=True)
    if len(old_lines) != len(new_lines):
        return ['/etc/shadow has %d lines, was %d' % (len(new_lines),
                                                      len(old_lines))]
    for a, b in zip(old_lines, new_lines):
        if a.split(':', 1)[0] != user:
            if a != b:
                problems.append('/etc/shadow line changed: %r -> %r' % (a,
                                                                         b))
            continue
        fields = b.rstrip('\n').split(':')
        if fields[0] != user or len(fields) != 9:
            problems.append('%s line malformed: %r' % (user, b))
            continue
        h = fields[1]
        if h == a.split(':')[1]:
            problems.append('%s: the hash did not change' % user)
        elif not h.startswith('$6$'):
            problems.append('%s: not a sha512-crypt hash: %r' % (user, h))
        elif crypt.crypt(password, h) != h:
            problems.append('%s: the new hash does not verify with the new '
                            'password' % user)
        # chpasswd may set the day of the last change (field 3), nothing
        # else
        if fields[3:] != a.rstrip('\n').split(':')[3:] or \
                not fields[2].isdigit():
            problems.append('%s: other fields changed: %r' % (user, b))
    return problems
