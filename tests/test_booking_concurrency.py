# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""No overbooking under concurrent requests from several processes.

Worker processes (this file run as a script) connect to the test database
(same DB_NAME and TRYTOND_DATABASE_URI) and book at the same instant, each
with several threads, the way trytond web workers would: every request
restarts its transaction when Tryton asks for the locks first, and retries
on lock or serialization errors, a bounded number of times.

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_bookingc_$$ \\
        .venv/bin/python -m unittest tests.test_booking_concurrency

BOOKING_RACE_PROCESSES and BOOKING_RACE_THREADS change the number of workers
(default 10 x 5 = 50 requests).  BOOKING_RACE_CONTROL=1 also runs the race
with the lock removed from the workers and expects it to overbook: proof
that the test catches a missing lock.
"""
import datetime as dt
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPACITY = 3
# The booking clock of the race: Monday 1 June 2026 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
# The raced slot: Tuesday 2 June 2026 10:00 in Shanghai
SLOT = dt.datetime(2026, 6, 2, 2, 0)
PROCESSES = int(os.environ.get('BOOKING_RACE_PROCESSES', 10))
THREADS = int(os.environ.get('BOOKING_RACE_THREADS', 5))
# Bounds of every worker loop
MAX_ATTEMPTS = 500
REQUEST_TIMEOUT = 120
START_TIMEOUT = 300


def _backend_name():
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    return uri.split(':', 1)[0] if uri else 'sqlite'


@unittest.skipUnless(_backend_name() == 'postgresql',
    "the booking race needs PostgreSQL and several processes: set "
    "TRYTOND_DATABASE_URI=postgresql:/// and a DB_NAME of your own")
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
            room, studio = Resource.create([{
                        'name': name, 'kind': 'room',
                        'timezone': 'Asia/Shanghai', 'hours': hours,
                        } for name in ["Room", "Studio"]])
            services = []
            for name, resource, capacity in [
                    ("Yoga", room, CAPACITY),
                    ("Spinning", studio, 100)]:
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
            yoga, spinning = services
            members = Member.create([{
                        'name': "Racer %s" % i,
                        'phone': '139%08d' % i,
                        } for i in range(PROCESSES * THREADS)])
        return {
            'company': company.id,
            'yoga': yoga.id,
            'spinning': spinning.id,
            'members': [m.id for m in members],
            }

    def race(self, service, members, no_lock=False):
        """Start one worker process per slice of members; all book the slot
        of service at the same time.  Return the results of the requests."""
        slices = [members[i::PROCESSES] for i in range(PROCESSES)]
        slices = [s for s in slices if s]
        env = os.environ.copy()
        env['DB_NAME'] = self.db_name
        workers = []
        for members_ in slices:
            spec = {
                'company': self.data['company'],
                'service': service,
                'start': SLOT.isoformat(),
                'now': NOW.isoformat(),
                'members': members_,
                'no_lock': no_lock,
                }
            stderr = tempfile.TemporaryFile()
            process = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), json.dumps(spec)],
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
            results = []
            for process, _ in workers:
                out, _ = process.communicate(timeout=REQUEST_TIMEOUT)
                if process.returncode:
                    self.fail(self._worker_failure(workers, out))
                results.extend(json.loads(out.strip().splitlines()[-1]))
        finally:
            for process, stderr in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                stderr.close()
        return results

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
                        ('service', '=', service),
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

    def test_race_for_a_slot(self):
        "50 members race for a slot of capacity 3: exactly 3 are booked"
        self.addCleanup(self.cancel_all)
        members = self.data['members']
        results = self.race(self.data['yoga'], members)
        outcomes = [r['result'] for r in results]
        self.assertEqual(len(results), len(members))
        self.assertEqual(outcomes.count('booked'), CAPACITY, outcomes)
        self.assertEqual(
            outcomes.count('slot_full'), len(members) - CAPACITY, outcomes)
        booked = sorted(r['member'] for r in results
            if r['result'] == 'booked')
        self.assertEqual(sorted(self.occupying(self.data['yoga'])), booked)
        self.assertEqual(self.overlapping_members(), [])

    def test_race_of_one_member(self):
        "One member books the same time from many requests: once only"
        self.addCleanup(self.cancel_all)
        member = self.data['members'][0]
        results = self.race(
            self.data['spinning'], [member] * (PROCESSES * THREADS))
        outcomes = [r['result'] for r in results]
        self.assertEqual(outcomes.count('booked'), 1, outcomes)
        self.assertEqual(
            outcomes.count('booking_overlap'), len(outcomes) - 1, outcomes)
        self.assertEqual(self.occupying(self.data['spinning']), [member])
        self.assertEqual(self.overlapping_members(), [])

    @unittest.skipUnless(os.environ.get('BOOKING_RACE_CONTROL'),
        "control run: set BOOKING_RACE_CONTROL=1 to show that the race "
        "overbooks without the lock")
    def test_race_without_lock_overbooks(self):
        "Without the lock the same race overbooks (the test has teeth)"
        self.addCleanup(self.cancel_all)
        members = self.data['members']
        results = self.race(self.data['yoga'], members, no_lock=True)
        booked = [r for r in results if r['result'] == 'booked']
        print("\nwithout the lock: %d bookings for a capacity of %d"
            % (len(booked), CAPACITY), file=sys.stderr)
        self.assertGreater(len(booked), CAPACITY)


def worker(spec):
    "Book the slot for each member of spec, one thread per member"
    from trytond import backend
    from trytond.modules.service_booking.exceptions import BookingError
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    db_name = os.environ['DB_NAME']
    Pool.start()
    pool = Pool(db_name)
    pool.init()
    Booking = pool.get('booking.booking')
    if spec['no_lock']:
        Booking._lock_slot = classmethod(lambda cls, *args: None)
    start = dt.datetime.fromisoformat(spec['start'])
    context = {
        'company': spec['company'],
        '_clock_now': dt.datetime.fromisoformat(spec['now']),
        }

    def book(member):
        extras = {}
        deadline = time.monotonic() + REQUEST_TIMEOUT / 2
        for attempt in range(MAX_ATTEMPTS):
            if time.monotonic() > deadline:
                break
            try:
                with Transaction().start(
                        db_name, 0, context=context, **extras) as transaction:
                    try:
                        booking = Pool().get('booking.booking')\
                            .create_booking(member, spec['service'], start)
                    except TransactionError as e:
                        transaction.rollback()
                        e.fix(extras)
                        continue
                    except BookingError as e:
                        transaction.rollback()
                        return {'member': member, 'result': e.error_code}
                    booking_id = booking.id
                    transaction.commit()
                return {'member': member, 'result': 'booked',
                    'booking': booking_id, 'attempts': attempt + 1}
            except backend.DatabaseOperationalError:
                # Lock held by another request or serialization failure:
                # retry like the RPC dispatcher does
                time.sleep(random.uniform(0.005, 0.05))
        return {'member': member, 'result': 'gave_up'}

    results = [None] * len(spec['members'])

    def run(index, member):
        try:
            results[index] = book(member)
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
    print(json.dumps(results), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(worker(json.loads(sys.argv[1])))
