# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""Concurrent check-ins on PostgreSQL.

Several worker processes check the same 100 members in to the same event
at the same moment, each member twice, through `checkin.attendance`
`check_in` in their own transactions (as the trytond web workers of the
API do).  Afterwards there must be exactly one counted check-in per member
and one points line per check-in, and the balances must be exact.

Two protections, each isolated by a test:

- the exclusion constraint `counted_key_unique` (with the insert's ON CONFLICT
  DO NOTHING) keeps one counted check-in per member and day.  An event
  that gives no points and no streak writes no member row, so nothing
  else serializes the check-ins of a member: test_check_ins_without_points
  catches 'attendance: no constraint, look then insert' (the member lock
  alone lets a transaction whose snapshot was taken just before the other
  committed miss its check-in).
- the member lock taken first by check_in (and by sync: test_concurrent_
  syncs catches 'sync: no member lock'): a second check-in of the member
  waits before it has done any work, instead of failing at its insert or
  its points (or restarting when the posting asks for the lock).
  test_concurrent_check_ins counts the conflicts met after the work
  ('late') and the inserts tried: one per check-in with the lock; it
  catches 'check_in: no member lock'.

The API records a check-in first by one statement whose posting takes the
member's lock itself (check_in_first), check_in answering the others:
test_concurrent_check_ins_first races it the same way, and
test_check_ins_first_of_two_events checks each member in to two events at
once, where only REPEATABLE READ keeps the balances exact (it catches
'isolation: READ COMMITTED'), or, for the statement of check_in_first
committed by itself under the session's READ COMMITTED, its check that the
member row it locked is the version its snapshot saw ('alone: no row
version check': caught when the race falls so, about one run in two;
test_check_in_first_alone_refused's case "row changed" forces it).
test_check_in_first_alone and test_check_in_first_alone_refused check that
statement in one process: committed alone, the rest of its transaction read
only, and nothing written when more would follow (each case fails when the
statement does not check it).

Run from the top of the repository:

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_checkinc_$$ \\
        .venv/bin/python -m unittest tests.test_checkin_concurrency

The test is skipped on SQLite and fails there under CI=true or on the
PostgreSQL pass of scripts/test (tests/tools.py require_postgresql).  The
workers are started with `sys.executable -m tests.test_checkin_concurrency
worker ...` and connect to the same DB_NAME with the same
TRYTOND_DATABASE_URI.
"""
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from .tools import require_postgresql, run_transaction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMBERS = 100
PROCESSES = 4
ATTEMPTS = 2  # each member is checked in by this many processes at once
POINTS = 10
# Bounds of every wait and loop
READY_TIMEOUT = 300
RUN_TIMEOUT = 600
MAX_RETRIES = 200


def worker(database_name, directory, name, event_id, token, now, member_ids,
        mode=None):
    """Check member_ids in to event_id once each, as soon as the go file
    exists, and print the counts of the results as JSON; with mode sync, as
    the item of an offline sync of its own, of a client UUID of the member
    (the same in every process); with mode first, first by
    check_in_first, as the API does, then by check_in"""
    from trytond.pool import Pool

    Pool(database_name).init()
    open(os.path.join(directory, 'ready-%s' % name), 'w').close()
    deadline = time.monotonic() + READY_TIMEOUT
    while not os.path.exists(os.path.join(directory, 'go')):
        if time.monotonic() > deadline:
            raise RuntimeError("no go")
        time.sleep(0.01)

    context = {'_clock_now': dt.datetime.fromisoformat(now)}
    counts = {'created': 0, 'duplicate': 0, 'refused': 0}
    codes, stats = [], {}
    for member_id in member_ids:
        def check_in():
            Attendance = Pool().get('checkin.attendance')
            credential = {'qr_token': token}
            position = {'lat': 31.2304, 'lon': 121.4737}
            if mode == 'sync':
                result, = Attendance.sync(member_id, [{
                            'qr_token': token, 'lat': 31.2304,
                            'lon': 121.4737, 'client_time': now + 'Z',
                            'client_uuid': 'race-%d' % member_id,
                            }])
                return result.status, result.code
            result = None
            if mode == 'first':
                result = Attendance.check_in_first(member_id,
                    Attendance.duplicate_query(member_id, credential,
                        position, client_time=now + 'Z'),
                    '2000', credential, position, client_time=now + 'Z')
            if result is None:
                result = Attendance.check_in(
                    member_id, credential, position=position,
                    client_time=now + 'Z')
            return result.status, result.code
        # Restarted to take the member lock first, retried when the lock
        # is held by the other process (NOWAIT), as the web workers do
        status, code = run_transaction(
            database_name, check_in, context=context, retries=MAX_RETRIES,
            stats=stats)
        counts[status] += 1
        if status == 'refused':
            codes.append(code)
    counts['codes'] = codes
    counts['stats'] = stats
    print(json.dumps(counts), flush=True)


@require_postgresql("concurrent check-ins need PostgreSQL "
    "(TRYTOND_DATABASE_URI=postgresql:///); SQLite has a single writer")
class CheckinConcurrencyTestCase(unittest.TestCase):
    "Concurrent check-ins from several processes"

    @classmethod
    def setUpClass(cls):
        from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
        super().setUpClass()
        cls.database_name = DB_NAME
        drop_db()
        activate_module(['checkin'])
        cls.addClassCleanup(drop_db)

    def prepare(self, name, points=POINTS, streak=True, member_ids=None):
        """Create an open event and the members (unless member_ids), return
        their ids and a token"""
        from trytond.modules.suite import clock
        from trytond.pool import Pool

        def create():
            now = clock.now()
            pool = Pool()
            Event = pool.get('checkin.event')
            Member = pool.get('member.member')
            event, = Event.create([{
                        'name': name,
                        'kind': 'meeting',
                        'state': 'open',
                        'start': now - dt.timedelta(hours=1),
                        'end': now + dt.timedelta(hours=2),
                        'timezone': 'Asia/Shanghai',
                        'latitude': 31.2304,
                        'longitude': 121.4737,
                        'methods': ['qr'],
                        'policy': 'reject',
                        'points': points,
                        'streak': streak,
                        }])
            members = Member.browse(member_ids) if member_ids else (
                Member.create([{'name': '%s %03d' % (name, i)}
                        for i in range(MEMBERS)]))
            return (event.id, [m.id for m in members],
                event.current_token(now), now)
        return run_transaction(self.database_name, create)

    def run_workers(self, event_id, member_ids, token_, now, mode=None,
            events=None):
        """Run the processes and return their counts; events: the (event
        id, token) of each attempt of a member instead"""
        env = os.environ.copy()
        env['DB_NAME'] = self.database_name
        env['PYTHONPATH'] = os.pathsep.join(
            filter(None, [ROOT, env.get('PYTHONPATH')]))
        # Each member is given to ATTEMPTS processes, in the same order so
        # that they try it at the same moment
        groups = PROCESSES // ATTEMPTS
        shares = [member_ids[i::groups] for i in range(groups)]
        with tempfile.TemporaryDirectory() as directory:
            processes = []
            for i in range(PROCESSES):
                share = shares[i % groups]
                if events:
                    event_id, token_ = events[i // groups]
                processes.append(subprocess.Popen([
                            sys.executable, '-m',
                            'tests.test_checkin_concurrency', 'worker',
                            self.database_name, directory, str(i),
                            str(event_id), token_, now.isoformat(),
                            ','.join(map(str, share))]
                        + ([mode] if mode else []),
                        cwd=ROOT, env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True))
            try:
                deadline = time.monotonic() + READY_TIMEOUT
                while len([f for f in os.listdir(directory)
                        if f.startswith('ready-')]) < PROCESSES:
                    if time.monotonic() > deadline:
                        self.fail("the workers did not start")
                    if any(p.poll() not in {None, 0} for p in processes):
                        self.fail("a worker failed: %s" % [
                                p.stderr.read() for p in processes
                                if p.poll()])
                    time.sleep(0.05)
                open(os.path.join(directory, 'go'), 'w').close()
                results = []
                for process in processes:
                    out, err = process.communicate(timeout=RUN_TIMEOUT)
                    self.assertEqual(process.returncode, 0, err[-3000:])
                    results.append(json.loads(out.strip().splitlines()[-1]))
            finally:
                for process in processes:
                    if process.poll() is None:
                        process.kill()
                        process.wait(timeout=30)
        return results

    def counts(self, event_id):
        "Return the counted check-ins and points lines of event_id"
        from trytond.pool import Pool

        def read():
            pool = Pool()
            Attendance = pool.get('checkin.attendance')
            Line = pool.get('member.points.line')
            Member = pool.get('member.member')
            attendances = Attendance.search([
                    ('event', '=', event_id), ('counted', '=', True)])
            lines = Line.search([('origin', 'in', [
                            str(a) for a in attendances])])
            members = Member.browse(list({a.member.id for a in attendances}))
            return {
                'attendances': [(a.id, a.member.id) for a in attendances],
                'lines': [(l.origin.id, l.points) for l in lines],
                'balances': {m.id: m.points_balance for m in members},
                'unsound': [m.id for m in Member.check_balances(members)],
                }
        return run_transaction(self.database_name, read)

    def race(self, name, points=POINTS, streak=True, mode=None):
        """Run the race on a new event; check one counted check-in per
        member, return the counts and the conflicts of the workers"""
        event_id, member_ids, token_, now = self.prepare(name, points, streak)
        inserts = self.inserts()
        results = self.run_workers(event_id, member_ids, token_, now, mode)
        inserts = self.inserts() - inserts
        created = sum(r['created'] for r in results)
        duplicates = sum(r['duplicate'] for r in results)
        refused = [c for r in results for c in r['codes']]
        self.assertEqual(refused, [])
        self.assertEqual(created, MEMBERS)
        self.assertEqual(duplicates, MEMBERS * (ATTEMPTS - 1))

        counts = self.counts(event_id)
        members = [m for _, m in counts['attendances']]
        self.assertEqual(len(counts['attendances']), MEMBERS)
        self.assertEqual(sorted(members), sorted(member_ids))
        stats = {}
        for result in results:
            for key, value in result['stats'].items():
                stats[key] = stats.get(key, 0) + value
        stats['inserts'] = inserts
        return counts, member_ids, stats

    def inserts(self):
        "Return the number of check-in inserts tried so far (committed or not)"
        from trytond.transaction import Transaction

        def read():
            cursor = Transaction().connection.cursor()
            cursor.execute('SELECT last_value FROM checkin_attendance_id_seq')
            return cursor.fetchone()[0]
        return run_transaction(self.database_name, read)

    def test_concurrent_check_ins(self):
        """200 simultaneous check-ins of 100 members record 100 check-ins,
        with their points, and no check-in does its work twice.

        Run for 'check_in: no member lock', which it no longer catches
        alone: the posting, which inserts the check-in, holds the lock
        too (test_check_ins_without_points catches it)."""
        counts, member_ids, stats = self.race("Concurrency")
        self.assertEqual(len(counts['lines']), MEMBERS)
        self.assertEqual(
            sorted(a for a, _ in counts['lines']),
            sorted(a for a, _ in counts['attendances']))
        self.assertEqual(set(p for _, p in counts['lines']), {POINTS})
        self.assertEqual(counts['balances'], {m: POINTS for m in member_ids})
        self.assertEqual(counts['unsound'], [])
        # The race was real: check-ins of a member waited for each other
        self.assertGreater(stats['early'], 0, stats)
        self.assertEqual(stats['late'], 0, stats)
        # One insert per check-in (the sequence counts rolled back ones)
        self.assertEqual(stats['inserts'], MEMBERS * ATTEMPTS, stats)

    def test_concurrent_syncs(self):
        """The same offline item of 100 members sent at once by two
        processes each: 100 check-ins with their points, and the second
        sync of a member finds the first one's check-in without inserting.

        Catches 'sync: no member lock': without it both syncs insert (the
        second is refused by the client UUID's index and restarts)."""
        counts, member_ids, stats = self.race("Sync", mode='sync')
        self.assertEqual(counts['balances'], {m: POINTS for m in member_ids})
        self.assertEqual(len(counts['lines']), MEMBERS)
        self.assertEqual(counts['unsound'], [])
        self.assertGreater(stats['early'], 0, stats)
        # One insert per member: the duplicates are found by the look-up
        self.assertEqual(stats['inserts'], MEMBERS, stats)

    def test_concurrent_check_ins_first(self):
        """The same race, each check-in tried first by the one statement
        whose posting takes the member's lock (check_in_first, the API's
        early answer), then by check_in: 100 check-ins with their points,
        the balances exact.  The statement of a member's second check-in
        finds the first, or fails on the member row that the first wrote
        after its snapshot (REPEATABLE READ), and check_in answers it."""
        counts, member_ids, stats = self.race("First", mode='first')
        self.assertEqual(len(counts['lines']), MEMBERS)
        self.assertEqual(
            sorted(a for a, _ in counts['lines']),
            sorted(a for a, _ in counts['attendances']))
        self.assertEqual(counts['balances'], {m: POINTS for m in member_ids})
        self.assertEqual(counts['unsound'], [])

    def test_check_ins_first_of_two_events(self):
        """Each member checked in to two events at once, first by the
        statement of check_in_first: two lines, the balance their sum.  The
        statement that read the member row before the other wrote it fails
        under REPEATABLE READ and check_in posts again.

        Catches 'isolation: READ COMMITTED': its line's balance is that of
        its snapshot, and the member row it updates after waiting for the
        lock is given that balance (10 for 20)."""
        first, member_ids, token_, now = self.prepare("Two A")
        second, _, second_token, _ = self.prepare(
            "Two B", member_ids=member_ids)
        results = self.run_workers(first, member_ids, token_, now,
            mode='first', events=[(first, token_), (second, second_token)])
        self.assertEqual([c for r in results for c in r['codes']], [])
        self.assertEqual(sum(r['created'] for r in results), 2 * MEMBERS)
        for event_id in [first, second]:
            counts = self.counts(event_id)
            self.assertEqual(len(counts['lines']), MEMBERS)
            self.assertEqual(counts['unsound'], [])
            self.assertEqual(
                counts['balances'], {m: 2 * POINTS for m in member_ids})

    def test_check_ins_without_points(self):
        """Without points and streak no member row is written: the
        constraint alone keeps one check-in per member, and check_in's
        member lock alone keeps a check-in from inserting beside another
        of the member (no posting takes the lock on this path).

        Catches 'attendance: no constraint, look then insert' and 'check_in:
        no member lock' (the check-ins with points are locked by their
        posting too: test_concurrent_check_ins no longer tells)."""
        counts, _, stats = self.race("No points", points=0, streak=False)
        self.assertEqual(counts['lines'], [])
        self.assertEqual(stats['late'], 0, stats)
        # One insert per check-in (the sequence counts rolled back ones)
        self.assertEqual(stats['inserts'], MEMBERS * ATTEMPTS, stats)

    def first(self, event_id, member_id, token_, now, then=None,
            before=None):
        """Check member_id in to event_id by check_in_first as the first
        statement of a transaction, as the API does, after before(); return
        its status, or None when check_in must answer, and then(result) in
        the same transaction"""
        from trytond.pool import Pool

        def check_in():
            if before:
                before()
            Attendance = Pool().get('checkin.attendance')
            credential = {'qr_token': token_}
            position = {'lat': 31.2304, 'lon': 121.4737}
            result = Attendance.check_in_first(member_id,
                Attendance.duplicate_query(member_id, credential, position),
                '2000', credential, position)
            extra = then(result) if then else None
            return (result.status if result else None), extra
        return run_transaction(self.database_name, check_in,
            context={'_clock_now': now})

    def member_row(self, member_id):
        "The balance, lifetime points, tier and streak of member_id"
        from trytond.pool import Pool

        def read():
            member = Pool().get('member.member')(member_id)
            return (member.points_balance, member.lifetime_points,
                member.tier.id if member.tier else None,
                member.streak_length)
        return run_transaction(self.database_name, read)

    def test_check_in_first_alone(self):
        """The statement of check_in_first, the first of its transaction,
        is committed by itself (no BEGIN nor COMMIT): its check-in is seen
        by another connection before the transaction ends, whose rest is
        read only, so that a write after it, which would not be atomic
        with it, fails"""
        from unittest.mock import patch

        import psycopg
        from psycopg.errors import ReadOnlySqlTransaction

        from trytond.modules.member import prepared
        from trytond.transaction import Transaction
        event_id, member_ids, token_, now = self.prepare("Alone")

        def seen_elsewhere(result):
            connection = Transaction().connection
            with psycopg.connect(dbname=self.database_name) as other:
                seen = other.execute('SELECT COUNT(*) FROM '
                    'checkin_attendance WHERE id = %s',
                    (result.attendance.id,)).fetchone()[0]
            read_only = connection.read_only
            with self.assertRaises(ReadOnlySqlTransaction):
                connection.cursor().execute('UPDATE member_member SET '
                    'write_date = write_date WHERE id = %s',
                    (member_ids[0],))
            connection.rollback()
            return seen, read_only
        # The caches of the event and the configuration: a query to fill
        # them would begin the transaction
        self.first(event_id, member_ids[-1], token_, now)
        status, (seen, read_only) = self.first(
            event_id, member_ids[0], token_, now, then=seen_elsewhere)
        self.assertEqual(status, 'created')
        self.assertEqual((seen, read_only), (1, True))
        self.assertEqual(
            self.member_row(member_ids[0]), (POINTS, POINTS, None, 1))
        # The copy: found by the look-up, nothing written, not read only;
        # the lock statement that found it and the read of its answer each
        # committed by itself
        with patch.object(prepared, 'run_alone',
                wraps=prepared.run_alone) as alone:
            status, read_only = self.first(
                event_id, member_ids[0], token_, now,
                then=lambda _: Transaction().connection.read_only)
        self.assertEqual((status, read_only), ('duplicate', False))
        self.assertEqual(alone.call_count, 2)
        self.assertEqual(self.counts(event_id)['unsound'], [])

    def test_check_in_first_alone_refused(self):
        """The statement committed alone writes nothing when more than it
        writes would follow: a tier update (reached, or the member's tier
        no longer active), the streak's points, a spending given back, or
        when the member row it waited for changed (under the session's
        READ COMMITTED); check_in then records the check-in with all of it.
        Each case fails when the statement does not check it (see
        member.points.line._alone_condition)."""
        import threading

        import psycopg

        from trytond.pool import Pool
        from trytond.transaction import Transaction

        def setup(func):
            def run():
                with Transaction().set_context(_check_access=False):
                    return func(Pool())
            return run_transaction(self.database_name, run)

        def whole_way(event_id, member_id, token_, now):
            def check_in():
                Attendance = Pool().get('checkin.attendance')
                return Attendance.check_in(member_id,
                    {'qr_token': token_},
                    position={'lat': 31.2304, 'lon': 121.4737}).status
            return run_transaction(self.database_name, check_in,
                context={'_clock_now': now})

        changing = []

        def change_while_waited(member_id):
            # Before the transaction's first statement: its session under
            # READ COMMITTED (PostgreSQL's default), and another transaction
            # that writes the member row and commits while the statement
            # waits for its lock
            connection = Transaction().connection
            connection.rollback()
            connection.autocommit = True
            connection.execute('SET SESSION CHARACTERISTICS AS '
                'TRANSACTION ISOLATION LEVEL READ COMMITTED')
            connection.autocommit = False
            other = psycopg.connect(dbname=self.database_name)
            other.execute('UPDATE member_member SET write_date = '
                'write_date WHERE id = %s', (member_id,))
            timer = threading.Timer(0.5, other.commit)
            timer.start()
            changing.append((other, timer))

        def changed(result):
            other, timer = changing.pop()
            timer.join()
            other.close()
            connection = Transaction().connection
            connection.rollback()
            connection.autocommit = True
            connection.execute('RESET default_transaction_isolation')
            connection.autocommit = False

        def no_tier(tier):
            def clean(pool):
                Member = pool.get('member.member')
                table = Member.__table__()
                Transaction().connection.cursor().execute(*table.update(
                        [table.tier], [None], where=table.tier == tier.id))
                pool.get('member.tier').delete([tier])
            return lambda: setup(clean)

        def tier(pool):
            Tier = pool.get('member.tier')
            tier, = Tier.create([{'code': 'alone', 'name': "Alone",
                        'threshold': POINTS}])
            return lambda row: row[2] == tier.id, no_tier(tier)

        def old_tier(pool):
            Tier = pool.get('member.tier')
            Member = pool.get('member.member')
            tier, = Tier.create([{'code': 'old', 'name': "Old",
                        'threshold': 0}])
            table = Member.__table__()
            Transaction().connection.cursor().execute(*table.update(
                    [table.tier], [tier.id],
                    where=table.id == member_ids[0]))
            Tier.write([tier], {'active': False})
            return lambda row: row[2] is None, no_tier(tier)

        def streak_rule(pool):
            Configuration = pool.get('member.configuration')
            Rule = pool.get('member.streak.rule')
            config = Configuration(1)
            config.streak_rules = [Rule(day=1, bonus=5)]
            config.save()
            rule, = config.streak_rules
            return lambda row: row[0] == POINTS + 5, lambda: setup(
                lambda pool: pool.get('member.streak.rule').delete([rule]))

        def spending(pool):
            Member = pool.get('member.member')
            member = member_ids[0]
            Member.post_points([
                    {'member': member, 'points': 20, 'reason': "gift"},
                    {'member': member, 'points': -20, 'reason': "spent",
                        'key': 'checkin'},
                    ])
            # The check-in's line gives the spending back: not earned
            return lambda row: row[:2] == (POINTS, 20), lambda: None

        def row_changed(pool):
            return lambda row: row[0] == POINTS, lambda: None

        for name, arrange in [('tier', tier), ('old tier', old_tier),
                ('streak rule', streak_rule), ('give-back', spending),
                ('row changed', row_changed)]:
            with self.subTest(case=name):
                event_id, member_ids, token_, now = self.prepare(
                    "Refused %s" % name)
                done, clean = setup(arrange)
                try:
                    # The caches filled (see test_check_in_first_alone)
                    self.first(event_id, member_ids[-1], token_, now)
                    status, _ = self.first(
                        event_id, member_ids[0], token_, now,
                        before=name == 'row changed' and (
                            lambda: change_while_waited(member_ids[0])),
                        then=name == 'row changed' and changed)
                    self.assertIsNone(status)
                    self.assertNotIn(member_ids[0], [m for _, m in
                            self.counts(event_id)['attendances']])
                    self.assertEqual(whole_way(
                            event_id, member_ids[0], token_, now), 'created')
                    self.assertTrue(done(self.member_row(member_ids[0])),
                        self.member_row(member_ids[0]))
                    self.assertEqual(self.counts(event_id)['unsound'], [])
                finally:
                    clean()


def main(argv):
    if argv[:1] == ['worker']:
        (database_name, directory, name, event_id, token_, now,
            member_ids) = argv[1:8]
        worker(database_name, directory, name, int(event_id), token_, now,
            [int(m) for m in member_ids.split(',') if m],
            mode=argv[8] if argv[8:] else None)
        return 0
    unittest.main(argv=[sys.argv[0]] + argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
