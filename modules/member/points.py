# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import json
import logging
import re
from decimal import Decimal

from sql import Cast, Conflict, Literal, Null, With
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.modules.suite import clock, tools
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import (
    ConcurrentCreation, IdempotencyKeyError, LedgerAccessError,
    NegativeBalanceError, PointsError)
from .prepared import Returned, created, invalidate_records, statement

logger = logging.getLogger(__name__)
_REASON_CODE = re.compile(r'^[a-z][a-z0-9_]*\.msg_[a-z0-9_]+$')


def _param(value):
    "A parameter of a reason as a JSON value"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def reason_values(reason):
    """Return (text, code, parameters) of the reason of a posting.

    A reason is either a text typed by a user (kept as it is) or a pair
    (message id, parameters) that the ledger renders in the language of its
    reader: e.g. ('checkin.msg_points_reason', {'event': .., 'date': ..}).
    """
    if isinstance(reason, (tuple, list)):
        if len(reason) == 1:
            code, params = reason[0], {}
        elif len(reason) == 2:
            code, params = reason
        else:
            raise PointsError(gettext('member.msg_points_reason_required'))
        if (not isinstance(code, str) or not _REASON_CODE.match(code)
                or not isinstance(params or {}, dict)):
            raise PointsError(gettext('member.msg_points_reason_required'))
        return None, code, {
            str(k): _param(v) for k, v in (params or {}).items()}
    if not isinstance(reason, str):
        return None, None, None
    return reason.strip() or None, None, None


def render_reason(code, params):
    "Return the text of the reason code with params in the language"
    try:
        return gettext(code, **dict(params or {}))
    except (KeyError, ValueError, TypeError):
        logger.warning("reason %s does not take %s", code, params)
        return gettext(code)


def check_points_manager():
    "Refuse RPC callers who are not points managers"
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    transaction = Transaction()
    if transaction.user and transaction.check_access:
        group_id = ModelData.get_id('member', 'group_points_manager')
        if group_id not in User.get_groups():
            raise AccessError(gettext('member.msg_points_manager_only'))


def _reason_pattern(text):
    "Return the regular expression of the texts of a message"
    parts = re.split(r'(%\(\w+\)[sdi])', text)
    regex = ''.join(
        '(?P<%s>.+?)' % p[2:-2] if p.startswith('%(') and p.endswith(')s')
        else '(?P<%s>-?\\d+)' % p[2:-2] if p.startswith('%(')
        else re.escape(p) for p in parts)
    return re.compile('^' + regex + '$', re.S)


class PointsLine(ModelSQL, ModelView):
    "Points Line"
    __name__ = 'member.points.line'

    member = fields.Many2One(
        'member.member', "Member", required=True, ondelete='RESTRICT')
    date = fields.DateTime("Date", required=True)
    points = fields.Integer("Points", required=True)
    reason = fields.Function(
        fields.Char("Reason"), 'get_reason', setter='set_reason',
        searcher='search_reason')
    reason_text = fields.Char(
        "Reason Text", readonly=True,
        help="The reason as typed by the user who posted the points.")
    reason_code = fields.Char(
        "Reason Code", readonly=True,
        help="The message that gives the reason in the reader's language.")
    reason_params = fields.Dict(
        None, "Reason Parameters", readonly=True,
        help="The values of the message of the reason.")
    origin = fields.Reference(
        "Origin", selection='get_origin',
        help="The document that earned or spent the points.")
    idempotency_key = fields.Char(
        "Idempotency Key",
        help="A key posted once only: posting it again returns this line.")
    reversal = fields.Boolean(
        "Reversal",
        help="Cancels points earned before: also lowers the lifetime points.")
    balance_after = fields.Integer("Balance After", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('member')
        t = cls.__table__()
        cls._sql_constraints += [
            ('idempotency_key_unique', Unique(t, t.idempotency_key),
                'member.msg_points_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.member, Index.Range()), (t.id, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        # Migration: the reason was stored as text in the language of the
        # posting
        if (table_h.column_exist('reason')
                and not table_h.column_exist('reason_text')):
            table_h.column_rename('reason', 'reason_text')
        super().__register__(module)
        cls._migrate_reasons()

    @classmethod
    def _reason_codes(cls):
        """Return the message ids that the modules use as reasons, so that
        texts stored before reasons had codes are recognised"""
        return ['member.msg_streak_reason']

    @classmethod
    def _migrate_reasons(cls):
        """Give the lines whose text is a rendering of a reason code (in
        English or a translation) the code and its parameters"""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Message = pool.get('ir.message')
        Translation = pool.get('ir.translation')
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.select(table.id, table.reason_text,
                where=(table.reason_code == Null)
                & (table.reason_text != Null)))
        rows = cursor.fetchall()
        if not rows:
            return
        data = ModelData.__table__()
        message = Message.__table__()
        translation = Translation.__table__()
        patterns = []
        for code in cls._reason_codes():
            module, fs_id = code.split('.', 1)
            cursor.execute(*data.join(message,
                    condition=message.id == data.db_id
                    ).select(message.id, message.text,
                    where=(data.module == module) & (data.fs_id == fs_id)
                    & (data.model == 'ir.message')))
            row = cursor.fetchone()
            if not row:
                continue
            message_id, text = row
            texts = [text]
            cursor.execute(*translation.select(translation.value,
                    where=(translation.name == 'ir.message,text')
                    & (translation.res_id == message_id)))
            texts += [v for v, in cursor if v]
            for text in texts:
                try:
                    patterns.append((code, _reason_pattern(text)))
                except re.error:
                    continue
        sql_type = cls.reason_params.sql_type().base
        for id_, text in rows:
            for code, pattern in patterns:
                match = pattern.match(text)
                if match:
                    params = {k: int(v) if v.lstrip('-').isdigit() else v
                        for k, v in match.groupdict().items()}
                    cursor.execute(*table.update(
                            [table.reason_code, table.reason_params,
                                table.reason_text],
                            [code, Cast(json.dumps(params,
                                        ensure_ascii=False, sort_keys=True),
                                    sql_type), Null],
                            where=table.id == id_))
                    break

    def get_reason(self, name):
        if self.reason_code:
            return render_reason(self.reason_code, self.reason_params)
        return self.reason_text

    @classmethod
    def set_reason(cls, lines, name, value):
        # A text as typed: refused by check_modification like any write
        cls.write(lines, {'reason_text': value})

    @classmethod
    def search_reason(cls, name, clause):
        """Search the typed texts, the texts of the reason messages in the
        reader's language and the values of their parameters"""
        _, operator, value = clause[:3]
        text_clause = ('reason_text',) + tuple(clause[1:])
        if operator not in {'=', 'like', 'ilike', 'in'}:
            return [text_clause]
        codes = []
        if operator in {'like', 'ilike'}:
            pattern = re.escape(value).replace('%', '.*').replace('_', '.')
            flags = re.I | re.S if operator == 'ilike' else re.S
            codes = [c for c in cls._reason_codes()
                if re.fullmatch(pattern, gettext(c), flags)]
        table = cls.__table__()
        domain = ['OR', text_clause, ('reason_code', 'in', codes)]
        if operator in {'like', 'ilike'}:
            Operator = fields.SQL_OPERATORS[operator]
            domain.append(('id', 'in', table.select(table.id,
                        where=Operator(
                            Cast(table.reason_params, 'TEXT'), value))))
        return domain

    def get_rec_name(self, name):
        return '%+d %s: %s' % (
            self.points, self.member.rec_name, self.reason or '')

    @classmethod
    def search_rec_name(cls, name, clause):
        return tools.rec_name_domain(clause, 'member.rec_name', 'reason')

    @classmethod
    def _get_origin(cls):
        "Return the models that may be the origin of a line"
        return ['res.user']

    @classmethod
    def get_origin(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        get_name = IrModel.get_name
        models = cls._get_origin()
        return [(None, '')] + [(m, get_name(m)) for m in models]

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(
            mode, lines, values=values, external=external)
        # Lines are inserted by post only
        if mode == 'create':
            raise LedgerAccessError(gettext(
                    'member.msg_points_line_post_only'))
        elif mode in {'write', 'delete'}:
            raise LedgerAccessError(gettext(
                    'member.msg_points_line_immutable'))

    @classmethod
    def post(cls, entries):
        """Append lines to the points ledger and return them: the one
        posting of the suite (the back office, the check-ins, the streaks and
        the bookings call it, through member.member.post_points).

        Each entry is a dictionary with the keys member, points, reason and
        optionally origin, key (idempotency key), date, reversal and
        allow_negative.  An entry whose key was posted before is not posted
        again: the existing line is returned.

        The members are locked first (Member.hold_lock), then each entry is
        one statement (see _post_statement).  Under REPEATABLE READ on
        PostgreSQL a transaction whose snapshot missed a concurrent posting
        fails to update the member row and is retried."""
        pool = Pool()
        Member = pool.get('member.member')
        if not entries:
            return []
        check_points_manager()
        posts = [cls._post_values(e) for e in entries]
        Member.hold_lock([p['member'] for p in posts])
        lines, new, tiers = [], [], {}
        for post in posts:
            row = cls._post_one(post)
            if row is None:
                lines.append(cls._not_posted(post))
                continue
            line_id, balance, lifetime, tier = row
            tiers[post['member']] = (lifetime, tier)
            new.append(line_id)
            lines.append(cls(line_id, balance_after=balance))
        if new:
            invalidate_records(Member, list(tiers))
            created(cls, new)
            Member.update_tiers(Member.browse(list(tiers)), lifetimes=tiers)
        return lines

    @classmethod
    def _post_values(cls, entry):
        """Return the values of the statement of entry (see post), checked
        before anything is posted"""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        points = entry.get('points')
        if (not isinstance(points, int) or isinstance(points, bool)
                or not points):
            raise PointsError(gettext(
                    'member.msg_points_invalid', points=points))
        text, code, params = reason_values(entry.get('reason'))
        if not text and not code:
            raise PointsError(gettext('member.msg_points_reason_required'))
        origin = entry.get('origin')
        reversal = bool(entry.get('reversal'))
        return {
            'member': int(entry['member']),
            'points': points,
            'text': text,
            'code': code,
            'params': cls.reason_params.sql_format(params),
            'origin': str(origin) if origin is not None else None,
            'key': entry.get('key') or None,
            'date': entry.get('date') or clock.now(),
            'reversal': reversal,
            'lifetime': points if points > 0 or reversal else 0,
            # Spending is refused below zero unless allowed
            'allowed': bool(points > 0 or entry.get('allow_negative')
                or Configuration.get_cached().allow_negative),
            }

    @classmethod
    def _post_one(cls, values):
        """Post the line of values; return (line id, balance after,
        lifetime points, tier id) or None when nothing was posted (the key
        was posted, or the balance would go below zero).

        One statement on PostgreSQL (the line inserted in a WITH, the member
        row updated from what it returns), two on SQLite, which refuses an
        INSERT in a WITH: the update follows only an insert."""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        values = dict(values, user=transaction.user)
        if backend.name == 'postgresql':
            cursor.execute(*statement((cls.__name__, 'post'),
                    cls._post_statement, **values))
            return cursor.fetchone()
        lifetime = values.pop('lifetime')
        cursor.execute(*statement((cls.__name__, 'post'),
                cls._post_statement, **values))
        row = cursor.fetchone()
        if not row:
            return None
        cursor.execute(*statement((cls.__name__, 'post balance'),
                cls._balance_statement, user=transaction.user,
                member=values['member'], balance=row[1], lifetime=lifetime))
        return row + cursor.fetchone()

    @classmethod
    def _post_statement(cls, member, points, text, code, params, origin,
            key, date, reversal, allowed, user, lifetime=None):
        """The statement that inserts the line of a posting with the
        running balance of the member row (nothing when its key exists or
        the balance would go below zero and it is not allowed) and, on
        PostgreSQL, updates the member row with the inserted line"""
        pool = Pool()
        Member = pool.get('member.member')
        table = Member.__table__()
        line = cls.__table__()
        balance = Coalesce(table.points_balance, 0) + points
        insert = line.insert([
                line.create_uid, line.create_date, line.member, line.date,
                line.points, line.reason_text, line.reason_code,
                line.reason_params, line.origin, line.idempotency_key,
                line.reversal, line.balance_after],
            table.select(
                Literal(user), CurrentTimestamp(), table.id, Literal(date),
                Literal(points), Literal(text), Literal(code),
                Cast(Literal(params), cls.reason_params.sql_type().base),
                Literal(origin), Literal(key), Literal(reversal), balance,
                where=(table.id == member) & ((balance >= 0) | allowed)),
            on_conflict=Conflict(line),
            returning=[Returned('id'), Returned('balance_after')])
        if backend.name != 'postgresql':
            return insert
        posted = With('id', 'balance_after', query=insert)
        return cls._balance_statement(user, member, posted.balance_after,
            lifetime, table=table, posted=posted)

    @classmethod
    def _balance_statement(cls, user, member, balance, lifetime,
            table=None, posted=None):
        "The update of the member row by a posting"
        pool = Pool()
        Member = pool.get('member.member')
        if table is None:
            table = Member.__table__()
        returning = [Returned('lifetime_points'), Returned('tier')]
        if posted is not None:
            returning = [posted.id, posted.balance_after] + returning
        return table.update(
            [table.points_balance, table.lifetime_points, table.write_uid,
                table.write_date],
            [balance, Coalesce(table.lifetime_points, 0) + lifetime, user,
                CurrentTimestamp()],
            from_=[posted] if posted is not None else None,
            with_=[posted] if posted is not None else None,
            where=table.id == member,
            returning=returning)

    @classmethod
    def _not_posted(cls, values):
        """Return the line of the key of values posted before, else raise
        the error of why values were not posted"""
        pool = Pool()
        Member = pool.get('member.member')
        key = values['key']
        if key:
            lines = cls.search([('idempotency_key', '=', key)], limit=1)
            if lines:
                line, = lines
                if line.member.id != values['member']:
                    raise IdempotencyKeyError(gettext(
                            'member.msg_points_key_other_member', key=key))
                return line
        member = Member(values['member'])
        balance = member.points_balance or 0
        if balance + values['points'] < 0 and not values['allowed']:
            raise NegativeBalanceError(gettext(
                    'member.msg_points_negative_balance',
                    member=member.rec_name, balance=balance,
                    points=-values['points']))
        # The key was inserted by a transaction committed after this one
        # started: the restarted transaction reads its line
        raise ConcurrentCreation('member.points.line:%s' % key)

    @classmethod
    def copy(cls, lines, default=None):
        if not lines:
            return []
        raise LedgerAccessError(gettext('member.msg_points_line_immutable'))


class AdjustStart(ModelView):
    "Adjust Points"
    __name__ = 'member.points.adjust.start'

    member = fields.Many2One('member.member', "Member", readonly=True)
    balance = fields.Integer("Current Balance", readonly=True)
    points = fields.Integer(
        "Points", required=True,
        help="Positive to add points, negative to remove them.")
    reason = fields.Char("Reason", required=True)
    reversal = fields.Boolean(
        "Reversal",
        states={
            'invisible': Eval('points', 0) >= 0,
            },
        help="Check to cancel points earned by mistake: the lifetime points "
        "are lowered too, which may lower the tier.")


class Adjust(Wizard):
    "Adjust Points"
    __name__ = 'member.points.adjust'

    start = StateView('member.points.adjust.start',
        'member.points_adjust_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Adjust", 'adjust', 'tryton-ok', default=True),
            ])
    adjust = StateTransition()

    def default_start(self, fields):
        return {
            'member': self.record.id,
            'balance': self.record.points_balance,
            }

    def transition_adjust(self):
        pool = Pool()
        Member = pool.get('member.member')
        if not self.start.points:
            raise PointsError(gettext(
                    'member.msg_points_invalid', points=self.start.points))
        Member.add_points(
            self.record, self.start.points, self.start.reason,
            origin='res.user,%s' % Transaction().user,
            reversal=self.start.points < 0 and bool(self.start.reversal))
        return 'end'
