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


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    """The 200 nodes, enrolled through the API once for every seed."""
    return chaos.make_template(tmp_path_factory.mktemp('chaos-template'))


@pytest.mark.parametrize('seed', SEEDS)
def test_kill_at_any_moment(seed, store, tmp_path):
    run = chaos.Run(seed, tmp_path, store)
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
