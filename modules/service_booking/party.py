# This file is part of the service_booking module.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import Pool, PoolMeta


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Booking = pool.get('booking.booking')
        Rating = pool.get('booking.rating')
        to_erase = super().to_erase(party_id)
        # The bookings stay for the figures of their services and
        # resources, without the member's address, its position (and that
        # of the technician at the door, which is the same place) and notes
        address = ['address', 'latitude', 'longitude', 'door_latitude',
            'door_longitude', 'note']
        to_erase.append(
            (Booking, [('member.party', '=', party_id)], True,
                address, [None] * len(address)))
        # The stars stay in the averages, the member's words go
        to_erase.append(
            (Rating, [('member.party', '=', party_id)], True,
                ['comment'], [None]))
        return to_erase
