"""One way to roll back: psycopg deallocates every statement prepared on a
connection when it rolls back (its rollback(), a ROLLBACK executed, to a
savepoint too), and each is then planned again on its next five uses.  The
modules roll back through trytond.modules.suite.tools (rollback,
rollback_transaction, savepoint), which keep them; only there is
rollback() called, or ROLLBACK written."""
import glob
import os
import re
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, 'modules', 'suite', 'tools.py')
ROLLBACK = re.compile(r'\.rollback\(\)|ROLLBACK')


class RollbacksTestCase(unittest.TestCase):

    def test_rollbacks_through_suite_tools(self):
        "The modules roll back only through suite.tools"
        found = []
        for path in sorted(glob.glob(
                    os.path.join(ROOT, 'modules', '*', '**', '*.py'),
                    recursive=True)):
            if path == TOOLS or os.sep + 'tests' + os.sep in path:
                continue
            with open(path, encoding='utf-8') as file:
                for number, line in enumerate(file, 1):
                    code = line.split('#', 1)[0]
                    if ROLLBACK.search(code):
                        found.append('%s:%d: %s' % (
                                os.path.relpath(path, ROOT), number,
                                line.strip()))
        self.assertEqual(found, [])
