# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""Ratings of done bookings: the rules, the moderation, the aggregates and
the rating request."""
import datetime as dt
import unittest
from contextlib import contextmanager
from decimal import Decimal

from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.modules.member.member import member_context
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.modules.service_booking.exceptions import (
    AlreadyRatedError, BookingNotFoundError, InvalidStateError,
    RatingEditWindowError, RatingValueError)
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

from .test_module import (
    NOW, clock, create_api_user, create_resource, create_service, create_tiers,
    utc)

DAY = dt.timedelta(days=1)


class RatingTestCase(unittest.TestCase):
    "Ratings of bookings"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('service_booking')

    @contextmanager
    def setup(self):
        """Yield company, service, resources, members and their bookings,
        with the booking clock at NOW"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        company = create_company_shanghai()
        with set_company(company), clock(NOW):
            create_tiers()
            rooms = [create_resource("Room 1"), create_resource("Room 2")]
            service = create_service(rooms, capacity=1)
            alice = create_member("Alice Wang", email='alice@example.com')
            bob = create_member("13800000000")
            bookings = []
            for day, member, room in [
                    (2, alice, rooms[0]), (3, alice, rooms[1]),
                    (2, bob, rooms[1]), (4, bob, rooms[0])]:
                start = utc(dt.datetime(2026, 6, day, 9))
                bookings.append(Booking.create_booking(
                        member, service, start, resource=room.id))
            yield company, service, rooms, (alice, bob), bookings

    def finish(self, bookings):
        pool = Pool()
        Booking = pool.get('booking.booking')
        Booking.confirm(bookings)
        with clock(max(b.start for b in bookings)):
            Booking.begin(bookings)
            Booking.finish(bookings)

    @with_transaction()
    def test_rate_and_aggregates(self):
        "Ratings of done bookings give the counts and averages"
        pool = Pool()
        Rating = pool.get('booking.rating')
        Service = pool.get('booking.service')
        Resource = pool.get('booking.resource')
        with self.setup() as (_, service, rooms, (alice, bob), bookings):
            self.finish(bookings)
            self.assertEqual(service.rating_count, 0)
            self.assertEqual(service.rating_average, None)

            rating = Rating.rate(bookings[0].id, 5, comment=" Spotless ",
                tags=['tidy', 'punctual'], member=alice.id)
            self.assertEqual(rating.comment, "Spotless")
            # In the order of the list
            self.assertEqual(rating.tags, ('punctual', 'tidy'))
            self.assertEqual(rating.service, service)
            self.assertEqual(rating.resource, rooms[0])
            self.assertEqual(rating.member, alice)
            self.assertEqual(rating.date, NOW)
            self.assertEqual(rating.edit_deadline, NOW + 7 * DAY)
            self.assertEqual(bookings[0].rating, rating)
            Rating.rate(bookings[1].id, 4, member=alice.id)
            Rating.rate(bookings[2].id, 4, member=bob.id)

            service = Service(service.id)
            self.assertEqual(service.rating_count, 3)
            self.assertEqual(service.rating_average, Decimal('4.33'))
            room1, room2 = Resource.browse(rooms)
            self.assertEqual((room1.rating_count, room1.rating_average),
                (1, Decimal('5.00')))
            self.assertEqual((room2.rating_count, room2.rating_average),
                (2, Decimal('4.00')))
            values, = Service.list_services()
            self.assertEqual(
                (values['rating_count'], values['rating_average']),
                (3, Decimal('4.33')))

    @with_transaction()
    def test_erase_member(self):
        "Erasing a member keeps the stars of the ratings, not the comments"
        pool = Pool()
        Member = pool.get('member.member')
        Rating = pool.get('booking.rating')
        Service = pool.get('booking.service')
        with self.setup() as (_, service, _, (alice, bob), bookings):
            self.finish(bookings)
            rating = Rating.rate(bookings[0].id, 5, comment="Call me back",
                member=alice.id)
            kept = Rating.rate(bookings[2].id, 3, comment="Fine",
                member=bob.id)
            Member.erase_personal_data([alice])
            rating, kept = Rating.browse([rating, kept])
            self.assertEqual((rating.stars, rating.comment), (5, None))
            self.assertEqual(kept.comment, "Fine")
            self.assertEqual(Service(service.id).rating_count, 2)

    @with_transaction()
    def test_rate_refused(self):
        "Rating twice, before done, bad values: refused, nothing changed"
        pool = Pool()
        Rating = pool.get('booking.rating')
        with self.setup() as (_, _, _, (alice, bob), bookings):
            with self.assertRaises(InvalidStateError) as cm:
                Rating.rate(bookings[0].id, 5, member=alice.id)
            self.assertEqual(cm.exception.error_code, 'invalid_state')
            self.finish(bookings)
            for stars in [0, 6, '5', 4.5, True, None]:
                with self.subTest(stars=stars), \
                        self.assertRaises(RatingValueError) as cm:
                    Rating.rate(bookings[0].id, stars, member=alice.id)
                self.assertEqual(cm.exception.error_code, 'invalid_request')
            with self.assertRaises(RatingValueError):
                Rating.rate(bookings[0].id, 5, tags=['rude'], member=alice.id)
            with self.assertRaises(RatingValueError):
                Rating.rate(bookings[0].id, 5, comment='x' * 2001,
                    member=alice.id)
            self.assertEqual(Rating.search([]), [])

            Rating.rate(bookings[0].id, 5, member=alice.id)
            with self.assertRaises(AlreadyRatedError) as cm:
                Rating.rate(bookings[0].id, 1, member=alice.id)
            self.assertEqual(cm.exception.error_code, 'already_rated')
            rating, = Rating.search([])
            self.assertEqual(rating.stars, 5)

    @with_transaction()
    def test_rate_unique_constraint(self):
        "The database refuses a second rating of a booking"
        pool = Pool()
        Rating = pool.get('booking.rating')
        with self.setup() as (_, _, _, (alice, _), bookings):
            self.finish(bookings)
            Rating.rate(bookings[0].id, 5, member=alice.id)
            # A concurrent request that did not see the first rating
            Rating._check_not_rated = classmethod(lambda cls, booking: None)
            try:
                with self.assertRaises(AlreadyRatedError):
                    Rating.rate(bookings[0].id, 3, member=alice.id)
            finally:
                del Rating._check_not_rated

    @with_transaction()
    def test_change_rating(self):
        "The member changes the rating within the edit window only"
        pool = Pool()
        Rating = pool.get('booking.rating')
        Config = pool.get('member.configuration')
        with self.setup() as (_, service, _, (alice, _), bookings):
            self.finish(bookings)
            with self.assertRaises(BookingNotFoundError):
                Rating.change_rating(bookings[0].id, stars=2, member=alice.id)
            Rating.rate(bookings[0].id, 5, comment="Great", tags=['tidy'],
                member=alice.id)
            with clock(NOW + 7 * DAY):
                rating = Rating.change_rating(
                    bookings[0].id, stars=2, member=alice.id)
            self.assertEqual(
                (rating.stars, rating.comment, rating.tags),
                (2, "Great", ('tidy',)))
            self.assertEqual(service.rating_average, Decimal('2.00'))
            rating = Rating.change_rating(
                bookings[0].id, comment=None, tags=[], member=alice.id)
            self.assertEqual((rating.comment, rating.tags), (None, ()))
            with clock(NOW + 7 * DAY + dt.timedelta(seconds=1)), \
                    self.assertRaises(RatingEditWindowError) as cm:
                Rating.change_rating(bookings[0].id, stars=5, member=alice.id)
            self.assertEqual(cm.exception.error_code, 'edit_window_passed')
            self.assertEqual(Rating(rating.id).stars, 2)
            # The window is configured
            Config.write([Config(1)], {'rating_edit_days': 10})
            with clock(NOW + 9 * DAY):
                rating = Rating.change_rating(
                    bookings[0].id, stars=3, member=alice.id)
            self.assertEqual(rating.stars, 3)

    @with_transaction()
    def test_moderation(self):
        "A hidden comment is not published; its stars still count"
        pool = Pool()
        Rating = pool.get('booking.rating')
        with self.setup() as (_, service, _, (alice, bob), bookings):
            self.finish(bookings)
            rating = Rating.rate(bookings[2].id, 1, comment="Call 13800000000",
                member=bob.id)
            Rating.rate(bookings[0].id, 5, comment="Lovely", member=alice.id)
            with self.assertRaises(InvalidStateError):
                Rating.hide([rating])
            rating.hide_reason = "Phone number"
            rating.save()
            Rating.hide([rating])
            self.assertEqual(rating.state, 'hidden')
            self.assertEqual(rating.moderated_by.id, Transaction().user)
            self.assertEqual(rating.moderated_at, NOW)
            self.assertEqual(service.rating_count, 2)
            self.assertEqual(service.rating_average, Decimal('3.00'))

            ratings, total = Rating.published_ratings(service.id)
            self.assertEqual(total, 2)
            values = [r.published_values() for r in ratings]
            self.assertEqual(
                [(v['stars'], v['comment']) for v in values],
                [(5, "Lovely"), (1, None)])
            # Masked names only: a phone is never a display name
            self.assertEqual(values[0]['member'], "Alice **")
            self.assertNotIn('138', values[1]['member'])
            # The member still reads the own comment
            mine = rating.member_values()
            self.assertEqual(
                (mine['comment'], mine['hidden']), ("Call 13800000000", True))

            Rating.publish([rating])
            self.assertEqual(rating.state, 'published')
            self.assertEqual(rating.hide_reason, None)
            ratings, _ = Rating.published_ratings(service.id)
            self.assertEqual(ratings[1].published_values()['comment'],
                "Call 13800000000")

    @with_transaction()
    def test_rating_request(self):
        "A done booking queues one rating request to its member"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Message = pool.get('outbox.message')
        with self.setup() as (_, _, _, _, bookings):
            self.finish(bookings[:1])
            messages = Message.search([
                    ('template.code', '=', 'booking_rating_request')])
            self.assertEqual(len(messages), 1)
            message, = messages
            self.assertEqual(message.dedup_key,
                'booking-rating-request:%d' % bookings[0].id)
            self.assertEqual(message.origin, bookings[0])
            # Queued once whatever the number of calls
            Booking.request_ratings(bookings[:1])
            self.assertEqual(Message.search_count([
                        ('template.code', '=', 'booking_rating_request')]), 1)

    @with_transaction()
    def test_self_service(self):
        "A member user rates and reads only its own ratings"
        pool = Pool()
        Rating = pool.get('booking.rating')
        with self.setup() as (company, service, _, (alice, bob), bookings):
            self.finish(bookings)
            user = create_api_user(company)
            bobs = Rating.rate(bookings[2].id, 3, member=bob.id)
            with Transaction().set_user(user.id), \
                    Transaction().set_context(
                        _check_access=True, **member_context(alice.id)):
                with self.assertRaises(BookingNotFoundError):
                    Rating.rate(bookings[2].id, 5)
                with self.assertRaises(BookingNotFoundError):
                    Rating.change_rating(bookings[2].id, stars=5)
                rating = Rating.rate(bookings[0].id, 4)
                self.assertEqual(Rating.search([]), [rating])
                self.assertEqual(Rating.member_ratings(), ([rating], 1))
                ratings, total = Rating.published_ratings(service.id)
                self.assertEqual(total, 2)
                self.assertEqual(
                    [r.published_values()['stars'] for r in ratings], [4, 3])
                with self.assertRaises(AccessError):
                    Rating.write([rating], {'stars': 5})
                with self.assertRaises(AccessButtonError):
                    Rating.hide([rating])
            self.assertEqual(Rating(bobs.id).stars, 3)
