# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
from unittest.mock import patch
from zoneinfo import ZoneInfo

from trytond import backend
from trytond.modules.suite import clock, geo, tools
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


class SuiteTestCase(ModuleTestCase):
    "Test Suite module"
    module = 'suite'

    def test_parse_datetime(self):
        "parse_datetime takes ISO 8601 with an offset or Z, to naive UTC"
        for value in ['2026-05-01T08:00:00+08:00', '2026-05-01T00:00:00Z',
                dt.datetime(2026, 5, 1, 8, tzinfo=ZoneInfo('Asia/Shanghai'))]:
            with self.subTest(value=value):
                self.assertEqual(
                    tools.parse_datetime(value), dt.datetime(2026, 5, 1, 0, 0))
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
    def test_rollback_keeps_prepared_statements(self):
        """rollback, to a savepoint too (savepoint's failure), leaves the
        statements prepared on the connection: psycopg's rollback
        deallocates them all (planned again on their next five uses)"""
        connection = Transaction().connection
        cursor = connection.cursor()
        if backend.name != 'postgresql':
            table = Pool().get('res.user').__table__()
            cursor.execute(*table.update(
                    [table.login], ['rolled back'], where=table.id == 0))
            tools.rollback(connection)
            cursor.execute(*table.select(table.login, where=table.id == 0))
            self.assertEqual(cursor.fetchone()[0], 'root')
            return
        from psycopg import RawCursor, errors

        def prepared():
            # psycopg prepares a statement on its sixth execution
            for i in range(6):
                RawCursor(connection).execute(
                    b'SELECT $1::int + 1', (i,)).fetchone()
            cursor.execute('SELECT COUNT(*) FROM pg_prepared_statements')
            return cursor.fetchone()[0]
        count = prepared()
        self.assertGreater(count, 0)
        # Failed: the transaction aborted
        with self.assertRaises(errors.DivisionByZero):
            cursor.execute('SELECT 1 / 0')
        tools.rollback(connection)
        cursor.execute('SELECT COUNT(*) FROM pg_prepared_statements')
        self.assertEqual(cursor.fetchone()[0], count)
        self.assertEqual(prepared(), count)
        with self.assertRaises(errors.DivisionByZero):
            with tools.savepoint('test'):
                cursor.execute('SELECT 1 / 0')
        cursor.execute('SELECT COUNT(*) FROM pg_prepared_statements')
        self.assertEqual(cursor.fetchone()[0], count)
        # Nothing to roll back
        tools.rollback(connection)
        tools.rollback(connection)
        cursor.execute('SELECT 1')
        connection.rollback()
        cursor.execute('SELECT COUNT(*) FROM pg_prepared_statements')
        self.assertEqual(cursor.fetchone()[0], 0, "psycopg's rollback")

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
    def test_run_apart_locks(self):
        """run_apart starts its transaction again with the locks that func
        asks for (Tryton 8.0: Model.lock raises TransactionError)"""
        User = Pool().get('res.user')
        calls = []

        def lock():
            calls.append(1)
            User.lock([User(0)])
            return 'locked'
        self.assertEqual(tools.run_apart(lock), 'locked')
        self.assertEqual(len(calls), 2)

    @with_transaction()
    def test_triggers(self):
        "triggers answers a model without trigger without get_triggers"
        pool = Pool()
        Trigger = pool.get('ir.trigger')
        Model = pool.get('ir.model')
        get_triggers = Trigger.get_triggers.__func__
        calls = []

        def spy(cls, model_name, mode):
            # Not those of creating the trigger
            if model_name == 'res.user':
                calls.append((model_name, mode))
            return get_triggers(cls, model_name, mode)
        Trigger._get_triggers_cache.clear()
        Trigger._suite_exists_cache.clear()
        action = Trigger.action.selection
        with patch.object(Trigger, 'get_triggers', classmethod(spy)), \
                patch.object(Trigger.action, 'selection',
                    action + [('res.user|write', "Test")]):
            # No trigger: answered without get_triggers, then from the cache
            for _ in range(2):
                self.assertEqual(tools.triggers('res.user', 'write'), [])
            self.assertEqual(calls, [])
            # Then by the transaction, without asking the cache again
            with patch.object(Trigger._suite_exists_cache, 'get',
                    side_effect=AssertionError("asked again")):
                self.assertEqual(tools.triggers('res.user', 'write'), [])
            self.assertIs(
                Trigger._suite_exists_cache.get(('res.user', 'write')), False)
            # A new trigger clears what is kept
            model, = Model.search([('name', '=', 'res.user')])
            trigger, = Trigger.create([{
                        'name': "Test", 'action': 'res.user|write',
                        'model': model.id,
                        'on_write_': True, 'condition': 'true',
                        'limit_number': 0,
                        }])
            self.assertEqual(
                [t.id for t in tools.triggers('res.user', 'write')],
                [trigger.id])
            self.assertEqual(calls, [('res.user', 'write')])
            self.assertEqual(tools.triggers('res.user', 'create'), [])
            Trigger.write([trigger], {'active': False})
            # Exists (inactive): get_triggers tells, as Tryton would
            self.assertEqual(tools.triggers('res.user', 'write'), [])
            self.assertEqual(len(calls), 2)
            Trigger.delete([trigger])
            self.assertEqual(tools.triggers('res.user', 'write'), [])
            self.assertEqual(len(calls), 2)
            with Transaction().set_context(_no_trigger=True):
                self.assertEqual(tools.triggers('res.user', 'write'), [])
            self.assertEqual(len(calls), 2)

    def test_remember(self):
        "remember keeps at most size entries, emptying the memo when full"
        memo = {}
        for i in range(3):
            self.assertEqual(tools.remember(memo, i, str(i), 3), str(i))
        self.assertEqual(memo, {0: '0', 1: '1', 2: '2'})
        tools.remember(memo, 3, '3', 3)
        self.assertEqual(memo, {3: '3'})

    @with_transaction()
    def test_instance(self):
        "instance shares its transaction's caches and stores plain values"
        pool = Pool()
        User = pool.get('res.user')
        Sequence = pool.get('ir.sequence')
        admin = tools.instance(User, 1)
        self.assertEqual(admin.login, 'admin')
        again = tools.instance(User, 1)
        self.assertIs(again._local_cache, admin._local_cache)
        self.assertIs(again._transaction_cache, admin._transaction_cache)
        self.assertIsNot(
            tools.instance(Sequence, 1)._local_cache, admin._local_cache)
        with Transaction().set_context(language='fr'):
            other = tools.instance(User, 1)
        self.assertIsNot(other._local_cache, admin._local_cache)
        self.assertIsNot(other._transaction_cache, admin._transaction_cache)

        # Converted to the field's type, kept unchanged
        sequence = tools.instance(Sequence, 7, padding='3')
        self.assertEqual(sequence.padding, 3)
        self.assertIsNot(sequence._values, sequence._init_values)
        self.assertEqual(sequence._init_values.padding, 3)
        sequence.padding = 4
        self.assertEqual(sequence._init_values.padding, 3)
        # A new record has no values to compare with, as in Tryton
        self.assertIsNone(
            tools.instance(Sequence, None, padding=2)._init_values)
        # A field that converts on assignment (Char strips): as Tryton does
        for values in [{'name': " Admin "}, {'name': "A", 'padding': 2}]:
            Model = User if len(values) == 1 else Sequence
            self.assertEqual(
                dict(tools.instance(Model, 1, **values)._values._items()),
                dict(Model(1, **values)._values._items()))

    def test_relax_pool_checks(self):
        "The pool checks a connection only after the window unused"
        from psycopg_pool import ConnectionPool

        class Connection:
            pass
        original = ConnectionPool.check_connection
        checked = []
        ConnectionPool.check_connection = staticmethod(checked.append)
        try:
            self.assertFalse(tools.relax_pool_checks(0))
            self.assertTrue(tools.relax_pool_checks(5))
            check = ConnectionPool.check_connection
            first, second = Connection(), Connection()
            with patch.object(tools.time, 'monotonic', return_value=100):
                check(first)
                check(first)
                check(second)
            self.assertEqual(checked, [first, second])
            with patch.object(tools.time, 'monotonic', return_value=104):
                check(first)
            self.assertEqual(checked, [first, second])
            with patch.object(tools.time, 'monotonic', return_value=110):
                check(first)
            self.assertEqual(checked, [first, second, first])
            # Relaxed again, the original check is kept
            tools.relax_pool_checks(5)
            check = ConnectionPool.check_connection
            with patch.object(tools.time, 'monotonic', return_value=200):
                check(second)
            self.assertEqual(checked, [first, second, first, second])
        finally:
            ConnectionPool.check_connection = original

    @with_transaction()
    def test_clock_context(self):
        "The clock of the transaction moves every reader of now()"
        moment = dt.datetime(2030, 1, 2, 3, 4, 5)
        with clock.at(moment):
            self.assertEqual(clock.now(), moment)
            self.assertEqual(clock.today(ZoneInfo('Asia/Shanghai')),
                dt.date(2030, 1, 2))
        self.assertNotEqual(clock.now(), moment)

    def test_gcj02_reference_points(self):
        "WGS-84 to GCJ-02 gives the published reference points"
        # (WGS-84 lat, lon, GCJ-02 lat, lon): the tests of the eviltransform
        # and coordtransform projects (Shanghai, Shenzhen, two in Beijing)
        for wlat, wlon, glat, glon in [
                (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
                (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
                (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
                (39.915, 116.404, 39.91640428150164, 116.41024449916938),
                ]:
            with self.subTest(lat=wlat, lon=wlon):
                lat, lon = geo.wgs84_to_gcj02(wlat, wlon)
                self.assertAlmostEqual(lat, glat, places=9)
                self.assertAlmostEqual(lon, glon, places=9)
                back = geo.gcj02_to_wgs84(glat, glon)
                self.assertLess(geo.haversine(wlat, wlon, *back), 0.01)
                self.assertAlmostEqual(
                    geo.distance((glat, glon, 'gcj02'), (wlat, wlon, None)),
                    0, delta=0.01)

    def test_gcj02_out_of_china(self):
        "Out of China GCJ-02 is WGS-84"
        for lat, lon in [(48.8584, 2.2945), (40.6892, -74.0445), (-33.8568,
                    151.2153), (0, 0)]:
            with self.subTest(lat=lat, lon=lon):
                self.assertEqual(geo.wgs84_to_gcj02(lat, lon), (lat, lon))
                self.assertEqual(geo.gcj02_to_wgs84(lat, lon), (lat, lon))

    def test_to_wgs84(self):
        "to_wgs84 takes wgs84 (the default) and gcj02 only"
        self.assertEqual(geo.to_wgs84(31.2, 121.4), (31.2, 121.4))
        self.assertEqual(geo.to_wgs84(31.2, 121.4, 'wgs84'), (31.2, 121.4))
        lat, lon = geo.to_wgs84(31.2, 121.4, 'gcj02')
        # About 500 m in Shanghai
        self.assertTrue(300 < geo.haversine(31.2, 121.4, lat, lon) < 700)
        for coord_type in ['bd09', 'WGS84']:
            with self.subTest(coord_type=coord_type), \
                    self.assertRaises(ValueError):
                geo.to_wgs84(31.2, 121.4, coord_type)

    def test_parse_position(self):
        "A client's position: numbers in range, a known system in its area"
        self.assertEqual(geo.parse_position(31.23041612, 121.4737009),
            (31.2304161, 121.4737009, None, 'wgs84'))
        self.assertEqual(geo.parse_position(31, 121, 15.04, 'gcj02'),
            (31.0, 121.0, 15.0, 'gcj02'))
        # Out of China WGS-84 only
        self.assertEqual(geo.parse_position(48.8584, 2.2945, None, 'wgs84'),
            (48.8584, 2.2945, None, 'wgs84'))
        for args, field in [
                ((None, 121), 'lat'),
                (('31.2', 121), 'lat'),
                ((True, 121), 'lat'),
                ((91, 121), 'lat'),
                ((float('nan'), 121), 'lat'),
                ((10 ** 400, 121), 'lat'),
                ((31, -180.5), 'lon'),
                ((31, float('inf')), 'lon'),
                ((31, 121, -1), 'accuracy_m'),
                ((31, 121, 1e7), 'accuracy_m'),
                ]:
            with self.subTest(args=args), \
                    self.assertRaises(geo.PositionError) as cm:
                geo.parse_position(*args)
            self.assertEqual(cm.exception.field, field)
        for args, reason in [
                ((31, 121, None, 'bd09'), 'unknown'),
                ((31, 121, None, ''), 'unknown'),
                ((91, 121, None, 'bd09'), 'unknown'),
                ((48.8584, 2.2945, None, 'gcj02'), 'outside_china'),
                ((-33.8568, 151.2153, None, 'gcj02'), 'outside_china'),
                ]:
            with self.subTest(args=args), \
                    self.assertRaises(geo.CoordTypeError) as cm:
                geo.parse_position(*args)
            self.assertEqual(cm.exception.reason, reason)
            self.assertEqual(cm.exception.details, {
                    'coord_type': args[3], 'allowed': ['wgs84', 'gcj02'],
                    'reason': reason})
        self.assertEqual(geo.check_coord_type(None), 'wgs84')
        self.assertEqual(geo.check_coord_type('gcj02'), 'gcj02')
        self.assertEqual(geo.check_coord_type('gcj02', 31, 121), 'gcj02')

    def test_parse_point(self):
        "A point copied from Tencent Maps (lat,lon) or AMap (lon,lat)"
        for text in ['31.230416,121.473701', '121.473701,31.230416',
                ' 31.230416 ,121.473701\n', '31.230416，121.473701']:
            with self.subTest(text=text):
                self.assertEqual(
                    geo.parse_point(text), (31.230416, 121.473701))
        # Urumqi: a longitude under 90 is still told from a latitude
        self.assertEqual(geo.parse_point('87.616880,43.825592'),
            (43.825592, 87.61688))
        for text in [None, '', 'Shanghai', '31.230416', '31.2 121.4',
                '31.2,121.4,7', '48.8584,2.2945', '2.2945,48.8584',
                '-31.2,121.4', '1e2,31', '91,181']:
            with self.subTest(text=text), \
                    self.assertRaises(geo.PositionError):
                geo.parse_point(text)

    def test_haversine(self):
        "The great-circle distance"
        self.assertEqual(geo.haversine(31.23, 121.47, 31.23, 121.47), 0)
        self.assertAlmostEqual(
            geo.haversine(0, 0, 1, 0), 111195.08, delta=0.01)


del ModuleTestCase
