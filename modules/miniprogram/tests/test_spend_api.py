# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Spending points from the mini-program: the rewards catalogue, redeeming,
the member's coupons, points and coupons paying a booking, and every bad
input a client can send."""
import datetime as dt
from decimal import Decimal

from trytond.modules.service_booking.tests.test_module import (
    create_resource, create_service, create_tiers)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from .tools import ApiTestMixin, create_api_company, in_transaction

# 2026-06-01 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
SLOT = '2026-06-03T09:00:00+08:00'
OTHER_SLOT = '2026-06-04T09:00:00+08:00'


class SpendApiTestCase(ApiTestMixin, RouteTestCase):
    "Mini-program API: spending points"
    module = 'miniprogram'
    now = NOW
    phone_prefix = '1360000'
    # The Chinese texts of the errors are loaded
    language = 'zh_CN'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Reward = pool.get('member.reward')
        company = create_api_company()
        with Transaction().set_context(company=company.id):
            create_tiers()
            rooms = [create_resource("Room 1"), create_resource("Room 2")]
            service = create_service(rooms, price=Decimal('158'))
            Reward.create([{
                        'name': "Free cleaning", 'kind': 'service',
                        'service': service.id, 'points_cost': 300,
                        }, {
                        'name': "20 off", 'kind': 'discount',
                        'amount': Decimal(20), 'points_cost': 100,
                        'stock': 1,
                        }, {
                        'name': "Mug", 'kind': 'product', 'points_cost': 50,
                        }, {
                        'name': "Summer towel", 'kind': 'product',
                        'points_cost': 50,
                        'valid_from': dt.date(2026, 7, 1),
                        }])

    def setUp(self):
        super().setUp()

        def configure():
            Configuration = Pool().get('member.configuration')
            Configuration.write([Configuration(1)], {
                    'timezone': 'Asia/Shanghai',
                    'point_value': Decimal('0.1'),
                    'points_max_share': Decimal(50),
                    })
        in_transaction(configure)
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            Service = pool.get('booking.service')
            Reward = pool.get('member.reward')
            self.service_id, = [s.id for s in Service.search([])]
            self.rewards = {r.name: r.id for r in Reward.search([])}

    def login(self, points=0):
        api = super().login()
        if points:
            def give():
                Member = Pool().get('member.member')
                Member.add_points(api.member_id, points, "Welcome")
            in_transaction(give)
        return api

    def balance(self, api):
        data = api.json('GET', 'me', expect=200)
        return data['member']['points_balance']

    def book(self, api, start=SLOT, expect=None, **extra):
        return api.json('POST', 'bookings', dict({
                    'service_id': self.service_id, 'start': start}, **extra),
            expect=expect)

    def redeem(self, api, name, expect=None):
        return api.json('POST', 'rewards/%s/redeem' % self.rewards[name],
            expect=expect)

    def staff(self, func, booking_id):
        def run():
            Booking = Pool().get('booking.booking')
            func(Booking, [Booking(booking_id)])
        in_transaction(run)

    def test_catalogue_redeem_coupons(self):
        "The catalogue, redeeming and the member's coupons"
        alice, bob = self.login(points=500), self.login(points=50)
        data = alice.json('GET', 'rewards', expect=200)
        # The summer towel is not redeemable yet
        self.assertEqual([r['name'] for r in data['items']],
            ["Mug", "20 off", "Free cleaning"])
        self.assertEqual(data['total'], 3)
        discount = data['items'][1]
        self.assertEqual((discount['amount'], discount['currency'],
                discount['stock_left'], discount['kind']),
            ('20.00', 'CNY', 1, 'discount'))
        self.assertEqual(data['items'][2]['service']['id'], self.service_id)

        data = self.redeem(alice, "20 off", expect=201)
        coupon = data['coupon']
        self.assertEqual(data['member']['points_balance'], 400)
        self.assertEqual((coupon['state'], coupon['points'],
                coupon['valid_until'], coupon['reward']['name']),
            ('active', 100, '2026-06-30', "20 off"))
        self.assertEqual(self.balance(alice), 400)
        status, data = alice.json('GET', 'me/points')
        self.assertEqual(data['items'][0]['points'], -100)
        self.assertEqual(data['items'][0]['origin']['type'],
            'member.reward.redemption')

        # The last one is gone
        data = self.assertError(self.redeem(bob, "20 off"),
            409, 'out_of_stock')
        status, data = bob.json('GET', 'rewards')
        self.assertNotIn("20 off", [r['name'] for r in data['items']])
        # Too dear for Bob, not yet, unknown
        data = self.assertError(self.redeem(bob, "Free cleaning"),
            422, 'insufficient_points')
        self.assertEqual(data['error']['details']['available'], 50)
        self.assertError(self.redeem(bob, "Summer towel"),
            422, 'reward_unavailable')
        self.assertError(bob.json('POST', 'rewards/999999/redeem'),
            404, 'not_found')
        self.assertError(bob.json('POST', 'rewards/abc/redeem'),
            404, 'not_found')
        self.assertError(self.api.json('POST', 'rewards/%s/redeem'
                % self.rewards["Mug"]), 401, 'unauthorized')
        self.assertEqual(self.balance(bob), 50)

        data = alice.json('GET', 'me/coupons', expect=200)
        self.assertEqual([c['code'] for c in data['items']], [coupon['code']])
        status, data = bob.json('GET', 'me/coupons')
        self.assertEqual(data, {'items': [], 'total': 0})
        self.assertError(bob.json('GET', 'me/coupons?limit=0'),
            400, 'invalid_request')

        # In Chinese
        bob.language = 'zh-CN'
        data = self.assertError(self.redeem(bob, "Free cleaning"),
            422, 'insufficient_points')
        self.assertIn('积分', data['error']['message'])

    def test_book_with_points(self):
        "Points pay a share of a booking: taken at confirmation, given back"
        # 1000 lifetime points: gold, 15% off 158.00 = 134.30
        alice = self.login(points=1000)
        data = self.book(alice, points=500, expect=201)
        booking = data['booking']
        self.assertEqual(
            (booking['final_price'], booking['points_used'],
                booking['points_value'], booking['amount_due']),
            ('134.30', 500, '50.00', '84.30'))
        self.assertEqual(booking['price_breakdown'], {
                'list': '158.00', 'discount': '23.70',
                'coupon_amount': '0.00', 'points': 500,
                'points_amount': '50.00', 'due': '84.30', 'currency': 'CNY'})
        # Promised, not taken yet
        self.assertEqual(self.balance(alice), 1000)

        # 50% of 134.30 at 0.10 a point: 671 points at most
        data = self.assertError(self.book(alice, start=OTHER_SLOT,
                points=672), 422, 'points_limit')
        self.assertEqual(data['error']['details']['max_points'], 671)
        # 500 of 1000 promised
        data = self.assertError(self.book(alice, start=OTHER_SLOT,
                points=501), 422, 'insufficient_points')
        self.assertEqual(data['error']['details']['available'], 500)
        for points in [-1, 1.5, '10', None, True, 2 ** 31]:
            with self.subTest(points=points):
                self.assertError(self.book(alice, start=OTHER_SLOT,
                        points=points), 400, 'invalid_request')
        status, data = alice.json('GET', 'me/bookings')
        self.assertEqual(data['total'], 1)
        alice.language = 'zh-CN'
        data = self.assertError(self.book(alice, start=OTHER_SLOT,
                points=672), 422, 'points_limit')
        self.assertEqual(data['error']['message'],
            "本预约最多可使用 671 积分（价格的 50%），不能使用 672 积分。")
        alice.language = None

        # Confirmed by the staff: taken
        self.staff(lambda B, b: B.confirm(b), booking['id'])
        self.assertEqual(self.balance(alice), 500)
        status, data = alice.json('GET', 'me/points')
        self.assertEqual((data['items'][0]['points'],
                data['items'][0]['origin']),
            (-500, {'type': 'booking.booking', 'id': booking['id']}))
        # Cancelled inside the window: given back, once
        data = alice.json('POST', 'bookings/%s/cancel'
            % booking['id'], expect=200)
        self.assertEqual(self.balance(alice), 1000)
        self.assertError(alice.json('POST', 'bookings/%s/cancel'
                % booking['id']), 422, 'invalid_state')
        self.assertEqual(self.balance(alice), 1000)

    def test_book_with_coupon(self):
        "A coupon pays a booking once; another member cannot use it"
        alice, bob = self.login(points=500), self.login(points=500)
        data = self.redeem(alice, "Free cleaning", expect=201)
        code = data['coupon']['code']
        status, data = self.redeem(alice, "Mug")
        mug = data['coupon']['code']

        # Bob cannot use Alice's coupon
        data = self.assertError(self.book(bob, coupon=code),
            422, 'invalid_coupon')
        self.assertEqual(data['error']['details']['reason'], 'unknown')
        for coupon, reason in [('NOPE', 'unknown'), (mug, 'not_applicable')]:
            with self.subTest(coupon=coupon):
                data = self.assertError(self.book(alice, coupon=coupon),
                    422, 'invalid_coupon')
                self.assertEqual(data['error']['details']['reason'], reason)
        for coupon in ['', 'X' * 65, 12]:
            with self.subTest(coupon=coupon):
                self.assertError(self.book(alice, coupon=coupon),
                    400, 'invalid_request')

        data = self.book(alice, coupon=code, expect=201)
        booking = data['booking']
        self.assertEqual((booking['coupon'], booking['coupon_amount'],
                booking['amount_due']), (code, '150.10', '0.00'))
        status, data = alice.json('GET', 'me/coupons')
        used, = [c for c in data['items'] if c['code'] == code]
        self.assertEqual((used['state'], used['booking_id']),
            ('used', booking['id']))
        # Used twice
        data = self.assertError(self.book(alice, start=OTHER_SLOT,
                coupon=code), 422, 'invalid_coupon')
        self.assertEqual(data['error']['details']['reason'], 'used')

        # Cancelled: the coupon is usable again
        data = alice.json('POST', 'bookings/%s/cancel'
            % booking['id'], expect=200)
        status, data = alice.json('GET', 'me/coupons')
        self.assertEqual([c['state'] for c in data['items']
                if c['code'] == code], ['active'])
        data = self.book(alice, start=OTHER_SLOT, coupon=code, expect=201)

    def test_openapi_lists_spending(self):
        status, doc = self.api.json('GET', 'openapi.json')
        paths = doc['paths']
        for path in ['rewards', 'rewards/{reward_id}/redeem', 'me/coupons']:
            self.assertIn('/{database}/mp/v1/' + path, paths)
        responses = paths['/{database}/mp/v1/bookings']['post']['responses']
        self.assertIn('invalid_coupon', responses['422']['description'])
        self.assertIn('out_of_stock', paths[
                '/{database}/mp/v1/rewards/{reward_id}/redeem']['post'][
                'responses']['409']['description'])
