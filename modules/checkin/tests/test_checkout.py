# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Check-out: events that record leaving, durations, who is present and
the treatment of a missing check-out."""
import datetime as dt
import io
import unittest

from trytond.model.exceptions import AccessError
from trytond.modules.member.member import member_context
from trytond.modules.member.tests.test_module import create_member
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

from .test_module import (
    GLAT, GLON, START, as_user, at, check_in, create_event, create_user)


def minutes(n):
    return START + dt.timedelta(minutes=n)


class CheckoutTestCase(unittest.TestCase):
    "Test the check-out of the checkin module"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('checkin')
        cls.addClassCleanup(drop_db)

    def check_in(self, member, event, when):
        result = check_in(member, event, when)
        self.assertEqual(result.status, 'created', result)
        return result.attendance

    def check_out(self, member, event, when, **kwargs):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        credential = kwargs.pop('credential', {'event_id': event.id})
        with at(when):
            return Attendance.check_out(member, credential, **kwargs)

    @with_transaction()
    def test_checkout_duration(self):
        "A check-out closes the check-in with its duration"
        member = create_member("Ann")
        event = create_event(record_leaving=True)
        attendance = self.check_in(member, event, minutes(-5))
        result = self.check_out(member, event, minutes(80),
            position={'lat': GLAT, 'lon': GLON, 'coord_type': 'gcj02',
                'accuracy_m': 30}, bssid='00-11-22-AA-BB-CC',
            client_uuid='C0FFEE00-0000-4000-8000-000000000001')
        self.assertEqual(result.status, 'created')
        self.assertEqual(result.attendance, attendance)
        attendance = result.attendance
        self.assertEqual(attendance.checkout_time, minutes(80))
        self.assertEqual(attendance.duration, 85)
        self.assertEqual(attendance.checkout_source, 'member')
        self.assertFalse(attendance.checkout_review)
        # Kept, not checked: leaving needs no geofence
        self.assertEqual(attendance.checkout_coord_type, 'gcj02')
        self.assertEqual(attendance.checkout_accuracy, 30)
        self.assertEqual(attendance.checkout_bssid, '00:11:22:aa:bb:cc')
        self.assertEqual(attendance.checkout_client_uuid,
            'c0ffee00-0000-4000-8000-000000000001')
        summary = result.to_dict()['checkin']
        self.assertEqual(summary['duration_min'], 85)
        self.assertEqual(summary['checkout_time'],
            '2026-03-02T10:20:00+08:00')
        self.assertEqual(summary['checkout_source'], 'member')

    @with_transaction()
    def test_checkout_qr(self):
        "A check-out with the QR code of the event, not of another"
        member = create_member("Ann")
        event = create_event(record_leaving=True)
        other = create_event(name="Other", record_leaving=True)
        self.check_in(member, event, START)
        result = self.check_out(member, event, minutes(30), credential={
                'qr_token': other.current_token(minutes(30)),
                'event_id': event.id})
        self.assertEqual(result.code, 'invalid_token')
        result = self.check_out(member, event, minutes(30), credential={
                'qr_token': event.current_token(minutes(30))})
        self.assertEqual(result.status, 'created')
        self.assertEqual(result.attendance.duration, 30)

    @with_transaction()
    def test_checkout_without_checkin(self):
        "A check-out without a check-in is refused: not_checked_in"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        member = create_member("Ann")
        event = create_event(record_leaving=True)
        result = self.check_out(member, event, minutes(30))
        self.assertEqual(result.status, 'refused')
        self.assertEqual(result.code, 'not_checked_in')
        self.assertEqual(result.error.details, {'event_id': event.id})
        # A rejected check-in is no check-in
        refused = check_in(member, event, START, position={'lat': 0, 'lon': 0})
        self.assertEqual(refused.code, 'out_of_range')
        result = self.check_out(member, event, minutes(30))
        self.assertEqual(result.code, 'not_checked_in')
        self.assertEqual(Attendance.search([
                    ('checkout_time', '!=', None)]), [])

    @with_transaction()
    def test_checkout_twice(self):
        "A second check-out answers the first; so does its client UUID"
        member = create_member("Ann")
        event = create_event(record_leaving=True)
        self.check_in(member, event, START)
        uuid = 'c0ffee00-0000-4000-8000-000000000002'
        first = self.check_out(member, event, minutes(40), client_uuid=uuid)
        self.assertEqual(first.status, 'created')
        second = self.check_out(member, event, minutes(50))
        self.assertEqual(second.status, 'duplicate')
        self.assertEqual(second.code, 'already_checked_out')
        self.assertEqual(second.attendance, first.attendance)
        self.assertEqual(
            second.error.details['checkin']['duration_min'], 40)
        self.assertEqual(second.attendance.checkout_time, minutes(40))
        again = self.check_out(member, event, minutes(55), client_uuid=uuid)
        self.assertEqual(again.code, 'already_checked_out')
        # The client UUID of another member's check-out is refused
        bob = create_member("Bob")
        self.check_in(bob, event, START)
        other = self.check_out(bob, event, minutes(55), client_uuid=uuid)
        self.assertEqual(other.code, 'invalid_request')

    @with_transaction()
    def test_checkout_not_recorded(self):
        "An event that does not record leaving has no check-out"
        member = create_member("Ann")
        event = create_event()
        self.check_in(member, event, START)
        result = self.check_out(member, event, minutes(30))
        self.assertEqual(result.code, 'method_not_allowed')
        self.assertEqual(result.error.details['reason'], 'no_checkout')
        self.assertIsNone(event.stats()['present_now'])

    @with_transaction()
    def test_checkout_bad_input(self):
        "Malformed check-outs are refused and change nothing"
        member = create_member("Ann")
        event = create_event(record_leaving=True)
        attendance = self.check_in(member, event, START)
        for kwargs, code in [
                ({'credential': {'code': '123456', 'event_id': event.id}},
                    'invalid_request'),
                ({'credential': {'event_id': event.id, 'method': 'qr'}},
                    'invalid_request'),
                ({'credential': {'event_id': 'x'}}, 'invalid_request'),
                ({'credential': {}}, 'invalid_request'),
                ({'credential': {'event_id': 10 ** 6}}, 'invalid_token'),
                ({'position': {'lat': 100, 'lon': 0}}, 'invalid_request'),
                ({'position': {'lat': 48.8, 'lon': 2.3,
                            'coord_type': 'gcj02'}}, 'invalid_coord_type'),
                ({'bssid': 12}, 'invalid_request'),
                ({'client_uuid': ' '}, 'invalid_request'),
                ]:
            with self.subTest(kwargs=kwargs):
                result = self.check_out(member, event, minutes(30), **kwargs)
                self.assertEqual(result.code, code)
        self.assertIsNone(attendance.__class__(attendance.id).checkout_time)

    @with_transaction()
    def test_checkout_access(self):
        "A member checks itself out; organizers check out with staff"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        organizer = create_user("Organizer", 'checkin.group_checkin')
        outsider = create_user("Outsider", 'checkin.group_checkin')
        api = create_user("API", 'member.group_member_self')
        alice, bob = create_member("Alice"), create_member("Bob")
        event = create_event(record_leaving=True,
            organizers=[('add', [organizer.id])])
        self.check_in(alice, event, START)
        self.check_in(bob, event, START)
        staff = {'event_id': event.id, 'method': 'staff'}
        with at(minutes(20)), as_user(api, **member_context(alice.id)):
            with self.assertRaises(AccessError):
                Attendance.check_out(bob, {'event_id': event.id})
            with self.assertRaises(AccessError):
                Attendance.check_out(bob, staff)
            result = Attendance.check_out(alice, {'event_id': event.id})
            self.assertEqual(result.status, 'created')
        with at(minutes(30)), as_user(outsider):
            with self.assertRaises(AccessError):
                Attendance.check_out(bob, staff)
        with at(minutes(30)), as_user(organizer):
            result = Attendance.check_out(bob, staff)
        self.assertEqual(result.status, 'created')
        self.assertEqual(result.attendance.checkout_source, 'staff')
        self.assertEqual(result.attendance.checkout_user, organizer)

    @with_transaction()
    def test_checkout_capped_at_end(self):
        "A check-out after the end is dated at the end"
        member = create_member("Ann")
        event = create_event(record_leaving=True)
        self.check_in(member, event, START)
        event.__class__.write([event], {'state': 'closed'})
        result = self.check_out(member, event, minutes(300))
        self.assertEqual(result.status, 'created')
        self.assertEqual(result.attendance.checkout_time, event.end)
        self.assertEqual(result.attendance.duration, 120)
        # A cancelled event takes no check-out
        bob = create_member("Bob")
        event.__class__.write([event], {'state': 'cancelled'})
        result = self.check_out(bob, event, minutes(60))
        self.assertEqual(result.code, 'event_not_open')

    @with_transaction()
    def test_present_now(self):
        "The statistics count who is checked in and not out"
        members = [create_member("M%s" % i) for i in range(4)]
        event = create_event(record_leaving=True)
        for member in members[:3]:
            self.check_in(member, event, START)
        self.check_out(members[0], event, minutes(10))
        with at(minutes(20)):
            stats = event.stats()
        self.assertEqual(stats['checked_in'], 3)
        self.assertEqual(stats['present_now'], 2)

    @with_transaction()
    def test_present_now_daily(self):
        "For daily attendance, who is present today"
        members = [create_member("M%s" % i) for i in range(3)]
        event = create_event(kind='daily', record_leaving=True,
            end=START + dt.timedelta(days=5), day_start=dt.time(9),
            day_end=dt.time(18))
        day = dt.timedelta(days=1)
        for member in members:
            self.check_in(member, event, START)
        self.check_out(members[0], event, minutes(60))
        self.check_in(members[0], event, START + day)
        with at(START + day + dt.timedelta(hours=1)):
            stats = event.stats()
        self.assertEqual(stats['checked_in'], 1)
        self.assertEqual(stats['present_now'], 1)
        with at(minutes(61)):
            self.assertEqual(event.stats()['present_now'], 2)

    @with_transaction()
    def test_missing_checkout(self):
        "The cron closes the check-ins without check-out after the end"
        pool = Pool()
        Event = pool.get('checkin.event')
        members = [create_member("M%s" % i) for i in range(3)]
        closed = create_event(name="Close", record_leaving=True,
            missing_checkout='event_end')
        flagged = create_event(name="Flag", record_leaving=True,
            missing_checkout='flag')
        kept = create_event(name="Keep", record_leaving=True,
            missing_checkout='none')
        ignored = create_event(name="No leaving")
        attendances = {}
        for event in [closed, flagged, kept, ignored]:
            attendances[event.name] = self.check_in(
                members[0], event, minutes(10))
            self.check_in(members[1], event, minutes(10))
        # Members who checked out are left as they are
        for event in [closed, flagged]:
            self.check_out(members[1], event, minutes(30))
        with at(minutes(60)):
            self.assertEqual(Event.close_missing_checkouts(), [])
        with at(minutes(121)):
            done = Event.close_missing_checkouts()
            self.assertEqual(set(done),
                {attendances["Close"], attendances["Flag"]})
            self.assertEqual(Event.close_missing_checkouts(), [])
        attendance = attendances["Close"].__class__(attendances["Close"].id)
        self.assertEqual(attendance.checkout_time, closed.end)
        self.assertEqual(attendance.checkout_source, 'auto')
        self.assertEqual(attendance.duration, 110)
        self.assertFalse(attendance.checkout_review)
        attendance = attendance.__class__(attendances["Flag"].id)
        self.assertTrue(attendance.checkout_review)
        self.assertEqual(attendance.duration, 110)
        attendance.__class__.confirm_checkout([attendance])
        self.assertFalse(attendance.__class__(attendance.id).checkout_review)
        for name in ["Keep", "No leaving"]:
            attendance = attendance.__class__(attendances[name].id)
            self.assertIsNone(attendance.checkout_time)
            self.assertIsNone(attendance.duration)
        # Closed: a later check-out answers the automatic one
        result = self.check_out(members[0], closed, minutes(125))
        self.assertEqual(result.code, 'already_checked_out')

    @with_transaction()
    def test_missing_checkout_daily(self):
        "Daily attendance is closed at the end of each day"
        pool = Pool()
        Event = pool.get('checkin.event')
        member = create_member("Ann")
        event = create_event(kind='daily', record_leaving=True,
            end=START + dt.timedelta(days=5), day_start=dt.time(9),
            day_end=dt.time(18), missing_checkout='event_end')
        attendance = self.check_in(member, event, START)
        # 17:00 in Shanghai: the day is not over
        with at(START + dt.timedelta(hours=8)):
            self.assertEqual(Event.close_missing_checkouts(), [])
        with at(START + dt.timedelta(hours=9, minutes=1)):
            self.assertEqual(Event.close_missing_checkouts(), [attendance])
        attendance = attendance.__class__(attendance.id)
        self.assertEqual(attendance.checkout_time,
            START + dt.timedelta(hours=9))
        self.assertEqual(attendance.duration, 540)

    @with_transaction()
    def test_default_missing_checkout(self):
        "The treatment of the events defaults to the configuration's"
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        Event = pool.get('checkin.event')
        self.assertEqual(Event.default_missing_checkout(), 'event_end')
        Configuration.write([Configuration(1)], {'missing_checkout': 'flag'})
        self.assertEqual(Event.default_missing_checkout(), 'flag')
        event = Event()
        event.kind = 'points'
        event.record_leaving = True
        event.on_change_kind()
        self.assertFalse(event.record_leaving)

    @with_transaction()
    def test_export_durations(self):
        "The export and the reports have the check-outs and durations"
        import openpyxl
        pool = Pool()
        Excel = pool.get('checkin.attendance.excel', type='report')
        ReportDay = pool.get('checkin.report.day')
        ReportMember = pool.get('checkin.report.member')
        members = [create_member(n) for n in ["Ann", "Bob", "Chen"]]
        event = create_event(record_leaving=True)
        for member in members:
            self.check_in(member, event, START)
        self.check_out(members[0], event, minutes(45))
        self.check_out(members[1], event, minutes(75))
        data = io.BytesIO()
        Excel.write_workbook(data, [event])
        data.seek(0)
        workbook = openpyxl.load_workbook(data)
        summary = list(workbook["Summary"].values)
        self.assertEqual(summary[0][-2:], ("Checked Out", "Duration (min)"))
        self.assertEqual(summary[1][-2:], (2, 120))
        detail = list(workbook["Check-ins"].values)
        self.assertEqual(detail[0][-3:],
            ("Check-out", "Checked Out By", "Duration (min)"))
        rows = {r[3]: r[-3:] for r in detail[1:]}
        self.assertEqual(rows["Ann"],
            (dt.datetime(2026, 3, 2, 9, 45), "Member", 45))
        self.assertEqual(rows["Chen"], (None, None, None))
        with Transaction().set_context(event=event.id):
            day, = ReportDay.search([])
            self.assertEqual((day.checked_out, day.duration,
                    day.average_duration), (2, 120, 60))
            durations = {r.member.rec_name: r.duration
                for r in ReportMember.search([])}
        self.assertEqual(durations["Bob"], 75)
        self.assertIsNone(durations["Chen"])
