# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
from decimal import Decimal

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access


class Configuration(metaclass=PoolMeta):
    __name__ = 'member.configuration'

    point_value = fields.Numeric(
        "Point Value", digits=(16, 4), required=True,
        domain=[('point_value', '>=', 0)],
        help="The amount a point pays of a booking, in the currency of the "
        "company.\n"
        "Zero: points cannot pay bookings.")
    points_max_share = fields.Numeric(
        "Points Maximum Share", digits=(None, 2), required=True,
        domain=[
            ('points_max_share', '>=', 0),
            ('points_max_share', '<=', 100),
            ],
        help="In %, the largest part of the price of a booking (after the "
        "tier discount and the coupon) that points may pay.\n"
        "A tier may set its own.")

    @classmethod
    def default_point_value(cls):
        return Decimal('0.01')

    @classmethod
    def default_points_max_share(cls):
        return Decimal(50)

    @classmethod
    def points_rule(cls, member=None):
        """Return the value of a point and the largest share (%) of a price
        that points may pay for member: the share of the member's tier when
        it sets one"""
        pool = Pool()
        Config = pool.get('member.configuration')
        with without_check_access():
            config = Config(1)
            value = config.point_value or Decimal(0)
            share = config.points_max_share
        if member is not None and member.tier:
            if member.tier.points_max_share is not None:
                share = member.tier.points_max_share
        return value, share if share is not None else Decimal(0)


class Tier(metaclass=PoolMeta):
    __name__ = 'member.tier'

    points_max_share = fields.Numeric(
        "Points Maximum Share", digits=(None, 2),
        domain=['OR',
            ('points_max_share', '=', None),
            [
                ('points_max_share', '>=', 0),
                ('points_max_share', '<=', 100),
                ],
            ],
        help="In %, the largest part of a booking's price that the points "
        "of the members of this tier may pay.\n"
        "Leave empty for the share of the member configuration.")
