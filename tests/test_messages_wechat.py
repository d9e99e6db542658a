"""The outbox and its WeChat channel against a local fake WeChat server:
subscription credits and 43101, a 5xx then a success after the back-off,
nothing sent for a rolled back transaction, a refused token renewed once,
and one token fetched for two worker processes (PostgreSQL)."""
import datetime as dt
import os
import subprocess
import unittest

from trytond import backend, config
from trytond.modules.outbox.tests.tools import FakeWeChat, run_tasks
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

from .tools import run_transaction, worker_command

NOW = dt.datetime(2024, 5, 1, 8, 0, 0)


class WeChatMessagesTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['member'])
        cls.fake = FakeWeChat()
        cls._config = {k: config.get('miniprogram', k) for k in [
                'wechat_api', 'appid', 'secret']}
        if not config._config.has_section('miniprogram'):
            config._config.add_section('miniprogram')
        config.set('miniprogram', 'wechat_api', cls.fake.url)
        config.set('miniprogram', 'appid', 'APPID')
        config.set('miniprogram', 'secret', 'SECRET')

        def setup():
            from trytond.pool import Pool
            pool = Pool()
            Member = pool.get('member.member')
            Template = pool.get('outbox.template')
            member, = Member.create([{
                        'name': "Wei", 'wechat_openid': 'OPENID-1'}])
            template, = Template.create([{
                        'code': 'test_wechat', 'name': "Test",
                        'wechat_template_id': 'TPL-1',
                        'wechat_data': 'thing1: {text}\ntime2: {when}',
                        'subject': "Test", 'body': "Hello {text}"}])
            return member.party.id, template.id
        cls.party_id, cls.template_id = run_transaction(DB_NAME, setup)

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()
        for key, value in cls._config.items():
            if value is None:
                config._config.remove_option('miniprogram', key)
                config._cache_clear()
            else:
                config.set('miniprogram', key, value)
        drop_db()

    def setUp(self):
        self.fake.sent.clear()
        self.fake.send_answers[:] = []

    def context(self, now=NOW):
        return {'_clock_now': now}

    def subscribe(self, results=None):
        from trytond.pool import Pool

        def subscribe():
            Subscription = Pool().get('outbox.subscription')
            return Subscription.record_subscription(
                self.party_id, results or {'TPL-1': 'accept'})
        return run_transaction(DB_NAME, subscribe)

    def queue(self, text, rollback=False, now=NOW):
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        def queue():
            Message = Pool().get('outbox.message')
            message, = Message.queue([{
                        'template': 'test_wechat',
                        'party': self.party_id,
                        'payload': {'text': text, 'when': '2024-05-01 10:00'},
                        }])
            if rollback:
                Transaction().rollback()
            return message.id
        return run_transaction(DB_NAME, queue, context=self.context(now))

    def send(self, now=NOW):
        from trytond.pool import Pool

        def send():
            Message = Pool().get('outbox.message')
            return [m.id for m in Message.send_queued()]
        ids = run_transaction(DB_NAME, send, context=self.context(now))
        run_tasks(DB_NAME)
        return ids

    def read(self, message_id):
        from trytond.pool import Pool

        def read():
            Message = Pool().get('outbox.message')
            message = Message(message_id)
            return {n: getattr(message, n) for n in [
                    'state', 'attempts', 'next_try', 'last_error',
                    'sent_at']}
        return run_transaction(DB_NAME, read)

    def credits(self):
        from trytond.pool import Pool

        def credits():
            Subscription = Pool().get('outbox.subscription')
            return Subscription.credits_of(self.party_id, self.template_id)
        return run_transaction(DB_NAME, credits)

    def test_send_consumes_credit(self):
        "A message is sent with one credit; without credit it is not sent"
        self.assertEqual(self.subscribe(), {'TPL-1': self.credits()})
        credits = self.credits()
        self.assertGreaterEqual(credits, 1)
        for _ in range(credits - 1):
            self.queue("use up")
        self.send()
        self.assertEqual(self.credits(), 1)
        message_id = self.queue("first")
        self.send()
        state = self.read(message_id)
        self.assertEqual(state['state'], 'sent')
        self.assertEqual(state['sent_at'], NOW)
        self.assertEqual(self.fake.sent[-1]['touser'], 'OPENID-1')
        self.assertEqual(self.fake.sent[-1]['template_id'], 'TPL-1')
        self.assertEqual(self.fake.sent[-1]['data']['thing1'],
            {'value': 'first'})
        self.assertEqual(self.credits(), 0)

        sent = len(self.fake.sent)
        message_id = self.queue("second")
        self.send()
        state = self.read(message_id)
        self.assertEqual(state['state'], 'failed')
        self.assertIn('43101', state['last_error'])
        self.assertEqual(len(self.fake.sent), sent)

    def test_43101_no_retry(self):
        "WeChat's 43101 fails the message at once and clears the credits"
        self.subscribe()
        self.subscribe()
        self.fake.send_answers[:] = [43101]
        message_id = self.queue("refused")
        self.send()
        state = self.read(message_id)
        self.assertEqual(state['state'], 'failed')
        self.assertEqual(state['attempts'], 1)
        self.assertIn('43101', state['last_error'])
        self.assertEqual(self.credits(), 0)
        self.assertEqual(self.send(now=NOW + dt.timedelta(hours=1)), [])
        self.assertEqual(self.fake.sent, [])

    def test_5xx_then_success(self):
        "An HTTP 5xx is retried after the back-off, then sent"
        self.subscribe()
        self.fake.send_answers[:] = ['http500', 'http500']
        message_id = self.queue("busy")
        self.send()
        state = self.read(message_id)
        self.assertEqual(state['state'], 'queued')
        self.assertEqual(state['attempts'], 1)
        self.assertEqual(state['next_try'], NOW + dt.timedelta(minutes=1))
        self.assertIn('HTTP 500', state['last_error'])

        # Not due yet
        self.assertEqual(self.send(now=NOW + dt.timedelta(seconds=30)), [])
        self.send(now=NOW + dt.timedelta(minutes=1))
        state = self.read(message_id)
        self.assertEqual(state['attempts'], 2)
        # The delay doubles
        self.assertEqual(state['next_try'],
            NOW + dt.timedelta(minutes=1) + dt.timedelta(minutes=2))
        self.assertEqual(self.fake.sent, [])

        self.send(now=NOW + dt.timedelta(minutes=3))
        state = self.read(message_id)
        self.assertEqual(state['state'], 'sent')
        self.assertEqual(state['attempts'], 3)
        self.assertEqual(len(self.fake.sent), 1)

    def test_rolled_back_sends_nothing(self):
        "A message queued by a rolled back transaction is never sent"
        from trytond.pool import Pool
        self.subscribe()
        self.queue("ghost", rollback=True)
        self.assertEqual(self.send(), [])
        self.assertEqual(self.fake.sent, [])

        def search():
            Message = Pool().get('outbox.message')
            return Message.search_count([('payload', 'like', '%ghost%')])
        self.assertEqual(run_transaction(DB_NAME, search), 0)

    def test_token_refused_renewed(self):
        "A token refused by WeChat (40001) is renewed once and reused"
        from trytond.pool import Pool
        self.subscribe()

        def stale():
            Token = Pool().get('outbox.wechat.token')
            Token.write([Token(Token._holder_id())], {
                    'access_token': 'STALE',
                    'expires_at': NOW + dt.timedelta(hours=1),
                    })
        run_transaction(DB_NAME, stale)
        fetches = self.fake.token_fetches
        message_id = self.queue("renew")
        self.send()
        self.assertEqual(self.read(message_id)['state'], 'sent')
        self.assertEqual(self.fake.token_fetches, fetches + 1)
        message_id = self.queue("reuse")
        self.subscribe()
        self.send()
        self.assertEqual(self.read(message_id)['state'], 'sent')
        self.assertEqual(self.fake.token_fetches, fetches + 1)

    def test_interrupted_sending_requeued(self):
        "A message left sending after a crash is queued again, with a note"
        from trytond.pool import Pool
        self.subscribe()
        message_id = self.queue("crash")

        def claim():
            Message = Pool().get('outbox.message')
            return Message.send_queued()
        # The worker never runs the task: the process died
        run_transaction(DB_NAME, claim, context=self.context())
        from trytond.transaction import Transaction
        Transaction().tasks.clear()
        self.assertEqual(self.read(message_id)['state'], 'sending')
        self.send(now=NOW + dt.timedelta(minutes=5))
        self.assertEqual(self.read(message_id)['state'], 'sending')
        Transaction().tasks.clear()
        self.send(now=NOW + dt.timedelta(minutes=16))
        state = self.read(message_id)
        self.assertEqual(state['state'], 'sent')
        self.assertIn('twice', state['last_error'])

    def test_late_task_of_requeued_message(self):
        """The task of a claim that waited past the sending timeout sends
        nothing: the message was claimed again and its new task sends it
        once"""
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        from trytond.worker import run_task
        self.subscribe()
        message_id = self.queue("late")

        def claim():
            Message = Pool().get('outbox.message')
            return [m.id for m in Message.send_queued()]
        tasks = Transaction().tasks
        self.assertEqual(
            run_transaction(DB_NAME, claim, context=self.context()),
            [message_id])
        first = list(tasks)
        tasks.clear()
        # The worker is late: the timeout puts the message back in the queue
        # and the next run claims it again
        self.assertEqual(run_transaction(DB_NAME, claim,
                context=self.context(NOW + dt.timedelta(minutes=16))),
            [message_id])
        second = list(tasks)
        tasks.clear()
        for task in first:
            run_task(DB_NAME, task)
        self.assertEqual(len(self.fake.sent), 0)
        self.assertEqual(self.read(message_id)['state'], 'sending')
        for task in second:
            run_task(DB_NAME, task)
        self.assertEqual(len(self.fake.sent), 1)
        self.assertEqual(self.read(message_id)['state'], 'sent')

    @unittest.skipUnless(backend.name == 'postgresql',
        "multi-process test: needs PostgreSQL")
    def test_token_shared_by_two_processes(self):
        "Two worker processes asking at once fetch one token and share it"
        from trytond.pool import Pool

        def clear():
            Token = Pool().get('outbox.wechat.token')
            Token.write([Token(Token._holder_id())], {
                    'access_token': None, 'expires_at': None})
        run_transaction(DB_NAME, clear)
        fetches = self.fake.token_fetches
        self.fake.token_delay = 0.5
        try:
            env = dict(os.environ, DB_NAME=DB_NAME,
                TRYTOND_MINIPROGRAM__WECHAT_API=self.fake.url,
                TRYTOND_MINIPROGRAM__APPID='APPID',
                TRYTOND_MINIPROGRAM__SECRET='SECRET')
            procs = [subprocess.Popen(
                    worker_command('messages_worker.py', 'token'), env=env,
                    stdout=subprocess.PIPE, text=True) for _ in range(2)]
            tokens = []
            for proc in procs:
                out, _ = proc.communicate(timeout=120)
                self.assertEqual(proc.returncode, 0)
                tokens.append(out.strip())
        finally:
            self.fake.token_delay = 0
        self.assertEqual(self.fake.token_fetches, fetches + 1)
        self.assertEqual(tokens[0], tokens[1])
        self.assertEqual(tokens[0], self.fake.valid_token)
