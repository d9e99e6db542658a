# This file is part of the checkin_attendance module.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.modules.attendance.exceptions import PeriodClosedError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import AttendancePeriodClosedError

# The fields of a check-in whose change changes its attendance lines
FED_FIELDS = {'status', 'counted', 'time', 'checkout_time', 'member'}


class Event(metaclass=PoolMeta):
    __name__ = 'checkin.event'

    feed_attendance = fields.Boolean(
        "Feed Tryton Attendance",
        states={
            'invisible': Eval('kind') != 'daily',
            },
        help="If checked, the check-ins and check-outs of the members who "
        "are employees of the attendance company become attendance lines.")
    attendance_company = fields.Many2One(
        'company.company', "Attendance Company",
        states={
            'invisible': ~Eval('feed_attendance', False),
            'required': Eval('feed_attendance', False),
            },
        help="A member feeds the attendance when an employee of this "
        "company has the member's party.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Read with the event on each check-in (Attendance._insert)
        cls._snapshot_fields = cls._snapshot_fields + [
            'feed_attendance', 'attendance_company']
        cls._buttons.update({
                'transfer_attendance': {
                    'invisible': ~Eval('feed_attendance', False),
                    'icon': 'tryton-refresh',
                    'depends': ['feed_attendance'],
                    },
                })

    @classmethod
    def default_feed_attendance(cls):
        return False

    @classmethod
    def default_attendance_company(cls):
        return Transaction().context.get('company')

    @property
    def feeds_attendance(self):
        "The check-ins of the event become attendance lines"
        return bool(self.kind == 'daily' and self.feed_attendance
            and self.attendance_company)

    @classmethod
    @ModelView.button
    def transfer_attendance(cls, events):
        """Bring the attendance lines of all the check-ins of the events in
        line with them: for the check-ins recorded before the event fed
        the attendance, or after employees were added"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        events = [e for e in events if e.feeds_attendance]
        if not events:
            return
        with without_check_access():
            attendances = Attendance.search([
                    ('event', 'in', [e.id for e in events]),
                    ], order=[('time', 'ASC'), ('id', 'ASC')])
        Attendance.feed_attendance(attendances)


class Attendance(metaclass=PoolMeta):
    __name__ = 'checkin.attendance'

    attendance_lines = fields.One2Many(
        'attendance.line', 'checkin', "Attendance Lines", readonly=True,
        help="The lines in and out of the employee in Tryton's attendance.")

    @classmethod
    def _inserted(cls, attendances):
        # The snapshot of the event read by the check-in tells whether it
        # feeds the attendance without a query: the other events pay nothing
        pool = Pool()
        Event = pool.get('checkin.event')
        super()._inserted(attendances)
        feeding = [a for a, values in attendances
            if Event.snapshot(values['event']).feeds_attendance]
        if feeding:
            cls.feed_attendance(feeding)

    @classmethod
    def _follows_insert(cls, values):
        pool = Pool()
        Event = pool.get('checkin.event')
        return (super()._follows_insert(values)
            or bool(Event.snapshot(values['event']).feeds_attendance))

    @classmethod
    def on_modification(cls, mode, attendances, field_names=None):
        super().on_modification(mode, attendances, field_names=field_names)
        if mode == 'write' and field_names & FED_FIELDS:
            with without_check_access():
                cls.feed_attendance([
                        a for a in cls.browse(attendances)
                        if a.event.feeds_attendance])

    def attendance_employee(self):
        """Return the employee of the attendance company of the event whose
        party is the member's, employed on the day of the check-in"""
        pool = Pool()
        Employee = pool.get('company.employee')
        date = self.local_date
        with Transaction().set_context(active_test=False):
            employees = Employee.search([
                    ('party', '=', self.member.party.id),
                    ('company', '=', self.event.attendance_company.id),
                    ['OR',
                        ('start_date', '=', None),
                        ('start_date', '<=', date),
                        ],
                    ['OR',
                        ('end_date', '=', None),
                        ('end_date', '>=', date),
                        ],
                    ], order=[('id', 'ASC')], limit=1)
        return employees[0] if employees else None

    def _attendance_line_values(self):
        """Return the values of the attendance lines that the check-in
        makes, by type: an in line for a counted check-in of an employee
        and an out line once checked out"""
        Line = Pool().get('attendance.line')
        if not self.counted or not self.event.feeds_attendance:
            return {}
        employee = self.attendance_employee()
        if not employee:
            return {}
        values = {'in': self.time}
        if self.checkout_time:
            values['out'] = self.checkout_time
        company = self.event.attendance_company
        return {type_: {
                'checkin': self.id,
                'type': type_,
                'at': at,
                # As the line computes it: the day in the company's time
                # zone
                'date': Line(at=at, company=company).on_change_with_date(),
                'employee': employee.id,
                'company': company.id,
                } for type_, at in values.items()}

    @classmethod
    def feed_attendance(cls, attendances):
        """Make the attendance lines of the check-ins match them (see
        _attendance_line_values): created, corrected or removed; a second
        call changes nothing.  A line in a closed attendance period raises
        AttendancePeriodClosedError."""
        pool = Pool()
        Line = pool.get('attendance.line')
        with without_check_access():
            for attendance in cls.browse(attendances):
                wanted = attendance._attendance_line_values()
                lines = {l.type: l for l in attendance.attendance_lines}
                to_delete, to_write, to_create = [], [], []
                for type_, line in lines.items():
                    if type_ not in wanted:
                        to_delete.append(line)
                        continue
                    values = {
                        k: v for k, v in wanted[type_].items()
                        if k in {'at', 'date', 'employee', 'company'}
                        and getattr(getattr(line, k), 'id',
                            getattr(line, k)) != v}
                    if values:
                        to_write.extend(([line], values))
                to_create = [v for t, v in wanted.items() if t not in lines]
                try:
                    if to_delete:
                        Line.delete(to_delete)
                    if to_write:
                        Line.write(*to_write)
                    if to_create:
                        Line.create(to_create)
                except PeriodClosedError as error:
                    raise AttendancePeriodClosedError(gettext(
                            'checkin_attendance.msg_period_closed',
                            checkin=attendance.rec_name,
                            error=error.message)) from error
