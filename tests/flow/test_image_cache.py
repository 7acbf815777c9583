"""The image cache's disk use (issue 10 item 9) through the daemon:
[pxe] image_cache_size and image_cache_ttl, least recently used images
evicted only once no staged node uses them, and a full disk that fails a
rescue cleanly (a clear last_error, nothing half-written) and recovers when
space returns.  Fake-hardware nodes; the daemon is stopped by its PID at
teardown, and the test's tmpfs is unmounted even when it fails.
"""

import os
import subprocess

import pytest

from rescue_helpers import RescueLab, end_state, put_rescue, put_verb

PASSWORD = 'Resc-ue-PW1'
KIB = 1024


def cached(lab, cache_dir):
    """{content: name} of the image copies in the cache."""
    out = {}
    for name in os.listdir(cache_dir):
        if name.startswith('.') or name.endswith('.json'):
            continue
        with open(os.path.join(cache_dir, name), 'rb') as f:
            out[f.read()] = name
    return out


def pair(lab, tag, size):
    k = lab.images / ('k-%s' % tag)
    r = lab.images / ('r-%s' % tag)
    k.write_bytes(tag.encode() * (size // len(tag)))
    r.write_bytes(tag.encode().upper() * (size // len(tag)))
    return {'rescue_kernel': 'file://%s' % k,
            'rescue_ramdisk': 'file://%s' % r}, k.read_bytes(), r.read_bytes()


def rescue_to_wait(lab, uuid):
    r = put_rescue(lab.d, uuid, PASSWORD)
    assert r.status_code == 202, r.text
    return end_state(lab.d, uuid, {'rescue wait', 'rescue failed'})


def test_cache_size_evicts_only_unstaged(launcher, tmp_path):
    lab = RescueLab(launcher, tmp_path / 'lab',
                    pxe={'image_cache_size': 1, 'image_cache_ttl': 60})
    cache_dir = lab.d.state_path / 'images'
    nodes, data = [], []
    for tag in ('one', 'two', 'three'):
        info, k, r = pair(lab, tag, 300 * KIB)
        node, mac = lab.node(driver_info=info)
        nodes.append(node['uuid'])
        data.append((k, r))
    # Two staged rescues: 1.2 MiB in a 1 MiB cache, but both in use.
    for uuid in nodes[:2]:
        n = rescue_to_wait(lab, uuid)
        assert n['provision_state'] == 'rescue wait', n
    have = cached(lab, cache_dir)
    for k, r in data[:2]:
        assert k in have and r in have
    # The first rescue is aborted: its staged links go, its copies are free.
    r = put_verb(lab.d, nodes[0], 'abort')
    assert r.status_code == 202, r.text
    end_state(lab.d, nodes[0], {'rescue failed'})
    assert not (lab.tftp / nodes[0]).exists()
    n = rescue_to_wait(lab, nodes[2])
    assert n['provision_state'] == 'rescue wait', n
    have = cached(lab, cache_dir)
    k, r = data[0]
    assert k not in have and r not in have, sorted(have.values())
    for k, r in data[1:]:
        assert k in have and r in have
    # Still staged and intact where the nodes boot from.
    for uuid, (k, r) in zip(nodes[1:], data[1:]):
        assert (lab.tftp / uuid / 'rescue_kernel').read_bytes() == k
        assert (lab.tftp / uuid / 'rescue_ramdisk').read_bytes() == r


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only), unmounted at teardown."""
    mnt = tmp_path / 'small'
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0700',
                    'lb-flow-test', str(mnt)], check=True)
    yield mnt
    subprocess.run(['umount', '-l', str(mnt)], check=True)


def test_full_disk_fails_cleanly_and_recovers(launcher, tmp_path,
                                              small_disk):
    cache_dir = small_disk / 'cache'
    lab = RescueLab(launcher, tmp_path / 'lab',
                    pxe={'image_cache_path': str(cache_dir),
                         'image_cache_size': 64})
    info, k, r = pair(lab, 'big', 200 * KIB)
    node, mac = lab.node(driver_info=info)
    uuid = node['uuid']
    filler = small_disk / 'filler'
    with open(filler, 'wb', buffering=0) as f:
        try:
            while True:
                f.write(b'\0' * 4096)
        except OSError:
            pass
    n = rescue_to_wait(lab, uuid)
    assert n['provision_state'] == 'rescue failed', n
    assert n['last_error'].startswith('Failed to rescue: '), n
    assert 'No space left on device' in n['last_error'], n
    assert os.listdir(cache_dir) == []      # no entry, index or temporary
    assert not (lab.tftp / uuid).exists()
    # Space returns: the same rescue works.
    filler.unlink()
    n = rescue_to_wait(lab, uuid)
    assert n['provision_state'] == 'rescue wait', n
    assert (lab.tftp / uuid / 'rescue_kernel').read_bytes() == k
    assert (lab.tftp / uuid / 'rescue_ramdisk').read_bytes() == r
