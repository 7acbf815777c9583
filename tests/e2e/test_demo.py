"""tools/demo, run as a user would (with ``--no-build``: the build is the
suite's), in a lab of its own (namespace ``lb-e2e-<the demo's pid>``):

``test_demo_once``    ``--once``: it prints an ssh command, runs it itself
                      and shows the rescue shell's answer, unrescues,
                      exits 0, and leaves nothing behind;
``test_demo_ctrl_c``  in the background until it prints the ssh command;
                      that exact command, run from here, reaches the rescue
                      ramdisk's shell, and the printed exports and `node
                      show` say `rescue`; SIGINT then tears everything down;
``test_demo_sigterm_while_enrolling``  SIGTERM while ``node manage`` runs:
                      the same teardown, nothing left;
``test_demo_help``    ``--help`` lists the options; a wrong one exits 2.

Nothing left means: no new network namespace or host link, no process the
demo listed (its ``pids:`` line, QEMU included) still running, its work
directory gone.
"""

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import conftest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'tools' / 'demo'
SSH_LINE = re.compile(r'^    (ip netns exec (lb-e2e-\d+) sshpass -p \S+ ssh '
                      r'.* rescue@[0-9.]+)$', re.M)
PIDS_LINE = re.compile(r'^pids: (.*)$', re.M)
WORK_LINE = re.compile(r'^work directory: (\S+)$', re.M)
PROBE = 'echo "lb-test-$((6*7))"; cat /proc/partitions\n'
ONCE_TIMEOUT = 150        # the whole --once run; ~70 s measured
READY_TIMEOUT = 120       # start -> the ssh line; ~55 s measured


@pytest.fixture
def demo_env():
    why = conftest.missing_requirements() or conftest.missing_rescue_parts()
    if why:
        pytest.skip(why)
    return dict(os.environ, LIFEBOATD=str(conftest.LIFEBOATD),
                LB_E2E_RAMDISK_DIR=str(conftest.RAMDISK_DIR),
                LB_E2E_AGENT=str(conftest.AGENT))


def netns():
    out = subprocess.run(['ip', 'netns', 'list'], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.split()}


def links():
    out = subprocess.run(['ip', '-o', 'link', 'show'], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    return {line.split(':')[1].strip() for line in out.splitlines()}


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def assert_nothing_left(out, pid, ns_before, links_before,
                        started=('lifeboatd', 'bmc', 'tftpd', 'qemu')):
    found = PIDS_LINE.findall(out)      # the last one: at the teardown
    assert found, out
    pids = [(name, int(p)) for name, p in
            (kv.split('=') for kv in found[-1].split())]
    assert set(started) <= {n for n, _ in pids}, pids
    assert [(n, p) for n, p in pids if alive(p)] == [], pids
    assert not [n for n in netns() if n.startswith('lb-e2e-%d' % pid)]
    assert netns() - ns_before == set()
    assert links() - links_before == set()
    work = WORK_LINE.search(out).group(1)
    assert work.startswith('/tmp/lb-e2e-%d-' % pid), work
    assert not os.path.exists(work), work
    assert not list(Path('/tmp').glob('lb-e2e-%d-*' % pid))
    assert 'everything stopped: no namespace, link, process or directory ' \
        'left' in out, out[-3000:]


def test_demo_once(demo_env):
    ns_before, links_before = netns(), links()
    proc = subprocess.Popen([DEMO, '--no-build', '--once'], env=demo_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        out, _ = proc.communicate(timeout=ONCE_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
    print(out)
    assert proc.returncode == 0, out[-3000:]
    m = SSH_LINE.search(out)
    assert m, out
    cmd, ns = m.groups()
    assert ns == 'lb-e2e-%d' % proc.pid      # the lab is the demo's own
    # the same command, run by the demo, and the rescue shell's answer
    ran = out.index('$ %s <<< ' % cmd)
    assert 'lb-demo-42' in out[ran:], out[ran:]
    assert re.search(r'\bvda1\b', out[ran:]), out[ran:]
    assert 'the ssh command works (exit 0)' in out
    assert re.search(r'node demo is active', out), out
    # the node's history, shown at the end: every phase with its duration
    hist = out[out.index('$ openstack baremetal node history list demo'):]
    for phase in ('rescue: powered off', 'rescue: ramdisk staged',
                  'rescue: powered on, waiting for the agent',
                  'rescue: agent lookup', 'rescue: first heartbeat',
                  'rescue: finalized, the agent has the password',
                  'rescue: done, total', 'unrescue: powered off',
                  'unrescue: disk boot set, powered on',
                  'unrescue: done, total'):
        assert re.search(r'INFO %s.*\(\d+\.\d+ s' % re.escape(phase),
                         hist), (phase, hist)
    # each CLI command was shown as it ran
    for verb in ('node create', 'port create', 'node manage', 'node adopt',
                 'node rescue demo --rescue-password',
                 'node unrescue demo'):
        assert '$ openstack baremetal %s' % verb in out, verb
    assert_nothing_left(out, proc.pid, ns_before, links_before)


def test_demo_ctrl_c(demo_env):
    ns_before, links_before = netns(), links()
    proc = subprocess.Popen([DEMO, '--no-build'], env=demo_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout),
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not re.search(r'The demo runs until Ctrl-C', ''.join(lines)):
            assert proc.poll() is None, ''.join(lines)
            assert time.monotonic() < deadline, ''.join(lines)
            time.sleep(0.5)
        m = SSH_LINE.search(''.join(lines))
        assert m, ''.join(lines)
        # the printed command, exactly, from this shell
        ssh = subprocess.run(['bash', '-c', m.group(1)], input=PROBE,
                             text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=60)
        assert ssh.returncode == 0, ssh.stdout
        assert 'lb-test-42' in ssh.stdout, ssh.stdout
        assert re.search(r'\bvda\b', ssh.stdout), ssh.stdout
        # the printed exports and `node show`, as printed, from this shell
        text = ''.join(lines)
        export = re.search(r'^    (export OS_AUTH_TYPE=none OS_ENDPOINT=\S+)$',
                           text, re.M).group(1)
        show = re.search(r'^    (ip netns exec \S+ openstack baremetal node '
                         r'show demo)$', text, re.M).group(1)
        cli = subprocess.run(['bash', '-c', '%s; %s -f value -c '
                              'provision_state' % (export, show)],
                             text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=60)
        assert cli.stdout.strip() == 'rescue', cli.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        reader.join(10)
    out = ''.join(lines)
    print(out)
    assert 'SIGINT: stopping' in out, out[-2000:]
    assert_nothing_left(out, proc.pid, ns_before, links_before)


def test_demo_sigterm_while_enrolling(demo_env):
    """SIGTERM while a CLI command runs in the lab (``node manage``): the
    command is cut short, and the teardown leaves nothing either."""
    ns_before, links_before = netns(), links()
    proc = subprocess.Popen([DEMO, '--no-build'], env=demo_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout),
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while '$ openstack baremetal node manage' not in ''.join(lines):
            assert proc.poll() is None, ''.join(lines)
            assert time.monotonic() < deadline, ''.join(lines)
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
        reader.join(10)
    out = ''.join(lines)
    print(out)
    assert 'SIGTERM: stopping' in out, out[-2000:]
    assert 'The machine is in rescue' not in out
    # the machine was never powered on: no QEMU yet
    assert_nothing_left(out, proc.pid, ns_before, links_before,
                        started=('lifeboatd', 'bmc', 'tftpd'))


def test_demo_help():
    """--help names every option and starts nothing; a wrong one is a
    usage error."""
    p = subprocess.run([DEMO, '--help'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    for opt in ('--no-build', '--once', '--help'):
        assert re.search(r'^  %s ' % opt, p.stdout, re.M), opt
    p = subprocess.run([DEMO, '--no-such-option'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 2 and p.stderr.startswith('usage: tools/demo'), p
