# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
from contextlib import nullcontext
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.modules.member.member import context_member
from trytond.modules.suite import clock, tools
from trytond.modules.suite.fields import State
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from .exceptions import (
    BeginTooEarlyError, BookingAccessError, BookingModificationError,
    BookingNotFoundError, BookingOverlapError, CancelWindowError,
    FinishTooEarlyError, InvalidStateError, NoShowTooEarlyError,
    PointsLimitError)
from .service import (
    OCCUPYING_STATES, id_name, search_slot_rec_name, slot_rec_name)

# The states in which the member may still cancel
CANCELLABLE_STATES = ('draft', 'pending', 'confirmed')
# The fields that only change while the booking is a draft
FROZEN_FIELDS = {
    'company', 'member', 'service', 'resource', 'start', 'price', 'discount',
    'final_price', 'currency', 'tier', 'points_used', 'points_amount',
    'coupon', 'coupon_amount', 'amount_due',
    }


class Booking(Workflow, ModelSQL, ModelView):
    "Booking"
    __name__ = 'booking.booking'

    _draft = {
        'readonly': Eval('state') != 'draft',
        }
    company = fields.Many2One(
        'company.company', "Company", required=True,
        states={
            'readonly': (Eval('state') != 'draft') | Bool(Eval('service')),
            })
    member = fields.Many2One(
        'member.member', "Member", required=True, ondelete='RESTRICT',
        states=_draft)
    service = fields.Many2One(
        'booking.service', "Service", required=True, ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        states=_draft)
    resource = fields.Many2One(
        'booking.resource', "Resource", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            If(Bool(Eval('service')),
                ('services', '=', Eval('service', -1)),
                ()),
            ],
        states={
            'readonly': Eval('state') != 'draft',
            'required': ~Eval('state').in_(['draft', 'cancelled']),
            },
        help="Leave empty to take a resource of the service with capacity "
        "left when booking.")
    start = fields.DateTime("Start", required=True, states=_draft)
    end = fields.DateTime(
        "End", readonly=True,
        help="The start plus the duration of the service.")
    busy_until = fields.DateTime(
        "Busy Until", readonly=True,
        help="The end plus the buffer of the service: the resource takes no "
        "other booking before.")
    date = fields.Date(
        "Date", readonly=True,
        help="The local date of the start in the time zone of the service.")
    address = fields.Text(
        "Address",
        states={
            'readonly': Eval('state').in_(['done', 'cancelled', 'no_show']),
            })
    note = fields.Text("Note")
    tier = fields.Many2One(
        'member.tier', "Tier", readonly=True, ondelete='RESTRICT',
        help="The tier of the member when booking.")
    price = fields.Numeric("Price", digits='currency', readonly=True)
    discount = fields.Numeric(
        "Discount", digits=(None, 2), readonly=True,
        help="In %, the booking discount of the member's tier.")
    final_price = fields.Numeric(
        "Final Price", digits='currency', readonly=True)
    currency = fields.Many2One(
        'currency.currency', "Currency", required=True, readonly=True)
    points_used = fields.Integer(
        "Points Used", required=True,
        domain=[('points_used', '>=', 0)],
        states={
            'readonly': Eval('state') != 'draft',
            },
        help="The points of the member that pay part of the price: "
        "taken when the booking is confirmed, given back when it is "
        "cancelled inside the free cancellation window.")
    points_amount = fields.Numeric(
        "Points Amount", digits='currency', readonly=True,
        help="The amount the points used pay.")
    coupon = fields.Many2One(
        'member.reward.redemption', "Coupon", ondelete='RESTRICT',
        domain=[
            ('member', '=', Eval('member', -1)),
            ],
        states={
            'readonly': Eval('state') != 'draft',
            },
        help="A coupon of the member (a service voucher or a discount) "
        "that pays part of the price.")
    coupon_amount = fields.Numeric(
        "Coupon Amount", digits='currency', readonly=True)
    amount_due = fields.Numeric(
        "Amount Due", digits='currency', readonly=True,
        help="The final price less the coupon and the points.")
    points_spend_line = fields.Many2One(
        'member.points.line', "Points Spent", readonly=True,
        ondelete='RESTRICT')
    points_refund_line = fields.Many2One(
        'member.points.line', "Points Given Back", readonly=True,
        ondelete='RESTRICT')
    spend_round = fields.Integer(
        "Spend Round", readonly=True,
        help="Counts the points spent and given back, for the keys of the "
        "postings of a booking reset to draft and booked again.")
    points_earned = fields.Integer(
        "Points Earned", readonly=True,
        help="Posted to the member's points when the booking is done.")
    points_line = fields.Many2One(
        'member.points.line', "Points Line", readonly=True,
        ondelete='RESTRICT')
    state = State([
            ('draft', "Draft"),
            ('pending', "Pending"),
            ('confirmed', "Confirmed"),
            ('in_progress', "In Progress"),
            ('done', "Done"),
            ('cancelled', "Cancelled"),
            ('no_show', "No-Show"),
            ], "State", required=True, readonly=True, sort=False)
    state_string = state.translated('state')
    today = fields.Function(
        fields.Boolean(
            "Today",
            help="The booking starts today in the time zone of its service."),
        'get_today', searcher='search_today')
    color = fields.Function(fields.Char("Colour"), 'get_color')
    count = fields.Function(
        fields.Integer(
            "Bookings", help="1 for each booking (to count in graphs)."),
        'get_count')

    del _draft

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(
                    t, (t.resource, Index.Range()), (t.start, Index.Range())),
                Index(
                    t, (t.member, Index.Range()), (t.start, Index.Range())),
                Index(t, (t.date, Index.Range())),
                Index(
                    t, (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(['pending', 'confirmed'])),
                })
        cls._order = [('start', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'pending'),
            ('pending', 'confirmed'),
            ('confirmed', 'in_progress'),
            ('in_progress', 'done'),
            ('draft', 'cancelled'),
            ('pending', 'cancelled'),
            ('confirmed', 'cancelled'),
            ('confirmed', 'no_show'),
            ('cancelled', 'draft'),
            }
        state = Eval('state')
        for button, invisible, icon in [
                ('draft', state != 'cancelled', 'tryton-undo'),
                ('submit', state != 'draft', 'tryton-forward'),
                ('confirm', state != 'pending', 'tryton-ok'),
                ('begin', state != 'confirmed', 'tryton-launch'),
                ('finish', state != 'in_progress', 'tryton-ok'),
                ('no_show', state != 'confirmed', 'tryton-cancel'),
                ('cancel', ~state.in_(list(CANCELLABLE_STATES)),
                    'tryton-cancel'),
                ]:
            cls._buttons[button] = {
                'invisible': invisible,
                'icon': icon,
                'depends': ['state'],
                }
        cls.__rpc__.update({
                'create_booking': RPC(readonly=False, result=int),
                'cancel_booking': RPC(readonly=False, result=int),
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_currency(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company_id = cls.default_company()
        if company_id is not None and company_id >= 0:
            return Company(company_id).currency.id

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_points_earned(cls):
        return 0

    @classmethod
    def default_points_used(cls):
        return 0

    @classmethod
    def default_spend_round(cls):
        return 0

    @fields.depends('service', 'company', methods=['_set_prices'])
    def on_change_service(self):
        if self.service:
            self.company = self.service.company
            self.currency = self.service.company.currency
        self._set_prices()

    @fields.depends('member', 'address', methods=['_set_prices'])
    def on_change_member(self):
        self._set_prices()
        if self.member and not self.address:
            self.address = self.member.address

    @fields.depends('service', 'member', 'tier', 'price', 'discount',
        'final_price', 'points_used', 'coupon', 'points_amount',
        'coupon_amount', 'amount_due')
    def _set_prices(self):
        if self.service:
            self.price, self.discount, self.final_price = (
                self.service.member_price(self.member))
            self.tier = self.member.tier if self.member else None
            (self.coupon_amount, self.points_amount,
                self.amount_due) = self.price_breakdown(
                self.final_price, check=False)
        else:
            self.price = self.discount = self.final_price = None
            self.coupon_amount = self.points_amount = None
            self.amount_due = None

    @fields.depends(methods=['_set_prices'])
    def on_change_points_used(self):
        self._set_prices()

    @fields.depends(methods=['_set_prices'])
    def on_change_coupon(self):
        self._set_prices()

    def price_breakdown(self, final_price, check=True):
        """Return the amount the coupon pays, the amount the points used
        pay and the amount due of final_price (the price after the tier
        discount), rounded to the currency.

        Points pay at most the share of the configuration (or of the
        member's tier) of what the coupon leaves, at the value of a point
        of the configuration.  With check, raise PointsLimitError for more
        points than that."""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        if final_price is None or not self.service:
            return None, None, None
        currency = self.service.company.currency
        coupon_amount = Decimal(0)
        if self.coupon:
            coupon_amount = self.coupon.reward.booking_amount(
                self, final_price) or Decimal(0)
        coupon_amount = currency.round(min(coupon_amount, final_price))
        rest = final_price - coupon_amount
        points = self.points_used or 0
        points_amount = Decimal(0)
        if points:
            value, share = Configuration.points_rule(self.member)
            largest = currency.round(
                rest * share / Decimal(100), rounding=ROUND_DOWN)
            max_points = int(largest / value) if value else 0
            if check and points > max_points:
                raise PointsLimitError(gettext(
                        'service_booking.msg_booking_points_limit',
                        points=points, max_points=max_points,
                        share=format(share.normalize(), 'f')),
                    details={
                        'points': points,
                        'max_points': max_points,
                        'max_share': str(share),
                        'point_value': str(value),
                        })
            points_amount = min(currency.round(
                    Decimal(points) * value, rounding=ROUND_HALF_UP), rest)
        return coupon_amount, points_amount, rest - points_amount

    @fields.depends('start', 'service')
    def on_change_with_end(self):
        if self.start and self.service and self.service.duration:
            return self.start + self.service.duration

    def get_today(self, name):
        return bool(self.date and self.service
            and self.date == self.service.local_date())

    @classmethod
    def search_today(cls, name, clause):
        """Search the bookings of the current date in the time zone of their
        service: the staff's "today" is the local day of the service, not
        the UTC date (still yesterday before 08:00 in Shanghai)"""
        pool = Pool()
        Service = pool.get('booking.service')
        _, operator, value = clause[:3]
        with without_check_access():
            services = Service.search([('active', 'in', [True, False])])
        days = sorted({(s.timezone, s.local_date()) for s in services})
        if (operator, bool(value)) in {('=', True), ('!=', False)}:
            if not days:
                return [('id', '=', -1)]
            return ['OR', *[
                    [('service.timezone', '=', z), ('date', '=', d)]
                    for z, d in days]]
        return ['OR', ('date', '=', None), *[
                [('service.timezone', '=', z), ('date', '!=', d)]
                for z, d in days]]

    def get_color(self, name):
        return self.resource.color if self.resource else None

    def get_count(self, name):
        return 1

    def get_rec_name(self, name):
        return slot_rec_name(self)

    @classmethod
    def search_rec_name(cls, name, clause):
        return search_slot_rec_name(clause)

    def compute_fields(self, field_names=None):
        values = super().compute_fields(field_names)
        if field_names is None or field_names & {'start', 'service'}:
            end = busy_until = date = None
            if self.start and self.service:
                end = self.start + self.service.duration
                busy_until = end + self.service.buffer
                date = self.service.local_date(self.start)
            for name, value in [
                    ('end', end), ('busy_until', busy_until),
                    ('date', date)]:
                if getattr(self, name) != value:
                    values[name] = value
        return values

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('start'):
            values['start'] = clock.to_utc(values['start'])
        return values

    @classmethod
    def check_modification(cls, mode, bookings, values=None, external=False):
        super().check_modification(
            mode, bookings, values=values, external=external)
        frozen = FROZEN_FIELDS
        if Transaction().context.get('_booking_reschedule'):
            # The move of reschedule_booking, checked by it
            frozen = FROZEN_FIELDS - {'start', 'resource'}
        if mode == 'write' and values.keys() & frozen:
            for booking in bookings:
                if booking.state != 'draft':
                    raise BookingModificationError(gettext(
                            'service_booking.msg_booking_modify_draft',
                            booking=booking.rec_name))
        elif mode == 'delete':
            for booking in bookings:
                if booking.state not in {'draft', 'cancelled'}:
                    raise BookingModificationError(gettext(
                            'service_booking.msg_booking_delete',
                            booking=booking.rec_name))

    @classmethod
    def copy(cls, bookings, default=None):
        default = default.copy() if default is not None else {}
        for name in [
                'end', 'busy_until', 'date', 'tier', 'price', 'discount',
                'final_price', 'points_line', 'coupon', 'points_amount',
                'coupon_amount', 'amount_due', 'points_spend_line',
                'points_refund_line']:
            default.setdefault(name, None)
        default.setdefault('points_earned', 0)
        default.setdefault('points_used', 0)
        default.setdefault('spend_round', 0)
        return super().copy(bookings, default=default)

    # Workflow

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, bookings):
        # Points given back are spent again by the next confirmation (a
        # new round of keys); points kept by a late cancellation are not
        to_write = []
        for booking in bookings:
            if booking.points_refund_line:
                to_write.extend([[booking], {
                            'points_spend_line': None,
                            'points_refund_line': None,
                            'spend_round': (booking.spend_round or 0) + 1,
                            }])
        if to_write:
            cls.write(*to_write)

    @classmethod
    @ModelView.button
    @Workflow.transition('pending')
    def submit(cls, bookings):
        cls._book(bookings)

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm(cls, bookings):
        cls.spend_points(bookings)
        cls.notify_state(bookings, 'confirmed')

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def begin(cls, bookings):
        now = clock.now()
        for booking in bookings:
            earliest = booking.start - booking.service.start_grace
            if now < earliest:
                raise BeginTooEarlyError(gettext(
                        'service_booking.msg_booking_begin_too_early',
                        booking=booking.rec_name,
                        earliest=booking.local_string(earliest),
                        grace=int(
                            booking.service.start_grace.total_seconds()
                            // 60)),
                    details={
                        'earliest': clock.to_local(
                            earliest, booking.service.tzinfo).isoformat(),
                        })

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def finish(cls, bookings):
        now = clock.now()
        for booking in bookings:
            if now < booking.start:
                raise FinishTooEarlyError(gettext(
                        'service_booking.msg_booking_finish_too_early',
                        booking=booking.rec_name,
                        start=booking.local_string(booking.start)),
                    details={
                        'start': clock.to_local(
                            booking.start, booking.service.tzinfo).isoformat(),
                        })
        cls.post_points(bookings)
        cls.notify_state(bookings, 'done')

    @classmethod
    @ModelView.button
    @Workflow.transition('no_show')
    def no_show(cls, bookings):
        now = clock.now()
        for booking in bookings:
            if booking.start > now:
                raise NoShowTooEarlyError(gettext(
                        'service_booking.msg_booking_no_show_too_early',
                        booking=booking.rec_name))
        cls.notify_state(bookings, 'no_show')
        Pool().get('booking.waitlist').place_freed(bookings)

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, bookings):
        cls.give_back(bookings)
        cls.notify_state(bookings, 'cancelled')
        Pool().get('booking.waitlist').place_freed(bookings)

    def local_string(self, value):
        "Return the naive UTC datetime value on the clock of the service"
        return clock.to_local(value, self.service.tzinfo).strftime(
            '%Y-%m-%d %H:%M')

    # Messages

    def message_payload(self):
        "Return the values of the booking messages"
        tzinfo = self.service.tzinfo

        def local(value):
            return (clock.to_local(value, tzinfo).strftime('%Y-%m-%d %H:%M')
                if value else '')
        return {
            'booking_id': self.id,
            'member': self.member.rec_name,
            'service': self.service.rec_name,
            'resource': self.resource.rec_name if self.resource else '',
            'address': self.address or '',
            'start': local(self.start),
            'end': local(self.end),
            'timezone': self.service.timezone,
            'state': self.state_string,
            'cancel_deadline': local(self.cancel_deadline()),
            }

    def message_values(self, template, dedup_key=None, **payload):
        """Return the values to queue the message of template to the member:
        the payload of the booking updated with payload"""
        values = self.message_payload()
        values.update(payload)
        return {
            'template': template,
            'party': self.member.party.id,
            'payload': values,
            'origin': str(self),
            'dedup_key': dedup_key,
            }

    @classmethod
    def notify_state(cls, bookings, state):
        """Queue the notice of the new state of bookings to their members:
        queued in the transaction of the change, so sent only if it is
        committed"""
        pool = Pool()
        Message = pool.get('outbox.message')
        label = dict(cls.fields_get(['state'])['state']['selection'])[state]
        with without_check_access():
            Message.queue([
                    b.message_values(
                        'booking_state', state=label, state_code=state)
                    for b in cls.browse([b.id for b in bookings])])

    @classmethod
    def due_reminders(cls, now=None):
        """Return the (booking, hours) of the reminders due at now.

        A reminder `hours` before the start is due at the local time of the
        service that many hours before the local start (across a change of
        daylight saving time, 24 hours before 10:00 is 10:00 the day
        before).  Only pending and confirmed bookings that have not started
        get reminders, never one due before the booking was made; when
        several are due (the scheduler was stopped), only the nearest to
        the start is sent."""
        pool = Pool()
        Service = pool.get('booking.service')
        if now is None:
            now = clock.now()
        with without_check_access():
            services = Service.search([
                    ('active', 'in', [True, False]),
                    ('reminders', '!=', None),
                    ])
            horizon = max((h for s in services for h in s.reminder_hours()),
                default=0)
            if not horizon:
                return []
            bookings = cls.search([
                    ('state', 'in', ['pending', 'confirmed']),
                    ('start', '>', now),
                    # One more day: the local offset may change meanwhile
                    ('start', '<=', now + dt.timedelta(hours=horizon + 24)),
                    ], order=[('start', 'ASC'), ('id', 'ASC')])
        result = []
        for booking in bookings:
            service = booking.service
            tzinfo = service.tzinfo
            local_start = clock.to_local(booking.start, tzinfo).replace(
                tzinfo=None)
            # Rescheduled: the reminders of the new time from the move
            made = booking.reminders_since().replace(microsecond=0)
            due = []
            for hours in service.reminder_hours():
                when = clock.local_to_utc(
                    local_start - dt.timedelta(hours=hours), tzinfo)
                if made <= when <= now:
                    due.append(hours)
            if due:
                result.append((booking, min(due)))
        return result

    @classmethod
    def send_reminders(cls):
        """Queue the due booking reminders (run by the scheduler); the key
        booking-reminder:<id>:<hours> makes each reminder queued once,
        whatever the number of runs or processes"""
        pool = Pool()
        Message = pool.get('outbox.message')
        return Message.queue([
                b.message_values(
                    'booking_reminder', dedup_key=b.reminder_key(hours),
                    hours='%g' % hours)
                for b, hours in cls.due_reminders()])

    # Slot holding

    @classmethod
    def _lock_slot(cls, resources, members):
        """Lock the resources and the members until the end of the
        transaction.

        Tryton 8.0 restarts a transaction whose locks were not taken at its
        start, with the locks taken first: the bookings it then reads include
        those of every transaction that held them before.  Touching the rows
        closes the last gap on PostgreSQL: a transaction whose snapshot was
        taken before this one commits cannot lock them afterwards (it gets a
        serialization failure and restarts with a fresh snapshot)."""
        pool = Pool()
        Resource = pool.get('booking.resource')
        Member = pool.get('member.member')
        cursor = Transaction().connection.cursor()
        resources = Resource.browse(sorted({int(r) for r in resources}))
        members = Member.browse(sorted({int(m) for m in members}))
        Resource.lock(resources)
        Member.lock(members)
        in_ = fields.SQL_OPERATORS['in']
        for Model, records in [(Resource, resources), (Member, members)]:
            if not records:
                continue
            table = Model.__table__()
            cursor.execute(*table.update(
                    [table.id], [table.id],
                    where=in_(table.id, [r.id for r in records])))

    @staticmethod
    def request_start(start):
        """Return the naive UTC start of a request: an aware datetime, an
        ISO 8601 string with its offset, or a naive UTC datetime"""
        if isinstance(start, str):
            start = tools.parse_datetime(start)
        return clock.to_utc(start)

    @classmethod
    def _hold_slot(cls, member_id, service, resource=None):
        """Return the member of member_id asking for a slot of service
        (resource optional), under the lock of the member and of the
        resources of the slot (_lock_slot: call it first, the transaction
        may restart with the locks taken).  Raise BookingNotFoundError
        (not_found) for an unknown member."""
        Member = Pool().get('member.member')
        members = Member.search([('id', '=', member_id)])
        if not members:
            raise BookingNotFoundError(gettext(
                    'service_booking.msg_member_not_found', id=member_id),
                details={'model': 'member.member', 'id': member_id})
        member, = members
        cls._lock_slot(
            [r.id for r in service.available_resources(resource)],
            [member.id])
        return member

    @classmethod
    def _book(cls, bookings):
        """Hold the slot of each draft booking and set its prices, under the
        lock of its resources and member: refuse a closed, past, too soon or
        too far slot, a full slot and a member's overlapping booking."""
        resources, members = set(), set()
        with without_check_access():
            for booking in bookings:
                if booking.resource:
                    resources.add(booking.resource.id)
                else:
                    resources.update(
                        r.id for r in booking.service.available_resources())
                members.add(booking.member.id)
            cls._lock_slot(resources, members)
            for booking in cls.browse([b.id for b in bookings]):
                service, member = booking.service, booking.member
                candidates = service.check_slot(
                    booking.start, member=member, resource=booking.resource)
                booking.check_member_overlap()
                # Under the lock of the candidates: see assign_resource
                resource, reason = booking.assign_resource(candidates)
                price, discount, final_price = service.member_price(member)
                coupon_amount, points_amount, amount_due = (
                    booking._take_coupon_and_points(member, final_price))
                # Written at once: the next bookings see this one
                cls.write([booking], {
                        'resource': resource.id,
                        'assigned_by': (
                            'request' if booking.resource else 'policy'),
                        'assignment_reason': reason,
                        'tier': member.tier.id if member.tier else None,
                        'price': price,
                        'discount': discount,
                        'final_price': final_price,
                        'coupon_amount': coupon_amount,
                        'points_amount': points_amount,
                        'amount_due': amount_due,
                        'currency': service.company.currency.id,
                        'state': 'pending',
                        })

    def check_member_overlap(self):
        "Refuse if the member holds another booking during this one"
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        end = self.start + self.service.duration
        cursor.execute(*table.select(
                table.id,
                where=(table.member == self.member.id)
                & table.state.in_(list(OCCUPYING_STATES))
                & (table.start < end)
                & (table.end > self.start)
                & (table.id != self.id),
                limit=1))
        row = cursor.fetchone()
        if row:
            other = self.__class__(row[0])
            raise BookingOverlapError(gettext(
                    'service_booking.msg_booking_overlap',
                    member=self.member.rec_name, booking=other.rec_name),
                details={'booking': other.id})

    # Points

    def compute_points(self):
        """Return the points earned by the booking: the amount due (the
        final price less the coupon and the points used) times the points
        multiplier of the member's tier, rounded half up"""
        amount = (self.amount_due if self.amount_due is not None
            else self.final_price)
        if not amount:
            return 0
        multiplier = Decimal(1)
        if self.member.tier:
            multiplier = self.member.tier.points_multiplier or Decimal(0)
        return int((amount * multiplier).quantize(
                Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def spend_key(self):
        "The idempotency key of the points the booking spends"
        return 'booking-spend:%d:%d' % (self.id, self.spend_round or 0)

    @property
    def refund_key(self):
        "The idempotency key of the points given back to the member"
        return 'booking-spend-refund:%d:%d' % (self.id, self.spend_round or 0)

    @classmethod
    def spend_points(cls, bookings):
        """Take the points used by the bookings from their members'
        ledger, once: the key of the spending returns the first line when
        posted again"""
        pool = Pool()
        Member = pool.get('member.member')
        with without_check_access():
            bookings = [b for b in cls.browse([b.id for b in bookings])
                if b.points_used and not b.points_spend_line]
            if not bookings:
                return
            lines = Member.post_points([{
                        'member': b.member,
                        'points': -b.points_used,
                        'reason': (
                            'service_booking.msg_booking_points_spent', {
                                'booking': b.rec_name}),
                        'origin': str(b),
                        'key': b.spend_key,
                        } for b in bookings])
            to_write = []
            for booking, line in zip(bookings, lines):
                to_write.extend([[booking], {'points_spend_line': line.id}])
            cls.write(*to_write)

    @classmethod
    def give_back(cls, bookings):
        """Give back what the bookings being cancelled took, when they are
        cancelled inside their free cancellation window (or before their
        confirmation): the points spent (once: the key of the refund) and
        the coupon, usable again"""
        pool = Pool()
        Member = pool.get('member.member')
        Redemption = pool.get('member.reward.redemption')
        now = clock.now()
        with without_check_access():
            bookings = [b for b in cls.browse([b.id for b in bookings])
                if b.state in {'draft', 'pending'}
                or now <= b.cancel_deadline()]
            refunds = [b for b in bookings
                if b.points_spend_line and not b.points_refund_line]
            if refunds:
                lines = Member.post_points([{
                            'member': b.member,
                            'points': b.points_used,
                            'reason': (
                                'service_booking.msg_booking_points_refund', {
                                    'booking': b.rec_name}),
                            'origin': str(b),
                            'key': b.refund_key,
                            # back to the lots it took, not earned again
                            'reverses': b.points_spend_line,
                            } for b in refunds])
                to_write = []
                for booking, line in zip(refunds, lines):
                    to_write.extend([[booking], {
                                'points_refund_line': line.id}])
                cls.write(*to_write)
            for booking in bookings:
                if booking.coupon:
                    Redemption.release([booking.coupon], booking)

    def check_spending(self, member, final_price):
        """Check the coupon and the points of the booking for member and
        return the price breakdown (see price_breakdown).  Call it under
        the member lock (_lock_slot)."""
        if self.coupon:
            self.coupon.check_booking(self)
        breakdown = self.price_breakdown(final_price)
        if self.points_used:
            member.check_available_points(self.points_used)
        return breakdown

    def _take_coupon_and_points(self, member, final_price):
        """Check the coupon and the points of the booking for member, take
        the coupon and return the price breakdown"""
        pool = Pool()
        Redemption = pool.get('member.reward.redemption')
        breakdown = self.check_spending(member, final_price)
        if self.coupon:
            Redemption.take(self.coupon, self)
        return breakdown

    @classmethod
    def post_points(cls, bookings):
        """Post the points of the bookings to the members' ledger, once: the
        idempotency key booking:<id> makes a repeated posting return the
        first line"""
        pool = Pool()
        Member = pool.get('member.member')
        now = clock.now()
        with without_check_access():
            # Only for a real completion: begun and not before its start
            bookings = [b for b in cls.browse([b.id for b in bookings])
                if not b.points_line
                and b.state in {'in_progress', 'done'}
                and b.start <= now]
            entries, posted = [], []
            for booking in bookings:
                points = booking.compute_points()
                if points <= 0:
                    continue
                entries.append({
                        'member': booking.member,
                        'points': points,
                        'reason': (
                            'service_booking.msg_booking_points_reason', {
                                'booking': booking.rec_name}),
                        'origin': str(booking),
                        'key': 'booking:%d' % booking.id,
                        })
                posted.append(booking)
            if not entries:
                return
            lines = Member.post_points(entries)
            to_write = []
            for booking, line in zip(posted, lines):
                to_write.extend([[booking], {
                            'points_earned': line.points,
                            'points_line': line.id,
                            }])
            cls.write(*to_write)

    # Methods called by the mini-program API

    @classmethod
    def create_booking(cls, member, service, start, resource=None,
            address=None, note=None, points=0, coupon=None):
        """Book the slot of service starting at start for member and return
        the booking, pending confirmation.

        start is an aware datetime (or ISO 8601 string), or a naive UTC one;
        resource (id) is optional: the resource of the service with the most
        capacity left is taken; address defaults to the member's address.
        points (to pay part of the price, taken at the confirmation) and
        coupon (a code of the member's coupons) are optional: refused with
        PointsLimitError (points_limit), InsufficientPointsError
        (insufficient_points) or InvalidCouponError (invalid_coupon).

        With a `member` in the context (the mini-program user), only that
        member may be booked for; otherwise the user needs the right to
        create bookings.  Raise BookingNotFoundError (not_found),
        SlotUnavailableError (slot_unavailable, details['reason']),
        SlotFullError (slot_full), BookingOverlapError (booking_overlap) or
        BookingAccessError (forbidden)."""
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        Redemption = pool.get('member.reward.redemption')
        Service = pool.get('booking.service')
        member_id = cls._check_member(member)
        if (not isinstance(points, int) or isinstance(points, bool)
                or points < 0):
            raise PointsLimitError(gettext(
                    'service_booking.msg_booking_points_invalid',
                    points=points),
                details={'points': points})
        if context_member() is None:
            ModelAccess.check(cls.__name__, 'create')
        service = Service._get_service(service)
        start = cls.request_start(start)
        with without_check_access():
            member = cls._hold_slot(member_id, service, resource)
            # Refuse before writing anything
            service.check_slot(start, member=member, resource=resource)
            if coupon is not None:
                coupon = Redemption.find_coupon(coupon, member.id)
            booking = cls(
                company=service.company,
                currency=service.company.currency,
                member=member,
                service=service,
                resource=(int(resource) if resource is not None else None),
                start=start,
                address=member.address if address is None else address,
                note=note,
                points_used=points,
                coupon=coupon)
            booking.check_spending(member, service.member_price(member)[2])
            booking.save()
            cls.submit([booking])
        return cls(booking.id)

    @classmethod
    def cancel_booking(cls, booking, member=None):
        """Cancel booking (id) for its member and return it.

        The member may cancel a draft at any time, a pending or confirmed
        booking until the cancellation window before its start (the window
        of the service, or the free cancellation hours of the member's tier
        when they are fewer).  Raise BookingNotFoundError (not_found) for a
        booking of another member, InvalidStateError (invalid_state) or
        CancelWindowError (cancel_window_passed, with the deadline)."""
        booking = cls.get_booking(booking, member=member)
        with without_check_access():
            if booking.state not in CANCELLABLE_STATES:
                raise booking.invalid_state(
                    'service_booking.msg_booking_cancel_state')
            if booking.state != 'draft':
                booking.check_cancel_window(
                    'service_booking.msg_booking_cancel_window')
            cls.cancel([booking])
        return cls(booking.id)

    def cancel_deadline(self):
        "Return the last time (naive UTC) the member may cancel"
        hours = self.service.cancel_window(self.member)
        return self.start - dt.timedelta(hours=hours)

    def check_cancel_window(self, message):
        "Raise CancelWindowError (message) once the cancel deadline passed"
        deadline = self.cancel_deadline()
        if clock.now() > deadline:
            hours = self.service.cancel_window(self.member)
            raise CancelWindowError(gettext(
                    message, booking=self.rec_name, hours=hours,
                    deadline=self.local_string(deadline)),
                details={
                    'deadline': clock.to_local(
                        deadline, self.service.tzinfo).isoformat(),
                    'window_hours': hours,
                    })

    def invalid_state(self, message):
        "Return the InvalidStateError (message) of the state of the booking"
        return InvalidStateError(gettext(
                message, booking=self.rec_name, state=self.state_string),
            details={'state': self.state})

    @classmethod
    def get_booking(cls, booking, member=None):
        """Return the booking (id) of member (default: the member of the
        context) that the user may read, or raise BookingNotFoundError"""
        return cls.member_record(
            cls, booking, member, 'service_booking.msg_booking_not_found')

    @classmethod
    def member_record(cls, Model, record, member, not_found,
            check_access=True):
        """Return the record (id) of Model of member (default: the member
        of the context; without one, the user needs the right to write
        Model), or raise BookingNotFoundError with the message not_found"""
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        member_id = cls._check_member(member, required=False)
        if member_id is None:
            ModelAccess.check(Model.__name__, 'write')
        try:
            record_id = int(record)
        except (TypeError, ValueError):
            record_id = None
        domain = [('id', '=', record_id)]
        if member_id is not None:
            domain.append(('member', '=', member_id))
        records = []
        if record_id is not None:
            with (nullcontext() if check_access
                    else without_check_access()):
                records = Model.search(domain)
        if not records:
            raise BookingNotFoundError(gettext(not_found, id=record),
                details={'model': Model.__name__, 'id': record})
        return records[0]

    @classmethod
    def member_bookings(cls, member=None, limit=20, offset=0):
        """Return the bookings of member (default: the member of the
        context), newest first, and their total count"""
        member_id = cls._check_member(member)
        domain = [('member', '=', member_id)]
        order = [('start', 'DESC'), ('id', 'DESC')]
        return (cls.search(domain, offset=offset, limit=limit, order=order),
            cls.search_count(domain))

    @classmethod
    def _check_member(cls, member, required=True):
        """Return the id of member, checked against the member of the
        context (a mini-program user acts only for its member)"""
        request_member = context_member()
        if member is None:
            member = request_member
        member_id = int(member) if member is not None else None
        if request_member is not None and member_id != request_member:
            raise BookingAccessError(gettext(
                    'service_booking.msg_booking_other_member'),
                details={'member': member_id})
        if required and member_id is None:
            raise BookingNotFoundError(gettext(
                    'service_booking.msg_member_not_found', id=member),
                details={'model': 'member.member', 'id': member})
        return member_id

    def booking_values(self):
        "Return the plain values of the booking for the mini-program"
        tzinfo = self.service.tzinfo

        def local(value):
            return clock.to_local(value, tzinfo).isoformat() if value else None
        return {
            'id': self.id,
            'state': self.state,
            'member': self.member.id,
            'service': id_name(self.service),
            'resource': id_name(self.resource),
            'start': self.start,
            'end': self.end,
            'local_start': local(self.start),
            'local_end': local(self.end),
            'address': self.address or '',
            'note': self.note or '',
            'price': self.price,
            'discount': self.discount,
            'final_price': self.final_price,
            'currency': self.currency.code,
            'points_earned': self.points_earned or 0,
            'points_used': self.points_used or 0,
            'points_amount': self.points_amount,
            'coupon': self.coupon.code if self.coupon else None,
            'coupon_amount': self.coupon_amount,
            'amount_due': self.amount_due,
            'cancel_deadline': (local(self.cancel_deadline())
                if self.state in CANCELLABLE_STATES else None),
            }
