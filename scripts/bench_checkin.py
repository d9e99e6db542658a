"""Check-in burst benchmark: the project's API against the reference server
of ../shared/bench, in the same run, on PostgreSQL.

For each side: a fresh database, an open event with a rotating QR code and
M members with access tokens, N gunicorn web workers, one burst of M
check-ins (one per member, real kiosk QR tokens, positions inside the
radius) at concurrency C from the same generator, then a check in the
database that every acknowledged check-in exists exactly once with its
points line and exact balances.  Prints one table and the ratio
project/reference.

    scripts/bench_checkin [-n 1000] [-c 100] [-w 2] [--dup] [--no-reference]
                          [--sync [--events 50]] [--wrk] [--rounds 1]
                          [--floor [rules]]

--sync: the offline-sync variant on the project's side: --events open events
and one checkins/sync batch per member with one item per event (n x events
check-ins); the reference, which has no sync route, serves the same number
of members with single check-ins and the ratio compares check-ins/s.

--rounds K: both servers set up once with K x M members, then K bursts of
M check-ins to each side, the sides in turn and each first in turn; the
ratios of each round and their median (the CPU of the same code moves by
a third between runs on a virtual machine).

--floor: the project's workers answer the QR check-ins by
scripts/checkin_floor.py, the same statement without the Python around it
(a measurement of how far a check-in without records could go, not the
project's check-in; its rows are checked as the project's); --floor
rules: the same with the project's rules of the attempt.

--wrk: the burst is sent by Debian's wrk (installed with apt-get when
missing) instead of the Python generator, whose own CPU hides the gap
between the two sides on two cores.

Both sides reach PostgreSQL on the same transport, the local unix socket
(--uri and LIMIT_DSN change it).  Per side, the table also gives the CPU
time per check-in of the server's processes (app) and of the PostgreSQL
backends of its database (pg), read from /proc around the burst, and the
SQL statements per check-in when PostgreSQL has pg_stat_statements loaded
(shared_preload_libraries; --enable-pg-stat-statements sets it and
restarts PostgreSQL, once).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from statistics import median

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BENCH_REFERENCE: the reference of a checkout elsewhere than beside
# ../shared (a git worktree in /work/wt/<branch>)
BENCH = os.environ.get('BENCH_REFERENCE') or os.path.normpath(
    os.path.join(ROOT, '..', 'shared', 'bench'))
VENV = os.path.join(ROOT, '.venv', 'bin')
BENCH_VENV = os.path.join(ROOT, 'var', 'bench-venv')
BENCH_PACKAGES = ['werkzeug', 'psycopg2-binary', 'pyjwt', 'gunicorn',
    'aiohttp']


def log(*args):
    print('bench:', *args, file=sys.stderr, flush=True)


def bench_venv():
    "A venv for the reference server and the generator"
    python = os.path.join(BENCH_VENV, 'bin', 'python')
    stamp = os.path.join(BENCH_VENV, '.packages')
    if (not os.path.exists(stamp)
            or open(stamp).read() != ' '.join(BENCH_PACKAGES)):
        log("making", BENCH_VENV)
        subprocess.run([sys.executable, '-m', 'venv', BENCH_VENV],
            check=True)
        subprocess.run([python, '-m', 'pip', 'install', '-q']
            + BENCH_PACKAGES, check=True)
        with open(stamp, 'w') as f:
            f.write(' '.join(BENCH_PACKAGES))
    return python


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_port(port, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            socket.create_connection(('127.0.0.1', port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wrk():
    "The path of wrk, installed from Debian when missing"
    return debian('wrk')


def debian(command, package=None):
    """The path of command, its Debian package (named as command by
    default) installed with apt-get when missing"""
    def found():
        return shutil.which(command) or (
            os.path.exists('/usr/sbin/' + command)
            and '/usr/sbin/' + command)
    if found():
        return found()
    package = package or command
    log("installing %s (apt-get)" % package)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    command_ = ['apt-get', 'install', '-y', '--no-install-recommends',
        package]
    if subprocess.run(command_, env=env,
            stdout=subprocess.DEVNULL).returncode:
        subprocess.run(['apt-get', 'update'], env=env,
            stdout=subprocess.DEVNULL)
        subprocess.run(command_, env=env, check=True,
            stdout=subprocess.DEVNULL)
    if not found():
        raise RuntimeError("%s: not installed by %s" % (command, package))
    return found()


def _connect():
    import psycopg
    return psycopg.connect(dbname='postgres', autocommit=True)


def statements_enabled(enable=False):
    """Tell if pg_stat_statements counts the statements; with enable, load
    it (ALTER SYSTEM and a restart of PostgreSQL) when it is not"""
    with _connect() as conn:
        loaded = 'pg_stat_statements' in conn.execute(
            'SHOW shared_preload_libraries').fetchone()[0]
        if not loaded and enable:
            current = conn.execute(
                'SHOW shared_preload_libraries').fetchone()[0]
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = %s" % (
                    "'%s'" % ','.join(filter(None, [current,
                                    'pg_stat_statements']))))
    if not loaded and enable:
        log("restarting PostgreSQL with pg_stat_statements")
        subprocess.run(['pg_ctlcluster', '--force', _cluster()[0],
                _cluster()[1], 'restart'], check=True)
        return statements_enabled()
    if loaded:
        with _connect() as conn:
            conn.execute('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    return loaded


def _cluster():
    "The version and name of the local PostgreSQL cluster (Debian)"
    with _connect() as conn:
        version = conn.execute('SHOW server_version_num').fetchone()[0]
        name = conn.execute('SHOW cluster_name').fetchone()[0]
    version = str(int(version) // 10000)
    return version, (name.split('/', 1)[1] if '/' in name else 'main')


def statements(database):
    """The statements executed so far in database (pg_stat_statements),
    without the transaction control (BEGIN, COMMIT, ROLLBACK) that every
    transaction sends: the statements of the work"""
    with _connect() as conn:
        return conn.execute(
            'SELECT COALESCE(SUM(s.calls), 0) FROM pg_stat_statements s '
            'JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s '
            "AND s.query !~* '^\\s*(BEGIN|COMMIT|ROLLBACK|START)\\M'",
            (database,)).fetchone()[0]


def wal():
    """The position of the cluster's WAL (its bytes written so far) and its
    checkpoints so far (pg_stat_bgwriter): after a checkpoint, the first
    change of each page writes the whole page, which the CPU figure of the
    backends pays.  (pg_stat_wal counts records and full-page images, but
    the backends of a burst report them late: a burst's figures would be
    wrong.)"""
    with _connect() as conn:
        return conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'), "
            'checkpoints_timed + checkpoints_req '
            'FROM pg_stat_bgwriter').fetchone()


def process_cpu(pids):
    "The CPU seconds (user and system) used so far by each of pids"
    tick = os.sysconf('SC_CLK_TCK')
    used = {}
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    return used


def _group(pgid):
    "The processes of the process group pgid (the server and its workers)"
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry))
    return pids


def _backends(database):
    with _connect() as conn:
        return [pid for pid, in conn.execute(
                'SELECT pid FROM pg_stat_activity WHERE datname = %s',
                (database,))]


class Usage:
    """The CPU of the server's processes and of the PostgreSQL backends of
    its database, and the statements of the database, over a burst"""

    def __init__(self, server, database, count_statements):
        self.server, self.database = server, database
        self.count_statements = count_statements

    def __enter__(self):
        self.app = process_cpu(_group(self.server.pid))
        self.pg = process_cpu(_backends(self.database))
        self.statements = (statements(self.database)
            if self.count_statements else None)
        self.wal = wal()
        return self

    def __exit__(self, *exc):
        app = process_cpu(_group(self.server.pid))
        pg = process_cpu(_backends(self.database))
        self.app = sum(app[p] - self.app.get(p, 0) for p in app)
        self.pg = sum(pg[p] - self.pg.get(p, 0) for p in pg)
        if self.statements is not None:
            self.statements = statements(self.database) - self.statements
        self.wal = [b - a for a, b in zip(self.wal, wal())]

    def figures(self, checkins):
        checkins = max(checkins, 1)
        return {
            'app_ms': round(self.app / checkins * 1000, 2),
            'pg_ms': round(self.pg / checkins * 1000, 2),
            'statements': (round(self.statements / checkins, 1)
                if self.statements is not None else 'n/a'),
            'wal_bytes': round(self.wal[0] / checkins),
            'checkpoints': self.wal[1],
            }


def burst(python, target, url, run_file, args, acked):
    command = [python, os.path.join(ROOT, 'scripts', 'bench_checkin_load.py'),
        target, url, run_file, '-c', str(args.c), '--acked', acked]
    if args.dup:
        command.append('--dup')
    if args.sync and target == 'project':
        command.append('--sync')
    if args.wrk:
        command += ['--wrk', '--wrk-bin', args.wrk_bin]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def measured(server, database, args, *burst_args):
    "The answer of burst() with the CPU and statements of its check-ins"
    with Usage(server, database, args.statements) as usage:
        result = burst(*burst_args)
    # the statements of the created check-ins (a duplicate costs less)
    result.update(usage.figures(result['created'] or result['checkins']))
    return result


class Side:
    """One server of the comparison: started once, then one burst a round,
    each on its own share of the members (the setup makes -n of them per
    round, to the same event), checked once all the rounds are done"""
    target = None

    def __init__(self, python, args, tmp):
        self.python, self.args, self.tmp = python, args, tmp
        self.run_file = os.path.join(tmp, '%s.json' % self.target)
        self.server = self.database = self.url = None
        self.acked = []

    def burst(self, round_):
        "The measured burst of round_ (0 to --rounds - 1)"
        acked = os.path.join(self.tmp, '%s-acked-%d.json' % (
                self.target, round_))
        result = measured(self.server, self.database, self.args,
            self.python, self.target, self.url, self.share(round_),
            self.args, acked)
        self.acked.append(acked)
        return result

    def share(self, round_):
        "The run file of the members of round_"
        if self.args.rounds == 1:
            return self.run_file
        with open(self.run_file) as f:
            run = json.load(f)
        n = self.args.n
        run.update({k: run[k][round_ * n:(round_ + 1) * n]
                for k in ['members', 'jwts', 'positions']}, n=n)
        path = os.path.join(self.tmp, '%s-%d.json' % (self.target, round_))
        with open(path, 'w') as f:
            json.dump(run, f)
        return path

    def all_acked(self):
        """The file of the check-ins acknowledged in every round: the pairs
        (Python generator) or their count (wrk)"""
        acked = []
        for path in self.acked:
            with open(path) as f:
                acked.append(json.load(f))
        if all(isinstance(a, dict) for a in acked):
            merged = {'count': sum(a['count'] for a in acked)}
        else:
            merged = [pair for a in acked for pair in a]
        path = os.path.join(self.tmp, '%s-acked.json' % self.target)
        with open(path, 'w') as f:
            json.dump(merged, f)
        return path

    def stop(self):
        if self.server is not None:
            stop(self.server)


class Reference(Side):
    target = 'reference'

    def __init__(self, python, args, tmp):
        super().__init__(python, args, tmp)
        self.env = dict(os.environ, LIMIT_POOL_SIZE='1')
        self.dsn = self.env.setdefault('LIMIT_DSN',
            'dbname=bench_limit host=/var/run/postgresql')
        self.database = _dsn_database(self.dsn)

    def start(self):
        python, env = self.python, self.env
        subprocess.run([python, 'limit_app.py', 'initdb'], cwd=BENCH,
            env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([python, 'load.py', 'setup',
                '-n', str(self.args.n * self.args.rounds),
                '--dsn', self.dsn, '--run-file', self.run_file], cwd=BENCH,
            env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        self.server = subprocess.Popen([
                os.path.join(BENCH_VENV, 'bin', 'gunicorn'),
                '-w', str(self.args.workers), '-k', 'sync',
                '-b', '127.0.0.1:%s' % port, '--log-level', 'warning',
                'limit_app:application'], cwd=BENCH, env=env,
            start_new_session=True)
        self.url = 'http://127.0.0.1:%s' % port
        wait_port(port, self.server)

    def verify(self, created):
        "The check of the database: {'verified', 'rows'}"
        verify = subprocess.run([self.python, 'load.py', 'verify',
                '--run-file', self.run_file, '--dsn', self.dsn,
                '--expect-ok', str(created)],
            cwd=BENCH, env=self.env, capture_output=True, text=True)
        ok = verify.returncode == 0
        return {'verified': ok, 'rows': created if ok else None}


def _dsn_database(dsn):
    return dict(part.split('=', 1) for part in dsn.split())['dbname']


def warm(url, run, workers, refusals=False):
    """Warm the workers of the API at url up like a server that runs (pool,
    caches): a few requests each, then a check-in of each warm-up member of
    run (the setup's answer) to its own event; with refusals, an error
    answer (in intake mode) is read, not raised"""
    import urllib.error
    import urllib.request
    for _ in range(4 * workers):
        urllib.request.urlopen(url + '/openapi.json').read()
    warmup = run['warmup']
    for token in warmup['jwts']:
        window = str(int(time.time()) // warmup['qr_window'])
        lat, lon = warmup['position']
        request = urllib.request.Request(url + '/checkins',
            data=json.dumps({'qr_token': warmup['qr_tokens'][window],
                    'lat': lat, 'lon': lon}).encode(),
            headers={'Authorization': 'Bearer ' + token,
                'Content-Type': 'application/json'})
        try:
            urllib.request.urlopen(request).read()
        except urllib.error.HTTPError as e:
            if not refusals:
                raise
            e.read()


class Project(Side):
    target = 'project'

    def __init__(self, python, args, tmp):
        super().__init__(python, args, tmp)
        self.database = args.database
        self.env = dict(os.environ,
            TRYTOND_CONFIG=os.path.join(ROOT, 'tryton.conf'),
            TRYTOND_DATABASE__URI=args.uri,
            TRYTOND_DATABASE_NAMES=self.database,
            # As scripts/service and docker-compose.yml: caches invalidated
            # across the workers at once (LISTEN/NOTIFY)
            TRYTOND_CACHE__CLEAN_TIMEOUT='0')
        self.env.setdefault(
            'TRYTOND_MINIPROGRAM__JWT_SECRET', os.urandom(32).hex())
        self.env.pop('TRYTOND_DATABASE__PATH', None)
        if args.floor:
            # Read by scripts/gunicorn_floor.conf.py
            self.env['CHECKIN_FLOOR'] = args.floor
        self.helper = os.path.join(ROOT, 'scripts', 'bench_checkin_project.py')

    def start(self):
        args, env, database = self.args, self.env, self.database
        log("creating the database", database)
        subprocess.run([os.path.join(VENV, 'python'),
                os.path.join(ROOT, 'scripts', 'create_db.py'), database,
                '--uri', args.uri, '--drop'], env=env,
            check=True, stdout=subprocess.DEVNULL)
        subprocess.run([os.path.join(VENV, 'python'), self.helper, 'setup',
                database, str(args.n * args.rounds), self.run_file,
                str(args.events if args.sync else 1)],
            env=env, check=True)
        port = free_port()
        # The command of docker-compose's web service (scripts/service web)
        self.server = subprocess.Popen([os.path.join(VENV, 'gunicorn'),
                '--config', os.path.join(ROOT, 'scripts',
                    'gunicorn_floor.conf.py' if args.floor
                    else 'gunicorn.conf.py'),
                '--workers', str(args.workers),
                '--bind', '127.0.0.1:%s' % port,
                '--graceful-timeout', '30', 'trytond.application:app'],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.tmp, 'gunicorn.log'), 'w'))
        self.url = 'http://127.0.0.1:%s/%s/mp/v1' % (port, database)
        wait_port(port, self.server)
        # Warm every worker up (pool, caches) like a server that runs:
        # check-ins of the warm-up members to their own event
        with open(self.run_file) as f:
            warm(self.url, json.load(f), args.workers)

    def verify(self, created):
        "The check of the database: {'verified', 'rows', 'check'}"
        out = subprocess.run([os.path.join(VENV, 'python'), self.helper,
                'verify', self.database, self.run_file, self.all_acked()],
            env=self.env, check=True, capture_output=True, text=True)
        check = json.loads(out.stdout)
        return {'verified': check['ok'], 'rows': check['attendance rows'],
            'check': check}


def ratios(label, values, form):
    "Print the ratio of each round, and their median when more than one"
    text = ' / '.join(form % v for v in values)
    if len(values) > 1:
        text += ', median ' + form % median(values)
    print("%s: %s" % (label, text))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-n', type=int, default=1000, help="members")
    parser.add_argument('-c', type=int, default=100, help="concurrency")
    parser.add_argument('-w', '--workers', type=int, default=2)
    parser.add_argument('--dup', action='store_true',
        help="duplicate storm: every request twice, concurrently")
    parser.add_argument('--sync', action='store_true',
        help="offline-sync variant: batches via checkins/sync")
    parser.add_argument('--events', type=int, default=50,
        help="events (items per batch) of --sync, at most 100")
    parser.add_argument('--no-reference', action='store_true')
    parser.add_argument('--rounds', type=int, default=1,
        help="bursts per side, each side first in turn, each on -n members "
        "of its own: the ratios of every round and their median")
    import checkin_floor
    checkin_floor.add_option(parser,
        "the project's workers answer by scripts/checkin_floor.py")
    parser.add_argument('--database', default='bench_checkin')
    parser.add_argument('--wrk', action='store_true',
        help="send the burst with wrk (single check-ins)")
    parser.add_argument('--enable-pg-stat-statements', action='store_true',
        help="load pg_stat_statements (restarts PostgreSQL) to count the "
        "statements per check-in")
    # The unix socket, as the reference's LIMIT_DSN: one transport
    parser.add_argument('--uri', default=os.environ.get(
            'TRYTOND_DATABASE__URI', 'postgresql:///'))
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    if args.sync and not 1 <= args.events <= 100:
        parser.error("--events: 1 to 100 (the API's batch limit)")
    if args.floor and (args.sync or args.dup):
        parser.error("--floor answers single first check-ins")
    if args.sync and args.wrk:
        parser.error("--wrk sends single check-ins, not --sync batches")
    args.wrk_bin = wrk() if args.wrk else None
    args.statements = statements_enabled(args.enable_pg_stat_statements)
    if not args.statements:
        log("statements per check-in: n/a (pg_stat_statements is not "
            "loaded; --enable-pg-stat-statements loads it)")
    if args.floor:
        log("project: the floor of scripts/checkin_floor.py (%s), not the "
            "project's check-in" % args.floor)
    python = bench_venv()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        sides = [Project(python, args, tmp)]
        if not args.no_reference:
            sides.append(Reference(python, args, tmp))
        try:
            for side in sides:
                side.start()
            for round_ in range(args.rounds):
                # Each side first in turn: a drift of the machine weighs
                # on both
                order = sides if round_ % 2 == 0 else sides[::-1]
                results = {s.target: s.burst(round_) for s in order}
                rounds.append([results[s.target] for s in sides])
        finally:
            for side in sides:
                side.stop()
        checks = [side.verify(sum(r[i]['created'] for r in rounds))
            for i, side in enumerate(sides)]
    for i, results in enumerate(rounds, 1):
        for result, check in zip(results, checks):
            result.update(check)
            if args.rounds > 1:
                # The rows of all the rounds, checked once
                result['rows'] = '-'
                result['target'] += ' %d' % i
    results = [r for results in rounds for r in results]
    columns = ['target', 'requests', 'checkins', 'rate', 'p50_ms', 'p95_ms',
        'p99_ms', 'max_ms', 'created', 'duplicates', 'errors', 'rows',
        'verified', 'app_ms', 'pg_ms', 'statements']
    print("transport: %s; app_ms, pg_ms: CPU per check-in; statements: "
        "per created check-in%s" % (
            'unix socket' if '@' not in args.uri and '//127' not in args.uri
            and '//localhost' not in args.uri else 'TCP',
            "; wrk's latencies include its tail pings" if args.wrk else ''))
    print('  '.join('%12s' % c for c in columns))
    for result in results:
        print('  '.join('%12s' % result.get(c) for c in columns))
    if args.rounds > 1:
        print("rows, all rounds: %s" % '; '.join(
                '%s %s (%s)' % (side.target, check['rows'],
                    'verified' if check['verified'] else 'NOT verified')
                for side, check in zip(sides, checks)))
    if len(sides) == 2:
        ratios("ratio project/reference (check-ins/s)",
            [p['rate'] / r['rate'] for p, r in rounds], '%.3f')
        cpu = [((p['app_ms'] + p['pg_ms']), (r['app_ms'] + r['pg_ms']))
            for p, r in rounds]
        if all(r for _, r in cpu):
            ratios("CPU per check-in, project/reference",
                [p / r for p, r in cpu], '%.2fx')
            print("  (ms: %s)" % ' / '.join(
                    '%.2f vs %.2f' % c for c in cpu))
        if all(r['p99_ms'] for _, r in rounds):
            ratios("p99, project/reference",
                [p['p99_ms'] / r['p99_ms'] for p, r in rounds], '%.2fx')
    print("WAL per check-in (the whole cluster, during the burst): %s" % (
            '; '.join('%s %s bytes, %s checkpoint(s)' % (
                    r['target'], r['wal_bytes'], r['checkpoints'])
                for r in results)))
    for result in results:
        if result.get('error_kinds'):
            print("%s errors: %s" % (result['target'],
                    result['error_kinds']))
    if 'check' in checks[0]:
        print("project database check: %s" % json.dumps(checks[0]['check']))
    return 0 if all(c['verified'] for c in checks) and not any(
        r['errors'] for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
