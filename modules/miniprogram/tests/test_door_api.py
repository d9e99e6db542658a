# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The technician at the customer's door: the position of the booking
address, the technician's day, the door check-in within the radius of the
service (refused or flagged outside it) and the check-out with the real
duration; another technician's bookings do not exist."""
import datetime as dt
import json
from decimal import Decimal

from trytond.modules.service_booking.tests.test_module import (
    create_resource, create_service, create_tiers)
from trytond.modules.suite import clock, geo
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .tools import Api, ApiTestMixin, create_api_company, in_transaction

# 2026-06-01 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
# Tuesday 2 June 09:00 in Shanghai
SLOT = '2026-06-02T09:00:00+08:00'
START = dt.datetime(2026, 6, 2, 1, 0)
M = dt.timedelta(minutes=1)
PASSWORD = 'Door-Staff-2026'
# The address, picked on the map (GCJ-02): People's Square, Shanghai
ADDRESS = (31.2304, 121.4737)
# The same place as a phone's GPS (WGS-84) sees it
AT_DOOR = geo.gcj02_to_wgs84(*ADDRESS)


def north(position, meters):
    "Return position moved meters north"
    return (position[0] + meters / (geo.EARTH_RADIUS * 3.141592653589793
            / 180), position[1])


class DoorApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: the technician at the customer's door"
    module = 'miniprogram'
    frozen = NOW
    phone_prefix = '1390000'
    # The answers in Chinese too (Accept-Language)
    language = 'zh_CN'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        company = create_api_company()
        li, wang = User.create([{
                    'name': "Li Lei", 'login': 'li', 'password': PASSWORD,
                    }, {
                    'name': "Wang Fang", 'login': 'wang',
                    'password': PASSWORD,
                    }])
        with Transaction().set_context(company=company.id):
            create_tiers()
            tech_li = create_resource("Li Lei", kind='user', user=li.id)
            tech_wang = create_resource("Wang Fang", kind='user', user=wang.id)
            create_service([tech_li, tech_wang], name="Home Cleaning",
                price=Decimal('158'), door_radius=100, door_policy='flag')
            create_service([tech_li], name="Aircon Repair",
                price=Decimal('200'), door_radius=100, door_policy='refuse')

    def setUp(self):
        super().setUp()
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Service = pool.get('booking.service')
            Resource = pool.get('booking.resource')
            self.services = {s.name: s.id for s in Service.search([])}
            self.resources = {r.name: r.id for r in Resource.search([])}

        def forget():
            # Each test books the same slots
            Booking = Pool().get('booking.booking')
            table = Booking.__table__()
            Transaction().connection.cursor().execute(*table.delete())
        in_transaction(forget)

    def login(self, name="Zhang Wei"):
        return super().login(name=name)

    def staff(self, login):
        data = self.api.json('POST', 'auth/staff', {
                'login': login, 'password': PASSWORD}, expect=200)
        return Api(self.client(), token=data['access_token'])

    def book(self, api, service="Home Cleaning", resource="Li Lei",
            start=SLOT, position=ADDRESS, coord_type='gcj02', expect=None,
            **extra):
        body = dict({
                'service_id': self.services[service],
                'resource_id': self.resources[resource],
                'start': start,
                'address': "上海市黄浦区人民大道 120 号 3 楼",
                }, **extra)
        if position:
            body.update(lat=position[0], lon=position[1])
            if coord_type:
                body['coord_type'] = coord_type
        return api.json('POST', 'bookings', body, expect=expect)

    def booked(self, api, confirm=True, **kwargs):
        "Return the id of a booking made by api, confirmed by the staff"
        data = self.book(api, **kwargs, expect=201)
        booking_id = data['booking']['id']
        if confirm:
            def confirm_():
                Booking = Pool().get('booking.booking')
                Booking.confirm([Booking(booking_id)])
            in_transaction(confirm_)
        return booking_id

    def state(self, booking_id):
        def read():
            Booking = Pool().get('booking.booking')
            booking = Booking(booking_id)
            return booking.state, booking.door_checkin
        return in_transaction(read)

    def checkin(self, api, booking_id, position=AT_DOOR, expect=None,
            **extra):
        return api.json('POST', 'staff/bookings/%s/checkin' % booking_id,
            dict({'lat': position[0], 'lon': position[1]}, **extra),
            expect=expect)

    def test_booking_position(self):
        "The booking keeps the position of the address and its system"
        api = self.login()
        data = self.book(api, expect=201)
        self.assertEqual(data['booking']['position'], {
                'lat': ADDRESS[0], 'lon': ADDRESS[1], 'coord_type': 'gcj02'})
        status, data = api.json('GET', 'bookings/%s' % data['booking']['id'])
        self.assertEqual(data['booking']['position']['coord_type'], 'gcj02')
        self.assertIsNone(data['booking']['duration_min'])
        # WGS-84 by default; no position at all
        status, data = self.book(api, start='2026-06-02T11:30:00+08:00',
            coord_type=None)
        self.assertEqual(data['booking']['position']['coord_type'], 'wgs84')
        status, data = self.book(api, start='2026-06-02T14:00:00+08:00',
            position=None)
        self.assertIsNone(data['booking']['position'])

    def test_booking_position_invalid(self):
        "A bad position is refused and books nothing"
        api = self.login()
        self.assertError(self.book(api, coord_type='bd09'),
            422, 'invalid_coord_type')
        # GCJ-02 exists in China only: a map picker's point elsewhere is
        # a client's mistake
        data = self.book(api, position=(48.8584, 2.2945), expect=422)
        self.assertEqual(data['error']['code'], 'invalid_coord_type')
        self.assertEqual(data['error']['details']['reason'], 'outside_china')
        self.assertError(self.book(api, position=(ADDRESS[0], None)),
            400, 'invalid_request')
        self.assertError(self.book(api, position=(91, 121)),
            400, 'invalid_request')
        status, body = api.json('POST', 'bookings', {
                'service_id': self.services["Home Cleaning"],
                'start': SLOT, 'lat': ADDRESS[0]})
        self.assertError((status, body), 400, 'invalid_request')
        status, data = api.json('GET', 'me/bookings')
        self.assertEqual(data['total'], 0)

    def test_staff_day(self):
        "The technician's day: own bookings, the customer masked"
        alice = self.login(name="Zhao Min")
        bob = self.login(name="Qian Jun")
        mine = self.booked(alice)
        theirs = self.booked(bob, resource="Wang Fang")
        li = self.staff('li')
        # Today (1 June in Shanghai) has no booking
        data = li.json('GET', 'staff/bookings', expect=200)
        self.assertEqual((data['date'], data['total']), ('2026-06-01', 0))
        data = li.json('GET', 'staff/bookings?date=2026-06-02', expect=200)
        self.assertEqual([b['id'] for b in data['items']], [mine])
        booking, = data['items']
        self.assertEqual(booking['customer'], {'display_name': "Zhao **"})
        self.assertEqual(booking['address'], "上海市黄浦区人民大道 120 号 3 楼")
        self.assertEqual(booking['position']['lat'], ADDRESS[0])
        self.assertEqual(booking['door']['radius_m'], 100)
        text = json.dumps(data)
        self.assertNotIn(alice.phone, text)
        self.assertNotIn(alice.phone[-4:], text)
        self.assertNotIn("Zhao Min", text)
        status, data = self.staff('wang').json(
            'GET', 'staff/bookings?date=2026-06-02')
        self.assertEqual([b['id'] for b in data['items']], [theirs])
        self.assertError(li.json('GET', 'staff/bookings?date=2026-02-30'),
            400, 'invalid_request')
        # A member who is no staff user
        self.assertError(alice.json('GET', 'staff/bookings'),
            403, 'forbidden')

    def test_checkin_checkout(self):
        "At the door within the radius: in progress, then done"
        api = self.login()
        booking_id = self.booked(api)
        li = self.staff('li')
        clock.freeze(START - 15 * M)
        data = self.checkin(li, booking_id, accuracy_m=12, expect=200)
        booking = data['booking']
        self.assertEqual(booking['state'], 'in_progress')
        self.assertEqual(booking['door']['flagged'], False)
        self.assertIsNone(booking['door']['flag_reason'])
        # Compared in one system: the GPS position is at the GCJ-02 address
        self.assertLessEqual(booking['door']['distance_m'], 1)
        self.assertEqual(booking['door']['accuracy_m'], 12)
        self.assertEqual(booking['checked_in_at'],
            '2026-06-02T08:45:00+08:00')
        self.assertError(self.checkin(li, booking_id), 422, 'invalid_state')

        clock.freeze(START + 110 * M)
        data = li.json(
            'POST', 'staff/bookings/%s/checkout' % booking_id, expect=200)
        booking = data['booking']
        self.assertEqual(booking['state'], 'done')
        self.assertEqual(booking['duration_min'], 125)
        self.assertEqual(booking['checked_out_at'],
            '2026-06-02T10:50:00+08:00')
        # Done: the member earned the points of the booking
        self.assertEqual(booking['points_earned'], 158)
        self.assertError(li.json(
                'POST', 'staff/bookings/%s/checkout' % booking_id),
            422, 'invalid_state')
        status, data = api.json('GET', 'bookings/%s' % booking_id)
        self.assertEqual((data['booking']['state'],
                data['booking']['duration_min']), ('done', 125))

    def test_checkin_refused(self):
        "Refusals change nothing"
        api = self.login()
        pending = self.booked(api, confirm=False)
        booking_id = self.booked(api, start='2026-06-02T14:00:00+08:00')
        li, wang = self.staff('li'), self.staff('wang')
        clock.freeze(dt.datetime(2026, 6, 2, 5, 45))
        # Another technician's booking does not exist for Wang
        self.assertError(self.checkin(wang, booking_id), 404, 'not_found')
        self.assertError(wang.json(
                'POST', 'staff/bookings/%s/checkout' % booking_id),
            404, 'not_found')
        self.assertError(self.checkin(li, 999999), 404, 'not_found')
        # Not a staff token
        self.assertError(self.checkin(api, booking_id), 403, 'forbidden')
        # Not confirmed
        self.assertError(self.checkin(li, pending), 422, 'invalid_state')
        # Bad positions
        self.assertError(li.json(
                'POST', 'staff/bookings/%s/checkin' % booking_id,
                {'lat': AT_DOOR[0]}), 400, 'invalid_request')
        self.assertError(self.checkin(li, booking_id, position=(91, 0)),
            400, 'invalid_request')
        self.assertError(self.checkin(li, booking_id, coord_type='bd09'),
            422, 'invalid_coord_type')
        self.assertError(self.checkin(li, booking_id, position=(48.8584,
                    2.2945), coord_type='gcj02'), 422, 'invalid_coord_type')
        self.assertError(self.checkin(li, booking_id, secret=1),
            400, 'invalid_request')
        # Check-out before check-in
        self.assertError(li.json(
                'POST', 'staff/bookings/%s/checkout' % booking_id),
            422, 'invalid_state')
        # Too early: 13:29, the start grace of the service is 30 minutes
        clock.freeze(dt.datetime(2026, 6, 2, 5, 29))
        data = self.assertError(self.checkin(li, booking_id),
            422, 'too_early')
        self.assertEqual(data['error']['details']['earliest'],
            '2026-06-02T13:30:00+08:00')
        self.assertEqual(self.state(booking_id), ('confirmed', None))
        self.assertEqual(self.state(pending)[0], 'pending')

    def test_out_of_range_refused(self):
        "Out of the radius of a refusing service: 422 with the distance"
        api = self.login()
        booking_id = self.booked(api, service="Aircon Repair")
        li = self.staff('li')
        clock.freeze(START)
        data = self.assertError(
            self.checkin(li, booking_id, position=north(AT_DOOR, 500),
                accuracy_m=20), 422, 'out_of_range')
        details = data['error']['details']
        self.assertEqual((details['distance_m'], details['radius_m'],
                details['accuracy_m']), (500, 100, 20))
        self.assertIn("500", data['error']['message'])
        li_zh = Api(self.client(), token=li.token, language='zh-CN')
        data = self.assertError(
            self.checkin(li_zh, booking_id, position=north(AT_DOOR, 500)),
            422, 'out_of_range')
        self.assertIn("请在 100 米以内签到", data['error']['message'])
        self.assertEqual(self.state(booking_id), ('confirmed', None))
        # The accuracy counts, up to the radius: 150 m within 100 + 80 m
        data = self.checkin(li, booking_id,
            position=north(AT_DOOR, 150), accuracy_m=80, expect=200)
        self.assertEqual(data['booking']['door']['distance_m'], 150)
        self.assertFalse(data['booking']['door']['flagged'])

    def test_out_of_range_flagged(self):
        "Out of the radius of a flagging service: in progress, flagged"
        api = self.login()
        far = self.booked(api)
        nowhere = self.booked(api, start='2026-06-02T11:30:00+08:00',
            position=None)
        li = self.staff('li')
        clock.freeze(START)
        data = self.checkin(li, far, position=north(AT_DOOR, 500),
            coord_type='wgs84', expect=200)
        door = data['booking']['door']
        self.assertEqual(data['booking']['state'], 'in_progress')
        self.assertEqual((door['flagged'], door['flag_reason'],
                door['distance_m']), (True, 'out_of_range', 500))
        # The address has no position: recorded, flagged
        clock.freeze(START + 150 * M)
        data = self.checkin(li, nowhere, expect=200)
        door = data['booking']['door']
        self.assertEqual((door['flagged'], door['flag_reason'],
                door['distance_m']), (True, 'no_position', None))

        # The staff clears the flag after review
        def clear():
            Booking = Pool().get('booking.booking')
            flagged = Booking.search([('door_flagged', '=', True)])
            self.assertEqual(sorted(b.id for b in flagged),
                sorted([far, nowhere]))
            Booking.clear_door_flag([Booking(far)])
            booking = Booking(far)
            return (booking.door_flagged, booking.door_flag_reason,
                booking.door_flag_cleared_by.id)
        self.assertEqual(in_transaction(clear), (False, 'out_of_range', 0))

    def test_openapi_lists_door(self):
        status, doc = self.api.json('GET', 'openapi.json')
        path = '/{database}/mp/v1/staff/bookings/{booking_id}/checkin'
        self.assertIn(path, doc['paths'])
        responses = doc['paths'][path]['post']['responses']
        self.assertIn('out_of_range', responses['422']['description'])
        self.assertIn('invalid_coord_type', responses['422']['description'])
