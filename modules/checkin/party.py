# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import Pool, PoolMeta


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        to_erase = super().to_erase(party_id)
        # The check-ins stay for the statistics of their events (status,
        # time, distance) without where the member was
        to_erase.append(
            (Attendance, [('member.party', '=', party_id)], False,
                ['latitude', 'longitude', 'accuracy', 'bssid'],
                [None] * 4))
        return to_erase
