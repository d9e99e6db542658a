# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.transaction import TransactionError


class CheckInError(UserError):
    """A check-in refused by a business rule.

    `error_code` is the machine-readable code of the mini-program API
    (API.md) and `details` a JSON-serialisable dictionary that explains it
    (for example the distance and the radius of `out_of_range`).  `code`
    stays UserError's numeric RPC fault code."""
    error_code = 'checkin_refused'

    def __init__(self, message, details=None, description=''):
        super().__init__(message, description)
        self.details = dict(details or {})


class AlreadyCheckedInError(CheckInError):
    error_code = 'already_checked_in'


class NotCheckedInError(CheckInError):
    "A check-out without a counted check-in to the event (of the day)"
    error_code = 'not_checked_in'


class AlreadyCheckedOutError(CheckInError):
    "A second check-out: details has the check-in with its check-out"
    error_code = 'already_checked_out'


class QRExpiredError(CheckInError):
    error_code = 'qr_expired'


class InvalidTokenError(CheckInError):
    error_code = 'invalid_token'


class EventNotOpenError(CheckInError):
    error_code = 'event_not_open'


class OutOfRangeError(CheckInError):
    error_code = 'out_of_range'


class WifiMismatchError(CheckInError):
    error_code = 'wifi_mismatch'


class NotOnRosterError(CheckInError):
    error_code = 'not_on_roster'


class MethodNotAllowedError(CheckInError):
    error_code = 'method_not_allowed'


class MemberUnknownError(CheckInError):
    "No (active) member has the id given"
    error_code = 'not_found'


class InvalidCheckInError(CheckInError):
    "Malformed check-in data (the API answers 400 invalid_request)"
    error_code = 'invalid_request'


class InvalidCoordTypeError(CheckInError):
    """A position in a coordinate system other than wgs84 and gcj02, or in
    gcj02 outside China (details: coord_type, allowed, reason)"""
    error_code = 'invalid_coord_type'


class CheckInAccessError(AccessError):
    pass


class EventValidationError(ValidationError):
    pass


class EventError(UserError):
    pass


class TagValidationError(ValidationError):
    pass


class ReviewError(UserError):
    pass


class AttendanceAccessError(AccessError):
    pass


class ConfigurationValidationError(ValidationError):
    pass


class ExperimentError(UserError):
    pass


class ExperimentValidationError(ValidationError):
    pass


class CheckInRestart(TransactionError):
    """Restart the transaction with a new snapshot.

    Raised when the database refused a duplicate check-in whose existing
    record was committed after the transaction started: the restarted
    transaction reads it and answers `duplicate`."""

    def fix(self, extras):
        super().fix(extras)
