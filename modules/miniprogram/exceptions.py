# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Errors of the mini-program rules.  Each carries the machine code of the
API contract as `error_code` (UserError's own `code` is the RPC fault code)
and optional `details`; the API answers them as JSON."""
from trytond.exceptions import UserError


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


class KioskEventOver(MiniprogramError):
    error_code = 'event_not_open'
