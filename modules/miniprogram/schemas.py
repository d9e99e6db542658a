# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The JSON shapes of the mini-program API: OpenAPI 3.0 schema objects,
published as is by openapi.json and compiled by validation.py to check the
requests (and, in the tests, the answers)."""

from trytond.modules.service_booking.rating import TAGS as RATING_TAGS

# The ids of the database: INTEGER columns on PostgreSQL (SQLite's hold
# 64 bits); a larger id in a path is unknown (404), in a body or a query
# invalid (400), never an overflow of the database driver
MAX_ID = 2 ** 31 - 1


def _schema(kind, bounds, **kw):
    "The schema of type kind with the bounds {keyword: value} that are set"
    s = {'type': kind}
    s.update((k, v) for k, v in bounds.items() if v is not None)
    s.update(kw)
    return s


def string(min_length=None, max_length=None, **kw):
    return _schema('string',
        {'minLength': min_length, 'maxLength': max_length}, **kw)


def integer(minimum=None, maximum=None, **kw):
    return _schema('integer', {'minimum': minimum, 'maximum': maximum}, **kw)


def number(minimum=None, maximum=None, **kw):
    return _schema('number', {'minimum': minimum, 'maximum': maximum}, **kw)


def id_(**kw):
    "The schema of a record id"
    return integer(1, MAX_ID, **kw)


def boolean(**kw):
    return dict(type='boolean', **kw)


def array(items, max_items=None, min_items=None, **kw):
    return _schema('array',
        {'items': items, 'maxItems': max_items, 'minItems': min_items}, **kw)


def obj(properties, required=(), additional=False, **kw):
    s = {'type': 'object', 'properties': properties,
        'additionalProperties': additional}
    if required:
        s['required'] = list(required)
    s.update(kw)
    return s


def nullable(schema):
    return dict(schema, nullable=True)


DATETIME = string(format='date-time', max_length=40)
DATE = string(format='date', max_length=10)
UUID = string(format='uuid', max_length=36)
MONEY = string(pattern=r'^-?\d+\.\d+$', description="decimal string")

LIST_QUERY = {
    'limit': integer(1, 100, default=20),
    'offset': integer(0, 1000000, default=0),
    }

# The answers and the bodies shared by several routes

ERROR = obj({
        'error': obj({
                'code': string(),
                'message': string(),
                'details': obj({}, additional=True),
                }, required=['code', 'message', 'details']),
        }, required=['error'])
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
        'expiring': nullable(obj({
                    'points': integer(),
                    'date': DATE,
                    }, required=['points', 'date'],
                description="points expiring within the notice days")),
        }, required=['id', 'name', 'phone', 'tier', 'points_balance',
        'streak_days', 'best_streak', 'joined', 'expiring'])
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
        'reason': string(description="in the language of Accept-Language"),
        'origin': ORIGIN,
        'balance_after': integer(),
        'expires': nullable(DATE),
        'remaining': nullable(integer()),
        }, required=['id', 'date', 'points', 'reason', 'origin',
        'balance_after', 'expires', 'remaining'])


def page(items_schema):
    return obj({'items': array(items_schema), 'total': integer()},
        required=['items', 'total'])


PHONE = string(1, 32, description="mainland mobile number or +E.164")
PASSWORD = string(1, 128, description="at least 8 characters, not common")
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
        'average': nullable(number(1, 5, description="the average stars "
                "of the service's ratings, null without rating")),
        'count': integer(0, description="the number of ratings"),
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
        'points_used': integer(description="points paying part of the "
            "price, taken when the booking is confirmed"),
        'points_value': nullable(MONEY),
        'coupon': nullable(string(description="the code of the coupon "
                "paying part of the price")),
        'coupon_amount': nullable(MONEY),
        'amount_due': nullable(MONEY),
        'rating': nullable(obj({
                    'id': integer(), 'stars': integer(1, 5),
                    'tags': array(string()), 'comment': nullable(string()),
                    'hidden': boolean(),
                    'editable': boolean(), 'edit_deadline': DATETIME,
                    }, required=['id', 'stars', 'tags', 'comment', 'hidden',
                    'editable', 'edit_deadline'],
                description="the member's rating of the booking (null: "
                "not rated)")),
        'price_breakdown': nullable(obj({
                    'list': MONEY,
                    'discount': MONEY,
                    'coupon_amount': MONEY,
                    'points': integer(),
                    'points_amount': MONEY,
                    'due': MONEY,
                    'currency': string(),
                    }, required=['list', 'discount', 'coupon_amount',
                    'points', 'points_amount', 'due', 'currency'],
                description="list price, less the tier discount, the "
                "coupon and the points: the amount due")),
        'position': nullable(obj({
                    'lat': number(), 'lon': number(),
                    'coord_type': string(enum=['wgs84', 'gcj02']),
                    }, required=['lat', 'lon', 'coord_type'],
                description="the position of the address")),
        'checked_in_at': nullable(DATETIME),
        'checked_out_at': nullable(DATETIME),
        'duration_min': nullable(integer(description="the real duration, "
                "from the technician's door check-in to the check-out")),
        }, required=['id', 'state', 'service', 'start', 'end', 'price',
        'discount', 'final_price', 'currency'])
WAITLIST_ENTRY = obj({
        'id': integer(),
        'state': string(enum=['waiting', 'offered', 'booked', 'lapsed',
                'cancelled']),
        'service': obj({'id': integer(), 'name': string()},
            required=['id', 'name']),
        'start': DATETIME,
        'end': DATETIME,
        'resource': nullable(obj({'id': integer(), 'name': string()},
                required=['id', 'name'], description="the resource asked "
                "for (null: any)")),
        'position': nullable(integer(description="the rank among the "
                "members still waiting (null once offered)")),
        'offer': nullable(obj({
                    'resource': obj({'id': integer(), 'name': string()},
                        required=['id', 'name']),
                    'expires': DATETIME,
                    }, required=['resource', 'expires'],
                description="the place held for the member until expires: "
                "POST waitlist/{id}/accept books it")),
        'booking_id': nullable(integer()),
        }, required=['id', 'state', 'service', 'start', 'end', 'position',
        'offer'])
REWARD = obj({
        'id': integer(),
        'name': string(),
        'description': string(),
        'kind': string(enum=['product', 'discount', 'service']),
        'points_cost': integer(),
        'stock_left': nullable(integer(description="null: no limit")),
        'valid_from': nullable(DATE),
        'valid_until': nullable(DATE),
        'coupon_days': integer(),
        'amount': nullable(MONEY),
        'currency': string(),
        'service': nullable(obj({'id': integer(), 'name': string()},
                required=['id', 'name'])),
        }, required=['id', 'name', 'kind', 'points_cost', 'stock_left',
        'valid_until'])
COUPON = obj({
        'id': integer(),
        'code': string(),
        'reward': obj({
                'id': integer(), 'name': string(),
                'kind': string(enum=['product', 'discount', 'service']),
                }, required=['id', 'name', 'kind']),
        'state': string(enum=['active', 'used', 'voided', 'expired']),
        'points': integer(),
        'redeemed_at': DATETIME,
        'valid_until': DATE,
        'used_at': nullable(DATETIME),
        'booking_id': nullable(integer()),
        }, required=['code', 'reward', 'state', 'valid_until'])
EVENT = obj({
        'id': integer(),
        'name': string(),
        'kind': string(enum=['meeting', 'daily', 'points']),
        'start': DATETIME,
        'end': DATETIME,
        'location': nullable(obj({
                    'lat': number(), 'lon': number(),
                    'coord_type': string(enum=['wgs84', 'gcj02'],
                        description="the system of lat and lon"),
                    'radius_m': integer(),
                    }, required=['lat', 'lon', 'coord_type', 'radius_m'])),
        'methods': array(string()),
        'checked_in': boolean(),
        'record_leaving': boolean(
            description="members check out with checkins/checkout"),
        }, required=['id', 'name', 'kind', 'start', 'end', 'location',
        'methods', 'checked_in'])
ORGANIZED_EVENT = obj({
        'id': integer(),
        'name': string(),
        'kind': string(enum=['meeting', 'daily', 'points']),
        'state': string(enum=['draft', 'open', 'closed']),
        'start': DATETIME,
        'end': DATETIME,
        'is_open': boolean(description="open for check-in now"),
        'attendance_count': integer(
            description="counted check-ins (valid, late or flagged)"),
        'expected': nullable(integer(description="the roster's size")),
        }, required=['id', 'name', 'kind', 'state', 'start', 'end', 'is_open',
        'attendance_count', 'expected'])
CHECKIN = obj({
        'id': integer(),
        'event_id': integer(),
        'event_name': string(),
        'time': DATETIME,
        'status': string(enum=['valid', 'late', 'flagged', 'rejected']),
        'method': string(),
        'distance_m': nullable(integer()),
        'points_awarded': integer(),
        'late': boolean(),
        'reasons': array(string()),
        'client_uuid': nullable(string()),
        'offline': boolean(),
        'record_leaving': boolean(
            description="the event records leaving: the member checks out"),
        'checkout_time': nullable(DATETIME),
        'checkout_source': nullable(string(
                enum=['member', 'staff', 'auto'],
                description="member: in the mini-program, staff: by an "
                "organizer, auto: closed at the end by the scheduler")),
        'duration_min': nullable(integer(
                description="minutes from the check-in to the check-out")),
        }, required=['id', 'event_id', 'time', 'status', 'method',
        'distance_m', 'points_awarded'], additional=True)
CHECKIN_MEMBER = obj({'points_balance': integer(), 'streak_days': integer()},
    required=['points_balance', 'streak_days'], additional=True)
CHECKIN_ANSWER = obj({'checkin': CHECKIN, 'member': CHECKIN_MEMBER},
    required=['checkin', 'member'])
# A check-in received by the intake (the database is saturated), recorded
# later by the worker: GET checkins/receipts/<receipt> answers its outcome
CHECKIN_RECEIPT = obj({
        'status': string(enum=['pending']),
        'receipt': string(32, 32, pattern='^[0-9a-f]{32}$',
            description="read the outcome at checkins/receipts/<receipt>"),
        }, required=['status', 'receipt'])
# The coordinate system of a position sent by the mini-program (check-ins,
# the door check-in and the address of a booking)
COORD_TYPE = string(1, 16, description="the coordinate system of the "
    "position: wgs84 (wx.getLocation, the default) or gcj02 (the map "
    "picker wx.chooseLocation, wx.getLocation with type gcj02); another, "
    "or gcj02 out of China, is refused with invalid_coord_type")
CHECKIN_FIELDS = {
    'qr_token': string(1, 512),
    'code': string(1, 32),
    'event_id': id_(),
    'nfc_tag': string(1, 128),
    'lat': number(-90, 90),
    'lon': number(-180, 180),
    'accuracy_m': number(0, 100000),
    'coord_type': COORD_TYPE,
    'bssid': string(1, 64),
    'client_uuid': UUID,
    'client_time': DATETIME,
    'device_id': string(1, 64, description="an addition: the identifier "
        "of the installation of the mini-program (kept in its storage), "
        "to report check-ins of one member from two devices"),
    }
CHECKIN_BODY = obj(CHECKIN_FIELDS)
# A check-out: the QR code of the event or its id; the position is kept,
# not checked
CHECKOUT_BODY = obj({k: CHECKIN_FIELDS[k] for k in [
            'qr_token', 'event_id', 'lat', 'lon', 'accuracy_m', 'coord_type',
            'bssid', 'client_uuid']})
CHECKOUT_ANSWER = obj({'checkin': CHECKIN, 'duration_min': integer()},
    required=['checkin', 'duration_min'])
SYNC_ITEM = obj(CHECKIN_FIELDS, required=['client_uuid', 'client_time'])
# The attempt analytics of an event (events/<id>/stats, an addition)
ATTEMPTS = obj({
        'total': integer(description="every attempt: check-ins recorded "
            "and refused attempts"),
        'checked_in': integer(),
        'refused': integer(description="refused attempts and rejected "
            "check-ins"),
        'flagged': integer(),
        'rejected': integer(),
        'conflicts': integer(),
        'success_rate': nullable(number()),
        'median_minutes': nullable(integer(description="from the opening "
                "of the event to the counted check-ins; null for daily "
                "kinds")),
        'anomaly_rate': nullable(number(description="(flagged + rejected "
                "+ conflicts) / total")),
        'median_seconds_to_checkin': nullable(integer(
                description="median_minutes in seconds")),
        'refused_by_reason': obj({}, additional=True,
            description="refusals by error code or reason"),
        'hints': array(obj({
                    'reason': string(), 'share': number(),
                    'message': string()},
                required=['reason', 'share', 'message'])),
        }, required=['total', 'checked_in', 'refused', 'success_rate',
        'median_minutes', 'median_seconds_to_checkin', 'anomaly_rate',
        'refused_by_reason', 'hints'])
# The hints of the attempts, also at the top of the statistics (API.md 1.1)
ATTEMPT_HINTS = ATTEMPTS['properties']['hints']
KIOSK_QUERY = obj({'token': string(1, 4096,
            description="the kiosk token, for browsers that cannot send "
            "an Authorization header")})
# Verification of the phone (SMS codes, WeChat's getPhoneNumber)
SMS_CODE = string(6, 6, pattern=r'^[0-9]{6}$',
    description="the 6 digits received by SMS")
SMS_PURPOSE = string(enum=['reset', 'login'])
SMS_SENT = obj({
        'expires_in': integer(description="seconds the code is valid"),
        'resend_in': integer(
            description="seconds before another code may be asked"),
        }, required=['expires_in', 'resend_in'])

# Ratings of bookings (issue 20)
RATING_TAG = string(enum=[code for code, _ in RATING_TAGS])
RATING_BODY = {
    'stars': integer(1, 5),
    'comment': nullable(string(0, 2000)),
    'tags': array(RATING_TAG, max_items=len(RATING_TAGS)),
    }
RATING = obj({
        'id': integer(),
        'member': string(description="the masked display name of the member"),
        'stars': integer(1, 5),
        'comment': nullable(string(description="null when hidden by the "
                "staff")),
        'tags': array(RATING_TAG),
        'resource': nullable(obj({'id': integer(), 'name': string()},
                required=['id', 'name'])),
        'date': DATETIME,
        }, required=['id', 'member', 'stars', 'comment', 'tags', 'date'])
MY_RATING = obj(dict(RATING['properties'], **{
            'comment': nullable(string(description="the member's own "
                    "comment, also when hidden")),
            'booking_id': integer(),
            'service': obj({'id': integer(), 'name': string()},
                required=['id', 'name']),
            'hidden': boolean(description="the comment is hidden from "
                "the others by the staff"),
            'edit_deadline': DATETIME,
            'editable': boolean(),
            }), required=RATING['required'] + [
        'booking_id', 'service', 'hidden', 'edit_deadline', 'editable'])
# The technician at the customer's door (staff/bookings)
STAFF_BOOKING = obj(dict(BOOKING['properties'], **{
            'customer': obj({'display_name': string(description="masked, "
                        "never a phone")}, required=['display_name']),
            'door': obj({
                    'flagged': boolean(description="accepted out of the "
                        "radius or without a position of the address: for "
                        "review"),
                    'flag_reason': nullable(string(
                            enum=['out_of_range', 'no_position'])),
                    'distance_m': nullable(integer()),
                    'radius_m': integer(),
                    'accuracy_m': nullable(integer()),
                    }, required=['flagged', 'flag_reason', 'distance_m',
                    'radius_m']),
            }), required=BOOKING['required'] + ['customer', 'door', 'address'])
DOOR_CHECKIN_BODY = obj({
        'lat': number(-90, 90),
        'lon': number(-180, 180),
        'accuracy_m': number(0, 100000),
        'coord_type': COORD_TYPE,
        }, required=['lat', 'lon'])
