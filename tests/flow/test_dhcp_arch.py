"""One boot file per DHCP client architecture, from a real dnsmasq.

``build/tests/stage_boot`` stages a pxe node and an ipxe node without a
boot_mode capability (as lifeboatd's boot interfaces do) into a hostsdir
and an optsdir; dnsmasq 2.90 serves them with the ``dhcp-match`` lines of
etc/dnsmasq.conf.example, and busybox udhcpc asks as the firmware would:
option 93 (client architecture: 0 BIOS, 7 and 9 x86-64 UEFI) or none, and
option 175 for iPXE.  Each client must get exactly the boot file its
firmware can run, the default_boot_mode one when it does not say; and
without the match lines (an older dnsmasq.conf) every client gets the
default one, as before.

In a network namespace of its own (unshare -n -m): two veth pairs, dnsmasq
on the srv ends, the clients in a second namespace with the nodes' MACs.
Needs root; no traffic leaves the namespaces, which end with the test's
processes (dnsmasq stopped by its PID).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGE_BOOT = os.environ.get('STAGE_BOOT',
                            str(REPO / 'build' / 'tests' / 'stage_boot'))
EXAMPLE = REPO / 'etc' / 'dnsmasq.conf.example'

PXE_UUID = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123'
IPXE_UUID = '0f6e4b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b'
PXE_MAC = '52:54:00:12:34:56'
IPXE_MAC = '52:54:00:ab:cd:ef'
HTTP_URL = 'http://10.77.10.1:8088'
BOOT_IPXE = HTTP_URL + '/boot.ipxe'

pytestmark = [
    pytest.mark.skipif(not os.path.exists(STAGE_BOOT),
                       reason='stage_boot not built: ninja -C build'),
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='needs root for network namespaces'),
    pytest.mark.skipif(None in (shutil.which('dnsmasq'),
                                shutil.which('busybox'),
                                shutil.which('unshare')),
                       reason='needs dnsmasq, busybox and unshare'),
]

DRIVER = r'''
set -e
mount -t tmpfs none /run
ip link set lo up
ip netns add cli
for n in 0 1; do
	ip link add srv$n type veth peer name cli$n
	ip link set cli$n netns cli
	ip link set srv$n up
	ip addr add 10.77.$((9 + n)).1/24 dev srv$n
done
ip netns exec cli ip link set lo up
ip netns exec cli ip link set cli0 address "$MAC0"
ip netns exec cli ip link set cli1 address "$MAC1"
ip netns exec cli ip link set cli0 up
ip netns exec cli ip link set cli1 up
# --user=root: the test's directories are 0700, as pytest makes them
dnsmasq --keep-in-foreground --port=0 --interface=srv0 --interface=srv1 \
	--bind-interfaces --no-ping --user=root \
	--dhcp-range=10.77.9.100,10.77.9.150,1h \
	--dhcp-range=10.77.10.100,10.77.10.150,1h \
	--dhcp-hostsdir="$HOSTS" --dhcp-optsdir="$OPTS" $MATCH \
	--pid-file=/run/dm.pid --dhcp-leasefile=/run/dm.leases \
	--log-dhcp --log-facility="$OUT/dnsmasq.log" >/dev/null 2>&1 &
DM=$!
trap 'kill $DM 2>/dev/null || true' EXIT
printf '%s\n' "$CASES" | while IFS='|' read -r name dev args; do
	[ -n "$name" ] || continue
	LB_OUT="$OUT/$name" ip netns exec cli busybox udhcpc -i "$dev" -f -q \
		-n -t 10 -T 1 -s "$SCRIPT" -O bootfile -O tftp $args \
		>"$OUT/$name.log" 2>&1 || true
done
'''

# udhcpc runs it with the lease in its environment.
SCRIPT = '''#!/bin/sh
[ "$1" = bound ] || exit 0
printf 'bootfile=%s\\ntftp=%s\\n' "$bootfile" "$tftp" >"$LB_OUT"
'''

# name, interface (cli0: the pxe node's MAC, cli1: the ipxe node's), what
# the client sends beyond its request: option 93 (0x5d), option 175 (0xaf)
CASES = [
    ('pxe-bios', 'cli0', '-x 0x5d:0000'),
    ('pxe-uefi7', 'cli0', '-x 0x5d:0007'),
    ('pxe-uefi9', 'cli0', '-x 0x5d:0009'),
    ('pxe-silent', 'cli0', ''),
    ('ipxe-rom-bios', 'cli1', '-x 0x5d:0000'),
    ('ipxe-rom-uefi', 'cli1', '-x 0x5d:0007'),
    ('ipxe-rom-silent', 'cli1', ''),
    ('ipxe-bios', 'cli1', '-x 0x5d:0000 -x 0xaf:130101'),
    ('ipxe-uefi', 'cli1', '-x 0x5d:0007 -x 0xaf:130101'),
]

BIOS = {'pxe': 'pxelinux.0', 'ipxe-rom': 'undionly.kpxe'}
UEFI = {'pxe': 'bootx64.efi', 'ipxe-rom': 'snponly.efi'}


def example_matches():
    return ['--' + line.strip() for line in EXAMPLE.read_text().splitlines()
            if line.startswith('dhcp-match=')]


def stage(top, iface, uuid, mac, default):
    cmd = [STAGE_BOOT, 'prepare', '--iface', iface, '--uuid', uuid,
           '--mac', mac, '--tftp-root', str(top / 'tftp'),
           '--http-root', str(top / 'http'),
           '--kernel', str(top / 'kernel'), '--ramdisk', str(top / 'ramdisk'),
           '--api-url', 'http://10.77.9.1:6385', '--http-url', HTTP_URL,
           '--tftp-server', '10.77.9.1', '--hostsdir', str(top / 'hosts'),
           '--optsdir', str(top / 'opts'), '--default-boot-mode', default]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def run_clients(top, matches):
    out = top / 'out'
    out.mkdir()
    script = top / 'udhcpc.script'
    script.write_text(SCRIPT)
    script.chmod(0o755)
    env = dict(os.environ, MAC0=PXE_MAC, MAC1=IPXE_MAC,
               HOSTS=str(top / 'hosts'), OPTS=str(top / 'opts'),
               MATCH=' '.join(matches), OUT=str(out), SCRIPT=str(script),
               CASES='\n'.join('|'.join(c) for c in CASES))
    p = subprocess.run(['unshare', '--net', '--mount', '--propagation',
                        'private', '/bin/sh', '-c', DRIVER], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    got = {}
    for name, _, _ in CASES:
        lease = out / name
        if not lease.exists():
            log = (out / (name + '.log')).read_text()
            pytest.fail('%s got no lease:\n%s\n%s' % (
                name, log, (out / 'dnsmasq.log').read_text()))
        got[name] = dict(line.split('=', 1)
                         for line in lease.read_text().splitlines())
    return got


@pytest.mark.parametrize('default,matched', [
    ('uefi', True), ('bios', True), ('uefi', False)])
def test_boot_file_by_client_architecture(tmp_path, default, matched):
    top = tmp_path
    for d in ('tftp', 'http', 'hosts', 'opts'):
        (top / d).mkdir()
    (top / 'kernel').write_bytes(b'kernel\n')
    (top / 'ramdisk').write_bytes(b'ramdisk\n')
    stage(top, 'pxe', PXE_UUID, PXE_MAC, default)
    stage(top, 'ipxe', IPXE_UUID, IPXE_MAC, default)
    matches = example_matches() if matched else []
    if matched:
        assert matches == ['--dhcp-match=set:ipxe,175',
                           '--dhcp-match=set:bios,option:client-arch,0',
                           '--dhcp-match=set:efi64,option:client-arch,7',
                           '--dhcp-match=set:efi64,option:client-arch,9']
    else:
        # iPXE itself is always told apart: without that, nothing boots.
        matches = ['--dhcp-match=set:ipxe,175']
    got = run_clients(top, matches)

    fallback = BIOS if default == 'bios' else UEFI
    bios = BIOS if matched else fallback
    uefi = UEFI if matched else fallback
    want = {
        'pxe-bios': bios['pxe'],
        'pxe-uefi7': uefi['pxe'],
        'pxe-uefi9': uefi['pxe'],
        'pxe-silent': fallback['pxe'],
        'ipxe-rom-bios': bios['ipxe-rom'],
        'ipxe-rom-uefi': uefi['ipxe-rom'],
        'ipxe-rom-silent': fallback['ipxe-rom'],
        'ipxe-bios': BOOT_IPXE,
        'ipxe-uefi': BOOT_IPXE,
    }
    assert {k: v['bootfile'] for k, v in got.items()} == want
    assert {v['tftp'] for v in got.values()} == {'10.77.9.1'}
