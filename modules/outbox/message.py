# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The message outbox: every outgoing message (WeChat subscription message,
email) is an outbox.message record sent by the scheduler with retries.

Sending, message by message (see `send`):

1. the cron task `send_queued` marks the due messages `sending` and hands
   them to the task queue in the same transaction: a message queued by a
   transaction that is rolled back never exists, so it is never sent;
2. the task sends each message, then records the outcome in its own
   transaction (sent, queued again with back-off, or failed);
3. a message still `sending` after the sending timeout (the process died
   between 1 and 2) is queued again by `send_queued` with a warning in the
   log and in its last error: it may be delivered twice, never more, and
   never lost.  A task that runs after its messages were claimed again (it
   waited in the queue longer than the timeout) leaves them to the task of
   the new claim.

Channels: `channel` is a selection and a channel is three methods of the
message: `_recipient_<channel>(template, party, user)` (its address of the
recipient, or None), `_deliver_<channel>()` (send, return the outcome) and
its place in `_channels()` (the order in which they are tried).  An SMS
channel adds those three and its entry in the selection; nothing else
changes.
"""
import json
import logging
import string
from email.message import EmailMessage
from email.utils import formataddr

from sql import Literal, Table

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import SQLConstraintError
from trytond.modules.suite import clock, tools
from trytond.modules.suite.fields import Constant, Key, State
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.sendmail import (
    SMTPDataManager, get_smtp_server, send_message, send_message_transactional)
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from . import wechat
from .exceptions import (
    MessageError, SubscriptionError, SubscriptionTemplateError)

logger = logging.getLogger(__name__)

STATES = [
    ('queued', "Queued"),
    ('sending', "Sending"),
    ('sent', "Sent"),
    ('failed', "Failed"),
    ('cancelled', "Cancelled"),
    ]
CHANNELS = [
    ('wechat', "WeChat Subscription Message"),
    ('sms', "SMS"),
    ('email', "Email"),
    ]
# WeChat limits the values of `thing` keys to 20 characters
WECHAT_THING = 20
# The answers of wx.requestSubscribeMessage, and the most templates it asks
SUBSCRIPTION_RESULTS = ['accept', 'reject', 'ban', 'filter']
MAX_SUBSCRIPTIONS = 20


class _Values(dict):
    "Format values: a missing key is left empty"

    def __missing__(self, key):
        return ''


def render(text, payload):
    "Return text with the {keys} of payload replaced"
    if not text:
        return text or ''
    try:
        return string.Formatter().vformat(text, (), _Values(payload or {}))
    except (ValueError, IndexError, AttributeError):
        return text


def _rename_table(old, new):
    "Rename the table of a model that moved from the member module"
    TableHandler = backend.TableHandler
    if TableHandler.table_exist(old) and not TableHandler.table_exist(new):
        TableHandler.table_rename(old, new)


# The records of the member module's XML that the outbox's XML now holds
# (member fs_id, outbox fs_id, model): moved rather than deleted by the
# member's update (which failed for the actions that its menus open) and
# created again (a second token holder, the cron's next call lost)
_MOVED_RECORDS = [
    ('act_message_form', 'act_message_form', 'ir.action.act_window'),
    ('act_message_template_form', 'act_template_form',
        'ir.action.act_window'),
    ('act_message_subscription_form', 'act_subscription_form',
        'ir.action.act_window'),
    ('wechat_token', 'wechat_token', 'outbox.wechat.token'),
    ('cron_send_messages', 'cron_send_messages', 'ir.cron'),
    ]


def _move_model_data():
    """Give the outbox the records of its XML that the member module created
    (the views and domains of the actions are the outbox's XML's own)"""
    model_data = Table('ir_model_data')
    cursor = Transaction().connection.cursor()
    for old, new, model in _MOVED_RECORDS:
        cursor.execute(*model_data.select(model_data.db_id,
                where=(model_data.module == 'member')
                & (model_data.fs_id == old)))
        row = cursor.fetchone()
        cursor.execute(*model_data.select(model_data.id,
                where=(model_data.module == 'outbox')
                & (model_data.fs_id == new)))
        if not row or cursor.fetchone():
            continue
        if model == 'ir.action.act_window':
            for name in ['ir.action.act_window.view',
                    'ir.action.act_window.domain']:
                children = Table(name.replace('.', '_'))
                ids = children.select(children.id,
                    where=children.act_window == row[0])
                cursor.execute(*model_data.delete(
                        where=(model_data.model == name)
                        & model_data.db_id.in_(ids)))
                cursor.execute(*children.delete(
                        where=children.act_window == row[0]))
        cursor.execute(*model_data.update(
                [model_data.module, model_data.fs_id, model_data.model],
                ['outbox', new, model],
                where=(model_data.module == 'member')
                & (model_data.fs_id == old)))


class SMTPBatch(SMTPDataManager):
    """One SMTP connection for the emails of a sending batch.

    Joined to the transaction that records each email as sent: the
    connection is opened (once, strict) before that transaction commits, so
    an unreachable server leaves the message queued; the email is handed
    over after the commit; `close` ends the connection after the batch."""

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def tpc_vote(self, trans):
        if self._server is None:
            self._server = get_smtp_server(self.uri, strict=True)

    def tpc_finish(self, trans):
        for from_addr, to_addrs, msg in self.queue:
            server = send_message(
                msg, from_addr, to_addrs, server=self._server)
            if server:
                self._server = server
        self.queue = []

    def abort(self, trans):
        self.queue = []

    tpc_abort = abort

    def close(self):
        if self._server is not None:
            try:
                self._server.quit()
            except Exception:
                self._server.close()
        self._server = None


class WeChatToken(ModelSQL):
    "WeChat Access Token"
    __name__ = 'outbox.wechat.token'

    access_token = fields.Char("Access Token", strip=False)
    expires_at = fields.DateTime("Expires At")

    @classmethod
    def __register__(cls, module):
        _rename_table('member_wechat_token', cls._table)
        super().__register__(module)

    @classmethod
    def _holder_id(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        return ModelData.get_id('outbox', 'wechat_token')

    @classmethod
    def get_token(cls, invalid=None):
        """Return the access token shared by every process.

        Fetching a token invalidates the previous one, so only one process
        fetches: the holder row is locked (SELECT ... FOR UPDATE, at the
        start of a transaction of its own) and the token is fetched only
        when the stored one expires within the margin, or is the token
        `invalid` that WeChat refused.  The others wait for the lock and
        then reuse the stored token."""
        holder_id = cls._holder_id()

        def get():
            with without_check_access():
                holder = cls(holder_id)
                current = clock.now()
                if (holder.access_token
                        and holder.access_token != invalid
                        and holder.expires_at
                        and holder.expires_at - wechat.token_margin()
                        > current):
                    return holder.access_token
                token, expires_in = wechat.fetch_token()
                logger.info("WeChat access token renewed")
                cls.write([holder], {
                        'access_token': token,
                        'expires_at': current + expires_in,
                        })
                return token
        # The waiters of a renewal may be refused several times
        return tools.run_apart(get, retries_=tools.retries() * 10,
            _lock_records={cls._table: [holder_id]})

    @classmethod
    def call(cls, func, *args, **kwargs):
        """Return func(access_token, *args, **kwargs) with the shared token,
        renewed once when WeChat refuses it (func raises WeChatError with a
        token errcode); other WeChatErrors are raised"""
        token = None
        for attempt in range(2):
            token = cls.get_token(invalid=token)
            try:
                return func(token, *args, **kwargs)
            except wechat.WeChatError as e:
                if attempt or e.errcode not in wechat.TOKEN_ERRORS:
                    raise


class Template(DeactivableMixin, ModelSQL, ModelView):
    "Message Template"
    __name__ = 'outbox.template'

    code = fields.Char(
        "Code", required=True,
        help="The code by which the modules find the template.")
    name = fields.Char("Name", required=True, translate=True)
    wechat_template_id = fields.Char(
        "WeChat Template ID",
        help="The ID of the subscription message template in the WeChat "
        "console.\nLeave empty to send by email only.")
    wechat_page = fields.Char(
        "WeChat Page", help="The mini-program page the message opens.")
    wechat_data = fields.Text(
        "WeChat Data",
        help="One key of the WeChat template a line: "
        "\"key: text with {payload} values\".")
    sms_template_id = fields.Char(
        "SMS Template Code",
        help="The code of the template approved by the SMS provider.\n"
        "Leave empty to send no SMS.")
    sms_data = fields.Text(
        "SMS Parameters",
        help="One parameter of the SMS template a line: "
        "\"name: text with {payload} values\".")
    secret = fields.Boolean(
        "Secret",
        help="The payload and the texts of its messages are erased once "
        "they are sent or failed (e.g. verification codes).")
    subject = fields.Char("Subject", translate=True)
    body = fields.Text(
        "Body", translate=True,
        help="The text of the email; {name} is replaced by the value of "
        "the payload.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'outbox.msg_template_code_unique'),
            ]
        cls._order.insert(0, ('code', 'ASC'))

    @classmethod
    def __register__(cls, module):
        _rename_table('member_message_template', cls._table)
        super().__register__(module)

    @classmethod
    def get(cls, code):
        "Return the template of code"
        with without_check_access():
            templates = cls.search([('code', '=', code)], limit=1)
        if not templates:
            raise MessageError(gettext(
                    'outbox.msg_template_missing', code=code))
        return templates[0]

    @classmethod
    def default_secret(cls):
        return False

    @staticmethod
    def _render_lines(lines, payload):
        "Return {key: rendered text} of the \"key: text\" lines"
        values = {}
        for line in (lines or '').splitlines():
            key, sep, text = line.partition(':')
            key = key.strip()
            if sep and key:
                values[key] = render(text.strip(), payload)
        return values

    def sms_values(self, payload):
        "Return the parameters of the SMS template for payload"
        return self._render_lines(self.sms_data, payload)

    def wechat_values(self, payload):
        "Return the data of the WeChat message for payload"
        data = self._render_lines(self.wechat_data, payload)
        for key, value in data.items():
            if key.startswith('thing') and len(value) > WECHAT_THING:
                data[key] = value[:WECHAT_THING - 1] + '…'
        return data


class Subscription(ModelSQL, ModelView):
    "Message Subscription"
    __name__ = 'outbox.subscription'

    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE')
    template = fields.Many2One(
        'outbox.template', "Template", required=True,
        ondelete='CASCADE')
    credits = fields.Integer(
        "Credits", required=True,
        domain=[('credits', '>=', 0)],
        help="How many messages of the template the party accepted "
        "(one per one-time subscription).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('party_template_unique', Unique(t, t.party, t.template),
                'outbox.msg_subscription_unique'),
            ]

    @classmethod
    def __register__(cls, module):
        _rename_table('member_message_subscription', cls._table)
        super().__register__(module)

    @classmethod
    def default_credits(cls):
        return 0

    @classmethod
    def check_results(cls, results):
        """Raise SubscriptionError when results is not an answer of
        wx.requestSubscribeMessage: at most MAX_SUBSCRIPTIONS template ids
        (1 to 128 characters) and one of SUBSCRIPTION_RESULTS each"""
        if len(results) > MAX_SUBSCRIPTIONS:
            raise SubscriptionError(gettext(
                    'outbox.msg_subscription_too_many',
                    limit=MAX_SUBSCRIPTIONS),
                {'field': 'body.results', 'reason': "too many"})
        for key, value in results.items():
            if (not isinstance(key, str) or not (0 < len(key) <= 128)
                    or value not in SUBSCRIPTION_RESULTS):
                raise SubscriptionError(gettext(
                        'outbox.msg_subscription_result',
                        template=str(key)[:128],
                        results=', '.join(SUBSCRIPTION_RESULTS)),
                    {'field': 'body.results', 'reason': "value"})

    @classmethod
    def record_subscription(cls, party, results):
        """Add one credit per template accepted by party.

        results is the answer of wx.requestSubscribeMessage:
        {wechat_template_id: 'accept' | 'reject' | 'ban' | 'filter'}.
        Return {wechat_template_id: credits} of the templates.  Raise
        SubscriptionError or SubscriptionTemplateError, and record nothing,
        when results is no such answer or an id is no template's."""
        pool = Pool()
        Party = pool.get('party.party')
        Template = pool.get('outbox.template')
        results = results or {}
        cls.check_results(results)
        party = Party(int(party))
        accepted = {k for k, v in results.items() if v == 'accept'}
        result = {}
        with without_check_access():
            templates = Template.search([
                    ('wechat_template_id', 'in', list(results)),
                    ])
            unknown = sorted(set(results)
                - {t.wechat_template_id for t in templates})
            if unknown:
                raise SubscriptionTemplateError(gettext(
                        'outbox.msg_subscription_template_unknown',
                        templates=', '.join(unknown)),
                    {'template_ids': unknown})
            if not templates:
                return result
            # Changes of the credits of a party are serialized
            Party.lock([party])
            existing = {s.template.id: s for s in cls.search([
                        ('party', '=', party.id),
                        ('template', 'in', [t.id for t in templates]),
                        ])}
            to_create, to_write = [], []
            for template in templates:
                subscription = existing.get(template.id)
                credits = subscription.credits if subscription else 0
                if template.wechat_template_id in accepted:
                    credits += 1
                    if subscription:
                        to_write.extend([[subscription], {
                                    'credits': credits}])
                    else:
                        to_create.append({
                                'party': party.id,
                                'template': template.id,
                                'credits': credits,
                                })
                result[template.wechat_template_id] = credits
            if to_create:
                cls.create(to_create)
            if to_write:
                cls.write(*to_write)
        return result

    @classmethod
    def credits_of(cls, party, template):
        "Return the credits of party for template (read as it is allowed)"
        subscriptions = cls.search([
                ('party', '=', int(party)),
                ('template', '=', int(template)),
                ], limit=1)
        return subscriptions[0].credits if subscriptions else 0

    @classmethod
    def consume(cls, party, template, all_=False):
        "Take one credit (all with all_) of party for template"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        value = 0 if all_ else table.credits - 1
        cursor.execute(*table.update(
                [table.credits], [value],
                where=(table.party == int(party))
                & (table.template == int(template))
                & (table.credits > 0)))


class Message(Workflow, ModelSQL, ModelView):
    "Message"
    __name__ = 'outbox.message'

    _readonly = {'readonly': Eval('state') != 'queued'}

    party = fields.Many2One(
        'party.party', "Party", ondelete='CASCADE', readonly=True,
        states={
            'invisible': ~Eval('party'),
            })
    user = fields.Many2One(
        'res.user', "User", ondelete='CASCADE', readonly=True,
        states={
            'invisible': ~Eval('user'),
            })
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    template = fields.Many2One(
        'outbox.template', "Template", required=True,
        ondelete='RESTRICT', readonly=True)
    recipient = fields.Char(
        "Recipient", readonly=True,
        help="The address of the channel: the email address, or the "
        "OpenID of the WeChat user.")
    language = fields.Char("Language", readonly=True)
    payload = fields.Text("Payload", readonly=True,
        help="The values of the template, as JSON.")
    subject = fields.Char("Subject", states=_readonly)
    body = fields.Text("Body", states=_readonly)
    attachment = fields.Binary(
        "Attachment", filename='attachment_name', readonly=True)
    attachment_name = fields.Char("Attachment Name", readonly=True)
    origin = fields.Reference(
        "Origin", selection='get_origin', readonly=True)
    dedup_key = Key(
        "Deduplication Key", readonly=True,
        help="A message with the same key is never queued twice.")
    state = State(
        STATES, "State", required=True, readonly=True, sort=False)
    attempts = fields.Integer("Attempts", required=True, readonly=True)
    next_try = fields.DateTime("Next Try", readonly=True)
    sending_at = fields.DateTime("Sending Since", readonly=True)
    sent_at = fields.DateTime("Sent At", readonly=True)
    last_error = fields.Text("Last Error", readonly=True)

    del _readonly

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('dedup_key_unique', Unique(t, t.dedup_key),
                'outbox.msg_message_dedup_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(
                    t, (t.state, Index.Equality(cardinality='low')),
                    (t.next_try, Index.Range()),
                    where=t.state.in_(['queued', 'sending'])),
                Index(t, (t.party, Index.Range())),
                })
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('queued', 'sending'),
            ('sending', 'queued'),
            ('sending', 'sent'),
            ('sending', 'failed'),
            ('queued', 'cancelled'),
            ('failed', 'cancelled'),
            ('failed', 'queued'),
            ('cancelled', 'queued'),
            }
        cls._buttons.update({
                'retry': {
                    'invisible': ~Eval('state').in_(['failed', 'cancelled']),
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(['queued', 'failed']),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def __register__(cls, module):
        _rename_table('member_message', cls._table)
        _move_model_data()
        super().__register__(module)

    @classmethod
    def default_state(cls):
        return 'queued'

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def _get_origin(cls):
        "Return the models that may be the origin of a message"
        return ['party.party']

    @classmethod
    def get_origin(cls):
        IrModel = Pool().get('ir.model')
        return [(None, '')] + [
            (m, IrModel.get_name(m)) for m in cls._get_origin()]

    def get_rec_name(self, name):
        recipient = self.party or self.user
        return '%s → %s' % (
            self.template.rec_name if self.template else '',
            recipient.rec_name if recipient else '')

    @classmethod
    def copy(cls, messages, default=None):
        default = default.copy() if default is not None else {}
        for name in ['dedup_key', 'next_try', 'sending_at', 'sent_at',
                'last_error']:
            default.setdefault(name, None)
        default.setdefault('attempts', 0)
        default.setdefault('state', 'queued')
        return super().copy(messages, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('queued')
    def retry(cls, messages):
        "Queue failed or cancelled messages again, with fresh attempts"
        cls.write(messages, {
                'attempts': 0,
                'next_try': clock.now(),
                'sending_at': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, messages):
        pass

    # Queueing

    @classmethod
    def queue(cls, values_list):
        """Queue messages and return those created.

        Each values is a dictionary with: template (code or record), party
        or user (the recipient), payload (JSON-able dictionary) and
        optionally dedup_key, origin, attachment, attachment_name,
        language and channel (that channel only, e.g. 'sms' for a code
        that proves a phone).  The texts are rendered at once in the
        language of the recipient.  A message whose dedup_key was queued
        before (by this or another process, even at the same time) is
        skipped: the unique
        key decides, not a read.  A message that no channel can take to its
        recipient (no WeChat OpenID for a WeChat template, no email) is not
        queued: it would only fail."""
        pool = Pool()
        Template = pool.get('outbox.template')
        Party = pool.get('party.party')
        User = pool.get('res.user')
        to_create = []
        with without_check_access():
            existing = cls._queued_keys(
                [v['dedup_key'] for v in values_list if v.get('dedup_key')])
            templates = {}
            for values in values_list:
                key = values.get('dedup_key') or None
                if key and key in existing:
                    continue
                template = values['template']
                if isinstance(template, str):
                    if template not in templates:
                        templates[template] = Template.get(template)
                    template = templates[template]
                party, user = values.get('party'), values.get('user')
                party = Party(int(party)) if party is not None else None
                user = User(int(user)) if user is not None else None
                message = cls._message_values(template, party, user, values)
                if not message['recipient']:
                    # No channel reaches the recipient: nothing to send,
                    # nothing failed (and the key stays free, so that the
                    # message is queued once the recipient has an address)
                    logger.info("message %s to %s not queued: no channel",
                        template.code, party or user)
                    continue
                if key:
                    existing.add(key)
                to_create.append(message)
            return cls._create_queued(to_create)

    @classmethod
    def _queued_keys(cls, keys):
        "Return the keys among keys that a message has already"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        in_ = fields.SQL_OPERATORS['in']
        existing = set()
        for sub_keys in grouped_slice(keys, backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(
                    table.dedup_key,
                    where=in_(table.dedup_key, list(sub_keys))))
            existing.update(k for k, in cursor)
        return existing

    @classmethod
    def _create_queued(cls, to_create):
        """Create the messages of to_create; a keyed message that another
        transaction queued meanwhile is skipped"""
        keyed = [v for v in to_create if v.get('dedup_key')]
        plain = [v for v in to_create if not v.get('dedup_key')]
        created = []
        if plain:
            created.extend(cls.create(plain))
        if keyed:
            try:
                with tools.savepoint('outbox_message'):
                    created.extend(cls.create(keyed))
            except (SQLConstraintError, backend.DatabaseIntegrityError):
                for values in keyed:
                    try:
                        with tools.savepoint('outbox_message'):
                            created.extend(cls.create([values]))
                    except (SQLConstraintError,
                            backend.DatabaseIntegrityError):
                        logger.info(
                            "message %s already queued", values['dedup_key'])
        return created

    @classmethod
    def _message_values(cls, template, party, user, values):
        "Return the values to create the message"
        pool = Pool()
        Template = pool.get('outbox.template')
        payload = values.get('payload') or {}
        language = values.get('language') or cls._language(party, user)
        channel, recipient = cls._channel(
            template, party, user, values.get('channel'))
        with Transaction().set_context(language=language):
            template = Template(template.id)
            subject = render(template.subject, payload)
            body = render(template.body, payload)
        return {
            'template': template.id,
            'party': party.id if party else None,
            'user': user.id if user else None,
            'channel': channel,
            'recipient': recipient,
            'language': language,
            'payload': json.dumps(payload, ensure_ascii=False,
                sort_keys=True, default=str),
            'subject': subject,
            'body': body,
            'dedup_key': values.get('dedup_key') or None,
            'origin': values.get('origin'),
            'attachment': values.get('attachment'),
            'attachment_name': values.get('attachment_name'),
            'next_try': values.get('next_try') or clock.now(),
            }

    @classmethod
    def _language(cls, party, user):
        """Return the language code of the messages to party or user: theirs,
        else the outbox configuration's, else the database's"""
        pool = Pool()
        Configuration = pool.get('outbox.configuration')
        if user and user.language:
            return user.language.code
        if party and party.lang:
            return party.lang.code
        return Configuration(1).language or config.get(
            'database', 'language', default='en')

    @classmethod
    def _channels(cls):
        "Return the channels in the order they are tried"
        return ['wechat', 'sms', 'email']

    @classmethod
    def _channel(cls, template, party, user, channel=None):
        """Return the first channel (or channel only) that reaches the
        recipient and its address, or (the last channel, None)"""
        for channel in [channel] if channel else cls._channels():
            recipient = getattr(cls, '_recipient_%s' % channel)(
                template, party, user)
            if recipient:
                return channel, recipient
        return channel, None

    @classmethod
    def _recipient_wechat(cls, template, party, user):
        """Return the OpenID of party for a WeChat template: the outbox knows
        none, the module that knows the WeChat users of the parties (member)
        extends it"""
        return None

    @classmethod
    def _recipient_sms(cls, template, party, user):
        """Return the mobile phone of party for an SMS template (the member
        module gives the member's phone first)"""
        if party and template.sms_template_id:
            for mechanism in party.contact_mechanisms:
                if mechanism.type == 'mobile' and mechanism.value:
                    # E.164 without the spaces of the display
                    return mechanism.value_compact or mechanism.value

    @classmethod
    def _recipient_email(cls, template, party, user):
        if party:
            return party.email or None
        elif user:
            return user.email or None

    # Sending

    @classmethod
    def send_soon(cls, messages):
        """Hand the queued messages to the task queue at once, without
        waiting for the scheduler (a verification code): the task sends
        them after the commit of the transaction (at its end when no
        worker runs, else by the worker), as `send_queued` does."""
        current = clock.now()
        with without_check_access():
            messages = [m for m in messages if m.state == 'queued']
            if not messages:
                return []
            cls.write(messages, {
                    'state': 'sending',
                    'sending_at': current,
                    })
            cls.__queue__.send(messages, current)
        return messages

    @classmethod
    def send_queued(cls):
        """Hand the due messages to the task queue (run by the scheduler).

        A message left `sending` longer than the sending timeout is queued
        again first."""
        pool = Pool()
        Configuration = pool.get('outbox.configuration')
        configuration = Configuration(1)
        current = clock.now()
        with without_check_access():
            stale = cls.search([
                    ('state', '=', 'sending'),
                    ('sending_at', '<', current
                        - configuration.sending_timeout),
                    ], order=[('id', 'ASC')])
            if stale:
                for message in stale:
                    logger.warning(
                        "message %s interrupted while sending: queued "
                        "again, it may be delivered twice", message.id)
                cls.write(stale, {
                        'state': 'queued',
                        'next_try': current,
                        'last_error': gettext(
                            'outbox.msg_message_interrupted'),
                        })
            messages = cls.search([
                    ('state', '=', 'queued'),
                    ('next_try', '<=', current),
                    ], order=[('next_try', 'ASC'), ('id', 'ASC')],
                limit=configuration.batch_limit or None)
            if not messages:
                return []
            # Claimed by one process only: the rows are locked and written
            cls.lock(messages)
            cls.write(messages, {
                    'state': 'sending',
                    'sending_at': current,
                    })
            with Transaction().set_context(queue_batch=True):
                cls.__queue__.send(messages, current)
        return messages

    @classmethod
    def send(cls, messages, claimed_at=None):
        """Send the messages marked `sending` by the run of `send_queued`
        at claimed_at and record the outcome of each in a transaction of
        its own (run by the task queue).

        The emails of the batch share one SMTP connection; when it cannot
        be opened, the message that tried is queued again with back-off and
        the other emails of the batch go back to the queue untried."""
        smtp = SMTPBatch()
        smtp_error = None
        try:
            for message_id in sorted(int(m) for m in messages):
                if not tools.run_apart(
                        lambda: cls._claimed(message_id, claimed_at)):
                    continue
                with without_check_access():
                    message = cls(message_id)
                    if smtp_error and message.channel == 'email':
                        outcome, error = 'untried', smtp_error
                    else:
                        outcome, error = message._try_deliver()
                try:
                    tools.run_apart(lambda: cls(message_id)._set_outcome(
                            outcome, error, smtp))
                except backend.DatabaseOperationalError:
                    raise
                except Exception as e:
                    if outcome != 'email':
                        raise
                    # The SMTP server refused the connection: nothing sent
                    logger.warning("message %s: SMTP unavailable: %s",
                        message_id, e)
                    smtp_error = 'SMTP: %s: %s' % (type(e).__name__, e)
                    tools.run_apart(lambda: cls(message_id)._set_outcome(
                            'retry', smtp_error))
        finally:
            smtp.close()

    @classmethod
    def _claimed(cls, message_id, claimed_at):
        """Tell if the message is still claimed by the run at claimed_at:
        read apart, not in the snapshot of the task, because a message
        queued again after the sending timeout (the task waited in the
        queue) and claimed by a later run is sent by the task of that run
        only"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = (table.id == message_id) & (
            table.state == Constant('sending'))
        if claimed_at is not None:
            where &= table.sending_at == claimed_at
        cursor.execute(*table.select(Literal(1), where=where))
        return cursor.fetchone() is not None

    def _try_deliver(self):
        "Deliver the message; an unexpected error is a temporary failure"
        try:
            return self._deliver()
        except Exception as e:
            logger.exception("message %s: sending failed", self.id)
            return 'retry', '%s: %s' % (type(e).__name__, e)

    def _deliver(self):
        """Send the message and return (outcome, error) where outcome is
        'sent', 'retry', 'failed', 'no_credit' or 'email' (sent when the
        outcome is committed)"""
        if not self.recipient:
            return 'failed', gettext('outbox.msg_message_no_address')
        return getattr(self, '_deliver_%s' % self.channel)()

    def _deliver_email(self):
        return 'email', None

    def _deliver_sms(self):
        pool = Pool()
        Configuration = pool.get('outbox.configuration')
        provider = Configuration.sms_provider_of()
        if provider is None:
            return 'failed', gettext('outbox.msg_sms_not_configured')
        payload = json.loads(self.payload or '{}')
        outcome, error, provider_id = provider.send(
            self.recipient, self.template.sms_template_id,
            self.template.sms_values(payload), reference=self.id)
        logger.info("message %s: SMS %s%s", self.id, outcome,
            ' (%s)' % provider_id if provider_id else '')
        return outcome, error

    def _deliver_wechat(self):
        pool = Pool()
        Token = pool.get('outbox.wechat.token')
        Subscription = pool.get('outbox.subscription')
        if (not self.party or Subscription.credits_of(
                    self.party, self.template) <= 0):
            return 'no_credit', gettext('outbox.msg_message_no_credit')
        payload = json.loads(self.payload or '{}')
        data = self.template.wechat_values(payload)
        token = None
        for _ in range(2):
            try:
                token = Token.get_token(invalid=token)
                errcode, errmsg = wechat.send_subscribe(
                    token, self.recipient, self.template.wechat_template_id,
                    data, page=render(self.template.wechat_page, payload))
            except wechat.WeChatError as e:
                logger.info("message %s: %s", self.id, e)
                return ('retry' if e.transient else 'failed'), str(e)
            kind = wechat.classify(errcode)
            error = None if kind == 'sent' else 'WeChat %s: %s' % (
                errcode, errmsg)
            logger.info(
                "message %s: WeChat answered %s (%s)", self.id, errcode, kind)
            if kind != 'token':
                break
        # A token refused twice is tried again later
        return {'token': 'retry', 'fail': 'failed'}.get(kind, kind), error

    def _email(self):
        "Return the email message"
        msg = EmailMessage()
        from_ = config.get('email', 'from')
        msg['From'] = from_
        recipient = self.party or self.user
        name = recipient.rec_name if recipient else ''
        msg['To'] = formataddr((name, self.recipient))
        msg['Subject'] = self.subject or ''
        msg['Message-ID'] = '<outbox-message-%s-%s@%s>' % (
            self.id, self.attempts, (from_ or 'tryton').split('@')[-1]
            .strip('>'))
        msg.set_content(self.body or '')
        if self.attachment:
            msg.add_attachment(
                bytes(self.attachment),
                maintype='application',
                subtype='vnd.openxmlformats-officedocument.spreadsheetml.'
                'sheet' if (self.attachment_name or '').endswith('.xlsx')
                else 'octet-stream',
                filename=self.attachment_name or 'attachment')
        return msg

    def _set_outcome(self, outcome, error, smtp=None):
        """Write the outcome of the sending (in its own transaction); an
        email is handed to smtp, sent once the transaction commits"""
        pool = Pool()
        Configuration = pool.get('outbox.configuration')
        Subscription = pool.get('outbox.subscription')
        configuration = Configuration(1)
        current = clock.now()
        cls = self.__class__
        with without_check_access():
            values = {'sending_at': None, 'attempts': self.attempts + 1}
            if outcome in {'sent', 'email'}:
                # The last error stays: it may tell of a possible duplicate
                values.update(state='sent', sent_at=current)
                if outcome == 'email':
                    send_message_transactional(
                        self._email(), datamanager=smtp,
                        strict=True)
                elif self.channel == 'wechat':
                    Subscription.consume(self.party, self.template)
            elif outcome == 'untried':
                # Not attempted: back to the queue with the first delay
                values.update(
                    state='queued', attempts=self.attempts,
                    next_try=current + configuration.retry_delay,
                    last_error=error)
            elif (outcome == 'retry'
                    and self.attempts + 1 < configuration.max_attempts):
                delay = configuration.retry_delay * (2 ** self.attempts)
                values.update(
                    state='queued', next_try=current + delay,
                    last_error=error)
            else:
                values.update(state='failed', last_error=error)
                if outcome == 'no_credit' and self.party:
                    Subscription.consume(
                        self.party, self.template, all_=True)
            if (values['state'] in {'sent', 'failed'}
                    and self.template.secret):
                # Nobody reads a verification code in the outbox
                values.update(payload=None, subject=None, body=None)
            # Not through the workflow: the transition is decided here
            cls.write([self], values)
