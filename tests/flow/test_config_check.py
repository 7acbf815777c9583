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


@pytest.mark.parametrize('url, why', [
    ('postgresql://lb:hunter2pw@db.example/lifeboat',
     'the PostgreSQL store is known but not built into this lifeboatd'),
    ('mysql+pymysql://lb:hunter2pw@db.example/x',
     r'not a sqlite:///PATH URL \(the stores built in: sqlite\)'),
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
