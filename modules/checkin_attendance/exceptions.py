# This file is part of the checkin_attendance module.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError


class AttendancePeriodClosedError(UserError):
    "The attendance line of a check-in falls in a closed attendance period"
