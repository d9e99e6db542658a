# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.modules.suite import clock
from trytond.pool import Pool, PoolMeta
from trytond.tools import timezone as tz
from trytond.transaction import Transaction

from .configuration import company_timezone
from .member import context_member

# The models whose record rules depend on the member of the request (the
# messages and subscriptions of the outbox through the member's party)
OUTBOX_RULE_MODELS = {'outbox.message', 'outbox.subscription'}
MEMBER_RULE_MODELS = {
    'member.member', 'member.points.line', 'member.reward.redemption'} | (
    OUTBOX_RULE_MODELS)


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _member_rule_models(cls):
        "Models whose rules read `member_id`; other modules extend it"
        return MEMBER_RULE_MODELS

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name in cls._member_rule_models():
            context['member_id'] = member_id = context_member() or -1
            if model_name in OUTBOX_RULE_MODELS:
                context['member_party_id'] = cls._member_party_id(member_id)
        return context

    @classmethod
    def _member_party_id(cls, member_id):
        "Return the party of the member (read apart from the record rules)"
        pool = Pool()
        Member = pool.get('member.member')
        member = Member.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*member.select(
                member.party, where=member.id == member_id))
        row = cursor.fetchone()
        return row[0] if row else -1

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if model_names & cls._member_rule_models():
            # The member is in the request, which Tryton's caches ignore
            key = (*key, context_member() or -1)
        return key


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('member.member|recompute_tiers', "Recompute Member Tiers"),
                ('member.points.line|expire', "Expire Points"),
                ('member.points.line|notify_expiring',
                    "Notify Members of Expiring Points"),
                ])


class Date(metaclass=PoolMeta):
    __name__ = 'ir.date'

    @classmethod
    def today(cls, timezone=None):
        """Return the current date of the clock of the suite (see clock), in
        timezone or the time zone of the company of the context, as the
        company module does; otherwise in the time zone of the member
        configuration (the local day of the suite), not the server's (UTC:
        yesterday before 08:00 in Shanghai)"""
        Configuration = Pool().get('member.configuration')
        if timezone is None:
            company = company_timezone()
            timezone = (tz.ZoneInfo(company) if company
                else Configuration.get_cached().tzinfo)
        return clock.today(timezone)
