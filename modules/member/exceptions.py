# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.transaction import TransactionError


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


class ReplaceMemberError(UserError):
    pass


class ConcurrentCreation(TransactionError):
    """Restart the transaction with a new snapshot.

    Raised by a get-or-create when the database refused the record because
    a concurrent transaction, committed after this one started, created it:
    the restarted transaction finds it.  Restarted at most `attempts`
    times per request (the count is kept in the transaction extras)."""
    attempts = 5

    def __init__(self, key):
        super().__init__(key)
        self.key = key

    def fix(self, extras):
        super().fix(extras)
        count = extras.setdefault('_concurrent_creation', {})
        count[self.key] = count.get(self.key, 0) + 1
        if count[self.key] > self.attempts:
            raise RuntimeError(
                "%s created concurrently %s times" % (self.key, self.attempts))
