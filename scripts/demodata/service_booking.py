"""Demo data of the service_booking module: home cleaning, appliance repair
and massage services with their staff and rooms, opening hours, holidays and
leave, and bookings of the demo members in every state over the last three
weeks and the next week; a rewards catalogue, redemptions, and bookings of
the next days paid in part with points and coupons; ratings of most done
bookings, one of them hidden by the staff."""
import datetime as dt
from decimal import Decimal

SERVICES = [
    # code, English name, Chinese name, price, duration, buffer, capacity,
    # lead time, horizon, cancellation hours, description (zh)
    ('CLEAN', "Home Cleaning", "家庭保洁", Decimal('158.00'),
        dt.timedelta(hours=2), dt.timedelta(minutes=30), 1,
        dt.timedelta(hours=4), 7, 24,
        "两小时上门保洁：客厅、卧室、厨房和卫生间，自带清洁工具。"),
    ('REPAIR', "Appliance Repair", "家电维修", Decimal('80.00'),
        dt.timedelta(hours=1, minutes=30), dt.timedelta(minutes=30), 1,
        dt.timedelta(hours=2), 7, 12,
        "上门检测维修冰箱、洗衣机、空调和热水器，上门费80元，配件另计。"),
    ('MASSAGE', "Massage", "推拿按摩", Decimal('198.00'),
        dt.timedelta(hours=1), dt.timedelta(minutes=15), 1,
        dt.timedelta(hours=1), 14, 6,
        "60分钟中式推拿，缓解肩颈和腰背疲劳。"),
    ]
REWARDS = [
    # name, kind, points cost, stock, amount, service code, description
    ("免费推拿一次", 'service', 1500, 20, None, 'MASSAGE',
        "兑换后30天内预约推拿按摩一次免费。"),
    ("保洁立减20元", 'discount', 300, None, Decimal('20'), None,
        "预约任意服务立减20元。"),
    ("定制保温杯", 'product', 500, 50, None, None,
        "凭券码到前台领取。"),
    ("新年红包封", 'product', 100, 0, None, None,
        "已兑完。"),
    ]
STAFF = [
    # name, service codes, weekdays, start, end
    ("王芳", ['CLEAN'], '012345', dt.time(8, 30), dt.time(18)),
    ("李强", ['CLEAN'], '123456', dt.time(8, 30), dt.time(18)),
    ("张建国", ['REPAIR'], '0123456', dt.time(9), dt.time(19)),
    ("刘师傅", ['REPAIR'], '01234', dt.time(9), dt.time(17)),
    ("陈静", ['MASSAGE'], '0123456', dt.time(10), dt.time(22)),
    ]
ROOMS = [
    # name, kind, service codes, capacity
    ("推拿室一", 'room', ['MASSAGE'], None),
    ("推拿室二", 'room', ['MASSAGE'], None),
    ]
COLORS = ['#3465a4', '#4e9a06', '#c4a000', '#ce5c00', '#75507b', '#cc0000',
    '#06989a']
NOTES = [
    None, None, "家里有猫，请随手关门", "请先打电话", "小区东门进",
    "冰箱不制冷", "洗衣机漏水", "肩颈酸痛", "需要带梯子", "Please call "
    "before coming",
    ]


def load(pool, rng, company):
    from trytond.modules.service_booking.exceptions import BookingError
    from trytond.modules.suite import clock
    from trytond.transaction import Transaction

    Booking = pool.get('booking.booking')
    Employee = pool.get('company.employee')
    Exception_ = pool.get('booking.resource.exception')
    Lang = pool.get('ir.lang')
    Member = pool.get('member.member')
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    Resource = pool.get('booking.resource')
    Service = pool.get('booking.service')
    Template = pool.get('product.template')

    members = Member.search([], order=[('id', 'ASC')])
    # Lock the members at once: posting points needs it, and a transaction
    # restarts for each lock it did not take first
    Member.lock(members)
    translatable = bool(Lang.search([
                ('code', '=', 'zh_CN'), ('translatable', '=', True)]))

    services = {}
    for (code, name, zh_name, price, duration, buffer, capacity, lead_time,
            horizon, cancel_hours, description) in SERVICES:
        template, = Template.create([{
                    'name': name,
                    'code': code,
                    'type': 'service',
                    'default_uom': ModelData.get_id('product', 'uom_unit'),
                    'list_price': price,
                    'products': [('create', [{}])],
                    }])
        service, = Service.create([{
                    'product': template.products[0].id,
                    'duration': duration,
                    'buffer': buffer,
                    'capacity': capacity,
                    'lead_time': lead_time,
                    'horizon': horizon,
                    'cancel_hours': cancel_hours,
                    'timezone': company.timezone or 'Asia/Shanghai',
                    'description': description,
                    'service_area': "上海市内环以内" if code != 'MASSAGE'
                    else None,
                    }])
        if translatable:
            with Transaction().set_context(language='zh_CN'):
                Template.write([Template(template.id)], {'name': zh_name})
        services[code] = service

    resources = []
    for i, (name, codes, weekdays, start, end) in enumerate(STAFF):
        party, = Party.create([{'name': name}])
        employee, = Employee.create([{
                    'party': party.id, 'company': company.id}])
        resources.append((codes, {
                    'name': name, 'kind': 'employee',
                    'employee': employee.id, 'color': COLORS[i],
                    'hours': [('create', [{
                                    'weekday': d, 'start_time': start,
                                    'end_time': end} for d in weekdays])],
                    }))
    for j, (name, kind, codes, capacity) in enumerate(ROOMS):
        resources.append((codes, {
                    'name': name, 'kind': kind, 'capacity': capacity,
                    'color': COLORS[len(STAFF) + j],
                    'hours': [('create', [{
                                    'weekday': str(d),
                                    'start_time': dt.time(10),
                                    'end_time': dt.time(22)}
                                for d in range(7)])],
                    }))
    records = Resource.create([values for _, values in resources])
    for (codes, _), resource in zip(resources, records):
        for code in codes:
            Service.write([services[code]], {
                    'booking_resources': [('add', [resource.id])]})
    _load_assignment(pool, services, records)

    now = clock.now()
    today = services['CLEAN'].local_date(now)
    # Holidays and leave
    holiday = today + dt.timedelta(days=(5 - today.weekday()) % 7 + 7)
    Exception_.create([{
                'resource': r.id, 'reason': "公司团建",
                'start_date': holiday, 'end_date': holiday,
                } for r in records if r.kind == 'employee'] + [{
                    'resource': records[1].id, 'reason': "年假",
                    'start_date': today + dt.timedelta(days=2),
                    'end_date': today + dt.timedelta(days=4),
                    }, {
                    'resource': records[4].id, 'reason': "下午培训",
                    'start_date': today + dt.timedelta(days=1),
                    'end_date': today + dt.timedelta(days=1),
                    'closed': False,
                    'start_time': dt.time(10), 'end_time': dt.time(13),
                    }])

    # Bookings: the clock of each booking is a day before its start, then
    # moves to its start to run the workflow
    if not members:
        return
    created = []
    for day in range(-21, 8):
        date = today + dt.timedelta(days=day)
        for code, service in sorted(services.items()):
            service = Service(service.id)
            start, end = service.day_bounds(date)
            slots = service.compute_slots(
                service.available_resources(), start, end)
            rng.shuffle(slots)
            for slot in slots[:rng.randint(1, 3)]:
                member = rng.choice(members)
                created.append(
                    (slot['start'], service, slot['resource'], member))
    created.sort(key=lambda c: c[0])
    booked = []
    for start, service, resource, member in created:
        note = rng.choice(NOTES)
        if start > now and rng.random() < 0.05:
            Booking.create([{
                        'member': member.id, 'service': service.id,
                        'start': start, 'address': member.address,
                        'note': note,
                        }])
            continue
        try:
            with Transaction().set_context(
                    _clock_now=start - dt.timedelta(days=1)):
                booking = Booking.create_booking(
                    member, service, start, note=note,
                    # The policy chooses, except the default one
                    resource=(resource.id
                        if service.assignment_policy == 'capacity'
                        else None))
        except BookingError:
            continue
        booked.append(booking)
    # The last two bookings that started are in progress
    started = [b for b in booked if b.start < now]
    in_progress = set(started[-2:])
    for booking in booked:
        with Transaction().set_context(_clock_now=booking.start):
            _run_workflow(
                Booking, booking, now, rng, booking in in_progress)
    _load_spending(pool, rng, services, members, now)
    _load_waitlist(pool, rng, members, now)
    _load_ratings(pool, rng, booked)
    _load_door(pool, rng, services, members, company, now)


def _load_assignment(pool, services, resources):
    """A service per assignment policy: cleaning by round robin (Wang Fang
    takes two bookings when Li Qiang takes one), massage to the least
    loaded, repairs by skills (the appliance tag); and the no-show
    penalties of cleaning (a 2-day ban) and massage (20 points)"""
    Link = pool.get('booking.service-booking.resource')
    Resource = pool.get('booking.resource')
    Service = pool.get('booking.service')
    Tag = pool.get('booking.resource.tag')

    appliance, deep = Tag.create([
            {'name': "家电维修", 'code': 'appliance'},
            {'name': "深度保洁", 'code': 'deep-cleaning'},
            ])
    by_name = {r.name: r for r in resources}
    Resource.write(
        [by_name["张建国"], by_name["刘师傅"]], {
            'tags': [('add', [appliance.id])]},
        [by_name["王芳"]], {'tags': [('add', [deep.id])]})
    Service.write([services['CLEAN']], {
            'assignment_policy': 'round_robin',
            'no_show_ban_days': 2,
            },
        [services['MASSAGE']], {
            'assignment_policy': 'least_loaded',
            'no_show_points': 20,
            },
        [services['REPAIR']], {
            'required_tags': [('add', [appliance.id])],
            })
    for link in Link.search([('service', '=', services['CLEAN'].id)]):
        Link.write([link], {
                'weight': 2 if link.resource.name == "王芳" else 1})
    for code in services:
        services[code] = Service(services[code].id)


def _load_spending(pool, rng, services, members, now):
    """The rewards catalogue, redemptions of the members with points and
    bookings of the next days paid with points and coupons: confirmed (the
    points taken), pending (promised), cancelled in time (given back)"""
    from trytond.exceptions import UserError

    Booking = pool.get('booking.booking')
    Configuration = pool.get('member.configuration')
    Member = pool.get('member.member')
    Redemption = pool.get('member.reward.redemption')
    Reward = pool.get('member.reward')
    Service = pool.get('booking.service')

    Configuration.write([Configuration(1)], {
            'point_value': Decimal('0.05'),
            'points_max_share': Decimal(30),
            })
    rewards = Reward.create([{
                'name': name, 'kind': kind, 'points_cost': cost,
                'stock': stock, 'amount': amount,
                'service': services[code].id if code else None,
                'description': description,
                'valid_until': services['CLEAN'].local_date(now)
                + dt.timedelta(days=90),
                } for name, kind, cost, stock, amount, code, description
            in REWARDS])
    richest = sorted(Member.browse([m.id for m in members]),
        key=lambda m: (-(m.points_balance or 0), m.id))[:6]
    coupons = []
    for member in richest:
        for reward in rewards[:3]:
            try:
                coupons.append(Reward.redeem(reward, member))
            except UserError:
                continue
    if coupons:
        # A redemption made by mistake, voided by the staff
        Redemption.void([coupons[-1]])
        coupons = coupons[:-1]
    # Bookings of the next days paid with a coupon or points
    for i, member in enumerate(richest):
        member = Member(member.id)
        # Every other member pays with points only
        coupon = None
        if i % 2:
            coupon = next((c for c in coupons if c.member == member
                    and c.reward.kind in {'service', 'discount'}
                    and Redemption(c.id).state == 'active'), None)
        available = ((member.points_balance or 0)
            - Member.reserved_points([member])[member.id])
        points = max(0, min(200, available))
        service = (coupon.reward.service
            if coupon and coupon.reward.kind == 'service'
            else services[rng.choice(['CLEAN', 'REPAIR'])])
        service = Service(service.id)
        date = service.local_date(now) + dt.timedelta(days=2 + i % 3)
        start, end = service.day_bounds(date)
        slots = [s for s in service.compute_slots(
                service.available_resources(), start, end)
            if s['start'] > now]
        rng.shuffle(slots)
        for slot in slots[:3]:
            try:
                booking = Booking.create_booking(member, service,
                    slot['start'], resource=slot['resource'].id,
                    points=(0 if coupon and coupon.reward.kind == 'service'
                        else points), coupon=coupon.code if coupon else None)
            except UserError:
                continue
            if i % 3 == 0:
                Booking.confirm([booking])
            elif i % 3 == 1:
                Booking.confirm([booking])
                Booking.cancel_booking(booking, member=member)
            break


def _run_workflow(Booking, booking, now, rng, in_progress=False):
    "Move the booking to a state fitting its time"
    from trytond.transaction import Transaction

    draw = rng.random()
    if in_progress:
        Booking.confirm([booking])
        Booking.begin([booking])
    elif booking.start < now:
        if draw < 0.12:
            Booking.cancel([booking])
        elif draw < 0.2:
            Booking.confirm([booking])
            with Transaction().set_context(
                    _clock_now=booking.start + dt.timedelta(minutes=20)):
                Booking.no_show([booking])
        else:
            Booking.confirm([booking])
            Booking.begin([booking])
            Booking.finish([booking])
    elif draw < 0.1:
        Booking.cancel([booking])
    elif draw < 0.6:
        Booking.confirm([booking])


def _load_waitlist(pool, rng, members, now):
    """A full slot of the next days with two members on its waiting list,
    and a booking moved to the next day (its history)"""
    from trytond.modules.service_booking.exceptions import (
        BookingError, SlotNotFullError)
    from trytond.transaction import Transaction

    Booking = pool.get('booking.booking')
    Waitlist = pool.get('booking.waitlist')
    with Transaction().set_context(_clock_now=now):
        future = Booking.search([
                ('state', 'in', ['pending', 'confirmed']),
                ('start', '>', now + dt.timedelta(days=2)),
                ], order=[('start', 'ASC'), ('id', 'ASC')])
        if not future:
            return
        booking = future[0]
        others = [m for m in members if m != booking.member]
        rng.shuffle(others)
        waiting = 0
        for member in others:
            try:
                Waitlist.join(member, booking.service, booking.start)
            except SlotNotFullError:
                # Fill the slot first
                try:
                    Booking.create_booking(
                        member, booking.service, booking.start)
                except BookingError:
                    pass
                continue
            except BookingError:
                continue
            waiting += 1
            if waiting >= 2:
                break
        for booking in future[1:]:
            try:
                Booking.reschedule_booking(
                    booking.id, booking.start + dt.timedelta(days=1))
            except BookingError:
                continue
            break


RATING_COMMENTS = [
    # stars, comment, tags
    (5, "师傅很准时，打扫得非常干净！", ['punctual', 'tidy']),
    (5, "手法专业，肩颈轻松多了。", ['professional']),
    (4, "整体不错，就是稍微晚到了十分钟。", ['thorough', 'late']),
    (4, None, ['friendly']),
    (5, None, ['good_value', 'friendly']),
    (3, "有点赶时间，角落没擦到。", ['rushed']),
    (2, "等了很久才上门。", ['late']),
    ]
# The comment an administrator hides in the demo (it gives a phone number)
HIDDEN_COMMENT = (1, "服务太差了，有事直接打我电话 13900001111", ['rushed'])


def _load_ratings(pool, rng, bookings):
    """Rate most done bookings a few hours after their end; one comment is
    hidden by the staff"""
    from trytond.transaction import Transaction

    Booking = pool.get('booking.booking')
    Rating = pool.get('booking.rating')
    done = [b for b in Booking.browse([b.id for b in bookings])
        if b.state == 'done']
    rated = []
    for i, booking in enumerate(done):
        if rng.random() < 0.3:
            continue
        stars, comment, tags = (HIDDEN_COMMENT if i == 0
            else rng.choice(RATING_COMMENTS))
        when = booking.end + dt.timedelta(hours=rng.randint(1, 20))
        with Transaction().set_context(_clock_now=when):
            rated.append(Rating.rate(booking.id, stars, comment=comment,
                    tags=tags, member=booking.member.id))
    hidden = [r for r in rated if r.comment == HIDDEN_COMMENT[1]]
    if hidden:
        Rating.write(hidden, {'hide_reason': "评论中含有电话号码"})
        Rating.hide(hidden)


# The technician at the customer's door: login and password of the demo
# technician (staff token: POST auth/staff), the places of the visits
# (GCJ-02, picked on the map) and their addresses
TECHNICIAN_LOGIN = 'technician'
TECHNICIAN_PASSWORD = 'Technician-2026'
VISITS = [
    ((31.2304, 121.4737), "上海市黄浦区人民大道 120 号 3 楼"),
    ((31.2243, 121.4460), "上海市静安区南京西路 1266 号 12 楼"),
    ((31.1955, 121.4370), "上海市徐汇区漕溪北路 88 号 5 楼"),
    ((31.2397, 121.4998), "上海市浦东新区陆家嘴环路 1000 号 20 楼"),
    ]


def _load_door(pool, rng, services, members, company, now):
    """A technician who logs in to the mini-program with a staff token:
    bookings with the position of their address, one visit done with the
    door check-in and the real duration, one flagged for review (checked
    in 600 m away) and today's visits to come"""
    from trytond.modules.service_booking.exceptions import BookingError
    from trytond.modules.suite import geo
    from trytond.transaction import Transaction

    Booking = pool.get('booking.booking')
    ModelData = pool.get('ir.model.data')
    Resource = pool.get('booking.resource')
    Service = pool.get('booking.service')
    User = pool.get('res.user')

    if not members:
        return
    user, = User.create([{
                'login': TECHNICIAN_LOGIN, 'name': "赵师傅",
                'password': TECHNICIAN_PASSWORD,
                'groups': [('add', [ModelData.get_id(
                                'service_booking', 'group_booking_staff')])],
                'companies': [('add', [company.id])],
                'company': company.id,
                }])
    resource, = Resource.create([{
                'name': "赵师傅", 'kind': 'user', 'user': user.id,
                'color': '#5c3566',
                'hours': [('create', [{
                                'weekday': str(d), 'start_time': dt.time(8),
                                'end_time': dt.time(20)}
                            for d in range(7)])],
                }])
    clean, repair = services['CLEAN'], services['REPAIR']
    Service.write([clean, repair], {
            'booking_resources': [('add', [resource.id])],
            'door_radius': 200,
            })
    Service.write([repair], {'door_policy': 'refuse'})

    def book(service, start, visit, member):
        (lat, lon), address = visit
        try:
            with Transaction().set_context(
                    _clock_now=start - dt.timedelta(days=1)):
                booking = Booking.create_booking(
                    member, service, start, resource=resource.id,
                    address=address, position=(lat, lon, 'gcj02'))
                Booking.confirm([booking])
        except BookingError:
            return None
        return booking

    today = clean.local_date(now)
    yesterday = today - dt.timedelta(days=1)

    def slots(service, date, after=None):
        "The starts of the free slots of the technician on date"
        start, end = service.day_bounds(date)
        return [s['start'] for s in service.compute_slots(
                [resource], start, end)
            if after is None or s['start'] > after]

    visits = list(VISITS)
    rng.shuffle(visits)
    past = slots(clean, yesterday)
    done = flagged = None
    if len(past) >= 2:
        done = book(clean, past[0], visits[0], rng.choice(members))
        flagged = book(clean, past[-1], visits[1], rng.choice(members))
    with Transaction().set_user(user.id):
        for booking, away in [(done, 0), (flagged, 600)]:
            if not booking:
                continue
            lat, lon = geo.gcj02_to_wgs84(booking.latitude, booking.longitude)
            lat += away / (geo.EARTH_RADIUS * 3.141592653589793 / 180)
            with Transaction().set_context(_clock_now=booking.start
                    - dt.timedelta(minutes=rng.randint(0, 20))):
                Booking.door_check_in(booking.id, lat, lon,
                    accuracy=rng.randint(5, 30), coord_type='wgs84')
            with Transaction().set_context(_clock_now=booking.end
                    + dt.timedelta(minutes=rng.randint(-10, 25))):
                Booking.door_check_out(booking.id)
    # Today's visits to come (and tomorrow's)
    coming = [(repair, start) for start in slots(
            repair, today, after=now + dt.timedelta(hours=4))][:1]
    coming += [(clean, start) for start in slots(
            clean, today + dt.timedelta(days=1))][:2]
    for (service, start), visit in zip(coming, visits[2:] + visits[:1]):
        book(service, start, visit, rng.choice(members))
