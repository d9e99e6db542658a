# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The routes of the mini-program API (API.md).  HTTP concerns only: the
rules are model methods shared with the Tryton client and proteus."""
import datetime as dt
import threading
from urllib.parse import quote

from trytond import backend
from trytond.cache import LRUDict
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.modules.suite.tools import parse_datetime
from trytond.pool import Pool
from trytond.transaction import Transaction

from . import health, metrics, openapi, saturation
from .api import (
    WholeWay, api_route, early_answer, error_body, error_response,
    from_user_error, json_response, status_text)
from .auth import (
    LOCK_TIMEOUT_MS, kiosk_token, staff_login, staff_token, wait_member_lock)
from .exceptions import ApiError, KioskEventOver, NotFound
from .kiosk import dashboard_page, kiosk_page
from .schemas import (
    ATTEMPT_HINTS, ATTEMPTS, BOOKING, CHECKIN, CHECKIN_ANSWER, CHECKIN_BODY,
    CHECKIN_RECEIPT, CHECKOUT_ANSWER, CHECKOUT_BODY, COORD_TYPE, COUPON, DATE,
    DATETIME, DOOR_CHECKIN_BODY, EVENT, KIOSK_QUERY, LIST_QUERY, MAX_ID,
    MEMBER, MY_RATING, ORGANIZED_EVENT, PASSWORD, PHONE, POINTS_LINE, RATING,
    RATING_BODY, REWARD, SERVICE, SLOT, SMS_CODE, SMS_PURPOSE, SMS_SENT,
    STAFF_BOOKING, SYNC_ITEM, TOKENS_MEMBER, TOKENS_ONLY, UUID, WAITLIST_ENTRY,
    array, boolean, id_, integer, nullable, number, obj, page, string)
from .serializers import (
    booking_json, checkin_answer_json, coupon_json, event_json, isoformat,
    member_json, organized_event_json, points_line_json, rating_json,
    reward_json, service_json, slot_json, staff_booking_json,
    waitlist_entry_json)
from .sms import code_ttl, resend_interval
from .validation import invalid, parse_json


def _tokens_member(pool, member):
    RefreshToken = pool.get('miniprogram.refresh_token')
    Member = pool.get('member.member')
    result = RefreshToken.issue(member)
    result['member'] = member_json(Member(member.id))
    return result


# The WSGI environ key of the WeChat session of the code of auth/wechat
WECHAT_SESSION = 'miniprogram.wechat_session'


# Auth

@api_route('POST', 'auth/register', "Register with a phone and a password",
    auth=None, status=201, tags=['auth'],
    body=obj({
            'phone': PHONE,
            'password': PASSWORD,
            'name': string(1, 100),
            }, required=['phone', 'password']),
    response=TOKENS_MEMBER,
    errors=[(409, 'phone_taken'), (400, 'invalid_request')])
def register(request):
    Member = request.pool.get('member.member')
    body = request.body
    member = Member.mp_register(
        body['phone'], body['password'], body.get('name'))
    return _tokens_member(request.pool, member)


@api_route('POST', 'auth/login', "Log in with a phone and a password",
    auth=None, tags=['auth'],
    body=obj({'phone': PHONE, 'password': PASSWORD},
        required=['phone', 'password']),
    response=TOKENS_MEMBER,
    errors=[(401, 'invalid_credentials'), (429, 'rate_limited')])
def login(request):
    Member = request.pool.get('member.member')
    member = Member.mp_login(request.body['phone'], request.body['password'])
    return _tokens_member(request.pool, member)


@api_route('POST', 'auth/wechat', "Log in with a wx.login code",
    auth=None, tags=['auth'],
    description="The member is created on the first login. The WeChat "
    "session key stays on the server.",
    body=obj({'code': string(1, 128)}, required=['code']),
    response=TOKENS_MEMBER,
    errors=[(401, 'invalid_credentials'), (502, 'wechat_unavailable')])
def wechat_login(request):
    Member = request.pool.get('member.member')
    code = request.body['code']
    # A code is valid once: a restarted transaction (a concurrent first
    # login, a serialization failure) reuses the session of its exchange
    environ = request.http.environ
    session = environ.get(WECHAT_SESSION)
    if session is None:
        session = environ[WECHAT_SESSION] = Member.mp_wechat_session(code)
    member = Member.mp_wechat_login(code, session=session)
    return _tokens_member(request.pool, member)


@api_route('POST', 'auth/refresh', "Exchange a refresh token for new tokens",
    auth=None, tags=['auth'],
    description="The refresh token is revoked; using it again revokes "
    "every token of its login.",
    body=obj({'refresh_token': string(1, 4096)}, required=['refresh_token']),
    response=TOKENS_ONLY, errors=[(401, 'unauthorized')])
def refresh(request):
    RefreshToken = request.pool.get('miniprogram.refresh_token')
    _, tokens = RefreshToken.rotate(request.body['refresh_token'])
    return tokens


@api_route('POST', 'auth/logout', "Revoke a refresh token",
    auth=None, status=204, tags=['auth'],
    body=obj({'refresh_token': string(1, 4096)}, required=['refresh_token']),
    errors=[(401, 'unauthorized')])
def logout(request):
    RefreshToken = request.pool.get('miniprogram.refresh_token')
    RefreshToken.logout(request.body['refresh_token'])
    return None


@api_route('POST', 'auth/staff', "Staff login: a token for organizer routes",
    auth=None, tags=['auth', 'organizer'],
    description="With the login and password of a Tryton user (the same "
    "throttling as the Tryton clients' login). The token is accepted by "
    "the organizer routes, for the events that user organizes (or every "
    "event for check-in administrators); it cannot be refreshed.",
    body=obj({'login': string(1, 100), 'password': string(1, 128)},
        required=['login', 'password']),
    response=obj({
            'access_token': string(),
            'token_type': string(enum=['Bearer']),
            'expires_in': integer(description="seconds"),
            }, required=['access_token', 'token_type', 'expires_in']),
    errors=[(401, 'invalid_credentials'), (429, 'rate_limited')])
def staff_auth(request):
    user_id = staff_login(request.body['login'], request.body['password'])
    return staff_token(user_id)


# Me

@api_route('GET', 'me', "The member's profile", tags=['me'],
    response=obj({'member': MEMBER}, required=['member']))
def me(request):
    return {'member': member_json(request.member)}


@api_route('PATCH', 'me', "Change the name, avatar or address",
    tags=['me'],
    body=obj({
            'name': string(1, 100),
            'avatar_url': nullable(string(0, 1024, pattern=r'^(https?://|$)')),
            'address': nullable(string(0, 500)),
            }, minProperties=1),
    response=obj({'member': MEMBER}, required=['member']),
    errors=[(400, 'invalid_request')])
def update_me(request):
    Member = request.pool.get('member.member')
    request.member.mp_update_profile(request.body)
    return {'member': member_json(Member(request.member.id))}


@api_route('DELETE', 'me', "Delete the member's account", tags=['me'],
    status=204,
    description="Confirmed by the password, or without it ({}) within 10 "
    "minutes of a login (auth/login, auth/register, auth/wechat; a refresh "
    "is no login). Every token of the member is revoked, the personal data "
    "(name, phone, WeChat ids, avatar, address, positions of the "
    "check-ins, addresses of the bookings, messages) erased; check-ins, "
    "bookings and points stay as anonymous records, so that statistics do "
    "not change. Afterwards every token answers 401. A wrong password "
    "changes nothing (401 invalid_credentials, throttled like logins).",
    body=obj({'password': PASSWORD}),
    errors=[(401, 'invalid_credentials'), (429, 'rate_limited')])
def delete_me(request):
    request.member.mp_delete_account(
        password=request.body.get('password'),
        auth_time=request.claims.get('auth_time'))
    return None


@api_route('GET', 'me/points', "The member's points ledger, newest first",
    tags=['me'], query=obj(dict(LIST_QUERY)), response=page(POINTS_LINE))
def my_points(request):
    Line = request.pool.get('member.points.line')
    domain = [('member', '=', request.member.id)]
    order = [('date', 'DESC'), ('id', 'DESC')]
    lines = Line.search(domain, offset=request.query['offset'],
        limit=request.query['limit'], order=order)
    return {
        'items': [points_line_json(l) for l in lines],
        'total': Line.search_count(domain),
        }


@api_route('GET', 'openapi.json', "This OpenAPI document", auth=None,
    tags=['meta'], response=obj({}, additional=True))
def openapi_document(request):
    """The OpenAPI 3 document of every route, built from the registry that
    also validates the requests."""
    return openapi.document(request.http)


HEALTH_OK = obj({'status': string(enum=['ok'])}, required=['status'])
HEALTH_NOT_READY = obj({
        'status': string(enum=['not_ready']),
        'failing': array(string(enum=health.CHECKS), min_items=1),
        }, required=['status', 'failing'])


@api_route('GET', 'health', "Whether this server is ready", auth=None,
    tags=['meta'], raw=True, response=HEALTH_OK,
    answers={503: HEALTH_NOT_READY})
def health_check(request, database_name):
    """Liveness and readiness, without authentication, for balancers and
    healthchecks: 200 when ready; 503 with the checks that fail (database,
    cron, worker, outbox) otherwise.  No figures: those are for the
    operator's metrics."""
    failing = health.failing(database_name)
    if failing is None:
        return error_response(ApiError('not_found',
                status_text(request.environ, 'status_404')))
    headers = {'Cache-Control': 'no-store'}
    if failing:
        return json_response(
            {'status': 'not_ready', 'failing': failing}, status=503,
            headers=headers)
    return json_response({'status': 'ok'}, headers=headers)


# Booking

@api_route('GET', 'services', "The bookable services with the member price",
    tags=['booking'], query=obj(dict(LIST_QUERY)), response=page(SERVICE))
def services(request):
    Service = request.pool.get('booking.service')
    values = Service.list_services(member=request.member,
        offset=request.query['offset'], limit=request.query['limit'])
    return {'items': [service_json(v) for v in values],
        'total': Service.search_count([])}


@api_route('GET', 'services/{service_id}',
    "One bookable service with the member price", tags=['booking'],
    response=obj({'service': SERVICE}, required=['service']),
    errors=[(404, 'not_found')])
def one_service(request):
    Service = request.pool.get('booking.service')
    service = Service._get_service(request.path['service_id'])
    values, = Service.list_services(member=request.member,
        domain=[('id', '=', service.id)])
    return {'service': service_json(values)}


@api_route('GET', 'services/{service_id}/slots',
    "The free slots of a service on a local date", tags=['booking'],
    description="Slots the member's tier may not book yet are absent, "
    "full slots too unless full=true (capacity_left 0: their waiting list "
    "takes members).",
    query=obj({'date': DATE, 'resource_id': id_(),
            'full': boolean(default=False, description="also the full "
                "slots, to join their waiting list")},
        required=['date']),
    response=obj({'slots': array(SLOT)}, required=['slots']),
    errors=[(404, 'not_found')])
def service_slots(request):
    Service = request.pool.get('booking.service')
    slots = Service.free_slots(
        request.path['service_id'], request.query['date'],
        member=request.member,
        resource=request.query.get('resource_id'),
        full=request.query.get('full', False))
    return {'slots': [slot_json(s) for s in slots]}


@api_route('POST', 'bookings', "Book a slot", status=201, tags=['booking'],
    body=obj({
            'service_id': id_(),
            'start': DATETIME,
            'resource_id': nullable(id_()),
            'address': nullable(string(0, 500)),
            'note': nullable(string(0, 2000)),
            'points': integer(0, MAX_ID, description="points to pay part "
                "of the price with (taken when the booking is confirmed)"),
            'coupon': nullable(string(1, 64, description="the code of a "
                    "coupon of the member (me/coupons)")),
            'lat': number(-90, 90, description="the position of the "
                "address (with lon), e.g. from the map picker"),
            'lon': number(-180, 180),
            'coord_type': COORD_TYPE,
            }, required=['service_id', 'start']),
    response=obj({'booking': BOOKING}, required=['booking']),
    errors=[(409, 'slot_full'), (409, 'booking_overlap'),
        (422, 'slot_unavailable'), (422, 'points_limit'),
        (422, 'insufficient_points'), (422, 'invalid_coupon'),
        (422, 'booking_suspended'), (422, 'invalid_coord_type'),
        (404, 'not_found')])
def create_booking(request):
    Booking = request.pool.get('booking.booking')
    body = request.body
    position = None
    if body.keys() & {'lat', 'lon', 'coord_type'}:
        position = (body.get('lat'), body.get('lon'), body.get('coord_type'))
    booking = Booking.create_booking(
        request.member, body['service_id'], parse_datetime(body['start']),
        resource=body.get('resource_id'), address=body.get('address'),
        note=body.get('note'), points=body.get('points', 0),
        coupon=body.get('coupon'), position=position)
    return {'booking': booking_json(booking)}


@api_route('GET', 'bookings/{booking_id}', "One booking of the member",
    tags=['booking'], response=obj({'booking': BOOKING},
        required=['booking']),
    errors=[(404, 'not_found')])
def get_booking(request):
    Booking = request.pool.get('booking.booking')
    booking = Booking.get_booking(request.path['booking_id'],
        member=request.member)
    return {'booking': booking_json(booking)}


@api_route('POST', 'bookings/{booking_id}/cancel', "Cancel a booking",
    tags=['booking'], response=obj({'booking': BOOKING},
        required=['booking']),
    errors=[(404, 'not_found'), (422, 'cancel_window_passed'),
        (422, 'invalid_state')])
def cancel_booking(request):
    Booking = request.pool.get('booking.booking')
    booking = Booking.cancel_booking(request.path['booking_id'],
        member=request.member)
    return {'booking': booking_json(booking)}


@api_route('GET', 'me/bookings', "The member's bookings, newest first",
    tags=['me', 'booking'], query=obj(dict(LIST_QUERY)),
    response=page(BOOKING))
def my_bookings(request):
    Booking = request.pool.get('booking.booking')
    bookings, total = Booking.member_bookings(request.member,
        limit=request.query['limit'], offset=request.query['offset'])
    return {'items': [booking_json(b) for b in bookings], 'total': total}


@api_route('POST', 'bookings/{booking_id}/reschedule',
    "Move a booking to another slot", tags=['booking'],
    description="To another slot of the same service, with the rules of a "
    "new booking (lead time, horizon and the tier's priority days, "
    "capacity) until the cancellation window: the booking holds its old "
    "slot until it holds the new one. The place left is offered to the "
    "waiting list; reminders follow the new time.",
    body=obj({'start': DATETIME, 'resource_id': nullable(id_())},
        required=['start']),
    response=obj({'booking': BOOKING}, required=['booking']),
    errors=[(404, 'not_found'), (409, 'slot_full'), (409, 'booking_overlap'),
        (422, 'slot_unavailable'), (422, 'cancel_window_passed'),
        (422, 'invalid_state')])
def reschedule_booking(request):
    Booking = request.pool.get('booking.booking')
    body = request.body
    booking = Booking.reschedule_booking(request.path['booking_id'],
        parse_datetime(body['start']), resource=body.get('resource_id'),
        member=request.member)
    return {'booking': booking_json(booking)}


# Waiting list

@api_route('POST', 'services/{service_id}/waitlist',
    "Join the waiting list of a full slot", status=201,
    tags=['booking', 'waitlist'],
    description="When a place of the slot frees, the first member waiting "
    "gets an offer (a message) and the place is held for that member for "
    "the offer time of the configuration: accept it with POST "
    "waitlist/{id}/accept. A slot with a place left answers 422 "
    "slot_not_full (book it).",
    body=obj({'start': DATETIME, 'resource_id': nullable(id_())},
        required=['start']),
    response=obj({'entry': WAITLIST_ENTRY}, required=['entry']),
    errors=[(404, 'not_found'), (409, 'already_waiting'),
        (409, 'booking_overlap'), (422, 'slot_not_full'),
        (422, 'slot_unavailable')])
def join_waitlist(request):
    Waitlist = request.pool.get('booking.waitlist')
    body = request.body
    entry = Waitlist.join(request.member, request.path['service_id'],
        parse_datetime(body['start']), resource=body.get('resource_id'))
    return {'entry': waitlist_entry_json(entry)}


@api_route('GET', 'me/waitlist', "The member's waiting list entries",
    tags=['me', 'waitlist'], query=obj(dict(LIST_QUERY)),
    response=page(WAITLIST_ENTRY))
def my_waitlist(request):
    Waitlist = request.pool.get('booking.waitlist')
    entries, total = Waitlist.member_entries(request.member,
        limit=request.query['limit'], offset=request.query['offset'])
    return {'items': [waitlist_entry_json(e) for e in entries],
        'total': total}


@api_route('POST', 'waitlist/{entry_id}/accept',
    "Book the place offered from the waiting list", status=201,
    tags=['booking', 'waitlist'],
    response=obj({'booking': BOOKING}, required=['booking']),
    errors=[(404, 'not_found'), (422, 'offer_expired'),
        (422, 'invalid_state'), (409, 'booking_overlap')])
def accept_waitlist(request):
    Waitlist = request.pool.get('booking.waitlist')
    booking = Waitlist.accept(request.path['entry_id'],
        member=request.member)
    return {'booking': booking_json(booking)}


@api_route('DELETE', 'waitlist/{entry_id}', "Leave the waiting list",
    tags=['waitlist'], status=204,
    description="A place offered goes to the next member.",
    errors=[(404, 'not_found'), (422, 'invalid_state')])
def leave_waitlist(request):
    Waitlist = request.pool.get('booking.waitlist')
    Waitlist.leave(request.path['entry_id'], member=request.member)
    return None


# Ratings of bookings

@api_route('POST', 'bookings/{booking_id}/rating', "Rate a done booking",
    status=201, tags=['booking'],
    description="Once per booking, when it is done: 1 to 5 stars, an "
    "optional comment and tags.  The member may change it (PATCH) within "
    "the edit window of the configuration (`edit_deadline`).",
    body=obj(RATING_BODY, required=['stars']),
    response=obj({'rating': MY_RATING}, required=['rating']),
    errors=[(404, 'not_found'), (409, 'already_rated'),
        (422, 'invalid_state')])
def rate_booking(request):
    Rating = request.pool.get('booking.rating')
    body = request.body
    rating = Rating.rate(request.path['booking_id'], body['stars'],
        comment=body.get('comment'), tags=body.get('tags'),
        member=request.member)
    return {'rating': rating_json(rating.member_values())}


@api_route('PATCH', 'bookings/{booking_id}/rating',
    "Change the rating of a booking", tags=['booking'],
    description="Only the fields given change; refused after the edit "
    "window (`edit_window_passed`).  A comment hidden by the staff stays "
    "hidden.",
    body=obj(RATING_BODY, minProperties=1),
    response=obj({'rating': MY_RATING}, required=['rating']),
    errors=[(404, 'not_found'), (422, 'edit_window_passed')])
def change_rating(request):
    Rating = request.pool.get('booking.rating')
    rating = Rating.change_rating(request.path['booking_id'],
        member=request.member, **request.body)
    return {'rating': rating_json(rating.member_values())}


@api_route('GET', 'me/ratings', "The member's ratings, newest first",
    tags=['me', 'booking'], query=obj(dict(LIST_QUERY)),
    response=page(MY_RATING))
def my_ratings(request):
    Rating = request.pool.get('booking.rating')
    ratings, total = Rating.member_ratings(request.member,
        limit=request.query['limit'], offset=request.query['offset'])
    return {'items': [rating_json(r.member_values()) for r in ratings],
        'total': total}


@api_route('GET', 'services/{service_id}/ratings',
    "The ratings of a service, newest first", tags=['booking'],
    description="Members are shown by their masked display name only; the "
    "comment of a rating hidden by the staff is null.  `average` and "
    "`count` are those of all the ratings of the service.",
    query=obj(dict(LIST_QUERY)),
    response=obj({
            'items': array(RATING),
            'total': integer(),
            'average': nullable(number(1, 5)),
            'count': integer(0),
            }, required=['items', 'total', 'average', 'count']),
    errors=[(404, 'not_found')])
def service_ratings(request):
    Rating = request.pool.get('booking.rating')
    service_id = request.path['service_id']
    ratings, total = Rating.published_ratings(service_id,
        limit=request.query['limit'], offset=request.query['offset'])
    count, average = Rating.aggregates('service', [service_id])[service_id]
    return {
        'items': [rating_json(r.published_values()) for r in ratings],
        'total': total,
        'average': float(average) if average is not None else None,
        'count': count,
        }


# The technician at the customer's door

@api_route('GET', 'staff/bookings', "The technician's bookings of a day",
    auth='organizer', tags=['staff', 'booking'],
    description="With the staff token (auth/staff) of the user of a "
    "resource (or of its employee), or the token of a member linked to "
    "that user: the bookings the user delivers on the local date (default "
    "today in the time zone of the user's resource), earliest first. The "
    "customer is shown by the masked display name only, with the address "
    "to go to and its position.",
    query=obj({'date': DATE}),
    response=obj({'date': DATE, 'items': array(STAFF_BOOKING),
            'total': integer()}, required=['date', 'items', 'total']))
def staff_bookings(request):
    Booking = request.pool.get('booking.booking')
    date, bookings = Booking.staff_bookings(request.query.get('date'))
    return {'date': date.isoformat(),
        'items': [staff_booking_json(b) for b in bookings],
        'total': len(bookings)}


@api_route('POST', 'staff/bookings/{booking_id}/checkin',
    "Check in at the customer's door", auth='organizer',
    tags=['staff', 'booking'],
    description="The technician of the booking sends the position of the "
    "device: within the door radius of the service (plus the accuracy, up "
    "to the radius) the confirmed booking is in progress. Out of it the "
    "service refuses (out_of_range, with the distance and the radius) or "
    "accepts it flagged for review (door.flagged, door.flag_reason); a "
    "booking whose address has no position is accepted flagged "
    "no_position. Another technician's booking is not found.",
    body=DOOR_CHECKIN_BODY,
    response=obj({'booking': STAFF_BOOKING}, required=['booking']),
    errors=[(404, 'not_found'), (422, 'out_of_range'),
        (422, 'invalid_state'), (422, 'too_early'),
        (422, 'invalid_coord_type')])
def staff_booking_checkin(request):
    Booking = request.pool.get('booking.booking')
    body = request.body
    booking = Booking.door_check_in(request.path['booking_id'],
        body['lat'], body['lon'], accuracy=body.get('accuracy_m'),
        coord_type=body.get('coord_type'))
    return {'booking': staff_booking_json(booking)}


@api_route('POST', 'staff/bookings/{booking_id}/checkout',
    "Check out: the booking is done", auth='organizer',
    tags=['staff', 'booking'],
    description="The booking checked in at the door is done (the points "
    "of the member are posted) with its real duration_min from the door "
    "check-in.",
    response=obj({'booking': STAFF_BOOKING}, required=['booking']),
    errors=[(404, 'not_found'), (422, 'invalid_state'), (422, 'too_early')])
def staff_booking_checkout(request):
    Booking = request.pool.get('booking.booking')
    booking = Booking.door_check_out(request.path['booking_id'])
    return {'booking': staff_booking_json(booking)}


# Rewards

@api_route('GET', 'rewards', "The rewards catalogue", tags=['rewards'],
    description="The rewards the member may redeem today: within their "
    "validity, with stock left (stock_left null: no limit).",
    query=obj(dict(LIST_QUERY)), response=page(REWARD))
def rewards(request):
    Reward = request.pool.get('member.reward')
    rewards, total = Reward.catalogue(offset=request.query['offset'],
        limit=request.query['limit'])
    return {'items': [reward_json(r) for r in rewards], 'total': total}


@api_route('POST', 'rewards/{reward_id}/redeem', "Redeem a reward",
    status=201, tags=['rewards'], lock_member=True,
    description="Spends the points of the reward and answers the "
    "single-use coupon: a service voucher or a discount coupon pays a "
    "booking (`coupon` of POST bookings), a product is handed over by the "
    "staff against its code.",
    response=obj({
            'coupon': COUPON,
            'member': obj({'points_balance': integer()},
                required=['points_balance']),
            }, required=['coupon', 'member']),
    errors=[(404, 'not_found'), (409, 'out_of_stock'),
        (422, 'insufficient_points'), (422, 'reward_unavailable')])
def redeem_reward(request):
    Reward = request.pool.get('member.reward')
    Member = request.pool.get('member.member')
    redemption = Reward.redeem(request.path['reward_id'],
        member=request.member)
    return {
        'coupon': coupon_json(redemption),
        'member': {
            'points_balance': Member(request.member.id).points_balance,
            },
        }


@api_route('GET', 'me/coupons', "The member's coupons, newest first",
    tags=['me', 'rewards'], query=obj(dict(LIST_QUERY)),
    response=page(COUPON))
def my_coupons(request):
    Redemption = request.pool.get('member.reward.redemption')
    redemptions, total = Redemption.member_coupons(request.member,
        offset=request.query['offset'], limit=request.query['limit'])
    return {'items': [coupon_json(r) for r in redemptions], 'total': total}


# Check-in

CHECKIN_ERRORS = [
    (409, 'already_checked_in'), (422, 'qr_expired'), (422, 'invalid_token'),
    (422, 'event_not_open'), (422, 'out_of_range'), (422, 'wifi_mismatch'),
    (422, 'not_on_roster'), (422, 'method_not_allowed'),
    (422, 'invalid_coord_type')]


def _credential_count(body):
    return sum(1 for k in ['qr_token', 'code', 'nfc_tag'] if body.get(k))


def _check_credential(body):
    if _credential_count(body) != 1:
        error = invalid('credential_one')
        error.details['fields'] = ['qr_token', 'code', 'nfc_tag']
        raise error
    if body.get('code') and not body.get('event_id'):
        raise invalid('code_needs_event', 'event_id', 'required')


def _result_error(result):
    "ApiError of a refused CheckInResult"
    error = result.error
    api_error = from_user_error(error)
    if result.status == 'duplicate' or api_error.code == 'already_checked_in':
        details = dict(api_error.details)
        if result.attendance:
            details['checkin'] = result.summary()
        api_error = ApiError('already_checked_in', api_error.message,
            details=details, rollback=False)
    # Rejected check-ins kept for review must be committed
    api_error.rollback = False
    return api_error


def checkin_outcome(pool, result):
    """(status, body) of the answer of POST checkins to a CheckInResult
    (the answer the intake keeps for the receipt)"""
    if result.status != 'created':
        error = _result_error(result)
        return error.status, error_body(
            error.code, error.message, error.details)
    return 201, checkin_answer_json(pool, result)


def _note_checkins(request, pairs):
    "Leave the (body, result) pairs of a check-in route for the metrics"
    metrics.note_checkins(request.http.environ,
        [_checkin_note(body, result) for body, result in pairs])


def _checkin_note(body, result):
    "The (method, outcome) of the metrics of the check-in body's result"
    if result.status == 'refused':
        outcome = result.code or 'refused'
    elif result.status == 'created':
        outcome = ('flagged' if result.attendance
            and result.summary().get('status') == 'flagged'
            else 'created')
    else:
        outcome = result.status
    return metrics.credential_method(body), outcome


def _result_entry(result, **keys):
    "One item of a batch answer: created, duplicate or error"
    entry = dict(keys,
        status={'refused': 'error'}.get(result.status, result.status))
    if result.status == 'refused':
        error = from_user_error(result.error)
        entry['error'] = {'code': error.code, 'message': error.message,
            'details': error.details}
    elif result.attendance:
        entry['checkin'] = result.summary()
    return entry


@api_route('GET', 'events', "The events the member may check in to",
    tags=['checkin'],
    description="The events open now, or those overlapping from-to.",
    query=obj(dict(LIST_QUERY, **{'from': DATETIME, 'to': DATETIME})),
    response=page(EVENT))
def events(request):
    Event = request.pool.get('checkin.event')
    start = request.query.get('from')
    end = request.query.get('to')
    if (start is None) != (end is None):
        error = invalid('period_both')
        error.details['fields'] = ['from', 'to']
        raise error
    if start is not None:
        start, end = parse_datetime(start), parse_datetime(end)
        if end < start:
            raise invalid('period_order', 'to')
    found = Event.available(request.member, start=start, end=end,
        offset=request.query['offset'], limit=request.query['limit'])
    checked = Event.checked_in_ids(request.member, found)
    return {'items': [event_json(e, checked) for e in found],
        'total': Event.available(
            request.member, start=start, end=end, count=True)}


def _checkin_duplicate(request, member_id):
    """The query of the check-in that answers POST checkins as a duplicate
    without the member's lock (lock_unless), or None: the handler checks
    the body"""
    try:
        body = parse_json(request, CHECKIN_BODY)
        _check_credential(body)
        Attendance = Pool().get('checkin.attendance')
        return Attendance.duplicate_query(
            member_id, **Attendance.parse_item(body))
    except (ApiError, UserError):
        return None


@api_route('POST', 'checkins', "Check in", status=201, tags=['checkin'],
    lock_member=True, intake=True, lock_unless=_checkin_duplicate,
    description="With one of qr_token, code (+ event_id) or nfc_tag. When "
    "the event accepts and flags a suspicious check-in, the answer is 201 "
    "with status flagged and the reasons. When the database is saturated "
    "(intake mode), the request is checked (credential, position, member) "
    "and kept: 202 with a receipt, recorded later with every rule, exactly "
    "once; GET checkins/receipts/<receipt> answers the outcome.",
    body=CHECKIN_BODY, response=CHECKIN_ANSWER, errors=CHECKIN_ERRORS,
    answers={202: CHECKIN_RECEIPT})
def checkin(request):
    Attendance = request.pool.get('checkin.attendance')
    if request.intake:
        status, value = _intake_checkin(request.pool, request.member.id,
            request.body, request.http.environ)
        return json_response(value, status=status)
    _check_credential(request.body)
    kwargs = Attendance.parse_item(request.body)
    if request.answered_by is not None:
        # A duplicate, found before the lock
        result = Attendance.answer_duplicate(
            request.answered_by, kwargs['client_uuid'])
    else:
        result = Attendance.check_in(request.member, **kwargs)
    _note_checkins(request, [(request.body, result)])
    if result.status != 'created':
        raise _result_error(result)
    return checkin_answer_json(request.pool, result)


@early_answer('POST', 'checkins', saturation.saturated)
def _intake_checkin(pool, member_id, body, environ):
    """Check the check-in body of member_id as check_in does before the
    database and append it to the intake: 202 with the receipt.  Answered
    before Tryton's dispatch (api.early_answer): the intake must answer
    faster than the check-ins that saturate the database."""
    _check_credential(body)
    Intake = pool.get('miniprogram.checkin.intake')
    Intake.check_request(body)
    receipt = Intake.receive(member_id, body, Transaction().language)
    metrics.note_checkins(environ,
        [(metrics.credential_method(body), 'pending')])
    return 202, {'status': 'pending', 'receipt': receipt}


def _recorded_early(database_name):
    """Whether a check-in is recorded before Tryton's dispatch: on
    PostgreSQL, where the member's lock is the transaction's first
    statement (SQLite begins its writers with the locks of
    with_write_transaction)"""
    return backend.name == 'postgresql'


@early_answer('POST', 'checkins', _recorded_early, autocommit=False,
    timed=True)
def _early_checkin(pool, member_id, body, environ):
    """Record the check-in of member_id before Tryton's dispatch
    (api.early_answer): first by one statement, the member's lock taken by
    the posting that inserts the check-in, unless the look-up of its
    duplicate finds it (Attendance.check_in_first); else, in the
    transaction the whole way runs, the member's lock first with the
    look-up of its duplicate (with_write_transaction, lock_unless), then
    Attendance.check_in.  A created check-in and a duplicate found before
    the lock are answered here, as the handler answers them
    (Attendance.answer_duplicate, _result_error): a refusal (kept for
    review by the whole way) or an inactive member roll back and go the
    whole way, where their answer is made, so that the rules and the
    errors keep one home.  Skipping the dispatch and the handler stack
    saves about 15 % of the web workers' CPU per check-in, and a duplicate
    no longer pays for the two ways (doc/operations.rst)."""
    Attendance = pool.get('checkin.attendance')
    Member = pool.get('member.member')
    _check_credential(body)
    kwargs = Attendance.parse_item(body)
    unless = Attendance.duplicate_query(member_id, **kwargs)
    result = None
    if unless is not None and not _tried_before(pool, unless):
        result = Attendance.check_in_first(
            member_id, unless, str(LOCK_TIMEOUT_MS), **kwargs)
    if result is not None and result.status == 'created':
        metrics.note_checkins(environ, [_checkin_note(body, result)])
        return 201, checkin_answer_json(pool, result)
    elif result is not None:
        return _duplicate_answer(body, result, environ)
    active, found = wait_member_lock(
        Transaction(), Member, member_id, unless=unless)
    if not active:
        raise WholeWay
    if found is not None:
        return _duplicate_answer(body, Attendance.answer_duplicate(
                found, kwargs['client_uuid']), environ)
    result = Attendance.check_in(member_id, **kwargs)
    if result.status != 'created':
        raise WholeWay
    metrics.note_checkins(environ, [_checkin_note(body, result)])
    return 201, checkin_answer_json(pool, result)


# The look-ups of the duplicates of the check-ins this process tried last,
# per database: another attempt of the same is likely a duplicate, which the
# lock statement answers at half the cost of check_in_first (which prepares
# the posting first, and a statement that does nothing else)
_tried = {}
_tried_lock = threading.Lock()
TRIED_SIZE = 10000


def _tried_before(pool, unless):
    """Whether the look-up of the duplicate unless (Attendance.
    duplicate_query) was made by an earlier check-in of this process (one
    of the last TRIED_SIZE); remember it"""
    key, _, values = unless
    key = (key, tuple(sorted(values.items())))
    with _tried_lock:
        tried = _tried.get(pool.database_name)
        if tried is None:
            tried = _tried[pool.database_name] = LRUDict(TRIED_SIZE)
        if key in tried:
            return True
        tried[key] = True
    return False


def _duplicate_answer(body, result, environ):
    "The answer of the duplicate result of the check-in body"
    metrics.note_checkins(environ, [_checkin_note(body, result)])
    error = _result_error(result)
    return error.status, error_body(error.code, error.message, error.details)


@api_route('GET', 'checkins/receipts/{receipt:hex}',
    "The outcome of a check-in received by the intake", status=201,
    tags=['checkin'],
    description="The member's own receipt: 202 pending until the worker "
    "has recorded it, then the answer POST checkins would have given: 201 "
    "with the check-in, or its error object (409 already_checked_in, "
    "422 ...). Another member's receipt is 404.",
    response=CHECKIN_ANSWER, answers={202: CHECKIN_RECEIPT},
    errors=CHECKIN_ERRORS + [(403, 'forbidden')])
def checkin_receipt(request):
    Intake = request.pool.get('miniprogram.checkin.intake')
    item = Intake.outcome(request.member, request.path['receipt'])
    if item is None:
        raise NotFound(gettext('miniprogram.msg_intake_receipt_not_found'))
    status, body = item.final_answer()
    return json_response(body, status=status,
        headers={'Cache-Control': 'no-store'})


@api_route('GET', 'entry-codes', "What a scanned entry code opens",
    tags=['checkin'],
    description="The scene of a mini-program code printed for an event or "
    "a place (the scene launch option). The code is not a credential: the "
    "mini-program then checks in to one of the events with the event's "
    "methods (method app when the event allows it, else the rotating QR "
    "code or the activity code). A scene not signed by this server is "
    "invalid_token with reason malformed or signature; a withdrawn code "
    "reason revoked; the code of an ended or cancelled event or of an "
    "archived place reason expired; nothing open now event_not_open.",
    query=obj({'scene': string(1, 64, description="the scene, at most 32 "
                "characters")}, required=['scene']),
    response=obj({
            'scene': string(),
            'kind': string(enum=['event', 'place']),
            'place': nullable(obj({'id': integer(), 'name': string()},
                    required=['id', 'name'])),
            'events': array(EVENT),
            }, required=['scene', 'kind', 'place', 'events']),
    errors=[(422, 'invalid_token'), (422, 'event_not_open')])
def entry_code(request):
    EntryCode = request.pool.get('miniprogram.entry_code')
    Event = request.pool.get('checkin.event')
    code, place, events = EntryCode.resolve(request.query['scene'])
    checked = Event.checked_in_ids(request.member, events)
    return {
        'scene': code.scene,
        'kind': 'event' if code.event else 'place',
        'place': {'id': place.id, 'name': place.name} if place else None,
        'events': [event_json(e, checked) for e in events],
        }


@api_route('POST', 'checkins/sync', "Send check-ins queued offline",
    tags=['checkin'], lock_member=True,
    description="Each item gets its own result; resending the same items "
    "creates nothing new (status duplicate).",
    body=obj({'items': array(SYNC_ITEM, max_items=100, min_items=1)},
        required=['items']),
    response=obj({'results': array(obj({
                        'client_uuid': nullable(string()),
                        'status': string(
                            enum=['created', 'duplicate', 'error']),
                        'checkin': CHECKIN,
                        'error': obj({'code': string(), 'message': string(),
                                'details': obj({}, additional=True)}),
                        }, required=['client_uuid', 'status']))},
        required=['results']))
def checkins_sync(request):
    Attendance = request.pool.get('checkin.attendance')
    for i, item in enumerate(request.body['items']):
        try:
            _check_credential(item)
        except ApiError as e:
            e.details['item'] = i
            raise
    results = Attendance.sync(request.member, request.body['items'])
    _note_checkins(request, zip(request.body['items'], results))
    return {'results': [
            _result_entry(r, client_uuid=r.client_uuid) for r in results]}


@api_route('POST', 'checkins/daily', "The daily points sign-in",
    status=201, tags=['checkin'], lock_member=True,
    body=obj({'client_uuid': UUID, 'client_time': DATETIME}),
    response=CHECKIN_ANSWER,
    errors=[(409, 'already_checked_in'), (422, 'event_not_open')])
def checkins_daily(request):
    Attendance = request.pool.get('checkin.attendance')
    result = Attendance.sign_in(request.member,
        client_uuid=request.body.get('client_uuid'),
        client_time=request.body.get('client_time'))
    _note_checkins(request, [({'method': 'daily'}, result)])
    if result.status != 'created':
        raise _result_error(result)
    return checkin_answer_json(request.pool, result)


@api_route('POST', 'checkins/checkout', "Check out", tags=['checkin'],
    lock_member=True,
    description="For the events that record leaving: closes the member's "
    "check-in (of today for daily attendance) with qr_token or event_id. "
    "The position and bssid are kept, not checked: leaving needs no "
    "geofence. A check-out after the end is dated at the end. Sent again "
    "(or after the automatic check-out), 409 already_checked_out with the "
    "check-in in details.",
    body=CHECKOUT_BODY, response=CHECKOUT_ANSWER,
    errors=[(409, 'already_checked_out'), (422, 'not_checked_in'),
        (422, 'method_not_allowed'), (422, 'invalid_token'),
        (422, 'qr_expired'), (422, 'event_not_open'),
        (422, 'invalid_coord_type')])
def checkout(request):
    Attendance = request.pool.get('checkin.attendance')
    if not request.body.get('qr_token') and not request.body.get('event_id'):
        error = invalid('checkout_credential')
        error.details['fields'] = ['qr_token', 'event_id']
        raise error
    kwargs = Attendance.parse_checkout(request.body)
    result = Attendance.check_out(request.member, **kwargs)
    if result.status != 'created':
        api_error = from_user_error(result.error)
        if result.status == 'duplicate':
            api_error.details['checkin'] = result.summary()
        raise api_error
    checkin = result.summary()
    return {'checkin': checkin, 'duration_min': checkin['duration_min']}


@api_route('GET', 'me/checkins', "The member's check-ins, newest first",
    tags=['me', 'checkin'], query=obj(dict(LIST_QUERY)),
    response=page(CHECKIN))
def my_checkins(request):
    Attendance = request.pool.get('checkin.attendance')
    domain = [('member', '=', request.member.id)]
    records = Attendance.search(domain, offset=request.query['offset'],
        limit=request.query['limit'], order=[('time', 'DESC'), ('id', 'DESC')])
    return {'items': [a.summary() for a in records],
        'total': Attendance.search_count(domain)}


def _organized_event(request):
    "The event of the path, if the request's user organizes it"
    Event = request.pool.get('checkin.event')
    return Event.organized(request.path['event_id'])


@api_route('GET', 'organizer/events', "The events the user organizes",
    auth='organizer', tags=['organizer'], query=obj(LIST_QUERY),
    description="For the organizer's pages of the mini-program: the "
    "events the staff user (of a staff token, or linked to the member) "
    "organizes, every event for check-in administrators, the cancelled "
    "ones left out, the latest start first.",
    response=page(ORGANIZED_EVENT))
def organizer_events(request):
    Event = request.pool.get('checkin.event')
    query = request.query
    found = Event.organized_events(
        offset=query['offset'], limit=query['limit'])
    return {'items': [organized_event_json(e) for e in found],
        'total': Event.organized_events(count=True)}


@api_route('GET', 'events/{event_id}/qr', "The current rotating QR code",
    auth='organizer', kiosk=True, tags=['organizer'], query=KIOSK_QUERY,
    description="The QR code shows the link url (`<base>?t=<token>`) when "
    "the check-in configuration has a QR link base, else the bare token.",
    response=obj({'token': string(), 'url': nullable(string()),
            'expires_at': DATETIME,
            'refresh_in': number(), 'png': string(), 'svg': string()},
        required=['token', 'expires_at', 'refresh_in', 'png', 'svg'],
        additional=True),
    errors=[(404, 'not_found')])
def event_qr(request):
    event = _organized_event(request)
    qr = dict(event.qr())
    for key in ['expires_at']:
        if not isinstance(qr.get(key), str):
            qr[key] = isoformat(qr[key], event.tzinfo)
    return qr


@api_route('GET', 'events/{event_id}/stats', "Live statistics of an event",
    auth='organizer', kiosk=True, tags=['organizer'], query=KIOSK_QUERY,
    response=obj({'expected': nullable(integer()), 'checked_in': integer(),
            'rate': nullable(number()), 'late': integer(),
            'flagged': integer(),
            'present_now': nullable(integer(description="checked in and "
                    "not out, for the events that record leaving")),
            'by_bucket': array(obj({
                        'start': DATETIME, 'count': integer()},
                    required=['start', 'count'])),
            'recent': array(obj({
                        'member_id': integer(),
                        'member': string(description="the masked display "
                            "name (Wang **), never a phone or an id"),
                        }, additional=True)),
            'attempts': ATTEMPTS,
            'success_rate': nullable(number()),
            'median_seconds_to_checkin': nullable(integer()),
            'hints': ATTEMPT_HINTS,
            'pending': integer(description="check-ins received by the "
                "intake (the database was saturated) that the worker has "
                "not recorded yet")},
        required=['expected', 'checked_in', 'rate', 'late', 'flagged',
            'by_bucket', 'recent'], additional=True),
    errors=[(404, 'not_found')])
def event_stats(request):
    Intake = request.pool.get('miniprogram.checkin.intake')
    event = _organized_event(request)
    stats = event.stats()
    stats['pending'] = Intake.pending_count(event)
    return stats


@api_route('POST', 'events/{event_id}/batch-checkin',
    "Check several members in at once", auth='organizer',
    tags=['organizer'],
    body=obj({'member_ids': array(id_(), max_items=500, min_items=1)},
        required=['member_ids']),
    response=obj({'results': array(obj({
                        'member_id': integer(),
                        'status': string(
                            enum=['created', 'duplicate', 'error']),
                        'checkin': CHECKIN,
                        'error': obj({}, additional=True),
                        }, required=['member_id', 'status']))},
        required=['results']),
    errors=[(404, 'not_found')])
def event_batch_checkin(request):
    Attendance = request.pool.get('checkin.attendance')
    event = _organized_event(request)
    ids = list(dict.fromkeys(request.body['member_ids']))
    results = Attendance.check_in_batch(event, ids)
    return {'results': [_result_entry(r, member_id=i)
            for i, r in zip(ids, results)]}


def _kiosk_token(request, event):
    "The kiosk token of the request, or a new one for its user"
    if request.kiosk_token:
        return request.kiosk_token, None
    token, expires = kiosk_token(request.staff_user.id, event)
    if not token:
        raise KioskEventOver(gettext(
                'miniprogram.msg_kiosk_event_over', event=event.rec_name),
            details={'end': isoformat(event.end, event.tzinfo)})
    return token, expires


def _page_base(request):
    "The URL of the event's routes, as seen by the browser"
    path = request.http.path
    return request.http.script_root + path[:path.rindex('/') + 1]


@api_route('POST', 'events/{event_id}/kiosk-token',
    "A link for the kiosk screen and the live dashboard",
    auth='organizer', tags=['organizer'], status=201,
    description="The kiosk token shows the QR code and the figures of this "
    "event only (routes qr, stats, kiosk and dashboard, as bearer or as "
    "the token query parameter). It expires an hour after the end of the "
    "event (at most 7 days).",
    response=obj({
            'token': string(),
            'expires_at': DATETIME,
            'kiosk_url': string(format='uri'),
            'dashboard_url': string(format='uri'),
            }, required=['token', 'expires_at', 'kiosk_url',
            'dashboard_url']),
    errors=[(404, 'not_found'), (422, 'event_not_open')])
def event_kiosk_token(request):
    event = _organized_event(request)
    token, expires = _kiosk_token(request, event)
    base = request.http.host_url.rstrip('/') + _page_base(request)
    return {
        'token': token,
        'expires_at': isoformat(dt.datetime.fromtimestamp(
                expires, dt.timezone.utc), event.tzinfo),
        'kiosk_url': base + 'kiosk?token=' + quote(token),
        'dashboard_url': base + 'dashboard?token=' + quote(token),
        }


@api_route('GET', 'events/{event_id}/kiosk',
    "The kiosk page: full-screen rotating QR code and live count",
    auth='organizer', kiosk=True, tags=['organizer'], query=KIOSK_QUERY,
    content_type='text/html',
    description="An HTML page for a screen at the door, opened with the "
    "kiosk_url of kiosk-token (or with an organizer's bearer token). It "
    "shows the current QR code, fetches the next one when its window "
    "starts and the count every 5 seconds.",
    errors=[(404, 'not_found'), (422, 'event_not_open')])
def event_kiosk(request):
    event = _organized_event(request)
    token, _ = _kiosk_token(request, event)
    return kiosk_page(event, token, _page_base(request),
        Transaction().context.get('language'))


@api_route('GET', 'events/{event_id}/dashboard',
    "The live dashboard page of an event",
    auth='organizer', kiosk=True, tags=['organizer'], query=KIOSK_QUERY,
    content_type='text/html',
    description="An HTML page with the figures of the stats route, "
    "refreshed every 5 seconds: count, rate, late, to review, arrivals "
    "per bucket and the latest check-ins.",
    errors=[(404, 'not_found'), (422, 'event_not_open')])
def event_dashboard(request):
    event = _organized_event(request)
    token, _ = _kiosk_token(request, event)
    return dashboard_page(event, token, _page_base(request),
        Transaction().context.get('language'))


# Messages

MESSAGE = obj({
        'id': integer(),
        'channel': string(enum=['wechat', 'sms', 'email']),
        'template': obj({'code': string(), 'name': string()},
            required=['code', 'name']),
        'subject': nullable(string()),
        'body': nullable(string()),
        'state': string(
            enum=['queued', 'sending', 'sent', 'failed', 'cancelled']),
        'created': DATETIME,
        'sent_at': nullable(DATETIME),
        }, required=['id', 'channel', 'template', 'subject', 'body', 'state',
        'created', 'sent_at'])


def message_json(message):
    return {
        'id': message.id,
        'channel': message.channel,
        'template': {
            'code': message.template.code,
            'name': message.template.name,
            },
        'subject': message.subject,
        'body': message.body,
        'state': message.state,
        'created': isoformat(message.create_date),
        'sent_at': isoformat(message.sent_at),
        }


@api_route('GET', 'me/messages', "The messages sent to the member, newest "
    "first", tags=['me'], query=obj(dict(LIST_QUERY)),
    description="WeChat subscription messages and emails of the outbox, "
    "with their state (queued, sending, sent, failed, cancelled).",
    response=page(MESSAGE))
def my_messages(request):
    Message = request.pool.get('outbox.message')
    # Read as the member: the record rule keeps to the member's messages
    domain = [('party', '=', request.member.party.id)]
    messages = Message.search(domain, offset=request.query['offset'],
        limit=request.query['limit'],
        order=[('create_date', 'DESC'), ('id', 'DESC')])
    return {'items': [message_json(m) for m in messages],
        'total': Message.search_count(domain)}


SUBSCRIPTION = obj({
        'template_id': string(description="the WeChat template id"),
        'code': string(),
        'name': string(),
        'credits': integer(),
        }, required=['template_id', 'code', 'name', 'credits'])


def _subscriptions(pool, member):
    Template = pool.get('outbox.template')
    Subscription = pool.get('outbox.subscription')
    templates = Template.search([
            ('wechat_template_id', '!=', None),
            ], order=[('code', 'ASC'), ('id', 'ASC')])
    return [{
            'template_id': t.wechat_template_id,
            'code': t.code,
            'name': t.name,
            'credits': Subscription.credits_of(member.party, t),
            } for t in templates]


@api_route('GET', 'me/subscriptions',
    "The WeChat message templates and the member's credits",
    tags=['me'],
    description="The template ids to pass to wx.requestSubscribeMessage "
    "and how many messages of each the member accepted and has not "
    "received yet (a one-time subscription allows one message).",
    response=obj({'items': array(SUBSCRIPTION)}, required=['items']))
def my_subscriptions(request):
    return {'items': _subscriptions(request.pool, request.member)}


@api_route('POST', 'me/subscriptions',
    "Record the answer of wx.requestSubscribeMessage", tags=['me'],
    description="Body: {\"results\": {template_id: \"accept\" | "
    "\"reject\" | \"ban\" | \"filter\"}} as wx.requestSubscribeMessage "
    "answers it (at most 20). Each accept adds one credit. A template id "
    "of no template is refused (422 unknown_template, the ids in "
    "details.template_ids) and nothing is recorded.",
    body=obj({'results': obj({}, additional=True)}, required=['results']),
    response=obj({'items': array(SUBSCRIPTION)}, required=['items']),
    errors=[(422, 'unknown_template')])
def record_subscriptions(request):
    Subscription = request.pool.get('outbox.subscription')
    Subscription.record_subscription(
        request.member.party, request.body['results'])
    return {'items': _subscriptions(request.pool, request.member)}


# Recovery and verification of the phone

# The WSGI environ key of the phone WeChat verified for the code of
# auth/wechat-phone
WECHAT_PHONE = 'miniprogram.wechat_phone'
SMS_ERRORS = [(400, 'invalid_request'), (422, 'invalid_code'),
    (429, 'rate_limited')]


@api_route('POST', 'auth/sms-code', "Send a verification code by SMS",
    auth=None, status=202, tags=['auth'],
    description="A 6-digit code, valid 5 minutes and once, for purpose "
    "reset (auth/reset-password) or login (auth/sms-login). The answer is "
    "the same whether the phone is a member's or not; only a member's "
    "phone receives a code. Asking for a new code ends the previous one. "
    "Limited per phone (one code a minute, 5 an hour) and per IP network: "
    "429 rate_limited with Retry-After.",
    body=obj({'phone': PHONE, 'purpose': SMS_PURPOSE},
        required=['phone', 'purpose']),
    response=SMS_SENT,
    errors=[(400, 'invalid_request'), (429, 'rate_limited')])
def sms_code(request):
    Member = request.pool.get('member.member')
    Member.mp_sms_code(request.body['phone'], request.body['purpose'])
    return {'expires_in': code_ttl(), 'resend_in': resend_interval()}


@api_route('POST', 'auth/reset-password',
    "Set a new password with a code received by SMS",
    auth=None, tags=['auth'],
    description="With a code of auth/sms-code for reset. Every refresh "
    "token of the member is revoked (the other devices must log in "
    "again) and new tokens are answered. 422 invalid_code with "
    "details.reason wrong, expired, used or too_many_attempts (3 wrong "
    "codes end a code); a password refused by the rules (400) uses no "
    "code.",
    body=obj({'phone': PHONE, 'code': SMS_CODE, 'password': PASSWORD},
        required=['phone', 'code', 'password']),
    response=TOKENS_MEMBER, errors=SMS_ERRORS)
def reset_password(request):
    Member = request.pool.get('member.member')
    body = request.body
    member = Member.mp_reset_password(
        body['phone'], body['code'], body['password'])
    return _tokens_member(request.pool, member)


@api_route('POST', 'auth/sms-login', "Log in with a code received by SMS",
    auth=None, tags=['auth'],
    description="With a code of auth/sms-code for login. 422 "
    "invalid_code as auth/reset-password.",
    body=obj({'phone': PHONE, 'code': SMS_CODE},
        required=['phone', 'code']),
    response=TOKENS_MEMBER, errors=SMS_ERRORS)
def sms_login(request):
    Member = request.pool.get('member.member')
    member = Member.mp_sms_login(request.body['phone'], request.body['code'])
    return _tokens_member(request.pool, member)


@api_route('POST', 'auth/wechat-phone',
    "Bind the phone verified by WeChat to the member",
    tags=['auth', 'me'],
    description="With the code of a getPhoneNumber button: the server asks "
    "WeChat for the phone (getuserphonenumber) and gives it to the "
    "member. When another account holds that phone the answer is 409 "
    "phone_taken and nothing changes (accounts are never merged). 422 "
    "invalid_code when WeChat refuses the code (wrong, used, expired) or "
    "gives no mobile number; 502 wechat_unavailable when WeChat cannot "
    "answer.",
    body=obj({'code': string(1, 128)}, required=['code']),
    response=obj({'member': MEMBER}, required=['member']),
    errors=[(409, 'phone_taken'), (422, 'invalid_code'),
        (502, 'wechat_unavailable')])
def wechat_phone(request):
    Member = request.pool.get('member.member')
    # A code is valid once: a restarted transaction reuses the phone
    environ = request.http.environ
    phone = environ.get(WECHAT_PHONE)
    if phone is None:
        phone = environ[WECHAT_PHONE] = Member.mp_wechat_phone_number(
            request.body['code'])
    request.member.mp_bind_phone(phone)
    return {'member': member_json(Member(request.member.id))}
