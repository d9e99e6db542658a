# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from decimal import Decimal

from sql import Literal
from sql.aggregate import Count

from trytond.cache import Cache
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .member import SLICE

# The thresholds of the active tiers, read by every points posting
_thresholds_cache = Cache('member.tier.thresholds', context=False)


class Tier(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Member Tier"
    __name__ = 'member.tier'

    code = fields.Char("Code", required=True, strip=True)
    name = fields.Char("Name", required=True, translate=True)
    threshold = fields.Integer(
        "Threshold", required=True,
        domain=[('threshold', '>=', 0)],
        help="The lifetime points a member needs to reach this tier.")
    discount = fields.Numeric(
        "Booking Discount", digits=(None, 2), required=True,
        domain=[('discount', '>=', 0), ('discount', '<=', 100)],
        help="In %, applied to the price of booked services.")
    points_multiplier = fields.Numeric(
        "Points Multiplier", digits=(None, 2), required=True,
        domain=[('points_multiplier', '>', 0)],
        help="Multiplies the points earned with bookings.")
    priority_days = fields.Integer(
        "Priority Booking Days", required=True,
        domain=[('priority_days', '>=', 0)],
        help="How many days further ahead than the default horizon "
        "members of this tier may book.")
    free_cancel_hours = fields.Integer(
        "Free Cancellation Hours", required=True,
        domain=[('free_cancel_hours', '>=', 0)],
        help="Until how many hours before the appointment members of this "
        "tier may cancel a booking.")
    members = fields.One2Many(
        'member.member', 'tier', "Members", readonly=True)
    member_count = fields.Function(
        fields.Integer("Members"), 'get_member_count')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code), 'member.msg_tier_code_unique'),
            ]
        cls._order = [('threshold', 'ASC'), ('id', 'ASC')]

    @classmethod
    def on_modification(cls, mode, tiers, field_names=None):
        super().on_modification(mode, tiers, field_names=field_names)
        _thresholds_cache.clear()

    @classmethod
    def default_threshold(cls):
        return 0

    @classmethod
    def default_discount(cls):
        return Decimal(0)

    @classmethod
    def default_points_multiplier(cls):
        return Decimal(1)

    @classmethod
    def default_priority_days(cls):
        return 0

    @classmethod
    def default_free_cancel_hours(cls):
        return 24

    @classmethod
    def get_member_count(cls, tiers, name):
        pool = Pool()
        Member = pool.get('member.member')
        member = Member.__table__()
        cursor = Transaction().connection.cursor()
        counts = {t.id: 0 for t in tiers}
        for sub_ids in grouped_slice([t.id for t in tiers], SLICE):
            cursor.execute(*member.select(
                    member.tier, Count(member.id),
                    where=fields.SQL_OPERATORS['in'](member.tier, sub_ids)
                    & (member.active == Literal(True)),
                    group_by=[member.tier]))
            counts.update(cursor)
        return counts

    @classmethod
    def thresholds(cls):
        "Return {tier id: threshold} of the active tiers (cached)"
        result = _thresholds_cache.get(None)
        if result is None:
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.select(table.id, table.threshold,
                    where=table.active == Literal(True)))
            # What the cache keeps (a read-only copy): the same answer
            # when it is kept as when it is read back
            result = _thresholds_cache.set(None, dict(cursor))
        return result

    @staticmethod
    def reached(thresholds, lifetime_points):
        """Return the id of the tier of thresholds reached with
        lifetime_points: the highest threshold (then id) reached"""
        reached = [(t, i) for i, t in thresholds.items()
            if t <= lifetime_points]
        return max(reached)[1] if reached else None
