"""The reference mini-program (miniapp/) end to end: its own utils/ and
services/, run by Node (miniapp/test/e2e/run.js), against a real `trytond`
process on PostgreSQL with the suite's demo data.  The story of a member:
register, log in, check in with the organizer's QR code, check in offline
(queued, then sent when the network comes back), the daily sign-in, a
booking; and the bad conditions: a wrong password, an expired access token,
a refused refresh, the QR code of another app.

The server and its start and stop are those of test_api_e2e; only the data
differ (the demo data of scripts/create_db.py, then the story's)."""
import datetime as dt
import functools
import importlib
import os
import random
import re
import shutil
import subprocess
import sys
import time
import unittest
from decimal import Decimal
from unittest import mock

from trytond import backend

from . import test_api_e2e
from .tools import run_transaction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_JS = os.path.join(ROOT, 'miniapp', 'test', 'e2e', 'run.js')
COMPANY = "Miniapp E2E"
SEED = 'miniapp-e2e'
# Three events at People's Square (demo data's first place), 500 m around
LAT, LON = test_api_e2e.LAT, test_api_e2e.LON


def setup_company():
    "The company and configuration of scripts/create_db.py"
    from scripts import create_db
    from trytond.pool import Pool
    pool = Pool()
    company = create_db._setup_company(pool, COMPANY)
    create_db._complete_config_wizard(pool)
    return company.id


def load_demo(module, company_id):
    "The demo data of module, as scripts/create_db.py loads it"
    from trytond.pool import Pool
    pool = Pool()
    loader = importlib.import_module('scripts.demodata.' + module)
    # A restarted transaction replays the same data
    rng = random.Random('%s-%s' % (SEED, module))
    loader.load(pool, rng, pool.get('company.company')(company_id))


def setup_story():
    """A staff organizer whose password the test knows, three events open
    now that it organizes, a service with a resource and free slots"""
    from trytond.modules.service_booking.tests.test_module import (
        create_resource, create_service)
    from trytond.pool import Pool
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Event = pool.get('checkin.event')
    door, = User.create([{
                'name': "Door staff", 'login': test_api_e2e.STAFF_LOGIN,
                'password': test_api_e2e.STAFF_PASSWORD,
                'groups': [('add', [ModelData.get_id(
                                'checkin', 'group_checkin')])],
                }])
    now = dt.datetime.utcnow().replace(microsecond=0)
    events = Event.create([{
                'name': name, 'kind': 'meeting', 'state': 'open',
                'start': now - dt.timedelta(minutes=10),
                'end': now + dt.timedelta(hours=2),
                'timezone': 'Asia/Shanghai',
                'latitude': LAT, 'longitude': LON, 'radius': 500,
                'methods': ['qr'], 'policy': 'reject', 'points': points,
                'organizers': [('add', [door.id])],
                } for name, points in [
                ("Mini-program open day", 15),
                ("Mini-program workshop", 10),
                ("Mini-program tea party", 10)]])
    service = create_service([create_resource("E2E Room")],
        name="E2E Massage", price=Decimal('88'), lead_time=0)
    return {'events': [e.id for e in events], 'service': service.id}


def load_demo_data(database):
    "The demo data of every module, as scripts/create_db.py --demo"
    from scripts import create_db
    started = time.monotonic()
    company_id = run_transaction(database, setup_company)
    # The core suite, as activated here (the bridges are not)
    for module in create_db.suite_modules():
        if module in create_db.BRIDGES:
            continue
        if os.path.exists(os.path.join(
                    ROOT, 'scripts', 'demodata', module + '.py')):
            run_transaction(database,
                functools.partial(load_demo, module, company_id),
                context={'company': company_id})
            sys.stderr.write('miniapp e2e: demo data of %s at %.1f s\n' % (
                    module, time.monotonic() - started))


def setup_data(database, story):
    """The demo data, then the story's, each in its own committed
    transaction.

    Loading the demo data takes most of the time of the test: the database
    with it is kept as a template database (as the test databases of the
    suite, tests/tools.use_template_cache) for the other runs of the day
    (the demo data are dated around the day they are loaded)."""
    from trytond.cache import Cache
    from trytond.tests import test_tryton
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    cache = 'miniprogram--miniapp-e2e-demo-%s' % today.isoformat()
    cached = (test_tryton.DB_CACHE or '').startswith('postgresql://')
    if cached:
        # The template is copied over the test database: no connection of
        # this process may stay open on it
        backend.Database(database).close()
    if cached and test_tryton.restore_db_cache(cache):
        Cache.drop(database)
        sys.stderr.write('miniapp e2e: demo data from the template\n')
    else:
        load_demo_data(database)
        if cached:
            test_tryton.backup_db_cache(cache)
    company_id = run_transaction(database, setup_company)
    story.update(run_transaction(database, setup_story,
            context={'company': company_id}))


@unittest.skipUnless(backend.name == 'postgresql',
    "end-to-end test of the mini-program against a trytond process: runs "
    "on PostgreSQL")
class MiniappEndToEndTestCase(test_api_e2e.ApiEndToEndTestCase):
    "The mini-program's client code against the server"

    # The API test's own tests run in their module, not again here
    test_member_journey = None
    test_errors_are_json = None

    @classmethod
    def setUpClass(cls):
        cls.story = {}
        # The server of the API test, with the demo and story data in place
        # of the API test's data
        with mock.patch.object(test_api_e2e, 'run_transaction',
                lambda database, _: setup_data(database, cls.story)):
            super().setUpClass()

    def test_story(self):
        "The member's story and the bad conditions, by the client's code"
        node = shutil.which('node')
        self.assertTrue(node, "node is not on PATH")
        env = dict(os.environ,
            MINIAPP_E2E_BASE_URL=self.base.rstrip('/'),
            MINIAPP_E2E_STAFF_LOGIN=test_api_e2e.STAFF_LOGIN,
            MINIAPP_E2E_STAFF_PASSWORD=test_api_e2e.STAFF_PASSWORD,
            MINIAPP_E2E_EVENTS=','.join(map(str, self.story['events'])),
            MINIAPP_E2E_SERVICE=str(self.story['service']),
            MINIAPP_E2E_LAT=repr(LAT), MINIAPP_E2E_LON=repr(LON),
            MINIAPP_E2E_TIMEOUT_MS='90000')
        started = time.monotonic()
        result = subprocess.run([node, RUN_JS], cwd=os.path.join(
                    ROOT, 'miniapp'), env=env, capture_output=True,
            text=True, timeout=120)
        elapsed = time.monotonic() - started
        counts = re.search(r'^# tests (\d+) pass (\d+) fail (\d+)$',
            result.stdout, re.M)
        sys.stderr.write('miniapp e2e: %s in %.1f s\n' % (
                'tests %s pass %s fail %s' % counts.groups() if counts
                else 'no summary', elapsed))
        output = result.stdout + (
            '\n--- stderr ---\n' + result.stderr if result.stderr else '')
        self.assertEqual(result.returncode, 0, output)
        self.assertTrue(counts, output)
        self.assertEqual(counts.group(3), '0', output)
        self.assertNotIn('not ok', result.stdout, output)
