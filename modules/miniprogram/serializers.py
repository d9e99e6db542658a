# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The serializers of the mini-program API: records to the JSON shapes of
schemas.py.  Every time of an answer goes through isoformat."""
import datetime as dt

from trytond.modules.suite import tools
from trytond.pool import Pool


def isoformat(value, tzinfo=None):
    """Return a time of an answer as ISO 8601 with the offset of the time
    zone of what it belongs to: tzinfo, the event's or the service's time
    zone; without one (points, messages, tokens), the time zone of the
    members' local day (member configuration, by default the company's).
    Every serializer of the API goes through here."""
    if isinstance(value, dt.datetime) and tzinfo is None:
        tzinfo = default_tzinfo()
    return tools.isoformat(value, tzinfo)


def default_tzinfo():
    "The time zone of the times that belong to no event or service"
    try:
        Configuration = Pool().get('member.configuration')
    except KeyError:  # not activated
        return dt.timezone.utc
    return Configuration.get_cached().tzinfo


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
        'expiring': {
            'points': member.points_expiring,
            'date': member.points_expiring_date.isoformat(),
            } if member.points_expiring else None,
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
        'expires': line.expires.isoformat() if line.expires else None,
        'remaining': line.remaining,
        }


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
        'average': (float(values['rating_average'])
            if values.get('rating_average') is not None else None),
        'count': values.get('rating_count', 0),
        }


def slot_json(slot):
    "A free slot of Service.free_slots"
    return {
        'start': slot['local_start'],
        'end': slot['local_end'],
        'resource': {'id': slot['resource'], 'name': slot['resource_name']},
        'capacity_left': slot['capacity_left'],
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
        'start': isoformat(booking.start, booking.service.tzinfo),
        'end': isoformat(booking.end, booking.service.tzinfo),
        'address': booking.address,
        'note': booking.note,
        'price': money(price),
        'discount': money(price - final)
        if price is not None and final is not None else None,
        'discount_percent': money(booking.discount),
        'final_price': money(final),
        'currency': booking.currency.code,
        'points_earned': booking.points_earned or 0,
        'points_used': booking.points_used or 0,
        'points_value': money(booking.points_amount),
        'coupon': booking.coupon.code if booking.coupon else None,
        'coupon_amount': money(booking.coupon_amount),
        'amount_due': money(booking.amount_due),
        'price_breakdown': price_breakdown_json(booking),
        'position': {
            'lat': booking.latitude, 'lon': booking.longitude,
            'coord_type': booking.coord_type,
            } if booking.position else None,
        'checked_in_at': isoformat(
            booking.door_checkin, booking.service.tzinfo),
        'checked_out_at': isoformat(
            booking.door_checkout, booking.service.tzinfo),
        'duration_min': booking.duration_min,
        'rating': booking_rating_json(booking.rating),
        }


def booking_rating_json(rating):
    """The rating of a booking for its member: the stars, tags and comment
    (the member's own, also when hidden), whether still editable"""
    if not rating:
        return None
    values = rating_json(rating.member_values())
    return {k: values[k] for k in [
            'id', 'stars', 'tags', 'comment', 'hidden', 'editable',
            'edit_deadline']}


def waitlist_entry_json(entry):
    tzinfo = entry.service.tzinfo
    return {
        'id': entry.id,
        'state': entry.state,
        'service': {'id': entry.service.id, 'name': entry.service.name},
        'start': isoformat(entry.start, tzinfo),
        'end': isoformat(entry.end, tzinfo),
        'resource': {
            'id': entry.resource.id, 'name': entry.resource.rec_name,
            } if entry.resource else None,
        'position': entry.position,
        'offer': {
            'resource': {
                'id': entry.offer_resource.id,
                'name': entry.offer_resource.rec_name,
                },
            'expires': isoformat(entry.offer_expires, tzinfo),
            } if entry.state == 'offered' else None,
        'booking_id': entry.booking.id if entry.booking else None,
        }


def price_breakdown_json(booking):
    "The price of booking from the list price to the amount due"
    price, final, due = booking.price, booking.final_price, booking.amount_due
    if price is None or final is None or due is None:
        return None
    return {
        'list': money(price),
        'discount': money(price - final),
        'coupon_amount': money(booking.coupon_amount or 0),
        'points': booking.points_used or 0,
        'points_amount': money(booking.points_amount or 0),
        'due': money(due),
        'currency': booking.currency.code,
        }


def reward_json(reward):
    service = getattr(reward, 'service', None)
    return {
        'id': reward.id,
        'name': reward.name,
        'description': reward.description or '',
        'kind': reward.kind,
        'points_cost': reward.points_cost,
        'stock_left': reward.stock,
        'valid_from': (reward.valid_from.isoformat()
            if reward.valid_from else None),
        'valid_until': (reward.valid_until.isoformat()
            if reward.valid_until else None),
        'coupon_days': reward.coupon_days,
        'amount': money(reward.amount) if reward.kind == 'discount' else None,
        'currency': reward.currency.code if reward.currency else '',
        'service': ({'id': service.id, 'name': service.name}
            if service and reward.kind == 'service' else None),
        }


def coupon_json(redemption):
    "A redemption of the member: its coupon"
    used_by = redemption.used_by
    booking_id = None
    if used_by is not None and getattr(used_by, '__name__', None) == (
            'booking.booking') and (used_by.id or -1) >= 0:
        booking_id = used_by.id
    reward = redemption.reward
    return {
        'id': redemption.id,
        'code': redemption.code,
        'reward': {'id': reward.id, 'name': reward.name, 'kind': reward.kind},
        'state': redemption.status,
        'points': redemption.points,
        'redeemed_at': isoformat(redemption.date),
        'valid_until': redemption.valid_until.isoformat(),
        'used_at': (isoformat(redemption.used_date)
            if redemption.used_date else None),
        'booking_id': booking_id,
        }


def event_json(event, checked_in):
    location = None
    if event.latitude is not None and event.longitude is not None:
        location = {
            'lat': event.latitude, 'lon': event.longitude,
            'coord_type': event.coord_type,
            'radius_m': event.radius,
            }
    return {
        'id': event.id,
        'name': event.name,
        'kind': event.kind,
        'start': isoformat(event.start, event.tzinfo),
        'end': isoformat(event.end, event.tzinfo),
        'location': location,
        'methods': list(event.methods or []),
        'checked_in': event.id in checked_in,
        'record_leaving': bool(event.record_leaving),
        }


def organized_event_json(event):
    "An event as its organizer sees it in the list of organizer/events"
    return {
        'id': event.id,
        'name': event.name,
        'kind': event.kind,
        'state': event.state,
        'start': isoformat(event.start, event.tzinfo),
        'end': isoformat(event.end, event.tzinfo),
        'is_open': event.is_open_now(),
        'attendance_count': event.checked_in,
        'expected': event.expected,
        }


def checkin_answer_json(pool, result):
    "The answer of a check-in: the check-in and the member's figures"
    Member = pool.get('member.member')
    checkin = result.summary()
    # The member of the check-in is the member of the request (checked by
    # Attendance.check_in)
    if result.member_state is not None:
        balance, streak = result.member_state
    else:
        balance, streak = Member.balance_and_streak(checkin['member_id'])
    return {
        'checkin': checkin,
        'member': {
            'points_balance': balance,
            'streak_days': streak,
            },
        }


def rating_json(values):
    """A rating of Rating.published_values or member_values (their times
    are in the time zone of the service)"""
    result = dict(values)
    for name in ['date', 'edit_deadline']:
        if name in values:
            result[name] = isoformat(values[name], values[name].tzinfo)
    return result


def staff_booking_json(booking):
    """A booking for its technician: the customer by the masked display
    name only, the address and the door check-in"""
    values = booking.staff_values()
    result = booking_json(booking)
    # The member's coupon code and rating are not the technician's business
    result.pop('coupon')
    result.pop('rating')
    result['customer'] = {'display_name': values.pop('customer')}
    result['door'] = values
    return result
