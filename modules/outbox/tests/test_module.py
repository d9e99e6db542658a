# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.modules.outbox.exceptions import (
    SubscriptionError, SubscriptionTemplateError)
from trytond.modules.outbox.message import render
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


def create_template(**values):
    Template = Pool().get('outbox.template')
    values.setdefault('code', 'test')
    values.setdefault('name', "Test")
    values.setdefault('subject', "Hello {name}")
    values.setdefault('body', "Body of {name}")
    template, = Template.create([values])
    return template


def create_party(name, email=None, mobile=None):
    Party = Pool().get('party.party')
    mechanisms = [{'type': t, 'value': v}
        for t, v in [('email', email), ('mobile', mobile)] if v]
    party, = Party.create([{
                'name': name, 'contact_mechanisms': [('create', mechanisms)]}])
    return party


class OutboxTestCase(ModuleTestCase):
    "Test Outbox module"
    module = 'outbox'

    def test_render(self):
        "A missing key is left empty, a broken text is kept as it is"
        self.assertEqual(render("Hi {name}{x}", {'name': "Ann"}), "Hi Ann")
        self.assertEqual(render("Hi {name", {'name': "Ann"}), "Hi {name")
        self.assertEqual(render(None, {}), '')

    @with_transaction()
    def test_wechat_values(self):
        "WeChat data lines are rendered, thing values cut to 20 characters"
        template = create_template(
            wechat_data="thing1: {text}\ntime2: {when}\nnot a line")
        self.assertEqual(template.wechat_values(
                {'text': "x" * 30, 'when': "10:00"}),
            {'thing1': "x" * 19 + "…", 'time2': "10:00"})

    @with_transaction()
    def test_queue_channel(self):
        """The outbox alone knows no OpenID: a WeChat template goes by email;
        no address, no message; a key is queued once"""
        Message = Pool().get('outbox.message')
        create_template(wechat_template_id='TPL')
        ann = create_party("Ann", 'ann@example.com')
        nobody = create_party("Nobody")
        message, = Message.queue([{
                    'template': 'test', 'party': ann.id,
                    'payload': {'name': "Ann"}, 'dedup_key': 'k1'}])
        self.assertEqual(
            (message.channel, message.recipient, message.subject,
                message.state),
            ('email', 'ann@example.com', "Hello Ann", 'queued'))
        self.assertEqual(Message.queue([
                    {'template': 'test', 'party': ann.id, 'dedup_key': 'k1'},
                    {'template': 'test', 'party': nobody.id},
                    ]), [])

    @with_transaction()
    def test_subscription_limits(self):
        """An answer wx.requestSubscribeMessage cannot give is refused as
        invalid_request and records nothing"""
        Subscription = Pool().get('outbox.subscription')
        party = create_party("Wei")
        for results in [
                {'T%s' % i: 'accept' for i in range(21)},
                {'TPL': 'yes'}, {'TPL': 1}, {'': 'accept'},
                {'x' * 129: 'accept'}]:
            with self.subTest(results=str(results)[:40]):
                with self.assertRaises(SubscriptionError) as cm:
                    Subscription.record_subscription(party, results)
                self.assertEqual(cm.exception.error_code, 'invalid_request')
                self.assertEqual(
                    cm.exception.details['field'], 'body.results')
        self.assertEqual(Subscription.search([]), [])

    @with_transaction()
    def test_record_subscription(self):
        "Each accept adds a credit; an unknown template records nothing"
        Subscription = Pool().get('outbox.subscription')
        template = create_template(wechat_template_id='TPL')
        party = create_party("Wei")
        with self.assertRaises(SubscriptionTemplateError) as cm:
            Subscription.record_subscription(
                party, {'TPL': 'accept', 'GONE': 'accept'})
        self.assertEqual(cm.exception.error_code, 'unknown_template')
        self.assertEqual(cm.exception.details, {'template_ids': ['GONE']})
        self.assertEqual(Subscription.credits_of(party, template), 0)
        for answer, credits in [('accept', 1), ('reject', 1), ('accept', 2)]:
            self.assertEqual(Subscription.record_subscription(
                    party, {'TPL': answer}), {'TPL': credits})
        Subscription.consume(party, template)
        self.assertEqual(Subscription.credits_of(party, template), 1)
        Subscription.consume(party, template, all_=True)
        self.assertEqual(Subscription.credits_of(party, template), 0)

    @with_transaction()
    def test_language(self):
        "A message is rendered in the language of its recipient"
        pool = Pool()
        Lang = pool.get('ir.lang')
        Message = pool.get('outbox.message')
        Template = pool.get('outbox.template')
        template = create_template()
        french, = Lang.search([('code', '=', 'fr')])
        french.translatable = True
        french.save()
        with Transaction().set_context(language='fr'):
            Template.write([Template(template.id)], {
                    'subject': "Bonjour {name}"})
        ann = create_party("Ann", 'ann@example.com')
        ann.lang = french
        ann.save()
        message, = Message.queue([{
                    'template': 'test', 'party': ann.id,
                    'payload': {'name': "Ann"}}])
        self.assertEqual((message.language, message.subject),
            ('fr', "Bonjour Ann"))


del ModuleTestCase
