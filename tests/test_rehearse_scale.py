"""The scale-out rehearsal (scripts/rehearse-scale) in its CI size: 500
check-ins through HAProxy to two groups of web workers, one killed halfway:
nothing lost, nothing doubled, every member answered."""
import os
import re
import subprocess
import unittest

from trytond import backend, config
from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@unittest.skipUnless(backend.name == 'postgresql',
    "two groups of gunicorn workers share a PostgreSQL database")
class RehearseScaleTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['miniprogram'])
        cls.addClassCleanup(drop_db)

    def test_group_killed_mid_burst(self):
        "0 lost, 0 doubled, the dead group taken out by the health check"
        env = dict(os.environ,
            TRYTOND_DATABASE__URI=config.get('database', 'uri'))
        result = subprocess.run([
                os.path.join(ROOT, 'scripts', 'rehearse-scale'),
                '-n', '500', '-c', '50', '--database', DB_NAME,
                '--existing'],
            env=env, capture_output=True, text=True, timeout=900)
        output = result.stdout + result.stderr[-3000:]
        self.assertEqual(result.returncode, 0, output)
        table = dict(re.findall(r'^(\S.*?)\s{2,}(\S.*)$', result.stdout,
                re.MULTILINE))
        self.assertEqual(table['doubles'], '0', output)
        self.assertEqual(table['lost'], '0', output)
        self.assertEqual(table['unanswered after retries'], '0', output)
        self.assertEqual(table['rows in the database'], '500', output)
        self.assertIn("rehearsal: ok", result.stdout)
