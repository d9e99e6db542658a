# This file is part of the service_booking_sale module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
import importlib.util
import unittest

from trytond.tests.test_tryton import load_doc_tests


def load_tests(loader, tests, pattern):
    # The scenarios need Tryton's sale (the erp extra of setup.py)
    if importlib.util.find_spec('trytond.modules.sale') is None:
        return unittest.TestSuite()
    return load_doc_tests(__name__, __file__, loader, tests, pattern)
