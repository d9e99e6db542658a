"""The mini-program API end to end, against a real `trytond` process on
PostgreSQL (not the in-process client): a member registers, checks in with
the QR token of a kiosk page, books a service and reads the points.  Every
JSON answer is checked against the schema the server's own OpenAPI
document publishes for it."""
import datetime as dt
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
from decimal import Decimal

from trytond import backend, config
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

from .tools import run_transaction, stop_server

STAFF_LOGIN = 'door'
STAFF_PASSWORD = 'Door-Staff-2026-e2e'
LAT, LON = 31.2304, 121.4737


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def setup_data():
    "A company, tiers, an event open now with a staff organizer, a service"
    from trytond.modules.miniprogram.tests.tools import create_api_company
    from trytond.modules.service_booking.tests.test_module import (
        create_resource, create_service, create_tiers)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Event = pool.get('checkin.event')
    company = create_api_company()
    door, = User.create([{
                'name': "Door staff", 'login': STAFF_LOGIN,
                'password': STAFF_PASSWORD,
                'groups': [('add', [ModelData.get_id(
                                'checkin', 'group_checkin')])],
                }])
    now = dt.datetime.utcnow().replace(microsecond=0)
    Event.create([{
                'name': "Open day", 'kind': 'meeting', 'state': 'open',
                'start': now - dt.timedelta(minutes=10),
                'end': now + dt.timedelta(hours=2),
                'timezone': 'Asia/Shanghai',
                'latitude': LAT, 'longitude': LON, 'radius': 500,
                'methods': ['qr'], 'policy': 'reject', 'points': 15,
                'organizers': [('add', [door.id])],
                }])
    with Transaction().set_context(company=company.id):
        create_tiers()
        create_service([create_resource("Room 1")], name="Massage",
            price=Decimal('88'), lead_time=0)


@unittest.skipUnless(backend.name == 'postgresql',
    "end-to-end test of a trytond process: runs on PostgreSQL")
class ApiEndToEndTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['miniprogram'])
        run_transaction(DB_NAME, setup_data)
        port = free_port()
        env = dict(os.environ,
            TRYTOND_DATABASE__URI=config.get('database', 'uri'),
            TRYTOND_WEB__LISTEN='127.0.0.1:%s' % port,
            TRYTOND_MINIPROGRAM__JWT_SECRET=secrets.token_hex(32))
        env.pop('TRYTOND_CONFIG', None)
        trytond = os.path.join(os.path.dirname(sys.executable), 'trytond')
        cls.log = open(os.path.join(
                os.environ.get('TMPDIR', '/tmp'),
                'e2e-trytond-%s.log' % os.getpid()), 'w+')
        cls.server = subprocess.Popen([trytond, '-d', DB_NAME],
            env=env, stdout=cls.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        cls.base = 'http://127.0.0.1:%s/%s/mp/v1/' % (port, DB_NAME)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if cls.server.poll() is not None:
                break
            try:
                socket.create_connection(('127.0.0.1', port), 0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            cls.tearDownClass()
            raise RuntimeError("trytond did not start")
        if cls.server.poll() is not None:
            cls.log.seek(0)
            raise RuntimeError("trytond exited:\n" + cls.log.read()[-3000:])
        status, cls.openapi = cls.call('GET', 'openapi.json')
        assert status == 200, cls.openapi

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server, cls.log)
        drop_db()

    @classmethod
    def call(cls, method, path, body=None, token=None, raw=False):
        "Answer (status, JSON or text) of the server"
        url = path if path.startswith('http') else cls.base + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header('Content-Type', 'application/json')
        if token:
            request.add_header('Authorization', 'Bearer ' + token)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
                content_type = response.headers.get('Content-Type', '')
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
            content_type = e.headers.get('Content-Type', '')
        if raw or not content_type.startswith('application/json'):
            return status, text
        return status, json.loads(text) if text else None

    def api(self, method, path, body=None, token=None, expect=200,
            template=None):
        """Call path and check the answer against the OpenAPI document of
        the server (template: the documented path, default path)"""
        from trytond.modules.miniprogram.validation import validate
        status, data = self.call(method, path, body, token)
        self.assertEqual(status, expect, data)
        template = template or path.split('?')[0]
        operation = self.openapi['paths'][
            '/{database}/mp/v1/' + template][method.lower()]
        documented = operation['responses'][str(status)]
        if 'content' in documented:
            schema = documented['content']['application/json']['schema']
            if '$ref' in schema:
                schema = self.openapi['components']['schemas']['Error']
            validate(schema, data, 'answer')
        return data

    def test_member_journey(self):
        "Register, check in with the kiosk's QR, book, read the points"
        tokens = self.api('POST', 'auth/register', {
                'phone': '13912345678', 'password': 'Walnut-Tea-2026',
                'name': "E2E Member"}, expect=201)
        member = tokens['access_token']
        self.assertEqual(tokens['member']['phone'], '139****5678')

        # The staff at the door opens the kiosk page on a TV
        staff = self.api('POST', 'auth/staff', {
                'login': STAFF_LOGIN, 'password': STAFF_PASSWORD})
        events = self.api('GET', 'events', token=member)['items']
        event, = [e for e in events if e['name'] == "Open day"]
        link = self.api('POST', 'events/%s/kiosk-token' % event['id'],
            token=staff['access_token'], expect=201,
            template='events/{event_id}/kiosk-token')
        status, page = self.call('GET', link['kiosk_url'], raw=True)
        self.assertEqual(status, 200, page)
        config_ = json.loads(re.search(
                r'id="config">(.*?)</script>', page, re.S).group(1))
        # What the page's script does: fetch the QR code with its token
        qr = self.api('GET', config_['base'].split('/mp/v1/')[1] + 'qr',
            token=config_['token'], template='events/{event_id}/qr')

        # The member scans it
        checkin = self.api('POST', 'checkins', {
                'qr_token': qr['token'], 'lat': event['location']['lat'],
                'lon': event['location']['lon'], 'accuracy_m': 15},
            token=member, expect=201)
        self.assertEqual(checkin['checkin']['status'], 'valid')
        self.assertEqual(checkin['checkin']['points_awarded'], 15)
        again = self.api('POST', 'checkins', {
                'qr_token': qr['token'], 'lat': LAT, 'lon': LON},
            token=member, expect=409)
        self.assertEqual(again['error']['code'], 'already_checked_in')
        stats = self.api('GET', 'events/%s/stats' % event['id'],
            token=config_['token'], template='events/{event_id}/stats')
        self.assertEqual(stats['checked_in'], 1)

        # Books the first free slot of the coming days
        service, = self.api('GET', 'services', token=member)['items']
        today = dt.date.today()
        slot = None
        for days in range(1, 7):
            date = (today + dt.timedelta(days=days)).isoformat()
            slots = self.api('GET', 'services/%s/slots?date=%s' % (
                    service['id'], date), token=member,
                template='services/{service_id}/slots')['slots']
            free = [s for s in slots if s['capacity_left'] > 0]
            if free:
                slot = free[0]
                break
        self.assertTrue(slot, "no free slot in the coming week")
        booking = self.api('POST', 'bookings', {
                'service_id': service['id'], 'start': slot['start'],
                'address': "1 Century Avenue", 'note': "e2e"},
            token=member, expect=201)['booking']
        self.assertEqual(booking['state'], 'pending')
        self.assertEqual(booking['final_price'], '88.00')
        mine = self.api('GET', 'bookings/%s' % booking['id'], token=member,
            template='bookings/{booking_id}')
        self.assertEqual(mine['booking']['id'], booking['id'])

        # Reads the points of the check-in
        points = self.api('GET', 'me/points', token=member)
        self.assertEqual(points['total'], 1)
        line, = points['items']
        self.assertEqual((line['points'], line['balance_after']), (15, 15))
        self.assertEqual(line['origin']['type'], 'checkin.attendance')
        profile = self.api('GET', 'me', token=member)
        self.assertEqual(profile['member']['points_balance'], 15)

    def test_errors_are_json(self):
        "Unknown paths, wrong methods and bad tokens answer the error object"
        status, data = self.call('GET', 'no/such/route')
        self.assertEqual((status, data['error']['code']), (404, 'not_found'))
        status, data = self.call('PUT', 'me')
        self.assertEqual(status, 405)
        self.assertEqual(data['error']['code'], 'method_not_allowed')
        data = self.api('GET', 'me', token='not.a.token', expect=401)
        self.assertEqual(data['error']['code'], 'unauthorized')
