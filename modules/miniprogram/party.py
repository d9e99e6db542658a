# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from sql.functions import CurrentTimestamp

from trytond.pool import Pool, PoolMeta


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Member = pool.get('member.member')
        RefreshToken = pool.get('miniprogram.refresh_token')
        Code = pool.get('miniprogram.sms.code')
        to_erase = super().to_erase(party_id)
        to_erase.extend([
                (Member, [('party', '=', party_id)], False,
                    ['wechat_session_key'],
                    [None]),
                # No token of an erased member works again
                (RefreshToken, [
                        ('member.party', '=', party_id),
                        ('revoked', '=', None),
                        ], False,
                    ['revoked', 'revoke_reason'],
                    [CurrentTimestamp(), 'erased']),
                (Code, [('member.party', '=', party_id)], False,
                    ['phone', 'code_hash'], [None, None]),
                ])
        return to_erase
