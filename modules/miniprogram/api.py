# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The HTTP layer of the mini-program API: strict JSON in and out, request
validation against the same schemas the OpenAPI document publishes, one
error shape for every failure, authentication and the member's execution
context.  Business rules stay in model methods."""
import datetime as dt
import json
import logging
import math
import random
import re
import time
import uuid
from decimal import Decimal
from functools import wraps
from http import HTTPStatus

from sql import For, Literal
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Response

from trytond import backend
from trytond import config
from trytond.exceptions import UserError, UserWarning
from trytond.model.exceptions import AccessError, SQLConstraintError
from trytond.modules.suite import tools
from trytond.modules.suite.tools import parse_datetime
from trytond.protocols.wrappers import (
    allow_null_origin, with_pool, with_transaction)
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import app

logger = logging.getLogger(__name__)

PREFIX = '/mp/v1/'
MAX_BODY = 64 * 1024
# The largest header field (name and value) and all the header fields of a
# request, and the longest path with its query string: above them the
# request is answered 431 / 414 as JSON by PrefixMiddleware.  The servers in
# front (scripts/gunicorn.conf.py) allow more, so that the API decides.
MAX_HEADER = 8 * 1024
MAX_HEADERS = 32 * 1024
MAX_URL = 7 * 1024
MAX_DEPTH = 20
# Dates outside of these years are refused as invalid input: nothing is
# booked or checked in there, and the time zone arithmetic would overflow
MIN_YEAR, MAX_YEAR = 1900, 2999
JSON_TYPE = 'application/json; charset=utf-8'
# The ids of the database: INTEGER columns on PostgreSQL (SQLite's hold
# 64 bits); a larger id in a path is unknown (404), in a body or a query
# invalid (400), never an overflow of the database driver
MAX_ID = 2 ** 31 - 1

# HTTP status of the machine codes raised by the models (exception classes
# carry an `error_code` attribute); unknown codes are 422.
CODE_STATUS = {
    'invalid_request': 400,
    'unauthorized': 401,
    'invalid_credentials': 401,
    'forbidden': 403,
    'not_found': 404,
    # A check-in method the event does not accept (HTTP 405 is answered
    # by the middleware with the same code)
    'method_not_allowed': 422,
    'conflict': 409,
    'phone_taken': 409,
    'already_checked_in': 409,
    'qr_expired': 422,
    'invalid_token': 422,
    'event_not_open': 422,
    'out_of_range': 422,
    'wifi_mismatch': 422,
    'not_on_roster': 422,
    'slot_full': 409,
    'booking_overlap': 409,
    # me/subscriptions with a template id of no template
    'unknown_template': 422,
    'payload_too_large': 413,
    'uri_too_long': 414,
    'header_too_large': 431,
    'unsupported_media_type': 415,
    'rate_limited': 429,
    'internal_error': 500,
    'wechat_unavailable': 502,
    'service_unavailable': 503,
    }


class ApiError(Exception):
    'An error answered as {"error": {code, message, details}}'

    def __init__(self, code, message, details=None, status=None,
            headers=None, rollback=True):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or CODE_STATUS.get(code, 422)
        self.headers = headers or {}
        self.rollback = rollback


def error_body(code, message, details=None):
    return {'error': {
            'code': code, 'message': message, 'details': details or {}}}


def json_response(data, status=200, headers=None):
    if status == 204:
        return Response(status=204, headers=headers)
    return Response(
        json.dumps(data, ensure_ascii=False, default=_default,
            separators=(',', ':')),
        status=status, content_type=JSON_TYPE, headers=headers)


def error_response(error):
    return json_response(
        error_body(error.code, error.message, error.details),
        status=error.status, headers=error.headers)


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return isoformat(value)
    raise TypeError(repr(value))


def isoformat(value, tzinfo=None):
    """Return a time of an answer as ISO 8601 with the offset of the time
    zone of what it belongs to: tzinfo, the event's or the service's time
    zone; without one (points, messages, tokens), the time zone of the
    members' local day (member configuration, by default the company's).
    Every serializer of the API goes through here."""
    if isinstance(value, dt.datetime) and tzinfo is None:
        tzinfo = default_tzinfo()
    return tools.isoformat(value, tzinfo)


def default_tzinfo():
    "The time zone of the times that belong to no event or service"
    from trytond.pool import Pool
    try:
        Configuration = Pool().get('member.configuration')
    except KeyError:  # not activated
        return dt.timezone.utc
    return Configuration.get_cached().tzinfo


# Schemas: a subset of JSON Schema that the validator below enforces and the
# OpenAPI document publishes as is.

def string(min_length=None, max_length=None, **kw):
    s = {'type': 'string'}
    if min_length is not None:
        s['minLength'] = min_length
    if max_length is not None:
        s['maxLength'] = max_length
    s.update(kw)
    return s


def integer(minimum=None, maximum=None, **kw):
    s = {'type': 'integer'}
    if minimum is not None:
        s['minimum'] = minimum
    if maximum is not None:
        s['maximum'] = maximum
    s.update(kw)
    return s


def number(minimum=None, maximum=None, **kw):
    s = {'type': 'number'}
    if minimum is not None:
        s['minimum'] = minimum
    if maximum is not None:
        s['maximum'] = maximum
    s.update(kw)
    return s


def id_(**kw):
    "The schema of a record id"
    return integer(1, MAX_ID, **kw)


def boolean(**kw):
    return dict(type='boolean', **kw)


def array(items, max_items=None, min_items=None, **kw):
    s = {'type': 'array', 'items': items}
    if max_items is not None:
        s['maxItems'] = max_items
    if min_items is not None:
        s['minItems'] = min_items
    s.update(kw)
    return s


def obj(properties, required=(), additional=False, **kw):
    s = {'type': 'object', 'properties': properties,
        'additionalProperties': additional}
    if required:
        s['required'] = list(required)
    s.update(kw)
    return s


def nullable(schema):
    return dict(schema, nullable=True)


DATETIME = string(format='date-time', max_length=40)
DATE = string(format='date', max_length=10)
UUID = string(format='uuid', max_length=36)
MONEY = string(pattern=r'^-?\d+\.\d+$', description="decimal string")

_TYPES = {
    'string': str,
    'boolean': bool,
    'array': list,
    'object': dict,
    }


def validate(schema, value, path='body'):
    "Raise ApiError invalid_request when value does not match schema"
    def fail(reason):
        raise ApiError('invalid_request', "%s: %s" % (path, reason),
            details={'field': path, 'reason': reason})

    if value is None:
        if schema.get('nullable'):
            return
        fail("must not be null")
    kind = schema.get('type')
    if kind == 'integer':
        if isinstance(value, bool) or not isinstance(value, int):
            fail("must be an integer")
    elif kind == 'number':
        if (isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (isinstance(value, float) and not math.isfinite(value))):
            fail("must be a finite number")
    elif kind in _TYPES:
        if not isinstance(value, _TYPES[kind]):
            fail("must be of type %s" % kind)
    if kind in {'integer', 'number'}:
        if 'minimum' in schema and value < schema['minimum']:
            fail("must be at least %s" % schema['minimum'])
        if 'maximum' in schema and value > schema['maximum']:
            fail("must be at most %s" % schema['maximum'])
    if kind == 'string':
        if 'minLength' in schema and len(value) < schema['minLength']:
            fail("must have at least %s characters" % schema['minLength'])
        if 'maxLength' in schema and len(value) > schema['maxLength']:
            fail("must have at most %s characters" % schema['maxLength'])
        if 'enum' in schema and value not in schema['enum']:
            fail("must be one of %s" % ', '.join(schema['enum']))
        if 'pattern' in schema and not re.search(schema['pattern'], value):
            fail("has not the expected format")
        fmt = schema.get('format')
        try:
            if fmt == 'date-time':
                year = parse_datetime(value).year
            elif fmt == 'date':
                year = dt.date.fromisoformat(value).year
                if len(value) != 10:
                    raise ValueError(value)
            elif fmt == 'uuid':
                uuid.UUID(value)
        except OverflowError:
            # A valid time whose offset moves it out of years 1-9999
            fail("must be between the years %s and %s" % (MIN_YEAR, MAX_YEAR))
        except ValueError:
            fail("must be a valid %s" % fmt)
        if fmt in {'date', 'date-time'} and not MIN_YEAR <= year <= MAX_YEAR:
            fail("must be between the years %s and %s" % (MIN_YEAR, MAX_YEAR))
        _check_text(value, fail)
    if kind == 'array':
        if 'maxItems' in schema and len(value) > schema['maxItems']:
            fail("must have at most %s items" % schema['maxItems'])
        if 'minItems' in schema and len(value) < schema['minItems']:
            fail("must have at least %s items" % schema['minItems'])
        for i, item in enumerate(value):
            validate(schema['items'], item, '%s[%s]' % (path, i))
    if kind == 'object':
        properties = schema.get('properties', {})
        for name in schema.get('required', []):
            if name not in value:
                raise ApiError('invalid_request',
                    "%s.%s is required" % (path, name),
                    details={'field': '%s.%s' % (path, name),
                        'reason': "required"})
        for name, item in value.items():
            _check_text(name, fail)
            if name not in properties:
                if not schema.get('additionalProperties', False):
                    raise ApiError('invalid_request',
                        "%s.%s is not an accepted field" % (path, name),
                        details={'field': '%s.%s' % (path, name),
                            'reason': "unknown field"})
                continue
            validate(properties[name], item, '%s.%s' % (path, name))
        if 'minProperties' in schema and len(value) < schema['minProperties']:
            fail("must have at least %s fields" % schema['minProperties'])


def _check_text(value, fail):
    "Refuse what no text column stores: NUL and lone surrogates"
    if '\x00' in value:
        fail("must not contain NUL characters")
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        fail("must be valid Unicode (no lone surrogate)")


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key %r" % key)
        result[key] = value
    return result


def _depth(value, limit):
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def parse_json(request, schema):
    "Return the validated JSON body of request"
    content_type = request.headers.get('Content-Type', '')
    data = request.get_data(cache=True)
    if not data:
        raise ApiError('invalid_request', "A JSON body is required.",
            details={'reason': "empty body"})
    if content_type.split(';')[0].strip().lower() != 'application/json':
        raise ApiError('unsupported_media_type',
            "The body must be sent as application/json.",
            details={'content_type': content_type})
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        raise ApiError('invalid_request', "The body is not valid UTF-8.",
            details={'reason': "invalid UTF-8"})
    try:
        value = json.loads(text, parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ApiError('invalid_request', "The JSON body is nested too deep.",
            details={'reason': "too deep"})
    except ValueError as e:
        raise ApiError('invalid_request', "The body is not valid JSON.",
            details={'reason': str(e)[:200]})
    if not _depth(value, MAX_DEPTH):
        raise ApiError('invalid_request', "The JSON body is nested too deep.",
            details={'reason': "too deep"})
    validate(schema, value)
    return value


def parse_query(request, schema):
    "Return the query parameters of request converted along schema"
    values = {}
    properties = schema['properties']
    for name in request.args:
        if name not in properties:
            raise ApiError('invalid_request',
                "%s is not an accepted parameter" % name,
                details={'field': name, 'reason': "unknown parameter"})
        raw = request.args.getlist(name)
        if len(raw) > 1:
            raise ApiError('invalid_request', "%s is given twice" % name,
                details={'field': name, 'reason': "repeated"})
        raw = raw[0]
        kind = properties[name].get('type')
        try:
            if kind == 'integer':
                if not re.fullmatch(r'-?\d{1,12}', raw):
                    raise ValueError(raw)
                value = int(raw)
            elif kind == 'boolean':
                if raw not in {'true', 'false'}:
                    raise ValueError(raw)
                value = raw == 'true'
            else:
                value = raw
        except ValueError:
            raise ApiError('invalid_request', "%s must be an %s" % (
                    name, kind), details={'field': name, 'reason': kind})
        values[name] = value
    validate(schema, values, 'query')
    for name, prop in properties.items():
        if name not in values and 'default' in prop:
            values[name] = prop['default']
    return values


LIST_QUERY = {
    'limit': integer(1, 100, default=20),
    'offset': integer(0, 1000000, default=0),
    }

# The registry of routes, published by openapi.json
ROUTES = []
# The same routes, to tell an unknown path (404) from a wrong method (405)
# before Tryton's own routes answer
_url_map = Map()


class Request:
    "What a handler gets: the request, the pool and the parsed inputs"

    def __init__(self, http, pool, body, query, path):
        self.http = http
        self.pool = pool
        self.body = body
        self.query = query
        self.path = path
        self.member = None
        # The claims of the member's access token
        self.claims = {}
        self.staff_user = None
        # The kiosk token the request was made with, if any
        self.kiosk_token = None


def api_route(method, path, summary, auth='member', body=None, query=None,
        status=200, response=None, errors=(), tags=(), max_size=None,
        content_type='application/json', description=None, kiosk=False,
        lock_member=False):
    """Register a handler of the mini-program API.

    auth: 'member' (a member's access token), 'organizer' (a member's or a
    staff token, the handler checks the event), or None.
    body/query: schemas of the request; response: schema of the answer.
    errors: the (status, code) pairs the route may answer with besides the
    generic ones.
    kiosk: an organizer route that also accepts the kiosk token of its
    event, as bearer or as the `token` query parameter.
    lock_member: the handler locks the member of the access token (points
    postings): the lock is taken when the transaction starts, instead of
    Tryton restarting the transaction at the handler's first lock.
    """
    def decorator(func):
        ROUTES.append({
                'method': method, 'path': path, 'summary': summary,
                'description': description or (func.__doc__ or '').strip(),
                'auth': auth, 'body': body,
                'query': query, 'status': status, 'response': response,
                'errors': list(errors), 'tags': list(tags),
                'content_type': content_type,
                'operation_id': func.__name__,
                'kiosk': kiosk,
                })
        url = '/<database_name>' + PREFIX + re.sub(
            r'\{(\w+)\}', r'<int(min=1, max=%d):\1>' % MAX_ID, path)
        readonly = method in {'GET', 'HEAD'}
        _url_map.add(Rule(url, endpoint=func.__name__, methods=[method]))

        @app.route(url, methods=[method])
        @allow_null_origin
        @with_pool
        @answer_unavailable
        @(with_transaction(readonly=True) if readonly
            else with_write_transaction(lock_member=lock_member))
        @wraps(func)
        def endpoint(request, pool, **path_args):
            transaction = Transaction()
            try:
                if not _activated(pool):
                    raise ApiError('not_found',
                        "The mini-program API is not activated on this "
                        "database.")
                if lock_member:
                    from .auth import token_member
                    member_id = token_member(request)
                    if member_id is not None:
                        # Taken by with_write_transaction: a check, no query
                        pool.get('member.member').lock([member_id])
                body_value = parse_json(request, body) if body else None
                if not body and request.get_data(cache=True) \
                        and method in {'GET', 'HEAD', 'DELETE'}:
                    raise ApiError('invalid_request',
                        "This request takes no body.")
                query_value = parse_query(
                    request, query or obj({})) if (
                    query or request.args) else {}
                api_request = Request(
                    request, pool, body_value, query_value, path_args)
                with transaction.set_context(language=_language(request)):
                    if auth:
                        from .auth import authenticate
                        authenticate(api_request, auth, kiosk=kiosk)
                    result = func(api_request)
            except (TransactionError, backend.DatabaseOperationalError):
                raise
            except ApiError as e:
                if e.rollback:
                    transaction.rollback()
                return error_response(e)
            except (UserError, UserWarning) as e:
                error = from_user_error(e)
                if error.rollback:
                    transaction.rollback()
                return error_response(error)
            except HTTPException:
                # e.g. body too large: answered as JSON by the middleware
                transaction.rollback()
                raise
            except Exception:
                transaction.rollback()
                logger.exception("mini-program API error on %s %s",
                    method, request.path)
                return error_response(ApiError('internal_error',
                        "An internal error occurred."))
            if isinstance(result, Response):
                return result
            return json_response(result, status=status)
        endpoint.max_request_size = max_size or MAX_BODY
        return endpoint
    return decorator


# How long a check-in waits for another transaction holding its member
LOCK_TIMEOUT_MS = 2000
# The WSGI environ key of (member id, active) read by with_write_transaction
# in the request's current transaction
LOCKED_MEMBER = 'miniprogram.locked_member'


def _wait_member_lock(transaction, Member, member_id):
    """Take the row lock of the member as the first statement of
    transaction, waiting (at most LOCK_TIMEOUT_MS) for a transaction that
    holds it, and record it as taken like Transaction.start does for the
    locks it is asked for (PostgreSQL).

    Return whether the member exists and is active (read with the lock).
    """
    from trytond.modules.member.prepared import statement

    def lock(member_id):
        table = Member.__table__()
        return table.select(table.active,
            where=table.id == member_id, for_=For('UPDATE'))
    connection = transaction.connection
    cursor = connection.cursor()
    # One round trip for both statements
    with connection.pipeline():
        cursor.execute('SET LOCAL lock_timeout = %d' % LOCK_TIMEOUT_MS)
        cursor.execute(*statement((Member.__name__, 'lock'), lock,
                member_id=member_id))
        row = cursor.fetchone()
    transaction._locked_records[Member._table].add(member_id)
    return bool(row and row[0])


def answer_unavailable(func):
    """Answer 503 service_unavailable when the database stays unavailable
    after the retries (connection lost or refused, no connection from the
    pool, lock or statement timeouts): Tryton's with_pool would make a 400
    of it for a JSON body (it looks for an RPC method) and a 500 otherwise.
    Nothing was committed: the client may send the same request again."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        try:
            return func(request, pool, *args, **kwargs)
        except backend.DatabaseOperationalError as e:
            logger.warning("database unavailable for %s %s: %s",
                request.method, request.path, str(e).splitlines()[0]
                if str(e) else type(e).__name__)
            return error_response(ApiError('service_unavailable',
                    _STATUS_CODES[503][1], headers={'Retry-After': '1'}))
    return wrapper


def contention_timeout():
    """How long (seconds) a write request may wait for the locks held by
    concurrent requests and start again after conflicts with them"""
    return config.getfloat('miniprogram', 'contention_timeout', default=20)


def _contention(error):
    """Tell if a database error is a conflict with concurrent requests (a
    lock held, a serialization failure, a deadlock, SQLite's busy
    database): the request is tried again; the database is not
    unavailable"""
    if backend.name == 'postgresql':
        from psycopg import errors
        return isinstance(error, (errors.SerializationFailure,
                errors.DeadlockDetected, errors.LockNotAvailable))
    text = str(error).lower()
    return 'locked' in text or 'busy' in text


def _take_locks(transaction, locks):
    """Take the table and record locks that an earlier attempt asked for
    (Tryton's Model.lock), first thing in transaction, as Transaction.start
    does.  When another transaction holds one, wait for its end (at most
    LOCK_TIMEOUT_MS) and raise: the request starts again at once, with a
    snapshot that sees what the holder committed."""
    database, connection = transaction.database, transaction.connection
    tables = list(locks.get('_lock_tables', []))
    records = sorted(locks.get('_lock_records', {}).items())
    try:
        for table in tables:
            database.lock(connection, table)
        for table, ids in records:
            database.lock_records(connection, table, ids)
    except backend.DatabaseOperationalError:
        if backend.name != 'postgresql':
            raise
        from psycopg.sql import SQL, Identifier
        from sql import Table
        connection.rollback()
        cursor = connection.cursor()
        cursor.execute('SET LOCAL lock_timeout = %d' % LOCK_TIMEOUT_MS)
        for table in tables:
            cursor.execute(SQL('LOCK {} IN EXCLUSIVE MODE').format(
                    Identifier(table)))
        for table, ids in records:
            sql_table = Table(table)
            cursor.execute(*sql_table.select(Literal(1),
                    where=sql_table.id.in_(sorted(ids)),
                    for_=For('UPDATE')))
        connection.rollback()
        raise
    transaction._locked_tables.update(tables)
    for table, ids in records:
        transaction._locked_records[table].update(ids)


def with_write_transaction(lock_member=False):
    """Tryton's with_transaction (read-write) for the routes that change
    something, where a conflict with concurrent requests is not an
    unavailable database.

    - The locks that Model.lock asks for are taken when the transaction
      starts again (Tryton's protocol) and, when held by another request,
      waited for instead of failing after a few NOWAIT attempts.
    - Conflicts (lock timeouts, serialization failures, deadlocks, SQLite's
      busy database) start the request again for up to
      contention_timeout() seconds, without counting as retries;
      [database] retry counts only the other operational errors (lost
      connection...).  After that the error is raised: 503.
    - On SQLite the transaction starts as the single writer (BEGIN
      IMMEDIATE): its reads are then those of the database it writes to
      (pysqlite otherwise begins at the first write, after the reads).
    - lock_member: the member of the access token is locked when the
      transaction starts, without the first, aborted attempt (the token is
      checked without the database); on PostgreSQL that lock is waited
      for, so two requests of the same member (a double tap, a retry) cost
      the first one's remaining time."""
    from trytond.worker import run_task

    def decorator(func):
        @wraps(func)
        def wrapper(request, pool, *args, **kwargs):
            from .auth import token_member
            context = {'_request': request.context}
            retry = config.getint('database', 'retry')
            deadline = time.monotonic() + contention_timeout()
            count = conflicts = 0
            locks = {}
            member_id = token_member(request) if lock_member else None
            try:
                Member = pool.get('member.member')
            except KeyError:  # not activated: answered by the endpoint
                Member = None
            wait = (member_id is not None and Member is not None
                and backend.name == 'postgresql')
            if member_id is not None and Member is not None and not wait:
                locks['_lock_records'] = {Member._table: [member_id]}
            pause = 0
            while True:
                if pause:
                    time.sleep(pause)
                pause = 0
                with Transaction().start(pool.database_name, 0,
                        context=context) as transaction:
                    try:
                        request.environ.pop(LOCKED_MEMBER, None)
                        connection = transaction.connection
                        if (backend.name == 'sqlite'
                                and not connection.in_transaction):
                            connection.execute('BEGIN IMMEDIATE')
                        if wait:
                            # authenticate needs not read it again
                            request.environ[LOCKED_MEMBER] = (member_id,
                                _wait_member_lock(
                                    transaction, Member, member_id))
                        _take_locks(transaction, locks)
                        result = func(request, pool, *args, **kwargs)
                    except TransactionError as e:
                        transaction.rollback()
                        transaction.tasks.clear()
                        e.fix(locks)
                        continue
                    except backend.DatabaseOperationalError as e:
                        transaction.rollback()
                        transaction.tasks.clear()
                        if (_contention(e)
                                and time.monotonic() < deadline):
                            conflicts += 1
                            logger.debug("Conflict: %i", conflicts)
                            # A lock waited for is free: at once
                            if not isinstance(e, _lock_waited()):
                                pause = random.uniform(
                                    0, 0.005 * min(conflicts, 10))
                            continue
                        if count < retry:
                            count += 1
                            pause = 0.02 * count
                            logger.debug("Retry: %i", count)
                            continue
                        raise
                    transaction.commit()
                while transaction.tasks:
                    run_task(pool, transaction.tasks.pop())
                return result
        return wrapper
    return decorator


def _lock_waited():
    "The errors after which the lock waited for is free"
    if backend.name == 'postgresql':
        from psycopg import errors
        return (errors.LockNotAvailable, errors.SerializationFailure)
    return ()


def _activated(pool):
    "Routes are registered for every database, activated or not"
    try:
        pool.get('miniprogram.refresh_token')
    except KeyError:
        return False
    return True


def from_user_error(error):
    "An ApiError from a UserError raised by a model"
    code = getattr(error, 'error_code', None)
    if not code and isinstance(getattr(error, 'code', None), str):
        code = error.code
    if not code and isinstance(error, AccessError):
        code = 'forbidden'
    if not code and isinstance(error, SQLConstraintError):
        from trytond.modules.member.member import is_unique_violation
        if is_unique_violation(error):
            # The record exists (maybe created by a concurrent request):
            # a conflict, not a malformed request.  The rules raise their
            # documented code (e.g. phone_taken) before this.
            code = 'conflict'
    message = error.message
    details = getattr(error, 'details', None) or {}
    if not code:
        code = 'invalid_request'
    headers = {}
    if getattr(error, 'retry_after', None) is not None:
        headers['Retry-After'] = str(int(error.retry_after))
    if code == 'unauthorized':
        headers['WWW-Authenticate'] = 'Bearer'
    return ApiError(code, message, details=details,
        status=getattr(error, 'status', None), headers=headers,
        rollback=getattr(error, 'rollback', True))


def _language(request):
    for lang, _ in request.accept_languages:
        lang = lang.lower()
        if lang.startswith('zh'):
            return 'zh_CN'
        if lang.startswith('en'):
            return 'en'
    return 'en'


# The WSGI middleware of the prefix: clean JSON errors for everything that
# does not reach a handler (unknown path, wrong method, body too large,
# refused origin, database unavailable).

_PREFIX_RE = re.compile(r'^/[^/]+' + re.escape(PREFIX))

_STATUS_CODES = {
    400: ('invalid_request', "The request is not valid."),
    401: ('unauthorized', "Authentication is required."),
    403: ('forbidden', "This request is not allowed."),
    404: ('not_found', "There is nothing at this address."),
    405: ('method_not_allowed', "This method is not allowed here."),
    413: ('payload_too_large', "The request body is too large."),
    414: ('uri_too_long', "The address is too long."),
    415: ('unsupported_media_type', "The body must be JSON."),
    429: ('rate_limited', "Too many requests."),
    431: ('header_too_large', "A request header is too large."),
    500: ('internal_error', "An internal error occurred."),
    502: ('wechat_unavailable', "An upstream service is unavailable."),
    503: ('service_unavailable', "The service is unavailable, retry later."),
    }


def _allowed_origins():
    return set(filter(None, (config.get('web', 'cors', default='')
                + '\n' + config.get('miniprogram', 'cors', default='')
                ).split()))


def _oversized(environ):
    "The status (414, 431) of a request whose address or headers are too long"
    from urllib.parse import unquote
    # In characters, as the schemas count them (a percent-encoded character
    # is one character of a parameter)
    if (len(environ.get('PATH_INFO', ''))
            + len(unquote(environ.get('QUERY_STRING', '')))) > MAX_URL:
        return 414
    total = 0
    for key, value in environ.items():
        if key.startswith('HTTP_') or key in {
                'CONTENT_TYPE', 'CONTENT_LENGTH'}:
            size = len(key) + len(value) if isinstance(value, str) else 0
            if size > MAX_HEADER:
                return 431
            total += size
    if total > MAX_HEADERS:
        return 431
    return None


def error_payload(status, message=None):
    "The JSON error object of an HTTP status, as bytes"
    code, default = _STATUS_CODES.get(
        status, ('internal_error' if status >= 500 else 'invalid_request',
            "The request failed."))
    return json.dumps(error_body(code, message or default)).encode()


class PrefixMiddleware:
    "Answer JSON errors on the API prefix, whatever fails"

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if not _PREFIX_RE.match(path):
            return self.app(environ, start_response)
        refused = _oversized(environ)
        if refused:
            return self._error(refused, start_response)
        origin = environ.get('HTTP_ORIGIN')
        if origin and origin != 'null':
            host = environ.get('HTTP_HOST', '')
            from urllib.parse import urlparse
            try:
                origin_host = urlparse(origin).netloc
            except ValueError:  # e.g. "http://[": not an origin
                origin_host = None
            if origin_host != host and origin not in _allowed_origins():
                return self._error(403, start_response,
                    "The origin %s is not allowed." % origin[:100])
        try:
            _url_map.bind_to_environ(environ).match()
        except NotFound:
            return self._error(404, start_response)
        except MethodNotAllowed as e:
            return self._error(405, start_response, headers=[
                    ('Allow', ', '.join(sorted(e.valid_methods or [])))])
        except HTTPException:
            pass
        captured = {}

        def capture(status, headers, exc_info=None):
            captured['status'] = status
            captured['headers'] = headers
            return lambda data: None
        try:
            body = self.app(environ, capture)
            content_type = dict(
                (k.lower(), v) for k, v in captured.get('headers', [])
                ).get('content-type', '')
            code = int(captured['status'].split()[0])
        except Exception:
            logger.exception("mini-program API failure on %s", path)
            return self._error(500, start_response)
        if code >= 400 and not content_type.startswith('application/json'):
            if hasattr(body, 'close'):
                body.close()
            return self._error(code, start_response)
        start_response(captured['status'], captured['headers'])
        return body

    def _error(self, status, start_response, message=None, headers=()):
        payload = error_payload(status, message)
        headers = [('Content-Type', JSON_TYPE),
            ('Content-Length', str(len(payload)))] + list(headers)
        if status == 503:
            headers.append(('Retry-After', '1'))
        start_response('%s %s' % (status, HTTPStatus(status).phrase), headers)
        return [payload]


class RedactTokens(logging.Filter):
    """Keep the kiosk tokens of the addresses (?token=...) out of the
    request logs of trytond, werkzeug and gunicorn"""
    _pattern = re.compile(r'([?&]token=)[^&\s"\']+')

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:
            return True
        if 'token=' in message:
            record.msg = self._pattern.sub(r'\1[redacted]', message)
            record.args = None
        return True


for _name in ['werkzeug', 'gunicorn.access', 'trytond.wsgi']:
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, RedactTokens) for f in _logger.filters):
        _logger.addFilter(RedactTokens())


if not getattr(app.wsgi_app, '_miniprogram', False):
    app.wsgi_app = PrefixMiddleware(app.wsgi_app)
    app.wsgi_app._miniprogram = True
