# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Rotating QR tokens and activity codes.

A QR token is `<event id>.<window>.<signature>`: the window is the number of
whole windows of the event (default 60 s) since the Unix epoch, and the
signature the first 128 bits of HMAC-SHA256 over `qr:<event id>:<window>`
with the secret of the event, in unpadded URL-safe base64.  The token is
about 35 characters, which keeps the QR code small and easy to scan.

An activity code is a HOTP-like number of 6 digits made with the same
secret and clock windows over `code:<event id>:<window>`.

When the check-in configuration has a QR link base (an https URL registered
in the mini-program's admin as a "QR code link prefix"), the kiosk's QR code
is the URL `<base>?t=<token>`: WeChat's scanner then opens the mini-program
with that URL as its `q` launch option.  A scanned URL is accepted only on
the exact base: scheme https, the same host, port and path, no user
information, no fragment and `t` as its only query parameter.
"""
import base64
import hashlib
import hmac
import io
import math
import re
import secrets
import urllib.parse

from trytond.modules.suite import clock

SIGNATURE_BYTES = 16
CODE_DIGITS = 6
# One spelling per token: no leading zero in the numbers
_TOKEN = re.compile(
    r'^(0|[1-9][0-9]{0,11})\.(0|[1-9][0-9]{0,13})\.([A-Za-z0-9_-]{22})$')


def new_secret():
    "Return a new random secret"
    return secrets.token_urlsafe(32)


def window_of(when, seconds):
    "Return the index of the window of seconds that contains when (UTC)"
    return math.floor(clock.timestamp(when) / seconds)


def window_start(window, seconds):
    """Return the UTC datetime at which window starts.

    Raise ValueError when that time is not a datetime (before year 1 or
    after year 9999): the window of a credential comes from its text."""
    try:
        return clock.from_timestamp(window * seconds)
    except (OverflowError, OSError) as e:
        raise ValueError("window %s is out of range" % window) from e


def _digest(secret, message):
    return hmac.new(
        secret.encode('utf-8'), message.encode('utf-8'),
        hashlib.sha256).digest()


def signature(secret, event_id, window):
    digest = _digest(secret, 'qr:%d:%d' % (event_id, window))
    return base64.urlsafe_b64encode(
        digest[:SIGNATURE_BYTES]).decode('ascii').rstrip('=')


def make_token(secret, event_id, window):
    "Return the QR token of event_id for window"
    return '%d.%d.%s' % (event_id, window, signature(
            secret, event_id, window))


def parse_token(token):
    """Return (event id, window, signature) of a well-formed token or None.

    Only the form is checked: the signature is checked by `verify`."""
    if not isinstance(token, str):
        return None
    match = _TOKEN.match(token.strip())
    if not match:
        return None
    event_id, window, sig = match.groups()
    return int(event_id), int(window), sig


def verify(secret, event_id, window, sig):
    "Tell if sig is the signature of event_id and window with secret"
    if not secret:
        return False
    return hmac.compare_digest(signature(secret, event_id, window), sig)


def make_code(secret, event_id, window, digits=CODE_DIGITS):
    "Return the activity code of event_id for window"
    digest = _digest(secret, 'code:%d:%d' % (event_id, window))
    offset = digest[-1] & 0x0f
    number = int.from_bytes(digest[offset:offset + 4], 'big') & 0x7fffffff
    return str(number % (10 ** digits)).zfill(digits)


def normalize_code(code):
    "Return the digits of a typed code or None"
    if code is None:
        return None
    code = re.sub(r'[\s-]', '', str(code))
    if not code.isdigit() or len(code) != CODE_DIGITS:
        return None
    return code


# The query parameter of the token in a QR link
URL_PARAMETER = 't'


def check_url_base(base):
    """Return the reason why base is not a QR link base or None.

    A base is an absolute https URL with a host and without user
    information, query or fragment."""
    try:
        url = urllib.parse.urlsplit(base)
        url.port
    except ValueError:
        return 'malformed'
    if url.scheme != 'https':
        return 'scheme'
    if not url.hostname or url.username is not None or '@' in url.netloc:
        return 'host'
    if url.query or url.fragment or '?' in base or '#' in base:
        return 'query'
    if any(c.isspace() for c in base):
        return 'malformed'
    return None


def _url_key(url):
    return (url.hostname, url.port or 443, url.path or '/')


def make_url(base, value):
    "Return the QR link of the token value on base"
    return '%s?%s' % (base, urllib.parse.urlencode({URL_PARAMETER: value}))


def is_url(value):
    "Tell if the scanned value is a link rather than a bare token"
    return isinstance(value, str) and '://' in value


def token_of_url(value, base):
    """Return the token of the QR link value made on base.

    Raise ValueError with the reason: 'other_host' for a link of another
    base (or when there is no base), 'malformed' for a link of the base
    that holds no token."""
    try:
        url = urllib.parse.urlsplit(value.strip())
        url.port
    except ValueError:
        raise ValueError('malformed')
    if (not base or url.scheme != 'https' or url.username is not None
            or '@' in url.netloc
            or _url_key(url) != _url_key(urllib.parse.urlsplit(base))):
        raise ValueError('other_host')
    try:
        query = urllib.parse.parse_qs(
            url.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ValueError('malformed')
    if url.fragment or list(query) != [URL_PARAMETER] or len(
            query[URL_PARAMETER]) != 1:
        raise ValueError('malformed')
    return query[URL_PARAMETER][0]


def qr_png(text, box_size=10, border=2):
    "Return the PNG image of a QR code of text"
    import qrcode
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size, border=border)
    qr.add_data(text)
    qr.make(fit=True)
    image = qr.make_image()
    data = io.BytesIO()
    image.save(data, format='PNG')
    return data.getvalue()


def qr_svg(text, border=2):
    "Return the SVG image of a QR code of text"
    import qrcode
    import qrcode.image.svg
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=border, image_factory=qrcode.image.svg.SvgPathImage)
    qr.add_data(text)
    qr.make(fit=True)
    data = io.BytesIO()
    qr.make_image().save(data)
    return data.getvalue().decode('utf-8')
