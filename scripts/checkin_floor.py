"""The floor of a check-in that builds no Tryton record: a measurement, not
a way to check in (doc/operations.rst, "The floor of a check-in without
records").

install() replaces, in the process that calls it, the early answer of
`POST checkins` (miniprogram.routes._early_checkin) by one that sends the
same single statement as the project's check-in (the posting that inserts
the check-in, its points line, the member's balance and streak, committed
alone) with its parameters made from a few plain values, and answers
from what the statement returns.  It skips what the project's check-in
does in Python besides: the rules of the event (window, methods, roster,
position and Wi-Fi policy, lateness), the look-up of a duplicate before
the statement, the instances of the event, the configuration, the member,
the check-in and the line, the checks of the posting's entry, the
summary, the metrics.  The statement's text and the parameters that do
not change from one member to the next are taken from the project's own
check-in: the first QR check-in of an event in each process goes the
project's way and is captured; a request the floor can't answer (another
credential, a statement that writes nothing) goes the project's way.

What the floor measures is how far a check-in path without records could
bring the CPU per check-in, the rows it writes being those of the
project's (scripts/bench_checkin --floor checks them as for the project).
With rules (--floor rules), the values of the check-in are computed by
the project's rules of the attempt first (Attendance._attempt, as today,
with the instances of the member and of the event's snapshot): what the
rules cost as they are computed today.

    scripts/bench_checkin --wrk --floor -n 5000 -c 100 -w 2 --rounds 3
    scripts/bench_checkin --wrk --floor rules -n 5000 -c 100 -w 2 --rounds 3
    .venv/bin/python scripts/profile_checkin.py --floor [rules] -n 2000
"""
import datetime as dt
import json

# {event id: the values of the project's check-in of it, captured}
_captured = {}
# The check-ins the floor answered
answered = [0]


def add_option(parser, help):
    """Add --floor [rules] to the argparse parser of a benchmark script,
    help saying what answers"""
    parser.add_argument('--floor', nargs='?', const='bare',
        choices=['bare', 'rules'], help=help + ": the floor of a check-in "
        "without records, not the project's check-in (rules: with the "
        "project's rules of the attempt)")


def install(rules=False):
    """Answer the QR check-ins of this process by the floor (see above);
    with rules, the values of the check-in are those of the project's
    rules (Attendance._attempt, with the instances of the member and of
    the event's snapshot), checked for each check-in before the
    statement"""
    from trytond.modules.member import prepared
    from trytond.modules.miniprogram import api
    fetch_alone = prepared.fetch_alone

    def capture(key, build, /, **values):
        # The posting that inserts a check-in, committed alone
        if key[1:2] == ('post',) and 'alone' in key and 'insert' in key:
            _captured['last'] = (key, build, dict(values))
        return fetch_alone(key, build, **values)
    prepared.fetch_alone = capture
    answers = api._early[('POST', api._url('checkins'))]
    for i, (func, *rest) in enumerate(answers):
        if func.__name__ == '_early_checkin':
            answers[i] = (_floor(func, fetch_alone, rules), *rest)


def _floor(project, fetch_alone, rules):
    from trytond.modules.checkin import token
    from trytond.modules.checkin.attendance import ARRIVAL_MINUTES
    from trytond.modules.member import prepared
    from trytond.modules.miniprogram.api import WholeWay
    from trytond.modules.suite import clock, geo, tools
    from trytond.transaction import Transaction, without_check_access

    def floor(pool, member_id, body, environ):
        parsed = token.parse_token(body.get('qr_token'))
        lat, lon = body.get('lat'), body.get('lon')
        if (not parsed or not isinstance(lat, (int, float))
                or not isinstance(lon, (int, float))):
            return project(pool, member_id, body, environ)
        event = _captured.get(parsed[0])
        if event is None:
            _captured.pop('last', None)
            answer = project(pool, member_id, body, environ)
            if 'last' in _captured:
                _captured[parsed[0]] = _event_values(
                    pool, *_captured.pop('last'))
            return answer
        event_id, window, signature = parsed
        if not token.verify(event['secret'], event_id, window, signature):
            raise WholeWay
        now = clock.now()
        if rules:
            attempt = _attempt(pool, member_id, body)
            now = attempt['time']
        local = now.replace(tzinfo=dt.timezone.utc).astimezone(
            event['tzinfo'])
        day = local.date()
        streak_day = now.replace(tzinfo=dt.timezone.utc).astimezone(
            event['member_tzinfo']).date()
        # Event.day_key of the values, without the event's instance
        day_key = attempt['day_key'] if rules else (
            day.toordinal() if event['daily'] else 0)
        counted_key = pool.get('checkin.attendance').counted_key_of(
            event_id, member_id, day_key)
        values = dict(event['values'],
            member=member_id, insert_member=member_id,
            date=now, insert_time=now, insert_server_time=now,
            activity=streak_day,
            yesterday=streak_day - dt.timedelta(days=1),
            insert_local_date=day,
            insert_arrival='%02d:%02d' % (local.hour,
                local.minute - local.minute % ARRIVAL_MINUTES),
            insert_epoch_minute=int(clock.timestamp(now) // 60),
            insert_day_key=day_key,
            insert_counted_key=counted_key, unless_counted_key=counted_key,
            insert_latitude=lat, insert_longitude=lon,
            insert_distance=round(geo.haversine(
                    *event['position'], lat, lon), 1),
            params=json.dumps(dict(event['params'], date=day.isoformat()),
                sort_keys=True, separators=(',', ':')))
        if rules:
            values.update({'insert_' + n: attempt[n] for n in [
                        'server_time', 'local_date', 'arrival',
                        'epoch_minute', 'late', 'distance', 'status']})
        connection = Transaction().connection
        row = fetch_alone(event['key'], event['build'], **values)
        _, _, line_id, balance, *_, attendance_id = row
        if line_id is None:
            # Nothing written: the project's way answers
            raise WholeWay
        prepared.sealed(connection)
        answered[0] += 1
        return 201, {
            'id': attendance_id,
            'status': values['insert_status'],
            'time': now.isoformat() + 'Z',
            'points_awarded': values['points'],
            'points_balance': balance,
            'event': {'id': event_id, 'name': event['name']},
            }

    def _attempt(pool, member_id, body):
        "The values of the check-in of body by the project's rules"
        Attendance = pool.get('checkin.attendance')
        Member = pool.get('member.member')
        item = Attendance.parse_item(body)
        member = tools.instance(Member, member_id)
        credential, position, client_time, device_id = (
            Attendance._parse_check_in(item['credential'],
                item['position'], item['bssid'], item['client_time'],
                item['device_id']))
        Attendance._check_access(member, credential)
        with without_check_access():
            values, _, refusal = Attendance._attempt(member, credential,
                position, item['bssid'], None, client_time, False,
                device_id, None)
        if refusal or values['status'] not in {'valid', 'late'}:
            raise WholeWay
        return values
    return floor


def _event_values(pool, key, build, values):
    "What the floor keeps of the project's check-in of an event"
    Event = pool.get('checkin.event')
    Configuration = pool.get('member.configuration')
    event = Event.snapshot(values['insert_event'])
    params = json.loads(values['params'])
    return {
        'key': key,
        'build': build,
        'values': values,
        'params': params,
        'secret': event.secret,
        'tzinfo': event.tzinfo,
        'member_tzinfo': Configuration.get_cached().tzinfo,
        'daily': event.daily,
        'position': (event.latitude, event.longitude),
        'name': event.name,
        }
