# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""No-shows: marked by staff or by the scheduler after the start grace,
counted per member and per resource, with the penalty of the service"""
import datetime as dt

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import fields
from trytond.modules.suite import clock
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .exceptions import BookingSuspendedError


def _count_no_shows(records, column):
    "Return {record id: number of no-show bookings whose column is it}"
    pool = Pool()
    Booking = pool.get('booking.booking')
    booking = Booking.__table__()
    cursor = Transaction().connection.cursor()
    in_ = fields.SQL_OPERATORS['in']
    ids = [r.id for r in records]
    counts = dict.fromkeys(ids, 0)
    column = getattr(booking, column)
    cursor.execute(*booking.select(
            column, Count(booking.id),
            where=in_(column, ids) & (booking.state == 'no_show'),
            group_by=[column]))
    counts.update(cursor)
    return counts


class Service(metaclass=PoolMeta):
    __name__ = 'booking.service'

    no_show_points = fields.Integer(
        "No-Show Points", required=True,
        domain=[('no_show_points', '>=', 0)],
        help="The points taken from the member at a no-show (at most the "
        "member's balance unless the points configuration allows a "
        "negative balance).")
    no_show_ban_days = fields.Integer(
        "No-Show Ban", required=True,
        domain=[('no_show_ban_days', '>=', 0)],
        help="For how many days a no-show suspends the member's bookings "
        "(of every service).\n0 for none.")

    @classmethod
    def default_no_show_points(cls):
        return 0

    @classmethod
    def default_no_show_ban_days(cls):
        return 0

    def check_slot(self, start, member=None, resource=None):
        """Refuse a member whose bookings are suspended by a no-show with
        BookingSuspendedError, then check the slot"""
        if member is not None:
            until = member.booking_suspended_until
            if until and until > clock.now():
                local = clock.to_local(until, self.tzinfo)
                raise BookingSuspendedError(gettext(
                        'service_booking.msg_booking_suspended',
                        member=member.rec_name,
                        until=local.strftime('%Y-%m-%d %H:%M')),
                    details={'until': local.isoformat()})
        return super().check_slot(start, member=member, resource=resource)


class Member(metaclass=PoolMeta):
    __name__ = 'member.member'

    no_show_count = fields.Function(
        fields.Integer(
            "No-Shows", help="The bookings the member did not come to."),
        'get_no_show_count')
    booking_suspended_until = fields.DateTime(
        "Bookings Suspended Until",
        help="Set by the no-show ban of a service: the member may not book "
        "before.\nClear it to lift the ban.")

    @classmethod
    def get_no_show_count(cls, members, name):
        with without_check_access():
            return _count_no_shows(members, 'member')


class Resource(metaclass=PoolMeta):
    __name__ = 'booking.resource'

    no_show_count = fields.Function(
        fields.Integer(
            "No-Shows",
            help="The bookings of the resource whose member did not come."),
        'get_no_show_count')

    @classmethod
    def get_no_show_count(cls, resources, name):
        with without_check_access():
            return _count_no_shows(resources, 'resource')


class Booking(metaclass=PoolMeta):
    __name__ = 'booking.booking'

    no_show_points_line = fields.Many2One(
        'member.points.line', "No-Show Points", readonly=True,
        ondelete='RESTRICT',
        help="The points taken for the no-show.")
    no_show_penalized = fields.Boolean(
        "No-Show Penalized", readonly=True,
        help="The penalty of the service was applied.")

    @classmethod
    def copy(cls, bookings, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('no_show_points_line', None)
        default.setdefault('no_show_penalized', False)
        return super().copy(bookings, default=default)

    @classmethod
    def no_show(cls, bookings):
        super().no_show(bookings)
        cls.penalize_no_shows(bookings)

    @classmethod
    def penalize_no_shows(cls, bookings):
        """Apply the no-show penalty of their service to the members of the
        no-show bookings, once per booking: the points (key
        booking-no-show:<id>; at most the balance, unless the points
        configuration allows a negative one) and the ban (the suspension
        ends at the latest of its current end and now plus the ban days)"""
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        now = clock.now()
        with without_check_access():
            bookings = [b for b in cls.browse([b.id for b in bookings])
                if b.state == 'no_show' and not b.no_show_penalized]
            if not bookings:
                return
            penalized = [b for b in bookings
                if b.service.no_show_points or b.service.no_show_ban_days]
            if penalized:
                Member.hold_lock([b.member for b in penalized])
            allow_negative = Configuration.get_cached().allow_negative
            entries, posted, bans = [], [], {}
            for booking in penalized:
                service, member = booking.service, booking.member
                points = service.no_show_points or 0
                if not allow_negative:
                    balance = Member(member.id).points_balance or 0
                    points = min(points, max(balance, 0))
                if points > 0:
                    entries.append({
                            'member': member,
                            'points': -points,
                            'reason': (
                                'service_booking.msg_booking_no_show_points',
                                {'booking': booking.rec_name}),
                            'origin': str(booking),
                            'key': 'booking-no-show:%d' % booking.id,
                            'allow_negative': allow_negative,
                            })
                    posted.append(booking)
                if service.no_show_ban_days:
                    until = now + dt.timedelta(days=service.no_show_ban_days)
                    current = bans.get(member.id,
                        member.booking_suspended_until)
                    if not current or current < until:
                        bans[member.id] = until
            lines = Member.post_points(entries) if entries else []
            to_write = []
            for booking, line in zip(posted, lines):
                to_write.extend([[booking], {
                            'no_show_points_line': line.id,
                            }])
            to_write.extend([bookings, {'no_show_penalized': True}])
            cls.write(*to_write)
            if bans:
                Member.write(*[x for member, until in bans.items()
                        for x in ([Member(member)], {
                                'booking_suspended_until': until})])

    @classmethod
    def mark_no_shows(cls):
        """Mark as no-show the confirmed bookings not started within the
        start grace of their service after their start (run by the
        scheduler; a booking already started, done or marked is left)"""
        pool = Pool()
        Service = pool.get('booking.service')
        now = clock.now()
        with without_check_access():
            services = Service.search([('active', 'in', [True, False])])
            domain = ['OR']
            for service in services:
                domain.append([
                        ('service', '=', service.id),
                        ('start', '<=', now - service.start_grace),
                        ])
            if len(domain) == 1:
                return []
            bookings = cls.search([
                    ('state', '=', 'confirmed'),
                    domain,
                    ], order=[('start', 'ASC'), ('id', 'ASC')])
            if bookings:
                cls.no_show(bookings)
        return bookings
