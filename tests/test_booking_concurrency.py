# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""No overbooking under concurrent requests from several processes.

Worker processes (this module run with -m) connect to the test database
(same DB_NAME and TRYTOND_DATABASE_URI) and book at the same instant, each
with several threads, the way trytond web workers would: every request
restarts its transaction when Tryton asks for the locks first, and retries
on lock or serialization errors, a bounded number of times.

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_bookingc_$$ \\
        .venv/bin/python -m unittest tests.test_booking_concurrency

BOOKING_RACE_PROCESSES and BOOKING_RACE_THREADS change the number of workers
(default 4 x 10 = 40 requests).

_lock_slot holds a slot with three protections, each isolated by a test
(the mutation it catches, applied by scripts/check-races, in quotes):

- the row rewrite (UPDATE of the locked resource and member rows): under
  REPEATABLE READ a transaction whose snapshot missed a booking committed
  since fails to rewrite the row and restarts.  It alone keeps the slot
  within its capacity: test_race_without_locks disables both locks and
  catches '_lock_slot: no row rewrite'.
- the resource lock: requests for a slot wait before doing any work, none
  fails after it (test_race_for_a_slot counts the late conflicts: '_lock_slot:
  no resource lock').
- the member lock: the same for one member's requests on different
  resources (test_race_of_one_member: '_lock_slot: no member lock').

The submit path (_book, the back office's Submit button) takes the slot
itself: test_race_to_submit races it alone on drafts ('_book: no
_lock_slot').
"""
import datetime as dt
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from decimal import Decimal

from .tools import require_postgresql, run_transaction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPACITY = 3
# The booking clock of the race: Monday 1 June 2026 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
# The raced slot: Tuesday 2 June 2026 10:00 in Shanghai
SLOT = dt.datetime(2026, 6, 2, 2, 0)
PROCESSES = int(os.environ.get('BOOKING_RACE_PROCESSES', 4))
THREADS = int(os.environ.get('BOOKING_RACE_THREADS', 10))
# Bounds of every worker loop
MAX_ATTEMPTS = 500
REQUEST_TIMEOUT = 120
START_TIMEOUT = 300


@require_postgresql("the booking race needs PostgreSQL and several "
    "processes: set TRYTOND_DATABASE_URI=postgresql:/// and a DB_NAME of "
    "your own")
class BookingConcurrencyTestCase(unittest.TestCase):
    "Concurrent bookings from several processes"

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
            room, *studios = Resource.create([{
                        'name': name, 'kind': 'room',
                        'timezone': 'Asia/Shanghai', 'hours': hours,
                        } for name in ["Room"] + [
                        "Studio %s" % i for i in range(PROCESSES)]])
            services = []
            for name, resource, capacity in [("Yoga", room, CAPACITY)] + [
                    ("Spinning %s" % i, s, 100)
                    for i, s in enumerate(studios)]:
                template, = Template.create([{
                            'name': name, 'type': 'service',
                            'default_uom': ModelData.get_id(
                                'product', 'uom_unit'),
                            'list_price': Decimal('50'),
                            'products': [('create', [{}])],
                            }])
                services.extend(Service.create([{
                                'product': template.products[0].id,
                                'duration': dt.timedelta(hours=1),
                                'buffer': dt.timedelta(0),
                                'capacity': capacity,
                                'lead_time': dt.timedelta(0),
                                'horizon': 30,
                                'timezone': 'Asia/Shanghai',
                                'booking_resources': [
                                    ('add', [resource.id])],
                                }]))
            yoga, *spinning = services
            members = Member.create([{
                        'name': "Racer %s" % i,
                        'phone': '139%08d' % i,
                        } for i in range(PROCESSES * THREADS)])
        return {
            'company': company.id,
            'yoga': yoga.id,
            'spinning': [s.id for s in spinning],
            'members': [m.id for m in members],
            }

    def race(self, service, members, no_lock=False, bookings=None):
        """Start one worker process per slice of members; all book the slot
        of service (one per process when a list) at the same time, or submit
        their draft of bookings.  Return the results of the requests and
        the conflicts counted by the workers."""
        if bookings is not None:
            members = bookings
        slices = [members[i::PROCESSES] for i in range(PROCESSES)]
        slices = [s for s in slices if s]
        env = os.environ.copy()
        env['DB_NAME'] = self.db_name
        workers = []
        for i, members_ in enumerate(slices):
            spec = {
                'company': self.data['company'],
                'service': (service[i % len(service)]
                    if isinstance(service, list) else service),
                'start': SLOT.isoformat(),
                'now': NOW.isoformat(),
                'members': members_,
                'no_lock': no_lock,
                'submit': bookings is not None,
                }
            stderr = tempfile.TemporaryFile()
            process = subprocess.Popen(
                [sys.executable, '-m', 'tests.test_booking_concurrency',
                    json.dumps(spec)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=stderr, env=env, cwd=ROOT, text=True)
            workers.append((process, stderr))
        try:
            # Barrier: every worker loaded its pool before anyone books
            waiting = {p.stdout.fileno(): p for p, _ in workers}
            deadline = time.monotonic() + START_TIMEOUT
            while waiting:
                timeout = deadline - time.monotonic()
                self.assertGreater(timeout, 0, "workers did not start")
                ready, _, _ = select.select(list(waiting), [], [], timeout)
                for fd in ready:
                    line = waiting[fd].stdout.readline()
                    if line.strip() != 'ready':
                        self.fail(self._worker_failure(workers, line))
                    del waiting[fd]
            for process, _ in workers:
                process.stdin.write('go\n')
                process.stdin.flush()
            results, stats = [], {}
            for process, _ in workers:
                out, _ = process.communicate(timeout=REQUEST_TIMEOUT)
                if process.returncode:
                    self.fail(self._worker_failure(workers, out))
                output = json.loads(out.strip().splitlines()[-1])
                results.extend(output['results'])
                for name, value in output['stats'].items():
                    stats[name] = stats.get(name, 0) + value
        finally:
            for process, stderr in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                stderr.close()
        self.assertNotIn('error', [r['result'] for r in results], results)
        return results, stats

    def _worker_failure(self, workers, output):
        errors = []
        for _, stderr in workers:
            stderr.seek(0)
            errors.append(stderr.read().decode('utf-8', 'replace')[-2000:])
        return "worker failed: %r\n%s" % (output, '\n'.join(errors))

    def occupying(self, service):
        "Return the members of the bookings that hold the slot"
        from trytond.pool import Pool

        def read():
            Booking = Pool().get('booking.booking')
            return [b.member.id for b in Booking.search([
                        ('service', 'in', service
                            if isinstance(service, list) else [service]),
                        ('start', '=', SLOT),
                        ('state', 'in', ['pending', 'confirmed']),
                        ])]
        return self._in_transaction(read)

    def overlapping_members(self):
        "Return the members holding two overlapping bookings"
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        def read():
            Booking = Pool().get('booking.booking')
            a, b = Booking.__table__(), Booking.__table__()
            states = ['pending', 'confirmed', 'in_progress', 'done']
            cursor = Transaction().connection.cursor()
            cursor.execute(*a.join(b, condition=(a.member == b.member)
                    & (a.id < b.id)
                    & (a.start < b.end) & (b.start < a.end)).select(
                    a.member,
                    where=a.state.in_(states) & b.state.in_(states)))
            return [m for m, in cursor]
        return self._in_transaction(read)

    def cancel_all(self):
        from trytond.pool import Pool

        def cancel():
            Booking = Pool().get('booking.booking')
            Booking.cancel(Booking.search([]))
        self._in_transaction(cancel)

    def drafts(self, service, members):
        "Create a draft booking of the slot for each member, return the ids"
        from trytond.pool import Pool

        def create():
            pool = Pool()
            Booking = pool.get('booking.booking')
            Company = pool.get('company.company')
            company = Company(self.data['company'])
            return [b.id for b in Booking.create([{
                            'company': company.id,
                            'currency': company.currency.id,
                            'member': m,
                            'service': service,
                            'start': SLOT,
                            } for m in members])]
        return self._in_transaction(create, context={
                'company': self.data['company']})

    def assert_slot_race(self, results, members):
        "Check that exactly CAPACITY of members hold the slot"
        outcomes = [r['result'] for r in results]
        self.assertEqual(len(results), len(members))
        self.assertEqual(outcomes.count('booked'), CAPACITY, outcomes)
        self.assertEqual(
            outcomes.count('slot_full'), len(members) - CAPACITY, outcomes)
        booked = sorted(r['member'] for r in results
            if r['result'] == 'booked')
        self.assertEqual(sorted(self.occupying(self.data['yoga'])), booked)
        self.assertEqual(self.overlapping_members(), [])

    def test_race_for_a_slot(self):
        """40 members race for a slot of capacity 3: exactly 3 are booked,
        and no request fails after its work.

        Catches '_lock_slot: no resource lock' (late conflicts)."""
        self.addCleanup(self.cancel_all)
        members = self.data['members']
        results, stats = self.race(self.data['yoga'], members)
        self.assert_slot_race(results, members)
        self.assertEqual(stats['late'], 0, stats)

    def test_race_without_locks(self):
        """Without the resource and member locks, the row rewrite alone
        keeps the slot within its capacity.

        Catches '_lock_slot: no row rewrite' (overbooking)."""
        self.addCleanup(self.cancel_all)
        members = self.data['members']
        results, stats = self.race(self.data['yoga'], members, no_lock=True)
        self.assert_slot_race(results, members)
        self.assertGreater(stats['late'], 0, stats)

    def test_race_to_submit(self):
        """40 drafts of the slot are submitted at once: exactly 3 hold it.

        Catches '_book: no _lock_slot' (overbooking)."""
        self.addCleanup(self.cancel_all)
        members = self.data['members']
        bookings = self.drafts(self.data['yoga'], members)
        results, _ = self.race(self.data['yoga'], members, bookings=bookings)
        self.assert_slot_race(results, members)

    def test_race_of_one_member(self):
        """One member books the same time on different resources from many
        requests: once only, and no request fails after its work.

        Catches '_lock_slot: no member lock' (late conflicts)."""
        self.addCleanup(self.cancel_all)
        member = self.data['members'][0]
        results, stats = self.race(
            self.data['spinning'], [member] * (PROCESSES * THREADS))
        outcomes = [r['result'] for r in results]
        self.assertEqual(outcomes.count('booked'), 1, outcomes)
        self.assertEqual(
            outcomes.count('booking_overlap'), len(outcomes) - 1, outcomes)
        self.assertEqual(self.occupying(self.data['spinning']), [member])
        self.assertEqual(self.overlapping_members(), [])
        self.assertEqual(stats['late'], 0, stats)


def worker(spec):
    """Book the slot for each member of spec (or submit each draft booking
    of spec), one thread per request"""
    from trytond.modules.service_booking.exceptions import BookingError
    from trytond.pool import Pool

    db_name = os.environ['DB_NAME']
    Pool.start()
    pool = Pool(db_name)
    pool.init()
    if spec['no_lock']:
        for name in ['booking.resource', 'member.member']:
            pool.get(name).lock = classmethod(lambda cls, records=None: None)
    start = dt.datetime.fromisoformat(spec['start'])
    context = {
        'company': spec['company'],
        '_clock_now': dt.datetime.fromisoformat(spec['now']),
        }

    def book(member, stats):
        def create():
            Booking = Pool().get('booking.booking')
            if spec['submit']:
                booking = Booking(member)
                Booking.submit([booking])
                return {'member': booking.member.id, 'result': 'booked'}
            booking = Booking.create_booking(member, spec['service'], start)
            return {'member': member, 'result': 'booked',
                'booking': booking.id}
        try:
            # Restarted to take the locks first, retried on lock or
            # serialization errors like the RPC dispatcher does
            return run_transaction(db_name, create, context=context,
                retries=MAX_ATTEMPTS, stats=stats)
        except BookingError as e:
            if spec['submit']:
                member = run_transaction(db_name, lambda: Pool().get(
                        'booking.booking')(member).member.id)
            return {'member': member, 'result': e.error_code}

    results = [None] * len(spec['members'])
    stats = [{} for _ in spec['members']]

    def run(index, member):
        try:
            results[index] = book(member, stats[index])
        except Exception as exception:
            results[index] = {'member': member, 'result': 'error',
                'error': repr(exception)}

    print('ready', flush=True)
    if sys.stdin.readline().strip() != 'go':
        return 1
    threads = [threading.Thread(target=run, args=(i, m))
        for i, m in enumerate(spec['members'])]
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
