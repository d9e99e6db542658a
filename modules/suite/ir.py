# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.cache import Cache
from trytond.pool import PoolMeta

from .tools import transaction_memo


class Trigger(metaclass=PoolMeta):
    __name__ = 'ir.trigger'

    # Whether a trigger of any state exists on (model, mode), in every
    # context: tools.triggers answers most look-ups from it without the
    # context-keyed cache of get_triggers
    _suite_exists_cache = Cache('ir_trigger.suite_exists', context=False)

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        cls._suite_exists_cache.clear()
        transaction_memo('suite.no_triggers').clear()
