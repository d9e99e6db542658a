# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""A local fake WeChat server and helpers for the outbox tests (also used by
the cross-module tests and scripts/soak_messages.py)"""
import collections
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A PNG of 1x1 pixel: the image of the fake mini-program codes
PNG = bytes.fromhex(
    '89504e470d0a1a0a0000000d4948445200000001000000010806000000'
    '1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44'
    'ae426082')
# The scene of getwxacodeunlimit
_SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")


class _Handler(BaseHTTPRequestHandler):
    "The handler of a fake API: silent, answering JSON"

    def log_message(self, *args):
        pass

    def _answer(self, data, status=200):
        body = json.dumps(data).encode('utf-8')
        try:
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The sender was killed while waiting for the answer
            pass


class _FakeAPI:
    "A fake API served on 127.0.0.1 by a thread of its own"

    def _serve(self, Handler):
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeWeChat(_FakeAPI):
    """A fake of api.weixin.qq.com on 127.0.0.1: it counts the token
    fetches, records the messages and answers the send with the codes of
    `send_answers` (an int errcode, or 'http500'), then 0.

    getwxacodeunlimit answers PNG for a valid scene (errcode 40169
    otherwise), 41030 for a page of `invalid_pages`, or the codes of
    `code_answers` first; the bodies it received are in `codes`."""

    def __init__(self, token_delay=0, send_delay=0, key_field=None):
        self.lock = threading.Lock()
        self.token_fetches = 0
        self.token_delay = token_delay
        # A delivered message is answered after send_delay seconds
        self.send_delay = send_delay
        # The receptions of each message by the value of its data field
        # key_field (scripts/soak_messages.py)
        self.key_field = key_field
        self.receptions = collections.Counter()
        self.refused = 0
        self.valid_token = None
        self.sent = []
        self.send_answers = []
        # getuserphonenumber: code -> (country code, number) or an errcode
        self.phones = {}
        self.phone_codes = []
        # getwxacodeunlimit
        self.codes = []
        self.code_answers = []
        self.invalid_pages = set()
        self.appid = None
        fake = self

        class Handler(_Handler):
            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                if url.path != '/cgi-bin/token':
                    return self._answer({'errcode': 404}, 404)
                time.sleep(fake.token_delay)
                with fake.lock:
                    fake.token_fetches += 1
                    # A new token invalidates the previous one
                    fake.valid_token = 'TOKEN-%d' % fake.token_fetches
                    token = fake.valid_token
                self._answer({'access_token': token, 'expires_in': 7200})

            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length) or b'{}')
                with fake.lock:
                    if query.get('access_token', [None])[0] != (
                            fake.valid_token):
                        fake.refused += 1
                        return self._answer(
                            {'errcode': 40001, 'errmsg': 'invalid token'})
                    if url.path == '/wxa/business/getuserphonenumber':
                        return self._phone(body.get('code'))
                    if url.path == '/wxa/getwxacodeunlimit':
                        return self._code(body)
                    answer = (fake.send_answers.pop(0)
                        if fake.send_answers else 0)
                    if answer == 'http500':
                        return self._answer({'error': 'boom'}, 500)
                    if answer == 0:
                        # Delivered: WeChat shows it whatever happens next
                        fake.sent.append(body)
                        if fake.key_field:
                            fake.receptions[body.get('data', {}).get(
                                    fake.key_field, {}).get('value')] += 1
                if answer == 0 and fake.send_delay:
                    time.sleep(fake.send_delay)
                self._answer({'errcode': answer, 'errmsg': 'fake'})

            def _code(self, body):
                "Answer getwxacodeunlimit with an image or an errcode"
                fake.codes.append(body)
                answer = (fake.code_answers.pop(0)
                    if fake.code_answers else 0)
                if not answer and not _SCENE.match(body.get('scene') or ''):
                    answer = 40169
                if not answer and body.get('page') in fake.invalid_pages:
                    answer = 41030
                if answer:
                    return self._answer({'errcode': answer, 'errmsg': 'fake'})
                self.send_response(200)
                self.send_header('Content-Type', 'image/png')
                self.send_header('Content-Length', str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def _phone(self, code):
                "Answer getuserphonenumber (a code is valid once)"
                fake.phone_codes.append(code)
                answer = fake.phones.pop(code, 40029)
                if answer == 'http500':
                    return self._answer({'error': 'boom'}, 500)
                if isinstance(answer, int):
                    return self._answer(
                        {'errcode': answer, 'errmsg': 'fake'})
                country, number = answer
                self._answer({'errcode': 0, 'errmsg': 'ok', 'phone_info': {
                            'phoneNumber': '+%s%s' % (country, number),
                            'purePhoneNumber': number,
                            'countryCode': country,
                            'watermark': {'timestamp': int(time.time()),
                                'appid': fake.appid or 'APPID'},
                            }})

        self._serve(Handler)

    def counts(self):
        "The receptions and the distinct messages received"
        with self.lock:
            return sum(self.receptions.values()), len(self.receptions)

    def snapshot(self):
        with self.lock:
            return dict(self.receptions)


class FakeSMS(_FakeAPI):
    """A fake cloud SMS API (outbox.sms.HTTPProvider) on 127.0.0.1: it
    checks the key and the signature of each request, records the messages
    sent (`sent`: the bodies, TemplateParam decoded) and answers with the
    codes of `answers` (a provider code such as 'isv.BUSINESS_LIMIT_CONTROL',
    or 'http500'), then OK"""

    def __init__(self, key='sms-key', secret='sms-secret'):
        from trytond.modules.outbox.sms import SEND_PATH, HTTPProvider
        self.lock = threading.Lock()
        self.key = key
        self.sent = []
        self.refused = []
        self.answers = []
        checker = HTTPProvider(None, key, secret, None)
        fake = self

        class Handler(_Handler):
            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length)
                if self.path != SEND_PATH:
                    return self._answer({'Code': 'NotFound'}, 404)
                signature = checker.signature(
                    self.headers.get('X-Sms-Timestamp', ''),
                    self.headers.get('X-Sms-Nonce', ''), raw)
                with fake.lock:
                    if (self.headers.get('X-Sms-Key') != fake.key
                            or self.headers.get('X-Sms-Signature')
                            != signature):
                        fake.refused.append(raw)
                        return self._answer({'Code': 'SignatureDoesNotMatch',
                                'Message': 'fake'})
                    answer = fake.answers.pop(0) if fake.answers else 'OK'
                    if answer == 'http500':
                        return self._answer({'error': 'boom'}, 500)
                    if answer == 'OK':
                        body = json.loads(raw)
                        body['TemplateParam'] = json.loads(
                            body['TemplateParam'])
                        fake.sent.append(body)
                self._answer({'Code': answer, 'Message': 'fake',
                        'BizId': 'biz-%d' % len(fake.sent),
                        'RequestId': 'req'})

        self._serve(Handler)

    def codes(self, number):
        "The codes sent to number (as the provider takes it: 11 digits)"
        with self.lock:
            return [b['TemplateParam'].get('code') for b in self.sent
                if b['PhoneNumbers'] == number]


def configure_sms(database, fake, template='miniprogram_sms_code',
        sms_template_id='SMS_0001'):
    """Point the outbox of database at fake (a FakeSMS) and give the
    template its SMS template code"""
    from trytond.modules.suite.tests.tools import in_transaction
    from trytond.pool import Pool

    pool = Pool(database)
    Configuration = pool.get('outbox.configuration')
    Template = pool.get('outbox.template')
    in_transaction(lambda: _configure_sms(Configuration, Template, fake,
            template, sms_template_id), database=database)


def _configure_sms(Configuration, Template, fake, template, sms_template_id):
    Configuration.write([Configuration(1)], {
            'sms_provider': 'http',
            'sms_url': fake.url,
            'sms_key': fake.key,
            'sms_secret': 'sms-secret',
            'sms_sign_name': 'Lotus Club',
            })
    templates = Template.search([('code', '=', template)])
    if templates:
        Template.write(templates, {'sms_template_id': sms_template_id})


def run_tasks(database):
    "Run the tasks queued inline by the last transactions (as ir.cron does)"
    from trytond.transaction import Transaction
    from trytond.worker import run_task
    transaction = Transaction()
    while transaction.tasks:
        run_task(database, transaction.tasks.pop())


class FakeSMTP:
    """Stands for trytond.sendmail.get_smtp_server: counts the connections
    and records the emails; with `refuse` set, a connection is refused"""

    def __init__(self):
        self.connections = 0
        self.closed = 0
        self.refuse = False
        self.sent = []

    def connect(self, uri=None, strict=False):
        self.connections += 1
        if self.refuse:
            raise ConnectionRefusedError("fake SMTP refuses")
        return _FakeServer(self)


class _FakeServer:
    uri = 'smtp://fake'

    def __init__(self, fake):
        self.fake = fake

    def send_message(self, msg, from_addr=None, to_addrs=None):
        self.fake.sent.append(msg)
        return {}

    def quit(self):
        self.fake.closed += 1

    close = quit


def queue(database, values_list, openids=None):
    """Queue messages as the modules do (Message.queue in a transaction of
    their own) and return their ids; openids {party name: OpenID} stands for
    the module that knows the WeChat users of the parties (member)"""
    from unittest.mock import patch

    from trytond.pool import Pool
    from trytond.transaction import Transaction

    Message = Pool(database).get('outbox.message')
    openids = openids or {}

    def recipient_wechat(template, party, user):
        return openids.get(party.name) if party else None
    with patch.object(Message, '_recipient_wechat', recipient_wechat), \
            Transaction().start(database, 0) as transaction:
        messages = Message.queue(values_list)
        transaction.commit()
        return [m.id for m in messages]
