"""What the pxe boot interface stages, fetched by a real TFTP client.

``build/tests/stage_boot`` (or ``$STAGE_BOOT``) runs the pxe boot
interface's prepare_ramdisk / clean_up_ramdisk for one node; a real
tftp-hpa server (``in.tftpd --secure``, so paths are relative to the root as
a PXE ROM sees them, and running as the unprivileged ``tftp`` user, so file
modes matter) serves the root on a free loopback port; the tftp-hpa client
fetches each file through the names a booting node uses (per-MAC links) and
the bytes are compared with the golden files in tests/unit/golden/boot/.

Needs root (tftpd chroots) and the tftpd-hpa and tftp-hpa packages; skips
without them.  Loopback only; the server is stopped by its PID.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGE_BOOT = os.environ.get('STAGE_BOOT',
                            str(REPO / 'build' / 'tests' / 'stage_boot'))
GOLDEN = REPO / 'tests' / 'unit' / 'golden' / 'boot'
IN_TFTPD = shutil.which('in.tftpd') or '/usr/sbin/in.tftpd'
TFTP = shutil.which('tftp') or '/usr/bin/tftp'

UUID = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123'
MAC = '52:54:00:12:34:56'
REQ = 'req-5c1e0b7e-8f5d-4e0e-9a0c-3b1c2d3e4f50'

pytestmark = [
    pytest.mark.skipif(not os.path.exists(STAGE_BOOT),
                       reason='stage_boot not built: ninja -C build'),
    pytest.mark.skipif(not (os.path.exists(IN_TFTPD) and
                            os.path.exists(TFTP)),
                       reason='needs tftpd-hpa and tftp-hpa'),
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='in.tftpd --secure needs root to chroot'),
]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def udp_port_taken(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return True
        return False


def tftp_user():
    for name in ('tftp', 'nobody'):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    return 'root'


class Tftp:
    """One in.tftpd on 127.0.0.1 serving ``root``."""

    def __init__(self, root, workdir):
        self.root = root
        self.workdir = workdir
        self.port = None
        self.proc = None
        self.count = 0

    def start(self):
        self.port = free_udp_port()
        self.proc = subprocess.Popen(
            [IN_TFTPD, '--listen', '--foreground',
             '--address', '127.0.0.1:%d' % self.port,
             '--user', tftp_user(), '--secure', str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('in.tftpd exited: %s' %
                                   self.proc.stderr.read().decode())
            # Probe only once the port is taken: a probe sent earlier
            # waits out the client's 5 s timeout.
            if udp_port_taken(self.port) and \
                    self.get('.probe') is not None:
                return
            time.sleep(0.05)
        raise RuntimeError('in.tftpd did not answer on port %d' % self.port)

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc.stderr.close()
        self.proc = None

    def get(self, name):
        """The file's bytes, or None when the server refuses it."""
        self.count += 1
        dest = self.workdir / ('got-%d' % self.count)
        # -l: a ':' in the name is part of it (grub's <mac>.conf), not host:.
        res = subprocess.run(
            [TFTP, '-l', '127.0.0.1', str(self.port), '-m', 'octet',
             '-c', 'get', name, str(dest)],
            capture_output=True, timeout=30)
        # tftp-hpa exits 0 even on an error packet; it says so instead.
        out = (res.stdout + res.stderr).decode(errors='replace')
        if res.returncode != 0 or 'Error code' in out or \
                'Transfer timed out' in out or not dest.exists():
            return None
        return dest.read_bytes()


@pytest.fixture
def lab():
    top = Path(tempfile.mkdtemp(prefix='lb-tftp-'))
    # The unprivileged tftp user walks the root; mkdtemp made it 0700.
    os.chmod(top, 0o755)
    root = top / 'tftp'
    root.mkdir(mode=0o755)
    (root / '.probe').write_bytes(b'probe\n')
    os.chmod(root / '.probe', 0o644)
    images = top / 'images'
    images.mkdir()
    kernel = images / 'kernel'
    ramdisk = images / 'ramdisk'
    # Several hundred TFTP blocks, and bytes that text mode would mangle.
    kernel.write_bytes(os.urandom(300 * 1024) + b'\r\n\x00')
    ramdisk.write_bytes(os.urandom(70 * 1024))
    os.chmod(kernel, 0o644)
    os.chmod(ramdisk, 0o644)
    work = top / 'work'
    work.mkdir()
    server = Tftp(root, work)
    server.start()
    try:
        yield {'top': top, 'root': root, 'kernel': kernel,
               'ramdisk': ramdisk, 'tftp': server}
    finally:
        server.stop()
        shutil.rmtree(top, ignore_errors=True)


def stage(lab, action, *extra):
    cmd = [STAGE_BOOT, action, '--iface', 'pxe', '--uuid', UUID,
           '--mac', MAC, '--tftp-root', str(lab['root']),
           '--kernel', str(lab['kernel']), '--ramdisk', str(lab['ramdisk']),
           '--api-url', 'http://10.99.0.1:6385', '--tftp-server', '10.99.0.1',
           '--request-id', REQ] + list(extra)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def golden(name):
    return (GOLDEN / name).read_bytes()


def test_bios_node_boots_over_tftp(lab):
    tftp = lab['tftp']
    stage(lab, 'prepare', '--bios')

    # pxelinux asks for pxelinux.cfg/01-<mac>, then the paths it names.
    config = tftp.get('pxelinux.cfg/01-52-54-00-12-34-56')
    assert config == golden('pxelinux.cfg')
    assert tftp.get(UUID + '/rescue_kernel') == lab['kernel'].read_bytes()
    assert tftp.get(UUID + '/rescue_ramdisk') == lab['ramdisk'].read_bytes()
    # The path a node would take from the config itself.
    kernel_line = [line for line in config.decode().splitlines()
                   if line.startswith('kernel ')][0]
    assert tftp.get(kernel_line.split()[1]) == lab['kernel'].read_bytes()

    stage(lab, 'clean')
    assert tftp.get('pxelinux.cfg/01-52-54-00-12-34-56') is None
    assert tftp.get(UUID + '/rescue_kernel') is None
    assert tftp.get('.probe') == b'probe\n'


def test_uefi_node_boots_over_tftp(lab):
    tftp = lab['tftp']
    stage(lab, 'prepare', '--uefi')

    # grub reads grub/grub.cfg, which hands over to /<mac>.conf.
    assert tftp.get('grub/grub.cfg') == golden('grub_master.cfg')
    assert tftp.get('/52:54:00:12:34:56.conf') == golden('grub.cfg')
    assert tftp.get('grub.cfg-01-52-54-00-12-34-56') == golden('grub.cfg')
    assert tftp.get(UUID + '/rescue_kernel') == lab['kernel'].read_bytes()
    assert tftp.get(UUID + '/rescue_ramdisk') == lab['ramdisk'].read_bytes()

    stage(lab, 'clean')
    assert tftp.get('52:54:00:12:34:56.conf') is None
    assert tftp.get('grub.cfg-01-52-54-00-12-34-56') is None
    assert tftp.get(UUID + '/rescue_ramdisk') is None
    # The master config is shared by every node and stays.
    assert tftp.get('grub/grub.cfg') == golden('grub_master.cfg')


def test_node_without_boot_mode_boots_either_way(lab):
    """No boot_mode: pxelinux and grub each find their own config."""
    tftp = lab['tftp']
    stage(lab, 'prepare')

    assert tftp.get('pxelinux.cfg/01-52-54-00-12-34-56') == \
        golden('pxelinux.cfg')
    assert tftp.get('grub/grub.cfg') == golden('grub_master.cfg')
    assert tftp.get('/52:54:00:12:34:56.conf') == golden('grub.cfg')
    assert tftp.get('grub.cfg-01-52-54-00-12-34-56') == golden('grub.cfg')
    assert tftp.get(UUID + '/rescue_kernel') == lab['kernel'].read_bytes()

    stage(lab, 'clean')
    for gone in ('pxelinux.cfg/01-52-54-00-12-34-56',
                 '52:54:00:12:34:56.conf', 'grub.cfg-01-52-54-00-12-34-56',
                 UUID + '/grub.cfg'):
        assert tftp.get(gone) is None, gone
    assert tftp.get('grub/grub.cfg') == golden('grub_master.cfg')


def test_nothing_outside_the_root(lab):
    """tftpd --secure cannot leave the root, and neither do the links."""
    tftp = lab['tftp']
    stage(lab, 'prepare', '--bios')
    assert tftp.get('../images/kernel') is None
    for link in (lab['root'] / 'pxelinux.cfg').iterdir():
        target = os.readlink(link)
        assert not os.path.isabs(target)
        resolved = (link.parent / target).resolve()
        assert lab['root'].resolve() in resolved.parents
