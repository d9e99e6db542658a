# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""The assignment policies hold under concurrent bookings from several
processes.

Worker processes (this module run with -m) book at the same instant, each
with several threads, every member a slot of its own of a service with two
resources: the round robin of weights 3:1 must give exactly 3 bookings in 4
to the first resource, the least loaded policy must balance them within 1.
The choice (Booking.assign_resource) reads the turns and loads under the
lock of the resources that _lock_slot takes; removing it (the resource lock
and the row rewrite: '_lock_slot: no resource lock, no row rewrite' in
tests/race_mutations.py) lets concurrent requests read the same turns and
choose the same resource.

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_assignc_$$ \\
        .venv/bin/python -m unittest tests.test_assignment_concurrency
"""
import datetime as dt
import json
import os
import sys
import threading
import unittest
from collections import Counter
from decimal import Decimal

from .tools import (
    require_postgresql, run_together, run_transaction, wait_for_go)

# Monday 1 June 2026 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
# The first slot: Tuesday 2 June 2026 08:00 in Shanghai, one slot an hour
FIRST = dt.datetime(2026, 6, 2, 0, 0)
PROCESSES = int(os.environ.get('ASSIGN_RACE_PROCESSES', 4))
THREADS = int(os.environ.get('ASSIGN_RACE_THREADS', 10))
MAX_ATTEMPTS = 500
REQUEST_TIMEOUT = 180
START_TIMEOUT = 300


@require_postgresql("the assignment race needs PostgreSQL and several "
    "processes: set TRYTOND_DATABASE_URI=postgresql:/// and a DB_NAME of "
    "your own")
class AssignmentConcurrencyTestCase(unittest.TestCase):
    "Concurrent bookings follow the assignment policy"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
        cls.db_name = DB_NAME
        drop_db()
        activate_module(['service_booking'])
        cls.addClassCleanup(drop_db)
        cls.data = cls._in_transaction(cls._setup_data)

    @classmethod
    def _in_transaction(cls, func, context=None):
        from trytond.transaction import Transaction
        with Transaction().start(cls.db_name, 0, context=context) as tx:
            result = func()
            tx.commit()
        return result

    @classmethod
    def _setup_data(cls):
        from trytond.modules.member.tests.test_module import (
            create_company_shanghai)
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool()
        Link = pool.get('booking.service-booking.resource')
        Member = pool.get('member.member')
        Resource = pool.get('booking.resource')
        Service = pool.get('booking.service')
        Template = pool.get('product.template')
        ModelData = pool.get('ir.model.data')

        company = create_company_shanghai()
        with Transaction().set_context(company=company.id):
            hours = [('create', [{
                            'weekday': str(d), 'start_time': dt.time(0),
                            'end_time': dt.time(0)} for d in range(7)])]
            resources = Resource.create([{
                        'name': name, 'kind': 'room',
                        'timezone': 'Asia/Shanghai', 'hours': hours,
                        } for name in ["Ann", "Bob"]])
            services = {}
            for policy in ['round_robin', 'least_loaded']:
                template, = Template.create([{
                            'name': policy, 'type': 'service',
                            'default_uom': ModelData.get_id(
                                'product', 'uom_unit'),
                            'list_price': Decimal('50'),
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
                            'assignment_policy': policy,
                            'load_period': dt.timedelta(days=30),
                            'booking_resources': [
                                ('add', [r.id for r in resources])],
                            }])
                services[policy] = service.id
            for link in Link.search([
                        ('service', '=', services['round_robin'])]):
                Link.write([link], {
                        'weight': 3 if link.resource.name == "Ann" else 1})
            members = Member.create([{
                        'name': "Racer %s" % i,
                        'phone': '138%08d' % i,
                        } for i in range(PROCESSES * THREADS)])
        return {
            'company': company.id,
            'services': services,
            'members': [m.id for m in members],
            }

    def race(self, service):
        """Each member books its own slot (FIRST + its rank hours) of
        service, all at once from PROCESSES workers; return the results"""
        members = self.data['members']
        requests = [(m, (FIRST + dt.timedelta(hours=i)).isoformat())
            for i, m in enumerate(members)]
        slices = [requests[i::PROCESSES] for i in range(PROCESSES)]
        specs = []
        for requests_ in slices:
            spec = {
                'company': self.data['company'],
                'service': service,
                'now': NOW.isoformat(),
                'requests': requests_,
                }
            specs.append(spec)
        results = []
        for output in run_together(
                self, 'tests.test_assignment_concurrency', specs,
                self.db_name, START_TIMEOUT, REQUEST_TIMEOUT):
            results.extend(output)
        self.assertEqual(len(results), len(members))
        self.assertEqual(
            {r['result'] for r in results}, {'booked'}, results)
        return results

    def counts(self, service):
        "Return the bookings of service per resource name"
        from trytond.pool import Pool

        def read():
            Booking = Pool().get('booking.booking')
            return Counter(b.resource.name for b in Booking.search([
                        ('service', '=', service),
                        ('state', '=', 'pending'),
                        ]))
        return self._in_transaction(read)

    def cancel_all(self):
        from trytond.pool import Pool

        def cancel():
            Booking = Pool().get('booking.booking')
            Booking.cancel(Booking.search([]))
        self._in_transaction(cancel)

    def test_round_robin_race(self):
        """40 concurrent bookings of a round robin 3:1: exactly 30 and 10.

        Catches '_lock_slot: no resource lock, no row rewrite'."""
        self.addCleanup(self.cancel_all)
        service = self.data['services']['round_robin']
        self.race(service)
        total = len(self.data['members'])
        self.assertEqual(self.counts(service),
            {"Ann": total * 3 // 4, "Bob": total // 4})

    def test_least_loaded_race(self):
        """40 concurrent bookings of the least loaded policy: 20 and 20.

        Catches '_lock_slot: no resource lock, no row rewrite'."""
        self.addCleanup(self.cancel_all)
        service = self.data['services']['least_loaded']
        self.race(service)
        counts = self.counts(service)
        self.assertEqual(sum(counts.values()), len(self.data['members']))
        self.assertLessEqual(
            abs(counts["Ann"] - counts["Bob"]), 1, counts)


def worker(spec):
    "Book each (member, start) of spec, one thread per request"
    from trytond.modules.service_booking.exceptions import BookingError
    from trytond.pool import Pool

    db_name = os.environ['DB_NAME']
    Pool.start()
    pool = Pool(db_name)
    pool.init()
    context = {
        'company': spec['company'],
        '_clock_now': dt.datetime.fromisoformat(spec['now']),
        }

    def book(member, start):
        def create():
            Booking = Pool().get('booking.booking')
            booking = Booking.create_booking(member, spec['service'],
                dt.datetime.fromisoformat(start))
            return {'member': member, 'result': 'booked',
                'resource': booking.resource.id}
        try:
            return run_transaction(db_name, create, context=context,
                retries=MAX_ATTEMPTS)
        except BookingError as e:
            return {'member': member, 'result': e.error_code}

    results = [None] * len(spec['requests'])

    def run(index, member, start):
        try:
            results[index] = book(member, start)
        except Exception as exception:
            results[index] = {'member': member, 'result': 'error',
                'error': repr(exception)}

    wait_for_go()
    threads = [threading.Thread(target=run, args=(i, m, s))
        for i, (m, s) in enumerate(spec['requests'])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT)
    print(json.dumps(results), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(worker(json.loads(sys.argv[1])))
