# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import PoolMeta


class PointsLine(metaclass=PoolMeta):
    __name__ = 'member.points.line'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['booking.booking']

    @classmethod
    def _reason_codes(cls):
        return super()._reason_codes() + [
            'service_booking.msg_booking_points_reason',
            'service_booking.msg_booking_points_spent',
            'service_booking.msg_booking_points_refund',
            'service_booking.msg_booking_no_show_points']


class Message(metaclass=PoolMeta):
    __name__ = 'outbox.message'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['booking.booking', 'booking.waitlist']
