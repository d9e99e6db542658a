# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.tools import timezone as tz
from trytond.transaction import Transaction

from .exceptions import ScheduleValidationError
from .service import TIMEZONES, default_timezone
from .slot import Schedule, time_offset

WEEKDAYS = [
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ]
# Calendar colours of the resources, by default in turn
COLORS = [
    '#3465a4', '#4e9a06', '#c4a000', '#ce5c00', '#75507b', '#cc0000',
    '#06989a', '#8f5902', '#204a87', '#5c3566',
    ]


class Resource(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Booking Resource"
    __name__ = 'booking.resource'

    company = fields.Many2One(
        'company.company', "Company", required=True,
        states={
            'readonly': Eval('id', -1) >= 0,
            })
    name = fields.Char("Name", required=True)
    kind = fields.Selection([
            ('employee', "Staff (Employee)"),
            ('user', "Staff (User)"),
            ('room', "Room"),
            ('vehicle', "Vehicle"),
            ], "Kind", required=True)
    employee = fields.Many2One(
        'company.employee', "Employee", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        states={
            'invisible': Eval('kind') != 'employee',
            'required': Eval('kind') == 'employee',
            },
        help="The employee who delivers the bookings; the users linked to "
        "the employee see them as booking staff.")
    user = fields.Many2One(
        'res.user', "User", ondelete='RESTRICT',
        states={
            'invisible': Eval('kind') != 'user',
            'required': Eval('kind') == 'user',
            },
        help="The user who delivers the bookings and sees them as booking "
        "staff.")
    timezone = fields.Selection(
        TIMEZONES, "Timezone", required=True, translate=False,
        help="The time zone of the opening hours.")
    capacity = fields.Integer(
        "Capacity",
        domain=['OR',
            ('capacity', '=', None),
            ('capacity', '>', 0),
            ],
        help="The most bookings the resource takes in one slot (the seats "
        "of a room).\n"
        "Leave empty for the capacity of the service.")
    color = fields.Char(
        "Colour",
        help="The colour of the resource's bookings in the calendar "
        "(a CSS colour such as #3465a4).")
    hours = fields.One2Many(
        'booking.resource.hours', 'resource', "Opening Hours")
    exceptions = fields.One2Many(
        'booking.resource.exception', 'resource', "Exceptions",
        help="Holidays, leave and days with special hours.")
    services = fields.Many2Many(
        'booking.service-booking.resource', 'resource', 'service',
        "Services",
        domain=[
            ('company', '=', Eval('company', -1)),
            ])

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_kind(cls):
        return 'employee'

    @classmethod
    def default_timezone(cls):
        return default_timezone()

    @classmethod
    def default_color(cls):
        with Transaction().set_context(active_test=False):
            return COLORS[cls.search_count([]) % len(COLORS)]

    @fields.depends('employee', 'user', 'name')
    def on_change_employee(self):
        if self.employee and not self.name:
            self.name = self.employee.rec_name

    @fields.depends('user', 'name')
    def on_change_user(self):
        if self.user and not self.name:
            self.name = self.user.rec_name

    @fields.depends('kind', 'employee', 'user')
    def on_change_kind(self):
        if self.kind != 'employee':
            self.employee = None
        if self.kind != 'user':
            self.user = None

    @property
    def tzinfo(self):
        return tz.get_tzinfo(self.timezone or 'UTC')

    @property
    def schedule(self):
        "The opening hours as a slot.Schedule"
        return self._schedule(
            [(h.weekday, h.start_time, h.end_time) for h in self.hours],
            [(e.start_date, e.end_date, e.closed, e.start_time, e.end_time)
                for e in self.exceptions])

    @classmethod
    def schedules(cls, resources):
        """Return the schedule of each resource by id, read with one query
        per table: the slots of many resources are computed without
        instantiating their hours and exceptions"""
        pool = Pool()
        Hours = pool.get('booking.resource.hours')
        Exception_ = pool.get('booking.resource.exception')
        hours_table = Hours.__table__()
        exception = Exception_.__table__()
        cursor = Transaction().connection.cursor()
        in_ = fields.SQL_OPERATORS['in']
        hours = {r.id: [] for r in resources}
        exceptions = {r.id: [] for r in resources}
        for sub_ids in grouped_slice(list(hours), backend.MAX_QUERY_PARAMS):
            sub_ids = list(sub_ids)
            cursor.execute(*hours_table.select(
                    hours_table.resource, hours_table.weekday,
                    hours_table.start_time, hours_table.end_time,
                    where=in_(hours_table.resource, sub_ids)))
            for resource, *values in cursor:
                hours[resource].append(values)
            cursor.execute(*exception.select(
                    exception.resource, exception.start_date,
                    exception.end_date, exception.closed,
                    exception.start_time, exception.end_time,
                    where=in_(exception.resource, sub_ids)))
            for resource, *values in cursor:
                exceptions[resource].append(values)
        return {i: cls._schedule(hours[i], exceptions[i]) for i in hours}

    @classmethod
    def _schedule(cls, hours, exceptions):
        """Return the Schedule of the hours (weekday, start time, end time)
        and exceptions (start date, end date, closed, start time, end
        time)"""
        return Schedule([(
                    int(weekday), time_offset(start),
                    time_offset(end, end=True))
                for weekday, start, end in hours], [(
                    first, last, bool(closed),
                    time_offset(start) if start else None,
                    time_offset(end, end=True) if end else None)
                for first, last, closed, start, end in exceptions])

    @classmethod
    def copy(cls, resources, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('services', None)
        return super().copy(resources, default=default)


def _check_times(record, start, end):
    "Raise if the end is not after the start (midnight ends the day)"
    if start is None or end is None:
        return
    if time_offset(end, end=True) <= time_offset(start):
        raise ScheduleValidationError(gettext(
                'service_booking.msg_hours_end_before_start',
                record=record.rec_name,
                start=start.strftime('%H:%M'), end=end.strftime('%H:%M')))


class Hours(ModelSQL, ModelView):
    "Resource Opening Hours"
    __name__ = 'booking.resource.hours'

    resource = fields.Many2One(
        'booking.resource', "Resource", required=True, ondelete='CASCADE')
    weekday = fields.Selection(WEEKDAYS, "Weekday", required=True, sort=False)
    weekday_string = weekday.translated('weekday')
    start_time = fields.Time("Start Time", required=True, format='%H:%M')
    end_time = fields.Time(
        "End Time", required=True, format='%H:%M',
        help="00:00 is midnight at the end of the day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('resource')
        cls._order = [
            ('resource', 'ASC'),
            ('weekday', 'ASC'),
            ('start_time', 'ASC'),
            ('id', 'ASC'),
            ]

    def get_rec_name(self, name):
        return '%s %s-%s' % (
            self.weekday_string,
            self.start_time.strftime('%H:%M') if self.start_time else '',
            self.end_time.strftime('%H:%M') if self.end_time else '')

    @classmethod
    def validate_fields(cls, hours, field_names):
        super().validate_fields(hours, field_names)
        if field_names & {'start_time', 'end_time'}:
            for record in hours:
                _check_times(record, record.start_time, record.end_time)


class Exception_(ModelSQL, ModelView):
    "Resource Exception"
    __name__ = 'booking.resource.exception'

    resource = fields.Many2One(
        'booking.resource', "Resource", required=True, ondelete='CASCADE')
    reason = fields.Char(
        "Reason", required=True, help="The holiday, the leave, ...")
    start_date = fields.Date(
        "Start Date", required=True,
        domain=[
            If(Bool(Eval('end_date')),
                ('start_date', '<=', Eval('end_date', None)),
                ()),
            ])
    end_date = fields.Date(
        "End Date", required=True,
        domain=[
            If(Bool(Eval('start_date')),
                ('end_date', '>=', Eval('start_date', None)),
                ()),
            ])
    closed = fields.Boolean(
        "Closed",
        help="Check when the resource is closed on these dates; uncheck to "
        "open it only in the hours below.")
    start_time = fields.Time(
        "Start Time", format='%H:%M',
        states={
            'invisible': Bool(Eval('closed')),
            'required': ~Eval('closed'),
            })
    end_time = fields.Time(
        "End Time", format='%H:%M',
        states={
            'invisible': Bool(Eval('closed')),
            'required': ~Eval('closed'),
            },
        help="00:00 is midnight at the end of the day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('resource')
        cls._order = [
            ('start_date', 'DESC'),
            ('id', 'DESC'),
            ]

    @classmethod
    def default_closed(cls):
        return True

    @fields.depends('closed')
    def on_change_closed(self):
        if self.closed:
            self.start_time = self.end_time = None

    def get_rec_name(self, name):
        return '%s (%s)' % (self.reason, self.start_date)

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('closed'):
            values['start_time'] = values['end_time'] = None
        return values

    @classmethod
    def validate_fields(cls, exceptions, field_names):
        super().validate_fields(exceptions, field_names)
        if field_names & {'start_time', 'end_time', 'closed'}:
            for record in exceptions:
                _check_times(record, record.start_time, record.end_time)
