"""Property-based tests (hypothesis) of the pure rules of the modules: the
rotating QR tokens and their windows, the great-circle distance and the
radius check, the slots of opening hours and their capacity, the streak of
daily activity across days and time zones, and the member price after the
tier discount.

Every property runs a bounded number of examples (no deadline: the machine
is shared) so that the whole file takes seconds; LONG_TESTS=1 runs several
times as many.  The database properties
(streaks, prices) run in one rolled-back transaction of a test database
with `service_booking` (and so `member`) activated."""
import datetime as dt
import math
import os
import string
import tempfile
import unittest
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from trytond.modules.checkin import token as qr
from trytond.modules.checkin.attendance import Attendance, parse_position
from trytond.modules.checkin.exceptions import InvalidCheckInError
from trytond.modules.service_booking.slot import (
    Occupancy, Schedule, local_dates, merge, slot_starts)
from trytond.modules.suite import geo
from trytond.modules.suite.geo import (
    EARTH_RADIUS, distance, gcj02_to_wgs84, haversine, wgs84_to_gcj02)
from trytond.modules.suite.tests.tools import sized
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)

# Hypothesis keeps a cache (.hypothesis/constants) in the working directory:
# keep it out of the working tree
if not os.environ.get('HYPOTHESIS_STORAGE_DIRECTORY'):
    from hypothesis.configuration import set_hypothesis_home_dir
    set_hypothesis_home_dir(os.path.join(
            tempfile.gettempdir(), 'hypothesis-%s' % os.getuid()))

# database=None: no example database (.hypothesis/) in the working tree
FAST = settings(max_examples=sized(150, 1000), deadline=None, database=None)
SLOW = settings(max_examples=sized(15, 100), deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])

# Strategies

secrets_ = st.text(
    alphabet=string.ascii_letters + string.digits + '-_', min_size=1,
    max_size=64)
event_ids = st.integers(min_value=1, max_value=10 ** 12 - 1)
windows = st.integers(min_value=0, max_value=10 ** 14 - 1)
window_seconds = st.integers(min_value=1, max_value=24 * 3600)
# Naive UTC datetimes to the second, as Tryton stores them
utc_times = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1)
    ).map(lambda d: d.replace(microsecond=0))
latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
points = st.tuples(latitudes, longitudes)
TIMEZONES = [
    'UTC', 'Asia/Shanghai', 'America/New_York', 'Europe/London',
    'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Asia/Kathmandu',
    'Australia/Lord_Howe', 'America/St_Johns', 'Europe/Berlin',
    ]
timezones = st.sampled_from(TIMEZONES)

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


class TokenPropertiesTestCase(unittest.TestCase):
    "QR tokens: windows, signatures, tampering (checkin/token.py)"

    @FAST
    @given(utc_times, window_seconds)
    def test_window_contains_time(self, when, seconds):
        "The window of a time starts at or before it and ends after it"
        window = qr.window_of(when, seconds)
        start = qr.window_start(window, seconds)
        self.assertLessEqual(start, when)
        self.assertLess(when, qr.window_start(window + 1, seconds))
        self.assertEqual(
            qr.window_start(window + 1, seconds) - start,
            dt.timedelta(seconds=seconds))
        # The start of a window is in that window
        self.assertEqual(qr.window_of(start, seconds), window)

    @FAST
    @given(utc_times, utc_times, window_seconds)
    def test_window_monotonic(self, a, b, seconds):
        "A later time never has an earlier window"
        a, b = sorted([a, b])
        self.assertLessEqual(
            qr.window_of(a, seconds), qr.window_of(b, seconds))

    @FAST
    @given(secrets_, event_ids, windows)
    def test_token_round_trip(self, secret, event_id, window):
        "A token parses back to its event and window and verifies"
        token = qr.make_token(secret, event_id, window)
        parsed = qr.parse_token(token)
        self.assertIsNotNone(parsed, token)
        self.assertEqual(parsed[:2], (event_id, window))
        self.assertTrue(qr.verify(secret, *parsed))
        # Short enough for a small QR code
        self.assertLessEqual(len(token), 12 + 1 + 14 + 1 + 22)

    @FAST
    @given(secrets_, secrets_, event_ids, event_ids, windows, windows)
    def test_token_bound_to_event_window_secret(
            self, secret, other_secret, event_id, other_event, window,
            other_window):
        "A signature verifies only for its own event, window and secret"
        event_id_, window_, sig = qr.parse_token(
            qr.make_token(secret, event_id, window))
        self.assertEqual(
            qr.verify(other_secret, event_id, window, sig),
            other_secret == secret)
        self.assertEqual(
            qr.verify(secret, other_event, window, sig),
            other_event == event_id)
        self.assertEqual(
            qr.verify(secret, event_id, other_window, sig),
            other_window == window)
        self.assertFalse(qr.verify(secret, event_id, window + 1, sig))
        self.assertFalse(qr.verify(secret, event_id, window - 1, sig))
        self.assertFalse(qr.verify('', event_id, window, sig))
        self.assertFalse(qr.verify(None, event_id, window, sig))

    @FAST
    @given(secrets_, event_ids, windows, st.data())
    def test_token_tampered(self, secret, event_id, window, data):
        "Any altered, removed or added character makes the token fail"
        token = qr.make_token(secret, event_id, window)
        index = data.draw(st.integers(0, len(token) - 1), label="index")
        char = data.draw(st.characters(
                codec='utf-8', exclude_characters=token[index]),
            label="char")
        kind = data.draw(st.sampled_from(['replace', 'delete', 'insert']),
            label="kind")
        if kind == 'replace':
            altered = token[:index] + char + token[index + 1:]
        elif kind == 'delete':
            altered = token[:index] + token[index + 1:]
        else:
            altered = token[:index] + char + token[index:]
        parsed = qr.parse_token(altered)
        if parsed is not None and parsed == qr.parse_token(token):
            # Another spelling of the same token: surrounding white space
            # (a scanner's) is accepted; a leading zero is the known bug of
            # test_token_leading_zero
            if altered.strip() != token:
                assume(False)
            return
        if parsed is not None:
            # Whatever event and window it claims, the signature is wrong
            self.assertFalse(qr.verify(secret, *parsed), (token, altered))

    # BUG (checkin/token.py parse_token, low severity): the event id and
    # window are parsed with int(), so a token with leading zeros
    # ("01.0.<sig>", "007.0.<sig>", "1.000<window>.<sig>") is accepted as
    # the token it spells: one QR credential has many spellings, and
    # "any altered character fails" does not hold.  Nothing keys on the
    # token string today (check-ins are unique per member, event and day),
    # but a future replay list by token would be bypassed.  Fix: refuse a
    # leading zero in the pattern (0|[1-9][0-9]*).  Found by
    # test_token_tampered.
    def test_token_leading_zero(self):
        "A token with a leading zero in its event id or window is refused"
        token = qr.make_token('secret', 1, 5)
        event_id, window, sig = token.split('.')
        for altered in ['0' + token, '%s.0%s.%s' % (event_id, window, sig)]:
            with self.subTest(altered=altered):
                self.assertIsNone(qr.parse_token(altered))

    @FAST
    @given(st.one_of(
            st.none(), st.integers(), st.binary(), st.text(max_size=80),
            st.lists(st.integers(), max_size=3)))
    def test_parse_token_garbage(self, value):
        "parse_token answers None or a well-formed triple, never raises"
        parsed = qr.parse_token(value)
        if parsed is not None:
            event_id, window, sig = parsed
            self.assertIsInstance(event_id, int)
            self.assertIsInstance(window, int)
            self.assertEqual(len(sig), 22)

    @FAST
    @given(secrets_, event_ids, windows)
    def test_code_digits(self, secret, event_id, window):
        "An activity code is 6 digits, normalized to itself"
        code = qr.make_code(secret, event_id, window)
        self.assertRegex(code, r'^[0-9]{6}$')
        self.assertEqual(qr.normalize_code(code), code)
        self.assertEqual(
            qr.normalize_code(code[:3] + ' - ' + code[3:]), code)


class DistancePropertiesTestCase(unittest.TestCase):
    "The great-circle distance and the radius check (checkin)"

    # A metre of tolerance: near antipodal points asin() loses precision
    TOLERANCE = 1.0

    @FAST
    @given(points, points)
    def test_symmetric_bounded(self, a, b):
        "Symmetric, non-negative, at most half the circumference"
        d = haversine(*a, *b)
        self.assertTrue(math.isfinite(d))
        self.assertGreaterEqual(d, 0)
        self.assertLessEqual(d, math.pi * EARTH_RADIUS + 1e-6)
        self.assertAlmostEqual(d, haversine(*b, *a), delta=1e-6)

    @FAST
    @given(points)
    def test_identical_zero(self, a):
        "Zero between a point and itself"
        self.assertEqual(haversine(*a, *a), 0)

    @FAST
    @given(points, points, points)
    @example((0, 0), (0, 90), (0, 180))
    @example((90, 0), (0, 0), (-90, 0))
    def test_triangle_inequality(self, a, b, c):
        "d(a, c) <= d(a, b) + d(b, c)"
        self.assertLessEqual(
            haversine(*a, *c),
            haversine(*a, *b) + haversine(*b, *c) + self.TOLERANCE)

    @FAST
    @given(latitudes, longitudes, latitudes)
    def test_meridian(self, lat1, lon, lat2):
        "Along a meridian the distance is the latitude difference"
        self.assertAlmostEqual(
            haversine(lat1, lon, lat2, lon),
            EARTH_RADIUS * math.radians(abs(lat1 - lat2)),
            delta=self.TOLERANCE)

    @FAST
    @given(points, points)
    def test_longitude_periodic(self, a, b):
        "A longitude and the same one plus 360 degrees are one meridian"
        self.assertAlmostEqual(
            haversine(a[0], a[1], *b), haversine(a[0], a[1] + 360, *b),
            delta=self.TOLERANCE)

    @FAST
    @given(
        st.one_of(st.floats(), st.integers(), st.text(max_size=10)),
        st.one_of(st.floats(), st.integers(), st.text(max_size=10)),
        st.one_of(st.none(), st.floats(), st.integers(-10, 10 ** 8)))
    @example('nan', 0, None)
    @example(float('inf'), 0, None)
    @example(0, 0, float('nan'))
    @example('1e400', '-1e400', 1e7)
    def test_parse_position(self, lat, lon, accuracy):
        "A position is in range and finite, or refused"
        try:
            result = parse_position(
                {'lat': lat, 'lon': lon, 'accuracy_m': accuracy})
        except InvalidCheckInError:
            return
        latitude, longitude, acc, coord_type = result
        self.assertTrue(-90 <= latitude <= 90)
        self.assertTrue(-180 <= longitude <= 180)
        self.assertTrue(acc is None or 0 <= acc < 1e7)
        self.assertEqual(coord_type, 'wgs84')
        self.assertAlmostEqual(latitude, float(lat), delta=1e-7)
        self.assertAlmostEqual(longitude, float(lon), delta=1e-7)

    # An integer too large for a float (e.g. 10**400, which JSON-RPC decodes
    # as an int) raised OverflowError instead of InvalidCheckInError, so the
    # RPC method checkin.attendance.submit answered a server error instead
    # of a clean "position invalid" (found by test_parse_position).  The
    # check-in and the door check-in now share suite.geo.parse_position,
    # which refuses it.
    def test_parse_position_huge_integer(self):
        "A latitude too large for a float is refused like any bad position"
        with self.assertRaises(InvalidCheckInError):
            parse_position({'lat': 10 ** 400, 'lon': 0})

    @FAST
    @given(points, points, st.integers(1, 100000),
        st.one_of(st.none(), st.floats(0, 1e6)))
    def test_radius_check(self, place, position, radius, accuracy):
        """Out of range exactly when the distance exceeds the radius plus
        the accuracy, the accuracy counting up to the radius"""
        event = SimpleNamespace(
            has_location=True, radius=radius, bssid_list=[],
            on_roster=lambda member: True)
        distance = haversine(*place, *position)
        reasons = Attendance._suspicious(
            event, SimpleNamespace(id=1), 'qr',
            (position[0], position[1], accuracy), distance, None)
        out = 'out_of_range' in reasons
        self.assertEqual(
            out, distance > radius + min(accuracy or 0, radius))
        if distance <= radius:
            self.assertFalse(out)
        if distance > 2 * radius:
            self.assertTrue(out)
        if out:
            self.assertEqual(reasons['out_of_range']['radius_m'], radius)
            self.assertEqual(
                reasons['out_of_range']['distance_m'], round(distance))
        # Staff check-ins are vouched for by the organizers
        self.assertNotIn('out_of_range', Attendance._suspicious(
                event, SimpleNamespace(id=1), 'staff', None, None, None))


# Opening hours: per weekday some (start, end) in quarters of an hour
quarters = st.integers(0, 96)
hours = st.lists(
    st.tuples(st.integers(0, 6), quarters, quarters).map(
        lambda t: (t[0], min(t[1], t[2]) * 15 * M, max(t[1], t[2]) * 15 * M)),
    max_size=8)


class GCJ02PropertiesTestCase(unittest.TestCase):
    "The GCJ-02 coordinate system of the Chinese maps (suite/geo.py)"

    china_latitudes = st.floats(min_value=18, max_value=53.5)
    china_longitudes = st.floats(min_value=73.5, max_value=135)

    @FAST
    @given(china_latitudes, china_longitudes)
    def test_there_and_back(self, lat, lon):
        "WGS-84 to GCJ-02 and back stays within a metre inside China"
        glat, glon = wgs84_to_gcj02(lat, lon)
        self.assertLess(haversine(lat, lon, *gcj02_to_wgs84(glat, glon)), 1)

    @FAST
    @given(china_latitudes, china_longitudes)
    def test_shift_bounded(self, lat, lon):
        "The GCJ-02 shift is under a kilometre and a half"
        self.assertLess(haversine(lat, lon, *wgs84_to_gcj02(lat, lon)), 1500)

    @FAST
    @given(china_latitudes, china_longitudes)
    @example(48.8584, 2.2945)
    def test_distance_one_system(self, lat, lon):
        "A place and its GCJ-02 image are the same place"
        g = wgs84_to_gcj02(lat, lon)
        self.assertLess(distance((lat, lon, 'wgs84'), (*g, 'gcj02')), 1)

    @FAST
    @given(china_latitudes, china_longitudes)
    def test_pasted_point_either_order(self, lat, lon):
        "A map's point pasted as lat,lon or lon,lat is the same point"
        lat, lon = round(lat, 6), round(lon, 6)
        for text in ['%.6f,%.6f' % (lat, lon), '%.6f,%.6f' % (lon, lat)]:
            self.assertEqual(geo.parse_point(text), (lat, lon))

    @FAST
    @given(latitudes, longitudes)
    @example(31.2304, 121.4737)
    @example(48.8584, 2.2945)
    def test_gcj02_only_in_china(self, lat, lon):
        "A GCJ-02 position is taken exactly where the shift applies"
        try:
            geo.parse_position(lat, lon, None, 'gcj02')
        except geo.CoordTypeError as error:
            self.assertEqual(error.reason, 'outside_china')
            self.assertFalse(geo.in_china(round(lat, 7), round(lon, 7)))
        else:
            self.assertTrue(geo.in_china(round(lat, 7), round(lon, 7)))


class SlotPropertiesTestCase(unittest.TestCase):
    "Slots of the opening hours and the capacity left (service_booking)"

    @FAST
    @given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)),
            max_size=10))
    def test_merge(self, intervals):
        "A sorted union of disjoint intervals covering the same points"
        result = merge(intervals)
        for (s1, e1), (s2, e2) in zip(result, result[1:]):
            self.assertLess(e1, s2)
        for start, end in result:
            self.assertLess(start, end)
        covered = {x for s, e in intervals for x in range(s, e)}
        self.assertEqual(
            covered, {x for s, e in result for x in range(s, e)})

    @SLOW
    @given(hours, timezones,
        st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)),
        st.integers(1, 3),
        st.sampled_from([15, 30, 45, 60, 90, 120]),
        st.sampled_from([15, 30, 60]))
    @example([(6, 0 * H, 24 * H)], 'Europe/Berlin', dt.date(2026, 3, 28), 2,
        60, 60)
    @example([(6, 0 * H, 24 * H)], 'America/New_York', dt.date(2026, 10, 31),
        2, 60, 30)
    def test_slots_within_opening_hours(
            self, weekly, timezone, first, days, duration, step):
        """Every slot starts in the asked range and ends within an opening
        interval; slots are sorted, unique and a step apart"""
        tzinfo = zoneinfo.ZoneInfo(timezone)
        schedule = Schedule(weekly)
        duration = duration * M
        step = step * M
        start = to_utc_naive(dt.datetime.combine(first, dt.time()), tzinfo)
        end = start + days * 24 * H
        slots = slot_starts(schedule, tzinfo, start, end, duration, step)
        self.assertEqual(slots, sorted(set(slots)))
        intervals = [i for date in local_dates(start, end, tzinfo)
            for i in schedule.utc_intervals(date, tzinfo)]
        for slot in slots:
            self.assertTrue(start <= slot < end)
            inside = [(o, c) for o, c in intervals
                if o <= slot and slot + duration <= c]
            self.assertTrue(inside, (slot, intervals))
            # A step apart from the opening
            self.assertTrue(any(
                    (slot - o) % step == dt.timedelta(0)
                    for o, c in inside))
        # Every opening interval long enough has its first slot
        for open_, close in intervals:
            if start <= open_ < end and open_ + duration <= close:
                self.assertIn(open_, slots)

    @FAST
    @given(
        st.lists(st.tuples(
                st.integers(0, 40), st.integers(1, 8), st.integers(1, 3)),
            max_size=12),
        st.integers(0, 40), st.integers(1, 8), st.integers(1, 3),
        st.integers(0, 5))
    def test_capacity_left(self, bookings, start, length, service, capacity):
        """Between 0 and the capacity; the capacity with no booking; another
        booking never gives more room"""
        base = dt.datetime(2026, 6, 1)
        booked = [(base + s * 15 * M, base + (s + n) * 15 * M, svc)
            for s, n, svc in bookings]
        slot = (base + start * 15 * M, base + (start + length) * 15 * M)
        left = Occupancy(booked).capacity_left(service, *slot, capacity)
        self.assertTrue(0 <= left <= capacity)
        self.assertEqual(
            Occupancy().capacity_left(service, *slot, capacity), capacity)
        overlapping = [b for b in booked
            if b[0] < slot[1] and slot[0] < b[1]]
        if not overlapping:
            self.assertEqual(left, capacity)
        elif any(b[2] != service or b[0] != slot[0] for b in overlapping):
            self.assertEqual(left, 0)
        else:
            self.assertEqual(left, max(capacity - len(overlapping), 0))
        for extra in booked:
            self.assertLessEqual(
                Occupancy(booked + [extra]).capacity_left(
                    service, *slot, capacity), left)


def to_utc_naive(local, tzinfo):
    return local.replace(tzinfo=tzinfo).astimezone(
        dt.timezone.utc).replace(tzinfo=None)


def expected_streaks(dates, base_points, rules):
    """The reference model of record_daily_activity: (counted, streak,
    points) of each date in order, the final streak and the best one"""
    last, streak, best, results = None, 0, 0, []
    for date in dates:
        if last is not None and date <= last:
            results.append((False, streak if date == last else None, 0))
            continue
        streak = streak + 1 if (
            last is not None and date == last + dt.timedelta(days=1)) else 1
        best = max(best, streak)
        last = date
        points = base_points + sum(bonus for day, repeat, bonus in rules
            if (streak % day == 0 if repeat else streak == day))
        results.append((True, streak, points))
    return results, streak, best


class DatabasePropertiesTestCase(unittest.TestCase):
    "Streaks (member) and member prices (service_booking) in a database"

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['service_booking'])

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def _streak_config(self, timezone, base_points, rules):
        from trytond.pool import Pool
        pool = Pool()
        Configuration = pool.get('member.configuration')
        StreakRule = pool.get('member.streak.rule')
        config = Configuration(1)
        config.timezone = timezone
        config.streak_base_points = base_points
        config.streak_rules = [
            StreakRule(day=d, repeat=r, bonus=b) for d, r, b in rules]
        config.save()

    @with_transaction()
    def test_streak_days(self):
        "Streak, best streak and points follow the days of activity"
        from trytond.pool import Pool
        Member = Pool().get('member.member')
        rules = [(3, False, 10), (2, True, 1)]
        self._streak_config('UTC', 2, rules)
        day = dt.date(2026, 2, 26)

        @SLOW
        @given(st.lists(st.integers(0, 12), min_size=1, max_size=12))
        def check(offsets):
            dates = [day + dt.timedelta(days=o) for o in offsets]
            member, = Member.create([{'name': "Streak"}])
            results = [Member.record_daily_activity(member, d)
                for d in dates]
            expected, streak, best = expected_streaks(dates, 2, rules)
            self.assertEqual(
                [(r['counted'], r['streak'], r['points']) for r in results],
                expected)
            member = Member(member.id)
            self.assertEqual(member.streak_length, streak)
            self.assertEqual(member.best_streak, best)
            self.assertEqual(member.last_activity_date, max(dates))
            # The balance is the sum of the ledger and of the day's points
            self.assertEqual(
                member.points_balance, sum(p for _, _, p in expected))
            self.assertEqual(Member.check_balances([member]), [])
            # Replaying the same days changes nothing
            for d in dates:
                self.assertFalse(
                    Member.record_daily_activity(member, d)['counted'])
            self.assertEqual(Member(member.id).points_balance,
                member.points_balance)
        check()

    @with_transaction()
    def test_streak_timezones(self):
        "Activity times in UTC count on the local day of the configured zone"
        from trytond.pool import Pool
        Member = Pool().get('member.member')
        start = dt.datetime(2026, 3, 6)

        @SLOW
        @given(timezones,
            st.lists(st.integers(0, 10 * 24 * 4), min_size=1, max_size=10))
        @example('Australia/Lord_Howe', [0, 4 * 24 - 1, 4 * 24 * 2])
        @example('Pacific/Kiritimati', [39, 41, 39 + 96])
        def check(timezone, quarters):
            self._streak_config(timezone, 1, [])
            tzinfo = zoneinfo.ZoneInfo(timezone)
            times = sorted(start + q * 15 * M for q in quarters)
            member, = Member.create([{'name': "Zone"}])
            results = [Member.record_daily_activity(member, t)
                for t in times]
            dates = [t.replace(tzinfo=dt.timezone.utc).astimezone(
                    tzinfo).date() for t in times]
            expected, streak, best = expected_streaks(dates, 1, [])
            self.assertEqual(
                [(r['counted'], r['streak'], r['points']) for r in results],
                expected)
            member = Member(member.id)
            self.assertEqual(member.last_activity_date, dates[-1])
            self.assertEqual(member.best_streak, best)
            self.assertEqual(member.points_balance, len(set(dates)))
        check()

    @with_transaction()
    def test_member_price(self):
        """The member price is the price less the tier discount, rounded
        half up to the currency: never negative, never above the price,
        never more for a bigger discount"""
        from trytond.modules.company.tests import create_company, set_company
        from trytond.modules.currency.tests import create_currency
        from trytond.modules.service_booking.tests.test_module import (
            create_resource, create_service)
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool()
        Currency = pool.get('currency.currency')
        Template = pool.get('product.template')
        currency = create_currency('CNY')
        company = create_company(currency=currency)
        with set_company(company):
            service = create_service([create_resource()])
        prices = st.decimals(min_value=0, max_value=Decimal('99999.9999'),
            places=4, allow_nan=False, allow_infinity=False)
        discounts = st.decimals(min_value=0, max_value=100, places=2,
            allow_nan=False, allow_infinity=False)

        @SLOW
        @given(prices, discounts, discounts,
            st.sampled_from(['0.01', '0.1', '1', '0.05', '0.02']))
        @example(Decimal('12.50'), Decimal(15), Decimal(0), '0.01')
        @example(Decimal('0.005'), Decimal(0), Decimal(100), '0.01')
        @example(Decimal('99999.9999'), Decimal('0.01'), Decimal('99.99'),
            '0.05')
        def check(price, discount, other, rounding):
            rounding = Decimal(rounding)
            Currency.write([currency], {'rounding': rounding})
            with Transaction().set_context(company=company.id):
                Template.write([service.product.template],
                    {'list_price': price})
            svc = pool.get('booking.service')(service.id)

            def member(d):
                return SimpleNamespace(tier=SimpleNamespace(discount=d))
            listed, d, final = svc.member_price(member(discount))
            self.assertEqual(d, discount)
            self.assertEqual(listed, (price / rounding).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP) * rounding)
            exact = listed * (100 - discount) / 100
            self.assertEqual(final, (exact / rounding).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP) * rounding)
            self.assertLessEqual(abs(final - exact), rounding / 2)
            self.assertEqual(final % rounding, 0)
            self.assertGreaterEqual(final, 0)
            self.assertLessEqual(final, listed)
            # No tier, no discount: the listed price
            self.assertEqual(svc.member_price(None), (listed, 0, listed))
            self.assertEqual(
                svc.member_price(member(Decimal(0)))[2], listed)
            self.assertEqual(
                svc.member_price(member(Decimal(100)))[2], 0)
            # A bigger discount never costs more
            lo, hi = sorted([discount, other])
            self.assertGreaterEqual(
                svc.member_price(member(lo))[2],
                svc.member_price(member(hi))[2])
        check()
