# This file is part of the service_booking_sale module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
import datetime as dt
from decimal import Decimal
from itertools import groupby

from trytond.i18n import gettext
from trytond.model import ModelView, Unique, fields
from trytond.modules.suite import clock
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, PYSONEncoder
from trytond.tools import timezone as tz
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateAction, StateView, Wizard

from .configuration import SALE_PROCESSES
from .exceptions import BookingBilledError, BookingSaleError

# The fields of a booking that its sale lines are made of: refused once it
# is billed
BILLED_FIELDS = {
    'state', 'company', 'member', 'service', 'price', 'discount',
    'final_price', 'currency', 'points_used', 'points_amount', 'coupon',
    'coupon_amount', 'amount_due',
    }


def yesterday(company=None):
    "Return the day before today in the time zone of company (else UTC)"
    tzinfo = tz.get_tzinfo(company.timezone or 'UTC') if company else None
    return clock.today(tzinfo) - dt.timedelta(days=1)


class Booking(metaclass=PoolMeta):
    __name__ = 'booking.booking'

    sale_line = fields.Many2One(
        'sale.line', "Sale Line", readonly=True, ondelete='SET NULL',
        help="The sale line that bills the booking (its price); the "
        "discount, coupon and points lines of the booking follow it.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('sale_line_unique', Unique(t, t.sale_line),
                'service_booking_sale.msg_booking_sale_line_unique'),
            ]

    @classmethod
    def copy(cls, bookings, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('sale_line', None)
        return super().copy(bookings, default=default)

    @classmethod
    def check_modification(cls, mode, bookings, values=None, external=False):
        super().check_modification(
            mode, bookings, values=values, external=external)
        if mode == 'write' and values.keys() & BILLED_FIELDS:
            for booking in bookings:
                if booking.sale_line:
                    raise BookingBilledError(gettext(
                            'service_booking_sale.msg_booking_billed',
                            booking=booking.rec_name,
                            sale=booking.sale_line.sale.rec_name))

    @classmethod
    def sale_billable_states(cls):
        "Return the states of the bookings that are billed"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        states = ['done']
        if Configuration(1).sale_no_show_product:
            states.append('no_show')
        return states

    @classmethod
    def sale_billable_domain(cls, from_date=None, to_date=None):
        """Return the domain of the bookings not billed yet that are billed,
        of the local dates from from_date to to_date (and of the company of
        the context when there is one)"""
        domain = [
            ('sale_line', '=', None),
            ('state', 'in', cls.sale_billable_states()),
            ]
        if from_date:
            domain.append(('date', '>=', from_date))
        if to_date:
            domain.append(('date', '<=', to_date))
        company = Transaction().context.get('company')
        if company is not None and company >= 0:
            domain.append(('company', '=', company))
        return domain

    @classmethod
    def bill(cls, from_date, to_date, bookings=None, process=None):
        """Create the sales of the bookings of the local dates from
        from_date to to_date (among bookings when given) that are not
        billed yet, and return them (see create_sales)"""
        domain = cls.sale_billable_domain(from_date, to_date)
        if bookings is not None:
            domain.append(('id', 'in', [b.id for b in bookings]))
        with without_check_access():
            bookings = cls.search(domain)
        return cls.create_sales(bookings, process=process)

    @classmethod
    def create_sales(cls, bookings, process=None):
        """Create the sales of the bookings and return them.

        A done booking makes its lines (see _get_sale_lines), a no-show one
        the line of the no-show fee when the configuration has a product
        for it, other bookings none.  A booking billed already (its
        sale_line) is left: a second call creates nothing.  The sales are
        one per booking or one per member (sale_grouping of the
        configuration), taken to the state process (sale_process of the
        configuration when None): draft, quotation, confirmed or
        processing (with its invoice when the invoice method is on
        order)."""
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        Configuration = pool.get('member.configuration')
        Line = pool.get('sale.line')
        Sale = pool.get('sale.sale')
        # The sales are created for the user who may create sales; the
        # bookings, parties and products are read whatever the user's rights
        ModelAccess.check(Sale.__name__, 'create')
        config = Configuration(1)
        if process is None:
            process = config.sale_process
        states = cls.sale_billable_states()
        with without_check_access():
            # Under the lock of the bookings: a concurrent run waits and
            # then sees them billed
            ids = sorted({b.id for b in bookings})
            cls.lock(cls.browse(ids))
            bookings = [b for b in cls.browse(ids)
                if not b.sale_line and b.state in states]
            per_booking = config.sale_grouping == 'booking'

            def key(booking):
                return (
                    booking.company.id, booking.member.id,
                    booking.currency.id,
                    booking.id if per_booking else 0)

            bookings.sort(key=lambda b: (
                    key(b), b.date, b.start, b.id))
            sales, lines, billed = [], [], []
            for _, grouped in groupby(bookings, key=key):
                grouped = list(grouped)
                sale = grouped[0]._get_sale(grouped, per_booking)
                sale_lines = []
                for booking in grouped:
                    booking_lines = booking._get_sale_lines(sale)
                    if booking_lines:
                        sale_lines.extend(booking_lines)
                        billed.append((booking, booking_lines[0]))
                if sale_lines:
                    sales.append(sale)
                    lines.extend(sale_lines)
            if not sales:
                return []
            Sale.save(sales)
            # Saved apart: the lines get their ids for the bookings
            Line.save(lines)
            to_write = []
            for booking, line in billed:
                to_write.extend([[booking], {'sale_line': line.id}])
            cls.write(*to_write)
            cls._process_sales(sales, process)
        return Sale.browse([s.id for s in sales])

    @classmethod
    def _process_sales(cls, sales, process):
        "Take the new sales to the state process"
        pool = Pool()
        Sale = pool.get('sale.sale')
        if process == 'draft':
            return
        Sale.quote(sales)
        if process == 'quotation':
            return
        Sale.confirm(sales)
        if process == 'processing':
            # Confirm queues the processing: done now, the invoice of the
            # invoice method on order exists at the end of the run (a
            # second processing by the queue changes nothing)
            Sale.process(Sale.browse([s.id for s in sales]))

    def _get_sale(self, bookings, per_booking):
        """Return a new sale of the company, member and currency of the
        booking for the bookings"""
        pool = Pool()
        Address = pool.get('party.address')
        Sale = pool.get('sale.sale')
        party = self.member.party
        invoice_address = party.address_get(type='invoice')
        if not invoice_address:
            # As a party created by a user has one: the members created by
            # the mini-program have none
            invoice_address = Address(party=party)
            invoice_address.save()
        company = self.company
        sale = Sale(
            company=company,
            currency=self.currency,
            party=party,
            invoice_party=None,
            invoice_address=invoice_address,
            shipment_party=None,
            shipment_address=party.address_get(type='delivery'),
            payment_term=(party.customer_payment_term
                or Sale.default_payment_term(company=company.id)),
            invoice_method=(party.sale_invoice_method
                or Sale.default_invoice_method(company=company.id)),
            shipment_method=(party.sale_shipment_method
                or Sale.default_shipment_method(company=company.id)),
            sale_date=max(b.date for b in bookings),
            )
        dates = sorted({b.date for b in bookings})
        if per_booking:
            sale.origin = self
            sale.description = self.rec_name
        else:
            sale.description = gettext(
                'service_booking_sale.msg_sale_description_period',
                start=dates[0].isoformat(), end=dates[-1].isoformat())
        return sale

    def _get_sale_lines(self, sale):
        """Return the new sale lines of the booking on sale, the line of its
        price first: the price of a done booking (quantity 1) and, each on
        its own line, the tier discount, the coupon and the points (the
        same product, quantity -1: the taxes of the product apply to the
        net amount); the no-show fee of a no-show booking when the
        configuration has a product for it"""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        if self.state == 'done':
            product = self.service.product
            lines = [self._get_sale_line(
                    sale, product, 1, self.price, self.rec_name)]
            discount = (self.price or 0) - (self.final_price or 0)
            for amount, message, values in [
                    (discount, 'msg_sale_line_discount', {
                            'tier': (self.tier.rec_name
                                if self.tier else ''),
                            'discount': format((
                                    self.discount or Decimal(0)).normalize(),
                                'f'),
                            }),
                    (self.coupon_amount, 'msg_sale_line_coupon', {
                            'coupon': (self.coupon.code
                                if self.coupon else ''),
                            }),
                    (self.points_amount, 'msg_sale_line_points', {
                            'points': self.points_used or 0,
                            }),
                    ]:
                if amount and amount > 0:
                    lines.append(self._get_sale_line(
                            sale, product, -1, amount,
                            gettext('service_booking_sale.' + message,
                                booking=self.rec_name, **values)))
            return lines
        elif self.state == 'no_show':
            config = Configuration(1)
            product = config.sale_no_show_product
            if not product:
                return []
            fee = config.sale_no_show_fee
            if fee is None:
                with Transaction().set_context(company=self.company.id):
                    fee = product.__class__(product.id).list_price_used
            if fee is None:
                raise BookingSaleError(gettext(
                        'service_booking_sale.msg_no_show_fee_missing',
                        product=product.rec_name))
            return [self._get_sale_line(
                    sale, product, 1, fee,
                    gettext('service_booking_sale.msg_sale_line_no_show',
                        booking=self.rec_name))]
        return []

    def _get_sale_line(self, sale, product, quantity, unit_price,
            description):
        "Return a new sale line of the booking on sale"
        pool = Pool()
        Line = pool.get('sale.line')
        if quantity > 0 and not product.salable:
            raise BookingSaleError(gettext(
                    'service_booking_sale.msg_product_not_salable',
                    product=product.rec_name, booking=self.rec_name))
        line = Line(
            sale=sale,
            type='line',
            product=product,
            unit=product.sale_uom,
            quantity=quantity,
            unit_price=unit_price,
            description=description,
            booking=self,
            )
        line.taxes = line.compute_taxes(sale.invoice_party or sale.party)
        return line

    @classmethod
    def create_sales_yesterday(cls):
        """Create the sales of the bookings of the day before in the time
        zone of their company (run by the scheduler)"""
        pool = Pool()
        Company = pool.get('company.company')
        context = Transaction().context
        company_id = context.get('company')
        if company_id is not None and company_id >= 0:
            companies = [Company(company_id)]
        else:
            companies = Company.search([])
        sales = []
        for company in companies:
            day = yesterday(company)
            with Transaction().set_context(company=company.id):
                sales.extend(cls.bill(day, day))
        return sales


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('booking.booking|create_sales_yesterday',
                "Create Sales of the Bookings of Yesterday"))


class CreateSalesStart(ModelView):
    "Create Sales from Bookings"
    __name__ = 'booking.booking.create_sales.start'

    from_date = fields.Date(
        "From Date", required=True,
        domain=[
            ('from_date', '<=', Eval('to_date')),
            ])
    to_date = fields.Date(
        "To Date", required=True,
        domain=[
            ('to_date', '>=', Eval('from_date')),
            ])
    process = fields.Selection(
        SALE_PROCESSES, "Sale State", required=True,
        help="How far the new sales are taken.")

    @classmethod
    def default_from_date(cls):
        return cls._yesterday()

    @classmethod
    def default_to_date(cls):
        return cls._yesterday()

    @classmethod
    def _yesterday(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company_id = Transaction().context.get('company')
        return yesterday(Company(company_id)
            if company_id is not None and company_id >= 0 else None)

    @classmethod
    def default_process(cls):
        pool = Pool()
        Configuration = pool.get('member.configuration')
        return Configuration(1).sale_process


class CreateSales(Wizard):
    "Create Sales from Bookings"
    __name__ = 'booking.booking.create_sales'

    start = StateView(
        'booking.booking.create_sales.start',
        'service_booking_sale.create_sales_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Create", 'create_', 'tryton-ok', default=True),
            ])
    create_ = StateAction('sale.act_sale_form')

    def do_create_(self, action):
        pool = Pool()
        Booking = pool.get('booking.booking')
        bookings = None
        if (self.model and self.model.__name__ == Booking.__name__
                and self.records):
            # Run from the list of bookings: the selected ones
            bookings = list(self.records)
        sales = Booking.bill(
            self.start.from_date, self.start.to_date,
            bookings=bookings, process=self.start.process)
        action['domains'] = []
        action['pyson_domain'] = PYSONEncoder().encode([
                ('id', 'in', [s.id for s in sales]),
                ])
        return action, {}
