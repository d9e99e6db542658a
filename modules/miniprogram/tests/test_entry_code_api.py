# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Codes that open the mini-program: the kiosk's rotating QR code as an
https link on the configured base (WeChat's "QR code link" prefix) and the
static entry codes (wxacode.getUnlimited) of events and places, drawn by a
fake WeChat and resolved by the API."""
import datetime as dt
import re
from urllib.parse import quote

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.checkin import token as qr
from trytond.modules.checkin.tests.test_module import (
    LAT, LON, START, create_event)
from trytond.modules.outbox.tests.tools import PNG, FakeWeChat
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from ..entry_code import SCENE_MAX, make_scene, parse_scene
from .test_auth_sms_api import set_config
from .tools import ApiTestMixin, in_transaction

NOW = START + dt.timedelta(minutes=5)
BASE = 'https://lotus.example.com/mp/checkin'
STAFF_PASSWORD = 'Entry-Staff-2026'
# WeChat's alphabet of a scene
SCENE_ALPHABET = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$")


def set_base(base):
    def write():
        Configuration = Pool().get('checkin.configuration')
        Configuration.write([Configuration(1)], {'qr_url_base': base})
    in_transaction(write)


def user_of(login):
    User = Pool().get('res.user')
    user, = User.search([('login', '=', login)])
    return user.id


class EntryCodeApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: codes that open the mini-program"
    module = 'miniprogram'
    frozen = NOW

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        Place = pool.get('checkin.place')
        ModelData = pool.get('ir.model.data')
        group = ModelData.get_id('checkin', 'group_checkin')
        organizer, other = User.create([{
                    'name': "Organizer", 'login': 'organizer',
                    'password': STAFF_PASSWORD,
                    'groups': [('add', [group])],
                    }, {
                    'name': "Other", 'login': 'other',
                    'password': STAFF_PASSWORD,
                    'groups': [('add', [group])],
                    }])
        hall, = Place.create([{
                    'name': "Hall", 'latitude': LAT, 'longitude': LON}])
        create_event(name="Meeting", organizers=[('add', [organizer.id])],
            place=hall.id)
        create_event(name="Other", organizers=[('add', [organizer.id])])
        create_event(name="Later", start=START + dt.timedelta(days=3),
            end=START + dt.timedelta(days=3, hours=2),
            organizers=[('add', [organizer.id])])

    def setUp(self):
        super().setUp()
        self.addCleanup(set_base, None)
        self.addCleanup(in_transaction, self.forget_codes)
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Event = pool.get('checkin.event')
            Place = pool.get('checkin.place')
            self.events = {e.name: e.id for e in Event.search([])}
            self.event_id = self.events["Meeting"]
            event = Event(self.event_id)
            self.token = event.current_token(NOW)
            self.old_token = event.current_token(
                NOW - dt.timedelta(minutes=5))
            self.other_token = Event(self.events["Other"]).current_token(NOW)
            self.place_id, = [p.id for p in Place.search([])]

    @staticmethod
    def forget_codes():
        "Each test makes the codes of the same event and place"
        pool = Pool()
        EntryCode = pool.get('miniprogram.entry_code')
        Place = pool.get('checkin.place')
        Token = pool.get('outbox.wechat.token')
        EntryCode.delete(EntryCode.search([
                    ('active', 'in', [True, False])]))
        # Each test has its own fake WeChat
        Token.write(Token.search([]), {
                'access_token': None, 'expires_at': None})
        Place.write(Place.search([('active', '=', False)]), {'active': True})

    def assertError(self, result, status, code, reason=None):
        got_status, data = result
        self.assertEqual(got_status, status, data)
        self.assertEqual(data['error']['code'], code, data)
        if reason is not None:
            self.assertEqual(
                data['error']['details'].get('reason'), reason, data)
        return data

    # The kiosk's QR link

    def test_base_validation(self):
        "Only an https URL with a host and no user, query or fragment"
        for base in ['http://lotus.example.com/c', 'lotus.example.com/c',
                'https:///c', 'https://user@lotus.example.com/c',
                'https://lotus.example.com/c?x=1',
                'https://lotus.example.com/c?',
                'https://lotus.example.com/c#top',
                'https://lotus.example.com:x/',
                'https://lotus.example.com/a b', 'ftp://lotus.example.com/']:
            with self.subTest(base=base):
                with self.assertRaises(ValidationError) as cm:
                    set_base(base)
                self.assertIn('https://example.com/checkin',
                    cm.exception.message)
        for base in [BASE, 'https://lotus.example.com',
                'https://lotus.example.com:8443/c/']:
            with self.subTest(base=base):
                set_base(base)

    def test_qr_without_base(self):
        "Without a base the QR code is the bare token (url null)"
        organizer = self.login(organizer=True)
        data = organizer.json('GET', 'events/%s/qr' % self.event_id,
            expect=200)
        self.assertEqual(data['token'], self.token)
        self.assertIsNone(data['url'])
        self.assertEqual(data['svg'], qr.qr_svg(self.token))
        # A link is then of no known host
        member = self.login()
        self.assertError(member.json('POST', 'checkins', self.here(
                    qr_token=BASE + '?t=' + self.token)),
            422, 'invalid_token', 'other_host')

    def test_qr_link(self):
        "With a base the QR code is <base>?t=<token>, accepted to check in"
        set_base(BASE)
        organizer = self.login(organizer=True)
        data = organizer.json('GET', 'events/%s/qr' % self.event_id,
            expect=200)
        self.assertEqual(data['token'], self.token)
        self.assertEqual(data['url'], BASE + '?t=' + self.token)
        self.assertEqual(data['svg'], qr.qr_svg(data['url']))
        member = self.login()
        checkin = member.json('POST', 'checkins', self.here(
                qr_token=data['url'], event_id=self.event_id), expect=201)
        self.assertEqual(checkin['checkin']['event_id'], self.event_id)
        # The bare token is still accepted
        self.login().json('POST', 'checkins', self.here(
                qr_token=self.token), expect=201)
        # The host in capitals and the default port are the same base
        self.login().json('POST', 'checkins', self.here(
                qr_token='https://LOTUS.example.com:443/mp/checkin?t='
                + quote(self.token)), expect=201)

    def test_qr_link_refused(self):
        "Links of another host or prefix, of another event, expired"
        set_base(BASE)
        member = self.login()
        path = '/mp/checkin?t=' + self.token
        for url in [
                'https://evil.example.com' + path,
                'https://lotus.example.com.evil.cn' + path,
                'http://lotus.example.com' + path,
                'https://lotus.example.com:8443' + path,
                'https://user@lotus.example.com' + path,
                'https://lotus.example.com/mp/checkin/x?t=' + self.token,
                'https://lotus.example.com/mp?t=' + self.token,
                'https://lotus.example.com/mp/checkinx?t=' + self.token,
                ]:
            with self.subTest(url=url):
                self.assertError(member.json('POST', 'checkins',
                        self.here(qr_token=url)),
                    422, 'invalid_token', 'other_host')
        for url in [
                BASE + '?t=' + self.token + '&t=' + self.token,
                BASE + '?t=' + self.token + '&x=1',
                BASE + '?token=' + self.token,
                BASE + '?t=' + self.token + '#x',
                BASE + '?t=',
                BASE + '?t=' + self.token[:-2] + 'xx',
                ]:
            with self.subTest(url=url):
                data = self.assertError(member.json('POST', 'checkins',
                        self.here(qr_token=url)), 422, 'invalid_token')
                self.assertIn(data['error']['details']['reason'],
                    {'malformed', 'signature'})
        # The link of another event when event_id is given
        self.assertError(member.json('POST', 'checkins', self.here(
                    qr_token=BASE + '?t=' + self.other_token,
                    event_id=self.event_id)),
            422, 'invalid_token', 'other_event')
        # The link of a window past
        self.assertError(member.json('POST', 'checkins', self.here(
                    qr_token=BASE + '?t=' + self.old_token)),
            422, 'qr_expired')
        # Nothing was counted
        status, mine = member.json('GET', 'me/checkins')
        self.assertTrue(all(c['status'] == 'rejected'
                for c in mine['items']))

    def test_qr_link_sync(self):
        "The offline queue sends the link as it was scanned"
        set_base(BASE)
        member = self.login()
        data = member.json('POST', 'checkins/sync', {'items': [
                    self.here(qr_token=BASE + '?t=' + self.token,
                        client_uuid='6f1c1c56-4f0e-4c51-9d57-6a8c1d0e2b11',
                        client_time=NOW.isoformat() + 'Z'),
                    self.here(qr_token='https://evil.example.com/?t='
                        + self.token,
                        client_uuid='6f1c1c56-4f0e-4c51-9d57-6a8c1d0e2b12',
                        client_time=NOW.isoformat() + 'Z'),
                    ]}, expect=200)
        first, second = data['results']
        self.assertEqual(first['status'], 'created', first)
        self.assertEqual(second['status'], 'error', second)
        self.assertEqual(second['error']['code'], 'invalid_token')
        self.assertEqual(
            second['error']['details']['reason'], 'other_host')

    # The entry codes

    def test_scene_form(self):
        "A scene fits WeChat's 32 characters, larger ids are never made"
        for kind in 'ep':
            for record_id in [1, 42, 10 ** 14 - 1]:
                scene = make_scene(kind, record_id)
                self.assertLessEqual(len(scene), SCENE_MAX)
                self.assertRegex(scene, SCENE_ALPHABET)
                self.assertEqual(parse_scene(scene), (kind, record_id))
        self.assertEqual(len(make_scene('e', 10 ** 14 - 1)), SCENE_MAX)
        with self.assertRaises(ValueError):
            make_scene('e', 10 ** 14)
        scene = make_scene('e', 7)
        for forged, reason in [
                (scene[:-1] + ('A' if scene[-1] != 'A' else 'B'),
                    'signature'),
                ('e8' + scene[2:], 'signature'),
                ('p' + scene[1:], 'signature'),
                (scene + 'x', 'malformed'),
                ('e07' + scene[2:], 'malformed'),
                ('x' + scene[1:], 'malformed'),
                ('e%d.%s' % (10 ** 14, scene.split('.')[1]), 'malformed'),
                ('', 'malformed'),
                ]:
            with self.subTest(forged=forged):
                with self.assertRaises(ValueError) as cm:
                    parse_scene(forged)
                self.assertEqual(cm.exception.args, (reason,))

    def wechat(self):
        fake = FakeWeChat()
        self.addCleanup(fake.close)
        set_config(self, 'miniprogram', 'wechat_api', fake.url)
        set_config(self, 'miniprogram', 'appid', 'wx-test')
        set_config(self, 'miniprogram', 'secret', 'wx-secret')
        return fake

    def create_code(self, user='organizer', **values):
        def create():
            EntryCode = Pool().get('miniprogram.entry_code')
            code, = EntryCode.create([values])
            return code.id, code.scene
        user_id = in_transaction(lambda: user_of(user))
        return in_transaction(create, user=user_id,
            context={'_check_access': True})

    def fetch(self, code_id, user='organizer'):
        def fetch():
            EntryCode = Pool().get('miniprogram.entry_code')
            EntryCode.fetch([EntryCode(code_id)])
        user_id = in_transaction(lambda: user_of(user))
        in_transaction(fetch, user=user_id, context={'_check_access': True})

    def read_code(self, code_id):
        def read():
            code = Pool().get('miniprogram.entry_code')(code_id)
            return code.image, code.fetched_at, code.image_name
        return in_transaction(read)

    def test_entry_code_fetch(self):
        "The organizer draws the code of its event with the shared token"
        fake = self.wechat()
        code_id, scene = self.create_code(event=self.event_id)
        self.assertEqual(parse_scene(scene), ('e', self.event_id))
        self.fetch(code_id)
        image, fetched_at, name = self.read_code(code_id)
        self.assertEqual(bytes(image), PNG)
        self.assertEqual(fetched_at, NOW)
        self.assertEqual(name, 'entry-%s.png' % scene.replace('.', '-'))
        body, = fake.codes
        self.assertEqual(body, {'scene': scene,
                'page': 'pages/checkin-result/index', 'check_path': True,
                'env_version': 'release', 'width': 430})
        self.assertEqual(fake.token_fetches, 1)
        # A token that WeChat refuses is renewed once
        fake.valid_token = 'ANOTHER'
        self.fetch(code_id)
        self.assertEqual(fake.token_fetches, 2)
        self.assertEqual(fake.refused, 1)
        self.assertEqual(len(fake.codes), 2)

        # Another page clears the image until it is fetched again
        def write():
            EntryCode = Pool().get('miniprogram.entry_code')
            EntryCode.write([EntryCode(code_id)], {
                    'page': 'pages/home/index', 'env_version': 'trial'})
        in_transaction(write)
        self.assertEqual(self.read_code(code_id)[:2], (None, None))
        self.fetch(code_id)
        self.assertEqual(fake.codes[-1]['page'], 'pages/home/index')
        self.assertEqual(fake.codes[-1]['env_version'], 'trial')
        self.assertIs(fake.codes[-1]['check_path'], False)

    def test_entry_code_fetch_refused(self):
        "A page WeChat does not know and a WeChat down are told to staff"
        fake = self.wechat()
        code_id, _ = self.create_code(event=self.event_id,
            page='pages/nowhere/index')
        fake.invalid_pages.add('pages/nowhere/index')
        with self.assertRaises(UserError) as cm:
            self.fetch(code_id)
        self.assertIn('pages/nowhere/index', cm.exception.message)
        fake.invalid_pages.clear()
        fake.code_answers.append(-1)
        with self.assertRaises(UserError) as cm:
            self.fetch(code_id)
        self.assertIn('-1', cm.exception.message)
        # A token refused twice is not retried forever
        fake.code_answers.extend([40001, 40001])
        with self.assertRaises(UserError):
            self.fetch(code_id)
        self.assertEqual(self.read_code(code_id)[0], None)

    def test_entry_code_access(self):
        "Only the event's organizers; places for check-in admins"
        with self.assertRaises(AccessError):
            self.create_code(user='other', event=self.event_id)
        with self.assertRaises(AccessError):
            self.create_code(user='organizer', place=self.place_id)
        code_id, _ = self.create_code(user='admin', place=self.place_id)
        self.wechat()
        with self.assertRaises(AccessError):
            self.fetch(code_id, user='organizer')
        with self.assertRaises(ValidationError):
            self.create_code(user='admin', event=self.event_id,
                place=self.place_id)
        with self.assertRaises(UserError):
            # One code per event or place
            self.create_code(user='admin', place=self.place_id)

    def test_entry_code_resolve(self):
        "A scanned scene leads to the open events of its event or place"
        member = self.login()
        _, scene = self.create_code(event=self.event_id)
        data = member.json('GET', 'entry-codes?scene=' + scene, expect=200)
        self.assertEqual(data['kind'], 'event')
        self.assertEqual(data['place']['id'], self.place_id)
        self.assertEqual([e['id'] for e in data['events']], [self.event_id])
        self.assertFalse(data['events'][0]['checked_in'])
        # The code is not a credential: the check-in uses the event's
        # methods (here the kiosk's QR code)
        member.json('POST', 'checkins', self.here(
                qr_token=self.token, event_id=self.event_id), expect=201)
        status, data = member.json('GET', 'entry-codes?scene=' + scene)
        self.assertTrue(data['events'][0]['checked_in'])
        _, place_scene = self.create_code(user='admin', place=self.place_id)
        data = member.json('GET', 'entry-codes?scene='
            + quote(place_scene), expect=200)
        self.assertEqual(data['kind'], 'place')
        self.assertEqual([e['id'] for e in data['events']], [self.event_id])

    def test_entry_code_refused(self):
        "Forged, too long, withdrawn, ended and closed codes"
        member = self.login()
        code_id, scene = self.create_code(event=self.event_id)
        forged = scene[:-1] + ('A' if scene[-1] != 'A' else 'B')
        for value, reason in [
                (forged, 'signature'),
                (make_scene('e', self.events["Other"])[:-2] + 'zz',
                    'signature'),
                ('e%d.%s' % (self.event_id, 'A' * 17), 'malformed'),
                (scene + 'x' * (33 - len(scene)), 'malformed'),
                ('hello', 'malformed'),
                # Signed here but never made into a code
                (make_scene('e', self.events["Other"]), 'revoked'),
                ]:
            with self.subTest(value=value):
                self.assertError(member.json('GET', 'entry-codes?scene='
                        + quote(value)), 422, 'invalid_token', reason)
        self.assertError(member.json('GET', 'entry-codes?scene='
                + 'x' * 65), 400, 'invalid_request')
        self.assertError(member.json('GET', 'entry-codes'),
            400, 'invalid_request')
        # Not yet open
        _, later = self.create_code(event=self.events["Later"])
        self.assertError(member.json('GET', 'entry-codes?scene=' + later),
            422, 'event_not_open')
        # The event ended
        clock.freeze(START + dt.timedelta(hours=3))
        self.assertError(member.json('GET', 'entry-codes?scene=' + scene),
            422, 'invalid_token', 'expired')
        clock.freeze(NOW)

        # Withdrawn
        def deactivate():
            EntryCode = Pool().get('miniprogram.entry_code')
            EntryCode.write([EntryCode(code_id)], {'active': False})
        in_transaction(deactivate)
        self.assertError(member.json('GET', 'entry-codes?scene=' + scene),
            422, 'invalid_token', 'revoked')
        # The place archived
        _, place_scene = self.create_code(user='admin', place=self.place_id)

        def archive():
            Place = Pool().get('checkin.place')
            Place.write([Place(self.place_id)], {'active': False})
        in_transaction(archive)
        self.assertError(member.json('GET', 'entry-codes?scene='
                + quote(place_scene)), 422, 'invalid_token', 'expired')
        # Anonymous callers are not told
        self.assertError(self.api.json('GET', 'entry-codes?scene=' + scene),
            401, 'unauthorized')
