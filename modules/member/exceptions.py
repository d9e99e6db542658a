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


class LockUnlessFound(Exception):
    """Raised by the posting of an entry that takes the member's lock
    (member.points.line._post_entries, lock) when its look-up found the
    record that answers instead: nothing was posted nor locked"""

    def __init__(self, record_id):
        super().__init__(record_id)
        self.record_id = record_id


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


class RewardError(UserError):
    """A refusal of the rewards catalogue that the mini-program API reports
    as is: `error_code` is the machine code of API.md and `details` plain
    values for the error object"""
    error_code = 'reward_error'

    def __init__(self, *args, details=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.details = dict(details or {})


class RewardNotFoundError(RewardError):
    "The reward or the redemption does not exist or is not the member's"
    error_code = 'not_found'


class RewardUnavailableError(RewardError):
    "The reward may not be redeemed today (before or after its validity)"
    error_code = 'reward_unavailable'


class OutOfStockError(RewardError):
    "No stock of the reward is left"
    error_code = 'out_of_stock'


class InsufficientPointsError(RewardError):
    "The points available to the member do not cover the spending"
    error_code = 'insufficient_points'


class InvalidCouponError(RewardError):
    """The coupon code is unknown (or another member's), used, voided,
    expired or not accepted there; details['reason'] says which"""
    error_code = 'invalid_coupon'


class RedemptionStateError(RewardError):
    "The redemption is not in a state that allows the action"
    error_code = 'invalid_state'
