# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The edge of the mini-program API: any text given as a credential, ids
out of the range of the database, per-member batch results, the missing
position, unknown subscription templates and the offsets of the times."""
import datetime as dt
import os
import re
import string
import tempfile
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trytond.modules.checkin.tests.test_module import (
    LAT, LON, START, create_event)
from trytond.modules.service_booking.tests.test_module import (
    create_resource, create_service, create_tiers)
from trytond.modules.suite import clock
from trytond.modules.suite.tests.tools import sized
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase
from trytond.transaction import Transaction

from .tools import (
    Api, ApiTestMixin, create_api_company, create_organizer, event_token,
    in_transaction)

if not os.environ.get('HYPOTHESIS_STORAGE_DIRECTORY'):
    from hypothesis.configuration import set_hypothesis_home_dir
    set_hypothesis_home_dir(os.path.join(
            tempfile.gettempdir(), 'hypothesis-%s' % os.getuid()))

NOW = START + dt.timedelta(minutes=5)
# The day before the slots booked by the tests
BOOKING_NOW = dt.datetime(2026, 6, 1, 0, 0)
STAFF_PASSWORD = 'Edge-Staff-2026'
MAX_ID = 2 ** 31 - 1
# Out of the INTEGER id columns of PostgreSQL, of SQLite's and of both
HUGE_IDS = [2 ** 31, 2 ** 63, 99999999999999999999]
# Every request is a route call: keep the examples few (LONG_TESTS=1: more),
# without deadline (the machine is shared) and without example database in
# the tree
ROUTE = settings(max_examples=sized(20, 200), deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture])

# Any text, and texts shaped like the credentials with numbers of any size
any_text = st.text(max_size=600)
numbers = st.integers(min_value=0, max_value=10 ** 30).map(str)
signatures = st.text(
    alphabet=string.ascii_letters + string.digits + '-_', min_size=0,
    max_size=30)
# EVENT stands for the id of an event of the test database
token_like = st.builds(lambda e, w, s: '%s.%s.%s' % (e, w, s),
    st.one_of(numbers, st.just('EVENT')), numbers, signatures)
credential_text = st.one_of(any_text, token_like, numbers)
# Texts an HTTP header or an address can carry
header_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xff,
            blacklist_characters='\x7f'), max_size=600),
    token_like,
    st.builds(lambda a, b, c: '%s.%s.%s' % (a, b, c),
        signatures, signatures, signatures))


class ApiEdgeTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: the edge"
    module = 'miniprogram'
    frozen = NOW
    phone_prefix = '1350000'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Place = pool.get('checkin.place')
        Tag = pool.get('checkin.tag')
        company = create_api_company()
        organizer = create_organizer(password=STAFF_PASSWORD)
        event = create_event(name="Meeting",
            organizers=[('add', [organizer.id])])
        create_event(name="Tokyo", timezone='Asia/Tokyo',
            organizers=[('add', [organizer.id])])
        create_event(name="Wi-Fi", bssids='00:11:22:aa:bb:cc')
        place, = Place.create([{'name': "Hall", 'latitude': LAT,
                    'longitude': LON}])
        Tag.create([{'uid': '04A22B1A0001', 'event': event.id}])
        with Transaction().set_context(company=company.id):
            create_tiers()
            rooms = [create_resource("Room 1")]
            create_service(rooms, price=Decimal('158'))

    def setUp(self):
        super().setUp()

        def ids():
            pool = Pool()
            Event = pool.get('checkin.event')
            Service = pool.get('booking.service')
            event, = Event.search([('name', '=', "Meeting")])
            service, = Service.search([])
            return event.id, event.current_token(NOW), service.id
        self.event_id, self.token, self.service_id = in_transaction(ids)

    def staff(self):
        data = self.api.json('POST', 'auth/staff', {
                'login': 'organizer', 'password': STAFF_PASSWORD}, expect=200)
        return Api(self.client(), token=data['access_token'])

    def assertCode(self, result, codes):
        """The answer is one of codes {status: {error codes}} (or a
        documented 429), never a 5xx"""
        codes = {**codes, 429: {'rate_limited'}}
        status, data = result
        self.assertLess(status, 500, data)
        self.assertIn(status, codes, data)
        self.assertIn(data['error']['code'], codes[status], data)

    # 1. Credentials: any text is refused with the documented code

    @property
    def member(self):
        if not hasattr(self, '_member'):
            self._member = self.login()
        return self._member

    @ROUTE
    @given(credential_text)
    @example('EVENT.99999999999999.AAAAAAAAAAAAAAAAAAAAAA')
    @example('EVENT.0.AAAAAAAAAAAAAAAAAAAAAA')
    @example('999999999999.1.AAAAAAAAAAAAAAAAAAAAAA')
    def test_qr_token_any_text(self, value):
        "Any qr_token is invalid_token or qr_expired, in check-in and sync"
        value = value.replace('EVENT', str(self.event_id))
        codes = {400: {'invalid_request'},
            422: {'invalid_token', 'qr_expired'}}
        self.assertCode(self.member.json('POST', 'checkins',
                self.here(qr_token=value)), codes)
        self._sync(value, 'qr_token', codes)

    def _sync(self, value, field, codes, **extra):
        "A sync item with value as field is an error entry of codes"
        status, data = self.member.json('POST', 'checkins/sync', {
                'items': [self.here(client_uuid=str(uuid.uuid4()),
                        client_time='2026-03-02T01:05:00Z',
                        **{field: value}, **extra)]})
        self.assertLess(status, 500, data)
        if status == 200:
            result, = data['results']
            self.assertEqual(result['status'], 'error', data)
            self.assertIn(result['error']['code'], codes.get(422, ()), data)
        else:
            self.assertIn(status, codes, data)
            self.assertIn(data['error']['code'], codes[status], data)

    @ROUTE
    @given(credential_text)
    @example('99999999999999999999')
    @example('１２３４５６')
    @example('12-34 56')
    def test_code_any_text(self, value):
        "Any activity code is invalid_token or qr_expired"
        codes = {400: {'invalid_request'},
            422: {'invalid_token', 'qr_expired'}}
        self.assertCode(self.member.json('POST', 'checkins',
                self.here(code=value, event_id=self.event_id)), codes)
        self._sync(value, 'code', codes, event_id=self.event_id)

    @ROUTE
    @given(credential_text)
    @example('04A22B1A0001' + '0' * 100)
    @example('04:a2:2b:1a:00:01:' * 20)
    def test_nfc_tag_any_text(self, value):
        "Any NFC tag is invalid_token"
        codes = {400: {'invalid_request'}, 422: {'invalid_token'}}
        self.assertCode(self.member.json('POST', 'checkins',
                self.here(nfc_tag=value)), codes)
        self._sync(value, 'nfc_tag', codes)

    @ROUTE
    @given(header_text)
    @example('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI5OTk5OTk5OTk5OTk5OTk5OTk5OSJ9.x')
    @example('a.b.c')
    def test_bearer_any_text(self, value):
        "Any bearer token is 401 on member, organizer and kiosk routes"
        api = Api(self.client(), token=value)
        codes = {401: {'unauthorized'}}
        for method, path in [('GET', 'me'),
                ('GET', 'events/%s/stats' % self.event_id),
                ('GET', 'events/%s/qr' % self.event_id),
                ('POST', 'events/%s/kiosk-token' % self.event_id)]:
            self.assertCode(api.json(method, path), codes)
        self.assertCode(api.json('POST', 'checkins',
                self.here(qr_token=self.token)), codes)

    @ROUTE
    @given(st.one_of(any_text, header_text))
    @example('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI5OTk5OTk5OTk5OTk5OTk5OTk5OSJ9.x')
    def test_refresh_token_any_text(self, value):
        "Any refresh token is 401 on refresh and logout"
        codes = {400: {'invalid_request'}, 401: {'unauthorized'}}
        for path in ['auth/refresh', 'auth/logout']:
            self.assertCode(self.api.json('POST', path,
                    {'refresh_token': value}), codes)

    @ROUTE
    @given(st.text(max_size=600))
    @example('eyJhbGciOiJIUzI1NiJ9.eyJ0eXAiOiJraW9zayJ9.x')
    def test_kiosk_query_token_any_text(self, value):
        "Any ?token= is 401 (or 400 for what no address may carry)"
        from urllib.parse import quote
        codes = {400: {'invalid_request'}, 401: {'unauthorized'}}
        for page in ['qr', 'stats', 'kiosk', 'dashboard']:
            response = self.api('GET', 'events/%s/%s?token=%s' % (
                    self.event_id, page, quote(value, safe='')))
            self.assertLess(response.status_code, 500, response.data)
            self.assertIn(response.status_code, codes, response.data)
            self.assertIn(response.json['error']['code'],
                codes[response.status_code], response.data)
    # 5. Batch check-in: per-member results

    def test_batch_checkin_unknown_member(self):
        "An unknown member of a batch is an error entry, the others go in"
        member = self.login()
        organizer = self.login(organizer=True)
        data = organizer.json('POST',
            'events/%s/batch-checkin' % self.event_id,
            {'member_ids': [member.member_id, MAX_ID, member.member_id]},
            expect=200)
        created, unknown = data['results']
        self.assertEqual((created['member_id'], created['status']),
            (member.member_id, 'created'), data)
        self.assertEqual(created['checkin']['event_id'], self.event_id)
        self.assertEqual((unknown['member_id'], unknown['status'],
                unknown['error']['code'], unknown['error']['details']),
            (MAX_ID, 'error', 'not_found', {'member_id': MAX_ID}), data)
        status, mine = member.json('GET', 'me/checkins')
        self.assertEqual([c['id'] for c in mine['items']],
            [created['checkin']['id']])

    # 9. A missing value is said missing, not shown as "-"

    def test_failure_before_handler(self):
        """A failure where the transaction starts (outside the handler) is
        500 internal_error with the error object, not Tryton's 400"""
        from unittest.mock import patch

        from .. import api as api_module
        api = self.login()

        def fail(*args, **kwargs):
            raise RuntimeError("failure at the start")
        with patch.object(api_module, '_begin', fail), \
                self.assertLogs('trytond.modules.miniprogram.api', 'ERROR'):
            for path, body in [
                    ('checkins', self.here(qr_token=self.token)),
                    ('checkins/daily', {}),
                    ]:
                with self.subTest(path=path):
                    # An Origin: the whole way (PostgreSQL records a
                    # check-in before it, see test_intake_api)
                    self.assertError(api.json('POST', path, body,
                            headers={'Origin': 'null'}),
                        500, 'internal_error')

    def test_checkin_without_position(self):
        "A check-in without a position says that the position is missing"
        api = self.login()
        data = self.assertError(api.json('POST', 'checkins', {
                    'qr_token': self.token}), 422, 'out_of_range')
        error = data['error']
        self.assertEqual(error['details']['reason'], 'no_position')
        self.assertIsNone(error['details']['distance_m'])
        self.assertNotIn(' - ', error['message'])
        self.assertIn('position is missing', error['message'])
        self.assertIn('500 m', error['message'])

        # Kept for review with the same text
        def reason_details():
            Attendance = Pool().get('checkin.attendance')
            attendance, = Attendance.search([
                    ('member', '=', api.member_id)])
            return attendance.reason_details
        self.assertNotIn(' - ', in_transaction(reason_details))

    def test_checkin_without_wifi(self):
        "A check-in without a Wi-Fi says that the Wi-Fi is missing"
        api = self.login()
        event_id, token = event_token("Wi-Fi", NOW)
        data = self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=token)), 422, 'wifi_mismatch')
        self.assertEqual(data['error']['details']['reason'], 'no_bssid')
        self.assertNotIn('(-)', data['error']['message'])
        self.assertNotIn('None', data['error']['message'])
        data = self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=token, bssid='00:11:22:aa:bb:cd')),
            422, 'wifi_mismatch')
        self.assertEqual(data['error']['details']['reason'], 'other_wifi')
        self.assertIn('00:11:22:aa:bb:cd', data['error']['message'])

    # 10. Unknown subscription templates

    def test_subscriptions_unknown_template(self):
        "Unknown template ids are 422 unknown_template and change nothing"
        api = self.login()

        def configure():
            Template = Pool().get('outbox.template')
            template = Template.get('booking_reminder')
            template.wechat_template_id = 'TPL-EDGE'
            template.save()
        in_transaction(configure)

        def credits():
            data = api.json('GET', 'me/subscriptions', expect=200)
            return [t['credits'] for t in data['items']
                if t['template_id'] == 'TPL-EDGE']
        data = self.assertError(api.json('POST', 'me/subscriptions', {
                    'results': {'TPL-EDGE': 'accept', 'TPL-GONE': 'accept',
                        'TPL-OLD': 'reject'}}), 422, 'unknown_template')
        self.assertEqual(data['error']['details'],
            {'template_ids': ['TPL-GONE', 'TPL-OLD']})
        self.assertIn('TPL-GONE', data['error']['message'])
        self.assertEqual(credits(), [0])
        self.assertError(api.json('POST', 'me/subscriptions', {
                    'results': {'TPL-GONE': 'accept'}}),
            422, 'unknown_template')
        data = api.json('POST', 'me/subscriptions', {
                'results': {'TPL-EDGE': 'accept'}}, expect=200)
        self.assertEqual(credits(), [1])

    # 11. Every time has the offset of the time zone it belongs to

    def offsets(self, data):
        "The offsets of the times of an answer"
        found = set()

        def walk(value):
            if isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, str):
                match = re.fullmatch(
                    r'\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?'
                    r'([+-]\d\d:\d\d|Z)', value)
                if match:
                    found.add(match.group(3))
        walk(data)
        return found

    def assertOffsets(self, result, offsets, status=200):
        got_status, data = result
        self.assertEqual(got_status, status, data)
        self.assertEqual(self.offsets(data), set(offsets), data)
        return data

    def test_time_offsets(self):
        """Times are answered with the offset of their event's or service's
        time zone, else of the members' (member configuration)"""
        tokyo, shanghai, kolkata = '+09:00', '+08:00', '+05:30'

        # The time zone of the times of no event or service: not the
        # events' nor the service's
        def set_timezone(timezone):
            def write():
                Configuration = Pool().get('member.configuration')
                config = Configuration(1)
                previous = config.timezone
                Configuration.write([config], {'timezone': timezone})
                return previous
            return in_transaction(write)
        self.addCleanup(set_timezone, set_timezone('Asia/Kolkata'))
        member = self.login()
        organizer = self.login(organizer=True)

        tokyo_id, tokyo_token = event_token("Tokyo", NOW)

        status, data = member.json('GET', 'events')
        events = {e['name']: e for e in data['items']}
        self.assertEqual(self.offsets(events["Tokyo"]), {tokyo})
        self.assertEqual(self.offsets(events["Meeting"]), {shanghai})
        self.assertOffsets(member.json('POST', 'checkins', self.here(
                    qr_token=tokyo_token)), {tokyo}, 201)
        data = self.assertOffsets(member.json('POST', 'checkins', self.here(
                    qr_token=tokyo_token)), {tokyo}, 409)
        self.assertIn('checkin', data['error']['details'])
        self.assertOffsets(member.json('POST', 'checkins/sync', {
                    'items': [self.here(qr_token=self.token,
                            client_uuid=str(uuid.uuid4()),
                            client_time='2026-03-02T01:05:00Z')]}),
            {shanghai})
        data = self.assertOffsets(member.json('GET', 'me/checkins'),
            {tokyo, shanghai})
        self.assertEqual({c['event_id']: self.offsets(c)
                for c in data['items']},
            {tokyo_id: {tokyo}, self.event_id: {shanghai}})
        self.assertOffsets(member.json('GET', 'me/points'), {kolkata})

        path = 'events/%s/' % tokyo_id
        self.assertOffsets(organizer.json('GET', path + 'qr'), {tokyo})
        self.assertOffsets(organizer.json('GET', path + 'stats'), {tokyo})
        self.assertOffsets(organizer.json('POST', path + 'kiosk-token'),
            {tokyo}, 201)
        self.assertOffsets(organizer.json('POST', path + 'batch-checkin',
                {'member_ids': [member.member_id]}), {tokyo})

        # The service is in Shanghai; booked the day before
        clock.freeze(BOOKING_NOW)
        self.assertOffsets(member.json('GET',
                'services/%s/slots?date=2026-06-02' % self.service_id),
            {shanghai})
        data = self.assertOffsets(member.json('POST', 'bookings', {
                    'service_id': self.service_id,
                    'start': '2026-06-02T03:30:00Z'}), {shanghai}, 201)
        booking = data['booking']['id']
        self.assertEqual(data['booking']['start'],
            '2026-06-02T11:30:00+08:00')
        self.assertOffsets(member.json('GET', 'bookings/%s' % booking),
            {shanghai})
        self.assertOffsets(member.json('GET', 'me/bookings'), {shanghai})
        self.assertOffsets(member.json('POST', 'bookings/%s/cancel'
                % booking), {shanghai})

        # Messages belong to no event nor service
        def queue():
            pool = Pool()
            Message = pool.get('outbox.message')
            Member = pool.get('member.member')
            Template = pool.get('outbox.template')
            template, = Template.search([], limit=1)
            Message.create([{'template': template.id,
                        'party': Member(member.member_id).party.id,
                        'channel': 'email',
                        'payload': {}}])
        in_transaction(queue)
        data = self.assertOffsets(member.json('GET', 'me/messages'),
            {kolkata})
        self.assertTrue(data['items'])

    # 2. Ids out of the range of the id columns

    def test_path_ids_out_of_range(self):
        "An id out of range in a path is 404, as an unknown id"
        member = self.login()
        organizer = self.login(organizer=True)
        routes = [
            (member, 'GET', 'services/%s/slots?date=2026-06-02'),
            (member, 'GET', 'bookings/%s'),
            (member, 'POST', 'bookings/%s/cancel'),
            (organizer, 'GET', 'events/%s/qr'),
            (organizer, 'GET', 'events/%s/stats'),
            (organizer, 'POST', 'events/%s/batch-checkin'),
            (organizer, 'POST', 'events/%s/kiosk-token'),
            (organizer, 'GET', 'events/%s/kiosk'),
            (organizer, 'GET', 'events/%s/dashboard'),
            ]
        for api, method, path in routes:
            for value in [MAX_ID] + HUGE_IDS:
                with self.subTest(path=path, value=value):
                    body = ({'member_ids': [api.member_id]}
                        if 'batch' in path else None)
                    response = api(method, path % value, body)
                    self.assertEqual(response.status_code, 404,
                        response.data)
                    self.assertEqual(response.json['error']['code'],
                        'not_found')

    def test_every_path_id_bounded(self):
        "Every route with an id in its path is 404 beyond the id columns"
        from trytond.modules.miniprogram.api import ROUTES
        routes = [r for r in ROUTES if '{' in r['path']]
        self.assertGreaterEqual(len(routes), 9)
        for route in routes:
            for value in HUGE_IDS + [0]:
                path = re.sub(r'\{\w+\}', str(value), route['path'])
                with self.subTest(method=route['method'], path=path):
                    response = self.member(route['method'], path)
                    self.assertEqual(response.status_code, 404,
                        response.data)
                    self.assertEqual(response.json['error']['code'],
                        'not_found')

    def test_body_ids_out_of_range(self):
        "An id out of range in a body or a query is 400"
        member = self.login()
        organizer = self.login(organizer=True)
        start = '2026-06-02T09:00:00+08:00'
        for value in HUGE_IDS:
            cases = [
                (member, 'POST', 'bookings', {
                        'service_id': value, 'start': start}),
                (member, 'POST', 'bookings', {
                        'service_id': self.service_id, 'start': start,
                        'resource_id': value}),
                (member, 'POST', 'checkins', self.here(
                        code='123456', event_id=value)),
                (member, 'POST', 'checkins', self.here(
                        qr_token=self.token, event_id=value)),
                (member, 'POST', 'checkins/sync', {'items': [self.here(
                                code='123456', event_id=value,
                                client_uuid=str(uuid.uuid4()),
                                client_time='2026-03-02T01:05:00Z')]}),
                (organizer, 'POST',
                    'events/%s/batch-checkin' % self.event_id,
                    {'member_ids': [member.member_id, value]}),
                (member, 'GET', 'services/%s/slots?date=2026-06-02'
                    '&resource_id=%s' % (self.service_id, value), None),
                ]
            for api, method, path, body in cases:
                with self.subTest(path=path, body=body):
                    self.assertError(api.json(method, path, body),
                        400, 'invalid_request')
        # At the bound: a well-formed id of nothing
        self.assertError(member.json('POST', 'bookings', {
                    'service_id': MAX_ID, 'start': start}),
            404, 'not_found')
        self.assertError(member.json('POST', 'checkins', self.here(
                    code='123456', event_id=MAX_ID)), 422, 'invalid_token')

    def test_schema_ids_bounded(self):
        "Every id of a path, query or body is bounded in the schema"
        from trytond.modules.miniprogram.api import ROUTES
        from trytond.modules.miniprogram.openapi import document

        def walk(schema, where):
            if not isinstance(schema, dict):
                return
            if schema.get('type') == 'integer' and re.search(
                    r'(^|_)ids?(\]|$|\[)', where):
                self.assertEqual(schema.get('maximum'), MAX_ID, where)
                self.assertEqual(schema.get('minimum'), 1, where)
            for name, item in (schema.get('properties') or {}).items():
                walk(item, '%s.%s' % (where, name) if where else name)
            if 'items' in schema:
                walk(schema['items'], where + '[]')
        for route in ROUTES:
            walk(route['body'], '')
            walk(route['query'], '')
        for path, item in document()['paths'].items():
            for operation in item.values():
                for param in operation['parameters']:
                    if param['name'].endswith('_id'):
                        self.assertEqual(param['schema'].get('maximum'),
                            MAX_ID, (path, param))
