"""The outbox and its email channel against a local SMTP server (aiosmtpd):
the daily check-in report of an organizer arrives once with its workbook,
nothing is sent for a rolled back transaction, and an unreachable SMTP
server queues the message again."""
import datetime as dt
import email
import email.policy
import io
import socket
import threading
import unittest

from trytond import config
from trytond.modules.outbox.tests.tools import run_tasks
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

from .tools import run_transaction

# 2026-03-02 09:00 in Shanghai
START = dt.datetime(2026, 3, 2, 1, 0)
DAY = dt.date(2026, 3, 2)
XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


def free_port():
    "Return a TCP port of 127.0.0.1 that nothing listens to"
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class SMTPRecorder:
    "An aiosmtpd handler that records the messages it receives"

    def __init__(self):
        self.lock = threading.Lock()
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append({
                    'from': envelope.mail_from,
                    'to': list(envelope.rcpt_tos),
                    'message': email.message_from_bytes(
                        envelope.original_content or envelope.content,
                        policy=email.policy.default),
                    })
        return '250 Message accepted for delivery'

    def clear(self):
        with self.lock:
            self.received.clear()


class EmailMessagesTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        from aiosmtpd.controller import Controller
        drop_db()
        activate_module(['checkin'])
        cls.smtp = SMTPRecorder()
        cls.controller = Controller(
            cls.smtp, hostname='127.0.0.1', port=free_port())
        cls.controller.start()
        cls._config = {k: config.get('email', k) for k in ['uri', 'from']}
        cls.smtp_uri = 'smtp://127.0.0.1:%d' % cls.controller.port
        config.set('email', 'uri', cls.smtp_uri)
        config.set('email', 'from', 'tryton@example.com')

        def setup():
            from trytond.modules.checkin.tests.test_module import (
                at, create_event, here)
            from trytond.modules.member.tests.test_module import create_member
            from trytond.pool import Pool
            pool = Pool()
            User = pool.get('res.user')
            Attendance = pool.get('checkin.attendance')
            organizer, = User.create([{
                        'name': "Olga Organizer", 'login': 'olga',
                        'email': 'olga@example.com'}])
            members = [create_member(n) for n in ["Ann", "Bob", "Chen"]]
            event = create_event(
                name="Board Meeting",
                roster=[('add', [m.id for m in members])],
                organizers=[('add', [organizer.id])])
            for member in members[:2]:
                with at(START):
                    Attendance.check_in(member, {
                            'qr_token': event.current_token(START)},
                        position=here())
            return organizer.id
        cls.organizer_id = run_transaction(DB_NAME, setup)

    @classmethod
    def tearDownClass(cls):
        cls.controller.stop()
        for key, value in cls._config.items():
            config.set('email', key, value)
        drop_db()

    def setUp(self):
        from trytond.pool import Pool

        def clear():
            Message = Pool().get('outbox.message')
            Message.delete(Message.search([]))
        run_transaction(DB_NAME, clear)
        self.smtp.clear()
        config.set('email', 'uri', self.smtp_uri)

    def send(self, now=None):
        "Run the sending task of the outbox and return the ids handed over"
        from trytond.pool import Pool

        def send():
            Message = Pool().get('outbox.message')
            return [m.id for m in Message.send_queued()]
        context = {'_clock_now': now} if now else None
        ids = run_transaction(DB_NAME, send, context=context)
        run_tasks(DB_NAME)
        return ids

    def read(self, message_id):
        from trytond.pool import Pool

        def read():
            Message = Pool().get('outbox.message')
            message = Message(message_id)
            return {n: getattr(message, n) for n in [
                    'state', 'attempts', 'channel', 'recipient',
                    'last_error']}
        return run_transaction(DB_NAME, read)

    def queue_report(self):
        "Queue the daily report of DAY and return the messages"
        from trytond.pool import Pool

        def report():
            Event = Pool().get('checkin.event')
            return Event.send_daily_reports(date=DAY)
        self.assertEqual(
            run_transaction(DB_NAME, report), [self.organizer_id])
        run_tasks(DB_NAME)

        def messages():
            Message = Pool().get('outbox.message')
            return [m.id for m in Message.search([
                        ('template.code', '=', 'checkin_daily_report'),
                        ])]
        return run_transaction(DB_NAME, messages)

    def queue(self, rollback=False):
        "Queue an email to the organizer and return its id"
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        def queue():
            Message = Pool().get('outbox.message')
            message, = Message.queue([{
                        'template': 'checkin_daily_report',
                        'user': self.organizer_id,
                        'payload': {'date': 'ghost', 'lines': "- ghost"},
                        'attachment': b'PK ghost',
                        'attachment_name': 'ghost.xlsx',
                        }])
            if rollback:
                Transaction().rollback()
            return message.id
        return run_transaction(DB_NAME, queue)

    def test_daily_report_email(self):
        "The daily report reaches the organizer once, with its workbook"
        import openpyxl
        message_id, = self.queue_report()
        state = self.read(message_id)
        self.assertEqual(state['state'], 'queued')
        self.assertEqual(state['channel'], 'email')
        self.assertEqual(state['recipient'], 'olga@example.com')

        self.assertEqual(self.send(), [message_id])
        self.assertEqual(self.read(message_id)['state'], 'sent')
        self.assertEqual(len(self.smtp.received), 1)
        received = self.smtp.received[0]
        self.assertEqual(received['to'], ['olga@example.com'])
        self.assertEqual(received['from'], 'tryton@example.com')
        msg = received['message']
        self.assertEqual(msg['To'], 'Olga Organizer <olga@example.com>')
        self.assertEqual(msg['Subject'], "Check-in report of 2026-03-02")
        body = msg.get_body(('plain',)).get_content()
        self.assertIn("Olga Organizer", body)
        self.assertIn("Board Meeting: 2 / 3, 66.7%", body)
        attachment, = msg.iter_attachments()
        self.assertEqual(attachment.get_filename(), 'checkins-2026-03-02.xlsx')
        self.assertEqual(attachment.get_content_type(), XLSX)
        workbook = openpyxl.load_workbook(
            io.BytesIO(attachment.get_content()))
        self.assertEqual(workbook.sheetnames, ["Summary", "Check-ins"])
        summary = list(workbook["Summary"].values)
        self.assertEqual(summary[1][0], "Board Meeting")
        self.assertEqual(summary[1][3:6], (3, 2, 0.6667))
        detail = list(workbook["Check-ins"].values)
        self.assertEqual(sorted(r[3] for r in detail[1:]), ["Ann", "Bob"])

        # Sent once: neither the outbox nor the report queue it again
        self.assertEqual(self.send(), [])
        self.assertEqual(self.queue_report(), [message_id])
        self.assertEqual(self.send(), [])
        self.assertEqual(len(self.smtp.received), 1)

    def test_no_channel_not_queued(self):
        "A message no channel can take to its recipient is not queued"
        from trytond.pool import Pool

        def queue(email=None):
            pool = Pool()
            ContactMechanism = pool.get('party.contact_mechanism')
            Member = pool.get('member.member')
            Message = pool.get('outbox.message')
            User = pool.get('res.user')
            member, = Member.search([('name', '=', "Ann")])
            values = [{
                    'template': 'checkin_daily_report',
                    'party': member.party.id,
                    'payload': {'date': 'today'},
                    'dedup_key': 'no-channel',
                    }]
            if email:
                ContactMechanism.create([{
                            'party': member.party.id, 'type': 'email',
                            'value': email}])
            else:
                user, = User.create([{'name': "No Mail", 'login': 'nomail'}])
                values.append({
                        'template': 'checkin_daily_report',
                        'user': user.id,
                        'payload': {'date': 'today'},
                        })
            return [(m.channel, m.recipient, m.state)
                for m in Message.queue(values)]
        self.assertEqual(run_transaction(DB_NAME, queue), [])
        # Once the member has an address, the same key is queued
        self.assertEqual(
            run_transaction(DB_NAME, lambda: queue('ann@example.com')),
            [('email', 'ann@example.com', 'queued')])
        self.send()

        def states():
            Message = Pool().get('outbox.message')
            return [m.state for m in Message.search([])]
        self.assertEqual(run_transaction(DB_NAME, states), ['sent'])

    def test_rolled_back_sends_nothing(self):
        "An email queued by a rolled back transaction is never sent"
        from trytond.pool import Pool
        self.queue(rollback=True)
        self.assertEqual(self.send(), [])
        self.assertEqual(self.smtp.received, [])

        def count():
            Message = Pool().get('outbox.message')
            return Message.search_count([])
        self.assertEqual(run_transaction(DB_NAME, count), 0)

    def test_smtp_unreachable_retried(self):
        "An unreachable SMTP server queues the email again, then it is sent"
        now = dt.datetime.now(dt.timezone.utc).replace(
            tzinfo=None, microsecond=0)
        message_id = self.queue()
        config.set('email', 'uri', 'smtp://127.0.0.1:%d' % free_port())
        try:
            with self.assertLogs('trytond.modules.outbox.message',
                    'WARNING') as logs:
                self.assertEqual(self.send(now), [message_id])
            self.assertIn("SMTP unavailable", logs.output[0])
        finally:
            config.set('email', 'uri', self.smtp_uri)
        state = self.read(message_id)
        self.assertEqual(state['state'], 'queued')
        self.assertEqual(state['attempts'], 1)
        self.assertTrue(state['last_error'].startswith('SMTP'))
        self.assertEqual(self.smtp.received, [])

        # After the retry delay
        self.assertEqual(
            self.send(now + dt.timedelta(minutes=2)), [message_id])
        state = self.read(message_id)
        self.assertEqual(state['state'], 'sent')
        self.assertEqual(state['attempts'], 2)
        self.assertEqual(len(self.smtp.received), 1)
        attachment, = self.smtp.received[0]['message'].iter_attachments()
        self.assertEqual(attachment.get_filename(), 'ghost.xlsx')
