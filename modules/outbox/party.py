# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import Pool, PoolMeta


class Replace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('outbox.message', 'party'),
            ]


class Erase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Message = pool.get('outbox.message')
        Subscription = pool.get('outbox.subscription')
        to_erase = super().to_erase(party_id)
        domain = [('party', '=', party_id)]
        to_erase.extend([
                # Nothing more is sent to an erased party
                (Message, domain + [('state', '=', 'queued')], False,
                    ['state'],
                    ['cancelled']),
                (Message, domain, True,
                    ['recipient', 'payload', 'subject', 'body',
                        'attachment', 'attachment_name', 'last_error'],
                    [None] * 7),
                (Subscription, domain, False,
                    ['credits'],
                    [0]),
                ])
        return to_erase
