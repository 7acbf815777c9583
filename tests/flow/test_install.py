"""``meson install``: the layout a Debian package would have, and an
installed (or DESTDIR, or moved) tree and the build tree that each find
their own mkiso with a configuration that names no path.

The build directory is the one ``$LIFEBOATD`` was built in; it is installed
with ``--destdir`` into the test's temporary directory (``--no-rebuild``:
nothing is compiled here).  Its prefix and sbindir come from ``meson
introspect``.
"""

import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import LIFEBOATD, REPO

BUILD = Path(LIFEBOATD).resolve().parents[1]
RAMDISK_FILES = ('build', 'init', 'coldplug', 'motd', 'udhcpc.script')
EXAMPLES = ('lifeboat.conf.example', 'dnsmasq.conf.example',
            'tftpd-hpa.default')
# lifeboat paths none of which the configurations below set
NO_PATHS_CONF = '[DEFAULT]\nhost = install-test\n[api]\nport = 16385\n'


def build_option(name):
    p = subprocess.run(['meson', 'introspect', '--buildoptions', str(BUILD)],
                       capture_output=True, text=True, check=True)
    return {o['name']: o['value'] for o in json.loads(p.stdout)}[name]


def meson_install(destdir):
    p = subprocess.run(['meson', 'install', '-C', str(BUILD), '--no-rebuild',
                        '--quiet', '--destdir', str(destdir)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


def check(lifeboatd, conf, *extra):
    p = subprocess.run([str(lifeboatd), '--config-file', str(conf), '--check']
                       + list(extra), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def chosen_builder(out):
    m = re.search(r'^\[redfish\] iso_builder = (\S+) \(([^)]*)\)(.*)$', out,
                  re.M)
    assert m, out
    return m.group(1), m.group(2), m.group(3)


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    """(destdir, prefix inside it): one install for the module."""
    if not (BUILD / 'meson-private').is_dir():
        pytest.skip('%s is not a meson build directory' % BUILD)
    dest = tmp_path_factory.mktemp('destdir')
    meson_install(dest)
    prefix = build_option('prefix')
    return dest, dest / prefix.lstrip('/')


def executable(path):
    return path.is_file() and path.stat().st_mode & stat.S_IXUSR


def test_layout(tree):
    dest, root = tree
    sbin = root / build_option('sbindir')
    lib = root / 'lib' / 'lifeboat'
    assert executable(sbin / 'lifeboatd')
    assert not (root / 'bin' / 'lifeboatd').exists()
    assert executable(lib / 'mkiso')
    assert (lib / 'mkiso').read_bytes() == (REPO / 'ramdisk' /
                                            'mkiso').read_bytes()
    # the agent is for the ramdisk, not the host: not on the PATH
    assert executable(lib / 'lifeboat-agent')
    assert not (root / 'bin' / 'lifeboat-agent').exists()
    for name in RAMDISK_FILES:
        f = lib / 'ramdisk' / name
        assert executable(f), f
        assert f.read_bytes() == (REPO / 'ramdisk' / name).read_bytes()
    assert (lib / 'ramdisk' / 'README.md').is_file()
    docs = root / 'share' / 'doc' / 'lifeboat' / 'examples'
    for name in EXAMPLES:
        assert (docs / name).read_bytes() == (REPO / 'etc' /
                                              name).read_bytes(), name
    # no configuration is installed: lifeboatd runs on its defaults
    assert not list(dest.rglob('lifeboat.conf'))
    units = list(dest.rglob('lifeboatd.service'))
    assert len(units) == 1, units
    unit = units[0]
    assert unit.parent.name == 'system' and \
        unit.parent.parent.name == 'systemd', unit
    text = unit.read_text()
    want = '/' + str((sbin / 'lifeboatd').relative_to(dest))
    assert re.search(r'^ExecStart=%s$' % re.escape(want), text, re.M), text
    assert re.search(r'^ExecStartPre=%s --check$' % re.escape(want), text,
                     re.M), text
    assert '@' not in text, text
    # everything below the prefix (the unit too: systemd reads
    # /usr/local/lib/systemd/system as well)
    outside = [f for f in dest.rglob('*') if f.is_file() and
               root not in f.parents]
    assert outside == [], outside


def test_installed_tree_finds_its_mkiso(tree, tmp_path):
    dest, root = tree
    conf = tmp_path / 'lifeboat.conf'
    conf.write_text(NO_PATHS_CONF)
    lifeboatd = root / build_option('sbindir') / 'lifeboatd'
    path, how, warn = chosen_builder(check(lifeboatd, conf))
    assert path == str(root / 'lib' / 'lifeboat' / 'mkiso')
    assert how == "default: this lifeboatd's installed tree"
    assert warn == ''
    helptext = subprocess.run([str(lifeboatd), '--help'], capture_output=True,
                              text=True, check=True).stdout
    assert 'iso_builder defaults to %s ' % path in helptext, helptext


def test_moved_tree_finds_its_own_mkiso(tree, tmp_path):
    """Nothing in the tree names where it was installed: a copy elsewhere
    uses its own mkiso, and says so when it is missing."""
    dest, root = tree
    moved = tmp_path / 'moved'
    shutil.copytree(root, moved, symlinks=True)
    conf = tmp_path / 'lifeboat.conf'
    conf.write_text(NO_PATHS_CONF)
    lifeboatd = moved / build_option('sbindir') / 'lifeboatd'
    path, how, warn = chosen_builder(check(lifeboatd, conf))
    assert path == str(moved / 'lib' / 'lifeboat' / 'mkiso')
    (moved / 'lib' / 'lifeboat' / 'mkiso').unlink()
    path, how, warn = chosen_builder(check(lifeboatd, conf))
    assert path == str(moved / 'lib' / 'lifeboat' / 'mkiso')
    assert 'not executable' in warn, warn


def test_build_tree_finds_its_mkiso(tmp_path):
    conf = tmp_path / 'lifeboat.conf'
    conf.write_text(NO_PATHS_CONF)
    path, how, warn = chosen_builder(check(LIFEBOATD, conf))
    assert path == str(BUILD / 'ramdisk' / 'mkiso')
    assert how == "default: this lifeboatd's build tree"
    assert warn == ''
    assert (BUILD / 'ramdisk' / 'mkiso').read_bytes() == \
        (REPO / 'ramdisk' / 'mkiso').read_bytes()


def test_configured_builder_wins(tree, tmp_path):
    dest, root = tree
    conf = tmp_path / 'lifeboat.conf'
    conf.write_text(NO_PATHS_CONF + '[redfish]\niso_builder = /bin/true\n')
    for lifeboatd in (LIFEBOATD, root / build_option('sbindir') /
                      'lifeboatd'):
        path, how, warn = chosen_builder(check(lifeboatd, conf))
        assert (path, how, warn) == ('/bin/true', 'set in the configuration',
                                     '')


def test_installed_ramdisk_recipe(tree, tmp_path):
    """The installed ramdisk/build takes the installed agent and mkiso, and
    wants --out (it has no build/ to write into).  Every file of its own it
    reads is installed beside it.  (Building a whole image is
    tests/lab_tests/test_ramdisk.py's.)"""
    dest, root = tree
    lib = root / 'lib' / 'lifeboat'
    build = lib / 'ramdisk' / 'build'
    p = subprocess.run([str(build), '--help'], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert '(default %s;' % (lib / 'lifeboat-agent') in p.stdout, p.stdout
    p = subprocess.run([str(build)], capture_output=True, text=True,
                       timeout=30, cwd=str(tmp_path))
    assert p.returncode != 0
    assert '--out DIR is needed' in p.stderr, p.stderr
    assert not list(tmp_path.iterdir())
    script = build.read_text()
    read = set(re.findall(r'"\$HERE/(\w[\w.-]*)"', script))
    assert read >= set(RAMDISK_FILES) - {'build'}, read
    # (mkiso and the agent: the ones above it, see test_layout)
    for name in read - {'meson.build', 'mkiso'}:
        assert (lib / 'ramdisk' / name).is_file(), name
    # the source tree's copy still defaults to the build tree
    p = subprocess.run([str(REPO / 'ramdisk' / 'build'), '--help'],
                       capture_output=True, text=True, timeout=30)
    assert '(default %s;' % (REPO / 'build' / 'ramdisk' /
                             'lifeboat-agent') in p.stdout, p.stdout
