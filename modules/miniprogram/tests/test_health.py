# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""GET health: the readiness a balancer and the operator's checks ask for,
without authentication and without figures."""
import datetime as dt
import json
from contextlib import contextmanager
from unittest.mock import patch

from trytond import backend, config
from trytond.modules.miniprogram import health
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase
from trytond.transaction import Transaction

from .tools import Api, in_transaction

NOW = dt.datetime(2026, 6, 1, 8, 0)
HOUR = dt.timedelta(hours=1)


@contextmanager
def workers():
    "Configure Tryton's task queue with workers ([queue] worker)"
    before = config.get('queue', 'worker', default=None)
    config.set('queue', 'worker', 'True')
    try:
        yield
    finally:
        if before is None:
            config.remove_option('queue', 'worker')
        else:
            config.set('queue', 'worker', before)


class HealthTestCase(RouteTestCase):
    "Mini-program API: health"
    module = 'miniprogram'

    def setUp(self):
        super().setUp()
        clock.freeze(NOW)
        self.addCleanup(clock.unfreeze)
        self.api = Api(self.client())

        def reset():
            pool = Pool()
            Cron = pool.get('ir.cron')
            Log = pool.get('ir.cron.log')
            Message = pool.get('outbox.message')
            Queue = pool.get('ir.queue')
            # Every task due in an hour, nothing late, nothing queued
            Cron.write(Cron.search([]), {'next_call': NOW + HOUR})
            Log.delete(Log.search([]))
            Message.delete(Message.search([]))
            Queue.delete(Queue.search([]))
        in_transaction(reset)

    def health(self, **kwargs):
        status, data = self.api.json('GET', 'health', **kwargs)
        return status, data

    def assertReady(self):
        self.assertEqual(self.health(), (200, {'status': 'ok'}))

    def assertFailing(self, *names):
        self.assertEqual(self.health(),
            (503, {'status': 'not_ready', 'failing': list(names)}))

    def test_ready(self):
        "A server whose parts all work is ready, with no figure"
        response = self.api('GET', 'health')
        self.assertEqual(response.status_code, 200)
        self.assertEqual(json.loads(response.data), {'status': 'ok'})
        self.assertEqual(response.headers['Cache-Control'], 'no-store')

    def test_no_authentication(self):
        "An invalid token changes nothing: the route takes none"
        self.assertEqual(self.health(token='not-a-token'),
            (200, {'status': 'ok'}))

    def late_cron(self):
        def late():
            Cron = Pool().get('ir.cron')
            cron = Cron.search([('active', '=', True)], limit=1)[0]
            cron.next_call = NOW - HOUR
            cron.save()
            return cron.id
        return in_transaction(late)

    def test_cron_overdue(self):
        "A task overdue with no task run within the grace: cron fails"
        self.late_cron()
        self.assertFailing('cron')

    def test_cron_busy(self):
        "A task overdue while another ran within the grace: cron works"
        cron_id = self.late_cron()

        def ran(ended):
            Log = Pool().get('ir.cron.log')
            Log.create([{'cron': cron_id, 'started': ended - HOUR / 60,
                        'ended': ended}])
        in_transaction(lambda: ran(NOW - dt.timedelta(minutes=2)))
        self.assertReady()
        in_transaction(lambda: Pool().get('ir.cron.log').delete(
                Pool().get('ir.cron.log').search([])))
        in_transaction(lambda: ran(NOW - HOUR))
        self.assertFailing('cron')

    def test_cron_grace(self):
        "The grace is configurable"
        self.late_cron()
        with patch.object(health, 'grace', return_value=2 * HOUR):
            self.assertReady()

    def queue_task(self, enqueued):
        def add():
            Queue = Pool().get('ir.queue')
            task, = Queue.create([{
                        'name': 'default',
                        'data': {'model': 'res.user', 'method': 'read',
                            'instances': [], 'args': [], 'kwargs': {}}}])
            table = Queue.__table__()
            Transaction().connection.cursor().execute(*table.update(
                    [table.enqueued_at], [enqueued],
                    where=table.id == task.id))
        in_transaction(add)

    def test_worker_late(self):
        "A ready task waiting longer than the grace: the worker fails"
        self.queue_task(NOW - HOUR)
        with workers():
            self.assertFailing('worker')
        # Without workers the tasks run in the request that queues them
        self.assertReady()

    def test_worker_in_time(self):
        "A task queued within the grace is not late"
        self.queue_task(NOW - dt.timedelta(minutes=1))
        with workers():
            self.assertReady()

    def queue_message(self, next_try):
        def add():
            pool = Pool()
            Message = pool.get('outbox.message')
            Template = pool.get('outbox.template')
            template = Template.search([], limit=1)[0]
            message, = Message.create([{
                        'channel': 'email', 'template': template.id,
                        'recipient': 'someone@example.com',
                        'subject': "Hello", 'body': "Hello"}])
            table = Message.__table__()
            Transaction().connection.cursor().execute(*table.update(
                    [table.next_try], [next_try],
                    where=table.id == message.id))
        in_transaction(add)

    def test_outbox_late(self):
        "A message due for longer than the grace: the outbox fails"
        self.queue_message(NOW - HOUR)
        self.assertFailing('outbox')

    def test_outbox_depth(self):
        "More queued messages than the configured depth: the outbox fails"
        self.queue_message(NOW + HOUR)
        self.assertReady()
        with patch.object(health, 'outbox_depth', return_value=0):
            self.assertFailing('outbox')

    def test_several_failing(self):
        "Every failing check is named, in a stable order"
        self.late_cron()
        self.queue_message(NOW - HOUR)
        self.assertFailing('cron', 'outbox')

    def test_database_unavailable(self):
        "A database that does not answer: 503 database, nothing else"
        class Down:
            def start(self, *args, **kwargs):
                raise backend.DatabaseOperationalError("connection refused")
        with patch.object(health, 'Transaction', Down), \
                self.assertLogs(health.logger, 'WARNING') as logs:
            self.assertFailing('database')
        self.assertIn("connection refused", logs.output[0])

    def test_unknown_database(self):
        "Another database name: 404 as the other routes"
        response = self.client().open(
            '/no_such_database_health/mp/v1/health', method='GET')
        self.assertEqual(response.status_code, 404)
        self.assertEqual(
            json.loads(response.data)['error']['code'], 'not_found')

    def test_documented(self):
        "Both answers are in the OpenAPI document"
        document = self.api.json('GET', 'openapi.json', expect=200)
        operation = document['paths']['/{database}/mp/v1/health']['get']
        self.assertNotIn('security', operation)
        self.assertEqual(
            operation['responses']['503']['content']['application/json'][
                'schema']['properties']['failing']['items']['enum'],
            health.CHECKS)
