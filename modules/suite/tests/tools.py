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


class statements:
    """Count the SQL statements executed in the block (with: its list of
    the texts of the statements), on both backends: the proof that a path
    does its work in a fixed number of statements.  Its calls keeps each
    statement with its parameters."""

    def __enter__(self):
        from trytond import backend
        from trytond.transaction import Transaction
        self.executed = []
        self.calls = calls = []
        if backend.name == 'postgresql':
            # The class of Tryton's cursors and of the raw cursors of
            # member.prepared.execute (also outside a transaction: the
            # requests of a route test)
            import psycopg
            self.Cursor = psycopg.Cursor
        else:
            self.Cursor = type(Transaction().connection.cursor())
        self.execute = execute = self.Cursor.execute
        executed = self.executed

        def counting(cursor, sql, *args, **kwargs):
            executed.append(str(sql))
            calls.append((str(sql), args[0] if args else kwargs.get('params')))
            return execute(cursor, sql, *args, **kwargs)
        self.Cursor.execute = counting
        return self.executed

    def __exit__(self, *exc):
        self.Cursor.execute = self.execute


def in_transaction(func, user=0, context=None, database=None):
    """Run func() in a committed transaction of the test database (or of
    database), restarted with the locks taken first when it asks for them
    (suite.tools.committed), and return its result"""
    from trytond.modules.suite.tools import committed
    from trytond.tests.test_tryton import DB_NAME
    return committed(database or DB_NAME, func, user=user, context=context)
