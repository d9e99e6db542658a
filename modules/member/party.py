# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .exceptions import ReplaceMemberError


class Replace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('member.member', 'party'),
            ]

    def check_similarity(self):
        pool = Pool()
        Member = pool.get('member.member')
        super().check_similarity()
        # A party is the member once: the source's member moves to the
        # destination only when the destination is no member yet
        source, destination = self.ask.source, self.ask.destination
        if (Member.search([('party', '=', source.id)], limit=1)
                and Member.search(
                    [('party', '=', destination.id)], limit=1)):
            raise ReplaceMemberError(gettext(
                    'member.msg_replace_both_members',
                    source=source.rec_name,
                    destination=destination.rec_name))


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Member = pool.get('member.member')
        to_erase = super().to_erase(party_id)
        to_erase.extend([
                (Member, [('party', '=', party_id)], True,
                    ['phone', 'wechat_openid', 'wechat_unionid',
                        'avatar_url', 'address', 'password_hash', 'user'],
                    [None] * 7),
                ])
        return to_erase

    def transition_erase(self):
        state = super().transition_erase()
        # Erased with SQL: the records read before in the transaction (an
        # account deletion goes on after the erase) must not be served
        # from its cache
        Transaction().cache.clear()
        return state
