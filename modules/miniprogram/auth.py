# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""JSON Web Tokens of the mini-program API and the execution context of an
authenticated request."""
import secrets
import time
import uuid

import jwt

from trytond import config
from trytond.pool import Pool
from trytond.transaction import Transaction

from trytond.i18n import gettext

from .exceptions import Forbidden, TokenInvalid

ALGORITHMS = ['HS256']
MIN_SECRET_BYTES = 32
_ephemeral_secret = None


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
    return jwt.encode(claims, jwt_secret(), algorithm='HS256'), claims


def decode(token, typ):
    "Return the claims of a valid token of type typ, or raise TokenInvalid"
    def invalid(reason, message='miniprogram.msg_token_invalid'):
        return TokenInvalid(gettext(message), details={'reason': reason})
    if not isinstance(token, str) or len(token) > 4096:
        raise invalid("malformed")
    try:
        claims = jwt.decode(token, jwt_secret(), algorithms=ALGORITHMS,
            audience=audience(), issuer=issuer(),
            options={'require': ['exp', 'iat', 'sub', 'jti', 'iss', 'aud']})
    except jwt.ExpiredSignatureError:
        raise invalid("expired", 'miniprogram.msg_token_expired')
    except jwt.PyJWTError:
        raise invalid("invalid")
    if claims.get('typ') != typ:
        raise invalid("wrong type")
    return claims


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


def authenticate(api_request, auth):
    """Check the bearer token and switch the transaction to the API user
    with access checks on and the member in the context.

    auth 'member' needs a member's access token; 'organizer' also accepts a
    staff token (issued to a Tryton user, see auth/staff)."""
    pool = api_request.pool
    Member = pool.get('member.member')
    token = bearer(api_request.http)
    try:
        unverified = jwt.decode(token, options={'verify_signature': False})
        typ = unverified.get('typ')
    except jwt.PyJWTError:
        typ = None
    transaction = Transaction()
    if auth == 'organizer' and typ == 'staff':
        claims = decode(token, 'staff')
        User = pool.get('res.user')
        users = User.search([('id', '=', int(claims['sub']))])
        if not users:
            raise TokenInvalid(gettext('miniprogram.msg_token_invalid'))
        api_request.staff_user = users[0]
        transaction.set_user(users[0].id)
        transaction.set_context(_check_access=True)
        return
    claims = decode(token, 'access')
    try:
        member_id = int(claims['sub'])
    except ValueError:
        raise TokenInvalid(gettext('miniprogram.msg_token_invalid'))
    members = Member.search([('id', '=', member_id)], limit=1)
    if not members:
        raise TokenInvalid(gettext('miniprogram.msg_member_inactive'))
    member, = members
    context = {'member': member.id, '_check_access': True}
    company = _company()
    if company:
        context['company'] = company
    api_request.member = pool.get('member.member')(member.id)
    if auth == 'organizer':
        # Organizer routes run as the staff user linked to the member: the
        # check-in rules then decide whether that user organizes the event
        if not member.user or not member.user.active:
            raise Forbidden(gettext('miniprogram.msg_not_organizer'))
        api_request.staff_user = member.user
        transaction.set_user(member.user.id)
        transaction.set_context(**context)
        return
    transaction.set_user(api_user_id())
    transaction.set_context(**context)


def _company():
    Company = Pool().get('company.company')
    companies = Company.search([], limit=1, order=[('id', 'ASC')])
    return companies[0].id if companies else None
