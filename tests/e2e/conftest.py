"""Fixtures of the end-to-end rescue tests (see README.md).

``instance``  the instance disk image (built once, cached in build/e2e/)
``lab``       one lab (tests/e2e/lab.py) for the whole module: namespace,
              bridge, dnsmasq x2, in.tftpd, IPMI BMC + QEMU, lifeboatd;
              torn down after the module, pass or fail.  Its logs are
              copied to build/e2e/last-run/ first.

``timings``   ``timings(title, rows)`` records a phase table; the tables
              are printed at the end of the run (also with -q) and written
              to build/e2e/last-run/timings.txt
``rescue_ready``  skips a test when the rescue ramdisk or agent is missing

Environment: ``LIFEBOATD`` (default build/conductor/lifeboatd),
``LB_E2E_RAMDISK_DIR`` (build/ramdisk-image), ``LB_E2E_AGENT``
(build/ramdisk/lifeboat-agent), ``LB_E2E_SWITCH`` (linux-bridge or
linux-bridge-per-vlan; default: what the kernel supports),
``LB_E2E_BUDGET`` (seconds for the whole module, 840).
"""

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import instance as instance_mod    # noqa: E402
import lab as lab_mod              # noqa: E402

REPO = HERE.parents[1]
LIFEBOATD = lab_mod.LIFEBOATD
RAMDISK_DIR = lab_mod.RAMDISK_DIR
AGENT = lab_mod.AGENT
# The whole module must end within 15 minutes on 2 cores: every wait of
# the lab is cut to what is left of this budget (teardown comes after).
BUDGET = float(os.environ.get('LB_E2E_BUDGET', 14 * 60))
LAST_RUN = REPO / 'build' / 'e2e' / 'last-run'

_TIMINGS = []


def record_timings(title, rows):
    """rows: [(phase, seconds since the previous phase, since start)]."""
    _TIMINGS.append((title, rows))


def format_timings():
    out = []
    for title, rows in _TIMINGS:
        out.append(title)
        out.append('  %-44s %9s %9s' % ('phase', 'step s', 'total s'))
        for name, step, total in rows:
            out.append('  %-44s %9s %9s' % (
                name, '-' if step is None else '%.2f' % step,
                '-' if total is None else '%.2f' % total))
        out.append('')
    return '\n'.join(out)


def stale_image_note():
    """A note when the ramdisk image is older than the agent it should
    carry (the test then runs an old agent)."""
    img, agent = RAMDISK_DIR / 'initramfs', AGENT
    if img.is_file() and agent.is_file() and \
            agent.stat().st_mtime > img.stat().st_mtime + 1:
        return ('note: %s is older than %s; rebuild it with ramdisk/build '
                'to test the current agent' % (img, agent))
    return None


def pytest_terminal_summary(terminalreporter):
    if not _TIMINGS:
        return
    text = format_timings()
    note = stale_image_note()
    if note:
        text += note + '\n'
    terminalreporter.write_sep('=', 'lifeboat end-to-end rescue timings')
    terminalreporter.write_line(text)
    try:
        LAST_RUN.mkdir(parents=True, exist_ok=True)
        (LAST_RUN / 'timings.txt').write_text(text + '\n')
    except OSError:
        pass


def missing_requirements():
    """Why the lab cannot run here (None if it can)."""
    return lab_mod.missing_requirements(LIFEBOATD)


def missing_rescue_parts():
    """Why the rescue flow cannot run yet (None if it can)."""
    return lab_mod.missing_rescue_parts(RAMDISK_DIR, AGENT)


@pytest.fixture
def timings():
    """``timings(title, rows)`` records a phase table for the summary."""
    return record_timings


@pytest.fixture
def rescue_ready():
    """Skips the test when the rescue ramdisk or the agent is missing."""
    why = missing_rescue_parts()
    if why:
        pytest.skip(why)


@pytest.fixture(scope='session')
def instance():
    why = missing_requirements()
    if why:
        pytest.skip(why)
    try:
        return instance_mod.build(log=lambda m: print(m))
    except instance_mod.BuildError as e:
        pytest.fail('cannot build the instance image: %s' % e)


@pytest.fixture(scope='module')
def lab(request):
    """One lab per test module, started as the module's ``LAB_OPTIONS``
    (keyword arguments of lab.Lab, plus ``name``: its logs are kept in
    build/e2e/last-run-<name>) say; the default is the PXE lab.  The
    instance image is built only for a machine that has the instance
    disk."""
    why = missing_requirements()
    if why:
        pytest.skip(why)
    opts = dict(getattr(request.module, 'LAB_OPTIONS', {}))
    name = opts.pop('name', None)
    # a module may run another lifeboatd: the one its fixture of this name
    # returns (test_rescue_installed.py: a `meson install --destdir` tree)
    lifeboatd = LIFEBOATD
    if getattr(request.module, 'LIFEBOATD_FIXTURE', None):
        lifeboatd = request.getfixturevalue(request.module.LIFEBOATD_FIXTURE)
    keep = LAST_RUN.parent / ('last-run-%s' % name) if name else LAST_RUN
    disk = None
    if opts.get('machine', {}).get('instance_disk', True):
        disk = request.getfixturevalue('instance')['disk']
    the_lab = lab_mod.Lab(
        lifeboatd, RAMDISK_DIR, disk, keep=keep,
        budget=BUDGET, switch_backend=os.environ.get('LB_E2E_SWITCH') or None,
        **opts)
    try:
        the_lab.start()
        yield the_lab
    finally:
        the_lab.close()
        left = lab_mod.leftovers()
        assert not left, 'namespaces left behind: %s' % left
        pids = the_lab.leftover_pids()
        assert not pids, 'processes left behind: %s' % pids
        assert not the_lab.work.exists(), the_lab.work
