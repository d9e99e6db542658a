# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The intake of check-ins: 202 with a receipt when the database is
saturated, recorded later by the worker, exactly once."""
import datetime as dt
import threading
import time
import uuid
from unittest.mock import patch

from trytond import backend
from trytond.modules.checkin.tests.test_module import (
    LAT, LON, START, create_event)
from trytond.modules.member import prepared
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .. import saturation
from .test_auth_sms_api import set_config
from .tools import Api, ApiTestMixin, event_token, member_locked

NOW = START + dt.timedelta(minutes=5)


def drain(**kwargs):
    "Run the worker of the intake in a transaction of its own"
    with Transaction().start(DB_NAME, 0):
        return Pool().get('miniprogram.checkin.intake').drain(**kwargs)


class IntakeApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: the intake of check-ins"
    module = 'miniprogram'
    frozen = NOW
    phone_prefix = '1350000'

    @classmethod
    def setUpDatabase(cls):
        create_event(name="Intake")
        create_event(name="Intake other")

    def setUp(self):
        super().setUp()
        saturation.reset()
        self.addCleanup(saturation.reset)
        set_config(self, 'miniprogram', 'intake', 'always')
        self.event_id, self.token = event_token("Intake", NOW)
        _, self.other_token = event_token("Intake other", NOW)

    def checkins(self, api):
        with Transaction().start(DB_NAME, 0):
            Attendance = Pool().get('checkin.attendance')
            return Attendance.search([('member', '=', api.member_id)])

    def assertPending(self, api, body, **kwargs):
        data = api.json('POST', 'checkins', body, **kwargs, expect=202)
        self.assertEqual(data['status'], 'pending')
        self.assertRegex(data['receipt'], '^[0-9a-f]{32}$')
        return data['receipt']

    def test_receipt_pending_then_recorded(self):
        "202 with a receipt, pending until the worker records it once"
        api = self.login()
        receipt = self.assertPending(api, self.here(qr_token=self.token))
        self.assertEqual(self.checkins(api), [])
        status, data = api.json('GET', 'checkins/receipts/' + receipt)
        self.assertEqual((status, data),
            (202, {'status': 'pending', 'receipt': receipt}))

        self.assertEqual(drain(), 1)
        status, data = api.json('GET', 'checkins/receipts/' + receipt)
        self.assertEqual(status, 201, data)
        self.assertEqual(data['checkin']['event_id'], self.event_id)
        self.assertEqual(data['checkin']['status'], 'valid')
        self.assertEqual(data['checkin']['points_awarded'], 10)
        self.assertEqual(data['member']['points_balance'], 10)
        # The client_uuid derived from the receipt: once, whatever happens
        self.assertEqual(data['checkin']['client_uuid'],
            str(uuid.UUID(receipt)))
        checkin, = self.checkins(api)
        self.assertEqual(checkin.id, data['checkin']['id'])

        # Recorded once: the worker finds nothing more
        self.assertEqual(drain(), 0)
        self.assertEqual(len(self.checkins(api)), 1)
        with Transaction().start(DB_NAME, 0):
            Intake = Pool().get('miniprogram.checkin.intake')
            item, = Intake.search([('receipt', '=', receipt)])
            self.assertEqual(item.state, 'done')
            self.assertEqual(item.status, 201)
            self.assertEqual(item.attendance.id, checkin.id)
            self.assertEqual(item.event.id, self.event_id)
            self.assertEqual(item.member.id, api.member_id)
            self.assertEqual(
                Intake.search([('member', '=', api.member_id)]), [item])

    def test_refusal_is_its_error_object(self):
        "A check-in refused by the worker answers the error it would get"
        api = self.login()
        first = self.assertPending(api, self.here(qr_token=self.token))
        second = self.assertPending(api, self.here(qr_token=self.token))
        forged = self.assertPending(api, self.here(
                qr_token=self.token[:-2] + 'xx'))
        self.assertEqual(drain(), 3)
        data = api.json('GET', 'checkins/receipts/' + first, expect=201)
        checkin_id = data['checkin']['id']
        data = api.json('GET', 'checkins/receipts/' + second, expect=409)
        self.assertEqual(data['error']['code'], 'already_checked_in')
        self.assertEqual(data['error']['details']['checkin']['id'],
            checkin_id)
        data = api.json('GET', 'checkins/receipts/' + forged, expect=422)
        self.assertEqual(data['error']['code'], 'invalid_token')
        self.assertEqual(len(self.checkins(api)), 1)

    def test_language_kept(self):
        "The item keeps the language of the request for its answer"
        api = self.login()
        api.language = 'zh-CN'
        receipt = self.assertPending(api, self.here(qr_token=self.token))
        with Transaction().start(DB_NAME, 0):
            Intake = Pool().get('miniprogram.checkin.intake')
            item, = Intake.search([('receipt', '=', receipt)])
            self.assertEqual(item.language, 'zh_CN')

    def test_validated_before_intake(self):
        "Credential, position and member are checked before the 202"
        api = self.login()
        for body, status, code in [
                ({'lat': LAT, 'lon': LON}, 400, 'invalid_request'),
                (self.here(qr_token=self.token, coord_type='bd09'), 422,
                    'invalid_coord_type'),
                (self.here(qr_token=self.token, lat=None, lon=LON), 400,
                    'invalid_request'),
                ]:
            self.assertError(api.json('POST', 'checkins', body), status, code)
        got, data = Api(self.client(), token='nope').json(
            'POST', 'checkins', self.here(qr_token=self.token))
        self.assertEqual(got, 401, data)
        with Transaction().start(DB_NAME, 0):
            Intake = Pool().get('miniprogram.checkin.intake')
            self.assertEqual(Intake.search(
                    [('member', '=', api.member_id)]), [])

    def spy_dispatch(self):
        """The paths of the requests that reach Tryton's dispatch behind
        the API's middleware (not answered early), until the test ends"""
        from trytond.wsgi import app
        middleware = app.wsgi_app
        inner, dispatched = middleware.app, []

        def spy(environ, start_response):
            dispatched.append(environ['PATH_INFO'])
            return inner(environ, start_response)
        middleware.app = spy
        self.addCleanup(setattr, middleware, 'app', inner)
        return dispatched

    def test_answered_before_dispatch(self):
        """Saturated, a valid check-in is answered by the middleware
        (api.early_answer) with the item the whole way makes; any refusal,
        a request with an Origin and an unsaturated database go the whole
        way, with its answers"""
        dispatched = self.spy_dispatch()
        api, other = self.login(), self.login()
        other.language = 'zh-CN'

        def item(receipt):
            with Transaction().start(DB_NAME, 0):
                Intake = Pool().get('miniprogram.checkin.intake')
                item, = Intake.search([('receipt', '=', receipt)])
                return (item.member_id, item.event and item.event.id,
                    item.client_uuid, item.language, item.state,
                    item.received, item.create_uid.login)

        del dispatched[:]
        client_uuid = str(uuid.uuid4()).upper()
        with patch.object(prepared, 'run_alone',
                wraps=prepared.run_alone) as alone, \
                patch.object(prepared, 'sealed',
                    wraps=prepared.sealed) as sealed:
            early = self.assertPending(api, self.here(
                    qr_token=self.token, client_uuid=client_uuid))
        self.assertEqual(dispatched, [])
        # The append is committed by itself, sent by libpq (PostgreSQL),
        # and the rest of the answer writes nothing
        postgresql = backend.name == 'postgresql'
        self.assertEqual(
            (alone.call_count, sealed.call_count), (1, 1) if postgresql
            else (0, 0))
        self.assertEqual(self.assertPending(api, self.here(
                    qr_token=self.token, client_uuid=client_uuid)), early)
        self.assertEqual(dispatched, [])
        self.assertEqual(item(early), (api.member_id, self.event_id,
                client_uuid.lower(), 'en', 'pending', NOW,
                'miniprogram'))

        # The event a token names is kept when it exists
        window = self.token.split('.')[1]
        unknown = self.assertPending(other, self.here(
                qr_token='999999.%s.%s' % (window, 'A' * 22)))
        self.assertEqual(dispatched, [])
        self.assertEqual(item(unknown)[:2], (other.member_id, None))

        # The whole way: an Origin
        whole = self.assertPending(other, self.here(qr_token=self.token),
            headers={'Origin': 'null'})
        self.assertEqual(len(dispatched), 1)
        self.assertEqual(item(whole), (other.member_id, self.event_id,
                None, 'zh_CN', 'pending', NOW, 'miniprogram'))

        # Refusals: the whole way and its errors
        for body, status, code in [
                ({'lat': LAT, 'lon': LON}, 400, 'invalid_request'),
                (self.here(qr_token=self.token, code='123456'), 400,
                    'invalid_request'),
                (self.here(qr_token=self.token, coord_type='bd09'), 422,
                    'invalid_coord_type'),
                (self.here(qr_token=self.token, client_uuid='x'), 400,
                    'invalid_request'),
                ]:
            del dispatched[:]
            self.assertError(api.json('POST', 'checkins', body), status, code)
            self.assertEqual(len(dispatched), 1, body)
        del dispatched[:]
        response = api('POST', 'checkins', raw='{"qr_token": 1,}')
        self.assertEqual(response.status_code, 400)
        response = api('POST', 'checkins', self.here(qr_token=self.token),
            token='nope')
        self.assertEqual(response.status_code, 401)
        self.assertEqual(len(dispatched), 2)
        with Transaction().start(DB_NAME, 0):
            Member = Pool().get('member.member')
            Member.write([Member(other.member_id)], {'active': False})
        del dispatched[:]
        self.assertError(other.json('POST', 'checkins', self.here(
                    qr_token=self.token)), 401, 'unauthorized')
        self.assertEqual(len(dispatched), 1)

        # Not saturated: recorded at once (before the dispatch on
        # PostgreSQL, see test_checkin_before_dispatch)
        set_config(self, 'miniprogram', 'intake', 'off')
        del dispatched[:]
        data = api.json('POST', 'checkins', self.here(
                qr_token=self.other_token), expect=201)
        self.assertEqual(len(dispatched),
            0 if backend.name == 'postgresql' else 1)

        # Every item is recorded by the worker
        self.assertEqual(drain(), 3)
        data = api.json('GET', 'checkins/receipts/' + early, expect=201)
        self.assertEqual(data['checkin']['client_uuid'], client_uuid.lower())

    def test_checkin_before_dispatch(self):
        """Not saturated, on PostgreSQL, a created check-in is recorded and
        answered by the middleware (api.early_answer) as the whole way
        answers it, its time noted for the intake's auto mode, and so is a
        duplicate; a refusal and an inactive member go the whole way with
        their answers.  On SQLite every check-in goes the whole way."""
        dispatched = self.spy_dispatch()
        set_config(self, 'miniprogram', 'intake', 'off')
        early = backend.name == 'postgresql'
        api, other, far = self.login(), self.login(), self.login()
        del dispatched[:]

        client_uuid = str(uuid.uuid4())
        body = self.here(qr_token=self.token, client_uuid=client_uuid)
        data = api.json('POST', 'checkins', body, expect=201)
        self.assertEqual(len(dispatched), 0 if early else 1)
        self.assertEqual(len(saturation._latencies), 1)
        # The same answer as the whole way's (an Origin goes the whole way)
        del dispatched[:]
        status, whole = other.json('POST', 'checkins',
            self.here(qr_token=self.token), headers={'Origin': 'null'})
        self.assertEqual(status, 201, whole)
        self.assertEqual(len(dispatched), 1)
        self.assertEqual(sorted(data), sorted(whole))
        self.assertEqual(sorted(data['checkin']), sorted(whole['checkin']))
        self.assertEqual(data['checkin']['client_uuid'], client_uuid)
        self.assertEqual(data['checkin']['points_awarded'],
            whole['checkin']['points_awarded'])
        attendance, = self.checkins(api)
        with Transaction().start(DB_NAME, 0):
            Attendance = Pool().get('checkin.attendance')
            attendance = Attendance(attendance.id)
            self.assertEqual(attendance.id, data['checkin']['id'])
            self.assertEqual(attendance.create_uid.login, 'miniprogram')
            self.assertEqual(attendance.member.points_balance,
                data['checkin']['points_awarded'])

        # A duplicate: answered early as the whole way answers it
        del dispatched[:]
        got, dup = api.json('POST', 'checkins', body)
        self.assertEqual((got, dup['error']['code']),
            (409, 'already_checked_in'))
        self.assertEqual(len(dispatched), 0 if early else 1)
        self.assertEqual(len(saturation._latencies), 3)
        got, whole_dup = api.json('POST', 'checkins', body,
            headers={'Origin': 'null'})
        self.assertEqual(got, 409)
        self.assertEqual(len(dispatched), 1 if early else 2)
        self.assertEqual(dup, whole_dup)
        self.assertEqual(dup['error']['details']['checkin']['id'],
            data['checkin']['id'])

        # The whole way: a refusal, an inactive member
        del dispatched[:]
        got, refused = api.json('POST', 'checkins', self.here(
                qr_token='%s.1.%s' % (self.event_id, 'A' * 22)))
        self.assertEqual((got, refused['error']['code']),
            (422, 'invalid_token'))
        # Kept for review once, by the whole way
        got, refused = far.json('POST', 'checkins', {
                'qr_token': self.token, 'lat': LAT + 1, 'lon': LON})
        self.assertEqual((got, refused['error']['code']),
            (422, 'out_of_range'))
        rejected, = self.checkins(far)
        with Transaction().start(DB_NAME, 0):
            Attendance = Pool().get('checkin.attendance')
            self.assertEqual(Attendance(rejected.id).status, 'rejected')
            Member = Pool().get('member.member')
            Member.write([Member(other.member_id)], {'active': False})
        self.assertError(other.json('POST', 'checkins', self.here(
                    qr_token=self.other_token)), 401, 'unauthorized')
        self.assertEqual(len(dispatched), 3)
        self.assertEqual(len(self.checkins(api)), 1)
        self.assertEqual(len(self.checkins(other)), 1)

    def test_early_answer_failure(self):
        "A failure of the early answer sends the request the whole way"
        from unittest.mock import patch

        from .. import api as api_module
        api = self.login()
        with patch.object(api_module, 'parse_body',
                    side_effect=RuntimeError("early")), \
                self.assertLogs(api_module.logger, 'ERROR'):
            receipt = self.assertPending(api, self.here(qr_token=self.token))
        drain()
        api.json('GET', 'checkins/receipts/' + receipt, expect=201)
        with Transaction().start(DB_NAME, 0):
            Intake = Pool().get('miniprogram.checkin.intake')
            self.assertEqual(len(Intake.search(
                        [('member', '=', api.member_id)])), 1)

    def test_receipt_of_another_member(self):
        "Another member's receipt, or none, is 404"
        api = self.login()
        receipt = self.assertPending(api, self.here(qr_token=self.token))
        other = self.login()
        self.assertError(other.json('GET', 'checkins/receipts/' + receipt),
            404, 'not_found')
        drain()
        self.assertError(other.json('GET', 'checkins/receipts/' + receipt),
            404, 'not_found')
        self.assertError(api.json(
                'GET', 'checkins/receipts/' + uuid.uuid4().hex),
            404, 'not_found')
        response = api('GET', 'checkins/receipts/1234')
        self.assertEqual(response.status_code, 404)
        response = api('GET', 'checkins/receipts/' + receipt,
            token='')
        self.assertEqual(response.status_code, 401)

    def test_same_client_uuid_same_receipt(self):
        "A request sent again with its client_uuid gets the same receipt"
        api = self.login()
        body = self.here(qr_token=self.token, client_uuid=str(uuid.uuid4()))
        receipt = self.assertPending(api, body)
        self.assertEqual(self.assertPending(api, body), receipt)
        self.assertEqual(drain(), 1)
        status, data = api.json('GET', 'checkins/receipts/' + receipt)
        self.assertEqual(data['checkin']['client_uuid'], body['client_uuid'])

    def test_rules_as_of_arrival(self):
        """The worker applies the rules as of the time the request arrived:
        a QR code expired since, or the end of the event, refuse nothing"""
        api = self.login()
        receipt = self.assertPending(api, self.here(qr_token=self.token))
        clock.freeze(NOW + dt.timedelta(days=1))
        self.assertEqual(drain(), 1)
        data = api.json('GET', 'checkins/receipts/' + receipt, expect=201)
        self.assertEqual(clock.to_utc(dt.datetime.fromisoformat(
                    data['checkin']['time'])), NOW)

    def test_busy_item_left_pending(self):
        """An item whose recording finds the database busy past the retries
        is left pending, logged in one line (no traceback: a lock is no
        fault), and the others are recorded"""
        from .. import intake
        drain()
        api = self.login()
        receipts = [self.assertPending(api, self.here(qr_token=token))
            for token in [self.token, self.other_token]]
        Intake = Pool(DB_NAME).get('miniprogram.checkin.intake')
        record_apart = Intake._record_apart.__func__
        busy = []

        def first_busy(cls, item_id):
            if not busy:
                busy.append(item_id)
                raise backend.DatabaseOperationalError("lock timeout")
            return record_apart(cls, item_id)
        with patch.object(Intake, '_record_apart', classmethod(first_busy)), \
                self.assertLogs(intake.logger, 'WARNING') as logs:
            self.assertEqual(drain(), 1)
        record, = logs.records
        self.assertIn("lock timeout", record.getMessage())
        self.assertIsNone(record.exc_info)
        self.assertEqual(api.json('GET', 'checkins/receipts/'
                + receipts[0])[0], 202)
        self.assertEqual(drain(), 1)
        self.assertEqual(api.json('GET', 'checkins/receipts/'
                + receipts[0])[0], 201)

    def test_order_of_the_items(self):
        "Items are recorded in the order they arrived"
        drain()
        api = self.login()
        receipts = [self.assertPending(api, self.here(qr_token=token))
            for token in [self.token, self.other_token, self.token]]
        self.assertEqual(drain(limit=1), 1)
        api.json('GET', 'checkins/receipts/' + receipts[0], expect=201)
        api.json('GET', 'checkins/receipts/' + receipts[1], expect=202)
        self.assertEqual(drain(), 2)
        statuses = [api.json('GET', 'checkins/receipts/' + r)[0]
            for r in receipts]
        self.assertEqual(statuses, [201, 201, 409])

    def test_off_records_at_once(self):
        "Without the intake, POST checkins records at once (201)"
        set_config(self, 'miniprogram', 'intake', 'off')
        api = self.login()
        api.json('POST', 'checkins', self.here(
                qr_token=self.token), expect=201)

    def test_auto_mode(self):
        "auto: the intake takes the check-ins while they are slow"
        set_config(self, 'miniprogram', 'intake', 'auto')
        set_config(self, 'miniprogram', 'intake_latency', '0.5')
        api = self.login()
        api.json('POST', 'checkins', self.here(
                qr_token=self.token), expect=201)
        for _ in range(saturation.MIN_SAMPLES):
            saturation.note_latency(2)
        self.assertTrue(saturation.saturated(DB_NAME))
        api.json('POST', 'checkins', self.here(
                qr_token=self.other_token), expect=202)
        # The slow check-ins leave the window: recorded at once again
        saturation.reset()
        for _ in range(saturation.MIN_SAMPLES):
            saturation.note_latency(2, now=time.monotonic() - 60)
        self.assertFalse(saturation.saturated(DB_NAME))

    def test_stats_pending(self):
        "The event's statistics count the items pending for it"
        from .tools import make_organizer
        drain()
        api = self.login()
        self.assertPending(api, self.here(qr_token=self.token))
        organizer = self.login()
        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            User = pool.get('res.user')
            Event = pool.get('checkin.event')
            ModelData = pool.get('ir.model.data')
            user, = User.create([{'name': "Intake organizer",
                        'login': 'intake_organizer',
                        'groups': [('add', [ModelData.get_id(
                                            'checkin', 'group_checkin')])]}])
            Event.write([Event(self.event_id)],
                {'organizers': [('add', [user.id])]})
            transaction.commit()
        make_organizer(organizer.member_id, login='intake_organizer')
        path = 'events/%d/stats' % self.event_id
        data = organizer.json('GET', path, expect=200)
        self.assertEqual(data['pending'], 1)
        drain()
        status, data = organizer.json('GET', path)
        self.assertEqual(data['pending'], 0)
        self.assertEqual(len(self.checkins(api)), 1)

    def test_no_member_lock(self):
        "The intake answers while another transaction holds the member"
        if backend.name != 'postgresql':
            self.skipTest("PostgreSQL row locks")
        api = self.login()
        with member_locked(api.member_id):
            started = time.monotonic()
            self.assertPending(api, self.here(qr_token=self.token))
            self.assertLess(time.monotonic() - started, 1)

    def test_two_workers_exactly_once(self):
        "Two workers draining at once record every item exactly once"
        if backend.name != 'postgresql':
            self.skipTest("concurrent transactions")
        drain()
        members = [self.login() for _ in range(4)]
        receipts = [self.assertPending(api, self.here(qr_token=token))
            for api in members for token in [
                self.token, self.other_token, self.token]]
        counts = []
        barrier = threading.Barrier(2)

        def work():
            barrier.wait()
            counts.append(drain())
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sum(counts), len(receipts))
        for api in members:
            self.assertEqual(len(self.checkins(api)), 2)
        statuses = sorted(members[i // 3].json(
                'GET', 'checkins/receipts/' + r)[0]
            for i, r in enumerate(receipts))
        self.assertEqual(statuses, [201] * 8 + [409] * 4)

    def test_same_item_twice(self):
        "The same item recorded by two workers at once: once"
        if backend.name != 'postgresql':
            self.skipTest("concurrent transactions")
        api = self.login()
        receipt = self.assertPending(api, self.here(qr_token=self.token))
        with Transaction().start(DB_NAME, 0):
            Intake = Pool().get('miniprogram.checkin.intake')
            item, = Intake.search([('receipt', '=', receipt)])
            item_id = item.id
        done = []
        barrier = threading.Barrier(2)

        def work():
            with Transaction().start(DB_NAME, 0):
                barrier.wait()
                done.append(Pool().get(
                        'miniprogram.checkin.intake')._record_apart(item_id))
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(done), [False, True])
        self.assertEqual(len(self.checkins(api)), 1)
