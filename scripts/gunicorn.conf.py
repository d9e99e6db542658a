# gunicorn settings of `scripts/service web` (docker-compose's web service)
# and of scripts/bench_checkin.
import gc
import json

from gunicorn import util

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


def post_worker_init(worker):
    # trytond.application has built the pool of every database of
    # TRYTOND_DATABASE_NAMES: hundreds of thousands of objects that live as
    # long as the worker.  Frozen, the garbage collector's full collections
    # no longer walk them, which removed pauses of tens of milliseconds
    # from the requests (scripts/bench_checkin).
    gc.freeze()
