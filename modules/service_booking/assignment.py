# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""The assignment of a resource (a technician, a room) to a booking: the
policy of the service, the skills (resource tags) it requires and the
reassignment by staff"""
import datetime as dt

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import DeactivableMixin, ModelSQL, ModelView, Unique, fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import SlotFullError, SlotUnavailableError
from .service import OCCUPYING_STATES, _datetime

# The states of a booking whose resource staff may change
REASSIGNABLE_STATES = ('pending', 'confirmed')


class ResourceTag(DeactivableMixin, ModelSQL, ModelView):
    "Resource Tag"
    __name__ = 'booking.resource.tag'

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'service_booking.msg_resource_tag_code_unique'),
            ]
        cls._order = [('name', 'ASC'), ('id', 'ASC')]


class ResourceTagRelation(ModelSQL):
    "Resource - Tag"
    __name__ = 'booking.resource-booking.resource.tag'

    resource = fields.Many2One(
        'booking.resource', "Resource", required=True, ondelete='CASCADE')
    tag = fields.Many2One(
        'booking.resource.tag', "Tag", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('resource')


class ServiceTag(ModelSQL):
    "Service - Required Tag"
    __name__ = 'booking.service-booking.resource.tag'

    service = fields.Many2One(
        'booking.service', "Service", required=True, ondelete='CASCADE')
    tag = fields.Many2One(
        'booking.resource.tag', "Tag", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('service')


class Resource(metaclass=PoolMeta):
    __name__ = 'booking.resource'

    tags = fields.Many2Many(
        'booking.resource-booking.resource.tag', 'resource', 'tag', "Tags",
        help="The skills or equipment of the resource: a service that "
        "requires tags takes only the resources holding all of them.")


class Service(metaclass=PoolMeta):
    __name__ = 'booking.service'

    assignment_policy = fields.Selection([
            ('capacity', "Most Capacity Left"),
            ('least_loaded', "Least Loaded"),
            ('round_robin', "Round Robin"),
            ], "Assignment", required=True, sort=False,
        help="How a booking made without a resource gets one among the "
        "free resources of the slot:\n"
        "- Most Capacity Left: the resource with the most places left;\n"
        "- Least Loaded: the resource with the fewest booked minutes (or "
        "bookings) in the load period around the slot;\n"
        "- Round Robin: in turn, by the priority and weight of each "
        "resource.")
    load_measure = fields.Selection([
            ('minutes', "Booked Minutes"),
            ('bookings', "Bookings"),
            ], "Load Measure", required=True,
        states={
            'invisible': Eval('assignment_policy') != 'least_loaded',
            })
    load_period = fields.TimeDelta(
        "Load Period", required=True,
        domain=[('load_period', '>=', dt.timedelta(0))],
        states={
            'invisible': Eval('assignment_policy') != 'least_loaded',
            },
        help="The load of a resource is counted on its bookings (of every "
        "service) from this long before the slot until this long after it.")
    required_tags = fields.Many2Many(
        'booking.service-booking.resource.tag', 'service', 'tag',
        "Required Tags",
        help="The skills the service requires: only the resources holding "
        "all of them are booked, whatever the policy.")
    resource_links = fields.One2Many(
        'booking.service-booking.resource', 'service', "Resource Turns",
        help="The priority and weight of each resource for the round robin "
        "assignment.")

    @classmethod
    def default_assignment_policy(cls):
        return 'capacity'

    @classmethod
    def default_load_measure(cls):
        return 'minutes'

    @classmethod
    def default_load_period(cls):
        return dt.timedelta(days=7)

    @classmethod
    def copy(cls, services, default=None):
        default = default.copy() if default is not None else {}
        # The links are copied by booking_resources
        default.setdefault('resource_links', None)
        return super().copy(services, default=default)

    def available_resources(self, resource=None):
        """Return the active resources of the service (or resource if it is
        one) that hold every required tag"""
        resources = super().available_resources(resource)
        required = {t.id for t in self.required_tags}
        if required:
            resources = [r for r in resources
                if required <= {t.id for t in r.tags}]
        return resources

    def skills_text(self):
        "The names of the required tags, for the reasons"
        return ', '.join(t.rec_name for t in self.required_tags)


class Booking(metaclass=PoolMeta):
    __name__ = 'booking.booking'

    assigned_by = fields.Selection([
            (None, ""),
            ('policy', "Assignment Policy"),
            ('request', "Chosen When Booking"),
            ('staff', "Staff"),
            ], "Assigned By", readonly=True,
        help="Who chose the resource.")
    assignment_reason = fields.Text(
        "Assignment Reason", readonly=True,
        help="Why the booking has its resource.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'reassign': {
                    'invisible': ~Eval('state').in_(
                        list(REASSIGNABLE_STATES)),
                    'icon': 'tryton-switch',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def copy(cls, bookings, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('assigned_by', None)
        default.setdefault('assignment_reason', None)
        return super().copy(bookings, default=default)

    @classmethod
    def check_modification(cls, mode, bookings, values=None, external=False):
        # Reassign changes the resource of a booking that holds its slot,
        # after checking the slot under the lock
        if (mode == 'write' and values
                and Transaction().context.get('_booking_reassign')):
            values = {k: v for k, v in values.items() if k != 'resource'}
        super().check_modification(
            mode, bookings, values=values, external=external)

    @classmethod
    @ModelView.button_action('service_booking.wizard_booking_reassign')
    def reassign(cls, bookings):
        pass

    def assign_resource(self, candidates):
        """Return the resource of candidates that the booking takes and
        why (a text in the language of the transaction).

        candidates are the resources of the slot with capacity left, as
        Service.check_slot returns them (most capacity left first, then in
        the order of the resources): the service's assignment policy
        orders them, its required tags already filtered them
        (Service.available_resources).  A resource chosen when booking is
        kept.  Call it under the lock of the candidates (Booking._lock_slot,
        which _book and create_booking take): the loads and turns it reads
        are then those of every booking committed before."""
        if not candidates:
            raise ValueError("no candidate")
        service = self.service
        if self.resource:
            resource, = [c for c in candidates if c.id == self.resource.id]
            reason = gettext('service_booking.msg_assigned_request',
                resource=resource.rec_name)
        else:
            policy = service.assignment_policy or 'capacity'
            resource, reason = getattr(self, '_assign_%s' % policy)(
                candidates)
        if service.required_tags:
            reason += '\n' + gettext('service_booking.msg_assigned_skills',
                tags=service.skills_text())
        return resource, reason

    def _assign_capacity(self, candidates):
        resource = candidates[0]
        return resource, gettext(
            'service_booking.msg_assigned_capacity',
            resource=resource.rec_name)

    def _assign_least_loaded(self, candidates):
        service = self.service
        loads = self.resource_loads(candidates)
        order = {c.id: i for i, c in enumerate(candidates)}
        resource = min(candidates, key=lambda c: (loads[c.id], order[c.id]))
        if service.load_measure == 'minutes':
            message = 'service_booking.msg_assigned_least_loaded_minutes'
        else:
            message = 'service_booking.msg_assigned_least_loaded_bookings'
        period = service.load_period or dt.timedelta(0)
        return resource, gettext(message,
            resource=resource.rec_name,
            load=loads[resource.id],
            start=self.local_string(self.start - period),
            end=self.local_string(self.start + period),
            others=', '.join('%s: %s' % (c.rec_name, loads[c.id])
                for c in candidates if c != resource) or '-')

    def _assign_round_robin(self, candidates):
        turns = self.resource_turns(candidates)
        links = {l.resource.id: l for l in self.service.resource_links}
        order = {c.id: i for i, c in enumerate(candidates)}

        def priority(resource):
            link = links.get(resource.id)
            return link.priority if link else 0

        def weight(resource):
            link = links.get(resource.id)
            return link.weight if link and link.weight else 1
        top = max(priority(c) for c in candidates)
        first = [c for c in candidates if priority(c) == top]
        # The smooth weighted turn: the resource furthest behind its share
        # (turns taken + 1 over weight), exact over any run of bookings
        resource = min(first, key=lambda c: (
                (turns[c.id] + 1) / weight(c), -weight(c), order[c.id]))
        return resource, gettext(
            'service_booking.msg_assigned_round_robin',
            resource=resource.rec_name,
            priority=top,
            weight=weight(resource),
            turns=turns[resource.id],
            others=', '.join('%s: %s/%s' % (c.rec_name, turns[c.id],
                    weight(c)) for c in first if c != resource) or '-')

    def resource_loads(self, resources):
        """Return {resource id: load} of the bookings of every service
        holding the resources in the load period around the booking's
        start (in minutes or bookings, as the service says); the booking
        itself is not counted"""
        service = self.service
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        period = service.load_period or dt.timedelta(0)
        start, end = self.start - period, self.start + period
        in_ = fields.SQL_OPERATORS['in']
        where = (in_(table.resource, [r.id for r in resources])
            & table.state.in_(list(OCCUPYING_STATES))
            & (table.start < end) & (table.end > start))
        if self.id is not None and self.id >= 0:
            where &= table.id != self.id
        loads = {r.id: 0 for r in resources}
        if service.load_measure == 'bookings':
            cursor.execute(*table.select(
                    table.resource, Count(table.id),
                    where=where, group_by=[table.resource]))
            for resource, count in cursor:
                loads[resource] = count
        else:
            # The minutes inside the period (portable: summed in Python)
            cursor.execute(*table.select(
                    table.resource, table.start, table.end, where=where))
            for resource, b_start, b_end in cursor:
                b_start = max(_datetime(b_start), start)
                b_end = min(_datetime(b_end), end)
                loads[resource] += int(
                    (b_end - b_start).total_seconds() // 60)
        return loads

    def resource_turns(self, resources):
        """Return {resource id: turns}: the bookings of the service that
        hold each resource (the booking itself is not counted)"""
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        in_ = fields.SQL_OPERATORS['in']
        where = (in_(table.resource, [r.id for r in resources])
            & (table.service == self.service.id)
            & table.state.in_(list(OCCUPYING_STATES)))
        if self.id is not None and self.id >= 0:
            where &= table.id != self.id
        turns = {r.id: 0 for r in resources}
        cursor.execute(*table.select(
                table.resource, Count(table.id),
                where=where, group_by=[table.resource]))
        for resource, count in cursor:
            turns[resource] = count
        return turns

    def change_resource(self, resource, note=None):
        """Give the booking (holding its slot) to resource, chosen by
        staff: the resource must serve the service (with its required
        tags) and be free in the slot under its lock, by the capacity and
        opening rule of Service.check_slot (the lead time and the horizon,
        which are the member's, do not apply).  Raise InvalidStateError,
        SlotUnavailableError (no_resource, closed) or SlotFullError."""
        service, start = self.service, self.start
        details = {
            'service': service.id,
            'start': self.local_string(start),
            'resource': int(resource),
            }
        if self.state not in REASSIGNABLE_STATES:
            raise self.invalid_state(
                'service_booking.msg_booking_reassign_state')

        def unavailable(reason):
            return SlotUnavailableError(gettext(
                    'service_booking.msg_slot_unavailable_%s' % reason,
                    service=service.rec_name,
                    start=self.local_string(start)),
                details=dict(details, reason=reason))
        with without_check_access():
            resources = service.available_resources(resource)
            if not resources:
                raise unavailable('no_resource')
            resource, = resources
            if self.resource and resource.id == self.resource.id:
                return
            self._lock_slot([resource.id], [])
            slots = [s for s in service.compute_slots(
                    [resource], start, start + dt.timedelta(seconds=1))
                if s['start'] == start]
            if not slots:
                raise unavailable('closed')
            if slots[0]['capacity_left'] <= 0:
                raise SlotFullError(gettext(
                        'service_booking.msg_slot_full',
                        service=service.rec_name,
                        start=self.local_string(start)),
                    details=details)
            reason = gettext('service_booking.msg_assigned_staff',
                resource=resource.rec_name,
                previous=self.resource.rec_name if self.resource else '-')
            if note:
                reason += '\n' + note
            with Transaction().set_context(_booking_reassign=True):
                self.write([self], {
                        'resource': resource.id,
                        'assigned_by': 'staff',
                        'assignment_reason': reason,
                        })


class ReassignStart(ModelView):
    "Reassign Booking"
    __name__ = 'booking.booking.reassign.start'

    booking = fields.Many2One('booking.booking', "Booking", readonly=True)
    service = fields.Many2One('booking.service', "Service", readonly=True)
    current_resource = fields.Many2One(
        'booking.resource', "Current Resource", readonly=True)
    resource = fields.Many2One(
        'booking.resource', "New Resource", required=True,
        domain=[
            ('services', '=', Eval('service', -1)),
            ('id', '!=', Eval('current_resource', -1)),
            ])
    note = fields.Text("Note", help="Why the booking changes resource.")


class Reassign(Wizard):
    "Reassign Booking"
    __name__ = 'booking.booking.reassign'

    start = StateView('booking.booking.reassign.start',
        'service_booking.booking_reassign_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Reassign", 'reassign', 'tryton-ok', default=True),
            ])
    reassign = StateTransition()

    def default_start(self, fields):
        booking = self.record
        return {
            'booking': booking.id,
            'service': booking.service.id,
            'current_resource': (
                booking.resource.id if booking.resource else None),
            }

    def transition_reassign(self):
        self.record.change_resource(self.start.resource, self.start.note)
        return 'end'
