# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""The assignment of resources (policies, skills, reassignment) and the
no-shows (the scheduler, the counts, the penalty)"""
import datetime as dt
import os
import unittest
from collections import Counter
from contextlib import contextmanager
from types import SimpleNamespace

from sql.aggregate import Count

from trytond.modules.company.tests import set_company
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.modules.service_booking.exceptions import (
    BookingSuspendedError, InvalidStateError, SlotFullError,
    SlotUnavailableError)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

from .test_module import NOW, H, M, clock, create_resource, create_service, utc

# Open all day, every day
ALL_DAY = [(d, dt.time(0), dt.time(0)) for d in range(7)]
# The first slot booked by the distribution tests: Tuesday 2 June 00:00
FIRST = utc(dt.datetime(2026, 6, 2, 0, 0))
CHUNK = 10
BOOKINGS = int(os.environ.get('ASSIGNMENT_BOOKINGS', 1000))


class AssignmentTestCase(unittest.TestCase):
    "Assignment of resources and no-shows"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('service_booking')
        cls.addClassCleanup(drop_db)

    @contextmanager
    def setup(self, names=("Ann", "Bob"), **service_values):
        """Yield a company in Shanghai, resources of names open all day and
        a 1-hour service of capacity 1 without buffer nor lead time booked
        up to 60 days ahead, with the booking clock at NOW"""
        company = create_company_shanghai()
        with set_company(company), clock(NOW):
            resources = [create_resource(n, hours=ALL_DAY, kind='room')
                for n in names]
            values = {
                'duration': H,
                'buffer': dt.timedelta(0),
                'lead_time': dt.timedelta(0),
                'horizon': 60,
                }
            values.update(service_values)
            service = create_service(resources, **values)
            yield SimpleNamespace(
                company=company, resources=resources, service=service,
                member=create_member("Alice"))

    def set_links(self, service, values):
        "Write the priority and weight of each resource of service"
        pool = Pool()
        Link = pool.get('booking.service-booking.resource')
        for link in Link.search([('service', '=', service.id)]):
            Link.write([link], values[link.resource.name])

    def create_drafts(self, s, count, member=None):
        "Create count drafts of the member, one an hour from FIRST"
        pool = Pool()
        Booking = pool.get('booking.booking')
        return Booking.create([{
                    'company': s.company.id,
                    'currency': s.company.currency.id,
                    'member': (member or s.member).id,
                    'service': s.service.id,
                    'start': FIRST + i * H,
                    } for i in range(count)])

    def book_slots(self, s, count=BOOKINGS, member=None):
        """Book count slots of the member, one an hour from FIRST, and
        return the number of bookings per resource name.

        Each slot is free on every resource: the resource is chosen by
        Booking.assign_resource as _book does, and the booking written as
        _book writes it (the path through submit is checked by
        submit_slots, slower: 0.1 s a booking)"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        table = Booking.__table__()
        cursor = Transaction().connection.cursor()
        bookings = self.create_drafts(s, count, member)
        candidates = s.service.available_resources()
        for booking_id in map(int, bookings):
            booking = Booking(booking_id)
            resource, reason = booking.assign_resource(candidates)
            cursor.execute(*table.update(
                    [table.resource, table.state, table.assigned_by,
                        table.assignment_reason],
                    [resource.id, 'pending', 'policy', reason],
                    where=table.id == booking_id))
        names = {r.id: r.name for r in s.resources}
        cursor.execute(*table.select(
                table.resource, Count(table.id),
                where=(table.service == s.service.id)
                & (table.state == 'pending'),
                group_by=[table.resource]))
        return Counter({names[r]: c for r, c in cursor})

    def submit_slots(self, s, count, member=None):
        """Submit count drafts of the member, one an hour from FIRST, and
        return the number of bookings per resource name"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        bookings = self.create_drafts(s, count, member)
        # By batches (a write of a booking clears the cache of the others)
        for i in range(0, len(bookings), CHUNK):
            Booking.submit(bookings[i:i + CHUNK])
        bookings = Booking.browse(bookings)
        self.assertEqual({b.state for b in bookings}, {'pending'})
        self.assertEqual({b.assigned_by for b in bookings}, {'policy'})
        return Counter(b.resource.name for b in bookings)

    @with_transaction()
    def test_default_policy_most_capacity(self):
        "Without a policy, the resource with the most capacity left"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            self.assertEqual(s.service.assignment_policy, 'capacity')
            booking = Booking.create_booking(s.member, s.service, FIRST)
            self.assertEqual(booking.resource.name, "Ann")
            self.assertEqual(booking.assigned_by, 'policy')
            self.assertIn("Ann", booking.assignment_reason)

    @with_transaction()
    def test_round_robin_weights(self):
        "1,000 bookings of a round robin 3:1 are shared exactly 3:1"
        with self.setup(assignment_policy='round_robin') as s:
            self.set_links(s.service, {
                    "Ann": {'weight': 3}, "Bob": {'weight': 1}})
            counts = self.book_slots(s)
            self.assertEqual(counts, {"Ann": 750, "Bob": 250})

    @with_transaction()
    def test_round_robin_submit(self):
        "Through submit (_book), with the slot checks: 3:1 as well"
        with self.setup(assignment_policy='round_robin') as s:
            self.set_links(s.service, {
                    "Ann": {'weight': 3}, "Bob": {'weight': 1}})
            counts = self.submit_slots(s, 40)
            self.assertEqual(counts, {"Ann": 30, "Bob": 10})

    @with_transaction()
    def test_round_robin_priority(self):
        "The resource of the highest priority takes the bookings while free"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup(assignment_policy='round_robin') as s:
            self.set_links(s.service, {
                    "Ann": {'priority': 0, 'weight': 5},
                    "Bob": {'priority': 1, 'weight': 1}})
            counts = self.submit_slots(s, 10)
            self.assertEqual(counts, {"Bob": 10})
            # Bob taken at the first slot: Ann takes the next member
            other = Booking.create_booking(
                create_member("Carol"), s.service, FIRST)
            self.assertEqual(other.resource.name, "Ann")
            self.assertIn("priority 0", other.assignment_reason)

    @with_transaction()
    def test_least_loaded_balanced(self):
        "1,000 bookings of the least loaded policy are balanced within 1"
        with self.setup(names=("Ann", "Bob", "Cid"),
                assignment_policy='least_loaded',
                load_period=dt.timedelta(days=60)) as s:
            counts = self.book_slots(s)
            self.assertEqual(sum(counts.values()), BOOKINGS)
            self.assertLessEqual(
                max(counts.values()) - min(counts.values()), 1, counts)

    @with_transaction()
    def test_least_loaded_period_and_measure(self):
        """The load is counted around the slot only, on every service, in
        minutes or in bookings"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        Service = pool.get('booking.service')
        with self.setup(assignment_policy='least_loaded',
                load_period=dt.timedelta(days=1)) as s:
            ann, bob = s.resources
            long_ = create_service([ann], name="Long", duration=3 * H,
                buffer=dt.timedelta(0), lead_time=dt.timedelta(0),
                horizon=60)
            # Ann: one 3-hour booking the first day; Bob: two 1-hour ones
            Booking.create_booking(s.member, long_, FIRST)
            for i, name in enumerate(["Bea", "Ben"]):
                Booking.create_booking(create_member(name), s.service,
                    FIRST + (4 + i) * H, resource=bob)
            booking = Booking.create_booking(
                create_member("Carl"), s.service, FIRST + 8 * H)
            self.assertEqual(booking.resource, bob)
            self.assertIn("120 minutes", booking.assignment_reason)
            Service.write([s.service], {'load_measure': 'bookings'})
            booking = Booking.create_booking(
                create_member("Cleo"), s.service, FIRST + 9 * H)
            self.assertEqual(booking.resource, ann)
            # Two days later, outside the period: no load, the first one
            Service.write([s.service], {'load_measure': 'minutes'})
            booking = Booking.create_booking(
                create_member("Dan"), s.service, FIRST + 72 * H)
            self.assertEqual(booking.resource, ann)

    @with_transaction()
    def test_skills(self):
        "Only the resources with every required tag are booked"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Resource = pool.get('booking.resource')
        Service = pool.get('booking.service')
        Tag = pool.get('booking.resource.tag')
        with self.setup(names=("Ann", "Bob", "Cid"),
                assignment_policy='round_robin') as s:
            ann, bob, cid = s.resources
            deep, car = Tag.create([
                    {'name': "Deep Cleaning", 'code': 'deep'},
                    {'name': "Car", 'code': 'car'}])
            Resource.write([ann, cid], {'tags': [('add', [deep.id])]},
                [ann, bob], {'tags': [('add', [car.id])]})
            Service.write([s.service], {'required_tags': [
                        ('add', [deep.id])]})
            counts = self.book_slots(s)
            self.assertEqual(counts, {"Ann": 500, "Cid": 500})
            booking = Booking.create_booking(
                create_member("Ben"), s.service, FIRST - H)
            self.assertIn(booking.resource, [ann, cid])
            self.assertIn("Deep Cleaning", booking.assignment_reason)
            with self.assertRaises(SlotUnavailableError) as cm:
                Booking.create_booking(create_member("Bea"), s.service,
                    FIRST, resource=bob)
            self.assertEqual(cm.exception.details['reason'], 'no_resource')
            Service.write([s.service], {'required_tags': [
                        ('add', [car.id])]})
            self.assertEqual(s.service.available_resources(), [ann])

    @with_transaction()
    def test_chosen_resource_kept(self):
        "A resource chosen when booking is kept and said so"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup(assignment_policy='round_robin') as s:
            ann, bob = s.resources
            booking = Booking.create_booking(
                s.member, s.service, FIRST, resource=bob)
            self.assertEqual(booking.resource, bob)
            self.assertEqual(booking.assigned_by, 'request')

    @with_transaction()
    def test_reassign(self):
        "Staff give a booking to another free resource of the service"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup(names=("Ann", "Bob", "Cid")) as s:
            ann, bob, cid = s.resources
            booking = Booking.create_booking(
                s.member, s.service, FIRST, resource=ann)
            other = Booking.create_booking(
                create_member("Bea"), s.service, FIRST, resource=bob)
            with self.assertRaises(SlotFullError):
                booking.change_resource(bob)
            booking.change_resource(cid, "Ann is ill")
            booking = Booking(booking.id)
            self.assertEqual(booking.resource, cid)
            self.assertEqual(booking.assigned_by, 'staff')
            self.assertIn("Ann is ill", booking.assignment_reason)
            # The slot of Ann is free again
            third = Booking.create_booking(
                create_member("Cat"), s.service, FIRST)
            self.assertEqual(third.resource, ann)
            Booking.cancel([other])
            with self.assertRaises(InvalidStateError):
                Booking(other.id).change_resource(cid)

    @with_transaction()
    def test_reassign_wizard(self):
        "The Reassign button opens the wizard that changes the resource"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Reassign = pool.get('booking.booking.reassign', type='wizard')
        with self.setup() as s:
            ann, bob = s.resources
            booking = Booking.create_booking(s.member, s.service, FIRST)
            self.assertEqual(booking.resource, ann)
            session_id, _, _ = Reassign.create()
            reassign = Reassign(session_id)
            with Transaction().set_context(
                    active_model='booking.booking', active_id=booking.id,
                    active_ids=[booking.id]):
                defaults = reassign.default_start(None)
                self.assertEqual(defaults['current_resource'], ann.id)
                reassign.start.resource = bob
                reassign.start.note = None
                self.assertEqual(reassign.transition_reassign(), 'end')
            self.assertEqual(Booking(booking.id).resource, bob)

    # No-shows

    def confirmed_booking(self, s, start, member=None):
        pool = Pool()
        Booking = pool.get('booking.booking')
        booking = Booking.create_booking(member or s.member, s.service, start)
        Booking.confirm([booking])
        return Booking(booking.id)

    @with_transaction()
    def test_mark_no_shows(self):
        """The scheduler marks the confirmed bookings not started within
        the grace after their start, once"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        Resource = pool.get('booking.resource')
        with self.setup(start_grace=30 * M) as s:
            ann, bob = s.resources
            late = self.confirmed_booking(s, FIRST)
            begun = self.confirmed_booking(s, FIRST + 2 * H)
            later = self.confirmed_booking(s, FIRST + 4 * H)
            with clock(FIRST + 2 * H):
                Booking.begin([begun])
            with clock(FIRST + 29 * M):
                self.assertEqual(Booking.mark_no_shows(), [])
            with clock(FIRST + 2 * H + 30 * M):
                self.assertEqual(Booking.mark_no_shows(), [late])
                self.assertEqual(Booking.mark_no_shows(), [])
            self.assertEqual(
                [Booking(b.id).state for b in [late, begun, later]],
                ['no_show', 'in_progress', 'confirmed'])
            self.assertEqual(Member(s.member.id).no_show_count, 1)
            self.assertEqual(
                [r.no_show_count for r in Resource.browse([ann, bob])],
                [1, 0])

    @with_transaction()
    def test_no_show_points_penalty(self):
        """The points of the penalty are taken once, never below a zero
        balance"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        with self.setup(no_show_points=50) as s:
            Member.add_points(s.member, 30, "Gift")
            first = self.confirmed_booking(s, FIRST)
            second = self.confirmed_booking(s, FIRST + 2 * H)
            with clock(FIRST + 10 * M):
                Booking.no_show([first])
                Booking.no_show([first])
                Booking.penalize_no_shows([first])
            first = Booking(first.id)
            self.assertEqual(first.no_show_points_line.points, -30)
            self.assertTrue(first.no_show_penalized)
            self.assertEqual(Member(s.member.id).points_balance, 0)
            with clock(FIRST + 3 * H):
                Booking.mark_no_shows()
            second = Booking(second.id)
            self.assertEqual(second.state, 'no_show')
            self.assertIsNone(second.no_show_points_line)
            self.assertTrue(second.no_show_penalized)
            self.assertEqual(Member(s.member.id).points_balance, 0)

    @with_transaction()
    def test_no_show_ban(self):
        "A no-show bans the member from booking for the days of the service"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        with self.setup(no_show_ban_days=3) as s:
            booking = self.confirmed_booking(s, FIRST)
            with clock(FIRST + 10 * M):
                Booking.no_show([booking])
                with self.assertRaises(BookingSuspendedError) as cm:
                    Booking.create_booking(
                        s.member, s.service, FIRST + 24 * H)
            self.assertEqual(cm.exception.error_code, 'booking_suspended')
            self.assertIn('until', cm.exception.details)
            member = Member(s.member.id)
            self.assertEqual(member.booking_suspended_until,
                FIRST + 10 * M + dt.timedelta(days=3))
            # Other members book; the member again after the ban
            Booking.create_booking(
                create_member("Bea"), s.service, FIRST + 24 * H)
            with clock(FIRST + 10 * M + dt.timedelta(days=3, seconds=1)):
                Booking.create_booking(
                    s.member, s.service, FIRST + dt.timedelta(days=4))


if __name__ == '__main__':
    unittest.main()
