# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import functools
import os
import re
import types
from collections import defaultdict

import phonenumbers
from sql import Column, For, Literal, Null, With
from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce
from sql.operators import Exists

from trytond import config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Exclude, ModelSQL, ModelView, Unique, fields)
from trytond.modules.suite import tools
from trytond.modules.suite.fields import Key
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.res.exceptions import PasswordError as UserPasswordError
from trytond.rpc import RPC
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .exceptions import LedgerAccessError, PasswordError, PhoneValidationError
from .prepared import SetConfig

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
# The percentage of each page of the member table filled on PostgreSQL (see
# Member._set_fillfactor)
FILLFACTOR = 85


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


def context_member():
    """Return the id of the member that the request acts for (the member of
    a mini-program access token) or None.

    It is kept in the request's context (`_request`, see member_context):
    Tryton's caches ignore that key, so the requests of every member share
    them (the record rules that read it key their cache on it, see
    ir.Rule), and an RPC client cannot set it (private keys are dropped)."""
    return (Transaction().context.get('_request') or {}).get('member')


def member_context(member_id):
    "Return the context of a request made for member_id (context_member)"
    request = Transaction().context.get('_request') or {}
    return {'_request': dict(request, member=member_id)}


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
    phone = Key(
        "Phone",
        help="Mobile number, stored in international (E.164) form.")
    wechat_openid = Key("WeChat OpenID", readonly=True)
    wechat_unionid = Key("WeChat UnionID", readonly=True)
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
    points_expiring = fields.Function(
        fields.Integer(
            "Points Expiring",
            help="The points that expire within the notice days of the "
            "configuration (30 days without a notice)."),
        'get_points_expiring')
    points_expiring_date = fields.Function(
        fields.Date(
            "First Expiry",
            help="The day on which the first of the points expiring "
            "expire."),
        'get_points_expiring')
    points_lines = fields.One2Many(
        'member.points.line', 'member', "Points", readonly=True,
        order=[('id', 'DESC')])
    password_hash = fields.Char("Password Hash", strip=False, readonly=True)

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
                })
        cls._buttons.update({
                'adjust_points': {
                    'invisible': ~Eval('id', -1) | (Eval('id', -1) < 0),
                    'depends': ['id'],
                    },
                })

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        cls._set_fillfactor()

    @classmethod
    def _set_fillfactor(cls):
        """Keep FILLFACTOR % of each page of the member table filled on
        PostgreSQL: every posting rewrites its member row (balance, streak),
        and the new version stays in the same page, without an entry in
        each of the member's indexes (a HOT update), only when the page has
        room for it.  The pages written from then on keep the room."""
        from trytond import backend
        if backend.name != 'postgresql':
            return
        cursor = Transaction().connection.cursor()
        cursor.execute('SELECT reloptions FROM pg_class '
            'WHERE oid = CAST(%s AS regclass)', (cls._table,))
        options, = cursor.fetchone()
        option = 'fillfactor=%d' % FILLFACTOR
        if option not in (options or []):
            # FILLFACTOR is a constant integer, the table Tryton's own name
            cursor.execute('ALTER TABLE "%s" SET (%s)' % (cls._table, option))

    @classmethod
    def default_join_date(cls):
        return Pool().get('ir.date').today()

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
        return tools.rec_name_domain(clause, 'party.rec_name', 'phone')

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
        # The points are written by the ledger's posting only (SQL)
        if (mode in {'create', 'write'} and values
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
    def get_points_expiring(cls, members, names):
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Line = pool.get('member.points.line')
        config = Configuration(1)
        today = config.local_date()
        until = today + dt.timedelta(days=config.expiry_notice_days or 30)
        expiring = Line.lots_expiring(members, until)
        result = {n: {} for n in names}
        for member in members:
            points, date = expiring.get(member.id, (0, None))
            if 'points_expiring' in result:
                result['points_expiring'][member.id] = points
            if 'points_expiring_date' in result:
                result['points_expiring_date'][member.id] = date
        return result

    @classmethod
    def hold_lock(cls, members):
        """Hold the row lock of members until the end of the transaction:
        the lock under which their points, streaks and check-ins are
        written, taken in this one place.

        The transaction knows the locks it holds: those taken when it
        started (api.with_write_transaction, or the restart that Model.lock
        asks for in Tryton 8.0) and the rows it created.  A member held
        costs no query; otherwise the transaction restarts with the lock."""
        cls.lock(members)

    @classmethod
    def lock_query(cls, member, timeout, unless=None, values=None,
            active=False, condition=None):
        """The common table expressions (found, locked) of the statement
        that takes the row lock of member (PostgreSQL): locked selects the
        member's id and active FOR UPDATE, waiting at most timeout
        milliseconds (a string: SET LOCAL lock_timeout in the same
        statement) for the transaction that holds it; only an active member
        when active.  unless(**values) (see member.prepared.statement) is
        the query of the id of a record that answers without the lock:
        found selects it (None without unless) and locked nothing when it
        finds one.  The one home of the member's lock statement: the API
        takes it first (miniprogram.auth.wait_member_lock) or the posting
        that inserts a check-in (member.points.line._post_entries,
        lock).  condition(table), a condition on the member row of table
        (before the lock), is also required to lock it."""
        table = cls.__table__()
        # The filter is evaluated on the row found, before the row lock is
        # waited for
        where = ((table.id == member)
            & (SetConfig('lock_timeout', timeout, True) != Null))
        if active:
            where &= table.active
        if condition is not None:
            where &= condition(table)
        found = None
        if unless is not None:
            found = With('id', query=unless(**values))
            where &= ~Exists(found.select(Literal(1)))
        locked = With('id', 'active', query=table.select(
                table.id, table.active, where=where, for_=For('UPDATE')))
        return found, locked

    @classmethod
    def post_points(cls, entries):
        "Post entries to the ledger and return the lines (see Line.post)"
        return Pool().get('member.points.line').post(entries)

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
    def _ledger_columns(cls, line):
        return {
            'points_balance': Sum(line.points),
            # Points given back to the lots of a spending were not earned
            'lifetime_points': Sum(Case(
                    (((line.points > 0) & (line.reverses == Null))
                        | (line.reversal == Literal(True)),
                        line.points),
                    else_=0)),
            'lots_remaining': Sum(Coalesce(line.remaining, 0)),
            }

    @classmethod
    def ledger_sums(cls, members, lots=False):
        """Return {member id: (balance, lifetime points)} summed from the
        ledger lines (the truth the stored values must equal), with the sum
        of what remains of the lots when lots"""
        pool = Pool()
        Line = pool.get('member.points.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        columns = cls._ledger_columns(line)
        result = {m.id: (0, 0, 0) if lots else (0, 0) for m in members}
        for sub_ids in grouped_slice([m.id for m in members], SLICE):
            cursor.execute(*line.select(
                    line.member, columns['points_balance'],
                    columns['lifetime_points'], columns['lots_remaining'],
                    where=fields.SQL_OPERATORS['in'](line.member, sub_ids),
                    group_by=[line.member]))
            for member_id, balance, lifetime, remaining in cursor:
                result[member_id] = (int(balance or 0), int(lifetime or 0))
                if lots:
                    result[member_id] += (int(remaining or 0),)
        return result

    @classmethod
    def _read_points(cls, members):
        """Return {member id: (balance, lifetime points, tier id)} read
        from the table"""
        member = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = {}
        for sub_ids in grouped_slice([m.id for m in members], SLICE):
            cursor.execute(*member.select(
                    member.id, member.points_balance, member.lifetime_points,
                    member.tier,
                    where=fields.SQL_OPERATORS['in'](member.id, sub_ids)))
            for member_id, balance, lifetime, tier in cursor:
                result[member_id] = (balance or 0, lifetime or 0, tier)
        return result

    # Tiers

    @classmethod
    def update_tiers(cls, members, allow_downgrade=False, lifetimes=None):
        """Set the tier reached with the lifetime points: the one tier update,
        after each posting and by the cron.

        Upgrades always apply; a downgrade applies only with allow_downgrade
        (a tier no longer active is always left).  lifetimes is {member id:
        (lifetime points, tier id)} when the caller knows them."""
        pool = Pool()
        Tier = pool.get('member.tier')
        if lifetimes is None:
            lifetimes = {i: (l, t)
                for i, (_, l, t) in cls._read_points(members).items()}
        thresholds = Tier.thresholds()
        to_write = defaultdict(list)
        for member in members:
            lifetime, current = lifetimes[member.id]
            reached = Tier.reached(thresholds, lifetime)
            if cls._changes_tier(thresholds, reached, current,
                    allow_downgrade):
                to_write[reached].append(member)
        if to_write:
            args = []
            for tier_id, records in to_write.items():
                args.extend((records, {'tier': tier_id}))
            with without_check_access():
                cls.write(*args)

    @staticmethod
    def _changes_tier(thresholds, reached, current, allow_downgrade=False):
        """Whether update_tiers sets the tier reached (see Tier.reached)
        instead of current: the rule (see _keeps_tier for its SQL)"""
        return not (reached == current or (current in thresholds
                and not allow_downgrade
                and (reached is None
                    or thresholds[reached] < thresholds[current])))

    @classmethod
    def _keeps_tier(cls, table, lifetime):
        """The condition that update_tiers keeps the tier of the member row
        of table at the lifetime points lifetime (an SQL expression, not
        fewer than the row's: no downgrade to consider): no active tier of
        a higher (threshold, id) than the row's is reached, and the row's
        is active or none (_changes_tier; a statement committed alone
        requires it: member.points.line._post_statement)"""
        pool = Pool()
        Tier = pool.get('member.tier')
        tier, current, kept = (
            Tier.__table__(), Tier.__table__(), Tier.__table__())
        higher = tier.join(current, 'LEFT',
            condition=(current.id == table.tier) & current.active
            ).select(Literal(1),
                where=tier.active & (tier.threshold <= lifetime)
                & ((current.id == Null)
                    | (tier.threshold > current.threshold)
                    | ((tier.threshold == current.threshold)
                        & (tier.id > current.id))))
        return (((table.tier == Null) | Exists(kept.select(Literal(1),
                        where=(kept.id == table.tier) & kept.active)))
            & ~Exists(higher))

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
                cls.browse(sub_members), allow_downgrade=allow_downgrade)

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
        sums = cls.ledger_sums(members, lots=True)
        stored = cls._read_points(members)
        for member in members:
            balance, lifetime, remaining = sums[member.id]
            # What remains of the lots is the positive part of the balance
            if ((balance, lifetime) != stored[member.id][:2]
                    or remaining != max(balance, 0)):
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
