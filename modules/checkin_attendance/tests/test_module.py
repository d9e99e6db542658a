# This file is part of the checkin_attendance module.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
import importlib.util
import unittest
from contextlib import contextmanager

from trytond.model.exceptions import AccessError
from trytond.modules.checkin.tests import test_checkout
from trytond.modules.checkin.tests.test_module import (
    START, at, create_event, here)
from trytond.modules.company.tests import set_company
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

# The bridge needs Tryton's attendance (the erp extra of setup.py): without it
# the tests are skipped (a SkipTest raised on import would count as an
# import error of scripts/run_tests.py)
INSTALLED = importlib.util.find_spec('trytond.modules.attendance') is not None

DAY = dt.timedelta(days=1)
minutes = test_checkout.minutes


@unittest.skipUnless(INSTALLED, "trytond_attendance is not installed")
class CheckinAttendanceTestCase(ModuleTestCase):
    # Not CompanyTestMixin: the events are not the company's, the company of
    # an event is only the one whose attendance it feeds
    "Test Check-in Attendance module"
    module = 'checkin_attendance'
    extras = ['attendance']

    def setup_office(self, company, **values):
        "Return a daily attendance that feeds the attendance of company"
        values.setdefault('feed_attendance', True)
        return create_event(name="Office", kind='daily',
            record_leaving=True, end=START + dt.timedelta(days=10),
            day_start=dt.time(9), day_end=dt.time(18),
            attendance_company=company.id, **values)

    def employee_member(self, company, name="Ann"):
        pool = Pool()
        Employee = pool.get('company.employee')
        member = create_member(name)
        employee, = Employee.create([{
                    'party': member.party.id,
                    'company': company.id,
                    }])
        return member, employee

    # The check-in of the members with the QR code of the event at when
    check_in = test_checkout.CheckoutTestCase.check_in

    @contextmanager
    def office(self):
        """Yield a company in Shanghai, the office that feeds its attendance
        and a member who is its employee"""
        company = create_company_shanghai()
        with set_company(company):
            event = self.setup_office(company)
            member, employee = self.employee_member(company)
            yield company, event, member, employee

    def check_out(self, member, event, when):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        with at(when):
            result = Attendance.check_out(member, {'event_id': event.id})
        self.assertEqual(result.status, 'created', result)
        return Attendance(result.attendance.id)

    def lines(self, attendance):
        pool = Pool()
        Line = pool.get('attendance.line')
        return [(l.type, l.at, l.employee, l.company)
            for l in Line.search([('checkin', '=', attendance.id)],
                order=[('at', 'ASC'), ('id', 'ASC')])]

    @with_transaction()
    def test_checkin_checkout_lines(self):
        "A daily check-in and its check-out become lines in and out"
        with self.office() as (company, event, member, employee):
            attendance = self.check_in(member, event, minutes(-10))
            self.assertEqual(self.lines(attendance),
                [('in', minutes(-10), employee, company)])
            attendance = self.check_out(member, event, minutes(8 * 60))
            self.assertEqual(self.lines(attendance), [
                    ('in', minutes(-10), employee, company),
                    ('out', minutes(8 * 60), employee, company)])
            self.assertEqual(len(attendance.attendance_lines), 2)
            line = attendance.attendance_lines[0]
            self.assertEqual(line.checkin, attendance)
            self.assertEqual(line.date, dt.date(2026, 3, 2))

    @with_transaction()
    def test_sync_lines(self):
        "The check-ins of an offline sync, inserted together, become lines"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        with self.office() as (company, event, member, employee):
            other, _ = self.employee_member(company, "Bob")
            # The office takes the QR code: its check-in is dated by the
            # phone
            scanned = minutes(-10)
            items = [dict(here(),
                    qr_token=event.current_token(scanned),
                    client_uuid='sync-%d' % i,
                    client_time=scanned.isoformat() + 'Z')
                for i in range(2)]
            with at(minutes(30)):
                results = Attendance.sync(member, items)
            self.assertEqual([r.status for r in results],
                ['created', 'duplicate'])
            self.assertEqual(self.lines(results[0].attendance),
                [('in', scanned, employee, company)])
            attendance = self.check_in(other, event, minutes(30))
            self.assertEqual(len(self.lines(attendance)), 1)

    @with_transaction()
    def test_no_lines(self):
        "No line without an employee, a fed event or a daily event"
        company = create_company_shanghai()
        with set_company(company):
            office = self.setup_office(company)
            other = create_member("Bob")
            attendance = self.check_in(other, office, minutes(0))
            self.assertEqual(self.lines(attendance), [])

            member, _ = self.employee_member(company)
            not_fed = self.setup_office(company, feed_attendance=False)
            attendance = self.check_in(member, not_fed, minutes(0))
            self.assertEqual(self.lines(attendance), [])

            meeting = create_event(feed_attendance=True,
                attendance_company=company.id)
            attendance = self.check_in(member, meeting, minutes(0))
            self.assertEqual(self.lines(attendance), [])

    @with_transaction()
    def test_follows_insert(self):
        """The posting that inserts a check-in is not committed by itself
        when the check-in feeds the attendance (_inserted writes its line:
        Attendance.check_in_first)"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        company = create_company_shanghai()
        with set_company(company):
            office = self.setup_office(company)
            not_fed = self.setup_office(company, feed_attendance=False)
            meeting = create_event(feed_attendance=True,
                attendance_company=company.id)
            for event, follows in [
                    (office, True), (not_fed, False), (meeting, False)]:
                with self.subTest(event=event.name):
                    self.assertEqual(Attendance._follows_insert(
                            {'event': event.id}), follows)

    @with_transaction()
    def test_other_company(self):
        "An employee of another company does not feed the attendance"
        pool = Pool()
        Employee = pool.get('company.employee')
        company = create_company_shanghai()
        other = create_company_shanghai()
        with set_company(company):
            event = self.setup_office(company)
            member = create_member("Ann")
            Employee.create([{
                        'party': member.party.id, 'company': other.id}])
            attendance = self.check_in(member, event, minutes(0))
            self.assertEqual(self.lines(attendance), [])

    @with_transaction()
    def test_employment_dates(self):
        "Only the check-ins of the days of employment feed the attendance"
        with self.office() as (company, event, member, employee):
            employee.start_date = dt.date(2026, 3, 3)
            employee.save()
            first = self.check_in(member, event, minutes(0))
            second = self.check_in(member, event, minutes(0) + DAY)
            self.assertEqual(self.lines(first), [])
            self.assertEqual(len(self.lines(second)), 1)

    @with_transaction()
    def test_reject_approve(self):
        "A rejected check-in loses its lines, an approved one gets them back"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        with self.office() as (company, event, member, employee):
            attendance = self.check_in(member, event, minutes(0))
            attendance = self.check_out(member, event, minutes(60))
            Attendance.reject([attendance])
            self.assertEqual(self.lines(attendance), [])
            Attendance.approve([attendance])
            self.assertEqual([l[0] for l in self.lines(attendance)],
                ['in', 'out'])

    @with_transaction()
    def test_transfer_idempotent(self):
        """The transfer creates the lines of the check-ins made before and
        a second one changes nothing"""
        pool = Pool()
        Event = pool.get('checkin.event')
        Employee = pool.get('company.employee')
        Line = pool.get('attendance.line')
        company = create_company_shanghai()
        with set_company(company):
            event = self.setup_office(company, feed_attendance=False)
            member = create_member("Ann")
            attendance = self.check_in(member, event, minutes(0))
            self.check_out(member, event, minutes(60))
            Event.transfer_attendance([event])
            self.assertEqual(self.lines(attendance), [])

            event.feed_attendance = True
            event.save()
            Employee.create([{
                        'party': member.party.id, 'company': company.id}])
            Event.transfer_attendance([event])
            self.assertEqual(len(self.lines(attendance)), 2)
            ids = [l.id for l in Line.search([])]
            Event.transfer_attendance([event])
            self.assertEqual([l.id for l in Line.search([])], ids)

    @with_transaction()
    def test_line_corrected(self):
        "A line changed by hand is corrected by the transfer"
        pool = Pool()
        Event = pool.get('checkin.event')
        Line = pool.get('attendance.line')
        with self.office() as (company, event, member, employee):
            attendance = self.check_in(member, event, minutes(0))
            line, = Line.search([('checkin', '=', attendance.id)])
            line.at = minutes(30)
            line.save()
            Event.transfer_attendance([event])
            self.assertEqual(self.lines(attendance),
                [('in', minutes(0), employee, company)])

    @with_transaction()
    def test_closed_period(self):
        "A change in a closed attendance period is refused clearly"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Period = pool.get('attendance.period')
        with self.office() as (company, event, member, employee):
            attendance = self.check_in(member, event, minutes(0))
            period, = Period.create([{
                        'company': company.id,
                        'ends_at': minutes(24 * 60)}])
            Period.close([period])
            with self.assertRaisesRegex(
                    Exception, 'attendance of the check-in') as cm:
                Attendance.reject([attendance])
            self.assertEqual(type(cm.exception).__name__,
                'AttendancePeriodClosedError')

    @with_transaction()
    def test_line_checkin_external(self):
        "The check-in of a line cannot be set by a user"
        pool = Pool()
        Line = pool.get('attendance.line')
        with self.office() as (company, event, member, employee):
            attendance = self.check_in(member, event, minutes(0))
            line, = Line.search([('checkin', '=', attendance.id)])
            with self.assertRaises(AccessError):
                Line.check_modification(
                    'write', [line], {'checkin': None}, external=True)
            with self.assertRaises(AccessError):
                Line.check_modification('create', [], {
                        'checkin': attendance.id}, external=True)


del ModuleTestCase
