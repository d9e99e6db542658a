"""The project side of scripts/bench_checkin, run with the project's venv.

    bench_checkin_project.py setup DATABASE N RUN_FILE [EVENTS]
        EVENTS (default 1) open events with rotating QR and N members with
        access tokens,
        made with the project's own code (check-in and miniprogram modules)
        on the PostgreSQL DATABASE (TRYTOND_DATABASE__URI); writes the run
        file the generator reads (event, members, tokens, positions, the
        current kiosk QR token).
    bench_checkin_project.py verify DATABASE RUN_FILE ACKED_JSON
        checks in the database that every acknowledged check-in exists
        exactly once with its points line and that the balances are exact
        (ACKED_JSON: the [event, member] pairs, or {"count": N} from wrk);
        prints one JSON object.
"""
import datetime as dt
import json
import math
import random
import sys
import time

LAT, LON = 31.2304, 121.4737
RADIUS = 200
POINTS = 10
WARMUP = 40


def _pool(database):
    from trytond.pool import Pool
    Pool.start()
    pool = Pool(database)
    pool.init()
    return pool


def _qr_tokens(event, now):
    """The kiosk's QR tokens of the next two hours, as the kiosk page would
    show them window after window"""
    qr_tokens = {}
    for minutes in range(-2, 121):
        when = now + dt.timedelta(minutes=minutes)
        qr_tokens[str(math.floor(when.replace(
                        tzinfo=dt.timezone.utc).timestamp()
                    / event.qr_window))] = event.current_token(when)
    return qr_tokens


def setup(database, n, run_file, n_events=1):
    from trytond.transaction import Transaction
    pool = _pool(database)
    with Transaction().start(database, 0) as transaction:
        from trytond.modules.miniprogram.auth import encode
        Event = pool.get('checkin.event')
        Member = pool.get('member.member')
        Party = pool.get('party.party')
        now = dt.datetime.utcnow().replace(microsecond=0)
        stamp = int(time.time())

        def event_values(name):
            "An open event with rotating QR, its location and points"
            return {
                'name': name, 'kind': 'meeting', 'state': 'open',
                'start': now - dt.timedelta(minutes=5),
                'end': now + dt.timedelta(hours=6),
                'timezone': 'Asia/Shanghai',
                'latitude': LAT, 'longitude': LON, 'radius': RADIUS,
                'methods': ['qr'], 'policy': 'reject', 'points': POINTS,
                }
        events = Event.create([event_values("Burst %s-%s" % (stamp, e))
                for e in range(n_events)])
        event = events[0]
        # A running server has served check-ins before the burst: the
        # warm-up members check in to their own event (not verified)
        warmup_event, = Event.create([event_values("Warm-up %s" % stamp)])
        warmup_parties = Party.create([{'name': "Warm-up %s" % i}
                for i in range(WARMUP)])
        warmup_members = Member.create([{
                    'party': p.id, 'phone': '+86139%08d' % i,
                    } for i, p in enumerate(warmup_parties)])
        t0 = time.perf_counter()
        members = []
        for start in range(0, n, 1000):
            size = min(1000, n - start)
            parties = Party.create([{'name': "Bench %s" % (start + i)}
                    for i in range(size)])
            members += Member.create([{
                        'party': p.id,
                        'phone': '+8613%09d' % (start + i),
                        } for i, p in enumerate(parties)])
        created = time.perf_counter() - t0
        ttl = 6 * 60 * 60
        tokens = [encode(m.id, 'access', ttl)[0] for m in members]
        rng = random.Random(1)
        positions = []
        for _ in members:
            d = rng.uniform(0, RADIUS * 0.5)
            th = rng.uniform(0, 2 * math.pi)
            positions.append((
                    round(LAT + d * math.cos(th) / 111320.0, 7),
                    round(LON + d * math.sin(th) / (
                            111320.0 * math.cos(math.radians(LAT))), 7)))
        qr_tokens = {str(e.id): _qr_tokens(e, now) for e in events}
        run = {
            'event_id': event.id,
            'qr_window': event.qr_window,
            'qr_tokens': qr_tokens[str(event.id)],
            'events': [e.id for e in events],
            'events_qr_tokens': qr_tokens,
            'members': [m.id for m in members],
            'jwts': tokens,
            'positions': positions,
            'n': len(members),
            'warmup': {
                'qr_window': warmup_event.qr_window,
                'qr_tokens': _qr_tokens(warmup_event, now),
                'jwts': [encode(m.id, 'access', ttl)[0]
                    for m in warmup_members],
                'position': [LAT, LON],
                },
            }
        transaction.commit()
    with open(run_file, 'w') as f:
        json.dump(run, f)
    print("setup: %s event(s) from %s, %s members (%.1f s)" % (
            n_events, run['event_id'], n, created), file=sys.stderr)


def verify(database, run_file, acked_file):
    "Check the database against the acknowledged check-ins"
    from trytond.transaction import Transaction
    with open(run_file) as f:
        run = json.load(f)
    with open(acked_file) as f:
        # [event, member] pairs (member ids alone: the first event), or
        # {"count": N} when the generator (wrk) knows only how many
        acked = json.load(f)
    if isinstance(acked, dict):
        count, acked = acked['count'], None
    else:
        acked = {tuple(a) if isinstance(a, list) else (run['event_id'], a)
            for a in acked}
        count = len(acked)
    _pool(database)  # the pool of the database, initialised
    with Transaction().start(database, 0, readonly=True) as transaction:
        cursor = transaction.connection.cursor()
        events = run.get('events', [run['event_id']])
        members = run['members']
        cursor.execute(
            'SELECT COUNT(*), COUNT(DISTINCT member) FROM checkin_attendance '
            'WHERE event = ANY(%s) AND counted', (events,))
        rows, distinct = cursor.fetchone()
        cursor.execute(
            'SELECT COUNT(*) FROM (SELECT DISTINCT event, member '
            'FROM checkin_attendance WHERE event = ANY(%s) AND counted) AS p',
            (events,))
        distinct, = cursor.fetchone()
        cursor.execute(
            'SELECT id FROM checkin_attendance '
            'WHERE event = ANY(%s) AND counted', (events,))
        attendance_ids = {i for i, in cursor}
        cursor.execute(
            'SELECT COUNT(*), COUNT(DISTINCT origin), '
            'COALESCE(SUM(points), 0) '
            'FROM member_points_line WHERE origin = ANY(%s)',
            (['checkin.attendance,%s' % i for i in attendance_ids],))
        lines, distinct_lines, points = cursor.fetchone()
        cursor.execute(
            'SELECT m.id, m.points_balance, COALESCE(SUM(l.points), 0) '
            'FROM member_member m LEFT JOIN member_points_line l '
            'ON l.member = m.id WHERE m.id = ANY(%s) '
            'GROUP BY m.id, m.points_balance', (members,))
        wrong = 0
        balance_total = 0
        for _, balance, total in cursor:
            balance_total += balance
            if balance != total:
                wrong += 1
        cursor.execute(
            'SELECT event, member FROM checkin_attendance '
            'WHERE event = ANY(%s) AND counted', (events,))
        recorded = {(e, m) for e, m in cursor}
        # wrk: every acknowledged check-in is a row if there are as many
        missing = (len(acked - recorded) if acked is not None
            else max(0, count - len(recorded)))
    n = count
    result = {
        'events': len(events),
        'acknowledged': n,
        'attendance rows': rows,
        'distinct event members': distinct,
        'points lines': lines,
        'distinct line origins': distinct_lines,
        'points total': points,
        'members with balance != sum(lines)': wrong,
        'acknowledged but missing': missing,
        }
    result['ok'] = (rows == distinct == lines == distinct_lines == n
        and points == n * POINTS == balance_total and not wrong
        and not missing)
    print(json.dumps(result))


if __name__ == '__main__':
    command, *args = sys.argv[1:]
    if command == 'setup':
        setup(args[0], int(args[1]), args[2],
            *(int(a) for a in args[3:4]))
    elif command == 'verify':
        verify(*args)
    else:
        raise SystemExit(__doc__)
