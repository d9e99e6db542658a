# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Prometheus metrics of the mini-program API, for the operator.

The web workers count (prometheus_client; in its multiprocess mode under
gunicorn, PROMETHEUS_MULTIPROC_DIR set by scripts/gunicorn.conf.py):

- mp_requests_total{route, method, status}: the answered requests;
- mp_request_duration_seconds{route, method}: their latency;
- mp_checkins_total{method, result}: the check-ins by credential and result
  (created, flagged, duplicate or the error code).

The server of the metrics (serve(), started by gunicorn's master on
METRICS_BIND, never on the API's address) adds, read from the database at
each scrape:

- mp_outbox_queued, mp_outbox_failed: the messages queued and failed;
- mp_outbox_oldest_due_seconds: how long the oldest message due waits;
- mp_queue_ready, mp_queue_lag_seconds: the tasks of Tryton's queue ready to
  run and how long the oldest waits;
- mp_intake_pending, mp_intake_lag_seconds: the check-ins of the intake not
  recorded yet and how long the oldest waits.

Labels are the route templates and the codes of API.md: their number is
bounded.  Without prometheus_client nothing is counted."""
import datetime as dt
import logging
import os
import time
from urllib.parse import urlsplit

try:
    import prometheus_client
except ImportError:
    prometheus_client = None

logger = logging.getLogger(__name__)

# The environ key under which a check-in route leaves its results for
# count(): the handler may run several times (a conflict restarts the
# transaction), the answer is counted once
CHECKINS = 'miniprogram.metrics.checkins'
BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)

_metrics = {}


def _defined():
    """The metrics of the workers, defined at their first count (not when
    gunicorn's master loads this file to serve them)"""
    if not _metrics:
        _metrics.update(
            requests=prometheus_client.Counter(
                'mp_requests', "Requests answered by the mini-program API",
                ['route', 'method', 'status']),
            duration=prometheus_client.Histogram(
                'mp_request_duration_seconds',
                "Time to answer a request of the mini-program API",
                ['route', 'method'], buckets=BUCKETS),
            checkins=prometheus_client.Counter(
                'mp_checkins',
                "Check-ins through the API by method and result",
                ['method', 'result']))
    return _metrics


def credential_method(body):
    "The method label of a check-in body"
    for key, method in [
            ('qr_token', 'qr'), ('code', 'code'), ('nfc_tag', 'nfc')]:
        if body.get(key):
            return method
    return body.get('method') or 'unknown'


def note_checkins(environ, results):
    """Leave [(method, result)] of a check-in route in environ, replacing
    those of an earlier run of the handler"""
    environ[CHECKINS] = list(results)


# The metrics of each label values, as labels() gives them (it checks and
# locks at each call): {(name, label values): child}
_children = {}


def _child(name, *values):
    "The metric name of the label values"
    key = (name,) + values
    child = _children.get(key)
    if child is None:
        child = _children[key] = _defined()[name].labels(*values)
    return child


def count(route, method, environ, status, started):
    "Count the answer of route at status, started at time.monotonic()"
    if not prometheus_client:
        return
    path = route['path']
    _child('requests', path, method, str(status)).inc()
    _child('duration', path, method).observe(time.monotonic() - started)
    for checkin_method, result in environ.get(CHECKINS, ()):
        _child('checkins', checkin_method, result).inc()


class DatabaseCollector:
    """The gauges read from the database at each scrape, with a connection
    of their own closed after it (the server of the metrics runs in
    gunicorn's master: nothing is left open across the forks of workers)"""

    def __init__(self, database_name, uri=None, path=None):
        self.database_name = database_name
        self.uri = uri
        self.path = path

    def _connect(self):
        if self.uri and self.uri.startswith('postgresql'):
            import psycopg
            from psycopg.conninfo import make_conninfo
            parts = urlsplit(self.uri)
            info = {k: v for k, v in {
                    'host': parts.hostname, 'port': parts.port,
                    'user': parts.username, 'password': parts.password,
                    }.items() if v}
            conninfo = make_conninfo('', dbname=self.database_name,
                connect_timeout=5, **info)
            return psycopg.connect(conninfo, autocommit=True)
        import sqlite3
        return sqlite3.connect(
            'file:%s?mode=ro' % os.path.join(
                self.path or '', self.database_name + '.sqlite'),
            uri=True, timeout=5)

    def figures(self, now=None):
        "Return {name: value} of the gauges"
        # The ages the operator sees at the scrape: this runs in gunicorn's
        # master, without Tryton and its clock
        now = now or dt.datetime.utcnow()  # real time
        connection = self._connect()
        try:
            cursor = connection.cursor()
            cursor.execute(
                "SELECT state, COUNT(*) FROM outbox_message "
                "WHERE state IN ('queued', 'failed') GROUP BY state")
            states = dict(cursor.fetchall())
            cursor.execute(
                "SELECT MIN(COALESCE(next_try, create_date)) "
                "FROM outbox_message WHERE state = 'queued'")
            oldest_due, = cursor.fetchone()
            cursor.execute(
                "SELECT COUNT(*), MIN(COALESCE(scheduled_at, enqueued_at)) "
                "FROM ir_queue WHERE dequeued_at IS NULL AND "
                "COALESCE(scheduled_at, enqueued_at) <= %s" % (
                    '%s' if self.uri and self.uri.startswith('postgresql')
                    else '?'), (now,))
            ready, oldest_task = cursor.fetchone()
            cursor.execute(
                "SELECT COUNT(*), MIN(received) "
                "FROM miniprogram_checkin_intake WHERE state = 'pending'")
            intake_pending, oldest_intake = cursor.fetchone()
        finally:
            connection.close()

        def age(value):
            if value is None:
                return 0
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            value = value.replace(tzinfo=None)
            return max(0, (now - value).total_seconds())
        return {
            'mp_outbox_queued': states.get('queued', 0),
            'mp_outbox_failed': states.get('failed', 0),
            'mp_outbox_oldest_due_seconds': age(oldest_due),
            'mp_queue_ready': ready or 0,
            'mp_queue_lag_seconds': age(oldest_task),
            'mp_intake_pending': intake_pending or 0,
            'mp_intake_lag_seconds': age(oldest_intake),
            }

    HELP = {
        'mp_outbox_queued': "Messages queued in the outbox",
        'mp_outbox_failed': "Messages of the outbox that failed",
        'mp_outbox_oldest_due_seconds':
            "How long the oldest message due has waited",
        'mp_queue_ready': "Tasks of Tryton's queue ready to run",
        'mp_queue_lag_seconds': "How long the oldest ready task has waited",
        'mp_intake_pending':
            "Check-ins received by the intake, not recorded yet",
        'mp_intake_lag_seconds':
            "How long the oldest check-in of the intake has waited",
        }

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        up = GaugeMetricFamily('mp_database_up',
            "1 when the gauges could be read from the database")
        try:
            figures = self.figures()
        except Exception as error:
            logger.warning("metrics: database unavailable: %s",
                str(error).splitlines()[0] if str(error)
                else type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, value in figures.items():
            yield GaugeMetricFamily(name, self.HELP[name], value=value)


def registry(database_name=None, uri=None, path=None):
    """The registry of the server of the metrics: the counts of every worker
    (multiprocess mode) and, with database_name, the database's gauges"""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    result = CollectorRegistry()
    MultiProcessCollector(result)
    if database_name:
        result.register(DatabaseCollector(database_name, uri, path))
    return result


def serve(bind, database_name=None, uri=None, path=None):
    """Serve the metrics on bind (host:port) in a thread of this process;
    return the server"""
    host, _, port = bind.rpartition(':')
    server, _ = prometheus_client.start_http_server(int(port),
        addr=host.strip('[]') or '127.0.0.1',
        registry=registry(database_name, uri, path))
    return server
