"""The shipped deployment (`scripts/service web`: gunicorn with
scripts/gunicorn.conf.py) answers every request under the API prefix with
the JSON error object, also those refused for their size before or by the
application."""
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import unittest

from trytond import backend, config
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

from .test_api_e2e import free_port
from .tools import stop_server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def raw_request(port, data, timeout=30):
    """Send data as is and answer (status, headers, body) of the answer.

    The answer is read while data is sent: a server that refuses a request
    for its size answers and closes before reading it all, and the end of
    data then meets a reset connection (which may discard an answer not
    read yet)."""
    with socket.create_connection(('127.0.0.1', port), timeout) as sock:
        def send():
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # answered and closed before the end of data
        sender = threading.Thread(target=send)
        sender.start()
        answer = b''
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            if not answer:
                raise
        finally:
            sender.join(timeout)
    head, _, body = answer.partition(b'\r\n\r\n')
    lines = head.decode('latin1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def read_to_end(sock):
    "What sock receives until the server closes the connection"
    answer = b''
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return answer
        answer += chunk


def data_segments_in(sock):
    """The TCP segments with data that sock received (Linux's
    tcpi_data_segs_in of struct tcp_info, since 4.6), or None"""
    import struct
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    if len(info) < 156:
        return None
    return struct.unpack_from('I', info, 152)[0]


@unittest.skipUnless(backend.name == 'postgresql',
    "gunicorn with several workers runs on PostgreSQL")
class DeploymentTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['miniprogram'])
        cls.port = free_port()
        cls.metrics_port = free_port()
        env = dict(os.environ,
            TRYTOND_DATABASE__URI=config.get('database', 'uri'),
            DB_NAME=DB_NAME, WEB_WORKERS='2',
            WEB_BIND='127.0.0.1:%s' % cls.port,
            METRICS_BIND='127.0.0.1:%s' % cls.metrics_port,
            TRYTOND_MINIPROGRAM__JWT_SECRET=secrets.token_hex(32))
        cls.log = open(os.path.join(os.environ.get('TMPDIR', '/tmp'),
                'deployment-%s.log' % os.getpid()), 'w+')
        cls.server = subprocess.Popen(
            [os.path.join(ROOT, 'scripts', 'service'), 'web'],
            env=env, stdout=cls.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if cls.server.poll() is not None:
                break
            try:
                status, _, _ = cls.get('openapi.json')
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        cls.log.seek(0)
        output = cls.log.read()[-3000:]
        cls.tearDownClass()
        raise RuntimeError("scripts/service web did not start:\n" + output)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server, cls.log)
        drop_db()

    @classmethod
    def get(cls, path, headers=(), method='GET', body=b''):
        lines = ['%s /%s/mp/v1/%s HTTP/1.1' % (method, DB_NAME, path),
            'Host: 127.0.0.1:%s' % cls.port, 'Connection: close']
        lines += ['%s: %s' % h for h in headers]
        if body:
            lines += ['Content-Type: application/json',
                'Content-Length: %s' % len(body)]
        data = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin1') + body
        return raw_request(cls.port, data)

    def assertJsonError(self, answer, status, code):
        got, headers, body = answer
        self.assertEqual(got, status, body[:300])
        self.assertTrue(headers.get('content-type', '').startswith(
                'application/json'), (headers, body[:300]))
        error = json.loads(body)['error']
        self.assertEqual(error['code'], code, error)
        self.assertIsInstance(error['message'], str)

    def test_long_header_decided_by_the_api(self):
        "A 20,000-character Authorization: 431 from the API, as JSON"
        self.assertJsonError(self.get('me', [
                    ('Authorization', 'Bearer ' + 'x' * 20000)]),
            431, 'header_too_large')

    def test_header_beyond_gunicorn(self):
        "Above gunicorn's own limits the answer is JSON too"
        self.assertJsonError(self.get('me', [
                    ('Authorization', 'Bearer ' + 'x' * 100000)]),
            431, 'header_too_large')
        self.assertJsonError(self.get('me', [
                    ('X-Many-%s' % i, 'y') for i in range(150)]),
            431, 'header_too_large')

    def test_long_address(self):
        "Too long addresses: 414 as JSON, from the API and from gunicorn"
        self.assertJsonError(self.get('services?x=' + 'z' * 7500),
            414, 'uri_too_long')
        self.assertJsonError(self.get('services?x=' + 'z' * 10000),
            414, 'uri_too_long')

    def test_large_body(self):
        "A 1 MB body: 413 as JSON"
        self.assertJsonError(self.get('auth/login', method='POST',
                body=b'{"phone": "' + b'1' * (1024 * 1024) + b'"}'),
            413, 'payload_too_large')

    def test_malformed_request(self):
        "A malformed header gunicorn refuses: 400 as JSON"
        data = ('GET /%s/mp/v1/me HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'
            % DB_NAME).encode()
        self.assertJsonError(raw_request(self.port, data),
            400, 'invalid_request')

    def test_ordinary_request(self):
        "A request within the limits reaches the API"
        self.assertJsonError(self.get('me', [
                    ('Authorization', 'Bearer ' + 'x' * 1000)]),
            401, 'unauthorized')

    @unittest.skipUnless(hasattr(socket, 'TCP_INFO'), "Linux's TCP_INFO")
    def test_answer_in_one_segment(self):
        """A small answer, headers and body, arrives in one TCP segment
        with data: the worker corks the connection (gunicorn sends the
        headers and the body apart, two segments)"""
        data = ('GET /%s/mp/v1/me HTTP/1.1\r\nHost: x\r\n'
            'Connection: close\r\n\r\n' % DB_NAME).encode()
        counts = []
        # The least of three: a worker paused 200 ms between its two sends
        # on a busy machine would let the kernel send the headers alone
        for _ in range(3):
            with socket.create_connection(
                    ('127.0.0.1', self.port), 30) as sock:
                sock.sendall(data)
                answer = read_to_end(sock)
                counts.append(data_segments_in(sock))
            if counts[-1] is None:
                self.skipTest("no tcpi_data_segs_in in TCP_INFO")
            # 401 and its JSON error object, in a few hundred bytes
            self.assertTrue(answer.startswith(b'HTTP/1.1 401 '),
                answer[:300])
            self.assertTrue(answer.partition(b'\r\n\r\n')[2], answer[:300])
        self.assertEqual(min(counts), 1, counts)

    def test_continue_not_corked(self):
        """A request that expects "100 Continue" gets it at once: the
        worker does not cork its connection (the kernel would hold the
        interim answer 200 ms)"""
        body = b'{"qr_token": "x", "lat": 0, "lon": 0}'
        head = ('POST /%s/mp/v1/checkins HTTP/1.1\r\nHost: x\r\n'
            'Connection: close\r\nContent-Type: application/json\r\n'
            'Content-Length: %d\r\nExpect: 100-continue\r\n\r\n'
            % (DB_NAME, len(body))).encode()
        waits = []
        # The least of three: a busy machine may delay one, the cork's
        # 200 ms would delay them all
        for _ in range(3):
            with socket.create_connection(
                    ('127.0.0.1', self.port), 30) as sock:
                start = time.monotonic()
                sock.sendall(head)
                interim = b''
                while not interim.endswith(b'\r\n\r\n'):
                    chunk = sock.recv(1)
                    if not chunk:
                        break
                    interim += chunk
                waits.append(time.monotonic() - start)
                self.assertEqual(interim, b'HTTP/1.1 100 Continue\r\n\r\n')
                sock.sendall(body)
                answer = read_to_end(sock)
            self.assertTrue(answer.startswith(b'HTTP/1.1 401 '),
                answer[:300])
        self.assertLess(min(waits), 0.15, waits)

    def test_health(self):
        """The compose file's healthcheck: ready, then 503 naming the cron
        when a task is overdue and none ran (no cron process here)"""
        import datetime as dt

        from trytond.pool import Pool

        from .tools import run_transaction

        def next_call(delta):
            def write():
                Cron = Pool().get('ir.cron')
                Log = Pool().get('ir.cron.log')
                Log.delete(Log.search([]))
                crons = Cron.search([('active', '=', True)])
                Cron.write(crons, {
                        'next_call': dt.datetime.now() + delta})
            run_transaction(DB_NAME, write)
        next_call(dt.timedelta(hours=1))
        status, headers, body = self.get('health')
        self.assertEqual((status, json.loads(body)), (200, {'status': 'ok'}))
        next_call(-dt.timedelta(hours=1))
        try:
            status, headers, body = self.get('health')
            self.assertEqual((status, json.loads(body)),
                (503, {'status': 'not_ready', 'failing': ['cron']}))
        finally:
            next_call(dt.timedelta(hours=1))

    def scrape(self):
        "The samples of the metrics server: {(name, labels): value}"
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families
        with urllib.request.urlopen('http://127.0.0.1:%s/metrics'
                % self.metrics_port, timeout=30) as answer:
            text = answer.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples}

    def test_metrics(self):
        """The master serves the counts of every worker and the database's
        gauges on METRICS_BIND; the API's address does not serve them"""
        from trytond.pool import Pool

        from .tools import run_transaction
        key = ('mp_requests_total', (
                ('method', 'GET'), ('route', 'openapi.json'),
                ('status', '200')))
        before = self.scrape().get(key, 0)
        for _ in range(12):
            status, _, _ = self.get('openapi.json')
            self.assertEqual(status, 200)
        samples = self.scrape()
        self.assertEqual(samples[key] - before, 12)
        self.assertGreaterEqual(samples[(
                    'mp_request_duration_seconds_count',
                    (('method', 'GET'), ('route', 'openapi.json')))], 12)
        self.assertEqual(samples[('mp_database_up', ())], 1)

        def queued():
            Message = Pool().get('outbox.message')
            return Message.search_count([('state', '=', 'queued')])
        self.assertEqual(samples[('mp_outbox_queued', ())],
            run_transaction(DB_NAME, queued))
        for name in ['mp_outbox_failed', 'mp_outbox_oldest_due_seconds',
                'mp_queue_ready', 'mp_queue_lag_seconds']:
            self.assertIn((name, ()), samples)
        # Not on the API's address
        for path in ['/metrics', '/%s/metrics' % DB_NAME,
                '/%s/mp/v1/metrics' % DB_NAME]:
            status, _, body = raw_request(self.port, (
                    'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                    'Connection: close\r\n\r\n' % path).encode())
            self.assertIn(status, {404, 405}, path)
            self.assertNotIn(b'mp_requests', body)
