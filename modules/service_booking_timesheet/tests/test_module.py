# This file is part of the service_booking_timesheet module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
import datetime as dt
import importlib.util
import unittest
from contextlib import contextmanager
from types import SimpleNamespace

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.modules.service_booking.tests.test_module import (
    NOW, H, M, clock, create_resource, create_service, create_tiers, utc)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

# The bridge needs Tryton's timesheet (the erp extra of setup.py): without it
# the tests are skipped (a SkipTest raised on import would count as an
# import error of scripts/run_tests.py)
INSTALLED = importlib.util.find_spec('trytond.modules.timesheet') is not None

# Tuesday 2 June 2026, 09:00 in Shanghai
START = utc(dt.datetime(2026, 6, 2, 9))


@unittest.skipUnless(INSTALLED, "trytond_timesheet is not installed")
class ServiceBookingTimesheetTestCase(ModuleTestCase):
    "Test Service Booking Timesheet module"
    module = 'service_booking_timesheet'
    extras = ['timesheet']

    @contextmanager
    def setup(self, kind='employee', **service_values):
        """Yield a company in Shanghai, a technician who is an employee, a
        work and a 2-hour service on it, with the booking clock at NOW"""
        pool = Pool()
        Employee = pool.get('company.employee')
        Party = pool.get('party.party')
        Work = pool.get('timesheet.work')
        company = create_company_shanghai()
        with set_company(company), clock(NOW):
            create_tiers()
            party, = Party.create([{'name': "Li Lei"}])
            employee, = Employee.create([{
                        'party': party.id, 'company': company.id}])
            work, = Work.create([{'name': "Home Services",
                        'company': company.id}])
            values = {'kind': kind}
            if kind == 'employee':
                values['employee'] = employee.id
            resource = create_resource("Li Lei", **values)
            service_values.setdefault('timesheet_work', work.id)
            service = create_service([resource], **service_values)
            member = create_member("Alice")
            yield SimpleNamespace(company=company, employee=employee,
                work=work, resource=resource, service=service, member=member)

    def book(self, s, start=START):
        pool = Pool()
        Booking = pool.get('booking.booking')
        booking = Booking.create_booking(s.member, s.service, start)
        Booking.confirm([booking])
        return Booking(booking.id)

    def done(self, booking, checkin=None, checkout=None):
        "Begin and finish booking, at the door when checkin is given"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with clock(checkin or START):
            Booking.begin([booking])
            if checkin:
                Booking.write([booking], {'door_checkin': checkin})
        with clock(checkout or START + 2 * H):
            Booking.finish([booking])
            if checkin:
                # As door_check_out does, after the transition
                Booking.write([booking], {
                        'door_checkout': checkout,
                        'duration_min': round(
                            (checkout - checkin).total_seconds() / 60),
                        })
        return Booking(booking.id)

    def lines(self, booking):
        pool = Pool()
        Line = pool.get('timesheet.line')
        return [(l.employee, l.work, l.date, l.duration)
            for l in Line.search([('booking', '=', booking.id)])]

    @with_transaction()
    def test_booked_duration(self):
        "A done booking without door check-in records its booked duration"
        with self.setup() as s:
            booking = self.book(s)
            self.assertEqual(self.lines(booking), [])
            booking = self.done(booking)
            self.assertEqual(self.lines(booking), [
                    (s.employee, s.work, dt.date(2026, 6, 2), 2 * H)])
            line, = booking.timesheet_lines
            self.assertEqual(line.booking, booking)
            self.assertEqual(line.company, s.company)

    @with_transaction()
    def test_real_duration(self):
        "The door check-in and check-out give the real duration"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        with self.setup() as s:
            booking = self.done(self.book(s),
                checkin=START - 10 * M, checkout=START + 100 * M)
            self.assertEqual(self.lines(booking)[0][3], 110 * M)

            # Configured to the booked duration
            Configuration.write([Configuration(1)],
                {'timesheet_duration': 'booked'})
            Pool().get('booking.booking').transfer_timesheet([booking])
            self.assertEqual(self.lines(booking)[0][3], 2 * H)

    @with_transaction()
    def test_corrected(self):
        "A booking corrected after it is done corrects its line, once"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Line = pool.get('timesheet.line')
        with self.setup() as s:
            booking = self.done(self.book(s),
                checkin=START, checkout=START + 90 * M)
            line, = Line.search([])
            Booking.write([booking], {'duration_min': 75})
            self.assertEqual(self.lines(booking)[0][3], 75 * M)
            Booking.transfer_timesheet([booking])
            self.assertEqual([l.id for l in Line.search([])], [line.id])

    @with_transaction()
    def test_cancelled_no_show(self):
        "No line for a cancelled or no-show booking"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Line = pool.get('timesheet.line')
        with self.setup() as s:
            booking = self.book(s)
            Booking.cancel([booking])
            other = self.book(s, START + 24 * H)
            with clock(START + 25 * H):
                Booking.no_show([other])
            Booking.transfer_timesheet([booking, other])
            self.assertEqual(Line.search([]), [])

    @with_transaction()
    def test_service_work_default(self):
        "Without a work on the service the configuration's is used"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Work = pool.get('timesheet.work')
        with self.setup(timesheet_work=None) as s:
            booking = self.done(self.book(s))
            self.assertEqual(self.lines(booking), [])
            default, = Work.create([{'name': "Visits",
                        'company': s.company.id}])
            Configuration.write([Configuration(1)],
                {'timesheet_work': default.id})
            Pool().get('booking.booking').transfer_timesheet([booking])
            self.assertEqual(self.lines(booking)[0][1], default)

    @with_transaction()
    def test_room_no_line(self):
        "A room is no employee: no line"
        with self.setup(kind='room') as s:
            booking = self.done(self.book(s))
            self.assertEqual(self.lines(booking), [])

    @with_transaction()
    def test_user_employee(self):
        "A technician who is a user records the time of the user's employee"
        pool = Pool()
        User = pool.get('res.user')
        Resource = pool.get('booking.resource')
        with self.setup() as s:
            user, = User.create([{'login': 'li', 'name': "Li Lei",
                        'companies': [('add', [s.company.id])],
                        'company': s.company.id,
                        'employees': [('add', [s.employee.id])],
                        'employee': s.employee.id}])
            Resource.write([s.resource], {
                    'kind': 'user', 'employee': None, 'user': user.id})
            booking = self.done(self.book(s))
            self.assertEqual(self.lines(booking)[0][0], s.employee)

    @with_transaction()
    def test_line_booking_external(self):
        "The booking of a line cannot be set by a user"
        pool = Pool()
        Line = pool.get('timesheet.line')
        with self.setup() as s:
            booking = self.done(self.book(s))
            line, = booking.timesheet_lines
            with self.assertRaises(AccessError):
                Line.check_modification(
                    'write', [line], {'booking': None}, external=True)


del ModuleTestCase
