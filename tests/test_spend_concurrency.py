# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""Spending points under concurrent requests from several processes: no
member promises or spends more points than they have, no reward is redeemed
past its stock.

Worker processes (this module run with -m) connect to the test database
and send their requests at the same instant, several threads each, the way
trytond web workers would (tests.tools.run_transaction: restarted to take
the locks first, retried on lock or serialization errors).

    TRYTOND_DATABASE_URI=postgresql:/// DB_NAME=test_spendc_$$ \\
        .venv/bin/python -m unittest tests.test_spend_concurrency

The protections and the mutation of scripts/check-races that each test
catches (tests/race_mutations.py):

- the points a booking uses are promised under the member lock of
  _lock_slot (the reservation is a sum of the member's pending bookings,
  read then written): test_race_to_spend_on_bookings books one member on
  several resources at once ('_lock_slot: no member, points promised
  twice');
- a redemption takes the stock of its reward with one conditional UPDATE
  (and the check constraint stock_positive): test_race_for_the_last_rewards
  ('reward stock: unconditional update').
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

# Monday 1 June 2026 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
# The first slot: Tuesday 2 June 2026 08:00 in Shanghai
SLOT = dt.datetime(2026, 6, 2, 0, 0)
PROCESSES = int(os.environ.get('SPEND_RACE_PROCESSES', 4))
THREADS = int(os.environ.get('SPEND_RACE_THREADS', 6))
STOCK = 3
BALANCE = 100
# Points a booking uses: two bookings fit in the balance, not three
BOOKING_POINTS = 40
MAX_ATTEMPTS = 500
REQUEST_TIMEOUT = 180
START_TIMEOUT = 300


@require_postgresql("the spending races need PostgreSQL and several "
    "processes: set TRYTOND_DATABASE_URI=postgresql:/// and a DB_NAME of "
    "your own")
class SpendConcurrencyTestCase(unittest.TestCase):
    "Concurrent spending of points from several processes"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
        cls.db_name = DB_NAME
        drop_db()
        activate_module(['service_booking'])
        cls.addClassCleanup(drop_db)
        # Restarted when the configuration (a singleton) locks its table
        cls.data = run_transaction(cls.db_name, cls._setup_data)

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
        Configuration = pool.get('member.configuration')
        Member = pool.get('member.member')
        Resource = pool.get('booking.resource')
        Reward = pool.get('member.reward')
        Service = pool.get('booking.service')
        Template = pool.get('product.template')
        ModelData = pool.get('ir.model.data')

        company = create_company_shanghai()
        Configuration.create([{
                    'timezone': 'Asia/Shanghai',
                    'point_value': Decimal(1),
                    'points_max_share': Decimal(100),
                    }])
        with Transaction().set_context(company=company.id):
            hours = [('create', [{
                            'weekday': str(d), 'start_time': dt.time(0),
                            'end_time': dt.time(0)} for d in range(7)])]
            # A studio per process: the requests of different processes
            # share no resource lock, only the member's
            studios = Resource.create([{
                        'name': "Studio %s" % i, 'kind': 'room',
                        'timezone': 'Asia/Shanghai', 'hours': hours,
                        } for i in range(PROCESSES)])
            services = []
            for i, studio in enumerate(studios):
                template, = Template.create([{
                            'name': "Spinning %s" % i, 'type': 'service',
                            'default_uom': ModelData.get_id(
                                'product', 'uom_unit'),
                            'list_price': Decimal('100'),
                            'products': [('create', [{}])],
                            }])
                services.extend(Service.create([{
                                'product': template.products[0].id,
                                'duration': dt.timedelta(hours=1),
                                'buffer': dt.timedelta(0),
                                'capacity': 100,
                                'lead_time': dt.timedelta(0),
                                'horizon': 30,
                                'timezone': 'Asia/Shanghai',
                                'booking_resources': [('add', [studio.id])],
                                }]))
            limited, dear = Reward.create([{
                        'name': "Last mugs", 'kind': 'product',
                        'points_cost': 10, 'stock': STOCK,
                        }, {
                        'name': "Towel", 'kind': 'product',
                        'points_cost': 60,
                        }])
            members = Member.create([{
                        'name': "Spender %s" % i,
                        'phone': '138%08d' % i,
                        } for i in range(PROCESSES * THREADS)])
        Member.post_points([{
                    'member': m, 'points': BALANCE, 'reason': "Welcome",
                    } for m in members])
        return {
            'company': company.id,
            'services': [s.id for s in services],
            'limited': limited.id,
            'dear': dear.id,
            'members': [m.id for m in members],
            }

    def race(self, requests):
        """Send the requests (dictionaries of worker.send) from one process
        per slice at the same time; return their results"""
        slices = [requests[i::PROCESSES] for i in range(PROCESSES)]
        specs = []
        for slice_ in slices:
            spec = {
                'company': self.data['company'],
                'now': NOW.isoformat(),
                'requests': slice_,
                }
            specs.append(spec)
        results = []
        for output in run_together(
                self, 'tests.test_spend_concurrency', specs,
                self.db_name, START_TIMEOUT, REQUEST_TIMEOUT):
            results.extend(output)
        self.assertNotIn('error', [r['result'] for r in results], results)
        return results

    def member_state(self, member_id):
        """Return the balance, the points promised and the ledger sum of the
        member"""
        from trytond.pool import Pool

        def read():
            Member = Pool().get('member.member')
            member = Member(member_id)
            return (member.points_balance,
                Member.reserved_points([member])[member.id],
                Member.ledger_sums([member])[member.id][0])
        return self._in_transaction(read)

    def test_race_to_spend_on_bookings(self):
        """One member books slots on every resource at once, each with 40 of
        their 100 points: two are booked, the others refused, and the
        confirmed bookings take no more than the balance.

        Catches '_lock_slot: no member, points promised twice'."""
        member = self.data['members'][0]
        services = self.data['services']
        requests = [{
                'kind': 'book', 'member': member,
                'service': services[i % PROCESSES],
                'start': (SLOT + dt.timedelta(hours=i)).isoformat(),
                'points': BOOKING_POINTS,
                } for i in range(PROCESSES * THREADS)]
        results = self.race(requests)
        outcomes = [r['result'] for r in results]
        self.assertEqual(outcomes.count('ok'), 2, outcomes)
        self.assertEqual(outcomes.count('insufficient_points'),
            len(outcomes) - 2, outcomes)
        balance, reserved, _ = self.member_state(member)
        self.assertEqual((balance, reserved), (BALANCE, 2 * BOOKING_POINTS))

        # The staff confirms them all: the points are taken, never below 0
        from trytond.pool import Pool

        def confirm():
            Booking = Pool().get('booking.booking')
            Booking.confirm(Booking.search([('member', '=', member)]))
        run_transaction(self.db_name, confirm)
        balance, reserved, ledger = self.member_state(member)
        self.assertEqual((balance, reserved, ledger),
            (BALANCE - 2 * BOOKING_POINTS, 0, BALANCE - 2 * BOOKING_POINTS))

    def test_race_for_the_last_rewards(self):
        """Every member redeems one of the last 3 mugs at once: 3 get one,
        the others are told out_of_stock and keep their points.

        Catches 'reward stock: unconditional update'."""
        members = self.data['members'][2:]
        requests = [{
                'kind': 'redeem', 'member': m, 'reward': self.data['limited'],
                } for m in members]
        results = self.race(requests)
        outcomes = [r['result'] for r in results]
        self.assertEqual(outcomes.count('ok'), STOCK, outcomes)
        self.assertEqual(outcomes.count('out_of_stock'),
            len(members) - STOCK, outcomes)
        from trytond.pool import Pool

        def read():
            pool = Pool()
            Reward = pool.get('member.reward')
            Redemption = pool.get('member.reward.redemption')
            Member = pool.get('member.member')
            return (Reward(self.data['limited']).stock,
                Redemption.search_count([
                        ('reward', '=', self.data['limited'])]),
                sum(m.points_balance for m in Member.browse(members)))
        stock, redeemed, points = self._in_transaction(read)
        self.assertEqual((stock, redeemed), (0, STOCK))
        self.assertEqual(points, len(members) * BALANCE - STOCK * 10)

    def test_race_to_redeem_and_book(self):
        """One member redeems a 60-point towel and books with 60 points from
        many requests at once: one of them only gets the 100 points."""
        member = self.data['members'][1]
        services = self.data['services']
        requests = []
        for i in range(PROCESSES * THREADS):
            if i % 2:
                requests.append({
                        'kind': 'redeem', 'member': member,
                        'reward': self.data['dear']})
            else:
                requests.append({
                        'kind': 'book', 'member': member,
                        'service': services[i % PROCESSES],
                        'start': (SLOT + dt.timedelta(
                                days=1, hours=i)).isoformat(),
                        'points': 60})
        results = self.race(requests)
        outcomes = [r['result'] for r in results]
        self.assertEqual(outcomes.count('ok'), 1, outcomes)
        self.assertEqual(outcomes.count('insufficient_points'),
            len(outcomes) - 1, outcomes)
        balance, reserved, ledger = self.member_state(member)
        self.assertEqual(balance, ledger)
        self.assertEqual(balance - reserved, BALANCE - 60)


def worker(spec):
    "Send each request of spec from a thread of its own"
    from trytond.exceptions import UserError
    from trytond.pool import Pool

    db_name = os.environ['DB_NAME']
    Pool.start()
    pool = Pool(db_name)
    pool.init()
    context = {
        'company': spec['company'],
        '_clock_now': dt.datetime.fromisoformat(spec['now']),
        }

    def send(request):
        def run():
            pool = Pool()
            if request['kind'] == 'book':
                Booking = pool.get('booking.booking')
                Booking.create_booking(request['member'], request['service'],
                    dt.datetime.fromisoformat(request['start']),
                    points=request['points'])
            else:
                Reward = pool.get('member.reward')
                Reward.redeem(request['reward'], request['member'])
            return {'result': 'ok'}
        try:
            return run_transaction(db_name, run, context=context,
                retries=MAX_ATTEMPTS)
        except UserError as e:
            return {'result': getattr(e, 'error_code', None) or repr(e)}

    results = [None] * len(spec['requests'])

    def run(index, request):
        try:
            results[index] = send(request)
        except Exception as exception:
            results[index] = {'result': 'error', 'error': repr(exception)}

    wait_for_go()
    threads = [threading.Thread(target=run, args=(i, r))
        for i, r in enumerate(spec['requests'])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT)
    print(json.dumps(results), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(worker(json.loads(sys.argv[1])))
