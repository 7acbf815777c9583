"""Kill -9 at any moment (issue 14 item 3), a short slice: the seeded
chaos scenario of chaos.py (200 nodes, rescues, unrescues, power actions
and aborts against bench/swarm.py's agents, SIGKILL at a seeded moment,
restart) for fixed seeds, each asserting every invariant of the issue.
bench/chaos runs hundreds of seeds.  A failure names its seed; replay it
with ``bench/chaos --runs 1 --seed SEED --keep``.
"""

import pytest

import chaos

SEEDS = list(range(1, 21))
KILL_BY = 2.5       # seconds (bench/chaos: 4): the file's time budget


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    """The 200 nodes, enrolled through the API once for every seed."""
    return chaos.make_template(tmp_path_factory.mktemp('chaos-template'))


@pytest.mark.parametrize('seed', SEEDS)
def test_kill_at_any_moment(seed, store, tmp_path):
    run = chaos.Run(seed, tmp_path, store, kill_by=KILL_BY)
    try:
        problems = run.play()
    finally:
        run.close()
    assert problems == [], (
        'seed %d (replay: bench/chaos --runs 1 --seed %d --keep), killed '
        '%s after %.2f s, states at the kill %s:\n%s' % (
            seed, seed, run.figures['kill_mode'],
            run.figures.get('killed_after', -1), run.figures.get('before'),
            '\n'.join(problems[:40])))


def test_half_written_boot_files_go_at_restart(tmp_path):
    """A kill between a boot file's write and its rename (the dnsmasq host
    and option files, a pxelinux.cfg link) leaves the temporary; the next
    start removes every one and nothing else (found by the chaos run)."""
    launcher, lab = chaos._lab(tmp_path)
    try:
        mac = '52:54:0c:ff:00:01'
        keep = [lab.host_file(mac), lab.tftp / 'pxelinux.cfg' / 'keep']
        temps = [lab.hostsdir / ('.ironic-%s.conf.0123456789ab' % mac),
                 lab.optsdir / '.ironic-1be26c0b-03f2-4d2e-ae87-c02d7f33c1'
                               '23.conf.fedcba987654',
                 lab.tftp / 'pxelinux.cfg' / '.01-52-54-0c-ff-00-01.'
                                             'a1b2c3d4e5f6']
        (lab.tftp / 'pxelinux.cfg').mkdir(exist_ok=True)
        for p in keep + temps:
            p.write_text('half')
        lab.d.restart(hard=True)
        assert [p for p in temps if p.exists()] == []
        assert [p for p in keep if not p.exists()] == []
        log = lab.d.log_text()
        for root in (lab.hostsdir, lab.optsdir, lab.tftp):
            assert 'removed 1 half-written file(s) a previous run left ' \
                'in' in log and str(root) in log, log[-2000:]
    finally:
        launcher.close()
