# This file is part of the service_booking module.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import Pool, PoolMeta


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Booking = pool.get('booking.booking')
        to_erase = super().to_erase(party_id)
        # The bookings stay for the figures of their services and
        # resources, without the member's address and notes
        to_erase.append(
            (Booking, [('member.party', '=', party_id)], True,
                ['address', 'note'],
                [None, None]))
        return to_erase
