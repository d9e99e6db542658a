# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

# The models whose rules read the user and its employees
STAFF_RULE_MODELS = {'booking.booking', 'booking.rating'}


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _member_rule_models(cls):
        return super()._member_rule_models() | {
            'booking.booking', 'booking.rating', 'booking.waitlist'}

    @classmethod
    def _get_context(cls, model_name):
        pool = Pool()
        User = pool.get('res.user')
        context = super()._get_context(model_name)
        if model_name in STAFF_RULE_MODELS:
            context['user_id'] = Transaction().user
            context['employees'] = list(User.get_employees())
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        pool = Pool()
        User = pool.get('res.user')
        key = super()._get_cache_key(model_names)
        if model_names & STAFF_RULE_MODELS:
            key = (*key, Transaction().user, User.get_employees())
        return key


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('booking.booking|send_reminders',
                    "Send Booking Reminders"),
                ('booking.waitlist|process_offers',
                    "Process Waiting List Offers"),
                ('booking.booking|mark_no_shows', "Mark Booking No-Shows"),
                ])
