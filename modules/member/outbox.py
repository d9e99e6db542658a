# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""What the outbox cannot know: the WeChat OpenID and the phone of a party
(its member's) and the messages of the outbox when it was part of this
module."""
from trytond import backend
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


def _member_to_party(model):
    """Migration from the outbox in the member module: the recipient of the
    rows of model was a member, it is the member's party"""
    pool = Pool()
    Member = pool.get('member.member')
    table_h = model.__table_handler__()
    if not table_h.column_exist('member'):
        return
    table = model.__table__()
    member = Member.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update(
            [table.party],
            [member.select(member.party, where=member.id == table.member)],
            where=table.member != None))  # noqa: E711
    table_h.drop_column('member')


class _MemberToParty:
    __slots__ = ()

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        if backend.TableHandler.table_exist('member_member'):
            _member_to_party(cls)


class Subscription(_MemberToParty, metaclass=PoolMeta):
    __name__ = 'outbox.subscription'


class Message(_MemberToParty, metaclass=PoolMeta):
    __name__ = 'outbox.message'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['member.member']

    @classmethod
    def _recipient_wechat(cls, template, party, user):
        "The OpenID of the member of party for a WeChat template"
        pool = Pool()
        Member = pool.get('member.member')
        recipient = super()._recipient_wechat(template, party, user)
        if recipient or not party or not template.wechat_template_id:
            return recipient
        with Transaction().set_context(active_test=False):
            members = Member.search([('party', '=', party.id)], limit=1)
        if members:
            return members[0].wechat_openid or None

    @classmethod
    def _recipient_sms(cls, template, party, user):
        "The phone of the member of party for an SMS template"
        pool = Pool()
        Member = pool.get('member.member')
        if party and template.sms_template_id:
            members = Member.search([('party', '=', party.id)], limit=1)
            if members and members[0].phone:
                return members[0].phone
        return super()._recipient_sms(template, party, user)
