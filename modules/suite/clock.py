# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The one clock of the suite.

Every rule in time (streaks and the local day, QR windows, activity codes,
opening hours, late arrivals, booking lead time, horizon, start grace and
cancellation window, reminders, the message outbox, token expiry, Tryton's
`ir.date.today()`) asks `now()` instead of reading the system clock, so that
tests move the time of every module at once without sleeping:

- server-side code and unit tests set the private context key `_clock_now`
  (private keys are stripped from RPC calls, so a client cannot forge the
  time);
- in-process tests and proteus scenarios may call `freeze(datetime)` and
  `unfreeze()`.

Only real elapsed time (timeouts, back-off sleeps, the expiry the JWT
library checks) reads the system clock, marked `# real time` where it does.
"""
import datetime as dt

from trytond.transaction import Transaction

UTC = dt.timezone.utc
CONTEXT_KEY = '_clock_now'

_frozen = None


def to_utc(value):
    "Return value (naive UTC or aware) as a naive UTC datetime to the second"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def now():
    """Return the current time as a naive UTC datetime (Tryton convention),
    to the second (the precision of Tryton's DateTime fields)"""
    value = (Transaction().context or {}).get(CONTEXT_KEY)
    if value is None:
        value = _frozen
    if value is None:
        value = dt.datetime.now(UTC)  # the system clock: the only reading
    return to_utc(value)


def today(tzinfo=None):
    "Return the current date in tzinfo (default UTC)"
    return to_local(now(), tzinfo or UTC).date()


def freeze(value):
    "Make now() return value (a naive UTC or an aware datetime)"
    global _frozen
    _frozen = to_utc(value) if value is not None else None


def unfreeze():
    "Make now() follow the system clock again"
    freeze(None)


def frozen():
    "Tell if the clock is frozen (by freeze() or by the context)"
    return (_frozen is not None
        or (Transaction().context or {}).get(CONTEXT_KEY) is not None)


def at(value):
    "Return the context manager that sets the clock of the transaction"
    return Transaction().set_context({CONTEXT_KEY: value})


def to_local(value, tzinfo):
    "Return the naive UTC datetime value as an aware datetime of tzinfo"
    return value.replace(tzinfo=UTC).astimezone(tzinfo)


def local_to_utc(value, tzinfo, fold=0):
    "Return the naive local datetime value of tzinfo as naive UTC"
    return (value.replace(tzinfo=tzinfo, fold=fold)
        .astimezone(UTC).replace(tzinfo=None))


def timestamp(value):
    "Return the POSIX timestamp of a naive UTC datetime"
    return value.replace(tzinfo=UTC).timestamp()


def from_timestamp(value):
    "Return the naive UTC datetime of a POSIX timestamp"
    return dt.datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
