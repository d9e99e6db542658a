# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""A local fake WeChat server and helpers for the outbox tests (also used by
the cross-module tests and scripts/soak_messages.py)"""
import collections
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeWeChat:
    """A fake of api.weixin.qq.com on 127.0.0.1: it counts the token
    fetches, records the messages and answers the send with the codes of
    `send_answers` (an int errcode, or 'http500'), then 0"""

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
        fake = self

        class Handler(BaseHTTPRequestHandler):
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

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def counts(self):
        "The receptions and the distinct messages received"
        with self.lock:
            return sum(self.receptions.values()), len(self.receptions)

    def snapshot(self):
        with self.lock:
            return dict(self.receptions)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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
