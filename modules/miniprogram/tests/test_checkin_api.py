# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The check-in routes of the mini-program API, from a mini-program's and
an organizer's point of view."""
import datetime as dt
import json
import re
import threading
import time
import uuid
from contextlib import ExitStack
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import jwt

from trytond import backend
from trytond.model.exceptions import AccessError
from trytond.modules.checkin.tests.test_module import (
    GLAT, GLON, LAT, LON, PARIS, START, create_event, north)
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .test_auth_sms_api import set_config
from .tools import (
    Api, ApiTestMixin, create_organizer, event_token, in_transaction,
    lock_waited, member_locked)

NOW = START + dt.timedelta(minutes=5)
# The Python calls in the server of a check-in with points and of its
# duplicate (test_checkin_python_calls): measured 2,334 and 1,663 on
# PostgreSQL (the one statement of check_in_first), 6,157 and 16,517 on
# SQLite (the whole way: the duplicate read with the ORM), plus about a
# tenth.  A change of the hot path that needs more says so here.
CALL_BUDGETS = {
    'postgresql': (2570, 1830),
    'sqlite': (6770, 18200),
    }
STAFF_PASSWORD = 'Kiosk-Staff-2026'


class CheckinApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: check-in"
    module = 'miniprogram'
    frozen = NOW
    phone_prefix = '1360000'

    @classmethod
    def setUpDatabase(cls):
        organizer = create_organizer(password=STAFF_PASSWORD)
        create_event(name="Meeting", organizers=[('add', [organizer.id])])
        create_event(name="Other", organizers=[('add', [organizer.id])])
        create_event(name="Foreign")
        create_event(name="Flag policy", policy='flag', points=3)
        # Its point taken from a Chinese map
        create_event(name="Map", latitude=GLAT, longitude=GLON,
            coord_type='gcj02', radius=100)

    def setUp(self):
        super().setUp()
        with Transaction().start(DB_NAME, 0):
            Event = Pool().get('checkin.event')
            self.event, = Event.search([('name', '=', "Meeting")])
            self.event_id = self.event.id
            self.token = self.event.current_token(NOW)
            self.old_token = self.event.current_token(
                NOW - dt.timedelta(minutes=5))

    def test_events(self):
        "Open events with location, methods and checked_in"
        api = self.login()
        data = api.json('GET', 'events', expect=200)
        event = {e['name']: e for e in data['items']}["Meeting"]
        self.assertEqual(event['location']['radius_m'], 500)
        self.assertIn('qr', event['methods'])
        self.assertFalse(event['checked_in'])
        self.assertError(api.json('GET', 'events?from=2026-03-01T00:00:00Z'),
            400, 'invalid_request')

    def test_checkin_and_duplicate(self):
        "A QR check-in in range is created once; the second is 409"
        api = self.login()
        data = api.json('POST', 'checkins', self.here(
                qr_token=self.token, accuracy_m=20,
                client_uuid=str(uuid.uuid4())), expect=201)
        self.assertEqual(data['checkin']['event_id'], self.event_id)
        # The mini-program names the event on the result page
        self.assertEqual(data['checkin']['event_name'], "Meeting")
        self.assertEqual(data['checkin']['status'], 'valid')
        self.assertEqual(data['checkin']['points_awarded'], 10)
        self.assertEqual(data['member']['points_balance'], 10)
        first = data['checkin']['id']
        data = self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=self.token)), 409, 'already_checked_in')
        self.assertEqual(data['error']['details']['checkin']['id'], first)
        status, data = api.json('GET', 'events')
        event = {e['name']: e for e in data['items']}["Meeting"]
        self.assertTrue(event['checked_in'])
        status, mine = api.json('GET', 'me/checkins')
        self.assertEqual([(c['id'], c['event_name']) for c in mine['items']],
            [(first, "Meeting")])

    def test_checkin_one_statement(self):
        """On PostgreSQL a check-in with points is one statement: the
        member's lock, the look-up of its duplicate and the posting that
        inserts it (Attendance.check_in_first); another attempt of the same
        in this process is answered by the look-up of the lock statement"""
        from trytond.modules.suite.tests.tools import statements

        from .. import routes
        api = self.login()
        routes._tried.clear()
        body = self.here(qr_token=self.token)
        # On SQLite outside a transaction: the request's statements are
        # those of the whole way
        counted = (statements if backend.name == 'postgresql'
            else lambda: ExitStack())
        with counted() as executed:
            status, data = api.json('POST', 'checkins', body)
        self.assertEqual(status, 201, data)
        self.assertEqual(data['member']['points_balance'], 10)
        with counted() as again:
            self.assertError(api.json('POST', 'checkins', body),
                409, 'already_checked_in')
        if backend.name != 'postgresql':
            return
        locking = [e for e in executed if 'FOR UPDATE' in e]
        self.assertEqual(len(locking), 1, executed)
        self.assertIn('INSERT INTO "checkin_attendance"', locking[0])
        locking = [e for e in again if 'FOR UPDATE' in e]
        self.assertEqual(len(locking), 1, again)
        self.assertNotIn('INSERT', locking[0])

    def test_checkin_python_calls(self):
        """A check-in and its duplicate stay within their budgets of Python
        calls in the server (suite.tests.tools.python_calls): a figure of
        the hot path that the speed of the machine does not change, so
        that work added to it fails here instead of hiding in the noise of
        the benchmarks (scripts/profile_checkin.py --calls lists where the
        calls go)"""
        from trytond.modules.suite.tests.tools import python_calls
        body = self.here(qr_token=self.token)
        # The first check-ins of the process prepare their statements and
        # fill the caches
        for _ in range(2):
            warm = self.login()
            warm.json('POST', 'checkins', body)
            warm.json('POST', 'checkins', body)
        api = self.login()
        with python_calls() as created:
            status, data = api.json('POST', 'checkins', body)
        self.assertEqual(status, 201, data)
        with python_calls() as duplicate:
            self.assertError(api.json('POST', 'checkins', body),
                409, 'already_checked_in')
        budget, duplicate_budget = CALL_BUDGETS[backend.name]
        self.assertLessEqual(created.total, budget, created.report())
        self.assertLessEqual(
            duplicate.total, duplicate_budget, duplicate.report())

    def test_requests_keep_no_transaction(self):
        """Once the requests are answered nothing keeps their transactions
        (whose instances and caches a per-transaction memo would keep for
        the life of the worker, each request's memory and the collector's
        time growing with every request): check-ins, their duplicates and
        a read"""
        import gc
        api = self.login()
        body = self.here(qr_token=self.token)

        def alive():
            gc.collect()
            return [o for o in gc.get_objects()
                if isinstance(o, Transaction) and o.database is None]
        before = len(alive())
        for _ in range(3):
            api.json('POST', 'checkins', body)
            api.json('GET', 'me/checkins')
        self.assertLessEqual(len(alive()), before)

    def test_duplicate_answer(self):
        """The 409 of a duplicate names the check-in as its 201 did, found by
        the client UUID or by the event and day (on PostgreSQL before the
        member's lock, see Attendance.duplicate_query)"""
        _, token = event_token("Flag policy", NOW)
        for body in [
                self.here(qr_token=self.token, accuracy_m=20),
                # Out of range: flagged, with its reasons
                dict(qr_token=token, lat=LAT + 0.1, lon=LON),
                ]:
            api = self.login()
            client_uuid = str(uuid.uuid4())
            created = api.json('POST', 'checkins',
                dict(body, client_uuid=client_uuid.upper()), expect=201)
            for again in [
                    body,
                    dict(body, client_uuid=client_uuid),
                    # Another attempt of the same day
                    dict(body, client_uuid=str(uuid.uuid4())),
                    ]:
                data = self.assertError(api.json('POST', 'checkins', again),
                    409, 'already_checked_in')
                self.assertEqual(
                    data['error']['details']['checkin'], created['checkin'])
        self.assertEqual(created['checkin']['status'], 'flagged')
        self.assertEqual(created['checkin']['reasons'], ['out_of_range'])
        self.assertEqual(created['checkin']['points_awarded'], 0)

    def test_duplicate_checked_first(self):
        """A duplicate is answered only when check_in would: an expired QR
        code is refused, the client UUID of another member too, the same
        client UUID is a duplicate whatever the credential"""
        api, other = self.login(), self.login()
        client_uuid = str(uuid.uuid4())
        created = api.json('POST', 'checkins', self.here(
                qr_token=self.token, client_uuid=client_uuid), expect=201)
        data = other.json('POST', 'checkins', self.here(
                qr_token=self.token), expect=201)
        self.assertError(other.json('POST', 'checkins', self.here(
                    qr_token=self.token, client_uuid=client_uuid)),
            400, 'invalid_request')
        later = NOW + dt.timedelta(hours=1)
        with Transaction().start(DB_NAME, 0):
            Event = Pool().get('checkin.event')
            expired = Event(self.event_id).current_token(
                later - dt.timedelta(minutes=30))
        clock.freeze(later)
        self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=expired)), 422, 'qr_expired')
        data = self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=expired, client_uuid=client_uuid)),
            409, 'already_checked_in')
        self.assertEqual(
            data['error']['details']['checkin'], created['checkin'])

    def test_credential_resolved_once(self):
        """The credential of a check-in is resolved once per request: the
        look-up of its duplicate before the lock (PostgreSQL) keeps it for
        check_in; a credential refused there is refused by check_in with
        its answer"""
        Attendance = Pool(DB_NAME).get('checkin.attendance')
        resolve = Attendance._resolve_credential.__func__
        calls = []

        def counted(cls, credential, when, offline):
            calls.append(when)
            return resolve(cls, credential, when, offline)
        api = self.login()
        with patch.object(Attendance, '_resolve_credential',
                classmethod(counted)):
            api.json('POST', 'checkins', self.here(
                    qr_token=self.token, client_uuid=str(uuid.uuid4())),
                expect=201)
            self.assertEqual(calls, [NOW])
            del calls[:]
            self.assertError(api.json('POST', 'checkins', self.here(
                        qr_token='forged.token')), 422, 'invalid_token')
        # Refused before the lock, resolved again by check_in to refuse it;
        # on PostgreSQL the early answer (api.early_answer) does the same
        # before it rolls back and sends the refusal the whole way
        self.assertEqual(len(calls),
            4 if backend.name == 'postgresql' else 1)

    def test_duplicate_after_lock_wait(self):
        """A copy of a check-in sent while the first holds the member waits
        for it and answers the duplicate of the check-in then committed:
        its lock statement runs again in the same transaction, the request
        does not start again: answered before the dispatch, it does not go
        the whole way (PostgreSQL)"""
        if backend.name != 'postgresql':
            self.skipTest("PostgreSQL's row locks")
        from trytond.modules.miniprogram import api as api_module
        api = self.login()
        held, release = threading.Event(), threading.Event()

        def first():
            Attendance = Pool().get('checkin.attendance')
            result = Attendance.check_in(api.member_id,
                {'qr_token': self.token}, position=self.here())
            self.assertEqual(result.status, 'created')
            held.set()
            release.wait(10)
        holder = threading.Thread(target=in_transaction, args=(first,))
        holder.start()
        begins, early, answers = [], [], []
        begin = api_module._begin
        answer_early = api_module._answer_early

        def counted(*args, **kwargs):
            begins.append(1)
            return begin(*args, **kwargs)

        def counted_early(*args, **kwargs):
            answer = answer_early(*args, **kwargs)
            early.append(answer is not None)
            return answer
        try:
            self.assertTrue(held.wait(10))
            with patch.object(api_module, '_begin', counted), \
                    patch.object(api_module, '_answer_early', counted_early):
                copy = threading.Thread(target=lambda: answers.append(
                        api.json('POST', 'checkins', self.here(
                                qr_token=self.token))))
                copy.start()
                self.assertTrue(lock_waited(), "the copy did not wait")
                release.set()
                copy.join(20)
        finally:
            release.set()
            holder.join(20)
        self.assertError(answers[0], 409, 'already_checked_in')
        self.assertEqual(early, [True])
        self.assertEqual(len(begins), 0)

    def test_duplicate_writes_nothing(self):
        """A duplicate is counted for the stats after its transaction, with
        the other counts of the process; on PostgreSQL it is answered
        while another transaction holds the member's lock"""
        from trytond.modules.checkin import analytics
        set_config(self, 'checkin', 'attempt_write_delay', 3600)
        api = self.login()
        api.json('POST', 'checkins', self.here(
                qr_token=self.token), expect=201)

        analytics.write_waiting(DB_NAME)
        before = self.counted_duplicates()
        with ExitStack() as stack:
            if backend.name == 'postgresql':
                stack.enter_context(member_locked(api.member_id))
            with patch.object(analytics, 'write_at_once', lambda: False):
                started = time.monotonic()
                for _ in range(2):
                    self.assertError(api.json('POST', 'checkins', self.here(
                                qr_token=self.token)),
                        409, 'already_checked_in')
                self.assertLess(time.monotonic() - started, 1)
        self.assertEqual(self.counted_duplicates(), before)
        analytics.write_waiting(DB_NAME)
        self.assertEqual(self.counted_duplicates(), before + 2)
        analytics.write_waiting(DB_NAME)
        self.assertEqual(self.counted_duplicates(), before + 2)

    def counted_duplicates(self):
        "The duplicates of the event written by the attempt counter"
        with Transaction().start(DB_NAME, 0):
            Counter = Pool().get('checkin.attempt.counter')
            return Counter.counts(self.event_id).get('already_checked_in', 0)

    def test_counts_wait_while_busy(self):
        """The counts of the attempts that a busy database could not take
        wait for the next writing, logged in one line (no traceback: a lock
        is no fault); another failure is logged with its traceback"""
        from trytond.modules.checkin import analytics
        set_config(self, 'checkin', 'attempt_write_delay', 3600)
        api = self.login()
        self.assertEqual(api.json('POST', 'checkins', self.here(
                    qr_token=self.token))[0], 201)
        Counter = Pool(DB_NAME).get('checkin.attempt.counter')
        analytics.write_waiting(DB_NAME)
        before = self.counted_duplicates()
        for error, traced in [
                (backend.DatabaseOperationalError("database is locked"),
                    False),
                (ValueError("broken"), True)]:
            with patch.object(analytics, 'write_at_once', lambda: False):
                self.assertError(api.json('POST', 'checkins', self.here(
                            qr_token=self.token)), 409, 'already_checked_in')
            with patch.object(Counter, '_write', side_effect=error), \
                    self.assertLogs(analytics.logger, 'WARNING') as logs:
                analytics.write_waiting(DB_NAME)
            record, = logs.records
            self.assertIn(str(error), record.getMessage() if not traced
                else record.exc_text)
            self.assertEqual(record.exc_info is not None, traced)
            self.assertEqual(self.counted_duplicates(), before)
            analytics.write_waiting(DB_NAME)
            before += 1
            self.assertEqual(self.counted_duplicates(), before)

    def test_database_unavailable(self):
        "A database that stays unavailable is a 503 and nothing is written"
        api = self.login()
        Attendance = Pool(DB_NAME).get('checkin.attendance')
        calls = []

        def unavailable(*args, **kwargs):
            calls.append(1)
            raise backend.DatabaseOperationalError("connection lost")
        body = self.here(qr_token=self.token, client_uuid=str(uuid.uuid4()))
        with patch.object(Attendance, 'check_in', unavailable), \
                patch.object(Attendance, 'check_in_first', unavailable), \
                patch.object(Attendance, 'sync', unavailable):
            response = api('POST', 'checkins', body)
            self.assertEqual(response.headers.get('Retry-After'), '1')
            data = json.loads(response.data)
            self.assertEqual((response.status_code, data['error']['code']),
                (503, 'service_unavailable'), data)
            self.assertError(api.json('POST', 'checkins/sync', {
                        'items': [dict(body, client_time=NOW.isoformat()
                                + 'Z')]}), 503, 'service_unavailable')
        # Tryton's retries, then the answer
        self.assertGreater(len(calls), 2)
        status, data = api.json('GET', 'me/checkins')
        self.assertEqual(data['items'], [])
        # The client sends it again when the database is back
        data = api.json('POST', 'checkins', body, expect=201)

    def test_checkin_same_member_at_once(self):
        "Requests of one member at once: one check-in, the others 409"
        if backend.name != 'postgresql':
            self.skipTest("row locks waited for on PostgreSQL only")
        api = self.login()
        barrier = threading.Barrier(4)
        results = []

        def post():
            # A client per thread: requests in parallel, each in its own
            # transaction, all waiting for the member's row lock
            client = Api(self.client(), token=api.token)
            barrier.wait()
            results.append(client.json('POST', 'checkins', self.here(
                        qr_token=self.token)))
        threads = [threading.Thread(target=post) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        statuses = sorted(status for status, _ in results)
        self.assertEqual(statuses, [201, 409, 409, 409], results)
        created, = [d for s, d in results if s == 201]
        for status, data in results:
            if status == 409:
                self.assertEqual(
                    data['error']['code'], 'already_checked_in', data)
                self.assertEqual(data['error']['details']['checkin']['id'],
                    created['checkin']['id'])
        self.assertEqual(created['member']['points_balance'], 10)

        def count():
            pool = Pool()
            Attendance = pool.get('checkin.attendance')
            Member = pool.get('member.member')
            return (Attendance.search_count([
                        ('member', '=', api.member_id),
                        ('event', '=', self.event_id)]),
                Member(api.member_id).points_balance)
        self.assertEqual(in_transaction(count), (1, 10))

    def test_checkin_refusals(self):
        "Refusals: token, expiry, range, input; nothing is counted"
        api = self.login()
        self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=self.token[:-2] + 'xx')), 422, 'invalid_token')
        self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=self.old_token)), 422, 'qr_expired')
        lat, lon = north(2000), LON
        data = self.assertError(api.json('POST', 'checkins', {
                    'qr_token': self.token, 'lat': lat, 'lon': lon}),
            422, 'out_of_range')
        self.assertEqual(data['error']['details']['radius_m'], 500)
        for body in [
                self.here(),
                self.here(qr_token=self.token, nfc_tag='04A1'),
                self.here(code='123456'),
                {'qr_token': self.token, 'lat': 91, 'lon': LON},
                {'qr_token': self.token, 'lat': LAT, 'lon': 'east'},
                self.here(qr_token=self.token, client_uuid='not-a-uuid'),
                self.here(qr_token=self.token, points=100),
                ]:
            with self.subTest(body=body):
                self.assertError(api.json('POST', 'checkins', body),
                    400, 'invalid_request')
        status, mine = api.json('GET', 'me/checkins')
        self.assertTrue(all(c['status'] == 'rejected'
                for c in mine['items']))

    def test_checkin_coord_type(self):
        "GPS and map positions are compared with the event in one system"
        event_id, token = event_token("Map", NOW)
        status, data = self.login().json('GET', 'events')
        location = {e['name']: e for e in data['items']}["Map"]['location']
        self.assertEqual(location, {'lat': GLAT, 'lon': GLON,
                'coord_type': 'gcj02', 'radius_m': 100})
        # wx.getLocation's default (WGS-84), with and without coord_type,
        # and type gcj02: the same place
        for body in [self.here(), self.here(coord_type='wgs84'),
                {'lat': GLAT, 'lon': GLON, 'coord_type': 'gcj02'}]:
            with self.subTest(body=body):
                api = self.login()
                status, data = api.json('POST', 'checkins',
                    dict(body, qr_token=token))
                self.assertEqual(status, 201, data)
                self.assertEqual(data['checkin']['status'], 'valid')
                self.assertLess(data['checkin']['distance_m'], 5)
        # The map's numbers sent as GPS ones: hundreds of metres away
        api = self.login()
        data = self.assertError(api.json('POST', 'checkins', {
                    'qr_token': token, 'lat': GLAT, 'lon': GLON}),
            422, 'out_of_range')
        self.assertGreater(data['error']['details']['distance_m'], 300)

        def stored():
            Attendance = Pool().get('checkin.attendance')
            return sorted((a.coord_type, a.status) for a in
                Attendance.search([('event', '=', event_id)]))
        self.assertEqual(in_transaction(stored), [
                ('gcj02', 'valid'), ('wgs84', 'rejected'),
                ('wgs84', 'valid'), ('wgs84', 'valid')])

    def test_checkin_coord_type_refused(self):
        "An unknown system, or GCJ-02 out of China: 422, nothing recorded"
        api = self.login()
        cases = [
            (self.here(qr_token=self.token, coord_type='bd09'), 'unknown'),
            ({'qr_token': self.token, 'coord_type': 'bd09'}, 'unknown'),
            (self.here(qr_token=self.token, lat=PARIS[0], lon=PARIS[1],
                coord_type='gcj02'), 'outside_china'),
            ]
        for body, reason in cases:
            with self.subTest(body=body):
                data = self.assertError(api.json('POST', 'checkins', body),
                    422, 'invalid_coord_type')
                self.assertEqual(data['error']['details'], {
                        'coord_type': body['coord_type'],
                        'allowed': ['wgs84', 'gcj02'],
                        'reason': reason})
                self.assertIn(
                    'bd09' if reason == 'unknown' else 'out of China',
                    data['error']['message'])
        # A coordinate system is no string of any length
        self.assertError(api.json('POST', 'checkins', self.here(
                    qr_token=self.token, coord_type='x' * 17)),
            400, 'invalid_request')
        status, mine = api.json('GET', 'me/checkins')
        self.assertEqual(mine['items'], [])
        # The contract lists it
        status, doc = api.json('GET', 'openapi.json')
        operation = doc['paths']['/{database}/mp/v1/checkins']['post']
        self.assertIn('invalid_coord_type',
            operation['responses']['422']['description'])
        body = operation['requestBody']['content']['application/json']
        self.assertIn('coord_type', body['schema']['properties'])

    def test_sync_coord_type(self):
        "Each item of a batch has its own coord_type"
        event_id, token = event_token("Map", NOW)
        api = self.login()
        client_time = (NOW - dt.timedelta(seconds=10)).isoformat() + 'Z'
        items = [
            {'qr_token': token, 'lat': GLAT, 'lon': GLON,
                'coord_type': 'gcj02', 'client_uuid': str(uuid.uuid4()),
                'client_time': client_time},
            {'qr_token': self.token, 'lat': LAT, 'lon': LON,
                'coord_type': 'bd09', 'client_uuid': str(uuid.uuid4()),
                'client_time': client_time},
            {'qr_token': self.token, 'lat': PARIS[0], 'lon': PARIS[1],
                'coord_type': 'gcj02', 'client_uuid': str(uuid.uuid4()),
                'client_time': client_time},
            ]
        data = api.json('POST', 'checkins/sync', {'items': items}, expect=200)
        self.assertEqual([r['status'] for r in data['results']],
            ['created', 'error', 'error'])
        self.assertLess(data['results'][0]['checkin']['distance_m'], 5)
        self.assertEqual(
            [(r['error']['code'], r['error']['details']['reason'])
                for r in data['results'][1:]],
            [('invalid_coord_type', 'unknown'),
                ('invalid_coord_type', 'outside_china')])
        status, mine = api.json('GET', 'me/checkins')
        self.assertEqual([c['event_id'] for c in mine['items']], [event_id])

    def test_sync(self):
        "An offline batch gets one result per item; resending is harmless"
        api = self.login()
        other = self.login()
        items = [
            self.here(qr_token=self.token, client_uuid=str(uuid.uuid4()),
                client_time=(NOW - dt.timedelta(seconds=10)).isoformat()
                + 'Z'),
            self.here(qr_token='bad', client_uuid=str(uuid.uuid4()),
                client_time=NOW.isoformat() + 'Z'),
            ]
        data = api.json('POST', 'checkins/sync', {'items': items}, expect=200)
        self.assertEqual([r['status'] for r in data['results']],
            ['created', 'error'])
        self.assertEqual(data['results'][1]['error']['code'], 'invalid_token')
        status, again = api.json('POST', 'checkins/sync', {'items': items})
        self.assertEqual(again['results'][0]['status'], 'duplicate')
        self.assertEqual(again['results'][0]['checkin']['id'],
            data['results'][0]['checkin']['id'])
        # Another member's client UUID is not theirs to replay
        status, stolen = other.json('POST', 'checkins/sync',
            {'items': items[:1]})
        self.assertEqual(stolen['results'][0]['status'], 'error')
        self.assertError(api.json('POST', 'checkins/sync', {'items': [
                        self.here(qr_token=self.token)]}),
            400, 'invalid_request')
        self.assertError(api.json('POST', 'checkins/sync', {'items': [
                        items[0]] * 101}), 400, 'invalid_request')

    def test_organizer_routes(self):
        "Only a member linked to an organizing user gets QR and stats"
        member = self.login()
        organizer = self.login(organizer=True)
        for path in ['events/%s/qr', 'events/%s/stats']:
            with self.subTest(path=path):
                self.assertError(member.json('GET', path % self.event_id),
                    403, 'forbidden')
        qr = organizer.json('GET', 'events/%s/qr' % self.event_id, expect=200)
        self.assertEqual(qr['token'], self.token)
        self.assertTrue(qr['png'])
        self.assertIn('<svg', qr['svg'])
        # The token of the QR is accepted
        member.json('POST', 'checkins', self.here(
                qr_token=qr['token']), expect=201)
        stats = organizer.json(
            'GET', 'events/%s/stats' % self.event_id, expect=200)
        self.assertGreaterEqual(stats['checked_in'], 1)
        # Batch check-in by the organizer
        third = self.login()
        batch = organizer.json('POST', 'events/%s/batch-checkin'
            % self.event_id, {'member_ids': [member.member_id,
                    third.member_id]}, expect=200)
        self.assertEqual([r['status'] for r in batch['results']],
            ['duplicate', 'created'])
        # An unknown member is refused on its own (per-member results)
        batch = organizer.json('POST', 'events/%s/batch-checkin'
            % self.event_id, {'member_ids': [999999]}, expect=200)
        self.assertEqual([(r['status'], r['error']['code'])
                for r in batch['results']], [('error', 'not_found')])
        self.assertError(member.json('POST', 'events/%s/batch-checkin'
                % self.event_id, {'member_ids': [third.member_id]}),
            403, 'forbidden')
        self.assertError(organizer.json('GET', 'events/999999/qr'),
            404, 'not_found')

    def test_organizer_events(self):
        "organizer/events: the events the user organizes, and their figures"
        member = self.login()
        self.assertError(member.json('GET', 'organizer/events'),
            403, 'forbidden')
        organizer = self.login(organizer=True)
        data = organizer.json('GET', 'organizer/events', expect=200)
        # Not "Foreign", organized by nobody
        self.assertEqual(sorted(e['name'] for e in data['items']),
            ["Meeting", "Other"])
        self.assertEqual(data['total'], 2)
        meeting, = [e for e in data['items'] if e['name'] == "Meeting"]
        self.assertEqual((meeting['id'], meeting['state'], meeting['is_open'],
                meeting['expected']), (self.event_id, 'open', True, None))
        member.json('POST', 'checkins', self.here(
                qr_token=self.token), expect=201)
        page = organizer.json('GET', 'organizer/events?limit=1', expect=200)
        self.assertEqual((len(page['items']), page['total']), (1, 2))
        status, data = organizer.json('GET', 'organizer/events')
        meeting, = [e for e in data['items'] if e['name'] == "Meeting"]
        self.assertEqual(meeting['attendance_count'],
            in_transaction(lambda: Pool().get('checkin.event')(
                    self.event_id).checked_in))
        self.assertGreaterEqual(meeting['attendance_count'], 1)
        # After its end an event is no longer open for check-in
        clock.freeze(NOW + dt.timedelta(hours=3))
        status, data = organizer.json('GET', 'organizer/events')
        self.assertEqual({e['is_open'] for e in data['items']}, {False})
        # The same list with a staff token
        api = Api(self.client())
        tokens = api.json('POST', 'auth/staff', {
                'login': 'organizer', 'password': STAFF_PASSWORD}, expect=200)
        staff = Api(self.client(), token=tokens['access_token'])
        data = staff.json('GET', 'organizer/events', expect=200)
        self.assertEqual(data['total'], 2)

    def test_daily_without_sign_in_event(self):
        "The daily sign-in needs the sign-in event of the configuration"
        api = self.login()
        self.assertError(api.json('POST', 'checkins/daily', {}),
            422, 'event_not_open')

    def event_id_of(self, name):
        def get():
            Event = Pool().get('checkin.event')
            event, = Event.search([('name', '=', name)])
            return event.id
        return in_transaction(get)

    def test_staff_token(self):
        "A Tryton user's staff token opens the organizer routes it may use"
        api = Api(self.client())
        self.assertError(api.json('POST', 'auth/staff', {
                    'login': 'organizer', 'password': 'wrong-password'}),
            401, 'invalid_credentials')
        self.assertError(api.json('POST', 'auth/staff', {
                    'login': 'miniprogram', 'password': 'anything'}),
            401, 'invalid_credentials')
        self.assertError(api.json('POST', 'auth/staff', {
                    'login': 'organizer', 'password': STAFF_PASSWORD,
                    'role': 'admin'}), 400, 'invalid_request')
        data = api.json('POST', 'auth/staff', {
                'login': 'organizer', 'password': STAFF_PASSWORD}, expect=200)
        self.assertEqual(data['token_type'], 'Bearer')
        staff = Api(self.client(), token=data['access_token'])
        qr = staff.json('GET', 'events/%s/qr' % self.event_id, expect=200)
        self.assertEqual(qr['token'], self.token)
        # Not an organizer of that event (it is not even visible), not a
        # member
        self.assertError(staff.json('GET', 'events/%s/stats'
                % self.event_id_of("Foreign")), 404, 'not_found')
        self.assertError(staff.json('GET', 'me'), 401, 'unauthorized')

    def test_staff_login_throttled(self):
        "Repeated failed staff logins are answered 429 with Retry-After"
        api = Api(self.client())

        def forget():
            Attempt = Pool().get('res.user.login.attempt')
            Attempt.delete(Attempt.search([]))
        self.addCleanup(in_transaction, forget)
        # Tryton delays each failed login a random time: not in a test
        with patch('time.sleep'):
            for _ in range(6):
                self.assertError(api.json('POST', 'auth/staff', {
                            'login': 'organizer', 'password': 'guess'}),
                    401, 'invalid_credentials')
            response = api('POST', 'auth/staff', {
                    'login': 'organizer', 'password': STAFF_PASSWORD})
        self.assertEqual(response.status_code, 429, response.data)
        self.assertEqual(json.loads(response.data)['error']['code'],
            'rate_limited')
        self.assertGreaterEqual(int(response.headers['Retry-After']), 1)

    def test_kiosk_token(self):
        "A kiosk token shows the QR code and the figures of its event only"
        member = self.login()
        organizer = self.login(organizer=True)
        path = 'events/%s/kiosk-token' % self.event_id
        self.assertError(member.json('POST', path), 403, 'forbidden')
        status, data = organizer.json('POST', path)
        self.assertEqual(status, 201, data)
        kiosk_token = data['token']
        claims = jwt.decode(kiosk_token, options={'verify_signature': False})
        self.assertEqual((claims['typ'], claims['evt']),
            ('kiosk', self.event_id))
        url = urlsplit(data['kiosk_url'])
        self.assertTrue(url.path.endswith(
                '/mp/v1/events/%s/kiosk' % self.event_id), url)
        self.assertEqual(parse_qs(url.query)['token'], [kiosk_token])
        self.assertIn('/dashboard?token=', data['dashboard_url'])

        kiosk = Api(self.client(), token=kiosk_token)
        for route in ['qr', 'stats']:
            with self.subTest(route=route):
                answer = kiosk.json(
                    'GET', 'events/%s/%s' % (self.event_id, route), expect=200)
                # A TV browser gives it in the address
                status, answer = Api(self.client()).json('GET',
                    'events/%s/%s?token=%s' % (
                        self.event_id, route, kiosk_token))
                self.assertEqual(status, 200, answer)
        # Nothing else: no batch check-in, no other event, no member route,
        # no token creation
        self.assertError(kiosk.json('POST', 'events/%s/batch-checkin'
                % self.event_id, {'member_ids': [member.member_id]}),
            403, 'forbidden')
        self.assertError(kiosk.json('POST', path), 403, 'forbidden')
        self.assertError(kiosk.json('GET', 'events/%s/qr'
                % self.event_id_of("Other")), 403, 'forbidden')
        self.assertError(kiosk.json('GET', 'me'), 401, 'unauthorized')
        # Other tokens are never accepted in the address
        self.assertError(Api(self.client()).json('GET',
                'events/%s/qr?token=%s' % (self.event_id, organizer.token)),
            401, 'unauthorized')
        self.assertError(Api(self.client()).json('GET',
                'events/%s/qr?token=%s' % (
                    self.event_id, kiosk_token[:-3] + 'xyz')),
            401, 'unauthorized')
        # The event is over an hour after its end
        with Transaction().start(DB_NAME, 0):
            end = Pool().get('checkin.event')(self.event_id).end
        clock.freeze(end + dt.timedelta(hours=2))
        self.assertError(organizer.json('POST', path), 422, 'event_not_open')

    def test_kiosk_page(self):
        "The kiosk and dashboard pages embed a kiosk token of their event"
        member = self.login()
        organizer = self.login(organizer=True)
        status, data = organizer.json(
            'POST', 'events/%s/kiosk-token' % self.event_id)
        kiosk_token = data['token']
        anonymous = Api(self.client())
        for page in ['kiosk', 'dashboard']:
            with self.subTest(page=page):
                path = 'events/%s/%s' % (self.event_id, page)
                response = anonymous('GET', path + '?token=' + kiosk_token,
                    headers={'Accept-Language': 'zh-CN,zh;q=0.9'})
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.content_type.startswith(
                        'text/html'))
                html = response.get_data(as_text=True)
                self.assertIn('<title>Meeting</title>', html)
                self.assertIn('扫码签到' if page == 'kiosk' else '实时看板',
                    html)
                self.assertIn("default-src 'none'",
                    response.headers['Content-Security-Policy'])
                config = json.loads(re.search(
                        r'<script type="application/json" id="config">'
                        r'(.*?)</script>', html, re.S).group(1))
                self.assertEqual(config['token'], kiosk_token)
                self.assertTrue(config['base'].endswith(
                        '/mp/v1/events/%s/' % self.event_id))
                # With an organizer's bearer token, a kiosk token is made
                response = organizer('GET', path)
                self.assertEqual(response.status_code, 200)
                config = json.loads(re.search(
                        r'id="config">(.*?)</script>',
                        response.get_data(as_text=True), re.S).group(1))
                self.assertEqual(jwt.decode(config['token'],
                        options={'verify_signature': False})['typ'],
                    'kiosk')
                # Errors stay JSON
                self.assertError(anonymous.json('GET', path),
                    401, 'unauthorized')
                self.assertError(member.json('GET', path), 403, 'forbidden')

    def test_kiosk_wizard(self):
        "The Kiosk Screen button of the client gives the two addresses"
        def run():
            pool = Pool()
            User = pool.get('res.user')
            Event = pool.get('checkin.event')
            EventKiosk = pool.get('miniprogram.event.kiosk', type='wizard')
            user, = User.search([('login', '=', 'organizer')])
            foreign, = Event.search([('name', '=', "Foreign")])
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                event = Event(self.event_id)
                session_id, _, _ = EventKiosk.create()
                with Transaction().set_context(
                        active_model='checkin.event', active_id=event.id,
                        active_ids=[event.id]):
                    result = EventKiosk.execute(session_id, {}, 'start')
                values = result['view']['defaults']
                self.assertIn('/%s/mp/v1/events/%s/kiosk?token=' % (
                        DB_NAME, event.id), values['kiosk_url'])
                self.assertIn('/dashboard?token=', values['dashboard_url'])
                with self.assertRaises(AccessError):
                    Event(foreign.id).kiosk_urls()
        in_transaction(run)


class CheckinLanguagesTestCase(ApiTestMixin, RouteTestCase):
    """What the staff and members read is rendered in their language: the
    codes of the API and the stored reasons stay codes and parameters"""
    module = 'miniprogram'
    language = 'zh_CN'
    frozen = NOW
    phone_prefix = '1360000'
    _phones = iter(range(500, 10 ** 6))

    @classmethod
    def setUpDatabase(cls):
        CheckinApiTestCase.setUpDatabase.__func__(cls)
        create_event(name="Flagging", policy='flag',
            organizers=[('add', [Pool().get('res.user').search(
                            [('login', '=', 'organizer')])[0].id])])

    def setUp(self):
        super().setUp()
        with Transaction().start(DB_NAME, 0):
            Event = Pool().get('checkin.event')
            self.event, = Event.search([('name', '=', "Meeting")])
            self.event_id = self.event.id
            self.token = self.event.current_token(NOW)

    def check_in_far(self):
        "A member checks in 2 km away from the flagging event"
        api = self.login()
        _, token = event_token("Flagging", NOW)
        data = api.json('POST', 'checkins', {
                'qr_token': token, 'lat': north(2000), 'lon': LON}, expect=201)
        self.assertEqual(data['checkin']['status'], 'flagged')
        return api, data['checkin']

    def test_dashboard_labels(self):
        "The dashboard shows methods and statuses with the models' labels"
        self.check_in_far()
        organizer = self.login(organizer=True)
        expected = {
            'zh-CN': ("动态二维码", "待审核", "有效"),
            'en': ("Rotating QR Code", "Flagged", "Valid"),
            }
        for language, (qr, flagged, valid) in expected.items():
            with self.subTest(language=language):
                response = organizer('GET',
                    'events/%s/dashboard' % self.event_id,
                    headers={'Accept-Language': language})
                self.assertEqual(response.status_code, 200)
                config = json.loads(re.search(r'id="config">(.*?)</script>',
                        response.get_data(as_text=True), re.S).group(1))
                self.assertEqual(config['methods']['qr'], qr)
                self.assertEqual(config['statuses']['flagged'], flagged)
                self.assertEqual(config['statuses']['valid'], valid)
                # The feed keeps the codes of API.md
                stats = organizer.json('GET',
                    'events/%s/stats' % self.event_id, expect=200)
                for recent in stats['recent']:
                    self.assertIn(recent['status'], config['statuses'])
                    self.assertIn(recent['method'], config['methods'])

    def test_error_languages(self):
        "The error texts of the API in the language of Accept-Language"
        api = self.login()
        cases = [
            # invalid_request of the schema, the route, the JSON parser
            ('POST', 'checkins', {'qr_token': 7}, 400,
                "body.qr_token 必须是 string 类型。",
                "body.qr_token must be of type string."),
            ('POST', 'checkins', {'qr_token': 'x', 'nfc_tag': 'y'}, 400,
                "请只提供 qr_token、code（需同时提供 event_id）或 nfc_tag "
                "中的一项。",
                "Give exactly one of qr_token, code (with event_id) or "
                "nfc_tag."),
            ('GET', 'events?from=2026-03-02T10:00:00Z', None, 400,
                "请同时提供 from 和 to，或都不提供。",
                "Give both from and to, or none."),
            ('GET', 'me/points?limit=0', None, 400,
                "query.limit 不能小于 1。", "query.limit must be at least 1."),
            # not_found of the model, of the middleware
            ('GET', 'events/%s/stats' % 999999, None, 404,
                "没有这个活动。", "There is no such event."),
            ('GET', 'no/such/route', None, 404,
                "此地址没有内容。", "There is nothing at this address."),
            ]
        organizer = self.login(organizer=True)
        for method, path, body, status, chinese, english in cases:
            client = organizer if path.startswith('events/') else api
            for language, text in [('zh-CN,zh;q=0.9', chinese),
                    ('en-US', english)]:
                with self.subTest(path=path, language=language):
                    response = client(method, path, body,
                        headers={'Accept-Language': language})
                    error = json.loads(response.data)['error']
                    self.assertEqual(response.status_code, status, error)
                    self.assertEqual(error['message'], text)
        # A refused JSON body: the parser's reason stays in details
        response = api('POST', 'checkins', raw='{"a": NaN}',
            headers={'Accept-Language': 'zh-CN'})
        error = json.loads(response.data)['error']
        self.assertEqual(error['message'], "请求体不是有效的 JSON。")

    def test_points_reason_languages(self):
        "The ledger reasons of me/points in the language of the request"
        api = self.login()
        data = api.json('POST', 'checkins', {
                'qr_token': self.token, 'lat': LAT, 'lon': LON},
            headers={'Accept-Language': 'zh-CN'}, expect=201)
        expected = {
            'zh-CN': "签到：Meeting（2026-03-02）",
            'en': "Check-in: Meeting (2026-03-02)",
            }
        for language, reason in expected.items():
            with self.subTest(language=language):
                data = api.json('GET', 'me/points',
                    headers={'Accept-Language': language}, expect=200)
                self.assertEqual(
                    [l['reason'] for l in data['items']], [reason])

    def test_points_reason_client(self):
        "The client reads and searches the reasons in the user's language"
        api = self.login()
        api.json('POST', 'checkins', {
                'qr_token': self.token, 'lat': LAT, 'lon': LON}, expect=201)
        expected = {
            'zh_CN': ("签到：Meeting（2026-03-02）", '%签到%'),
            'en': ("Check-in: Meeting (2026-03-02)", '%check-in%'),
            }
        for language, (reason, search) in expected.items():
            with self.subTest(language=language), \
                    Transaction().start(DB_NAME, 0, context={
                            'language': language}):
                Line = Pool().get('member.points.line')
                line, = Line.search([('member', '=', api.member_id)])
                self.assertEqual(line.reason, reason)
                self.assertEqual(line.reason_code,
                    'checkin.msg_points_reason')
                self.assertEqual(line.rec_name, '+10 %s: %s' % (
                        line.member.rec_name, reason))
                self.assertEqual(Line.search([
                            ('member', '=', api.member_id),
                            ('reason', 'ilike', search)]), [line])
                self.assertEqual(Line.search([
                            ('member', '=', api.member_id),
                            ('reason', 'ilike', '%Meeting%')]), [line])
                self.assertEqual(Line.search([
                            ('member', '=', api.member_id),
                            ('rec_name', 'ilike', search)]), [line])

    def test_invalid_coord_type_languages(self):
        "invalid_coord_type explains itself in the member's language"
        api = self.login()
        cases = [
            ({'coord_type': 'bd09'}, {
                    'zh-CN': "坐标系“bd09”不是 wgs84, gcj02 之一。",
                    'en': "The coordinate system \"bd09\" is not one of "
                    "wgs84, gcj02."}),
            ({'lat': PARIS[0], 'lon': PARIS[1], 'coord_type': 'gcj02'}, {
                    'zh-CN': "位置在中国境外：不可能使用中国地图的坐标系"
                    "“gcj02”。",
                    'en': "The position is out of China: it cannot be in "
                    "the coordinate system \"gcj02\" of the Chinese maps."}),
            ]
        for body, messages in cases:
            for language, message in messages.items():
                with self.subTest(body=body, language=language):
                    response = api('POST', 'checkins',
                        dict(body, qr_token=self.token),
                        headers={'Accept-Language': language})
                    error = json.loads(response.data)['error']
                    self.assertEqual(
                        (response.status_code, error['code']),
                        (422, 'invalid_coord_type'), error)
                    self.assertEqual(error['message'], message)

    def test_review_details_languages(self):
        "The details of a flagged check-in in the reviewer's language"
        api, checkin = self.check_in_far()
        expected = {
            'zh_CN': "您距离活动地点太远：相距 2000 米，限制为 500 米。",
            'en': "You are too far from the event: 2000 m away, the limit "
            "is 500 m.",
            }
        for language, details in expected.items():
            with self.subTest(language=language), \
                    Transaction().start(DB_NAME, 0, context={
                            'language': language}):
                Attendance = Pool().get('checkin.attendance')
                attendance = Attendance(checkin['id'])
                self.assertEqual(attendance.reason_details, details)

    def test_migrate_stored_texts(self):
        "Reasons and details stored as text get their codes and figures"
        api, checkin = self.check_in_far()
        member = self.login()
        member.json('POST', 'checkins', {
                'qr_token': self.token, 'lat': LAT, 'lon': LON}, expect=201)
        with Transaction().start(DB_NAME, 0, context={
                    'language': 'en'}) as transaction:
            pool = Pool()
            Line = pool.get('member.points.line')
            Attendance = pool.get('checkin.attendance')
            cursor = transaction.connection.cursor()
            line = Line.__table__()
            attendance = Attendance.__table__()
            # As the lines and check-ins were stored before
            cursor.execute(*line.update(
                    [line.reason_code, line.reason_params, line.reason_text],
                    [None, None,
                        "签到：Meeting（2026-03-02）"],
                    where=line.member == member.member_id))
            cursor.execute(*attendance.update([attendance.reason_data],
                    [None], where=attendance.id == checkin['id']))
            Line._migrate_reasons()
            Attendance._migrate_reason_data()
            Line._migrate_reasons()  # twice changes nothing
            line, = Line.search([('member', '=', member.member_id)])
            self.assertEqual(line.reason_code, 'checkin.msg_points_reason')
            self.assertEqual(dict(line.reason_params),
                {'event': "Meeting", 'date': '2026-03-02'})
            self.assertIsNone(line.reason_text)
            far = Attendance(checkin['id'])
            self.assertEqual(far.reason_data['out_of_range']['distance_m'],
                2000)
            self.assertEqual(far.reason_details, "You are too far from the "
                "event: 2000 m away, the limit is 500 m.")
            transaction.rollback()
