# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Personal data in the mini-program API: what other people see of a member
(organizer routes, kiosk and dashboard) and the deletion of an account."""
import json
import re
import time
from unittest.mock import patch

from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase

from . import test_checkin_api
from .tools import Api, ApiTestMixin, event_token, in_transaction

NOW = test_checkin_api.NOW


def _checkin(name):
    """A method of the check-in API tests (the class is not imported: the
    loader would run its tests here again)"""
    return test_checkin_api.CheckinApiTestCase.__dict__[name]


# The password of the members of login
PASSWORD = 'Lotus-2026-x'


class PrivacyApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: personal data"
    module = 'miniprogram'
    frozen = NOW
    phone_prefix = '1360000'

    # The events and organizer of the check-in API tests
    setUpDatabase = _checkin('setUpDatabase')
    _phones = iter(range(5000, 10 ** 6))

    def setUp(self):
        super().setUp()
        self.event_id, self.token = event_token("Meeting", NOW)

    def register(self, name=None, organizer=False):
        return self.login(
            organizer=organizer, **({'name': name} if name else {}))

    def check_in(self, api):
        data = api.json('POST', 'checkins', self.here(
                qr_token=self.token), expect=201)
        return data

    def assertNoPersonalData(self, text, *apis, names=()):
        "Fail if text shows a phone (even in part) or a full name"
        for api in apis:
            national = api.phone[-11:]
            for part in [national, national[-8:], national[:7]]:
                self.assertNotIn(part, text)
        for name in names:
            self.assertNotIn(name, text)

    # Display of a member to other people

    def test_register_without_name(self):
        "A member registered without a name is not named after the phone"
        api = self.register()
        self.assertEqual(api.member['name'], "Member")
        self.assertNoPersonalData(api.member['name'], api)
        status, data = api.json('GET', 'me')
        self.assertEqual(data['member']['name'], "Member")
        # The member still sees their own (masked) phone
        self.assertEqual(data['member']['phone'],
            api.phone[:3] + '****' + api.phone[-4:])

    def test_stats_masked(self):
        "Organizers, kiosks and dashboards see masked display names only"
        nameless = self.register()
        named = self.register(name="Wang Xiaoming")
        organizer = self.register(organizer=True)
        for api in [nameless, named]:
            self.check_in(api)
        data = organizer.json(
            'POST', 'events/%s/kiosk-token' % self.event_id, expect=201)
        kiosk_token = data['token']
        kiosk = Api(self.client(), token=kiosk_token)

        for who, api, path in [
                ('organizer', organizer, 'events/%s/stats'),
                ('kiosk', kiosk, 'events/%s/stats'),
                ('address', Api(self.client()),
                    'events/%%s/stats?token=%s' % kiosk_token)]:
            with self.subTest(who=who):
                stats = api.json('GET', path % self.event_id, expect=200)
                recent = {r['member_id']: r['member']
                    for r in stats['recent']}
                self.assertEqual(recent[nameless.member_id], "M**")
                self.assertEqual(recent[named.member_id], "Wang **")
                self.assertNoPersonalData(json.dumps(stats,
                        ensure_ascii=False), nameless, named,
                    names=["Wang Xiaoming", "Xiaoming"])

        # The pages show what the stats route answers, and nothing of the
        # members in their HTML
        for page in ['kiosk', 'dashboard']:
            for who, api, path in [
                    ('organizer', organizer, 'events/%s/' + page),
                    ('kiosk', Api(self.client()),
                        'events/%%s/%s?token=%s' % (page, kiosk_token))]:
                with self.subTest(page=page, who=who):
                    response = api('GET', path % self.event_id)
                    self.assertEqual(response.status_code, 200)
                    html = response.get_data(as_text=True)
                    self.assertNoPersonalData(html, nameless, named,
                        names=["Wang", "Xiaoming", "Member"])
                    config = json.loads(re.search(
                            r'id="config">(.*?)</script>', html,
                            re.S).group(1))
                    # The feed the page reads is the stats route
                    self.assertTrue(config['base'].endswith(
                            '/events/%s/' % self.event_id))

        # Batch check-in results name nobody
        third = self.register(name="Li Lei")
        batch = organizer.json('POST',
            'events/%s/batch-checkin' % self.event_id,
            {'member_ids': [named.member_id, third.member_id]}, expect=200)
        self.assertNoPersonalData(json.dumps(batch, ensure_ascii=False),
            named, third, names=["Wang", "Li Lei"])

    def test_stats_name_is_phone(self):
        "A name that is a phone number or an e-mail is never displayed"
        member = self.register(name="Wang Xiaoming")
        member.json('PATCH', 'me', {'name': member.phone}, expect=200)
        email = self.register(name="wang@example.com")
        organizer = self.register(organizer=True)
        for api in [member, email]:
            self.check_in(api)
        status, stats = organizer.json(
            'GET', 'events/%s/stats' % self.event_id)
        recent = {r['member_id']: r['member'] for r in stats['recent']}
        self.assertEqual(recent[member.member_id], "M**")
        self.assertEqual(recent[email.member_id], "M**")
        self.assertNoPersonalData(json.dumps(stats), member,
            names=["wang@example.com"])

    # Account deletion

    def figures(self):
        "The statistics that a deletion must not change"
        def read():
            pool = Pool()
            Event = pool.get('checkin.event')
            Line = pool.get('member.points.line')
            Attendance = pool.get('checkin.attendance')
            stats = Event(self.event_id).stats()
            lines = Line.search([])
            return {
                'stats': {k: stats[k] for k in [
                        'expected', 'checked_in', 'rate', 'late', 'flagged',
                        'rejected', 'by_bucket']},
                'recent': len(stats['recent']),
                'points': sum(l.points for l in lines),
                'lines': len(lines),
                'checkins': Attendance.search_count([]),
                }
        result = []

        def run():
            result.append(read())
        in_transaction(run)
        return result[0]

    def member_values(self, member_id):
        result = []

        def read():
            Member = Pool().get('member.member')
            member = Member(member_id)
            result.append({
                    'active': member.active,
                    'name': member.name,
                    'phone': member.phone,
                    'address': member.address,
                    'avatar_url': member.avatar_url,
                    })
        in_transaction(read)
        return result[0]

    def test_delete_me(self):
        "DELETE me erases the member, ends every token, keeps the figures"
        member = self.register(name="Wang Xiaoming")
        data = member.json('PATCH', 'me', {
                'address': "1 Nanjing Road", 'avatar_url':
                'https://example.com/wang.png'}, expect=200)
        other = self.register(name="Li Lei")
        for api in [member, other]:
            self.check_in(api)
        refreshed = member.json('POST', 'auth/refresh',
            {'refresh_token': member.refresh_token}, expect=200)
        before = self.figures()
        other_before = self.member_values(other.member_id)

        data = member.json('DELETE', 'me', {'password': PASSWORD}, expect=204)

        # Every token of the member is refused, a second call too
        self.assertError(member.json('DELETE', 'me', {'password': PASSWORD}),
            401, 'unauthorized')
        self.assertError(member.json('GET', 'me'), 401, 'unauthorized')
        self.assertError(member.json('GET', 'me', token=refreshed[
                    'access_token']), 401, 'unauthorized')
        self.assertError(member.json('POST', 'checkins/daily', {}),
            401, 'unauthorized')
        self.assertError(member.json('POST', 'auth/refresh',
                {'refresh_token': refreshed['refresh_token']}),
            401, 'unauthorized')
        self.assertError(member.json('POST', 'auth/login',
                {'phone': member.phone, 'password': PASSWORD}),
            401, 'invalid_credentials')

        # The personal data is erased; the history stays anonymous
        values = self.member_values(member.member_id)
        self.assertEqual(values, {'active': False, 'name': None,
                'phone': None, 'address': None, 'avatar_url': None})

        def positions():
            Attendance = Pool().get('checkin.attendance')
            return [(a.latitude, a.longitude) for a in Attendance.search([
                        ('member', '=', member.member_id)])]

        def tokens():
            RefreshToken = Pool().get('miniprogram.refresh_token')
            return {(t.state, t.revoke_reason) for t in RefreshToken.search([
                        ('member', '=', member.member_id)])}
        found = []
        in_transaction(lambda: found.append(positions()))
        self.assertEqual(found[0], [(None, None)])
        in_transaction(lambda: found.append(tokens()))
        self.assertEqual(found[1],
            {('revoked', 'rotated'), ('revoked', 'erased')})
        self.assertEqual(self.figures(), before)

        # The other member is unaffected
        data = other.json('GET', 'me', expect=200)
        self.assertEqual(self.member_values(other.member_id), other_before)
        # The phone may register again, as a new member
        data = self.api.json('POST', 'auth/register',
            {'phone': member.phone, 'password': PASSWORD}, expect=201)
        self.assertNotEqual(data['member']['id'], member.member_id)

    def test_delete_me_wrong_password(self):
        "A wrong password, or another member's token, deletes nothing"
        member = self.register(name="Wang Xiaoming")
        other = self.register(name="Li Lei")
        self.check_in(member)
        before = self.figures()
        member_before = self.member_values(member.member_id)
        other_before = self.member_values(other.member_id)

        self.assertError(member.json('DELETE', 'me',
                {'password': 'Wrong-2026-x'}), 401, 'invalid_credentials')
        # The other member's token with this member's password
        self.assertError(other.json('DELETE', 'me',
                {'password': 'Wrong-2026-x'}), 401, 'invalid_credentials')
        self.assertError(member.json('DELETE', 'me', {'password': ''}),
            400, 'invalid_request')
        self.assertError(member.json('DELETE', 'me'),
            400, 'invalid_request')
        self.assertError(member.json('DELETE', 'me', {'member_id': 1}),
            400, 'invalid_request')

        self.assertEqual(self.member_values(member.member_id), member_before)
        self.assertEqual(self.member_values(other.member_id), other_before)
        self.assertEqual(self.figures(), before)
        for api in [member, other]:
            api.json('GET', 'me', expect=200)
        member.json('POST', 'auth/refresh',
            {'refresh_token': member.refresh_token}, expect=200)

    def test_delete_me_documented(self):
        "DELETE me is in the OpenAPI document"
        status, document = self.api.json('GET', 'openapi.json')
        operation = document['paths']['/{database}/mp/v1/me']['delete']
        self.assertEqual(set(operation['requestBody']['content'][
                    'application/json']['schema']['properties']),
            {'password'})
        self.assertIn('204', operation['responses'])
        self.assertIn('invalid_credentials',
            operation['responses']['401']['description'])
        recent = document['paths'][
            '/{database}/mp/v1/events/{event_id}/stats']['get'][
            'responses']['200']['content']['application/json']['schema'][
            'properties']['recent']['items']['properties']
        self.assertIn('masked', recent['member']['description'])

    def test_delete_me_throttled(self):
        "Repeated wrong passwords are throttled like logins"
        member = self.register()
        codes = []
        for _ in range(8):
            status, data = member.json('DELETE', 'me',
                {'password': 'Wrong-2026-x'})
            codes.append(status)
        self.assertEqual(codes[0], 401)
        self.assertEqual(codes[-1], 429)
        # Not even the right password is tried then
        self.assertError(member.json('DELETE', 'me', {'password': PASSWORD}),
            429, 'rate_limited')
        self.assertTrue(self.member_values(member.member_id)['active'])

    def test_delete_me_recent_login(self):
        "Without a password, only within 10 minutes of a login"
        member = self.register(name="Wang Xiaoming")
        later = time.time() + 11 * 60
        # Refreshed tokens keep the time of the login
        status, refreshed = member.json('POST', 'auth/refresh',
            {'refresh_token': member.refresh_token})
        with patch('trytond.modules.miniprogram.member.time.time',
                return_value=later):
            self.assertError(member.json('DELETE', 'me', {}, token=refreshed[
                        'access_token']), 401, 'invalid_credentials')
        self.assertTrue(self.member_values(member.member_id)['active'])

        member.json('DELETE', 'me', {},
            token=refreshed['access_token'], expect=204)
        self.assertFalse(self.member_values(member.member_id)['active'])
