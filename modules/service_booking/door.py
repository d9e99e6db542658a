# This file is part of the service_booking module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and license
# terms.
"""The technician at the customer's door: the position of the booking
address, the door check-in of the assigned technician within the radius of
the service (refused or flagged for review outside it) and the check-out
with the real duration."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.modules.suite import clock, geo
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from .exceptions import (
    BookingNotFoundError, DoorOutOfRangeError, InvalidCoordTypeError,
    InvalidPositionError)

COORD_TYPES = geo.COORD_TYPE_SELECTION
# The message of each reason of suite.geo.CoordTypeError
COORD_TYPE_MESSAGES = {
    'unknown': 'service_booking.msg_door_coord_type_invalid',
    'outside_china': 'service_booking.msg_door_coord_type_outside_china',
    }
DOOR_POLICIES = [
    ('refuse', "Refuse"),
    ('flag', "Accept and Flag"),
    ]
DOOR_FLAG_REASONS = [
    (None, ""),
    ('out_of_range', "Out of Range"),
    ('no_position', "No Address Position"),
    ]
# The states of the bookings a technician's day shows
STAFF_STATES = ['pending', 'confirmed', 'in_progress', 'done', 'no_show']
# The door fields, cleared on copy
DOOR_FIELDS = [
    'door_checkin', 'door_latitude', 'door_longitude', 'door_coord_type',
    'door_accuracy', 'door_distance', 'door_flagged', 'door_flag_reason',
    'door_flag_cleared_by', 'door_checkout', 'duration_min',
    ]


def parse_position(lat, lon, accuracy=None, coord_type=None):
    """Return (latitude, longitude, accuracy, coord_type) of a position
    sent by a client (suite.geo.parse_position): raise InvalidPositionError
    (400) for a missing, non-finite or out of range value and
    InvalidCoordTypeError (422) for a coordinate system other than wgs84
    (the default) and gcj02, or gcj02 outside China"""
    try:
        return geo.parse_position(lat, lon, accuracy, coord_type)
    except geo.CoordTypeError as error:
        raise InvalidCoordTypeError(gettext(
                COORD_TYPE_MESSAGES[error.reason],
                coord_type=error.coord_type,
                coord_types=', '.join(geo.COORD_TYPES)),
            details=error.details) from error
    except geo.PositionError as error:
        raise InvalidPositionError(gettext(
                'service_booking.msg_door_position_invalid',
                field=error.field),
            details={'field': error.field}) from error


class Service(metaclass=PoolMeta):
    __name__ = 'booking.service'

    door_radius = fields.Integer(
        "Door Radius", required=True,
        domain=[('door_radius', '>', 0)],
        help="In meters, how far from the position of the booking address "
        "the technician may check in at the door.")
    door_policy = fields.Selection(
        DOOR_POLICIES, "Door Check-in Away", required=True,
        help="Refuse: a door check-in out of the radius is refused.\n"
        "Accept and flag: it starts the booking, flagged for review.")

    @classmethod
    def default_door_radius(cls):
        return 200

    @classmethod
    def default_door_policy(cls):
        return 'flag'


class Booking(metaclass=PoolMeta):
    __name__ = 'booking.booking'

    _address_states = {
        'readonly': Eval('state').in_(['done', 'cancelled', 'no_show']),
        }
    latitude = fields.Float(
        "Latitude", digits=(3, 7), states=_address_states,
        domain=['OR',
            ('latitude', '=', None),
            [('latitude', '>=', -90), ('latitude', '<=', 90)],
            ],
        help="The position of the address, where the technician checks "
        "in.")
    longitude = fields.Float(
        "Longitude", digits=(3, 7), states=_address_states,
        domain=['OR',
            ('longitude', '=', None),
            [('longitude', '>=', -180), ('longitude', '<=', 180)],
            ])
    coord_type = fields.Selection(
        COORD_TYPES, "Coordinate System", required=True, sort=False,
        states=_address_states,
        help="The system of the position: the map picker of the "
        "mini-program gives GCJ-02, a GPS WGS-84.")
    door_checkin = fields.DateTime(
        "Door Check-in", readonly=True,
        help="When the technician checked in at the door.")
    door_latitude = fields.Float(
        "Door Latitude", digits=(3, 7), readonly=True)
    door_longitude = fields.Float(
        "Door Longitude", digits=(3, 7), readonly=True)
    door_coord_type = fields.Selection(
        [(None, "")] + COORD_TYPES, "Door Coordinate System", readonly=True,
        sort=False)
    door_accuracy = fields.Float(
        "Door Accuracy", digits=(None, 1), readonly=True,
        help="In meters, the accuracy the device reported.")
    door_distance = fields.Float(
        "Door Distance", digits=(None, 1), readonly=True,
        help="In meters, from the position of the address.")
    door_flagged = fields.Boolean(
        "Flagged for Review", readonly=True,
        help="The door check-in was accepted out of the radius or without a "
        "position of the address.")
    door_flag_reason = fields.Selection(
        DOOR_FLAG_REASONS, "Flag Reason", readonly=True, sort=False)
    door_flag_cleared_by = fields.Many2One(
        'res.user', "Flag Cleared By", readonly=True, ondelete='SET NULL')
    door_checkout = fields.DateTime(
        "Door Check-out", readonly=True,
        help="When the technician checked out.")
    duration_min = fields.Integer(
        "Real Duration", readonly=True,
        help="In minutes, from the door check-in to the check-out.")

    del _address_states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'clear_door_flag': {
                    'invisible': ~Eval('door_flagged', False),
                    'icon': 'tryton-ok',
                    'depends': ['door_flagged'],
                    },
                })
        cls.__rpc__.update({
                'staff_bookings': RPC(result=lambda r: (
                        r[0], [b.id for b in r[1]])),
                'door_check_in': RPC(readonly=False, result=int),
                'door_check_out': RPC(readonly=False, result=int),
                })

    @classmethod
    def default_coord_type(cls):
        return geo.DEFAULT_COORD_TYPE

    @classmethod
    def default_door_flagged(cls):
        return False

    @classmethod
    def validate_fields(cls, bookings, field_names):
        super().validate_fields(bookings, field_names)
        if field_names & {'latitude', 'longitude'}:
            for booking in bookings:
                if (booking.latitude is None) != (booking.longitude is None):
                    raise InvalidPositionError(gettext(
                            'service_booking.msg_booking_position_half',
                            booking=booking.rec_name))

    @classmethod
    def copy(cls, bookings, default=None):
        default = default.copy() if default is not None else {}
        for name in DOOR_FIELDS:
            default.setdefault(name, None)
        default.setdefault('door_flagged', False)
        return super().copy(bookings, default=default)

    @classmethod
    def create_booking(cls, *args, position=None, **kwargs):
        """As create_booking, with position: the (lat, lon, coord_type) of
        the address, chosen with the map picker (see parse_position)"""
        values = {}
        if position is not None:
            lat, lon, coord_type = (tuple(position) + (None,) * 3)[:3]
            lat, lon, _, coord_type = parse_position(
                lat, lon, coord_type=coord_type)
            values = {
                'latitude': lat, 'longitude': lon, 'coord_type': coord_type}
        booking = super().create_booking(*args, **kwargs)
        if values:
            # The member's right to book was checked
            with without_check_access():
                cls.write([booking], values)
        return cls(booking.id)

    @property
    def position(self):
        "The (latitude, longitude, coord_type) of the address or None"
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude, self.coord_type)

    @classmethod
    @ModelView.button
    def clear_door_flag(cls, bookings):
        "Clear the review flag of the door check-in (the reason is kept)"
        cls.write([b for b in bookings if b.door_flagged], {
                'door_flagged': False,
                'door_flag_cleared_by': Transaction().user,
                })

    # The technician's routes

    @classmethod
    def staff_resources(cls):
        """Return the resources delivered by the user of the transaction:
        linked to the user or to one of its employees"""
        pool = Pool()
        Resource = pool.get('booking.resource')
        User = pool.get('res.user')
        user_id = Transaction().user
        employees = list(User.get_employees())
        with without_check_access():
            return Resource.search(['OR',
                    ('user', '=', user_id),
                    ('employee', 'in', employees),
                    ], order=[('id', 'ASC')])

    @classmethod
    def staff_bookings(cls, date=None):
        """Return the local date and the bookings of that date (a date or
        an ISO 8601 string, default today in the time zone of the user's
        first resource) delivered by the user of the transaction, earliest
        first"""
        resources = cls.staff_resources()
        if isinstance(date, str):
            date = dt.date.fromisoformat(date)
        if date is None:
            tzinfo = resources[0].tzinfo if resources else None
            date = clock.today(tzinfo)
        if not resources:
            return date, []
        with without_check_access():
            bookings = cls.search([
                    ('resource', 'in', [r.id for r in resources]),
                    ('date', '=', date),
                    ('state', 'in', STAFF_STATES),
                    ], order=[('start', 'ASC'), ('id', 'ASC')])
        return date, bookings

    @classmethod
    def get_staff_booking(cls, booking):
        """Return the booking (id) delivered by the user of the transaction
        or raise BookingNotFoundError: the booking of another technician
        does not exist for the user"""
        resources = cls.staff_resources()
        try:
            booking_id = int(booking)
        except (TypeError, ValueError):
            booking_id = None
        bookings = []
        if booking_id is not None and resources:
            with without_check_access():
                bookings = cls.search([
                        ('id', '=', booking_id),
                        ('resource', 'in', [r.id for r in resources]),
                        ])
        if not bookings:
            raise BookingNotFoundError(gettext(
                    'service_booking.msg_booking_not_found', id=booking),
                details={'model': cls.__name__, 'id': booking})
        return bookings[0]

    @classmethod
    def door_check_in(cls, booking, lat, lon, accuracy=None,
            coord_type=None):
        """Start booking (id) at the door of the address: the technician of
        the booking's resource sends the position of the device.

        Within the door radius of the service (plus the accuracy, up to the
        radius, as the check-in of events) the booking is in progress.  Out
        of it the service's policy refuses (DoorOutOfRangeError,
        out_of_range, with the distance and the radius) or starts it
        flagged for review; a booking without the position of its address
        is started flagged "no address position".  Raise
        BookingNotFoundError (not_found) for a booking of another
        technician, InvalidStateError (invalid_state) unless it is
        confirmed, BeginTooEarlyError (too_early) before the start grace of
        the service, InvalidPositionError (invalid_request) or
        InvalidCoordTypeError (invalid_coord_type)."""
        booking = cls.get_staff_booking(booking)
        latitude, longitude, accuracy, coord_type = parse_position(
            lat, lon, accuracy, coord_type)
        with without_check_access():
            # Lock first: the transaction may restart with the lock taken,
            # then a concurrent check-in has committed its state
            cls.lock([booking])
            booking = cls(booking.id)
            if booking.state != 'confirmed':
                raise booking.invalid_state(
                    'service_booking.msg_door_checkin_state')
            service = booking.service
            radius = service.door_radius
            distance = reason = None
            if booking.position is None:
                reason = 'no_position'
            else:
                distance = geo.distance(
                    (latitude, longitude, coord_type), booking.position)
                tolerance = min(accuracy or 0, radius)
                if distance > radius + tolerance:
                    details = {
                        'distance_m': round(distance),
                        'radius_m': radius,
                        'accuracy_m': (round(accuracy)
                            if accuracy is not None else None),
                        }
                    if service.door_policy == 'refuse':
                        raise DoorOutOfRangeError(gettext(
                                'service_booking.msg_door_out_of_range',
                                booking=booking.rec_name,
                                **details), details=details)
                    reason = 'out_of_range'
            # The transition of the staff's button: refuses too early
            cls.begin([booking])
            cls.write([booking], {
                    'door_checkin': clock.now(),
                    'door_latitude': latitude,
                    'door_longitude': longitude,
                    'door_coord_type': coord_type,
                    'door_accuracy': accuracy,
                    'door_distance': (round(distance, 1)
                        if distance is not None else None),
                    'door_flagged': reason is not None,
                    'door_flag_reason': reason,
                    })
        return cls(booking.id)

    @classmethod
    def door_check_out(cls, booking):
        """Finish booking (id) in progress: done, with the real duration in
        minutes from the door check-in.  Raise BookingNotFoundError
        (not_found) for a booking of another technician, InvalidStateError
        (invalid_state) unless it was checked in at the door and is in
        progress, FinishTooEarlyError (too_early) before its start."""
        booking = cls.get_staff_booking(booking)
        with without_check_access():
            cls.lock([booking])
            booking = cls(booking.id)
            if booking.state != 'in_progress' or not booking.door_checkin:
                raise booking.invalid_state(
                    'service_booking.msg_door_checkout_state')
            now = clock.now()
            # The transition of the staff's button: points, notice
            cls.finish([booking])
            cls.write([booking], {
                    'door_checkout': now,
                    'duration_min': max(0, round(
                            (now - booking.door_checkin).total_seconds()
                            / 60)),
                    })
        return cls(booking.id)

    def staff_values(self):
        "Return the door values of the booking for its technician"
        return {
            'customer': self.member.display_name,
            'flagged': bool(self.door_flagged),
            'flag_reason': self.door_flag_reason,
            'distance_m': (round(self.door_distance)
                if self.door_distance is not None else None),
            'radius_m': self.service.door_radius,
            'accuracy_m': (round(self.door_accuracy)
                if self.door_accuracy is not None else None),
            }
