# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The errors of the outbox; `error_code` and `details` are what the
mini-program API answers for them."""
from trytond.exceptions import UserError


class MessageError(UserError):
    pass


class SubscriptionError(MessageError):
    "A subscription answer that wx.requestSubscribeMessage cannot give"
    error_code = 'invalid_request'

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = dict(details or {})


class SubscriptionTemplateError(SubscriptionError):
    "A subscription answer names templates that do not exist"
    error_code = 'unknown_template'
