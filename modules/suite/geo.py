# This file is part of the suite module.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Positions on the Earth: the great-circle distance and the coordinate
systems of the positions a WeChat mini-program sends.

wx.getLocation answers WGS-84 (``wgs84``, the GPS system) by default, the
map picker wx.chooseLocation and the Chinese maps GCJ-02 (``gcj02``, the
system mandated in mainland China, WGS-84 shifted by a published
deterministic formula of up to some hundred metres).  Two positions are
compared in one system: ``to_wgs84`` brings a position there first."""
import math
import re

EARTH_RADIUS = 6371008.8  # mean radius in meters
COORD_TYPES = ('wgs84', 'gcj02')
# The selection of a coordinate system field (its labels are translated by
# the modules of the fields)
COORD_TYPE_SELECTION = [
    ('wgs84', "WGS-84 (GPS)"),
    ('gcj02', "GCJ-02 (Chinese Maps)"),
    ]
DEFAULT_COORD_TYPE = 'wgs84'

# The Krasovsky 1940 ellipsoid of the GCJ-02 formula
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# The box out of which GCJ-02 is WGS-84 (the formula only applies in China)
_CHINA = (0.8293, 55.8271, 72.004, 137.8347)


def haversine(lat1, lon1, lat2, lon2):
    "Return the great-circle distance in meters between two points"
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = (math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2)
    return 2 * EARTH_RADIUS * math.asin(min(1, math.sqrt(a)))


def in_china(lat, lon):
    "Tell if the GCJ-02 shift applies to the position (a box around China)"
    south, north, west, east = _CHINA
    return south <= lat <= north and west <= lon <= east


class PositionError(ValueError):
    "A position missing, not a number, not finite or out of range"

    def __init__(self, field):
        super().__init__(field)
        self.field = field


class CoordTypeError(ValueError):
    """A coordinate system that cannot be taken: reason is ``unknown`` (not
    one of COORD_TYPES) or ``outside_china`` (GCJ-02 exists only in
    mainland China: elsewhere such a position is a client's mistake)"""

    def __init__(self, coord_type, reason):
        super().__init__(coord_type, reason)
        self.coord_type = coord_type
        self.reason = reason

    @property
    def details(self):
        "The details of the API error invalid_coord_type"
        return {
            'coord_type': self.coord_type,
            'allowed': list(COORD_TYPES),
            'reason': self.reason,
            }


def _number(value, low, high, field):
    "Return value as a float within [low, high] or raise PositionError"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PositionError(field)
    try:
        value = float(value)
    except OverflowError:  # an int too large for a float
        raise PositionError(field)
    if not math.isfinite(value) or not low <= value <= high:
        raise PositionError(field)
    return value


def parse_position(lat, lon, accuracy=None, coord_type=None):
    """Return (latitude, longitude, accuracy, coord_type) of a position
    sent by a client, rounded to the precision of the fields (about 1 cm
    and 10 cm).

    lat and lon are numbers (-90..90, -180..180), accuracy None or a number
    of meters (0 up to 10,000 km excluded), coord_type None (wgs84) or one
    of COORD_TYPES.  Raise PositionError (with the field: lat, lon or
    accuracy_m) or CoordTypeError (see check_coord_type)."""
    coord_type = check_coord_type(coord_type)
    latitude = _number(lat, -90, 90, 'lat')
    longitude = _number(lon, -180, 180, 'lon')
    if accuracy is not None:
        accuracy = round(_number(accuracy, 0, 1e7, 'accuracy_m'), 1)
        if accuracy >= 1e7:
            raise PositionError('accuracy_m')
    latitude, longitude = round(latitude, 7), round(longitude, 7)
    check_coord_type(coord_type, latitude, longitude)
    return latitude, longitude, accuracy, coord_type


def check_coord_type(coord_type, lat=None, lon=None):
    """Return the coordinate system coord_type (None is the default) or
    raise CoordTypeError: unknown, or gcj02 for a position (lat, lon, when
    given) outside China"""
    if coord_type is None:
        return DEFAULT_COORD_TYPE
    if coord_type not in COORD_TYPES:
        raise CoordTypeError(coord_type, 'unknown')
    if (coord_type == 'gcj02' and lat is not None and lon is not None
            and not in_china(lat, lon)):
        raise CoordTypeError(coord_type, 'outside_china')
    return coord_type


# A point copied from a Chinese map (Tencent, AMap): "31.230416,121.473701"
_POINT = re.compile(
    r'^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,，]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$')


def parse_point(text):
    """Return the GCJ-02 (latitude, longitude) of the text of a point copied
    from a Chinese map: "latitude,longitude" as Tencent Maps copies it or
    "longitude,latitude" as the AMap picker does.

    A Chinese map's point is in China, and in the box of China a latitude
    (at most 55.83) is never a longitude (at least 72.004): only one order
    is in China, that one is taken.  Raise PositionError ('point') for a
    text that is not two numbers or not a point in China either way."""
    match = _POINT.match(text) if isinstance(text, str) else None
    if not match:
        raise PositionError('point')
    first, second = float(match.group(1)), float(match.group(2))
    for lat, lon in [(first, second), (second, first)]:
        if in_china(lat, lon):
            return lat, lon
    raise PositionError('point')


def _shift(lat, lon):
    "Return the GCJ-02 shift (degrees of latitude, longitude) at a position"
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    waves = (20.0 * math.sin(6.0 * x * pi)
        + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
        + 0.2 * math.sqrt(abs(x)) + waves
        + (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi))
        * 2.0 / 3.0
        + (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0))
        * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y
        + 0.1 * math.sqrt(abs(x)) + waves
        + (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi))
        * 2.0 / 3.0
        + (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi))
        * 2.0 / 3.0)
    phi = math.radians(lat)
    magic = 1 - _KRASOVSKY_EE * math.sin(phi) ** 2
    dlat = (dlat * 180.0) / (
        (_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * math.sqrt(magic)) * pi)
    dlon = (dlon * 180.0) / (
        _KRASOVSKY_A / math.sqrt(magic) * math.cos(phi) * pi)
    return dlat, dlon


def wgs84_to_gcj02(lat, lon):
    "Return the GCJ-02 (latitude, longitude) of a WGS-84 position"
    if not in_china(lat, lon):
        return lat, lon
    dlat, dlon = _shift(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat, lon):
    """Return the WGS-84 (latitude, longitude) of a GCJ-02 position.

    The formula has no closed inverse: the WGS-84 position is found by
    fixed-point iteration, to about a millimetre (a few steps: the shift
    changes slowly with the position)."""
    if not in_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(30):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        elat, elon = glat - lat, glon - lon
        wlat, wlon = wlat - elat, wlon - elon
        if abs(elat) < 1e-9 and abs(elon) < 1e-9:
            break
    return wlat, wlon


def to_wgs84(lat, lon, coord_type=None):
    """Return the WGS-84 (latitude, longitude) of a position in coord_type
    (one of COORD_TYPES, default wgs84); raise ValueError for another"""
    coord_type = coord_type or DEFAULT_COORD_TYPE
    if coord_type == 'wgs84':
        return lat, lon
    if coord_type == 'gcj02':
        return gcj02_to_wgs84(lat, lon)
    raise ValueError(coord_type)


def distance(position1, position2):
    """Return the distance in meters between two positions (latitude,
    longitude, coord_type), compared in WGS-84"""
    lat1, lon1 = to_wgs84(*position1)
    lat2, lon2 = to_wgs84(*position2)
    return haversine(lat1, lon1, lat2, lon2)
