# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The kiosk link of an event in the Tryton clients: the addresses of the
kiosk screen and of the live dashboard, with a kiosk token of the user."""
import datetime as dt
from urllib.parse import quote

from trytond import config
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.modules.checkin.exceptions import EventNotOpenError
from trytond.modules.suite import clock
from trytond.pool import PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateView, Wizard

from .api import PREFIX
from .auth import kiosk_token
from .exceptions import KioskEventOver, NotFound


def public_url():
    """The address of the server as the kiosk browser sees it:
    [miniprogram] public_url, or http:// and [web] listen"""
    url = config.get('miniprogram', 'public_url', default='')
    if not url:
        listen = config.get('web', 'listen', default='localhost:8000')
        host, _, port = listen.rpartition(':')
        if host in {'', '0.0.0.0', '[::]'}:
            host = 'localhost'
        url = 'http://%s:%s' % (host, port)
    return url.rstrip('/')


class Event(metaclass=PoolMeta):
    __name__ = 'checkin.event'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'kiosk_link': {
                    'invisible': ~Eval('state').in_(['draft', 'open']),
                    'icon': 'tryton-public',
                    'depends': ['state'],
                    },
                })

    @classmethod
    @ModelView.button_action('miniprogram.wizard_event_kiosk')
    def kiosk_link(cls, events):
        pass

    @classmethod
    def organized(cls, event_id):
        """Return the event of event_id if the user organizes it (or
        administers check-ins): NotFound when the user reads no such event,
        an access error when it organizes it not"""
        events = cls.search([('id', '=', event_id)])
        if not events:
            raise NotFound(gettext('miniprogram.msg_event_not_found'),
                details={'event_id': event_id})
        event, = events
        event.check_organizer()
        return event

    @classmethod
    def organized_events(cls, offset=0, limit=None, count=False):
        """The events the user organizes (every event for check-in
        administrators) but the cancelled ones, the latest start first; their
        number with count"""
        domain = [('state', '!=', 'cancelled')]
        if not cls._is_checkin_admin():
            domain.append(('organizers', '=', Transaction().user))
        if count:
            return cls.search_count(domain)
        return cls.search(domain, offset=offset, limit=limit,
            order=[('start', 'DESC'), ('id', 'DESC')])

    def is_open_now(self):
        "Whether members may check in to the event now"
        try:
            self.check_open(clock.now())
        except EventNotOpenError:
            return False
        return True

    def kiosk_urls(self, user=None):
        """Return the addresses of the kiosk screen and of the dashboard of
        the event for user (default the transaction's) and their expiry.

        Only organizers of the event and check-in administrators get
        them."""
        self.check_organizer()
        if user is None:
            user = Transaction().user
        token, expires = kiosk_token(int(user), self)
        if not token:
            raise KioskEventOver(gettext(
                    'miniprogram.msg_kiosk_event_over', event=self.rec_name))
        base = '%s/%s%sevents/%d/' % (
            public_url(), Transaction().database.name, PREFIX, self.id)
        return {
            'kiosk_url': base + 'kiosk?token=' + quote(token),
            'dashboard_url': base + 'dashboard?token=' + quote(token),
            'expires_at': dt.datetime.fromtimestamp(
                expires, dt.timezone.utc).replace(tzinfo=None),
            }


class EventKioskStart(ModelView):
    __name__ = 'miniprogram.event.kiosk.start'
    __string__ = "Kiosk Screen"

    event = fields.Many2One('checkin.event', "Event", readonly=True)
    kiosk_url = fields.Char("Kiosk Screen", readonly=True,
        help="Open this address on the screen at the door: it shows the "
        "rotating QR code and the count.")
    dashboard_url = fields.Char("Live Dashboard", readonly=True)
    expires_at = fields.DateTime("Valid Until", readonly=True,
        help="The addresses stop working an hour after the end of the "
        "event.")


class EventKiosk(Wizard):
    __name__ = 'miniprogram.event.kiosk'

    start = StateView('miniprogram.event.kiosk.start',
        'miniprogram.event_kiosk_start_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        return dict(self.record.kiosk_urls(), event=self.record.id)
