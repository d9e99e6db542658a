# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""Rescheduling and the waiting list: the rules of the model methods (the
API's answers are tested by miniprogram's test_waitlist_api)."""
import datetime as dt
import unittest
from contextlib import contextmanager
from unittest.mock import patch

from trytond.modules.company.tests import set_company
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.modules.service_booking.exceptions import (
    OfferExpiredError, SlotFullError)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    TestCase, activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

from .test_module import (
    NOW, H, M, clock, create_resource, create_service, create_tiers, set_tier,
    utc)


class WaitlistTestCase(TestCase):
    "Rescheduling and the waiting list"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['service_booking'])
        cls.addClassCleanup(drop_db)

    @contextmanager
    def setup(self, **service_values):
        "A company in Shanghai, tiers, a room and a service of 2 hours"
        company = create_company_shanghai()
        with set_company(company):
            create_tiers()
            self.resource = create_resource()
            self.service = create_service([self.resource], **service_values)
            yield

    def queued(self):
        "Patch the outbox: return the list of the values queued"
        Message = Pool().get('outbox.message')
        values = []

        def queue(cls, values_):
            values.extend(values_)
            return []
        patcher = patch.object(Message, 'queue', classmethod(queue))
        patcher.start()
        self.addCleanup(patcher.stop)
        return values

    @with_transaction()
    def test_reschedule_within_own_place(self):
        "A booking moves to a slot that overlaps its own place"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with clock(NOW), self.setup(slot_interval=30 * M):
            alice, bob = create_member("Alice"), create_member("Bob")
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking.create_booking(alice, self.service, start)
            # Bob cannot take a slot that overlaps Alice's
            with self.assertRaises(SlotFullError):
                Booking.create_booking(bob, self.service, start + 30 * M)
            booking = Booking.reschedule_booking(
                booking.id, start + 30 * M)
            self.assertEqual(booking.start, start + 30 * M)
            self.assertEqual(booking.end, start + 150 * M)
            self.assertEqual(booking.busy_until, start + 180 * M)
            reschedule, = booking.reschedules
            self.assertEqual(
                (reschedule.old_start, reschedule.new_start),
                (start, start + 30 * M))
            self.assertEqual(reschedule.old_resource, self.resource)
            self.assertFalse(reschedule.by_member)

    @with_transaction()
    def test_reschedule_from_calendar(self):
        "A start written by the calendar moves a booking with the rules"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with clock(NOW), self.setup(slot_interval=30 * M):
            alice, bob = create_member("Alice"), create_member("Bob")
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking.create_booking(alice, self.service, start)
            other = Booking.create_booking(bob, self.service, start + 6 * H)
            # As the calendar writes a booking dragged to 12:00
            Booking.write([booking], {
                    'start': start + 3 * H, 'end': start + 5 * H})
            booking = Booking(booking.id)
            self.assertEqual(
                (booking.start, booking.end), (start + 3 * H, start + 5 * H))
            reschedule, = booking.reschedules
            self.assertEqual(reschedule.old_start, start)
            # Into Bob's place (capacity 1): refused, nothing moved
            with self.assertRaises(SlotFullError):
                Booking.write([booking], {
                        'start': other.start, 'end': other.end})
            self.assertEqual(Booking(booking.id).start, start + 3 * H)

    @with_transaction()
    def test_reminders_follow_new_time(self):
        "Reminders of the new time are due, those of the old are not again"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with clock(NOW), self.setup():
            gold = set_tier(create_member("Gold"), 'gold')
            old = utc(dt.datetime(2026, 6, 3, 14))
            new = utc(dt.datetime(2026, 6, 4, 9))
            booking = Booking.create_booking(gold, self.service, old)
        # Made at NOW on the booking clock
        table = Booking.__table__()
        Transaction().connection.cursor().execute(*table.update(
                [table.create_date], [NOW], where=table.id == booking.id))
        booking = Booking(booking.id)
        # The 24-hour reminder of the old time
        due = Booking.due_reminders(now=old - 24 * H)
        self.assertEqual([(b.id, h) for b, h in due], [(booking.id, 24)])
        self.assertEqual(
            due[0][0].reminder_key(24), 'booking-reminder:%d:24' % booking.id)
        # Gold members change until 2 hours before
        with clock(old - 23 * H):
            Booking.reschedule_booking(booking.id, new)
        booking = Booking(booking.id)
        # Not at once for the new time, nothing of the old time any more:
        # one hour before the old start, the new 24-hour reminder is due
        self.assertEqual(Booking.due_reminders(now=old - 23 * H), [])
        due = Booking.due_reminders(now=old - H)
        self.assertEqual([(b.id, h) for b, h in due], [(booking.id, 24)])
        due = Booking.due_reminders(now=new - 24 * H)
        self.assertEqual([(b.id, h) for b, h in due], [(booking.id, 24)])
        # Another key than the old time's 24-hour reminder
        self.assertEqual(
            due[0][0].reminder_key(24),
            'booking-reminder:%d:24:1' % booking.id)
        due = Booking.due_reminders(now=new - H)
        self.assertEqual([(b.id, h) for b, h in due], [(booking.id, 1)])

    @with_transaction()
    def test_offer_held_then_lapsed(self):
        """A place freed is held for the first waiting member, not for
        others; lapsed, it goes to the next; the offer is queued"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        Waitlist = pool.get('booking.waitlist')
        queued = self.queued()
        with clock(NOW), self.setup():
            alice, bob, carol, dave = [create_member(n)
                for n in ["Alice", "Bob", "Carol", "Dave"]]
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking.create_booking(alice, self.service, start)
            first = Waitlist.join(bob, self.service, start)
            second = Waitlist.join(carol, self.service, start)
            self.assertEqual((first.position, second.position), (1, 2))

            # Staff cancel: the place is offered to Bob
            Booking.cancel([booking])
            first, second = Waitlist.browse([first, second])
            self.assertEqual((first.state, second.state),
                ('offered', 'waiting'))
            self.assertEqual(first.offer_resource, self.resource)
            self.assertEqual(first.offer_expires, NOW + 2 * H)
            offer, = [v for v in queued
                if v['template'] == 'booking_waitlist_offer']
            self.assertEqual(offer['party'], bob.party.id)
            self.assertEqual(offer['payload']['start'], '2026-06-02 09:00')
            # Held: Dave cannot book it, Bob can
            with self.assertRaises(SlotFullError):
                self.service.check_slot(start, member=dave)
            self.assertEqual(
                self.service.check_slot(start, member=bob), [self.resource])
            self.assertEqual(
                [s for s in self.service.free_slots(
                        self.service, dt.date(2026, 6, 2), member=dave)
                    if s['start'] == start], [])

        # Lapsed: the cron gives it to Carol
        later = NOW + 2 * H
        with clock(later):
            self.service.check_slot(start, member=dave)
            with self.assertRaises(OfferExpiredError):
                Waitlist.accept(first.id, member=bob.id)
            Waitlist.process_offers()
            first, second = Waitlist.browse([first, second])
            self.assertEqual((first.state, second.state),
                ('lapsed', 'offered'))
            self.assertEqual(second.offer_expires, later + 2 * H)
            booking = Waitlist.accept(second.id, member=carol.id)
            self.assertEqual(
                (booking.member, booking.start, booking.state),
                (carol, start, 'pending'))
            self.assertEqual(Waitlist(second.id).state, 'booked')
            self.assertEqual(Waitlist(second.id).booking, booking)

    @with_transaction()
    def test_waiting_list_of_booking(self):
        "Staff see the waiting list of a booking's slot"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Waitlist = pool.get('booking.waitlist')
        with clock(NOW), self.setup():
            alice, bob = create_member("Alice"), create_member("Bob")
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking.create_booking(alice, self.service, start)
            entry = Waitlist.join(bob, self.service, start)
            self.assertEqual(Booking(booking.id).waitlist, (entry,))


del TestCase


if __name__ == '__main__':
    unittest.main()
