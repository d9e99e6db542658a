# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The SMS channel: the HTTP provider against a fake cloud SMS API on
127.0.0.1, the choice of the channel and an unconfigured provider."""
import json
import unittest

from trytond.modules.outbox.sms import HTTPProvider, get_provider
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction

from .test_module import create_party, create_template
from .tools import FakeSMS


class SmsProviderTestCase(unittest.TestCase):
    "The HTTP SMS provider"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = FakeSMS(key='K1', secret='S1')

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()
        super().tearDownClass()

    def setUp(self):
        self.fake.sent.clear()
        self.fake.answers.clear()
        self.provider = HTTPProvider(self.fake.url + '/', 'K1', 'S1', "Lotus")

    def test_sent(self):
        "A message is signed, its number and parameters as the API takes"
        outcome, error, biz_id = self.provider.send(
            '+8613800000001', 'SMS_1', {'code': '012345'}, reference=7)
        self.assertEqual((outcome, error), ('sent', None))
        self.assertTrue(biz_id)
        body, = self.fake.sent
        self.assertEqual(body['PhoneNumbers'], '13800000001')
        self.assertEqual(body['SignName'], "Lotus")
        self.assertEqual(body['TemplateCode'], 'SMS_1')
        self.assertEqual(body['TemplateParam'], {'code': '012345'})
        self.assertEqual(body['OutId'], '7')
        self.provider.send('+447400123456', 'SMS_1', {})
        self.assertEqual(self.fake.sent[-1]['PhoneNumbers'], '447400123456')

    def test_refused(self):
        "A wrong secret or key and a refused number fail for good"
        for provider in [HTTPProvider(self.fake.url, 'K1', 'other', ''),
                HTTPProvider(self.fake.url, 'K2', 'S1', '')]:
            outcome, error, _ = provider.send('+8613800000001', 'T', {})
            self.assertEqual(outcome, 'failed')
            self.assertIn('SignatureDoesNotMatch', error)
        self.fake.answers.append('isv.MOBILE_NUMBER_ILLEGAL')
        outcome, error, _ = self.provider.send('+8613800000001', 'T', {})
        self.assertEqual(outcome, 'failed')
        self.assertIn('isv.MOBILE_NUMBER_ILLEGAL', error)
        self.assertEqual(self.fake.sent, [])

    def test_retry(self):
        "Flow control, a 5xx and an unreachable provider are retried"
        self.fake.answers.extend(['isv.BUSINESS_LIMIT_CONTROL', 'http500'])
        for _ in range(2):
            outcome, _, _ = self.provider.send('+8613800000001', 'T', {})
            self.assertEqual(outcome, 'retry')
        down = HTTPProvider('http://127.0.0.1:9', 'K1', 'S1', '')
        outcome, error, _ = down.send('+8613800000001', 'T', {})
        self.assertEqual(outcome, 'retry')
        self.assertNotIn('S1', error)
        self.assertEqual(self.fake.sent, [])

    def test_get_provider(self):
        "No provider without a name and a URL"
        self.assertIsNone(get_provider(None, 'http://x', 'k', 's', ''))
        self.assertIsNone(get_provider('http', '', 'k', 's', ''))
        self.assertIsNone(get_provider('other', 'http://x', 'k', 's', ''))
        self.assertIsInstance(
            get_provider('http', 'http://x', 'k', 's', ''), HTTPProvider)


class SmsChannelTestCase(unittest.TestCase):
    "The SMS channel of the outbox"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('outbox')

    @with_transaction()
    def test_channel(self):
        """An SMS template goes by SMS to a mobile; the channel of a message
        may be imposed; a template without SMS code sends none"""
        Message = Pool().get('outbox.message')
        create_template(code='sms', sms_template_id='SMS_1',
            sms_data="code: {code}\nnot a line")
        create_template(code='mail')
        ann = create_party("Ann", 'ann@example.com', '+8613800000002')
        bob = create_party("Bob", 'bob@example.com')
        sms, = Message.queue([{'template': 'sms', 'party': ann.id,
                    'payload': {'code': '123456'}}])
        self.assertEqual((sms.channel, sms.recipient),
            ('sms', '+8613800000002'))
        self.assertEqual(sms.template.sms_values(json.loads(sms.payload)),
            {'code': '123456'})
        # Bob has no mobile: by email, unless SMS is imposed
        mail, = Message.queue([{'template': 'sms', 'party': bob.id}])
        self.assertEqual(mail.channel, 'email')
        self.assertEqual(Message.queue([{'template': 'sms', 'party': bob.id,
                        'channel': 'sms'}]), [])
        # A template without SMS code never goes by SMS
        self.assertEqual(Message.queue([{'template': 'mail', 'party': ann.id,
                        'channel': 'sms'}]), [])
        mail, = Message.queue([{'template': 'mail', 'party': ann.id}])
        self.assertEqual(mail.channel, 'email')

    @with_transaction()
    def test_not_configured(self):
        "Without a provider an SMS fails for good, with the reason"
        Message = Pool().get('outbox.message')
        create_template(code='sms', sms_template_id='SMS_1', secret=True)
        ann = create_party("Ann", mobile='+8613800000003')
        message, = Message.queue([{'template': 'sms', 'party': ann.id,
                    'payload': {'code': '654321'}}])
        outcome, error = message._deliver()
        self.assertEqual(outcome, 'failed')
        self.assertIn("SMS", error)
        Message.write([message], {'state': 'sending'})
        message._set_outcome(outcome, error)
        message = Message(message.id)
        self.assertEqual(message.state, 'failed')
        # A secret message is erased once failed
        self.assertIsNone(message.payload)
        self.assertIsNone(message.body)
