# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter

from sql import Literal

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.modules.suite import clock, tools
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.tools import timezone as tz
from trytond.transaction import Transaction, without_check_access

from .exceptions import (
    BookingNotFoundError, ServiceValidationError, SlotFullError,
    SlotUnavailableError)
from .slot import Occupancy, slot_starts

TIMEZONES = [(z, z) for z in sorted(tz.available_timezones())]
# The states of a booking that hold its slot
OCCUPYING_STATES = ('pending', 'confirmed', 'in_progress', 'done')


def default_timezone():
    "The time zone of the company of the context, or UTC"
    pool = Pool()
    Company = pool.get('company.company')
    company_id = Transaction().context.get('company')
    if company_id is not None and company_id >= 0:
        company = Company(company_id)
        if company.timezone:
            return company.timezone
    return 'UTC'


class Service(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Bookable Service"
    __name__ = 'booking.service'

    company = fields.Many2One(
        'company.company', "Company", required=True,
        states={
            'readonly': Eval('id', -1) >= 0,
            })
    product = fields.Many2One(
        'product.product', "Product", required=True, ondelete='RESTRICT',
        domain=[
            ('type', '=', 'service'),
            ],
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="The service product: its name and list price are the name "
        "and price of the service.")
    name = fields.Function(
        fields.Char("Name"), 'get_name', searcher='search_name')
    description = fields.Text("Description", translate=True)
    service_area = fields.Char(
        "Service Area", translate=True,
        help="Where the service is delivered, for services at home.")
    duration = fields.TimeDelta(
        "Duration", required=True,
        domain=[('duration', '>', dt.timedelta(0))])
    buffer = fields.TimeDelta(
        "Buffer", required=True,
        domain=[('buffer', '>=', dt.timedelta(0))],
        help="How long the resource stays busy after each booking "
        "(cleaning up, travelling).")
    slot_interval = fields.TimeDelta(
        "Slot Interval",
        domain=['OR',
            ('slot_interval', '=', None),
            ('slot_interval', '>', dt.timedelta(0)),
            ],
        help="The time between the starts of two slots.\n"
        "Leave empty for the duration plus the buffer.")
    capacity = fields.Integer(
        "Capacity", required=True,
        domain=[('capacity', '>', 0)],
        help="How many bookings a resource takes in one slot.")
    lead_time = fields.TimeDelta(
        "Lead Time", required=True,
        domain=[('lead_time', '>=', dt.timedelta(0))],
        help="The minimum notice: slots starting sooner cannot be booked.")
    start_grace = fields.TimeDelta(
        "Start Grace", required=True,
        domain=[('start_grace', '>=', dt.timedelta(0))],
        help="How long before its start staff may start a booking.\n"
        "No booking is done before its start.")
    horizon = fields.Integer(
        "Booking Horizon", required=True,
        domain=[('horizon', '>=', 0)],
        help="How many days ahead the slots can be booked (the local date "
        "of the slot at most today plus the horizon).\n"
        "Member tiers may add priority days.")
    cancel_hours = fields.Integer(
        "Cancellation Window", required=True,
        domain=[('cancel_hours', '>=', 0)],
        help="Until how many hours before the start members may cancel.\n"
        "The free cancellation hours of the member's tier apply instead "
        "when they are fewer.")
    timezone = fields.Selection(
        TIMEZONES, "Timezone", required=True, translate=False,
        help="The time zone of the dates members book for.")
    reminders = fields.Char(
        "Reminders",
        help="When to remind the member, in hours before the start, "
        "separated by commas (e.g. \"24, 1\").\n"
        "The hours are counted on the local clock of the service.")
    booking_resources = fields.Many2Many(
        'booking.service-booking.resource', 'service', 'resource',
        "Resources",
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        help="The staff, rooms or vehicles that can deliver the service.")
    price = fields.Function(fields.Numeric(
            "Price", digits='currency',
            help="The list price of the product."),
        'get_price')
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"), 'get_currency')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'list_services': RPC(),
                'free_slots': RPC(),
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_duration(cls):
        return dt.timedelta(hours=1)

    @classmethod
    def default_buffer(cls):
        return dt.timedelta(0)

    @classmethod
    def default_capacity(cls):
        return 1

    @classmethod
    def default_lead_time(cls):
        return dt.timedelta(hours=2)

    @classmethod
    def default_start_grace(cls):
        return dt.timedelta(minutes=30)

    @classmethod
    def default_horizon(cls):
        return 14

    @classmethod
    def default_cancel_hours(cls):
        return 24

    @classmethod
    def default_timezone(cls):
        return default_timezone()

    @classmethod
    def default_reminders(cls):
        return '24, 1'

    def reminder_hours(self):
        "Return the reminder offsets in hours, largest first"
        hours = set()
        for value in (self.reminders or '').replace(';', ',').split(','):
            value = value.strip()
            if not value:
                continue
            number = float(value)
            if number <= 0:
                raise ValueError(value)
            hours.add(number)
        return sorted(hours, reverse=True)

    def get_name(self, name):
        return self.product.name if self.product else None

    @classmethod
    def search_name(cls, name, clause):
        return [('product.name',) + tuple(clause[1:])]

    def get_rec_name(self, name):
        return self.name or str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('product.rec_name',) + tuple(clause[1:])]

    def get_currency(self, name):
        return self.company.currency.id if self.company else None

    def get_price(self, name):
        return self.list_price()

    def list_price(self):
        "Return the list price of the product in the company's currency"
        pool = Pool()
        Product = pool.get('product.product')
        if not self.product or not self.company:
            return None
        with Transaction().set_context(company=self.company.id), \
                without_check_access():
            price = Product(self.product.id).list_price_used
        if price is None:
            return None
        return self.company.currency.round(price, rounding=ROUND_HALF_UP)

    def member_price(self, member=None):
        """Return the price, the discount (%) and the final price of the
        service for member (None for no member), rounded to the currency
        half up"""
        price = self.list_price()
        discount = Decimal(0)
        if member is not None and member.tier:
            discount = member.tier.discount or Decimal(0)
        if price is None:
            return None, discount, None
        final = self.company.currency.round(
            price * (Decimal(100) - discount) / Decimal(100),
            rounding=ROUND_HALF_UP)
        return price, discount, final

    @property
    def tzinfo(self):
        return tz.get_tzinfo(self.timezone or 'UTC')

    @property
    def step(self):
        return self.slot_interval or (self.duration + self.buffer)

    def local_date(self, datetime=None):
        "Return the local date of the naive UTC datetime (default now)"
        if datetime is None:
            datetime = clock.now()
        return clock.to_local(datetime, self.tzinfo).date()

    def day_bounds(self, date):
        "Return the UTC interval of the local date"
        start = dt.datetime.combine(date, dt.time())
        return (clock.local_to_utc(start, self.tzinfo),
            clock.local_to_utc(start + dt.timedelta(days=1), self.tzinfo))

    def last_bookable_date(self, member=None):
        """Return the last local date member may book: today plus the
        horizon plus the priority days of the member's tier"""
        days = self.horizon or 0
        if member is not None and member.tier:
            days += member.tier.priority_days or 0
        return self.local_date() + dt.timedelta(days=days)

    def cancel_window(self, member=None):
        """Return the cancellation window in hours for member.

        The free cancellation hours of the tier are a benefit: they apply
        when they are fewer than the window of the service."""
        hours = self.cancel_hours or 0
        if member is not None and member.tier:
            hours = min(hours, member.tier.free_cancel_hours or 0)
        return hours

    @classmethod
    def validate_fields(cls, services, field_names):
        super().validate_fields(services, field_names)
        if field_names & {'company', 'product'}:
            for service in services:
                if service.list_price() is None:
                    raise ServiceValidationError(gettext(
                            'service_booking.msg_service_no_price',
                            service=service.rec_name))
        if 'reminders' in field_names:
            for service in services:
                try:
                    service.reminder_hours()
                except ValueError:
                    raise ServiceValidationError(gettext(
                            'service_booking.msg_service_reminders_invalid',
                            service=service.rec_name,
                            reminders=service.reminders))

    # Slots

    def available_resources(self, resource=None):
        "Return the active resources of the service, or resource if it is one"
        resources = [r for r in self.booking_resources if r.active]
        if resource is not None:
            resources = [r for r in resources if r.id == int(resource)]
        return resources

    @classmethod
    def _occupancies(cls, resources, start, end, member=None):
        """Return a dictionary of resource id to the Occupancy of its bookings
        that overlap [start, end), read with SQL (all members' bookings but
        those of the context's booking_ignore, being moved or cancelled).
        member is the member booking: places held for it are free."""
        pool = Pool()
        Booking = pool.get('booking.booking')
        booking = Booking.__table__()
        cursor = Transaction().connection.cursor()
        rows = {r.id: [] for r in resources}
        in_ = fields.SQL_OPERATORS['in']
        where = Literal(True)
        ignore = Transaction().context.get('booking_ignore')
        if ignore:
            where = ~in_(booking.id, list(ignore))
        cursor.execute(*booking.select(
                booking.resource, booking.start, booking.busy_until,
                booking.service,
                where=where & in_(booking.resource, list(rows))
                & booking.state.in_(list(OCCUPYING_STATES))
                & (booking.start < end)
                & (booking.busy_until > start)))
        for resource, b_start, b_until, b_service in cursor:
            rows[resource].append((
                    _datetime(b_start), _datetime(b_until), b_service))
        return {r: Occupancy(b) for r, b in rows.items()}

    def compute_slots(self, resources, start, end, member=None):
        """Return the slots of the resources that start in [start, end) UTC,
        whatever the clock: sorted dictionaries with the keys start, end,
        resource and capacity_left (0 for a full slot) for member."""
        pool = Pool()
        Resource = pool.get('booking.resource')
        service_id = self.id
        duration, busy = self.duration, self.duration + self.buffer
        step = self.step
        occupancies = self._occupancies(
            resources, start, end + busy, member=member)
        schedules = Resource.schedules(resources)
        slots = []
        # In the order of the resources, kept for the slots of the same
        # start by the stable sort: one dictionary per slot and no other
        # object (the garbage collector runs with the allocations)
        for resource in sorted(
                resources, key=lambda r: (r.sequence or 0, r.id)):
            capacity = self.capacity
            if resource.capacity:
                capacity = min(capacity, resource.capacity)
            starts = slot_starts(schedules[resource.id], resource.tzinfo,
                start, end, duration, step)
            slots.extend({
                    'start': slot,
                    'end': slot + duration,
                    'resource': resource,
                    'capacity_left': capacity_left,
                    } for slot, capacity_left in zip(starts,
                    occupancies[resource.id].capacities(
                        service_id, starts, busy, capacity)))
        slots.sort(key=itemgetter('start'))
        return slots

    def bookable_slots(self, start, end, member=None, resource=None,
            full=False):
        """Return the slots in [start, end) that member may book now: not
        before the lead time, not beyond the member's last bookable date and
        with capacity left (with full, also those without: the waiting list
        takes them)"""
        with without_check_access():
            resources = self.available_resources(resource)
            earliest = clock.now() + self.lead_time
            last_date = self.last_bookable_date(member)
            start = max(start, earliest)
            end = min(end, self.day_bounds(last_date)[1])
            if start >= end or not resources:
                return []
            return [s for s in self.compute_slots(
                    resources, start, end, member=member)
                if full or s['capacity_left'] > 0]

    def slot_values(self, slot):
        "Return the plain values of a slot for callers outside the server"
        tzinfo = self.tzinfo
        return {
            'start': slot['start'],
            'end': slot['end'],
            'local_start': clock.to_local(slot['start'], tzinfo).isoformat(),
            'local_end': clock.to_local(slot['end'], tzinfo).isoformat(),
            'resource': slot['resource'].id,
            'resource_name': slot['resource'].rec_name,
            'capacity_left': slot['capacity_left'],
            }

    def check_slot(self, start, member=None, resource=None):
        """Check that member may book the slot starting at start (naive UTC)
        now and return the resources with capacity left, best first.

        Raise SlotUnavailableError with details['reason'] in past,
        lead_time, beyond_horizon, no_resource, closed or off_grid, or
        SlotFullError."""
        def details(**kwargs):
            # Made only when refused
            result = {
                'service': self.id,
                'start': clock.to_local(start, self.tzinfo).isoformat(),
                }
            if resource is not None:
                result['resource'] = int(resource)
            result.update(kwargs)
            return result

        def unavailable(reason, **kwargs):
            return SlotUnavailableError(gettext(
                    'service_booking.msg_slot_unavailable_%s' % reason,
                    service=self.rec_name,
                    start=clock.to_local(start, self.tzinfo).strftime(
                        '%Y-%m-%d %H:%M'),
                    **kwargs),
                details=details(reason=reason, **kwargs))

        now = clock.now()
        if start < now:
            raise unavailable('past')
        if start < now + self.lead_time:
            raise unavailable('lead_time')
        last_date = self.last_bookable_date(member)
        if self.local_date(start) > last_date:
            raise unavailable(
                'beyond_horizon', last_date=last_date.isoformat())
        with without_check_access():
            resources = self.available_resources(resource)
            if not resources:
                raise unavailable('no_resource')
            slots = [s for s in self.compute_slots(
                    resources, start, start + dt.timedelta(seconds=1),
                    member=member)
                if s['start'] == start]
        if not slots:
            if any(self._is_open(r, start) for r in resources):
                raise unavailable('off_grid')
            raise unavailable('closed')
        free = [s for s in slots if s['capacity_left'] > 0]
        if not free:
            raise SlotFullError(gettext(
                    'service_booking.msg_slot_full',
                    service=self.rec_name,
                    start=clock.to_local(start, self.tzinfo).strftime(
                        '%Y-%m-%d %H:%M')),
                details=details())
        # The resource with the most capacity left first (spreads the load),
        # then in the order of the resources
        free.sort(key=lambda s: -s['capacity_left'])
        return [s['resource'] for s in free]

    def _is_open(self, resource, start):
        "Tell if the resource is open during the whole slot starting at start"
        end = start + self.duration
        tzinfo = resource.tzinfo
        date = clock.to_local(start, tzinfo).date()
        for day in [date - dt.timedelta(days=1), date]:
            for open_, close in resource.schedule.utc_intervals(day, tzinfo):
                if open_ <= start and end <= close:
                    return True
        return False

    # Methods called by the mini-program API

    @classmethod
    def list_services(cls, member=None, offset=0, limit=None, domain=None):
        """Return the active services the user may read (of domain), in
        order (from offset, at most limit; their number is
        search_count(domain)), as
        dictionaries with the keys: id, name, description, duration_min,
        price, member_price, discount (%), currency (ISO code), capacity,
        lead_time_min, horizon_days, cancel_hours and timezone.

        member is a member.member (or id) whose tier discount gives
        member_price; without member, member_price is the price."""
        pool = Pool()
        Member = pool.get('member.member')
        services = cls.search(domain or [], offset=offset, limit=limit)
        with without_check_access():
            if member is not None:
                member = Member(int(member))
            result = []
            for service in cls.browse(services):
                price, discount, final = service.member_price(member)
                result.append({
                        'id': service.id,
                        'name': service.name,
                        'description': service.description or '',
                        'duration_min': int(
                            service.duration.total_seconds() // 60),
                        'price': price,
                        'member_price': final,
                        'discount': discount,
                        'currency': service.company.currency.code,
                        'capacity': service.capacity,
                        'lead_time_min': int(
                            service.lead_time.total_seconds() // 60),
                        'horizon_days': service.horizon,
                        'cancel_hours': service.cancel_window(member),
                        'timezone': service.timezone,
                        })
        return result

    @classmethod
    def free_slots(cls, service, date, member=None, resource=None,
            full=False):
        """Return the slots of service on the local date (in the service's
        time zone) that member may book now, sorted by start.

        Each slot is a dictionary with the keys: start, end (naive UTC
        datetimes), local_start, local_end (ISO 8601 with offset),
        resource (id), resource_name and capacity_left.  Slots before the
        lead time, beyond the member's horizon (default horizon plus the
        priority days of the tier) or full (unless full: to join their
        waiting list) are absent.

        Raise BookingNotFoundError when the user cannot read the service."""
        pool = Pool()
        Member = pool.get('member.member')
        service = cls._get_service(service)
        if isinstance(date, str):
            date = dt.date.fromisoformat(date)
        with without_check_access():
            if member is not None:
                member = Member(int(member))
            start, end = service.day_bounds(date)
            return [service.slot_values(s) for s in service.bookable_slots(
                    start, end, member=member, resource=resource, full=full)]

    @classmethod
    def _get_service(cls, service):
        "Return the active service the user may read or raise not found"
        try:
            service_id = int(service)
        except (TypeError, ValueError):
            service_id = None
        services = cls.search([('id', '=', service_id)]) if service_id else []
        if not services:
            raise BookingNotFoundError(gettext(
                    'service_booking.msg_service_not_found', id=service),
                details={'model': 'booking.service', 'id': service})
        return services[0]


def slot_rec_name(record):
    """The name of a record of a slot (a booking, a waiting list entry):
    its service @ its local start"""
    start = ''
    if record.start and record.service:
        start = clock.to_local(record.start, record.service.tzinfo).strftime(
            '%Y-%m-%d %H:%M')
    return '%s @ %s' % (
        record.service.rec_name if record.service else '', start)


def id_name(record):
    "Return the id and name of record (None without) for the mini-program"
    return {'id': record.id, 'name': record.name} if record else None


def search_slot_rec_name(clause):
    "The domain of a search on the name of a record of a slot"
    return tools.rec_name_domain(
        clause, 'service.rec_name', 'member.rec_name')


def _datetime(value):
    "Return the datetime value read by SQL (SQLite may give a string)"
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


class ServiceResource(ModelSQL, ModelView):
    "Service - Resource"
    __name__ = 'booking.service-booking.resource'

    service = fields.Many2One(
        'booking.service', "Service", required=True, ondelete='CASCADE')
    resource = fields.Many2One(
        'booking.resource', "Resource", required=True, ondelete='CASCADE')
    # The round robin assignment (assignment.py)
    priority = fields.Integer(
        "Priority", required=True,
        help="With the round robin assignment, the free resources of the "
        "highest priority take the bookings first.")
    weight = fields.Integer(
        "Weight", required=True,
        domain=[('weight', '>', 0)],
        help="With the round robin assignment, the share of the bookings "
        "of the resource among those of its priority (3 takes three "
        "bookings when 1 takes one).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('service')

    @classmethod
    def default_priority(cls):
        return 0

    @classmethod
    def default_weight(cls):
        return 1
