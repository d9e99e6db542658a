# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""The mini-program API under concurrent requests, on a real server:
gunicorn with several worker processes (trytond.application:app, as
`scripts/service web` runs it) on a database of its own, on SQLite (a
file) and on PostgreSQL.

Requests are sent at the same instant from threads of the test process.
What is checked is what clients get: every unique constraint a request can
hit answers its documented code, a get-or-create is idempotent, and a
conflict with concurrent requests is never answered 503.

The database is made by this file run as a script (`setup`), in a process
of its own, so that the test process's DB_NAME (an in-memory SQLite
database under scripts/test) is not used."""
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

WORKERS = 4
CAPACITY = 3
RACERS = 40
START_TIMEOUT = 120
REQUEST_TIMEOUT = 120


def _backend_name():
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    return uri.split(':', 1)[0] if uri else 'sqlite'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def setup_database():
    "Run in a process of its own with DB_NAME: the database of the server"
    from tests.tools import run_transaction, use_template_cache
    use_template_cache()
    from trytond.tests.test_tryton import DB_NAME, activate_module
    activate_module(['miniprogram'])
    run_transaction(DB_NAME, setup_data)


def setup_data():
    "A company, tiers and a service of capacity 3 open every day"
    from decimal import Decimal

    from trytond.modules.miniprogram.tests.tools import create_api_company
    from trytond.modules.service_booking.tests.test_module import (
        create_resource, create_service, create_tiers)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    company = create_api_company()
    # The event of the daily sign-in
    Event = pool.get('checkin.event')
    Configuration = pool.get('checkin.configuration')
    now = dt.datetime.utcnow().replace(microsecond=0)
    event, = Event.create([{
                'name': "Daily", 'kind': 'points', 'state': 'open',
                'methods': ['app'], 'points': 5, 'timezone': 'Asia/Shanghai',
                'start': now - dt.timedelta(days=1),
                'end': now + dt.timedelta(days=30),
                }])
    Configuration(1, sign_in_event=event.id).save()
    # An event without points and streak (no member row is written), its
    # activity code valid for a day, given to the tests in a file
    meeting, = Event.create([{
                'name': "Meeting", 'kind': 'meeting', 'state': 'open',
                'methods': ['code'], 'code_window': 24 * 60 * 60,
                'points': 0, 'streak': False, 'timezone': 'Asia/Shanghai',
                'start': now - dt.timedelta(days=1),
                'end': now + dt.timedelta(days=30),
                }])
    with open(os.environ['MEETING_FILE'], 'w') as f:
        json.dump({'event_id': meeting.id, 'code': meeting.code()}, f)
    with Transaction().set_context(company=company.id):
        create_tiers()
        create_service([create_resource("Studio")], name="Yoga",
            price=Decimal('50'), capacity=CAPACITY, lead_time=dt.timedelta(0),
            buffer=dt.timedelta(0), duration=dt.timedelta(hours=1))


class ServerTestCase(unittest.TestCase):
    "A gunicorn server of WORKERS processes on a database of its own"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from trytond.modules.miniprogram.tests.tools import FakeWeChat
        cls.tmp = tempfile.mkdtemp(prefix='contention-')
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.db_name = 'contention_%s_%s' % (
            cls.__name__.lower(), os.getpid())
        env = dict(os.environ, DB_NAME=cls.db_name)
        for name in ['TRYTOND_CONFIG', 'TRYTOND_DATABASE__URI']:
            env.pop(name, None)
        if _backend_name() == 'sqlite':
            env['TRYTOND_DATABASE__PATH'] = cls.tmp
            open(os.path.join(cls.tmp, cls.db_name + '.sqlite'), 'w').close()
        else:
            env['TRYTOND_DATABASE__URI'] = os.environ['TRYTOND_DATABASE_URI']
        cls.addClassCleanup(cls._drop, env)
        meeting_file = os.path.join(cls.tmp, 'meeting.json')
        subprocess.run([sys.executable, os.path.abspath(__file__), 'setup'],
            env=dict(env, MEETING_FILE=meeting_file), cwd=ROOT, check=True,
            timeout=600, stdout=subprocess.DEVNULL)
        with open(meeting_file) as f:
            cls.meeting = json.load(f)

        # WeChat: codes are single-use and answered after a pause, so that
        # concurrent first logins meet in the database
        cls.wechat = FakeWeChat(single_use=True, delay=0.2)
        cls.wechat.__enter__()
        cls.addClassCleanup(cls.wechat.__exit__, None, None, None)

        port = free_port()
        env.pop('DB_CACHE', None)
        env.update({
                'TRYTOND_DATABASE_NAMES': cls.db_name,
                'TRYTOND_MINIPROGRAM__JWT_SECRET': secrets.token_hex(32),
                'TRYTOND_MINIPROGRAM__WECHAT_API': cls.wechat.url,
                'TRYTOND_MINIPROGRAM__APPID': 'wx-test',
                'TRYTOND_MINIPROGRAM__SECRET': 'wx-secret',
                })
        if _backend_name() != 'sqlite':
            env['TRYTOND_DATABASE__URI'] = os.environ['TRYTOND_DATABASE_URI']
        cls.log = open(os.path.join(cls.tmp, 'gunicorn.log'), 'w+')
        gunicorn = os.path.join(os.path.dirname(sys.executable), 'gunicorn')
        cls.server = subprocess.Popen([gunicorn,
                '--config', os.path.join(ROOT, 'scripts', 'gunicorn.conf.py'),
                '--workers', str(WORKERS), '--timeout', '300',
                '--bind', '127.0.0.1:%s' % port, 'trytond.application:app'],
            env=env, cwd=ROOT, stdout=cls.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        cls.addClassCleanup(cls._stop)
        cls.base = 'http://127.0.0.1:%s/%s/mp/v1/' % (port, cls.db_name)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if cls.server.poll() is not None or time.monotonic() > deadline:
                cls.log.seek(0)
                raise RuntimeError(
                    "gunicorn did not start:\n" + cls.log.read()[-3000:])
            try:
                status, _ = cls.call('GET', 'openapi.json')
            except OSError:
                status = None
            if status is not None:
                break
            time.sleep(0.3)

    @classmethod
    def _stop(cls):
        if cls.server.poll() is None:
            os.killpg(cls.server.pid, signal.SIGTERM)
            cls.server.wait(60)
        cls.log.close()

    @classmethod
    def _drop(cls, env):
        if _backend_name() == 'sqlite':
            return
        import psycopg
        uri = os.environ['TRYTOND_DATABASE_URI']
        if uri.endswith('/'):
            uri += 'postgres'
        with psycopg.connect(uri, autocommit=True) as connection:
            connection.execute('DROP DATABASE IF EXISTS "%s"' % cls.db_name)

    @classmethod
    def call(cls, method, path, body=None, token=None):
        "Return the status and the JSON answer of the server"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            cls.base + path, data=data, method=method)
        if data is not None:
            request.add_header('Content-Type', 'application/json')
        if token:
            request.add_header('Authorization', 'Bearer ' + token)
        try:
            with urllib.request.urlopen(
                    request, timeout=REQUEST_TIMEOUT) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text.decode('utf-8', 'replace')[:500]

    def together(self, requests):
        """Send the requests (method, path, body, token) at the same
        instant, one thread each; return their (status, answer) in order
        and how long the slowest took"""
        results = [None] * len(requests)
        barrier = threading.Barrier(len(requests))

        def send(index, request):
            barrier.wait()
            try:
                results[index] = self.call(*request)
            except Exception as e:
                results[index] = (None, repr(e))
        threads = [threading.Thread(target=send, args=(i, r))
            for i, r in enumerate(requests)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT + 10)
        return results, time.monotonic() - start

    @staticmethod
    def codes(results):
        return Counter(
            (s, d['error']['code']) if isinstance(d, dict) and 'error' in d
            else (s, None) for s, d in results)


class IdentityConcurrencyTestCase(ServerTestCase):
    "Identity creation under concurrent requests (issue 17 item 4)"

    def test_register_one_phone(self):
        """Parallel registrations of one phone: one 201, the others 409
        phone_taken.

        Fails (400 invalid_request, "Another member already has this phone
        number") when mp_register does not map the phone_unique violation
        to PhoneTaken, on PostgreSQL; on SQLite when, besides, the write
        transaction does not start as the single writer (BEGIN IMMEDIATE
        in api.with_write_transaction)."""
        body = {'phone': '13911110000', 'password': 'Lotus-2026-x'}
        results, _ = self.together(
            [('POST', 'auth/register', body)] * WORKERS)
        self.assertEqual(self.codes(results), Counter({
                    (201, None): 1, (409, 'phone_taken'): WORKERS - 1}),
            results)

    def test_register_different_phones(self):
        """Parallel registrations of different phones all succeed, each with
        its own member and party.

        Fails on SQLite (400 "The code on party must be unique": the party
        code sequence is read before pysqlite begins the transaction) when
        the write transaction does not start with BEGIN IMMEDIATE."""
        requests = [('POST', 'auth/register', {
                    'phone': '1392222%04d' % i, 'password': 'Lotus-2026-x',
                    'name': "Racer %s" % i}) for i in range(6)]
        results, _ = self.together(requests)
        self.assertEqual(self.codes(results), Counter({(201, None): 6}),
            results)
        ids = {d['member']['id'] for _, d in results}
        self.assertEqual(len(ids), 6)
        # Each starts in the base tier (item 8)
        self.assertEqual({d['member']['tier']['code'] for _, d in results},
            {'basic'})

    def test_wechat_first_login(self):
        """Parallel first WeChat logins of one new user (one valid code
        each): all 200 with tokens of the same member, created once.

        Fails on PostgreSQL (409/400 for all but one) when mp_wechat_login
        does not restart on the wechat_openid_unique violation
        (ConcurrentCreation); and (401: the fake WeChat refuses a code
        used twice) when the route does not keep the session of its code
        for the restarted transaction."""
        requests = [('POST', 'auth/wechat', {'code': 'ok-newcomer.%s' % i})
            for i in range(WORKERS)]
        results, _ = self.together(requests)
        self.assertEqual(self.codes(results),
            Counter({(200, None): WORKERS}), results)
        members = {d['member']['id'] for _, d in results}
        self.assertEqual(len(members), 1, results)
        member_id, = members
        for _, data in results:
            status, me = self.call('GET', 'me', token=data['access_token'])
            self.assertEqual((status, me['member']['id']), (200, member_id))


@unittest.skipUnless(_backend_name() == 'postgresql',
    "races of several worker processes for row locks: PostgreSQL")
class ContentionTestCase(ServerTestCase):
    """Contention is not unavailability (issue 17 item 7): requests that
    race for the same rows get their documented answer, never 503."""

    def register(self, count, prefix):
        requests = [('POST', 'auth/register', {
                    'phone': '139%s%06d' % (prefix, i),
                    'password': 'Lotus-2026-x'}) for i in range(count)]
        results, _ = self.together(requests)
        self.assertEqual(self.codes(results), Counter({(201, None): count}),
            results)
        return [d['access_token'] for _, d in results]

    def free_slot(self, token):
        "The service and the start of its first slot with all capacity left"
        status, data = self.call('GET', 'services', token=token)
        self.assertEqual(status, 200, data)
        service, = data['items']
        today = dt.date.today()
        for days in range(1, 7):
            date = (today + dt.timedelta(days=days)).isoformat()
            status, data = self.call('GET', 'services/%s/slots?date=%s' % (
                    service['id'], date), token=token)
            self.assertEqual(status, 200, data)
            for slot in data['slots']:
                if slot['capacity_left'] == CAPACITY:
                    return service['id'], slot['start']
        self.fail("no free slot in the coming week")

    def test_booking_race(self):
        """40 members race for one slot of capacity 3 on 4 workers: 3 get
        201, the others 409 slot_full, within bounded time.

        Fails (503 service_unavailable for some) with Tryton's
        with_transaction in place of api.with_write_transaction (the
        resource lock is tried NOWAIT a few times when the transaction
        restarts, then the request gives up), and when its conflicts count
        as [database] retry attempts."""
        tokens = self.register(RACERS, '33')
        service, start = self.free_slot(tokens[0])
        results, elapsed = self.together([('POST', 'bookings', {
                        'service_id': service, 'start': start,
                        'address': "1 Century Avenue"}, token)
                for token in tokens])
        self.assertEqual(self.codes(results), Counter({
                    (201, None): CAPACITY,
                    (409, 'slot_full'): RACERS - CAPACITY}), results)
        self.assertLess(elapsed, 60)

    def test_daily_sign_in_of_one_member(self):
        """One member signs in from many requests at once: one 201, the
        others 409 already_checked_in, never 503.

        Fails (503 service_unavailable for some) with Tryton's
        with_transaction in place of api.with_write_transaction."""
        token, = self.register(1, '44')
        results, elapsed = self.together(
            [('POST', 'checkins/daily', {}, token)] * 24)
        self.assertEqual(self.codes(results), Counter({
                    (201, None): 1, (409, 'already_checked_in'): 23}),
            results)
        self.assertLess(elapsed, 60)

    def test_check_ins_without_points_of_one_member(self):
        """One member checks in to an event without points and streak from
        many requests at once: one 201, the others 409 already_checked_in.

        No member row is written, so a request that waited for the member
        lock goes on with the snapshot taken before its wait, which does
        not show the check-in of the request it waited for: the exclusion
        constraint of the attendance is what refuses the second check-in
        (mutation "attendance: no constraint, look then insert" of
        tests/race_mutations.py: more than one 201)."""
        token, = self.register(1, '55')
        results, elapsed = self.together(
            [('POST', 'checkins', self.meeting, token)] * 24)
        self.assertEqual(self.codes(results), Counter({
                    (201, None): 1, (409, 'already_checked_in'): 23}),
            results)
        self.assertLess(elapsed, 60)


if __name__ == '__main__':
    if sys.argv[1:] == ['setup']:
        setup_database()
