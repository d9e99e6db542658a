"""Profile the check-in route in one process: N members check in to one
open event through `POST /<db>/mp/v1/checkins` (Werkzeug test client, no
network), on the database of TRYTOND_DATABASE_URI (default PostgreSQL on
the local socket).  Prints the wall and CPU time and the SQL statements
per check-in (per duplicate with --dup) and, with --profile, the functions
where the time goes (cProfile, cumulative).

    .venv/bin/python scripts/profile_checkin.py -n 300 --profile

--floor: the check-ins are answered by scripts/checkin_floor.py, the
project's statement without the Python around it (the first of the event
goes the project's way and is captured); a measurement.  --floor rules:
the same with the project's rules of the attempt before the statement.

--phases times the CPU of the thread (time.thread_time) in each function
of PHASES, with what it calls, per check-in: where the CPU goes without
cProfile's cost per call, which weighs on the many small calls (the
timers' own cost, two clock reads per timed call, is in the figures).

--calls counts the Python calls (functions of Python and of C) per
check-in, by the function of the modules nearest on the stack: a figure
that does not depend on the speed of the machine, to compare two versions
of the code where the CPU time of a run varies more than the change (on a
virtual machine, 0.66 to 1.01 ms for the same code in six runs).  Not
with --profile: both would profile the same calls.

PROFILE_SQL=1 prints every statement on stderr (the empty one is the
connection pool's check of the connection it hands out), cut at
PROFILE_SQL_WIDTH characters (300).
"""
import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import pstats
import secrets
import sys
import time

LAT, LON = 31.2304, 121.4737


def backend_pids(database):
    "The process ids of the PostgreSQL backends connected to database"
    if not os.environ['TRYTOND_DATABASE_URI'].startswith('postgresql'):
        return []
    import psycopg
    with psycopg.connect(dbname=database) as conn:
        return [pid for pid, in conn.execute(
                'SELECT pid FROM pg_stat_activity '
                'WHERE datname = %s AND pid != pg_backend_pid()',
                (database,))]


def backends_cpu(pids):
    "The CPU seconds (user and system) used so far by the processes pids"
    from bench_checkin import process_cpu
    return sum(process_cpu(pids).values())


def wal_position():
    """The position of the cluster's WAL (its bytes written so far), or
    None on SQLite"""
    if not os.environ['TRYTOND_DATABASE_URI'].startswith('postgresql'):
        return None
    from bench_checkin import wal
    return wal()[0]


def collected():
    "The number of garbage collections so far, all generations"
    return sum(s['collections'] for s in gc.get_stats())


def count_statements():
    """Count the statements that the PostgreSQL cursors execute and that
    member.prepared.run_alone sends from now on: return the function that
    gives the count so far (None on SQLite)"""
    from trytond import backend
    count = [0]
    if backend.name != 'postgresql':
        return lambda: None
    import psycopg

    from trytond.modules.member import prepared
    Cursor = psycopg.Cursor
    execute = Cursor.execute
    run_alone = prepared.run_alone

    width = int(os.environ.get('PROFILE_SQL_WIDTH', 300))

    def note(sql):
        count[0] += 1
        if os.environ.get('PROFILE_SQL'):
            print('SQL:', str(sql)[:width].replace('\n', ' '),
                file=sys.stderr)

    def counted(self, *args, **kwargs):
        if args:
            note(args[0])
        else:
            count[0] += 1
        return execute(self, *args, **kwargs)

    def counted_alone(connection, text, params):
        # The statements sent alone by libpq
        note(text.decode())
        return run_alone(connection, text, params)
    Cursor.execute = counted
    prepared.run_alone = counted_alone
    return lambda: count[0]


# The members made by setup in this process
_made = [0]


def setup(n):
    from trytond.modules.miniprogram.auth import access_ttl, encode
    from trytond.pool import Pool
    pool = Pool()
    Event = pool.get('checkin.event')
    Member = pool.get('member.member')
    now = dt.datetime.utcnow().replace(microsecond=0)
    event, = Event.create([{
                'name': "Profile", 'kind': 'meeting', 'state': 'open',
                'start': now - dt.timedelta(minutes=5),
                'end': now + dt.timedelta(hours=3),
                'timezone': 'Asia/Shanghai', 'latitude': LAT,
                'longitude': LON, 'radius': 500, 'methods': ['qr'],
                'policy': 'reject', 'points': 10, 'qr_window': 3600,
                }])
    # Phones of their own to the members of each setup of the process
    stamp = int(time.time()) + _made[0]
    _made[0] += n
    members = Member.create([{
                'name': "Member %s" % i,
                'phone': '+86139%08d' % ((stamp + i) % 10 ** 8),
                } for i in range(n)])
    tokens = [encode(m.id, 'access', access_ttl())[0] for m in members]
    return event.id, event.current_token(), tokens


# The functions of the check-in timed by --phases: (model, method) of the
# pool or (module, function) of trytond.modules
PHASES = [
    ('miniprogram.api', '_answer_early'),
    ('miniprogram.routes', '_early_checkin'),
    ('miniprogram.routes', '_intake_checkin'),
    ('miniprogram.checkin.intake', 'check_request'),
    ('miniprogram.checkin.intake', 'receive'),
    ('miniprogram.auth', 'api_user_id'),
    ('miniprogram.auth', 'header_member'),
    ('miniprogram.api', 'parse_body'),
    ('miniprogram.api', '_after_commit'),
    ('checkin.attendance', 'duplicate_query'),
    ('checkin.attendance', 'check_in_first'),
    ('checkin.attendance', '_attempt'),
    ('checkin.attendance', '_insert'),
    ('checkin.attendance', '_inserted_result'),
    ('member.points.line', '_post_entries'),
    ('member.points.line', '_post_values'),
    ('member.points.line', '_post_one_statement'),
    ('member.prepared', 'execute'),
    ('member.prepared', 'fetch_alone'),
    ('member.prepared', 'run_alone'),
    ('checkin.event', 'verify_token'),
    ('suite.tools', 'instance'),
    ('suite.tools', 'cached_instance'),
    ]


def phases(pool):
    """Time the CPU of the thread in each function of PHASES (with what it
    calls); return (start, report, undo): start() begins counting,
    report(count) gives the microseconds per check-in of each, undo()
    puts the functions back"""
    import importlib
    from collections import Counter

    from trytond.modules.miniprogram import api
    spent, calls, on = Counter(), Counter(), [False]
    replaced = []

    def replace(target, key, value):
        replaced.append((target, key, target.__dict__.get(key)))
        setattr(target, key, value)

    def timed(name, func):
        def wrapper(*args, **kwargs):
            if not on[0]:
                return func(*args, **kwargs)
            started = time.thread_time_ns()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] += time.thread_time_ns() - started
                calls[name] += 1
        return wrapper

    for owner, name in PHASES:
        label = '%s %s' % (owner, name)
        try:
            Model = pool.get(owner)
        except KeyError:
            # A function of a module: replaced where it is bound by name
            func = getattr(
                importlib.import_module('trytond.modules.' + owner), name)
            wrapper = timed(label, func)
            for module in list(sys.modules.values()):
                if getattr(module, '__name__', '').startswith(
                        'trytond.modules.'):
                    for key, value in list(vars(module).items()):
                        if value is func:
                            replace(module, key, wrapper)
        else:
            replace(Model, name,
                staticmethod(timed(label, getattr(Model, name))))
    # The early answers keep the function they registered
    for answers in api._early.values():
        replaced.append((answers, slice(None), list(answers)))
        for i, (func, *rest) in enumerate(answers):
            if ('miniprogram.routes', func.__name__) in PHASES:
                answers[i] = (timed(
                        'miniprogram.routes ' + func.__name__, func), *rest)

    def start():
        on[0] = True

    def report(count):
        lines = ["CPU of the thread per check-in, in each function with "
            "what it calls (microseconds, calls per check-in):"]
        for label, ns in spent.most_common():
            lines.append('%9.1f  %5.2f  %s' % (
                    ns / count / 1000, calls[label] / count, label))
        return '\n'.join(lines)

    def undo():
        while replaced:
            target, key, value = replaced.pop()
            if isinstance(key, slice):
                target[key] = value
            elif value is None:
                delattr(target, key)
            else:
                setattr(target, key, value)
    return start, report, undo


def main():
    # Before trytond is imported (its configuration reads them); not when
    # the module is imported (tests.test_bench_scripts imports setup)
    os.environ.setdefault('TRYTOND_DATABASE_URI', 'postgresql:///')
    os.environ.setdefault('DB_NAME', 'profile_checkin')
    os.environ.setdefault(
        'TRYTOND_MINIPROGRAM__JWT_SECRET', secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-n', type=int, default=300)
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--top', type=int, default=30)
    parser.add_argument('--dump', metavar='FILE',
        help="write the cProfile statistics to FILE (pstats format, to "
        "compare two versions)")
    parser.add_argument('--dup', action='store_true',
        help="measure duplicates: every member is checked in first, then "
        "the measured requests send the same check-in again (409)")
    parser.add_argument('--calls', action='store_true',
        help="count the Python calls per check-in, by function of the "
        "modules (deterministic, to compare two versions; the times are "
        "then not the code's)")
    parser.add_argument('--phases', action='store_true',
        help="the CPU of the thread in each function of PHASES per "
        "check-in (time.thread_time around them: a few per cent more)")
    import checkin_floor
    checkin_floor.add_option(parser, "answer by scripts/checkin_floor.py")
    parser.add_argument('--keep', action='store_true',
        help="keep the database (to look at its tables and indexes)")
    args = parser.parse_args()
    if args.floor and args.dup:
        parser.error("--floor answers first check-ins, not duplicates")
    if args.phases and (args.calls or args.profile or args.dump):
        parser.error("--phases times what --calls and cProfile would "
            "count: one of them")
    if args.calls and (args.profile or args.dump):
        parser.error("--calls counts the calls that cProfile would time: "
            "one or the other")

    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
    from trytond.transaction import Transaction
    drop_db()
    activate_module(['miniprogram'])
    with Transaction().start(DB_NAME, 0) as transaction:
        event_id, qr, tokens = setup(args.n)
        transaction.commit()
    # As a web worker: the pool created again at the first request (see
    # trytond.application), which checks its connections as
    # scripts/gunicorn.conf.py has it (suite.tools.relax_pool_checks)
    from trytond import backend
    from trytond.modules.suite.tools import relax_pool_checks
    backend.Database(DB_NAME).close()
    relax_pool_checks()
    # Not a test any more: what the code does in the tests only (the
    # attempt counts written at once) would be measured
    from trytond.pool import Pool
    Pool.test = False
    from trytond.wsgi import app
    if args.floor:
        checkin_floor.install(rules=args.floor == 'rules')
    timing = phases(Pool(DB_NAME)) if args.phases else None
    client = Client(app, Response)
    url = '/%s/mp/v1/checkins' % DB_NAME
    body = json.dumps({'qr_token': qr, 'lat': LAT, 'lon': LON})

    def call(token):
        response = client.post(url, data=body, headers={
                'Authorization': 'Bearer ' + token,
                'Content-Type': 'application/json'})
        return response.status_code

    # Warm-up: pool, caches, first requests
    warm = 20
    statuses = [call(t) for t in tokens[:warm]]
    if args.dup:
        # Every member checked in: the measured requests are duplicates
        [call(t) for t in tokens[warm:]]
        statuses = [call(t) for t in tokens[:warm]]
    # The objects of the start (pool, caches) out of the collector's reach,
    # as in a server worker forked after loading: whether a full collection
    # of them falls in the window would otherwise decide the figures
    gc.collect()
    gc.freeze()
    collections = collected()
    backends = backend_pids(DB_NAME)
    profiler = cProfile.Profile() if args.profile or args.dump else None
    if args.calls:
        from trytond.modules.suite.tests.tools import python_calls
        calls = python_calls()
    else:
        calls = None
    pg_cpu = backends_cpu(backends)
    wal = wal_position()
    statements = count_statements()
    if timing:
        timing[0]()
    start, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    if calls:
        with calls:
            statuses += [call(t) for t in tokens[warm:]]
    else:
        statuses += [call(t) for t in tokens[warm:]]
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    pg_cpu = backends_cpu(backends) - pg_cpu
    if wal is not None:
        wal = wal_position() - wal
    count = len(tokens) - warm
    collections = collected() - collections
    executed = statements()
    print("check-ins: %d, statuses: %s" % (count, {
                s: statuses.count(s) for s in set(statuses)}))
    print("per check-in: %.2f ms wall, %.2f ms CPU of this process "
        "(server side, PostgreSQL not included)%s" % (
            wall / count * 1000, cpu / count * 1000,
            " [under cProfile]" if profiler
            else " [counting calls]" if calls
            else " [timing functions]" if timing else ""))
    print("garbage collections in the window: %d" % collections)
    if executed is not None:
        print("SQL statements per check-in: %.1f" % (executed / count))
    if backends:
        print("PostgreSQL: %.2f ms CPU per check-in in the %d backend(s) "
            "of the database" % (pg_cpu / count * 1000, len(backends)))
    if wal is not None:
        print("WAL per check-in (the whole cluster): %.0f bytes" % (
                float(wal) / count))
    if calls:
        print(calls.report(count, args.top))
    if timing:
        print(timing[1](count))
    if profiler and args.dump:
        profiler.dump_stats(args.dump)
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats('cumulative').print_stats(args.top)
        print(out.getvalue())
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats('tottime').print_stats(args.top)
        print(out.getvalue())
    # The attempt counts waiting to be written (duplicates), before the
    # database is dropped
    from trytond.modules.checkin.analytics import write_waiting
    write_waiting()
    if args.dup:
        with Transaction().start(DB_NAME, 0):
            Counter = Pool().get('checkin.attempt.counter')
            print("already_checked_in counted: %d" % sum(
                    c.count for c in Counter.search(
                        [('outcome', '=', 'already_checked_in')])))
    if not args.keep:
        drop_db()


if __name__ == '__main__':
    sys.exit(main())
