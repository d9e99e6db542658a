# This file is part of the checkin_attendance module.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.i18n import gettext
from trytond.model import Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import PoolMeta


class Line(metaclass=PoolMeta):
    __name__ = 'attendance.line'

    checkin = fields.Many2One(
        'checkin.attendance', "Check-in", readonly=True, ondelete='CASCADE',
        help="The check-in (or its check-out) that created the line.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            # One line in and one line out per check-in: the transfer is
            # idempotent
            ('checkin_type_unique', Unique(t, t.checkin, t.type),
                'checkin_attendance.msg_line_checkin_unique'),
            ]

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(
            mode, lines, values=values, external=external)
        # Only the check-ins link their lines
        if external and mode in {'create', 'write'} and 'checkin' in values:
            raise AccessError(gettext(
                    'checkin_attendance.msg_line_checkin_set'))
