# This file is part of the suite.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""What the benchmark scripts take for granted of the API, and how they
cut their work."""
import json
import os
import tempfile
import unittest
from types import SimpleNamespace

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

    def test_rounds_share_the_members(self):
        """bench_checkin --rounds: each round of a side bursts its own -n
        members of the run file, and the acknowledged check-ins of every
        round are checked together"""
        from scripts.bench_checkin import Side, median

        class Fake(Side):
            target = 'fake'

        with tempfile.TemporaryDirectory() as tmp:
            side = Fake(None, SimpleNamespace(n=2, rounds=3), tmp)
            with open(side.run_file, 'w') as f:
                json.dump({'n': 6, 'event_id': 9,
                        'members': [1, 2, 3, 4, 5, 6],
                        'jwts': ['a', 'b', 'c', 'd', 'e', 'f'],
                        'positions': [[0, i] for i in range(6)],
                        'qr_tokens': {'1': 'q'}}, f)
            shares = []
            for round_ in range(3):
                with open(side.share(round_)) as f:
                    shares.append(json.load(f))
            self.assertEqual([s['members'] for s in shares],
                [[1, 2], [3, 4], [5, 6]])
            self.assertEqual([s['jwts'] for s in shares],
                [['a', 'b'], ['c', 'd'], ['e', 'f']])
            self.assertEqual(shares[2]['positions'], [[0, 4], [0, 5]])
            self.assertEqual({s['n'] for s in shares}, {2})
            self.assertEqual(shares[1]['qr_tokens'], {'1': 'q'})

            # wrk tells how many; the Python generator which ones
            for round_, acked in enumerate([{'count': 2}, {'count': 1}]):
                side.acked.append(os.path.join(tmp, 'w%d' % round_))
                with open(side.acked[-1], 'w') as f:
                    json.dump(acked, f)
            with open(side.all_acked()) as f:
                self.assertEqual(json.load(f), {'count': 3})
            side.acked = []
            for round_, acked in enumerate([[[9, 1]], [[9, 3], [9, 4]]]):
                side.acked.append(os.path.join(tmp, 'p%d' % round_))
                with open(side.acked[-1], 'w') as f:
                    json.dump(acked, f)
            with open(side.all_acked()) as f:
                self.assertEqual(json.load(f), [[9, 1], [9, 3], [9, 4]])

        # One round: the run file as it is
        side = Fake(None, SimpleNamespace(n=6, rounds=1), '/nowhere')
        self.assertEqual(side.share(0), side.run_file)
        self.assertEqual(median([3, 1, 2]), 2)
        self.assertEqual(median([4, 1, 2, 3]), 2.5)
