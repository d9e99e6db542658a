# This file is part of the service_booking_timesheet module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
from trytond.i18n import gettext
from trytond.model import Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import PoolMeta


class Line(metaclass=PoolMeta):
    __name__ = 'timesheet.line'

    booking = fields.Many2One(
        'booking.booking', "Booking", readonly=True, ondelete='CASCADE',
        help="The booking whose time the line records.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            # One line per booking: the transfer is idempotent
            ('booking_unique', Unique(t, t.booking),
                'service_booking_timesheet.msg_line_booking_unique'),
            ]

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(
            mode, lines, values=values, external=external)
        # Only the bookings link their lines
        if external and mode in {'create', 'write'} and 'booking' in values:
            raise AccessError(gettext(
                    'service_booking_timesheet.msg_line_booking_set'))
