# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""Exact rating counts and averages under concurrent ratings from several
processes (issue 20).

The counts and averages of a service and of a resource are one SQL
aggregate of the ratings (booking.rating.aggregates), never a stored
counter: they cannot drift from the ratings.  What keeps them exact is one
rating per booking, held by the unique constraint of booking.rating (the
look for an existing rating before the insert sees only the snapshot of
the transaction: two concurrent requests both miss each other's rating).

Worker processes (this module run with -m) connect to the test database and
rate the same bookings at the same instant, several requests per booking
from different processes, each with several threads, the way trytond web
workers would.

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_ratingc_$$ \\
        .venv/bin/python -m unittest tests.test_rating_concurrency

Catches 'rating: no unique booking' (scripts/check-races).
"""
import datetime as dt
import json
import os
import sys
import threading
import unittest
from decimal import ROUND_HALF_UP, Decimal

from .tools import (
    require_postgresql, run_together, run_transaction, wait_for_go)

# The clock of the race: Monday 1 June 2026 20:00 in Shanghai, after the
# bookings
NOW = dt.datetime(2026, 6, 1, 12, 0)
PROCESSES = int(os.environ.get('RATING_RACE_PROCESSES', 4))
THREADS = int(os.environ.get('RATING_RACE_THREADS', 10))
# Each booking is rated by this many requests at once
PER_BOOKING = 4
MAX_ATTEMPTS = 500
REQUEST_TIMEOUT = 120
START_TIMEOUT = 300


@require_postgresql("the rating race needs PostgreSQL and several "
    "processes: set TRYTOND_DATABASE_URI=postgresql:/// and a DB_NAME of "
    "your own")
class RatingConcurrencyTestCase(unittest.TestCase):
    "Concurrent ratings from several processes"

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
        "A service of two resources and done bookings of their members"
        from trytond.modules.member.tests.test_module import (
            create_company_shanghai, create_member)
        from trytond.modules.service_booking.tests.test_module import (
            create_resource, create_service)
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool()
        Booking = pool.get('booking.booking')

        company = create_company_shanghai()
        count = PROCESSES * THREADS // PER_BOOKING
        with Transaction().set_context(company=company.id):
            rooms = [create_resource("Room A"), create_resource("Room B")]
            service = create_service(rooms, capacity=count)
            members = [create_member("Racer %s" % i) for i in range(count)]
            start = dt.datetime(2026, 6, 1, 2, 0)
            bookings = Booking.create([{
                        'company': company.id,
                        'currency': company.currency.id,
                        'member': m.id,
                        'service': service.id,
                        'resource': rooms[i % 2].id,
                        'start': start,
                        } for i, m in enumerate(members)])
            # Done: the workflow's writes without its checks of the clock
            Booking.write(bookings, {'state': 'done'})
        return {
            'company': company.id,
            'service': service.id,
            'rooms': [r.id for r in rooms],
            'bookings': [(b.id, b.member.id, b.resource.id)
                for b in bookings],
            }

    def race(self, requests):
        """Start one worker process per slice of requests (booking, member,
        stars); all rate at the same time.  Return the results."""
        slices = [requests[i::PROCESSES] for i in range(PROCESSES)]
        specs = []
        for requests_ in slices:
            spec = {
                'company': self.data['company'],
                'now': NOW.isoformat(),
                'requests': requests_,
                }
            specs.append(spec)
        results = []
        for output in run_together(
                self, 'tests.test_rating_concurrency', specs,
                self.db_name, START_TIMEOUT, REQUEST_TIMEOUT):
            results.extend(output)
        self.assertNotIn('error', [r['result'] for r in results], results)
        return results

    def read(self):
        "Return the ratings (booking, stars) and the aggregates"
        from trytond.pool import Pool

        def read():
            pool = Pool()
            Rating = pool.get('booking.rating')
            Resource = pool.get('booking.resource')
            Service = pool.get('booking.service')
            ratings = [(r.booking.id, r.stars) for r in Rating.search([])]
            service = Service(self.data['service'])
            rooms = Resource.browse(self.data['rooms'])
            return ratings, {
                'service': (service.rating_count, service.rating_average),
                'rooms': [(r.rating_count, r.rating_average) for r in rooms],
                }
        return self._in_transaction(read)

    def test_concurrent_ratings(self):
        """Each booking is rated by 4 requests at once from different
        processes: one rating each, the others already_rated; the counts
        and averages of the service and the resources are exact.

        Catches 'rating: no unique booking' (two ratings of a booking)."""
        bookings = self.data['bookings']
        requests = []
        for round_ in range(PER_BOOKING):
            for i, (booking, member, _) in enumerate(bookings):
                # Different stars per request: the winner decides
                requests.append((booking, member, (i + round_) % 5 + 1))
        results = self.race(requests)

        outcomes = [r['result'] for r in results]
        self.assertEqual(len(outcomes), len(requests))
        rated = [r for r in results if r['result'] == 'rated']
        self.assertEqual(len(rated), len(bookings), outcomes)
        self.assertEqual(outcomes.count('already_rated'),
            len(requests) - len(bookings), outcomes)
        self.assertEqual(
            sorted(r['booking'] for r in rated),
            sorted(b for b, _, _ in bookings))

        ratings, aggregates = self.read()
        self.assertEqual(sorted(ratings),
            sorted((r['booking'], r['stars']) for r in rated))

        def expected(stars):
            if not stars:
                return (0, None)
            return (len(stars), (Decimal(sum(stars)) / len(stars)).quantize(
                    Decimal('0.01'), rounding=ROUND_HALF_UP))
        by_booking = dict(ratings)
        self.assertEqual(aggregates['service'],
            expected([s for _, s in ratings]))
        self.assertEqual(aggregates['rooms'], [
                expected([by_booking[b] for b, _, r in bookings
                        if r == room and b in by_booking])
                for room in self.data['rooms']])


def worker(spec):
    "Rate the booking of each request of spec, one thread per request"
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

    def rate(booking, member, stars):
        def create():
            Rating = Pool().get('booking.rating')
            Rating.rate(booking, stars, member=member)
            return {'booking': booking, 'stars': stars, 'result': 'rated'}
        try:
            return run_transaction(db_name, create, context=context,
                retries=MAX_ATTEMPTS)
        except BookingError as e:
            return {'booking': booking, 'stars': stars,
                'result': e.error_code}

    requests = spec['requests']
    results = [None] * len(requests)

    def run(index, request):
        try:
            results[index] = rate(*request)
        except Exception as exception:
            results[index] = {'booking': request[0], 'result': 'error',
                'error': repr(exception)}

    wait_for_go()
    threads = [threading.Thread(target=run, args=(i, r))
        for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT)
    print(json.dumps(results), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(worker(json.loads(sys.argv[1])))
