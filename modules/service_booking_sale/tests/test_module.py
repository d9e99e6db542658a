# This file is part of the service_booking_sale module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
import datetime as dt
import importlib.util
import unittest
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, DomainValidationError
from trytond.modules.company.tests import set_company
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.modules.service_booking.tests.test_module import (
    NOW, H, clock, create_product, create_resource, create_service,
    create_tiers, utc)
from trytond.modules.suite.tests.tools import in_transaction
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction, check_access

# The bridge needs Tryton's sale (the erp extra of setup.py): without it
# the tests are skipped (a SkipTest raised on import would count as an
# import error of scripts/run_tests.py)
INSTALLED = importlib.util.find_spec('trytond.modules.sale') is not None
if INSTALLED:
    from trytond.modules.account.tests import create_chart

D = dt.timedelta(days=1)
# Tuesday 2 June 2026, 09:00 in Shanghai
START = utc(dt.datetime(2026, 6, 2, 9))


@unittest.skipUnless(INSTALLED, "trytond_sale is not installed")
class ServiceBookingSaleTestCase(ModuleTestCase):
    "Test Service Booking Sale module"
    module = 'service_booking_sale'
    extras = ['sale', 'account_invoice']

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def setup():
            # The company and its chart of accounts, made once for the
            # tests of the class: each test rolls its own changes back
            company = create_company_shanghai()
            with set_company(company), clock(NOW):
                create_chart(company, tax=True)
            return company.id
        cls.company_id = in_transaction(setup)

    @contextmanager
    def setup(self):
        """Yield a company in Shanghai with a chart of accounts and a 20%
        tax, a 200.00 service whose product bears the tax, a member with
        600 points (silver tier: 5% off) worth 0.10 each, with the booking
        clock at NOW"""
        pool = Pool()
        Account = pool.get('account.account')
        Category = pool.get('product.category')
        Company = pool.get('company.company')
        Configuration = pool.get('member.configuration')
        Member = pool.get('member.member')
        Tax = pool.get('account.tax')
        Template = pool.get('product.template')
        company = Company(self.company_id)
        with set_company(company), clock(NOW):
            tax, = Tax.search([])
            revenue, = Account.search([
                    ('type.revenue', '=', True),
                    ('closed', '=', False),
                    ], limit=1)
            category, = Category.create([{
                        'name': "Services",
                        'accounting': True,
                        'account_revenue': revenue.id,
                        'customer_taxes': [('add', [tax.id])],
                        }])
            create_tiers()
            resource = create_resource("Room 1")
            service = create_service([resource], price=Decimal('200'))
            Template.write([service.product.template], {
                    'salable': True,
                    'sale_uom': service.product.default_uom.id,
                    'account_category': category.id,
                    })
            Configuration.write([Configuration(1)], {
                    'point_value': Decimal('0.1'),
                    'points_max_share': Decimal(50),
                    })
            member = create_member("Alice")
            Member.add_points(member, 600, "Welcome")
            yield SimpleNamespace(company=company, tax=tax,
                category=category, resource=resource, service=service,
                member=Member(member.id))

    def done(self, s, start=START, member=None, **values):
        "Book start for member (default s.member), confirm, begin, finish"
        pool = Pool()
        Booking = pool.get('booking.booking')
        booking = Booking.create_booking(
            member or s.member, s.service, start, **values)
        Booking.confirm([booking])
        with clock(start):
            Booking.begin([booking])
            Booking.finish([booking])
        return Booking(booking.id)

    def no_show(self, s, start=START):
        pool = Pool()
        Booking = pool.get('booking.booking')
        booking = Booking.create_booking(s.member, s.service, start)
        Booking.confirm([booking])
        with clock(start + H):
            Booking.no_show([booking])
        return Booking(booking.id)

    def coupon(self, member, amount):
        "Redeem a discount coupon of amount for member"
        pool = Pool()
        Reward = pool.get('member.reward')
        reward, = Reward.create([{
                    'name': "%s off" % amount, 'kind': 'discount',
                    'points_cost': 100, 'amount': amount,
                    }])
        return Reward.redeem(reward, member)

    def configure(self, **values):
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Configuration.write([Configuration(1)], values)

    def lines(self, sale):
        return [(l.product, l.quantity, l.unit_price, l.amount,
                [t.id for t in l.taxes], l.booking)
            for l in sale.lines]

    @with_transaction()
    def test_amounts(self):
        "The price, the tier discount, the coupon and the points as lines"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            coupon = self.coupon(s.member, Decimal(10))
            booking = self.done(s, coupon=coupon.code, points=100)
            self.assertEqual(
                (booking.price, booking.final_price, booking.coupon_amount,
                    booking.points_amount, booking.amount_due),
                (Decimal('200.00'), Decimal('190.00'), Decimal('10.00'),
                    Decimal('10.00'), Decimal('170.00')))

            sale, = Booking.create_sales([booking], process='draft')

            self.assertEqual(sale.state, 'draft')
            self.assertEqual(sale.party, s.member.party)
            self.assertEqual(sale.origin, booking)
            self.assertEqual(sale.sale_date, dt.date(2026, 6, 2))
            product, tax = s.service.product, [s.tax.id]
            self.assertEqual(self.lines(sale), [
                    (product, 1, Decimal('200.00'), Decimal('200.00'), tax,
                        booking),
                    (product, -1, Decimal('10.00'), Decimal('-10.00'), tax,
                        booking),
                    (product, -1, Decimal('10.00'), Decimal('-10.00'), tax,
                        booking),
                    (product, -1, Decimal('10.00'), Decimal('-10.00'), tax,
                        booking),
                    ])
            self.assertIn("5%", sale.lines[1].description)
            self.assertIn(coupon.code, sale.lines[2].description)
            self.assertIn("100 points", sale.lines[3].description)
            # The 20% tax on the amount due
            self.assertEqual(
                (sale.untaxed_amount, sale.tax_amount, sale.total_amount),
                (Decimal('170.00'), Decimal('34.00'), Decimal('204.00')))
            booking = Booking(booking.id)
            self.assertEqual(booking.sale_line, sale.lines[0])

    @with_transaction()
    def test_processed_invoice(self):
        "Processed, the sale on order has its invoice of the same amounts"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            booking = self.done(s, points=100)
            sale, = Booking.create_sales([booking])
            self.assertEqual(sale.state, 'processing')
            invoice, = sale.invoices
            self.assertEqual(invoice.party, s.member.party)
            # 200.00 less 5% and 10.00 of points
            self.assertEqual(
                (invoice.untaxed_amount, invoice.tax_amount,
                    invoice.total_amount),
                (Decimal('180.00'), Decimal('36.00'), Decimal('216.00')))
            self.assertEqual(len(invoice.lines), 3)

    @with_transaction()
    def test_no_discount_no_tax(self):
        "A member without discount of a product without tax: one line"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Category = pool.get('product.category')
        with self.setup() as s:
            Category.write([s.category], {
                    'customer_taxes': [('remove', [s.tax.id])]})
            s.member = create_member("Bob")
            booking = self.done(s)
            self.assertEqual(booking.tier.code, 'basic')
            sale, = Booking.create_sales([booking], process='quotation')
            self.assertEqual(sale.state, 'quotation')
            self.assertEqual(self.lines(sale), [
                    (s.service.product, 1, Decimal('200.00'),
                        Decimal('200.00'), [], booking)])
            self.assertEqual(sale.total_amount, Decimal('200.00'))

    @with_transaction()
    def test_grouping(self):
        "One sale per booking, or per member for the bookings of a run"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            first = self.done(s)
            second = self.done(s, start=START + D)
            other = self.done(
                s, start=START + 5 * H / 2, member=create_member("Bob"))

            # Per booking (the default)
            sales = Booking.bill(
                dt.date(2026, 6, 2), dt.date(2026, 6, 2), process='draft')
            self.assertEqual(len(sales), 2)
            self.assertEqual(
                {sale.origin for sale in sales}, {first, Booking(other.id)})

            # Per member: the bookings of the member in one sale
            self.configure(sale_grouping='member')
            pool.get('sale.sale').delete(sales)
            sales = Booking.bill(
                dt.date(2026, 6, 1), dt.date(2026, 6, 3), process='draft')
            self.assertEqual(
                sorted((s_.party.name, len(s_.lines)) for s_ in sales),
                [("Alice", 4), ("Bob", 1)])
            alice, = [s_ for s_ in sales if s_.party == s.member.party]
            self.assertEqual(
                [l.booking for l in alice.lines],
                [first, first, second, second])
            self.assertEqual(alice.sale_date, dt.date(2026, 6, 3))
            self.assertIsNone(alice.origin)
            self.assertIn("2026-06-02", alice.description)
            self.assertIn("2026-06-03", alice.description)

    @with_transaction()
    def test_billed_once(self):
        "A second run bills nothing; the bookings keep their lines"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Line = pool.get('sale.line')
        with self.setup() as s:
            booking = self.done(s)
            day = dt.date(2026, 6, 2)
            sale, = Booking.bill(day, day)
            self.assertEqual(Booking.bill(day, day), [])
            self.assertEqual(Booking.create_sales([booking]), [])
            self.assertEqual(
                [l.sale for l in Line.search([])], [sale, sale])
            self.assertEqual(Booking(booking.id).sale_line.sale, sale)

    @with_transaction()
    def test_draft_sale_deleted(self):
        "A draft sale deleted: its bookings are billed again"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Line = pool.get('sale.line')
        Sale = pool.get('sale.sale')
        with self.setup() as s:
            booking = self.done(s)
            sale, = Booking.create_sales([booking], process='draft')
            # The lines of a booking go together
            with self.assertRaises(UserError):
                Line.delete([sale.lines[1]])
            Sale.delete([sale])
            self.assertIsNone(Booking(booking.id).sale_line)
            sale, = Booking.create_sales([booking], process='draft')
            self.assertEqual(len(sale.lines), 2)

    @with_transaction()
    def test_cancelled_nothing(self):
        "A cancelled booking and a booking not done make no sale"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            cancelled = Booking.create_booking(s.member, s.service, START)
            Booking.cancel([cancelled])
            pending = Booking.create_booking(
                s.member, s.service, START + D)
            self.assertEqual(
                Booking.create_sales([cancelled, pending]), [])
            self.assertEqual(
                Booking.bill(dt.date(2026, 6, 1), dt.date(2026, 6, 30)), [])
            self.assertIsNone(Booking(cancelled.id).sale_line)

    @with_transaction()
    def test_no_show_fee(self):
        "A no-show is billed its fee only when configured"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            booking = self.no_show(s)
            day = dt.date(2026, 6, 2)
            self.assertEqual(Booking.bill(day, day), [])
            self.assertIsNone(Booking(booking.id).sale_line)

            fee = create_product("No-Show Fee", Decimal('50'))
            fee.template.salable = True
            fee.template.sale_uom = fee.default_uom
            fee.template.account_category = s.category
            fee.template.save()
            self.configure(sale_no_show_product=fee.id)
            # The list price of the product
            sale, = Booking.bill(day, day, process='draft')
            self.assertEqual(self.lines(sale), [
                    (fee, 1, Decimal('50'), Decimal('50.00'), [s.tax.id],
                        booking)])
            self.assertEqual(sale.total_amount, Decimal('60.00'))
            self.assertEqual(Booking.bill(day, day), [])

            # The fee of the configuration
            pool.get('sale.sale').delete([sale])
            self.configure(sale_no_show_fee=Decimal('30'))
            sale, = Booking.bill(day, day, process='draft')
            self.assertEqual(sale.untaxed_amount, Decimal('30.00'))

    @with_transaction()
    def test_bad_configuration(self):
        "Clear errors for a product that cannot be billed"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Template = pool.get('product.template')
        with self.setup() as s:
            with self.assertRaises(DomainValidationError):
                self.configure(sale_no_show_fee=Decimal('-1'))
            not_salable = create_product("Penalty", Decimal('50'))
            with self.assertRaises(DomainValidationError):
                self.configure(sale_no_show_product=not_salable.id)

            # A fee product without a price nor a fee
            fee = create_product("No-Show Fee", Decimal('50'))
            Template.write([fee.template], {
                    'salable': True, 'sale_uom': fee.default_uom.id,
                    'list_price': None})
            self.configure(
                sale_no_show_product=fee.id, sale_no_show_fee=None)
            self.no_show(s)
            with self.assertRaises(UserError) as cm:
                Booking.bill(dt.date(2026, 6, 2), dt.date(2026, 6, 2))
            self.assertIn("No-Show Fee", cm.exception.message)

            # A service product that is not salable
            self.configure(sale_no_show_product=None)
            booking = self.done(s, start=START + D)
            Template.write([s.service.product.template], {
                    'salable': False})
            with self.assertRaises(UserError) as cm:
                Booking.create_sales([booking], process='draft')
            self.assertIn(s.service.product.rec_name, cm.exception.message)

            # A service product without revenue account: the sale says so
            # when it makes the invoice
            Template.write([s.service.product.template], {
                    'salable': True, 'account_category': None})
            with self.assertRaises(UserError):
                Booking.create_sales([booking])

    @with_transaction()
    def test_billed_correction_refused(self):
        "A billed booking refuses a change of what it was billed for"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            booking = self.done(s)
            other = self.done(s, start=START + D)
            Booking.create_sales([booking])
            with self.assertRaises(UserError) as cm:
                Booking.write([booking], {'state': 'cancelled'})
            self.assertIn(booking.sale_line.sale.rec_name,
                cm.exception.message)
            # What is not billed may still change
            Booking.write([booking], {'note': "Paid in cash"})
            Booking.write([other], {'state': 'cancelled'})

    @with_transaction()
    def test_line_booking_external(self):
        "The booking of a sale line cannot be set by a user"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Line = pool.get('sale.line')
        with self.setup() as s:
            booking = self.done(s)
            sale, = Booking.create_sales([booking], process='draft')
            with self.assertRaises(AccessError):
                Line.check_modification(
                    'write', [sale.lines[0]], {'booking': None},
                    external=True)
            # A copied sale bills no booking
            copy, = pool.get('sale.sale').copy([sale])
            self.assertEqual([l.booking for l in copy.lines], [None, None])

    @with_transaction()
    def test_wizard_access(self):
        "A salesman runs Create Sales; a booking user may not create sales"
        pool = Pool()
        Booking = pool.get('booking.booking')
        CreateSales = pool.get('booking.booking.create_sales', type='wizard')
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        with self.setup() as s:
            booking = self.done(s)
            users = {}
            for login, module, group in [
                    ('sale', 'sale', 'group_sale'),
                    ('book', 'service_booking', 'group_booking_user')]:
                users[login], = User.create([{
                            'login': login, 'name': login,
                            'groups': [('add', [
                                        ModelData.get_id(module, group)])],
                            'companies': [('add', [s.company.id])],
                            'company': s.company.id,
                            }])

            def run(login):
                with Transaction().set_user(users[login].id), \
                        check_access():
                    session_id, _, _ = CreateSales.create()
                    wizard = CreateSales(session_id)
                    wizard.start.from_date = dt.date(2026, 6, 1)
                    wizard.start.to_date = dt.date(2026, 6, 30)
                    wizard.start.process = 'quotation'
                    action, _ = wizard.do_create_(
                        wizard.create_.get_action())
                    return action

            with self.assertRaises(AccessError):
                run('book')
            self.assertIsNone(Booking(booking.id).sale_line)
            action = run('sale')
            sale = Booking(booking.id).sale_line.sale
            self.assertEqual(sale.state, 'quotation')
            self.assertIn(str(sale.id), action['pyson_domain'])

    @with_transaction()
    def test_cron_yesterday(self):
        "The scheduler bills the bookings of the day before, in Shanghai"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.setup() as s:
            booking = self.done(s)
            later = self.done(s, start=START + D)
            # Wednesday 3 June, 07:00 in Shanghai (still Tuesday in UTC)
            with clock(utc(dt.datetime(2026, 6, 3, 7))):
                sale, = Booking.create_sales_yesterday()
                self.assertEqual(Booking.create_sales_yesterday(), [])
            self.assertEqual(sale.origin, booking)
            self.assertIsNone(Booking(later.id).sale_line)


del ModuleTestCase
