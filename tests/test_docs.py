"""The documentation in doc/ (with the modules' doc/ folders it includes)
builds with Sphinx without a warning."""
import os
import subprocess
import sys
import tempfile
import unittest

from trytond import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@unittest.skipUnless(backend.name == 'sqlite',
    "the documentation does not depend on the database: built once")
class DocsTestCase(unittest.TestCase):

    def test_build(self):
        with tempfile.TemporaryDirectory() as out:
            proc = subprocess.run([
                    sys.executable, '-m', 'sphinx', '-W', '--keep-going',
                    '-q', '-b', 'html', os.path.join(ROOT, 'doc'), out],
                capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue(
                os.path.exists(os.path.join(out, 'modules', 'member.html')))
