"""Several processes add and spend points on the same members at once, on
PostgreSQL.  Afterwards every stored balance equals the sum of its lines,
every line's `balance after` is the running sum (no lost update), no
balance went negative and no idempotency key was applied twice.

post_points protects the ledger by locking the member (Model.lock) and
writing the member row in the same transaction.  Under REPEATABLE READ the
row write is what guarantees it (a transaction whose snapshot missed a
concurrent posting fails to update the row and is retried; the lock alone
leaves a window, found by this test); the lock makes concurrent postings
queue at transaction start instead of failing late.  Checked: without the
lock and the row write this test fails (every member's running balance
breaks); without the lock alone it passes."""
import json
import os
import random
import subprocess
import unittest

from trytond import backend
from trytond.tests.test_tryton import (
    DB_NAME, activate_module, drop_db, with_transaction)

from .tools import run_transaction, worker_command

PROCESSES = 4
OPERATIONS = 80
MEMBERS = 3


@unittest.skipUnless(backend.name == 'postgresql',
    "multi-process test: needs PostgreSQL")
class PointsConcurrencyTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['member'])

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def test_concurrent_postings(self):
        from trytond.pool import Pool

        def setup():
            Member = Pool().get('member.member')
            members = Member.create([
                    {'name': "M%s" % i} for i in range(MEMBERS)])
            Member.post_points([{
                        'member': m, 'points': 100, 'reason': "start",
                        'key': 'start:%s' % m.id} for m in members])
            return [m.id for m in members]
        member_ids = run_transaction(DB_NAME, setup)

        rng = random.Random(42)
        # Half of the keys are given to two processes: each key must be
        # applied once whoever comes first.
        shared = [{
                'member': rng.choice(member_ids),
                'points': rng.choice([15, 25, -40, -60]),
                'reason': "shared",
                'key': 'shared:%s' % i,
                } for i in range(OPERATIONS // 2)]
        plans = []
        for p in range(PROCESSES):
            own = [{
                    'member': rng.choice(member_ids),
                    'points': rng.choice([10, 20, -30, -50]),
                    'reason': "own",
                    'key': 'own:%s:%s' % (p, i),
                    } for i in range(OPERATIONS // 2)]
            mine = [op for i, op in enumerate(shared) if i % PROCESSES in {
                    p, (p + 1) % PROCESSES}]
            plan = own + mine
            rng.shuffle(plan)
            plans.append(plan)

        env = dict(os.environ, DB_NAME=DB_NAME)
        procs = [subprocess.Popen(
                worker_command('points_worker.py'), env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in plans]
        outputs = []
        for proc, plan in zip(procs, plans):
            proc.stdin.write(json.dumps(plan))
            proc.stdin.close()
        for proc in procs:
            out = proc.stdout.read()
            proc.stdout.close()
            self.assertEqual(proc.wait(timeout=300), 0)
            outputs.append(json.loads(out))

        acknowledged = {}
        for results in outputs:
            for result in results:
                if 'line' in result:
                    # The same key always comes back with the same line
                    self.assertEqual(
                        acknowledged.setdefault(result['key'], result['line']),
                        result['line'])
        refused = sum('refused' in r for rs in outputs for r in rs)

        @with_transaction()
        def check():
            pool = Pool()
            Member = pool.get('member.member')
            Line = pool.get('member.points.line')
            members = Member.browse(member_ids)
            self.assertEqual(Member.check_balances(members), [])
            lines = Line.search([], order=[('id', 'ASC')])
            keys = [l.idempotency_key for l in lines]
            self.assertEqual(len(keys), len(set(keys)))
            self.assertEqual(
                {l.idempotency_key: l.id for l in lines
                    if not l.idempotency_key.startswith('start:')},
                acknowledged)
            running = {m: 0 for m in member_ids}
            for line in lines:
                running[line.member.id] += line.points
                self.assertGreaterEqual(running[line.member.id], 0)
            for member in members:
                self.assertEqual(member.points_balance, running[member.id])
            return len(lines)
        count = check()
        # The workload must have exercised both outcomes
        self.assertGreater(refused, 0)
        self.assertGreater(count, PROCESSES * OPERATIONS // 4)
