# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import base64
import datetime as dt
import functools
import math
import re
import tempfile

from sql import Literal, Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case

from trytond import backend
from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import Check, Index, ModelSQL, ModelView, Workflow, fields
from trytond.modules.member.configuration import TIMEZONES
from trytond.modules.suite import clock, geo, tools
from trytond.modules.suite.tools import isoformat
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.rpc import RPC
from trytond.tools import grouped_slice
from trytond.tools import timezone as tz
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import token
from .analytics import attempt_stats
from .configuration import MISSING_CHECKOUTS, POLICIES
from .exceptions import (
    CheckInAccessError, EventError, EventNotOpenError, EventValidationError,
    InvalidTokenError, QRExpiredError)

KINDS = [
    ('meeting', "Meeting / Activity"),
    ('daily', "Daily Attendance"),
    ('points', "Points Sign-in"),
    ]
# Kinds with one attendance per member per local day
DAILY_KINDS = {'daily', 'points'}
# Kinds that may record when members leave
LEAVING_KINDS = ['meeting', 'daily']
METHODS = [
    ('qr', "Rotating QR Code"),
    ('code', "Activity Code"),
    ('nfc', "NFC Tag"),
    ('staff', "Staff Check-in"),
    ('app', "In-app Sign-in"),
    ]
# Methods whose credential proves the time of the check-in
TIMED_METHODS = {'qr', 'code'}
COORD_TYPES = geo.COORD_TYPE_SELECTION
STATES = [
    ('draft', "Draft"),
    ('open', "Open"),
    ('closed', "Closed"),
    ('cancelled', "Cancelled"),
    ]
_BSSID = re.compile(r'^([0-9a-f]{2}:){5}[0-9a-f]{2}$')
BUCKETS = [1, 5, 10, 15, 30, 60, 120, 240, 360, 720, 1440]


def normalize_bssid(value):
    "Return the lower-case colon form of a BSSID or None if invalid"
    if not value or not isinstance(value, str):
        return None
    value = value.strip().lower().replace('-', ':')
    if re.match(r'^[0-9a-f]{12}$', value):
        value = ':'.join(value[i:i + 2] for i in range(0, 12, 2))
    if not _BSSID.match(value):
        return None
    return value


def parse_bssids(text):
    "Return the list of BSSIDs of text (one a line) and the invalid lines"
    bssids, invalid = [], []
    for line in (text or '').splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        bssid = normalize_bssid(line)
        if bssid:
            if bssid not in bssids:
                bssids.append(bssid)
        else:
            invalid.append(line)
    return bssids, invalid


def clean_bssids(values):
    """Write the BSSIDs of values (of an event or a place) one a line in
    their normal form, or raise EventValidationError for an invalid one"""
    if values.get('bssids'):
        bssids, invalid = parse_bssids(values['bssids'])
        if invalid:
            raise EventValidationError(gettext(
                    'checkin.msg_event_bssid_invalid', bssid=invalid[0]))
        values['bssids'] = '\n'.join(bssids)


# The fields a check-in reads of its event, kept per process by
# Event.snapshot and cleared on every change of an event (in every process:
# Tryton's cache invalidation)
SNAPSHOT_FIELDS = [
    'name', 'kind', 'state', 'start', 'end', 'timezone', 'open_before',
    'auto_open', 'day_start', 'day_end', 'late_after', 'place', 'latitude',
    'longitude', 'coord_type', 'radius', 'bssids', 'methods', 'policy',
    'points', 'streak', 'qr_window', 'code_window', 'secret',
    'previous_secret', 'secret_date', 'record_leaving',
    ]
_snapshot_cache = Cache('checkin.event.snapshot', context=False)


# The WGS-84 point of the events: the same for every check-in of an event,
# converted once per process
_event_wgs84 = functools.lru_cache(maxsize=1024)(geo.to_wgs84)


class Event(Workflow, ModelSQL, ModelView):
    "Check-in Event"
    __name__ = 'checkin.event'
    __string__ = "Check-in Event"
    # The fields of Event.snapshot: a module that reads another field of
    # the event on each check-in adds it (in __setup__)
    _snapshot_fields = SNAPSHOT_FIELDS

    _draft = {'readonly': Eval('state') != 'draft'}
    _active = {'readonly': Eval('state').in_(['closed', 'cancelled'])}

    name = fields.Char("Name", required=True, states=_active)
    kind = fields.Selection(
        KINDS, "Kind", required=True, states=_draft,
        help="Meeting: one check-in per member.\n"
        "Daily attendance and points sign-in: one check-in per member and "
        "local day.")
    state = fields.Selection(
        STATES, "State", required=True, readonly=True, sort=False)
    organizers = fields.Many2Many(
        'checkin.event-res.user', 'event', 'user', "Organizers",
        states=_active,
        help="The users who run the event: they see and manage it.")
    start = fields.DateTime(
        "Start", required=True, states=_draft,
        domain=[If(Bool(Eval('end')), ('start', '<', Eval('end')), ())])
    end = fields.DateTime(
        "End", required=True, states=_active,
        domain=[If(Bool(Eval('start')), ('end', '>', Eval('start')), ())])
    timezone = fields.Selection(
        TIMEZONES, "Timezone", required=True, translate=False, states=_draft,
        help="The time zone of the local day and of the late threshold.")
    open_before = fields.Integer(
        "Open Before", required=True, states=_active,
        domain=[('open_before', '>=', 0)],
        help="In minutes, how long before the start (or the daily start) "
        "members may check in.")
    auto_open = fields.Boolean(
        "Open Automatically", states=_active,
        help="If checked, the event is opened when check-in starts and "
        "closed at its end by the scheduler.")
    day_start = fields.Time(
        "Daily Start", states={
            'invisible': ~Eval('kind').in_(list(DAILY_KINDS)),
            'readonly': Eval('state') != 'draft',
            },
        help="The local time each day from which members are expected.")
    day_end = fields.Time(
        "Daily End", states={
            'invisible': ~Eval('kind').in_(list(DAILY_KINDS)),
            'readonly': Eval('state') != 'draft',
            },
        help="The local time each day after which check-in is closed.")
    late_after = fields.Integer(
        "Late After", states=_active,
        domain=['OR',
            ('late_after', '=', None),
            ('late_after', '>=', 0),
            ],
        help="In minutes after the start (or the daily start), from when a "
        "check-in is late.\nLeave empty to never mark late check-ins.")

    record_leaving = fields.Boolean(
        "Record Leaving", states={
            'invisible': ~Eval('kind').in_(LEAVING_KINDS),
            'readonly': Eval('state').in_(['closed', 'cancelled']),
            },
        help="If checked, members check out when they leave: the check-ins "
        "get their duration and the statistics who is present.")
    missing_checkout = fields.Selection(
        MISSING_CHECKOUTS, "Missing Check-out", required=True,
        states={
            'invisible': ~Eval('record_leaving', False),
            'readonly': Eval('state').in_(['closed', 'cancelled']),
            },
        help="What becomes of a check-in without check-out once the event "
        "(or its day, for daily attendance) has ended:\n"
        "Leave open: no check-out and no duration.\n"
        "Close at the end: checked out automatically at the end.\n"
        "Close at the end and flag: the same, marked for review.")

    place = fields.Many2One(
        'checkin.place', "Place", ondelete='RESTRICT', states=_active)
    address = fields.Char("Address", states=_active)
    latitude = fields.Float(
        "Latitude", digits=(3, 7), states=_active,
        domain=[If(Bool(Eval('latitude')), [
                    ('latitude', '>=', -90), ('latitude', '<=', 90)], [])])
    longitude = fields.Float(
        "Longitude", digits=(3, 7), states=_active,
        domain=[If(Bool(Eval('longitude')), [
                    ('longitude', '>=', -180), ('longitude', '<=', 180)],
                [])])
    coord_type = fields.Selection(
        COORD_TYPES, "Coordinate System", required=True, sort=False,
        states=_active,
        help="The system of the latitude and longitude: GPS devices and "
        "wx.getLocation give WGS-84, the Chinese maps (Tencent, AMap) "
        "GCJ-02.\nCheck-ins are compared with the location in one system.")
    paste_point = fields.Function(fields.Char(
            "Paste a Point", states=_active,
            help="Paste a point copied from a Chinese map (Tencent Maps, "
            "AMap), such as \"31.230416,121.473701\": it fills the "
            "latitude and the longitude in GCJ-02."),
        'get_paste_point', setter='set_paste_point')
    radius = fields.Integer(
        "Radius", required=True, states=_active,
        domain=[('radius', '>', 0)],
        help="In meters, how far from the location members may check in.")
    bssids = fields.Text(
        "Wi-Fi BSSIDs", states=_active,
        help="The BSSIDs (access point MAC addresses) of the Wi-Fi of the "
        "place, one a line.\nWhen set, a check-in must report one of them.")
    methods = fields.MultiSelection(
        METHODS, "Methods", required=True, states=_active)
    policy = fields.Selection(
        POLICIES, "Suspicious Check-ins", required=True, states=_active,
        help="Reject: an out-of-range, wrong Wi-Fi or off-roster check-in is "
        "refused.\nAccept and flag: it is recorded for review.")
    roster = fields.Many2Many(
        'checkin.event-member.member', 'event', 'member', "Roster",
        states=_active,
        help="The members expected.\nWhen set, other members are refused or "
        "flagged following the policy.")
    points = fields.Integer(
        "Points", required=True, states=_active,
        domain=[('points', '>=', 0)],
        help="The points a member earns with a check-in.")
    streak = fields.Boolean(
        "Counts for Streak", states=_active,
        help="If checked, a check-in counts as the member's daily activity.")
    qr_window = fields.Integer(
        "QR Window", required=True, states=_draft,
        domain=[('qr_window', '>=', 10)],
        help="In seconds, how long a QR code is shown before it changes.\n"
        "The current and the previous code are accepted.")
    code_window = fields.Integer(
        "Code Window", required=True, states=_draft,
        domain=[('code_window', '>=', 10)],
        help="In seconds, how long an activity code is shown.")
    secret = fields.Char("Secret", readonly=True, strip=False)
    previous_secret = fields.Char(
        "Previous Secret", readonly=True, strip=False)
    secret_date = fields.DateTime("Secret Date", readonly=True)

    attendances = fields.One2Many(
        'checkin.attendance', 'event', "Check-ins", readonly=True)
    expected = fields.Function(fields.Integer(
            "Expected",
            help="The number of members on the roster."),
        'get_counts')
    checked_in = fields.Function(fields.Integer(
            "Checked In",
            help="The number of counted check-ins (valid, late or flagged)."),
        'get_counts')
    late = fields.Function(fields.Integer("Late"), 'get_counts')
    flagged = fields.Function(fields.Integer("To Review"), 'get_counts')
    rate = fields.Function(fields.Float(
            "Rate",
            help="Checked in / expected; for daily kinds, the average over "
            "the days so far."),
        'get_counts')

    attempts = fields.Function(fields.Integer(
            "Attempts",
            help="Every check-in attempt: the check-ins recorded and the "
            "refused attempts."),
        'get_attempts')
    success_rate = fields.Function(fields.Float(
            "Success Rate", digits=(1, 4),
            help="Counted check-ins / attempts."),
        'get_attempts')
    median_minutes = fields.Function(fields.Integer(
            "Median Arrival",
            help="In minutes, the median time from the opening of the "
            "event to the counted check-ins (not for daily kinds)."),
        'get_attempts')
    anomaly_rate = fields.Function(fields.Float(
            "Anomaly Rate", digits=(1, 4),
            help="(Flagged + rejected check-ins + conflicts) / attempts."),
        'get_attempts')
    attempt_hints = fields.Function(fields.Text("Hints"), 'get_attempts')

    qr_token = fields.Function(fields.Char("QR Token"), 'get_kiosk')
    qr_image = fields.Function(fields.Binary("QR Code"), 'get_kiosk')
    activity_code = fields.Function(
        fields.Char("Activity Code"), 'get_kiosk')
    kiosk_refresh = fields.Function(
        fields.DateTime("Next Code"), 'get_kiosk')

    del _draft, _active

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('dates', Check(t, t.end > t.start),
                'checkin.msg_event_dates'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality(cardinality='low')),
                    (t.start, Index.Range())),
                Index(t, (t.end, Index.Range())),
                })
        cls._order = [('start', 'DESC'), ('id', 'DESC')]
        cls.__rpc__.update({
                'stats': RPC(readonly=True, instantiate=0),
                'qr': RPC(readonly=True, instantiate=0),
                })
        cls._transitions |= {
            ('draft', 'open'),
            ('closed', 'open'),
            ('open', 'closed'),
            ('draft', 'cancelled'),
            ('open', 'cancelled'),
            ('cancelled', 'draft'),
            }
        cls._buttons.update({
                'open': {
                    'invisible': ~Eval('state').in_(['draft', 'closed']),
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-close',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(['draft', 'open']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'draft': {
                    'invisible': Eval('state') != 'cancelled',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'batch_check_in': {
                    'invisible': ((Eval('state') != 'open')
                        | ~Eval('methods', []).contains('staff')),
                    'icon': 'tryton-add',
                    'depends': ['state', 'methods'],
                    },
                'renew_secret': {
                    'invisible': Eval('state').in_(['closed', 'cancelled']),
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def _configuration_default(cls, name):
        "Return the default of the field name set in the configuration"
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        return getattr(Configuration(1), name)

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_kind(cls):
        return 'meeting'

    @classmethod
    def default_timezone(cls):
        pool = Pool()
        Configuration = pool.get('member.configuration')
        return Configuration(1).timezone or 'UTC'

    @classmethod
    def default_open_before(cls):
        return 30

    @classmethod
    def default_auto_open(cls):
        return True

    @classmethod
    def default_radius(cls):
        return cls._configuration_default('radius')

    @classmethod
    def default_methods(cls):
        return ('qr', 'staff')

    @classmethod
    def default_policy(cls):
        return cls._configuration_default('policy')

    @classmethod
    def default_record_leaving(cls):
        return False

    @classmethod
    def default_missing_checkout(cls):
        return cls._configuration_default('missing_checkout')

    @classmethod
    def default_points(cls):
        return 0

    @classmethod
    def default_streak(cls):
        return True

    @classmethod
    def default_qr_window(cls):
        return cls._configuration_default('qr_window')

    @classmethod
    def default_code_window(cls):
        return cls._configuration_default('code_window')

    @classmethod
    def default_organizers(cls):
        user = Transaction().user
        return [user] if user else []

    @classmethod
    def default_coord_type(cls):
        return geo.DEFAULT_COORD_TYPE

    @fields.depends('place', 'address', 'latitude', 'longitude',
        'coord_type', 'radius', 'bssids')
    def on_change_place(self):
        if self.place:
            self.address = self.place.address or self.address
            self.latitude = self.place.latitude
            self.longitude = self.place.longitude
            # The point of a place is a GPS point
            self.coord_type = 'wgs84'
            if self.place.radius:
                self.radius = self.place.radius
            if self.place.bssids:
                self.bssids = self.place.bssids

    def get_paste_point(self, name):
        return None

    @classmethod
    def set_paste_point(cls, events, name, value):
        "The pasted text was read by on_change_paste_point: nothing to keep"

    @fields.depends('paste_point', 'latitude', 'longitude', 'coord_type')
    def on_change_paste_point(self):
        if not self.paste_point:
            return
        try:
            latitude, longitude = geo.parse_point(self.paste_point)
        except geo.PositionError:
            raise EventValidationError(gettext(
                    'checkin.msg_event_point_invalid',
                    point=self.paste_point))
        self.latitude = round(latitude, 7)
        self.longitude = round(longitude, 7)
        self.coord_type = 'gcj02'
        self.paste_point = None

    @fields.depends('kind', 'methods', 'record_leaving')
    def on_change_kind(self):
        if self.kind == 'points' and 'app' not in (self.methods or ()):
            self.methods = tuple(self.methods or ()) + ('app',)
        if self.kind not in LEAVING_KINDS:
            self.record_leaving = False

    @classmethod
    def on_modification(cls, mode, events, field_names=None):
        super().on_modification(mode, events, field_names=field_names)
        _snapshot_cache.clear()

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values.setdefault('secret', token.new_secret())
            values.setdefault('secret_date', clock.now())
        clean_bssids(values)
        return values

    @classmethod
    def validate_fields(cls, events, field_names):
        super().validate_fields(events, field_names)
        cls.check_location(events, field_names)
        cls.check_day_times(events, field_names)

    @classmethod
    def check_location(cls, events, field_names=None):
        if field_names and not (
                field_names & {'latitude', 'longitude', 'coord_type'}):
            return
        for event in events:
            if (event.latitude is None) != (event.longitude is None):
                raise EventValidationError(gettext(
                        'checkin.msg_event_location_incomplete',
                        event=event.rec_name))
            if event.has_location:
                try:
                    geo.check_coord_type(
                        event.coord_type, event.latitude, event.longitude)
                except geo.CoordTypeError:
                    raise EventValidationError(gettext(
                            'checkin.msg_event_coord_type_outside_china',
                            event=event.rec_name))

    @classmethod
    def check_day_times(cls, events, field_names=None):
        if field_names and not (field_names & {'day_start', 'day_end'}):
            return
        for event in events:
            if (event.day_start and event.day_end
                    and event.day_start >= event.day_end):
                raise EventValidationError(gettext(
                        'checkin.msg_event_day_times',
                        event=event.rec_name))

    @classmethod
    def check_modification(cls, mode, events, values=None, external=False):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        super().check_modification(
            mode, events, values=values, external=external)
        if mode == 'delete':
            for event in events:
                if event.state not in {'draft', 'cancelled'}:
                    raise EventError(gettext(
                            'checkin.msg_event_delete_state',
                            event=event.rec_name))
            if Attendance.search([
                        ('event', 'in', [e.id for e in events]),
                        ], limit=1, order=[]):
                raise EventError(gettext('checkin.msg_event_delete_checkins'))

    @classmethod
    def copy(cls, events, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('state', 'draft')
        default.setdefault('attendances', None)
        # Left out of the values (they are not writable by organizers):
        # preprocess_values gives the copies a new secret
        default.setdefault('previous_secret', None)
        default.setdefault('secret', None)
        default.setdefault('secret_date', None)
        return super().copy(events, default=default)

    @classmethod
    def snapshot(cls, event_id):
        """Return the event event_id with the values a check-in reads
        (_snapshot_fields) already loaded, or None if it does not exist.

        The values are cached per process without access check; the cache
        is cleared on every creation, change or deletion of an event, in
        the other processes too (at their next transaction, or as soon as
        notified with [cache] clean_timeout = 0)."""
        event_id = int(event_id)
        values = _snapshot_cache.get(event_id)
        if values is None:
            with without_check_access():
                if not cls.search([('id', '=', event_id)], limit=1):
                    return None
                values, = cls.read([event_id], cls._snapshot_fields)
            values = {k: v for k, v in values.items() if k != 'id'}
            values['_has_roster'] = cls._has_roster(event_id)
            values['methods'] = tuple(values['methods'] or ())
            values = _snapshot_cache.set(event_id, values)
        return tools.cached_instance(cls, event_id, values,
            related={'place': None})

    @classmethod
    def _has_roster(cls, event_id):
        pool = Pool()
        Roster = pool.get('checkin.event-member.member')
        roster = Roster.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*roster.select(Literal(1),
                where=roster.event == event_id, limit=1))
        return bool(cursor.fetchone())

    # Time

    @property
    def tzinfo(self):
        return tz.get_tzinfo(self.timezone or 'UTC')

    def local(self, when):
        "Return the aware local datetime of a naive UTC datetime"
        return when.replace(tzinfo=dt.timezone.utc).astimezone(self.tzinfo)

    def local_date(self, when):
        "Return the local date of a naive UTC datetime"
        return self.local(when).date()

    def utc(self, date, time):
        "Return the naive UTC datetime of a local date and time"
        local = dt.datetime.combine(date, time).replace(tzinfo=self.tzinfo)
        return local.astimezone(dt.timezone.utc).replace(tzinfo=None)

    @property
    def daily(self):
        return self.kind in DAILY_KINDS

    def day_key(self, when):
        """Return the key of the attendance made at when: the ordinal of the
        local date for daily kinds, 0 otherwise (one per event)"""
        if self.daily:
            return self.local_date(when).toordinal()
        return 0

    def reference_time(self, when):
        "Return the UTC time from which a check-in made at when is late"
        if self.daily:
            time = self.day_start or self.local(self.start).time()
            return self.utc(self.local_date(when), time)
        return self.start

    def is_late(self, when):
        if self.late_after is None:
            return False
        return when > self.reference_time(when) + dt.timedelta(
            minutes=self.late_after)

    def leaving_time(self, local_date):
        """Return the UTC time at which the members checked in on
        local_date have left at the latest: the end of the event, or of
        the day (the daily end, else midnight) for daily kinds"""
        if not self.daily:
            return self.end
        if self.day_end:
            end = self.utc(local_date, self.day_end)
        else:
            end = self.utc(local_date + dt.timedelta(days=1), dt.time())
        return min(end, self.end)

    def opening(self):
        "Return the UTC time from which check-in is possible"
        return self.start - dt.timedelta(minutes=self.open_before or 0)

    def check_open(self, when, offline=False):
        """Raise EventNotOpenError unless members may check in at when.

        A live check-in needs an open event; an offline one, synchronised
        later, may find the event closed already."""
        states = {'open', 'closed'} if offline else {'open'}
        if self.state not in states:
            raise self._not_open('checkin.msg_event_not_open_state')
        if when < self.opening() or when > self.end:
            raise self._not_open('checkin.msg_event_not_open_time')
        if self.daily and (self.day_start or self.day_end):
            local = self.local(when)
            date = local.date()
            if self.day_start:
                first = self.utc(date, self.day_start) - dt.timedelta(
                    minutes=self.open_before or 0)
                if when < first:
                    raise self._not_open('checkin.msg_event_not_open_day',
                        day_start=self.day_start.isoformat())
            if self.day_end and when > self.utc(date, self.day_end):
                raise self._not_open('checkin.msg_event_not_open_day',
                    day_end=self.day_end.isoformat())

    def _not_open(self, message, **details):
        """The EventNotOpenError of message with its details (made only
        when refused: every check-in asks check_open)"""
        return EventNotOpenError(gettext(message, event=self.rec_name), dict(
                event_id=self.id,
                state=self.state,
                start=isoformat(self.start, self.tzinfo),
                end=isoformat(self.end, self.tzinfo),
                **details))

    # Location

    @property
    def has_location(self):
        return self.latitude is not None and self.longitude is not None

    def distance(self, latitude, longitude, coord_type=None):
        """Return the distance in meters from the location of the event of
        a position in coord_type (default wgs84), compared in WGS-84"""
        lat1, lon1 = _event_wgs84(
            self.latitude, self.longitude, self.coord_type)
        lat2, lon2 = geo.to_wgs84(latitude, longitude, coord_type)
        return geo.haversine(lat1, lon1, lat2, lon2)

    @property
    def bssid_list(self):
        return parse_bssids(self.bssids)[0]

    # Tokens

    def _loaded(self, name):
        """Return self if the value of name is loaded (a snapshot) or the
        event read without access check"""
        if self._values is not None and name in self._values:
            return self
        with without_check_access():
            return self.__class__(self.id)

    def _secrets(self, when):
        "Return the secrets that may have signed a credential of when"
        event = self._loaded('secret')
        with without_check_access():
            secrets = [event.secret]
            if (event.previous_secret
                    and (event.secret_date is None
                        or when <= event.secret_date + dt.timedelta(
                            seconds=2 * max(
                                event.qr_window, event.code_window)))):
                secrets.append(event.previous_secret)
        return [s for s in secrets if s]

    def _current_secret(self):
        event = self._loaded('secret')
        with without_check_access():
            return event.secret

    def current_token(self, when=None):
        "Return the QR token of the window that contains when (default now)"
        if when is None:
            when = clock.now()
        window = token.window_of(when, self.qr_window)
        return token.make_token(self._current_secret(), self.id, window)

    def qr(self, when=None, images=True):
        """Return the QR code of the current window for a kiosk:
        a dictionary with the keys token, url (the QR link of the token when
        the configuration has a QR link base, else None), window,
        expires_at (the end of the next window, until when the token is
        accepted), refresh_in (seconds until the next token), png (base64)
        and svg of the link or else of the token.

        With access check, only the organizers of the event and the
        check-in administrators get it."""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        self.check_organizer()
        if when is None:
            when = clock.now()
        window = token.window_of(when, self.qr_window)
        value = token.make_token(self._current_secret(), self.id, window)
        next_start = token.window_start(window + 1, self.qr_window)
        with without_check_access():
            base = Configuration(1).qr_url_base
        url = token.make_url(base, value) if base else None
        result = {
            'token': value,
            'url': url,
            'window': window,
            'expires_at': isoformat(
                token.window_start(window + 2, self.qr_window), self.tzinfo),
            'refresh_in': max(
                0, math.ceil((next_start - when).total_seconds())),
            }
        if images:
            result['png'] = base64.b64encode(
                token.qr_png(url or value)).decode('ascii')
            result['svg'] = token.qr_svg(url or value)
        return result

    def code(self, when=None):
        "Return the activity code of the window that contains when"
        if when is None:
            when = clock.now()
        window = token.window_of(when, self.code_window)
        return token.make_code(self._current_secret(), self.id, window)

    @classmethod
    def verify_token(cls, value, when, event=None):
        """Return the event of the QR token value, scanned at when.

        The tokens of the window of when and of the previous window are
        accepted (a token is shown for a whole window, and a member may scan
        it at the end of it).  Raise InvalidTokenError for a malformed or
        forged token, for an unknown event or for a token of another event
        than event; QRExpiredError for an older window."""
        if token.is_url(value):
            value = cls._token_of_url(value)
        parsed = token.parse_token(value)
        if not parsed:
            raise InvalidTokenError(gettext('checkin.msg_token_invalid'),
                {'reason': 'malformed'})
        event_id, window, sig = parsed
        if event is not None and int(event) != event_id:
            raise InvalidTokenError(gettext('checkin.msg_token_invalid'),
                {'reason': 'other_event'})
        event = cls.snapshot(event_id)
        if event is None:
            raise InvalidTokenError(gettext('checkin.msg_token_invalid'),
                {'reason': 'unknown_event'})
        try:
            start = token.window_start(window, event.qr_window)
        except ValueError:
            raise InvalidTokenError(gettext('checkin.msg_token_invalid'),
                {'reason': 'malformed'})
        if not any(token.verify(s, event_id, window, sig)
                for s in event._secrets(start)):
            raise InvalidTokenError(gettext('checkin.msg_token_invalid'),
                {'reason': 'signature'})
        event._check_window(window, event.qr_window, when)
        return event

    @classmethod
    def _token_of_url(cls, value):
        """Return the token of the scanned QR link value or raise
        InvalidTokenError (reason other_host for a link of another base)"""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        with without_check_access():
            base = Configuration(1).qr_url_base
        try:
            return token.token_of_url(value, base)
        except ValueError as e:
            reason, = e.args
            if reason == 'other_host':
                raise InvalidTokenError(
                    gettext('checkin.msg_qr_url_other_host'),
                    {'reason': reason})
            raise InvalidTokenError(gettext('checkin.msg_token_invalid'),
                {'reason': reason})

    def verify_code(self, code, when):
        """Check the activity code typed at when.

        The codes of the current and the previous window are accepted; a
        code of one of the 10 windows before is expired, others invalid."""
        value = token.normalize_code(code)
        if not value:
            raise InvalidTokenError(gettext('checkin.msg_code_invalid'),
                {'reason': 'malformed'})
        seconds = self.code_window
        current = token.window_of(when, seconds)
        for window in range(current + 1, current - 11, -1):
            for secret in self._secrets(token.window_start(window, seconds)):
                if token.make_code(secret, self.id, window) == value:
                    self._check_window(window, seconds, when)
                    return
        raise InvalidTokenError(gettext('checkin.msg_code_invalid'),
            {'reason': 'no_match'})

    def _check_window(self, window, seconds, when):
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        current = token.window_of(when, seconds)
        if window < current - 1:
            raise QRExpiredError(gettext('checkin.msg_token_expired'), {
                    'expired_at': isoformat(
                        token.window_start(window + 2, seconds), self.tzinfo),
                    })
        if window > current:
            # Only a clock a little behind the kiosk's is tolerated
            skew = Configuration(1).clock_skew
            if (token.window_start(window, seconds) - when
                    > dt.timedelta(seconds=skew)):
                raise InvalidTokenError(
                    gettext('checkin.msg_token_invalid'),
                    {'reason': 'future'})

    def is_organizer(self, user=None):
        "Tell if user (default the transaction's) organizes the event"
        if user is None:
            user = Transaction().user
        with without_check_access():
            return int(user) in {
                u.id for u in self.__class__(self.id).organizers}

    @classmethod
    def _is_checkin_admin(cls):
        "Tell if the transaction may act on every event"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        transaction = Transaction()
        return (not transaction.check_access or not transaction.user
            or ModelData.get_id('checkin', 'group_checkin_admin')
            in User.get_groups())

    def check_organizer(self):
        "Raise AccessError unless the user organizes the event"
        if not self._is_checkin_admin() and not self.is_organizer():
            raise CheckInAccessError(gettext(
                    'checkin.msg_event_organizer_only',
                    event=self.rec_name))

    @classmethod
    def get_kiosk(cls, events, names):
        result = {n: {e.id: None for e in events} for n in names}
        when = clock.now()
        # Only the organizers may show the codes of an event
        everyone = cls._is_checkin_admin()
        for event in events:
            if event.state != 'open':
                continue
            if not everyone and not event.is_organizer():
                continue
            with without_check_access():
                qr = event.qr(when, images=False)
            if 'qr_token' in names:
                result['qr_token'][event.id] = qr['token']
            if 'qr_image' in names:
                result['qr_image'][event.id] = token.qr_png(
                    qr['url'] or qr['token'])
            if 'activity_code' in names:
                result['activity_code'][event.id] = event.code(when)
            if 'kiosk_refresh' in names:
                result['kiosk_refresh'][event.id] = when + dt.timedelta(
                    seconds=qr['refresh_in'])
        return result

    # Statistics

    @classmethod
    def get_attempts(cls, events, names):
        result = {n: {} for n in names}
        with without_check_access():
            for event in events:
                stats = attempt_stats(event)
                values = {
                    'attempts': stats['total'],
                    'success_rate': stats['success_rate'],
                    'median_minutes': stats['median_minutes'],
                    'anomaly_rate': stats['anomaly_rate'],
                    'attempt_hints': '\n'.join(
                        h['message'] for h in stats['hints']) or None,
                    }
                for name in names:
                    result[name][event.id] = values[name]
        return result

    @classmethod
    def get_counts(cls, events, names):
        figures = cls.figures(events)
        result = {n: {} for n in names}
        for event in events:
            expected, checked_in, late, flagged, _ = figures[event.id]
            values = {
                'expected': expected,
                'checked_in': checked_in,
                'late': late,
                'flagged': flagged,
                }
            if 'rate' in names:
                total = (expected or 0) * event.days_so_far()
                values['rate'] = (
                    round(checked_in / total, 4) if total else None)
            for name in names:
                result[name][event.id] = values[name]
        return result

    def days_so_far(self, when=None):
        "Return the number of local days of the event up to when (now)"
        if not self.daily:
            return 1
        if when is None:
            when = clock.now()
        first = self.local_date(self.start)
        last = self.local_date(min(when, self.end))
        return max(0, (last - first).days + 1)

    def bucket_minutes(self, date=None):
        "Return the bucket size in minutes that gives about 48 bars"
        if self.daily:
            if self.day_start and self.day_end:
                length = dt.datetime.combine(dt.date.min, self.day_end) - (
                    dt.datetime.combine(dt.date.min, self.day_start))
            else:
                length = dt.timedelta(days=1)
        else:
            length = self.end - self.opening()
        minutes = length.total_seconds() / 60 / 48
        for bucket in BUCKETS:
            if bucket >= minutes:
                return bucket
        return BUCKETS[-1]

    def stats(self, date=None, bucket=None, recent=10):
        """Return the live statistics of the event (the JSON of the API
        `events/<id>/stats`): expected (roster size or None), checked_in
        (counted check-ins: valid, late and flagged), rate, late, flagged
        (waiting for review), rejected, present_now (checked in and not
        out, for the events that record leaving, else None), by_bucket
        (arrivals per bucket of minutes, local times), recent (the last
        check-ins), attempts (the attempt analytics of the whole event, see
        analytics.attempt_stats).

        For daily kinds the figures are those of the local date (default
        today, or the last day of a past event).  With access check, the
        user must be allowed to read the event."""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Roster = pool.get('checkin.event-member.member')
        attendance = Attendance.__table__()
        roster = Roster.__table__()
        cursor = Transaction().connection.cursor()
        if Transaction().check_access and not self.__class__.search([
                    ('id', '=', self.id),
                    ]):
            raise CheckInAccessError(gettext(
                    'checkin.msg_event_organizer_only',
                    event=self.rec_name))

        where = attendance.event == self.id
        if self.daily:
            if date is None:
                when = min(max(clock.now(), self.start), self.end)
                date = self.local_date(when)
            where &= attendance.local_date == date
        else:
            date = None
        if not bucket:
            bucket = self.bucket_minutes(date)
        rows = self._stats_rows(attendance, where)
        result = self._stats_counts(rows, bucket)
        result['present_now'] = self._stats_present(attendance, where)

        cursor.execute(*roster.select(
                Count(roster.id), where=roster.event == self.id))
        expected, = cursor.fetchone()
        expected = expected or None
        checked_in = result['checked_in']
        result.update({
                'event_id': self.id,
                'date': date.isoformat() if date else None,
                'expected': expected,
                'rate': (round(checked_in / expected, 4)
                    if expected else None),
                'bucket_minutes': bucket,
                'recent': self._stats_recent(attendance, where, recent),
                # The attempts are those of the whole event: the same rows
                # but for daily kinds
                'attempts': attempt_stats(
                    self, rows=None if self.daily else rows),
                })
        # API.md 1.1 names these at the top of the statistics
        for name in ['success_rate', 'median_seconds_to_checkin', 'hints']:
            result[name] = result['attempts'][name]
        return result

    def _stats_rows(self, attendance, where):
        """Return the number of check-ins of where by status, late and
        minute (epoch_minute): answered from the covering index of the
        statistics, read once for the counts and the attempts"""
        cursor = Transaction().connection.cursor()
        cursor.execute(*attendance.select(
                attendance.status, attendance.late, attendance.epoch_minute,
                # Not the id: it is not in the index
                Count(),
                where=where,
                group_by=[
                    attendance.status, attendance.late,
                    attendance.epoch_minute]))
        return cursor.fetchall()

    def _stats_counts(self, rows, bucket):
        """Return the counts of the statistics of the rows of _stats_rows:
        checked_in, late, flagged, rejected and by_bucket"""
        counts = dict.fromkeys(['checked_in', 'late', 'flagged', 'rejected'],
            0)
        buckets = {}
        for status, is_late, minute, count in rows:
            if status == 'rejected':
                counts['rejected'] += count
                continue
            counts['checked_in'] += count
            if is_late:
                counts['late'] += count
            if status == 'flagged':
                counts['flagged'] += count
            key = minute // bucket
            buckets[key] = buckets.get(key, 0) + count
        counts['by_bucket'] = [{
                'start': isoformat(
                    clock.from_timestamp(key * bucket * 60), self.tzinfo),
                'count': buckets.get(key, 0),
                } for key in (range(min(buckets), max(buckets) + 1)
                if buckets else [])]
        return counts

    def _stats_present(self, attendance, where):
        """Return the number of members checked in and not out (counted
        check-ins of where without check-out), None if the event does not
        record leaving"""
        if not self.record_leaving:
            return None
        cursor = Transaction().connection.cursor()
        cursor.execute(*attendance.select(Count(attendance.id),
                where=where & (attendance.counted == Literal(True))
                & (attendance.checkout_time == Null)))
        return cursor.fetchone()[0] or 0

    def _stats_recent(self, attendance, where, recent):
        """Return the last recent check-ins of where, with the masked name
        of their member"""
        pool = Pool()
        Member = pool.get('member.member')
        Party = pool.get('party.party')
        member = Member.__table__()
        party = Party.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*attendance.join(member,
                condition=attendance.member == member.id
                ).join(party, condition=member.party == party.id
                ).select(
                attendance.id, attendance.member, party.name,
                attendance.time, attendance.status, attendance.method,
                where=where,
                order_by=[attendance.time.desc, attendance.id.desc],
                limit=recent))
        # Shown to organizers and on screens: never the member's full
        # name, phone or identifiers
        return [{
                'id': id_,
                'member_id': member_id,
                'member': Member.mask_display_name(name),
                'time': isoformat(time, self.tzinfo),
                'status': status,
                'method': method,
                } for id_, member_id, name, time, status, method in cursor]

    # Members

    def on_roster(self, member):
        "Tell if member is on the roster of the event, or there is none"
        pool = Pool()
        Roster = pool.get('checkin.event-member.member')
        snapshot = _snapshot_cache.get(self.id)
        if snapshot is not None and not snapshot['_has_roster']:
            # The event had no roster when its snapshot was taken (cleared
            # when a roster line is created, changed or deleted)
            return True
        roster = Roster.__table__()
        cursor = Transaction().connection.cursor()
        # One query: a roster line of the member first, else any line
        cursor.execute(*roster.select(roster.member,
                where=roster.event == self.id,
                order_by=[(roster.member == int(member)).desc],
                limit=1))
        row = cursor.fetchone()
        return row is None or row[0] == int(member)

    @classmethod
    def available(cls, member, start=None, end=None, offset=0, limit=None,
            count=False):
        """Return the events member may check in to (from offset, at most
        limit), or their number with count.

        Without start and end: the events open now.  With them: the events
        open or closed that overlap the period.  Events with a roster and
        the reject policy are left out unless member is on the roster."""
        if start is None and end is None:
            domain = [
                ('state', '=', 'open'),
                ('end', '>=', clock.now()),
                ]
        else:
            domain = [('state', 'in', ['open', 'closed'])]
            if start is not None:
                domain.append(('end', '>=', start))
            if end is not None:
                domain.append(('start', '<=', end))
        domain.append(['OR',
                ('roster', '=', None),
                ('roster', '=', int(member)),
                ('policy', '=', 'flag'),
                ])
        with without_check_access():
            if count:
                return cls.search_count(domain)
            return cls.search(domain, offset=offset, limit=limit,
                order=[('start', 'ASC'), ('id', 'ASC')])

    @classmethod
    def checked_in_ids(cls, member, events, when=None):
        """Return the ids of events to which member has a counted check-in
        (today, in the local day of the event, for daily kinds)"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        if when is None:
            when = clock.now()
        keys = {}
        for event_id in {int(e) for e in events}:
            event = cls.snapshot(event_id)
            if event is not None:
                keys[Attendance.counted_key_of(
                        event_id, int(member), event.day_key(when))] = event_id
        if not keys:
            return set()
        # By the counted key: the look-up has no index of the event's to be
        # planned on (see the constraint counted_key_unique)
        with without_check_access():
            attendances = Attendance.search([
                    ('counted_key', 'in', list(keys)),
                    ('counted', '=', True),
                    ])
        return {keys[a.counted_key] for a in attendances}

    # Workflow

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def open(cls, events):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, events):
        # Tokens shown before the close must not open the event again
        cls._renew_secret(events)

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, events):
        cls._renew_secret(events)

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, events):
        pass

    @classmethod
    @ModelView.button_action('checkin.wizard_batch_check_in')
    def batch_check_in(cls, events):
        pass

    @classmethod
    @ModelView.button
    def renew_secret(cls, events):
        cls._renew_secret(events)

    @classmethod
    def _renew_secret(cls, events):
        now = clock.now()
        with without_check_access():
            for event in cls.browse(events):
                cls.write([event], {
                        'previous_secret': event.secret,
                        'secret': token.new_secret(),
                        'secret_date': now,
                        })

    @classmethod
    def update_states(cls):
        """Open the events whose check-in starts and close those that ended
        (run by the scheduler)"""
        now = clock.now()
        with without_check_access():
            to_open = [e for e in cls.search([
                        ('state', '=', 'draft'),
                        ('auto_open', '=', True),
                        ('end', '>', now),
                        ])
                if e.opening() <= now]
            if to_open:
                cls.open(to_open)
            to_close = cls.search([
                    ('state', '=', 'open'),
                    ('auto_open', '=', True),
                    ('end', '<=', now),
                    ])
            if to_close:
                cls.close(to_close)

    @classmethod
    def close_missing_checkouts(cls):
        """Apply the missing check-out treatment of the events that record
        leaving to their check-ins without check-out whose event (or day)
        has ended: checked out automatically at the end, flagged for review
        with `flag` (run by the scheduler)"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        now = clock.now()
        closed = []
        with without_check_access():
            events = cls.search([
                    ('record_leaving', '=', True),
                    ('missing_checkout', '!=', 'none'),
                    ('state', 'in', ['open', 'closed']),
                    ('start', '<=', now),
                    ], order=[('id', 'ASC')])
            for event in events:
                attendances = Attendance.search([
                        ('event', '=', event.id),
                        ('counted', '=', True),
                        ('checkout_time', '=', None),
                        ], order=[('id', 'ASC')])
                attendances = [a for a in attendances
                    if event.leaving_time(a.local_date) <= now]
                if attendances:
                    closed.extend(Attendance.close_missing(
                            event, attendances))
        return closed

    @classmethod
    def rotate_secrets(cls):
        """Renew the secrets older than the rotation period (run by the
        scheduler); the previous secret stays valid for the credentials
        made before, see _secrets"""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        config = Configuration(1)
        hours = max(config.secret_rotation, config.sync_delay)
        limit = clock.now() - dt.timedelta(hours=hours)
        with without_check_access():
            events = cls.search([
                    ('state', 'in', ['draft', 'open']),
                    ['OR',
                        ('secret_date', '=', None),
                        ('secret_date', '<=', limit),
                        ],
                    ])
        cls._renew_secret(events)

    # Messages

    @classmethod
    def send_missed_reminders(cls):
        """Queue a reminder to each member of the roster of an open event
        who has not checked in the configured minutes after the start (the
        daily start for daily kinds), once per member and event (and local
        day) whatever the number of runs (run by the scheduler).

        The members of an event in a running reminder experiment are
        reminded with the delay and template of their variant (none for a
        control) and the assignment is recorded; the others with the
        delay and template of the configuration."""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        Experiment = pool.get('checkin.reminder.experiment')
        Assignment = pool.get('checkin.reminder.assignment')
        Message = pool.get('outbox.message')
        config = Configuration(1)
        default_delay = config.missed_reminder
        default_template = (
            config.missed_reminder_template or 'checkin_missed')
        now = clock.now()
        values, assignments = [], []
        with without_check_access():
            events = cls.search([
                    ('state', '=', 'open'),
                    ('start', '<=', now),
                    ('end', '>', now),
                    ], order=[('id', 'ASC')])
            experiments = Experiment.running(events, now)
            for event in events:
                experiment = experiments.get(event.id)
                if experiment:
                    delays = [v.delay for v in experiment.variants]
                elif default_delay is not None:
                    delays = [default_delay]
                else:
                    continue
                reference = event.reference_time(now)
                if now < reference + dt.timedelta(minutes=min(delays)):
                    continue
                if event.daily and event.day_end and (
                        event.local(now).time() >= event.day_end):
                    continue
                day_key = event.day_key(now)
                missing = event._missed_members(day_key)
                if experiment:
                    assigned = {a.member.id for a in Assignment.search([
                                ('event', '=', event.id),
                                ('day_key', '=', day_key),
                                ])}
                payload = {
                    'event_id': event.id,
                    'event': event.rec_name,
                    'start': event.local(reference).strftime(
                        '%Y-%m-%d %H:%M'),
                    'place': (event.place.rec_name if event.place
                        else event.address or ''),
                    }
                for member_id, party_id in missing:
                    dedup_key = 'checkin-missed:%d:%d:%d' % (
                        event.id, member_id, day_key)
                    template = default_template
                    if experiment:
                        if member_id in assigned:
                            continue
                        variant = experiment.variant_of(member_id)
                        if now < reference + dt.timedelta(
                                minutes=variant.delay):
                            continue
                        assignments.append({
                                'experiment': experiment.id,
                                'variant': variant.id,
                                'event': event.id,
                                'member': member_id,
                                'day_key': day_key,
                                'date': event.local_date(now),
                                'sent_at': now,
                                'message': dedup_key,
                                })
                        if variant.control:
                            continue
                        template = variant.template
                    values.append({
                            'template': template,
                            'party': party_id,
                            'payload': payload,
                            'origin': str(event),
                            'dedup_key': dedup_key,
                            })
            messages = Message.queue(values)
            if assignments:
                # The messages of this run only: a reminder queued before
                # the experiment was not the variant's
                queued = {m.dedup_key: m.id for m in messages}
                for assignment in assignments:
                    assignment['message'] = queued.get(assignment['message'])
                Assignment.create(assignments)
        return messages

    def _missed_members(self, day_key):
        """Return the (member id, party id) of the roster who have not
        checked in on day_key"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Roster = pool.get('checkin.event-member.member')
        Member = pool.get('member.member')
        cursor = Transaction().connection.cursor()
        roster = Roster.__table__()
        attendance = Attendance.__table__()
        member = Member.__table__()
        cursor.execute(*roster.join(attendance, 'LEFT',
                condition=(attendance.event == roster.event)
                & (attendance.member == roster.member)
                & (attendance.day_key == day_key)
                & (attendance.counted == Literal(True))
                ).join(member, condition=member.id == roster.member
                ).select(
                roster.member, member.party,
                where=(roster.event == self.id)
                & (attendance.id == Null),
                order_by=[roster.member.asc]))
        return cursor.fetchall()

    @classmethod
    def send_daily_reports(cls, date=None):
        """Queue to each organizer the report of the check-ins of the local
        date (default yesterday in the time zone of the members
        configuration): the rate of each of their events and the Excel
        workbook attached (run by the scheduler).

        Each organizer's report is built by a task of the queue, once per
        organizer and date."""
        pool = Pool()
        MemberConfiguration = pool.get('member.configuration')
        Organizer = pool.get('checkin.event-res.user')
        Message = pool.get('outbox.message')
        if date is None:
            date = MemberConfiguration(1).local_date(
                clock.now()) - dt.timedelta(days=1)
        day = dt.datetime.combine(date, dt.time())
        with without_check_access():
            # One day more each side: the events have their own time zone
            events = [e for e in cls.search([
                        ('state', 'in', ['open', 'closed']),
                        ('start', '<', day + dt.timedelta(days=2)),
                        ('end', '>', day - dt.timedelta(days=1)),
                        ], order=[('start', 'ASC'), ('id', 'ASC')])
                if e.local_date(e.start) <= date <= e.local_date(e.end)]
            by_user = {}
            for sub_events in grouped_slice(events, backend.MAX_QUERY_PARAMS):
                for organizer in Organizer.search([
                            ('event', 'in', [e.id for e in sub_events]),
                            ]):
                    by_user.setdefault(organizer.user.id, set()).add(
                        organizer.event.id)
            keys = {u: cls._daily_report_key(u, date) for u in by_user}
            done = {m.dedup_key for m in Message.search([
                        ('dedup_key', 'in', list(keys.values())),
                        ])}
            for user_id, event_ids in sorted(by_user.items()):
                if keys[user_id] in done:
                    continue
                cls.__queue__.queue_daily_report(
                    cls.browse(sorted(event_ids)), user_id, date.isoformat())
        return sorted(by_user)

    @classmethod
    def _daily_report_key(cls, user_id, date):
        return 'checkin-daily:%d:%s' % (user_id, date.isoformat())

    @classmethod
    def figures(cls, events, date=None):
        """Return {event id: (expected, checked in, late, flagged,
        rejected)} for the local date (default all), with one query per
        figure"""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Roster = pool.get('checkin.event-member.member')
        attendance = Attendance.__table__()
        roster = Roster.__table__()
        cursor = Transaction().connection.cursor()
        in_ = fields.SQL_OPERATORS['in']
        counted = attendance.counted == Literal(True)

        def count(condition):
            return Sum(Case((condition, 1), else_=0))
        figures = {e.id: [None, 0, 0, 0, 0] for e in events}
        for sub_ids in grouped_slice(
                list(figures), backend.MAX_QUERY_PARAMS):
            sub_ids = list(sub_ids)
            cursor.execute(*roster.select(
                    roster.event, Count(roster.id),
                    where=in_(roster.event, sub_ids),
                    group_by=[roster.event]))
            for event_id, expected in cursor:
                figures[event_id][0] = expected or None
            where = in_(attendance.event, sub_ids)
            if date is not None:
                where &= attendance.local_date == date
            cursor.execute(*attendance.select(
                    attendance.event,
                    count(counted),
                    count(counted & (attendance.late == Literal(True))),
                    count(attendance.status == 'flagged'),
                    count(attendance.status == 'rejected'),
                    where=where,
                    group_by=[attendance.event]))
            for event_id, *values in cursor:
                figures[event_id][1:] = [int(v or 0) for v in values]
        return {k: tuple(v) for k, v in figures.items()}

    @classmethod
    def queue_daily_report(cls, events, user_id, date):
        """Build the daily report of events for the organizer user_id and
        queue it (run by the task queue)"""
        pool = Pool()
        User = pool.get('res.user')
        Message = pool.get('outbox.message')
        AttendanceExcel = pool.get('checkin.attendance.excel', type='report')
        if isinstance(date, str):
            date = dt.date.fromisoformat(date)
        user = User(user_id)
        language = user.language.code if user.language else None
        lines = []
        with without_check_access(), Transaction().set_context(
                language=language):
            events = cls.browse(events)
            figures = cls.figures(events, date)
            for event in events:
                expected, checked_in = figures[event.id][:2]
                rate = ('%.1f%%' % (100 * checked_in / expected)
                    if expected else '-')
                lines.append('- %s: %s / %s, %s' % (
                        event.rec_name, checked_in, expected or '-', rate))
            with tempfile.SpooledTemporaryFile(
                    max_size=8 * 1024 * 1024) as fp:
                AttendanceExcel.write_workbook(fp, events, date, date)
                fp.seek(0)
                workbook = fp.read()
            return Message.queue([{
                        'template': 'checkin_daily_report',
                        'user': user.id,
                        'language': language,
                        'payload': {
                            'date': date.isoformat(),
                            'organizer': user.rec_name,
                            'lines': '\n'.join(lines),
                            'events': len(events),
                            },
                        'attachment': workbook,
                        'attachment_name': 'checkins-%s.xlsx' % (
                            date.isoformat()),
                        'dedup_key': cls._daily_report_key(user.id, date),
                        }])


class EventOrganizer(ModelSQL):
    "Check-in Event Organizer"
    __name__ = 'checkin.event-res.user'
    __string__ = "Event Organizer"

    event = fields.Many2One(
        'checkin.event', "Event", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('event')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.user, Index.Equality()),
                    (t.event, Index.Equality())),
                })


class EventRoster(ModelSQL):
    "Check-in Event Roster"
    __name__ = 'checkin.event-member.member'
    __string__ = "Event Roster"

    event = fields.Many2One(
        'checkin.event', "Event", required=True, ondelete='CASCADE')
    member = fields.Many2One(
        'member.member', "Member", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('event')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.event, Index.Equality()),
                    (t.member, Index.Equality())),
                Index(t, (t.member, Index.Equality())),
                })

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        # Event.snapshot knows whether an event has a roster
        _snapshot_cache.clear()


class BatchCheckInStart(ModelView):
    "Batch Check-in"
    __name__ = 'checkin.event.batch_check_in.start'
    __string__ = "Batch Check-in"

    event = fields.Many2One('checkin.event', "Event", readonly=True)
    members = fields.Many2Many(
        'member.member', None, None, "Members", required=True,
        help="The members to check in.")


class BatchCheckInResult(ModelView):
    "Batch Check-in"
    __name__ = 'checkin.event.batch_check_in.result'
    __string__ = "Batch Check-in Result"

    created = fields.Integer("Checked In", readonly=True)
    duplicates = fields.Integer("Already Checked In", readonly=True)
    refused = fields.Integer("Refused", readonly=True)
    summary = fields.Text("Summary", readonly=True)


class BatchCheckIn(Wizard):
    "Batch Check-in"
    __name__ = 'checkin.event.batch_check_in'

    start = StateView('checkin.event.batch_check_in.start',
        'checkin.event_batch_check_in_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Check In", 'check_in', 'tryton-ok', default=True),
            ])
    check_in = StateTransition()
    result = StateView('checkin.event.batch_check_in.result',
        'checkin.event_batch_check_in_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        event = self.record
        checked = set()
        if event.roster:
            with without_check_access():
                checked = {a.member.id for a in Attendance.search([
                            ('event', '=', event.id),
                            ('counted', '=', True),
                            ('day_key', '=', event.day_key(clock.now())),
                            ])}
        return {
            'event': event.id,
            'members': [m.id for m in event.roster if m.id not in checked],
            }

    def transition_check_in(self):
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        results = Attendance.check_in_batch(self.record, self.start.members)
        counts = {'created': 0, 'duplicate': 0, 'refused': 0}
        lines = []
        for member, result in zip(self.start.members, results):
            counts[result.status] += 1
            if result.status == 'refused':
                lines.append('%s: %s' % (
                        member.rec_name, result.error.message))
            elif result.status == 'duplicate':
                lines.append('%s: %s' % (member.rec_name, gettext(
                            'checkin.msg_already_checked_in')))
        self.result.created = counts['created']
        self.result.duplicates = counts['duplicate']
        self.result.refused = counts['refused']
        self.result.summary = '\n'.join(lines)
        return 'result'

    def default_result(self, fields):
        return {
            'created': self.result.created,
            'duplicates': self.result.duplicates,
            'refused': self.result.refused,
            'summary': self.result.summary,
            }
