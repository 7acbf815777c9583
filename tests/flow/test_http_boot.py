"""lifeboatd's HTTP boot root ([deploy] http_root at [deploy] http_url, and
its redfish/ at [deploy] external_http_url).

It serves iPXE scripts, kernels, ramdisks and ISOs to machines: read-only,
regular files only, never anything outside the root, byte ranges for BMCs
that fetch ISOs in pieces.
"""

import os
import re
import socket
import stat
import time

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
    # A per-MAC link as lifeboat writes them: up, then down again.
    (root / 'pxelinux.cfg').mkdir()
    os.symlink('../node/config', str(root / 'pxelinux.cfg' / '01-aa'))
    os.symlink('../secret.txt', str(root / 'up-link'))
    os.symlink('node', str(root / 'dir-link'))
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
    for path in ('/inside-link', '/pxelinux.cfg/01-aa', '/dir-link/config'):
        r = get(boot + path)
        assert r.status_code == 200, path
        assert r.content == b'#!ipxe\necho hello\n'


def test_byte_ranges(boot):
    r = get(boot + '/node/big', headers={'Range': 'bytes=256-511'})
    assert r.status_code == 206
    assert r.content == bytes(range(256))
    assert r.headers['Content-Range'] == 'bytes 256-511/10240'


@pytest.mark.parametrize('path', [
    '/escape',                  # symlink leading out of the root
    '/up-link',                 # relative symlink leading out of the root
    '/dir-link/../../secret.txt',
    '/node/config/' + 'x' * 300,  # a name too long after a file
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


@pytest.fixture
def odd_boot(launcher, tmp_path):
    """A root holding names that are not regular files."""
    root = tmp_path / 'httpboot'
    root.mkdir()
    os.mkfifo(str(root / 'fifo'))
    os.symlink('fifo', str(root / 'fifo-link'))
    if os.geteuid() == 0:
        os.mknod(str(root / 'null'), 0o600 | stat.S_IFCHR,
                 os.makedev(1, 3))
    (root / 'plain').write_bytes(b'plain\n')
    port = free_port()
    url = 'http://127.0.0.1:%d' % port
    launcher.start(deploy={'http_root': str(root), 'http_url': url,
                           'http_max_connections_per_ip': 8})
    return url


@pytest.mark.parametrize('path', ['/fifo', '/fifo-link', '/null'])
def test_only_regular_files(odd_boot, path):
    """A FIFO (or a link to one) or a device node is not served, and the
    request does not block on opening it (the old server's thread waited
    for a writer forever)."""
    start = time.monotonic()
    r = get(odd_boot + path)
    assert r.status_code == 404
    assert time.monotonic() - start < 2
    # Both pool threads are free: the next requests are served.
    for _ in range(3):
        assert get(odd_boot + '/plain').content == b'plain\n'


# ------------------------------------------ [deploy] external_http_url

def free_port_on(host):
    """A TCP port nobody listens on right now at ``host``."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def refused(host, port):
    """Whether a TCP connection to host:port is refused (no listener)."""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def two_urls(launcher, tmp_path):
    """http_url on 127.0.0.1, external_http_url (the BMCs' network) on
    another loopback address and port: lifeboatd listens on both."""
    root = tmp_path / 'httpboot'
    (root / 'node').mkdir(parents=True)
    (root / 'node' / 'config').write_bytes(b'#!ipxe\necho hello\n')
    (root / 'node' / 'vmlinuz').write_bytes(b'kernel')
    iso_dir = root / 'redfish' / 'node'
    iso_dir.mkdir(parents=True)
    (iso_dir / 'R4nd0m.iso').write_bytes(bytes(range(256)) * 8)
    # a link inside the root but out of redfish/: not for BMCs
    os.symlink('../../node/config', str(iso_dir / 'to-config'))
    (root / 'redfish' / '.hidden').write_bytes(b'no')
    http, ext, held = crossed_ports()
    d = launcher.start(deploy={
        'http_root': str(root), 'http_url': 'http://%s:%d' % http,
        'external_http_url': 'http://%s:%d/' % ext})
    yield d, 'http://%s:%d' % http, 'http://%s:%d' % ext, http, ext
    for s in held:
        s.close()


def crossed_ports():
    """(http, ext, held): a free port on 127.0.0.1 and one on 127.0.0.2,
    each also held on the other address by a socket bound there (not
    listening) while the test runs.  Without the hold another process on
    the machine (a suite running beside this one) could listen on
    127.0.0.1 at ext's port, and refused() would see it instead of
    lifeboatd."""
    for _ in range(50):
        http = ('127.0.0.1', free_port())
        ext = ('127.0.0.2', free_port_on('127.0.0.2'))
        held = hold((ext[0], http[1]), (http[0], ext[1]))
        if held:
            return http, ext, held
    raise RuntimeError('no pair of ports free on both addresses')


def hold(*addresses):
    """Sockets bound (not listening) at each (IPv4 host, port), or [] if
    one of them is taken: nobody else can listen there while they are
    open, and a connection there is refused."""
    held = []
    try:
        for address in addresses:
            held.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            held[-1].bind(address)
    except OSError:
        for s in held:
            s.close()
        return []
    return held


def test_external_http_url_listens_too(two_urls):
    d, http_url, ext_url, http, ext = two_urls
    iso = '/redfish/node/R4nd0m.iso'
    # Both answer the ISO, with byte ranges (BMCs fetch in pieces).
    for base in (http_url, ext_url):
        r = get(base + iso)
        assert r.status_code == 200, base
        assert r.content == bytes(range(256)) * 8
        r = get(base + iso, headers={'Range': 'bytes=256-511'})
        assert r.status_code == 206 and r.content == bytes(range(256))
    # Each on its own address and port only.
    assert refused(ext[0], http[1])
    assert refused(http[0], ext[1])
    # The BMCs' listener serves the virtual media directory and nothing
    # else: no iPXE script, kernel, or link out of redfish/.
    for path in ('/node/config', '/node/vmlinuz',
                 '/redfish/node/to-config', '/redfish/.hidden',
                 '/redfish/node/../../node/config'):
        assert get(ext_url + path).status_code == 404, path
    assert get(http_url + '/node/config').content == b'#!ipxe\necho hello\n'
    assert get(http_url + '/redfish/node/to-config').status_code == 200
    # Read-only there too.
    assert requests.put(ext_url + iso, data=b'x',
                        timeout=10).status_code == 405
    # The log says which listener served a request (and hides the ISO's
    # name, which is its secret).
    log = d.log_text()
    assert 'served at %s/ ([deploy] external_http_url)' % ext_url in log, log
    assert 'served at %s ([deploy] http_url)' % http_url in log, log
    assert re.search(r'http boot \(external_http_url\): GET /redfish/node/'
                     r'\u2026 -> 200', log), log
    assert re.search(r'http boot \(http_url\): GET /redfish/node/\u2026 -> '
                     r'200', log), log
    assert re.search(r'http boot \(external_http_url\): GET /node/config '
                     r'-> 404', log), log
    assert 'R4nd0m' not in log


def test_external_http_url_same_socket(launcher, tmp_path):
    """The same address and port (however spelt): one socket, the whole
    root behind it, and no 'address in use'."""
    root = tmp_path / 'httpboot'
    (root / 'node').mkdir(parents=True)
    (root / 'node' / 'config').write_bytes(b'cfg')
    port = free_port()
    d = launcher.start(deploy={
        'http_root': str(root), 'http_url': 'http://127.0.0.1:%d' % port,
        'external_http_url': 'HTTP://127.0.0.1:%d//' % port})
    assert get('http://127.0.0.1:%d/node/config' % port).content == b'cfg'
    log = d.log_text()
    assert ('([deploy] http_url, external_http_url)' in log), log
    assert log.count('HTTP boot root') == 1, log


def test_external_http_url_ipv6_without_http_url(launcher, tmp_path):
    """Only external_http_url, at an IPv6 literal: virtual media needs no
    http_url, and the BMCs' listener still serves only redfish/."""
    root = tmp_path / 'httpboot'
    (root / 'redfish').mkdir(parents=True)
    (root / 'redfish' / 'x.iso').write_bytes(b'iso')
    (root / 'other').write_bytes(b'other')
    # the port held on 127.0.0.1 too, as in crossed_ports()
    held = []
    while not held:
        port = free_port_on('::1')
        held = hold(('127.0.0.1', port))
    launcher.start(deploy={'http_root': str(root),
                           'external_http_url': 'http://[::1]:%d' % port})
    base = 'http://[::1]:%d' % port
    assert get(base + '/redfish/x.iso').content == b'iso'
    assert get(base + '/other').status_code == 404
    assert refused('127.0.0.1', port)
    held[0].close()
