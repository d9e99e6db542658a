# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Rescheduling and the waiting list through the mini-program API: every
refusal answers its documented code and changes nothing."""
import datetime as dt
from decimal import Decimal
from unittest.mock import patch

from trytond.modules.service_booking.tests.test_module import (
    create_resource, create_service, create_tiers)
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .tools import ApiTestMixin, create_api_company, in_transaction

# 2026-06-01 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
# Rooms 1 and 2 (one place each), slots at 09:00, 11:30 and 14:00
SLOT = '2026-06-02T09:00:00+08:00'
LATER = '2026-06-02T14:00:00+08:00'
NOON = '2026-06-02T11:30:00+08:00'


class WaitlistApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: rescheduling and the waiting list"
    module = 'miniprogram'
    now = NOW
    phone_prefix = '1371111'

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

    def book(self, api, start=SLOT):
        data = api.json('POST', 'bookings', {
                'service_id': self.service_id, 'start': start}, expect=201)
        return data['booking']

    def reschedule(self, api, booking, start, expect=None, **extra):
        return api.json('POST', 'bookings/%s/reschedule' % booking['id'],
            dict({'start': start}, **extra), expect=expect)

    def join(self, api, start=SLOT, expect=None, **extra):
        return api.json('POST', 'services/%s/waitlist' % self.service_id,
            dict({'start': start}, **extra), expect=expect)

    def state(self, api, booking):
        data = api.json('GET', 'bookings/%s' % booking['id'], expect=200)
        return data['booking']['state'], data['booking']['start']

    def use_day(self, day):
        "Return the 09:00 and 14:00 slots of 2026-06-<day>"
        return ('2026-06-%02dT09:00:00+08:00' % day,
            '2026-06-%02dT14:00:00+08:00' % day)

    def entries(self, api):
        data = api.json('GET', 'me/waitlist', expect=200)
        return {e['id']: e for e in data['items']}

    def test_reschedule(self):
        "Move a booking; full, closed, late, foreign or ended: refused"
        alice, bob, carol = self.login(), self.login(), self.login()
        a = self.book(alice)
        self.book(bob)
        c = self.book(carol, start=NOON)

        # The slot is full: Carol keeps hers
        self.assertError(self.reschedule(carol, c, SLOT), 409, 'slot_full')
        self.assertEqual(self.state(carol, c), ('pending', NOON))
        # Closed, in the past, beyond the horizon, off the grid
        for start in ['2026-06-02T03:00:00+08:00',
                '2026-05-30T09:00:00+08:00', '2026-06-20T09:00:00+08:00',
                '2026-06-02T10:00:00+08:00']:
            with self.subTest(start=start):
                self.assertError(self.reschedule(carol, c, start),
                    422, 'slot_unavailable')
        self.assertEqual(self.state(carol, c), ('pending', NOON))
        # Another member's booking does not exist for Bob
        self.assertError(self.reschedule(bob, a, LATER), 404, 'not_found')
        self.assertEqual(self.state(alice, a), ('pending', SLOT))
        # Malformed
        self.assertError(carol.json('POST', 'bookings/%s/reschedule'
                % c['id'], {}), 400, 'invalid_request')
        self.assertError(self.reschedule(carol, c, NOON, price='1'),
            400, 'invalid_request')
        self.assertError(self.reschedule(carol, c, 'soon'),
            400, 'invalid_request')

        # Alice moves to 14:00, which frees her place at 09:00 for Carol
        data = self.reschedule(alice, a, LATER, expect=200)
        self.assertEqual(data['booking']['start'], LATER)
        self.assertEqual(data['booking']['state'], 'pending')
        data = self.reschedule(carol, c, SLOT, expect=200)
        self.assertEqual(self.state(carol, c), ('pending', SLOT))
        # The history keeps the old times
        history = in_transaction(lambda: [
                (r.old_start, r.new_start, r.by_member) for r in Pool().get(
                    'booking.booking')(a['id']).reschedules])
        self.assertEqual(history, [(dt.datetime(2026, 6, 2, 1),
                    dt.datetime(2026, 6, 2, 6), True)])

        # Cancelled: invalid_state
        carol.json('POST', 'bookings/%s/cancel' % c['id'], expect=200)
        self.assertError(self.reschedule(carol, c, NOON), 422,
            'invalid_state')
        # Inside the cancellation window (24 hours): too late
        self.now = dt.datetime(2026, 6, 1, 7)
        self.assertError(self.reschedule(alice, a, NOON), 422,
            'cancel_window_passed')
        self.assertEqual(self.state(alice, a), ('pending', LATER))

    def test_reschedule_done(self):
        "A booking done cannot move"
        slot, later = self.use_day(5)
        alice = self.login()
        a = self.book(alice, slot)

        def finish():
            Booking = Pool().get('booking.booking')
            booking = Booking(a['id'])
            Booking.confirm([booking])
            with patch.object(clock, 'now',
                    lambda: dt.datetime(2026, 6, 5, 1)):
                Booking.begin([booking])
                Booking.finish([booking])
        in_transaction(finish)
        self.assertError(self.reschedule(alice, a, LATER), 422,
            'invalid_state')

    def test_waitlist(self):
        "Join a full slot, get the place freed, accept it; refusals"
        # The database is kept between the tests: a day of its own
        slot, later = self.use_day(3)
        alice, bob, carol, dave, eve = [self.login() for _ in range(5)]
        a = self.book(alice, slot)
        b = self.book(bob, slot)

        # The full slot is not offered for booking; with full=true it is
        # listed, without capacity left, to join its waiting list
        status, data = carol.json('GET', 'services/%s/slots?date=2026-06-03'
            % self.service_id)
        self.assertNotIn(slot, [s['start'] for s in data['slots']])
        data = carol.json('GET', 'services/%s/slots?date=2026-06-03'
            '&full=true' % self.service_id, expect=200)
        self.assertEqual({s['capacity_left'] for s in data['slots']
                if s['start'] == slot}, {0})
        self.assertIn(later, [s['start'] for s in data['slots']
                if s['capacity_left'] > 0])
        self.assertError(carol.json('GET', 'services/%s/slots?date=2026-06-03'
                '&full=yes' % self.service_id), 400, 'invalid_request')

        # A slot with a place left: book it instead
        self.assertError(self.join(carol, later), 422, 'slot_not_full')
        self.assertError(self.join(carol, '2026-05-30T09:00:00+08:00'),
            422, 'slot_unavailable')
        self.assertError(carol.json('POST', 'services/999999/waitlist',
                {'start': slot}), 404, 'not_found')
        self.assertError(carol.json('POST', 'services/%s/waitlist'
                % self.service_id, {}), 400, 'invalid_request')
        # Alice holds the slot already
        self.assertError(self.join(alice, slot), 409, 'booking_overlap')

        data = self.join(carol, slot, expect=201)
        entry = data['entry']
        self.assertEqual((entry['state'], entry['position']), ('waiting', 1))
        self.assertError(self.join(carol, slot), 409, 'already_waiting')
        data = self.join(dave, slot, expect=201)
        dave_entry = data['entry']
        self.assertEqual(dave_entry['position'], 2)
        self.assertEqual(list(self.entries(carol)), [entry['id']])

        # Nothing offered yet
        self.assertError(carol.json('POST', 'waitlist/%s/accept'
                % entry['id']), 422, 'invalid_state')
        # Another member's entry does not exist
        self.assertError(dave.json('POST', 'waitlist/%s/accept'
                % entry['id']), 404, 'not_found')
        self.assertError(dave.json('DELETE', 'waitlist/%s' % entry['id']),
            404, 'not_found')

        # Alice cancels: her place is held for Carol, not for Eve
        alice.json('POST', 'bookings/%s/cancel' % a['id'], expect=200)
        offer = self.entries(carol)[entry['id']]
        self.assertEqual(offer['state'], 'offered')
        self.assertEqual(offer['offer']['expires'],
            '2026-06-01T10:00:00+08:00')
        self.assertEqual(self.entries(dave)[dave_entry['id']]['position'], 1)
        self.assertError(eve.json('POST', 'bookings', {
                    'service_id': self.service_id, 'start': slot}),
            409, 'slot_full')
        status, data = eve.json('GET', 'services/%s/slots?date=2026-06-03'
            % self.service_id)
        self.assertNotIn(slot, [s['start'] for s in data['slots']])

        data = carol.json('POST', 'waitlist/%s/accept' % entry['id'],
            expect=201)
        self.assertEqual(data['booking']['start'], slot)
        self.assertEqual(self.entries(carol)[entry['id']]['state'], 'booked')
        self.assertError(carol.json('POST', 'waitlist/%s/accept'
                % entry['id']), 422, 'invalid_state')
        self.assertError(carol.json('DELETE', 'waitlist/%s' % entry['id']),
            422, 'invalid_state')

        # Bob moves away: Dave is offered his place, lets it lapse
        self.reschedule(bob, b, later, expect=200)
        self.assertEqual(
            self.entries(dave)[dave_entry['id']]['state'], 'offered')
        self.now = NOW + dt.timedelta(hours=2, minutes=1)
        self.assertError(dave.json('POST', 'waitlist/%s/accept'
                % dave_entry['id']), 422, 'offer_expired')
        # The place is free again for anyone
        data = eve.json('POST', 'bookings', {
                'service_id': self.service_id, 'start': slot}, expect=201)
        in_transaction(lambda: Pool().get('booking.waitlist').process_offers())
        self.assertEqual(
            self.entries(dave)[dave_entry['id']]['state'], 'lapsed')
        self.assertError(dave.json('POST', 'waitlist/%s/accept'
                % dave_entry['id']), 422, 'offer_expired')

    def test_waitlist_leave(self):
        "Leaving with an offer passes the place to the next member"
        slot, _ = self.use_day(4)
        alice, bob, carol, dave = [self.login() for _ in range(4)]
        a = self.book(alice, slot)
        self.book(bob, slot)
        _, data = self.join(carol, slot)
        carol_entry = data['entry']
        _, data = self.join(dave, slot)
        dave_entry = data['entry']
        status, _ = alice.json('POST', 'bookings/%s/cancel' % a['id'])
        self.assertEqual(
            self.entries(carol)[carol_entry['id']]['state'], 'offered')
        data = carol.json('DELETE', 'waitlist/%s' % carol_entry['id'],
            expect=204)
        self.assertEqual(
            self.entries(carol)[carol_entry['id']]['state'], 'cancelled')
        self.assertEqual(
            self.entries(dave)[dave_entry['id']]['state'], 'offered')
        data = dave.json('POST', 'waitlist/%s/accept'
            % dave_entry['id'], expect=201)

    def test_openapi_lists_waitlist(self):
        "The document publishes the routes and their error codes"
        data = self.api.json('GET', 'openapi.json', expect=200)
        paths = data['paths']
        for path, method in [
                ('/{database}/mp/v1/bookings/{booking_id}/reschedule',
                    'post'),
                ('/{database}/mp/v1/services/{service_id}/waitlist',
                    'post'),
                ('/{database}/mp/v1/me/waitlist', 'get'),
                ('/{database}/mp/v1/waitlist/{entry_id}/accept', 'post'),
                ('/{database}/mp/v1/waitlist/{entry_id}', 'delete'),
                ]:
            with self.subTest(path=path):
                self.assertIn(method, paths[path])
