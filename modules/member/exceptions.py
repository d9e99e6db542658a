# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError


class PhoneValidationError(ValidationError):
    pass


class NegativeBalanceError(UserError):
    pass


class PointsError(UserError):
    pass


class IdempotencyKeyError(UserError):
    pass


class LedgerAccessError(AccessError):
    pass


class PasswordError(UserError):
    pass


class MessageError(UserError):
    pass


class SubscriptionTemplateError(MessageError):
    "A subscription answer names templates that do not exist"
    error_code = 'unknown_template'

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = dict(details or {})


class ReplaceMemberError(UserError):
    pass
