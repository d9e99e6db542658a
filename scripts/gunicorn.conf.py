# gunicorn settings of `scripts/service web` (docker-compose's web service)
# and of scripts/bench_checkin.
import atexit
import gc
import importlib.util
import json
import os
import shutil
import socket
import tempfile

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

# The API answers a too long header field (431) or address (414) itself, as
# its JSON error object (trytond.modules.miniprogram.api: 8 KiB a field,
# 32 KiB all fields, 7 KiB the address): gunicorn's limits are set above
# the API's so that the application decides.  The request line cannot be
# allowed more than gunicorn's maximum (8190).
limit_request_field_size = 64 * 1024
limit_request_fields = 100
limit_request_line = 8190

_STATUS_CODES = {
    400: 'invalid_request',
    403: 'forbidden',
    414: 'uri_too_long',
    417: 'invalid_request',
    431: 'header_too_large',
    500: 'internal_error',
    501: 'invalid_request',
    }


def write_error(sock, status_int, reason, mesg):
    """What gunicorn refuses before the application sees the request (beyond
    the limits above, a malformed request line or header) is answered with
    the API's JSON error object instead of gunicorn's HTML page."""
    code = _STATUS_CODES.get(
        status_int, 'internal_error' if status_int >= 500
        else 'invalid_request')
    body = json.dumps({'error': {
                'code': code, 'message': reason, 'details': {}}}).encode()
    head = ('HTTP/1.1 %s %s\r\n'
        'Connection: close\r\n'
        'Content-Type: application/json; charset=utf-8\r\n'
        'Content-Length: %d\r\n\r\n' % (status_int, reason, len(body)))
    util.write_nonblock(sock, head.encode('latin1') + body)


util.write_error = write_error


class CorkedSyncWorker(SyncWorker):
    """gunicorn's sync worker, whose answers leave in as few TCP segments
    as they fill: it writes the status and headers, then the body, each in
    its own send, which on a small answer (a check-in's) makes two
    segments.  The connection is corked (TCP_CORK) once the request is
    read and flushed when the worker closes it after the answer (the sync
    worker keeps no connection alive), so the headers and the body go
    together: one segment less to send per answer (doc/operations.rst).
    Not a request that expects "100 Continue", which gunicorn sends before
    the answer: corked, it would wait up to 200 ms."""

    def handle_request(self, listener, req, client, addr):
        if (client.family in {socket.AF_INET, socket.AF_INET6}
                and hasattr(socket, 'TCP_CORK')
                and not any(n == 'EXPECT' for n, _ in req.headers)):
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        super().handle_request(listener, req, client, addr)


worker_class = CorkedSyncWorker


def post_worker_init(worker):
    # trytond.application has built the pool of every database of
    # TRYTOND_DATABASE_NAMES: hundreds of thousands of objects that live as
    # long as the worker.  Frozen, the garbage collector's full collections
    # no longer walk them, which removed pauses of tens of milliseconds
    # from the requests (scripts/bench_checkin).
    gc.freeze()
    # The pool's empty query on every connection it hands out: only after
    # [database] pool_check_window seconds unused (suite.tools)
    from trytond.modules.suite.tools import relax_pool_checks
    relax_pool_checks()


# Prometheus metrics (trytond.modules.miniprogram.metrics): with METRICS_BIND
# (host:port, e.g. 127.0.0.1:9464: an address of the operator's network,
# never the API's) the workers count in prometheus_client's multiprocess
# mode and this master process serves the sum of their counts with the
# database's gauges (doc/operations.rst, Metrics).
METRICS_BIND = os.environ.get('METRICS_BIND')
if METRICS_BIND:
    _metrics_dir = os.environ.get('PROMETHEUS_MULTIPROC_DIR')
    if _metrics_dir:
        # The counts of an earlier run would be added to this one's
        os.makedirs(_metrics_dir, exist_ok=True)
        for _name in os.listdir(_metrics_dir):
            if _name.endswith('.db'):
                os.unlink(os.path.join(_metrics_dir, _name))
    else:
        _metrics_dir = tempfile.mkdtemp(prefix='mp-metrics-')
        atexit.register(shutil.rmtree, _metrics_dir, True)
    # Set before prometheus_client is imported, here and in the workers
    os.environ['PROMETHEUS_MULTIPROC_DIR'] = _metrics_dir


def _metrics_module():
    """The metrics module, loaded from its file: importing the package
    trytond.modules.miniprogram would load Tryton in this master process,
    which forks the workers"""
    path = os.path.join(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__))), 'modules', 'miniprogram',
        'metrics.py')
    spec = importlib.util.spec_from_file_location('_mp_metrics', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def when_ready(server):
    if not METRICS_BIND:
        return
    metrics = _metrics_module()
    metrics.serve(METRICS_BIND,
        database_name=os.environ.get('DB_NAME'),
        uri=os.environ.get('TRYTOND_DATABASE__URI'),
        path=os.environ.get('TRYTOND_DATABASE__PATH'))
    server.log.info("metrics on http://%s/metrics", METRICS_BIND)


def child_exit(server, worker):
    if METRICS_BIND:
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
