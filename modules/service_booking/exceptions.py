# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError


class _Coded:
    """A refusal the mini-program API reports as is.

    `error_code` is the machine code of API.md and `details` a dictionary
    of plain values (ids, ISO dates, reasons) for the error object.  (`code`
    stays UserError's numeric RPC fault code.)"""
    error_code = None

    def __init__(self, *args, details=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.details = dict(details or {})


class BookingError(_Coded, UserError):
    error_code = 'booking_error'


class SlotFullError(BookingError):
    "No capacity is left in the slot"
    error_code = 'slot_full'


class SlotUnavailableError(BookingError):
    """The start is not bookable: closed, in the past, within the lead time,
    beyond the booking horizon of the member's tier, off the slot grid or not
    served by the resource.  details['reason'] says which."""
    error_code = 'slot_unavailable'


class BookingOverlapError(BookingError):
    "The member already holds a booking at that time"
    error_code = 'booking_overlap'


class CancelWindowError(BookingError):
    "Too late for the member to cancel"
    error_code = 'cancel_window_passed'


class InvalidStateError(BookingError):
    "The booking is not in a state that allows the action"
    error_code = 'invalid_state'


class TooEarlyError(BookingError):
    """An action on a booking before its time: started before the start
    grace of the service, finished or marked as no-show before its start"""
    error_code = 'too_early'


class NoShowTooEarlyError(TooEarlyError):
    "A booking marked as no-show before its start"


class BeginTooEarlyError(TooEarlyError):
    "A booking started before the start grace of its service"


class FinishTooEarlyError(TooEarlyError):
    "A booking finished (done) before its start"


class BookingNotFoundError(BookingError):
    "The booking or service does not exist or is not the member's"
    error_code = 'not_found'


class BookingAccessError(_Coded, AccessError):
    "A member acting for another member"
    error_code = 'forbidden'


class BookingModificationError(_Coded, AccessError):
    error_code = 'invalid_state'


class ScheduleValidationError(ValidationError):
    pass


class ServiceValidationError(ValidationError):
    pass


class PointsLimitError(BookingError):
    """More points than the share of the price that points may pay (or not
    a count of points)"""
    error_code = 'points_limit'


# Rescheduling and the waiting list

class SlotNotFullError(BookingError):
    "A member joins the waiting list of a slot that has a place left"
    error_code = 'slot_not_full'


class AlreadyWaitingError(BookingError):
    "The member is already on the waiting list of the slot"
    error_code = 'already_waiting'


class OfferExpiredError(BookingError):
    "The place offered from the waiting list is no longer held"
    error_code = 'offer_expired'


class BookingSuspendedError(BookingError):
    "The member's bookings are suspended by the ban of a no-show"
    error_code = 'booking_suspended'


# Ratings

class AlreadyRatedError(BookingError):
    "The booking has a rating already"
    error_code = 'already_rated'


class RatingEditWindowError(BookingError):
    "Too late for the member to change the rating"
    error_code = 'edit_window_passed'


class RatingValueError(BookingError):
    "Stars out of 1 to 5, a comment too long or an unknown tag"
    error_code = 'invalid_request'


# The technician at the door

class DoorOutOfRangeError(BookingError):
    """A door check-in out of the radius of the address, refused by the
    policy of the service"""
    error_code = 'out_of_range'


class InvalidCoordTypeError(BookingError):
    "A position in a coordinate system other than wgs84 and gcj02"
    error_code = 'invalid_coord_type'


class InvalidPositionError(BookingError):
    "A position missing, not a number or out of range"
    error_code = 'invalid_request'
