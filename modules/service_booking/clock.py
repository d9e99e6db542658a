# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"The clock of the booking rules (lead time, horizon, cancellation window)"
import datetime as dt

from trytond.transaction import Transaction

UTC = dt.timezone.utc


def now():
    """Return the current time as a naive UTC datetime.

    The `_booking_now` context key fixes it (tests, demo data replaying the
    past).  Private context keys are removed from the context of RPC calls, so
    clients cannot change the clock.  Scenarios running in-process may also
    patch this function."""
    value = Transaction().context.get('_booking_now')
    if value is not None:
        return to_utc(value)
    return dt.datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def to_utc(value):
    "Return value as a naive UTC datetime to the second"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def to_local(value, tzinfo):
    "Return the naive UTC datetime value as an aware datetime of tzinfo"
    return value.replace(tzinfo=UTC).astimezone(tzinfo)


def local_to_utc(value, tzinfo, fold=0):
    "Return the naive local datetime value of tzinfo as naive UTC"
    return (value.replace(tzinfo=tzinfo, fold=fold)
        .astimezone(UTC).replace(tzinfo=None))
