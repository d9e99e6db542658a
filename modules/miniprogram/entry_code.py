# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Static entry codes: WeChat mini-program codes (wxacode.getUnlimited)
printed for an event or a place.

Scanning one opens the mini-program on its page with the `scene` launch
option: `<kind><id>.<signature>`, kind `e` (event) or `p` (place), the
signature the first 96 bits of HMAC-SHA256 over `entry:<kind><id>` with the
JWT secret of the API, in unpadded URL-safe base64 (16 characters).  An id
has at most 14 digits, so a scene has at most 32 characters, all of WeChat's
alphabet.  The mini-program resolves the scene with `GET entry-codes`: a
code opens the check-in of its event (or of the event open at its place),
it is not a credential itself: a photo of a printed code proves nothing, so
the check-in is checked as an in-app sign-in (position, Wi-Fi) or asks for
the event's rotating QR code."""
import base64
import hashlib
import hmac
import re

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.checkin.exceptions import (
    CheckInAccessError, EventNotOpenError, InvalidTokenError)
from trytond.modules.outbox import wechat
from trytond.modules.outbox.wechat import WeChatError
from trytond.modules.suite import clock
from trytond.modules.suite.fields import Key
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import without_check_access

from . import auth
from .exceptions import EntryCodeError, EntryCodeValidationError

SCENE_MAX = 32
SIGNATURE_BYTES = 12
KINDS = {'e': 'event', 'p': 'place'}
_SCENE = re.compile(r'^([ep])(0|[1-9][0-9]{0,13})\.([A-Za-z0-9_-]{16})$')
ENV_VERSIONS = [
    ('release', "Release"),
    ('trial', "Trial"),
    ('develop', "Develop"),
    ]
DEFAULT_PAGE = 'pages/checkin-result/index'


def scene_signature(kind, record_id):
    digest = hmac.new(auth.jwt_secret().encode('utf-8'),
        ('entry:%s%d' % (kind, record_id)).encode('utf-8'),
        hashlib.sha256).digest()
    return base64.urlsafe_b64encode(
        digest[:SIGNATURE_BYTES]).decode('ascii').rstrip('=')


def make_scene(kind, record_id):
    "Return the signed scene of the record of kind ('e' or 'p')"
    scene = '%s%d.%s' % (kind, record_id, scene_signature(kind, record_id))
    if len(scene) > SCENE_MAX:
        raise ValueError("id %s is too large for a scene" % record_id)
    return scene


def parse_scene(scene):
    """Return (kind, id) of a scene signed by this server.

    Raise ValueError with the reason: 'malformed' or 'signature'."""
    if not isinstance(scene, str) or len(scene) > SCENE_MAX:
        raise ValueError('malformed')
    match = _SCENE.match(scene)
    if not match:
        raise ValueError('malformed')
    kind, record_id, sig = match.groups()
    record_id = int(record_id)
    if not hmac.compare_digest(scene_signature(kind, record_id), sig):
        raise ValueError('signature')
    return kind, record_id


class EntryCode(DeactivableMixin, ModelSQL, ModelView):
    "Mini-program Entry Code"
    __name__ = 'miniprogram.entry_code'
    __string__ = "Mini-program Entry Code"

    event = fields.Many2One(
        'checkin.event', "Event", ondelete='CASCADE',
        states={
            'invisible': Bool(Eval('place')),
            'readonly': Bool(Eval('scene')),
            },
        help="The event the code opens the check-in of.")
    place = fields.Many2One(
        'checkin.place', "Place", ondelete='CASCADE',
        states={
            'invisible': Bool(Eval('event')),
            'readonly': Bool(Eval('scene')),
            },
        help="The place of the code: it opens the check-in of the event "
        "open there.")
    scene = Key("Scene", readonly=True, strip=False,
        help="The signed scene that the code carries to the mini-program.")
    page = fields.Char("Page", required=True,
        help="The page of the mini-program that the code opens: a page of "
        "the published version, without leading slash.")
    env_version = fields.Selection(ENV_VERSIONS, "Version", required=True,
        help="The version of the mini-program that the code opens.")
    width = fields.Integer("Width", required=True,
        domain=[('width', '>=', 280), ('width', '<=', 1280)],
        help="In pixels, the width of the image.")
    image = fields.Binary("Image", readonly=True, filename='image_name')
    image_name = fields.Function(fields.Char("Image Name"), 'get_image_name')
    fetched_at = fields.DateTime("Fetched At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('scene_unique', Unique(t, t.scene),
                'miniprogram.msg_entry_code_scene_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.event, Index.Equality())),
                Index(t, (t.place, Index.Equality())),
                })
        cls._order = [('id', 'DESC')]
        cls._buttons.update({
                'fetch': {
                    'readonly': ~Eval('active', True),
                    'icon': 'tryton-refresh',
                    'depends': ['active'],
                    },
                })

    @classmethod
    def default_page(cls):
        return DEFAULT_PAGE

    @classmethod
    def default_env_version(cls):
        return 'release'

    @classmethod
    def default_width(cls):
        return 430

    def get_rec_name(self, name):
        target = self.event or self.place
        return '%s (%s)' % (
            target.rec_name if target else '', self.scene or '')

    def get_image_name(self, name):
        return 'entry-%s.png' % str(self.scene or self.id).replace('.', '-')

    @classmethod
    def validate_fields(cls, codes, field_names):
        super().validate_fields(codes, field_names)
        if field_names and not (field_names & {'event', 'place'}):
            return
        for code in codes:
            if bool(code.event) == bool(code.place):
                raise EntryCodeValidationError(gettext(
                        'miniprogram.msg_entry_code_event_or_place'))

    @classmethod
    def create(cls, vlist):
        codes = super().create(vlist)
        cls._check_organizer(codes)
        to_write = []
        for code in codes:
            kind = 'e' if code.event else 'p'
            to_write.extend(([code], {
                        'scene': make_scene(
                            kind, (code.event or code.place).id),
                        }))
        if to_write:
            with without_check_access():
                super().write(*to_write)
        return codes

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        args = []
        for codes, values in zip(actions, actions):
            cls._check_organizer(codes)
            if {'event', 'place', 'scene'} & set(values):
                raise EntryCodeValidationError(gettext(
                        'miniprogram.msg_entry_code_target_readonly'))
            if {'page', 'env_version', 'width'} & set(values):
                # The image shows another page: fetch it again
                values = dict(values, image=None, fetched_at=None)
            args.extend((codes, values))
        super().write(*args)

    @classmethod
    def delete(cls, codes):
        cls._check_organizer(codes)
        super().delete(codes)

    @classmethod
    def copy(cls, codes, default=None):
        default = dict(default or {})
        for name in ['scene', 'image', 'fetched_at']:
            default.setdefault(name, None)
        return super().copy(codes, default=default)

    @classmethod
    def _check_organizer(cls, codes):
        """Only the organizers of its event (and the check-in
        administrators) manage the code of an event; only the check-in
        administrators the code of a place"""
        pool = Pool()
        Event = pool.get('checkin.event')
        if Event._is_checkin_admin():
            return
        for code in codes:
            if code.event:
                code.event.check_organizer()
            else:
                raise CheckInAccessError(gettext(
                        'miniprogram.msg_entry_code_place_admin'))

    @classmethod
    @ModelView.button
    def fetch(cls, codes):
        """Fetch the image of the codes from WeChat with the shared access
        token (renewed once when WeChat refuses it).

        The button reads the codes with the record rules of the user: the
        organizers fetch the codes of their events only."""
        pool = Pool()
        Token = pool.get('outbox.wechat.token')
        for code in codes:
            if not code.active:
                continue
            try:
                image = Token.call(wechat.get_unlimited_code, code.scene,
                    code.page, env_version=code.env_version,
                    width=code.width,
                    check_path=code.env_version == 'release')
            except WeChatError as e:
                if e.errcode in wechat.CODE_PAGE_INVALID:
                    raise EntryCodeError(gettext(
                            'miniprogram.msg_entry_code_page_invalid',
                            page=code.page, version=code.env_version))
                raise EntryCodeError(gettext(
                        'miniprogram.msg_entry_code_wechat',
                        error=e.errcode or str(e)))
            with without_check_access():
                super().write([code], {
                        'image': image,
                        'fetched_at': clock.now(),
                        })

    @classmethod
    def resolve(cls, scene, when=None):
        """Return the entry code of scene, its place and the open events it
        leads to (the event of the code, or the events open at its place).

        Raise InvalidTokenError with the reason malformed or signature for
        a scene not signed by this server, revoked for a code deleted or
        deactivated, expired for a code of an event ended or cancelled or
        of an archived place; EventNotOpenError when nothing is open."""
        pool = Pool()
        Event = pool.get('checkin.event')
        Place = pool.get('checkin.place')
        if when is None:
            when = clock.now()
        try:
            kind, record_id = parse_scene(scene)
        except ValueError as e:
            reason, = e.args
            raise InvalidTokenError(
                gettext('miniprogram.msg_entry_code_invalid'),
                {'reason': reason})
        with without_check_access():
            codes = cls.search([('scene', '=', scene)], limit=1)
            if not codes:
                raise InvalidTokenError(
                    gettext('miniprogram.msg_entry_code_invalid'),
                    {'reason': 'revoked'})
            code, = codes
            if kind == 'e':
                event = Event(record_id)
                if (event.state not in {'draft', 'open'}
                        or event.end < when):
                    raise InvalidTokenError(
                        gettext('miniprogram.msg_entry_code_expired'),
                        {'reason': 'expired'})
                place = event.place
                events = [event] if (event.state == 'open'
                    and event.opening() <= when) else []
            else:
                places = Place.search([('id', '=', record_id)])
                if not places:
                    raise InvalidTokenError(
                        gettext('miniprogram.msg_entry_code_expired'),
                        {'reason': 'expired'})
                place, = places
                events = [e for e in Event.search([
                            ('place', '=', place.id),
                            ('state', '=', 'open'),
                            ('end', '>=', when),
                            ], order=[('start', 'ASC'), ('id', 'ASC')])
                    if e.opening() <= when]
            if not events:
                raise EventNotOpenError(gettext(
                        'miniprogram.msg_entry_code_nothing_open',
                        name=(place or code.event).rec_name),
                    {'reason': 'not_open'})
        return code, place, events


class Event(metaclass=PoolMeta):
    __name__ = 'checkin.event'

    entry_codes = fields.One2Many(
        'miniprogram.entry_code', 'event', "Entry Codes",
        help="The mini-program codes printed for the event.")

    @classmethod
    def copy(cls, events, default=None):
        default = dict(default or {})
        default.setdefault('entry_codes', None)
        return super().copy(events, default=default)


class Place(metaclass=PoolMeta):
    __name__ = 'checkin.place'

    entry_codes = fields.One2Many(
        'miniprogram.entry_code', 'place', "Entry Codes",
        help="The mini-program codes printed for the place.")

    @classmethod
    def copy(cls, places, default=None):
        default = dict(default or {})
        default.setdefault('entry_codes', None)
        return super().copy(places, default=default)
