# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""Slot arithmetic, independent of the database.

Slots are computed, never stored: the opening hours of a resource on a local
date give intervals; the intervals, converted to UTC, are cut into slots
every `step` (absolute time, so a day with a DST change has one slot less or
more); the bookings of the resource then tell the capacity left of each slot.
All datetimes are naive UTC except where a time zone is named.
"""
import bisect
import datetime as dt

from trytond.modules.suite.clock import local_to_utc, to_local

DAY = dt.timedelta(days=1)
ZERO = dt.timedelta(0)


def time_offset(value, end=False):
    """Return the datetime.time value as the offset since midnight.
    As an end, midnight is the end of the day."""
    offset = dt.timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second)
    if end and not offset:
        offset = DAY
    return offset


def merge(intervals):
    "Return the sorted union of the (start, end) intervals"
    result = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


class Schedule:
    """The opening hours of a resource.

    weekly: (weekday, start, end) with weekday 0 for Monday and start/end
        offsets since local midnight;
    exceptions: (first date, last date, closed, start, end); on the dates of
        an exception the resource is closed when one exception says so,
        otherwise it is open in the union of the exceptions' hours instead of
        its weekly hours (special hours)."""

    def __init__(self, weekly, exceptions=()):
        days = {}
        for weekday, start, end in weekly:
            days.setdefault(int(weekday), []).append((start, end))
        self.weekly = {d: merge(i) for d, i in days.items()}
        self.exceptions = sorted(exceptions, key=lambda e: e[0])

    def intervals(self, date):
        "Return the local opening intervals of date"
        special = []
        for first, last, closed, start, end in self.exceptions:
            if first > date:
                break
            if last < date:
                continue
            if closed:
                return []
            special.append((start, end))
        if special:
            return merge(special)
        return self.weekly.get(date.weekday(), [])

    def utc_intervals(self, date, tzinfo):
        """Return the opening intervals of the local date in UTC.

        See `utc_bound` for the bounds met by a DST change."""
        midnight = dt.datetime.combine(date, dt.time())
        result = []
        for start, end in self.intervals(date):
            start = utc_bound(midnight + start, tzinfo)
            end = utc_bound(midnight + end, tzinfo, end=True)
            if start < end:
                result.append((start, end))
        return result


def utc_bound(local, tzinfo, end=False):
    """Return the naive local datetime of tzinfo as naive UTC.

    A local time skipped by a DST change (02:30 when the clocks jump from
    02:00 to 03:00) is the instant of the change; a local time met twice
    (02:30 when the clocks go back from 03:00 to 02:00) is its first
    occurrence for a start and its second one for an end, so that a night
    opening gets the real length of the night."""
    first = local_to_utc(local, tzinfo, fold=0)
    second = local_to_utc(local, tzinfo, fold=1)
    if first == second:
        return first
    if to_local(first, tzinfo).replace(tzinfo=None) == local:
        # Repeated time: first occurrence is the earlier instant
        return max(first, second) if end else min(first, second)
    # Skipped time: the change happens between the two readings
    low, high = min(first, second), max(first, second)
    offset = to_local(low, tzinfo).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if to_local(middle, tzinfo).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def local_dates(start, end, tzinfo):
    "Yield the local dates of tzinfo met by the UTC interval [start, end)"
    date = to_local(start, tzinfo).date()
    last = to_local(end - dt.timedelta(seconds=1), tzinfo).date()
    while date <= last:
        yield date
        date += DAY


def slot_starts(schedule, tzinfo, start, end, duration, step):
    """Return the sorted UTC starts of the slots of the schedule that start
    in [start, end): every step from the start of each opening interval, as
    long as the slot ends within the interval."""
    assert duration > ZERO and step > ZERO
    result = set()
    for date in local_dates(start, end, tzinfo):
        for open_, close in schedule.utc_intervals(date, tzinfo):
            slot = open_
            while slot + duration <= close:
                if start <= slot < end:
                    result.add(slot)
                slot += step
    return sorted(result)


class Occupancy:
    """The bookings that occupy a resource: (start, busy until, service).

    A slot is shared only by bookings of the same service with the same start
    (up to the capacity); any other booking overlapping the slot, buffer
    included, makes the resource busy for it."""

    def __init__(self, bookings=()):
        self.bookings = sorted(bookings)
        self.starts = [b[0] for b in self.bookings]
        self.longest = max(
            (b[1] - b[0] for b in self.bookings), default=ZERO)

    def capacity_left(self, service, start, busy_until, capacity):
        "Return the capacity left of the slot [start, busy_until)"
        return self.capacities(
            service, [start], busy_until - start, capacity)[0]

    def capacities(self, service, starts, busy, capacity):
        """Return the capacity left of each slot [start, start + busy) of
        service for the starts"""
        free = max(capacity, 0)
        if not self.bookings:
            return [free] * len(starts)
        bookings, booked, longest = self.bookings, self.starts, self.longest
        result = []
        append = result.append
        for start in starts:
            low = bisect.bisect_left(booked, start - longest)
            high = bisect.bisect_left(booked, start + busy)
            if low == high:
                append(free)
                continue
            count = 0
            for b_start, b_until, b_service in bookings[low:high]:
                if b_until <= start:
                    continue
                if b_service == service and b_start == start:
                    count += 1
                else:
                    count = capacity
                    break
            append(max(capacity - count, 0))
        return result
