"""End to end: an installed lifeboat rescues over virtual media.

The lifeboatd of this module is not the build tree's: the fixture
``installed_lifeboatd`` runs ``meson install --destdir`` on the build
directory ``$LIFEBOATD`` comes from (``--no-rebuild``: nothing compiles
here), and the lab (the Redfish, OVMF, no-PXE lab of
test_rescue_vmedia.py) runs ``<destdir>/<prefix>/sbin/lifeboatd`` with the
lab's configuration, which names no program of lifeboat's (no
``[redfish] iso_builder``).

``test_installed_tree_rescues_over_vmedia``: lifeboatd's log says it uses
the installed tree's ``lib/lifeboat/mkiso``, found next to itself; then one
rescue and unrescue, checked as test_rescue_vmedia.py checks them (the ISO
that mkiso builds is what the machine boots).  The build tree's own case
is test_rescue_vmedia.py's, whose lifeboatd finds ``build/ramdisk/mkiso``.
"""

import json
import re
import subprocess

import pytest

import conftest
import test_rescue_vmedia as V

LAB_OPTIONS = {'name': 'installed', 'bmc': 'redfish', 'firmware': 'uefi',
               'pxe': False}
LIFEBOATD_FIXTURE = 'installed_lifeboatd'


def build_options(build):
    p = subprocess.run(['meson', 'introspect', '--buildoptions', str(build)],
                       capture_output=True, text=True, check=True)
    return {o['name']: o['value'] for o in json.loads(p.stdout)}


@pytest.fixture(scope='module')
def installed_lifeboatd(tmp_path_factory):
    build = conftest.LIFEBOATD.resolve().parents[1]
    if not (build / 'meson-private').is_dir():
        pytest.skip('%s is not a meson build directory' % build)
    dest = tmp_path_factory.mktemp('destdir')
    p = subprocess.run(['meson', 'install', '-C', str(build), '--no-rebuild',
                        '--quiet', '--destdir', str(dest)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    opts = build_options(build)
    root = dest / opts['prefix'].lstrip('/')
    lifeboatd = root / opts['sbindir'] / 'lifeboatd'
    assert lifeboatd.is_file(), lifeboatd
    return lifeboatd


def test_installed_tree_rescues_over_vmedia(rescue_ready, lab, timings):
    conf = (lab.work / 'lifeboat.conf').read_text()
    assert 'iso_builder' not in conf, conf
    assert 'mkiso' not in conf and '/lib/lifeboat' not in conf, conf
    mkiso = lab.lifeboatd.replace('/sbin/lifeboatd', '/lib/lifeboat/mkiso')
    said = [text for t, src, text in lab.events.lines
            if src == 'lifeboatd' and 'iso_builder = ' in text]
    assert len(said) == 1, said
    assert re.search(r"\[redfish\] iso_builder = %s \(default: this "
                     r"lifeboatd's installed tree\)$" % re.escape(mkiso),
                     said[0]), said
    uuid = V.the_node(lab, timings)
    V.cycle(lab, uuid, timings)
    node = V.node_show(lab, uuid)
    assert node['provision_state'] == 'active', node
