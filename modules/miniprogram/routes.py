# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The routes of the mini-program API (API.md).  HTTP concerns only: the
rules are model methods shared with the Tryton client and proteus."""
from trytond.pool import Pool

from . import openapi
from .api import (
    DATE, DATETIME, LIST_QUERY, MONEY, api_route, array, integer,
    isoformat, nullable, obj, parse_datetime, string)

# Schemas of the answers

TIER = nullable(obj({
            'code': string(),
            'name': string(),
            'discount': MONEY,
            }, required=['code', 'name', 'discount']))
MEMBER = obj({
        'id': integer(),
        'name': string(),
        'phone': nullable(string(description="masked, e.g. 138****0000")),
        'tier': TIER,
        'points_balance': integer(),
        'streak_days': integer(),
        'best_streak': integer(),
        'joined': DATE,
        'avatar_url': nullable(string()),
        'address': nullable(string()),
        }, required=['id', 'name', 'phone', 'tier', 'points_balance',
        'streak_days', 'best_streak', 'joined'])
TOKENS = {
    'access_token': string(),
    'refresh_token': string(),
    'token_type': string(enum=['Bearer']),
    'expires_in': integer(description="seconds"),
    }
TOKENS_MEMBER = obj(dict(TOKENS, member=MEMBER),
    required=list(TOKENS) + ['member'])
TOKENS_ONLY = obj(TOKENS, required=list(TOKENS))
ORIGIN = nullable(obj({'type': string(), 'id': integer()}))
POINTS_LINE = obj({
        'id': integer(),
        'date': DATETIME,
        'points': integer(),
        'reason': string(),
        'origin': ORIGIN,
        'balance_after': integer(),
        }, required=['id', 'date', 'points', 'reason', 'origin',
        'balance_after'])


def page(items_schema):
    return obj({'items': array(items_schema), 'total': integer()},
        required=['items', 'total'])


# Serializers

def member_json(member):
    tier = member.tier
    return {
        'id': member.id,
        'name': member.name,
        'phone': member.phone_masked,
        'tier': {
            'code': tier.code,
            'name': tier.name,
            'discount': '%.2f' % tier.discount,
            } if tier else None,
        'points_balance': member.points_balance,
        'streak_days': member.streak_days,
        'best_streak': member.best_streak or 0,
        'joined': member.join_date.isoformat(),
        'avatar_url': member.avatar_url,
        'address': member.address,
        }


def origin_json(origin):
    if origin is None or getattr(origin, 'id', -1) is None \
            or getattr(origin, 'id', -1) < 0:
        return None
    return {'type': origin.__name__, 'id': origin.id}


def points_line_json(line):
    return {
        'id': line.id,
        'date': isoformat(line.date),
        'points': line.points,
        'reason': line.reason,
        'origin': origin_json(line.origin),
        'balance_after': line.balance_after,
        }


def _tokens_member(pool, member):
    RefreshToken = pool.get('miniprogram.refresh_token')
    Member = pool.get('member.member')
    result = RefreshToken.issue(member)
    result['member'] = member_json(Member(member.id))
    return result


PHONE = string(1, 32, description="mainland mobile number or +E.164")
PASSWORD = string(1, 128, description="at least 8 characters, not common")


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
    member = Member.mp_wechat_login(request.body['code'])
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


# Booking

SERVICE = obj({
        'id': integer(),
        'name': string(),
        'description': string(),
        'duration_min': integer(),
        'price': nullable(MONEY),
        'member_price': nullable(MONEY),
        'discount_percent': MONEY,
        'currency': string(),
        'capacity': integer(),
        'lead_time_min': integer(),
        'horizon_days': integer(),
        'cancel_hours': integer(),
        'timezone': string(),
        }, required=['id', 'name', 'description', 'duration_min', 'price',
        'member_price', 'currency'])
SLOT = obj({
        'start': DATETIME,
        'end': DATETIME,
        'resource': obj({'id': integer(), 'name': string()},
            required=['id', 'name']),
        'capacity_left': integer(),
        }, required=['start', 'end', 'resource', 'capacity_left'])
BOOKING = obj({
        'id': integer(),
        'state': string(enum=['draft', 'pending', 'confirmed', 'in_progress',
                'done', 'cancelled', 'no_show']),
        'service': obj({'id': integer(), 'name': string()},
            required=['id', 'name']),
        'resource': nullable(obj({'id': integer(), 'name': string()},
                required=['id', 'name'])),
        'start': DATETIME,
        'end': DATETIME,
        'address': nullable(string()),
        'note': nullable(string()),
        'price': nullable(MONEY),
        'discount': nullable(MONEY),
        'discount_percent': nullable(MONEY),
        'final_price': nullable(MONEY),
        'currency': string(),
        'points_earned': integer(),
        }, required=['id', 'state', 'service', 'start', 'end', 'price',
        'discount', 'final_price', 'currency'])


def money(value):
    return None if value is None else '%.2f' % value


def service_json(values):
    return {
        'id': values['id'],
        'name': values['name'],
        'description': values['description'],
        'duration_min': values['duration_min'],
        'price': money(values['price']),
        'member_price': money(values['member_price']),
        'discount_percent': money(values['discount']),
        'currency': values['currency'],
        'capacity': values['capacity'],
        'lead_time_min': values['lead_time_min'],
        'horizon_days': values['horizon_days'],
        'cancel_hours': values['cancel_hours'],
        'timezone': values['timezone'],
        }


def booking_json(booking):
    price, final = booking.price, booking.final_price
    return {
        'id': booking.id,
        'state': booking.state,
        'service': {'id': booking.service.id, 'name': booking.service.name},
        'resource': {
            'id': booking.resource.id, 'name': booking.resource.rec_name,
            } if booking.resource else None,
        'start': isoformat(booking.start),
        'end': isoformat(booking.end),
        'address': booking.address,
        'note': booking.note,
        'price': money(price),
        'discount': money(price - final)
        if price is not None and final is not None else None,
        'discount_percent': money(booking.discount),
        'final_price': money(final),
        'currency': booking.currency.code,
        'points_earned': booking.points_earned or 0,
        }


@api_route('GET', 'services', "The bookable services with the member price",
    tags=['booking'], query=obj(dict(LIST_QUERY)), response=page(SERVICE))
def services(request):
    Service = request.pool.get('booking.service')
    values = Service.list_services(member=request.member)
    offset, limit = request.query['offset'], request.query['limit']
    return {
        'items': [service_json(v) for v in values[offset:offset + limit]],
        'total': len(values),
        }


@api_route('GET', 'services/{service_id}/slots',
    "The free slots of a service on a local date", tags=['booking'],
    description="Slots the member's tier may not book yet are absent.",
    query=obj({'date': DATE, 'resource_id': integer(1)},
        required=['date']),
    response=obj({'slots': array(SLOT)}, required=['slots']),
    errors=[(404, 'not_found')])
def service_slots(request):
    Service = request.pool.get('booking.service')
    slots = Service.free_slots(
        request.path['service_id'], request.query['date'],
        member=request.member,
        resource=request.query.get('resource_id'))
    return {'slots': [{
                'start': s['local_start'],
                'end': s['local_end'],
                'resource': {'id': s['resource'],
                    'name': s['resource_name']},
                'capacity_left': s['capacity_left'],
                } for s in slots]}


@api_route('POST', 'bookings', "Book a slot", status=201, tags=['booking'],
    body=obj({
            'service_id': integer(1),
            'start': DATETIME,
            'resource_id': nullable(integer(1)),
            'address': nullable(string(0, 500)),
            'note': nullable(string(0, 2000)),
            }, required=['service_id', 'start']),
    response=obj({'booking': BOOKING}, required=['booking']),
    errors=[(409, 'slot_full'), (409, 'booking_overlap'),
        (422, 'slot_unavailable'), (404, 'not_found')])
def create_booking(request):
    Booking = request.pool.get('booking.booking')
    body = request.body
    booking = Booking.create_booking(
        request.member, body['service_id'], parse_datetime(body['start']),
        resource=body.get('resource_id'), address=body.get('address'),
        note=body.get('note'))
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
