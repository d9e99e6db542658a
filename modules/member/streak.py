# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt

from sql import Literal, Null
from sql.conditionals import Case, Coalesce
from sql.functions import CurrentTimestamp
from sql.operators import Exists, Mod

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.suite import tools
from trytond.modules.suite.fields import Constant
from trytond.pool import Pool, PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction

from .configuration import clear_cached
from .points import check_points_manager
from .prepared import Returned, execute, invalidate_records


def _activity_result(result):
    result = dict(result)
    if result.get('line') is not None:
        result['line'] = result['line'].id
    return result


class Member(metaclass=PoolMeta):
    __name__ = 'member.member'

    streak_length = fields.Integer(
        "Streak Length", readonly=True,
        help="The length of the last run of consecutive active days.")
    streak_days = fields.Function(
        fields.Integer(
            "Current Streak",
            help="Consecutive active days up to today or yesterday."),
        'get_streak_days')
    best_streak = fields.Integer("Best Streak", readonly=True)
    last_activity_date = fields.Date("Last Activity", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'record_daily_activity': RPC(
                    readonly=False, result=_activity_result),
                })

    @classmethod
    def default_streak_length(cls):
        return 0

    @classmethod
    def default_best_streak(cls):
        return 0

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
    def balance_and_streak(cls, member_id):
        """Return the points balance and the streak days (see
        get_streak_days) of member, read in one SQL query"""
        balance, last, length = cls._streak_row(int(member_id))
        return balance or 0, cls._streak_days(last, length)

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

        Return a dictionary with the keys: counted (bool), streak, points,
        line, balance_after and date (the local date of the activity).
        """
        return cls._daily_activity(member, date=date, origin=origin,
            reason=reason, base_points=base_points)

    @classmethod
    def _daily_activity(cls, member, date=None, origin=None, reason=None,
            base_points=None, entry=None):
        """record_daily_activity, posting first the ledger entry (see
        member.points.line.post) of member when given: on PostgreSQL the
        streak is then extended by the posting's own statement.  The result
        has then also the key entry_line: the line of entry.

        Return None when entry inserts its origin and the database refuses
        it (see member.points.line._post_entries): nothing is done.  The
        record inserted is then the origin of the streak's points."""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Line = pool.get('member.points.line')
        Member = pool.get('member.member')
        config = Configuration.get_cached()
        if entry is None:
            # Else checked by the posting of entry, before it writes
            check_points_manager()
        if date is None:
            date = config.local_date()
        elif isinstance(date, dt.datetime):
            date = config.local_date(date)
        member_id = int(member)
        if entry is None or entry.get('lock') is None:
            # Else taken by the posting of entry
            cls.hold_lock([tools.instance(cls, member_id)])
        state = None
        result = {'points': 0, 'line': None, 'balance_after': None,
            'date': date}
        if entry is not None:
            entry = dict(entry, member=member_id, activity=date)
            if entry.get('alone'):
                # The statement committed alone posts nothing when the day
                # would post streak points (see _activity_posts_nothing)
                entry['streak_base'] = (base_points if base_points is not None
                    else config.streak_base_points or 0)
            (line, state), = Line._post_entries([entry])
            if entry.get('insert') is not None:
                if line is None:
                    return None
                origin = line.origin
            result['entry_line'] = line
        if state is None:
            state = cls._extend_streak(member_id, date, state=True)
        counted, length, last = state
        if isinstance(last, str):
            last = dt.date.fromisoformat(last)
        streak = length if counted else None
        result.update(counted=counted, streak=streak)
        if streak is None:
            result['streak'] = length if date == last else None
            return result
        points = config.streak_points(streak, base_points=base_points)
        if points:
            reason = reason or ('member.msg_streak_reason', {
                    'date': date, 'streak': streak})
            line = Member.add_points(tools.instance(cls, member_id), points,
                reason, origin=origin,
                key='streak:%s:%s' % (member_id, date.isoformat()))
            result.update(points=points, line=line,
                balance_after=line.balance_after)
        return result

    @classmethod
    def _activity_posts_nothing(cls, table, date, yesterday, base_points):
        """The condition that the activity of date posts no streak points
        for the member row of table (an SQL expression; _daily_activity,
        config.streak_points): the day does not count, or it counts without
        base_points and no streak rule applies to the streak it reaches (a
        statement committed alone requires it: member.points.line.
        _post_statement)"""
        pool = Pool()
        Rule = pool.get('member.streak.rule')
        counts = cls._streak_counts(table, date)
        if base_points:
            return ~counts
        rule = Rule.__table__()
        length = cls._streak_values(table, date, yesterday)[1][0]
        applies = Case(
            (rule.repeat == Literal(True),
                (length > Constant(0))
                & (Mod(length, rule.day) == Constant(0))),
            else_=length == rule.day)
        # The rules of the configuration, the only record of a singleton
        return ~counts | ~Exists(rule.select(Literal(1), where=applies))

    @classmethod
    def _streak_counts(cls, table, date):
        "Whether date counts in the streak of the member row of table"
        return ((table.last_activity_date == Null)
            | (table.last_activity_date < date))

    @classmethod
    def streak_counts(cls, last_activity_date, date):
        """Whether date counts in the streak after last_activity_date: the
        rule of _streak_counts, for a caller that knows the date (the
        offline sync, which plans its postings)"""
        return last_activity_date is None or last_activity_date < date

    @classmethod
    def _streak_values(cls, table, date, yesterday):
        """The streak columns of table and their values once date counts
        (the right-hand sides read the old values): the one home of the
        streak rule, used by _extend_streak and by the points posting that
        extends the streak in its own statement (PostgreSQL)"""
        streak = Case(
            (table.last_activity_date == yesterday,
                Coalesce(table.streak_length, Constant(0)) + Constant(1)),
            else_=Constant(1))
        return ([table.streak_length, table.best_streak,
                table.last_activity_date],
            [streak, Case((Coalesce(table.best_streak, Constant(0)) >= streak,
                        table.best_streak), else_=streak),
                date])

    @classmethod
    def _extend_streak(cls, member_id, date, state=False):
        """Count date in the streak of member and return the new length, or
        None when the day was counted already (or is earlier); with state,
        return (counted, streak length, last activity date) after it.

        One statement on the locked row: the streak columns are computed
        here only (see _streak_values), and the ORM write would cost more
        than the whole check-in."""
        transaction = Transaction()

        def update(member_id, date, yesterday, user):
            table = cls.__table__()
            columns, values = cls._streak_values(table, date, yesterday)
            return table.update(
                columns + [table.write_uid, table.write_date],
                values + [user, CurrentTimestamp()],
                where=(table.id == member_id)
                & cls._streak_counts(table, date),
                returning=[Returned('streak_length')])
        cursor = execute((cls.__name__, 'streak'), update,
            member_id=member_id, date=date,
            yesterday=date - dt.timedelta(days=1), user=transaction.user)
        row = cursor.fetchone()
        if row:
            invalidate_records(cls, [member_id])
        if not state:
            return row[0] if row else None
        if row:
            return True, row[0], date
        _, last, length = cls._streak_row(member_id)
        return False, length, last

    @classmethod
    def _streak_row(cls, member_id):
        """Return the points balance, the last active date and the streak
        length of member, read from the table"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.points_balance, table.last_activity_date,
                table.streak_length, where=table.id == member_id))
        balance, last, length = cursor.fetchone()
        if isinstance(last, str):
            last = dt.date.fromisoformat(last)
        return balance, last, length


class StreakRule(ModelSQL, ModelView):
    "Streak Bonus"
    __name__ = 'member.streak.rule'

    configuration = fields.Many2One(
        'member.configuration', "Configuration", required=True,
        ondelete='CASCADE')
    day = fields.Integer(
        "Streak Day", required=True,
        domain=[('day', '>', 0)],
        help="The length of the streak on which the bonus is awarded.")
    repeat = fields.Boolean(
        "Repeat",
        help="If checked, the bonus is awarded on every multiple of the "
        "streak day.")
    bonus = fields.Integer(
        "Bonus Points", required=True,
        domain=[('bonus', '>', 0)])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('configuration')
        cls._order.insert(0, ('day', 'ASC'))

    @classmethod
    def default_configuration(cls):
        return 1

    @classmethod
    def on_modification(cls, mode, rules, field_names=None):
        super().on_modification(mode, rules, field_names=field_names)
        clear_cached()

    def applies(self, streak):
        if self.repeat:
            return streak > 0 and streak % self.day == 0
        return streak == self.day
