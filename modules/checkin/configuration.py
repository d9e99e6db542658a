# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields

from . import token
from .exceptions import ConfigurationValidationError

POLICIES = [
    ('reject', "Reject"),
    ('flag', "Accept and Flag"),
    ]
# What becomes of a check-in without check-out of an event that records
# leaving, once the event (or the day of a daily kind) has ended
MISSING_CHECKOUTS = [
    ('none', "Leave Open"),
    ('event_end', "Close at the End"),
    ('flag', "Close at the End and Flag"),
    ]


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "Check-in Configuration"
    __name__ = 'checkin.configuration'
    __string__ = "Check-in Configuration"

    qr_window = fields.Integer(
        "QR Window", required=True,
        domain=[('qr_window', '>=', 10)],
        help="The default number of seconds a QR code is shown before it "
        "changes.")
    code_window = fields.Integer(
        "Code Window", required=True,
        domain=[('code_window', '>=', 10)],
        help="The default number of seconds an activity code is valid.")
    qr_url_base = fields.Char(
        "QR Link Base", strip=True,
        help="The https URL registered in the mini-program's admin as the "
        "prefix of the QR code links that open it.\n"
        "When set, the kiosks show the link <base>?t=<token> instead of the "
        "bare token, so WeChat's scanner opens the mini-program.")
    radius = fields.Integer(
        "Radius", required=True,
        domain=[('radius', '>', 0)],
        help="The default radius in meters around the location of an event.")
    policy = fields.Selection(
        POLICIES, "Suspicious Check-ins", required=True,
        help="The default policy for check-ins that are out of range, on "
        "another Wi-Fi or not on the roster.")
    sync_delay = fields.Integer(
        "Offline Sync Delay", required=True,
        domain=[('sync_delay', '>', 0)],
        help="In hours, how long after the check-in an offline check-in "
        "may be synchronised.")
    clock_skew = fields.Integer(
        "Clock Tolerance", required=True,
        domain=[('clock_skew', '>=', 0)],
        help="In seconds, how far ahead of the server the clock of a device "
        "may be.")
    secret_rotation = fields.Integer(
        "Secret Rotation", required=True,
        domain=[('secret_rotation', '>', 0)],
        help="In hours, how often the secrets that sign the QR codes of "
        "events are renewed.\n"
        "A secret is kept at least as long as the offline sync delay.")
    missed_reminder = fields.Integer(
        "Missed Check-in Reminder",
        domain=['OR',
            ('missed_reminder', '=', None),
            ('missed_reminder', '>=', 0),
            ],
        help="In minutes after the start (or the daily start) of an open "
        "event, when to remind the members of the roster who have not "
        "checked in.\nLeave empty to send no reminder.")
    missed_reminder_template = fields.Many2One(
        'outbox.template', "Missed Check-in Template", ondelete='RESTRICT',
        help="The message of the missed check-in reminder.\n"
        "Leave empty to send the \"checkin_missed\" template.")
    missing_checkout = fields.Selection(
        MISSING_CHECKOUTS, "Missing Check-out", required=True,
        help="The default treatment of a check-in without check-out once "
        "the event (or its day) has ended:\n"
        "Leave open: no check-out and no duration.\n"
        "Close at the end: checked out automatically at the end.\n"
        "Close at the end and flag: the same, marked for review.")
    sign_in_event = fields.Many2One(
        'checkin.event', "Daily Sign-in Event",
        domain=[('kind', '=', 'points')],
        help="The points sign-in event used by the daily sign-in of the "
        "mini-program.")

    conflict_device_minutes = fields.Integer(
        "Two Devices Within",
        domain=['OR',
            ('conflict_device_minutes', '=', None),
            ('conflict_device_minutes', '>=', 0),
            ],
        help="In minutes: check-ins of the same member from two devices "
        "this close are reported as conflicts.\n"
        "Leave empty to report none.")
    conflict_sync_minutes = fields.Integer(
        "Late Synchronisation",
        domain=['OR',
            ('conflict_sync_minutes', '=', None),
            ('conflict_sync_minutes', '>=', 0),
            ],
        help="In minutes: offline check-ins received later than this after "
        "the time of the device are reported as conflicts.\n"
        "Leave empty to report none.")
    attempt_retention = fields.Integer(
        "Attempt Retention",
        domain=['OR',
            ('attempt_retention', '=', None),
            ('attempt_retention', '>', 0),
            ],
        help="In days, how long the counters of check-in attempts are "
        "kept.\nLeave empty to keep them.")

    @classmethod
    def default_conflict_device_minutes(cls):
        return 10

    @classmethod
    def default_conflict_sync_minutes(cls):
        return 60

    @classmethod
    def default_attempt_retention(cls):
        return 90

    @classmethod
    def default_qr_window(cls):
        return 60

    @classmethod
    def default_code_window(cls):
        return 120

    @classmethod
    def default_radius(cls):
        return 500

    @classmethod
    def default_policy(cls):
        return 'flag'

    @classmethod
    def default_sync_delay(cls):
        return 24

    @classmethod
    def default_clock_skew(cls):
        return 60

    @classmethod
    def default_missed_reminder(cls):
        return 15

    @classmethod
    def default_missing_checkout(cls):
        return 'event_end'

    @classmethod
    def default_secret_rotation(cls):
        return 24

    @classmethod
    def validate_fields(cls, configurations, field_names):
        super().validate_fields(configurations, field_names)
        if field_names and 'qr_url_base' not in field_names:
            return
        for configuration in configurations:
            base = configuration.qr_url_base
            if base and token.check_url_base(base):
                raise ConfigurationValidationError(gettext(
                        'checkin.msg_qr_url_base_invalid', base=base))
