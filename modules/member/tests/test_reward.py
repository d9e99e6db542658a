# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The rewards catalogue: redeeming, stock, validity, voiding, the coupons
of a member"""
import datetime as dt
import unittest

from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import set_company
from trytond.modules.member.exceptions import (
    InsufficientPointsError, InvalidCouponError, OutOfStockError,
    RedemptionStateError, RewardNotFoundError, RewardUnavailableError)
from trytond.modules.member.member import member_context
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member, create_user)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

# 1 June 2026, 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)


class RewardTestCase(unittest.TestCase):
    "Rewards catalogue"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('member')
        cls.addClassCleanup(drop_db)

    def setup(self, points=500):
        "Return Alice with points and a company of the context"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Member = pool.get('member.member')
        company = create_company_shanghai()
        Configuration.write([Configuration(1)], {'timezone': 'Asia/Shanghai'})
        alice = create_member("Alice")
        if points:
            Member.add_points(alice, points, "Welcome")
        return company, Member(alice.id)

    def reward(self, **values):
        Reward = Pool().get('member.reward')
        reward, = Reward.create([dict({
                        'name': "Mug", 'kind': 'product', 'points_cost': 200,
                        }, **values)])
        return reward

    @with_transaction(context={'_clock_now': NOW})
    def test_redeem(self):
        "Redeeming spends the points, takes the stock, gives a coupon"
        pool = Pool()
        Member = pool.get('member.member')
        Reward = pool.get('member.reward')
        company, alice = self.setup()
        with set_company(company):
            reward = self.reward(stock=2, coupon_days=10)
            redemption = Reward.redeem(reward, alice)
        self.assertEqual(redemption.state, 'active')
        self.assertEqual(redemption.status, 'active')
        self.assertEqual(len(redemption.code), 10)
        self.assertEqual(redemption.valid_until, dt.date(2026, 6, 10))
        self.assertEqual(redemption.points_line.points, -200)
        self.assertEqual(redemption.points_line.origin, redemption)
        self.assertEqual(Member(alice.id).points_balance, 300)
        self.assertEqual(Member(alice.id).lifetime_points, 500)
        self.assertEqual(Reward(reward.id).stock, 1)
        self.assertEqual(Reward(reward.id).redeemed, 1)
        self.assertEqual(Member.check_balances([alice]), [])

    @with_transaction(context={'_clock_now': NOW})
    def test_redeem_refused(self):
        "Unknown, unavailable, out of stock, too dear: nothing changes"
        pool = Pool()
        Member = pool.get('member.member')
        Reward = pool.get('member.reward')
        Redemption = pool.get('member.reward.redemption')
        company, alice = self.setup(points=300)
        with set_company(company):
            empty = self.reward(stock=0)
            later = self.reward(valid_from=dt.date(2026, 6, 2))
            over = self.reward(valid_until=dt.date(2026, 5, 31))
            dear = self.reward(points_cost=301)
            archived = self.reward(active=False)
        for reward, error in [
                (999999, RewardNotFoundError),
                ('x', RewardNotFoundError),
                (archived, RewardNotFoundError),
                (empty, OutOfStockError),
                (later, RewardUnavailableError),
                (over, RewardUnavailableError),
                (dear, InsufficientPointsError),
                ]:
            with self.subTest(reward=reward):
                with self.assertRaises(error):
                    Reward.redeem(reward, alice)
        self.assertEqual(Redemption.search([]), [])
        self.assertEqual(Member(alice.id).points_balance, 300)
        self.assertEqual(Reward.catalogue()[1], 1)
        # The stock cannot go below zero
        with self.assertRaises(ValidationError):
            Reward.write([empty], {'stock': -1})

    @with_transaction(context={'_clock_now': NOW})
    def test_void(self):
        "Voiding gives the points and the stock back, once"
        pool = Pool()
        Member = pool.get('member.member')
        Reward = pool.get('member.reward')
        Redemption = pool.get('member.reward.redemption')
        company, alice = self.setup()
        with set_company(company):
            reward = self.reward(stock=1)
            redemption = Reward.redeem(reward, alice)
        lifetime = Member(alice.id).lifetime_points
        self.assertEqual(Reward.catalogue()[1], 0)
        Redemption.void([redemption])
        redemption = Redemption(redemption.id)
        self.assertEqual(redemption.state, 'voided')
        self.assertEqual(redemption.refund_line.points, 200)
        self.assertEqual(Member(alice.id).points_balance, 500)
        self.assertEqual(Reward(reward.id).stock, 1)
        # Given back to the lots it took, not earned again (the tier)
        self.assertEqual(redemption.refund_line.reverses,
            redemption.points_line)
        self.assertEqual(Member(alice.id).lifetime_points, lifetime)
        # Voided once: the button does nothing more
        Redemption.void([redemption])
        self.assertEqual(Member(alice.id).points_balance, 500)
        self.assertEqual(Reward(reward.id).stock, 1)
        with self.assertRaises(InvalidCouponError):
            Redemption.find_coupon(redemption.code, alice)
        with self.assertRaises(RedemptionStateError):
            Redemption.delete([redemption])

    @with_transaction(context={'_clock_now': NOW})
    def test_coupon(self):
        "A coupon is found by its member only, until used or expired"
        pool = Pool()
        Reward = pool.get('member.reward')
        Redemption = pool.get('member.reward.redemption')
        company, alice = self.setup()
        bob = create_member("Bob")
        with set_company(company):
            reward = self.reward(coupon_days=1)
            redemption = Reward.redeem(reward, alice)
        code = redemption.code
        self.assertEqual(Redemption.find_coupon(
                '%s-%s' % (code[:5].lower(), code[5:]), alice), redemption)
        for code_, member, reason in [
                (code, bob, 'unknown'),
                ('NOPE', alice, 'unknown'),
                (None, alice, 'unknown'),
                ]:
            with self.subTest(code=code_):
                with self.assertRaises(InvalidCouponError) as cm:
                    Redemption.find_coupon(code_, member)
                self.assertEqual(cm.exception.details['reason'], reason)
        with Transaction().set_context(
                _clock_now=NOW + dt.timedelta(days=1)):
            self.assertEqual(Redemption(redemption.id).status, 'expired')
            with self.assertRaises(InvalidCouponError) as cm:
                Redemption.find_coupon(code, alice)
            self.assertEqual(cm.exception.details['reason'], 'expired')
        # Handed over by the staff
        Redemption.use([redemption])
        with self.assertRaises(InvalidCouponError) as cm:
            Redemption.find_coupon(code, alice)
        self.assertEqual(cm.exception.details['reason'], 'used')

    @with_transaction(context={'_clock_now': NOW})
    def test_member_reads_own_coupons(self):
        "Through the API user, a member reads only its own redemptions"
        pool = Pool()
        Reward = pool.get('member.reward')
        Redemption = pool.get('member.reward.redemption')
        company, alice = self.setup()
        bob = create_member("Bob")
        Pool().get('member.member').add_points(bob, 500, "Welcome")
        with set_company(company):
            reward = self.reward()
            mine = Reward.redeem(reward, alice)
            Reward.redeem(reward, bob)
        user = create_user('api', 'group_member_self')
        with Transaction().set_user(user.id), Transaction().set_context(
                _check_access=True, **member_context(alice.id)):
            self.assertEqual(Redemption.search([]), [mine])
            self.assertEqual(Redemption.member_coupons(), ([mine], 1))
            with self.assertRaises(RewardNotFoundError):
                Redemption.member_coupons(bob)
            with self.assertRaises(RewardNotFoundError):
                Reward.redeem(reward, bob)
