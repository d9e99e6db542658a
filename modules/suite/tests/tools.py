# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Helpers for the tests of every module and of tests/."""
import os

LONG_TESTS = 'LONG_TESTS'


def long_tests():
    """True when the long versions of the property tests, fuzzers and
    soaks are asked for: LONG_TESTS=1 (scripts/test and CI run the short
    ones).  The one place that reads LONG_TESTS: the modules' tests and
    those of tests/ (through tests/tools.py) call it."""
    return os.environ.get(LONG_TESTS, '0') not in {'', '0'}


def sized(short, long):
    "short, or long when long_tests()"
    return long if long_tests() else short
