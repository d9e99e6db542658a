# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import io
from contextlib import contextmanager
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import (
    AccessButtonError, AccessError, SQLConstraintError)
from trytond.modules.checkin import token
from trytond.modules.checkin.event import normalize_bssid, parse_bssids
from trytond.modules.checkin.exceptions import (
    CheckInError, InvalidTokenError, QRExpiredError)
from trytond.modules.checkin.tag import normalize_tag
from trytond.modules.member.member import member_context
from trytond.modules.member.tests.test_module import create_member
from trytond.modules.suite import clock
from trytond.modules.suite.geo import haversine, wgs84_to_gcj02
from trytond.modules.suite.tests.tools import statements as counted_statements
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

# People's Square, Shanghai
LAT, LON = 31.2304, 121.4737
# The same place in GCJ-02, as the Chinese maps show it (about 500 m away
# in WGS-84)
GLAT, GLON = (round(v, 7) for v in wgs84_to_gcj02(LAT, LON))
# The Eiffel Tower: no GCJ-02 there
PARIS = (48.8584, 2.2945)
# 2026-03-02 09:00 in Shanghai
START = dt.datetime(2026, 3, 2, 1, 0)


def north(meters):
    "Return the latitude meters north of LAT"
    return LAT + meters / 111195.08


def at(when):
    "Set the clock of the suite"
    return clock.at(when)


def create_event(**values):
    pool = Pool()
    Event = pool.get('checkin.event')
    defaults = {
        'name': "Meeting",
        'kind': 'meeting',
        'start': START,
        'end': START + dt.timedelta(hours=2),
        'timezone': 'Asia/Shanghai',
        'latitude': LAT,
        'longitude': LON,
        'radius': 500,
        'methods': ['qr', 'code', 'nfc', 'staff', 'app'],
        'policy': 'reject',
        'points': 10,
        'state': 'open',
        }
    defaults.update(values)
    event, = Event.create([defaults])
    return event


def here(accuracy=None):
    return {'lat': LAT, 'lon': LON, 'accuracy_m': accuracy}


def create_user(name, *groups):
    """Create the user name (its login in lower case) in groups, XML ids
    of the form module.id"""
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    user, = User.create([{
                'name': name,
                'login': name.lower(),
                'groups': [('add', [
                                ModelData.get_id(*g.split('.'))
                                for g in groups])],
                }])
    return user


@contextmanager
def as_user(user, **context):
    "Run as user with the access checked"
    with Transaction().set_user(user.id), \
            Transaction().set_context(_check_access=True, **context):
        yield


def check_in(member, event, when, position=None, **kwargs):
    "Check member in to event with the QR token shown at when"
    pool = Pool()
    Attendance = pool.get('checkin.attendance')
    with at(when):
        return Attendance.check_in(member, {
                'qr_token': event.current_token(when)},
            position=here() if position is None else position, **kwargs)


class CheckinTestCase(ModuleTestCase):
    "Test Check-in module"
    module = 'checkin'
    check_in = staticmethod(check_in)

    @with_transaction()
    def test_counted_key(self):
        "The counted key of a check-in, in Python and in SQL, is the same"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        member = create_member(name="Key")
        event = create_event()
        attendance = self.check_in(
            member, event, START + dt.timedelta(minutes=5)).attendance
        self.assertEqual(attendance.counted_key, '%d:%d:%d' % (
                event.id, member.id, attendance.day_key))
        table = Attendance.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Attendance.counted_key_sql(
                    table.event, table.member, table.day_key - 1),
                where=table.id == attendance.id))
        self.assertEqual(cursor.fetchone()[0], Attendance.counted_key_of(
                event.id, member.id, attendance.day_key - 1))

    @with_transaction()
    def test_check_in_inserted_by_its_posting(self):
        "A check-in is inserted by the posting of its points and streak"
        from trytond import backend
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        Member = pool.get('member.member')
        when = START + dt.timedelta(minutes=5)
        for streak in [False, True]:
            with self.subTest(streak=streak):
                member = create_member(name="Posting %s" % streak)
                event = create_event(name="Posting %s" % streak,
                    streak=streak)
                # Locked as the API does first, with the event cached
                Member.hold_lock([member])
                Event.snapshot(event.id)
                with counted_statements() as executed:
                    result = self.check_in(member, event, when)
                self.assertEqual(result.status, 'created')
                # The triggers are read once per process, but in a test's
                # transaction, which does not keep Tryton's cache of them
                executed = [e for e in executed if '"ir_trigger"' not in e]
                if backend.name == 'postgresql':
                    self.assertEqual(len(executed), 1, executed)
                attendance = Attendance(result.attendance.id)
                line = attendance.points_line
                self.assertTrue(attendance.points_granted)
                self.assertEqual(line.origin, attendance)
                self.assertEqual(
                    line.idempotency_key, 'checkin:%d' % attendance.id)
                self.assertEqual((line.points, line.balance_after), (10, 10))
                self.assertEqual(result.summary()['points_awarded'], 10)
                member = Member(member.id)
                self.assertEqual(member.points_balance, 10)
                self.assertEqual(member.streak_length, 1 if streak else 0)

                # Again: the duplicate, nothing posted
                again = self.check_in(member, event, when)
                self.assertEqual(again.status, 'duplicate')
                self.assertEqual(again.attendance, attendance)
                self.assertEqual(Member(member.id).points_balance, 10)

    @with_transaction()
    def test_check_in_first(self):
        """A check-in recorded by one statement, the member's lock taken by
        its posting; check_in answers the others"""
        from trytond import backend
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        Member = pool.get('member.member')
        when = START + dt.timedelta(minutes=5)
        member = create_member(name="First")
        event = create_event(name="First")

        def first(member, event=event, position=None, look_up=True):
            credential = {'qr_token': event.current_token(when)}
            position = here() if position is None else position
            Event.snapshot(event.id)
            with at(when):
                unless = Attendance.duplicate_query(
                    member.id, credential, position) if look_up else None
                return Attendance.check_in_first(
                    member.id, unless, '2000', credential, position)

        if backend.name != 'postgresql':
            # The single writer holds the database: check_in
            self.assertIsNone(first(member))
            self.assertEqual(Attendance.search_count([]), 0)
            return
        Transaction()._locked_records[Member._table].discard(member.id)
        first(create_member(name="Warm"))  # the triggers, read once
        with counted_statements() as executed:
            result = first(member)
        executed = [e for e in executed if '"ir_trigger"' not in e]
        self.assertEqual(len(executed), 1, executed)
        self.assertIn('FOR UPDATE', executed[0])
        self.assertEqual(result.status, 'created')
        attendance = Attendance(result.attendance.id)
        self.assertEqual(attendance.points_line.origin, attendance)
        self.assertEqual(result.summary()['points_awarded'], 10)
        self.assertEqual(Member(member.id).points_balance, 10)
        self.assertIn(member.id, Transaction()._locked_records[Member._table])

        # The duplicate that the look-up finds is answered, nothing posted
        again = first(member)
        self.assertEqual(again.status, 'duplicate')
        self.assertEqual(again.attendance, attendance)
        self.assertEqual(again.code, 'already_checked_in')
        # Refused by the database, it is check_in's
        self.assertIsNone(first(member, look_up=False))
        self.assertEqual(Member(member.id).points_balance, 10)
        self.assertEqual(
            Attendance.search_count([('member', '=', member.id)]), 1)

        # check_in answers: a refusal kept for review, an inactive member, a
        # check-in whose posting does not insert it
        other = create_member(name="Other")
        inactive = create_member(name="Inactive")
        Member.write([inactive], {'active': False})
        for name, attempt in [
                ('refused', lambda: first(
                        other, position={'lat': north(5000), 'lon': LON})),
                ('inactive', lambda: first(inactive)),
                ('no points', lambda: first(
                        other, event=create_event(name="None", points=0))),
                ]:
            with self.subTest(attempt=name):
                self.assertIsNone(attempt())
        self.assertEqual(Attendance.search_count(
                [('member', 'in', [other.id, inactive.id])]), 0)
        self.assertFalse(Member(inactive.id).points_balance)

    def test_haversine(self):
        "The great-circle distance on the mean Earth radius"
        self.assertEqual(haversine(LAT, LON, LAT, LON), 0)
        self.assertAlmostEqual(
            haversine(0, 0, 1, 0), 111195.08, delta=0.01)
        self.assertAlmostEqual(
            haversine(LAT, LON, north(500), LON), 500, delta=0.01)
        self.assertAlmostEqual(
            haversine(LAT, LON, 39.9042, 116.4074),
            haversine(39.9042, 116.4074, LAT, LON))
        # Shanghai - Beijing is about 1067 km
        self.assertAlmostEqual(
            haversine(LAT, LON, 39.9042, 116.4074) / 1000, 1067, delta=5)
        self.assertAlmostEqual(
            haversine(0, 0, 0, 180), 6371008.8 * 3.141592653589793, delta=1)

    def test_bssid(self):
        "BSSIDs are normalised and invalid lines reported"
        self.assertEqual(
            normalize_bssid('00-11-22-AA-BB-CC'), '00:11:22:aa:bb:cc')
        self.assertEqual(normalize_bssid('001122aabbcc'), '00:11:22:aa:bb:cc')
        self.assertIsNone(normalize_bssid('00:11:22:aa:bb'))
        self.assertIsNone(normalize_bssid(None))
        self.assertEqual(
            parse_bssids('00:11:22:AA:BB:CC\n# lobby\n\n00:11:22:aa:bb:cc\nx'),
            (['00:11:22:aa:bb:cc'], ['x']))

    def test_tag_uid(self):
        "NFC UIDs are normalised to upper-case hexadecimal"
        self.assertEqual(normalize_tag('04:a2:2b:1a'), '04A22B1A')
        self.assertIsNone(normalize_tag('xyz'))

    def test_token_signature(self):
        "A token is bound to its event and window by its signature"
        secret = token.new_secret()
        value = token.make_token(secret, 7, 1000)
        event_id, window, sig = token.parse_token(value)
        self.assertEqual((event_id, window), (7, 1000))
        self.assertTrue(token.verify(secret, 7, 1000, sig))
        self.assertFalse(token.verify(secret, 7, 1001, sig))
        self.assertFalse(token.verify(secret, 8, 1000, sig))
        self.assertFalse(token.verify(token.new_secret(), 7, 1000, sig))
        self.assertLess(len(value), 40)
        for bad in ['', 'abc', '7.1000', '7.1000.short', None, 7]:
            self.assertIsNone(token.parse_token(bad))
        code = token.make_code(secret, 7, 1000)
        self.assertRegex(code, r'^\d{6}$')
        self.assertEqual(token.normalize_code(' 123-456 '), '123456')
        self.assertIsNone(token.normalize_code('12345'))

    def test_qr_images(self):
        "QR codes are rendered as PNG and SVG"
        png = token.qr_png('1.2.abc')
        self.assertTrue(png.startswith(b'\x89PNG'))
        self.assertIn('<svg', token.qr_svg('1.2.abc'))

    @with_transaction()
    def test_qr_windows(self):
        "The current and previous windows are accepted, older expired"
        pool = Pool()
        Event = pool.get('checkin.event')
        event = create_event(qr_window=60)
        shown = START + dt.timedelta(seconds=5)
        value = event.current_token(shown)
        for seconds in [0, 54, 60, 114]:
            with self.subTest(seconds=seconds):
                self.assertEqual(Event.verify_token(
                        value, shown + dt.timedelta(seconds=seconds)), event)
        for seconds in [115, 600, 86400]:
            with self.subTest(seconds=seconds):
                with self.assertRaises(QRExpiredError) as cm:
                    Event.verify_token(
                        value, shown + dt.timedelta(seconds=seconds))
                self.assertEqual(cm.exception.error_code, 'qr_expired')
        # A token of a later window than the clock (+ tolerance) is refused
        with self.assertRaises(InvalidTokenError):
            Event.verify_token(value, shown - dt.timedelta(minutes=10))

    @with_transaction()
    def test_qr_forged(self):
        "Tampered tokens, tokens of other events and unknown events"
        pool = Pool()
        Event = pool.get('checkin.event')
        event = create_event()
        other = create_event(name="Other")
        value = event.current_token(START)
        event_id, window, sig = token.parse_token(value)
        tampered = [
            '%d.%d.%s' % (event_id, window, sig[:-1]
                + ('A' if sig[-1] != 'A' else 'B')),
            '%d.%d.%s' % (event_id, window + 1, sig),
            '%d.%d.%s' % (other.id, window, sig),
            token.make_token(token.new_secret(), event.id, window),
            '999999.%d.%s' % (window, sig),
            'garbage',
            ]
        for value_ in tampered:
            with self.subTest(token=value_):
                with self.assertRaises(InvalidTokenError) as cm:
                    Event.verify_token(value_, START)
                self.assertEqual(cm.exception.error_code, 'invalid_token')
        # A token of another event than the one asked for
        with self.assertRaises(InvalidTokenError) as cm:
            Event.verify_token(value, START, event=other.id)
        self.assertEqual(cm.exception.details['reason'], 'other_event')

    @with_transaction()
    def test_check_in_qr(self):
        "A QR check-in counts once, earns the points and the streak"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        event = create_event(points=10)
        member = create_member()
        result = self.check_in(member, event, START, bssid='00:11:22:33:44:55')
        self.assertEqual(result.status, 'created')
        attendance = result.attendance
        self.assertEqual(attendance.status, 'valid')
        self.assertTrue(attendance.counted)
        self.assertEqual(attendance.method, 'qr')
        self.assertEqual(attendance.local_date, dt.date(2026, 3, 2))
        self.assertEqual(attendance.arrival, '09:00')
        self.assertEqual(attendance.distance, 0)
        self.assertEqual(attendance.points_awarded, 10)
        self.assertEqual(attendance.points_line.idempotency_key,
            'checkin:%d' % attendance.id)
        member = Member(member.id)
        self.assertEqual(member.points_balance, 10)
        self.assertEqual(member.last_activity_date, dt.date(2026, 3, 2))
        self.assertEqual(member.streak_length, 1)

        result2 = self.check_in(
            member, event, START + dt.timedelta(seconds=30))
        self.assertEqual(result2.status, 'duplicate')
        self.assertEqual(result2.code, 'already_checked_in')
        self.assertEqual(result2.attendance, attendance)
        self.assertEqual(
            result2.error.details['checkin']['id'], attendance.id)
        self.assertEqual(Member(member.id).points_balance, 10)
        self.assertEqual(Line.search_count([('member', '=', member.id)]), 1)

        values = result.to_dict()
        self.assertEqual(values['status'], 'created')
        self.assertEqual(values['checkin']['event_id'], event.id)
        self.assertEqual(values['checkin']['points_awarded'], 10)
        self.assertEqual(values['checkin']['time'],
            '2026-03-02T09:00:00+08:00')
        self.assertEqual(values['member']['points_balance'], 10)

    @with_transaction()
    def test_refusal_codes(self):
        "Every refusal comes with the code of the API"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        event = create_event(
            roster=[('add', [create_member("Rostered").id])],
            bssids='00:11:22:33:44:55', methods=['qr', 'staff'])
        member = create_member()
        draft = create_event(name="Draft", state='draft')

        def code(result):
            self.assertEqual(result.status, 'refused')
            return result.code

        with at(START):
            self.assertEqual(code(Attendance.check_in(member, {
                            'qr_token': event.current_token(
                                START - dt.timedelta(minutes=5))})),
                'qr_expired')
            self.assertEqual(code(Attendance.check_in(member, {
                            'qr_token': 'nope'})), 'invalid_token')
            self.assertEqual(code(Attendance.check_in(member, {
                            'qr_token': draft.current_token(START)},
                        position=here())), 'event_not_open')
            self.assertEqual(code(Attendance.check_in(member, {
                            'code': event.code(START),
                            'event_id': event.id})), 'method_not_allowed')
            self.assertEqual(code(Attendance.check_in(member, {
                            'event_id': event.id, 'method': 'app'})),
                'method_not_allowed')
            self.assertEqual(code(Attendance.check_in(member, {})),
                'invalid_request')
            self.assertEqual(code(Attendance.check_in(member, {
                            'qr_token': event.current_token(START),
                            'nfc_tag': '04A22B1A'})), 'invalid_request')

        # The reasons, one at a time
        Event.write([event], {'bssids': None})
        result = self.check_in(member, event, START)
        self.assertEqual(code(result), 'not_on_roster')
        self.assertEqual(result.attendance.status, 'rejected')
        Event.write([event], {'roster': [('add', [member.id])]})
        result = self.check_in(member, event, START, position={
                'lat': north(1000), 'lon': LON})
        self.assertEqual(code(result), 'out_of_range')
        self.assertEqual(result.error.details['distance_m'], 1000)
        self.assertEqual(result.error.details['radius_m'], 500)
        self.assertIn('1000 m', result.error.message)
        Event.write([event], {'bssids': '00:11:22:33:44:55'})
        result = self.check_in(member, event, START, bssid='66:77:88:99:aa:bb')
        self.assertEqual(code(result), 'wifi_mismatch')
        result = self.check_in(member, event, START, bssid='00-11-22-33-44-55')
        self.assertEqual(result.status, 'created')
        self.assertEqual(result.attendance.bssid, '00:11:22:33:44:55')
        result = self.check_in(member, event, START, bssid='00:11:22:33:44:55')
        self.assertEqual(result.code, 'already_checked_in')
        # The rejected attempts are kept, not counted
        self.assertEqual(Attendance.search_count([
                    ('member', '=', member.id), ('status', '=', 'rejected'),
                    ]), 3)
        # Once in, a suspicious attempt is a duplicate, not a new rejection
        result = self.check_in(member, event, START, position={
                'lat': north(1000), 'lon': LON},
            bssid='00:11:22:33:44:55')
        self.assertEqual(result.status, 'duplicate')

    @with_transaction()
    def test_event_not_open_times(self):
        "Check-in opens before the start and closes at the end"
        event = create_event(open_before=30)
        member = create_member()
        result = self.check_in(member, event, START - dt.timedelta(minutes=31))
        self.assertEqual(result.code, 'event_not_open')
        result = self.check_in(
            member, event, START + dt.timedelta(hours=2, seconds=1))
        self.assertEqual(result.code, 'event_not_open')
        result = self.check_in(member, event, START - dt.timedelta(minutes=29))
        self.assertEqual(result.status, 'created')

    @with_transaction()
    def test_accuracy(self):
        "The reported accuracy widens the radius, at most twice"
        event = create_event(radius=500, policy='flag')
        cases = [
            (400, None, []),
            (600, 50, ['out_of_range']),
            (600, 150, []),
            (900, 5000, []),
            (1200, 5000, ['out_of_range']),
            ]
        for i, (distance, accuracy, reasons) in enumerate(cases):
            with self.subTest(distance=distance, accuracy=accuracy):
                member = create_member("M%s" % i)
                result = self.check_in(member, event, START, position={
                        'lat': north(distance), 'lon': LON,
                        'accuracy_m': accuracy})
                self.assertEqual(result.status, 'created')
                self.assertEqual(list(result.attendance.reasons), reasons)
                self.assertAlmostEqual(
                    result.attendance.distance, distance, delta=0.1)
        member = create_member("No position")
        result = self.check_in(member, event, START, position={})
        self.assertEqual(list(result.attendance.reasons), ['out_of_range'])
        self.assertIsNone(result.attendance.distance)

    @with_transaction()
    def test_coord_type_distance(self):
        "The distance is computed in WGS-84 whatever the systems received"
        pool = Pool()
        Event = pool.get('checkin.event')
        self.assertEqual(Event.default_coord_type(), 'wgs84')
        event = create_event(
            latitude=GLAT, longitude=GLON, coord_type='gcj02', radius=100,
            policy='flag')
        self.assertEqual(event.coord_type, 'gcj02')
        # The numbers alone are hundreds of metres apart
        self.assertGreater(haversine(LAT, LON, GLAT, GLON), 300)
        self.assertLess(event.distance(LAT, LON), 5)
        self.assertLess(event.distance(LAT, LON, 'wgs84'), 5)
        self.assertLess(event.distance(GLAT, GLON, 'gcj02'), 5)
        cases = [
            # (position, distance below, above, reasons, coord_type)
            ((LAT, LON, None), 5, None, [], 'wgs84'),
            ((LAT, LON, 'wgs84'), 5, None, [], 'wgs84'),
            ((GLAT, GLON, 'gcj02'), 5, None, [], 'gcj02'),
            # The map's numbers taken as GPS ones: the wrong system
            ((GLAT, GLON, 'wgs84'), None, 300, ['out_of_range'], 'wgs84'),
            ]
        for i, (position, below, above, reasons, coord_type) in enumerate(
                cases):
            with self.subTest(position=position):
                lat, lon, system = position
                result = self.check_in(create_member("M%s" % i), event, START,
                    position={'lat': lat, 'lon': lon, 'coord_type': system})
                self.assertEqual(result.status, 'created')
                attendance = result.attendance
                self.assertEqual(attendance.coord_type, coord_type)
                self.assertEqual(
                    (attendance.latitude, attendance.longitude), (lat, lon))
                self.assertEqual(list(attendance.reasons), reasons)
                if below is not None:
                    self.assertLess(attendance.distance, below)
                if above is not None:
                    self.assertGreater(attendance.distance, above)
        # An event stored in WGS-84, a member in GCJ-02: the same place
        event = create_event(name="GPS", radius=100)
        result = self.check_in(create_member("G"), event, START,
            position={'lat': GLAT, 'lon': GLON, 'coord_type': 'gcj02'})
        self.assertEqual(result.attendance.status, 'valid')
        self.assertLess(result.attendance.distance, 5)

    @with_transaction()
    def test_coord_type_refused(self):
        "An unknown system, or GCJ-02 out of China, records nothing"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event()
        member = create_member()
        cases = [
            ({'lat': LAT, 'lon': LON, 'coord_type': 'bd09'}, 'unknown'),
            ({'lat': LAT, 'lon': LON, 'coord_type': 'GCJ02'}, 'unknown'),
            ({'coord_type': 'bd09'}, 'unknown'),
            ({'lat': PARIS[0], 'lon': PARIS[1], 'coord_type': 'gcj02'},
                'outside_china'),
            ]
        for position, reason in cases:
            with self.subTest(position=position):
                result = self.check_in(member, event, START, position=position)
                self.assertEqual(result.status, 'refused')
                self.assertEqual(result.code, 'invalid_coord_type')
                self.assertEqual(result.error.details, {
                        'coord_type': position['coord_type'],
                        'allowed': ['wgs84', 'gcj02'],
                        'reason': reason,
                        })
                self.assertIn(position['coord_type'], result.error.message)
        self.assertEqual(Attendance.search_count([]), 0)
        # Out of China WGS-84 is the only system
        result = self.check_in(member, event, START,
            position={'lat': PARIS[0], 'lon': PARIS[1], 'coord_type': 'wgs84'})
        self.assertEqual(result.status, 'refused')
        self.assertEqual(result.code, 'out_of_range')

    @with_transaction()
    def test_coord_type_submit(self):
        "The RPC methods of the Tryton client take coord_type per item"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event(radius=100)
        member, other = create_member("A"), create_member("B")
        with at(START):
            result = Attendance.submit(member.id, {
                    'qr_token': event.current_token(START),
                    'lat': GLAT, 'lon': GLON, 'coord_type': 'gcj02'})
            self.assertEqual(result['status'], 'created')
            self.assertEqual(result['checkin']['status'], 'valid')
            self.assertLess(result['checkin']['distance_m'], 5)
            result = Attendance.submit(other.id, {
                    'qr_token': event.current_token(START),
                    'lat': GLAT, 'lon': GLON, 'coord_type': 'bd09'})
            self.assertEqual(result['error']['code'], 'invalid_coord_type')
            results = Attendance.submit_sync(other.id, [{
                        'qr_token': event.current_token(START),
                        'lat': PARIS[0], 'lon': PARIS[1],
                        'coord_type': 'gcj02', 'client_uuid': 'p-1',
                        'client_time': '2026-03-02T01:00:00Z',
                        }, {
                        'qr_token': event.current_token(START),
                        'lat': GLAT, 'lon': GLON, 'coord_type': 'gcj02',
                        'client_uuid': 'p-2',
                        'client_time': '2026-03-02T01:00:00Z',
                        }])
        self.assertEqual([r['status'] for r in results],
            ['refused', 'created'])
        self.assertEqual(results[0]['error']['code'], 'invalid_coord_type')
        self.assertEqual(
            results[0]['error']['details']['reason'], 'outside_china')
        attendance, = Attendance.search([('client_uuid', '=', 'p-2')])
        self.assertEqual(attendance.coord_type, 'gcj02')
        self.assertFalse(Attendance.search([('client_uuid', '=', 'p-1')]))

    @with_transaction()
    def test_event_paste_point(self):
        "A point pasted from a Chinese map fills the location in GCJ-02"
        pool = Pool()
        Event = pool.get('checkin.event')
        Place = pool.get('checkin.place')
        for text in ['31.230416,121.473701', ' 31.230416 , 121.473701 ',
                '31.230416，121.473701', '121.473701,31.230416']:
            with self.subTest(text=text):
                event = Event(latitude=LAT, longitude=LON, coord_type='wgs84')
                event.paste_point = text
                event.on_change_paste_point()
                self.assertEqual(
                    (event.latitude, event.longitude, event.coord_type),
                    (31.230416, 121.473701, 'gcj02'))
                self.assertIsNone(event.paste_point)
        for text in ['People\'s Square', '31.230416', '31.2;121.4',
                '%s,%s' % PARIS, '200,300', '31.2,121.4,5']:
            with self.subTest(text=text):
                event = Event(latitude=LAT, longitude=LON, coord_type='wgs84')
                event.paste_point = text
                with self.assertRaises(UserError) as cm:
                    event.on_change_paste_point()
                self.assertIn(text, cm.exception.message)
                self.assertEqual(
                    (event.latitude, event.longitude, event.coord_type),
                    (LAT, LON, 'wgs84'))
        # Nothing pasted: nothing changes
        event = Event(latitude=LAT, longitude=LON, coord_type='wgs84')
        event.paste_point = ''
        event.on_change_paste_point()
        self.assertEqual(event.coord_type, 'wgs84')

        # Saved: the pasted point is not stored, the location is
        event = create_event(latitude=None, longitude=None)
        Event.write([event], {
                'paste_point': None, 'latitude': 31.230416,
                'longitude': 121.473701, 'coord_type': 'gcj02'})
        self.assertEqual(event.coord_type, 'gcj02')
        self.assertIsNone(event.paste_point)
        # A place's point is a GPS point
        place, = Place.create([{
                    'name': "Square", 'latitude': LAT, 'longitude': LON}])
        event = Event(coord_type='gcj02', latitude=GLAT, longitude=GLON)
        event.place = place
        event.on_change_place()
        self.assertEqual(
            (event.latitude, event.longitude, event.coord_type),
            (LAT, LON, 'wgs84'))
        # GCJ-02 exists in China only
        with self.assertRaises(UserError):
            create_event(latitude=PARIS[0], longitude=PARIS[1],
                coord_type='gcj02')
        with self.assertRaises(UserError):
            Event.write([create_event(latitude=PARIS[0],
                        longitude=PARIS[1])], {'coord_type': 'gcj02'})

    @with_transaction()
    def test_flag_review(self):
        "A flagged check-in earns its points when approved, once"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        event = create_event(policy='flag', points=20, streak=False)
        member = create_member()
        result = self.check_in(member, event, START, position={
                'lat': north(800), 'lon': LON})
        self.assertEqual(result.status, 'created')
        attendance = result.attendance
        self.assertEqual(attendance.status, 'flagged')
        self.assertTrue(attendance.counted)
        self.assertEqual(list(attendance.reasons), ['out_of_range'])
        self.assertIn('800 m', attendance.reason_details)
        self.assertEqual(Member(member.id).points_balance, 0)
        # Counted: a second check-in is a duplicate
        self.assertEqual(
            self.check_in(member, event, START).status, 'duplicate')

        with at(START + dt.timedelta(hours=1)):
            Attendance.approve([attendance])
            Attendance.approve([attendance])
        attendance = Attendance(attendance.id)
        self.assertEqual(attendance.status, 'valid')
        self.assertEqual(attendance.reviewed_at,
            START + dt.timedelta(hours=1))
        self.assertEqual(Member(member.id).points_balance, 20)

        Attendance.reject([attendance])
        Attendance.reject([attendance])
        attendance = Attendance(attendance.id)
        self.assertEqual(attendance.status, 'rejected')
        self.assertFalse(attendance.counted)
        self.assertEqual(Member(member.id).points_balance, 0)
        self.assertEqual(attendance.points_awarded, 0)

        Attendance.approve([attendance])
        self.assertEqual(Member(member.id).points_balance, 20)
        keys = sorted(l.idempotency_key for l in Line.search([
                    ('member', '=', member.id)]))
        self.assertEqual(keys, [
                'checkin:%d' % attendance.id,
                'checkin:%d:award:2' % attendance.id,
                'checkin:%d:reversal:1' % attendance.id,
                ])
        self.assertEqual(Member.check_balances([member]), [])

    @with_transaction()
    def test_reject_valid(self):
        "Rejecting a valid check-in takes back all its points"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Member = pool.get('member.member')
        event = create_event(points=0, streak=True)
        member = create_member()
        result = self.check_in(member, event, START)
        # No own points: the daily points of the streak apply
        self.assertEqual(Member(member.id).points_balance, 10)
        self.assertEqual(result.attendance.points_awarded, 10)
        # Spent points are taken back too (the balance may go negative)
        Member.add_points(member, -10, "Coupon")
        Attendance.reject([result.attendance])
        self.assertEqual(Member(member.id).points_balance, -10)
        self.assertEqual(Member(member.id).lifetime_points, 0)

    @with_transaction()
    def test_approve_rejected_conflict(self):
        "A rejected check-in cannot be approved over a counted one"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event(policy='reject')
        member = create_member()
        rejected = self.check_in(member, event, START, position={
                'lat': north(2000), 'lon': LON}).attendance
        self.assertEqual(rejected.status, 'rejected')
        self.assertEqual(self.check_in(member, event, START).status,
            'created')
        with self.assertRaisesRegex(UserError,
                'another counted check-in'):
            Attendance.approve([rejected])

    @with_transaction()
    def test_late(self):
        "Check-ins after the late threshold are late"
        event = create_event(late_after=10)
        early = self.check_in(create_member("A"), event,
            START + dt.timedelta(minutes=10))
        self.assertEqual(early.attendance.status, 'valid')
        late = self.check_in(create_member("B"), event,
            START + dt.timedelta(minutes=10, seconds=1))
        self.assertEqual(late.attendance.status, 'late')
        self.assertTrue(late.attendance.late)
        self.assertTrue(late.attendance.counted)
        flagged = self.check_in(create_member("C"), event,
            START + dt.timedelta(minutes=30), position={
                'lat': north(900), 'lon': LON})
        self.assertEqual(flagged.status, 'refused')
        self.assertTrue(flagged.attendance.late)

    @with_transaction()
    def test_daily_midnight(self):
        "Daily attendance: one check-in per local day, across midnight"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event(
            kind='daily', start=dt.datetime(2026, 3, 1, 0, 0),
            end=dt.datetime(2026, 3, 31, 0, 0), latitude=None,
            longitude=None, points=5)
        member = create_member()
        # 23:50 on 2 March in Shanghai is 15:50 UTC
        evening = dt.datetime(2026, 3, 2, 15, 50)
        first = self.check_in(member, event, evening)
        self.assertEqual(first.status, 'created')
        self.assertEqual(first.attendance.local_date, dt.date(2026, 3, 2))
        self.assertEqual(
            first.attendance.day_key, dt.date(2026, 3, 2).toordinal())
        again = self.check_in(
            member, event, evening + dt.timedelta(minutes=5))
        self.assertEqual(again.status, 'duplicate')
        # 00:05 on 3 March in Shanghai
        after = self.check_in(
            member, event, evening + dt.timedelta(minutes=15))
        self.assertEqual(after.status, 'created')
        self.assertEqual(after.attendance.local_date, dt.date(2026, 3, 3))
        self.assertEqual(Attendance.search_count([
                    ('member', '=', member.id), ('counted', '=', True)]), 2)

    @with_transaction()
    def test_daily_hours_dst(self):
        "Daily hours and lateness follow the local time, also over DST"
        event = create_event(
            kind='daily', timezone='Europe/Paris',
            start=dt.datetime(2026, 3, 20, 0, 0),
            end=dt.datetime(2026, 4, 10, 0, 0),
            day_start=dt.time(9, 0), day_end=dt.time(18, 0),
            open_before=60, late_after=0, latitude=None, longitude=None)
        member = create_member()
        # 07:30 UTC is 08:30 in Paris before 29 March (UTC+1), 09:30 after
        before = self.check_in(member, event, dt.datetime(2026, 3, 28, 7, 30))
        self.assertEqual(before.attendance.status, 'valid')
        self.assertEqual(before.attendance.arrival, '08:30')
        after = self.check_in(member, event, dt.datetime(2026, 3, 30, 7, 30))
        self.assertEqual(after.attendance.status, 'late')
        self.assertEqual(after.attendance.arrival, '09:30')
        # 17:30 UTC is 18:30 in Paris in summer time: closed
        closed = self.check_in(member, event, dt.datetime(2026, 3, 31, 16, 30))
        self.assertEqual(closed.code, 'event_not_open')
        self.assertEqual(closed.error.details['day_end'], '18:00:00')
        # 06:30 UTC is 08:30 in summer time: within open_before
        opened = self.check_in(member, event, dt.datetime(2026, 3, 31, 6, 30))
        self.assertEqual(opened.attendance.status, 'valid')
        early = self.check_in(member, event, dt.datetime(2026, 4, 1, 5, 30))
        self.assertEqual(early.code, 'event_not_open')

    @with_transaction()
    def test_client_uuid(self):
        "A check-in sent again with its client UUID is a duplicate"
        event = create_event()
        member = create_member()
        other = create_member("Other")
        uuid = '0b7e2c4e-7f55-4c4b-9d6c-1f9f8d7a0001'
        first = self.check_in(member, event, START, client_uuid=uuid)
        self.assertEqual(first.status, 'created')
        self.assertEqual(first.attendance.client_uuid, uuid)
        # Even when the token has expired since
        again = self.check_in(
            member, event, START + dt.timedelta(minutes=10),
            client_uuid=uuid.upper())
        self.assertEqual(again.status, 'duplicate')
        self.assertEqual(again.attendance, first.attendance)
        stolen = self.check_in(other, event, START, client_uuid=uuid)
        self.assertEqual(stolen.code, 'invalid_request')
        bad = self.check_in(other, event, START, client_uuid='x' * 65)
        self.assertEqual(bad.code, 'invalid_request')

    @with_transaction()
    def test_offline_sync(self):
        "Offline items are checked against the client time, once"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Configuration = pool.get('checkin.configuration')
        Event = pool.get('checkin.event')
        Configuration(1, sync_delay=6).save()
        event = create_event(late_after=5)
        member = create_member()
        scanned = START + dt.timedelta(minutes=20)
        items = [{
                'qr_token': event.current_token(scanned),
                'lat': LAT, 'lon': LON, 'accuracy_m': 20,
                'client_uuid': 'u-1',
                'client_time': '2026-03-02T09:20:30+08:00',
                }, {
                'qr_token': event.current_token(START),
                'client_uuid': 'u-2',
                'client_time': START.isoformat() + 'Z',
                }, {
                'qr_token': event.current_token(START),
                'client_time': START.isoformat() + 'Z',
                }]
        # Synchronised after the event closed
        Event.close([event])
        received = START + dt.timedelta(hours=3)
        with at(received):
            results = Attendance.sync(member, items)
        self.assertEqual([r.status for r in results],
            ['created', 'duplicate', 'refused'])
        attendance = results[0].attendance
        self.assertTrue(attendance.offline)
        self.assertEqual(attendance.time, scanned + dt.timedelta(seconds=30))
        self.assertEqual(attendance.server_time, received)
        self.assertEqual(attendance.status, 'late')
        self.assertEqual(results[2].code, 'invalid_request')

        # Sent twice more: nothing new
        for _ in range(2):
            with at(received + dt.timedelta(minutes=1)):
                again = Attendance.sync(member, items[:2])
            self.assertEqual(
                [r.status for r in again], ['duplicate', 'duplicate'])
            self.assertEqual(again[0].attendance, attendance)
        self.assertEqual(Attendance.search_count([]), 1)

        # Beyond the sync delay
        with at(START + dt.timedelta(hours=7)):
            late, = Attendance.sync(create_member("Late"), [
                    dict(items[0], client_uuid='u-3')])
        self.assertEqual(late.code, 'qr_expired')
        self.assertEqual(late.error.details['reason'], 'sync_delay')
        # A device clock in the future
        with at(START):
            future, = Attendance.sync(create_member("Future"), [
                    dict(items[0], client_uuid='u-4')])
        self.assertEqual(future.code, 'invalid_request')
        # A replayed token: the window does not match the client time
        with at(received):
            replay, = Attendance.sync(create_member("Replay"), [
                    dict(items[0], client_uuid='u-5',
                        client_time=(scanned + dt.timedelta(
                                minutes=5)).isoformat() + 'Z')])
        self.assertEqual(replay.code, 'qr_expired')
        # At most 100 items
        with self.assertRaises(CheckInError):
            Attendance.sync(member, [items[0]] * 101)

    @with_transaction()
    def test_snapshot(self):
        """The snapshot of an event holds its values, is made once per
        transaction and follows the changes of the event"""
        pool = Pool()
        Event = pool.get('checkin.event')
        Place = pool.get('checkin.place')
        place, = Place.create([{'name': "Hall"}])
        event = create_event(name="Snap", points=4, place=place.id)
        snapshot = Event.snapshot(event.id)
        self.assertIs(Event.snapshot(event.id), snapshot)
        for name in Event._snapshot_fields:
            value = getattr(event, name)
            if name == 'methods':
                value = tuple(value or ())
            self.assertEqual(getattr(snapshot, name), value, name)
        self.assertEqual(snapshot.place.name, "Hall")
        # Its cached fields are slots of a subclass of the event's model
        # (suite.tools._snapshot_class): an event still, whose other fields
        # are read as any event's, as are all of an instance made anew
        self.assertIsInstance(snapshot, Event)
        self.assertIsNot(type(snapshot), Event)
        self.assertEqual(snapshot.__name__, 'checkin.event')
        self.assertEqual(snapshot, event)
        self.assertEqual(snapshot.rec_name, event.rec_name)
        self.assertEqual(type(snapshot)(event.id).points, 4)
        # As read: nothing to save
        self.assertEqual(snapshot._changed_values(), {})
        Event.write([event], {'points': 7})
        changed = Event.snapshot(event.id)
        self.assertIsNot(changed, snapshot)
        self.assertEqual((changed.points, changed.name), (7, "Snap"))
        self.assertEqual(snapshot.points, 4)
        # An empty relation is stored as its field would store it
        Event.write([event], {'place': None})
        empty = Event.snapshot(event.id)
        self.assertIsNone(empty.place)
        self.assertEqual(empty._changed_values(), {})
        empty.place = place.id
        self.assertEqual(empty._changed_values()['place'], place.id)
        self.assertIsNone(Event.snapshot(event.id)._init_values.place)

    @with_transaction()
    def test_sync_set_based(self):
        "A sync batch makes as many statements for 2 items as for 12"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Configuration = pool.get('checkin.configuration')
        Event = pool.get('checkin.event')
        Configuration(1, sync_delay=6).save()
        scanned = START + dt.timedelta(minutes=20)
        events = [create_event(name="E%d" % i, points=0, policy='flag')
            for i in range(12)]
        for event in events:
            Event.snapshot(event.id)

        def items(events, prefix):
            return [dict(here(), qr_token=event.current_token(scanned),
                    client_uuid='%s-%d' % (prefix, event.id),
                    client_time=scanned.isoformat() + 'Z')
                for event in events]

        def sync(member, items):
            with at(START + dt.timedelta(hours=1)), \
                    counted_statements() as executed:
                results = Attendance.sync(member, items)
            # But the counts of the duplicates: a row per event (written
            # after the transaction in production, see add_later)
            return results, len([
                    e for e in executed if 'checkin_attempt_counter' not in e])

        counts = {}
        for n in [2, 12, 2]:
            member = create_member("M%d" % len(counts))
            batch = items(events[:n], member.id)
            created, new = sync(member, batch)
            self.assertEqual(
                [r.status for r in created], ['created'] * n)
            again, resent = sync(member, batch)
            self.assertEqual(
                [r.status for r in again], ['duplicate'] * n)
            self.assertEqual([r.attendance for r in again],
                [r.attendance for r in created])
            counts[n] = (new, resent)
        self.assertEqual(counts[2], counts[12])

        # The items answered by an earlier item of the batch: the same
        # client UUID or the same event and day, the one check-in shared
        member = create_member("Twice")
        first, second = items(events[:2], 'twice')
        results, _ = sync(member, [first, dict(first),
                dict(first, client_uuid='other'), second])
        self.assertEqual([r.status for r in results],
            ['created', 'duplicate', 'duplicate', 'created'])
        self.assertEqual({r.attendance for r in results[:3]},
            {results[0].attendance})
        self.assertEqual(Attendance.search_count([
                    ('member', '=', member.id)]), 2)
        # The client UUID of another member is refused on its own
        results, _ = sync(create_member("Other"), [first, items(
                    events[2:3], 'mine')[0]])
        self.assertEqual([(r.status, r.code) for r in results],
            [('refused', 'invalid_request'), ('created', None)])

    @with_transaction()
    def test_sync_as_check_in(self):
        "A sync batch records what check_in records item after item"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Configuration = pool.get('checkin.configuration')
        Line = pool.get('member.points.line')
        Member = pool.get('member.member')
        Configuration(1, sync_delay=48).save()
        day = dt.timedelta(days=1)
        far = {'lat': LAT + 0.1, 'lon': LON, 'accuracy_m': 10}
        events = [
            create_event(name="Yesterday", start=START - day,
                end=START - day + dt.timedelta(hours=2), streak=True),
            create_event(name="Today", streak=True),
            create_event(name="No points", points=0, streak=True),
            create_event(name="Flag", policy='flag', streak=True),
            create_event(name="Reject", streak=True),
            create_event(name="Yesterday too", start=START - day,
                end=START - day + dt.timedelta(hours=2), streak=True),
            ]
        when = [START - day + dt.timedelta(minutes=5),
            START + dt.timedelta(minutes=5)]
        plan = [
            # (event, day, position)
            (0, 0, here()), (1, 1, here()), (1, 1, here()), (2, 1, here()),
            (3, 1, far), (4, 1, far), (4, 1, here()), (0, 0, here()),
            # An earlier day than the last: no streak
            (5, 0, here()),
            ]

        def items(prefix):
            return [dict(position, client_uuid='%s-%d' % (prefix, i),
                    qr_token=events[e].current_token(when[d]),
                    client_time=when[d].isoformat() + 'Z')
                for i, (e, d, position) in enumerate(plan)]

        def outcome(member, results):
            member = Member(member.id)
            checkins = [(r.status, r.code,
                    r.summary()['points_awarded'] if r.attendance else None,
                    r.attendance.status if r.attendance else None)
                for r in results]
            return (checkins,
                (member.points_balance, member.streak_length,
                    member.best_streak, member.last_activity_date),
                sorted((line.points, line.idempotency_key.split(':')[0])
                    for line in Line.search([('member', '=', member.id)])))

        batch, single = create_member("Batch"), create_member("Single")
        with at(START + dt.timedelta(hours=1)):
            synced = Attendance.sync(batch, items('b'))
            one_by_one = [Attendance.check_in(single,
                    {'qr_token': item['qr_token']},
                    position={k: item[k]
                        for k in ['lat', 'lon', 'accuracy_m']},
                    client_uuid=item['client_uuid'],
                    client_time=item['client_time'], offline=True)
                for item in items('s')]
        self.assertEqual(outcome(batch, synced), outcome(single, one_by_one))
        statuses, state, _ = outcome(batch, synced)
        self.assertEqual([s[0] for s in statuses], ['created', 'created',
                'duplicate', 'created', 'created', 'refused', 'created',
                'duplicate', 'created'])
        # Two days: a streak of two; the points of four events (the
        # flagged check-in's wait for its review)
        self.assertEqual(state[:3], (40, 2, 2))

    @with_transaction()
    def test_activity_code(self):
        "Activity codes rotate with the same windows"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event(code_window=120)
        code = event.code(START)

        def check(member, value, when):
            with at(when):
                return Attendance.check_in(member, {
                        'code': value, 'event_id': event.id},
                    position=here())
        self.assertEqual(check(create_member("A"), code,
                START + dt.timedelta(seconds=150)).status, 'created')
        self.assertEqual(check(create_member("B"), code,
                START + dt.timedelta(minutes=10)).code, 'qr_expired')
        wrong = '%06d' % ((int(code) + 1) % 1000000)
        self.assertEqual(check(create_member("C"), wrong, START).code,
            'invalid_token')
        self.assertEqual(check(create_member("D"), 'abc', START).code,
            'invalid_token')
        with at(START):
            result = Attendance.check_in(create_member("E"), {'code': code})
        self.assertEqual(result.code, 'invalid_request')

    @with_transaction()
    def test_nfc(self):
        "NFC tags check in to their event or to the event of their place"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Place = pool.get('checkin.place')
        Tag = pool.get('checkin.tag')
        place, = Place.create([{
                    'name': "Hall", 'latitude': LAT, 'longitude': LON}])
        event = create_event(place=place.id)
        other = create_event(name="Other")
        tag1, tag2 = Tag.create([
                {'uid': '04:a2:2b:1a:00:01', 'event': other.id},
                {'uid': '04a22b1a0002', 'place': place.id},
                ])
        self.assertEqual(tag1.uid, '04A22B1A0001')
        with self.assertRaises(UserError):
            Tag.create([{'uid': '04A22B1A0003'}])
        with self.assertRaises(UserError):
            Tag.create([{'uid': 'not hex', 'event': event.id}])
        member = create_member()
        with at(START):
            result = Attendance.check_in(member, {'nfc_tag': '04A22B1A0002'})
            self.assertEqual(result.status, 'created')
            self.assertEqual(result.attendance.event, event)
            self.assertEqual(result.attendance.tag, tag2)
            self.assertEqual(result.attendance.method, 'nfc')
            result = Attendance.check_in(member, {'nfc_tag': '04a22b1a0001'})
            self.assertEqual(result.attendance.event, other)
            result = Attendance.check_in(member, {'nfc_tag': 'FFFFFFFF'})
            self.assertEqual(result.code, 'invalid_token')
        with at(START + dt.timedelta(hours=3)):
            result = Attendance.check_in(
                create_member("Late"), {'nfc_tag': '04A22B1A0002'})
            self.assertEqual(result.code, 'event_not_open')
        # The last statement: on SQLite the error ends the transaction
        with self.assertRaises(SQLConstraintError):
            Tag.create([{'uid': '04A22B1A0001', 'event': event.id}])

    @with_transaction()
    def test_staff_batch(self):
        "Organizers check several members in; others may not"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        organizer = create_user("Organizer", 'checkin.group_checkin')
        outsider = create_user("Outsider", 'checkin.group_checkin')
        members = [create_member("M%s" % i) for i in range(3)]
        stranger = create_member("Stranger")
        event = create_event(
            organizers=[('add', [organizer.id])],
            roster=[('add', [m.id for m in members])], latitude=None,
            longitude=None)
        self.check_in(members[0], event, START)
        with at(START), as_user(organizer):
            results = Attendance.check_in_batch(event, members + [stranger])
        self.assertEqual([r.status for r in results],
            ['duplicate', 'created', 'created', 'refused'])
        self.assertEqual(results[3].code, 'not_on_roster')
        self.assertEqual(results[1].attendance.method, 'staff')
        self.assertEqual(results[1].attendance.checked_in_by, organizer)
        with at(START), as_user(outsider):
            with self.assertRaises(AccessError):
                Attendance.check_in_batch(event, [stranger])
            # Nor in the name of a member
            with self.assertRaises(AccessError):
                Attendance.check_in(stranger, {
                        'qr_token': event.current_token(START)})

    @with_transaction()
    def test_batch_wizard(self):
        "The batch wizard proposes the roster members not checked in"
        pool = Pool()
        BatchCheckIn = pool.get('checkin.event.batch_check_in', type='wizard')
        members = [create_member("M%s" % i) for i in range(3)]
        event = create_event(
            roster=[('add', [m.id for m in members])], latitude=None,
            longitude=None)
        self.check_in(members[0], event, START)
        session_id, _, _ = BatchCheckIn.create()
        with at(START), Transaction().set_context(
                active_model='checkin.event', active_id=event.id,
                active_ids=[event.id]):
            wizard = BatchCheckIn(session_id)
            values = wizard.default_start(None)
            self.assertEqual(
                sorted(values['members']), sorted(m.id for m in members[1:]))
            wizard.start.members = members
            self.assertEqual(wizard.transition_check_in(), 'result')
            result = wizard.default_result(None)
        self.assertEqual(
            (result['created'], result['duplicates'], result['refused']),
            (2, 1, 0))

    @with_transaction()
    def test_database_unique(self):
        "The database keeps one counted check-in per member, event and day"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event()
        member = create_member()
        values = {
            'event': event.id, 'member': member.id, 'time': START,
            'server_time': START, 'local_date': dt.date(2026, 3, 2),
            'day_key': 0, 'method': 'staff',
            }
        # Rejected records do not count, flagged ones do
        Attendance.create([
                dict(values, status='rejected'),
                dict(values, status='rejected'),
                dict(values, status='valid'),
                dict(values, status='valid', day_key=1),
                ])
        # The last statement: on SQLite the error ends the transaction
        with self.assertRaises(SQLConstraintError):
            Attendance.create([dict(values, status='flagged')])

    @with_transaction()
    def test_database_unique_uuid(self):
        "The database keeps the client UUIDs unique"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event()
        values = {
            'event': event.id, 'time': START, 'server_time': START,
            'local_date': dt.date(2026, 3, 2), 'day_key': 0,
            'method': 'staff', 'status': 'rejected', 'client_uuid': 'u',
            }
        Attendance.create([dict(values, member=create_member("A").id)])
        with self.assertRaises(SQLConstraintError):
            Attendance.create([dict(values, member=create_member("B").id)])

    @with_transaction()
    def test_attendance_protected(self):
        "Check-ins are made by the methods only and are not deleted"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event()
        attendance = self.check_in(create_member(), event, START).attendance
        with Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Attendance.write([attendance], {'status': 'valid'})
            with self.assertRaises(AccessError):
                Attendance.delete([attendance])
            with self.assertRaises(AccessError):
                Attendance.create([{
                            'event': event.id,
                            'member': create_member("B").id,
                            'time': START, 'server_time': START,
                            'local_date': START.date(), 'day_key': 0,
                            'method': 'staff', 'status': 'valid'}])
            Attendance.write([attendance], {'review_note': "Seen"})
        with self.assertRaises(AccessError):
            Attendance.copy([attendance])

    @with_transaction()
    def test_stats(self):
        "The live statistics of an event"
        pool = Pool()
        Event = pool.get('checkin.event')
        members = [create_member("M%s" % i) for i in range(6)]
        event = create_event(
            roster=[('add', [m.id for m in members[:5]])],
            late_after=10, policy='flag')
        for i, minutes in enumerate([-20, -3, 2, 12]):
            self.check_in(members[i], event,
                START + dt.timedelta(minutes=minutes))
        self.check_in(members[4], event, START + dt.timedelta(minutes=4),
            position={'lat': north(3000), 'lon': LON})
        self.check_in(members[5], event, START + dt.timedelta(minutes=5))
        with at(START + dt.timedelta(minutes=30)):
            stats = event.stats(bucket=15)
        self.assertEqual(stats['expected'], 5)
        self.assertEqual(stats['checked_in'], 6)
        self.assertEqual(stats['rate'], 1.2)
        self.assertEqual(stats['late'], 1)
        self.assertEqual(stats['flagged'], 2)
        self.assertEqual(stats['rejected'], 0)
        self.assertEqual(stats['by_bucket'], [
                {'start': '2026-03-02T08:30:00+08:00', 'count': 1},
                {'start': '2026-03-02T08:45:00+08:00', 'count': 1},
                {'start': '2026-03-02T09:00:00+08:00', 'count': 4},
                ])
        self.assertEqual([r['member_id'] for r in stats['recent']],
            [members[i].id for i in [3, 5, 4, 2, 1, 0]])
        # Shown to organizers and screens: masked
        self.assertEqual({r['member'] for r in stats['recent']}, {"M**"})
        self.assertEqual(stats['recent'][0]['time'],
            '2026-03-02T09:12:00+08:00')
        self.assertEqual(stats['bucket_minutes'], 15)
        self.assertEqual(event.stats()['bucket_minutes'], 5)
        event = Event(event.id)
        self.assertEqual(
            (event.expected, event.checked_in, event.late, event.flagged),
            (5, 6, 1, 2))

    @with_transaction()
    def test_stats_daily(self):
        "The statistics of a daily event are those of a local day"
        event = create_event(kind='daily', start=dt.datetime(2026, 3, 1),
            end=dt.datetime(2026, 3, 10), latitude=None, longitude=None)
        member = create_member()
        self.check_in(member, event, dt.datetime(2026, 3, 2, 1))
        self.check_in(member, event, dt.datetime(2026, 3, 3, 1))
        self.check_in(create_member("B"), event, dt.datetime(2026, 3, 3, 2))
        with at(dt.datetime(2026, 3, 3, 3)):
            self.assertEqual(event.stats()['checked_in'], 2)
            self.assertEqual(event.stats()['date'], '2026-03-03')
            self.assertEqual(
                event.stats(date=dt.date(2026, 3, 2))['checked_in'], 1)

    @with_transaction()
    def test_excel_export(self):
        "The Excel export has a summary and a detail sheet"
        import openpyxl
        pool = Pool()
        Excel = pool.get('checkin.attendance.excel', type='report')
        members = [create_member(n) for n in ["Ann", "Bob", "Chen", "Far"]]
        event = create_event(roster=[('add', [m.id for m in members])])
        for member in members[1:3]:
            self.check_in(member, event, START)
        self.check_in(members[3], event, START, position={
                'lat': north(3000), 'lon': LON})
        data = io.BytesIO()
        Excel.write_workbook(data, [event])
        data.seek(0)
        workbook = openpyxl.load_workbook(data)
        self.assertEqual(workbook.sheetnames, ["Summary", "Check-ins"])
        summary = list(workbook["Summary"].values)
        self.assertEqual(summary[0][:5],
            ("Event", "Kind", "Date", "Expected", "Checked In"))
        self.assertEqual(summary[1][3:9], (4, 2, 0.5, 0, 0, 1))
        detail = list(workbook["Check-ins"].values)
        self.assertEqual(len(detail), 4)
        self.assertEqual([r[3] for r in detail[1:]], ["Bob", "Chen", "Far"])
        self.assertEqual(detail[1][2], dt.datetime(2026, 3, 2, 9, 0))
        self.assertEqual(detail[3][5], "Rejected")
        self.assertEqual(detail[3][8], "Out of Range")
        self.assertEqual(detail[1][9], 10)

        oext, content, _, name = Excel.execute([event.id], {})
        self.assertEqual(oext, 'xlsx')
        self.assertTrue(content.startswith(b'PK'))
        oext, content, _, name = Excel.execute([], {
                'from_date': dt.date(2026, 3, 1),
                'to_date': dt.date(2026, 3, 31)})
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        self.assertEqual(len(list(workbook["Check-ins"].values)), 4)

    def test_excel_rows_as_openpyxl(self):
        "The fast rows of the Excel export are the XML openpyxl writes"
        import zipfile

        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        from trytond.modules.checkin.report import SheetRows

        def rows(sheet):
            header = WriteOnlyCell(sheet, value="Event")
            header.font = Font(bold=True)
            return [
                [header, "Time"],
                ["Yoga", dt.date(2026, 3, 2), dt.datetime(2026, 3, 2, 9, 5),
                    "Ann", True, False, 12, 0.5, None, "", "a & <b> > c"],
                [" padded ", "line\r\nbreak", "\u5f20\u4e09", 10 ** 15,
                    -1.25e-7, None, None, "#N/A", "=1+1", "x"],
                # Written by openpyxl: values it checks or converts
                [float('nan'), float('inf')],
                ["x" * 32768],
                [dt.time(9, 30), Decimal('1.50')],
                (str(i) for i in range(3)),
                [],
                ["=SUM(A1:A2)"],
                ]

        def sheet_xml(fast):
            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet("Sheet")
            writer = SheetRows(sheet) if fast else sheet
            for row in rows(sheet):
                writer.append(row)
            if fast:
                writer.close()
            data = io.BytesIO()
            workbook.save(data)
            with zipfile.ZipFile(data) as archive:
                return {n: archive.read(n) for n in archive.namelist()}
        fast, reference = sheet_xml(True), sheet_xml(False)
        self.assertEqual(fast.keys(), reference.keys())
        # The time of the workbook differs
        del fast['docProps/core.xml'], reference['docProps/core.xml']
        for name in reference:
            with self.subTest(name=name):
                self.assertEqual(fast[name], reference[name])
        # The values openpyxl refuses are refused
        for row in [
                ["bell\x07"], [object()], 42,
                [dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)]]:
            errors = []
            for fast in [True, False]:
                sheet = Workbook(write_only=True).create_sheet("Sheet")
                writer = SheetRows(sheet) if fast else sheet
                try:
                    writer.append(row)
                except Exception as e:
                    errors.append(type(e))
                if fast:
                    writer.file.close()
            with self.subTest(row=repr(row)[:20]):
                self.assertEqual(len(errors), 2)
                self.assertEqual(errors[0], errors[1])

    @with_transaction()
    def test_missed_reminders(self):
        "The rostered members not checked in after the delay get a reminder"
        pool = Pool()
        Event = pool.get('checkin.event')
        Message = pool.get('outbox.message')
        ann = create_member("Ann", email='ann@example.com')
        bob = create_member("Bob", email='bob@example.com')
        create_member("Cat")  # not on the roster
        event = create_event(roster=[('add', [ann.id, bob.id])])
        self.check_in(bob, event, START)
        # The default delay is 15 minutes
        with at(START + dt.timedelta(minutes=14)):
            self.assertEqual(Event.send_missed_reminders(), [])
        with at(START + dt.timedelta(minutes=15)):
            messages = Event.send_missed_reminders()
        self.assertEqual([m.party for m in messages], [ann.party])
        message, = messages
        self.assertEqual(message.template.code, 'checkin_missed')
        self.assertEqual(message.origin, event)
        self.assertEqual(message.subject, "You have not checked in to Meeting")
        self.assertEqual(message.dedup_key,
            'checkin-missed:%d:%d:%d' % (event.id, ann.id, 0))

        # Running again queues nothing new
        with at(START + dt.timedelta(minutes=20)):
            self.assertEqual(Event.send_missed_reminders(), [])
        self.assertEqual(Message.search([
                    ('template.code', '=', 'checkin_missed'),
                    ]), [message])

    @with_transaction()
    def test_event_report(self):
        "The printable report lists the check-ins and the absents"
        pool = Pool()
        Report = pool.get('checkin.event.report', type='report')
        event = create_event(roster=[('add', [create_member("Ann").id])])
        self.check_in(create_member("Bob"), event, START)
        oext, content, _, name = Report.execute([event.id], {})
        self.assertEqual(oext, 'html')
        if isinstance(content, bytes):
            content = content.decode('utf-8')
        self.assertIn("Bob", content)
        self.assertIn("Ann", content)
        self.assertIn("Meeting", content)

    @with_transaction()
    def test_report_models(self):
        "Reports by day and by member"
        pool = Pool()
        ReportDay = pool.get('checkin.report.day')
        ReportMember = pool.get('checkin.report.member')
        event = create_event(late_after=0)
        member = create_member()
        self.check_in(member, event, START + dt.timedelta(minutes=1))
        self.check_in(create_member("B"), event, START)
        with Transaction().set_context(from_date=dt.date(2026, 3, 1)):
            day, = ReportDay.search([])
            self.assertEqual(
                (day.date, day.event, day.checked_in, day.late),
                (dt.date(2026, 3, 2), event, 2, 1))
            rows = ReportMember.search([('member', '=', member.id)])
            self.assertEqual([(r.checked_in, r.late) for r in rows], [(1, 1)])
        with Transaction().set_context(from_date=dt.date(2026, 4, 1)):
            self.assertEqual(ReportDay.search([]), [])

    @with_transaction()
    def test_cron_states(self):
        "The scheduler opens and closes events and rotates secrets"
        pool = Pool()
        Event = pool.get('checkin.event')
        event = create_event(state='draft', open_before=30)
        manual = create_event(name="Manual", state='draft', auto_open=False)
        with at(START - dt.timedelta(minutes=31)):
            Event.update_states()
        self.assertEqual(Event(event.id).state, 'draft')
        with at(START - dt.timedelta(minutes=30)):
            Event.update_states()
        self.assertEqual(Event(event.id).state, 'open')
        self.assertEqual(Event(manual.id).state, 'draft')
        secret = Event(event.id).secret
        with at(START + dt.timedelta(hours=2)):
            Event.update_states()
        event = Event(event.id)
        self.assertEqual(event.state, 'closed')
        self.assertNotEqual(event.secret, secret)
        self.assertEqual(event.previous_secret, secret)

    @with_transaction()
    def test_rotate_secrets(self):
        "Rotated secrets still accept the credentials made just before"
        pool = Pool()
        Event = pool.get('checkin.event')
        with at(START - dt.timedelta(days=2)):
            event = create_event()
        token_ = event.current_token(START)
        with at(START + dt.timedelta(seconds=30)):
            Event.rotate_secrets()
        self.assertNotEqual(event.current_token(START), token_)
        self.assertEqual(
            Event.verify_token(token_, START + dt.timedelta(seconds=61)),
            event)
        with at(START + dt.timedelta(seconds=31)):
            Event.rotate_secrets()
        # Not due again
        self.assertEqual(
            Event.verify_token(token_, START + dt.timedelta(seconds=61)),
            event)

    @with_transaction()
    def test_kiosk_fields(self):
        "The codes of an open event are shown to its organizers only"
        pool = Pool()
        Event = pool.get('checkin.event')
        organizer = create_user("Organizer", 'checkin.group_checkin')
        other = create_user("Other", 'checkin.group_checkin')
        event = create_event(organizers=[('add', [organizer.id])])
        with at(START):
            qr = event.qr()
            self.assertEqual(qr['refresh_in'], 60)
            self.assertEqual(qr['expires_at'], '2026-03-02T09:02:00+08:00')
            self.assertTrue(qr['png'])
            self.assertIn('<svg', qr['svg'])
            with as_user(organizer):
                event_, = Event.search([])
                self.assertEqual(event_.qr_token, qr['token'])
                self.assertRegex(event_.activity_code, r'^\d{6}$')
                self.assertTrue(event_.qr_image.startswith(b'\x89PNG'))
            with as_user(other):
                # Organizers see only the events they organize
                self.assertEqual(Event.search([]), [])

    @with_transaction()
    def test_organizer_workflow(self):
        "An organizer creates, copies, opens and follows its own events"
        pool = Pool()
        Event = pool.get('checkin.event')
        organizer = create_user("Organizer", 'checkin.group_checkin')
        other = create_user("Other", 'checkin.group_checkin')
        with at(START), as_user(organizer):
            event, = Event.create([{
                        'name': "Mine", 'start': START,
                        'end': START + dt.timedelta(hours=1)}])
            self.assertEqual(list(event.organizers), [organizer])
            copy, = Event.copy([event])
            Event.open([event])
            self.assertEqual(event.stats()['checked_in'], 0)
            self.assertTrue(event.qr(images=False)['token'])
            with self.assertRaises(AccessButtonError):
                Event.renew_secret([event])
        with at(START), as_user(other):
            self.assertEqual(Event.search([]), [])
            with self.assertRaises(AccessError):
                Event(event.id).stats()
            with self.assertRaises(AccessError):
                Event(event.id).qr()

    @with_transaction()
    def test_self_service_rules(self):
        "A member sees the published events and its own check-ins only"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        user = create_user("API", 'member.group_member_self')
        event = create_event()
        create_event(name="Draft", state='draft')
        alice = create_member("Alice")
        bob = create_member("Bob")
        mine = self.check_in(alice, event, START).attendance
        self.check_in(bob, event, START)
        with at(START), as_user(user, **member_context(alice.id)):
            self.assertEqual(Event.search([]), [event])
            self.assertEqual(Attendance.search([]), [mine])
            # The member checks itself in, not another one
            self.assertEqual(check_in(alice, event, START).status, 'duplicate')
            with self.assertRaises(AccessError):
                Attendance.check_in(bob, {
                        'qr_token': event.current_token(START)})

    @with_transaction()
    def test_available_events(self):
        "The events a member may check in to"
        pool = Pool()
        Event = pool.get('checkin.event')
        member = create_member()
        other = create_member("Other")
        open_ = create_event(name="Open")
        rostered = create_event(
            name="Roster", roster=[('add', [other.id])], policy='reject')
        create_event(name="Draft", state='draft')
        with at(START):
            self.assertEqual(Event.available(member), [open_])
            self.assertEqual(Event.available(other), [open_, rostered])
            self.assertEqual(Event.checked_in_ids(member, [open_]), set())
            self.check_in(member, open_, START)
            self.assertEqual(
                Event.checked_in_ids(member, [open_]), {open_.id})

    @with_transaction()
    def test_sign_in(self):
        "The daily sign-in of the mini-program"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Configuration = pool.get('checkin.configuration')
        Member = pool.get('member.member')
        member = create_member()
        with at(START):
            result = Attendance.sign_in(member)
        self.assertEqual(result.code, 'event_not_open')
        event = create_event(
            kind='points', methods=['app'], start=dt.datetime(2026, 1, 1),
            end=dt.datetime(2027, 1, 1), latitude=None, longitude=None,
            points=5)
        Configuration(1, sign_in_event=event.id).save()
        with at(START):
            self.assertEqual(Attendance.sign_in(member).status, 'created')
            self.assertEqual(Attendance.sign_in(member).status, 'duplicate')
        with at(START + dt.timedelta(days=1)):
            self.assertEqual(Attendance.sign_in(member).status, 'created')
        member = Member(member.id)
        self.assertEqual(member.points_balance, 10)
        self.assertEqual(member.streak_length, 2)

    @with_transaction()
    def test_submit(self):
        "The RPC entry points answer JSON-ready values"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event()
        member = create_member()
        with at(START):
            result = Attendance.submit(member.id, {
                    'qr_token': event.current_token(START),
                    'lat': LAT, 'lon': LON, 'client_uuid': 'x-1'})
            self.assertEqual(result['status'], 'created')
            self.assertEqual(result['client_uuid'], 'x-1')
            results = Attendance.submit_sync(member.id, [{
                        'qr_token': event.current_token(START),
                        'lat': LAT, 'lon': LON, 'client_uuid': 'x-1',
                        'client_time': '2026-03-02T01:00:00Z'}])
            self.assertEqual(results[0]['status'], 'duplicate')
            self.assertEqual(
                results[0]['error']['code'], 'already_checked_in')
            result = Attendance.submit(member.id, {
                    'qr_token': event.current_token(START),
                    'lat': 'north', 'lon': LON})
            self.assertEqual(result['error']['code'], 'invalid_request')

    @with_transaction()
    def test_event_rules(self):
        "Events: dates, location, BSSIDs, copy and deletion"
        pool = Pool()
        Event = pool.get('checkin.event')
        with self.assertRaises(UserError):
            create_event(latitude=LAT, longitude=None)
        with self.assertRaises(UserError):
            create_event(bssids='not a bssid')
        event = create_event(bssids='00-11-22-33-44-55\n00:11:22:33:44:66')
        self.assertEqual(event.bssids, '00:11:22:33:44:55\n00:11:22:33:44:66')
        copy, = Event.copy([event])
        self.assertEqual(copy.state, 'draft')
        self.assertNotEqual(copy.secret, event.secret)
        self.check_in(create_member(), event, START)
        with self.assertRaises(UserError):
            Event.delete([event])
        Event.cancel([event])
        with self.assertRaises(UserError):
            Event.delete([event])
        Event.delete([copy])
        # The last statement: the database refuses it
        with self.assertRaises(UserError):
            create_event(end=START - dt.timedelta(hours=1))

    @with_transaction()
    def test_points_origin(self):
        "Points lines point back to their check-in"
        pool = Pool()
        Line = pool.get('member.points.line')
        event = create_event()
        attendance = self.check_in(create_member(), event, START).attendance
        line, = Line.search([])
        self.assertEqual(line.origin, attendance)
        self.assertEqual(list(attendance.points_lines), [line])


del ModuleTestCase
