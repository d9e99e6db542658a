"""The burst proof of the intake of check-ins, on PostgreSQL.

    scripts/bench_intake [-n 3000] [-w 2 per core] [-c 50] [--factor 5]
        [--event-loop uvloop|asyncio]

A fresh database, an open event with a rotating QR code and N members with
access tokens (scripts/bench_checkin_project.py setup), then:

1. capacity: gunicorn with the intake off, a quarter of the members check
   in at concurrency C (closed loop): check-ins/s recorded at once;
2. burst: gunicorn with [miniprogram] intake = always, the other members
   check in at FACTOR times that rate, sent on a fixed schedule whatever
   the answers (open loop: a slow answer does not slow the sending, and
   the latency counts from the scheduled time);
3. the worker (miniprogram.checkin.intake drain) records the items;
4. the database is checked: every receipt answered is an item recorded
   with its check-in (201) or its refusal, none pending or missing (lost),
   no member with two check-ins of the event and no item whose check-in
   is missing or shared (doubled).

Prints the figures as one JSON object (with the CPU per answer of the
server, its PostgreSQL backends and this generator during the burst, and
the longest burst at the same rate whose latencies would stay under 1 s,
estimated from the rates offered and answered) and
exits non-zero unless there was no 5xx, p99 under 1 s, nothing lost and
nothing doubled.
"""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, '.venv', 'bin')
sys.path.insert(0, HERE)

from bench_checkin import Usage, free_port, stop, wait_port, warm  # noqa: E402

try:
    # libuv's event loop (the test extra): the generator's connection per
    # request then costs about half the CPU it does on asyncio's own loop,
    # CPU it takes from the server on the same cores
    import uvloop
except ImportError:
    uvloop = None


def log(*args):
    print('bench_intake:', *args, file=sys.stderr, flush=True)


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[max(0, min(len(values) - 1,
                int(round(p / 100 * len(values) + 0.5)) - 1))]


async def post(port, path, token, body, timeout):
    """POST a JSON body on a connection of its own (gunicorn's sync workers
    close it after the answer); return (status, answer)"""
    data = json.dumps(body).encode()
    request = (
        'POST %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n'
        'Authorization: Bearer %s\r\nContent-Type: application/json\r\n'
        'Content-Length: %d\r\nConnection: close\r\n\r\n' % (
            path, port, token, len(data))).encode() + data

    async def exchange():
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        try:
            writer.write(request)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        head, _, payload = raw.partition(b'\r\n\r\n')
        status = int(head.split(b' ', 2)[1])
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = None
        return status, answer
    return await asyncio.wait_for(exchange(), timeout)


def run_loop(coroutine, event_loop):
    "Run coroutine to its end on event_loop ('uvloop' or 'asyncio')"
    if event_loop == 'uvloop':
        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def body(run, i, now):
    window = str(int(now) // run['qr_window'])
    lat, lon = run['positions'][i]
    return {'qr_token': run['qr_tokens'][window], 'lat': lat, 'lon': lon}


async def closed_loop(port, path, run, members, concurrency, timeout):
    "Check members in, concurrency at once: (wall seconds, statuses)"
    statuses = {}
    todo = iter(members)

    async def worker():
        for i in todo:
            try:
                status, _ = await post(port, path, run['jwts'][i],
                    body(run, i, time.time()), timeout)
            except Exception as e:
                status = type(e).__name__
            statuses[status] = statuses.get(status, 0) + 1
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, statuses


async def open_loop(port, path, run, members, rate, timeout):
    """Send one check-in per member at rate per second on a fixed schedule:
    (latencies from the scheduled times, statuses, {member index:
    receipt}, wall seconds)"""
    latencies, statuses, receipts = [], {}, {}
    start = time.perf_counter()

    async def one(k, i):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            status, answer = await post(port, path, run['jwts'][i],
                body(run, i, time.time()), timeout)
        except Exception as e:
            status, answer = type(e).__name__, None
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 202 and answer:
            receipts[i] = answer['receipt']
    await asyncio.gather(*(one(k, i) for k, i in enumerate(members)))
    return latencies, statuses, receipts, time.perf_counter() - start


def server(env, port, workers, log_file):
    return subprocess.Popen([os.path.join(VENV, 'gunicorn'),
            '--config', os.path.join(ROOT, 'scripts', 'gunicorn.conf.py'),
            '--workers', str(workers), '--bind', '127.0.0.1:%s' % port,
            '--graceful-timeout', '30', 'trytond.application:app'],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=log_file)


def drain(database):
    "Run the worker until no item is pending: (recorded, seconds)"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(database)
    pool.init()
    start = time.perf_counter()
    with Transaction().start(database, 0):
        recorded = pool.get('miniprogram.checkin.intake').drain()
    return recorded, time.perf_counter() - start


def verify(database, run, receipts):
    """Check the receipts against the items and the check-ins of the
    event"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0, readonly=True):
        Intake = pool.get('miniprogram.checkin.intake')
        Attendance = pool.get('checkin.attendance')
        items = {i.receipt: i for i in Intake.search([
                    ('receipt', 'in', list(receipts.values()))])}
        attendances = Attendance.search([('event', '=', run['event_id'])])
        by_member = {}
        for attendance in attendances:
            by_member.setdefault(attendance.member.id, []).append(
                attendance.id)
        result = {'receipts': len(receipts), 'recorded': 0, 'refused': {},
            'lost': 0, 'doubled': 0}
        seen = set()
        for i, receipt in receipts.items():
            item = items.get(receipt)
            if item is None or item.state != 'done':
                result['lost'] += 1
                continue
            member = run['members'][int(i)]
            if item.status == 201:
                result['recorded'] += 1
                ids = by_member.get(member, [])
                if (not item.attendance or item.attendance.id not in ids
                        or item.attendance.id in seen):
                    result['doubled' if item.attendance
                        and item.attendance.id in seen else 'lost'] += 1
                if item.attendance:
                    seen.add(item.attendance.id)
            else:
                result['refused'][item.code] = result['refused'].get(
                    item.code, 0) + 1
        result['doubled'] += sum(
            1 for ids in by_member.values() if len(ids) > 1)
        # The check-ins of the burst's members that no receipt explains
        burst = {run['members'][int(i)] for i in receipts}
        result['unexplained'] = sum(1 for m in by_member
            if m in burst and not any(
                a in seen for a in by_member[m]))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-n', type=int, default=3000, help="members")
    parser.add_argument('-w', '--workers', type=int,
        default=2 * (os.cpu_count() or 1),
        help="gunicorn's workers (scripts/service's count: 2 per core)")
    parser.add_argument('-c', type=int, default=50,
        help="concurrency of the capacity run")
    parser.add_argument('--factor', type=float, default=5,
        help="the burst's rate, times the capacity")
    parser.add_argument('--timeout', type=float, default=30)
    parser.add_argument('--event-loop', choices=['uvloop', 'asyncio'],
        default='uvloop' if uvloop else 'asyncio',
        help="the generator's event loop (uvloop when installed)")
    parser.add_argument('--database', default='bench_intake')
    parser.add_argument('--uri', default=os.environ.get(
            'TRYTOND_DATABASE__URI', 'postgresql:///'))
    parser.add_argument('--step', choices=['drain', 'verify'],
        help=argparse.SUPPRESS)
    parser.add_argument('--run-file', help=argparse.SUPPRESS)
    parser.add_argument('--receipts', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == 'drain':
        print(json.dumps(drain(args.database)))
        return 0
    if args.step == 'verify':
        with open(args.run_file) as f:
            run = json.load(f)
        with open(args.receipts) as f:
            receipts = json.load(f)
        print(json.dumps(verify(args.database, run, receipts)))
        return 0

    env = dict(os.environ,
        TRYTOND_CONFIG=os.path.join(ROOT, 'tryton.conf'),
        TRYTOND_DATABASE__URI=args.uri,
        TRYTOND_DATABASE_NAMES=args.database,
        TRYTOND_CACHE__CLEAN_TIMEOUT='0')
    env.setdefault('TRYTOND_MINIPROGRAM__JWT_SECRET', os.urandom(32).hex())
    env.pop('TRYTOND_DATABASE__PATH', None)
    python = os.path.join(VENV, 'python')
    log("creating the database", args.database)
    subprocess.run([python, os.path.join(HERE, 'create_db.py'),
            args.database, '--uri', args.uri, '--drop'], env=env,
        check=True, stdout=subprocess.DEVNULL)
    result = {'members': args.n, 'workers': args.workers,
        'event_loop': args.event_loop}
    with tempfile.TemporaryDirectory() as tmp:
        run_file = os.path.join(tmp, 'run.json')
        subprocess.run([python, os.path.join(HERE,
                    'bench_checkin_project.py'), 'setup', args.database,
                str(args.n), run_file], env=env, check=True)
        with open(run_file) as f:
            run = json.load(f)
        members = list(range(run['n']))
        capacity_members = members[:len(members) // 4]
        burst_members = members[len(members) // 4:]
        gunicorn_log = open(os.path.join(tmp, 'gunicorn.log'), 'w')
        path = '/%s/mp/v1/checkins' % args.database
        url = 'http://127.0.0.1:%s/%s/mp/v1'

        port = free_port()
        process = server(env, port, args.workers, gunicorn_log)
        try:
            wait_port(port, process)
            warm(url % (port, args.database), run, args.workers,
                refusals=True)
            log("capacity: %s check-ins at concurrency %s" % (
                    len(capacity_members), args.c))
            wall, statuses = run_loop(closed_loop(port, path, run,
                    capacity_members, args.c, args.timeout), args.event_loop)
        finally:
            stop(process)
        capacity = statuses.get(201, 0) / wall
        result['capacity'] = {'checkins_per_s': round(capacity, 1),
            'statuses': {str(k): v for k, v in statuses.items()}}

        rate = capacity * args.factor
        port = free_port()
        process = server(dict(env, TRYTOND_MINIPROGRAM__INTAKE='always'),
            port, args.workers, gunicorn_log)
        try:
            wait_port(port, process)
            warm(url % (port, args.database), run, args.workers,
                refusals=True)
            log("burst: %s check-ins at %.0f/s (%.1f x capacity)" % (
                    len(burst_members), rate, args.factor))
            generator = time.process_time()
            with Usage(process, args.database, False) as usage:
                latencies, statuses, receipts, wall = run_loop(
                    open_loop(port, path, run, burst_members, rate,
                        args.timeout), args.event_loop)
            generator = time.process_time() - generator
        finally:
            stop(process)
        fivexx = sum(v for k, v in statuses.items()
            if not isinstance(k, int) or k >= 500)
        answered = len(latencies) / wall
        cpu = usage.figures(len(latencies))
        result['burst'] = {
            'offered_per_s': round(rate, 1),
            'answered_per_s': round(answered, 1),
            'requests': len(burst_members),
            'statuses': {str(k): v for k, v in statuses.items()},
            '5xx_or_no_answer': fivexx,
            'p50_ms': round(pct(latencies, 50) * 1000, 1),
            'p99_ms': round(pct(latencies, 99) * 1000, 1),
            'max_ms': round(max(latencies) * 1000, 1),
            # Where the two cores went during the burst: the server's
            # processes, its PostgreSQL backends and this generator
            'cpu_ms_per_answer': {
                'server': cpu['app_ms'],
                'postgresql': cpu['pg_ms'],
                'generator': round(
                    generator / max(len(latencies), 1) * 1000, 2),
                },
            'wall_s': round(wall, 2),
            }
        # The last of N requests is answered about N / answered - N /
        # offered seconds after its time: the longest burst at this rate
        # whose latencies stay under 1 s (None: the answers keep up)
        result['burst']['longest_burst_under_1s'] = (
            int(1 / (1 / answered - 1 / rate)) if answered < rate else None)

        log("draining the intake")
        out = subprocess.run([python, __file__, '--step', 'drain',
                '--database', args.database], env=env, check=True,
            capture_output=True, text=True)
        recorded, seconds = json.loads(out.stdout)
        result['worker'] = {'recorded': recorded,
            'seconds': round(seconds, 1),
            'per_s': round(recorded / seconds, 1) if seconds else None}
        receipts_file = os.path.join(tmp, 'receipts.json')
        with open(receipts_file, 'w') as f:
            json.dump(receipts, f)
        out = subprocess.run([python, __file__, '--step', 'verify',
                '--database', args.database, '--run-file', run_file,
                '--receipts', receipts_file], env=env, check=True,
            capture_output=True, text=True)
        result['check'] = json.loads(out.stdout)
    print(json.dumps(result, indent=2))
    check = result['check']
    ok = (not fivexx and result['burst']['p99_ms'] < 1000
        and not check['lost'] and not check['doubled']
        and not check['unexplained']
        and check['recorded'] + sum(check['refused'].values())
        == check['receipts'] == len(burst_members))
    print("burst proof: %s" % ('passed' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
