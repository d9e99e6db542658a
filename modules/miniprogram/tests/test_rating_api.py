# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The rating routes of the mini-program API (issue 20): rate a done booking
once, change it within the edit window, the member's ratings, a service's
published ratings and its average; bad inputs and another member's ids."""
import datetime as dt
from decimal import Decimal

from trytond.modules.service_booking.tests.test_module import (
    create_resource, create_service, create_tiers)
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase
from trytond.transaction import Transaction

from .tools import ApiTestMixin, create_api_company, in_transaction

# 2026-06-01 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
SLOT_1 = '2026-06-02T09:00:00+08:00'
SLOT_2 = '2026-06-02T11:30:00+08:00'
# After the booked slots: the bookings may be done
LATER = dt.datetime(2026, 6, 2, 4, 0)


class RatingApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: ratings"
    module = 'miniprogram'
    now = NOW
    phone_prefix = '1370001'

    @classmethod
    def setUpDatabase(cls):
        company = create_api_company()
        with Transaction().set_context(company=company.id):
            create_tiers()

    def setUp(self):
        super().setUp()
        self.service_id = self.new_service()

    def new_service(self):
        "Create a service of its own for the test: its ratings only"
        def create():
            Company = Pool().get('company.company')
            company, = Company.search([])
            with Transaction().set_context(company=company.id):
                room = create_resource("Room of %s" % self.id())
                return create_service(
                    [room], name=self.id(), price=Decimal('100')).id
        return in_transaction(create)

    def book(self, api, start=SLOT_1):
        data = api.json('POST', 'bookings', {
                'service_id': self.service_id, 'start': start}, expect=201)
        return data['booking']['id']

    def set_state(self, booking_id, state):
        "Take the booking through the staff workflow to state"
        self.now = LATER

        def run():
            Booking = Pool().get('booking.booking')
            booking = Booking(booking_id)
            for name, reached in [('confirm', 'confirmed'),
                    ('begin', 'in_progress'), ('finish', 'done')]:
                getattr(Booking, name)([booking])
                if reached == state:
                    break
        in_transaction(run)

    def ratings(self):
        def read():
            Rating = Pool().get('booking.rating')
            return [(r.booking.id, r.stars, r.comment, r.tags)
                for r in Rating.search([
                        ('service', '=', self.service_id),
                        ], order=[('id', 'ASC')])]
        return in_transaction(read)

    def rate(self, api, booking_id, body, method='POST', expect=None):
        return api.json(method, 'bookings/%s/rating' % booking_id, body,
            expect=expect)

    def test_rate_and_read(self):
        "Rate, change, read mine and the service's ratings and average"
        alice, bob = self.login(name="Alice Wang"), self.login()
        alices = self.book(alice)
        bobs = self.book(bob, start=SLOT_2)
        self.now = LATER
        self.set_state(alices, 'done')
        self.set_state(bobs, 'done')
        status, data = alice.json('GET', 'bookings/%s' % alices)
        self.assertEqual(data['booking']['rating'], None)

        data = self.rate(alice, alices, {
                'stars': 5, 'comment': "很干净", 'tags': ['tidy', 'punctual']},
            expect=201)
        rating = data['rating']
        self.assertEqual(rating['stars'], 5)
        self.assertEqual(rating['tags'], ['punctual', 'tidy'])
        self.assertEqual(rating['booking_id'], alices)
        self.assertEqual(rating['member'], "Alice **")
        self.assertEqual(rating['date'], '2026-06-02T12:00:00+08:00')
        self.assertEqual(rating['edit_deadline'], '2026-06-09T12:00:00+08:00')
        self.assertTrue(rating['editable'])
        data = self.rate(bob, bobs, {'stars': 2}, expect=201)
        self.assertEqual(data['rating']['comment'], None)

        data = self.rate(bob, bobs, {'stars': 4}, method='PATCH', expect=200)
        self.assertEqual(data['rating']['stars'], 4)
        # The booking tells its member it is rated (the mini-program offers
        # a change instead of a rating)
        data = bob.json('GET', 'bookings/%s' % bobs, expect=200)
        self.assertEqual(data['booking']['rating'], {
                'id': data['booking']['rating']['id'], 'stars': 4,
                'tags': [], 'comment': None, 'hidden': False,
                'editable': True,
                'edit_deadline': '2026-06-09T12:00:00+08:00'})
        status, data = bob.json('GET', 'me/bookings')
        self.assertEqual([b['rating']['stars'] for b in data['items']
                if b['id'] == bobs], [4])

        data = alice.json('GET', 'me/ratings', expect=200)
        self.assertEqual(data['total'], 1)
        self.assertEqual(data['items'][0]['comment'], "很干净")

        data = alice.json('GET', 'services', expect=200)
        service, = [s for s in data['items'] if s['id'] == self.service_id]
        self.assertEqual((service['average'], service['count']), (4.5, 2))

        data = bob.json('GET', 'services/%s/ratings?limit=1'
            % self.service_id, expect=200)
        self.assertEqual((data['total'], data['count'], data['average']),
            (2, 2, 4.5))
        latest, = data['items']
        self.assertEqual(latest['stars'], 4)
        status, data = bob.json('GET', 'services/%s/ratings?offset=1'
            % self.service_id)
        oldest, = data['items']
        self.assertEqual(
            (oldest['member'], oldest['comment']), ("Alice **", "很干净"))
        # Never a phone, openid or e-mail: the fields are the schema's
        self.assertEqual(set(oldest), {'id', 'member', 'stars', 'comment',
                'tags', 'resource', 'date'})
        self.assertError(bob.json('GET', 'services/999999/ratings'),
            404, 'not_found')

    def test_hidden_comment(self):
        "The comment of a hidden rating is never answered to others"
        alice, bob = self.login(), self.login()
        alices = self.book(alice)
        self.set_state(alices, 'done')
        self.rate(alice, alices, {'stars': 1, 'comment': "Call 13900000000"})

        def hide():
            Rating = Pool().get('booking.rating')
            rating, = Rating.search([('service', '=', self.service_id)])
            rating.hide_reason = "Phone number"
            rating.save()
            Rating.hide([rating])
        in_transaction(hide)
        data = bob.json('GET', 'services/%s/ratings'
            % self.service_id, expect=200)
        rating, = data['items']
        self.assertEqual((rating['stars'], rating['comment']), (1, None))
        self.assertNotIn('13900000000', str(data))
        self.assertEqual(data['count'], 1)
        status, data = alice.json('GET', 'me/ratings')
        mine, = data['items']
        self.assertEqual(mine['hidden'], True)

    def test_rate_refused(self):
        "Each refusal answers its code and changes nothing"
        alice, bob = self.login(), self.login()
        alices = self.book(alice)
        # Before done
        self.assertError(self.rate(alice, alices, {'stars': 5}),
            422, 'invalid_state')
        self.set_state(alices, 'in_progress')
        self.assertError(self.rate(alice, alices, {'stars': 5}),
            422, 'invalid_state')
        self.set_state(alices, 'done')
        # Another member's booking, an unknown booking
        self.assertError(self.rate(bob, alices, {'stars': 5}),
            404, 'not_found')
        self.assertError(self.rate(bob, 999999, {'stars': 5}),
            404, 'not_found')
        # Bad values, unknown fields
        for body in [{'stars': 0}, {'stars': 6}, {'stars': '5'},
                {'stars': 4.5}, {'stars': None}, {}, {'comment': "no stars"},
                {'stars': 5, 'tags': ['rude']}, {'stars': 5, 'tags': 'tidy'},
                {'stars': 5, 'comment': 'x' * 2001},
                {'stars': 5, 'member_id': bob.member_id},
                {'stars': 5, 'hidden': False}]:
            with self.subTest(body=body):
                self.assertError(self.rate(alice, alices, body),
                    400, 'invalid_request')
        self.assertEqual(self.ratings(), [])

        data = self.rate(alice, alices, {'stars': 3}, expect=201)
        # Rating twice
        data = self.assertError(self.rate(alice, alices, {'stars': 1}),
            409, 'already_rated')
        self.assertEqual(data['error']['details']['booking_id'], alices)
        # Another member changes nothing
        self.assertError(self.rate(bob, alices, {'stars': 1}, 'PATCH'),
            404, 'not_found')
        for body in [{}, {'stars': 9}, {'state': 'hidden'}]:
            with self.subTest(body=body):
                self.assertError(self.rate(alice, alices, body, 'PATCH'),
                    400, 'invalid_request')
        # After the edit window (7 days by default)
        self.now = LATER + dt.timedelta(days=7, seconds=1)
        data = self.assertError(
            self.rate(alice, alices, {'stars': 5}, 'PATCH'),
            422, 'edit_window_passed')
        self.assertIn('deadline', data['error']['details'])
        self.assertEqual(self.ratings(), [(alices, 3, None, ())])

    def test_change_unrated(self):
        "A booking not rated has no rating to change"
        alice = self.login()
        alices = self.book(alice)
        self.set_state(alices, 'done')
        self.assertError(self.rate(alice, alices, {'stars': 4}, 'PATCH'),
            404, 'not_found')

    def test_openapi_lists_ratings(self):
        status, doc = self.api.json('GET', 'openapi.json')
        paths = doc['paths']
        for path in ['bookings/{booking_id}/rating', 'me/ratings',
                'services/{service_id}/ratings']:
            self.assertIn('/{database}/mp/v1/' + path, paths)
        responses = paths['/{database}/mp/v1/bookings/{booking_id}/rating'][
            'post']['responses']
        self.assertIn('already_rated', responses['409']['description'])
        self.assertIn('invalid_state', responses['422']['description'])
