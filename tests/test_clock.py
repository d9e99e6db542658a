"""One clock for the whole suite: the modules read the time only through
trytond.modules.suite.clock (frozen by tests), never the system clock,
except where real elapsed time is meant, marked `# real time` on the line
or on the line before."""
import glob
import os
import re
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK = os.path.join(ROOT, 'modules', 'suite', 'clock.py')
# The readings of the system clock
READING = re.compile(
    r'\b(?:datetime\.now|datetime\.utcnow|datetime\.today|date\.today'
    r'|time\.time|time\.time_ns|utcfromtimestamp)\(')
# The context keys and modules of the clocks there were before the one clock
OLD = re.compile(
    r'_checkin_now|_booking_now|_message_now'
    r'|modules\.checkin\.clock|modules\.service_booking\.clock'
    r'|modules\.(?:checkin|service_booking) import clock')
MARK = '# real time'


def sources(*patterns):
    for pattern in patterns:
        yield from sorted(glob.glob(os.path.join(ROOT, pattern),
                recursive=True))


class ClockTestCase(unittest.TestCase):

    def test_no_system_clock(self):
        "The modules read the system clock only in the clock"
        found = []
        for path in sources('modules/*/**/*.py'):
            if path == CLOCK or os.sep + 'tests' + os.sep in path:
                continue
            with open(path, encoding='utf-8') as file:
                lines = file.read().splitlines()
            for number, line in enumerate(lines):
                code = line.split('#', 1)[0]
                if not READING.search(code):
                    continue
                if MARK in line or (number and MARK in lines[number - 1]):
                    continue
                found.append('%s:%d: %s' % (
                        os.path.relpath(path, ROOT), number + 1,
                        line.strip()))
        self.assertEqual(found, [])

    def test_no_other_clock(self):
        "Nothing uses the clocks or the context keys of before"
        found = []
        for path in sources(
                'modules/**/*.py', 'modules/**/*.rst', 'tests/**/*.py',
                'scripts/**/*.py', 'doc/**/*.rst'):
            if path == os.path.abspath(__file__):
                continue
            with open(path, encoding='utf-8') as file:
                for number, line in enumerate(file, 1):
                    if OLD.search(line):
                        found.append('%s:%d' % (
                                os.path.relpath(path, ROOT), number))
        self.assertEqual(found, [])
