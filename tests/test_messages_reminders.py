"""Booking reminders at the local time of the service across a change of
daylight saving time (Europe/Paris, 31 March 2024), never for a cancelled
booking nor before the booking was made, and never twice: not when the
scheduler runs twice, not when two processes run it at once (PostgreSQL)."""
import datetime as dt
import os
import subprocess
import unittest
from decimal import Decimal

from trytond import backend
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

from .tools import run_transaction, worker_command

# 10:00 in Paris on the day summer time starts (CEST, UTC+2)
START = dt.datetime(2024, 3, 31, 8, 0)
# 24 hours before on the local clock: 10:00 CET (UTC+1) the day before
DUE_24 = dt.datetime(2024, 3, 30, 9, 0)
# 1 hour before: 09:00 CEST
DUE_1 = dt.datetime(2024, 3, 31, 7, 0)


class RemindersTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['service_booking'])

    @classmethod
    def tearDownClass(cls):
        drop_db()

    def setUp(self):
        from trytond.modules.company.tests import create_company
        from trytond.modules.member.tests.test_module import add_email
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        def setup():
            pool = Pool()
            Company = pool.get('company.company')
            Member = pool.get('member.member')
            Service = pool.get('booking.service')
            Booking = pool.get('booking.booking')
            Template = pool.get('product.template')
            Uom = pool.get('product.uom')
            Message = pool.get('outbox.message')
            Message.delete(Message.search([]))
            Booking.write(Booking.search([]), {'state': 'cancelled'})
            companies = Company.search([])
            company = companies[0] if companies else create_company()
            with Transaction().set_context(company=company.id):
                unit, = Uom.search([('name', '=', "Unit")])
                template, = Template.create([{
                            'name': "Massage", 'type': 'service',
                            'default_uom': unit.id,
                            'list_price': Decimal(100),
                            'products': [('create', [{}])],
                            }])
                Resource = pool.get('booking.resource')
                resource, = Resource.create([{
                            'company': company.id, 'name': "Room",
                            'kind': 'room', 'timezone': 'Europe/Paris'}])
                service, = Service.create([{
                            'company': company.id,
                            'product': template.products[0].id,
                            'timezone': 'Europe/Paris',
                            'duration': dt.timedelta(hours=1),
                            'booking_resources': [('add', [resource.id])],
                            }])
                members = Member.create([
                        {'name': "Ann"}, {'name': "Bob"}, {'name': "Cat"}])
                # An address: a message no channel takes is not queued
                for member in members:
                    add_email(member, '%s@example.com' % member.name)
                values = {
                    'company': company.id, 'service': service.id,
                    'currency': company.currency.id, 'start': START,
                    'resource': resource.id}
                bookings = Booking.create([
                        dict(values, member=m.id) for m in members])
                Booking.write(bookings, {'state': 'confirmed'})
            booking = Booking.__table__()
            cursor = Transaction().connection.cursor()
            made = [
                # Made days before
                dt.datetime(2024, 3, 20, 12, 0),
                # Made after the 24 hours reminder was due
                dt.datetime(2024, 3, 30, 12, 0),
                # Cancelled later
                dt.datetime(2024, 3, 20, 12, 0),
                ]
            for record, date in zip(bookings, made):
                cursor.execute(*booking.update(
                        [booking.create_date], [date],
                        where=booking.id == record.id))
            Booking.cancel([bookings[2]])
            return [b.id for b in bookings]
        self.bookings = run_transaction(DB_NAME, setup)

    def remind(self, now):
        from trytond.pool import Pool

        def remind():
            Booking = Pool().get('booking.booking')
            return [m.dedup_key for m in Booking.send_reminders()]
        return run_transaction(
            DB_NAME, remind, context={'_clock_now': now})

    def reminders(self):
        from trytond.pool import Pool

        def reminders():
            Message = Pool().get('outbox.message')
            return sorted(m.dedup_key for m in Message.search([
                        ('dedup_key', 'like', 'booking-reminder:%'),
                        ]))
        return run_transaction(DB_NAME, reminders)

    def key(self, index, hours):
        return 'booking-reminder:%d:%d' % (self.bookings[index], hours)

    def test_local_time_across_dst(self):
        "24 h before 10:00 CEST is 10:00 CET the day before (23 real hours)"
        second = dt.timedelta(seconds=1)
        self.assertEqual(self.remind(DUE_24 - second), [])
        self.assertEqual(self.remind(DUE_24), [self.key(0, 24)])
        # Running again queues nothing more
        self.assertEqual(self.remind(DUE_24 + dt.timedelta(minutes=5)), [])
        self.assertEqual(self.remind(DUE_1 - second), [])
        # The booking made after 10:00 CET gets only the 1 hour reminder
        self.assertEqual(
            sorted(self.remind(DUE_1)), [self.key(0, 1), self.key(1, 1)])
        self.assertEqual(self.remind(DUE_1 + dt.timedelta(minutes=5)), [])
        # Past the start: nothing
        self.assertEqual(self.remind(START + second), [])
        self.assertEqual(self.reminders(), sorted([
                    self.key(0, 24), self.key(0, 1), self.key(1, 1)]))

    def test_late_scheduler_sends_nearest(self):
        "A scheduler stopped over both times sends only the nearest reminder"
        self.assertEqual(sorted(self.remind(DUE_1 + dt.timedelta(minutes=1))),
            [self.key(0, 1), self.key(1, 1)])
        self.assertEqual(self.remind(DUE_1 + dt.timedelta(minutes=2)), [])

    def test_state_notice(self):
        "A state change queues a notice in its transaction"
        from trytond.pool import Pool

        def notices():
            Message = Pool().get('outbox.message')
            return [(m.origin.id, m.template.code, m.subject)
                for m in Message.search([
                        ('template.code', '=', 'booking_state')])]
        found = run_transaction(DB_NAME, notices)
        self.assertEqual(
            [(b, c) for b, c, _ in found],
            [(self.bookings[2], 'booking_state')])
        self.assertIn("Cancelled", found[0][2])

    @unittest.skipUnless(backend.name == 'postgresql',
        "multi-process test: needs PostgreSQL")
    def test_two_processes_at_once(self):
        "Two processes running the reminders at once queue each one once"
        env = dict(os.environ, DB_NAME=DB_NAME)
        for now in [DUE_24, DUE_1]:
            procs = [subprocess.Popen(
                    worker_command(
                        'messages_worker.py', 'cron', 'booking.booking',
                        'send_reminders', now.isoformat()),
                    env=env, stdout=subprocess.PIPE, text=True)
                for _ in range(3)]
            for proc in procs:
                proc.communicate(timeout=120)
                self.assertEqual(proc.returncode, 0)
        self.assertEqual(self.reminders(), sorted([
                    self.key(0, 24), self.key(0, 1), self.key(1, 1)]))
