#!/usr/bin/python3
"""The "instance" the end-to-end test rescues: a disk image that boots on
BIOS (syslinux) and on UEFI (GRUB at the removable-media path).

Built without loop mounts or root-only tools:

* a FAT partition image made with ``mkfs.fat`` (hidden sectors = the
  partition's offset), filled with ``mcopy`` (mtools) and made bootable
  with ``syslinux --install`` (the mtools installer works on an image
  file);
* an MBR: syslinux's ``mbr.bin`` boot code plus a partition table written
  here, then the partition appended at 1 MiB;
* for UEFI firmware (OVMF), ``EFI/BOOT/BOOTX64.EFI`` on the same
  partition: a GRUB image made with ``grub-mkimage`` whose built-in config
  finds the partition by a marker file and boots the same kernel, so no
  ESP partition type or NVRAM entry is needed;
* on the partition: ``syslinux.cfg`` (serial console), the Debian cloud
  kernel and a tiny busybox initramfs whose ``/init`` prints
  ``LIFEBOAT-INSTANCE up`` on ttyS0, loads virtio-net and runs udhcpc
  (it prints ``LIFEBOAT-INSTANCE address <ip>`` when it has a lease).

The kernel is the rescue ramdisk build's ``vmlinuz`` (and the modules come
from its initramfs, so they match it); without a ramdisk build, the cloud
kernel package is fetched with ``apt-get download`` and unpacked with
``dpkg-deb -x``.  busybox is the host's static one (``busybox-static``).

The result is cached in ``build/e2e/instance/`` and rebuilt only when an
input changes.  ``instance.py [--out DIR] [--force]`` builds it by hand.

Packages: mtools dosfstools syslinux syslinux-common busybox-static cpio
grub-common grub-efi-amd64-bin (and apt, dpkg, kmod for the fallback
kernel).
"""

import argparse
import gzip
import hashlib
import io
import os
import shutil
import stat
import struct
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / 'build' / 'e2e' / 'instance'
RAMDISK_IMAGE = REPO / 'build' / 'ramdisk-image'
BUSYBOX = '/bin/busybox'
MBR_BIN = '/usr/lib/syslinux/mbr/mbr.bin'
GRUB_EFI_DIR = '/usr/lib/grub/x86_64-efi'
MARKER = 'lifeboat-instance'       # a file only the instance's disk has

BANNER = 'LIFEBOAT-INSTANCE up'
ADDRESS_MARK = 'LIFEBOAT-INSTANCE address'

# Bumped whenever the recipe below changes (it is part of the cache key).
RECIPE = '5'

PART_START = 2048                 # sectors: the partition starts at 1 MiB
SECTOR = 512

INIT = r'''#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
read -r up _ </proc/uptime
echo "LIFEBOAT-INSTANCE up (t=${up}s)"
for m in virtio_pci virtio_net virtio_blk; do
	modprobe -q "$m" || echo "LIFEBOAT-INSTANCE: cannot load $m"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -s /bin/dhcp-script -b -t 10 -T 2 -A 5 >/dev/null 2>&1
echo "LIFEBOAT-INSTANCE disks: $(cat /proc/partitions | tail -n +3 | \
	while read -r _ _ _ name; do printf '%s ' "$name"; done)"
while :; do
	sleep 3600
done
'''

DHCP_SCRIPT = r'''#!/bin/sh
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "${router%% *}"
	echo "LIFEBOAT-INSTANCE address $ip" >/dev/console
	;;
esac
exit 0
'''

SYSLINUX_CFG = '''SERIAL 0 115200
DEFAULT instance
PROMPT 0
TIMEOUT 1
LABEL instance
  KERNEL /vmlinuz
  APPEND initrd=/initrd console=ttyS0,115200 loglevel=4 panic=10
'''


# GRUB's built-in config: no prefix, no grub.cfg, no menu; the same kernel
# command line as syslinux's.
GRUB_EARLY_CFG = '''search --no-floppy --file --set=root /%s
linux ($root)/vmlinuz console=ttyS0,115200 loglevel=4 panic=10
initrd ($root)/initrd
boot
''' % MARKER
GRUB_MODULES = ('part_msdos', 'fat', 'search', 'search_fs_file', 'linux',
                'gzio', 'echo', 'efi_gop', 'all_video')


class BuildError(RuntimeError):
    pass


def _run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if p.returncode != 0:
        raise BuildError('%s failed (exit %d): %s' % (
            ' '.join(map(str, argv)), p.returncode, p.stdout.strip()[-2000:]))
    return p.stdout


def _sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------- cpio newc

class Cpio:
    """A minimal newc (SVR4, no CRC) archive writer."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1000

    def _entry(self, name, mode, data=b'', rdev=(0, 0), nlink=1):
        self.ino += 1
        name_b = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08X' % v for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0,
            rdev[0], rdev[1], len(name_b), 0))
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b'\0' * ((4 - (110 + len(name_b)) % 4) % 4))
        self.buf.write(data)
        self.buf.write(b'\0' * ((4 - len(data) % 4) % 4))

    def dir(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm, nlink=2)

    def file(self, name, data, perm=0o644):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def tree(self, root, prefix):
        """Add every directory, file and symlink below ``root``."""
        root = Path(root)
        self.dir(prefix)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = Path(dirpath).relative_to(root)
            name = (Path(prefix) / rel).as_posix()
            if rel != Path('.'):
                self.dir(name)
            for fn in sorted(filenames):
                p = Path(dirpath) / fn
                n = (Path(prefix) / rel / fn).as_posix()
                if p.is_symlink():
                    self.symlink(n, os.readlink(p))
                else:
                    self.file(n, p.read_bytes(),
                              0o755 if os.access(p, os.X_OK) else 0o644)

    def finish(self):
        self._entry('TRAILER!!!', 0)
        return self.buf.getvalue()


# ------------------------------------------------------- kernel + modules

def _decompressor(path):
    with open(path, 'rb') as f:
        magic = f.read(6)
    if magic[:2] == b'\x1f\x8b':
        return ['gzip', '-dc']
    if magic[:4] == b'\x28\xb5\x2f\xfd':
        return ['zstd', '-dcq']
    if magic[:6] == b'\xfd7zXZ\x00':
        return ['xz', '-dc']
    if magic[:6] == b'070701':
        return ['cat']
    raise BuildError('%s: unknown initramfs compression' % path)


def _kernel_from_ramdisk(work):
    """vmlinuz and lib/modules/<kver> from the rescue ramdisk build."""
    vmlinuz = RAMDISK_IMAGE / 'vmlinuz'
    initramfs = RAMDISK_IMAGE / 'initramfs'
    if not (vmlinuz.is_file() and initramfs.is_file()):
        return None
    mods = work / 'rdroot'
    mods.mkdir()
    dec = _decompressor(initramfs)
    if dec == ['cat']:
        # an uncompressed first archive (the generic-kernel image: its
        # modules, then compressed archives): cpio stops at its trailer
        with open(initramfs, 'rb') as f:
            r = subprocess.run(['cpio', '-idm', '--quiet',
                                '--no-absolute-filenames', 'lib/modules/*'],
                               stdin=f, cwd=mods, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise BuildError('cannot unpack %s: %s' % (
                initramfs, r.stderr.decode(errors='replace')))
        # the modules /init unpacks later come in archives of their own
        with open(initramfs, 'rb') as f:
            subprocess.run(['cpio', '-idm', '--quiet',
                            '--no-absolute-filenames',
                            'lib/lifeboat/*.cpio.*'],
                           stdin=f, cwd=mods, stderr=subprocess.PIPE)
        for inner in sorted((mods / 'lib' / 'lifeboat').glob('*.cpio.*')):
            proc = subprocess.Popen(_decompressor(inner) + [str(inner)],
                                    stdout=subprocess.PIPE)
            _run(['cpio', '-idm', '--quiet', '--no-absolute-filenames',
                  'lib/modules/*'], stdin=proc.stdout, cwd=mods)
            proc.stdout.close()
            if proc.wait() != 0:
                raise BuildError('cannot unpack %s' % inner)
    else:
        proc = subprocess.Popen(dec + [str(initramfs)],
                                stdout=subprocess.PIPE)
        _run(['cpio', '-idm', '--quiet', '--no-absolute-filenames',
              'lib/modules/*'], stdin=proc.stdout, cwd=mods)
        proc.stdout.close()
        if proc.wait() != 0:
            raise BuildError('cannot unpack %s' % initramfs)
    kdirs = sorted((mods / 'lib' / 'modules').glob('*'))
    if not kdirs:
        raise BuildError('%s has no lib/modules' % initramfs)
    # only what the instance loads, uncompressed (its busybox modprobe
    # cannot read .ko.zst)
    return vmlinuz, _select_modules(work, kdirs[0])


def _kernel_from_debian(work, cache):
    """The cloud kernel package, fetched with apt-get download."""
    cache.mkdir(parents=True, exist_ok=True)
    debs = sorted(cache.glob('linux-image-*-cloud-amd64_*.deb'))
    if not debs:
        out = _run(['apt-cache', 'depends', '--no-recommends',
                    '--no-suggests', 'linux-image-cloud-amd64'])
        pkg = None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith('Depends:') and 'linux-image-' in line:
                pkg = line.split(':', 1)[1].strip()
                break
        if pkg is None:
            raise BuildError('cannot find the cloud kernel package')
        _run(['apt-get', 'download', pkg], cwd=cache)
        debs = sorted(cache.glob('linux-image-*-cloud-amd64_*.deb'))
        if not debs:
            raise BuildError('apt-get download %s gave no .deb' % pkg)
    root = work / 'kpkg'
    _run(['dpkg-deb', '-x', str(debs[-1]), str(root)])
    kernels = sorted((root / 'boot').glob('vmlinuz-*'))
    kdirs = sorted((root / 'lib' / 'modules').glob('*'))
    if not kernels or not kdirs:
        raise BuildError('%s has no kernel' % debs[-1])
    # only what the instance loads, and their dependencies (modules.dep)
    kdir = kdirs[0]
    if not (kdir / 'modules.dep').is_file():
        # made by depmod when the package is installed, not in the .deb
        _run(['depmod', '-b', str(root), kdir.name])
    return kernels[-1], _select_modules(work, kdir)


def _select_modules(work, kdir):
    """virtio_pci, virtio_net, virtio_blk and their dependencies from the
    module tree ``kdir``, uncompressed, with a fresh modules.dep, under
    work/modroot; returns that lib/modules/<kver>."""
    keep_root = work / 'modroot' / 'lib' / 'modules' / kdir.name
    wanted = {'virtio_pci', 'virtio_net', 'virtio_blk'}
    dep = {}
    for line in (kdir / 'modules.dep').read_text().splitlines():
        mod, _, deps = line.partition(':')
        dep[Path(mod).name.split('.ko')[0].replace('-', '_')] = \
            (mod, deps.split())
    todo, files = list(wanted), set()
    while todo:
        m = todo.pop()
        if m not in dep:
            continue
        mod, deps = dep[m]
        if mod in files:
            continue
        files.add(mod)
        todo += [Path(d).name.split('.ko')[0].replace('-', '_')
                 for d in deps]
    for mod in files:
        src = kdir / mod
        name = mod
        for ext, unpack in (('.zst', ['zstd', '-dcq']), ('.xz', ['xz',
                                                                 '-dc'])):
            if mod.endswith(ext):
                name = mod[:-len(ext)]
                break
        else:
            unpack = None
        dst = keep_root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if unpack:
            with open(dst, 'wb') as out:
                if subprocess.run(unpack + [str(src)],
                                  stdout=out).returncode != 0:
                    raise BuildError('cannot unpack %s' % src)
        else:
            shutil.copy2(src, dst)
    for f in kdir.glob('modules.*'):
        if f.name != 'modules.dep':
            shutil.copy2(f, keep_root / f.name)
    _run(['depmod', '-b', str(work / 'modroot'), kdir.name])
    return keep_root


def _initramfs(busybox, moddir):
    c = Cpio()
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'lib', 'lib/modules',
              'etc', 'run'):
        c.dir(d)
    c.chardev('dev/console', 5, 1)
    c.chardev('dev/null', 1, 3, 0o666)
    c.file('bin/busybox', Path(busybox).read_bytes(), 0o755)
    c.symlink('bin/sh', 'busybox')
    c.file('bin/dhcp-script', DHCP_SCRIPT.encode(), 0o755)
    c.file('init', INIT.encode(), 0o755)
    c.file('etc/hostname', b'instance\n')
    c.tree(moddir, 'lib/modules/%s' % Path(moddir).name)
    return gzip.compress(c.finish(), 9, mtime=0)


# ------------------------------------------------------------ disk image

def _mbr(part_sectors):
    boot = Path(MBR_BIN).read_bytes()
    if len(boot) > 440:
        raise BuildError('%s is larger than 440 bytes' % MBR_BIN)
    entry = struct.pack('<B3sB3sII', 0x80, b'\xfe\xff\xff', 0x0e,
                        b'\xfe\xff\xff', PART_START, part_sectors)
    mbr = (boot.ljust(440, b'\0') + struct.pack('<I', 0x4c42e2e0) +
           b'\0\0' + entry + b'\0' * 48 + b'\x55\xaa')
    assert len(mbr) == 512
    return mbr


def _disk(work, kernel, initrd, out):
    size = kernel.stat().st_size + len(initrd)
    part_mib = max(32, (size >> 20) + 16)
    part_sectors = part_mib * 2048
    part = work / 'part.img'
    with open(part, 'wb') as f:
        f.truncate(part_sectors * SECTOR)
    _run(['mkfs.fat', '-F', '16', '-h', str(PART_START), '-n', 'INSTANCE',
          '-i', '4c42e2e0', str(part)])
    env = dict(os.environ, MTOOLS_SKIP_CHECK='1')
    (work / 'initrd').write_bytes(initrd)
    (work / 'syslinux.cfg').write_text(SYSLINUX_CFG)
    (work / MARKER).write_text('LIFEBOAT-INSTANCE\n')
    (work / 'early.cfg').write_text(GRUB_EARLY_CFG)
    _run(['grub-mkimage', '-O', 'x86_64-efi', '-d', GRUB_EFI_DIR, '-c',
          str(work / 'early.cfg'), '-p', '/EFI/BOOT', '-o',
          str(work / 'BOOTX64.EFI')] + list(GRUB_MODULES))
    _run(['mmd', '-i', str(part), '::/EFI', '::/EFI/BOOT'], env=env)
    for src, dst in ((kernel, 'vmlinuz'), (work / 'initrd', 'initrd'),
                     (work / 'syslinux.cfg', 'syslinux.cfg'),
                     (work / MARKER, MARKER),
                     (work / 'BOOTX64.EFI', 'EFI/BOOT/BOOTX64.EFI')):
        _run(['mcopy', '-o', '-i', str(part), str(src), '::' + dst], env=env)
    _run(['syslinux', '--install', str(part)], env=env)
    with open(out, 'wb') as f:
        f.write(_mbr(part_sectors))
        f.seek(PART_START * SECTOR)
        with open(part, 'rb') as p:
            shutil.copyfileobj(p, f, 1 << 20)


# --------------------------------------------------------------- public

def build(out=DEFAULT_OUT, force=False, log=None):
    """Builds (or reuses) the instance; returns a dict of paths."""
    out = Path(out)
    log = log or (lambda msg: None)
    for tool in ('mkfs.fat', 'mcopy', 'mmd', 'syslinux', 'cpio',
                 'grub-mkimage'):
        if shutil.which(tool) is None:
            raise BuildError('%s is missing (apt-get install mtools '
                             'dosfstools syslinux cpio grub-common)' % tool)
    if not os.path.isdir(GRUB_EFI_DIR):
        raise BuildError('%s is missing (apt-get install '
                         'grub-efi-amd64-bin)' % GRUB_EFI_DIR)
    for f in (BUSYBOX, MBR_BIN):
        if not os.path.exists(f):
            raise BuildError('%s is missing (apt-get install '
                             'busybox-static syslinux-common)' % f)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='.build-', dir=out) as tmp:
        work = Path(tmp)
        got = _kernel_from_ramdisk(work)
        if got is None:
            got = _kernel_from_debian(work, out.parent / 'debs')
        kernel, moddir = got
        key = hashlib.sha256()
        for part in (RECIPE, INIT, DHCP_SCRIPT, SYSLINUX_CFG, GRUB_EARLY_CFG,
                     ' '.join(GRUB_MODULES),
                     _sha256(kernel), _sha256(BUSYBOX), _sha256(MBR_BIN),
                     moddir.name):
            key.update(part.encode() + b'\0')
        key = key.hexdigest()
        disk = out / 'disk.img'
        keyfile = out / 'key'
        if (not force and disk.is_file() and keyfile.is_file() and
                keyfile.read_text().strip() == key):
            log('instance image up to date: %s' % disk)
            return {'disk': disk, 'kernel': out / 'vmlinuz',
                    'initrd': out / 'initrd', 'key': key}
        log('building the instance image in %s' % out)
        initrd = _initramfs(BUSYBOX, moddir)
        tmp_disk = work / 'disk.img'
        _disk(work, kernel, initrd, tmp_disk)
        shutil.copy2(kernel, work / 'vmlinuz.out')
        os.replace(work / 'vmlinuz.out', out / 'vmlinuz')
        os.replace(work / 'initrd', out / 'initrd')
        os.replace(tmp_disk, disk)
        keyfile.write_text(key + '\n')
    return {'disk': disk, 'kernel': out / 'vmlinuz',
            'initrd': out / 'initrd', 'key': key}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default=str(DEFAULT_OUT))
    p.add_argument('--force', action='store_true')
    args = p.parse_args()
    got = build(args.out, args.force, log=print)
    for k, v in got.items():
        print('%s: %s' % (k, v))


if __name__ == '__main__':
    main()
