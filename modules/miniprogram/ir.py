# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
from trytond.pool import PoolMeta


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _user_rule_models(cls):
        return super()._user_rule_models() | {'miniprogram.entry_code'}


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('miniprogram.refresh_token|purge',
                    "Purge Expired Mini-program Tokens"),
                ('miniprogram.sms.code|purge',
                    "Purge Expired SMS Verification Codes"),
                ('miniprogram.checkin.intake|process',
                    "Record the Check-ins of the Intake"),
                ])
