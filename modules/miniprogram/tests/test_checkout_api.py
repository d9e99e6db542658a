# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The check-out route of the mini-program API (checkins/checkout) and who
is present in the statistics of an event."""
import datetime as dt
import uuid

from trytond.modules.checkin.tests.test_module import (
    LAT, LON, START, create_event)
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .tools import ApiTestMixin, create_organizer

NOW = START + dt.timedelta(minutes=5)


class CheckoutApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: check-out"
    module = 'miniprogram'
    frozen = NOW

    @classmethod
    def setUpDatabase(cls):
        organizer = create_organizer()
        organizers = [('add', [organizer.id])]
        create_event(name="Leaving", record_leaving=True,
            organizers=organizers)
        create_event(name="Staying", organizers=organizers)

    def setUp(self):
        super().setUp()
        with Transaction().start(DB_NAME, 0):
            Event = Pool().get('checkin.event')
            self.leaving, = Event.search([('name', '=', "Leaving")])
            self.staying, = Event.search([('name', '=', "Staying")])
            self.leaving_id, self.staying_id = (
                self.leaving.id, self.staying.id)
            self.token = self.leaving.current_token(NOW)
            self.staying_token = self.staying.current_token(NOW)

    def check_in(self, api, token=None):
        data = api.json('POST', 'checkins', {
                'qr_token': token or self.token, 'lat': LAT, 'lon': LON},
            expect=201)
        self.assertTrue(data['checkin']['record_leaving'])
        self.assertIsNone(data['checkin']['checkout_time'])
        return data['checkin']

    def test_checkout(self):
        "A check-out answers the check-in with its duration"
        api = self.login()
        status, data = api.json('GET', 'events')
        events = {e['name']: e for e in data['items']}
        self.assertTrue(events["Leaving"]['record_leaving'])
        self.assertFalse(events["Staying"]['record_leaving'])
        checkin = self.check_in(api)
        clock.freeze(NOW + dt.timedelta(minutes=47))
        data = api.json('POST', 'checkins/checkout', {
                'event_id': self.leaving_id, 'lat': LAT, 'lon': LON,
                'accuracy_m': 25, 'client_uuid': str(uuid.uuid4())},
            expect=200)
        self.assertEqual(data['duration_min'], 47)
        self.assertEqual(data['checkin']['id'], checkin['id'])
        self.assertEqual(data['checkin']['checkout_source'], 'member')
        self.assertEqual(data['checkin']['checkout_time'],
            '2026-03-02T09:52:00+08:00')
        status, mine = api.json('GET', 'me/checkins')
        self.assertEqual(mine['items'][0]['duration_min'], 47)

    def test_checkout_twice(self):
        "A second check-out is 409 with the first in details"
        api = self.login()
        self.check_in(api)
        key = str(uuid.uuid4())
        first = api.json('POST', 'checkins/checkout', {
                'qr_token': self.token, 'client_uuid': key}, expect=200)
        for body in [{'qr_token': self.token, 'client_uuid': key},
                {'event_id': self.leaving_id}]:
            data = self.assertError(api.json('POST', 'checkins/checkout',
                    body), 409, 'already_checked_out')
            self.assertEqual(data['error']['details']['checkin']['id'],
                first['checkin']['id'])
            self.assertEqual(
                data['error']['details']['checkin']['duration_min'], 0)

    def test_checkout_without_checkin(self):
        "A check-out without a check-in is 422 not_checked_in"
        api = self.login()
        data = self.assertError(api.json('POST', 'checkins/checkout', {
                    'event_id': self.leaving_id}), 422, 'not_checked_in')
        self.assertEqual(data['error']['details']['event_id'],
            self.leaving_id)
        self.assertTrue(data['error']['message'])

    def test_checkout_not_recorded(self):
        "An event that does not record leaving answers method_not_allowed"
        api = self.login()
        self.check_in_staying(api)
        data = self.assertError(api.json('POST', 'checkins/checkout', {
                    'event_id': self.staying_id}), 422, 'method_not_allowed')
        self.assertEqual(data['error']['details']['reason'], 'no_checkout')

    def check_in_staying(self, api):
        data = api.json('POST', 'checkins', {
                'qr_token': self.staying_token, 'lat': LAT, 'lon': LON},
            expect=201)
        self.assertFalse(data['checkin']['record_leaving'])

    def test_checkout_bad_input(self):
        "Bad input is 400 invalid_request (or its code) and changes nothing"
        api = self.login()
        self.check_in(api)
        for body, status, code in [
                ({}, 400, 'invalid_request'),
                ({'code': '123456', 'event_id': self.leaving_id},
                    400, 'invalid_request'),
                ({'event_id': 'one'}, 400, 'invalid_request'),
                ({'event_id': self.leaving_id, 'client_time': 'x'},
                    400, 'invalid_request'),
                ({'event_id': self.leaving_id, 'lat': 91, 'lon': 0},
                    400, 'invalid_request'),
                ({'event_id': self.leaving_id, 'lat': 48.8, 'lon': 2.3,
                    'coord_type': 'gcj02'}, 422, 'invalid_coord_type'),
                ({'event_id': self.leaving_id, 'client_uuid': 'x' * 40},
                    400, 'invalid_request'),
                ({'qr_token': 'forged'}, 422, 'invalid_token'),
                ({'qr_token': self.staying_token,
                    'event_id': self.leaving_id}, 422, 'invalid_token'),
                ({'event_id': 10 ** 6}, 422, 'invalid_token'),
                ]:
            with self.subTest(body=body):
                self.assertError(api.json('POST', 'checkins/checkout', body),
                    status, code)
        status, mine = api.json('GET', 'me/checkins')
        self.assertIsNone(mine['items'][0]['checkout_time'])
        self.assertError(self.api.json('POST', 'checkins/checkout', {
                    'event_id': self.leaving_id}), 401, 'unauthorized')

    def test_stats_present_now(self):
        "The statistics of an event that records leaving: present_now"
        organizer = self.login(organizer=True)
        # The other tests share the database
        before = organizer.json(
            'GET', 'events/%d/stats' % self.leaving_id, expect=200)
        members = [self.login() for _ in range(3)]
        for api in members:
            self.check_in(api)
        status, data = members[0].json('POST', 'checkins/checkout', {
                'event_id': self.leaving_id})
        self.assertEqual(status, 200, data)
        stats = organizer.json(
            'GET', 'events/%d/stats' % self.leaving_id, expect=200)
        self.assertEqual(stats['checked_in'], before['checked_in'] + 3)
        self.assertEqual(stats['present_now'], before['present_now'] + 2)
        status, stats = organizer.json(
            'GET', 'events/%d/stats' % self.staying_id)
        self.assertIsNone(stats['present_now'])

    def test_dashboard_present(self):
        "The dashboard of an event that records leaving shows who is present"
        organizer = self.login(organizer=True)
        for event_id, shown in [
                (self.leaving_id, True), (self.staying_id, False)]:
            response = organizer('GET', 'events/%s/dashboard' % event_id,
                headers={'Accept-Language': 'zh-CN'})
            self.assertEqual(response.status_code, 200)
            page = response.get_data(as_text=True)
            self.assertEqual('id="present"' in page, shown)
            self.assertEqual(
                '<div class="label">当前在场</div>' in page, shown)

    def test_openapi(self):
        "openapi.json documents the check-out"
        status, doc = self.api.json('GET', 'openapi.json')
        operation = doc['paths']['/{database}/mp/v1/checkins/checkout'][
            'post']
        self.assertEqual(set(operation['responses']) >= {
                '200', '400', '401', '409', '422'}, True)
        body = operation['requestBody']['content']['application/json'][
            'schema']
        self.assertFalse(body['additionalProperties'])
        self.assertIn('event_id', body['properties'])
