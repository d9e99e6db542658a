# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The clock of the check-in rules.

Every time-dependent rule (QR windows, activity codes, opening hours, late
arrivals, the local day of daily attendance, the offline sync delay) asks
`now()` instead of reading the system clock, so that tests can move time
without sleeping:

- server-side code and unit tests set the private context key
  `_checkin_now` (private keys are stripped from RPC calls, so a client
  cannot forge the time);
- in-process tests and proteus scenarios may call `freeze(datetime)` and
  `unfreeze()`.
"""
import datetime as dt

_frozen = None


def _as_naive_utc(value):
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def now():
    """Return the current time as a naive UTC datetime (Tryton convention),
    to the second (the precision of Tryton's DateTime fields)"""
    from trytond.transaction import Transaction
    context = Transaction().context or {}
    value = context.get('_checkin_now')
    if value is None:
        value = _frozen
    if value is None:
        value = dt.datetime.now(dt.timezone.utc)
    return _as_naive_utc(value).replace(microsecond=0)


def freeze(value):
    "Make now() return value (a naive UTC or an aware datetime)"
    global _frozen
    _frozen = _as_naive_utc(value) if value is not None else None


def unfreeze():
    "Make now() follow the system clock again"
    freeze(None)


def timestamp(value):
    "Return the POSIX timestamp of a naive UTC datetime"
    return value.replace(tzinfo=dt.timezone.utc).timestamp()


def from_timestamp(value):
    "Return the naive UTC datetime of a POSIX timestamp"
    return dt.datetime.fromtimestamp(value, dt.timezone.utc).replace(
        tzinfo=None)
