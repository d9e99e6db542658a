# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import json
import uuid

from sql import Cast, Column, Literal, Null, Union
from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce
from sql.operators import Concat, Equal, Exists

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Exclude, Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.member.exceptions import LockUnlessFound
from trytond.modules.member.member import context_member
from trytond.modules.member.prepared import (
    execute, fetch_alone, insert, insert_many, written)
from trytond.modules.suite import clock, geo, tools
from trytond.modules.suite.fields import Key, Predicate, State
from trytond.modules.suite.tools import isoformat
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from . import token
from .event import COORD_TYPES, METHODS, TIMED_METHODS, normalize_bssid
from .exceptions import (
    AlreadyCheckedInError, AlreadyCheckedOutError, AttendanceAccessError,
    CheckInAccessError, CheckInError, CheckInRestart, EventNotOpenError,
    InvalidCheckInError, InvalidCoordTypeError, InvalidTokenError,
    MemberUnknownError, MethodNotAllowedError, NotCheckedInError,
    NotOnRosterError, OutOfRangeError, QRExpiredError, ReviewError,
    WifiMismatchError)

STATUSES = [
    ('valid', "Valid"),
    ('late', "Late"),
    ('flagged', "Flagged"),
    ('rejected', "Rejected"),
    ]
# The statuses that count as the member's attendance
COUNTED = {'valid', 'late', 'flagged'}
REASONS = [
    ('out_of_range', "Out of Range"),
    ('wifi_mismatch', "Wi-Fi Mismatch"),
    ('not_on_roster', "Not on Roster"),
    ]
REASON_ERRORS = {
    'out_of_range': (OutOfRangeError, 'checkin.msg_out_of_range'),
    'wifi_mismatch': (WifiMismatchError, 'checkin.msg_wifi_mismatch'),
    'not_on_roster': (NotOnRosterError, 'checkin.msg_not_on_roster'),
    }
# The message of a reason whose value is missing (details['reason']), so
# that no message shows a placeholder for the value it lacks
REASON_MISSING = {
    ('out_of_range', 'no_position'): 'checkin.msg_position_missing',
    ('wifi_mismatch', 'no_bssid'): 'checkin.msg_wifi_missing',
    }
CREDENTIAL_KEYS = {'qr_token', 'code', 'nfc_tag', 'event_id', 'method'}
# A check-out is declared with the QR code of the event or its id (in the
# mini-program, method app, or by an organizer, method staff)
CHECKOUT_CREDENTIAL_KEYS = {'qr_token', 'event_id', 'method'}
CHECKOUT_SOURCES = [
    (None, ""),
    ('member', "Member"),
    ('staff', "Staff"),
    ('auto', "Automatic"),
    ]
SYNC_MAX_ITEMS = 100
ARRIVAL_MINUTES = 5


def parse_client_time(value):
    "Return the naive UTC datetime of the client_time of a check-in"
    if value is None or value == '':
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value  # naive UTC, as Tryton clients send datetimes
    try:
        return tools.parse_datetime(value)
    except (ValueError, TypeError):
        raise InvalidCheckInError(gettext(
                'checkin.msg_client_time_invalid', value=value),
            {'field': 'client_time'})


# The message of each reason of suite.geo.CoordTypeError
COORD_TYPE_MESSAGES = {
    'unknown': 'checkin.msg_coord_type_unknown',
    'outside_china': 'checkin.msg_coord_type_outside_china',
    }


def parse_position(position):
    """Return (latitude, longitude, accuracy, coord_type) of position or
    None (suite.geo.parse_position).

    position is a dictionary with the keys lat, lon, accuracy_m and
    coord_type (the API names) or a tuple in that order.  Raise
    InvalidCheckInError for a position that is not one and
    InvalidCoordTypeError for an unknown coordinate system, or gcj02 out of
    China; a coordinate system without a position is checked too."""
    if not position:
        return None
    if isinstance(position, dict):
        values = (position.get('lat'), position.get('lon'),
            position.get('accuracy_m'), position.get('coord_type'))
    else:
        values = tuple(position) + (None,) * (4 - len(position))
    latitude, longitude, accuracy, coord_type = values[:4]
    try:
        if latitude is None and longitude is None:
            geo.check_coord_type(coord_type)
            return None
        return geo.parse_position(latitude, longitude, accuracy, coord_type)
    except geo.CoordTypeError as error:
        raise InvalidCoordTypeError(gettext(
                COORD_TYPE_MESSAGES[error.reason],
                coord_type=error.coord_type,
                coord_types=', '.join(geo.COORD_TYPES)),
            error.details) from error
    except geo.PositionError as error:
        raise InvalidCheckInError(gettext('checkin.msg_position_invalid'),
            {'field': 'position'}) from error


def normalize_device(value):
    "Return the device identifier value or raise InvalidCheckInError"
    if value is None or value == '':
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise InvalidCheckInError(gettext('checkin.msg_device_id_invalid'),
            {'field': 'device_id'})
    return value.strip()


def normalize_uuid(value):
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise InvalidCheckInError(gettext('checkin.msg_client_uuid_invalid'),
            {'field': 'client_uuid'})
    return value.strip().lower()


class CheckInResult:
    """The result of a check-in attempt.

    status is 'created', 'duplicate' (attendance is the existing record) or
    'refused' (error is the CheckInError; attendance the rejected record
    kept for review, if any)."""
    __slots__ = ('status', 'attendance', 'error', 'client_uuid', '_summary',
        'member_state')

    def __init__(self, status, attendance=None, error=None,
            client_uuid=None, summary=None, member_state=None):
        assert status in {'created', 'duplicate', 'refused'}
        self.status = status
        self.attendance = attendance
        self.error = error
        self.client_uuid = client_uuid
        self._summary = summary
        # (points balance, streak days) of the member after the check-in
        # when known without reading the member
        self.member_state = member_state

    def summary(self):
        """Return the summary of the attendance (see Attendance.summary),
        known without reading it back when it was just created"""
        if self._summary is not None:
            return dict(self._summary)
        return self.attendance.summary()

    def __repr__(self):
        return '<CheckInResult %s %s %s>' % (
            self.status, self.attendance, self.code)

    @property
    def code(self):
        "The error code of API.md or None when created"
        return self.error.error_code if self.error else None

    def to_dict(self):
        "Return the result as JSON-serialisable values"
        pool = Pool()
        Member = pool.get('member.member')
        result = {
            'status': self.status,
            'client_uuid': self.client_uuid,
            'checkin': None,
            'error': None,
            'member': None,
            }
        if self.attendance:
            result['checkin'] = self.summary()
            with without_check_access():
                member = Member(self.attendance.member.id)
                result['member'] = {
                    'id': member.id,
                    'points_balance': member.points_balance,
                    'streak_days': member.streak_days,
                    }
        if self.error:
            result['error'] = {
                'code': self.error.error_code,
                'message': self.error.message,
                'details': self.error.details,
                }
        return result


class Attendance(ModelSQL, ModelView):
    "Check-in"
    __name__ = 'checkin.attendance'
    __string__ = "Check-in"

    event = fields.Many2One(
        'checkin.event', "Event", required=True, readonly=True,
        ondelete='RESTRICT')
    member = fields.Many2One(
        'member.member', "Member", required=True, readonly=True,
        ondelete='RESTRICT')
    time = fields.DateTime(
        "Time", required=True, readonly=True,
        help="When the member checked in: the server time, or the time of "
        "the device for an offline check-in with a QR code or an "
        "activity code.")
    server_time = fields.DateTime(
        "Server Time", required=True, readonly=True,
        help="When the server received the check-in.")
    client_time = fields.DateTime(
        "Client Time", readonly=True,
        help="The time reported by the device.")
    offline = fields.Boolean(
        "Offline", readonly=True,
        help="Checked in without network and synchronised later.")
    local_date = fields.Date(
        "Date", required=True, readonly=True,
        help="The local date in the time zone of the event.")
    arrival = fields.Char(
        "Arrival", readonly=True,
        help="The local time of the check-in, by 5 minutes.")
    day_key = fields.Integer(
        "Day Key", required=True, readonly=True,
        help="The local day for daily kinds, 0 for the others.")
    epoch_minute = fields.Integer("Minute", required=True, readonly=True)
    # A Key: its look-ups compare the bare column, which its index holds
    counted_key = Key(
        "Counted Key", required=True, readonly=True,
        help="The event, the member and the day key: one counted check-in "
        "per key.")
    method = fields.Selection(
        METHODS, "Method", required=True, readonly=True)
    tag = fields.Many2One(
        'checkin.tag', "NFC Tag", readonly=True, ondelete='SET NULL')
    latitude = fields.Float("Latitude", digits=(3, 7), readonly=True)
    longitude = fields.Float("Longitude", digits=(3, 7), readonly=True)
    coord_type = fields.Selection(
        [(None, "")] + COORD_TYPES, "Coordinate System", readonly=True,
        sort=False,
        help="The system of the position sent by the device: the distance "
        "is computed after converting it and the location of the event to "
        "WGS-84.")
    accuracy = fields.Float(
        "Accuracy", digits=(16, 1), readonly=True,
        help="In meters, as reported by the device.")
    distance = fields.Float(
        "Distance", digits=(16, 1), readonly=True,
        help="In meters, from the location of the event.")
    bssid = fields.Char("Wi-Fi BSSID", readonly=True)
    status = State(
        STATUSES, "Status", required=True, readonly=True, sort=False)
    counted = Predicate(
        "Counted", readonly=True,
        help="Valid, late and flagged check-ins count; rejected ones do "
        "not.")
    late = fields.Boolean("Late", readonly=True)
    reasons = fields.MultiSelection(
        REASONS, "Reasons", readonly=True,
        help="Why the check-in is suspicious.")
    reason_details = fields.Function(
        fields.Text("Details"), 'get_reason_details')
    reason_data = fields.Dict(
        None, "Reason Data", readonly=True,
        help="The figures of each reason, rendered in the reader's "
        "language.")
    device_id = fields.Char(
        "Device", readonly=True,
        help="The identifier of the installation of the mini-program that "
        "sent the check-in, if it gave one.")
    sync_batch = fields.Char(
        "Sync Batch", readonly=True,
        help="The synchronisation that sent the offline check-in.")
    sync_index = fields.Integer(
        "Sync Position", readonly=True,
        help="The position of the check-in in the queue of the device.")
    conflicts = fields.One2Many(
        'checkin.attendance.conflict', 'attendance', "Conflicts",
        readonly=True)
    client_uuid = Key(
        "Client UUID", readonly=True,
        help="Set by the device: a check-in sent again is not recorded "
        "twice.")
    checked_in_by = fields.Many2One(
        'res.user', "Checked In By", readonly=True, ondelete='SET NULL')
    reviewed_by = fields.Many2One(
        'res.user', "Reviewed By", readonly=True, ondelete='SET NULL')
    reviewed_at = fields.DateTime("Reviewed At", readonly=True)
    review_note = fields.Text("Review Note")
    points_granted = fields.Boolean(
        "Points Granted", readonly=True,
        help="If checked, the points of the check-in are on the member's "
        "ledger.")
    points_line = fields.Many2One(
        'member.points.line', "Points Line", readonly=True,
        ondelete='RESTRICT')
    points_lines = fields.One2Many(
        'member.points.line', 'origin', "Points Lines", readonly=True)
    points_awarded = fields.Function(
        fields.Integer("Points"), 'get_points_awarded')
    check_ins = fields.Function(
        fields.Integer(
            "Check-ins", help="1 for each check-in, to count in graphs."),
        'get_check_ins')

    checkout_time = fields.DateTime(
        "Check-out", readonly=True,
        help="When the member left: the time of the check-out, or the end "
        "of the event (or of the day) for an automatic check-out.")
    checkout_source = fields.Selection(
        CHECKOUT_SOURCES, "Checked Out By", readonly=True, sort=False,
        help="Member: in the mini-program.\n"
        "Staff: by an organizer.\n"
        "Automatic: closed by the scheduler at the end, the member did not "
        "check out.")
    checkout_user = fields.Many2One(
        'res.user', "Check-out User", readonly=True, ondelete='SET NULL',
        states={
            'invisible': Eval('checkout_source') != 'staff',
            },
        help="The organizer who checked the member out.")
    duration = fields.Integer(
        "Duration", readonly=True,
        help="In minutes, from the check-in to the check-out.")
    checkout_review = fields.Boolean(
        "Check-out to Review", readonly=True,
        help="Closed automatically at the end by an event that flags the "
        "missing check-outs.")
    checkout_latitude = fields.Float(
        "Check-out Latitude", digits=(3, 7), readonly=True)
    checkout_longitude = fields.Float(
        "Check-out Longitude", digits=(3, 7), readonly=True)
    checkout_coord_type = fields.Selection(
        [(None, "")] + COORD_TYPES, "Check-out Coordinate System",
        readonly=True, sort=False)
    checkout_accuracy = fields.Float(
        "Check-out Accuracy", digits=(16, 1), readonly=True,
        help="In meters, as reported by the device.")
    checkout_bssid = fields.Char("Check-out Wi-Fi BSSID", readonly=True)
    checkout_client_uuid = Key(
        "Check-out Client UUID", readonly=True,
        help="Set by the device: a check-out sent again is answered with "
        "the first one.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            # One counted check-in per member and event, and per local day
            # for the daily kinds.  A partial unique constraint (an
            # exclusion constraint on PostgreSQL, a partial unique index on
            # SQLite): concurrent check-ins of the same member cannot both
            # be committed.  On one column (see counted_key): the look-up
            # of a member's check-in has no other index to be planned on
            # (one on (event, member, day_key) lost to the indexes starting
            # with the event while the table had no statistics, and each
            # look-up read all the check-ins of the event)
            ('counted_key_unique',
                Exclude(t, (t.counted_key, Equal), where=t.counted),
                'checkin.msg_attendance_unique'),
            ('client_uuid_unique', Unique(t, t.client_uuid),
                'checkin.msg_attendance_client_uuid_unique'),
            ('checkout_client_uuid_unique',
                Unique(t, t.checkout_client_uuid),
                'checkin.msg_attendance_client_uuid_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.event, Index.Equality()),
                    (t.time, Index.Range())),
                Index(t, (t.event, Index.Equality()),
                    (t.local_date, Index.Range())),
                Index(t, (t.member, Index.Equality()),
                    (t.time, Index.Range())),
                Index(t, (t.local_date, Index.Range())),
                # The check-ins to review (the tabs of the check-ins): the
                # others, most of the table, are not worth an insert each
                Index(t, (t.status, Index.Equality(cardinality='low')),
                    where=t.status.in_(['flagged', 'rejected'])),
                # Covers the query of the live statistics (Event.stats):
                # it is answered from the index alone
                Index(t,
                    (t.event, Index.Range()),
                    (t.status, Index.Range(cardinality='low')),
                    (t.late, Index.Range(cardinality='low')),
                    (t.epoch_minute, Index.Range())),
                })
        cls._order = [('time', 'DESC'), ('id', 'DESC')]
        cls.__rpc__.update({
                'submit': RPC(readonly=False),
                'submit_checkout': RPC(readonly=False),
                'submit_sync': RPC(readonly=False),
                })
        cls._buttons.update({
                'approve': {
                    'invisible': ~Eval('status').in_(['flagged', 'rejected']),
                    'icon': 'tryton-ok',
                    'depends': ['status'],
                    },
                'reject': {
                    'invisible': Eval('status') == 'rejected',
                    'icon': 'tryton-cancel',
                    'depends': ['status'],
                    },
                'confirm_checkout': {
                    'invisible': ~Eval('checkout_review', False),
                    'icon': 'tryton-ok',
                    'depends': ['checkout_review'],
                    },
                })

    @classmethod
    def __setup_indexes__(cls):
        super().__setup_indexes__()
        t = cls.__table__()
        # The index that Tryton gives the field of the event's One2Many:
        # those starting with the event serve its look-ups, and each index
        # costs its insert to every check-in
        cls._sql_indexes.discard(
            Index(t, (t.event, Index.Range()), where=None))

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        # Migration from 8.0.x: the counted check-in is unique by its key
        fill = not table_h.column_exist('counted_key')
        if fill:
            table_h.drop_constraint('counted_unique')
        super().__register__(module)
        if fill:
            cls._fill_counted_key()
            # Refused by super() while the existing rows had no key
            table_h.not_null_action('counted_key', 'add')
        cls._migrate_reason_data()

    @classmethod
    def _fill_counted_key(cls):
        "Set the counted key of the check-ins made before it existed"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.counted_key],
                [cls.counted_key_sql(
                        table.event, table.member, table.day_key)],
                where=table.counted_key == Null))

    @classmethod
    def counted_key_of(cls, event_id, member_id, day_key):
        """The counted key of a check-in of member_id to event_id on
        day_key: the one home of its format (counted_key_sql in SQL)"""
        return '%d:%d:%d' % (event_id, member_id, day_key)

    @classmethod
    def counted_key_sql(cls, event, member, day_key):
        "The SQL expression of counted_key_of over the expressions given"
        def text(expression):
            return Cast(expression, 'VARCHAR')
        return Concat(Concat(Concat(Concat(
                        text(event), ':'), text(member)), ':'), text(day_key))

    @classmethod
    def _migrate_reason_data(cls):
        """Give the check-ins stored with their details as text (in the
        language of the member who checked in) the figures of their
        reasons, taken from the record"""
        pool = Pool()
        Event = pool.get('checkin.event')
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        event = Event.__table__()
        cursor.execute(*table.join(event,
                condition=table.event == event.id
                ).select(table.id, table.reasons, table.distance,
                table.accuracy, table.bssid, table.member, event.radius,
                where=(table.reasons != Null) & (table.reason_data == Null)))
        sql_type = cls.reason_data.sql_type().base
        for (id_, reasons, distance, accuracy, bssid, member,
                radius) in cursor.fetchall():
            if isinstance(reasons, str):
                reasons = json.loads(reasons)
            data = {}
            for reason in reasons or []:
                if reason == 'out_of_range':
                    data[reason] = ({
                            'reason': 'no_position',
                            'distance_m': None,
                            'radius_m': radius,
                            } if distance is None else {
                            'reason': 'distance',
                            'distance_m': round(distance),
                            'radius_m': radius,
                            'accuracy_m': (round(accuracy)
                                if accuracy is not None else None),
                            })
                elif reason == 'wifi_mismatch':
                    data[reason] = {'bssid': bssid}
                elif reason == 'not_on_roster':
                    data[reason] = {'member_id': member}
            if data:
                cursor.execute(*table.update([table.reason_data],
                        [Cast(json.dumps(data, sort_keys=True), sql_type)],
                        where=table.id == id_))

    @classmethod
    def default_offline(cls):
        return False

    @classmethod
    def default_counted(cls):
        return False

    @classmethod
    def default_late(cls):
        return False

    @classmethod
    def default_points_granted(cls):
        return False

    @classmethod
    def default_checkout_review(cls):
        return False

    def get_rec_name(self, name):
        return '%s @ %s' % (self.member.rec_name, self.event.rec_name)

    @classmethod
    def search_rec_name(cls, name, clause):
        return tools.rec_name_domain(
            clause, 'member.rec_name', 'event.rec_name')

    def get_check_ins(self, name):
        return 1

    def get_reason_details(self, name):
        "The reasons of the flag in the language of the reader"
        data = self.reason_data or {}
        return '\n'.join(
            self._reason_message(r, data.get(r, {}))
            for r in (self.reasons or []) if r in REASON_ERRORS) or None

    @classmethod
    def get_points_awarded(cls, attendances, name):
        pool = Pool()
        Line = pool.get('member.points.line')
        result = {a.id: 0 for a in attendances}
        with without_check_access():
            lines = Line.search([
                    ('origin', 'in', [str(a) for a in attendances]),
                    ], order=[])
        for line in lines:
            result[line.origin.id] += line.points
        return result

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'status' in values:
            values['counted'] = values['status'] in COUNTED
        if mode == 'create' and values.get('time'):
            values.setdefault('epoch_minute',
                int(clock.timestamp(values['time']) // 60))
        if mode == 'create' and all(values.get(n) is not None
                for n in ['event', 'member', 'day_key']):
            values.setdefault('counted_key', cls.counted_key_of(
                    int(values['event']), int(values['member']),
                    values['day_key']))
        return values

    @classmethod
    def check_modification(
            cls, mode, attendances, values=None, external=False):
        super().check_modification(
            mode, attendances, values=values, external=external)
        if not external:
            return
        if mode == 'create':
            raise AttendanceAccessError(gettext(
                    'checkin.msg_attendance_create'))
        elif mode == 'write' and set(values) - {'review_note'}:
            raise AttendanceAccessError(gettext(
                    'checkin.msg_attendance_modify'))
        elif mode == 'delete':
            raise AttendanceAccessError(gettext(
                    'checkin.msg_attendance_delete'))

    @classmethod
    def copy(cls, attendances, default=None):
        if not attendances:
            return []
        raise AttendanceAccessError(gettext('checkin.msg_attendance_create'))

    _summary_fields = ['member', 'time', 'status', 'method', 'distance',
        'points_awarded', 'late', 'reasons', 'client_uuid', 'offline',
        'checkout_time', 'checkout_source', 'duration']
    # The stored ones
    _summary_columns = [
        n for n in _summary_fields if n != 'points_awarded']

    def summary(self):
        "Return the check-in as JSON-serialisable values (API shape)"
        return self.summarize(self.id, self.event,
            {n: getattr(self, n) for n in self._summary_fields})

    @classmethod
    def summarize(cls, id_, event, values):
        """Return the summary of the check-in id_ to event from its values
        (records or ids): the one API shape of a check-in"""
        member = values['member']
        distance = values['distance']
        tzinfo = event.tzinfo
        return {
            'id': id_,
            'event_id': event.id,
            'event_name': event.name,
            'member_id': getattr(member, 'id', member),
            'time': isoformat(values['time'], tzinfo),
            'status': values['status'],
            'method': values['method'],
            'distance_m': round(distance) if distance is not None else None,
            'points_awarded': values['points_awarded'],
            'late': bool(values['late']),
            'reasons': list(values['reasons'] or []),
            'client_uuid': values['client_uuid'],
            'offline': bool(values['offline']),
            'record_leaving': bool(event.record_leaving),
            'checkout_time': isoformat(values.get('checkout_time'), tzinfo),
            'checkout_source': values.get('checkout_source'),
            'duration_min': values.get('duration'),
            }

    # Check-in

    @classmethod
    def _check_access(cls, member, credential):
        """Check that the user may check member in.

        Without access check (server code, the scheduler), anyone.  Else a
        user checks in the member of its context (the self-service user of
        the mini-program); the organizers of the event check in anybody
        with the staff method; check-in administrators anybody."""
        pool = Pool()
        Event = pool.get('checkin.event')
        transaction = Transaction()
        if not transaction.check_access or not transaction.user:
            return
        staff = credential.get('method') == 'staff'
        # The member's own first: the mini-program's every check-in
        if not staff and context_member() == member.id:
            return
        if Event._is_checkin_admin():
            return
        if staff:
            event_id = credential.get('event_id')
            with without_check_access():
                events = Event.search([('id', '=', event_id or -1)])
            if events and events[0].is_organizer():
                return
        raise CheckInAccessError(gettext('checkin.msg_checkin_access'))

    @classmethod
    def check_in(cls, member, credential, position=None, bssid=None,
            client_uuid=None, client_time=None, offline=False,
            device_id=None, sync=None):
        """Check member in and return a CheckInResult.

        credential is a dictionary with one of:
            qr_token: a rotating QR token (event_id optional: when given,
                a token of another event is refused),
            code: an activity code with event_id,
            nfc_tag: the UID of an NFC tag,
            method 'staff' or 'app' with event_id;
        position is a dictionary with lat, lon, accuracy_m (meters) and
        coord_type (wgs84, the default, or gcj02: InvalidCoordTypeError,
        invalid_coord_type, for another or for gcj02 out of China);
        bssid the BSSID of the Wi-Fi of the device; client_uuid a unique
        identifier set by the device (a check-in sent again with it is a
        duplicate); client_time its time (datetime or ISO 8601 string).
        offline: the check-in was made without network and is synchronised
        now: the QR window is checked against client_time, which must not
        be older than the sync delay; device_id the identifier of the
        installation of the mini-program (optional); sync the (batch,
        position) of an offline check-in in its synchronisation.

        Business refusals are returned, not raised, so that the rejected
        check-ins kept for review are committed; the result error is a
        CheckInError with the code of API.md.  The member is locked first
        (Tryton 8.0 restarts the transaction to take the lock), then the
        check-in is inserted: the database constraint decides whether it
        is a duplicate.  The points of the event and the streak are posted
        in the same transaction."""
        pool = Pool()
        Member = pool.get('member.member')
        member = Member(int(member))
        try:
            client_uuid = normalize_uuid(client_uuid)
            credential, position, client_time, device_id = (
                cls._parse_check_in(
                    credential, position, bssid, client_time, device_id))
        except CheckInError as error:
            return cls._count(CheckInResult('refused', error=error,
                    client_uuid=client_uuid if isinstance(
                        client_uuid, str) else None), credential)
        result = cls._locked(member, credential, client_uuid,
            lambda: cls._check_in(
                member, credential, position, bssid, client_uuid,
                client_time, offline, device_id, sync))
        if result.status == 'created':
            # Counted from its record: no statement more
            return result
        return cls._count(result, credential)

    @classmethod
    def check_in_first(cls, member, unless, timeout, credential,
            position=None, bssid=None, client_uuid=None, client_time=None,
            device_id=None):
        """Record the check-in of check_in (online) when the transaction
        holds no lock and ran no statement on the member: the posting of
        its points inserts it and takes the member's lock in its one
        statement (see member.points.line._post_entries, lock), waiting at
        most timeout (milliseconds, a string), when the member is active and
        the prepared query unless (duplicate_query, or None) finds no
        check-in that answers the attempt.

        Return the result of the created check-in, or of the duplicate that
        unless found (see answer_duplicate), or None when only check_in,
        with the lock held first, answers the attempt: a refusal, an
        inactive member, another duplicate, a check-in that its posting
        does not insert (see _grants_on_insert), a concurrent request of
        the member (its statement failed: the transaction is rolled back,
        its locks released), SQLite (whose writer holds the database).
        Nothing is written nor counted then: the caller asks check_in.
        The rules are check_in's (_attempt, the constraints of the
        database); one statement instead of two, the lock's with the
        look-up of the duplicate (miniprogram.auth.wait_member_lock) and
        the posting, committed by itself when the transaction has begun
        nothing and nothing else is to be written (see member.points.line.
        _post_entries, alone; _follows_insert): the rest of the transaction
        is then read only."""
        pool = Pool()
        Member = pool.get('member.member')
        if backend.name != 'postgresql':
            return None
        member = tools.instance(Member, int(member))
        try:
            client_uuid = normalize_uuid(client_uuid)
            credential, position, client_time, device_id = (
                cls._parse_check_in(
                    credential, position, bssid, client_time, device_id))
        except CheckInError:
            return None
        cls._check_access(member, credential)
        with without_check_access():
            try:
                values, event, refusal = cls._attempt(member, credential,
                    position, bssid, client_uuid, client_time, False,
                    device_id, None)
            except CheckInError:
                return None
            if refusal or not cls._grants_on_insert(values, event):
                return None
            try:
                attendance, _, granted = cls._insert(
                    values, event, lock=(timeout, unless),
                    alone=not cls._follows_insert(values))
            except LockUnlessFound as found:
                return cls.answer_duplicate(found.record_id, client_uuid)
            except backend.DatabaseOperationalError as error:
                if not tools.contention(error):
                    raise
                cls._start_again()
                return None
            if attendance is None:
                return None
            return cls._inserted_result(
                attendance, values, event, None, granted=granted)

    @staticmethod
    def _start_again():
        """Roll the transaction back at the database: its next statement
        starts it again, without the locks it held"""
        transaction = Transaction()
        tools.rollback(transaction.connection)
        transaction._locked_records.clear()
        transaction._locked_tables.clear()
        transaction.tasks.clear()

    @classmethod
    def _parse_check_in(cls, credential, position, bssid, client_time,
            device_id):
        """Return the credential, position, client time and device of a
        check-in attempt, parsed, or raise its CheckInError"""
        credential, position = cls._parse_attempt(
            credential, CREDENTIAL_KEYS, position, bssid)
        return (credential, position, parse_client_time(client_time),
            normalize_device(device_id))

    @classmethod
    def _parse_attempt(cls, credential, keys, position, bssid):
        """Return the credential (a copy, of keys only) and the parsed
        position of a check-in or check-out attempt, or raise
        InvalidCheckInError"""
        credential = dict(credential or {})
        if set(credential) - keys:
            raise InvalidCheckInError(gettext(
                    'checkin.msg_credential_invalid'),
                {'fields': sorted(set(credential) - keys)})
        position = parse_position(position)
        if bssid is not None and (
                not isinstance(bssid, str) or len(bssid) > 64):
            raise InvalidCheckInError(gettext(
                    'checkin.msg_credential_invalid'),
                {'fields': ['bssid']})
        return credential, position

    @classmethod
    def _locked(cls, member, credential, client_uuid, attempt):
        """Check the access of the user to member, lock member and return
        the result of attempt(), or its refusal"""
        pool = Pool()
        Member = pool.get('member.member')
        cls._check_access(member, credential)
        Member.hold_lock([member])
        with without_check_access():
            try:
                return attempt()
            except CheckInError as error:
                return CheckInResult(
                    'refused', error=error, client_uuid=client_uuid)

    @classmethod
    def _count(cls, result, credential):
        """Count the refused attempt of result that leaves no check-in
        (checkin.attempt.counter) and return result"""
        cls._count_all([(result, credential)])
        return result

    @classmethod
    def _count_all(cls, attempts):
        """Count the refused attempts [(result, credential)] that leave no
        check-in, those of the same event and outcome together"""
        pool = Pool()
        Counter = pool.get('checkin.attempt.counter')
        counts = {}
        with without_check_access():
            for result, credential in attempts:
                if result.status == 'created' or (
                        result.status == 'refused' and result.attendance):
                    continue  # a check-in, counted from its record
                key = (cls._attempt_event(result, credential), result.code,
                    # A duplicate writes nothing
                    result.status == 'duplicate')
                counts[key] = counts.get(key, 0) + 1
            for (event_id, code, later), count in counts.items():
                if later:
                    Counter.add_later(event_id, code, count=count)
                else:
                    Counter.add(event_id, code, count=count)

    @classmethod
    def _attempt_event(cls, result, credential):
        """Return the id of the existing event of a refused attempt or
        None"""
        pool = Pool()
        Event = pool.get('checkin.event')
        if result.attendance:
            return result.summary()['event_id']
        event_id = cls._named_event(result, credential)
        if event_id is None:
            return None
        return event_id if Event.snapshot(event_id) is not None else None

    @classmethod
    def _named_event(cls, result, credential):
        """Return the id of the event that the refusal of result or the
        credential names (which may not exist), or None"""
        pool = Pool()
        Event = pool.get('checkin.event')
        event_id = getattr(result.error, 'event_id', None)
        if event_id is None and isinstance(credential, dict):
            event_id = credential.get('event_id')
            value = credential.get('qr_token')
            if event_id is None and value:
                if token.is_url(value):
                    try:
                        value = Event._token_of_url(value)
                    except CheckInError:
                        value = None
                parsed = token.parse_token(value) if value else None
                event_id = parsed[0] if parsed else None
        try:
            event_id = int(event_id) if event_id is not None else None
        except (TypeError, ValueError):
            return None
        if event_id is None or not (0 < event_id < 2 ** 31):
            return None
        return event_id

    @classmethod
    def duplicate_query(cls, member_id, credential, position=None,
            bssid=None, client_uuid=None, client_time=None, offline=False,
            device_id=None):
        """Return the prepared query (key, build, values: see
        member.prepared.statement) of the id of the check-in that answers
        the attempt of member_id as a duplicate, or None when only
        check_in can answer it.

        The duplicate is the member's check-in of the same client UUID, or
        else the counted check-in of the event and day of the credential.
        The attempt is checked as check_in checks it before its insert
        (_check_in), with the cached event (no query, but for an NFC tag's
        look-up), so that the
        check-in found is the answer check_in would give: the mini-program
        answers a duplicate without the member's lock (api_route
        lock_unless).  A staff check-in is left to check_in (its access is
        checked there)."""
        try:
            client_uuid = normalize_uuid(client_uuid)
            credential, _, client_time, _ = cls._parse_check_in(
                credential, position, bssid, client_time, device_id)
        except CheckInError:
            return None
        if credential.get('method') == 'staff':
            return None
        day = None
        try:
            now, reference, (event, method, _) = cls._resolve_attempt(
                credential, client_time, offline, keep=True)
            time = cls._attempt_time(event, method, reference, now, offline)
            day = (event.id, event.day_key(time))
        except CheckInError:
            # Only a check-in of the same client UUID answers it
            if not client_uuid:
                return None

        def build(member=None, client_uuid=None, counted_key=None):
            # Each look-up is by a column that only its unique index holds,
            # whatever the statistics (see counted_key_unique): an OR of
            # the two was a sequential scan while the table was young, and
            # the plan is kept for the life of the connection
            table = cls.__table__()
            if client_uuid is None:
                return table.select(table.id,
                    where=(table.counted_key == counted_key) & table.counted,
                    limit=1)
            # The client UUID of another member is check_in's refusal: its
            # check-in answers nothing (the member is not a condition of
            # the look-up, so that no index of the member's is planned)
            same = table.select(Case((table.member == member, table.id)).as_(
                    'id'), where=table.client_uuid == client_uuid)
            if day is not None:
                counted, other = cls.__table__(), cls.__table__()
                same = Union(same, counted.select(counted.id,
                        where=(counted.counted_key == counted_key)
                        & counted.counted
                        & ~Exists(other.select(Literal(1),
                                where=other.client_uuid == client_uuid))),
                    all_=True)
            return same.select(same.id, where=same.id != Null, limit=1)
        values = {}
        if client_uuid:
            values.update(member=member_id, client_uuid=client_uuid)
        if day is not None:
            values['counted_key'] = cls.counted_key_of(
                day[0], int(member_id), day[1])
        return ((cls.__name__, 'duplicate', bool(client_uuid),
                day is not None), build, values)

    @classmethod
    def answer_duplicate(cls, attendance_id, client_uuid=None):
        """Return the CheckInResult of an attempt (of client_uuid) that the
        check-in attendance_id answers as a duplicate (see duplicate_query),
        read in one query, and count the attempt"""
        pool = Pool()
        Event = pool.get('checkin.event')
        Line = pool.get('member.points.line')

        def read(attendance_id):
            table = cls.__table__()
            line = Line.__table__()
            origin = Concat(cls.__name__ + ',', Cast(table.id, 'VARCHAR'))
            points = line.select(Coalesce(Sum(line.points), 0),
                where=line.origin == origin)
            return table.select(table.event, points,
                *[Column(table, n) for n in cls._summary_columns],
                where=table.id == attendance_id)
        # The request's last read: by itself after the lock statement that
        # found the check-in and took no lock (check_in_first)
        event_id, points, *row = fetch_alone(
            (cls.__name__, 'duplicate summary'), read,
            attendance_id=attendance_id)
        values = dict(zip(cls._summary_columns, row),
            points_awarded=points)
        values['reasons'] = cls.reasons.get(
            [attendance_id], cls, 'reasons',
            [{'id': attendance_id, 'reasons': values['reasons']}]
            )[attendance_id]
        summary = cls.summarize(
            attendance_id, Event.snapshot(event_id), values)
        error = AlreadyCheckedInError(gettext(
                'checkin.msg_already_checked_in'), {'checkin': summary})
        return cls._count(CheckInResult('duplicate',
                attendance=cls(attendance_id), error=error,
                client_uuid=normalize_uuid(client_uuid), summary=summary),
            None)

    @classmethod
    def _check_in(cls, member, credential, position, bssid, client_uuid,
            client_time, offline, device_id=None, sync=None):
        if client_uuid:
            existing = cls.search([('client_uuid', '=', client_uuid)])
            if existing:
                existing, = existing
                cls._check_client_uuid(member, existing)
                return cls._duplicate(existing, client_uuid)
        values, event, refusal = cls._attempt(member, credential, position,
            bssid, client_uuid, client_time, offline, device_id, sync)
        if refusal:
            # Kept for review unless it is a duplicate
            existing = cls._find_counted(values)
            if existing:
                return cls._duplicate(existing, client_uuid)
        attendance, existing, granted = cls._insert(
            values, None if refusal else event)
        if existing:
            return cls._duplicate(existing, client_uuid)
        return cls._inserted_result(attendance, values, event, refusal,
            granted=granted)

    @classmethod
    def _check_client_uuid(cls, member, existing):
        """Refuse an attempt of member whose client UUID is that of the
        check-in existing of another member"""
        if existing.member != member:
            raise InvalidCheckInError(gettext(
                    'checkin.msg_client_uuid_other'),
                {'field': 'client_uuid'})

    @classmethod
    def _attempt_time(cls, event, method, reference, now, offline):
        """Return the time of a check-in to event with method, or raise its
        refusal: a method the event does not take, an event not open"""
        if method not in (event.methods or ()):
            raise MethodNotAllowedError(gettext(
                    'checkin.msg_method_not_allowed',
                    method=cls._method_label(method), event=event.rec_name),
                {'method': method, 'allowed': list(event.methods or ())})
        # Only a credential bound to the clock proves the time of an
        # offline check-in: the others are dated when they are received.
        time = reference if method in TIMED_METHODS else now
        event.check_open(time, offline=offline)
        return time

    @classmethod
    def _attempt(cls, member, credential, position, bssid, client_uuid,
            client_time, offline, device_id, sync):
        """Return the values of the check-in of an attempt whose client UUID
        is new, with its status, its event and, when the event's policy
        rejects it, its refusal (the check-in is then kept for review); or
        raise the refusal that leaves no check-in.  No query: the event is
        the cached one (an NFC tag is looked up)."""
        now, reference, (event, method, tag) = cls._resolve_attempt(
            credential, client_time, offline)
        try:
            time = cls._attempt_time(event, method, reference, now, offline)
            values = cls._new_values(member, event, method, tag, time, now,
                position, bssid, client_uuid, client_time, offline)
            if device_id:
                values['device_id'] = device_id
            if sync:
                values['sync_batch'], values['sync_index'] = sync
            reasons = cls._suspicious(event, member, method, position,
                values.get('distance'), values['bssid'])
            values['reasons'] = tuple(reasons)
            values['reason_data'] = dict(reasons) or None
            refusal = None
            if reasons and event.policy == 'reject':
                reason, details = next(iter(reasons.items()))
                Error, _ = REASON_ERRORS[reason]
                refusal = Error(cls._reason_message(reason, details), details)
                values['status'] = 'rejected'
            elif reasons:
                values['status'] = 'flagged'
            else:
                values['status'] = 'late' if values['late'] else 'valid'
            # Nothing to post: granted as it is inserted, no statement more
            values['points_granted'] = (values['status'] in {'valid', 'late'}
                and not event.points and not event.streak)
        except CheckInError as error:
            # The event of the refusal, for the attempt counters
            error.event_id = event.id
            raise
        return values, event, refusal

    @classmethod
    def _inserted_result(cls, attendance, values, event, refusal,
            streak=True, granted=None):
        """Return the result of the check-in attendance just inserted with
        values: refused with refusal (kept for review), or created with the
        points of the event and the streak (unless not streak: the day does
        not extend it) posted (none when flagged), unless granted, the
        (points, member state) of _insert_granted, says they were"""
        if refusal:
            return CheckInResult('refused', attendance=attendance,
                error=refusal, client_uuid=values['client_uuid'])
        points, member_state = granted or (0, None)
        # values, not the record: reading it back costs a query
        if granted is None and values['status'] != 'flagged' and not (
                values['points_granted']):
            points, member_state = cls._grant(attendance.id,
                values['member'], event, values['time'],
                values['local_date'], extend_streak=streak)
        # values, not the record: a record built from them costs as much
        summary = cls.summarize(attendance.id, event, dict(
                {n: values.get(n) for n in cls._summary_fields},
                points_awarded=points))
        return CheckInResult('created', attendance=attendance,
            client_uuid=values['client_uuid'], summary=summary,
            member_state=member_state)

    @classmethod
    def _resolve_attempt(cls, credential, client_time, offline, keep=False):
        """Return the time of an attempt (now), the time its credential is
        checked against (_reference_time) and the event, the method and the
        tag of its credential (_resolve_credential), or raise the refusal.

        keep: the attempt is resolved before its check_in in the same
        transaction (duplicate_query, before the member's lock): check_in
        takes the result instead of resolving the credential again, so
        that the attempt is checked once, at the time it was received."""
        try:
            key = (tuple(sorted(credential.items())), client_time,
                bool(offline))
            hash(key)
        except TypeError:
            key = None
        transaction = Transaction()
        if not keep and key is not None:
            resolved = tools.transaction_memo(
                'checkin.attempts', transaction).pop(key, None)
            if resolved is not None:
                return resolved
        now = clock.now()
        reference = cls._reference_time(client_time, offline, now)
        resolved = (now, reference,
            cls._resolve_credential(credential, reference, offline))
        if keep and key is not None:
            tools.transaction_memo(
                'checkin.attempts', transaction)[key] = resolved
        return resolved

    @classmethod
    def _reference_time(cls, client_time, offline, now):
        """Return the time against which the credential is checked: the
        client time of an offline check-in, within the sync delay"""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        if not offline:
            return now
        config = Configuration(1)
        if client_time is None:
            raise InvalidCheckInError(gettext(
                    'checkin.msg_client_time_required'),
                {'field': 'client_time'})
        if client_time > now + dt.timedelta(seconds=config.clock_skew):
            raise InvalidCheckInError(gettext(
                    'checkin.msg_client_time_future'),
                {'field': 'client_time'})
        if client_time < now - dt.timedelta(hours=config.sync_delay):
            raise QRExpiredError(gettext(
                    'checkin.msg_sync_too_late',
                    hours=config.sync_delay),
                {'reason': 'sync_delay',
                    'sync_delay_hours': config.sync_delay})
        return client_time

    @classmethod
    def _new_values(cls, member, event, method, tag, time, now, position,
            bssid, client_uuid, client_time, offline):
        "Return the values of a new check-in, without its status"
        values = {
            'event': event.id,
            'member': member.id,
            'time': time,
            'server_time': now,
            'client_time': client_time,
            'offline': bool(offline),
            'method': method,
            'tag': tag.id if tag else None,
            'client_uuid': client_uuid,
            'local_date': event.local_date(time),
            'arrival': cls._arrival(event, time),
            'day_key': event.day_key(time),
            'epoch_minute': int(clock.timestamp(time) // 60),
            'late': event.is_late(time),
            'bssid': normalize_bssid(bssid) or (bssid or None),
            }
        if method == 'staff':
            values['checked_in_by'] = Transaction().user or None
        if position:
            latitude, longitude, accuracy, coord_type = position
            values.update({
                    'latitude': latitude,
                    'longitude': longitude,
                    'coord_type': coord_type,
                    'accuracy': accuracy,
                    })
            if event.has_location:
                values['distance'] = round(
                    event.distance(latitude, longitude, coord_type), 1)
        return values

    @classmethod
    def _grant(cls, attendance_id, member_id, event, time, local_date,
            key=None, extend_streak=True):
        """Post the points of the check-in attendance_id (of member_id to
        event at time) with key (default `checkin:<id>`), link its line and
        record the member's daily activity (unless not extend_streak: the
        caller knows that the day does not extend the streak): the one
        grant of a check-in approved or inserted before its points (see
        _insert_granted for the others).

        Return the points awarded and, when they are known without a
        query, the member's (points balance, streak days) after it, else
        None."""
        origin = '%s,%d' % (cls.__name__, attendance_id)
        link = cls._linked_by_posting()
        entry = None
        if event.points:
            entry = dict(cls._points_entry(member_id, event, local_date),
                origin=origin, key=key or 'checkin:%d' % attendance_id)
            if link:
                entry['link'] = (cls, attendance_id, 'points_line',
                    {'points_granted': True})
        line, awarded, member_state = cls._post_grant(
            member_id, event, time, origin, entry, extend_streak)
        if line is None or not link:
            cls._link(attendance_id, line.id if line else None)
        return awarded, member_state

    @classmethod
    def _grants_on_insert(cls, values, event):
        """Whether the new check-in of values is inserted by the posting of
        its points (_insert_granted)"""
        return bool(values['status'] != 'flagged'
            and not values['points_granted'] and event.points
            and cls._linked_by_posting())

    @classmethod
    def _linked_by_posting(cls):
        """Whether the posting of a check-in's points links its line to the
        check-in in its statement: not when triggers on write must see the
        link (see written)"""
        return not tools.triggers(cls.__name__, 'write')

    @classmethod
    def _insert_granted(cls, values, event, lock=None, alone=False):
        """Insert the new check-in of values by the posting of the points of
        event (see _grant), which links its line to it: on PostgreSQL the
        check-in, the line, the member's balance and streak in one
        statement, which takes the member's lock with lock (see
        check_in_first), committed by itself with alone when it can be
        (see member.points.line._post_entries).  Return (the check-in, the
        points awarded, the member's state), or None when the database
        refuses it (see _insert_sql)."""
        stored = cls._stored(values)
        del stored['points_granted']
        entry = dict(cls._points_entry(values['member'], event,
                values['local_date']),
            insert=(cls, stored, 'checkin:'),
            link=(cls, None, 'points_line', {'points_granted': True}))
        if lock is not None:
            entry.update(lock=lock, alone=alone)
        line, awarded, member_state = cls._post_grant(
            values['member'], event, values['time'], None, entry, True)
        if line is None:
            return None
        # The record made by the posting: no other instance of it
        return line.origin, awarded, member_state

    @classmethod
    def _points_entry(cls, member_id, event, local_date):
        "The ledger entry (without origin) of the points of event"
        return {
            'member': member_id,
            'points': event.points,
            # get_rec_name: the rec_name field would read the event again
            'reason': ('checkin.msg_points_reason', {
                    'event': event.get_rec_name('rec_name'),
                    'date': local_date,
                    }),
            }

    @classmethod
    def _post_grant(cls, member_id, event, time, origin, entry,
            extend_streak):
        """Post entry (the points of event, or None) and record the daily
        activity of member_id at time when the event has a streak (unless
        not extend_streak), with origin (None: the record that entry
        inserts); return (the line of entry, the points awarded, the
        member's state: see _grant), the line None when entry inserts its
        record and the database refuses it (nothing is posted)"""
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        line = balance = streak = None
        awarded = event.points if entry is not None else 0
        if event.streak and extend_streak:
            # PostgreSQL: the points, the streak and the link in one
            # statement
            activity = Member._daily_activity(
                member_id, date=time, origin=origin,
                base_points=0 if event.points else None, entry=entry)
            if activity is None:
                return None, 0, None
            line = activity.get('entry_line')
            if line is not None:
                balance = line.balance_after
            if activity['line'] is not None:
                awarded += activity['points']
                balance = activity['balance_after']
            config = Configuration.get_cached()
            # The streak days shown are those of today
            if (activity['streak'] is not None
                    and activity['date'] == config.local_date()):
                streak = activity['streak']
        elif entry is not None:
            line, = Member.post_points([entry])
            if line is None:
                return None, 0, None
            balance = line.balance_after
        member_state = (balance, streak) if (
            balance is not None and streak is not None) else None
        return line, awarded, member_state

    @classmethod
    def _link(cls, attendance_id, line_id):
        "Mark the points of the check-in granted with their line"
        def link(attendance_id, line_id):
            table = cls.__table__()
            return table.update(
                [table.points_granted, table.points_line],
                [True, line_id],
                where=table.id == attendance_id)
        written(cls, [attendance_id], lambda: execute(
                (cls.__name__, 'link'), link,
                attendance_id=attendance_id, line_id=line_id))

    @classmethod
    def _method_label(cls, method):
        "Return the label of method in the language of the user"
        selection = cls.fields_get(['method'])['method']['selection']
        return dict(selection).get(method, method)

    @classmethod
    def _arrival(cls, event, time):
        local = event.local(time)
        minute = local.minute - local.minute % ARRIVAL_MINUTES
        return '%02d:%02d' % (local.hour, minute)

    @classmethod
    def _resolve_credential(cls, credential, when, offline):
        "Return the event, the method and the tag of credential"
        pool = Pool()
        Event = pool.get('checkin.event')
        Tag = pool.get('checkin.tag')
        given = [k for k in ['qr_token', 'code', 'nfc_tag']
            if credential.get(k)]
        if credential.get('method'):
            given.append('method')
        if len(given) > 1:
            raise InvalidCheckInError(gettext(
                    'checkin.msg_credential_invalid'), {'fields': given})
        event_id = credential.get('event_id')
        if event_id is not None:
            try:
                event_id = int(event_id)
            except (TypeError, ValueError):
                raise InvalidCheckInError(gettext(
                        'checkin.msg_credential_invalid'),
                    {'fields': ['event_id']})
        tag = None

        def get_event(reason):
            if event_id is None:
                raise InvalidCheckInError(gettext(
                        'checkin.msg_event_required'),
                    {'fields': ['event_id']})
            event = Event.snapshot(event_id)
            if event is None:
                raise InvalidTokenError(gettext(
                        'checkin.msg_event_unknown'),
                    {'reason': reason})
            return event

        if credential.get('qr_token'):
            method = 'qr'
            event = Event.verify_token(
                credential['qr_token'], when, event=event_id)
        elif credential.get('code'):
            method = 'code'
            event = get_event('unknown_event')
            if 'code' not in (event.methods or ()):
                raise MethodNotAllowedError(gettext(
                        'checkin.msg_method_not_allowed',
                        method=cls._method_label('code'),
                        event=event.rec_name),
                    {'method': 'code', 'allowed': list(event.methods or ())})
            event.verify_code(credential['code'], when)
        elif credential.get('nfc_tag'):
            method = 'nfc'
            tag, event = Tag.resolve(credential['nfc_tag'], when, offline)
            if event_id is not None and event.id != event_id:
                raise InvalidTokenError(gettext('checkin.msg_tag_unknown'),
                    {'reason': 'other_event'})
        elif credential.get('method') in {'staff', 'app'}:
            method = credential['method']
            event = get_event('unknown_event')
        else:
            raise InvalidCheckInError(gettext(
                    'checkin.msg_credential_invalid'), {'fields': []})
        return event, method, tag

    @classmethod
    def _suspicious(cls, event, member, method, position, distance, bssid):
        """Return a dictionary of the reasons why the check-in is suspicious
        and their details.

        The organizers vouch for a staff check-in and an NFC tag is at the
        place, so their position and Wi-Fi are not checked (the position
        of an NFC check-in is, when the device gives it).  The distance
        tolerates the reported accuracy, up to the radius: a check-in
        counts when `distance <= radius + min(accuracy, radius)`."""
        reasons = {}
        if method != 'staff' and event.has_location and (
                method != 'nfc' or position):
            if not position:
                reasons['out_of_range'] = {
                    'reason': 'no_position',
                    'distance_m': None,
                    'radius_m': event.radius,
                    }
            else:
                accuracy = position[2] or 0
                tolerance = min(accuracy, event.radius)
                if distance > event.radius + tolerance:
                    reasons['out_of_range'] = {
                        'reason': 'distance',
                        'distance_m': round(distance),
                        'radius_m': event.radius,
                        'accuracy_m': (
                            round(position[2])
                            if position[2] is not None else None),
                        }
        bssids = event.bssid_list
        if method not in {'staff', 'nfc'} and bssids:
            if bssid not in bssids:
                reasons['wifi_mismatch'] = {
                    'reason': 'other_wifi' if bssid else 'no_bssid',
                    'bssid': bssid,
                    }
        if not event.on_roster(member):
            reasons['not_on_roster'] = {
                'member_id': member.id,
                }
        return reasons

    @classmethod
    def _reason_message(cls, reason, details):
        "Return the text of reason with its details"
        message = REASON_MISSING.get((reason, details.get('reason')),
            REASON_ERRORS[reason][1])
        return gettext(message, **cls._reason_args(details))

    @classmethod
    def _reason_args(cls, details):
        args = {k: ('-' if v is None else v) for k, v in details.items()}
        args.setdefault('distance_m', '-')
        args.setdefault('radius_m', '-')
        args.setdefault('bssid', '-')
        return args

    @classmethod
    def _find_counted(cls, values):
        "Return the counted check-in of the same member, event and day"
        attendances = cls.search([
                ('counted_key', '=', cls.counted_key_of(
                        values['event'], values['member'],
                        values['day_key'])),
                ('counted', '=', True),
                ], limit=1)
        return attendances[0] if attendances else None

    @classmethod
    def _insert(cls, values, event=None, lock=None, alone=False):
        """Insert the check-in and return (attendance, None, granted), or
        return (None, existing, None) when the database refuses it as a
        duplicate of existing (the same counted check-in or the same client
        UUID).  With the event of a check-in whose points it posts
        (_grants_on_insert), the check-in is inserted by their posting
        (_insert_granted) and granted is the (points, member state) of it,
        else None.  With lock, the posting takes the member's lock (see
        check_in_first) and nothing is looked up: (None, None, None) when
        it did not insert the check-in; with alone too, its statement may be
        committed by itself (see _insert_granted).

        On PostgreSQL the database alone decides: a concurrent duplicate
        waits for the first transaction and is refused by the exclusion
        constraint.  SQLite has a single writer: the existing check-in is
        looked up first (see savepoint)."""
        values = values.copy()
        counted = values['status'] in COUNTED

        def find():
            if counted:
                existing = cls._find_counted(values)
                if existing:
                    return existing
            if values.get('client_uuid'):
                existing = cls.search([
                        ('client_uuid', '=', values['client_uuid']),
                        ], limit=1)
                if existing:
                    return existing[0]

        if backend.name != 'postgresql':
            existing = find()
            if existing:
                return None, existing, None
        granted = attendance = None
        if event is not None and cls._grants_on_insert(values, event):
            inserted = cls._insert_granted(values, event, lock, alone)
            attendance_id = None
            if inserted is not None:
                attendance, *granted = inserted
                attendance_id = attendance.id
        else:
            assert lock is None, "a check-in not inserted by its posting"
            attendance_id = cls._insert_sql(values)
        if attendance_id is None and lock is not None:
            return None, None, None
        if attendance_id is None:
            existing = find()
            if existing:
                return None, existing, None
            # The duplicate was committed after this transaction took its
            # snapshot: read it in a new one.
            raise CheckInRestart()
        if attendance is None:
            attendance = tools.instance(cls, attendance_id)
        cls._inserted([(attendance, values)])
        return attendance, None, granted

    @classmethod
    def _insert_many(cls, rows):
        """Insert the check-ins of rows (values computed by _attempt, each
        with its client UUID) in one statement and return them in order.

        The caller holds the member's lock and looked up the check-ins of
        its client UUIDs and days: the database refuses only a row whose
        duplicate another transaction committed meanwhile (another member's
        client UUID), and the transaction restarts to read it."""
        names = set().union(*rows)
        inserted = [cls._stored({n: values.get(n) for n in names})
            for values in rows]
        found = {client_uuid: id_ for id_, client_uuid in insert_many(
                cls, inserted, conflict=True, returning=['client_uuid'])}
        if len(found) != len(rows):
            raise CheckInRestart()
        attendances = cls.browse([found[v['client_uuid']] for v in rows])
        cls._inserted(list(zip(attendances, rows)))
        return attendances

    @classmethod
    def _inserted(cls, attendances):
        """Called with the (check-in, its values) just inserted by _insert
        or _insert_many (before their points are posted, but for those
        inserted by their posting: see _insert_granted): the one place
        where other modules follow the new check-ins"""

    @classmethod
    def _follows_insert(cls, values):
        """Whether _inserted writes for the new check-in of values: the
        posting that inserts it is then not committed by itself (see
        check_in_first; a write after it would fail)"""
        return False

    @classmethod
    def _insert_sql(cls, values):
        """Insert a check-in of values computed by _check_in and return its
        id, or None when a counted check-in of the same day or the same
        client UUID exists (the database decides: ON CONFLICT DO NOTHING
        checks the exclusion constraint and the unique index).

        One statement instead of the ORM create: the values are computed
        and checked by the caller, the access was checked by check_in; the
        triggers on creation are queued as the ORM does."""
        return insert(cls, cls._stored(values), conflict=True)

    @classmethod
    def _stored(cls, values):
        "The values of _attempt as inserted: counted, not yet granted"
        return dict(values, counted=values['status'] in COUNTED,
            points_granted=bool(values.get('points_granted')),
            counted_key=cls.counted_key_of(
                values['event'], values['member'], values['day_key']))

    @classmethod
    def _duplicate(cls, existing, client_uuid, Error=AlreadyCheckedInError,
            message='checkin.msg_already_checked_in', summary=None):
        """The result of an attempt that existing answers (duplicate), of
        its summary when known"""
        if summary is None:
            summary = existing.summary()
        error = Error(gettext(message), {'checkin': summary})
        return CheckInResult('duplicate', attendance=existing, error=error,
            client_uuid=client_uuid, summary=summary)

    @classmethod
    def _summaries(cls, attendances):
        "Return {id: summary} of the check-ins, read together"
        attendances = cls.browse(attendances)
        points = cls.get_points_awarded(attendances, 'points_awarded')
        return {a.id: cls.summarize(a.id, a.event, dict(
                    {n: getattr(a, n) for n in cls._summary_columns},
                    points_awarded=points[a.id]))
            for a in attendances}

    @classmethod
    def check_in_batch(cls, event, members):
        """Check several members in to event with the staff method and
        return a CheckInResult for each member, in order.

        A member id that is no active member is refused on its own
        (MemberUnknownError): the others are checked in."""
        pool = Pool()
        Event = pool.get('checkin.event')
        Member = pool.get('member.member')
        # Who may not check in to the event learns nothing of the members
        Event(int(event)).check_organizer()
        ids = [int(m) for m in members]
        with without_check_access():
            known = Member.browse(
                Member.search([('id', 'in', list(set(ids)))]))
        if known:
            Member.hold_lock(known)
        known = {m.id: m for m in known}
        results = []
        for member_id in ids:
            if member_id in known:
                results.append(cls.check_in(known[member_id],
                        {'event_id': int(event), 'method': 'staff'}))
            else:
                results.append(CheckInResult('refused',
                        error=MemberUnknownError(gettext(
                                'checkin.msg_member_unknown', id=member_id),
                            {'member_id': member_id})))
        return results

    @classmethod
    def sync(cls, member, items):
        """Check in the items queued offline by member's device and return
        a CheckInResult for each item, in order.

        Each item is a dictionary with the keys of the API: qr_token, code
        (+ event_id), nfc_tag, lat, lon, accuracy_m, coord_type, bssid and
        the required client_uuid and client_time (device_id optional).  The
        conflicts of the batch are stored (checkin.attendance.conflict).
        Sending the same items again creates nothing new: each one is then
        a duplicate.

        Each item is answered as check_in would answer it in turn, by
        statements for the whole batch: one look-up of the check-ins of
        the client UUIDs, one of the counted check-ins of the events and
        days of the items, one insert of the new check-ins; then the points
        of each (the ledger's one posting path, in the order of the
        items)."""
        pool = Pool()
        Member = pool.get('member.member')
        Conflict = pool.get('checkin.attendance.conflict')
        if len(items) > SYNC_MAX_ITEMS:
            raise InvalidCheckInError(gettext(
                    'checkin.msg_sync_too_many', max=SYNC_MAX_ITEMS),
                {'max': SYNC_MAX_ITEMS})
        member = Member(int(member))
        Member.hold_lock([member])
        batch = uuid.uuid4().hex
        results = [None] * len(items)

        credentials = {}

        def refuse(index, error, credential, client_uuid):
            results[index] = CheckInResult('refused', error=error,
                client_uuid=client_uuid
                if isinstance(client_uuid, str) else None)
            credentials[index] = credential

        attempts = []
        for index, item in enumerate(items):
            credential = None
            try:
                kwargs = cls.parse_item(item)
                credential = kwargs['credential']
                if not kwargs.get('client_uuid'):
                    raise InvalidCheckInError(gettext(
                            'checkin.msg_client_uuid_required'),
                        {'field': 'client_uuid'})
                if not kwargs.get('client_time'):
                    raise InvalidCheckInError(gettext(
                            'checkin.msg_client_time_required'),
                        {'field': 'client_time'})
                kwargs['client_uuid'] = normalize_uuid(kwargs['client_uuid'])
                kwargs['credential'], kwargs['position'] = (
                    cls._parse_attempt(credential, CREDENTIAL_KEYS,
                        kwargs['position'], kwargs['bssid']))
                kwargs['client_time'] = parse_client_time(
                    kwargs['client_time'])
                kwargs['device_id'] = normalize_device(kwargs['device_id'])
                cls._check_access(member, kwargs['credential'])
            except CheckInError as error:
                client_uuid = (item.get('client_uuid')
                    if isinstance(item, dict) else None)
                refuse(index, error, credential, client_uuid)
                continue
            attempts.append((index, kwargs))

        with without_check_access():
            cls._sync_attempts(member, batch, attempts, results, refuse)
        cls._count_all(
            [(r, credentials.get(i)) for i, r in enumerate(results)])
        # The conflicts of the batch: once per synchronisation
        Conflict.detect([r.attendance.id for r in results
                if r.attendance and r.status != 'duplicate'])
        return results

    @classmethod
    def _sync_attempts(cls, member, batch, attempts, results, refuse):
        """Fill results with the answers of the attempts [(index, check_in
        keyword arguments)] of sync"""
        # The check-ins of the client UUIDs, in one query
        known = {a.client_uuid: a for a in cls.search([
                    ('client_uuid', 'in',
                        list({k['client_uuid'] for _, k in attempts})),
                    ])} if attempts else {}
        # The items answered by a check-in: the existing one, or the index
        # of the earlier item of the batch that inserts it
        new, answered_by = [], {}
        for index, kwargs in attempts:
            client_uuid = kwargs['client_uuid']
            try:
                if client_uuid in known:
                    cls._check_client_uuid(member, known[client_uuid])
                    answered_by[index] = known[client_uuid], client_uuid
                    continue
                values, event, refusal = cls._attempt(member,
                    kwargs['credential'], kwargs['position'],
                    kwargs['bssid'], client_uuid, kwargs['client_time'],
                    True, kwargs['device_id'], (batch, index))
            except CheckInError as error:
                refuse(index, error, kwargs['credential'], client_uuid)
                continue
            new.append((index, values, event, refusal))

        # The counted check-ins of the days of the items, in one query
        days = {cls.counted_key_of(v['event'], member.id, v['day_key']): (
                v['event'], v['day_key']) for _, v, _, _ in new}
        counted = {}
        if days:
            for attendance in cls.search([
                        ('counted_key', 'in', list(days)),
                        ('counted', '=', True),
                        ]):
                counted[days[attendance.counted_key]] = attendance
        rows = []
        for index, values, event, refusal in new:
            day = (values['event'], values['day_key'])
            client_uuid = values['client_uuid']
            existing = known.get(client_uuid, counted.get(day))
            if existing is not None:
                answered_by[index] = existing, client_uuid
                continue
            known[client_uuid] = index
            if values['status'] in COUNTED:
                counted[day] = index
            rows.append((index, values, event, refusal))

        streaks = cls._extending_streak(member, [
                (i, v, e) for i, v, e, r in rows if not r])
        if rows:
            attendances = cls._insert_many([v for _, v, _, _ in rows])
            for (index, values, event, refusal), attendance in zip(
                    rows, attendances):
                results[index] = cls._inserted_result(
                    attendance, values, event, refusal,
                    streak=index in streaks)
        summaries = cls._summaries([e for e, _ in answered_by.values()
                if not isinstance(e, int)])
        for index, (existing, client_uuid) in answered_by.items():
            if isinstance(existing, int):
                summary = results[existing].summary()
                existing = results[existing].attendance
            else:
                summary = summaries[existing.id]
            results[index] = cls._duplicate(
                existing, client_uuid, summary=summary)

    @classmethod
    def _extending_streak(cls, member, attempts):
        """Return the indexes of the attempts [(index, values, event)] of
        member, in order, whose check-in extends the member's streak: the
        first of each local day after the member's last active day.  The
        points of the others are posted without the streak's statements
        (it would change nothing); those with nothing to post are marked
        granted as they are inserted (points_granted)."""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Member = pool.get('member.member')
        config = Configuration.get_cached()
        streaks, last = set(), None
        if any(e.streak for _, v, e in attempts
                if v['status'] in {'valid', 'late'}):
            _, last, _ = Member._streak_row(member.id)
        for index, values, event in attempts:
            if values['status'] not in {'valid', 'late'}:
                continue
            counts = False
            if event.streak:
                day = config.local_date(values['time'])
                counts = Member.streak_counts(last, day)
                if counts:
                    last = day
                    streaks.add(index)
            values['points_granted'] = not event.points and not counts
        return streaks

    @classmethod
    def parse_item(cls, item):
        """Return the keyword arguments of check_in for an item with the
        field names of the API"""
        if not isinstance(item, dict):
            raise InvalidCheckInError(gettext(
                    'checkin.msg_credential_invalid'), {'fields': []})
        credential = {k: item[k]
            for k in ['qr_token', 'code', 'event_id', 'nfc_tag', 'method']
            if item.get(k) is not None}
        position = None
        if any(item.get(k) is not None for k in ['lat', 'lon', 'coord_type']):
            position = {
                'lat': item.get('lat'),
                'lon': item.get('lon'),
                'accuracy_m': item.get('accuracy_m'),
                'coord_type': item.get('coord_type'),
                }
        return {
            'credential': credential,
            'position': position,
            'bssid': item.get('bssid'),
            'client_uuid': item.get('client_uuid'),
            'client_time': item.get('client_time'),
            'device_id': item.get('device_id'),
            }

    @classmethod
    def sign_in(cls, member, client_uuid=None, client_time=None):
        """The daily points sign-in of the mini-program: check member in to
        the sign-in event of the configuration with the in-app method.
        A second sign-in the same local day is a duplicate."""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        with without_check_access():
            event = Configuration(1).sign_in_event
        if not event:
            return CheckInResult('refused', error=EventNotOpenError(
                    gettext('checkin.msg_sign_in_event_missing'),
                    {'reason': 'no_sign_in_event'}),
                client_uuid=client_uuid)
        return cls.check_in(member, {'event_id': event.id, 'method': 'app'},
            client_uuid=client_uuid, client_time=client_time)

    # Check-out

    @classmethod
    def check_out(cls, member, credential, position=None, bssid=None,
            client_uuid=None):
        """Check member out of the event of credential and return a
        CheckInResult: 'created' with the check-in now closed, 'duplicate'
        (AlreadyCheckedOutError) when it was checked out already, or
        'refused'.

        credential is a dictionary with qr_token (event_id optional: a
        token of another event is refused) or event_id with method 'app'
        (the default: the member in the mini-program) or 'staff' (an
        organizer); the access is that of check_in.  The check-out closes
        the counted check-in of the member (of the local day for daily
        attendance): NotCheckedInError without one.  Leaving needs no
        geofence: position (as check_in) and bssid are kept, not checked.
        The check-out is dated now, at the latest at the end of the event
        (or of the day).  The member is locked as by check_in: of two
        concurrent check-outs, the second answers the first."""
        pool = Pool()
        Member = pool.get('member.member')
        member = Member(int(member))
        try:
            client_uuid = normalize_uuid(client_uuid)
            credential, position = cls._parse_attempt(
                credential, CHECKOUT_CREDENTIAL_KEYS, position, bssid)
            if not credential.get('qr_token'):
                credential.setdefault('method', 'app')
            if credential.get('method') not in {None, 'app', 'staff'}:
                raise InvalidCheckInError(gettext(
                        'checkin.msg_credential_invalid'),
                    {'fields': ['method']})
        except CheckInError as error:
            return CheckInResult('refused', error=error,
                client_uuid=client_uuid if isinstance(
                    client_uuid, str) else None)
        return cls._locked(member, credential, client_uuid,
            lambda: cls._check_out(
                member, credential, position, bssid, client_uuid))

    @classmethod
    def _check_out(cls, member, credential, position, bssid, client_uuid):
        now = clock.now()
        if client_uuid:
            existing = cls.search([
                    ('checkout_client_uuid', '=', client_uuid),
                    ], limit=1)
            if existing:
                existing, = existing
                if existing.member != member:
                    raise InvalidCheckInError(gettext(
                            'checkin.msg_client_uuid_other'),
                        {'field': 'client_uuid'})
                return cls._checked_out(existing, client_uuid)
        event, method, _ = cls._resolve_credential(credential, now, False)
        if not event.record_leaving:
            raise MethodNotAllowedError(gettext(
                    'checkin.msg_checkout_not_recorded',
                    event=event.rec_name),
                {'reason': 'no_checkout', 'event_id': event.id})
        if event.state not in {'open', 'closed'}:
            event.check_open(now)
        attendances = cls.search([
                ('counted_key', '=', cls.counted_key_of(
                        event.id, member.id, event.day_key(now))),
                ('counted', '=', True),
                ], limit=1)
        if not attendances:
            raise NotCheckedInError(gettext(
                    'checkin.msg_not_checked_in', event=event.rec_name),
                {'event_id': event.id})
        attendance, = attendances
        if attendance.checkout_time:
            return cls._checked_out(attendance, client_uuid)
        time = max(min(now, event.leaving_time(attendance.local_date)),
            attendance.time)
        values = {
            'checkout_time': time,
            'checkout_source': 'staff' if method == 'staff' else 'member',
            'checkout_user': (
                Transaction().user or None if method == 'staff' else None),
            'duration': cls._duration(attendance.time, time),
            'checkout_client_uuid': client_uuid,
            'checkout_bssid': normalize_bssid(bssid) or (bssid or None),
            }
        if position:
            latitude, longitude, accuracy, coord_type = position
            values.update({
                    'checkout_latitude': latitude,
                    'checkout_longitude': longitude,
                    'checkout_coord_type': coord_type,
                    'checkout_accuracy': accuracy,
                    })
        cls.write([attendance], values)
        return CheckInResult('created', attendance=cls(attendance.id),
            client_uuid=client_uuid)

    @classmethod
    def _checked_out(cls, attendance, client_uuid):
        return cls._duplicate(attendance, client_uuid,
            AlreadyCheckedOutError, 'checkin.msg_already_checked_out')

    @staticmethod
    def _duration(start, end):
        "Return the whole minutes from start to end"
        return max(0, int((end - start).total_seconds() // 60))

    @classmethod
    def close_missing(cls, event, attendances):
        """Check out automatically the attendances of event at the end of
        the event (or of their day), flagged for review when the event
        flags the missing check-outs; return them"""
        pool = Pool()
        Member = pool.get('member.member')
        if not attendances:
            return []
        Member.hold_lock(list({a.member for a in attendances}))
        closed = []
        for attendance in cls.browse([a.id for a in attendances]):
            # Checked out meanwhile
            if attendance.checkout_time:
                continue
            time = max(event.leaving_time(attendance.local_date),
                attendance.time)
            cls.write([attendance], {
                    'checkout_time': time,
                    'checkout_source': 'auto',
                    'duration': cls._duration(attendance.time, time),
                    'checkout_review': event.missing_checkout == 'flag',
                    })
            closed.append(attendance)
        return closed

    # RPC entry points for the Tryton client and proteus

    @classmethod
    def submit(cls, member, item):
        "Check member in with an item of the API, return the result values"
        try:
            kwargs = cls.parse_item(item)
        except CheckInError as error:
            return CheckInResult('refused', error=error).to_dict()
        return cls.check_in(member, **kwargs).to_dict()

    @classmethod
    def submit_checkout(cls, member, item):
        """Check member out with an item of the API (qr_token or event_id,
        method, position, bssid, client_uuid), return the result values"""
        try:
            kwargs = cls.parse_checkout(item)
        except CheckInError as error:
            return CheckInResult('refused', error=error).to_dict()
        return cls.check_out(member, **kwargs).to_dict()

    @classmethod
    def parse_checkout(cls, item):
        """Return the keyword arguments of check_out for an item with the
        field names of the API"""
        kwargs = cls.parse_item(item)
        # A check-out is dated when it is received, and its device is not
        # compared (the conflict report looks at the check-ins)
        del kwargs['client_time']
        del kwargs['device_id']
        return kwargs

    @classmethod
    def submit_sync(cls, member, items):
        "Synchronise offline items of member, return the results values"
        return [r.to_dict() for r in cls.sync(member, items)]

    # Points

    def _grant_points(self):
        """Post the points of the approved check-in and record the member's
        daily activity, once per decision (the record is locked by the
        caller)"""
        pool = Pool()
        Line = pool.get('member.points.line')
        if self.points_granted:
            return
        key = 'checkin:%d' % self.id
        previous = Line.search([
                ('origin', '=', str(self)),
                ('idempotency_key', 'like', key + '%'),
                ('points', '>', 0),
                ], order=[])
        if previous:
            key += ':award:%d' % (len(previous) + 1)
        self._grant(self.id, self.member.id, self.event, self.time,
            self.local_date, key=key)

    def _take_back_points(self):
        """Post a reversal of the points earned with the check-in (its own
        and the streak points), once per decision.  The reversal may bring
        the balance below zero: points earned by cheating are taken back
        even when spent."""
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        if not self.points_granted:
            return
        lines = Line.search([('origin', '=', str(self))], order=[])
        net = sum(l.points for l in lines)
        if net > 0:
            key = 'checkin:%d:reversal:%d' % (
                self.id, len([l for l in lines if l.points < 0]) + 1)
            Member.post_points([{
                        'member': self.member,
                        'points': -net,
                        'reason': ('checkin.msg_points_reversal_reason', {
                                'event': self.event.rec_name,
                                'date': self.local_date}),
                        'origin': self,
                        'key': key,
                        'reversal': True,
                        'allow_negative': True,
                        }])
        self.__class__.write([self], {'points_granted': False})

    # Review

    @classmethod
    @ModelView.button
    def approve(cls, attendances):
        """Accept flagged (or rejected) check-ins: they count and earn their
        points"""
        pool = Pool()
        Member = pool.get('member.member')
        cls.lock(attendances)
        Member.hold_lock(list({a.member for a in attendances}))
        now = clock.now()
        user = Transaction().user or None
        with without_check_access():
            for attendance in cls.browse([a.id for a in attendances]):
                if attendance.status not in {'flagged', 'rejected'}:
                    continue
                if attendance.status == 'rejected':
                    existing = cls._find_counted({
                            'event': attendance.event.id,
                            'member': attendance.member.id,
                            'day_key': attendance.day_key,
                            })
                    if existing:
                        raise ReviewError(gettext(
                                'checkin.msg_review_already_counted',
                                checkin=attendance.rec_name))
                cls.write([attendance], {
                        'status': 'late' if attendance.late else 'valid',
                        'reviewed_by': user,
                        'reviewed_at': now,
                        })
                cls(attendance.id)._grant_points()

    @classmethod
    @ModelView.button
    def confirm_checkout(cls, attendances):
        """The automatic check-outs flagged for review are accepted as they
        are (the review note says what was found)"""
        now = clock.now()
        user = Transaction().user or None
        with without_check_access():
            cls.write([a for a in attendances if a.checkout_review], {
                    'checkout_review': False,
                    'reviewed_by': user,
                    'reviewed_at': now,
                    })

    @classmethod
    @ModelView.button
    def reject(cls, attendances):
        """Refuse check-ins: they no longer count and the points they
        earned are taken back"""
        pool = Pool()
        Member = pool.get('member.member')
        cls.lock(attendances)
        Member.hold_lock(list({a.member for a in attendances}))
        now = clock.now()
        user = Transaction().user or None
        with without_check_access():
            for attendance in cls.browse([a.id for a in attendances]):
                if attendance.status == 'rejected':
                    continue
                cls.write([attendance], {
                        'status': 'rejected',
                        'reviewed_by': user,
                        'reviewed_at': now,
                        })
                cls(attendance.id)._take_back_points()
