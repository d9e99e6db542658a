# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The booking routes of the mini-program API, from a mini-program's point
of view: services, slots, booking, cancelling, and another member's ids."""
import datetime as dt
from decimal import Decimal
from unittest.mock import patch

from trytond.modules.service_booking.tests.test_module import (
    create_resource, create_service, create_tiers)
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .tools import ApiTestMixin, create_api_company, set_tier

# 2026-06-01 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
SLOT = '2026-06-02T09:00:00+08:00'


class BookingApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: booking"
    module = 'miniprogram'
    now = NOW

    @classmethod
    def setUpDatabase(cls):
        company = create_api_company()
        with Transaction().set_context(company=company.id):
            create_tiers()
            rooms = [create_resource("Room 1"), create_resource("Room 2")]
            create_service(rooms, price=Decimal('158'))

    def setUp(self):
        super().setUp()
        with Transaction().start(DB_NAME, 0):
            Service = Pool().get('booking.service')
            self.service_id, = [s.id for s in Service.search([])]

    def login(self, tier=None):
        api = super().login()
        if tier:
            set_tier(api.member_id, tier)
        return api

    def book(self, api, start=SLOT, expect=None, **extra):
        return api.json('POST', 'bookings', dict({
                    'service_id': self.service_id, 'start': start}, **extra),
            expect=expect)

    def test_services_member_price(self):
        "Services answer the price and the member's tier price"
        gold = self.login(tier='gold')
        data = gold.json('GET', 'services', expect=200)
        self.assertEqual(data['total'], 1)
        service, = data['items']
        self.assertEqual(service['price'], '158.00')
        self.assertEqual(service['member_price'], '134.30')
        self.assertEqual(service['currency'], 'CNY')
        self.assertEqual(service['duration_min'], 120)
        # One service: the same values as in the list
        data = gold.json('GET', 'services/%s' % self.service_id, expect=200)
        self.assertEqual(data['service'], service)
        self.assertError(gold.json('GET', 'services/999999'),
            404, 'not_found')

    def test_slots(self):
        "Free slots of a local date, with capacity left"
        api = self.login()
        data = api.json('GET', 'services/%s/slots?date=2026-06-04'
            % self.service_id, expect=200)
        starts = sorted({s['start'] for s in data['slots']})
        self.assertEqual(starts, ['2026-06-04T09:00:00+08:00',
                '2026-06-04T11:30:00+08:00', '2026-06-04T14:00:00+08:00'])
        self.assertEqual({s['resource']['name'] for s in data['slots']},
            {"Room 1", "Room 2"})
        self.assertTrue(all(s['capacity_left'] == 1 for s in data['slots']))
        self.assertError(api.json('GET', 'services/%s/slots'
                % self.service_id), 400, 'invalid_request')
        self.assertError(api.json('GET', 'services/%s/slots?date=2026-13-01'
                % self.service_id), 400, 'invalid_request')
        self.assertError(api.json('GET', 'services/999999/slots?'
                'date=2026-06-02'), 404, 'not_found')

    def test_book_and_cancel(self):
        "Book a slot, read it back, cancel it; refusals change nothing"
        alice, bob, carol = self.login(), self.login(), self.login()
        data = self.book(alice, address="上海市徐汇区", note="二楼", expect=201)
        booking = data['booking']
        self.assertEqual(booking['state'], 'pending')
        self.assertEqual(booking['start'], '2026-06-02T09:00:00+08:00')
        self.assertEqual(booking['final_price'], '158.00')
        self.assertEqual(booking['currency'], 'CNY')

        # Alice cannot hold two overlapping bookings (a room is still free)
        self.assertError(self.book(alice, start='2026-06-02T01:00:00Z'),
            409, 'booking_overlap')
        # Bob takes the other room: the slot is full for Carol
        data = self.book(bob, expect=201)
        bob_booking = data['booking']
        self.assertError(self.book(carol), 409, 'slot_full')
        # In the past, or off the opening hours
        for start in ['2026-05-30T09:00:00+08:00',
                '2026-06-02T03:00:00+08:00']:
            with self.subTest(start=start):
                self.assertError(self.book(carol, start=start),
                    422, 'slot_unavailable')
        self.assertError(self.book(carol, start='tomorrow'),
            400, 'invalid_request')
        self.assertError(carol.json('POST', 'bookings', {
                    'service_id': self.service_id, 'start': SLOT,
                    'final_price': '0.01'}), 400, 'invalid_request')

        # Another member's booking does not exist for Carol nor Bob
        self.assertError(carol.json('GET', 'bookings/%s' % bob_booking['id']),
            404, 'not_found')
        self.assertError(bob.json('GET', 'bookings/%s' % booking['id']),
            404, 'not_found')
        self.assertError(bob.json('POST', 'bookings/%s/cancel'
                % booking['id']), 404, 'not_found')
        status, data = alice.json('GET', 'bookings/%s' % booking['id'])
        self.assertEqual((status, data['booking']['state']),
            (200, 'pending'))

        status, mine = alice.json('GET', 'me/bookings')
        self.assertEqual(mine['total'], 1)
        status, theirs = carol.json('GET', 'me/bookings')
        self.assertEqual(theirs['total'], 0)

        data = alice.json('POST', 'bookings/%s/cancel'
            % booking['id'], expect=200)
        self.assertEqual(data['booking']['state'], 'cancelled')
        self.assertError(alice.json('POST', 'bookings/%s/cancel'
                % booking['id']), 422, 'invalid_state')
        # The slot is free again
        data = self.book(carol, expect=201)

    def test_cancel_window(self):
        "A booking cannot be cancelled inside the window"
        api = self.login()
        data = self.book(api, start='2026-06-03T09:00:00+08:00', expect=201)
        late = dt.datetime(2026, 6, 2, 12, 0)  # 13 h before the start
        with patch.object(clock, 'now', lambda: late):
            data = self.assertError(api.json('POST', 'bookings/%s/cancel'
                    % data['booking']['id']), 422, 'cancel_window_passed')
        self.assertIn('deadline', data['error']['details'])

    def test_openapi_lists_booking(self):
        status, doc = self.api.json('GET', 'openapi.json')
        self.assertIn('/{database}/mp/v1/bookings/{booking_id}/cancel',
            doc['paths'])
        responses = doc['paths']['/{database}/mp/v1/bookings']['post'][
            'responses']
        self.assertIn('409', responses)
        self.assertIn('slot_full', responses['409']['description'])
