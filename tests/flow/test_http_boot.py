"""lifeboatd's HTTP boot root ([deploy] http_root at [deploy] http_url).

It serves iPXE scripts, kernels, ramdisks and ISOs to machines: read-only,
regular files only, never anything outside the root, byte ranges for BMCs
that fetch ISOs in pieces.
"""

import os
import socket

import pytest
import requests

from conftest import free_port


@pytest.fixture
def boot(launcher, tmp_path):
    root = tmp_path / 'httpboot'
    (root / 'node' / 'sub').mkdir(parents=True)
    (root / 'node' / 'config').write_bytes(b'#!ipxe\necho hello\n')
    (root / 'node' / 'big').write_bytes(bytes(range(256)) * 40)
    (root / '.hidden').write_bytes(b'no')
    outside = tmp_path / 'secret.txt'
    outside.write_bytes(b'do not serve me')
    os.symlink(str(outside), str(root / 'escape'))
    os.symlink('node/config', str(root / 'inside-link'))
    port = free_port()
    url = 'http://127.0.0.1:%d' % port
    launcher.start(deploy={'http_root': str(root), 'http_url': url})
    return url


def get(url, **kw):
    return requests.get(url, timeout=10, **kw)


def test_serves_files_and_relative_links(boot):
    r = get(boot + '/node/config')
    assert r.status_code == 200
    assert r.content == b'#!ipxe\necho hello\n'
    # Per-MAC links are relative symlinks inside the root: followed.
    r = get(boot + '/inside-link')
    assert r.status_code == 200
    assert r.content == b'#!ipxe\necho hello\n'


def test_byte_ranges(boot):
    r = get(boot + '/node/big', headers={'Range': 'bytes=256-511'})
    assert r.status_code == 206
    assert r.content == bytes(range(256))
    assert r.headers['Content-Range'] == 'bytes 256-511/10240'


@pytest.mark.parametrize('path', [
    '/escape',                  # symlink leading out of the root
    '/node/../../secret.txt',   # traversal (as sent, unnormalised)
    '/.hidden',                 # hidden names are not served
    '/node',                    # directories are not listed
    '/node/sub',
    '/nope',
])
def test_refuses(boot, path):
    host, port = boot[len('http://'):].split(':')
    # A raw request, so the client cannot normalise '..' away.
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(('GET %s HTTP/1.0\r\nHost: x\r\n\r\n' % path).encode())
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = data.split(b'\r\n', 1)[0]
    assert b' 404 ' in status, data[:200]
    assert b'do not serve me' not in data


def test_read_only(boot):
    r = requests.put(boot + '/node/config', data=b'x', timeout=10)
    assert r.status_code == 405
    assert get(boot + '/node/config').content == b'#!ipxe\necho hello\n'


def test_range_edges(boot):
    r = get(boot + '/node/big', headers={'Range': 'bytes=-16'})
    assert r.status_code == 206
    assert r.content == bytes(range(240, 256))
    r = get(boot + '/node/big', headers={'Range': 'bytes=10200-'})
    assert r.status_code == 206 and len(r.content) == 40
    r = get(boot + '/node/big', headers={'Range': 'bytes=20000-30000'})
    assert r.status_code == 416
    assert r.headers['Content-Range'] == 'bytes */10240'
