# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.tests.test_tryton import ModuleTestCase


class OutboxTestCase(ModuleTestCase):
    "Test Outbox module"
    module = 'outbox'


del ModuleTestCase
