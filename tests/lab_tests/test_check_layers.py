"""tools/check-layers on small fixture trees: it must catch each kind of
violation (a cycle between two conductor objects and a longer one, a driver
call outside task.c, a strcmp against an interface name, a long file and a
long function) and pass a clean tree that has the look-alikes (field reads,
calls in comments and strings, util/ calling up, an 80-line function with
braces in strings, a long table)."""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHECKER = os.path.join(ROOT, 'tools', 'check-layers')
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'check_layers')


def compile_objects(root, build):
    """Lays objects out as meson does: conductor/<target>.p/<file>.c.o."""
    cc = shutil.which('cc') or shutil.which('gcc')
    if cc is None:
        pytest.skip('no C compiler')
    for base, _, files in os.walk(os.path.join(root, 'conductor')):
        util = os.path.basename(base) == 'util'
        outdir = os.path.join(build, 'conductor', 'util', 'liblb_util.a.p') \
            if util else os.path.join(build, 'conductor', 'liblb_core.a.p')
        os.makedirs(outdir, exist_ok=True)
        for f in files:
            if f.endswith('.c'):
                subprocess.run([cc, '-c', '-w', os.path.join(base, f), '-o',
                                os.path.join(outdir, f + '.o')], check=True)


def script(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('#!/usr/bin/python3\n')
        f.write(''.join('x = %d\n' % i for i in range(lines - 1)))


@pytest.fixture
def tree(tmp_path):
    def make(kind):
        root = tmp_path / kind
        shutil.copytree(os.path.join(FIXTURES, 'common'), root)
        shutil.copytree(os.path.join(FIXTURES, kind), root,
                        dirs_exist_ok=True)
        if kind == 'bad':
            script(str(root / 'tools' / 'too_long'), 801)
            os.makedirs(root / 'boot', exist_ok=True)
            with open(root / 'boot' / 'big.c', 'w') as f:
                f.write('/* fixture: 801 lines */\n' + 'int v;\n' * 800)
        else:
            script(str(root / 'tools' / 'just_fits'), 800)
            script(str(root / 'bench' / 'fits.py'), 800)
            # tests/ is not measured
            script(str(root / 'tests' / 'huge_test.py'), 2000)
        build = tmp_path / (kind + '-build')
        compile_objects(str(root), str(build))
        return str(root), str(build)
    return make


def run(root, build, only):
    p = subprocess.run([sys.executable, CHECKER, '--root', root, '--only',
                        only, build], capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines()
             if not ln.startswith('check-layers:')]
    return p.returncode, lines, p.stdout + p.stderr


def test_catches_cycles(tree):
    root, build = tree('bad')
    rc, lines, out = run(root, build, 'a')
    assert rc == 1, out
    assert len(lines) == 2, out
    assert lines[0].startswith(
        'cycles: conductor/a.c <-> conductor/b.c (a.c uses lb_b; '
        'b.c uses lb_a)'), out
    assert lines[1].startswith(
        'cycles: conductor/ files in one cycle: x.c, y.c, z.c'), out


# What the bad tree breaks, by check; a name check line is cut before its
# explanation in parentheses.
BAD_TREE = {
    'b': [
        'ops: conductor/engine.c:10: driver call outside conductor/task.c: '
        'return ctx->power->set_state(ctx->task, 1);',
        'ops: conductor/engine.c:16: driver call outside conductor/task.c: '
        'return boot->prepare_ramdisk(task);',
        'ops: boot/media.c:8: driver call outside conductor/task.c: '
        'return env->management->insert_cd(task, url);',
    ],
    'c': [
        'names: conductor/engine.c:22: strcmp against interface name '
        '"ipmitool"',
        'names: conductor/engine.c:28: strcasecmp against interface name '
        '"pxe"',
    ],
    'd': [
        'size: boot/big.c: 801 lines (at most 800)',
        'size: conductor/long.c:4: function long_one() is 81 lines '
        '(at most 80)',
        'size: tools/too_long: 801 lines (at most 800)',
    ],
}


@pytest.mark.parametrize('check', sorted(BAD_TREE))
def test_catches_bad_tree(tree, check):
    root, build = tree('bad')
    rc, lines, out = run(root, build, check)
    assert rc == 1, out
    if check == 'c':
        lines = [ln.split(' (')[0] for ln in lines]
    assert sorted(lines) == sorted(BAD_TREE[check]), out


def test_clean_tree_passes(tree):
    root, build = tree('clean')
    rc, lines, out = run(root, build, 'a,b,c,d')
    assert rc == 0, out
    assert lines == [], out
    for key in 'abcd':
        assert '(%s) ' % key in out and '0 violation(s)' in out


def test_needs_objects(tmp_path):
    root = str(tmp_path / 'src')
    shutil.copytree(os.path.join(FIXTURES, 'common'), root)
    rc, lines, out = run(root, str(tmp_path / 'nobuild'), 'a')
    assert rc == 1 and 'build first' in out, out


def test_unknown_check_refused(tmp_path):
    rc, _, out = run(ROOT, str(tmp_path), 'a,e')
    assert rc == 2 and 'unknown check(s): e' in out, out
