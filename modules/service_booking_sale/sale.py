# This file is part of the service_booking_sale module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

from .exceptions import SaleLineBookingError


class Sale(metaclass=PoolMeta):
    __name__ = 'sale.sale'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['booking.booking']


class Line(metaclass=PoolMeta):
    __name__ = 'sale.line'

    booking = fields.Many2One(
        'booking.booking', "Booking", readonly=True, ondelete='RESTRICT',
        help="The booking that the line bills.")

    @classmethod
    def copy(cls, lines, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('booking', None)
        return super().copy(lines, default=default)

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        pool = Pool()
        Booking = pool.get('booking.booking')
        super().check_modification(
            mode, lines, values=values, external=external)
        # Only the bookings link their lines
        if external and mode in {'create', 'write'} and 'booking' in values:
            raise AccessError(gettext(
                    'service_booking_sale.msg_line_booking_set'))
        if mode == 'delete':
            # The lines of a booking go together: the booking is billed
            # again as a whole
            ids = {l.id for l in lines}
            bookings = {l.booking.id for l in lines if l.booking}
            if bookings:
                with without_check_access():
                    others = cls.search([
                            ('booking', 'in', list(bookings)),
                            ('id', 'not in', list(ids)),
                            ], limit=1)
                if others:
                    other, = others
                    raise SaleLineBookingError(gettext(
                            'service_booking_sale.msg_line_delete_booking',
                            booking=Booking(other.booking.id).rec_name,
                            line=other.rec_name))
