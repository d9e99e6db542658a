# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import re

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.suite.tools import rec_name_domain
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.transaction import without_check_access

from .event import clean_bssids
from .exceptions import (
    EventNotOpenError, InvalidTokenError, TagValidationError)


def normalize_tag(value):
    "Return the upper-case hexadecimal form of an NFC tag UID or None"
    if not value or not isinstance(value, str):
        return None
    value = re.sub(r'[\s:\-]', '', value).upper()
    if not re.match(r'^[0-9A-F]{8,32}$', value):
        return None
    return value


class Place(DeactivableMixin, ModelSQL, ModelView):
    "Check-in Place"
    __name__ = 'checkin.place'
    __string__ = "Check-in Place"

    name = fields.Char("Name", required=True)
    address = fields.Char("Address")
    latitude = fields.Float(
        "Latitude", digits=(3, 7),
        domain=[If(Bool(Eval('latitude')), [
                    ('latitude', '>=', -90), ('latitude', '<=', 90)], [])])
    longitude = fields.Float(
        "Longitude", digits=(3, 7),
        domain=[If(Bool(Eval('longitude')), [
                    ('longitude', '>=', -180), ('longitude', '<=', 180)],
                [])])
    radius = fields.Integer(
        "Radius", domain=['OR', ('radius', '=', None), ('radius', '>', 0)],
        help="In meters, the default radius of the events at this place.")
    bssids = fields.Text(
        "Wi-Fi BSSIDs",
        help="The BSSIDs of the Wi-Fi of the place, one a line.")
    tags = fields.One2Many('checkin.tag', 'place', "NFC Tags")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('name', 'ASC'), ('id', 'ASC')]

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        clean_bssids(values)
        return values


class Tag(DeactivableMixin, ModelSQL, ModelView):
    "NFC Tag"
    __name__ = 'checkin.tag'
    __string__ = "NFC Tag"

    uid = fields.Char(
        "UID", required=True,
        help="The unique identifier of the tag, in hexadecimal.")
    name = fields.Char("Name")
    event = fields.Many2One(
        'checkin.event', "Event", ondelete='CASCADE',
        states={
            'invisible': Bool(Eval('place')),
            },
        help="The event the tag checks in to.")
    place = fields.Many2One(
        'checkin.place', "Place", ondelete='CASCADE',
        states={
            'invisible': Bool(Eval('event')),
            },
        help="The place of the tag: it checks in to the event open there.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('uid_unique', Unique(t, t.uid), 'checkin.msg_tag_uid_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.event, Index.Equality())),
                Index(t, (t.place, Index.Equality())),
                })
        cls._order = [('uid', 'ASC'), ('id', 'ASC')]

    def get_rec_name(self, name):
        if self.name:
            return '%s (%s)' % (self.name, self.uid)
        return self.uid

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'uid', 'name')

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'uid' in values:
            uid = normalize_tag(values['uid'])
            if not uid:
                raise TagValidationError(gettext(
                        'checkin.msg_tag_uid_invalid', uid=values['uid']))
            values['uid'] = uid
        return values

    @classmethod
    def validate_fields(cls, tags, field_names):
        super().validate_fields(tags, field_names)
        if field_names and not (field_names & {'event', 'place'}):
            return
        for tag in tags:
            if bool(tag.event) == bool(tag.place):
                raise TagValidationError(gettext(
                        'checkin.msg_tag_event_or_place', tag=tag.rec_name))

    @classmethod
    def resolve(cls, uid, when, offline=False):
        """Return the tag and the event that the tag with uid checks in to
        at when.

        Raise InvalidTokenError for an unknown or inactive tag and
        EventNotOpenError when no event is open at the place of the tag."""
        pool = Pool()
        Event = pool.get('checkin.event')
        value = normalize_tag(uid)
        with without_check_access():
            tags = cls.search([('uid', '=', value)], limit=1) if value else []
            if not tags:
                raise InvalidTokenError(
                    gettext('checkin.msg_tag_unknown'),
                    {'reason': 'unknown_tag'})
            tag, = tags
            if tag.event:
                return tag, tag.event
            states = ['open', 'closed'] if offline else ['open']
            events = [e for e in Event.search([
                        ('place', '=', tag.place.id),
                        ('state', 'in', states),
                        ('end', '>=', when),
                        ], order=[('start', 'ASC'), ('id', 'ASC')])
                if e.opening() <= when]
        if not events:
            raise EventNotOpenError(gettext(
                    'checkin.msg_tag_no_event', place=tag.place.rec_name),
                {'place': tag.place.rec_name})
        return tag, events[0]
