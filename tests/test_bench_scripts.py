# This file is part of the suite.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What the benchmark scripts take for granted of the API, and how they
cut their work."""
import json
import os
import tempfile
import unittest
from types import SimpleNamespace

from werkzeug.test import Client
from werkzeug.wrappers import Response


class BenchScriptsTestCase(unittest.TestCase):
    "The benchmark scripts"

    def test_wrk_ping(self):
        """wrk's tail ping on the project is answered by the API's
        middleware before any database work (the database does not exist
        here), with an answer that no check-in gets"""
        import trytond.modules.miniprogram.routes  # noqa: F401 the routes
        from scripts.bench_checkin_load import PROJECT_PING
        from trytond.wsgi import app
        path, status, pattern = PROJECT_PING
        response = Client(app, Response).get(
            '/bench_no_database/mp/v1' + path)
        self.assertEqual(str(response.status_code), status)
        self.assertIn(pattern, response.get_data(as_text=True))
        self.assertNotIn(status, {'201', '409'})

    def test_rounds_share_the_members(self):
        """bench_checkin --rounds: each round of a side bursts its own -n
        members of the run file, and the acknowledged check-ins of every
        round are checked together"""
        from scripts.bench_checkin import Side, median

        class Fake(Side):
            target = 'fake'

        with tempfile.TemporaryDirectory() as tmp:
            side = Fake(None, SimpleNamespace(n=2, rounds=3), tmp)
            with open(side.run_file, 'w') as f:
                json.dump({'n': 6, 'event_id': 9,
                        'members': [1, 2, 3, 4, 5, 6],
                        'jwts': ['a', 'b', 'c', 'd', 'e', 'f'],
                        'positions': [[0, i] for i in range(6)],
                        'qr_tokens': {'1': 'q'}}, f)
            shares = []
            for round_ in range(3):
                with open(side.share(round_)) as f:
                    shares.append(json.load(f))
            self.assertEqual([s['members'] for s in shares],
                [[1, 2], [3, 4], [5, 6]])
            self.assertEqual([s['jwts'] for s in shares],
                [['a', 'b'], ['c', 'd'], ['e', 'f']])
            self.assertEqual(shares[2]['positions'], [[0, 4], [0, 5]])
            self.assertEqual({s['n'] for s in shares}, {2})
            self.assertEqual(shares[1]['qr_tokens'], {'1': 'q'})

            # wrk tells how many; the Python generator which ones
            for round_, acked in enumerate([{'count': 2}, {'count': 1}]):
                side.acked.append(os.path.join(tmp, 'w%d' % round_))
                with open(side.acked[-1], 'w') as f:
                    json.dump(acked, f)
            with open(side.all_acked()) as f:
                self.assertEqual(json.load(f), {'count': 3})
            side.acked = []
            for round_, acked in enumerate([[[9, 1]], [[9, 3], [9, 4]]]):
                side.acked.append(os.path.join(tmp, 'p%d' % round_))
                with open(side.acked[-1], 'w') as f:
                    json.dump(acked, f)
            with open(side.all_acked()) as f:
                self.assertEqual(json.load(f), [[9, 1], [9, 3], [9, 4]])

        # One round: the run file as it is
        side = Fake(None, SimpleNamespace(n=6, rounds=1), '/nowhere')
        self.assertEqual(side.share(0), side.run_file)
        self.assertEqual(median([3, 1, 2]), 2)
        self.assertEqual(median([4, 1, 2, 3]), 2.5)


class CheckinFloorTestCase(unittest.TestCase):
    "scripts/checkin_floor.py, the measurement of bench_checkin --floor"

    @classmethod
    def setUpClass(cls):
        from trytond.tests.test_tryton import activate_module, drop_db
        drop_db()
        activate_module(['miniprogram'])
        cls.addClassCleanup(drop_db)

    def setUp(self):
        from scripts import checkin_floor
        from trytond.modules.member import prepared
        from trytond.modules.miniprogram import api
        answers = api._early[('POST', api._url('checkins'))]
        self.addCleanup(answers.__setitem__, slice(None), list(answers))
        self.addCleanup(
            setattr, prepared, 'fetch_alone', prepared.fetch_alone)
        checkin_floor._captured.clear()
        checkin_floor.answered[0] = 0

    def test_floor_writes_the_project_rows(self):
        """The first check-in of an event goes the project's way and is
        captured; on PostgreSQL the floor answers the next ones with the
        rows the project's check-in writes.  On SQLite nothing is committed
        alone: every check-in goes the project's way."""
        self.check_floor(rules=False)

    def test_floor_rules_writes_the_project_rows(self):
        "The floor with the project's rules writes the project's rows"
        self.check_floor(rules=True)

    def check_in(self, tokens, qr):
        "Check the members of tokens in with qr through the API: 201"
        from scripts.profile_checkin import LAT, LON
        from trytond.tests.test_tryton import DB_NAME
        from trytond.wsgi import app
        client = Client(app, Response)
        for token in tokens:
            response = client.post('/%s/mp/v1/checkins' % DB_NAME,
                data=json.dumps({'qr_token': qr, 'lat': LAT, 'lon': LON}),
                headers={'Authorization': 'Bearer ' + token,
                    'Content-Type': 'application/json'})
            self.assertEqual(response.status_code, 201, response.data)

    def check_floor(self, rules):
        from sql import Table

        from scripts import checkin_floor
        from scripts.profile_checkin import setup
        from trytond import backend
        from trytond.tests.test_tryton import DB_NAME
        from trytond.transaction import Transaction
        with Transaction().start(DB_NAME, 0) as transaction:
            event_id, qr, tokens = setup(5)
            transaction.commit()
        checkin_floor.install(rules=rules)
        self.check_in(tokens, qr)
        postgresql = backend.name == 'postgresql'
        # On PostgreSQL the first check-in of the event reads it (its
        # transaction begun, not committed alone: not captured), the next
        # one is captured
        if postgresql:
            self.assertGreaterEqual(checkin_floor.answered[0], 3)
        else:
            self.assertEqual(checkin_floor.answered[0], 0)
        self.assertEqual(event_id in checkin_floor._captured, postgresql)
        with Transaction().start(DB_NAME, 0):
            attendance = Table('checkin_attendance')
            line = Table('member_points_line')
            member = Table('member_member')
            cursor = Transaction().connection.cursor()
            cursor.execute(*attendance.join(line,
                    condition=line.id == attendance.points_line
                    ).join(member,
                    condition=member.id == attendance.member
                    ).select(attendance.id, attendance.member,
                    attendance.counted_key, line.origin,
                    line.idempotency_key, attendance.status,
                    attendance.method, attendance.local_date,
                    attendance.day_key, attendance.late,
                    attendance.counted, attendance.points_granted,
                    attendance.distance, attendance.coord_type,
                    attendance.reasons, line.points, line.balance_after,
                    line.reason_code, line.reason_params, line.expires,
                    member.points_balance, member.lifetime_points,
                    member.tier, member.streak_length,
                    where=attendance.event == event_id,
                    order_by=attendance.id))
            rows = cursor.fetchall()
        self.assertEqual(len(rows), 5)
        for id_, member_id, counted_key, origin, key, *_ in rows:
            self.assertEqual(counted_key, '%d:%d:0' % (event_id, member_id))
            self.assertEqual(origin, 'checkin.attendance,%d' % id_)
            self.assertEqual(key, 'checkin:%d' % id_)
        # The rest is the same for every member
        self.assertEqual(len({tuple(map(str, r[5:])) for r in rows}), 1,
            rows)

    def test_phases(self):
        """profile_checkin --phases times the functions of the check-in
        (once per check-in) and puts them back"""
        from scripts.profile_checkin import phases, setup
        from trytond import backend
        from trytond.modules.member import prepared
        from trytond.pool import Pool
        from trytond.tests.test_tryton import DB_NAME
        from trytond.transaction import Transaction
        with Transaction().start(DB_NAME, 0) as transaction:
            _, qr, tokens = setup(3)
            transaction.commit()
        pool = Pool(DB_NAME)
        Line = pool.get('member.points.line')
        before = (Line._post_entries, prepared.fetch_alone)
        start, report, undo = phases(pool)
        self.addCleanup(undo)
        start()
        self.check_in(tokens, qr)
        timed = {line.split(None, 2)[2]: float(line.split()[1])
            for line in report(len(tokens)).splitlines()[1:]}
        self.assertEqual(timed['member.points.line _post_entries'], 1)
        if backend.name == 'postgresql':
            self.assertEqual(timed['miniprogram.routes _early_checkin'], 1)
            # The posting's statement: in the transaction of the event's
            # first check-in (which read the event), alone for the others
            self.assertEqual(timed.get('member.prepared execute', 0)
                + timed.get('member.prepared fetch_alone', 0), 1)
            self.assertGreater(timed['member.prepared run_alone'], 0.5)
        undo()
        self.assertEqual((Line._post_entries, prepared.fetch_alone), before)
