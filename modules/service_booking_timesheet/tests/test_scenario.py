# This file is part of the service_booking_timesheet module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
import importlib.util
import unittest

from trytond.tests.test_tryton import load_doc_tests

if importlib.util.find_spec('trytond.modules.timesheet') is None:
    raise unittest.SkipTest("trytond_timesheet is not installed")


def load_tests(*args, **kwargs):
    return load_doc_tests(__name__, __file__, *args, **kwargs)
