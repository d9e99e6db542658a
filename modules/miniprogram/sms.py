# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""SMS verification codes: password reset and login by a code sent to the
member's phone.

A code is 6 digits, valid [miniprogram] sms_code_ttl seconds (default 300),
used once, stored as an HMAC keyed by the server's secret (never in clear:
the outbox message that carries it is erased once sent, see the template's
`secret`).  Requests are limited per phone and per IP network
(`miniprogram.sms.attempt`, the failed logins' limiter with its own
window); wrong codes are counted on the code (it is blocked after
[miniprogram] sms_code_attempts) and per phone and network like failed
logins (`miniprogram.login.attempt`).

The answer and the work are the same whether the phone is a member's or
not (no account enumeration): a code is made, hashed and stored for any
phone, and only a member's phone is sent one."""
import datetime as dt
import hashlib
import hmac
import logging
import secrets

from sql.aggregate import Max

from trytond import config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.suite import clock
from trytond.modules.suite.fields import Key
from trytond.pool import Pool
from trytond.res.user import LoginAttempt as _LoginAttempt
from trytond.transaction import Transaction, without_check_access

from . import auth
from .exceptions import InvalidCode, LoginThrottled
from .login import RetryAfterMixin

logger = logging.getLogger(__name__)

PURPOSES = [
    ('reset', "Password Reset"),
    ('login', "Login"),
    ]
# The outbox template of the code
TEMPLATE = 'miniprogram_sms_code'


def code_ttl():
    "How long (seconds) a code is valid"
    return config.getint('miniprogram', 'sms_code_ttl', default=5 * 60)


def max_attempts():
    "How many wrong codes block a code"
    return config.getint('miniprogram', 'sms_code_attempts', default=3)


def resend_interval():
    "The least time (seconds) between two codes to a phone"
    return config.getint('miniprogram', 'sms_interval', default=60)


def _key():
    "The key of the hashes of the codes: derived from the server's secret"
    return hmac.new(auth.jwt_secret().encode('utf-8'), b'sms-code',
        hashlib.sha256).digest()


def hash_code(salt, phone, purpose, code):
    return hmac.new(_key(), ('%s:%s:%s:%s' % (salt, phone, purpose, code)
            ).encode('utf-8'), hashlib.sha256).hexdigest()


class Code(ModelSQL, ModelView):
    "SMS Verification Code"
    __name__ = 'miniprogram.sms.code'
    __string__ = "SMS Verification Code"

    phone = Key("Phone", readonly=True)
    purpose = fields.Selection(
        PURPOSES, "Purpose", required=True, readonly=True)
    member = fields.Many2One(
        'member.member', "Member", readonly=True, ondelete='CASCADE',
        help="The member of the phone; empty when the phone is nobody's "
        "(nothing is sent then).")
    code_hash = fields.Char(
        "Code Hash", readonly=True, strip=False,
        help="The keyed hash of the code: the code itself is never "
        "stored.")
    expires = fields.DateTime("Expires", required=True, readonly=True)
    attempts = fields.Integer(
        "Wrong Attempts", required=True, readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('used', "Used"),
            ('replaced', "Replaced"),
            ('blocked', "Blocked"),
            ], "State", required=True, readonly=True, sort=False)
    used_at = fields.DateTime("Used At", readonly=True)
    message = fields.Many2One(
        'outbox.message', "Message", readonly=True, ondelete='SET NULL',
        help="The SMS that carried the code.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.phone, Index.Equality()),
                (t.purpose, Index.Equality(cardinality='low')),
                (t.id, Index.Range(order='DESC'))))
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def default_state(cls):
        return 'pending'

    def get_rec_name(self, name):
        return '%s (%s)' % (self.phone or '', self.purpose)

    def matches(self, code):
        "Tell if code is the code of the record"
        salt, _, digest = (self.code_hash or '').partition('$')
        expected = hash_code(salt, self.phone, self.purpose, code)
        return hmac.compare_digest(expected, digest)

    @classmethod
    def send_code(cls, phone, purpose):
        """Make a code for phone (E.164) and purpose and send it by SMS
        when the phone is an active member's; return the code record.

        Raise LoginThrottled past the limits per phone and per IP network.
        The codes sent before for the same phone and purpose stop working.
        """
        pool = Pool()
        Attempt = pool.get('miniprogram.sms.attempt')
        Member = pool.get('member.member')
        Message = pool.get('outbox.message')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        with without_check_access():
            Attempt.check(phone)
            Attempt.add(phone)
            members = Member.search([('phone', '=', phone)], limit=1)
            member = members[0] if members else None
            code = '%06d' % secrets.randbelow(10 ** 6)
            salt = secrets.token_hex(8)
            cursor.execute(*table.update(
                    [table.state], ['replaced'],
                    where=(table.phone == phone)
                    & (table.purpose == purpose)
                    & (table.state == 'pending')))
            record, = cls.create([{
                        'phone': phone,
                        'purpose': purpose,
                        'member': member.id if member else None,
                        'code_hash': '%s$%s' % (
                            salt, hash_code(salt, phone, purpose, code)),
                        'expires': clock.now() + dt.timedelta(
                            seconds=code_ttl()),
                        }])
            if member is None:
                return record
            messages = Message.queue([{
                        'template': TEMPLATE,
                        'party': member.party,
                        'channel': 'sms',
                        'origin': str(member),
                        'payload': {
                            'code': code,
                            'minutes': code_ttl() // 60,
                            },
                        }])
            if not messages:
                logger.warning("SMS code %s not sent: the template %s has "
                    "no SMS template code", record.id, TEMPLATE)
                return record
            cls.write([record], {'message': messages[0].id})
            Message.send_soon(messages)
        return record

    @classmethod
    def verify(cls, phone, purpose, code):
        """Return the active member of phone if code is the pending code of
        phone for purpose, and use the code.

        Otherwise raise InvalidCode with the reason (wrong, expired, used,
        too_many_attempts); it is committed: wrong codes are counted on the
        code and, like failed logins, per phone and IP network
        (LoginThrottled past those limits)."""
        pool = Pool()
        Attempt = pool.get('miniprogram.login.attempt')
        Member = pool.get('member.member')
        key = 'sms-code:%s' % phone
        table = cls.__table__()
        cursor = Transaction().connection.cursor()

        def refuse(reason):
            Attempt.add(key)
            return InvalidCode(
                gettext('miniprogram.msg_sms_code_%s' % reason),
                details={'reason': reason})

        with without_check_access():
            Attempt.check(key)
            records = cls.search([
                    ('phone', '=', phone),
                    ('purpose', '=', purpose),
                    ], order=[('id', 'DESC')], limit=1)
            if not records:
                raise refuse('wrong')
            record, = records
            matches = record.matches(code)
            if record.state == 'blocked':
                raise refuse('too_many_attempts')
            if record.state != 'pending':
                raise refuse('used' if matches else 'wrong')
            if record.expires <= clock.now():
                raise refuse('expired')
            member = record.member
            if (not matches or member is None or not member.active
                    or member.phone != phone):
                # Counted on the code in the database (concurrent wrong
                # codes are all counted)
                cursor.execute(*table.update(
                        [table.attempts], [table.attempts + 1],
                        where=table.id == record.id))
                cursor.execute(*table.update(
                        [table.state], ['blocked'],
                        where=(table.id == record.id)
                        & (table.attempts >= max_attempts())))
                cursor.execute(*table.select(
                        table.state, where=table.id == record.id))
                state, = cursor.fetchone()
                raise refuse(
                    'too_many_attempts' if state == 'blocked' else 'wrong')
            # Used once, also by concurrent requests: the first update wins
            cursor.execute(*table.update(
                    [table.state, table.used_at], ['used', clock.now()],
                    where=(table.id == record.id)
                    & (table.state == 'pending')))
            if cursor.rowcount != 1:
                raise refuse('used')
            Attempt.remove(key)
            return Member(member.id)

    @classmethod
    def purge(cls):
        "Delete the codes expired for more than a day (cron)"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(
                where=table.expires < clock.now() - dt.timedelta(days=1)))


class Attempt(RetryAfterMixin, _LoginAttempt):
    """The requests of SMS codes per phone and per IP network (the limiter
    of the failed logins, with its own table and limits): [miniprogram]
    sms_max_phone (default 5) per phone and sms_max_network (default 30)
    per IP network within sms_window seconds (default 3600), and one code
    per phone every sms_interval seconds (default 60)"""
    __name__ = 'miniprogram.sms.attempt'
    __string__ = "SMS Code Request"
    _table = None  # Not the table of res.user.login.attempt

    @classmethod
    def window(cls):
        return config.getint('miniprogram', 'sms_window', default=60 * 60)

    @classmethod
    def delay(cls):
        # real time: the attempts are dated by the database
        return dt.datetime.now() - dt.timedelta(seconds=cls.window())

    @classmethod
    def _since_last(cls, phone):
        "The seconds since the last code to phone, or None"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Max(table.create_date),
                where=(table.login == phone[:cls.login.size])
                & (table.create_date >= cls.delay())))
        last, = cursor.fetchone()
        if not last:
            return None
        if isinstance(last, str):
            last = dt.datetime.fromisoformat(last)
        return (dt.datetime.now() - last).total_seconds()  # real time

    @classmethod
    def check(cls, phone):
        "Raise LoginThrottled when phone or its IP network had too many codes"
        per_phone = config.getint('miniprogram', 'sms_max_phone', default=5)
        per_network = config.getint(
            'miniprogram', 'sms_max_network', default=30)
        since_last = cls._since_last(phone)
        if cls.count_ip() >= per_network:
            retry_after = cls.retry_after(phone, network=True)
        elif cls.count(phone) >= per_phone:
            retry_after = cls.retry_after(phone)
        elif since_last is not None and since_last < resend_interval():
            retry_after = max(1, int(resend_interval() - since_last) + 1)
        else:
            return
        raise LoginThrottled(
            gettext('miniprogram.msg_sms_throttled'),
            retry_after=retry_after)
