# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import functools
import os
import re
import types

import phonenumbers
from sql import Cast, Column, Conflict, Expression, Literal, Null
from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce
from sql.functions import CurrentTimestamp

from trytond import config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Exclude, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.res.exceptions import PasswordError as UserPasswordError
from trytond.rpc import RPC
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from trytond.modules.suite import clock
from .exceptions import (
    IdempotencyKeyError, LedgerAccessError, NegativeBalanceError,
    PasswordError, PhoneValidationError, PointsError)
from .points import reason_values

# Refused as member passwords when [password] forbidden names no file
FORBIDDEN_PASSWORDS = os.path.join(
    os.path.dirname(__file__), 'password_forbidden.txt')
# A password has at least this many different characters
PASSWORD_MIN_CHARACTERS = 3


@functools.cache
def _forbidden_passwords():
    with open(FORBIDDEN_PASSWORDS, encoding='utf-8') as fp:
        return frozenset(line.strip().lower() for line in fp if line.strip())


# Ids per SQL query in batch reads
SLICE = 1000


def _parse_phone(value):
    """Return the phonenumbers.PhoneNumber of value or None.

    Numbers without a country code are mainland China numbers (as Tryton's
    party module parses them with a default country); 00 is the
    international prefix there."""
    value = str(value)
    if any(c.isalpha() for c in value):
        # No vanity numbers (1-800-FLOWERS) nor extensions
        return None
    digits = ''.join(c for c in value if c.isdigit())
    if (value.lstrip()[:1] != '+' and len(digits) == 13
            and digits.startswith('86')):
        # The country code without + or 00
        value = '+' + digits
    try:
        number = phonenumbers.parse(value, 'CN')
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    if (phonenumbers.region_code_for_number(number) == 'CN'
            and phonenumbers.number_type(number)
            != phonenumbers.PhoneNumberType.MOBILE):
        # A member's phone receives SMS codes: a mobile in mainland China
        return None
    return number


def normalize_phone(value):
    """Return the E.164 form of a phone number or raise ValueError.

    Mainland China mobile numbers may be written with or without the
    country code (+86, 0086 or 86) and with spaces, dashes, dots or
    parentheses; other numbers must be written in international form
    (starting with + or 00).  Numbers are checked by phonenumbers."""
    if value is None or not str(value).strip():
        return None
    number = _parse_phone(value)
    if number is None:
        raise ValueError(value)
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone):
    """Return the phone masked for display: 138****0000 for a mainland
    number, +44 ****0958 for the others"""
    if not phone:
        return phone
    number = _parse_phone(phone)
    if number is None:
        return phone[:2] + '****'
    national = phonenumbers.national_significant_number(number)
    if phonenumbers.region_code_for_number(number) == 'CN':
        return national[:3] + '****' + national[-4:]
    return '+%s ****%s' % (number.country_code, national[-4:])


# A name with this many digits is a phone (or another number), not a name
_NAME_MAX_DIGITS = 4
# An identifier such as a WeChat openid or unionid (28 characters)
_IDENTIFIER = re.compile(r'^[A-Za-z0-9_\-]{16,}$')


def mask_name(name):
    """Return the name of a member as shown to other people (organizers,
    kiosk and dashboard screens): the first word of a name of several
    words ("Wang **"), else its first character ("王**").

    A phone number, an e-mail address or an identifier (WeChat openid) is
    never a display name: None is returned for them and for no name."""
    name = ' '.join((name or '').split())
    if (not name or '@' in name
            or sum(c.isdigit() for c in name) > _NAME_MAX_DIGITS
            or _IDENTIFIER.match(name)):
        return None
    words = name.split(' ')
    if len(words) > 1:
        return words[0] + ' **'
    return name[0] + '**'


def rec_name_domain(clause, *names):
    """Return the domain of a search_rec_name clause on the fields names:
    any of them matches, or none for a negative operator"""
    bool_op = ('AND' if clause[1].startswith('!')
        or clause[1].startswith('not ') else 'OR')
    return [bool_op] + [(name,) + tuple(clause[1:]) for name in names]


def violated_constraint(Model, error):
    """Return the name of the unique or exclusion constraint of Model (of
    its _sql_constraints) that error reports, or None.

    error is the SQLConstraintError of the ORM (its cause is the database
    error, absent when Tryton checked the constraint itself) or the
    database's integrity error."""
    from trytond import backend
    text = str(error.__cause__ if error.__cause__ is not None else error)
    message = getattr(error, 'message', None)
    constraints = [(n, c, m) for n, c, m in Model._sql_constraints
        if isinstance(c, (Unique, Exclude))]
    for name, constraint, _ in constraints:
        full_name = backend.TableHandler.convert_name(
            Model._table + '_' + name)
        # PostgreSQL names the constraint, SQLite the columns
        columns = ', '.join('%s.%s' % (Model._table, c.name)
            for c in constraint.columns if isinstance(c, Column))
        if (full_name in text
                or (columns and 'constraint failed: ' + columns in text)):
            return name
    if error.__cause__ is None and message is not None:
        # Checked by Tryton itself: known by its message (the transaction
        # is still usable)
        for name, _, msg_id in constraints:
            if message == gettext(msg_id):
                return name
    return None


def is_unique_violation(error):
    """Tell if the SQLConstraintError error reports a unique or exclusion
    constraint (a conflict with an existing record), not a check"""
    cause = error.__cause__
    if cause is None:
        # Checked by Tryton: find the constraint of its message
        pool = Pool()
        message = getattr(error, 'message', None)
        for _, Model in pool.iterobject():
            if not issubclass(Model, ModelSQL):
                continue
            for _, constraint, msg_id in Model._sql_constraints:
                if (isinstance(constraint, (Unique, Exclude))
                        and message == gettext(msg_id)):
                    return True
        return False
    return (type(cause).__name__ in {'UniqueViolation', 'ExclusionViolation'}
        or 'UNIQUE constraint failed' in str(cause))


def _activity_result(result):
    result = dict(result)
    if result.get('line') is not None:
        result['line'] = result['line'].id
    return result


class Returned(Expression):
    """An unqualified column name for RETURNING clauses (SQLite refuses
    the alias that python-sql puts before the column)"""
    __slots__ = ('_name',)

    def __init__(self, name):
        super().__init__()
        self._name = name

    def __str__(self):
        return '"%s"' % self._name

    @property
    def params(self):
        return ()


class _Slot:
    "The place of a value in a statement made by `statement`"
    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name


_statements = {}


def statement(key, build, /, **values):
    """Return (SQL, parameters) of the python-sql query build(**values)
    for cursor.execute.

    The text of the query is made once per process and backend for key,
    which must name everything the shape of the query depends on (tables,
    columns): build is called with a placeholder for each value and the
    placeholders are then replaced by values in the parameters.  Building
    its queries was more than half of the Python time of a check-in, and
    a constant text lets psycopg prepare the statement on the server."""
    from trytond import backend
    key = (backend.name, key)
    try:
        sql, slots = _statements[key]
    except KeyError:
        sql, params = tuple(build(**{n: _Slot(n) for n in values}))
        slots = tuple((True, p.name) if isinstance(p, _Slot) else (False, p)
            for p in params)
        if {n for s, n in slots if s} != set(values):
            raise ValueError("a value is not a parameter of %s" % (key,))
        _statements[key] = sql, slots
    return sql, tuple(values[v] if s else v for s, v in slots)


class ClearCacheMixin:
    """Clear the per-process caches of `_cleared_caches` (trytond.cache
    Cache instances) whenever records are created, written or deleted:
    at once in this process, at their next transaction (or when notified)
    in the others"""
    __slots__ = ()
    _cleared_caches = ()

    @classmethod
    def create(cls, vlist):
        cls._clear_caches()
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        cls._clear_caches()
        super().write(*args)

    @classmethod
    def delete(cls, records):
        cls._clear_caches()
        super().delete(records)

    @classmethod
    def _clear_caches(cls):
        for cache in cls._cleared_caches:
            cache.clear()


def invalidate_records(Model, ids):
    """Drop the ORM caches of the transaction for the records of Model
    written with SQL (the way ModelSQL does it)"""
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            model_cache = cache[Model.__name__]
            for id_ in ids:
                model_cache.pop(id_, None)


def _check_points_manager():
    "Refuse RPC callers who are not points managers"
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    transaction = Transaction()
    if transaction.user and transaction.check_access:
        group_id = ModelData.get_id('member', 'group_points_manager')
        if group_id not in User.get_groups():
            raise AccessError(gettext('member.msg_points_manager_only'))


class Member(DeactivableMixin, ModelSQL, ModelView):
    "Member"
    __name__ = 'member.member'

    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='RESTRICT',
        help="The party that holds the member's name and addresses.")
    name = fields.Function(
        fields.Char("Name"), 'get_name', setter='set_name',
        searcher='search_name')
    display_name = fields.Function(
        fields.Char(
            "Display Name",
            help="The masked name shown to other people: on organizer "
            "screens, kiosks and dashboards."),
        'get_display_name')
    phone = fields.Char(
        "Phone",
        help="Mobile number, stored in international (E.164) form.")
    wechat_openid = fields.Char("WeChat OpenID", readonly=True)
    wechat_unionid = fields.Char("WeChat UnionID", readonly=True)
    user = fields.Many2One(
        'res.user', "User", ondelete='SET NULL',
        help="The staff user linked to this member, if any.")
    join_date = fields.Date("Join Date", required=True)
    avatar_url = fields.Char("Avatar URL")
    address = fields.Text("Address")
    tier = fields.Many2One(
        'member.tier', "Tier", readonly=True, ondelete='RESTRICT',
        help="Recomputed from the lifetime points.")
    points_balance = fields.Integer(
        "Points Balance", readonly=True,
        help="The sum of the ledger lines, kept with each posting.")
    lifetime_points = fields.Integer(
        "Lifetime Points", readonly=True,
        help="Points earned so far, less reversals.")
    points_lines = fields.One2Many(
        'member.points.line', 'member', "Points", readonly=True,
        order=[('id', 'DESC')])
    streak_length = fields.Integer(
        "Streak Length", readonly=True,
        help="The length of the last run of consecutive active days.")
    streak_days = fields.Function(
        fields.Integer(
            "Current Streak",
            help="Consecutive active days up to today or yesterday."),
        'get_streak_days')
    password_hash = fields.Char("Password Hash", strip=False, readonly=True)
    best_streak = fields.Integer("Best Streak", readonly=True)
    last_activity_date = fields.Date("Last Activity", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('party_unique', Unique(t, t.party),
                'member.msg_member_party_unique'),
            ('phone_unique', Unique(t, t.phone),
                'member.msg_member_phone_unique'),
            ('wechat_openid_unique', Unique(t, t.wechat_openid),
                'member.msg_member_wechat_openid_unique'),
            ('wechat_unionid_unique', Unique(t, t.wechat_unionid),
                'member.msg_member_wechat_unionid_unique'),
            ('user_unique', Unique(t, t.user),
                'member.msg_member_user_unique'),
            ]
        cls._order = [('join_date', 'DESC'), ('id', 'DESC')]
        cls.__rpc__.update({
                'post_points': RPC(
                    readonly=False, result=lambda lines: [
                        l.id for l in lines]),
                'record_daily_activity': RPC(
                    readonly=False, result=_activity_result),
                })
        cls._buttons.update({
                'adjust_points': {
                    'invisible': ~Eval('id', -1) | (Eval('id', -1) < 0),
                    'depends': ['id'],
                    },
                })

    @classmethod
    def default_join_date(cls):
        return Pool().get('ir.date').today()

    @classmethod
    def default_streak_length(cls):
        return 0

    @classmethod
    def default_best_streak(cls):
        return 0

    def get_name(self, name):
        return self.party.name if self.party else None

    def get_display_name(self, name):
        return self.mask_display_name(self.name)

    @classmethod
    def neutral_name(cls):
        "The neutral name of a member registered without one"
        return gettext('member.msg_member_default_name')

    @classmethod
    def mask_display_name(cls, name):
        """The display name of a member named name (see mask_name): the
        masked default name when name cannot be shown"""
        return mask_name(name) or mask_name(cls.neutral_name())

    @classmethod
    def set_name(cls, members, name, value):
        pool = Pool()
        Party = pool.get('party.party')
        if value:
            Party.write([m.party for m in members], {'name': value})

    @classmethod
    def search_name(cls, name, clause):
        return [('party.name',) + tuple(clause[1:])]

    def get_rec_name(self, name):
        return self.party.rec_name if self.party else str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'party.rec_name', 'phone')

    @property
    def phone_masked(self):
        return mask_phone(self.phone)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Party = pool.get('party.party')
        Tier = pool.get('member.tier')
        values = super().preprocess_values(mode, values)
        if (mode == 'create'
                and not Transaction().context.get('_member_points_posting')
                and any(values.get(f) for f in [
                        'points_balance', 'lifetime_points'])):
            raise LedgerAccessError(gettext(
                    'member.msg_points_line_post_only'))
        for field in ['phone', 'wechat_openid', 'wechat_unionid']:
            if field in values and not (values[field] or '').strip():
                values[field] = None
        if values.get('phone'):
            try:
                values['phone'] = normalize_phone(values['phone'])
            except ValueError:
                raise PhoneValidationError(gettext(
                        'member.msg_member_phone_invalid',
                        phone=values['phone']))
        if mode == 'create' and not values.get('tier'):
            # The tier is recomputed from the lifetime points with each
            # posting; a new member starts in the tier of its points (the
            # base tier of threshold 0), whoever creates it
            values['tier'] = Tier.reached(
                Tier.thresholds(), values.get('lifetime_points') or 0)
        if mode == 'create' and not values.get('party'):
            # Never the phone: it would be shown as the member's name
            party, = Party.create([{
                        'name': (values.get('name') or '').strip()
                        or cls.neutral_name(),
                        }])
            values['party'] = party.id
            values.pop('name', None)
        return values

    @classmethod
    def check_modification(cls, mode, members, values=None, external=False):
        super().check_modification(
            mode, members, values=values, external=external)
        if (mode in {'create', 'write'} and values
                and not Transaction().context.get('_member_points_posting')
                and any(values.get(f) for f in [
                        'points_balance', 'lifetime_points'])):
            raise LedgerAccessError(gettext(
                    'member.msg_points_line_post_only'))

    @classmethod
    def copy(cls, members, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('points_balance', 0)
        default.setdefault('lifetime_points', 0)
        for field in [
                'phone', 'wechat_openid', 'wechat_unionid', 'user',
                'password_hash', 'points_lines', 'tier', 'last_activity_date']:
            default.setdefault(field, None)
        default.setdefault('streak_length', 0)
        default.setdefault('best_streak', 0)
        default.setdefault('party', None)
        return super().copy(members, default=default)

    @classmethod
    def erase_personal_data(cls, members):
        """Deactivate members and their parties, then erase their personal
        data with Tryton's Erase Party (which every module extends for
        what it stores about a member).  Their points lines and the
        records of the other modules stay, linked to the erased members."""
        pool = Pool()
        Party = pool.get('party.party')
        Erase = pool.get('party.erase', type='wizard')
        parties = [m.party for m in members]
        # As root: the wizards check the groups of the user (an account
        # deletion runs as the API user)
        with Transaction().set_user(0), without_check_access():
            cls.write(members, {'active': False})
            Party.write(parties, {'active': False})
            for party in parties:
                session_id, _, _ = Erase.create()
                try:
                    erase = Erase(session_id)
                    erase.ask.party = party
                    erase.transition_erase()
                finally:
                    Erase.delete(session_id)

    # Mini-program credential

    @classmethod
    def validate_password(cls, password, members=None):
        """Raise PasswordError if password is too weak for members.

        The rules are those of res.user (Tryton's [password] length and
        forbidden file; not the name, the phone nor the e-mail of the
        member), counted in characters, with the suite's list of common
        passwords when no forbidden file is configured."""
        pool = Pool()
        User = pool.get('res.user')
        length = config.getint('password', 'length', default=8)
        if not isinstance(password, str) or len(password) < length:
            raise PasswordError(gettext(
                    'member.msg_password_too_short', length=length))
        if (len(set(password)) < PASSWORD_MIN_CHARACTERS
                or (not config.get('password', 'forbidden')
                    and password.lower() in _forbidden_passwords())):
            raise PasswordError(gettext('member.msg_password_too_common'))
        # res.user compares the password with these attributes
        users = [types.SimpleNamespace(
                name=m.party.name if m.party else None, login=m.phone,
                email=m.party.email if m.party else None)
            for m in members or []]
        try:
            User.validate_password(password, users)
        except UserPasswordError as e:
            raise PasswordError(e.message) from e

    @classmethod
    def set_password(cls, members, password):
        "Hash password with Tryton's scheme and store it on members"
        pool = Pool()
        User = pool.get('res.user')
        cls.validate_password(password, members)
        with without_check_access():
            cls.write(members, {'password_hash': User.hash_password(password)})

    def check_password(self, password):
        "Tell if password is the member's; rehash an outdated hash"
        pool = Pool()
        User = pool.get('res.user')
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.password_hash, where=table.id == self.id))
        row = cursor.fetchone()
        password_hash = row[0] if row else None
        if not password_hash or not password:
            return False
        valid, new_hash = User.check_password(password, password_hash)
        if valid and new_hash:
            with without_check_access():
                self.write([self], {'password_hash': new_hash})
        return valid

    @classmethod
    def read(cls, ids, fields_names):
        # The hash never leaves the server (as res.user does)
        result = super().read(ids, fields_names)
        cache = Transaction().get_cache().get(cls.__name__)
        for values in result:
            if 'password_hash' in values:
                values['password_hash'] = None
            if cache and values['id'] in cache:
                cache[values['id']]['password_hash'] = None
        return result

    # Points

    @classmethod
    def default_points_balance(cls):
        return 0

    @classmethod
    def default_lifetime_points(cls):
        return 0

    @classmethod
    def _ledger_columns(cls, line):
        return {
            'points_balance': Sum(line.points),
            'lifetime_points': Sum(Case(
                    ((line.points > 0) | (line.reversal == Literal(True)),
                        line.points),
                    else_=0)),
            }

    @classmethod
    def ledger_sums(cls, members):
        """Return {member id: (balance, lifetime points)} summed from the
        ledger lines (the truth the stored values must equal)"""
        pool = Pool()
        Line = pool.get('member.points.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        columns = cls._ledger_columns(line)
        result = {m.id: (0, 0) for m in members}
        for sub_ids in grouped_slice([m.id for m in members], SLICE):
            cursor.execute(*line.select(
                    line.member, columns['points_balance'],
                    columns['lifetime_points'],
                    where=fields.SQL_OPERATORS['in'](line.member, sub_ids),
                    group_by=[line.member]))
            for member_id, balance, lifetime in cursor:
                result[member_id] = (int(balance or 0), int(lifetime or 0))
        return result

    @classmethod
    def _read_points(cls, members):
        "The stored balance and lifetime points, read from the database"
        member = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = {}
        for sub_ids in grouped_slice([m.id for m in members], SLICE):
            cursor.execute(*member.select(
                    member.id, member.points_balance, member.lifetime_points,
                    where=fields.SQL_OPERATORS['in'](member.id, sub_ids)))
            for member_id, balance, lifetime in cursor:
                result[member_id] = (balance or 0, lifetime or 0)
        return result

    @classmethod
    def post_points(cls, entries):
        """Append lines to the points ledger and return them.

        Each entry is a dictionary with the keys:
            member, points, reason and optionally origin, key (idempotency
            key), date, reversal and allow_negative.

        Concurrency: the members are locked first (in Tryton 8.0 the
        transaction restarts with the lock taken before any read), then the
        stored balance of each member is written in the same transaction as
        its lines.  Writing the member row is what makes it exact on
        PostgreSQL: under REPEATABLE READ a transaction whose snapshot
        missed a concurrent posting fails to update the row (serialization
        failure) and is retried, so the `balance after` of each line is the
        running sum and the stored balance the sum of the lines.  An entry
        whose key was already posted is not posted again: the existing line
        is returned.
        """
        pool = Pool()
        Line = pool.get('member.points.line')
        Configuration = pool.get('member.configuration')
        Date = pool.get('ir.date')

        if not entries:
            return []
        _check_points_manager()
        members = list({int(e['member']): e['member'] for e in entries}
            .values())
        members = cls.browse(members)
        cls.lock(members)

        keys = [e['key'] for e in entries if e.get('key')]
        existing = {}
        if keys:
            for line in Line.search([('idempotency_key', 'in', keys)]):
                existing[line.idempotency_key] = line
        stored = cls._read_points(members)
        balances = {i: b for i, (b, _) in stored.items()}
        lifetimes = {i: l for i, (_, l) in stored.items()}
        allow_negative = Configuration(1).allow_negative
        now = clock.now()
        results, to_create, positions = [], [], []
        for entry in entries:
            member = cls(int(entry['member']))
            points = entry.get('points')
            key = entry.get('key') or None
            if key in existing:
                line = existing[key]
                if line is not None and line.member.id != member.id:
                    raise IdempotencyKeyError(gettext(
                            'member.msg_points_key_other_member', key=key))
                results.append(line)
                continue
            if (not isinstance(points, int) or isinstance(points, bool)
                    or not points):
                raise PointsError(gettext(
                        'member.msg_points_invalid', points=points))
            text, code, params = reason_values(entry.get('reason'))
            if not text and not code:
                raise PointsError(gettext('member.msg_points_reason_required'))
            balance = balances[member.id] + points
            if (points < 0 and balance < 0
                    and not (allow_negative or entry.get('allow_negative'))):
                raise NegativeBalanceError(gettext(
                        'member.msg_points_negative_balance',
                        member=member.rec_name,
                        balance=balances[member.id],
                        points=-points))
            balances[member.id] = balance
            if points > 0 or entry.get('reversal'):
                lifetimes[member.id] += points
            origin = entry.get('origin')
            if origin is not None and not isinstance(origin, str):
                origin = str(origin)
            to_create.append({
                    'member': member.id,
                    'date': entry.get('date') or now,
                    'points': points,
                    'reason_text': text,
                    'reason_code': code,
                    'reason_params': params,
                    'origin': origin,
                    'idempotency_key': key,
                    'reversal': bool(entry.get('reversal')),
                    'balance_after': balance,
                    })
            positions.append(len(results))
            results.append(None)
            if key:
                # A key repeated in the same batch is posted once
                existing[key] = None
        if to_create:
            with Transaction().set_context(_member_points_posting=True), \
                    without_check_access():
                lines = Line.create(to_create)
            for position, line in zip(positions, lines):
                results[position] = line
            by_key = {l.idempotency_key: l for l in lines
                if l.idempotency_key}
            results = [r if r is not None else by_key[e['key']]
                for r, e in zip(results, entries)]
            touched = {l.member.id for l in lines}
            args = []
            for member in members:
                if member.id in touched:
                    args.extend(([member], {
                                'points_balance': balances[member.id],
                                'lifetime_points': lifetimes[member.id],
                                }))
            with without_check_access(), Transaction().set_context(
                    _member_points_posting=True):
                cls.write(*args)
            cls.update_tiers(members, date=Date.today())
        return results

    @classmethod
    def add_points(cls, member, points, reason, origin=None, key=None,
            date=None, reversal=False):
        "Post one line to the ledger of member and return it"
        line, = cls.post_points([{
                    'member': member,
                    'points': points,
                    'reason': reason,
                    'origin': origin,
                    'key': key,
                    'date': date,
                    'reversal': reversal,
                    }])
        return line

    @classmethod
    def credit_points(cls, member, points, reason, origin=None, key=None):
        """Post a positive number of points to member, which the caller has
        locked, and return (line id, balance after).

        The same posting as add_points with two SQL statements instead of
        the ORM (the hot path of check-ins): the line is inserted with the
        running balance read from the member row, then the stored balance
        and lifetime points are written.  A key posted before falls back to
        add_points, which returns the existing line."""
        pool = Pool()
        Line = pool.get('member.points.line')
        transaction = Transaction()
        member_id = int(member)
        text, code, params = reason_values(reason)
        if (not isinstance(points, int) or isinstance(points, bool)
                or points <= 0 or not (text or code)
                or (transaction.check_access and transaction.user)):
            line = cls.add_points(
                member, points, reason, origin=origin, key=key)
            return line.id, line.balance_after
        cls.lock([cls(member_id)])
        if origin is not None and not isinstance(origin, str):
            origin = str(origin)
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        user = transaction.user

        params_type = Line.reason_params.sql_type().base

        def insert(user, member_id, points, text, code, params, origin, key,
                date):
            table = cls.__table__()
            line = Line.__table__()
            now = CurrentTimestamp()
            return line.insert([
                    line.create_uid, line.create_date, line.member,
                    line.date, line.points, line.reason_text,
                    line.reason_code, line.reason_params, line.origin,
                    line.idempotency_key, line.reversal,
                    line.balance_after],
                table.select(
                    Literal(user), now, table.id, Literal(date),
                    Literal(points),
                    Literal(text), Literal(code),
                    Cast(Literal(params), params_type),
                    Literal(origin), Literal(key),
                    Literal(False),
                    Coalesce(table.points_balance, 0) + points,
                    where=table.id == member_id),
                on_conflict=Conflict(line),
                returning=[Returned('id'), Returned('balance_after')])

        def update(user, member_id, points):
            table = cls.__table__()
            return table.update(
                [table.points_balance, table.lifetime_points,
                    table.write_uid, table.write_date],
                [Coalesce(table.points_balance, 0) + points,
                    Coalesce(table.lifetime_points, 0) + points,
                    user, CurrentTimestamp()],
                where=table.id == member_id,
                returning=[Returned('lifetime_points'), Returned('tier')])
        query = statement((cls.__name__, 'credit line'), insert,
            user=user, member_id=member_id, points=points,
            text=text, code=code,
            params=Line.reason_params.sql_format(params), origin=origin,
            key=key, date=clock.now())
        update = statement((cls.__name__, 'credit balance'), update,
            user=user, member_id=member_id, points=points)
        connection = transaction.connection
        if hasattr(connection, 'pipeline'):
            # PostgreSQL: both statements in one round trip; the update
            # is taken back if the line was not inserted (key posted)
            update_cursor = connection.cursor()
            with connection.pipeline():
                cursor.execute(*query)
                update_cursor.execute(*update)
                row = cursor.fetchone()
                lifetime, tier_id = update_cursor.fetchone()
            if not row:
                cursor.execute(*table.update(
                        [table.points_balance, table.lifetime_points],
                        [table.points_balance - points,
                            table.lifetime_points - points],
                        where=table.id == member_id))
        else:
            cursor.execute(*query)
            row = cursor.fetchone()
            if row:
                cursor.execute(*update)
                lifetime, tier_id = cursor.fetchone()
        if not row:
            invalidate_records(cls, [member_id])
            line = cls.add_points(
                member, points, reason, origin=origin, key=key)
            return line.id, line.balance_after
        line_id, balance_after = row
        # The ORM caches of this transaction must not keep the old values
        invalidate_records(cls, [member_id])
        cls._update_tier_sql(member_id, lifetime, tier_id)
        return line_id, balance_after

    @classmethod
    def balance_and_streak(cls, member_id):
        """Return the points balance and the streak days (see
        get_streak_days) of member, read in one SQL query"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.points_balance, table.streak_length,
                table.last_activity_date, where=table.id == int(member_id)))
        balance, length, last = cursor.fetchone()
        if isinstance(last, str):
            last = dt.date.fromisoformat(last)
        return balance or 0, cls._streak_days(last, length)

    @classmethod
    def _update_tier_sql(cls, member_id, lifetime, tier_id):
        "Upgrade the tier of member when lifetime reaches a higher one"
        pool = Pool()
        Tier = pool.get('member.tier')
        Date = pool.get('ir.date')
        thresholds = Tier.thresholds()
        reached = Tier.reached(thresholds, lifetime)
        current = thresholds.get(tier_id)
        if reached == tier_id or (
                current is not None and reached is not None
                and thresholds[reached] < current):
            return
        if reached is None and current is not None:
            return
        cls.update_tiers([cls(member_id)], date=Date.today())

    # Tiers

    @classmethod
    def update_tiers(cls, members, allow_downgrade=False, date=None):
        """Set the tier reached with the lifetime points.

        Upgrades always apply; a downgrade applies only with
        allow_downgrade."""
        pool = Pool()
        Tier = pool.get('member.tier')
        lifetime = {i: l for i, (_, l) in cls._read_points(members).items()}
        to_write = {}
        for member in members:
            tier = Tier.tier_for(lifetime[member.id])
            current = member.tier
            if tier == current:
                continue
            if (current and current.active
                    and (tier is None or tier.threshold < current.threshold)
                    and not allow_downgrade):
                continue
            to_write.setdefault(tier.id if tier else None, []).append(member)
        if to_write:
            args = []
            for tier_id, records in to_write.items():
                args.extend((records, {'tier': tier_id}))
            with without_check_access():
                cls.write(*args)

    @classmethod
    def recompute_tiers(cls, date=None):
        "Recompute the tier of every member (run by cron)"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        config = Configuration(1)
        if date is None:
            date = config.local_date()
        allow_downgrade = (config.downgrade_policy == 'period_end'
            and config.is_period_start(date))
        for sub_members in grouped_slice(cls.search([]), SLICE):
            cls.update_tiers(
                cls.browse(sub_members), allow_downgrade=allow_downgrade,
                date=date)

    # Streaks

    def get_streak_days(self, name):
        return self._streak_days(self.last_activity_date, self.streak_length)

    @classmethod
    def _streak_days(cls, last_activity_date, streak_length):
        "The streak shown today: broken once a whole local day is missed"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        today = Configuration.get_cached().local_date()
        if (last_activity_date
                and last_activity_date >= today - dt.timedelta(days=1)):
            return streak_length or 0
        return 0

    @classmethod
    def record_daily_activity(cls, member, date=None, origin=None,
            reason=None, base_points=None):
        """Record that member was active on the local date.

        The date defaults to today in the configured time zone.  The first
        activity of a day extends the streak (or starts a new one after a
        missed day), updates the best streak and posts the day's points
        (base points and the bonuses of the streak rules) with the
        idempotency key `streak:<member>:<date>`.  Later calls for the same
        day, or for an earlier day, change nothing.

        Return a dictionary with the keys: counted (bool), streak, points
        and line.
        """
        pool = Pool()
        Configuration = pool.get('member.configuration')
        config = Configuration.get_cached()
        _check_points_manager()
        if date is None:
            date = config.local_date()
        elif isinstance(date, dt.datetime):
            date = config.local_date(date)
        member = cls(int(member))
        cls.lock([member])
        # Plain SQL on the locked row: the streak columns are computed here
        # only, and the ORM write would cost more than the whole check-in
        transaction = Transaction()
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        # One statement when the day extends or starts a streak (the
        # right-hand sides read the old values); a day already counted, or
        # earlier, matches no row
        def update(member_id, date, yesterday, user):
            table = cls.__table__()
            streak = Case(
                (table.last_activity_date == yesterday,
                    Coalesce(table.streak_length, 0) + 1),
                else_=Literal(1))
            return table.update(
                [table.streak_length, table.best_streak,
                    table.last_activity_date, table.write_uid,
                    table.write_date],
                [streak,
                    Case((Coalesce(table.best_streak, 0) >= streak,
                            table.best_streak), else_=streak),
                    date, user, CurrentTimestamp()],
                where=(table.id == member_id)
                & ((table.last_activity_date == Null)
                    | (table.last_activity_date < date)),
                returning=[Returned('streak_length')])
        cursor.execute(*statement((cls.__name__, 'streak'), update,
                member_id=member.id, date=date,
                yesterday=date - dt.timedelta(days=1),
                user=transaction.user))
        row = cursor.fetchone()
        if not row:
            cursor.execute(*table.select(
                    table.last_activity_date, table.streak_length,
                    where=table.id == member.id))
            last, length = cursor.fetchone()
            if isinstance(last, str):
                last = dt.date.fromisoformat(last)
            return {
                'counted': False,
                'streak': length if date == last else None,
                'points': 0,
                'line': None,
                }
        streak, = row
        invalidate_records(cls, [member.id])
        points = config.streak_points(streak, base_points=base_points)
        line = balance_after = None
        if points:
            reason = reason or ('member.msg_streak_reason', {
                    'date': date, 'streak': streak})
            key = 'streak:%s:%s' % (member.id, date.isoformat())
            if points > 0:
                with without_check_access():
                    line_id, balance_after = cls.credit_points(
                        member, points, reason, origin=origin, key=key)
                line = pool.get('member.points.line')(line_id)
            else:
                line = cls.add_points(
                    member, points, reason, origin=origin, key=key)
        return {
            'counted': True,
            'streak': streak,
            'points': points,
            'line': line,
            'balance_after': balance_after,
            }

    @classmethod
    @ModelView.button_action('member.wizard_points_adjust')
    def adjust_points(cls, members):
        pass

    @classmethod
    def check_balances(cls, members=None):
        """Return the members whose ledger is not consistent: the stored
        balance or lifetime points differ from the sums of the lines, or
        the `balance after` of a line is not the running sum of the lines up
        to it.  Used by tests and monitoring; an empty list means the ledger
        is sound."""
        pool = Pool()
        Line = pool.get('member.points.line')
        if members is None:
            members = cls.search([], order=[('id', 'ASC')])
        wrong = []
        sums = cls.ledger_sums(members)
        stored = cls._read_points(members)
        for member in members:
            if sums[member.id] != stored[member.id]:
                wrong.append(member)
                continue
            lines = Line.search(
                [('member', '=', member.id)], order=[('id', 'ASC')])
            running = 0
            for line in lines:
                running += line.points
                if line.balance_after != running:
                    wrong.append(member)
                    break
        return wrong
