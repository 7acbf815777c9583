#!/usr/bin/python3
"""What tools/demo runs once lifeboat and its ramdisk are built: the
end-to-end lab (lab.py, the PXE lab with the IPMI BMC) in a namespace of
its own, a node enrolled and rescued through the real CLI, and the
commands to log in and look around.  Runs in one thread (the lab's own
threads read logs); SIGINT or SIGTERM tear everything down.

    demo.py [--once]

--once: rescue, run the printed ssh command, unrescue, tear down; exit 0
only when all of it worked and nothing is left behind.
"""

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import instance as instance_mod    # noqa: E402
import lab as L                    # noqa: E402

REPO = HERE.parents[1]
LIFEBOATD, RAMDISK_DIR, AGENT = L.LIFEBOATD, L.RAMDISK_DIR, L.AGENT
KEEP = REPO / 'build' / 'demo' / 'last-run'
NODE = 'demo'
BANNER = r'LIFEBOAT-INSTANCE up'
# what --once types into the rescue shell; the answer proves a shell ran it
PROBE = 'echo "lb-demo-$((6*7))"; uname -r; cat /proc/partitions\n'
PROBE_ANSWER = 'lb-demo-42'


class Stop(Exception):
    """A signal asked the demo to stop."""


class Demo:
    def __init__(self, once):
        self.once = once
        self.t0 = time.monotonic()
        self.lab = None
        self.password = 'demo-%s' % secrets.token_hex(4)
        self.links_before = host_links()

    def say(self, msg):
        print('==> %s  (%.1f s)' % (msg, time.monotonic() - self.t0),
              flush=True)

    def show(self, line):
        """A command or a log line from the lab, as it is."""
        print(line, flush=True)

    # ------------------------------------------------------------ steps
    def start_lab(self):
        self.say('building the instance disk image (cached in '
                 'build/e2e/instance)')
        disk = instance_mod.build(log=lambda m: None)['disk']
        self.lab = L.Lab(LIFEBOATD, RAMDISK_DIR, disk, keep=KEEP,
                         log=self.show, pxe_fetch='ipxe',
                         switch_backend=os.environ.get('LB_E2E_SWITCH')
                         or None)
        self.say('starting the lab in network namespace %s: a switch '
                 '(tenant VLAN %d, rescuing VLAN %d), dnsmasq, in.tftpd, an '
                 'IPMI BMC in front of a QEMU machine, lifeboatd' % (
                     self.lab.ns, L.TENANT_VLAN, L.RESCUE_VLAN))
        self.show('work directory: %s' % self.lab.work)
        self.lab.start()
        self.say('lifeboatd answers at %s (inside the namespace); the CLI '
                 'runs with OS_AUTH_TYPE=none OS_ENDPOINT=%s' % (
                     self.lab.api_url, self.lab.api_url))

    def enroll(self):
        lab = self.lab
        self.say('enrolling the machine: node create, port create, manage, '
                 'adopt (it already runs an instance)')
        uuid = lab.enroll(NODE, 'ipmi', 'pxe', None)
        lab.cli('node', 'boot', 'device', 'set', NODE, 'disk',
                '--persistent')
        mark = lab.events.mark()
        lab.cli('node', 'power', 'on', NODE)
        lab.events.wait(BANNER, 'console', mark, 120,
                        what='the instance booting from its disk')
        self.say('node %s (%s) is active; its instance is up at %s' % (
            NODE, uuid, L.MACHINE_TENANT_IP))
        return uuid

    def rescue(self):
        lab = self.lab
        self.say('rescuing it: lifeboat powers it off, moves its port to '
                 'the rescuing VLAN, PXE-boots the rescue ramdisk, waits '
                 'for the agent, sets the password, moves the port back')
        t = time.monotonic()
        lab.cli('node', 'rescue', NODE, '--rescue-password', self.password,
                '--wait', '180', timeout=240)
        node = lab.cli_json('node', 'show', NODE)
        if node['provision_state'] != 'rescue':
            raise L.LabError('the node is %s, not rescue: %s' % (
                node['provision_state'], node.get('last_error')))
        deadline = time.monotonic() + 120
        while lab.ssh('rescue', L.MACHINE_TENANT_IP, self.password, 'true',
                      timeout=30).returncode != 0:
            if time.monotonic() > deadline:
                raise L.LabError('ssh rescue@%s does not work 120 s after '
                                 'the rescue' % L.MACHINE_TENANT_IP)
            time.sleep(1)
        self.say('rescued: rescue command -> ssh works in %.1f s' % (
            time.monotonic() - t))

    def ssh_command(self):
        return ('ip netns exec %s sshpass -p %s ssh -o '
                'StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
                '-o PubkeyAuthentication=no -o LogLevel=ERROR rescue@%s' % (
                    self.lab.ns, self.password, L.MACHINE_TENANT_IP))

    def instructions(self):
        ns, api = self.lab.ns, self.lab.api_url
        cli = 'ip netns exec %s openstack baremetal' % ns
        self.show('''
The machine is in rescue.  Log in to its rescue ramdisk (password %s):

    %s

(or type the password: ip netns exec %s ssh -o StrictHostKeyChecking=no
 -o UserKnownHostsFile=/dev/null rescue@%s)

Ask lifeboat yourself, from this shell:

    export OS_AUTH_TYPE=none OS_ENDPOINT=%s
    %s node show %s
    %s node history list %s
    %s node list

Bring the machine back to its instance:

    %s node unrescue %s --wait 120

%s
logs: %s (copied there at the end)''' % (
            self.password, self.ssh_command(), ns, L.MACHINE_TENANT_IP,
            api, cli, NODE, cli, NODE, cli, cli, NODE, self.pids(), KEEP))

    def pids(self):
        """The processes the lab started: "pids: name=PID ..."."""
        return 'pids: ' + ' '.join(
            ['%s=%d' % (p.name, p.pid) for p in self.lab.procs] +
            ['qemu=%d' % q for q in sorted(self.lab.qemu_pids)])

    def check_ssh(self):
        """Runs the printed ssh command as printed; True if the rescue
        shell answered."""
        cmd = self.ssh_command()
        self.show('$ %s <<< %s' % (cmd, shlex.quote(PROBE.strip())))
        p = subprocess.run(['bash', '-c', cmd], input=PROBE, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        for line in p.stdout.splitlines():
            self.show('    ' + line)
        ok = p.returncode == 0 and PROBE_ANSWER in p.stdout
        self.say('the ssh command %s (exit %d)' % (
            'works' if ok else 'FAILED', p.returncode))
        return ok

    def unrescue(self):
        self.say('unrescuing: the machine boots its instance again')
        self.lab.cli('node', 'unrescue', NODE, '--wait', '120', timeout=180)
        state = self.lab.cli_json('node', 'show', NODE)['provision_state']
        self.say('node %s is %s' % (NODE, state))
        return state == 'active'

    def history(self):
        """Shows the node's history: every phase of the rescue and the
        unrescue with its duration."""
        p = self.lab.cli('node', 'history', 'list', NODE, '-f', 'value',
                         '-c', 'Severity', '-c', 'Description of the event')
        for line in p.stdout.splitlines():
            self.show('    ' + line)

    def wait(self):
        self.show('\nThe demo runs until Ctrl-C (or kill -TERM %d); then '
                  'it tears everything down.' % os.getpid())
        lifeboatd = [p for p in self.lab.procs if p.name == 'lifeboatd'][0]
        while lifeboatd.alive():
            time.sleep(1)
        self.say('lifeboatd exited (status %s)' % lifeboatd.popen.returncode)
        return False

    # --------------------------------------------------------- teardown
    def teardown(self):
        """Stops everything, by PID; True if nothing is left."""
        lab = self.lab
        if lab is None:
            return True
        self.say('tearing down: QEMU, the BMC, dnsmasq, in.tftpd, '
                 'lifeboatd, namespace %s, %s' % (lab.ns, lab.work))
        self.show(self.pids())
        # whatever else runs in the namespace and is not the lab's (a CLI
        # or ssh the signal cut short), stopped first, by PID
        known = {p.pid for p in lab.procs} | lab.qemu_pids
        strays = [pid for pid in (netns_pids(lab.ns) if lab.ns_created
                                  else []) if pid not in known]
        for pid in strays:
            L._stop_pid(pid, grace=2.0)
        try:
            lab.close()
        except L.LabError as e:
            self.show('teardown: %s' % e)
        left = []
        left += ['namespace %s' % n for n in L.leftovers()]
        left += ['pid %d' % p for p in lab.leftover_pids()]
        left += ['pid %d' % p for p in strays if L._pid_alive(p)]
        left += ['link %s' % n for n in sorted(host_links() -
                                               self.links_before)]
        if lab.work.exists():
            left.append('directory %s' % lab.work)
        if left:
            self.say('LEFT BEHIND: %s' % ', '.join(left))
            return False
        self.say('everything stopped: no namespace, link, process or '
                 'directory left; logs in %s' % KEEP)
        return True


def host_links():
    p = subprocess.run(['ip', '-o', 'link', 'show'], stdout=subprocess.PIPE,
                       text=True)
    return {line.split(':')[1].strip().split('@')[0]
            for line in p.stdout.splitlines() if ':' in line}


def netns_pids(ns):
    p = subprocess.run(['ip', 'netns', 'pids', ns], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return [int(x) for x in p.stdout.split() if x.isdigit() and
            int(x) != os.getpid()]


def on_signal(signum, frame):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


def run(demo):
    """The demo's steps; True when they all worked."""
    demo.start_lab()
    demo.enroll()
    demo.rescue()
    demo.instructions()
    if not demo.once:
        return demo.wait()
    ok = demo.check_ssh()
    ok = demo.unrescue() and ok
    demo.history()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--once', action='store_true',
                    help='rescue, check the ssh command, unrescue, stop')
    args = ap.parse_args()
    why = L.missing_requirements(LIFEBOATD) or \
        L.missing_rescue_parts(RAMDISK_DIR, AGENT)
    if why:
        print('tools/demo: %s' % why, file=sys.stderr)
        return 1
    demo = Demo(args.once)
    ok = False
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        ok = run(demo)
    except Stop as e:
        demo.say('%s: stopping' % e)
        ok = not demo.once
    except Exception as e:      # noqa: BLE001 - told, then torn down
        demo.say('FAILED: %s: %s' % (type(e).__name__, e))
        if demo.lab is not None:
            demo.show('lifeboatd, last lines:\n%s' %
                      demo.lab.events.tail('lifeboatd', 15))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        clean = demo.teardown()
    return 0 if ok and clean else 1


if __name__ == '__main__':
    sys.exit(main())
