# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt

from sql import Column
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction, without_check_access

from . import sms

# The columns of member.configuration that held the outbox configuration
_MEMBER_COLUMNS = {
    'language': 'message_language',
    'max_attempts': 'message_max_attempts',
    'retry_delay': 'message_retry_delay',
    'sending_timeout': 'message_sending_timeout',
    'batch_limit': 'message_batch_limit',
    }


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "Outbox Configuration"
    __name__ = 'outbox.configuration'

    language = fields.Char(
        "Language",
        help="The language code of the messages to recipients who have "
        "none (default: the language of the database).")
    max_attempts = fields.Integer(
        "Maximum Attempts", required=True,
        domain=[('max_attempts', '>', 0)],
        help="After so many failed attempts a message is failed.")
    retry_delay = fields.TimeDelta(
        "Retry Delay", required=True,
        help="The wait before the second attempt; it doubles at each "
        "attempt.")
    sending_timeout = fields.TimeDelta(
        "Sending Timeout", required=True,
        help="A message still sending after this time (the process "
        "stopped) is queued again: it may be delivered twice.")
    batch_limit = fields.Integer(
        "Messages per Run",
        help="The most messages the scheduler hands over at each run.\n"
        "Leave empty for no limit.")
    sms_provider = fields.Selection([
            (None, ""),
            ('http', "Cloud SMS API (HTTP)"),
            ], "SMS Provider",
        help="The service that sends the text messages.\n"
        "Leave empty to send none.")
    sms_url = fields.Char(
        "SMS Base URL",
        states={
            'required': Bool(Eval('sms_provider')),
            },
        help="The address of the API of the SMS provider.")
    sms_key = fields.Char(
        "SMS Access Key", strip=False,
        help="The access key identifier given by the SMS provider.")
    sms_secret = fields.Char(
        "SMS Access Key Secret", strip=False,
        help="The secret that signs the requests to the SMS provider.")
    sms_sign_name = fields.Char(
        "SMS Signature",
        help="The signature approved by the SMS provider, shown at the "
        "start of each message.")

    @classmethod
    def __register__(cls, module):
        TableHandler = backend.TableHandler
        created = not TableHandler.table_exist(cls._table)
        super().__register__(module)
        # Migration from the outbox in the member module
        if created and TableHandler.table_exist('member_configuration'):
            cls._copy_from_member()

    @classmethod
    def _copy_from_member(cls):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute('SELECT * FROM "member_configuration" '
            'ORDER BY "id" LIMIT 1')
        names = [d[0] for d in cursor.description]
        row = cursor.fetchone()
        if not row:
            return
        row = dict(zip(names, row))
        values = {f: row[c] for f, c in _MEMBER_COLUMNS.items()
            if row.get(c) is not None}
        columns = [Column(table, f) for f in values]
        cursor.execute(*table.insert(
                columns + [table.create_uid, table.create_date],
                [list(values.values()) + [0, CurrentTimestamp()]]))

    @classmethod
    def default_max_attempts(cls):
        return 5

    @classmethod
    def default_retry_delay(cls):
        return dt.timedelta(minutes=1)

    @classmethod
    def default_sending_timeout(cls):
        return dt.timedelta(minutes=15)

    @classmethod
    def default_batch_limit(cls):
        return 1000

    @classmethod
    def sms_provider_of(cls):
        """Return the configured SMS provider (outbox.sms.Provider) or None
        (read without access check: the secret is hidden from users)"""
        with without_check_access():
            configuration = cls(1)
            return sms.get_provider(configuration.sms_provider,
                configuration.sms_url, configuration.sms_key,
                configuration.sms_secret, configuration.sms_sign_name)
