# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Personal data in the mini-program API: what other people see of a member
(organizer routes, kiosk and dashboard)."""
import json
import re

from trytond.modules.checkin import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase

from . import test_checkin_api
from .tools import Api, in_transaction

NOW = test_checkin_api.NOW


def _checkin(name):
    """A method of the check-in API tests (the class is not imported: the
    loader would run its tests here again)"""
    return test_checkin_api.CheckinApiTestCase.__dict__[name]

# The password of the members of login
PASSWORD = 'Lotus-2026-x'


class PrivacyApiTestCase(RouteTestCase):
    "Mini-program API: personal data"
    module = 'miniprogram'

    # The events, organizer and helpers of the check-in API tests
    setUpDatabase = _checkin('setUpDatabase')
    assertError = _checkin('assertError')
    here = _checkin('here')
    _phones = iter(range(5000, 10 ** 6))

    def setUp(self):
        super().setUp()
        clock.freeze(NOW)
        self.addCleanup(clock.unfreeze)
        self.api = Api(self.client())

        def read():
            Event = Pool().get('checkin.event')
            event, = Event.search([('name', '=', "Meeting")])
            return event.id, event.current_token(NOW)
        result = []
        in_transaction(lambda: result.append(read()))
        self.event_id, self.token = result[0]

    def register(self, name=None, organizer=False):
        return _checkin('login')(self, organizer=organizer, name=name)

    def check_in(self, api):
        status, data = api.json('POST', 'checkins', self.here(
                qr_token=self.token))
        self.assertEqual(status, 201, data)
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
        status, data = organizer.json(
            'POST', 'events/%s/kiosk-token' % self.event_id)
        self.assertEqual(status, 201, data)
        kiosk_token = data['token']
        kiosk = Api(self.client(), token=kiosk_token)

        for who, api, path in [
                ('organizer', organizer, 'events/%s/stats'),
                ('kiosk', kiosk, 'events/%s/stats'),
                ('address', Api(self.client()),
                    'events/%%s/stats?token=%s' % kiosk_token)]:
            with self.subTest(who=who):
                status, stats = api.json('GET', path % self.event_id)
                self.assertEqual(status, 200, stats)
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
        status, batch = organizer.json('POST',
            'events/%s/batch-checkin' % self.event_id,
            {'member_ids': [named.member_id, third.member_id]})
        self.assertEqual(status, 200, batch)
        self.assertNoPersonalData(json.dumps(batch, ensure_ascii=False),
            named, third, names=["Wang", "Li Lei"])

    def test_stats_name_is_phone(self):
        "A name that is a phone number or an e-mail is never displayed"
        member = self.register(name="Wang Xiaoming")
        status, data = member.json('PATCH', 'me', {'name': member.phone})
        self.assertEqual(status, 200, data)
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
