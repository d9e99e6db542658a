# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""The waiting list of a full slot.

When a place frees (a cancellation, a reschedule, a no-show), the first
waiting member gets an offer: the place is held for that member until the
offer expires (the slots of every other member count it as taken), and a
message is queued through the outbox.  Accepting books the place; an offer
left to lapse goes to the next member (the cron).  A place is offered under
the lock of its resource, so that it is never offered to two members, and
booked through the booking path, so that it is never booked twice."""
import datetime as dt

from sql import Literal

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.modules.suite import clock
from trytond.modules.suite.fields import Constant, State
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from .exceptions import (
    AlreadyWaitingError, BookingOverlapError, InvalidStateError,
    OfferExpiredError, SlotFullError, SlotNotFullError, SlotUnavailableError)
from .service import (
    OCCUPYING_STATES, _datetime, search_slot_rec_name, slot_rec_name)

# The states of an entry that still waits for (or holds) a place
OPEN_STATES = ('waiting', 'offered')


class Configuration(metaclass=PoolMeta):
    __name__ = 'member.configuration'

    waitlist_offer_time = fields.TimeDelta(
        "Waiting List Offer Time", required=True,
        domain=[('waitlist_offer_time', '>', dt.timedelta(0))],
        help="How long a place freed in a full slot is held for the first "
        "member of its waiting list before it is offered to the next.")

    @classmethod
    def default_waitlist_offer_time(cls):
        return dt.timedelta(hours=2)

    @classmethod
    def offer_time(cls):
        "Return the hold time of a waiting list offer"
        pool = Pool()
        Config = pool.get('member.configuration')
        with without_check_access():
            return (Config(1).waitlist_offer_time
                or cls.default_waitlist_offer_time())


class Service(metaclass=PoolMeta):
    __name__ = 'booking.service'

    @classmethod
    def _occupancies(cls, resources, start, end, member=None):
        """Count the places offered from the waiting list as taken, for any
        member but the one they are held for"""
        pool = Pool()
        Waitlist = pool.get('booking.waitlist')
        result = super()._occupancies(resources, start, end, member=member)
        held = Waitlist.held_places(
            list(result), start, end, member=member)
        for resource, places in held.items():
            occupancy = result[resource]
            result[resource] = occupancy.__class__(
                occupancy.bookings + places)
        return result


class Waitlist(Workflow, ModelSQL, ModelView):
    "Waiting List Entry"
    __name__ = 'booking.waitlist'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    member = fields.Many2One(
        'member.member', "Member", required=True, readonly=True,
        ondelete='CASCADE')
    service = fields.Many2One(
        'booking.service', "Service", required=True, readonly=True,
        ondelete='CASCADE')
    start = fields.DateTime("Start", required=True, readonly=True)
    end = fields.DateTime("End", readonly=True)
    busy_until = fields.DateTime("Busy Until", readonly=True)
    resource = fields.Many2One(
        'booking.resource', "Resource", readonly=True, ondelete='CASCADE',
        help="The resource asked for; empty for any.")
    state = State([
            ('waiting', "Waiting"),
            ('offered', "Offered"),
            ('booked', "Booked"),
            ('lapsed', "Lapsed"),
            ('cancelled', "Cancelled"),
            ], "State", required=True, readonly=True, sort=False)
    state_string = state.translated('state')
    offer_resource = fields.Many2One(
        'booking.resource', "Offered Resource", readonly=True,
        ondelete='CASCADE',
        help="The resource of the place held for the member.")
    offered_at = fields.DateTime("Offered At", readonly=True)
    offer_expires = fields.DateTime(
        "Offer Expires", readonly=True,
        help="The place is held for the member until then.")
    booking = fields.Many2One(
        'booking.booking', "Booking", readonly=True, ondelete='SET NULL')
    position = fields.Function(
        fields.Integer(
            "Position",
            help="The rank among the members still waiting for the slot."),
        'get_position')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(
                    t, (t.service, Index.Equality()),
                    (t.start, Index.Range()),
                    where=t.state.in_(list(OPEN_STATES))),
                Index(
                    t, (t.state, Index.Equality(cardinality='low')),
                    (t.offer_expires, Index.Range()),
                    where=t.state == 'offered'),
                Index(t, (t.member, Index.Range())),
                })
        cls._order = [('start', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('waiting', 'offered'),
            ('offered', 'booked'),
            ('offered', 'lapsed'),
            ('waiting', 'lapsed'),
            ('waiting', 'cancelled'),
            ('offered', 'cancelled'),
            }
        cls._buttons.update({
                'cancel': {
                    'invisible': ~Eval('state').in_(list(OPEN_STATES)),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })
        cls.__rpc__.update({
                'join': RPC(readonly=False, result=int),
                'accept': RPC(readonly=False, result=int),
                'leave': RPC(readonly=False),
                })

    @classmethod
    def default_state(cls):
        return 'waiting'

    def get_rec_name(self, name):
        return slot_rec_name(self)

    @classmethod
    def search_rec_name(cls, name, clause):
        return search_slot_rec_name(clause)

    @classmethod
    def get_position(cls, entries, name):
        result = {e.id: None for e in entries}
        with without_check_access():
            for entry in entries:
                if entry.state != 'waiting':
                    continue
                result[entry.id] = cls.search_count([
                        ('service', '=', entry.service.id),
                        ('start', '=', entry.start),
                        ('state', '=', 'waiting'),
                        ('id', '<=', entry.id),
                        ])
        return result

    def compute_fields(self, field_names=None):
        values = super().compute_fields(field_names)
        if field_names is None or field_names & {'start', 'service'}:
            end = busy_until = None
            if self.start and self.service:
                end = self.start + self.service.duration
                busy_until = end + self.service.buffer
            for name, value in [('end', end), ('busy_until', busy_until)]:
                if getattr(self, name) != value:
                    values[name] = value
        return values

    @classmethod
    def held_places(cls, resources, start, end, member=None):
        """Return a dictionary of resource id to the places (start, busy
        until, service) held by open offers overlapping [start, end), but
        those held for member"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        if not resources:
            return {}
        in_ = fields.SQL_OPERATORS['in']
        where = Literal(True)
        if member is not None:
            where = table.member != int(member)
        ignore = Transaction().context.get('waitlist_ignore')
        if ignore:
            where &= ~in_(table.id, list(ignore))
        cursor.execute(*table.select(
                table.offer_resource, table.start, table.busy_until,
                table.service,
                where=where & (table.state == Constant('offered'))
                & (table.offer_expires > clock.now())
                & in_(table.offer_resource, list(resources))
                & (table.start < end)
                & (table.busy_until > start)))
        result = {}
        for resource, p_start, p_until, p_service in cursor:
            result.setdefault(resource, []).append(
                (_datetime(p_start), _datetime(p_until), p_service))
        return result

    # Workflow

    @classmethod
    @Workflow.transition('offered')
    def offer(cls, entries, resource):
        """Hold the place of resource for the entries' members until the
        offer time and queue the offer.  Call it under the lock of the
        resource (place_freed)."""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        now = clock.now()
        cls.write(entries, {
                'offer_resource': resource.id,
                'offered_at': now,
                'offer_expires': now + Configuration.offer_time(),
                })
        cls.notify_offer(entries)

    @classmethod
    @Workflow.transition('booked')
    def book(cls, entries):
        pass

    @classmethod
    @Workflow.transition('lapsed')
    def lapse(cls, entries):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, entries):
        cls.pass_on([e for e in entries if e.state == 'offered'])

    @classmethod
    def pass_on(cls, entries):
        """Offer the places held by entries, given up, to the next members
        (entries leave their state after this call: their places are not
        counted as held)"""
        places = {(e.service, e.start, e.offer_resource) for e in entries}
        if places:
            with Transaction().set_context(
                    waitlist_ignore=[e.id for e in entries]):
                cls.place_freed(sorted(
                        places, key=lambda p: (p[1], p[0].id, p[2].id)))

    # The places freed

    @classmethod
    def place_freed(cls, places):
        """Offer the places freed to the first waiting members.

        places are bookings leaving their place (cancelled or no-show, their
        state not written yet) or (service, start, resource) tuples.  Under
        the lock of the resources, each place with capacity left for the
        first waiting member of its slot (who asked for that resource or
        any) is offered to that member, then the next place to the next
        member.  ONE hook: the cancel and no_show transitions of the
        booking, reschedule_booking and the offers given up call it."""
        pool = Pool()
        Booking = pool.get('booking.booking')
        ignore, slots = [], []
        for place in places:
            if isinstance(place, Booking):
                if (place.state not in OCCUPYING_STATES
                        or not place.resource):
                    continue
                ignore.append(place.id)
                place = (place.service, place.start, place.resource)
            slots.append(place)
        if not slots:
            return
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        with without_check_access():
            # Nobody waiting: nothing to lock (a member joining meanwhile
            # is offered a place by the cron)
            waiting = set()
            for service, start, _ in slots:
                cursor.execute(*table.select(table.id,
                        where=(table.service == service.id)
                        & (table.start == start)
                        & (table.state == Constant('waiting')),
                        limit=1))
                if cursor.fetchone():
                    waiting.add((service.id, start))
            slots = [s for s in slots if (s[0].id, s[1]) in waiting]
            if not slots:
                return
            Booking._lock_slot({r.id for _, _, r in slots}, [])
            context = {}
            if ignore:
                context['booking_ignore'] = ignore
            with Transaction().set_context(**context):
                for service, start, resource in slots:
                    cls._offer_place(service, start, resource)

    @classmethod
    def _offer_place(cls, service, start, resource):
        "Offer the free places of resource at start to the first in line"
        offered = set()
        while True:
            entries = cls.search([
                    ('service', '=', service.id),
                    ('start', '=', start),
                    ('state', '=', 'waiting'),
                    ('id', 'not in', list(offered)),
                    ['OR',
                        ('resource', '=', None),
                        ('resource', '=', resource.id),
                        ],
                    ], order=[('id', 'ASC')], limit=1)
            if not entries:
                return
            entry, = entries
            try:
                service.check_slot(
                    start, member=entry.member, resource=resource)
            except SlotFullError:
                return
            except SlotUnavailableError:
                # Too late for this slot (or beyond the member's horizon):
                # the next member may still take it
                offered.add(entry.id)
                continue
            cls.offer([entry], resource)
            offered.add(entry.id)

    @classmethod
    def process_offers(cls):
        """Lapse the offers past their time and the entries of slots that
        started, then offer the places left to the waiting members (run by
        the scheduler)"""
        pool = Pool()
        Service = pool.get('booking.service')
        now = clock.now()
        with without_check_access():
            expired = cls.search([
                    ('state', '=', 'offered'),
                    ('offer_expires', '<=', now),
                    ])
            late = cls.search([
                    ('state', '=', 'waiting'),
                    ('start', '<=', now),
                    ])
            if expired or late:
                # Offered again below, under the lock of their resources
                cls.lapse(expired + late)
            places = set()
            for entry in cls.search([
                        ('state', '=', 'waiting'),
                        ('start', '>', now),
                        ]):
                service = Service(entry.service.id)
                for resource in service.available_resources(entry.resource):
                    places.add((service, entry.start, resource))
            places.update((e.service, e.start, e.offer_resource)
                for e in expired)
            if places:
                cls.place_freed(sorted(
                        places, key=lambda p: (p[1], p[0].id, p[2].id)))

    # Messages

    @classmethod
    def notify_offer(cls, entries):
        "Queue the offers to the members in the transaction of the offer"
        pool = Pool()
        Message = pool.get('outbox.message')
        values = []
        with without_check_access():
            for entry in cls.browse([e.id for e in entries]):
                service = entry.service
                tzinfo = service.tzinfo

                def local(value):
                    return clock.to_local(value, tzinfo).strftime(
                        '%Y-%m-%d %H:%M')
                values.append({
                        'template': 'booking_waitlist_offer',
                        'party': entry.member.party.id,
                        'payload': {
                            'entry_id': entry.id,
                            'member': entry.member.rec_name,
                            'service': service.rec_name,
                            'resource': entry.offer_resource.rec_name,
                            'start': local(entry.start),
                            'end': local(entry.end),
                            'timezone': service.timezone,
                            'expires': local(entry.offer_expires),
                            },
                        'origin': str(entry),
                        'dedup_key': 'booking-waitlist-offer:%d' % entry.id,
                        })
            Message.queue(values)

    # Methods called by the mini-program API

    @classmethod
    def join(cls, member, service, start, resource=None):
        """Put member on the waiting list of the full slot of service at
        start (resource optional) and return the entry.

        Raise SlotNotFullError (slot_not_full) when a place is left (book
        it), SlotUnavailableError (slot_unavailable) for a slot the member
        may not book, AlreadyWaitingError (already_waiting) when already on
        the list, BookingOverlapError (booking_overlap) when the member
        holds a booking then, BookingNotFoundError (not_found)."""
        pool = Pool()
        Booking = pool.get('booking.booking')
        Service = pool.get('booking.service')
        member_id = Booking._check_member(member)
        service = Service._get_service(service)
        start = Booking.request_start(start)
        with without_check_access():
            member = Booking._hold_slot(member_id, service, resource)
            try:
                service.check_slot(start, member=member, resource=resource)
            except SlotFullError:
                pass
            else:
                raise SlotNotFullError(gettext(
                        'service_booking.msg_waitlist_slot_not_full',
                        service=service.rec_name,
                        start=clock.to_local(
                            start, service.tzinfo).strftime(
                            '%Y-%m-%d %H:%M')),
                    details={
                        'service': service.id,
                        'start': clock.to_local(
                            start, service.tzinfo).isoformat(),
                        })
            existing = cls.search([
                    ('member', '=', member.id),
                    ('service', '=', service.id),
                    ('start', '=', start),
                    ('state', 'in', list(OPEN_STATES)),
                    ], limit=1)
            if existing:
                raise AlreadyWaitingError(gettext(
                        'service_booking.msg_waitlist_already',
                        service=service.rec_name,
                        start=existing[0].rec_name),
                    details={'entry': existing[0].id})
            bookings = Booking.search([
                    ('member', '=', member.id),
                    ('state', 'in', list(OCCUPYING_STATES)),
                    ('start', '<', start + service.duration),
                    ('end', '>', start),
                    ], limit=1)
            if bookings:
                raise BookingOverlapError(gettext(
                        'service_booking.msg_booking_overlap',
                        member=member.rec_name,
                        booking=bookings[0].rec_name),
                    details={'booking': bookings[0].id})
            entry, = cls.create([{
                        'company': service.company.id,
                        'member': member.id,
                        'service': service.id,
                        'start': start,
                        'resource': (int(resource)
                            if resource is not None else None),
                        }])
        return cls(entry.id)

    @classmethod
    def accept(cls, entry, member=None):
        """Book the place offered to the member of entry (id) and return
        the booking.

        Raise BookingNotFoundError (not_found) for an entry of another
        member, OfferExpiredError (offer_expired) for an offer past its
        time or lapsed, InvalidStateError (invalid_state) for an entry not
        offered (waiting, booked, cancelled)."""
        pool = Pool()
        Booking = pool.get('booking.booking')
        entry = cls.get_entry(entry, member=member)
        with without_check_access():
            if entry.offer_resource:
                # The locks of the booking, before the checks
                Booking._lock_slot(
                    [entry.offer_resource.id], [entry.member.id])
            entry = cls(entry.id)
            expired = (entry.state == 'lapsed'
                or (entry.state == 'offered'
                    and entry.offer_expires <= clock.now()))
            if expired:
                raise OfferExpiredError(gettext(
                        'service_booking.msg_waitlist_offer_expired',
                        entry=entry.rec_name),
                    details={'expired': clock.to_local(
                            entry.offer_expires,
                            entry.service.tzinfo).isoformat()
                        if entry.offer_expires else None})
            if entry.state != 'offered':
                raise InvalidStateError(gettext(
                        'service_booking.msg_waitlist_accept_state',
                        entry=entry.rec_name, state=entry.state_string),
                    details={'state': entry.state})
        booking = Booking.create_booking(
            entry.member.id, entry.service.id, entry.start,
            resource=entry.offer_resource.id)
        with without_check_access():
            cls.write([entry], {'booking': booking.id})
            cls.book([entry])
        return booking

    @classmethod
    def leave(cls, entry, member=None):
        """Take the member of entry (id) off the waiting list; a place
        offered goes to the next member.  Raise BookingNotFoundError
        (not_found) or InvalidStateError (invalid_state) for an entry
        booked."""
        pool = Pool()
        Booking = pool.get('booking.booking')
        entry = cls.get_entry(entry, member=member)
        with without_check_access():
            if entry.offer_resource:
                Booking._lock_slot([entry.offer_resource.id], [])
            entry = cls(entry.id)
            if entry.state == 'booked':
                raise InvalidStateError(gettext(
                        'service_booking.msg_waitlist_leave_state',
                        entry=entry.rec_name, state=entry.state_string),
                    details={'state': entry.state})
            cls.cancel([entry])

    @classmethod
    def get_entry(cls, entry, member=None):
        """Return the entry (id) of member (default: the member of the
        context), or raise BookingNotFoundError"""
        Booking = Pool().get('booking.booking')
        return Booking.member_record(cls, entry, member,
            'service_booking.msg_waitlist_not_found', check_access=False)

    @classmethod
    def member_entries(cls, member=None, limit=20, offset=0):
        """Return the entries of member (default: the member of the
        context), the next slots first, and their total count"""
        pool = Pool()
        Booking = pool.get('booking.booking')
        member_id = Booking._check_member(member)
        domain = [('member', '=', member_id)]
        order = [('start', 'DESC'), ('id', 'DESC')]
        with without_check_access():
            return (cls.search(
                    domain, offset=offset, limit=limit, order=order),
                cls.search_count(domain))
