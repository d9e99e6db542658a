# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The HTTP layer of the mini-program API: strict JSON in and out, request
validation against the same schemas the OpenAPI document publishes, one
error shape for every failure, authentication and the member's execution
context.  Business rules stay in model methods."""
import datetime as dt
import functools
import json
import logging
import os
import random
import re
import time
from decimal import Decimal
from functools import wraps
from http import HTTPStatus

from sql import For, Literal
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import parse_accept_header
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Response

from trytond import backend, config
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError, SQLConstraintError
from trytond.modules.suite import tools
from trytond.pool import Pool
from trytond.protocols.wrappers import (
    allow_null_origin, with_pool, with_transaction)
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import app

from . import auth, metrics, saturation
from .auth import (
    ANSWERED_BY, LOCK_TIMEOUT_MS, LOCKED_MEMBER, _run_as, authenticate,
    check_member_lock, token_member, wait_member_lock)
from .exceptions import ApiError
from .schemas import MAX_ID, obj
from .serializers import isoformat
from .validation import invalid, parse_body, parse_json, parse_query

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
JSON_TYPE = 'application/json; charset=utf-8'


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


# The registry of routes, published by openapi.json
ROUTES = []
# The same routes, to tell an unknown path (404) from a wrong method (405)
# before Tryton's own routes answer: one rule per path with all its methods
# (with a rule per method, werkzeug answers an id out of the bounds of the
# path 405 instead of 404 for the methods after the first)
_url_methods = {}
_url_map = Map()
# The matches of _url_map per method and path (_match): a path asked again
# skips werkzeug's matcher (the check-ins' path is one per database)
_matches = {}
MATCHES_SIZE = 1024
MATCHED_PATH_MAX = 200


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
        # The request goes to the intake of check-ins (api_route intake)
        self.intake = bool(http.environ.get(saturation.DIVERTED))
        # The id of the record that answers the request without the
        # member's lock (api_route lock_unless), None when it is held
        self.answered_by = http.environ.get(ANSWERED_BY)


def api_route(method, path, summary, auth='member', body=None, query=None,
        status=200, response=None, errors=(), tags=(), max_size=None,
        content_type='application/json', description=None, kiosk=False,
        lock_member=False, raw=False, answers=None, intake=False,
        lock_unless=None):
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
    lock_unless: with lock_member, a function of the HTTP request and the
    member id that returns the prepared query of the id of a record that
    answers the request without the lock (a duplicate check-in: see
    auth.wait_member_lock), or None: when the query finds one, the lock is
    not taken and the handler gets the id as request.answered_by.
    raw: the handler is called with the HTTP request and the database name
    only, without pool nor transaction, and returns a Response (the health
    route, which must answer when the database does not).
    answers: {status: schema} of the answers at a status that are not the
    error object (the health route's 503).
    intake: when the database is saturated (saturation.saturated), the request
    is not given the member's lock and request.intake is set: the handler
    appends it to the intake of check-ins instead of recording it.
    A path parameter {name:hex} is a 32-digit hexadecimal string (a
    receipt), the others are ids.
    """
    def decorator(func):
        route = {
            'method': method, 'path': re.sub(r'\{(\w+):hex\}', r'{\1}', path),
            'hex': re.findall(r'\{(\w+):hex\}', path),
            'summary': summary,
            'description': description or (func.__doc__ or '').strip(),
            'auth': auth, 'body': body,
            'query': query, 'status': status, 'response': response,
            'errors': list(errors), 'tags': list(tags),
            'content_type': content_type,
            'operation_id': func.__name__,
            'kiosk': kiosk,
            'lock_member': lock_member,
            'answers': dict(answers or {}),
            'intake': intake,
            }
        ROUTES.append(route)
        url = _url(path)
        global _url_map
        _url_methods.setdefault(url, set()).add(method)
        _url_map = Map([Rule(u, endpoint=u, methods=sorted(m))
                for u, m in _url_methods.items()])

        if raw:
            @app.route(url, methods=[method])
            @allow_null_origin
            @counted(route)
            @wraps(func)
            def raw_endpoint(request, database_name, **path_args):
                return func(request, database_name, **path_args)
            raw_endpoint.max_request_size = max_size or MAX_BODY
            return raw_endpoint

        @app.route(url, methods=[method])
        @allow_null_origin
        @counted(route)
        @with_pool
        @answer_unavailable
        @(with_transaction(readonly=True) if method in {'GET', 'HEAD'}
            else with_write_transaction(lock_member=lock_member,
                intake=intake, lock_unless=lock_unless))
        @wraps(func)
        def endpoint(request, pool, **path_args):
            return _handle(route, func, request, pool, path_args)
        endpoint.max_request_size = max_size or MAX_BODY
        return endpoint
    return decorator


def _url(path):
    "The rule of the URL map of the route of path"
    return '/<database_name>' + PREFIX + re.sub(
        r'\{(\w+)\}', r'<int(min=1, max=%d):\1>' % MAX_ID,
        re.sub(r'\{(\w+):hex\}', r'<string(length=32):\1>', path))


# The answers given by PrefixMiddleware before Tryton's dispatch:
# {(method, rule): [(func, route, when, autocommit, timed)]}
_early = {}


class WholeWay(Exception):
    "Raised by an early answer: the request goes the whole way"


def early_answer(method, path, when, autocommit=True, timed=False):
    """Register func(pool, member_id, body, environ) as the first answer
    to the member route of method and path when when(database_name) is
    true (the first registered whose when is true): the middleware
    answers it before Tryton's dispatch, without its request object,
    handler stack and ORM instance of the member, in a transaction of the
    API user where the access token and the body are checked as api_route
    does; func checks that the member is active.

    autocommit: func runs one statement, committed by itself (the intake
    of saturated check-ins); else func runs in one transaction, committed
    after it, and the tasks it queued run after the commit as
    with_write_transaction does (a recorded check-in).  timed: the time of
    the answer tells whether the database is saturated
    (saturation.note_latency, as api_route does for intake routes).

    func returns (status, JSON value) of the answer.  Any refusal (an
    ApiError, a UserError, WholeWay, a conflict of the database) rolls
    back and sends the request the whole way, where it is answered: the
    errors have one home (see _answer_early)."""
    def decorator(func):
        route, = [r for r in ROUTES
            if r['method'] == method and r['path'] == path]
        assert route['auth'] == 'member' and route['body']
        _early.setdefault((method, _url(path)), []).append(
            (func, route, when, autocommit, timed))
        return func
    return decorator


def _early_body(environ):
    """The body of the request, left in environ to be read again, or None
    when it has no declared length"""
    from io import BytesIO
    try:
        length = int(environ.get('CONTENT_LENGTH') or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    data = environ['wsgi.input'].read(length)
    environ['wsgi.input'] = BytesIO(data)
    return data


def _answer_early(answers, environ, database_name):
    """The WSGI answer of the first early answer (see early_answer) whose
    when is true to the request of environ, or None for the request to go
    the whole way: a request with an Origin (its headers are Tryton's), a
    database not loaded or without the module, a refusal"""
    if (environ.get('HTTP_ORIGIN')
            or database_name not in Pool.database_list()):
        return None
    for func, route, when, autocommit, timed in answers:
        if when(database_name):
            break
    else:
        return None
    started = time.monotonic()
    pool = Pool(database_name)
    if not _activated(pool):
        return None
    data = _early_body(environ)
    if data is None:
        return None
    language = _language(parse_accept_header(
            environ.get('HTTP_ACCEPT_LANGUAGE'), LanguageAccept))
    try:
        with Transaction().start(database_name, 0, autocommit=autocommit,
                context={'language': language}) as transaction:
            member_id = auth.header_member(
                environ.get('HTTP_AUTHORIZATION', ''))
            if member_id is None or not 0 < member_id < 2 ** 31:
                return None
            body = parse_body(
                environ.get('CONTENT_TYPE', ''), data, route['body'])
            _run_as(auth.api_user_id(),
                auth.member_request_context(member_id))
            status, value = func(pool, member_id, body, environ)
            # Made before the commit (at the end of the block, a failure of
            # which rolls back and raises): once committed, the request
            # must not go the whole way (it would find its own check-in)
            payload = json.dumps(value, ensure_ascii=False,
                default=_default, separators=(',', ':')).encode()
    except (ApiError, UserError, UserWarning, ValueError, TransactionError,
            WholeWay, backend.DatabaseOperationalError) as e:
        logger.debug("%s %s goes the whole way: %r",
            route['method'], route['path'], e)
        return None
    try:
        _after_commit(pool, transaction, route, environ, status, started,
            timed)
    except Exception:
        # Committed: answered whatever fails after it
        logger.exception("after the early answer of %s %s",
            route['method'], route['path'])
    return ('%s %s' % (status, HTTPStatus(status).phrase),
        [('Content-Type', JSON_TYPE), ('Content-Length', str(len(payload)))],
        payload)


def _after_commit(pool, transaction, route, environ, status, started,
        timed):
    """Run the tasks that the early answer queued (as
    with_write_transaction does) and count it in the metrics"""
    from trytond.worker import run_task
    while transaction.tasks:
        run_task(pool, transaction.tasks.pop())
    metrics.count(route, route['method'], environ, status, started)
    if timed:
        saturation.note_latency(time.monotonic() - started)


def counted(route):
    "Count the answers of the endpoint of route in the metrics"
    def decorator(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            started = time.monotonic()
            status = 500
            try:
                response = func(request, *args, **kwargs)
                status = response.status_code
                return response
            except HTTPException as e:
                status = e.code or 500
                raise
            finally:
                metrics.count(route, request.method, request.environ,
                    status, started)
                if (route['intake']
                        and not request.environ.get(saturation.DIVERTED)):
                    # The time of the recorded check-ins tells if the
                    # database is saturated (intake mode auto)
                    saturation.note_latency(time.monotonic() - started)
        return wrapper
    return decorator


def _handle(route, func, request, pool, path_args):
    "Answer request with the handler func of route"
    transaction = Transaction()
    language = _language(request.accept_languages)
    try:
        with transaction.set_context(language=language):
            try:
                result = func(_api_request(route, request, pool, path_args))
            except (UserError, UserWarning) as e:
                raise from_user_error(e)
            except (ApiError, TransactionError,
                    backend.DatabaseOperationalError):
                raise
            except HTTPException:
                # e.g. body too large: answered as JSON by the middleware
                tools.rollback_transaction(transaction)
                raise
            except Exception:
                logger.exception("mini-program API error on %s %s",
                    route['method'], request.path)
                raise ApiError('internal_error',
                    gettext('miniprogram.msg_status_500'))
    except ApiError as e:
        if e.rollback:
            tools.rollback_transaction(transaction)
        return error_response(e)
    if isinstance(result, Response):
        return result
    return json_response(result, status=route['status'])


def _api_request(route, request, pool, path_args):
    """The Request of the handler: the API activated, the member's lock
    checked, the inputs parsed and the token authenticated"""
    if not _activated(pool):
        # No message of the module in this database
        raise ApiError('not_found', _english()['not_activated'])
    if route['lock_member'] and not request.environ.get(
            saturation.DIVERTED) and request.environ.get(ANSWERED_BY) is None:
        check_member_lock(request, pool)
    body, query = route['body'], route['query']
    body_value = parse_json(request, body) if body else None
    if (not body and request.get_data(cache=True)
            and route['method'] in {'GET', 'HEAD', 'DELETE'}):
        raise invalid('body_not_taken')
    query_value = parse_query(request, query or obj({})) if (
        query or request.args) else {}
    api_request = Request(request, pool, body_value, query_value, path_args)
    if route['auth']:
        authenticate(api_request, route['auth'], kiosk=route['kiosk'])
    return api_request


def answer_unavailable(func):
    """Answer 503 service_unavailable when the database stays unavailable
    after the retries (connection lost or refused, no connection from the
    pool, lock or statement timeouts), and 500 internal_error for any other
    failure around the handler (the start of the transaction: _begin):
    Tryton's with_pool would make a 400 invalid_request of both for a JSON
    body (it looks for an RPC method) and a 500 otherwise.  Nothing was
    committed: the client may send the same request again."""
    @wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        try:
            return func(request, pool, *args, **kwargs)
        except backend.DatabaseOperationalError as e:
            logger.warning("database unavailable for %s %s: %s",
                request.method, request.path, str(e).splitlines()[0]
                if str(e) else type(e).__name__)
            return error_response(ApiError('service_unavailable',
                    status_text(request.environ, 'status_503'),
                    headers={'Retry-After': '1'}))
        except HTTPException:
            raise
        except Exception:
            logger.exception("mini-program API error on %s %s",
                request.method, request.path)
            return error_response(ApiError('internal_error',
                    status_text(request.environ, 'status_500')))
    return wrapper


def contention_timeout():
    """How long (seconds) a write request may wait for the locks held by
    concurrent requests and start again after conflicts with them"""
    return config.getfloat('miniprogram', 'contention_timeout', default=20)


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
        tools.rollback(connection)
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
        tools.rollback(connection)
        raise
    transaction._locked_tables.update(tables)
    for table, ids in records:
        transaction._locked_records[table].update(ids)


def with_write_transaction(lock_member=False, intake=False,
        lock_unless=None):
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
      the first one's remaining time; unless lock_unless finds the record
      that answers the request (see api_route).
    - intake: when the database is saturated, the request goes to the
      intake of check-ins (the environ key saturation.DIVERTED): it neither
      takes nor waits for the member's lock."""
    from trytond.worker import run_task

    def decorator(func):
        @wraps(func)
        def wrapper(request, pool, *args, **kwargs):
            context = {'_request': request.context}
            retry = tools.retries()
            deadline = time.monotonic() + contention_timeout()
            count = conflicts = 0
            if intake and saturation.saturated(pool.database_name):
                request.environ[saturation.DIVERTED] = True
            member, locks = _member_lock(request, pool, lock_member
                and not request.environ.get(saturation.DIVERTED))
            pause = 0
            while True:
                if pause:
                    time.sleep(pause)
                pause = 0
                with Transaction().start(pool.database_name, 0,
                        context=context) as transaction:
                    try:
                        _begin(transaction, request, member, locks,
                            lock_unless)
                        result = func(request, pool, *args, **kwargs)
                    except TransactionError as e:
                        tools.rollback_transaction(transaction)
                        transaction.tasks.clear()
                        e.fix(locks)
                        continue
                    except backend.DatabaseOperationalError as e:
                        tools.rollback_transaction(transaction)
                        transaction.tasks.clear()
                        if (tools.contention(e)
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


def _member_lock(request, pool, lock_member):
    """The (Member, member id) whose lock the transaction waits for first
    (PostgreSQL) or None, and the locks asked for when it starts (the
    member's on SQLite)"""
    member_id = token_member(request) if lock_member else None
    try:
        Member = pool.get('member.member')
    except KeyError:  # not activated: answered by the endpoint
        return None, {}
    if member_id is None:
        return None, {}
    if backend.name == 'postgresql':
        return (Member, member_id), {}
    return None, {'_lock_records': {Member._table: [member_id]}}


def _begin(transaction, request, member, locks, lock_unless=None):
    "Start transaction as the single writer with its locks"
    request.environ.pop(LOCKED_MEMBER, None)
    request.environ.pop(ANSWERED_BY, None)
    connection = transaction.connection
    if backend.name == 'sqlite' and not connection.in_transaction:
        connection.execute('BEGIN IMMEDIATE')
    if member:
        Member, member_id = member
        unless = lock_unless(request, member_id) if lock_unless else None
        active, found = wait_member_lock(
            transaction, Member, member_id, unless=unless)
        # authenticate needs not read it again
        request.environ[LOCKED_MEMBER] = (member_id, active)
        if found is not None:
            request.environ[ANSWERED_BY] = found
    _take_locks(transaction, locks)


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


def _language(accept_languages):
    "The language of the answers: zh_CN or en, from Accept-Language"
    for lang, _ in accept_languages:
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

# The machine codes of the HTTP statuses; their texts are the messages
# miniprogram.msg_status_<status>
STATUS_CODES = {
    400: 'invalid_request',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not_found',
    405: 'method_not_allowed',
    413: 'payload_too_large',
    414: 'uri_too_long',
    415: 'unsupported_media_type',
    429: 'rate_limited',
    431: 'header_too_large',
    500: 'internal_error',
    502: 'wechat_unavailable',
    503: 'service_unavailable',
    }


def status_text(environ, message, **variables):
    """The text of the message miniprogram.msg_<message> for a request
    answered outside of a transaction, in its language: read in the
    database of the address; without one (unknown, or unavailable: 503),
    as read before in another request, else the English of message.xml"""
    language = _language(parse_accept_header(
            environ.get('HTTP_ACCEPT_LANGUAGE'), LanguageAccept))
    database = environ.get('PATH_INFO', '').split('/')[1]
    key = (language, message)
    if message != 'status_503' and database in Pool.database_list():
        try:
            with Transaction().start(database, 0, readonly=True,
                    context={'language': language}):
                text = gettext('miniprogram.msg_' + message, **variables)
            if not variables:
                _texts[key] = text
            return text
        except Exception:
            logger.debug("no text of %s in %s", message, database,
                exc_info=True)
    return _texts.get(key, _english()[message]) % variables


# The texts read in a database, by (language, message), for the answers
# when no database answers
_texts = {}


@functools.cache
def _english():
    "The English texts of message.xml by id without msg_"
    import xml.etree.ElementTree as ET
    root = ET.parse(os.path.join(os.path.dirname(__file__), 'message.xml'))
    return {r.get('id')[len('msg_'):]: r.find('field').text
        for r in root.iter('record')}


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


def error_payload(environ, status, message=None, **variables):
    """The JSON error object of an HTTP status, as bytes: the text of
    message (default: of the status)"""
    code = STATUS_CODES.get(
        status, 'internal_error' if status >= 500 else 'invalid_request')
    if message is None:
        message = 'status_%s' % (status if status in STATUS_CODES
            else 500 if status >= 500 else 400)
    return json.dumps(error_body(
            code, status_text(environ, message, **variables))).encode()


def _match(environ):
    """Return (rule, arguments) of the method and path of environ in
    _url_map, or raise as werkzeug's MapAdapter.match does; the matches are
    kept per process (its rules match neither host nor query)"""
    key = (_url_map, environ.get('REQUEST_METHOD'),
        environ.get('PATH_INFO', ''))
    found = _matches.get(key)
    if found is None:
        found = _url_map.bind_to_environ(environ).match()
        # A long path (any database name matches) is not kept
        if len(key[2]) <= MATCHED_PATH_MAX:
            tools.remember(_matches, key, found, MATCHES_SIZE)
    return found[0], dict(found[1])


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
            return self._error(refused, environ, start_response)
        origin = environ.get('HTTP_ORIGIN')
        if origin and origin != 'null':
            host = environ.get('HTTP_HOST', '')
            from urllib.parse import urlparse
            try:
                origin_host = urlparse(origin).netloc
            except ValueError:  # e.g. "http://[": not an origin
                origin_host = None
            if origin_host != host and origin not in _allowed_origins():
                return self._error(403, environ, start_response,
                    'origin_refused', origin=origin[:100])
        try:
            rule, arguments = _match(environ)
        except NotFound:
            return self._error(404, environ, start_response)
        except MethodNotAllowed as e:
            return self._error(405, environ, start_response, headers=[
                    ('Allow', ', '.join(sorted(e.valid_methods or [])))])
        except HTTPException:
            rule = arguments = None
        early = _early.get((environ.get('REQUEST_METHOD'), rule))
        if early is not None:
            try:
                answer = _answer_early(
                    early, environ, arguments['database_name'])
            except Exception:
                # A failure of the early answer is not the request's
                logger.exception("early answer failed on %s", path)
                answer = None
            if answer is not None:
                status, headers, payload = answer
                start_response(status, headers)
                return [payload]
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
            return self._error(500, environ, start_response)
        if code >= 400 and not content_type.startswith('application/json'):
            if hasattr(body, 'close'):
                body.close()
            return self._error(code, environ, start_response)
        start_response(captured['status'], captured['headers'])
        return body

    def _error(self, status, environ, start_response, message=None,
            headers=(), **variables):
        payload = error_payload(environ, status, message, **variables)
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
