# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import unittest
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_employee, set_company)
from trytond.modules.member.exceptions import (
    InsufficientPointsError, InvalidCouponError)
from trytond.modules.member.member import member_context
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.modules.service_booking.exceptions import (
    BeginTooEarlyError, BookingAccessError, BookingModificationError,
    BookingNotFoundError, BookingOverlapError, CancelWindowError,
    FinishTooEarlyError, InvalidStateError, NoShowTooEarlyError,
    PointsLimitError, SlotFullError, SlotUnavailableError)
from trytond.modules.service_booking.slot import Occupancy, Schedule, utc_bound
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
# Monday 1 June 2026, 08:00 in Shanghai
NOW = dt.datetime(2026, 6, 1, 0, 0)
SHANGHAI = ZoneInfo('Asia/Shanghai')


def utc(local, tzinfo=SHANGHAI):
    "Return the naive local datetime of tzinfo as naive UTC"
    return (local.replace(tzinfo=tzinfo)
        .astimezone(dt.timezone.utc).replace(tzinfo=None))


def local(value, tzinfo=SHANGHAI):
    return value.replace(tzinfo=dt.timezone.utc).astimezone(tzinfo)


def clock(now):
    "The booking clock fixed at now (naive UTC)"
    return Transaction().set_context(_clock_now=now)


def create_tiers():
    pool = Pool()
    Tier = pool.get('member.tier')
    return Tier.create([{
                'code': 'basic', 'name': "Basic", 'threshold': 0,
                'discount': Decimal(0), 'points_multiplier': Decimal(1),
                'priority_days': 0, 'free_cancel_hours': 24,
                }, {
                'code': 'silver', 'name': "Silver", 'threshold': 100,
                'discount': Decimal(5), 'points_multiplier': Decimal('1.2'),
                'priority_days': 3, 'free_cancel_hours': 12,
                }, {
                'code': 'gold', 'name': "Gold", 'threshold': 1000,
                'discount': Decimal(15), 'points_multiplier': Decimal('1.5'),
                'priority_days': 7, 'free_cancel_hours': 2,
                }])


def create_product(name, price):
    pool = Pool()
    Template = pool.get('product.template')
    ModelData = pool.get('ir.model.data')
    template, = Template.create([{
                'name': name,
                'type': 'service',
                'default_uom': ModelData.get_id('product', 'uom_unit'),
                'list_price': price,
                'products': [('create', [{}])],
                }])
    product, = template.products
    return product


def create_resource(name="Room 1", hours=None, timezone='Asia/Shanghai',
        **values):
    "Create a resource open every day 09:00-18:00 unless hours are given"
    pool = Pool()
    Resource = pool.get('booking.resource')
    if hours is None:
        hours = [(d, dt.time(9), dt.time(18)) for d in range(7)]
    resource, = Resource.create([{
                'name': name,
                'kind': values.pop('kind', 'room'),
                'timezone': timezone,
                'hours': [('create', [{
                                'weekday': str(d), 'start_time': s,
                                'end_time': e}
                            for d, s, e in hours])],
                **values,
                }])
    return resource


def create_service(resources, name="Home Cleaning", price=Decimal('100'),
        **values):
    pool = Pool()
    Service = pool.get('booking.service')
    product = create_product(name, price)
    defaults = {
        'product': product.id,
        'duration': 2 * H,
        'buffer': 30 * M,
        'capacity': 1,
        'lead_time': 2 * H,
        'horizon': 7,
        'cancel_hours': 24,
        'timezone': 'Asia/Shanghai',
        'booking_resources': [('add', [r.id for r in resources])],
        }
    defaults.update(values)
    service, = Service.create([defaults])
    return service


def set_tier(member, code):
    "Give member the tier of code"
    pool = Pool()
    Member = pool.get('member.member')
    Tier = pool.get('member.tier')
    tier, = Tier.search([('code', '=', code)])
    Member.write([member], {'tier': tier.id})
    return Member(member.id)


def create_api_user(company):
    "Create the user of the mini-program (a member user) of company"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'name': "Mini-program", 'login': 'mp',
                'companies': [('add', [company.id])],
                'company': company.id,
                'groups': [('add', [ModelData.get_id(
                                'member', 'group_member_self')])],
                }])
    return user


class ServiceBookingTestCase(CompanyTestMixin, ModuleTestCase):
    "Test Service Booking module"
    module = 'service_booking'

    @contextmanager
    def booking_setup(self, resource_values=None, **service_values):
        """Yield a company in Shanghai (CNY), tiers, a member, a resource
        open 09:00-18:00 and a 2-hour service with a 30-minute buffer, with
        the booking clock at NOW"""
        company = create_company_shanghai()
        with set_company(company), clock(NOW):
            create_tiers()
            resource = create_resource(**(resource_values or {}))
            service = create_service([resource], **service_values)
            member = create_member("Alice")
            yield SimpleNamespace(
                company=company, currency=company.currency, resource=resource,
                service=service, member=member)

    def slot_times(self, slots, tzinfo=SHANGHAI):
        return [local(s['start'], tzinfo).strftime('%H:%M') for s in slots]

    # Slot arithmetic without database

    def test_schedule_special_hours(self):
        "Closed exceptions win, special hours replace the weekly hours"
        schedule = Schedule(
            [(0, 9 * H, 12 * H), (0, 11 * H, 18 * H)],
            [(dt.date(2026, 6, 8), dt.date(2026, 6, 8), False, 10 * H, 12 * H),
                (dt.date(2026, 6, 15), dt.date(2026, 6, 15), False, 10 * H,
                    12 * H),
                (dt.date(2026, 6, 15), dt.date(2026, 6, 16), True, None,
                    None)])
        self.assertEqual(
            schedule.intervals(dt.date(2026, 6, 1)), [(9 * H, 18 * H)])
        self.assertEqual(
            schedule.intervals(dt.date(2026, 6, 8)), [(10 * H, 12 * H)])
        self.assertEqual(schedule.intervals(dt.date(2026, 6, 15)), [])
        self.assertEqual(schedule.intervals(dt.date(2026, 6, 2)), [])

    def test_utc_bound_dst(self):
        "Skipped local times are the change, repeated ones first or last"
        paris = ZoneInfo('Europe/Paris')
        # 02:30 does not exist on 29 March 2026: the change is at 01:00 UTC
        self.assertEqual(
            utc_bound(dt.datetime(2026, 3, 29, 2, 30), paris),
            dt.datetime(2026, 3, 29, 1, 0))
        # 02:30 happens twice on 25 October 2026
        self.assertEqual(
            utc_bound(dt.datetime(2026, 10, 25, 2, 30), paris),
            dt.datetime(2026, 10, 25, 0, 30))
        self.assertEqual(
            utc_bound(dt.datetime(2026, 10, 25, 2, 30), paris, end=True),
            dt.datetime(2026, 10, 25, 1, 30))

    def test_occupancy(self):
        "A slot is shared only by the same service at the same start"
        start = dt.datetime(2026, 6, 2, 1)
        occupancy = Occupancy([
                (start, start + 2 * H, 1),
                (start, start + 2 * H, 1),
                (start + 5 * H, start + 6 * H, 2),
                ])
        self.assertEqual(
            occupancy.capacity_left(1, start, start + 2 * H, 3), 1)
        self.assertEqual(
            occupancy.capacity_left(1, start + H, start + 3 * H, 3), 0)
        self.assertEqual(
            occupancy.capacity_left(1, start + 2 * H, start + 4 * H, 3), 3)
        self.assertEqual(
            occupancy.capacity_left(1, start + 4 * H, start + 6 * H, 3), 0)

    # Slots

    @with_transaction()
    def test_slots_opening_hours(self):
        "Slots follow the opening hours, every duration plus buffer"
        pool = Pool()
        Service = pool.get('booking.service')
        with self.booking_setup() as s:
            slots = Service.free_slots(
                s.service.id, dt.date(2026, 6, 2), member=s.member.id)
        self.assertEqual(self.slot_times(slots), ['09:00', '11:30', '14:00'])
        first = slots[0]
        self.assertEqual(first['start'], dt.datetime(2026, 6, 2, 1))
        self.assertEqual(first['end'], dt.datetime(2026, 6, 2, 3))
        self.assertEqual(first['local_start'], '2026-06-02T09:00:00+08:00')
        self.assertEqual(first['resource'], s.resource.id)
        self.assertEqual(first['capacity_left'], 1)

    @with_transaction()
    def test_slots_weekly_hours(self):
        "Closed weekdays have no slot, split days have slots in each part"
        pool = Pool()
        Service = pool.get('booking.service')
        hours = []
        for day in range(5):
            hours += [(day, dt.time(9), dt.time(12)),
                (day, dt.time(13), dt.time(18))]
        with self.booking_setup(
                resource_values={'hours': hours},
                duration=H, buffer=dt.timedelta(0)) as s:
            # Tuesday
            slots = Service.free_slots(s.service, dt.date(2026, 6, 2))
            self.assertEqual(self.slot_times(slots), [
                    '09:00', '10:00', '11:00', '13:00', '14:00', '15:00',
                    '16:00', '17:00'])
            # Saturday
            self.assertEqual(
                Service.free_slots(s.service, dt.date(2026, 6, 6)), [])

    @with_transaction()
    def test_slots_exceptions(self):
        "Holidays close a resource, special hours replace its hours"
        pool = Pool()
        Service = pool.get('booking.service')
        Exception_ = pool.get('booking.resource.exception')
        with self.booking_setup() as s:
            Exception_.create([{
                        'resource': s.resource.id, 'reason': "Dragon Boat",
                        'start_date': dt.date(2026, 6, 19),
                        'end_date': dt.date(2026, 6, 19),
                        }, {
                        'resource': s.resource.id, 'reason': "Short day",
                        'start_date': dt.date(2026, 6, 3),
                        'end_date': dt.date(2026, 6, 3),
                        'closed': False,
                        'start_time': dt.time(13),
                        'end_time': dt.time(18),
                        }])
            with clock(dt.datetime(2026, 6, 15)):
                self.assertEqual(
                    Service.free_slots(s.service, dt.date(2026, 6, 19)), [])
            self.assertEqual(self.slot_times(
                    Service.free_slots(s.service, dt.date(2026, 6, 3))),
                ['13:00', '15:30'])
            with self.assertRaises(SlotUnavailableError) as cm:
                Pool().get('booking.booking').create_booking(
                    s.member, s.service, utc(dt.datetime(2026, 6, 3, 9)))
            self.assertEqual(cm.exception.details['reason'], 'closed')

    @with_transaction()
    def test_erase_member(self):
        "Erasing a member keeps the bookings without address and note"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        with self.booking_setup() as s:
            booking = Booking.create_booking(
                s.member, s.service, utc(dt.datetime(2026, 6, 2, 9)),
                address="1 Nanjing Road", note="Code 1234 at the gate",
                position=(31.2304, 121.4737, 'gcj02'))
            Booking.write([booking], {
                    'door_latitude': 31.2305, 'door_longitude': 121.4736})
            other = create_member("Bob")
            kept = Booking.create_booking(
                other, s.service, utc(dt.datetime(2026, 6, 2, 14)),
                address="2 Huaihai Road", position=(31.22, 121.46))
            Member.erase_personal_data([s.member])
            booking = Booking(booking.id)
            self.assertEqual(
                (booking.address, booking.note, booking.latitude,
                    booking.longitude, booking.door_latitude,
                    booking.door_longitude), (None,) * 6)
            self.assertEqual(booking.final_price, Decimal('100'))
            kept = Booking(kept.id)
            self.assertEqual(
                (kept.address, kept.latitude, kept.longitude),
                ("2 Huaihai Road", 31.22, 121.46))

    @with_transaction()
    def test_slots_buffer(self):
        "The buffer keeps the resource busy after (and before) a booking"
        pool = Pool()
        Service = pool.get('booking.service')
        Booking = pool.get('booking.booking')
        with self.booking_setup(slot_interval=H) as s:
            day = dt.date(2026, 6, 2)
            self.assertEqual(len(Service.free_slots(s.service, day)), 8)
            Booking.create_booking(
                s.member, s.service, utc(dt.datetime(2026, 6, 2, 9)))
            # Busy 09:00-11:30 (2 hours and the buffer)
            self.assertEqual(
                self.slot_times(Service.free_slots(s.service, day)),
                ['12:00', '13:00', '14:00', '15:00', '16:00'])
            other = create_member("Bob")
            Booking.create_booking(
                other, s.service, utc(dt.datetime(2026, 6, 2, 14)))
            # 12:00 + 2h30 overlaps 14:00
            self.assertEqual(
                self.slot_times(Service.free_slots(s.service, day)), [])

    @with_transaction()
    def test_slots_capacity(self):
        "A slot takes bookings up to the capacity, then it is full"
        pool = Pool()
        Service = pool.get('booking.service')
        Booking = pool.get('booking.booking')
        with self.booking_setup(capacity=3) as s:
            day = dt.date(2026, 6, 2)
            start = utc(dt.datetime(2026, 6, 2, 9))
            members = [create_member("M%s" % i) for i in range(4)]
            for member in members[:2]:
                Booking.create_booking(member, s.service, start)
            slots = Service.free_slots(s.service, day)
            self.assertEqual(slots[0]['start'], start)
            self.assertEqual(slots[0]['capacity_left'], 1)
            Booking.create_booking(members[2], s.service, start)
            self.assertNotIn(
                start, [x['start'] for x in Service.free_slots(
                        s.service, day)])
            with self.assertRaises(SlotFullError) as cm:
                Booking.create_booking(members[3], s.service, start)
            self.assertEqual(cm.exception.error_code, 'slot_full')
            self.assertEqual(Booking.search_count([
                        ('start', '=', start),
                        ('state', '=', 'pending')]), 3)

    @with_transaction()
    def test_slots_resource_capacity(self):
        "The capacity of a resource caps the capacity of the service"
        pool = Pool()
        Service = pool.get('booking.service')
        with self.booking_setup(
                resource_values={'capacity': 2}, capacity=5) as s:
            slots = Service.free_slots(s.service, dt.date(2026, 6, 2))
        self.assertEqual({x['capacity_left'] for x in slots}, {2})

    @with_transaction()
    def test_slots_lead_time(self):
        "Slots starting within the lead time are not bookable"
        pool = Pool()
        Service = pool.get('booking.service')
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            # 08:00 in Shanghai, lead time 2 hours
            self.assertEqual(self.slot_times(
                    Service.free_slots(s.service, dt.date(2026, 6, 1))),
                ['11:30', '14:00'])
            with self.assertRaises(SlotUnavailableError) as cm:
                Booking.create_booking(
                    s.member, s.service, utc(dt.datetime(2026, 6, 1, 9)))
            self.assertEqual(cm.exception.details['reason'], 'lead_time')
            with self.assertRaises(SlotUnavailableError) as cm:
                Booking.create_booking(
                    s.member, s.service, utc(dt.datetime(2026, 5, 31, 9)))
            self.assertEqual(cm.exception.details['reason'], 'past')
            self.assertEqual(Booking.search_count([]), 0)

    @with_transaction()
    def test_slots_horizon_priority_days(self):
        "The horizon limits the dates, a tier adds its priority days"
        pool = Pool()
        Service = pool.get('booking.service')
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            silver = set_tier(create_member("Silver"), 'silver')
            last = dt.date(2026, 6, 8)
            self.assertEqual(len(Service.free_slots(
                        s.service, last, member=s.member)), 3)
            self.assertEqual(Service.free_slots(
                    s.service, last + dt.timedelta(days=1),
                    member=s.member), [])
            self.assertEqual(len(Service.free_slots(
                        s.service, last + dt.timedelta(days=3),
                        member=silver)), 3)
            self.assertEqual(Service.free_slots(
                    s.service, last + dt.timedelta(days=4),
                    member=silver), [])
            start = utc(dt.datetime(2026, 6, 10, 9))
            with self.assertRaises(SlotUnavailableError) as cm:
                Booking.create_booking(s.member, s.service, start)
            self.assertEqual(cm.exception.details['reason'], 'beyond_horizon')
            self.assertEqual(cm.exception.details['last_date'], '2026-06-08')
            booking = Booking.create_booking(silver, s.service, start)
            self.assertEqual(booking.state, 'pending')

    @with_transaction()
    def test_slots_dst(self):
        "Slots on DST days follow the real length of the day"
        pool = Pool()
        Service = pool.get('booking.service')
        paris = ZoneInfo('Europe/Paris')
        hours = [(6, dt.time(0), dt.time(6))] + [
            (d, dt.time(9), dt.time(12)) for d in range(5)]
        with self.booking_setup(
                resource_values={
                    'hours': hours, 'timezone': 'Europe/Paris'},
                timezone='Europe/Paris', duration=H,
                buffer=dt.timedelta(0), lead_time=dt.timedelta(0),
                horizon=365) as s, clock(dt.datetime(2026, 3, 1)):
            # Spring forward: 02:00 becomes 03:00
            slots = Service.free_slots(s.service, dt.date(2026, 3, 29))
            self.assertEqual(self.slot_times(slots, paris),
                ['00:00', '01:00', '03:00', '04:00', '05:00'])
            self.assertEqual([x['start'].hour for x in slots],
                [23, 0, 1, 2, 3])
            self.assertEqual(slots[2]['local_start'],
                '2026-03-29T03:00:00+02:00')
            # Fall back: 02:00 happens twice
            slots = Service.free_slots(s.service, dt.date(2026, 10, 25))
            self.assertEqual(self.slot_times(slots, paris),
                ['00:00', '01:00', '02:00', '02:00', '03:00', '04:00',
                    '05:00'])
            # 09:00 in Paris is 08:00 UTC in winter, 07:00 UTC in summer
            friday = Service.free_slots(s.service, dt.date(2026, 3, 27))
            monday = Service.free_slots(s.service, dt.date(2026, 3, 30))
            self.assertEqual(friday[0]['start'], dt.datetime(2026, 3, 27, 8))
            self.assertEqual(monday[0]['start'], dt.datetime(2026, 3, 30, 7))

    @with_transaction()
    def test_slot_unavailable_reasons(self):
        "A start off the grid, at a closed time or of another resource"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            other = create_resource("Room 2")
            for start, resource, reason in [
                    (dt.datetime(2026, 6, 2, 10), None, 'off_grid'),
                    (dt.datetime(2026, 6, 2, 7), None, 'closed'),
                    (dt.datetime(2026, 6, 2, 17), None, 'closed'),
                    (dt.datetime(2026, 6, 2, 9), other.id, 'no_resource'),
                    ]:
                with self.subTest(start=start, reason=reason):
                    with self.assertRaises(SlotUnavailableError) as cm:
                        Booking.create_booking(
                            s.member, s.service, utc(start),
                            resource=resource)
                    self.assertEqual(
                        cm.exception.error_code, 'slot_unavailable')
                    self.assertEqual(cm.exception.details['reason'], reason)

    @with_transaction()
    def test_create_booking_resource_choice(self):
        "Without a resource, a free resource of the service is taken"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Service = pool.get('booking.service')
        with self.booking_setup() as s:
            second = create_resource("Room 2")
            Service.write([s.service], {
                    'booking_resources': [('add', [second.id])]})
            start = utc(dt.datetime(2026, 6, 2, 11, 30))
            first = Booking.create_booking(s.member, s.service, start)
            other = Booking.create_booking(
                create_member("Bob"), s.service, start.isoformat() + 'Z')
            self.assertEqual(
                {first.resource, other.resource}, {s.resource, second})
            with self.assertRaises(SlotFullError):
                Booking.create_booking(
                    create_member("Carol"), s.service,
                    start.replace(tzinfo=dt.timezone.utc))
            slots = Service.free_slots(s.service, dt.date(2026, 6, 2))
            self.assertEqual(self.slot_times(slots), [
                    '09:00', '09:00', '14:00', '14:00'])

    # Prices

    @with_transaction()
    def test_member_price_rounding(self):
        "The tier discount is rounded half up to the currency"
        pool = Pool()
        Service = pool.get('booking.service')
        Booking = pool.get('booking.booking')
        with self.booking_setup(price=Decimal('12.50')) as s:
            gold = set_tier(s.member, 'gold')
            # 12.50 * 85% = 10.625
            self.assertEqual(s.service.member_price(gold),
                (Decimal('12.50'), Decimal(15), Decimal('10.63')))
            self.assertEqual(s.service.member_price(None),
                (Decimal('12.50'), Decimal(0), Decimal('12.50')))
            services = Service.list_services(member=gold.id)
            self.assertEqual(len(services), 1)
            info, = services
            self.assertEqual(info['price'], Decimal('12.50'))
            self.assertEqual(info['member_price'], Decimal('10.63'))
            self.assertEqual(info['currency'], 'CNY')
            self.assertEqual(info['duration_min'], 120)
            self.assertEqual(info['cancel_hours'], 2)
            booking = Booking.create_booking(
                gold, s.service, utc(dt.datetime(2026, 6, 2, 9)))
            self.assertEqual(
                (booking.price, booking.discount, booking.final_price),
                (Decimal('12.50'), Decimal(15), Decimal('10.63')))
            self.assertEqual(booking.tier.code, 'gold')
            self.assertEqual(booking.currency, s.currency)
            values = booking.booking_values()
            self.assertEqual(values['final_price'], Decimal('10.63'))
            self.assertEqual(
                values['local_start'], '2026-06-02T09:00:00+08:00')
            # Silver: 99.99 * 95% = 94.9905
            product = s.service.product
            with Transaction().set_context(company=s.company.id):
                template = product.template
                template.list_price = Decimal('99.99')
                template.save()
            silver = set_tier(create_member("Bob"), 'silver')
            self.assertEqual(s.service.member_price(silver)[2],
                Decimal('94.99'))

    # Bookings

    @with_transaction()
    def test_member_overlap_refused(self):
        "A member cannot hold two bookings at the same time"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            room = create_resource("Massage room")
            massage = create_service(
                [room], name="Massage", duration=H,
                buffer=dt.timedelta(0))
            first = Booking.create_booking(
                s.member, s.service, utc(dt.datetime(2026, 6, 2, 9)))
            with self.assertRaises(BookingOverlapError) as cm:
                Booking.create_booking(
                    s.member, massage, utc(dt.datetime(2026, 6, 2, 10)))
            self.assertEqual(cm.exception.error_code, 'booking_overlap')
            self.assertEqual(cm.exception.details['booking'], first.id)
            # Right after is fine, and once cancelled the time is free
            Booking.create_booking(
                s.member, massage, utc(dt.datetime(2026, 6, 2, 11)))
            Booking.cancel([first])
            Booking.create_booking(
                s.member, massage, utc(dt.datetime(2026, 6, 2, 10)))

    @with_transaction()
    def test_workflow(self):
        "A booking goes pending, confirmed, in progress and done"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking(
                member=s.member, service=s.service, start=start)
            booking.save()
            self.assertEqual(booking.state, 'draft')
            self.assertEqual(booking.end, start + 2 * H)
            self.assertEqual(booking.busy_until, start + 150 * M)
            self.assertEqual(booking.date, dt.date(2026, 6, 2))
            self.assertEqual(booking.address, None)
            # Out of order transitions are skipped
            Booking.finish([booking])
            self.assertEqual(booking.state, 'draft')
            Booking.submit([booking])
            self.assertEqual(booking.state, 'pending')
            self.assertEqual(booking.resource, s.resource)
            self.assertEqual(booking.final_price, Decimal('100.00'))
            # (a new start moves it through reschedule_booking: test_waitlist)
            with self.assertRaises(BookingModificationError):
                Booking.write([booking], {'price': Decimal('1')})
            with self.assertRaises(BookingModificationError):
                Booking.delete([booking])
            Booking.write([booking], {'note': "Two cats"})
            Booking.confirm([booking])
            self.assertEqual(booking.state, 'confirmed')
            with clock(start):
                Booking.begin([booking])
                self.assertEqual(booking.state, 'in_progress')
                Booking.finish([booking])
            self.assertEqual(booking.state, 'done')
            self.assertEqual(booking.points_earned, 100)
            Booking.cancel([booking])
            self.assertEqual(booking.state, 'done')

    @with_transaction()
    def test_begin_finish_follow_clock(self):
        "A booking starts from the start grace, is done from its start"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Line = pool.get('member.points.line')
        Service = pool.get('booking.service')
        with self.booking_setup() as s:
            self.assertEqual(s.service.start_grace, 30 * M)
            # 09:00 in Shanghai
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking.create_booking(s.member, s.service, start)
            Booking.confirm([booking])
            # 03:30 the same day, then one second before the grace
            for now in [start - 330 * M, start - 30 * M - dt.timedelta(
                        seconds=1)]:
                with clock(now), self.assertRaises(
                        BeginTooEarlyError) as cm:
                    Booking.begin([booking])
                self.assertEqual(cm.exception.error_code, 'too_early')
                self.assertIn('2026-06-02 08:30', cm.exception.message)
                self.assertEqual(cm.exception.details, {
                        'earliest': '2026-06-02T08:30:00+08:00'})
                self.assertEqual(Booking(booking.id).state, 'confirmed')
            with clock(start - 30 * M):
                Booking.begin([booking])
            self.assertEqual(booking.state, 'in_progress')
            # Never done (nor points) before its start
            for now in [start - 30 * M, start - dt.timedelta(seconds=1)]:
                with clock(now), self.assertRaises(
                        FinishTooEarlyError) as cm:
                    Booking.finish([booking])
                self.assertIn('2026-06-02 09:00', cm.exception.message)
            booking = Booking(booking.id)
            self.assertEqual(booking.state, 'in_progress')
            self.assertEqual(
                Line.search([('member', '=', s.member.id)]), [])
            with clock(start):
                Booking.finish([booking])
            self.assertEqual(booking.state, 'done')
            self.assertEqual(booking.points_earned, 100)

            # Without grace a booking starts at its start
            Service.write([s.service], {'start_grace': dt.timedelta(0)})
            other = Booking.create_booking(
                s.member, s.service, start + dt.timedelta(days=1))
            Booking.confirm([other])
            with clock(other.start - dt.timedelta(seconds=1)), \
                    self.assertRaises(BeginTooEarlyError):
                Booking.begin([other])
            with clock(other.start):
                Booking.begin([other])
            self.assertEqual(other.state, 'in_progress')

    @with_transaction()
    def test_today_local_day(self):
        "Today is the local day of the service: at 02:00 in Shanghai too"
        pool = Pool()
        Action = pool.get('ir.action.act_window')
        Booking = pool.get('booking.booking')
        ModelData = pool.get('ir.model.data')
        with self.booking_setup() as s:
            booking = Booking.create_booking(
                s.member, s.service, utc(dt.datetime(2026, 6, 2, 9)))
            Booking.confirm([booking])
            action = Action(ModelData.get_id(
                    'service_booking', 'act_booking_today'))
            for now, today in [
                    (dt.datetime(2026, 6, 2, 2), True),
                    (dt.datetime(2026, 6, 2, 0, 0), True),
                    (dt.datetime(2026, 6, 1, 23, 59), False),
                    (dt.datetime(2026, 6, 3, 0, 0), False),
                    ]:
                with self.subTest(now=now), clock(utc(now)):
                    domain = PYSONDecoder({}).decode(action.pyson_domain)
                    self.assertEqual(
                        Booking.search(domain) == [booking], today)
                    self.assertEqual(
                        Booking.search([('today', '=', True)])
                        == [booking], today)
                    self.assertEqual(
                        Booking.search([('today', '=', False)])
                        == [booking], not today)
                    self.assertEqual(Booking(booking.id).today, today)

    @with_transaction()
    def test_reset_to_draft_rechecks(self):
        "A cancelled booking reset to draft must find its slot again"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking.create_booking(s.member, s.service, start)
            Booking.cancel([booking])
            Booking.create_booking(create_member("Bob"), s.service, start)
            Booking.draft([booking])
            self.assertEqual(booking.state, 'draft')
            with self.assertRaises(SlotFullError):
                Booking.submit([booking])
            Booking.delete([booking])

    @with_transaction()
    def test_no_show(self):
        "Staff mark a no-show once the booking started, the slot is freed"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Service = pool.get('booking.service')
        with self.booking_setup() as s:
            start = utc(dt.datetime(2026, 6, 2, 9))
            booking = Booking.create_booking(s.member, s.service, start)
            Booking.confirm([booking])
            with self.assertRaises(NoShowTooEarlyError):
                Booking.no_show([booking])
            with clock(start + 15 * M):
                Booking.no_show([booking])
            self.assertEqual(booking.state, 'no_show')
            self.assertEqual(booking.points_earned, 0)
            self.assertIn(start, [x['start'] for x in Service.free_slots(
                        s.service, dt.date(2026, 6, 2))])

    @with_transaction()
    def test_cancel_window(self):
        "Members cancel until the window, the tier's hours when fewer"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            start = utc(dt.datetime(2026, 6, 3, 9))
            booking = Booking.create_booking(s.member, s.service, start)
            self.assertEqual(booking.cancel_deadline(), start - 24 * H)
            with clock(start - 24 * H - M):
                booking = Booking.cancel_booking(booking.id, s.member.id)
            self.assertEqual(booking.state, 'cancelled')
            with self.assertRaises(InvalidStateError) as cm:
                Booking.cancel_booking(booking.id, s.member.id)
            self.assertEqual(cm.exception.error_code, 'invalid_state')
            self.assertEqual(cm.exception.details, {'state': 'cancelled'})

            booking = Booking.create_booking(s.member, s.service, start)
            Booking.confirm([booking])
            with clock(start - 23 * H), \
                    self.assertRaises(CancelWindowError) as cm:
                Booking.cancel_booking(booking.id, s.member.id)
            self.assertEqual(cm.exception.error_code, 'cancel_window_passed')
            self.assertEqual(cm.exception.details, {
                    'deadline': '2026-06-02T09:00:00+08:00',
                    'window_hours': 24,
                    })
            self.assertEqual(Booking(booking.id).state, 'confirmed')

            # Gold members cancel free until 2 hours before
            gold = set_tier(create_member("Gold"), 'gold')
            other = Booking.create_booking(
                gold, s.service, utc(dt.datetime(2026, 6, 3, 11, 30)))
            with clock(other.start - 2 * H):
                other = Booking.cancel_booking(other.id, gold.id)
            self.assertEqual(other.state, 'cancelled')

            # Staff may cancel at any time
            with clock(start - H):
                Booking.cancel([booking])
            self.assertEqual(booking.state, 'cancelled')

    @with_transaction()
    def test_cancel_in_progress_refused(self):
        "A booking in progress or done cannot be cancelled by the member"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.booking_setup() as s:
            booking = Booking.create_booking(
                s.member, s.service, utc(dt.datetime(2026, 6, 3, 9)))
            Booking.confirm([booking])
            with clock(booking.start):
                Booking.begin([booking])
            with self.assertRaises(InvalidStateError):
                Booking.cancel_booking(booking.id, s.member.id)

    @with_transaction()
    def test_points_once_with_multiplier(self):
        "Points are posted once when done, with the tier multiplier"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        with self.booking_setup(price=Decimal('85.00')) as s:
            silver = set_tier(s.member, 'silver')
            booking = Booking.create_booking(
                silver, s.service, utc(dt.datetime(2026, 6, 2, 9)))
            # 85.00 * 95% = 80.75, * 1.2 = 96.9 -> 97
            self.assertEqual(booking.final_price, Decimal('80.75'))
            self.assertEqual(booking.compute_points(), 97)
            Booking.confirm([booking])
            with clock(booking.start + H):
                Booking.begin([booking])
                Booking.finish([booking])
            self.assertEqual(booking.points_earned, 97)
            line = booking.points_line
            self.assertEqual(line.points, 97)
            self.assertEqual(line.origin, booking)
            self.assertEqual(line.idempotency_key, 'booking:%d' % booking.id)
            # Posting again (a retried request) posts nothing more
            Booking.post_points([booking])
            Member.add_points(
                silver, 97, "again", key='booking:%d' % booking.id)
            self.assertEqual(Line.search_count([
                        ('member', '=', silver.id)]), 1)
            self.assertEqual(Member(silver.id).points_balance, 97)

    @with_transaction()
    def test_points_rounding_half_up(self):
        "Points (of the amount due) round half up"
        pool = Pool()
        Booking = pool.get('booking.booking')
        with self.booking_setup(price=Decimal('85.00')) as s:
            gold = set_tier(s.member, 'gold')
            booking = Booking.create_booking(
                gold, s.service, utc(dt.datetime(2026, 6, 2, 9)))
            # 85.00 * 85% = 72.25, * 1.5 = 108.375 -> 108
            self.assertEqual(booking.compute_points(), 108)
            booking.amount_due = Decimal('72.33')
            # 108.495 -> 108, 72.34 * 1.5 = 108.51 -> 109
            self.assertEqual(booking.compute_points(), 108)
            booking.amount_due = Decimal('72.34')
            self.assertEqual(booking.compute_points(), 109)
            booking.amount_due = Decimal('0.33')
            # 0.495 -> 0: nothing is posted
            self.assertEqual(booking.compute_points(), 0)

    @with_transaction()
    def test_hours_validation(self):
        "Opening hours end after they start; 00:00 ends the day"
        pool = Pool()
        Hours = pool.get('booking.resource.hours')
        with self.booking_setup() as s:
            with self.assertRaises(ValidationError):
                Hours.create([{
                            'resource': s.resource.id, 'weekday': '0',
                            'start_time': dt.time(18),
                            'end_time': dt.time(9)}])
            Hours.create([{
                        'resource': s.resource.id, 'weekday': '0',
                        'start_time': dt.time(20),
                        'end_time': dt.time(0)}])
            self.assertEqual(
                s.resource.schedule.intervals(dt.date(2026, 6, 1)),
                [(9 * H, 18 * H), (20 * H, 24 * H)])

    # Access

    @with_transaction()
    def test_self_service(self):
        "A member user books, reads and cancels only its own bookings"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Service = pool.get('booking.service')
        with self.booking_setup(capacity=2) as s:
            user = create_api_user(s.company)
            bob = create_member("Bob")
            start = utc(dt.datetime(2026, 6, 3, 9))
            bobs = Booking.create_booking(bob, s.service, start)

            with Transaction().set_user(user.id), \
                    Transaction().set_context(
                        _check_access=True, **member_context(s.member.id)):
                services = Service.list_services(s.member.id)
                self.assertEqual([x['id'] for x in services], [s.service.id])
                slots = Service.free_slots(
                    s.service.id, '2026-06-03', s.member.id)
                self.assertEqual(slots[0]['capacity_left'], 1)
                booking = Booking.create_booking(
                    s.member.id, s.service.id, start, address="Room 302")
                self.assertEqual(booking.state, 'pending')
                self.assertEqual(Booking.search([]), [booking])
                self.assertEqual(
                    Booking.member_bookings(), ([booking], 1))
                with self.assertRaises(BookingAccessError) as cm:
                    Booking.create_booking(
                        bob.id, s.service.id,
                        utc(dt.datetime(2026, 6, 3, 14)))
                self.assertEqual(cm.exception.error_code, 'forbidden')
                with self.assertRaises(BookingNotFoundError) as cm:
                    Booking.get_booking(bobs.id)
                self.assertEqual(cm.exception.error_code, 'not_found')
                with self.assertRaises(BookingNotFoundError):
                    Booking.cancel_booking(bobs.id)
                with self.assertRaises(AccessError):
                    Booking.write([booking], {'note': "x"})
                with self.assertRaises(AccessButtonError):
                    Booking.confirm([booking])
                booking = Booking.cancel_booking(booking.id)
                self.assertEqual(booking.state, 'cancelled')
            self.assertEqual(Booking(bobs.id).state, 'pending')

    @with_transaction()
    def test_staff_rule(self):
        "Booking staff see and run only the bookings assigned to them"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Resource = pool.get('booking.resource')
        Service = pool.get('booking.service')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        with self.booking_setup() as s:
            staff, other = User.create([{
                        'name': name, 'login': name.lower(),
                        'companies': [('add', [s.company.id])],
                        'company': s.company.id,
                        'groups': [('add', [ModelData.get_id(
                                        'service_booking',
                                        'group_booking_staff')])],
                        } for name in ["Wang", "Li"]])
            employee = create_employee(s.company, "Li")
            User.write([other], {
                    'employees': [('add', [employee.id])],
                    'employee': employee.id})
            Resource.write([s.resource], {'kind': 'user', 'user': staff.id})
            li = create_resource(
                "Li", kind='employee', employee=employee.id)
            Service.write([s.service], {
                    'booking_resources': [('add', [li.id])]})
            start = utc(dt.datetime(2026, 6, 2, 9))
            wangs = Booking.create_booking(
                s.member, s.service, start, resource=s.resource.id)
            lis = Booking.create_booking(
                create_member("Bob"), s.service, start, resource=li.id)
            for user, booking in [(staff, wangs), (other, lis)]:
                with Transaction().set_user(user.id), \
                        Transaction().set_context(
                            User.get_preferences(context_only=True),
                            _check_access=True):
                    self.assertEqual(Booking.search([]), [booking])
                    Booking.confirm([booking])
            with Transaction().set_user(staff.id), \
                    Transaction().set_context(_check_access=True):
                with self.assertRaises(AccessError):
                    Booking.confirm([Booking(lis.id)])
            self.assertEqual(Booking(lis.id).state, 'confirmed')

    @with_transaction()
    def test_points_line_origin(self):
        "Bookings may be the origin of points lines"
        pool = Pool()
        Line = pool.get('member.points.line')
        self.assertIn('booking.booking', dict(Line.get_origin()))

    # Spending points and coupons

    def spend_setup(self, s, points, value='0.1', share='50'):
        "Give the member points, a point the value and points the share"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Member = pool.get('member.member')
        Configuration.write([Configuration(1)], {
                'point_value': Decimal(value),
                'points_max_share': Decimal(share),
                })
        Member.add_points(s.member, points, "Welcome")
        return Member(s.member.id)

    def redeem(self, member, name="Voucher", kind='service', cost=100,
            **values):
        pool = Pool()
        Reward = pool.get('member.reward')
        reward, = Reward.create([dict({
                        'name': name, 'kind': kind, 'points_cost': cost,
                        }, **values)])
        return Reward.redeem(reward, member)

    @with_transaction()
    def test_spend_points_on_booking(self):
        "Points pay a share of the price, taken at confirmation only"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        with self.booking_setup() as s:
            member = self.spend_setup(s, 600)
            # 600 lifetime points: silver, 5% off 100.00
            booking = Booking.create_booking(
                member, s.service, utc(dt.datetime(2026, 6, 3, 9)),
                points=300)
            self.assertEqual(
                (booking.price, booking.final_price, booking.points_used,
                    booking.points_amount, booking.coupon_amount,
                    booking.amount_due),
                (Decimal('100.00'), Decimal('95.00'), 300, Decimal('30.00'),
                    Decimal('0.00'), Decimal('65.00')))
            # Promised, not taken: the balance is the same, 300 are reserved
            member = Member(member.id)
            self.assertEqual(member.points_balance, 600)
            self.assertEqual(Member.reserved_points([member]),
                {member.id: 300})
            Booking.confirm([booking])
            member = Member(member.id)
            self.assertEqual(member.points_balance, 300)
            self.assertEqual(Member.reserved_points([member]),
                {member.id: 0})
            booking = Booking(booking.id)
            self.assertEqual(booking.points_spend_line.points, -300)
            self.assertEqual(booking.points_spend_line.origin, booking)
            # Taken once
            Booking.spend_points([booking])
            self.assertEqual(Member(member.id).points_balance, 300)

            # Cancelled inside the window: given back, once
            Booking.cancel_booking(booking, member=member)
            booking = Booking(booking.id)
            self.assertEqual(booking.points_refund_line.points, 300)
            self.assertEqual(Member(member.id).points_balance, 600)
            # Given back to the lots it took, not earned again (the tier)
            self.assertEqual(booking.points_refund_line.reverses,
                booking.points_spend_line)
            self.assertEqual(Member(member.id).lifetime_points, 600)
            Booking.give_back([booking])
            self.assertEqual(Member(member.id).points_balance, 600)
            self.assertEqual(Line.search_count([
                        ('origin', '=', str(booking))]), 2)

            # Booked again from draft: a new round of keys
            Booking.draft([booking])
            booking = Booking(booking.id)
            self.assertEqual(booking.spend_round, 1)
            self.assertIsNone(booking.points_spend_line)
            Booking.submit([booking])
            Booking.confirm([booking])
            self.assertEqual(Member(member.id).points_balance, 300)
            self.assertEqual(Booking(booking.id).amount_due, Decimal('65.00'))

    @with_transaction()
    def test_spend_points_late_cancel_kept(self):
        "Points are not given back after the free cancellation window"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        with self.booking_setup() as s:
            member = self.spend_setup(s, 600)
            booking = Booking.create_booking(
                member, s.service, utc(dt.datetime(2026, 6, 2, 9)),
                points=100)
            Booking.confirm([booking])
            self.assertEqual(Member(member.id).points_balance, 500)
            # Silver: 12 hours before 09:00 is 21:00 the day before
            with clock(utc(dt.datetime(2026, 6, 1, 22))):
                with self.assertRaises(CancelWindowError):
                    Booking.cancel_booking(booking, member=member)
                # The staff cancels: the points stay spent
                Booking.cancel([booking])
            booking = Booking(booking.id)
            self.assertEqual(booking.state, 'cancelled')
            self.assertIsNone(booking.points_refund_line)
            self.assertEqual(Member(member.id).points_balance, 500)

    @with_transaction()
    def test_spend_points_refused(self):
        "Points above the share or the available points change nothing"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Tier = pool.get('member.tier')
        with self.booking_setup() as s:
            member = self.spend_setup(s, 600)
            start = utc(dt.datetime(2026, 6, 3, 9))
            # 50% of 95.00 at 0.10 a point: 475 points at most
            with self.assertRaises(PointsLimitError) as cm:
                Booking.create_booking(member, s.service, start, points=476)
            self.assertEqual(cm.exception.details['max_points'], 475)
            for points in [-1, 1.5, '10', True]:
                with self.subTest(points=points):
                    with self.assertRaises(PointsLimitError):
                        Booking.create_booking(
                            member, s.service, start, points=points)
            # The tier's share wins
            silver, = Tier.search([('code', '=', 'silver')])
            Tier.write([silver], {'points_max_share': Decimal(20)})
            with self.assertRaises(PointsLimitError) as cm:
                Booking.create_booking(member, s.service, start, points=200)
            self.assertEqual(cm.exception.details['max_points'], 190)
            Tier.write([silver], {'points_max_share': None})

            Booking.create_booking(member, s.service, start, points=400)
            # 400 of 600 are promised: 200 are available
            with self.assertRaises(InsufficientPointsError) as cm:
                Booking.create_booking(member, s.service,
                    utc(dt.datetime(2026, 6, 4, 9)), points=201)
            self.assertEqual(cm.exception.details['available'], 200)
            self.assertEqual(Booking.search_count([]), 1)

    @with_transaction()
    def test_coupon_on_booking(self):
        "A coupon pays a booking once, is given back on a cancellation"
        pool = Pool()
        Booking = pool.get('booking.booking')
        Member = pool.get('member.member')
        Redemption = pool.get('member.reward.redemption')
        with self.booking_setup() as s:
            member = self.spend_setup(s, 600)
            bob = create_member("Bob")
            voucher = self.redeem(member, service=s.service.id)
            self.assertEqual(voucher.state, 'active')
            self.assertEqual(Member(member.id).points_balance, 500)
            start = utc(dt.datetime(2026, 6, 3, 9))

            # Bob cannot use Alice's coupon: it does not exist for him
            with self.assertRaises(InvalidCouponError) as cm:
                Booking.create_booking(bob, s.service, start,
                    coupon=voucher.code)
            self.assertEqual(cm.exception.details['reason'], 'unknown')

            booking = Booking.create_booking(member, s.service, start,
                coupon=voucher.code.lower())
            self.assertEqual(
                (booking.final_price, booking.coupon_amount,
                    booking.amount_due),
                (Decimal('95.00'), Decimal('95.00'), Decimal('0.00')))
            voucher = Redemption(voucher.id)
            self.assertEqual((voucher.state, voucher.used_by),
                ('used', booking))
            # Used: refused on another booking
            with self.assertRaises(InvalidCouponError) as cm:
                Booking.create_booking(member, s.service,
                    utc(dt.datetime(2026, 6, 4, 9)), coupon=voucher.code)
            self.assertEqual(cm.exception.details['reason'], 'used')
            # Cancelled: usable again
            Booking.cancel_booking(booking, member=member)
            self.assertEqual(Redemption(voucher.id).state, 'active')

            # A voucher of another service, a product: not accepted
            other = create_service([s.resource], name="Ironing")
            product = self.redeem(member, name="Mug", kind='product')
            for coupon in [
                    self.redeem(member, service=other.id), product]:
                with self.subTest(coupon=coupon.reward.name):
                    with self.assertRaises(InvalidCouponError) as cm:
                        Booking.create_booking(member, s.service, start,
                            coupon=coupon.code)
                    self.assertEqual(
                        cm.exception.details['reason'], 'not_applicable')
            # An amount off, with points on the rest
            discount = self.redeem(member, name="10 off", kind='discount',
                amount=Decimal('10'))
            booking = Booking.create_booking(member, s.service, start,
                coupon=discount.code, points=100)
            self.assertEqual(
                (booking.coupon_amount, booking.points_amount,
                    booking.amount_due),
                (Decimal('10.00'), Decimal('10.00'), Decimal('75.00')))
            # Expired
            voucher = Redemption(voucher.id)
            with clock(NOW + dt.timedelta(days=31)):
                with self.assertRaises(InvalidCouponError) as cm:
                    Booking.create_booking(member, s.service,
                        utc(dt.datetime(2026, 7, 3, 9)), coupon=voucher.code)
            self.assertEqual(cm.exception.details['reason'], 'expired')


del ModuleTestCase


if __name__ == '__main__':
    unittest.main()
