#!/usr/bin/env python3
"""Run the test suites of the modules and tests/ on the current backend.

The backend comes from the environment (TRYTOND_DATABASE_URI; SQLite when
unset).  Usage: run_tests.py [--label NAME] [--summary FILE] [--queue FILE]
[PATTERN ...] where a pattern selects test modules by substring of their
dotted name.

With --queue, several processes share the test modules: each takes the next
one of the list when it is done with the one before (the longest first, from
tests/test_durations.json), so that a process that starts later or runs
faster takes more of them.
"""
import argparse
import fcntl
import glob
import importlib
import json
import os
import sys
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The slowest test modules and tests printed at the end
SLOWEST = 12
SLOWEST_TESTS = 15


class TimedResult(unittest.TextTestResult):
    """Count the time of each test module: a test is counted from the end
    of the one before, so that the set-up of its class (the database) is
    counted with it"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.times = {}
        # The time of each test (its class set-up counted with its first)
        self.test_times = {}
        self._mark = time.monotonic()

    def stopTest(self, test):
        super().stopTest(test)
        now = time.monotonic()
        # The test module that the test was loaded from (doctest cases are
        # counted with the test_scenario module that loads them)
        module = LazySuite.current or type(test).__module__
        self.times[module] = self.times.get(module, 0) + now - self._mark
        self.test_times[test.id()] = now - self._mark
        self._mark = now


class InstallTimes:
    """Count the databases built by installing modules (a cache miss) and
    restored from the cache, with their time: the installs are most of the
    time of a pass with a cold cache.  An install made on a copy of its
    base (tests/tools.install_on_base) counts the time of its own modules,
    its base's install or restore counted apart."""

    def __init__(self):
        self.installs = []
        self.restores = [0, 0.]
        # Of each activation in progress, the innermost last: whether it
        # restored its database and the time of the activations it made
        self.frames = []

    def watch(self):
        from trytond.tests import test_tryton, tools
        restore = test_tryton.restore_db_cache

        def restore_db_cache(name):
            start = time.monotonic()
            restored = restore(name)
            if restored:
                self.restores[0] += 1
                self.restores[1] += time.monotonic() - start
                if self.frames:
                    self.frames[-1]['restored'] = True
            return restored
        test_tryton.restore_db_cache = restore_db_cache
        tools.restore_db_cache = restore_db_cache
        for module, name in [
                (test_tryton, 'activate_module'),
                (tools, 'activate_modules')]:
            setattr(module, name, self._timed(getattr(module, name)))

    def _timed(self, func):
        def wrapper(modules, *args, **kwargs):
            start = time.monotonic()
            frame = {'restored': False, 'nested': 0.}
            self.frames.append(frame)
            try:
                return func(modules, *args, **kwargs)
            finally:
                self.frames.pop()
                elapsed = time.monotonic() - start
                if self.frames:
                    self.frames[-1]['nested'] += elapsed
                if not frame['restored']:
                    self.installs.append((
                            elapsed - frame['nested'], modules, args,
                            kwargs))
        return wrapper

    def report(self, label):
        print("%s: %d databases installed (%.0f s), %d restored (%.0f s)" % (
                label, len(self.installs),
                sum(i[0] for i in self.installs), *self.restores))
        for seconds, modules, args, kwargs in self.installs:
            print("  %6.1f s  %s %s" % (seconds, modules, ' '.join(
                        [repr(a) for a in args]
                        + ['%s=%r' % i for i in kwargs.items()])))


DURATIONS = os.path.join(ROOT, 'tests', 'test_durations.json')


def by_duration(names, label):
    """Sort names the longest first, from the times of DURATIONS (written by
    scripts/test with UPDATE_DURATIONS=1); a module without a time is
    counted as a minute (new modules are not the shortest)"""
    try:
        with open(DURATIONS) as fp:
            times = json.load(fp).get(label, {})
    except (OSError, ValueError):
        times = {}
    return sorted(names, key=lambda n: -times.get(n, 60))


def write_durations(label, times, merge=False):
    """Keep the times of the test modules of the label in DURATIONS: in
    place of those kept, or merged with them (merge: a process of a
    --queue ran some of the modules only; the processes of a queue write
    it as each ends, under a lock)"""
    with open(DURATIONS, 'a+') as fp:
        fcntl.flock(fp, fcntl.LOCK_EX)
        fp.seek(0)
        try:
            durations = json.loads(fp.read())
        except ValueError:
            durations = {}
        kept = durations.get(label, {}) if merge else {}
        kept.update({n: round(t, 1) for n, t in times.items()})
        durations[label] = dict(sorted(kept.items()))
        fp.seek(0)
        fp.truncate()
        json.dump(durations, fp, indent=1, sort_keys=True)
        fp.write('\n')


class Queue:
    """The test modules shared by the processes given the same file: the
    first process writes its list of them in the file, with the index of
    the next one, and every process takes them from there under an
    exclusive lock (the same list for all, whatever order each would
    have read from DURATIONS meanwhile rewritten by another)"""

    def __init__(self, path, names):
        self.path = path
        self.names = names

    def __iter__(self):
        while True:
            with open(self.path, 'a+') as fp:
                fcntl.flock(fp, fcntl.LOCK_EX)
                fp.seek(0)
                content = fp.read()
                queue = json.loads(content) if content else {
                    'next': 0, 'names': self.names}
                index = queue['next']
                if index >= len(queue['names']):
                    return
                queue['next'] = index + 1
                fp.seek(0)
                fp.truncate()
                json.dump(queue, fp)
            yield queue['names'][index]


class LazySuite(unittest.TestSuite):
    """The tests of the modules as they are taken from names (an iterable),
    each module imported when its turn comes"""

    _cleanup = False
    current = None

    def __init__(self, names, loader):
        super().__init__()
        self._names = names
        self._loader = loader
        self.import_errors = 0

    def __iter__(self):
        for name in self._names:
            try:
                module = importlib.import_module(name)
            except Exception:
                import traceback
                traceback.print_exc()
                print("ERROR: cannot import %s" % name, file=sys.stderr)
                self.import_errors += 1
                continue
            LazySuite.current = name
            yield self._loader.loadTestsFromModule(module)


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
    parser.add_argument('--queue', metavar='FILE',
        help="share the test modules with the processes given this file")
    parser.add_argument('--write-durations', action='store_true',
        help="keep the times of the test modules in %s" % DURATIONS)
    parser.add_argument('patterns', nargs='*')
    args = parser.parse_args()

    sys.path.insert(0, ROOT)
    if args.template_cache:
        from tests.tools import use_template_cache
        use_template_cache(*args.template_cache)
    elif args.queue and os.environ.get('DB_CACHE', '').startswith('/'):
        # SQLite processes sharing their folder of databases
        from tests.tools import share_sqlite_cache
        share_sqlite_cache(os.environ['DB_CACHE'])
    from tests.tools import install_on_base
    install_on_base()
    installs = InstallTimes()
    installs.watch()
    names = module_test_names() + cross_test_names()
    if args.patterns:
        names = [n for n in names if any(p in n for p in args.patterns)]

    names = by_duration(names, args.label.split('-')[0])
    suite = LazySuite(
        Queue(args.queue, names) if args.queue else names,
        unittest.TestLoader())
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
    failed = len(failing) + suite.import_errors
    skipped = len(result.skipped)
    passed = result.testsRun - skipped - sum(
        1 for t in failing.values() if not isinstance(t, _ErrorHolder))
    slowest = sorted(result.times.items(), key=lambda i: -i[1])[:SLOWEST]
    print("%s: the slowest test modules" % args.label)
    for name, seconds in slowest:
        print("  %6.1f s  %s" % (seconds, name))
    print("%s: the slowest tests" % args.label)
    for name, seconds in sorted(result.test_times.items(),
            key=lambda i: -i[1])[:SLOWEST_TESTS]:
        print("  %6.1f s  %s" % (seconds, name))
    installs.report(args.label)
    print("%s: %d passed, %d failed, %d skipped (%.0f s)" % (
            args.label, passed, failed, skipped, elapsed))
    if args.write_durations and not args.patterns:
        write_durations(args.label.split('-')[0], result.times,
            merge=bool(args.queue))
    if args.summary:
        with open(args.summary, 'w') as fp:
            json.dump({'passed': passed, 'failed': failed,
                    'skipped': skipped}, fp)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
