# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Helpers for the tests of every module and of tests/."""
import collections
import os
import sys

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
    statement with its parameters.  On PostgreSQL the statements sent
    alone by libpq (member.prepared.run_alone) are counted too."""

    def __enter__(self):
        from trytond import backend
        from trytond.transaction import Transaction
        self.executed = []
        self.calls = calls = []
        self.prepared = None
        if backend.name == 'postgresql':
            # The class of Tryton's cursors and of the raw cursors of
            # member.prepared.execute (also outside a transaction: the
            # requests of a route test)
            import psycopg
            self.Cursor = psycopg.Cursor
            try:
                from trytond.modules.member import prepared
            except ImportError:
                pass
            else:
                self.prepared = prepared
        else:
            self.Cursor = type(Transaction().connection.cursor())
        self.execute = execute = self.Cursor.execute
        executed = self.executed

        def counting(cursor, sql, *args, **kwargs):
            executed.append(str(sql))
            calls.append((str(sql), args[0] if args else kwargs.get('params')))
            return execute(cursor, sql, *args, **kwargs)
        self.Cursor.execute = counting
        if self.prepared is not None:
            self.run_alone = run_alone = self.prepared.run_alone

            def counting_alone(connection, text, params):
                executed.append(text.decode())
                calls.append((text.decode(), params))
                return run_alone(connection, text, params)
            self.prepared.run_alone = counting_alone
        return self.executed

    def __exit__(self, *exc):
        self.Cursor.execute = self.execute
        if self.prepared is not None:
            self.prepared.run_alone = self.run_alone


class python_calls:
    """Count the Python calls (functions written in Python and in C,
    sys.setprofile) made in the block, each by the function of modules/
    nearest on the stack: the calls of Tryton and of the libraries go to
    the function of the suite that asked for them, those made outside the
    modules or by their tests (a WSGI test client, Werkzeug) to None.  A
    figure that does not depend on the speed of the machine: what a path
    costs, compared between two versions of the code
    (scripts/profile_checkin.py --calls) or held under a budget by a
    test."""

    def __init__(self):
        self.counts = collections.Counter()
        self.modules = os.path.dirname(os.path.dirname(os.path.dirname(
                    os.path.abspath(__file__)))) + os.sep
        self._names = {}

    def _count(self, frame, event, arg):
        if event != 'call' and event != 'c_call':
            return
        if event == 'call':
            frame = frame.f_back
        names = self._names
        while frame is not None:
            code = frame.f_code
            name = names.get(code)
            if name is None:
                path = code.co_filename[len(self.modules):]
                name = names[code] = (
                    '%s %s' % (path, code.co_qualname)
                    if code.co_filename.startswith(self.modules)
                    and '/tests/' not in path else False)
            if name:
                self.counts[name] += 1
                return
            frame = frame.f_back
        self.counts[None] += 1

    def __enter__(self):
        self._previous = sys.getprofile()
        sys.setprofile(self._count)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._previous)

    @property
    def total(self):
        "The calls made by the modules (not those outside)"
        return sum(c for n, c in self.counts.items() if n is not None)

    def report(self, per=1, top=20):
        "The total and the top functions, per per (check-ins) each"
        lines = ["Python calls per check-in: %.0f in the modules (%.0f "
            "outside: the WSGI test client, Werkzeug, the tests)" % (
                self.total / per, self.counts[None] / per)]
        for name, count in self.counts.most_common(top + 1):
            if name is not None:
                lines.append('%8.1f  %s' % (count / per, name))
        return '\n'.join(lines[:top + 1])


def in_transaction(func, user=0, context=None, database=None):
    """Run func() in a committed transaction of the test database (or of
    database), restarted with the locks taken first when it asks for them
    (suite.tools.committed), and return its result"""
    from trytond.modules.suite.tools import committed
    from trytond.tests.test_tryton import DB_NAME
    return committed(database or DB_NAME, func, user=user, context=context)
