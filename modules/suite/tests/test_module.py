# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
from unittest.mock import patch
from zoneinfo import ZoneInfo

from trytond import backend
from trytond.modules.suite import clock, tools
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


class SuiteTestCase(ModuleTestCase):
    "Test Suite module"
    module = 'suite'

    def test_parse_datetime(self):
        "parse_datetime takes ISO 8601 with an offset or Z, to naive UTC"
        self.assertEqual(
            tools.parse_datetime('2026-05-01T08:00:00+08:00'),
            dt.datetime(2026, 5, 1, 0, 0))
        self.assertEqual(
            tools.parse_datetime('2026-05-01T00:00:00Z'),
            dt.datetime(2026, 5, 1, 0, 0))
        self.assertEqual(
            tools.parse_datetime(
                dt.datetime(2026, 5, 1, 8, tzinfo=ZoneInfo('Asia/Shanghai'))),
            dt.datetime(2026, 5, 1, 0, 0))
        for value in ['2026-05-01T08:00:00', ' 2026-05-01T00:00:00Z',
                'tomorrow', '', 42, None,
                dt.date(2026, 5, 1), dt.datetime(2026, 5, 1)]:
            with self.subTest(value=value), self.assertRaises(ValueError):
                tools.parse_datetime(value)

    def test_isoformat(self):
        "isoformat answers naive UTC in a time zone, dates as they are"
        value = dt.datetime(2026, 5, 1, 0, 0)
        self.assertEqual(tools.isoformat(value), '2026-05-01T00:00:00+00:00')
        self.assertEqual(
            tools.isoformat(value, ZoneInfo('Asia/Shanghai')),
            '2026-05-01T08:00:00+08:00')
        self.assertEqual(tools.isoformat(dt.date(2026, 5, 1)), '2026-05-01')
        self.assertIsNone(tools.isoformat(None))
        self.assertEqual(
            tools.parse_datetime(tools.isoformat(
                    value, ZoneInfo('Asia/Shanghai'))), value)

    @with_transaction()
    def test_savepoint(self):
        "A failed block inside savepoint leaves the transaction usable"
        User = Pool().get('res.user')
        table = User.__table__()
        cursor = Transaction().connection.cursor()
        with self.assertRaises(backend.DatabaseIntegrityError):
            with tools.savepoint('test'):
                cursor.execute(*table.insert(
                        [table.id, table.login], [[0, 'again']]))
        cursor.execute(*table.select(table.login, where=table.id == 0))
        self.assertEqual(cursor.fetchone()[0], 'root')

    @with_transaction()
    def test_run_apart_retries(self):
        "run_apart tries again when the database refuses, then gives up"
        calls = []

        def refuse():
            calls.append(1)
            if len(calls) < 3:
                raise backend.DatabaseOperationalError("busy")
            return 'done'
        with patch.object(tools, 'backoff'):
            self.assertEqual(tools.run_apart(refuse, 5), 'done')
            self.assertEqual(len(calls), 3)
            calls.clear()
            with self.assertRaises(backend.DatabaseOperationalError):
                tools.run_apart(lambda: refuse() and refuse(), 1)

    @with_transaction()
    def test_clock_context(self):
        "The clock of the transaction moves every reader of now()"
        moment = dt.datetime(2030, 1, 2, 3, 4, 5)
        with clock.at(moment):
            self.assertEqual(clock.now(), moment)
            self.assertEqual(clock.today(ZoneInfo('Asia/Shanghai')),
                dt.date(2030, 1, 2))
        self.assertNotEqual(clock.now(), moment)


del ModuleTestCase
