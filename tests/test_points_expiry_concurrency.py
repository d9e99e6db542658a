"""The expiry of points (the scheduler's member.points.line.expire) runs
in several processes while others spend points of the same members, on
PostgreSQL.  The spendings take first the lots that expire first: the
very lots that the expiry takes, so that both race for them.  Afterwards
every balance is the sum of its lines, what remains of each lot is its
points less what was taken from it, no lot went negative, no points were
both spent and expired and each lot expired once.

The expiry locks the members (Member.hold_lock) before it reads their lots,
and the posting locks them again: a conflict waits before any work.
Without the lock the data stays right (the member row and the lots written
under REPEATABLE READ make a stale transaction fail and run again), but the
conflicts are found after the work ('late').

Mutation caught (scripts/check-races): 'expiry: no member lock' by
test_expiry_while_spending."""
import datetime as dt
import json
import os
import random
import subprocess
import unittest

from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

from .tools import require_postgresql, run_transaction, worker_command

MEMBERS = 3
SPENDERS = 3
EXPIRERS = 2
SPENDS = 40
EXPIRIES = 15
NOW = dt.datetime(2026, 5, 20, 4, 0)
TODAY = NOW.date()


@require_postgresql("multi-process test: needs PostgreSQL "
    "(TRYTOND_DATABASE_URI=postgresql:///)")
class PointsExpiryConcurrencyTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['member'])
        cls.addClassCleanup(drop_db)

    def race(self, seed, lock=True):
        """Spend and expire from several processes at once on new members,
        check the ledger and return the conflicts counted by the workers"""
        from trytond.pool import Pool

        def setup():
            pool = Pool()
            Member = pool.get('member.member')
            Configuration = pool.get('member.configuration')
            Configuration(1, points_validity=1).save()
            members = Member.create([
                    {'name': "M%s" % i} for i in range(MEMBERS)])
            entries = []
            for member in members:
                for n in range(8):
                    # Half expired 10 days ago, half expire next month
                    days = 40 if n % 2 else 0
                    entries.append({
                            'member': member, 'points': 50, 'reason': "Earn",
                            'date': NOW - dt.timedelta(days=days),
                            'key': 'earn:%s:%s:%s' % (seed, member.id, n)})
            Member.post_points(entries)
            return [m.id for m in members]
        member_ids = run_transaction(DB_NAME, setup)

        rng = random.Random(seed)
        plans = []
        for p in range(SPENDERS + EXPIRERS):
            if p < SPENDERS:
                # The first member's points are left to the expiry: the
                # spendings may take every expired lot of the others first
                plan = [{'kind': 'spend',
                        'member': rng.choice(member_ids[1:]),
                        'points': -rng.choice([15, 25, 40]),
                        'key': 'spend:%s:%s:%s' % (seed, p, i)}
                    for i in range(SPENDS)]
            else:
                plan = [{'kind': 'expire'} for _ in range(EXPIRIES)]
            plans.append(plan)

        env = dict(os.environ, DB_NAME=DB_NAME)
        if not lock:
            env['RACE_NO_MEMBER_LOCK'] = '1'
        procs = [subprocess.Popen(
                worker_command('expiry_worker.py', NOW.isoformat()),
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True)
            for _ in plans]
        for proc, plan in zip(procs, plans):
            proc.stdin.write(json.dumps(plan))
            proc.stdin.close()
        outputs = []
        for proc in procs:
            out = proc.stdout.read()
            proc.stdout.close()
            self.assertEqual(proc.wait(timeout=300), 0)
            outputs.append(json.loads(out))
        spent = sum(1 for o in outputs for r in o['results']
            if r['op']['kind'] == 'spend' and 'lines' in r)
        refused = sum(1 for o in outputs for r in o['results']
            if 'refused' in r)

        def check():
            pool = Pool()
            Member = pool.get('member.member')
            Line = pool.get('member.points.line')
            members = Member.browse(member_ids)
            self.assertEqual(Member.check_balances(members), [])
            lines = Line.search([('member', 'in', member_ids)],
                order=[('id', 'ASC')])
            running = {m: 0 for m in member_ids}
            for line in lines:
                running[line.member.id] += line.points
                self.assertGreaterEqual(running[line.member.id], 0)
            expired = 0
            for lot in [l for l in lines if l.points > 0]:
                moves = lot.lot_allocations
                # What remains is the points less what was taken
                self.assertEqual(
                    lot.points + sum(a.points for a in moves), lot.remaining)
                self.assertGreaterEqual(lot.remaining, 0)
                expiries = [a for a in moves
                    if a.line.idempotency_key.startswith('expiry:')]
                if lot.expires <= TODAY:
                    # Expired at most once, for what the spendings had
                    # left: nothing remains
                    self.assertLessEqual(len(expiries), 1, lot)
                    self.assertEqual(lot.remaining, 0)
                    for expiry in expiries:
                        self.assertEqual(expiry.line.points, expiry.points)
                        self.assertEqual(expiry.line.origin, lot)
                        expired += -expiry.points
                else:
                    self.assertEqual(expiries, [])
            return expired
        expired = run_transaction(DB_NAME, check)
        # Both raced for the same lots (without the lock the expiry, which
        # writes every member, may starve: it meets a conflict each time)
        if lock:
            self.assertGreater(expired, 0)
        self.assertGreater(spent, 0)
        self.assertGreater(refused, 0)
        stats = {}
        for output in outputs:
            for name, value in output['stats'].items():
                stats[name] = stats.get(name, 0) + value
        return stats

    def test_expiry_while_spending(self):
        """The member lock makes the expiry and the spendings wait for each
        other before their work.

        Catches 'expiry: no member lock'."""
        stats = self.race(11)
        self.assertGreater(stats['early'], 0, stats)
        self.assertEqual(stats['late'], 0, stats)

    def test_expiry_without_lock(self):
        """Without the member lock the lots stay exact: the rows written
        under REPEATABLE READ make a stale transaction run again"""
        # Whether the processes meet depends on the machine's scheduling:
        # on a busy machine a round may pass without a conflict
        for seed in [23, 29, 31]:
            stats = self.race(seed, lock=False)
            if stats['late']:
                break
        self.assertGreater(stats['late'], 0, stats)
