"""Fault soak: check-ins and messages while processes die, on PostgreSQL.

Bounded to a few minutes; prints one summary table and writes the results
to var/soak/results.json (--write-doc also writes them into the table of
doc/reliability.rst).

    scripts/soak [--members 400] [-c 40] [--only PHASE ...] [--write-doc]

Phases:

worker-kill
    gunicorn with 2 web workers on a fresh database; every member checks in
    once (kiosk QR, a client UUID of its own) while a web worker is killed
    (SIGKILL) four times during the burst; one client in ten gives up on
    its first request without reading the answer.  A client retries with
    the same client UUID after a lost connection or a 503 and takes a 409
    ``already_checked_in`` naming its check-in as the acknowledgement.
postgres-restart
    The same burst against a PostgreSQL cluster of its own (initdb in a
    temporary directory) restarted (``pg_ctl restart -m fast``) during the
    burst; the web workers are not restarted: they must recover by
    themselves.
messages
    scripts/soak_messages.py: the outbox sender killed while it sends.

Every check-in phase then checks in the database: each member has exactly
one attendance and one points line, balances equal their ledger, every
acknowledged check-in is there, no answer was a 500 or carried a stack
trace, and every error answer was an API error object.
"""
import argparse
import collections
import datetime as dt
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, '.venv', 'bin')
PYTHON = os.path.join(VENV, 'python')
OUT = os.path.join(ROOT, 'var', 'soak')
DOC = os.path.join(ROOT, 'doc', 'reliability.rst')
STACK_MARKERS = ['Traceback', 'File "/', 'psycopg', 'trytond/']
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

from bench_checkin import free_port, stop, wait_port  # noqa: E402


def log(*args):
    print('soak:', *args, file=sys.stderr, flush=True)


def server_env(uri, database):
    env = dict(os.environ,
        TRYTOND_CONFIG=os.path.join(ROOT, 'tryton.conf'),
        TRYTOND_DATABASE__URI=uri,
        TRYTOND_DATABASE_NAMES=database,
        TRYTOND_CACHE__CLEAN_TIMEOUT='0')
    env.setdefault('TRYTOND_MINIPROGRAM__JWT_SECRET', os.urandom(32).hex())
    env.pop('TRYTOND_DATABASE__PATH', None)
    return env


def prepare(env, uri, database, members, tmp):
    "A fresh database with an open event and members; return the run"
    log("creating the database", database)
    subprocess.run([PYTHON, os.path.join(ROOT, 'scripts', 'create_db.py'),
            database, '--uri', uri, '--drop'], env=env, check=True,
        stdout=subprocess.DEVNULL)
    run_file = os.path.join(tmp, 'run.json')
    subprocess.run([PYTHON,
            os.path.join(ROOT, 'scripts', 'bench_checkin_project.py'),
            'setup', database, str(members), run_file], env=env, check=True)
    with open(run_file) as f:
        return run_file, json.load(f)


def start_web(env, port, tmp, workers=2):
    return subprocess.Popen([os.path.join(VENV, 'gunicorn'),
            '--config', os.path.join(ROOT, 'scripts', 'gunicorn.conf.py'),
            '--workers', str(workers), '--bind', '127.0.0.1:%s' % port,
            '--graceful-timeout', '10', 'trytond.application:app'],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(tmp, 'gunicorn.log'), 'a'))


def children(pid):
    "The process ids of the children of pid"
    found = []
    for task in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/children' % (pid, task)) as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return found


class Burst:
    """Every member checks in once, retrying with its client UUID until the
    check-in is acknowledged (or the deadline)"""

    def __init__(self, port, database, run, concurrency, deadline=150):
        self.port = port
        self.path = '/%s/mp/v1/checkins' % database
        self.run = run
        self.concurrency = concurrency
        self.deadline = time.monotonic() + deadline
        self.uuids = [str(uuid.uuid4()) for _ in run['members']]
        self.lock = threading.Lock()
        self.statuses = collections.Counter()
        self.outcomes = collections.Counter()
        self.acked = {}  # member index: attendance id
        self.bad = []  # answers that are not API error objects
        self.samples = {}  # an answer of each kind of error
        self.done = 0
        self.attempts = 0

    def body(self, i):
        window = str(int(time.time()) // self.run['qr_window'])
        lat, lon = self.run['positions'][i]
        return json.dumps({'qr_token': self.run['qr_tokens'][window],
                'lat': lat, 'lon': lon, 'client_uuid': self.uuids[i]})

    def post(self, i, read=True):
        """Send the check-in of i and return the status and the text of the
        answer, or go away without reading it"""
        connection = http.client.HTTPConnection(
            '127.0.0.1', self.port, timeout=30)
        try:
            connection.request('POST', self.path, self.body(i), {
                    'Authorization': 'Bearer ' + self.run['jwts'][i],
                    'Content-Type': 'application/json'})
            if not read:
                time.sleep(0.05)
                return None, None
            response = connection.getresponse()
            return response.status, response.read().decode(
                'utf-8', 'replace')
        finally:
            connection.close()

    def abandon(self, i):
        "Send the check-in of i and go away without reading the answer"
        try:
            self.post(i, read=False)
        except (OSError, http.client.HTTPException):
            pass
        with self.lock:
            self.attempts += 1
            self.outcomes['abandoned by the client'] += 1

    def check_in(self, i):
        if i % 10 == 0:
            # One client in ten gives up on its first request (a timeout)
            # and sends it again: the retry must not create another one
            self.abandon(i)
        while time.monotonic() < self.deadline:
            with self.lock:
                self.attempts += 1
            try:
                status, text = self.post(i)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.outcomes['connection lost (%s)'
                        % type(e).__name__] += 1
                time.sleep(0.2)
                continue
            with self.lock:
                self.statuses[status] += 1
            try:
                answer = json.loads(text)
            except ValueError:
                answer = None
            error = (answer or {}).get('error') if isinstance(
                answer, dict) else None
            if status >= 400 and (not isinstance(error, dict)
                    or not error.get('code') or not error.get('message')
                    or any(m in text for m in STACK_MARKERS)):
                with self.lock:
                    self.bad.append((status, text[:200]))
            if status == 201:
                with self.lock:
                    self.acked[i] = answer['checkin']['id']
                    self.outcomes['created'] += 1
                return
            code = error.get('code') if error else None
            if status == 409 and code == 'already_checked_in':
                # The answer to a retry of a check-in that was committed
                with self.lock:
                    self.acked[i] = error['details']['checkin']['id']
                    self.outcomes['already checked in (retry)'] += 1
                return
            with self.lock:
                self.outcomes['%s %s' % (status, code)] += 1
                self.samples.setdefault(
                    '%s %s' % (status, code), text[:300])
            if status in {500, 502, 503, 504}:
                time.sleep(0.2)
                continue
            return  # a refusal: not retried

    def worker(self, queue):
        while True:
            with self.lock:
                if not queue:
                    return
                i = queue.pop()
            self.check_in(i)
            with self.lock:
                self.done += 1

    def start(self):
        queue = list(range(len(self.run['members'])))[::-1]
        self.threads = [threading.Thread(target=self.worker, args=(queue,))
            for _ in range(self.concurrency)]
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()

    def wait_done(self, fraction):
        "Wait until fraction of the members are done"
        n = len(self.run['members'])
        while self.done < fraction * n and any(
                t.is_alive() for t in self.threads):
            time.sleep(0.01)

    def join(self):
        for thread in self.threads:
            thread.join()
        self.wall = time.monotonic() - self.started

    def result(self):
        return {
            'members': len(self.run['members']),
            'requests': self.attempts,
            'statuses': {str(k): v for k, v in sorted(self.statuses.items())},
            'outcomes': dict(self.outcomes),
            'acknowledged': len(self.acked),
            'answers_500': self.statuses[500],
            'non_api_errors': len(self.bad),
            'non_api_error_samples': self.bad[:3],
            'error_samples': self.samples,
            'seconds': round(self.wall, 1),
            }


def verify(env, database, run_file, burst, tmp, connect):
    "Check the database against the acknowledged check-ins"
    acked_file = os.path.join(tmp, 'acked.json')
    with open(acked_file, 'w') as f:
        json.dump([[burst.run['event_id'], burst.run['members'][i]]
                for i in burst.acked], f)
    out = subprocess.run([PYTHON,
            os.path.join(ROOT, 'scripts', 'bench_checkin_project.py'),
            'verify', database, run_file, acked_file], env=env, check=True,
        capture_output=True, text=True)
    check = json.loads(out.stdout)
    # The attendance acknowledged to each member is the one recorded
    import psycopg
    with psycopg.connect(dbname=database, **connect) as conn:
        recorded = dict(conn.execute(
                'SELECT member, id FROM checkin_attendance '
                'WHERE event = %s AND counted', (burst.run['event_id'],)))
    check['acknowledged ids different from the record'] = sum(
        1 for i, id_ in burst.acked.items()
        if recorded.get(burst.run['members'][i]) != id_)
    return check


def checkin_phase(name, args, uri, database, connect, fault):
    "A check-in burst with fault(server, burst) run beside it"
    tmp = tempfile.mkdtemp(prefix='soak-')
    env = server_env(uri, database)
    try:
        run_file, run = prepare(env, uri, database, args.members, tmp)
        port = free_port()
        server = start_web(env, port, tmp)
        try:
            wait_port(port, server)
            burst = Burst(port, database, run, args.c)
            burst.start()
            faults = fault(server, burst)
            burst.join()
        finally:
            stop(server)
        result = burst.result()
        result['faults'] = faults
        check = verify(env, database, run_file, burst, tmp, connect)
        result['check'] = check
        n = len(run['members'])
        result['lost'] = check['acknowledged but missing']
        result['duplicated'] = (check['attendance rows']
            - check['distinct event members']) + (
            check['points lines'] - check['distinct line origins'])
        result['ok'] = bool(check['ok'] and result['acknowledged'] == n
            and check['attendance rows'] == n
            and not check['acknowledged ids different from the record']
            and not result['answers_500'] and not result['non_api_errors'])
        with open(os.path.join(tmp, 'gunicorn.log')) as f:
            log_text = f.read()
        result['secrets_in_log'] = sum(log_text.count(t)
            for t in run['jwts'][:50] + [env[
                    'TRYTOND_MINIPROGRAM__JWT_SECRET']])
        result['ok'] = result['ok'] and not result['secrets_in_log']
        result['phase'] = name
        # The server's log, for the failures
        os.makedirs(OUT, exist_ok=True)
        shutil.copy(os.path.join(tmp, 'gunicorn.log'),
            os.path.join(OUT, '%s-server.log' % name))
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def kill_workers(server, burst):
    "SIGKILL a web worker at 20, 40, 60 and 80 % of the burst"
    faults = []
    for fraction in [0.2, 0.4, 0.6, 0.8]:
        burst.wait_done(fraction)
        workers = children(server.pid)
        if not workers:
            continue
        os.kill(workers[0], signal.SIGKILL)
        faults.append('%d %%' % (fraction * 100))
        log('web worker %s killed at %s' % (workers[0], faults[-1]))
    return faults


def as_postgres(command):
    "Run command as the postgres user when running as root"
    if os.geteuid() == 0:
        return ['runuser', '-u', 'postgres', '--'] + command
    return command


def pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for version in sorted(os.listdir('/usr/lib/postgresql'), reverse=True):
        path = os.path.join('/usr/lib/postgresql', version, 'bin', name)
        if os.path.exists(path):
            return path
    raise RuntimeError("%s not found" % name)


class Cluster:
    "A PostgreSQL cluster of its own, in a temporary directory"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='soak-pg-')
        self.data = os.path.join(self.dir, 'data')
        self.port = free_port()
        self.log = os.path.join(self.dir, 'postgresql.log')
        if os.geteuid() == 0:
            shutil.chown(self.dir, 'postgres', 'postgres')
        subprocess.run(as_postgres([pg_bin('initdb'), '-D', self.data,
                    '-U', 'postgres', '--auth=trust', '-E', 'UTF8',
                    '--no-sync']),
            check=True, stdout=subprocess.DEVNULL)
        self.options = ('-c listen_addresses=127.0.0.1 -p %s -k %s '
            '-c fsync=on -c max_connections=50' % (self.port, self.dir))
        self.ctl('start')

    def ctl(self, action, *extra):
        subprocess.run(as_postgres([pg_bin('pg_ctl'), action, '-D',
                    self.data, '-w', '-t', '60', '-l', self.log,
                    '-o', self.options] + list(extra)),
            check=True, stdout=subprocess.DEVNULL)

    @property
    def uri(self):
        return 'postgresql://postgres@127.0.0.1:%s/' % self.port

    def close(self):
        try:
            self.ctl('stop', '-m', 'immediate')
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def restart_postgres(cluster):
    def fault(server, burst):
        burst.wait_done(0.3)
        t0 = time.monotonic()
        cluster.ctl('restart', '-m', 'fast')
        text = 'PostgreSQL restarted at 30 %% (%.1f s)' % (
            time.monotonic() - t0)
        log(text)
        return [text]
    return fault


def messages_phase(args):
    out = subprocess.run([PYTHON,
            os.path.join(ROOT, 'scripts', 'soak_messages.py'),
            '--messages', str(args.messages), '--kills', '3'],
        capture_output=True, text=True)
    sys.stderr.write(out.stderr[-4000:])
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {'ok': False, 'error': 'no result (exit %s)'
            % out.returncode}
    result['phase'] = 'messages'
    result['ok'] = bool(result.get('ok')) and out.returncode == 0
    return result


def connect_args(uri):
    "The psycopg.connect arguments of the server of uri"
    from urllib.parse import urlsplit
    parts = urlsplit(uri)
    args = {}
    if parts.hostname:
        args['host'] = parts.hostname
    if parts.port:
        args['port'] = parts.port
    if parts.username:
        args['user'] = parts.username
    return args


PHASES = ['worker-kill', 'postgres-restart', 'messages']


def summary_rows(results):
    "(fault, load, result, ok) per phase"
    rows = []
    for r in results:
        if r['phase'] == 'messages':
            load = '%s messages, fake WeChat' % r.get('messages')
            outcome = ('%s kills; sent %s, lost %s, duplicates %s '
                '(bound %s, logged %s)' % (r.get('kills'), r.get('sent'),
                    r.get('lost'), r.get('duplicates'),
                    r.get('duplicates_bound'), r.get('duplicates_logged')))
            fault = "outbox sender killed (SIGKILL) mid-send"
        else:
            load = '%s members, %s requests, %s s' % (
                r['members'], r['requests'], r['seconds'])
            outcome = ('acknowledged %s, lost %s, duplicated %s, 500s %s, '
                'non-API errors %s, secrets in log %s; answers %s; %s' % (
                    r['acknowledged'], r['lost'], r['duplicated'],
                    r['answers_500'], r['non_api_errors'],
                    r['secrets_in_log'], ', '.join(
                        '%s×%s' % (v, k) for k, v in r['statuses'].items()),
                    ', '.join('%s: %s' % (k, v)
                        for k, v in sorted(r['outcomes'].items())
                        if k != 'created')))
            if r['phase'] == 'worker-kill':
                fault = 'a web worker killed (SIGKILL) at %s' % (
                    ', '.join(r['faults']) or 'no time')
            else:
                fault = '; '.join(r['faults']) or 'none'
        rows.append((r['phase'], fault, load, outcome,
                'pass' if r['ok'] else 'FAIL'))
    return rows


def rst_table(rows, header):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = '  '.join('=' * w for w in widths)
    out = [line, '  '.join(h.ljust(w) for h, w in zip(header, widths)), line]
    for row in rows:
        out.append('  '.join(str(c).ljust(w) for c, w in zip(row, widths)))
    out.append(line)
    return '\n'.join(x.rstrip() for x in out)


HEADER = ('Phase', 'Fault', 'Load', 'Result', '')
BEGIN, END = '.. soak-results-begin', '.. soak-results-end'


def write_doc(results, stamp):
    with open(DOC) as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    table = rst_table(summary_rows(results), HEADER)
    block = '%s\n\nLast run: %s (``scripts/soak --write-doc``).\n\n%s\n\n' % (
        BEGIN, stamp, table)
    with open(DOC, 'w') as f:
        f.write(head + block + END + tail)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--members', type=int, default=400)
    parser.add_argument('-c', type=int, default=40, help="concurrency")
    parser.add_argument('--messages', type=int, default=300)
    parser.add_argument('--uri', default=os.environ.get(
            'TRYTOND_DATABASE__URI', 'postgresql://127.0.0.1:5432/'))
    parser.add_argument('--only', nargs='+', choices=PHASES)
    parser.add_argument('--write-doc', action='store_true')
    args = parser.parse_args()
    phases = args.only or PHASES
    results = []
    started = time.monotonic()
    if 'worker-kill' in phases:
        results.append(checkin_phase('worker-kill', args, args.uri,
                'soak_checkin', connect_args(args.uri), kill_workers))
    if 'postgres-restart' in phases:
        cluster = Cluster()
        try:
            results.append(checkin_phase('postgres-restart', args,
                    cluster.uri, 'soak_restart',
                    connect_args(cluster.uri),
                    restart_postgres(cluster)))
        finally:
            cluster.close()
    if 'messages' in phases:
        results.append(messages_phase(args))
    stamp = dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'results.json'), 'w') as f:
        json.dump({'date': stamp, 'results': results}, f, indent=1)
    print(rst_table(summary_rows(results), HEADER))
    ok = all(r['ok'] for r in results)
    print('soak: %s in %.0f s (details: var/soak/results.json)' % (
            'all phases passed' if ok else 'FAILED',
            time.monotonic() - started))
    if args.write_doc:
        write_doc(results, stamp)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
