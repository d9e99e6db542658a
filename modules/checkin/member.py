# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import PoolMeta


class PointsLine(metaclass=PoolMeta):
    __name__ = 'member.points.line'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['checkin.attendance']

    @classmethod
    def _reason_codes(cls):
        return super()._reason_codes() + ['checkin.msg_points_reason',
            'checkin.msg_points_reversal_reason']


class Message(metaclass=PoolMeta):
    __name__ = 'outbox.message'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['checkin.event']
