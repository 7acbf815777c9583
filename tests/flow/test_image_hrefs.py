"""Image hrefs and [conductor] file_url_allowed_paths (issue 10 item 2):
every spelling of a file outside the allowed directories that could reach
the file system (scheme case, file://localhost, percent-encoding, "..",
symlinks, a sibling directory sharing the prefix) is refused when the
rescue is requested through the real ``openstack baremetal`` CLI, and
nothing lands in tftp_root, http_root or the image cache.

The daemon and the lab IPMI BMC are stopped by their PIDs at teardown.
"""

import os

import pytest

from power_helpers import bmcs  # noqa: F401 (a fixture)
from rescue_helpers import KERNEL_DATA, RescueLab, wait_state
from rescue_helpers import emu, lab  # noqa: F401 (fixtures)

PASSWORD = 'Resc-ue-PW1'
SECRET = b'root:$6$not-for-publishing:19000:0:99999:7:::\n'


def tree(*roots):
    """{path: bytes} of every file below the roots (symlinks as links)."""
    out = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            for name in files + dirs:
                p = os.path.join(dirpath, name)
                if os.path.islink(p):
                    out[p] = 'link:' + os.readlink(p)
                elif os.path.isfile(p):
                    with open(p, 'rb') as f:
                        out[p] = f.read()
    return out


def bad_spellings(lab, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    shadow = outside / 'shadow'
    shadow.write_bytes(SECRET)
    sibling = lab.dir / (lab.images.name + '2')   # shares the prefix
    sibling.mkdir()
    (sibling / 'k').write_bytes(SECRET)
    (lab.images / 'sneaky').symlink_to(shadow)
    (lab.images / 'out').symlink_to(outside)
    images = str(lab.images)
    rel = os.path.relpath(str(shadow), images)
    pct = ''.join('%%%02x' % ord(c) for c in str(shadow)[1:])
    return [
        'FILE://%s' % shadow,
        'File://%s' % shadow,
        'file://localhost%s' % shadow,
        'FILE://LOCALHOST%s' % shadow,
        'file:///%s' % pct,
        'file://%s/%s' % (images, rel),
        'file://%s/%s' % (images, rel.replace('..', '%2e%2e')),
        'file://%s/%s' % (images, rel.replace('..', '.%2E')),
        'file://%s/sneaky' % images,
        'file://%s/out/shadow' % images,
        'file://%s/k' % sibling,
    ]


def test_file_href_spellings_refused(lab, emu, tmp_path):
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    roots = [lab.tftp, lab.http, lab.d.state_path / 'images']
    for href in bad_spellings(lab, tmp_path):
        r = lab.d.patch('/v1/nodes/' + uuid, [
            {'op': 'replace', 'path': '/driver_info/rescue_kernel',
             'value': href}])
        assert r.status_code == 200, r.text
        before = tree(*roots)
        emu.clear_log(0)
        rc, out, err = lab.d.cli('node', 'rescue', uuid,
                                 '--rescue-password', PASSWORD)
        assert rc != 0, (href, out)
        assert 'Validation failed' in err, (href, err)
        assert 'rescue_kernel' in err, (href, err)
        assert 'file_url_allowed_paths' in err, (href, err)
        assert SECRET.decode() not in err
        n = lab.d.get('/v1/nodes/' + uuid).json()
        assert n['provision_state'] == 'active', (href, n)
        assert emu.actions(0) == [], href
        after = tree(*roots)
        assert after == before, (href, set(after) - set(before))
        assert not any(v == SECRET for v in after.values()), href
        assert lab.leftovers(uuid, mac) == []


@pytest.mark.parametrize('spelling', ['FILE://%s', 'file://localhost%s',
                                      'file://%s/../%s/%s'])
def test_file_href_allowed_spellings_still_work(lab, emu, spelling):
    """The same check lets the allowed kernel through in other spellings."""
    node, mac = lab.node(emu, 0)
    uuid = node['uuid']
    if spelling.count('%s') == 3:
        href = spelling % (lab.images, lab.images.name, lab.kernel.name)
    else:
        href = spelling % lab.kernel
    r = lab.d.patch('/v1/nodes/' + uuid, [
        {'op': 'replace', 'path': '/driver_info/rescue_kernel',
         'value': href}])
    assert r.status_code == 200, r.text
    rc, out, err = lab.d.cli('node', 'rescue', uuid, '--rescue-password',
                             PASSWORD)
    assert rc == 0, err
    n = wait_state(lab.d, uuid, {'rescue wait', 'rescue failed'})
    assert n['provision_state'] == 'rescue wait', n
    assert (lab.tftp / uuid / 'rescue_kernel').read_bytes() == KERNEL_DATA
