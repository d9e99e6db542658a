# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""Ratings of done bookings by their members, their moderation and the
averages per service and per resource."""
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from sql import Column
from sql.aggregate import Count, Sum

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    Check, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import SQLConstraintError
from trytond.modules.member.member import violated_constraint
from trytond.modules.suite import clock, tools
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .exceptions import (
    AlreadyRatedError, BookingNotFoundError, InvalidStateError,
    RatingEditWindowError, RatingValueError)
from .service import id_name

# The tags a member may give: a fixed list, so that the mini-program shows
# the same chips to everyone, translated with the module, and a tag counts
# the same in every statistic (free or staff-made tags would need their own
# translation and moderation)
TAGS = [
    ('punctual', "Punctual"),
    ('friendly', "Friendly"),
    ('professional', "Professional"),
    ('thorough', "Thorough"),
    ('tidy', "Tidy"),
    ('good_value', "Good Value"),
    ('late', "Late"),
    ('rushed', "Rushed"),
    ]
COMMENT_MAX = 2000
# Given to change_rating for the values that do not change
UNCHANGED = object()


class Configuration(metaclass=PoolMeta):
    __name__ = 'member.configuration'

    rating_edit_days = fields.Integer(
        "Rating Edit Days", required=True,
        domain=[('rating_edit_days', '>=', 0)],
        help="The number of days during which a member may change the "
        "rating of a booking.")

    @classmethod
    def default_rating_edit_days(cls):
        return 7

    @classmethod
    def rating_edit_window(cls):
        "Return the time during which a rating may be changed"
        pool = Pool()
        Config = pool.get('member.configuration')
        with without_check_access():
            days = Config(1).rating_edit_days
        return dt.timedelta(days=days or 0)


class Rating(Workflow, ModelSQL, ModelView):
    "Booking Rating"
    __name__ = 'booking.rating'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    booking = fields.Many2One(
        'booking.booking', "Booking", required=True, readonly=True,
        ondelete='CASCADE',
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    member = fields.Many2One(
        'member.member', "Member", required=True, readonly=True,
        ondelete='RESTRICT')
    service = fields.Many2One(
        'booking.service', "Service", required=True, readonly=True,
        ondelete='RESTRICT')
    resource = fields.Many2One(
        'booking.resource', "Resource", readonly=True, ondelete='RESTRICT',
        help="The technician or room that served the booking.")
    date = fields.DateTime("Date", required=True, readonly=True,
        help="When the member rated the booking.")
    stars = fields.Integer(
        "Stars", required=True, readonly=True,
        domain=[
            ('stars', '>=', 1),
            ('stars', '<=', 5),
            ])
    comment = fields.Text("Comment", readonly=True)
    tags = fields.MultiSelection(TAGS, "Tags", sort=False, readonly=True)
    state = fields.Selection([
            ('published', "Published"),
            ('hidden', "Hidden"),
            ], "State", required=True, readonly=True, sort=False,
        help="The comment of a hidden rating is shown to no one but the "
        "member and the staff; its stars still count.")
    hide_reason = fields.Char(
        "Hide Reason",
        states={
            'readonly': Eval('state') == 'hidden',
            },
        help="Why the comment is hidden (for the staff).")
    moderated_by = fields.Many2One(
        'res.user', "Moderated By", readonly=True)
    moderated_at = fields.DateTime("Moderated At", readonly=True)
    edit_deadline = fields.Function(
        fields.DateTime(
            "Edit Deadline",
            help="Until when the member may change the rating."),
        'get_edit_deadline')
    count = fields.Function(
        fields.Integer(
            "Ratings", help="1 for each rating (to count in graphs)."),
        'get_count')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            # One rating per booking: the counts and averages read the
            # ratings, so concurrent ratings of a booking must not both
            # be kept (tests/test_rating_concurrency.py)
            ('booking_unique', Unique(t, t.booking),
                'service_booking.msg_rating_booking_unique'),
            ('stars_range', Check(t, (t.stars >= 1) & (t.stars <= 5)),
                'service_booking.msg_rating_stars_range'),
            ]
        cls._sql_indexes.update({
                Index(
                    t, (t.service, Index.Range()), (t.date, Index.Range())),
                Index(t, (t.resource, Index.Range())),
                Index(
                    t, (t.member, Index.Range()), (t.date, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('published', 'hidden'),
            ('hidden', 'published'),
            }
        cls._buttons.update({
                'hide': {
                    'invisible': Eval('state') != 'published',
                    'readonly': ~Bool(Eval('hide_reason')),
                    'icon': 'tryton-cancel',
                    'depends': ['state', 'hide_reason'],
                    },
                'publish': {
                    'invisible': Eval('state') != 'hidden',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'published'

    @classmethod
    def default_date(cls):
        return clock.now()

    def get_edit_deadline(self, name):
        pool = Pool()
        Config = pool.get('member.configuration')
        return self.date + Config.rating_edit_window()

    def get_count(self, name):
        return 1

    def get_rec_name(self, name):
        return '%s: %s' % (self.booking.rec_name, '★' * (self.stars or 0))

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('booking.rec_name',) + tuple(clause[1:])]

    @classmethod
    @ModelView.button
    @Workflow.transition('hidden')
    def hide(cls, ratings):
        "Hide the comments of ratings: the reason must be given first"
        for rating in ratings:
            if not (rating.hide_reason or '').strip():
                raise InvalidStateError(gettext(
                        'service_booking.msg_rating_hide_no_reason',
                        rating=rating.rec_name))
        cls.write(ratings, {
                'moderated_by': Transaction().user,
                'moderated_at': clock.now(),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('published')
    def publish(cls, ratings):
        cls.write(ratings, {
                'hide_reason': None,
                'moderated_by': Transaction().user,
                'moderated_at': clock.now(),
                })

    # The counts and averages

    @classmethod
    def aggregates(cls, field, ids):
        """Return {id: (count, average)} of the ratings of the services or
        resources (field) of ids; average is None without rating.

        One SQL aggregate of the ratings every time, never a stored
        counter: it reads the ratings committed for the transaction, so it
        cannot drift from them; the unique booking keeps one rating per
        booking.  The average is the exact sum over the count, rounded to
        2 digits."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        column = Column(table, field)
        result = {i: (0, None) for i in ids}
        in_ = fields.SQL_OPERATORS['in']
        for sub_ids in grouped_slice(
                [i for i in ids if i is not None], backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(
                    column, Count(table.id), Sum(table.stars),
                    where=in_(column, list(sub_ids)),
                    group_by=[column]))
            for id_, count, total in cursor:
                result[id_] = (count, average(total, count))
        return result

    @classmethod
    def get_aggregate_fields(cls, field, records, names):
        "The getter of the Function fields rating_count and rating_average"
        aggregates = cls.aggregates(field, [r.id for r in records])
        result = {}
        if 'rating_count' in names:
            result['rating_count'] = {
                i: c for i, (c, _) in aggregates.items()}
        if 'rating_average' in names:
            result['rating_average'] = {
                i: a for i, (_, a) in aggregates.items()}
        return result

    # Methods called by the mini-program API

    @classmethod
    def rate(cls, booking, stars, comment=None, tags=None, member=None):
        """Rate the done booking (id) of member (default: the member of the
        context) with stars (1 to 5), an optional comment and tags (codes
        of TAGS); return the rating.

        Raise BookingNotFoundError (not_found) for a booking of another
        member, InvalidStateError (invalid_state) for a booking that is not
        done, AlreadyRatedError (already_rated) for a booking rated before
        (also by a concurrent request: the unique booking decides) and
        RatingValueError (invalid_request) for bad values."""
        pool = Pool()
        Booking = pool.get('booking.booking')
        booking = Booking.get_booking(booking, member=member)
        values = cls._check_values(stars, comment, tags)
        with without_check_access():
            if booking.state != 'done':
                raise booking.invalid_state(
                    'service_booking.msg_rating_booking_not_done')
            cls._check_not_rated(booking)
            values.update({
                    'company': booking.company.id,
                    'booking': booking.id,
                    'member': booking.member.id,
                    'service': booking.service.id,
                    'resource': (
                        booking.resource.id if booking.resource else None),
                    'date': clock.now(),
                    })
            try:
                # The transaction stays usable to report the refusal
                with tools.savepoint('booking_rating'):
                    rating, = cls.create([values])
            except SQLConstraintError as exception:
                if violated_constraint(cls, exception) == 'booking_unique':
                    raise cls._already_rated(booking) from exception
                raise
        return cls(rating.id)

    @classmethod
    def _check_not_rated(cls, booking):
        if cls.search([('booking', '=', booking.id)]):
            raise cls._already_rated(booking)

    @classmethod
    def _already_rated(cls, booking):
        return AlreadyRatedError(gettext(
                'service_booking.msg_rating_already_rated',
                booking=booking.rec_name),
            details={'booking_id': booking.id})

    @classmethod
    def change_rating(cls, booking, stars=UNCHANGED, comment=UNCHANGED,
            tags=UNCHANGED, member=None):
        """Change the given values of the rating of booking (id) of member
        within the edit window (rating_edit_days of the configuration);
        return the rating.  A hidden comment that is changed stays hidden.

        Raise BookingNotFoundError (not_found) for a booking of another
        member or not rated, RatingEditWindowError (edit_window_passed)
        after the window and RatingValueError (invalid_request)."""
        pool = Pool()
        Booking = pool.get('booking.booking')
        booking = Booking.get_booking(booking, member=member)
        values = cls._check_values(stars, comment, tags)
        with without_check_access():
            ratings = cls.search([('booking', '=', booking.id)])
            if not ratings:
                raise BookingNotFoundError(gettext(
                        'service_booking.msg_rating_not_found',
                        booking=booking.rec_name),
                    details={'model': cls.__name__, 'booking_id': booking.id})
            rating, = ratings
            deadline = rating.edit_deadline
            if clock.now() > deadline:
                tzinfo = booking.service.tzinfo
                raise RatingEditWindowError(gettext(
                        'service_booking.msg_rating_edit_window',
                        booking=booking.rec_name,
                        deadline=booking.local_string(deadline)),
                    details={
                        'deadline': clock.to_local(
                            deadline, tzinfo).isoformat(),
                        })
            if values:
                cls.write([rating], values)
        return cls(rating.id)

    @classmethod
    def _check_values(cls, stars, comment, tags):
        "Return the values to write, or raise RatingValueError"
        values = {}

        def invalid(field, value):
            return RatingValueError(gettext(
                    'service_booking.msg_rating_invalid_value',
                    field=field, value=value),
                details={'field': field})
        if stars is not UNCHANGED:
            if (not isinstance(stars, int) or isinstance(stars, bool)
                    or not 1 <= stars <= 5):
                raise invalid('stars', stars)
            values['stars'] = stars
        if comment is not UNCHANGED:
            if comment is not None and (not isinstance(comment, str)
                    or len(comment) > COMMENT_MAX):
                raise invalid('comment', comment)
            values['comment'] = (comment or '').strip() or None
        if tags is not UNCHANGED:
            codes = {c for c, _ in TAGS}
            if tags is None:
                tags = []
            if (not isinstance(tags, (list, tuple))
                    or any(t not in codes for t in tags)):
                raise invalid('tags', tags)
            values['tags'] = [c for c, _ in TAGS if c in tags]
        return values

    @classmethod
    def member_ratings(cls, member=None, limit=20, offset=0):
        """Return the ratings of member (default: the member of the
        context), newest first, and their total count"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        member_id = Booking._check_member(member)
        domain = [('member', '=', member_id)]
        return (cls.search(domain, offset=offset, limit=limit),
            cls.search_count(domain))

    @classmethod
    def published_ratings(cls, service, limit=20, offset=0):
        """Return the ratings of service (id), newest first, and their total
        count: to be shown to anyone with published_values only.

        Raise BookingNotFoundError (not_found) when the user cannot read
        the service."""
        pool = Pool()
        Service = pool.get('booking.service')
        service = Service._get_service(service)
        domain = [('service', '=', service.id)]
        with without_check_access():
            return (cls.search(domain, offset=offset, limit=limit),
                cls.search_count(domain))

    def published_values(self):
        """Return the values of the rating that anyone may see: the masked
        display name of the member (never a phone, openid or e-mail) and no
        comment when it is hidden"""
        with without_check_access():
            rating = self.__class__(self.id)
            return {
                'id': rating.id,
                'member': rating.member.display_name,
                'stars': rating.stars,
                'comment': (rating.comment
                    if rating.state == 'published' else None),
                'tags': list(rating.tags or []),
                'resource': id_name(rating.resource),
                # In the time zone of the service
                'date': clock.to_local(rating.date, rating.service.tzinfo),
                }

    def member_values(self):
        "Return the values of the rating for its member"
        values = self.published_values()
        with without_check_access():
            values.update({
                    'booking_id': self.booking.id,
                    'service': id_name(self.service),
                    # The member's own comment, also when it is hidden
                    'comment': self.comment,
                    'hidden': self.state == 'hidden',
                    'edit_deadline': clock.to_local(
                        self.edit_deadline, self.service.tzinfo),
                    'editable': clock.now() <= self.edit_deadline,
                    })
        return values


def average(total, count):
    "Return the average of count ratings totalling total, to 2 digits"
    if not count:
        return None
    return (Decimal(int(total)) / count).quantize(
        Decimal('0.01'), rounding=ROUND_HALF_UP)


class RatedMixin:
    """The count and average of the ratings of a record whose field of
    booking.rating is _rating_field"""
    __slots__ = ()
    _rating_field = None

    rating_count = fields.Function(
        fields.Integer("Ratings", help="The number of ratings."),
        'get_rating_aggregate')
    rating_average = fields.Function(
        fields.Numeric(
            "Average Rating", digits=(1, 2),
            help="The average stars of the ratings."),
        'get_rating_aggregate')

    @classmethod
    def get_rating_aggregate(cls, records, names):
        pool = Pool()
        Rating = pool.get('booking.rating')
        return Rating.get_aggregate_fields(cls._rating_field, records, names)


class Service(RatedMixin, metaclass=PoolMeta):
    __name__ = 'booking.service'
    _rating_field = 'service'

    @classmethod
    def list_services(cls, member=None, offset=0, limit=None, domain=None):
        """Add rating_count and rating_average (None without rating) to the
        values of each service"""
        pool = Pool()
        Rating = pool.get('booking.rating')
        result = super().list_services(
            member=member, offset=offset, limit=limit, domain=domain)
        aggregates = Rating.aggregates('service', [v['id'] for v in result])
        for values in result:
            values['rating_count'], values['rating_average'] = (
                aggregates[values['id']])
        return result


class Resource(RatedMixin, metaclass=PoolMeta):
    __name__ = 'booking.resource'
    _rating_field = 'resource'


class Booking(metaclass=PoolMeta):
    __name__ = 'booking.booking'

    rating = fields.Function(
        fields.Many2One('booking.rating', "Rating"), 'get_rating')

    @classmethod
    def get_rating(cls, bookings, name):
        pool = Pool()
        Rating = pool.get('booking.rating')
        result = {b.id: None for b in bookings}
        with without_check_access():
            for sub_ids in grouped_slice(
                    list(result), backend.MAX_QUERY_PARAMS):
                for rating in Rating.search([
                            ('booking', 'in', list(sub_ids)),
                            ]):
                    result[rating.booking.id] = rating.id
        return result

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def finish(cls, bookings):
        super().finish(bookings)
        cls.request_ratings(bookings)

    @classmethod
    def request_ratings(cls, bookings):
        """Queue the rating request of done bookings to their members: once
        per booking (booking-rating-request:<id>), in the transaction of the
        change, so sent only if it is committed"""
        pool = Pool()
        Message = pool.get('outbox.message')
        Config = pool.get('member.configuration')
        days = Config.rating_edit_window().days
        with without_check_access():
            Message.queue([
                    b.message_values(
                        'booking_rating_request',
                        dedup_key='booking-rating-request:%d' % b.id,
                        rating_days=days)
                    for b in cls.browse([b.id for b in bookings])])
