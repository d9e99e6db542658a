# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The operator's metrics of the API counted in one process (the sum over
gunicorn's workers and the database's gauges: tests/test_deployment.py)."""
import datetime as dt
import uuid

from prometheus_client import REGISTRY

from trytond.tests.test_tryton import RouteTestCase

from . import test_checkin_api
from .tools import ApiTestMixin, event_token

NOW = test_checkin_api.NOW


def _checkin(name):
    "A method of the check-in API tests (not imported: it would run here)"
    return test_checkin_api.CheckinApiTestCase.__dict__[name]


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0


class MetricsTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: metrics"
    module = 'miniprogram'
    frozen = NOW
    phone_prefix = '1360000'

    setUpDatabase = _checkin('setUpDatabase')
    _phones = iter(range(7000, 10 ** 6))

    def setUp(self):
        super().setUp()
        _, self.token = event_token("Meeting", NOW)

    def checkins(self):
        "The check-in counts {(method, result): value}"
        return {(s.labels['method'], s.labels['result']): s.value
            for family in REGISTRY.collect()
            if family.name == 'mp_checkins'
            for s in family.samples if s.name == 'mp_checkins_total'}

    def assertCounted(self, before, **expected):
        after = self.checkins()
        changed = {k: after[k] - before.get(k, 0) for k in after
            if after[k] != before.get(k, 0)}
        self.assertEqual(changed, {
                tuple(k.split('__')): v for k, v in expected.items()})

    def test_requests(self):
        "Each answer is counted by route template, method and status"
        api = self.login()
        labels = {'route': 'bookings/{booking_id}', 'method': 'GET',
            'status': '404'}
        before = sample('mp_requests_total', **labels)
        duration = sample('mp_request_duration_seconds_count',
            route='bookings/{booking_id}', method='GET')
        for booking_id in [1234567, 7654321]:
            api.json('GET', 'bookings/%s' % booking_id, expect=404)
        self.assertEqual(sample('mp_requests_total', **labels) - before, 2)
        self.assertEqual(sample('mp_request_duration_seconds_count',
                route='bookings/{booking_id}', method='GET') - duration, 2)

    def test_checkins(self):
        "Check-ins by method and result: created, duplicate, the error code"
        api = self.login()
        before = self.checkins()
        api.json('POST', 'checkins',
            self.here(qr_token=self.token), expect=201)
        api.json('POST', 'checkins',
            self.here(qr_token=self.token), expect=409)
        api.json('POST', 'checkins', self.here(qr_token='bad'), expect=422)
        self.assertCounted(before, qr__created=1, qr__duplicate=1,
            qr__invalid_token=1)

    def test_sync(self):
        "Each item of a batch is counted once"
        api = self.login()
        before = self.checkins()
        client_time = (NOW - dt.timedelta(seconds=10)).isoformat() + 'Z'
        items = [
            self.here(qr_token=self.token, client_uuid=str(uuid.uuid4()),
                client_time=client_time),
            self.here(qr_token='bad', client_uuid=str(uuid.uuid4()),
                client_time=client_time),
            ]
        api.json('POST', 'checkins/sync', {'items': items}, expect=200)
        self.assertCounted(before, qr__created=1, qr__invalid_token=1)
        # Sent again: duplicates, the bad one refused again
        api.json('POST', 'checkins/sync', {'items': items}, expect=200)
        self.assertCounted(before, qr__created=1, qr__duplicate=1,
            qr__invalid_token=2)

    def test_invalid_request_not_counted(self):
        "A body refused before any check-in counts as a request only"
        api = self.login()
        before = self.checkins()
        labels = {'route': 'checkins', 'method': 'POST', 'status': '400'}
        requests = sample('mp_requests_total', **labels)
        api.json('POST', 'checkins', {'lat': 'north'}, expect=400)
        self.assertCounted(before)
        self.assertEqual(sample('mp_requests_total', **labels) - requests, 1)
