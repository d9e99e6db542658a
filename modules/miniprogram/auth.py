# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""JSON Web Tokens of the mini-program API, the lock of the member of a
token and the execution context of an authenticated request."""
import secrets
import time
import uuid

import jwt
from jwt.algorithms import HMACAlgorithm
from sql import Literal
from sql.operators import Exists

from trytond import config
from trytond.cache import Cache
from trytond.exceptions import RateLimitException
from trytond.i18n import gettext
from trytond.modules.member.member import member_context
from trytond.modules.suite import tools
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

from .exceptions import (
    Forbidden, InvalidCredentials, LoginThrottled, TokenInvalid)

ALGORITHMS = ['HS256']
MIN_SECRET_BYTES = 32
_ephemeral_secret = None


class _HMAC(HMACAlgorithm):
    """PyJWT's HS256, whose key is checked once per process (not empty, not
    a PEM, SSH or DER key: about 10 microseconds that PyJWT spends on
    every token) instead of at each token"""
    _PREPARED_MAX = 8

    def __init__(self):
        super().__init__(HMACAlgorithm.SHA256)
        self._prepared = {}

    def prepare_key(self, key):
        try:
            return self._prepared[key]
        except (KeyError, TypeError):
            pass
        prepared = super().prepare_key(key)
        if isinstance(key, (str, bytes)):
            tools.remember(self._prepared, key, prepared, self._PREPARED_MAX)
        return prepared


def _codec():
    """The PyJWT of the API's tokens: HS256 only, with its key checked once
    (_HMAC), its claims validated by PyJWT"""
    jws = jwt.PyJWS(algorithms=ALGORITHMS)
    jws.unregister_algorithm('HS256')
    jws.register_algorithm('HS256', _HMAC())
    codec = jwt.PyJWT()
    # PyJWT takes no signer of its own but this attribute (PyJWT < 3)
    codec._jws = jws
    return codec


_jwt = _codec()


class ConfigurationError(RuntimeError):
    pass


def jwt_secret():
    """The HS256 key: [miniprogram] jwt_secret of at least 256 bits.

    A missing or weak secret is refused (the server does not start), except
    in Tryton's test mode where a random one is made per process when none
    is configured."""
    global _ephemeral_secret
    secret = config.get('miniprogram', 'jwt_secret', default='') or ''
    if not secret:
        if Pool.test:
            if _ephemeral_secret is None:
                _ephemeral_secret = secrets.token_hex(32)
            return _ephemeral_secret
        raise ConfigurationError(
            "[miniprogram] jwt_secret is not set: set it (or "
            "TRYTOND_MINIPROGRAM__JWT_SECRET) to a random value of at least "
            "%d bytes, e.g. the output of: python -c 'import secrets; "
            "print(secrets.token_hex(32))'" % MIN_SECRET_BYTES)
    if (len(secret.encode('utf-8')) < MIN_SECRET_BYTES
            or len(set(secret)) < 8):
        raise ConfigurationError(
            "[miniprogram] jwt_secret is too weak: use a random value of "
            "at least %d bytes" % MIN_SECRET_BYTES)
    return secret


def issuer():
    return config.get('miniprogram', 'issuer', default='tryton-miniprogram')


def audience():
    return config.get('miniprogram', 'audience', default='miniprogram')


def access_ttl():
    return config.getint('miniprogram', 'access_ttl', default=15 * 60)


def refresh_ttl():
    return config.getint(
        'miniprogram', 'refresh_ttl', default=30 * 24 * 60 * 60)


def encode(subject, typ, ttl, jti=None, extra=None, now=None):
    "Return a signed token and its claims"
    # real time: the JWT library checks the expiry on the system clock
    now = int(now if now is not None else time.time())
    claims = {
        'iss': issuer(),
        'aud': audience(),
        'sub': str(subject),
        'iat': now,
        'exp': now + ttl,
        'jti': jti or uuid.uuid4().hex,
        'typ': typ,
        }
    if extra:
        claims.update(extra)
    return _jwt.encode(claims, jwt_secret(), algorithm='HS256'), claims


# The claims of the tokens whose signature, audience and issuer were
# verified, by (token, key, audience, issuer): a request decodes its token
# once (and a retried request not again).  Only the expiry is checked
# again; bounded: emptied when full.
_verified = {}
_VERIFIED_MAX = 4096


def _verified_claims(token):
    "Return the verified claims of token if known and not expired"
    claims = _verified.get((token, jwt_secret(), audience(), issuer()))
    # real time, as the JWT library (decode)
    if claims is not None and claims['exp'] > time.time():
        return claims
    return None


def decode(token, typ):
    "Return the claims of a valid token of type typ, or raise TokenInvalid"
    claims = _verify(token)
    if claims.get('typ') != typ:
        raise TokenInvalid(gettext('miniprogram.msg_token_invalid'),
            details={'reason': "wrong type"})
    return dict(claims)


def _verify(token):
    """Return the claims of a valid token of any type (kept per process:
    _verified_claims), or raise TokenInvalid"""
    def refused(reason, message='miniprogram.msg_token_invalid'):
        return TokenInvalid(gettext(message), details={'reason': reason})
    if not isinstance(token, str) or len(token) > 4096:
        raise refused("malformed")
    claims = _verified_claims(token)
    if claims is None:
        key = (token, jwt_secret(), audience(), issuer())
        try:
            claims = _jwt.decode(token, key[1], algorithms=ALGORITHMS,
                audience=key[2], issuer=key[3],
                options={
                    'require': ['exp', 'iat', 'sub', 'jti', 'iss', 'aud']})
        except jwt.ExpiredSignatureError:
            raise refused("expired", 'miniprogram.msg_token_expired')
        except jwt.PyJWTError:
            raise refused("invalid")
        if not isinstance(claims.get('exp'), (int, float)):
            raise refused("invalid")
        tools.remember(_verified, key, claims, _VERIFIED_MAX)
    return claims


def token_member(request):
    """Return the member id of the valid access token of request, or None.

    Read before the request's own authentication, to take the member's lock
    when its transaction starts (see api_route lock_member)."""
    return header_member(request.headers.get('Authorization', ''))


def header_member(header):
    """Return the member id of the valid access token of the Authorization
    header, or None"""
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer':
        return None
    try:
        return int(decode(token.strip(), 'access')['sub'])
    except (TokenInvalid, ValueError, TypeError, KeyError):
        return None


# How long a check-in waits for another transaction holding its member
LOCK_TIMEOUT_MS = 2000
# The WSGI environ key of (member id, active) read by with_write_transaction
# in the request's current transaction
LOCKED_MEMBER = 'miniprogram.locked_member'
# The WSGI environ key of the id of the record that answers the request
# without the member's lock (api_route lock_unless)
ANSWERED_BY = 'miniprogram.answered_by'


def wait_member_lock(transaction, Member, member_id, unless=None):
    """Take the row lock of the member as the first statement of
    transaction, waiting (at most LOCK_TIMEOUT_MS) for a transaction that
    holds it, and record it as taken like Transaction.start does for the
    locks it is asked for (PostgreSQL).

    unless: the prepared query (key, build, values: see
    member.prepared.statement) of the id of a record that answers the
    request without the lock (api_route lock_unless): when it finds one,
    in the same statement, the lock is not taken.

    Return whether the member exists and is active (read with the lock) and
    the id found by unless (None: the lock is held)."""
    from trytond.modules.member.prepared import execute

    def lock(member_id, timeout, **values):
        found, locked = Member.lock_query(member_id, timeout,
            unless and unless[1], values)
        if unless is None:
            return locked.query
        member = Member.__table__()
        return member.select(member.active,
            found.select(found.id, limit=1),
            Exists(locked.select(Literal(1))),
            where=member.id == member_id, with_=[found, locked])
    key, values = (Member.__name__, 'lock'), {}
    if unless is not None:
        key, values = key + (unless[0],), unless[2]
    row = _execute_first(transaction, lambda: execute(key, lock,
            member_id=member_id, timeout=str(LOCK_TIMEOUT_MS), **values))
    if unless is None:
        row = (row[1], None, True) if row else None
    active, found, held = row if row else (False, None, False)
    if held:
        transaction._locked_records[Member._table].add(member_id)
    return bool(active), found


# How many times the first statement of a transaction runs again in it when
# the row it waited for was changed by the transaction that held it
FIRST_STATEMENT_AGAIN = 3


def _execute_first(transaction, execute):
    """Call execute(), which executes the first statement of transaction
    and returns its cursor, and return its first row.

    When it waited for a row lock and the holder changed the row, Tryton's
    REPEATABLE READ refuses it (a serialization failure).  Nothing else was
    done in the transaction: it starts again at the database only, with a
    snapshot that sees what the holder committed, and the statement runs
    again, instead of the whole request (a copy of a check-in sent while
    the first held the member then finds it: the duplicate answer).  After
    FIRST_STATEMENT_AGAIN failures the error is raised: the request starts
    again."""
    from psycopg.errors import SerializationFailure
    connection = transaction.connection
    for again in range(FIRST_STATEMENT_AGAIN + 1):
        try:
            cursor = execute()
        except SerializationFailure:
            tools.rollback(connection)
            if again == FIRST_STATEMENT_AGAIN:
                raise
            continue
        return cursor.fetchone()


def check_member_lock(request, pool):
    """Lock the member of the access token of request (api_route
    lock_member): taken when the transaction started, a check, no query"""
    member_id = token_member(request)
    if member_id is not None:
        pool.get('member.member').lock([member_id])


def bearer(request):
    header = request.headers.get('Authorization', '')
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise TokenInvalid(gettext('miniprogram.msg_bearer_required'),
            details={'reason': "missing"})
    return token.strip()


def api_user_id():
    "The low-privilege user every member request runs as"
    ModelData = Pool().get('ir.model.data')
    return ModelData.get_id('miniprogram', 'user_miniprogram')


def reauth_window():
    "How long after a login a member may delete the account without password"
    return config.getint('miniprogram', 'reauth_window', default=10 * 60)


def staff_ttl():
    return config.getint('miniprogram', 'staff_ttl', default=8 * 60 * 60)


def kiosk_max_ttl():
    return config.getint(
        'miniprogram', 'kiosk_max_ttl', default=7 * 24 * 60 * 60)


def staff_login(login, password):
    """Return the id of the active Tryton user of login and password.

    Tryton's own login checks run (password hash, attempts per login and
    per IP network, the delay after failures); the API user cannot log
    in."""
    pool = Pool()
    User = pool.get('res.user')
    Attempt = pool.get('res.user.login.attempt')
    try:
        with without_check_access():
            user_id = User.get_login(login, {'password': password})
    except RateLimitException:
        raise LoginThrottled(gettext('miniprogram.msg_login_throttled'),
            retry_after=Attempt.retry_after(login))
    if not user_id or user_id == api_user_id():
        raise InvalidCredentials(
            gettext('miniprogram.msg_staff_invalid_credentials'))
    return user_id


def staff_token(user_id):
    "Return the answer of auth/staff for the Tryton user user_id"
    ttl = staff_ttl()
    token, _ = encode(user_id, 'staff', ttl)
    return {'access_token': token, 'token_type': 'Bearer', 'expires_in': ttl}


def kiosk_token(user_id, event):
    """Return a token that shows the QR code and the figures of event (and
    nothing else) on behalf of user_id, and its expiry as a UTC timestamp;
    (None, None) when the event is over.

    It lasts until an hour after the end of the event (measured with the
    check-in clock), at most [miniprogram] kiosk_max_ttl seconds (default 7
    days)."""
    from trytond.modules.suite import clock
    left = (event.end - clock.now()).total_seconds() + 60 * 60
    ttl = int(min(left, kiosk_max_ttl()))
    if ttl <= 0:
        return None, None
    token, claims = encode(user_id, 'kiosk', ttl, extra={'evt': event.id})
    return token, claims['exp']


def _token_type(token):
    """The type of token, or None when it has none: a valid token is
    verified here once, for decode (kept per process); the type of an
    expired or forged one is read unverified, so that decode refuses it
    with its reason"""
    try:
        return _verify(token).get('typ')
    except TokenInvalid:
        pass
    try:
        return jwt.decode(token, options={'verify_signature': False}).get(
            'typ')
    except jwt.PyJWTError:
        return None


def _staff_user(claims):
    "The active Tryton user a staff or kiosk token was issued to"
    User = Pool().get('res.user')
    try:
        user_id = int(claims['sub'])
    except ValueError:
        user_id = None
    users = User.search([('id', '=', user_id)]) if user_id else []
    if not users or user_id == api_user_id():
        raise TokenInvalid(gettext('miniprogram.msg_token_invalid'),
            details={'reason': "unknown user"})
    return users[0]


def authenticate(api_request, auth, kiosk=False):
    """Check the bearer token and switch the transaction to the API user
    with access checks on and the member in the context.

    auth 'member' needs a member's access token; 'organizer' also accepts a
    staff token (issued to a Tryton user by auth/staff) and, where kiosk is
    set, the kiosk token of the event of the path, also as the `token`
    query parameter (a TV browser cannot send a header)."""
    token = _request_token(api_request, kiosk)
    typ = _token_type(token)
    if auth == 'organizer' and typ in {'kiosk', 'staff'}:
        claims = decode(token, typ)
        if typ == 'kiosk':
            if not kiosk:
                raise Forbidden(gettext('miniprogram.msg_kiosk_token_scope'))
            if claims.get('evt') != api_request.path.get('event_id'):
                raise Forbidden(gettext('miniprogram.msg_kiosk_token_event'))
            api_request.kiosk_token = token
        user = api_request.staff_user = _staff_user(claims)
        _run_as(user.id, {})
        return
    claims = api_request.claims = decode(token, 'access')
    member = api_request.member = _token_member(api_request, claims)
    context = member_request_context(member.id)
    if auth == 'organizer':
        # Organizer routes run as the staff user linked to the member: the
        # check-in rules then decide whether that user organizes the event
        if not member.user or not member.user.active:
            raise Forbidden(gettext('miniprogram.msg_not_organizer'))
        api_request.staff_user = member.user
        _run_as(member.user.id, context)
    else:
        _run_as(api_user_id(), context)


def member_request_context(member_id):
    "The context of a request of member_id: the member and the company"
    context = member_context(member_id)
    company = _company()
    if company:
        context['company'] = company
    return context


def _run_as(user_id, context):
    "Run the rest of the transaction as user_id with access checks on"
    transaction = Transaction()
    transaction.set_user(user_id)
    transaction.set_context(_check_access=True, **context)


def _request_token(api_request, kiosk):
    "The token of the request: its bearer or a kiosk token in the query"
    query_token = (api_request.query or {}).get('token')
    if (kiosk and query_token
            and not api_request.http.headers.get('Authorization')):
        if _token_type(query_token) != 'kiosk':
            # Long-lived tokens are never accepted in an address (logs,
            # browser history): only the narrow kiosk token is
            raise TokenInvalid(gettext('miniprogram.msg_query_token_kiosk'),
                details={'reason': "not a kiosk token"})
        return query_token
    return bearer(api_request.http)


def _token_member(api_request, claims):
    "The existing and active member of the claims of an access token"
    Member = api_request.pool.get('member.member')
    try:
        member_id = int(claims['sub'])
    except ValueError:
        raise TokenInvalid(gettext('miniprogram.msg_token_invalid'))
    if not 0 < member_id < 2 ** 31:
        raise TokenInvalid(gettext('miniprogram.msg_member_inactive'))
    # Known when the transaction started with its lock
    # (api.with_write_transaction), else one query (the ORM search costs
    # more than the whole check-in)
    locked = api_request.http.environ.get(LOCKED_MEMBER)
    if locked is not None and locked[0] == member_id:
        active = locked[1]
    else:
        from trytond.modules.member.prepared import execute

        def active_member(member_id):
            table = Member.__table__()
            return table.select(table.id,
                where=(table.id == member_id)
                & (table.active == Literal(True)))
        cursor = execute((Member.__name__, 'active'), active_member,
            member_id=member_id)
        active = bool(cursor.fetchone())
    if not active:
        raise TokenInvalid(gettext('miniprogram.msg_member_inactive'))
    return Member(member_id)


# The company of the member requests, looked up once a minute per process
# rather than on every request
_company_cache = Cache('miniprogram.company', context=False, duration=60)


def _company():
    company = _company_cache.get(None, -1)
    if company != -1:
        return company
    Company = Pool().get('company.company')
    with without_check_access():
        companies = Company.search([], limit=1, order=[('id', 'ASC')])
    company = companies[0].id if companies else None
    _company_cache.set(None, company)
    return company
