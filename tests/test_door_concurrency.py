# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""The door check-in and check-out of a booking under concurrent requests
from several processes (a technician's phone sending again, two phones of
one technician).

Worker processes (this module run with -m) connect to the test database and
check the same booking in (then out) at the same instant, each with
several threads, as the technician's user; every request restarts its
transaction when Tryton asks for the locks first and retries on lock or
serialization errors (tests/tools.run_transaction).

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_door_$$ \\
        .venv/bin/python -m unittest tests.test_door_concurrency

door_check_in and door_check_out lock the booking before reading its
state: the requests wait for the first, then see its state and are
refused invalid_state without having done any work (no late conflict).
Without the lock ('door: no booking lock' of scripts/check-races)
REPEATABLE READ still starts the booking once, but the requests that read
it confirmed fail after their work and are tried again: test_race_door
counts those late conflicts."""
import datetime as dt
import json
import os
import sys
import threading
import unittest
from decimal import Decimal

from .tools import (
    require_postgresql, run_together, run_transaction, wait_for_go)

# The booking: Tuesday 2 June 2026 10:00 in Shanghai, at People's Square
SLOT = dt.datetime(2026, 6, 2, 2, 0)
BOOKED = dt.datetime(2026, 6, 1, 0, 0)
AT_DOOR = dt.datetime(2026, 6, 2, 1, 50)
DONE = dt.datetime(2026, 6, 2, 3, 5)
ADDRESS = (31.2304, 121.4737)
PROCESSES = int(os.environ.get('DOOR_RACE_PROCESSES', 4))
THREADS = int(os.environ.get('DOOR_RACE_THREADS', 5))
MAX_ATTEMPTS = 500
REQUEST_TIMEOUT = 120
START_TIMEOUT = 300


@require_postgresql("the door race needs PostgreSQL and several processes: "
    "set TRYTOND_DATABASE_URI=postgresql:/// and a DB_NAME of your own")
class DoorConcurrencyTestCase(unittest.TestCase):
    "Concurrent door check-ins and check-outs of one booking"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
        cls.db_name = DB_NAME
        drop_db()
        activate_module(['service_booking'])
        cls.addClassCleanup(drop_db)
        cls.data = run_transaction(cls.db_name, cls._setup_data)

    @classmethod
    def _setup_data(cls):
        from trytond.modules.member.tests.test_module import (
            create_company_shanghai)
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        ModelData = pool.get('ir.model.data')
        Resource = pool.get('booking.resource')
        Service = pool.get('booking.service')
        Template = pool.get('product.template')
        User = pool.get('res.user')

        company = create_company_shanghai()
        technician, = User.create([{'name': "Li Lei", 'login': 'li'}])
        with Transaction().set_context(
                company=company.id, _clock_now=BOOKED):
            resource, = Resource.create([{
                        'name': "Li Lei", 'kind': 'user',
                        'user': technician.id,
                        'timezone': 'Asia/Shanghai',
                        'hours': [('create', [{
                                        'weekday': str(d),
                                        'start_time': dt.time(0),
                                        'end_time': dt.time(0)}
                                    for d in range(7)])],
                        }])
            template, = Template.create([{
                        'name': "Aircon Repair", 'type': 'service',
                        'default_uom': ModelData.get_id(
                            'product', 'uom_unit'),
                        'list_price': Decimal('200'),
                        'products': [('create', [{}])],
                        }])
            service, = Service.create([{
                        'product': template.products[0].id,
                        'duration': dt.timedelta(hours=1),
                        'buffer': dt.timedelta(0),
                        'capacity': 1,
                        'lead_time': dt.timedelta(0),
                        'horizon': 30,
                        'timezone': 'Asia/Shanghai',
                        'door_radius': 100,
                        'booking_resources': [('add', [resource.id])],
                        }])
            member, = Member.create([{
                        'name': "Zhao Min", 'phone': '13900000001'}])
            booking, = Booking.create([{
                        'company': company.id,
                        'currency': company.currency.id,
                        'member': member.id,
                        'service': service.id,
                        'resource': resource.id,
                        'start': SLOT,
                        'latitude': ADDRESS[0],
                        'longitude': ADDRESS[1],
                        'coord_type': 'gcj02',
                        }])
            Booking.submit([booking])
            Booking.confirm([booking])
        return {
            'user': technician.id,
            'booking': booking.id,
            }

    def race(self, action, now):
        """Start the worker processes; all send action (checkin, checkout)
        for the booking at once.  Return the results and the conflicts
        counted by the workers."""
        specs = []
        for _ in range(PROCESSES):
            spec = {
                'user': self.data['user'],
                'booking': self.data['booking'],
                'action': action,
                'now': now.isoformat(),
                'requests': THREADS,
                }
            specs.append(spec)
        results, stats = [], {}
        for output in run_together(
                self, 'tests.test_door_concurrency', specs,
                self.db_name, START_TIMEOUT, REQUEST_TIMEOUT):
            results.extend(output['results'])
            for name, value in output['stats'].items():
                stats[name] = stats.get(name, 0) + value
        self.assertNotIn('error', results, results)
        return results, stats

    def read(self):
        "Return the state of the booking, its check-in time and postings"
        from trytond.pool import Pool

        def read():
            pool = Pool()
            Booking = pool.get('booking.booking')
            Line = pool.get('member.points.line')
            booking = Booking(self.data['booking'])
            return (booking.state, booking.door_checkin,
                booking.duration_min,
                Line.search_count([('origin', '=', str(booking))]))
        return run_transaction(self.db_name, read)

    def test_race_door(self):
        """20 door check-ins of one booking at once start it once, then 20
        check-outs finish it once (points posted once), and no
        request fails after its work.

        Catches 'door: no booking lock' (late conflicts)."""
        total = PROCESSES * THREADS
        results, stats = self.race('checkin', AT_DOOR)
        self.assertEqual(results.count('in_progress'), 1, results)
        self.assertEqual(results.count('invalid_state'), total - 1, results)
        state, checkin, _, _ = self.read()
        self.assertEqual((state, checkin), ('in_progress', AT_DOOR))
        self.assertEqual(stats['late'], 0, stats)

        results, stats = self.race('checkout', DONE)
        self.assertEqual(results.count('done'), 1, results)
        self.assertEqual(results.count('invalid_state'), total - 1, results)
        state, _, duration, lines = self.read()
        self.assertEqual((state, duration, lines), ('done', 75, 1))
        self.assertEqual(stats['late'], 0, stats)


def worker(spec):
    "Send the action of spec for the booking, one thread per request"
    from trytond.modules.service_booking.exceptions import BookingError
    from trytond.pool import Pool

    db_name = os.environ['DB_NAME']
    Pool.start()
    pool = Pool(db_name)
    pool.init()
    context = {'_clock_now': dt.datetime.fromisoformat(spec['now'])}
    lat, lon = ADDRESS

    def send(stats):
        def act():
            Booking = Pool().get('booking.booking')
            if spec['action'] == 'checkin':
                booking = Booking.door_check_in(
                    spec['booking'], lat, lon, 10, 'gcj02')
            else:
                booking = Booking.door_check_out(spec['booking'])
            return booking.state
        try:
            return run_transaction(db_name, act, user=spec['user'],
                context=context, retries=MAX_ATTEMPTS, stats=stats)
        except BookingError as e:
            return e.error_code

    results = [None] * spec['requests']
    stats = [{} for _ in range(spec['requests'])]

    def run(index):
        try:
            results[index] = send(stats[index])
        except Exception as exception:
            results[index] = 'error'
            sys.stderr.write(repr(exception) + '\n')

    wait_for_go()
    threads = [threading.Thread(target=run, args=(i,))
        for i in range(spec['requests'])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT)
    total = {}
    for stat in stats:
        for name, value in stat.items():
            total[name] = total.get(name, 0) + value
    print(json.dumps({'results': results, 'stats': total}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(worker(json.loads(sys.argv[1])))
