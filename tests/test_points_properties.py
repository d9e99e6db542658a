"""Property-based test (hypothesis) of the points ledger with expiring lots:
random sequences of earnings, spendings, give-backs, reversals and expiry
runs, with the clock moved forward between them, never leave a lot negative
and always keep the balance equal to the ledger, what remains of the lots
equal to the positive part of the balance and the lifetime points equal to
the points earned.

It runs in one rolled-back transaction of a test database with `member`
activated, on the backend of the pass (SQLite or PostgreSQL): 15 sequences,
200 with LONG_TESTS=1."""
import datetime as dt
import os
import tempfile
import unittest

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trytond.modules.suite.tests.tools import sized
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)

# Keep hypothesis' cache out of the working tree (see test_properties)
if not os.environ.get('HYPOTHESIS_STORAGE_DIRECTORY'):
    from hypothesis.configuration import set_hypothesis_home_dir
    set_hypothesis_home_dir(os.path.join(
            tempfile.gettempdir(), 'hypothesis-%s' % os.getuid()))

SLOW = settings(max_examples=sized(15, 200), deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])
START = dt.datetime(2026, 1, 5, 4, 0)

operations = st.lists(st.one_of(
        st.tuples(st.just('earn'), st.integers(1, 80)),
        st.tuples(st.just('spend'), st.integers(1, 120)),
        st.tuples(st.just('refund'), st.integers(0, 20), st.integers(1, 120)),
        st.tuples(st.just('reverse'), st.integers(1, 60)),
        st.tuples(st.just('expire'),),
        st.tuples(st.just('wait'), st.integers(1, 70)),
        st.tuples(st.just('validity'), st.sampled_from([None, 1, 2, 6])),
        ), min_size=1, max_size=25)


def lot_key(line):
    "The order in which spending takes the lots"
    return (line.expires is None, line.expires or dt.date.min, line.id)


class PointsPropertiesTestCase(unittest.TestCase):
    "Expiring lots of the points ledger (member/points.py)"

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['member'])

    @classmethod
    def tearDownClass(cls):
        drop_db()

    @with_transaction()
    def test_lots(self):
        "Earn, spend, refund, reverse and expire keep the lots sound"
        from trytond.exceptions import UserError
        from trytond.modules.suite import clock
        from trytond.pool import Pool
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Configuration = pool.get('member.configuration')

        @SLOW
        @given(st.sampled_from([None, 1, 2, 6]), operations)
        @example(None, [('earn', 10), ('validity', 1), ('earn', 10),
                ('spend', 5), ('refund', 0, 5), ('wait', 40), ('expire',)])
        def check(validity, ops):
            Configuration(1, points_validity=validity).save()
            member, = Member.create([{'name': "Lots"}])
            now = START
            spends = []  # [key, points spent, points given back]
            earned = 0

            def lines():
                return Line.search([('member', '=', member.id)],
                    order=[('id', 'ASC')])

            for n, op in enumerate(ops):
                kind = op[0]
                key = '%d:%d' % (member.id, n)
                before = {l.id: l.remaining for l in lines()
                    if l.remaining is not None}
                with clock.at(now):
                    if kind == 'earn':
                        Member.add_points(member, op[1], "Earn", key=key)
                        earned += op[1]
                    elif kind == 'spend':
                        try:
                            line = Member.add_points(
                                member, -op[1], "Spend", key=key)
                        except UserError:
                            self.assertLess(
                                Member(member.id).points_balance, op[1])
                            continue
                        spends.append([key, op[1], 0])
                        self.check_order(line, before)
                    elif kind == 'refund':
                        if not spends:
                            continue
                        spend = spends[op[1] % len(spends)]
                        points = min(op[2], spend[1] - spend[2])
                        if not points:
                            continue
                        line = Member.add_points(member, points, "Back",
                            key='%s:back:%d' % (spend[0], n))
                        self.assertEqual(
                            Line(line.id).reverses.idempotency_key, spend[0])
                        spend[2] += points
                    elif kind == 'reverse':
                        Member.post_points([{
                                    'member': member, 'points': -op[1],
                                    'reason': "Cheat", 'key': key,
                                    'reversal': True,
                                    'allow_negative': True}])
                        earned -= op[1]
                    elif kind == 'expire':
                        today = Configuration(1).local_date(now)
                        Line.expire(today)
                        # Nothing past its day remains
                        self.assertEqual([l for l in lines()
                                if l.remaining and l.expires
                                and l.expires <= today], [])
                    elif kind == 'validity':
                        Configuration(1, points_validity=op[1]).save()
                    else:
                        now += dt.timedelta(days=op[1])
                all_lines = lines()
                # No lot negative nor above its points
                for line in all_lines:
                    if line.points > 0:
                        self.assertTrue(
                            0 <= line.remaining <= line.points, line)
                    else:
                        self.assertIsNone(line.remaining)
                stored = Member(member.id)
                # The balance is the sum of the lines; what remains of the
                # lots is its positive part (check_balances)
                self.assertEqual(
                    stored.points_balance, sum(l.points for l in all_lines))
                self.assertEqual(Member.check_balances([stored]), [])
                self.assertEqual(
                    sum(l.remaining or 0 for l in all_lines),
                    max(stored.points_balance, 0))
                # Spending, giving back and expiry do not change what was
                # earned
                self.assertEqual(stored.lifetime_points, earned)
        check()

    def check_order(self, line, before):
        """The spending line took the lots that expire first: every lot it
        took from comes before every lot it left points in"""
        from trytond.pool import Pool
        Line = Pool().get('member.points.line')
        line = Line(line.id)
        taken = {a.lot.id for a in line.allocations}
        self.assertEqual(-sum(a.points for a in line.allocations),
            min(-line.points, sum(before.values())))
        left = [l for l in Line.browse(list(before))
            if l.remaining and before[l.id]]
        for lot in Line.browse(list(taken)):
            for other in left:
                if other.id not in taken:
                    self.assertLess(lot_key(lot), lot_key(other))
