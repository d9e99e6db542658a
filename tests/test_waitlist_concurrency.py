# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""Rescheduling and the waiting list under concurrent requests from several
processes (PostgreSQL), as tests/test_booking_concurrency.py does for
booking.

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_waitlistc_$$ \\
        .venv/bin/python -m unittest tests.test_waitlist_concurrency

- test_race_to_reschedule: 40 members move their bookings into one slot of
  capacity 3 at once: exactly 3 move, the others keep their slot.  Catches
  'reschedule: no _lock_slot' (overbooking).
- test_race_for_freed_places: the 3 holders of a full slot cancel while 27
  other members book it directly: the 3 places go to the first 3 members
  of its waiting list, one each, and nobody else gets one; then each
  offered member accepts twice at once, the others try too: 3 bookings.
  Catches 'waitlist: offered places not held' (places taken by direct
  bookings).
"""
import datetime as dt
import json
import os
import sys
import threading
import unittest
from decimal import Decimal

from .tools import (
    require_postgresql, run_together, run_transaction, wait_for_go)

CAPACITY = 3
# Monday 1 June 2026 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
# The raced slot: Tuesday 2 June 2026 10:00 in Shanghai
SLOT = dt.datetime(2026, 6, 2, 2, 0)
PROCESSES = int(os.environ.get('BOOKING_RACE_PROCESSES', 4))
THREADS = int(os.environ.get('BOOKING_RACE_THREADS', 10))
WAITING = 10
MAX_ATTEMPTS = 500
REQUEST_TIMEOUT = 120
START_TIMEOUT = 300


@require_postgresql("the waiting list races need PostgreSQL and several "
    "processes: set TRYTOND_DATABASE_URI=postgresql:/// and a DB_NAME of "
    "your own")
class WaitlistConcurrencyTestCase(unittest.TestCase):
    "Concurrent reschedules, cancellations and offers from several processes"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
        cls.db_name = DB_NAME
        drop_db()
        activate_module(['service_booking'])
        cls.addClassCleanup(drop_db)
        cls.data = cls.in_tx(cls._setup_data)

    @classmethod
    def in_tx(cls, func):
        return run_transaction(cls.db_name, func, context=cls.context())

    @classmethod
    def context(cls):
        return {
            'company': getattr(cls, 'data', {}).get('company'),
            '_clock_now': NOW,
            }

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
            room, = Resource.create([{
                        'name': "Room", 'kind': 'room',
                        'timezone': 'Asia/Shanghai', 'hours': hours,
                        }])
            template, = Template.create([{
                        'name': "Yoga", 'type': 'service',
                        'default_uom': ModelData.get_id(
                            'product', 'uom_unit'),
                        'list_price': Decimal('50'),
                        'products': [('create', [{}])],
                        }])
            yoga, = Service.create([{
                        'product': template.products[0].id,
                        'duration': dt.timedelta(hours=1),
                        'buffer': dt.timedelta(0),
                        'capacity': CAPACITY,
                        'lead_time': dt.timedelta(0),
                        'horizon': 30,
                        'cancel_hours': 0,
                        'timezone': 'Asia/Shanghai',
                        'booking_resources': [('add', [room.id])],
                        }])
            members = Member.create([{
                        'name': "Racer %s" % i,
                        'phone': '138%08d' % i,
                        } for i in range(PROCESSES * THREADS)])
        return {
            'company': company.id,
            'yoga': yoga.id,
            'room': room.id,
            'members': [m.id for m in members],
            }

    def setUp(self):
        super().setUp()
        self.addCleanup(self.clean)

    def clean(self):
        from trytond.pool import Pool

        def clean():
            pool = Pool()
            Booking = pool.get('booking.booking')
            Waitlist = pool.get('booking.waitlist')
            Waitlist.delete(Waitlist.search([]))
            bookings = Booking.search([])
            Booking.write(bookings, {'state': 'cancelled'})
            Booking.delete(bookings)
        self.in_tx(clean)

    def book(self, member, start):
        from trytond.pool import Pool

        def create():
            Booking = Pool().get('booking.booking')
            return Booking.create_booking(
                member, self.data['yoga'], start).id
        return self.in_tx(create)

    def race(self, ops):
        """Run the ops at the same time, one thread each, spread over the
        worker processes; return their results"""
        slices = [ops[i::PROCESSES] for i in range(PROCESSES)]
        slices = [s for s in slices if s]
        specs = []
        for ops_ in slices:
            spec = {
                'company': self.data['company'],
                'service': self.data['yoga'],
                'now': NOW.isoformat(),
                'ops': ops_,
                }
            specs.append(spec)
        results = []
        for output in run_together(
                self, 'tests.test_waitlist_concurrency', specs,
                self.db_name, START_TIMEOUT, REQUEST_TIMEOUT):
            results.extend(output)
        self.assertNotIn('error', [r['result'] for r in results], results)
        return results

    def occupying(self, start=SLOT):
        "Return the members of the bookings that hold the slot"
        from trytond.pool import Pool

        def read():
            Booking = Pool().get('booking.booking')
            return sorted(b.member.id for b in Booking.search([
                        ('start', '=', start),
                        ('state', 'in', ['pending', 'confirmed']),
                        ]))
        return self.in_tx(read)

    def entries(self):
        "Return the (member, state, offer resource) of the waiting list"
        from trytond.pool import Pool

        def read():
            Waitlist = Pool().get('booking.waitlist')
            return [(e.member.id, e.state,
                    e.offer_resource.id if e.offer_resource else None)
                for e in Waitlist.search([], order=[('id', 'ASC')])]
        return self.in_tx(read)

    def test_race_to_reschedule(self):
        """40 members move their bookings into a slot of capacity 3: 3
        move, the others keep theirs.

        Catches 'reschedule: no _lock_slot' (overbooking)."""
        members = self.data['members']
        hour = dt.timedelta(hours=1)
        bookings = {m: self.book(m, SLOT + (i + 1) * hour)
            for i, m in enumerate(members)}
        results = self.race([['reschedule', m, bookings[m], SLOT.isoformat()]
                for m in members])
        outcomes = [r['result'] for r in results]
        self.assertEqual(outcomes.count('done'), CAPACITY, outcomes)
        self.assertEqual(outcomes.count('slot_full'),
            len(members) - CAPACITY, outcomes)
        moved = sorted(r['member'] for r in results if r['result'] == 'done')
        self.assertEqual(self.occupying(), moved)
        for i, member in enumerate(members):
            if member not in moved:
                self.assertEqual(
                    self.occupying(SLOT + (i + 1) * hour), [member])

    def test_race_for_freed_places(self):
        """The holders of a full slot cancel while others book it: the
        places go to the first of the waiting list only, then are booked
        once each.

        Catches 'waitlist: offered places not held' (direct bookings take
        the places)."""
        from trytond.pool import Pool
        members = self.data['members']
        holders = members[:CAPACITY]
        waiting = members[CAPACITY:CAPACITY + WAITING]
        others = members[CAPACITY + WAITING:]
        bookings = {m: self.book(m, SLOT) for m in holders}

        def join(member):
            def func():
                Waitlist = Pool().get('booking.waitlist')
                return Waitlist.join(member, self.data['yoga'], SLOT).id
            return self.in_tx(func)
        entries = {m: join(m) for m in waiting}

        results = self.race(
            [['cancel', m, bookings[m]] for m in holders]
            + [['book', m, SLOT.isoformat()] for m in others])
        outcomes = {(r['op'], r['result']) for r in results}
        self.assertEqual(outcomes, {('cancel', 'done'),
                ('book', 'slot_full')}, results)
        self.assertEqual(self.occupying(), [])
        offered = waiting[:CAPACITY]
        self.assertEqual(self.entries(), [
                (m, 'offered' if m in offered else 'waiting',
                    self.data['room'] if m in offered else None)
                for m in waiting])

        # Each offered member accepts twice at once, the others try too
        results = self.race(
            [['accept', m, entries[m]] for m in offered] * 2
            + [['accept', m, entries[m]] for m in waiting[CAPACITY:]])
        booked = sorted(r['member'] for r in results
            if r['result'] == 'done')
        self.assertEqual(booked, sorted(offered), results)
        self.assertEqual(
            sorted(r['result'] for r in results if r['result'] != 'done'),
            ['invalid_state'] * (len(results) - CAPACITY), results)
        self.assertEqual(self.occupying(), sorted(offered))


def worker(spec):
    "Run each op of spec in a thread of its own, at once"
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

    def call(op):
        kind, member, *args = op
        pool = Pool()
        Booking = pool.get('booking.booking')
        Waitlist = pool.get('booking.waitlist')
        if kind == 'reschedule':
            Booking.reschedule_booking(args[0],
                dt.datetime.fromisoformat(args[1]), member=member)
        elif kind == 'book':
            Booking.create_booking(member, spec['service'],
                dt.datetime.fromisoformat(args[0]))
        elif kind == 'cancel':
            Booking.cancel_booking(args[0], member=member)
        elif kind == 'accept':
            Waitlist.accept(args[0], member=member)

    results = [None] * len(spec['ops'])

    def run(index, op):
        try:
            run_transaction(db_name, lambda: call(op), context=context,
                retries=MAX_ATTEMPTS)
            result = 'done'
        except BookingError as e:
            result = e.error_code
        except Exception as exception:
            result = 'error: %r' % exception
        results[index] = {'op': op[0], 'member': op[1],
            'result': 'error' if result.startswith('error') else result,
            'detail': result}

    wait_for_go()
    threads = [threading.Thread(target=run, args=(i, op))
        for i, op in enumerate(spec['ops'])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT)
    print(json.dumps(results), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(worker(json.loads(sys.argv[1])))
