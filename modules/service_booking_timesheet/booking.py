# This file is part of the service_booking_timesheet module.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
import datetime as dt

from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import without_check_access

# The fields of a booking whose change changes its timesheet line
FED_FIELDS = {
    'state', 'start', 'end', 'date', 'resource', 'service', 'company',
    'door_checkin', 'door_checkout', 'duration_min'}
DURATIONS = [
    ('real', "Real"),
    ('booked', "Booked"),
    ]


class Configuration(metaclass=PoolMeta):
    __name__ = 'member.configuration'

    timesheet_work = fields.Many2One(
        'timesheet.work', "Default Timesheet Work",
        help="The work on which the technicians' time is spent for the "
        "services without one.")
    timesheet_duration = fields.Selection(
        DURATIONS, "Timesheet Duration", required=True,
        help="Real: from the door check-in to the check-out when the "
        "technician checked in at the door, else the booked duration.\n"
        "Booked: the booked duration.")

    @classmethod
    def default_timesheet_duration(cls):
        return 'real'


class Service(metaclass=PoolMeta):
    __name__ = 'booking.service'

    timesheet_work = fields.Many2One(
        'timesheet.work', "Timesheet Work",
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        help="The work on which the technicians' time on the bookings is "
        "spent; the default of the configuration when empty.")


class Booking(metaclass=PoolMeta):
    __name__ = 'booking.booking'

    timesheet_lines = fields.One2Many(
        'timesheet.line', 'booking', "Timesheet Lines", readonly=True,
        help="The time of the technician on the booking.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'transfer_timesheet': {
                    'invisible': Eval('state') != 'done',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def on_modification(cls, mode, bookings, field_names=None):
        super().on_modification(mode, bookings, field_names=field_names)
        if mode == 'write' and field_names & FED_FIELDS:
            cls.feed_timesheet(bookings)

    def timesheet_employee(self):
        """Return the employee of the booking's company who delivers it:
        the employee of the resource, or the employee of its user"""
        resource = self.resource
        if not resource:
            return None
        employee = None
        if resource.kind == 'employee':
            employee = resource.employee
        elif resource.kind == 'user' and resource.user:
            employee = resource.user.employee
        if employee and employee.company == self.company:
            return employee

    def timesheet_work(self):
        "Return the work of the service or of the configuration"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        work = self.service.timesheet_work or Configuration(1).timesheet_work
        if work and work.company == self.company:
            return work

    def timesheet_duration(self):
        """Return the time spent on the booking: the real duration of the
        door check-in and check-out (unless the configuration says booked),
        else the booked duration"""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        if (Configuration(1).timesheet_duration == 'real'
                and self.door_checkout and self.duration_min is not None):
            return dt.timedelta(minutes=self.duration_min)
        return self.end - self.start

    def _timesheet_line_values(self):
        """Return the values of the timesheet line of the booking: one for
        a done booking of an employee with a work, else None"""
        if self.state != 'done':
            return None
        employee = self.timesheet_employee()
        work = self.timesheet_work()
        if not employee or not work:
            return None
        return {
            'booking': self.id,
            'company': self.company.id,
            'employee': employee.id,
            'work': work.id,
            'date': self.date,
            'duration': self.timesheet_duration(),
            'description': self.rec_name,
            }

    @classmethod
    @ModelView.button
    def transfer_timesheet(cls, bookings):
        "Bring the timesheet lines of the bookings in line with them"
        cls.feed_timesheet(bookings)

    @classmethod
    def feed_timesheet(cls, bookings):
        """Make the timesheet line of the bookings match them (see
        _timesheet_line_values): created, corrected or removed; a second
        call changes nothing"""
        pool = Pool()
        Line = pool.get('timesheet.line')
        to_create, to_write, to_delete = [], [], []
        with without_check_access():
            for booking in cls.browse(bookings):
                wanted = booking._timesheet_line_values()
                lines = list(booking.timesheet_lines)
                if not wanted:
                    to_delete.extend(lines)
                elif not lines:
                    to_create.append(wanted)
                else:
                    line, = lines
                    values = {
                        k: v for k, v in wanted.items()
                        if k != 'booking' and getattr(
                            getattr(line, k), 'id', getattr(line, k)) != v}
                    if values:
                        to_write.extend(([line], values))
            if to_delete:
                Line.delete(to_delete)
            if to_write:
                Line.write(*to_write)
            if to_create:
                Line.create(to_create)
