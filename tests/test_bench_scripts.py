# This file is part of the suite.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What the benchmark scripts take for granted of the API."""
import unittest

from werkzeug.test import Client
from werkzeug.wrappers import Response


class BenchScriptsTestCase(unittest.TestCase):
    "The benchmark scripts"

    def test_wrk_ping(self):
        """wrk's tail ping on the project is answered by the API's
        middleware before any database work (the database does not exist
        here), with an answer that no check-in gets"""
        import trytond.modules.miniprogram.routes  # noqa: F401 the routes
        from scripts.bench_checkin_load import PROJECT_PING
        from trytond.wsgi import app
        path, status, pattern = PROJECT_PING
        response = Client(app, Response).get(
            '/bench_no_database/mp/v1' + path)
        self.assertEqual(str(response.status_code), status)
        self.assertIn(pattern, response.get_data(as_text=True))
        self.assertNotIn(status, {'201', '409'})
