# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The attempt analytics of events/<id>/stats and the device_id of the
check-ins (additions to the API)"""
import datetime as dt
import uuid

from trytond.modules.checkin.tests.test_module import (
    LAT, LON, START, create_event, north)
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase

from .tools import (
    ApiTestMixin, check_documented, create_organizer, event_token,
    in_transaction, make_organizer)

NOW = START + dt.timedelta(minutes=5)


class AnalyticsApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: attempt analytics and devices"
    module = 'miniprogram'
    frozen = NOW

    @classmethod
    def setUpDatabase(cls):
        organizer = create_organizer(password='Kiosk-Staff-2026')
        create_event(name="Analytics", policy='reject',
            organizers=[('add', [organizer.id])])

    def setUp(self):
        super().setUp()
        self.event_id, self.token = event_token("Analytics", NOW)

    def test_attempts_and_device(self):
        "Every attempt is counted; device_id is kept; hints are given"
        member = self.login()
        organizer = self.login()
        make_organizer(organizer.member_id)
        data = member.json('POST', 'checkins', {
                'qr_token': self.token, 'lat': LAT, 'lon': LON,
                'device_id': 'phone-a'}, expect=201)
        # Refused attempts: a duplicate, three out of range (rejected and
        # kept), an invalid token
        status, data = member.json('POST', 'checkins', {
                'qr_token': self.token, 'lat': LAT, 'lon': LON})
        self.assertEqual(status, 409, data)
        for _ in range(3):
            status, data = self.login().json('POST', 'checkins', {
                    'qr_token': self.token, 'lat': north(3000), 'lon': LON})
            self.assertEqual(data['error']['code'], 'out_of_range')
        status, data = self.login().json('POST', 'checkins', {
                'qr_token': self.token[:-3] + 'abc', 'event_id': self.event_id,
                'lat': LAT, 'lon': LON})
        self.assertEqual(data['error']['code'], 'invalid_token')

        status, stats = organizer.json(
            'GET', 'events/%s/stats' % self.event_id)
        self.assertEqual(status, 200, stats)
        check_documented(
            'GET', 'events/%s/stats' % self.event_id, status, stats)
        attempts = stats['attempts']
        self.assertEqual(attempts['total'], 6)
        self.assertEqual(attempts['checked_in'], 1)
        self.assertEqual(attempts['rejected'], 3)
        self.assertEqual(attempts['refused_by_reason'], {
                'already_checked_in': 1, 'invalid_token': 1,
                'out_of_range': 3})
        self.assertEqual(attempts['success_rate'], round(1 / 6, 4))
        self.assertEqual(attempts['anomaly_rate'], 0.5)
        self.assertEqual([h['reason'] for h in attempts['hints']],
            ['out_of_range'])
        # API.md 1.1 names them at the top of the answer
        self.assertEqual(stats['success_rate'], attempts['success_rate'])
        self.assertEqual(stats['hints'], attempts['hints'])
        self.assertEqual(stats['median_seconds_to_checkin'],
            attempts['median_minutes'] * 60)
        self.assertIsNotNone(stats['median_seconds_to_checkin'])

        def device():
            Attendance = Pool().get('checkin.attendance')
            attendance, = Attendance.search([
                    ('event', '=', self.event_id), ('counted', '=', True)])
            return attendance.device_id
        self.assertEqual(in_transaction(device), 'phone-a')

    def test_device_id_invalid(self):
        "A device_id that is not a short text is refused by the schema"
        member = self.login()
        for bad in ['', 'x' * 65, 12]:
            with self.subTest(device_id=bad):
                data = member.json('POST', 'checkins', {
                        'qr_token': self.token, 'lat': LAT, 'lon': LON,
                        'device_id': bad}, expect=400)
                self.assertEqual(data['error']['code'], 'invalid_request')
        data = member.json('POST', 'checkins/sync', {'items': [{
                        'qr_token': self.token, 'lat': LAT, 'lon': LON,
                        'client_uuid': str(uuid.uuid4()),
                        'client_time': NOW.isoformat() + 'Z',
                        'device_id': 'x' * 65}]}, expect=400)
        self.assertEqual(data['error']['code'], 'invalid_request')
