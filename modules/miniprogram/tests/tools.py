# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Test helpers: an API client and a fake WeChat server on 127.0.0.1."""
import json
import re
import threading
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

from trytond.modules.checkin.tests.test_module import LAT, LON
from trytond.modules.suite import clock
from trytond.modules.suite.tests.tools import in_transaction
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

PREFIX = '/%s/mp/v1/' % DB_NAME


def create_api_company():
    """Return a company in Shanghai (CNY) that the user of the API works
    for"""
    from trytond.modules.member.tests.test_module import (
        create_company_shanghai)
    from trytond.pool import Pool
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    company = create_company_shanghai()
    api_user = User(ModelData.get_id('miniprogram', 'user_miniprogram'))
    User.write([api_user], {'companies': [('add', [company.id])],
            'company': company.id})
    return company


class Api:
    "Call the mini-program API of the test database like a mini-program"

    def __init__(self, client, token=None, language=None):
        self.client = client
        self.token = token
        self.language = language

    def __call__(self, method, path, body=None, token=None, headers=None,
            raw=None, content_type='application/json'):
        headers = dict(headers or {})
        token = token if token is not None else self.token
        if token:
            headers['Authorization'] = 'Bearer %s' % token
        if self.language:
            headers['Accept-Language'] = self.language
        data = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            headers.setdefault('Content-Type', content_type)
        response = self.client.open(
            PREFIX + path, method=method, data=data, headers=headers)
        return response

    def json(self, method, path, *args, expect=None, **kwargs):
        """Return the status and the JSON answer of the request, checked
        against what the OpenAPI document says of that route and status;
        with expect, the answer only, failing unless its status is expect"""
        response = self(method, path, *args, **kwargs)
        data = json.loads(response.data) if response.data else None
        check_documented(method, path, response.status_code, data)
        if expect is None:
            return response.status_code, data
        if response.status_code != expect:
            raise AssertionError("%s %s answered %s, not %s: %s" % (
                    method, path, response.status_code, expect, data))
        return data


def check_documented(method, path, status, data):
    "Fail unless data matches the OpenAPI answer of method path and status"
    from trytond.modules.miniprogram.api import ROUTES
    from trytond.modules.miniprogram.exceptions import ApiError
    from trytond.modules.miniprogram.openapi import GENERIC, WRITE
    from trytond.modules.miniprogram.schemas import ERROR, obj
    from trytond.modules.miniprogram.validation import validate
    path = path.split('?')[0]
    for route in ROUTES:
        pattern = re.sub(r'\\\{(\w+)\\\}',
            lambda m: ('[0-9a-f]{32}' if m.group(1) in route['hex']
                else r'\d+'), re.escape(route['path']))
        if route['method'] == method and re.fullmatch(pattern, path):
            break
    else:
        route = None
    if route is not None and status in route['answers']:
        schema = route['answers'][status]
    elif status >= 400:
        schema = ERROR
        if route is not None:
            documented = {s for s, _ in GENERIC[None]
                + GENERIC.get(route['auth'], []) + route['errors']
                + (WRITE if method not in {'GET', 'HEAD'} else [])}
            if status not in documented:
                raise AssertionError("%s %s answered %s, not documented: %s"
                    % (method, path, status, data))
    elif route is None or status != route['status']:
        raise AssertionError("%s %s answered %s, not documented" % (
                method, path, status))
    elif status == 204:
        return
    else:
        schema = route['response'] or obj({}, additional=True)
    try:
        validate(schema, data, 'answer')
    except ApiError as e:
        raise AssertionError("%s %s answered %s not as documented: %s\n%s"
            % (method, path, status, e.message, data))


class FakeWeChat:
    """code2session: code 'ok-<name>' (or 'ok-<name>.<anything>', another
    code of the same user) gives openid 'openid-<name>', code 'bad' errcode
    40029, code 'busy' errcode -1, code 'down' a 500.

    single_use: a code exchanged before gets errcode 40163 (code been
    used), as WeChat answers.  delay: seconds before each answer."""

    def __init__(self, single_use=False, delay=0):
        import time
        calls = self.calls = []
        used = set()
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                calls.append(query)
                code = query.get('js_code', '')
                if url.path != '/sns/jscode2session':
                    self.send_response(404)
                    self.end_headers()
                    return
                if code == 'down':
                    self.send_response(500)
                    self.end_headers()
                    return
                if delay:
                    time.sleep(delay)
                with lock:
                    reused = single_use and code in used
                    used.add(code)
                if reused:
                    data = {'errcode': 40163, 'errmsg': "code been used"}
                elif code.startswith('ok-'):
                    name = code[3:].split('.')[0]
                    data = {'openid': 'openid-' + name,
                        'session_key': 'sk-secret-' + name}
                elif code == 'bad':
                    data = {'errcode': 40029, 'errmsg': "invalid code"}
                else:
                    data = {'errcode': -1, 'errmsg': "system busy"}
                payload = json.dumps(data).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%s' % self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *args):
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def member_locked(member_id):
    """Hold the row lock of the member in a transaction of another thread
    while the block runs (PostgreSQL)"""
    from trytond.pool import Pool
    held, release = threading.Event(), threading.Event()

    def hold():
        def lock():
            Member = Pool().get('member.member')
            Member.hold_lock([Member(member_id)])
            Transaction().connection.cursor().execute('SELECT 1')
            held.set()
            release.wait(10)
        in_transaction(lock)
    thread = threading.Thread(target=hold)
    thread.start()
    try:
        if not held.wait(10):
            raise RuntimeError("the member's lock was not taken")
        yield
    finally:
        release.set()
        thread.join()


def lock_waited(timeout=10):
    """Wait until a transaction of the test database waits for a lock
    (PostgreSQL) and tell whether one did within timeout seconds"""
    import time

    def waiting():
        cursor = Transaction().connection.cursor()
        cursor.execute("SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND wait_event_type = 'Lock'", (DB_NAME,))
        return cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A transaction sees one snapshot of the statistics: one each time
        if in_transaction(waiting):
            return True
        time.sleep(0.02)
    return False


def register(test, phone, **body):
    """Register a member through the API (test.api, test.client()) and
    return the Api of its access token with the answer's member, phone and
    refresh token"""
    status, data = test.api.json('POST', 'auth/register', dict(
            {'phone': phone, 'password': 'Lotus-2026-x'}, **body))
    test.assertEqual(status, 201, data)
    api = Api(test.client(), token=data['access_token'])
    api.member_id = data['member']['id']
    api.member = data['member']
    api.phone = phone
    api.refresh_token = data['refresh_token']
    return api


def make_organizer(member_id, login='organizer'):
    "Link the member to the staff user login (one member per user)"
    from trytond.pool import Pool

    def link():
        pool = Pool()
        Member = pool.get('member.member')
        User = pool.get('res.user')
        user, = User.search([('login', '=', login)])
        Member.write(Member.search([('user', '=', user.id)]), {'user': None})
        Member.write([Member(member_id)], {'user': user.id})
    in_transaction(link)


def set_tier(member_id, code):
    "Give the member the tier of code"
    from trytond.pool import Pool

    def write():
        pool = Pool()
        Member = pool.get('member.member')
        Tier = pool.get('member.tier')
        tier, = Tier.search([('code', '=', code)])
        Member.write([Member(member_id)], {'tier': tier.id})
    in_transaction(write)


def create_organizer(**values):
    "Create and return the check-in administrator 'organizer'"
    from trytond.pool import Pool
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    organizer, = User.create([dict({
                    'name': "Organizer", 'login': 'organizer',
                    'groups': [('add', [ModelData.get_id(
                                    'checkin', 'group_checkin')])],
                    }, **values)])
    return organizer


def event_token(name, when):
    "The id of the event name and its QR token at when"
    from trytond.pool import Pool

    def read():
        Event = Pool().get('checkin.event')
        event, = Event.search([('name', '=', name)])
        return event.id, event.current_token(when)
    return in_transaction(read)


class ApiTestMixin:
    """What the API test cases share: self.api, the clock frozen at
    frozen or answering self.now (which a test may move), members
    registered with phones of their own"""
    frozen = None
    now = None
    # The phones of login: phone_prefix and 4 digits
    phone_prefix = '1370000'
    _phones = iter(range(100, 10 ** 6))

    def setUp(self):
        super().setUp()
        if self.frozen is not None:
            clock.freeze(self.frozen)
            self.addCleanup(clock.unfreeze)
        if self.now is not None:
            patched = patch.object(clock, 'now', lambda: self.now)
            patched.start()
            self.addCleanup(patched.stop)
        self.api = Api(self.client())

    def login(self, organizer=False, **body):
        "Register a member (its Api, see register), an organizer if asked"
        api = register(
            self, self.phone_prefix + '%04d' % next(self._phones), **body)
        if organizer:
            make_organizer(api.member_id)
        return api

    def assertError(self, result, status, code):
        got_status, data = result
        self.assertEqual(got_status, status, data)
        self.assertEqual(data['error']['code'], code, data)
        return data

    def here(self, **extra):
        return dict({'lat': LAT, 'lon': LON}, **extra)
