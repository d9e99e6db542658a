# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Attempt analytics and the offline conflict report of check-ins"""
import atexit
import datetime as dt
import json
import logging
import os
import threading

from sql import Null
from sql.aggregate import Count, Sum

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.suite import clock
from trytond.modules.suite.fields import Constant
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import EventNotOpenError

logger = logging.getLogger(__name__)

# The outcomes of the attempts that leave no check-in: the error codes of
# API.md.  Created and rejected check-ins are counted from their records.
OUTCOMES = [
    ('already_checked_in', "Already Checked In"),
    ('invalid_token', "Invalid Token"),
    ('qr_expired', "QR Code Expired"),
    ('event_not_open', "Event Not Open"),
    ('method_not_allowed', "Method Not Allowed"),
    ('invalid_request', "Invalid Request"),
    ('invalid_coord_type', "Invalid Coordinate System"),
    ('not_found', "Unknown Member"),
    ('other', "Other"),
    ]
OUTCOME_CODES = {c for c, _ in OUTCOMES}
# The rows a refused attempt may update: each process (and thread) writes
# its own, so that a burst of refusals does not wait on one row
SLOTS = 8
# A hint is given when one reason makes more than this share of the
# refusals
HINT_SHARE = 0.3
HINTS = {
    'out_of_range': 'checkin.msg_hint_out_of_range',
    'wifi_mismatch': 'checkin.msg_hint_wifi_mismatch',
    'not_on_roster': 'checkin.msg_hint_not_on_roster',
    'qr_expired': 'checkin.msg_hint_qr_expired',
    'invalid_token': 'checkin.msg_hint_invalid_token',
    'event_not_open': 'checkin.msg_hint_event_not_open',
    'method_not_allowed': 'checkin.msg_hint_method_not_allowed',
    'already_checked_in': 'checkin.msg_hint_already_checked_in',
    }

CONFLICT_REASONS = [
    ('two_devices', "Two Devices"),
    ('before_open', "Outside the Opening"),
    ('late_sync', "Synchronised Late"),
    ('out_of_order', "Out of Order"),
    ]
CONFLICT_MESSAGES = {
    'two_devices': 'checkin.msg_conflict_two_devices',
    'before_open': 'checkin.msg_conflict_before_open',
    'late_sync': 'checkin.msg_conflict_late_sync',
    'out_of_order': 'checkin.msg_conflict_out_of_order',
    }


def hour_bucket(when):
    "Return the UTC hour of when"
    return when.replace(minute=0, second=0, microsecond=0)


def slot():
    "Return the counter row of the process and thread"
    return hash((os.getpid(), threading.get_ident())) % SLOTS


def write_delay():
    """How long (seconds) the counts of add_later may wait before they are
    written; 0: in the transaction of the attempt"""
    return config.getfloat('checkin', 'attempt_write_delay', default=1)


def write_at_once():
    """Tell if add_later writes in the transaction of the attempt: a delay
    of 0, and the tests (one process, one transaction at a time)"""
    return Pool.test or not write_delay()


# The counts of add_later committed and not yet written, by database:
# {database name: {(event id, hour, outcome): count}}, and the databases
# whose writing is planned (a timer)
_waiting = {}
_planned = set()
_waiting_lock = threading.Lock()


class _LaterCounts:
    """The counts of add_later in a transaction: they wait for the writing
    once it is committed, and are dropped when it is rolled back (a data
    manager of the transaction)"""

    def __init__(self, database):
        self.database = database
        self.counts = {}

    def __eq__(self, other):
        if not isinstance(other, _LaterCounts):
            return NotImplemented
        return self.database == other.database

    def __hash__(self):
        return hash(self.database)

    def tpc_begin(self, transaction):
        pass

    def commit(self, transaction):
        pass

    def tpc_vote(self, transaction):
        pass

    def tpc_finish(self, transaction):
        # Once: a transaction may be committed again before it stops
        counts, self.counts = self.counts, {}
        _wait(self.database, counts)

    def tpc_abort(self, transaction):
        self.counts.clear()


def _wait(database, counts, delay=None):
    "Add counts to those waiting for the writing of database and plan it"
    with _waiting_lock:
        waiting = _waiting.setdefault(database, {})
        for key, count in counts.items():
            waiting[key] = waiting.get(key, 0) + count
        if not waiting or database in _planned:
            return
        _planned.add(database)
    timer = threading.Timer(
        write_delay() if delay is None else delay, write_waiting, [database])
    timer.daemon = True
    timer.start()


def write_waiting(database=None):
    """Write the counts waiting for database (default all), each database in
    a transaction of its own; on failure they wait again"""
    with _waiting_lock:
        databases = [database] if database else list(_waiting)
        taken = {d: _waiting.pop(d, {}) for d in databases}
        _planned.difference_update(databases)
    for database, counts in taken.items():
        if not counts:
            continue
        try:
            with Transaction().start(database, 0) as transaction:
                Pool(database).get('checkin.attempt.counter')._write(counts)
                transaction.commit()
        except backend.DatabaseOperationalError as e:
            # Busy (a lock, SQLite's one writer): no fault to trace
            logger.warning("could not write %d attempt counts of %s yet: "
                "%s", sum(counts.values()), database, e)
            _wait(database, counts, delay=max(write_delay(), 1) * 5)
        except Exception:
            logger.warning("could not write %d attempt counts of %s",
                sum(counts.values()), database, exc_info=True)
            _wait(database, counts, delay=max(write_delay(), 1) * 5)


# A worker that stops writes what waits
atexit.register(write_waiting)


class AttemptCounter(ModelSQL, ModelView):
    "Check-in Attempt Counter"
    __name__ = 'checkin.attempt.counter'
    __string__ = "Check-in Attempt Counter"

    event = fields.Many2One(
        'checkin.event', "Event", readonly=True, ondelete='CASCADE',
        help="Empty when the attempt named no known event.")
    hour = fields.DateTime("Hour", required=True, readonly=True)
    outcome = fields.Selection(
        OUTCOMES, "Outcome", required=True, readonly=True, sort=False)
    slot = fields.Integer("Slot", required=True, readonly=True)
    count = fields.Integer("Count", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.event, Index.Equality()),
                    (t.hour, Index.Range()),
                    (t.outcome, Index.Equality(cardinality='low')),
                    (t.slot, Index.Equality(cardinality='low'))),
                Index(t, (t.hour, Index.Range())),
                })
        cls._order = [('hour', 'DESC'), ('id', 'DESC')]

    @classmethod
    def add(cls, event_id, outcome, when=None, count=1):
        """Count one refused attempt (or count) at event_id (or None) with
        outcome.

        One UPDATE of the row of the event, hour, outcome and slot of the
        process, an INSERT when it is the first of the hour: the count is
        written in the transaction of the attempt (a crash loses both)
        and the concurrent transactions of other processes write other
        rows."""
        if outcome not in OUTCOME_CODES:
            outcome = 'other'
        hour = hour_bucket(when or clock.now())
        slot_ = slot()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = ((table.hour == hour) & (table.outcome == outcome)
            & (table.slot == slot_))
        if event_id is None:
            where &= table.event == Null
        else:
            where &= table.event == event_id
        cursor.execute(*table.update(
                [table.count], [table.count + count], where=where))
        if cursor.rowcount:
            return
        columns = [table.create_uid, table.create_date, table.event,
            table.hour, table.outcome, table.slot, table.count]
        values = [Transaction().user, clock.now(), event_id, hour, outcome,
            slot_, count]
        cursor.execute(*table.insert(columns, [values]))

    @classmethod
    def add_later(cls, event_id, outcome, count=1):
        """Count one refused attempt (or count) as add does, without writing
        in the transaction of the attempt (a duplicate check-in writes
        nothing): once it is committed, the count waits with those of the
        process and they are written together, in a transaction of their
        own, within write_delay() seconds ([checkin] attempt_write_delay).
        A crash loses the counts not yet written (hints of the stats).  In
        the tests (one process and transaction) and with a delay of 0,
        add."""
        if write_at_once():
            return cls.add(event_id, outcome, count=count)
        if outcome not in OUTCOME_CODES:
            outcome = 'other'
        transaction = Transaction()
        later = transaction.join(_LaterCounts(transaction.database.name))
        key = (event_id, hour_bucket(clock.now()), outcome)
        later.counts[key] = later.counts.get(key, 0) + count

    @classmethod
    def _write(cls, counts):
        """Write counts ({(event id, hour, outcome): count}), those of the
        events deleted since left out"""
        pool = Pool()
        Event = pool.get('checkin.event')
        event = Event.__table__()
        ids = {e for e, _, _ in counts if e is not None}
        cursor = Transaction().connection.cursor()
        existing = set()
        if ids:
            cursor.execute(*event.select(event.id,
                    where=event.id.in_(sorted(ids))))
            existing = {i for i, in cursor}
        for (event_id, hour, outcome), count in sorted(
                counts.items(), key=lambda i: (i[0][0] or 0,) + i[0][1:]):
            if event_id is None or event_id in existing:
                cls.add(event_id, outcome, when=hour, count=count)

    @classmethod
    def counts(cls, event_id):
        "Return the number of refused attempts at event_id by outcome"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.outcome, Sum(table.count),
                where=table.event == event_id, group_by=[table.outcome]))
        return {o: int(c) for o, c in cursor}

    @classmethod
    def purge(cls):
        """Delete the counters older than the retention of the
        configuration (the cron)"""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        days = Configuration(1).attempt_retention
        if not days:
            return
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(where=table.hour < hour_bucket(
                    clock.now() - dt.timedelta(days=days))))


class Conflict(ModelSQL, ModelView):
    "Check-in Conflict"
    __name__ = 'checkin.attendance.conflict'
    __string__ = "Check-in Conflict"

    attendance = fields.Many2One(
        'checkin.attendance', "Check-in", required=True, readonly=True,
        ondelete='CASCADE')
    event = fields.Many2One(
        'checkin.event', "Event", required=True, readonly=True,
        ondelete='CASCADE')
    member = fields.Many2One(
        'member.member', "Member", required=True, readonly=True,
        ondelete='CASCADE')
    time = fields.DateTime("Time", required=True, readonly=True)
    reason = fields.Selection(
        CONFLICT_REASONS, "Reason", required=True, readonly=True, sort=False)
    reason_string = reason.translated('reason')
    other = fields.Many2One(
        'checkin.attendance', "Other Check-in", readonly=True,
        ondelete='SET NULL',
        help="The check-in from the other device, or the one before in the "
        "queue of the device.")
    minutes = fields.Integer(
        "Minutes", readonly=True,
        help="How many minutes apart the times are.")
    description = fields.Function(
        fields.Text("Description"), 'get_description')
    reviewed = fields.Boolean("Reviewed", readonly=True)
    reviewed_by = fields.Many2One(
        'res.user', "Reviewed By", readonly=True, ondelete='SET NULL')
    reviewed_at = fields.DateTime("Reviewed At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('attendance_reason_unique', Unique(t, t.attendance, t.reason),
                'checkin.msg_conflict_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.event, Index.Equality()),
                    (t.reviewed, Index.Equality(cardinality='low'))),
                })
        cls._order = [('time', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'mark_reviewed': {
                    'invisible': Eval('reviewed', False),
                    'icon': 'tryton-ok',
                    'depends': ['reviewed'],
                    },
                })

    @classmethod
    def __setup_indexes__(cls):
        super().__setup_indexes__()
        t = cls.__table__()
        # The index that Tryton gives the field of the check-in's One2Many:
        # the unique (attendance, reason) serves its look-ups
        for where in [None, t.attendance != Null]:
            cls._sql_indexes.discard(
                Index(t, (t.attendance, Index.Range()), where=where))

    @classmethod
    def default_reviewed(cls):
        return False

    def get_rec_name(self, name):
        return '%s: %s' % (self.attendance.rec_name, self.reason_string)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('attendance.rec_name',) + tuple(clause[1:])]

    def get_description(self, name):
        "The reason in words, in the language of the reader"
        attendance = self.attendance
        event = attendance.event
        other = self.other

        def local(value):
            return (event.local(value).strftime('%Y-%m-%d %H:%M:%S')
                if value else '-')
        return gettext(CONFLICT_MESSAGES[self.reason],
            minutes=self.minutes if self.minutes is not None else '-',
            device=attendance.device_id or '-',
            other_device=(other.device_id or '-') if other else '-',
            other_event=other.event.rec_name if other else '-',
            client_time=local(attendance.client_time),
            server_time=local(attendance.server_time),
            opening=local(event.opening()))

    @classmethod
    @ModelView.button
    def mark_reviewed(cls, conflicts):
        cls.write(conflicts, {
                'reviewed': True,
                'reviewed_by': Transaction().user or None,
                'reviewed_at': clock.now(),
                })

    @classmethod
    def detect(cls, attendance_ids):
        """Store the conflicts of the check-ins attendance_ids not stored
        yet and return them.

        Called once per synchronised batch (not per online check-in) and
        by the cron for the recent check-ins."""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Configuration = pool.get('checkin.configuration')
        if not attendance_ids:
            return []
        config = Configuration(1)
        device_delta = dt.timedelta(
            minutes=config.conflict_device_minutes or 0)
        sync_delta = dt.timedelta(minutes=config.conflict_sync_minutes or 0)
        with without_check_access():
            attendances = Attendance.browse(sorted(set(attendance_ids)))
            found = []
            for attendance in attendances:
                found.extend(cls._offline_conflicts(attendance, sync_delta))
            found.extend(cls._batch_conflicts(attendances))
            if config.conflict_device_minutes:
                found.extend(cls._device_conflicts(attendances, device_delta))
            existing = {(c.attendance.id, c.reason) for c in cls.search([
                        ('attendance', 'in', [a.id for a in attendances]),
                        ])}
            to_create, seen = [], set()
            for attendance, reason, other, minutes in found:
                key = (attendance.id, reason)
                if key in existing or key in seen:
                    continue
                seen.add(key)
                to_create.append({
                        'attendance': attendance.id,
                        'event': attendance.event.id,
                        'member': attendance.member.id,
                        'time': attendance.time,
                        'reason': reason,
                        'other': other.id if other else None,
                        'minutes': minutes,
                        })
            return cls.create(to_create)

    @classmethod
    def _offline_conflicts(cls, attendance, sync_delta):
        "Yield the conflicts of the times of an offline check-in"
        if not attendance.offline or not attendance.client_time:
            return
        event = attendance.event
        client_time = attendance.client_time
        try:
            event.check_open(client_time, offline=True)
        except EventNotOpenError:
            yield (attendance, 'before_open', None,
                round((event.opening() - client_time).total_seconds() / 60))
        late = attendance.server_time - client_time
        if sync_delta and late > sync_delta:
            yield (attendance, 'late_sync', None,
                round(late.total_seconds() / 60))

    @classmethod
    def _batch_conflicts(cls, attendances):
        """Yield the items of a sync batch whose client time is before the
        time of an item queued before them"""
        batches = {}
        for attendance in attendances:
            if attendance.sync_batch and attendance.client_time:
                batches.setdefault(attendance.sync_batch, []).append(
                    attendance)
        for items in batches.values():
            items.sort(key=lambda a: a.sync_index or 0)
            latest = None
            for attendance in items:
                if latest and attendance.client_time < latest.client_time:
                    yield (attendance, 'out_of_order', latest,
                        round((latest.client_time - attendance.client_time
                                ).total_seconds() / 60))
                elif latest is None or (
                        attendance.client_time > latest.client_time):
                    latest = attendance

    @classmethod
    def _device_conflicts(cls, attendances, delta):
        """Yield the check-ins of a member made within delta of a check-in
        of the same member from another device"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        with_device = [a for a in attendances if a.device_id]
        if not with_device:
            return
        others = Attendance.search([
                ('member', 'in', list({a.member.id for a in with_device})),
                ('device_id', '!=', None),
                ('time', '>=', min(a.time for a in with_device) - delta),
                ('time', '<=', max(a.time for a in with_device) + delta),
                ], order=[('time', 'ASC'), ('id', 'ASC')])
        for attendance in with_device:
            for other in others:
                if (other.member == attendance.member
                        and other.device_id != attendance.device_id
                        and abs(other.time - attendance.time) <= delta):
                    yield (attendance, 'two_devices', other,
                        round(abs(other.time - attendance.time
                                ).total_seconds() / 60))
                    break

    @classmethod
    def detect_recent(cls):
        """Detect the conflicts of the check-ins of the last day (the
        cron: the online check-ins from two devices)"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        with without_check_access():
            attendances = Attendance.search([
                    ('create_date', '>=',
                        clock.now() - dt.timedelta(days=1)),
                    ('device_id', '!=', None),
                    ], order=[])
        cls.detect([a.id for a in attendances])


def attempt_stats(event, rows=None):
    """Return the attempt analytics of event: the `attempts` object of
    events/<id>/stats.

    attempts counts every attempt: the check-ins recorded (created,
    flagged and rejected) and the refused attempts of the counters;
    success_rate the counted check-ins over the attempts; median_minutes
    the median time from the opening of the event to the counted
    check-ins (median_seconds_to_checkin the same in seconds, to the
    minute: API.md's name); anomaly_rate (flagged + rejected + conflicts)
    over the attempts; refused_by_reason the refusals by error code or
    reason; hints the advice when one reason dominates the refusals.

    rows are the check-ins of the whole event counted by event._stats_rows
    when the caller has them (read again otherwise)."""
    pool = Pool()
    Attendance = pool.get('checkin.attendance')
    Conflict = pool.get('checkin.attendance.conflict')
    Counter = pool.get('checkin.attempt.counter')
    attendance = Attendance.__table__()
    conflict = Conflict.__table__()
    cursor = Transaction().connection.cursor()
    by_reason = Counter.counts(event.id)
    refused_rows = sum(by_reason.values())

    if rows is None:
        rows = event._stats_rows(attendance, attendance.event == event.id)
    recorded = counted = flagged = rejected = 0
    minutes = {}
    opening = int(clock.timestamp(event.opening()) // 60)
    daily = event.daily
    for status, _, minute, count in rows:
        recorded += count
        if status == 'rejected':
            rejected += count
            continue
        counted += count
        if status == 'flagged':
            flagged += count
        if not daily:
            minute -= opening
            minutes[minute] = minutes.get(minute, 0) + count
    if rejected:
        # The reasons are read for the few rejected check-ins only: the
        # other rows are counted from the index
        cursor.execute(*attendance.select(
                attendance.reasons, Count(attendance.id),
                where=(attendance.event == event.id)
                & (attendance.status == Constant('rejected')),
                group_by=[attendance.reasons]))
        for reasons, count in cursor:
            if isinstance(reasons, str):
                reasons = json.loads(reasons)
            reason = reasons[0] if reasons else 'other'
            by_reason[reason] = by_reason.get(reason, 0) + count
    cursor.execute(*conflict.select(Count(conflict.id),
            where=conflict.event == event.id))
    conflicts, = cursor.fetchone()
    attempts = recorded + refused_rows
    median = None
    if minutes:
        half, seen = counted / 2, 0
        for value, count in sorted(minutes.items()):
            seen += count
            if seen >= half:
                median = value
                break
    refusals = sum(by_reason.values())
    hints = []
    for reason, count in sorted(by_reason.items(), key=lambda i: -i[1]):
        if refusals and count / refusals > HINT_SHARE and reason in HINTS:
            hints.append({
                    'reason': reason,
                    'share': round(count / refusals, 4),
                    'message': gettext(HINTS[reason]),
                    })
    return {
        'total': attempts,
        'checked_in': counted,
        'refused': refusals,
        'flagged': flagged,
        'rejected': rejected,
        'conflicts': conflicts,
        'success_rate': round(counted / attempts, 4) if attempts else None,
        'median_minutes': median,
        'median_seconds_to_checkin': median * 60 if median is not None else (
            None),
        'anomaly_rate': (round((flagged + rejected + conflicts) / attempts, 4)
            if attempts else None),
        'refused_by_reason': dict(sorted(by_reason.items())),
        'hints': hints,
        }
