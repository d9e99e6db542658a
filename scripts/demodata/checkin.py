"""Demo data of the checkin module: places with Wi-Fi and NFC tags in
Shanghai, a past meeting (closed, with late, flagged and rejected
check-ins), a class open now, a daily attendance with two weeks of history
that records leaving (check-outs, durations and the forgotten check-outs
closed at the end of the day), the daily points sign-in of the
mini-program, a future hike whose point was copied from a Chinese map
(GCJ-02) and a reading club whose two weeks of reminders were a finished
experiment (no reminder against "keep your streak").  The admin user
organizes every event.

Check-ins go through `checkin.attendance.check_in` with the clock set to
their time, so they earn points and streaks like real ones."""
import datetime as dt

from trytond.modules.suite.geo import wgs84_to_gcj02

PLACES = [
    {'name': "People's Square Community Centre",
        'address': "上海市黄浦区人民大道120号",
        'latitude': 31.2304, 'longitude': 121.4737, 'radius': 300,
        'bssids': '3c:84:6a:10:20:01\n3c:84:6a:10:20:02'},
    {'name': "Lujiazui Office",
        'address': "上海市浦东新区陆家嘴环路1000号",
        'latitude': 31.2397, 'longitude': 121.4998, 'radius': 200,
        'bssids': '74:da:88:aa:00:10'},
    {'name': "Century Park North Gate",
        'address': "上海市浦东新区锦绣路1001号",
        'latitude': 31.2196, 'longitude': 121.5447, 'radius': 500},
    ]


def _near(place, rng, meters=60):
    "A position around place, within about meters"
    return {
        'lat': place.latitude + rng.uniform(-meters, meters) / 111195,
        'lon': place.longitude + rng.uniform(-meters, meters) / 95000,
        'accuracy_m': rng.choice([8, 12, 20, 35]),
        }


def load(pool, rng, company):
    from trytond.transaction import Transaction

    Assignment = pool.get('checkin.reminder.assignment')
    Attendance = pool.get('checkin.attendance')
    Configuration = pool.get('checkin.configuration')
    Event = pool.get('checkin.event')
    Experiment = pool.get('checkin.reminder.experiment')
    Member = pool.get('member.member')
    Template = pool.get('outbox.template')
    Place = pool.get('checkin.place')
    Tag = pool.get('checkin.tag')
    User = pool.get('res.user')

    members = Member.search([], order=[('id', 'ASC')])
    if not members:
        return
    # Every check-in locks its member and the configuration is created:
    # take all the locks before writing anything (Tryton 8.0 restarts the
    # transaction to take a lock, once here instead of once per member)
    Member.lock(members)
    Configuration.lock()
    admins = User.search([('login', '=', 'admin')])
    organizers = [('add', [u.id for u in admins])]

    now = dt.datetime.now(dt.timezone.utc).replace(
        tzinfo=None, second=0, microsecond=0)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(shanghai).date()

    def utc(date, hour, minute=0):
        "The UTC time of a local time in Shanghai"
        return dt.datetime.combine(date, dt.time(hour, minute)) - (
            dt.timedelta(hours=8))

    def at(when):
        return Transaction().set_context(_clock_now=when)

    hall, office, park = Place.create(PLACES)
    Tag.create([
            {'uid': '04:A2:2B:1A:6C:80:01', 'name': "Hall entrance",
                'place': hall.id},
            {'uid': '04:A2:2B:1A:6C:80:02', 'name': "Office lobby",
                'place': office.id},
            ])

    common = {
        'timezone': 'Asia/Shanghai',
        'organizers': organizers,
        }

    def located(place):
        return {
            'place': place.id,
            'address': place.address,
            'latitude': place.latitude,
            'longitude': place.longitude,
            'radius': place.radius,
            'bssids': place.bssids,
            }

    def scan(member, event, when, position=None, **kwargs):
        "Check member in with the QR code shown at when"
        with at(when):
            return Attendance.check_in(
                member, {'qr_token': event.current_token(when)},
                position=position, **kwargs)

    # A reading club every evening for two weeks, whose missed check-in
    # reminders were an experiment: the members reminded to keep their
    # streak come back more the next day than those not reminded (first,
    # so that the reminders of the scheduler find no other event)
    start_day = today - dt.timedelta(days=14)
    club_members = members[:40]
    club, = Event.create([dict(common,
                name="Evening reading club", kind='daily', state='open',
                start=utc(start_day, 19),
                end=utc(today + dt.timedelta(days=30), 0),
                day_start=dt.time(19, 0), methods=['qr', 'app'], points=1,
                roster=[('add', [m.id for m in club_members])])])
    experiment, = Experiment.create([{
                'name': "Reading club: keep your streak",
                'events': [('add', [club.id])],
                'variants': [('create', [{
                                'name': "No reminder", 'control': True,
                                'delay': 60, 'weight': 1,
                                }, {
                                'name': "Keep your streak", 'delay': 60,
                                'template': Template.get(
                                    'checkin_missed_streak').id,
                                'weight': 1,
                                }])],
                }])
    with at(club.start - dt.timedelta(hours=1)):
        Experiment.run([experiment])
    control, streak = experiment.variants
    reminded = {}
    for offset in range(14, 0, -1):
        date = today - dt.timedelta(days=offset)
        # Before the reminder: those reminded to keep their streak the day
        # before come more often
        for member in club_members:
            chance = 0.75 if reminded.get(member.id) == streak else 0.45
            if rng.random() < chance:
                scan(member, club, utc(date, 19, rng.randint(0, 55)))
        with at(utc(date, 20)):
            Event.send_missed_reminders()
            reminded = {a.member.id: a.variant for a in Assignment.search([
                        ('experiment', '=', experiment.id),
                        ('date', '=', date),
                        ])}
        # After the reminder, some come late
        for member_id, variant in reminded.items():
            if rng.random() < (0.35 if variant == streak else 0.1):
                scan(Member(member_id), club,
                    utc(date, 21, rng.randint(0, 50)))
    with at(utc(today - dt.timedelta(days=1), 23)):
        Experiment.stop([experiment])
    experiment.winner = streak
    experiment.save()

    # A meeting last evening, closed
    yesterday = today - dt.timedelta(days=1)
    meeting, = Event.create([dict(common, **located(hall),
                name="Neighbourhood committee meeting",
                kind='meeting', state='open',
                start=utc(yesterday, 19), end=utc(yesterday, 21),
                methods=['qr', 'nfc', 'staff'], policy='flag',
                points=30, late_after=10,
                roster=[('add', [m.id for m in members[:24]])])])
    Tag.create([{
                'uid': '04:A2:2B:1A:6C:80:10', 'name': "Meeting desk",
                'event': meeting.id}])
    flagged = []
    for i, member in enumerate(members[:24]):
        if i % 8 == 7:
            continue  # absent
        minutes = rng.randint(-25, 5) if i % 6 else rng.randint(11, 40)
        when = meeting.start + dt.timedelta(minutes=minutes)
        if i in {3, 13}:
            # The phone was somewhere else: flagged for review
            position = {'lat': hall.latitude + 0.02, 'lon': hall.longitude,
                'accuracy_m': 25}
        else:
            position = _near(hall, rng)
        result = scan(member, meeting, when, position=position,
            bssid=rng.choice(hall.bssids.splitlines()))
        if result.attendance and result.attendance.status == 'flagged':
            flagged.append(result.attendance)
    # A walk-in who is not on the roster
    scan(members[30], meeting, meeting.start + dt.timedelta(minutes=3),
        position=_near(hall, rng))
    with at(meeting.end + dt.timedelta(hours=1)):
        if flagged:
            Attendance.approve(flagged[:1])
            Attendance.reject(flagged[1:])
        Event.close([meeting])

    # A yoga class open now, in the park
    yoga, = Event.create([dict(common, **located(park),
                name="Morning yoga in Century Park",
                kind='meeting', state='open',
                start=now - dt.timedelta(minutes=40),
                end=now + dt.timedelta(minutes=80),
                methods=['qr', 'code', 'staff'], policy='flag',
                points=20, late_after=15,
                roster=[('add', [m.id for m in members[10:30]])])])
    for i, member in enumerate(members[10:24]):
        when = yoga.start + dt.timedelta(minutes=rng.randint(-20, 30))
        position = _near(park, rng, 150)
        if i == 5:
            position = {'lat': park.latitude - 0.015,
                'lon': park.longitude, 'accuracy_m': 40}
        scan(member, yoga, when, position=position)

    # Daily attendance at the office for the last two weeks
    office_event, = Event.create([dict(common, **located(office),
                name="Lujiazui office attendance",
                kind='daily', state='open',
                start=utc(start_day, 0),
                end=utc(today + dt.timedelta(days=30), 0),
                day_start=dt.time(9, 0), day_end=dt.time(18, 0),
                open_before=60, late_after=15, streak=False,
                methods=['qr', 'nfc', 'staff'], policy='reject',
                points=2, record_leaving=True, missing_checkout='flag',
                roster=[('add', [m.id for m in members[:12]])])])
    for offset in range(14, -1, -1):
        date = today - dt.timedelta(days=offset)
        if date.weekday() >= 5:
            continue
        for member in members[:12]:
            if rng.random() < 0.1:
                continue
            when = utc(date, 8, rng.randint(20, 59)) + dt.timedelta(
                minutes=rng.choice([0, 0, 0, 10, 25]))
            if when > now:
                continue
            if rng.random() < 0.3:
                with at(when):
                    Attendance.check_in(member, {
                            'nfc_tag': '04A22B1A6C8002'})
            else:
                scan(member, office_event, when, position=_near(office, rng),
                    bssid='74:da:88:aa:00:10')
            # Most leave between 17:00 and 18:30 (dated 18:00 at the
            # latest); some forget and are closed by the scheduler
            leave = utc(date, 17, rng.randint(0, 59)) + dt.timedelta(
                minutes=rng.choice([0, 0, 15, 30]))
            if leave <= now and rng.random() < 0.85:
                with at(leave):
                    Attendance.check_out(member, {
                            'event_id': office_event.id},
                        position=_near(office, rng))
    # The forgotten check-outs of the past days
    with at(now):
        Event.close_missing_checkouts()

    # The daily points sign-in of the mini-program
    sign_in, = Event.create([dict(common,
                name="Daily sign-in", kind='points', state='open',
                start=utc(today.replace(month=1, day=1), 0),
                end=utc(today.replace(month=12, day=31), 23, 59),
                methods=['app'], points=5)])
    config = Configuration(1)
    config.sign_in_event = sign_in
    config.save()
    for member in members[:20]:
        for offset in range(rng.choice([0, 1, 3, 6]), 0, -1):
            when = utc(today - dt.timedelta(days=offset), 7,
                rng.randint(0, 59))
            with at(when):
                Attendance.sign_in(member)

    # Attempt analytics: refused attempts leave no check-in and are
    # counted (checkin.attempt.counter): members scanning again, photos of
    # an old QR code
    for member in members[10:14]:
        scan(member, yoga, now - dt.timedelta(minutes=2),
            position=_near(park, rng, 150))
    for member in members[30:33]:
        with at(now):
            Attendance.check_in(member, {
                    'qr_token': yoga.current_token(yoga.start)},
                position=_near(park, rng, 150))

    # The conflict report: a member signs in on the phone and checks in to
    # the yoga class on a tablet three minutes later; another member's
    # offline queue is synchronised with an item 90 minutes old, queued
    # after a later one
    twice, queued = members[24], members[25]
    with at(yoga.start + dt.timedelta(minutes=5)):
        Attendance.check_in(twice, {'event_id': sign_in.id, 'method': 'app'},
            device_id='demo-phone-%d' % twice.id)

    def offline_item(member, event, when, number, **credential):
        "An item of the offline queue of the tablet of member"
        return dict(credential or {'qr_token': event.current_token(when)},
            client_uuid='00000000-0000-4000-8000-%012d' % number,
            client_time=when.isoformat() + 'Z',
            device_id='demo-tablet-%d' % member.id,
            **_near(park, rng, 100))
    with at(now):
        Attendance.sync(twice, [offline_item(twice, yoga,
                    yoga.start + dt.timedelta(minutes=8), 1)])
        Attendance.sync(queued, [
                offline_item(queued, yoga,
                    yoga.start + dt.timedelta(minutes=10), 2),
                offline_item(queued, sign_in,
                    now - dt.timedelta(minutes=90), 3,
                    event_id=sign_in.id, method='app'),
                ])

    # A hike next Saturday, opened by the scheduler; its meeting point was
    # pasted from a Chinese map: GCJ-02, the same place as the GPS point
    # 31.0960, 121.1890
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7)
    latitude, longitude = (round(v, 7) for v in wgs84_to_gcj02(
            31.0960, 121.1890))
    Event.create([dict(common,
                name="Spring hike to She Mountain", kind='meeting',
                start=utc(saturday, 8), end=utc(saturday, 12),
                address="上海市松江区佘山", latitude=latitude,
                longitude=longitude, coord_type='gcj02', radius=800,
                methods=['qr', 'code'], policy='flag', points=50,
                late_after=20,
                roster=[('add', [m.id for m in members[5:35]])])])
