# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Errors of the mini-program rules.  Each carries the machine code of the
API contract as `error_code` (UserError's own `code` is the RPC fault code)
and optional `details`; the API answers them as JSON, as it answers its own
ApiError."""
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class MiniprogramError(UserError):
    error_code = 'invalid_request'

    def __init__(self, message, details=None, **kwargs):
        super().__init__(message, **kwargs)
        self.details = details or {}


class PhoneTaken(MiniprogramError):
    error_code = 'phone_taken'


class InvalidCredentials(MiniprogramError):
    error_code = 'invalid_credentials'
    # The failed attempt is kept: the transaction is committed
    rollback = False


class LoginThrottled(MiniprogramError):
    error_code = 'rate_limited'

    def __init__(self, message, retry_after, **kwargs):
        super().__init__(message, details={'retry_after': retry_after},
            **kwargs)
        self.retry_after = retry_after


class TokenInvalid(MiniprogramError):
    error_code = 'unauthorized'
    rollback = False


class WeChatUnavailable(MiniprogramError):
    error_code = 'wechat_unavailable'


class WeChatCodeInvalid(MiniprogramError):
    error_code = 'invalid_credentials'


class Forbidden(MiniprogramError):
    error_code = 'forbidden'


class NotFound(MiniprogramError):
    error_code = 'not_found'


class KioskEventOver(MiniprogramError):
    error_code = 'event_not_open'


# HTTP status of the machine codes raised by the models (exception classes
# carry an `error_code` attribute); unknown codes are 422.
CODE_STATUS = {
    'invalid_request': 400,
    'unauthorized': 401,
    'invalid_credentials': 401,
    'forbidden': 403,
    'not_found': 404,
    # A check-in method the event does not accept (HTTP 405 is answered
    # by the middleware with the same code)
    'method_not_allowed': 422,
    'conflict': 409,
    'phone_taken': 409,
    'already_checked_in': 409,
    # A check-out sent again, or after the automatic one (issue 22)
    'already_checked_out': 409,
    # A check-out without a counted check-in
    'not_checked_in': 422,
    'qr_expired': 422,
    'invalid_token': 422,
    'event_not_open': 422,
    'out_of_range': 422,
    'wifi_mismatch': 422,
    'not_on_roster': 422,
    'slot_full': 409,
    'booking_overlap': 409,
    # The member is already on the waiting list of the slot
    'already_waiting': 409,
    # A booking is rated once (issue 20)
    'already_rated': 409,
    # The last of a reward was redeemed
    'out_of_stock': 409,
    # me/subscriptions with a template id of no template
    'unknown_template': 422,
    'payload_too_large': 413,
    'uri_too_long': 414,
    'header_too_large': 431,
    'unsupported_media_type': 415,
    'rate_limited': 429,
    'internal_error': 500,
    'wechat_unavailable': 502,
    'service_unavailable': 503,
    }


class ApiError(Exception):
    'An error answered as {"error": {code, message, details}}'

    def __init__(self, code, message, details=None, status=None,
            headers=None, rollback=True):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or CODE_STATUS.get(code, 422)
        self.headers = headers or {}
        self.rollback = rollback


class InvalidCode(MiniprogramError):
    "A verification code refused: wrong, expired, used or blocked (422)"
    error_code = 'invalid_code'
    # The wrong attempt is counted: the transaction is committed
    rollback = False


class EntryCodeValidationError(ValidationError):
    pass


class EntryCodeError(UserError):
    "An entry code that WeChat refused to draw (for the staff)"
