"""
pg_cluster.py - a throw-away PostgreSQL cluster for the PostgreSQL store's
tests: initdb into a fresh directory as the `postgres` user (initdb refuses
root), a server on a Unix socket in that directory only (no TCP), stopped
by the PID in postmaster.pid and removed.  From pytest (Cluster) or as a
CLI: `pg_cluster.py start DIR` prints the URL, `pg_cluster.py stop DIR`,
`pg_cluster.py run -- CMD...` runs CMD with LB_TEST_DB_URL set.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

BIN = '/usr/lib/postgresql/15/bin'
USER = 'lifeboat'
DB = 'lifeboat'


def _as_owner(argv):
    if os.geteuid() == 0:
        return ['runuser', '-u', 'postgres', '--'] + argv
    return argv


def available():
    return os.path.exists(os.path.join(BIN, 'initdb'))


class Cluster:
    def __init__(self, directory, port=5432):
        self.dir = os.path.abspath(directory)
        self.port = port

    @property
    def url(self):
        return 'postgresql://%s@/%s?host=%s&port=%d' % (
            USER, DB, self.dir, self.port)

    def start(self, timeout=60):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if os.geteuid() == 0:
            shutil.chown(self.dir, 'postgres', 'postgres')
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                     check=True)
        subprocess.run(_as_owner([
            BIN + '/initdb', '-D', self.dir, '-A', 'trust', '-U', USER,
            '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']), **quiet)
        opts = "-k %s -p %d -c listen_addresses='' -c fsync=off" % (
            self.dir, self.port)
        subprocess.run(_as_owner([
            BIN + '/pg_ctl', '-D', self.dir, '-o', opts, '-l',
            os.path.join(self.dir, 'server.log'), '-w', '-t', str(timeout),
            'start']), **quiet)
        subprocess.run(_as_owner([
            BIN + '/createdb', '-h', self.dir, '-p', str(self.port), '-U',
            USER, DB]), **quiet)
        return self.url

    def pid(self):
        try:
            with open(os.path.join(self.dir, 'postmaster.pid')) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=30):
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGINT)   # "fast" shutdown
            except ProcessLookupError:
                pid = None
            deadline = time.monotonic() + timeout
            while pid is not None and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


_databases = 0


def new_database(url, template=None):
    """A new database in the cluster of 'url' (this file's form:
    postgresql://USER@/DB?host=DIR&port=N): empty, or a copy of the
    database of the URL 'template' (nothing may be connected to it); its
    URL."""
    import urllib.parse
    global _databases
    _databases += 1
    u = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(u.query))
    name = 'lb_%d_%d' % (os.getpid(), _databases)
    copy = []
    if template is not None:
        copy = ['-T', urllib.parse.urlsplit(template).path.lstrip('/')]
    subprocess.run([BIN + '/createdb', '-h', q['host'], '-p',
                    q.get('port', '5432'), '-U', u.username] + copy + [name],
                   check=True, capture_output=True, timeout=30)
    return urllib.parse.urlunsplit(u._replace(path='/' + name))


def run(cmd):
    """cmd with LB_TEST_DB_URL naming a fresh cluster, stopped after."""
    import tempfile
    c = Cluster(tempfile.mkdtemp(prefix='lb-pg-', dir='/tmp'))
    try:
        env = dict(os.environ, LB_TEST_DB_URL=c.start())
        return subprocess.run(cmd, env=env).returncode
    finally:
        c.stop()


def main(argv):
    if len(argv) > 2 and argv[1] == 'run':
        return run(argv[3:] if argv[2] == '--' else argv[2:])
    if len(argv) < 3 or argv[1] not in ('start', 'stop'):
        print('usage: pg_cluster.py start|stop DIR [PORT] | run -- CMD...',
              file=sys.stderr)
        return 2
    c = Cluster(argv[2], int(argv[3]) if len(argv) > 3 else 5432)
    if argv[1] == 'start':
        print(c.start())
    else:
        c.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
