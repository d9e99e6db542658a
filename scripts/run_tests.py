#!/usr/bin/env python3
"""Run the test suites of the modules and tests/ on the current backend.

The backend comes from the environment (TRYTOND_DATABASE_URI; SQLite when
unset).  Usage: run_tests.py [--label NAME] [--summary FILE] [PATTERN ...]
where a pattern selects test modules by substring of their dotted name.
"""
import argparse
import glob
import importlib
import json
import os
import sys
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The slowest test modules printed at the end
SLOWEST = 12


class TimedResult(unittest.TextTestResult):
    """Count the time of each test module: a test is counted from the end
    of the one before, so that the set-up of its class (the database) is
    counted with it"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.times = {}
        self._mark = time.monotonic()

    def stopTest(self, test):
        super().stopTest(test)
        now = time.monotonic()
        module = type(test).__module__
        self.times[module] = self.times.get(module, 0) + now - self._mark
        self._mark = now


def use_template_cache(key, record):
    """Keep the PostgreSQL test databases of DB_CACHE=postgresql:// as
    template databases (a copy is made by CREATE DATABASE ... TEMPLATE in
    about a second, where pg_restore of a dump takes several), named after
    the modules and key: Tryton names them after the modules only, and a
    database of changed sources must not be reused.  Their names are
    appended to the file record, for scripts/test to drop them once the
    sources changed."""
    from trytond.tests import test_tryton
    cache_file_of = test_tryton._db_cache_file

    def _db_cache_file(path, name):
        cache_file = cache_file_of(path, '%s %s' % (name, key))
        with open(record, 'a') as fp:
            fp.write(cache_file.rsplit('/', 1)[-1] + '\n')
        return cache_file
    test_tryton._db_cache_file = _db_cache_file
    # The processes that the tests start (servers, workers) name their
    # caches as Tryton does, after the modules only: a template of other
    # sources (another checkout, an older commit) would be restored for
    # them.  They keep dumps in the folder of these sources instead.
    os.environ['DB_CACHE'] = os.path.join(os.path.dirname(record), 'dumps')


def module_test_names():
    names = []
    for path in sorted(glob.glob(
                os.path.join(ROOT, 'modules', '*', 'tests', 'test_*.py'))):
        module = path.split(os.sep)[-3]
        base = os.path.splitext(os.path.basename(path))[0]
        names.append('trytond.modules.%s.tests.%s' % (module, base))
    return names


def cross_test_names():
    names = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'tests', 'test_*.py'))):
        names.append('tests.' + os.path.splitext(os.path.basename(path))[0])
    return names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--label', default='tests')
    parser.add_argument('--summary', help="write the counts as JSON")
    parser.add_argument('--verbose', '-v', action='store_true')
    parser.add_argument('--template-cache', nargs=2, metavar=('KEY', 'FILE'),
        help="PostgreSQL: cache the databases as templates named after KEY "
        "and record their names in FILE")
    parser.add_argument('patterns', nargs='*')
    args = parser.parse_args()

    sys.path.insert(0, ROOT)
    if args.template_cache:
        use_template_cache(*args.template_cache)
    names = module_test_names() + cross_test_names()
    if args.patterns:
        names = [n for n in names if any(p in n for p in args.patterns)]

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    import_errors = 0
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception:
            import traceback
            traceback.print_exc()
            print("ERROR: cannot import %s" % name, file=sys.stderr)
            import_errors += 1
            continue
        suite.addTests(loader.loadTestsFromModule(module))

    runner = unittest.TextTestRunner(
        verbosity=2 if args.verbose else 1, stream=sys.stdout,
        resultclass=TimedResult)
    start = time.monotonic()
    result = runner.run(suite)
    elapsed = time.monotonic() - start
    # A test counts once, however many of its subtests failed
    from unittest.suite import _ErrorHolder
    failing = {}
    for test, _ in result.failures + result.errors:
        test = getattr(test, 'test_case', test)
        failing[test.id()] = test
    for test in result.unexpectedSuccesses:
        failing[test.id()] = test
    failed = len(failing) + import_errors
    skipped = len(result.skipped)
    passed = result.testsRun - skipped - sum(
        1 for t in failing.values() if not isinstance(t, _ErrorHolder))
    slowest = sorted(result.times.items(), key=lambda i: -i[1])[:SLOWEST]
    print("%s: the slowest test modules" % args.label)
    for name, seconds in slowest:
        print("  %6.1f s  %s" % (seconds, name))
    print("%s: %d passed, %d failed, %d skipped (%.0f s)" % (
            args.label, passed, failed, skipped, elapsed))
    if args.summary:
        with open(args.summary, 'w') as fp:
            json.dump({'passed': passed, 'failed': failed,
                    'skipped': skipped}, fp)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
