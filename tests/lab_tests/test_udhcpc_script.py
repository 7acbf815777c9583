"""ramdisk/udhcpc.script, the ramdisk's udhcpc hook, run for real in a
network namespace of its own (unshare -n, with a private /run) on two veth
pairs: a second NIC's lease must not replace or shadow the default route
the first NIC's lease put in place (the one the agent looked up through).

Run once with the host's sh and iproute2 and once with busybox sh and
busybox ip, which is what the ramdisk has.  Needs root (namespaces); no
traffic leaves the namespace, which ends with the test's process.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'ramdisk' / 'udhcpc.script'
BUSYBOX = shutil.which('busybox')

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason='needs root for a network namespace'),
    pytest.mark.skipif(shutil.which('unshare') is None,
                       reason='needs unshare(1) from util-linux'),
]

# One namespace for the whole run.  $RUN runs the script; $HOOK_PATH is the
# PATH the script sees; the routes are printed with the host's ip.
DRIVER = r'''
set -e
mount -t tmpfs none /run
for n in 0 1; do
	ip link add v$n type veth peer name v${n}p
	ip link set v${n}p up
done
hook() { env PATH="$HOOK_PATH" "$@" $RUN "$SCRIPT" $EVENT; }
EVENT=deconfig hook interface=v0
EVENT=deconfig hook interface=v1
EVENT=bound hook interface=v0 ip=10.10.0.5 mask=24 router=10.10.0.1
EVENT=bound hook interface=v1 ip=10.20.0.5 mask=24 \
	staticroutes="10.99.0.0/16 10.20.0.2 0.0.0.0/0 10.20.0.1"
echo "=== ifindex v1"
ip -o link show dev v1 | cut -d: -f1
echo "=== bound"
ip -4 route show
echo "=== get"
ip -4 route get 192.0.2.1
EVENT=renew hook interface=v1 ip=10.20.0.5 mask=24 router=10.20.0.1
EVENT=renew hook interface=v0 ip=10.10.0.5 mask=24 router=10.10.0.1
echo "=== renewed"
ip -4 route show
echo "=== get after renewals"
ip -4 route get 192.0.2.1
echo "=== lease"
cat /run/lifeboat/lease.v1
'''


def run_driver(tmp_path, flavour, hide_defaults=False):
    """hide_defaults: the script's "ip -4 route show" lists no default
    route, as when two NICs are bound at the same moment and neither
    script sees the other's route yet."""
    env = dict(os.environ, SCRIPT=str(SCRIPT))
    if flavour == 'busybox':
        bb = tmp_path / 'bb'
        bb.mkdir()
        for applet in ('ip', 'awk', 'cut', 'sh', 'cat', 'mkdir', 'mv',
                       'rm', 'hostname', 'grep'):
            (bb / applet).symlink_to(BUSYBOX)
        env.update(RUN='%s sh' % BUSYBOX, HOOK_PATH=str(bb))
    else:
        env.update(RUN='/bin/sh', HOOK_PATH='/usr/sbin:/usr/bin:/sbin:/bin')
    if hide_defaults:
        # a shell function: busybox sh runs its own applets before PATH
        hide = tmp_path / 'hide.sh'
        hide.write_text(
            'ip() {\n'
            '  if [ "$*" = "-4 route show" ]; then\n'
            '    command ip -4 route show | grep -v "^default"\n'
            '  else\n'
            '    command ip "$@"\n'
            '  fi\n'
            '}\n'
            'script=$1; shift; . "$script"\n')
        env['RUN'] = '%s %s' % (env['RUN'], hide)
    p = subprocess.run(['unshare', '--net', '--mount',
                        '--propagation', 'private', '/bin/sh', '-c', DRIVER],
                       env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and 'unshare failed' in p.stderr:
        pytest.skip('cannot make a namespace here: %s' % p.stderr.strip())
    assert p.returncode == 0, p.stdout + p.stderr
    sections, name = {}, None
    for line in p.stdout.splitlines():
        m = re.match(r'=== (.*)', line)
        if m:
            name = m.group(1)
            sections[name] = []
        elif name is not None:
            sections[name].append(' '.join(line.split()))
    return sections, p.stderr


def defaults(lines):
    return sorted(l for l in lines if l.startswith('default '))


@pytest.mark.parametrize('hide_defaults', [False, True],
                         ids=['in-turn', 'at-once'])
@pytest.mark.parametrize('flavour', [
    'iproute2',
    pytest.param('busybox', marks=pytest.mark.skipif(
        BUSYBOX is None, reason='busybox is not installed'))])
def test_second_lease_keeps_first_default_route(tmp_path, flavour,
                                                hide_defaults):
    out, err = run_driver(tmp_path, flavour, hide_defaults)
    idx = int(out['ifindex v1'][0])
    metric = 100 + idx
    # the first lease's default route stays first; the second NIC's comes
    # behind it (option 121's default too), its other routes as given
    assert defaults(out['bound']) == [
        'default via 10.10.0.1 dev v0',
        'default via 10.20.0.1 dev v1 metric %d' % metric], (out, err)
    assert '10.99.0.0/16 via 10.20.0.2 dev v1' in out['bound'], out
    assert out['get'][0].startswith('192.0.2.1 via 10.10.0.1 dev v0 '), out
    # renewals keep each NIC's metric, whatever the order
    assert defaults(out['renewed']) == defaults(out['bound']), (out, err)
    assert out['get after renewals'][0].startswith(
        '192.0.2.1 via 10.10.0.1 dev v0 '), out
    assert 'interface=v1' in out['lease'] and 'ip=10.20.0.5' in out['lease']
