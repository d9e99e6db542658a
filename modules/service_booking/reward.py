# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
from decimal import Decimal

from sql import Null
from sql.aggregate import Sum

from trytond.i18n import gettext
from trytond.model import fields
from trytond.modules.member.exceptions import InvalidCouponError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

# The states of a booking whose points are promised until it is confirmed
RESERVING_STATES = ('pending', 'confirmed')
# Ids per SQL query in batch reads
SLICE = 1000


class Reward(metaclass=PoolMeta):
    __name__ = 'member.reward'

    service = fields.Many2One(
        'booking.service', "Service", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        states={
            'required': Eval('kind') == 'service',
            'invisible': Eval('kind') != 'service',
            },
        help="The service that the voucher pays for.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('service', "Service Voucher"))

    def booking_amount(self, booking, price):
        """Return the part of price (the price of booking after the tier
        discount) that a coupon of the reward pays, or None when a booking
        does not accept it"""
        if price is None:
            return None
        if self.kind == 'service':
            if booking.service and self.service == booking.service:
                return price
            return None
        elif self.kind == 'discount':
            return min(self.amount or Decimal(0), price)
        return None


class Redemption(metaclass=PoolMeta):
    __name__ = 'member.reward.redemption'

    @classmethod
    def _get_used_by(cls):
        return super()._get_used_by() + ['booking.booking']

    def check_booking(self, booking):
        """Raise InvalidCouponError unless the coupon may pay booking: of
        its member, usable today and of a reward that bookings of its
        service accept"""
        if booking.member and self.member != booking.member:
            raise InvalidCouponError(gettext(
                    'member.msg_coupon_unknown', code=self.code),
                details={'reason': 'unknown', 'code': self.code})
        if self.state == 'used' and self.used_by == booking:
            # Taken by the booking itself before (submitted again)
            pass
        else:
            self.check_usable()
        if self.reward.booking_amount(booking, Decimal(1)) is None:
            raise InvalidCouponError(gettext(
                    'service_booking.msg_coupon_not_applicable',
                    code=self.code, reward=self.reward.rec_name,
                    service=booking.service.rec_name),
                details={'reason': 'not_applicable', 'code': self.code})


class Member(metaclass=PoolMeta):
    __name__ = 'member.member'

    @classmethod
    def reserved_points(cls, members):
        """The points of the pending and confirmed bookings that were not
        taken yet"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        result = super().reserved_points(members)
        booking = Booking.__table__()
        cursor = Transaction().connection.cursor()
        for sub_ids in grouped_slice(list(result), SLICE):
            cursor.execute(*booking.select(
                    booking.member, Sum(booking.points_used),
                    where=fields.SQL_OPERATORS['in'](
                        booking.member, list(sub_ids))
                    & booking.state.in_(list(RESERVING_STATES))
                    & (booking.points_spend_line == Null)
                    & (booking.points_used > 0),
                    group_by=[booking.member]))
            for member_id, points in cursor:
                result[member_id] += int(points or 0)
        return result
