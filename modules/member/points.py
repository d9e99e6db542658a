# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import json
import logging
import re

from sql import Cast, Column, Conflict, From, Literal, Null, With
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import CurrentTimestamp
from sql.operators import Concat, Exists, Like

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Check, Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.modules.suite import clock, tools
from trytond.modules.suite.fields import Constant, Key
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import prepared
from .exceptions import (
    ConcurrentCreation, IdempotencyKeyError, LedgerAccessError,
    LockUnlessFound, NegativeBalanceError, PointsError)
from .member import SLICE
from .prepared import (
    NextId, Returned, created, execute, formatters, invalidate_records)

logger = logging.getLogger(__name__)
_REASON_CODE = re.compile(r'^[a-z][a-z0-9_]*\.msg_[a-z0-9_]+$')
# The reason parameters as stored, by value (_reason_params_sql), per
# process
_PARAMS_SQL = {}
PARAMS_SQL_SIZE = 1024


def _param(value):
    "A parameter of a reason as a JSON value"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str)):
        return value
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


class _PostedOnly:
    "The records of the ledger: inserted by post only, never changed"
    __slots__ = ()

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if mode == 'create':
            raise LedgerAccessError(gettext(
                    'member.msg_points_line_post_only'))
        elif mode in {'write', 'delete'}:
            raise LedgerAccessError(gettext(
                    'member.msg_points_line_immutable'))

    @classmethod
    def copy(cls, records, default=None):
        if not records:
            return []
        raise LedgerAccessError(gettext('member.msg_points_line_immutable'))


class PointsLine(_PostedOnly, ModelSQL, ModelView):
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
    idempotency_key = Key(
        "Idempotency Key",
        help="A key posted once only: posting it again returns this line.")
    reversal = fields.Boolean(
        "Reversal",
        help="Cancels points earned before: also lowers the lifetime points.")
    balance_after = fields.Integer("Balance After", required=True)
    expires = fields.Date(
        "Expires", readonly=True,
        help="The day on which what remains of the points earned expires; "
        "empty: they never expire.")
    remaining = fields.Integer(
        "Remaining", readonly=True,
        help="What is left of the points earned: spending and expiry take "
        "from the points that expire first.")
    reverses = fields.Many2One(
        'member.points.line', "Reverses", readonly=True, ondelete='RESTRICT',
        help="The spending whose points this line gives back: they return "
        "to the points they were taken from.")
    allocations = fields.One2Many(
        'member.points.allocation', 'line', "Allocations", readonly=True,
        help="The points earned that this line took or gave back.")
    lot_allocations = fields.One2Many(
        'member.points.allocation', 'lot', "Used By", readonly=True,
        help="The lines that took or gave back points of this line.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('member')
        t = cls.__table__()
        cls._sql_constraints += [
            ('idempotency_key_unique', Unique(t, t.idempotency_key),
                'member.msg_points_key_unique'),
            ('remaining_range', Check(t, (t.remaining == Null)
                    | ((t.remaining >= 0) & (t.remaining <= t.points))),
                'member.msg_points_remaining_range'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.member, Index.Range()), (t.id, Index.Range())),
                Index(t, (t.expires, Index.Range()),
                    where=t.remaining > 0),
                Index(t, (t.member, Index.Range()),
                    where=t.remaining > 0),
                # The spendings a give-back may reverse (_post_statement)
                Index(t, (t.member, Index.Range()), (t.id, Index.Range()),
                    where=t.points < 0),
                # The points of a record (a check-in's points_awarded)
                Index(t, (t.origin, Index.Equality())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def __setup_indexes__(cls):
        super().__setup_indexes__()
        t = cls.__table__()
        # The indexes that Tryton gives the fields of One2Many which others
        # serve as well, each costing its insert to every posting: the
        # member's by (member, id); the origin's (the check-in's
        # points_lines) by its own, which replaces this module's
        cls._sql_indexes.discard(
            Index(t, (t.member, Index.Range()), where=None))
        if Index(t, (t.origin, Index.Equality()),
                where=t.origin != Null) in cls._sql_indexes:
            cls._sql_indexes.discard(Index(t, (t.origin, Index.Equality())))

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        # Migration: the reason was stored as text in the language of the
        # posting
        if (table_h.column_exist('reason')
                and not table_h.column_exist('reason_text')):
            table_h.column_rename('reason', 'reason_text')
        # Migration: the points earned became lots
        migrate_lots = not table_h.column_exist('remaining')
        super().__register__(module)
        cls._migrate_reasons()
        if migrate_lots:
            cls._migrate_lots()

    @classmethod
    def _migrate_lots(cls):
        """Give the lines earned before lots existed what remains of them:
        the spendings took the oldest points first, so the balance of a
        member is what remains of its latest points (none expires)"""
        pool = Pool()
        Member = pool.get('member.member')
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        member = Member.__table__()
        cursor.execute(*table.update([table.remaining], [0],
                where=table.points > 0))
        cursor.execute(*member.select(member.id, member.points_balance,
                where=member.points_balance > 0))
        for member_id, balance in cursor.fetchall():
            cursor.execute(*table.select(table.id, table.points,
                    where=(table.member == member_id) & (table.points > 0),
                    order_by=[table.id.desc]))
            for line_id, points in cursor.fetchall():
                if balance <= 0:
                    break
                remaining = min(points, balance)
                balance -= remaining
                cursor.execute(*table.update([table.remaining], [remaining],
                        where=table.id == line_id))

    @classmethod
    def _reason_codes(cls):
        """Return the message ids that the modules use as reasons, so that
        texts stored before reasons had codes are recognised"""
        return ['member.msg_streak_reason', 'member.msg_points_expiry_reason']

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
        # An expiry line's origin is the line whose points expire
        return ['res.user', 'member.points.line']

    @classmethod
    def get_origin(cls):
        IrModel = Pool().get('ir.model')
        return [(None, '')] + [
            (m, IrModel.get_name(m)) for m in cls._get_origin()]

    @classmethod
    def post(cls, entries):
        """Append lines to the points ledger and return them: the one
        posting of the suite (the back office, the check-ins, the streaks and
        the bookings call it, through member.member.post_points).

        Each entry is a dictionary with the keys member, points, reason and
        optionally origin, key (idempotency key), date, reversal,
        allow_negative, reverses (the spending that the entry gives back)
        and lot (the earned line whose remainder expires: see expire).  An
        entry whose key was posted before is not posted again: the existing
        line is returned.

        The points earned are lots: they expire with the validity of the
        configuration.  A negative entry takes its points from the lots
        that expire first (those of its origin first for a reversal); a
        positive entry whose key is the key of a spending followed by ':'
        (or that names it in reverses) gives them back to the lots they
        were taken from.  What remains of the lots always sums to the
        balance (nothing when it is negative).

        The members are locked first (Member.hold_lock), then each entry is
        one statement (see _post_statement), followed for a spending or a
        give-back only by the moves of its lots.  Under REPEATABLE READ on
        PostgreSQL a transaction whose snapshot missed a concurrent posting
        fails to update the member row and is retried."""
        return [line for line, _ in cls._post_entries(entries)]

    @classmethod
    def _post_entries(cls, entries):
        """Post entries (see post) and return [(line, activity)]: activity
        is the (counted, streak length, last activity date) of the member
        after the streak extension asked by the entry's activity (a local
        date, see member.member.record_daily_activity), else None.

        An entry may also carry link, (Model, id, field, values): the
        record id of Model whose field is set to the new line (and its
        other columns to values) in the posting's statement on PostgreSQL,
        by its own statement on SQLite, or to the line of the key posted
        before when the entry is not posted again.

        An entry of positive points may carry insert, (Model, values,
        prefix): the record of Model that the posting inserts first with
        values (checked by the caller), in its own statement on PostgreSQL
        (see _post_statement), unless the database refuses it (ON CONFLICT
        DO NOTHING): nothing is then posted and its line is None.  The
        record is the entry's origin, its key is prefix followed by the
        record's id (the entry has neither) and the record is its link
        (link's id is None), set as it is inserted on PostgreSQL.  The line
        posted has then the record as origin.

        An entry that inserts its record may also carry lock, (timeout,
        unless): the member's lock is then not held by the transaction but
        taken by the posting's statement, which must be the transaction's
        first on the member (PostgreSQL; SQLite holds it first): it locks
        the member, waiting at most timeout (milliseconds, a string), when
        it is active and the prepared query unless (key, build, values: see
        member.prepared.statement; or None) finds no record, before it
        inserts the record (see member.member.lock_query).  Nothing is
        posted otherwise, and LockUnlessFound is raised with the id found
        when the member is active.  Under REPEATABLE READ, a concurrent
        transaction that wrote the member after this one's snapshot makes
        the statement fail.

        An entry that takes the lock may also carry alone, True: the
        caller writes nothing after the posting, which is then committed by
        itself (member.prepared.fetch_alone) when the transaction has begun
        nothing and no trigger follows the creations; the statement then
        posts nothing (like a member not active) when something else would
        be written: a tier update, the streak's points (the entry's
        streak_base: the base points of its day), a spending given back,
        or when the member row changed after its snapshot (see
        _alone_condition).  It must be the only entry."""
        pool = Pool()
        Member = pool.get('member.member')
        if not entries:
            return []
        check_points_manager()
        posts = [cls._post_values(e) for e in entries]
        if len(posts) > 1 and any(p['alone'] for p in posts):
            raise ValueError("an entry committed alone is the only one: %r"
                % (entries,))
        held = [p['member'] for p in posts if p['lock'] is None]
        if held:
            Member.hold_lock(held)
        lines, new, tiers, kept = [], [], {}, set()
        for post in posts:
            row = cls._post_one(post)
            if row is None and post['insert'] is not None:
                lines.append((None, None))
                continue
            elif row is None:
                line = cls._not_posted(post)
                if post['link'] is not None:
                    cls._link_line(post['link'], line.id)
                lines.append((line, None))
                continue
            line_id, balance, reverses, lifetime, tier, activity, record = row
            if post['lock'] is not None:
                # Taken by the posting
                Transaction()._locked_records[Member._table].add(
                    post['member'])
            tiers[post['member']] = (lifetime, tier)
            if post['alone'] and prepared.sealed_by_alone(
                    Transaction().connection):
                # Its statement kept the tier, read from the table (the
                # thresholds kept by the process may be older)
                kept.add(post['member'])
            new.append(line_id)
            if post['points'] < 0:
                cls._take_from_lots(line_id, post)
            elif reverses is not None:
                cls._give_back(line_id, reverses, post, balance)
            line = tools.instance(cls, line_id, balance_after=balance)
            if record is not None:
                line.origin = tools.instance(post['insert'][0], record)
            lines.append((line, activity))
        if new:
            invalidate_records(Member, list(tiers))
            invalidate_records(cls, new)
            created(cls, new)
            tiered = [m for m in tiers if m not in kept]
            if tiered:
                Member.update_tiers(Member.browse(tiered), lifetimes=tiers)
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
        config = Configuration.get_cached()
        date = entry.get('date') or clock.now()
        reverses = entry.get('reverses')
        if reverses is not None:
            reverses = cls(int(reverses if isinstance(reverses, int)
                    else reverses.id))
            if (points <= 0 or reverses.points >= 0
                    or reverses.member.id != int(entry['member'])):
                raise PointsError(gettext(
                        'member.msg_points_reverses_invalid',
                        line=reverses.rec_name))
            reverses = reverses.id
        lot = entry.get('lot')
        if lot is not None and not isinstance(lot, int):
            lot = lot.id
        activity = entry.get('activity')
        if activity is not None and (not isinstance(activity, dt.date)
                or isinstance(activity, dt.datetime)):
            raise ValueError("activity must be a date: %r" % (activity,))
        insert, link = entry.get('insert'), entry.get('link')
        if insert is not None and (points < 0 or origin is not None
                or entry.get('key') or reverses is not None
                or link is None or link[1] is not None):
            raise ValueError("an entry that inserts its origin has "
                "positive points, no origin, key nor reverses and links "
                "the record inserted: %r" % (entry,))
        lock = entry.get('lock')
        if lock is not None and insert is None:
            raise ValueError("only an entry that inserts its origin takes "
                "the member's lock: %r" % (entry,))
        alone = bool(entry.get('alone'))
        if alone and lock is None:
            raise ValueError("only an entry that takes the member's lock is "
                "committed alone: %r" % (entry,))
        # A trigger would follow the creations with writes; the guard of
        # the give-back knows a prefix whose only ':' ends it
        alone = (alone and backend.name == 'postgresql'
            and insert[2].find(':') == len(insert[2]) - 1
            and not tools.triggers(cls.__name__, 'create')
            and not tools.triggers(insert[0].__name__, 'create'))
        return {
            'member': int(entry['member']),
            'points': points,
            'text': text,
            'code': code,
            'params': cls._reason_params_sql(params),
            'origin': str(origin) if origin is not None else None,
            'key': entry.get('key') or None,
            'date': date,
            'reversal': reversal,
            # A give-back (reverses) is not earned: see _balance_statement
            'lifetime': points if points > 0 or reversal else 0,
            # Spending is refused below zero unless allowed
            'allowed': bool(points > 0 or entry.get('allow_negative')
                or config.allow_negative),
            'expires': config.expiry_date(date) if points > 0 else None,
            'reverses': reverses if points > 0 else None,
            'lot': lot if points < 0 else None,
            'activity': activity,
            'link': link,
            'insert': insert,
            # SQLite holds the lock first (a single writer)
            'lock': lock if backend.name == 'postgresql' else None,
            'alone': alone,
            'streak_base': entry.get('streak_base') or 0,
            }

    @classmethod
    def _reason_params_sql(cls, params):
        """The parameters of a reason as reason_params stores them, kept
        per process by value and type (the postings of an event's day
        share theirs: its JSON is made once)"""
        try:
            key = (backend.name,) + tuple(sorted(
                    (k, type(v), v) for k, v in (params or {}).items()))
            return _PARAMS_SQL[key]
        except TypeError:
            # A value that is no key (a list)
            return cls.reason_params.sql_format(params)
        except KeyError:
            return tools.remember(_PARAMS_SQL, key,
                cls.reason_params.sql_format(params), PARAMS_SQL_SIZE)

    @classmethod
    def _post_one(cls, values):
        """Post the line of values; return (line id, balance after, id of
        the spending it gives back, lifetime points, tier id, activity, id
        of the record inserted) or None when nothing was posted (the key was
        posted, the balance would go below zero, the record to insert was
        refused); activity and the record as in _post_entries.

        One statement on PostgreSQL (the record and the line inserted in a
        WITH, the member row updated from what it returns, with the streak
        of the activity, and the link), more on SQLite, which refuses an
        INSERT in a WITH: the record, the line, then the update of the
        member, the streak and the link."""
        pool = Pool()
        Member = pool.get('member.member')
        transaction = Transaction()
        values = dict(values, user=transaction.user)
        values.pop('lot')
        activity = values.pop('activity')
        link = values.pop('link')
        insert = values.pop('insert')
        lock = values.pop('lock')
        alone = values.pop('alone')
        streak_base = values.pop('streak_base')
        if backend.name == 'postgresql':
            return cls._post_one_statement(values, activity, link, insert,
                lock, alone, streak_base)
        record_id = None
        if insert is not None:
            Model, record, prefix = insert
            record_id = prepared.insert(Model, record, conflict=True)
            if record_id is None:
                return None
            values['origin'] = '%s,%d' % (Model.__name__, record_id)
            values['key'] = '%s%d' % (prefix, record_id)
            link = (link[0], record_id) + tuple(link[2:])
        lifetime = values.pop('lifetime')
        cursor = execute((cls.__name__, 'post'), cls._post_statement,
            **values)
        row = cursor.fetchone()
        if not row:
            return None
        if row[2] is not None:
            lifetime = 0
        cursor = execute((cls.__name__, 'post balance'),
            cls._balance_statement, user=transaction.user,
            member=values['member'], balance=row[1], lifetime=lifetime)
        row += cursor.fetchone()
        extended = None
        if activity is not None:
            extended = Member._extend_streak(values['member'], activity,
                state=True)
        if link is not None:
            cls._link_line(link, row[0])
        return row + (extended, record_id)

    @classmethod
    def _post_one_statement(cls, values, activity, link, insert, lock,
            alone=False, streak_base=0):
        """_post_one on PostgreSQL: one statement, committed by itself when
        alone and the transaction has begun nothing (see _post_entries)"""
        connection = Transaction().connection
        alone = alone and prepared.can_be_alone(connection)
        shape = ('post',)
        if activity is not None:
            shape += ('activity',)
            values.update(activity=activity,
                yesterday=activity - dt.timedelta(days=1))
        if insert is not None:
            Model, record, prefix = insert
            names = tuple(record)
            shape += ('insert', Model.__name__, names, prefix)
            del values['origin'], values['key']
            values.update({'insert_' + n: f(v) for n, f, v in zip(
                        names, formatters(Model, names), record.values())})
            insert = Model, names, prefix
        if link is not None:
            Model, record_id, field, link_values = link
            shape += ('link', Model.__name__, field, tuple(link_values))
            if record_id is not None:
                values['link_id'] = record_id
            values.update({'link_' + n: Model._fields[n].sql_format(v)
                    for n, v in link_values.items()})

        if lock is not None:
            timeout, unless = lock
            shape += ('lock', unless and unless[0])
            if alone:
                shape += ('alone', bool(streak_base))
                # Not a parameter: no give-back to look up (_post_statement)
                del values['reverses']
            values['lock_timeout'] = timeout
            if unless is not None:
                values.update(
                    {'unless_' + n: v for n, v in unless[2].items()})

        def build(**values):
            if lock is not None:
                values['lock'] = (values.pop('lock_timeout'),
                    lock[1] and lock[1][1],
                    {n[len('unless_'):]: values.pop(n) for n in list(values)
                        if n.startswith('unless_')})
            if alone:
                values['reverses'] = None
            return cls._post_statement(**values, link=link and (
                    link[0], link[2], tuple(link[3])), insert=insert,
                alone=alone and (streak_base,))
        if alone:
            row = prepared.fetch_alone((cls.__name__,) + shape, build,
                **values)
        else:
            row = execute((cls.__name__,) + shape, build,
                **values).fetchone()
        if lock is not None and row is not None:
            active, found, *row = row
            row = tuple(row)
            if row[0] is None:
                if active and found is not None:
                    raise LockUnlessFound(found)
                row = None
        if row is None:
            return None
        if alone:
            # Committed: nothing more may be written
            prepared.sealed(connection)
        record_id = None
        if insert is not None:
            row, record_id = row[:-1], row[-1]
            created(insert[0], [record_id])
        row, extended = row[:5], row[5:] or None
        if link is not None and link[1] is not None:
            invalidate_records(link[0], [link[1]])
        return row + (extended, record_id)

    @classmethod
    def _link_line(cls, link, line_id):
        "Set the link (Model, id, field, values) of an entry to line_id"
        Model, record_id, field, link_values = link
        table = Model.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [Column(table, field)]
                + [Column(table, n) for n in link_values],
                [line_id] + [Model._fields[n].sql_format(v)
                    for n, v in link_values.items()],
                where=table.id == record_id))
        invalidate_records(Model, [record_id])

    @classmethod
    def _post_statement(cls, *, member, points, text, code, params,
            date, reversal, allowed, expires, reverses, user, origin=None,
            key=None, lifetime=None, activity=None, yesterday=None,
            link=None, link_id=None, insert=None, lock=None, alone=None,
            **values):
        """The statement that inserts the line of a posting with the
        running balance of the member row (nothing when its key exists or
        the balance would go below zero and it is not allowed) and, on
        PostgreSQL, updates the member row with the inserted line.

        insert (PostgreSQL), (Model, names, prefix): the record of Model of
        the values insert_<name> is inserted first, with the link's field
        set to the id of the line taken from its sequence (the link's
        values link_<name> with it), and is the origin of the line, whose
        key is prefix followed by the record's id: no line when the record
        is refused.  lock (PostgreSQL, with insert), (timeout, unless
        build, its values): the record is inserted only once the statement
        holds the lock of the active member (see member.member.lock_query),
        and with alone, (streak base points,), only when the statement
        committed by itself writes all there is to write (see
        _alone_condition).

        The line of positive points is a lot: what remains of it is what
        it adds to the positive part of the balance, less what it gives
        back to the lots of the spending it reverses (done after it, see
        _give_back): the spending whose key followed by ':' begins its
        key, found in the same statement."""
        pool = Pool()
        Member = pool.get('member.member')
        table = Member.__table__()
        line = cls.__table__()
        spent = cls.__table__()
        zero = Constant(0)
        record = found = None
        locks = []
        if insert is not None:
            Model, names, prefix = insert
            _, field, link_names = link
            target = Model.__table__()
            inserted = [[user, CurrentTimestamp()]
                + [values['insert_' + n] for n in names]
                + [NextId(cls)]
                + [values['link_' + n] for n in link_names]]
            if lock is not None:
                found, locked = Member.lock_query(member, *lock, active=True,
                    condition=(
                        lambda table: cls._alone_condition(table, member,
                            lifetime, prefix, activity, yesterday, *alone))
                    if alone else None)
                locks = [w for w in (found, locked) if w is not None]
                # Selected, the parameters take the types of the columns
                # only when cast
                types = [Model._fields[n].sql_type().base if n else None
                    for n in (['create_uid', None] + list(names) + [None]
                        + list(link_names))]
                inserted = locked.select(*(
                        v if t is None else Cast(Literal(v), t)
                        for v, t in zip(inserted[0], types)))
            record = With('id', 'line', query=target.insert(
                    [target.create_uid, target.create_date]
                    + [Column(target, n) for n in names]
                    + [Column(target, field)]
                    + [Column(target, n) for n in link_names],
                    inserted, on_conflict=Conflict(target),
                    returning=[Returned('id'), Returned(field)]))
            origin = Concat(Model.__name__ + ',', Cast(record.id, 'VARCHAR'))
            key = Concat(prefix, Cast(record.id, 'VARCHAR'))
        else:
            origin, key = Literal(origin), Literal(key)
        old = Coalesce(table.points_balance, zero)
        balance = old + points
        remaining = Case(
            (Literal(points) <= zero, Null),
            (balance <= zero, zero),
            (old <= zero, balance),
            else_=Literal(points))
        if alone:
            # Nothing to give back: the condition of the lock checked it
            # (_alone_condition), the look-up would cost each check-in
            reversed_ = Cast(Null, cls.reverses.sql_type().base)
        else:
            reversed_ = Case(
                (Literal(points) > zero, Coalesce(Literal(reverses),
                        spent.select(spent.id,
                            where=cls._spending(spent, member)
                            & Like(key, Concat(spent.idempotency_key, ':%')),
                            order_by=[spent.id.desc], limit=1))),
                else_=Null)
        expires = Literal(expires)
        if backend.name == 'postgresql':
            # A null parameter would be text in the select
            expires = Cast(expires, cls.expires.sql_type().base)
        columns = [
            line.create_uid, line.create_date, line.member, line.date,
            line.points, line.reason_text, line.reason_code,
            line.reason_params, line.origin, line.idempotency_key,
            line.reversal, line.balance_after, line.expires,
            line.remaining, line.reverses]
        columns_values = [
            Literal(user), CurrentTimestamp(), table.id, Literal(date),
            Literal(points), Literal(text), Literal(code),
            Cast(Literal(params), cls.reason_params.sql_type().base),
            origin, key, Literal(reversal), balance,
            expires, remaining, reversed_]
        from_ = table
        if record is not None:
            columns.insert(0, line.id)
            columns_values.insert(0, record.line)
            from_ = From([table, record])
        posting = line.insert(columns, from_.select(*columns_values,
                where=(table.id == member) & ((balance >= zero) | allowed)),
            on_conflict=Conflict(line),
            returning=[Returned('id'), Returned('balance_after'),
                Returned('reverses')])
        if backend.name != 'postgresql':
            return posting
        posted = With('id', 'balance_after', 'reverses', query=posting)
        with_ = [posted]
        if record is not None:
            with_[:0] = locks + [record]
        elif link is not None:
            Model, field, names = link
            linked = Model.__table__()
            with_.append(With(query=linked.update(
                        [Column(linked, field)]
                        + [Column(linked, n) for n in names],
                        [posted.select(posted.id)]
                        + [values['link_' + n] for n in names],
                        where=linked.id == link_id)))
        update = cls._balance_statement(user, member, posted.balance_after,
            lifetime, table=table, posted=posted,
            with_=with_ if lock is None else None,
            activity=activity, yesterday=yesterday, record=record)
        if lock is None:
            return update
        # A row also when nothing is posted: whether the member is active
        # and the id found by the lock's look-up
        returned = ['c%d' % i for i in range(len(update.returning))]
        updated = With(*returned, query=update)
        row = Member.__table__()
        return row.join(updated, 'LEFT', condition=Literal(True)).select(
            row.active,
            found.select(found.id, limit=1) if found is not None
            else Literal(None),
            *(Column(updated, n) for n in returned),
            where=row.id == member, with_=with_ + [updated])

    @staticmethod
    def _spending(spent, member):
        """The condition that the line of spent is a spending of member
        that a positive line may give back (not a reversal)"""
        return ((spent.member == member) & (spent.points < Constant(0))
            & (Coalesce(spent.reversal, Constant(False)) == Constant(False)))

    @classmethod
    def _alone_condition(cls, table, member, lifetime, prefix, activity,
            yesterday, streak_base):
        """The condition on the member row of table that the posting
        committed alone (see _post_entries) is all there is to write: the
        row is the version its snapshot sees (prepared.unchanged_row: the
        session's READ COMMITTED), update_tiers keeps the
        tier at the new lifetime points (member.member._keeps_tier), the
        line gives back no spending, the activity posts no streak points
        (member.member._activity_posts_nothing)"""
        pool = Pool()
        Member = pool.get('member.member')
        spent = cls.__table__()
        zero = Constant(0)
        condition = (prepared.unchanged_row(table, member)
            & Member._keeps_tier(
                table, Coalesce(table.lifetime_points, zero) + lifetime)
            # The key of the line, prefix followed by the record's id,
            # matches a spending's key followed by ':%' (reversed_ in
            # _post_statement) when prefix without its only ':' matches
            # that key
            & ~Exists(spent.select(Literal(1),
                    where=cls._spending(spent, member)
                    & Like(Literal(prefix[:-1]), spent.idempotency_key))))
        if activity is not None:
            condition &= Member._activity_posts_nothing(
                table, activity, yesterday, streak_base)
        return condition

    @classmethod
    def _balance_statement(cls, user, member, balance, lifetime,
            table=None, posted=None, with_=None, activity=None,
            yesterday=None, record=None):
        """The update of the member row by a posting, and of its streak by
        the activity of that date (PostgreSQL: returning whether it counted,
        the streak length and last activity date), and last the id of the
        record inserted by the posting (see _post_statement)"""
        pool = Pool()
        Member = pool.get('member.member')
        if table is None:
            table = Member.__table__()
        returning = [Returned('lifetime_points'), Returned('tier')]
        columns = [table.points_balance, table.lifetime_points,
            table.write_uid, table.write_date]
        zero = Constant(0)
        values = [balance, Coalesce(table.lifetime_points, zero) + lifetime,
            user, CurrentTimestamp()]
        from_ = []
        if posted is not None:
            from_.append(posted)
            returning = [posted.id, posted.balance_after,
                posted.reverses] + returning
            # Points given back were not earned
            values[1] = Coalesce(table.lifetime_points, zero) + Case(
                (posted.reverses == Null, lifetime), else_=zero)
        where = table.id == member
        if activity is not None:
            # The old row (the update's right-hand sides and this join read
            # the row before the update)
            old = Member.__table__()
            from_.append(old)
            where &= old.id == member
            counts = Member._streak_counts(old, activity)
            streak_columns, streak_values = Member._streak_values(
                table, activity, yesterday)
            columns += streak_columns
            values += [Case((counts, v), else_=c)
                for c, v in zip(streak_columns, streak_values)]
            # Qualified: the join makes the names ambiguous (PostgreSQL
            # only, which takes the alias)
            returning = returning[:-2] + [table.lifetime_points, table.tier,
                counts, table.streak_length, table.last_activity_date]
        if record is not None:
            from_.append(record)
            returning.append(record.id)
        return table.update(columns, values,
            from_=from_ or None, with_=with_, where=where,
            returning=returning)

    @classmethod
    def _lots(cls, member_id):
        """Return [(id, remaining, expires, origin)] of the lots of member
        with points left"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = (table.member == member_id) & (table.remaining > 0)
        cursor.execute(*table.select(
                table.id, table.remaining, table.expires, table.origin,
                where=where))
        return [(i, r, dt.date.fromisoformat(e) if isinstance(e, str)
                else e, o) for i, r, e, o in cursor]

    @classmethod
    def _move_lots(cls, line_id, moves):
        """Change the remainder of the lots by the points of moves [(lot
        id, points)] and record them as allocations of line_id"""
        pool = Pool()
        Allocation = pool.get('member.points.allocation')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        allocation = Allocation.__table__()
        moves = [(l, p) for l, p in moves if p]
        if not moves:
            return
        for lot_id, points in moves:
            cursor.execute(*table.update([table.remaining],
                    [table.remaining + points], where=table.id == lot_id))
        cursor.execute(*allocation.insert(
                [allocation.create_uid, allocation.create_date,
                    allocation.line, allocation.lot, allocation.points],
                [[transaction.user, CurrentTimestamp(), line_id, l, p]
                    for l, p in moves]))
        invalidate_records(cls, [l for l, _ in moves])

    @classmethod
    def _lot_order(cls, lots, origin=None):
        """Sort the lots [(id, remaining, expires, origin)] in the order
        spending takes them: those of origin first (a reversal), then those
        that expire first, never-expiring last, then the oldest"""
        return sorted(lots, key=lambda l: (
                origin is None or l[3] != origin,
                l[2] is None, l[2] or dt.date.min, l[0]))

    @classmethod
    def _take_from_lots(cls, line_id, values):
        """Take the points of the negative line_id from the lots of its
        member: from lot first for an expiry, then in _lot_order.  What the
        lots cannot cover (a balance allowed below zero) is taken from the
        next points earned."""
        need = -values['points']
        lots = cls._lot_order(cls._lots(values['member']),
            origin=values['origin'] if values['reversal'] else None)
        if values['lot'] is not None:
            lots.sort(key=lambda l: l[0] != values['lot'])
        moves = []
        for lot_id, remaining, _, _ in lots:
            if need <= 0:
                break
            take = min(need, remaining)
            moves.append((lot_id, -take))
            need -= take
        cls._move_lots(line_id, moves)

    @classmethod
    def _give_back(cls, line_id, spending_id, values, balance):
        """Give the points of line_id back to the lots that the spending
        took them from (latest taken first, those given back before
        excepted), as far as the positive part of the balance grows; the
        rest stays on line_id as a lot of its own"""
        pool = Pool()
        Allocation = pool.get('member.points.allocation')
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        allocation = Allocation.__table__()
        line = cls.__table__()
        old = balance - values['points']
        gain = max(balance, 0) - max(old, 0)
        cursor.execute(*allocation.join(line,
                condition=allocation.line == line.id
                ).select(allocation.lot, Sum(allocation.points),
                where=(line.id == spending_id)
                | (line.reverses == spending_id),
                group_by=[allocation.lot],
                order_by=[allocation.lot.desc]))
        taken = [(l, -p) for l, p in cursor if p < 0]
        moves = []
        for lot_id, points in taken:
            if gain <= 0:
                break
            back = min(points, gain)
            moves.append((lot_id, back))
            gain -= back
        if moves:
            cls._move_lots(line_id, moves)
            cursor.execute(*table.update([table.remaining],
                    [table.remaining - sum(p for _, p in moves)],
                    where=table.id == line_id))

    @classmethod
    def lots_expiring(cls, members, until, after=None):
        """Return {member id: (points, first date)} of the remainders of the
        lots of members that expire on or before until (and after after)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = {}
        for sub_ids in grouped_slice([int(m) for m in members], SLICE):
            cursor.execute(*table.select(
                    table.member, Sum(table.remaining), Min(table.expires),
                    where=fields.SQL_OPERATORS['in'](table.member, sub_ids)
                    & (table.remaining > 0) & (table.expires != Null)
                    & (table.expires <= until)
                    & ((table.expires > after) if after is not None
                        else Literal(True)),
                    group_by=[table.member]))
            for member_id, points, date in cursor:
                if isinstance(date, str):
                    date = dt.date.fromisoformat(date)
                result[member_id] = (int(points), date)
        return result

    @classmethod
    def expire(cls, date=None):
        """Post an expiry line for the remainder of every lot whose expiry
        date is on or before date (default: the local today), run by the
        scheduler.

        The members are locked before their lots are read; the key
        `expiry:<lot>:<n>` (n counts the expiries of the lot, which may
        expire again when a give-back returns points to it) makes each
        expiry posted once, whatever the runs and the processes."""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Member = pool.get('member.member')
        if date is None:
            date = Configuration.get_cached().local_date()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        due = (table.remaining > 0) & (table.expires != Null) & (
            table.expires <= date)
        cursor.execute(*table.select(table.member, where=due,
                group_by=[table.member], order_by=[table.member]))
        member_ids = [m for m, in cursor]
        lines = []
        for sub_ids in grouped_slice(member_ids, SLICE):
            sub_ids = list(sub_ids)
            with without_check_access():
                Member.hold_lock(Member.browse(sub_ids))
            cursor.execute(*table.select(
                    table.id, table.member, table.remaining, table.expires,
                    where=due & fields.SQL_OPERATORS['in'](
                        table.member, sub_ids),
                    order_by=[table.member, table.id]))
            lots = cursor.fetchall()
            expired = cls._expiry_counts([l for l, *_ in lots])
            entries = []
            for lot_id, member_id, remaining, expires in lots:
                if isinstance(expires, str):
                    expires = dt.date.fromisoformat(expires)
                entries.append({
                        'member': member_id,
                        'points': -remaining,
                        'reason': ('member.msg_points_expiry_reason', {
                                'date': expires}),
                        'origin': '%s,%d' % (cls.__name__, lot_id),
                        'key': 'expiry:%d:%d' % (
                            lot_id, expired.get(lot_id, 0) + 1),
                        'lot': lot_id,
                        })
            with Transaction().set_user(0), without_check_access():
                lines.extend(cls.post(entries))
        return lines

    @classmethod
    def _expiry_counts(cls, lot_ids):
        "Return {lot id: number of expiry lines} of lot_ids"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = {}
        origins = ['%s,%d' % (cls.__name__, i) for i in lot_ids]
        for sub_origins in grouped_slice(origins, SLICE):
            cursor.execute(*table.select(table.origin, Count(table.id),
                    where=fields.SQL_OPERATORS['in'](
                        table.origin, list(sub_origins))
                    & (table.points < 0),
                    group_by=[table.origin]))
            for origin, count in cursor:
                result[int(origin.split(',')[1])] = count
        return result

    @classmethod
    def notify_expiring(cls, date=None):
        """Queue the notice of the points that expire within the notice
        days of the configuration to their members, once per member and
        first expiry date (run by the scheduler).  The outbox sends it on
        the channels that reach the member: WeChat only while the member
        has a subscription credit for it."""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Member = pool.get('member.member')
        Message = pool.get('outbox.message')
        config = Configuration(1)
        if not config.expiry_notice_days:
            return []
        if date is None:
            date = config.local_date()
        until = date + dt.timedelta(days=config.expiry_notice_days)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.member,
                where=(table.remaining > 0) & (table.expires != Null)
                & (table.expires > date) & (table.expires <= until),
                group_by=[table.member], order_by=[table.member]))
        member_ids = [m for m, in cursor]
        values = []
        with without_check_access():
            for sub_ids in grouped_slice(member_ids, SLICE):
                sub_ids = list(sub_ids)
                expiring = cls.lots_expiring(sub_ids, until, after=date)
                for member in Member.browse(sub_ids):
                    if member.id not in expiring or not member.active:
                        continue
                    points, first = expiring[member.id]
                    values.append({
                            'template': 'points_expiring',
                            'party': member.party.id,
                            'payload': {
                                'member': member.rec_name,
                                'points': points,
                                'date': first.isoformat(),
                                'balance': member.points_balance,
                                },
                            'origin': str(member),
                            'dedup_key': 'points-expiring:%d:%s' % (
                                member.id, first.isoformat()),
                            })
            return Message.queue(values)

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


class Allocation(_PostedOnly, ModelSQL, ModelView):
    "Points Allocation"
    __name__ = 'member.points.allocation'

    line = fields.Many2One(
        'member.points.line', "Line", required=True, readonly=True,
        ondelete='RESTRICT',
        help="The line that took the points (spending, expiry) or gave "
        "them back.")
    lot = fields.Many2One(
        'member.points.line', "Lot", required=True, readonly=True,
        ondelete='RESTRICT', help="The line that earned the points.")
    points = fields.Integer(
        "Points", required=True, readonly=True,
        help="Negative when taken from the lot, positive when given back.")
    lot_expires = fields.Function(
        fields.Date("Lot Expires"), 'get_lot_field')
    lot_date = fields.Function(
        fields.DateTime("Lot Date"), 'get_lot_field')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('line')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.line, Index.Range())),
                Index(t, (t.lot, Index.Range())),
                })
        cls._order.insert(0, ('line', 'ASC'))

    def get_lot_field(self, name):
        return getattr(self.lot, name[len('lot_'):])


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
