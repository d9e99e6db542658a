# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

# The models whose record rules depend on the user (the organizers)
USER_RULE_MODELS = {
    'checkin.event', 'checkin.attendance', 'checkin.event-res.user',
    'checkin.event-member.member', 'checkin.attendance.conflict',
    }


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _member_rule_models(cls):
        return super()._member_rule_models() | {'checkin.attendance'}

    @classmethod
    def _user_rule_models(cls):
        "The models whose rules use user_id (extended by other modules)"
        return USER_RULE_MODELS

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name in cls._user_rule_models():
            context['user_id'] = Transaction().user
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if model_names & cls._user_rule_models():
            key = (*key, Transaction().user)
        return key


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('checkin.event|update_states',
                    "Open and Close Check-in Events"),
                ('checkin.event|rotate_secrets',
                    "Rotate Check-in Secrets"),
                ('checkin.event|send_missed_reminders',
                    "Remind Members Who Have Not Checked In"),
                ('checkin.event|send_daily_reports',
                    "Send the Daily Check-in Reports"),
                ('checkin.event|close_missing_checkouts',
                    "Close the Check-ins without Check-out"),
                ('checkin.attempt.counter|purge',
                    "Purge Old Check-in Attempt Counters"),
                ('checkin.attendance.conflict|detect_recent',
                    "Detect Check-in Conflicts"),
                ])
