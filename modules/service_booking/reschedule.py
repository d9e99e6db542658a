# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""Rescheduling: a booking moves to another slot of its service in one write
of its row (no moment with both slots held or none), under the rules of a
new booking and of the cancellation window; the history keeps the old
start and resource."""
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.member.member import context_member
from trytond.modules.suite import clock
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

# The states of a booking that may move to another slot
RESCHEDULABLE_STATES = ('pending', 'confirmed')


class Booking(metaclass=PoolMeta):
    __name__ = 'booking.booking'

    reschedules = fields.One2Many(
        'booking.reschedule', 'booking', "Reschedules", readonly=True,
        help="The earlier starts and resources of the booking.")
    waitlist = fields.Function(fields.Many2Many(
            'booking.waitlist', None, None, "Waiting List", readonly=True,
            help="The members waiting for a place in the slot of the "
            "booking."),
        'get_waitlist')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'reschedule_wizard': {
                    'invisible': ~Eval('state').in_(
                        list(RESCHEDULABLE_STATES)),
                    'icon': 'tryton-launch',
                    'depends': ['state'],
                    },
                })
        cls.__rpc__.update({
                'reschedule_booking': RPC(readonly=False, result=int),
                })

    @classmethod
    def copy(cls, bookings, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('reschedules', None)
        return super().copy(bookings, default=default)

    @classmethod
    def write(cls, *args):
        """A new start of pending or confirmed bookings (what the calendar
        writes when staff drag a booking, with its end) moves them through
        reschedule_booking and its rules, one by one; the other values are
        written as usual"""
        if Transaction().context.get('_booking_reschedule'):
            return super().write(*args)
        actions = iter(args)
        args, moves = [], []
        for bookings, values in zip(actions, actions):
            movable = [b for b in bookings
                if b.state in RESCHEDULABLE_STATES]
            if values.get('start') is None or not movable:
                args.extend((bookings, values))
                continue
            others = [b for b in bookings if b not in movable]
            if others:
                args.extend((others, values))
            values = values.copy()
            start = values.pop('start')
            values.pop('end', None)
            resource = values.pop('resource', None)
            if values:
                args.extend((movable, values))
            moves.extend((b, start, resource) for b in movable)
        if args:
            super().write(*args)
        for booking, start, resource in moves:
            if (booking.start != start
                    or (resource is not None
                        and resource != booking.resource.id)):
                cls.reschedule_booking(booking.id, start, resource=resource)

    def get_waitlist(self, name):
        pool = Pool()
        Waitlist = pool.get('booking.waitlist')
        if not self.service or not self.start:
            return []
        with without_check_access():
            entries = Waitlist.search([
                    ('service', '=', self.service.id),
                    ('start', '=', self.start),
                    ], order=[('id', 'ASC')])
        return [e.id for e in entries]

    @classmethod
    @ModelView.button_action('service_booking.wizard_reschedule')
    def reschedule_wizard(cls, bookings):
        pass

    def reminders_since(self):
        """Return when the reminders of the booking may start to be due:
        when it was made or last rescheduled"""
        return max([self.create_date] + [r.date for r in self.reschedules])

    def reminder_key(self, hours):
        """Return the idempotency key of the reminder hours before the
        start: a rescheduled booking gets the reminders of its new time"""
        key = 'booking-reminder:%d:%g' % (self.id, hours)
        if self.reschedules:
            key += ':%d' % len(self.reschedules)
        return key

    @classmethod
    def reschedule_booking(cls, booking, start, resource=None, member=None):
        """Move booking (id) to the slot of its service starting at start
        and return it.

        start is an aware datetime (or ISO 8601 string), or a naive UTC one;
        resource (id) is optional: as when booking, the resource with the
        most capacity left is taken.  The booking must be pending or
        confirmed and inside its cancellation window; the new slot must be
        bookable by the member (lead time, horizon and the priority days of
        its tier, capacity, no overlap with its other bookings).

        The old and the new resources and the member are locked together,
        then the row of the booking changes its start and resource in one
        write: there is no moment with both slots held or none.  The place
        left is offered to the waiting list.

        With a `member` in the context (the mini-program user), only that
        member's booking may be moved.  Raise BookingNotFoundError
        (not_found), InvalidStateError (invalid_state), CancelWindowError
        (cancel_window_passed), SlotUnavailableError (slot_unavailable),
        SlotFullError (slot_full) or BookingOverlapError
        (booking_overlap)."""
        pool = Pool()
        Reschedule = pool.get('booking.reschedule')
        Waitlist = pool.get('booking.waitlist')
        booking = cls.get_booking(booking, member=member)
        start = cls.request_start(start)
        with without_check_access():
            booking = cls(booking.id)
            service = booking.service
            # One call, sorted ids: two reschedules cannot deadlock
            cls._lock_slot(
                ([booking.resource.id] if booking.resource else [])
                + [r.id for r in service.available_resources(resource)],
                [booking.member.id])
            if booking.state not in RESCHEDULABLE_STATES:
                raise booking.invalid_state(
                    'service_booking.msg_booking_reschedule_state')
            booking.check_cancel_window(
                'service_booking.msg_booking_reschedule_window')
            old_start, old_resource = booking.start, booking.resource
            # The booking leaves its slot: its own place is not counted
            with Transaction().set_context(booking_ignore=[booking.id]):
                candidates = service.check_slot(
                    start, member=booking.member, resource=resource)
            moved = cls(booking.id)
            moved.start = start
            moved.check_member_overlap()
            # The resource asked for, else the service's policy chooses (the
            # old resource is not kept: it may not be the policy's choice)
            moved.resource = int(resource) if resource is not None else None
            new_resource, reason = moved.assign_resource(candidates)
            Reschedule.create([{
                        'booking': booking.id,
                        'date': clock.now(),
                        'old_start': old_start,
                        'old_resource': (
                            old_resource.id if old_resource else None),
                        'new_start': start,
                        'new_resource': new_resource.id,
                        'user': Transaction().user or None,
                        'by_member': context_member() is not None,
                        }])
            with Transaction().set_context(_booking_reschedule=True):
                cls.write([booking], {
                        'start': start,
                        'resource': new_resource.id,
                        'assigned_by': (
                            'request' if resource is not None else 'policy'),
                        'assignment_reason': reason,
                        })
            if old_resource and (
                    old_start != start or old_resource != new_resource):
                Waitlist.place_freed([(service, old_start, old_resource)])
            cls.notify_rescheduled([booking])
        return cls(booking.id)

    @classmethod
    def notify_rescheduled(cls, bookings):
        """Queue the notice of the new time of bookings to their members,
        in the transaction of the move"""
        pool = Pool()
        Message = pool.get('outbox.message')
        values = []
        with without_check_access():
            for booking in cls.browse([b.id for b in bookings]):
                last = max(booking.reschedules, key=lambda r: r.id)
                values.append(booking.message_values(
                        'booking_rescheduled',
                        old_start=booking.local_string(last.old_start)))
            Message.queue(values)


class Reschedule(ModelSQL, ModelView):
    "Booking Reschedule"
    __name__ = 'booking.reschedule'

    booking = fields.Many2One(
        'booking.booking', "Booking", required=True, ondelete='CASCADE')
    date = fields.DateTime("Date", required=True, readonly=True)
    old_start = fields.DateTime("Old Start", required=True, readonly=True)
    old_resource = fields.Many2One(
        'booking.resource', "Old Resource", readonly=True,
        ondelete='RESTRICT')
    new_start = fields.DateTime("New Start", required=True, readonly=True)
    new_resource = fields.Many2One(
        'booking.resource', "New Resource", readonly=True,
        ondelete='RESTRICT')
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='SET NULL',
        help="The user who moved the booking.")
    by_member = fields.Boolean(
        "By Member", readonly=True,
        help="Moved by the member from the mini-program.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_by_member(cls):
        return False


class RescheduleStart(ModelView):
    "Reschedule Booking"
    __name__ = 'booking.reschedule.start'

    booking = fields.Many2One('booking.booking', "Booking", readonly=True)
    service = fields.Many2One('booking.service', "Service", readonly=True)
    start = fields.DateTime(
        "New Start", required=True,
        help="A start of a slot of the service.")
    resource = fields.Many2One(
        'booking.resource', "Resource",
        domain=[
            ('services', '=', Eval('service', -1)),
            ],
        help="Leave empty to take the resource with the most capacity "
        "left.")


class RescheduleWizard(Wizard):
    "Reschedule Booking"
    __name__ = 'booking.reschedule_wizard'

    start = StateView('booking.reschedule.start',
        'service_booking.reschedule_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Reschedule", 'reschedule', 'tryton-ok', default=True),
            ])
    reschedule = StateTransition()

    def default_start(self, fields):
        return {
            'booking': self.record.id,
            'service': self.record.service.id,
            'start': self.record.start,
            'resource': (
                self.record.resource.id if self.record.resource else None),
            }

    def transition_reschedule(self):
        # The rule method of the mini-program, under the user's access
        self.model.reschedule_booking(
            self.record.id, self.start.start,
            resource=self.start.resource.id if self.start.resource else None)
        return 'end'
