# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""The look-up of a member's check-in is planned on its unique index.

The check-in's first statement looks up the member's counted check-in of
the event and day (Attendance.duplicate_query).  While the table has no
statistics (a new database, a first big event), PostgreSQL's planner
estimates every equality alike, and an index starting with the event
(the live statistics', the reports') is smaller than the unique one
(its keys repeat: B-tree deduplication): it was chosen, and each look-up
read all the check-ins of the event.  psycopg prepares the statement on
the server and PostgreSQL keeps the plan it chose early (a generic plan,
made with the table nearly empty) for the life of the connection: a burst
of 12,000 check-ins read 72 million index entries.  The look-up is by the
counted key, which only its unique index holds.

The look-ups through the ORM by the counted key (and a client UUID's) are
checked too: Tryton compares an optional Char as COALESCE(column, ''),
passes the True of ('counted', '=', True) as a parameter (a plan for any
value of it cannot use the partial unique index) and a list as one array
(= ANY: a plan for any length of it may read the table); the suite's Key
and Predicate fields compare the bare columns.

Checked with the plan PostgreSQL keeps (generic) and with the one it
makes for the values (custom), at several sizes of a table that was never
analysed; on SQLite, with its plan (made for any value of the
parameters: with ('counted', '=', True) as Tryton writes it, each look-up
read the whole table)."""
import datetime as dt
import re
import unittest

from psycopg import ClientCursor
from sql import Table

from tests.tools import activate_suite
from trytond import backend
from trytond.modules.member.prepared import numbered, statement
from trytond.modules.suite import clock
from trytond.modules.suite.tests.tools import statements
from trytond.pool import Pool
from trytond.tests.test_tryton import drop_db, with_transaction
from trytond.transaction import Transaction

START = dt.datetime(2026, 3, 2, 1, 0)
SIZES = [0, 5, 40, 300, 1200]


class LookupPlanTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_suite()

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def members(self, count):
        "Insert count members (with their parties) and return their ids"
        cursor = Transaction().connection.cursor()
        party = Table('party_party')
        member = Table('member_member')
        cursor.execute(*party.insert(
                [party.name, party.code, party.code_alnum, party.code_digit,
                    party.active],
                [['Plan %d' % i, 'PLAN%06d' % i, 'PLAN%06d' % i, i, True]
                    for i in range(count)]))
        cursor.execute(*party.select(party.id,
                where=party.code.like('PLAN%')))
        parties = sorted(i for i, in cursor.fetchall())
        cursor.execute(*member.insert(
                [member.party, member.join_date, member.active,
                    member.points_balance, member.lifetime_points,
                    member.streak_length, member.best_streak],
                [[p, START.date(), True, 0, 0, 0, 0] for p in parties]))
        cursor.execute(*member.select(member.id,
                where=member.party.in_(parties)))
        return sorted(i for i, in cursor.fetchall())

    def check_ins(self, event, member_ids):
        "Insert the counted check-ins of member_ids to event, by SQL"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        cursor = Transaction().connection.cursor()
        table = Attendance.__table__()
        day_key = event.day_key(START)
        for member_id in member_ids:
            values = Attendance._stored({
                    'event': event.id, 'member': member_id, 'time': START,
                    'server_time': START, 'local_date': START.date(),
                    'day_key': day_key, 'epoch_minute': 0,
                    'method': 'app', 'status': 'valid', 'late': False,
                    'offline': False,
                    })
            cursor.execute(*table.insert(
                    [getattr(table, n) for n in values],
                    [list(values.values())]))

    def plans(self, sql, params):
        """The plans of sql with params: [(mode, plan, scans)] where scans
        are the names of the indexes they scan on checkin_attendance, or
        'Seq Scan'.  PostgreSQL's generic and custom plans; SQLite's plan,
        made for any value of the parameters."""
        if backend.name != 'postgresql':
            return self.sqlite_plans(sql, params)
        connection = Transaction().connection
        cursor = connection.cursor()
        text = numbered(sql)[0].decode('ascii')
        result = []
        for n, mode in enumerate(['force_generic_plan', 'force_custom_plan']):
            name = 'plan_look_up_%d' % n
            cursor.execute("SET LOCAL plan_cache_mode = %s" % mode)
            cursor.execute('PREPARE %s AS %s' % (name, text))
            # The values as literals: EXECUTE's parameters have no type
            cursor.execute(ClientCursor(connection).mogrify(
                    'EXPLAIN EXECUTE %s%s' % (name, '(%s)' % ', '.join(
                            ['%s'] * len(params)) if params else ''),
                    params))
            plan = '\n'.join(r[0] for r in cursor.fetchall())
            cursor.execute('DEALLOCATE %s' % name)
            result.append((mode, plan, [
                        m.group(1) or m.group(2) or 'Seq Scan'
                        for m in re.finditer(
                            r'Index(?: Only)? Scan(?: Backward)? using '
                            r'(\w+) on checkin_attendance'
                            r'|Bitmap Index Scan on (\w+)'
                            r'|Seq Scan on checkin_attendance', plan)]))
        return result

    def sqlite_plans(self, sql, params):
        "SQLite's plan of sql with params as plans gives them"
        cursor = Transaction().connection.cursor()
        aliases = set(re.findall(r'"checkin_attendance" AS "(\w+)"', sql))
        cursor.execute('EXPLAIN QUERY PLAN ' + sql, params)
        details = [r[3] for r in cursor.fetchall()]
        scans = []
        for detail in details:
            match = re.match(r'(SCAN|SEARCH) (\w+)'
                r'(?: USING (?:COVERING )?INDEX (\w+))?', detail)
            if match and match.group(2) in aliases:
                scans.append(match.group(3) if match.group(1) == 'SEARCH'
                    else 'Seq Scan')
        return [('sqlite', '\n'.join(details), scans)]

    @with_transaction()
    def test_duplicate_look_up_on_unique_index(self):
        """The look-ups of a member's check-in (the duplicate's, through the
        ORM) scan only the unique index, at every size"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        cursor = Transaction().connection.cursor()
        if backend.name == 'postgresql':
            cursor.execute("SELECT reltuples FROM pg_class "
                "WHERE relname = 'checkin_attendance'")
            # Never analysed: the case of the first burst
            self.assertLess(cursor.fetchone()[0], 1)
        event, = Event.create([{
                    'name': "Plans", 'kind': 'meeting',
                    'start': START, 'end': START + dt.timedelta(hours=2),
                    'timezone': 'Asia/Shanghai', 'methods': ['app'],
                    'policy': 'flag', 'points': 10, 'state': 'open',
                    }])
        member_ids = self.members(SIZES[-1] + 1)
        probe = member_ids.pop()
        done = 0
        for size in SIZES:
            self.check_ins(event, member_ids[done:size])
            done = size
            for client_uuid in [None, '0' * 32]:
                with clock.at(START + dt.timedelta(minutes=5)):
                    found = Attendance.duplicate_query(probe,
                        {'method': 'app', 'event_id': event.id},
                        client_uuid=client_uuid)
                key, build, values = found
                self.assertIn('counted_key', values)
                self.check_plans(statement(key, build, **values),
                    size=size, client_uuid=client_uuid)
            # The look-ups through the ORM: the counted check-in before an
            # insert (SQLite) or after a conflict, the events list's
            counting = statements()
            with counting, clock.at(START + dt.timedelta(minutes=5)):
                Attendance._find_counted({'event': event.id,
                        'member': probe, 'day_key': event.day_key(START)})
                Event.checked_in_ids(probe, [event.id])
            searches = [(sql, params) for sql, params in counting.calls
                if re.search(r'"counted_key" (= |IN \()', sql)]
            self.assertEqual(len(searches), 2, counting.executed)
            for sql, params in searches:
                self.check_plans((sql, params), size=size, orm=sql[-120:])

    def check_plans(self, query, **test):
        "Check that the plans of query scan only the unique indexes"
        for mode, plan, scans in self.plans(*query):
            with self.subTest(mode=mode, **test):
                self.assertTrue(scans, plan)
                self.assertTrue(set(scans) <= {
                        'checkin_attendance_counted_key_unique',
                        'checkin_attendance_client_uuid_unique'},
                    plan)

    @with_transaction()
    def test_review_look_up_on_partial_index(self):
        """The look-ups of the check-ins to review by their status (a
        State) scan the partial index of the flagged and rejected ones, in
        any plan, at every size"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        cursor = Transaction().connection.cursor()
        if backend.name != 'postgresql':
            # Tryton makes no index on SQLite whose predicate compares to
            # strings: a search by the status reads the table there
            cursor.execute("SELECT name FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = 'checkin_attendance' "
                "AND sql LIKE '%status%' AND sql LIKE '%WHERE%'")
            self.assertEqual(cursor.fetchall(), [])
            return
        cursor.execute("SELECT indexname FROM pg_indexes "
            "WHERE tablename = 'checkin_attendance' "
            "AND indexdef LIKE '%flagged%'")
        index, = [n for n, in cursor.fetchall()]
        event, = Event.create([{
                    'name': "Review", 'kind': 'meeting',
                    'start': START, 'end': START + dt.timedelta(hours=2),
                    'timezone': 'Asia/Shanghai', 'methods': ['app'],
                    'policy': 'flag', 'points': 10, 'state': 'open',
                    }])
        member_ids = self.members(SIZES[-1])
        done = 0
        for size in SIZES:
            self.check_ins(event, member_ids[done:size])
            done = size
            for clause in [('status', '=', 'flagged'),
                    ('status', 'in', ['flagged', 'rejected'])]:
                query = Attendance.search([clause], order=[], query=True)
                for mode, plan, scans in self.plans(*tuple(query)):
                    with self.subTest(mode=mode, size=size, clause=clause):
                        self.assertEqual(set(scans), {index}, plan)
