"""``lifeboatd --config-file F --check``: validate and exit.

A bad file: exit 1 and one "FILE:LINE: message" line per mistake, all of
them (not just the first).  A good file: exit 0.  Neither starts a server
or touches the state directory.
"""

import re
import sqlite3
import subprocess

import pytest

from conftest import LIFEBOATD, free_port


def check(path):
    p = subprocess.run([LIFEBOATD, '--config-file', str(path), '--check'],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def error_lines(path, out, err):
    """The "FILE:LINE: message" lines of the output."""
    pattern = re.compile(r'%s:\d+: ' % re.escape(str(path)))
    return [l for l in (out + err).splitlines() if pattern.match(l)]


def test_two_mistakes_both_reported(tmp_path):
    state = tmp_path / 'state'
    conf = tmp_path / 'bad.conf'
    conf.write_text(
        '[DEFAULT]\n'                               # 1
        'state_path = %s\n'                         # 2
        'log_level = verbose\n'                     # 3  <- not a level
        '\n'                                        # 4
        '[api]\n'                                   # 5
        'host_ip = 127.0.0.1\n'                     # 6
        'port = 99999\n' % state)                   # 7  <- out of range
    rc, out, err = check(conf)
    assert rc == 1, (out, err)
    lines = error_lines(conf, out, err)
    assert len(lines) == 2, (out, err)
    assert re.fullmatch(r'%s:3: .*log_level.*verbose.*' % re.escape(str(conf)),
                        lines[0]), lines
    assert re.fullmatch(r'%s:7: .*port.*99999.*' % re.escape(str(conf)),
                        lines[1]), lines
    assert not state.exists()


def test_syntax_and_unknown_names(tmp_path):
    conf = tmp_path / 'bad2.conf'
    conf.write_text(
        '[DEFAULT]\n'                               # 1
        'no_such_option = 1\n'                      # 2
        '[api]\n'                                   # 3
        'port = abc\n'                              # 4
        'this line has no equals sign\n')           # 5
    rc, out, err = check(conf)
    assert rc == 1
    lines = error_lines(conf, out, err)
    assert [l.split(':')[1] for l in lines] == ['2', '4', '5'], (out, err)
    assert 'no_such_option' in lines[0]
    assert 'abc' in lines[1]


def test_good_file(tmp_path):
    state = tmp_path / 'state'
    conf = tmp_path / 'good.conf'
    conf.write_text(
        '[DEFAULT]\n'
        'state_path = %s\n'
        'log_level = debug\n'
        'host = test-conductor\n'
        'auth_strategy = noauth\n'
        '[api]\n'
        'host_ip = 127.0.0.1\n'
        'port = %d\n'
        '[oslo_middleware]\n'
        'max_request_body_size = 1048576\n' % (state, free_port()))
    rc, out, err = check(conf)
    assert rc == 0, (out, err)
    assert error_lines(conf, out, err) == []
    assert not state.exists()


def test_missing_file(tmp_path):
    rc, out, err = check(tmp_path / 'nope.conf')
    assert rc == 1
    assert str(tmp_path / 'nope.conf') in err


def test_example_config_passes_check(tmp_path):
    # Every option commented out with its default: a valid file.
    example = subprocess.run([LIFEBOATD, '--example-config'],
                             capture_output=True, text=True, timeout=30)
    assert example.returncode == 0
    conf = tmp_path / 'example.conf'
    conf.write_text(example.stdout)
    rc, out, err = check(conf)
    assert rc == 0, (out, err)


def test_database_connection_is_used(launcher, tmp_path):
    """A configured [database] connection is the database the daemon uses
    (its directory made if missing), not the default under state_path; data
    written there survives a restart."""
    db = tmp_path / 'elsewhere' / 'db' / 'lb.sqlite'
    for url in ('sqlite:///%s' % db, 'sqlite:////%s' % str(db).lstrip('/')):
        d = launcher.start(database={'connection': url})
        conf = d.config_path
        rc, out, err = check(conf)
        assert rc == 0, (out, err)
        name = 'db-%d' % len(launcher.daemons)
        d.create_node(name=name)
        d.stop()
        assert db.is_file()
        assert not (d.state_path / 'lifeboat.sqlite').exists()
        rows = sqlite3.connect('file:%s?mode=ro' % db, uri=True).execute(
            'SELECT name FROM nodes').fetchall()
        assert (name,) in rows, rows
        d.start()
        assert d.get('/v1/nodes/' + name).status_code == 200
        d.stop()


def postgresql_built():
    """Whether this lifeboatd has the PostgreSQL store (meson option)."""
    import tempfile
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as f:
        f.write('[database]\nconnection = postgresql://x@/x?host=/nowhere\n')
        f.flush()
        rc, out, err = check(f.name)
    return 'known but not built' not in out + err


PG = postgresql_built()
BUILT_IN = 'sqlite, postgresql' if PG else 'sqlite'


@pytest.mark.parametrize('url, why', [
    ('postgresql://lb:hunter2pw@db.example/lifeboat?sslmode=on', 'PostgreSQL '
     'URL parameters other than host and port are not supported') if PG else
    ('postgresql://lb:hunter2pw@db.example/lifeboat',
     'the PostgreSQL store is known but not built into this lifeboatd'),
    ('postgresql://lb:hunter2pw@db.example:99999/x',
     'the PostgreSQL port must be a number from 1 to 65535') if PG else
    ('postgresql+psycopg2://lb:hunter2pw@db.example/x',
     'the PostgreSQL store is known but not built into this lifeboatd'),
    ('mysql+pymysql://lb:hunter2pw@db.example/x',
     r'not a sqlite:///PATH URL \(the stores built in: %s\)' % BUILT_IN),
    ('sqlite:///:memory:', 'an in-memory database would lose every node '
     'at restart; name a file'),
    ('sqlite://hunter2pw@host/x.db',
     r'a SQLite URL names a file: sqlite:///PATH \(no host\)'),
    ('sqlite:///tmp/x.db?mode=memory',
     'SQLite URL parameters are not supported'),
])
def test_check_refuses_what_startup_refuses(tmp_path, url, why):
    """--check and start-up read the URL with the same parser: each refuses
    it with the same reason, and neither shows the URL (it may hold a
    password) nor creates anything."""
    state = tmp_path / 'state'
    conf = tmp_path / 'db.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n[api]\nhost_ip = 127.0.0.1\n'
                    'port = %d\n[database]\nconnection = %s\n'
                    % (state, free_port(), url))
    rc, out, err = check(conf)
    assert rc == 1, (out, err)
    assert error_lines(conf, out, err) == [
        l for l in (out + err).splitlines() if l.strip()], (out, err)
    assert re.fullmatch(r'%s:7: \[database\] connection: value is not '
                        r'usable: %s' % (re.escape(str(conf)), why),
                        error_lines(conf, out, err)[0]), (out, err)
    assert 'hunter2pw' not in out + err
    assert not state.exists()
    p = subprocess.run([LIFEBOATD, '--config-file', str(conf)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    assert re.search(why, p.stdout + p.stderr), p.stderr
    assert 'hunter2pw' not in p.stdout + p.stderr


@pytest.mark.parametrize('option, value, why', [
    ('external_http_url', 'https://192.0.2.1:8443',
     "is an https:// URL: lifeboatd serves http_root itself, over plain "
     "http:// only"),
    ('external_http_url', 'http://192.0.2.1:8088/isos',
     "has a path, query or fragment: lifeboatd serves http_root at the "
     "URL's root"),
    ('external_http_url', 'http://192.0.2.1:70000', 'has a bad port'),
    ('external_http_url', 'http://fd00::1:8088',
     r'has an IPv6 host without \[brackets\]'),
    ('external_http_url', 'http://admin:pw@192.0.2.1',
     'holds a user name: the HTTP boot root takes no credentials'),
    ('http_url', 'https://10.0.0.1:8088',
     "is an https:// URL: lifeboatd serves http_root itself, over plain "
     "http:// only"),
    ('http_url', 'http:///x', 'has no host'),
])
def test_check_refuses_bad_http_urls(tmp_path, option, value, why):
    """[deploy] http_url and external_http_url go through the HTTP boot
    server's own URL parser: --check refuses what it could not listen on
    or what no client could fetch from, with the line and the reason, and
    start-up refuses the same."""
    state = tmp_path / 'state'
    conf = tmp_path / 'urls.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n[api]\nhost_ip = 127.0.0.1\n'
                    'port = %d\n[deploy]\n%s = %s\n'
                    % (state, free_port(), option, value))
    rc, out, err = check(conf)
    assert rc == 1, (out, err)
    lines = error_lines(conf, out, err)
    assert len(lines) == 1, (out, err)
    assert re.fullmatch(r'%s:7: \[deploy\] %s: %s %s' % (
        re.escape(str(conf)), option, re.escape("'%s'" % value), why),
        lines[0]), lines
    p = subprocess.run([LIFEBOATD, '--config-file', str(conf)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1
    assert lines[0] in p.stderr, p.stderr
    assert not state.exists()


def test_check_refuses_clashing_http_urls(tmp_path):
    """A host name is served on every address: with the other URL on the
    same port the two sockets cannot both be bound, which --check says
    before start-up would fail on it.  Two addresses, or two ports, pass."""
    conf = tmp_path / 'clash.conf'
    base = ('[DEFAULT]\nstate_path = %s\n[api]\nhost_ip = 127.0.0.1\n'
            '[deploy]\n' % (tmp_path / 'state'))
    conf.write_text(base + 'http_url = http://10.0.0.1:8088\n'
                    'external_http_url = http://lifeboat.mgmt.example:8088\n')
    rc, out, err = check(conf)
    assert rc == 1, (out, err)
    assert ('[deploy] external_http_url: lifeboatd cannot listen on port '
            '8088 of 10.0.0.1 and of every address at once; use two IP '
            'addresses, two ports or one URL') in err, err
    for ext in ('http://192.168.0.1:8088', 'http://lifeboat.example:8089',
                'http://10.0.0.1:8088/'):
        conf.write_text(base + 'http_url = http://10.0.0.1:8088\n'
                        'external_http_url = %s\n' % ext)
        rc, out, err = check(conf)
        assert rc == 0, (ext, out, err)
