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


class ReplaceMemberError(UserError):
    pass
