# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Attempt analytics (counters of refused attempts, rates, hints) and the
offline conflict report"""
import datetime as dt
import unittest

from trytond.model.exceptions import AccessButtonError, AccessError
from trytond.modules.checkin.analytics import SLOTS, attempt_stats
from trytond.modules.checkin.tests.test_module import (
    LAT, LON, START, as_user, at, check_in, create_event, create_user, north)
from trytond.modules.member.tests.test_module import create_member
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction


def item(event, when, uuid, **values):
    "An offline item with the QR token of event shown at when"
    return dict({
            'qr_token': event.current_token(when),
            'lat': LAT, 'lon': LON,
            'client_uuid': uuid,
            'client_time': when.isoformat() + 'Z',
            }, **values)


class AnalyticsTestCase(unittest.TestCase):
    "Check-in analytics and conflicts"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('checkin')
        cls.addClassCleanup(drop_db)

    def counts(self, event):
        pool = Pool()
        Counter = pool.get('checkin.attempt.counter')
        return Counter.counts(event.id)

    @with_transaction()
    def test_refusals_counted(self):
        "Refused attempts are counted per event and reason, not as rows"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Counter = pool.get('checkin.attempt.counter')
        event = create_event(policy='flag')
        member = create_member()
        now = START + dt.timedelta(minutes=5)
        with at(now):
            created = check_in(member, event, now)
            self.assertEqual(created.status, 'created')
            # Created check-ins are counted from their records
            self.assertEqual(self.counts(event), {})
            for _ in range(3):
                duplicate = check_in(member, event, now)
                self.assertEqual(duplicate.code, 'already_checked_in')
            forged = Attendance.check_in(create_member("Forger"), {
                    'qr_token': event.current_token(now)[:-2] + 'xx'})
            self.assertEqual(forged.code, 'invalid_token')
            old = Attendance.check_in(create_member("Late"), {
                    'qr_token': event.current_token(
                        now - dt.timedelta(minutes=10))})
            self.assertEqual(old.code, 'qr_expired')
            garbage = Attendance.check_in(create_member("Garbage"), {
                    'qr_token': 'garbage'})
            self.assertEqual(garbage.code, 'invalid_token')
        self.assertEqual(self.counts(event), {
                'already_checked_in': 3,
                'invalid_token': 1,
                'qr_expired': 1,
                })
        # An attempt naming no event is counted without one
        unknown, = Counter.search([('event', '=', None)])
        self.assertEqual(
            (unknown.outcome, unknown.count), ('invalid_token', 1))
        # One row per event, hour, outcome and slot: bounded
        self.assertLessEqual(Counter.search_count([]), 4)
        for counter in Counter.search([]):
            self.assertLess(counter.slot, SLOTS)
            self.assertEqual(counter.hour, START)

    @with_transaction()
    def test_attempt_stats(self):
        "Success rate, median arrival, anomaly rate and hints"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        event = create_event(policy='reject', open_before=10)
        self.assertEqual(attempt_stats(event)['total'], 0)
        self.assertIsNone(attempt_stats(event)['success_rate'])
        for minutes in [0, 10, 20]:
            when = START + dt.timedelta(minutes=minutes)
            result = check_in(create_member(), event, when)
            self.assertEqual(result.status, 'created')
        when = START + dt.timedelta(minutes=30)
        with at(when):
            for i in range(3):
                refused = check_in(create_member("Far %s" % i), event, when,
                    position={'lat': north(5000), 'lon': LON})
                self.assertEqual(refused.code, 'out_of_range')
            Attendance.check_in(create_member("Wrong"), {
                    'event_id': event.id, 'method': 'app', 'code': '1'})
        stats = attempt_stats(event)
        self.assertEqual(stats['total'], 7)
        self.assertEqual(stats['checked_in'], 3)
        self.assertEqual(stats['rejected'], 3)
        self.assertEqual(stats['success_rate'], round(3 / 7, 4))
        self.assertEqual(stats['anomaly_rate'], round(3 / 7, 4))
        # From the opening (10 min before the start): 10, 20, 30 minutes
        self.assertEqual(stats['median_minutes'], 20)
        self.assertEqual(stats['refused_by_reason'],
            {'out_of_range': 3, 'invalid_request': 1})
        hint, = stats['hints']
        self.assertEqual(hint['reason'], 'out_of_range')
        self.assertEqual(hint['share'], 0.75)
        self.assertIn('precise location', hint['message'])
        # The event form and the live statistics show them
        event = Event(event.id)
        self.assertEqual(event.attempts, 7)
        self.assertEqual(event.success_rate, round(3 / 7, 4))
        self.assertIn('precise location', event.attempt_hints)
        with at(when):
            self.assertEqual(event.stats()['attempts'], stats)

    @with_transaction()
    def test_purge(self):
        "The counters older than the retention are deleted"
        pool = Pool()
        Counter = pool.get('checkin.attempt.counter')
        Configuration = pool.get('checkin.configuration')
        event = create_event()
        Counter.add(event.id, 'qr_expired', when=START)
        Counter.add(event.id, 'qr_expired',
            when=START + dt.timedelta(days=100))
        Counter.add(event.id, 'unknown code')
        self.assertEqual(Counter.search_count([('outcome', '=', 'other')]),
            1)
        with at(START + dt.timedelta(days=100)):
            Counter.purge()
        self.assertEqual(Counter.search_count([('hour', '=', START)]), 0)
        self.assertEqual(self.counts(event), {'qr_expired': 1, 'other': 1})
        Configuration(1, attempt_retention=None).save()
        with at(START + dt.timedelta(days=1000)):
            Counter.purge()
        self.assertEqual(Counter.search_count([]), 2)

    def sync(self, member, items, received, device_id=None):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        if device_id:
            items = [dict(i, device_id=device_id) for i in items]
        with at(received):
            return Attendance.sync(member, items)

    def conflicts(self, event):
        pool = Pool()
        Conflict = pool.get('checkin.attendance.conflict')
        return sorted((c.reason, c.attendance.client_uuid)
            for c in Conflict.search([('event', '=', event.id)]))

    @with_transaction()
    def test_story_holds(self):
        "An offline batch that tells a coherent story is not flagged"
        event = create_event(methods=['qr', 'app'])
        other = create_event(name="Other", methods=['qr', 'app'])
        member = create_member()
        t1 = START + dt.timedelta(minutes=1)
        t2 = START + dt.timedelta(minutes=3)
        results = self.sync(member, [
                item(event, t1, 'h-1'), item(other, t2, 'h-2')],
            START + dt.timedelta(minutes=20), device_id='phone-1')
        self.assertEqual([r.status for r in results], ['created'] * 2)
        self.assertEqual(results[0].attendance.device_id, 'phone-1')
        self.assertEqual(results[1].attendance.sync_index, 1)
        self.assertEqual(self.conflicts(event) + self.conflicts(other), [])

    @with_transaction()
    def test_two_devices(self):
        "The same member from two devices within minutes"
        pool = Pool()
        Conflict = pool.get('checkin.attendance.conflict')
        event = create_event()
        other = create_event(name="Other")
        member = create_member()
        when = START + dt.timedelta(minutes=2)
        online = check_in(member, other, when, device_id='phone-2')
        self.assertEqual(online.attendance.device_id, 'phone-2')
        self.sync(member, [item(event, when + dt.timedelta(minutes=3),
                    't-1')],
            when + dt.timedelta(minutes=5), device_id='phone-1')
        self.assertEqual(self.conflicts(event), [('two_devices', 't-1')])
        conflict, = Conflict.search([('event', '=', event.id)])
        self.assertEqual(conflict.other, online.attendance)
        self.assertEqual(conflict.minutes, 3)
        self.assertIn('phone-2', conflict.description)
        # The cron finds the online one too, once
        with at(when + dt.timedelta(minutes=10)):
            Conflict.detect_recent()
            Conflict.detect_recent()
        self.assertEqual(self.conflicts(other), [('two_devices', None)])
        # Beyond the configured minutes: none
        Configuration = pool.get('checkin.configuration')
        Configuration(1, conflict_device_minutes=2).save()
        self.assertEqual(
            Conflict.detect([online.attendance.id]), [])
        # Reviewed by a reviewer
        Conflict.mark_reviewed([conflict])
        self.assertTrue(conflict.reviewed)
        self.assertEqual(conflict.reviewed_by.id, Transaction().user)

    @with_transaction()
    def test_before_open(self):
        "A synced item whose client time is before the event opened"
        event = create_event(methods=['app'], open_before=0)
        member = create_member()
        before = START - dt.timedelta(minutes=30)
        results = self.sync(member, [{
                    'event_id': event.id, 'method': 'app',
                    'lat': LAT, 'lon': LON,
                    'client_uuid': 'b-1',
                    'client_time': before.isoformat() + 'Z',
                    }], START + dt.timedelta(minutes=5))
        self.assertEqual(results[0].status, 'created')
        self.assertEqual(self.conflicts(event), [('before_open', 'b-1')])

    @with_transaction()
    def test_late_sync(self):
        "A synced item far from when the server received it"
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        event = create_event()
        scanned = START + dt.timedelta(minutes=5)
        self.sync(create_member(), [item(event, scanned, 'l-1')],
            scanned + dt.timedelta(minutes=30))
        self.assertEqual(self.conflicts(event), [])
        self.sync(create_member("Later"), [item(event, scanned, 'l-2')],
            scanned + dt.timedelta(minutes=90))
        self.assertEqual(self.conflicts(event), [('late_sync', 'l-2')])
        Configuration(1, conflict_sync_minutes=20).save()
        self.sync(create_member("Configured"), [item(event, scanned, 'l-3')],
            scanned + dt.timedelta(minutes=30))
        self.assertEqual(self.conflicts(event),
            [('late_sync', 'l-2'), ('late_sync', 'l-3')])

    @with_transaction()
    def test_out_of_order(self):
        "Items whose client times do not increase in the queue"
        event = create_event(methods=['qr', 'app'])
        other = create_event(name="Other", methods=['qr', 'app'])
        member = create_member()
        t1 = START + dt.timedelta(minutes=10)
        t2 = START + dt.timedelta(minutes=2)
        self.sync(member, [item(event, t1, 'o-1'), item(other, t2, 'o-2')],
            START + dt.timedelta(minutes=15))
        self.assertEqual(self.conflicts(event), [])
        self.assertEqual(self.conflicts(other), [('out_of_order', 'o-2')])

    @with_transaction()
    def test_device_id_invalid(self):
        "A device identifier that is not a short text is refused"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = create_event()
        result = check_in(create_member(), event, START, device_id='x' * 65)
        self.assertEqual(result.code, 'invalid_request')
        self.assertEqual(result.error.details, {'field': 'device_id'})
        self.assertEqual(Attendance.search_count([]), 0)

    @with_transaction()
    def test_conflict_access(self):
        "Organizers read the conflicts of their events; reviewers review"
        pool = Pool()
        Conflict = pool.get('checkin.attendance.conflict')
        Counter = pool.get('checkin.attempt.counter')
        organizer = create_user("Organizer", 'checkin.group_checkin')
        other = create_user("Other", 'checkin.group_checkin')
        reviewer = create_user("Reviewer", 'checkin.group_checkin_reviewer')
        event = create_event(organizers=[('add', [organizer.id])])
        scanned = START + dt.timedelta(minutes=5)
        self.sync(create_member(), [item(event, scanned, 'a-1')],
            scanned + dt.timedelta(minutes=90))
        conflict, = Conflict.search([])
        for user, seen in [(organizer, [conflict]), (other, [])]:
            with as_user(user):
                self.assertEqual(Conflict.search([]), seen)
                with self.assertRaises(AccessError):
                    Counter.search([])
        with as_user(organizer):
            with self.assertRaises(AccessButtonError):
                Conflict.mark_reviewed([conflict])
        with as_user(reviewer):
            Conflict.mark_reviewed([Conflict(conflict.id)])
        self.assertTrue(Conflict(conflict.id).reviewed)
