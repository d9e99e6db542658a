# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The message outbox: every outgoing message (WeChat subscription message,
email) is a member.message record sent by the scheduler with retries.

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
"""
import datetime as dt
import json
import logging
import random
import string
import time
from email.message import EmailMessage
from email.utils import formataddr

from trytond import backend, config
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import SQLConstraintError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.sendmail import send_message_transactional
from trytond.transaction import Transaction, without_check_access

from trytond.modules.suite import clock, tools

from . import wechat
from .exceptions import MessageError, SubscriptionTemplateError

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
    ('email', "Email"),
    ]
# WeChat limits the values of `thing` keys to 20 characters
WECHAT_THING = 20


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


class WeChatToken(ModelSQL):
    "WeChat Access Token"
    __name__ = 'member.wechat.token'

    access_token = fields.Char("Access Token", strip=False)
    expires_at = fields.DateTime("Expires At")

    @classmethod
    def _holder_id(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        return ModelData.get_id('member', 'wechat_token')

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
        margin = dt.timedelta(seconds=config.getint(
                'miniprogram', 'token_margin', default=300))

        def get():
            with without_check_access():
                holder = cls(holder_id)
                current = clock.now()
                if (holder.access_token
                        and holder.access_token != invalid
                        and holder.expires_at
                        and holder.expires_at - margin > current):
                    return holder.access_token
                token, expires_in = wechat.fetch_token()
                logger.info("WeChat access token renewed")
                cls.write([holder], {
                        'access_token': token,
                        'expires_at': current + dt.timedelta(
                            seconds=expires_in),
                        })
                return token

        transaction = Transaction()
        retries = config.getint('database', 'retry', default=5) * 10
        count = 0
        while True:
            try:
                with transaction.new_transaction(
                        _lock_records={cls._table: [holder_id]}) as apart:
                    token = get()
                    apart.commit()
                return token
            except backend.DatabaseOperationalError:
                if count >= retries:
                    raise
                count += 1
                time.sleep(random.uniform(0.02, 0.1))


class Template(DeactivableMixin, ModelSQL, ModelView):
    "Message Template"
    __name__ = 'member.message.template'

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
                'member.msg_message_template_code_unique'),
            ]
        cls._order.insert(0, ('code', 'ASC'))

    @classmethod
    def get(cls, code):
        "Return the template of code"
        with without_check_access():
            templates = cls.search([('code', '=', code)], limit=1)
        if not templates:
            raise MessageError(gettext(
                    'member.msg_message_template_missing', code=code))
        return templates[0]

    def wechat_values(self, payload):
        "Return the data of the WeChat message for payload"
        data = {}
        for line in (self.wechat_data or '').splitlines():
            key, sep, text = line.partition(':')
            key = key.strip()
            if not sep or not key:
                continue
            value = render(text.strip(), payload)
            if key.startswith('thing') and len(value) > WECHAT_THING:
                value = value[:WECHAT_THING - 1] + '…'
            data[key] = value
        return data


class Subscription(ModelSQL, ModelView):
    "Message Subscription"
    __name__ = 'member.message.subscription'

    member = fields.Many2One(
        'member.member', "Member", required=True, ondelete='CASCADE')
    template = fields.Many2One(
        'member.message.template', "Template", required=True,
        ondelete='CASCADE')
    credits = fields.Integer(
        "Credits", required=True,
        domain=[('credits', '>=', 0)],
        help="How many messages of the template the member accepted "
        "(one per one-time subscription).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('member_template_unique', Unique(t, t.member, t.template),
                'member.msg_message_subscription_unique'),
            ]
        cls.__access__.add('member')

    @classmethod
    def default_credits(cls):
        return 0

    @classmethod
    def record_subscription(cls, member, results):
        """Add one credit per template accepted by member.

        results is the answer of wx.requestSubscribeMessage:
        {wechat_template_id: 'accept' | 'reject' | 'ban' | 'filter'}.
        Return {wechat_template_id: credits} of the templates.  Raise
        SubscriptionTemplateError, and record nothing, when an id is no
        template's."""
        pool = Pool()
        Member = pool.get('member.member')
        Template = pool.get('member.message.template')
        member = Member(int(member))
        accepted = {k for k, v in (results or {}).items() if v == 'accept'}
        result = {}
        with without_check_access():
            templates = Template.search([
                    ('wechat_template_id', 'in', list(results or {})),
                    ])
            unknown = sorted(set(results or {})
                - {t.wechat_template_id for t in templates})
            if unknown:
                raise SubscriptionTemplateError(gettext(
                        'member.msg_message_subscription_template_unknown',
                        templates=', '.join(unknown)),
                    {'template_ids': unknown})
            if not templates:
                return result
            # Changes of the credits of a member are serialized
            Member.lock([member])
            existing = {s.template.id: s for s in cls.search([
                        ('member', '=', member.id),
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
                                'member': member.id,
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
    def credits_of(cls, member, template):
        with without_check_access():
            subscriptions = cls.search([
                    ('member', '=', int(member)),
                    ('template', '=', int(template)),
                    ], limit=1)
        return subscriptions[0].credits if subscriptions else 0

    @classmethod
    def consume(cls, member, template, all_=False):
        "Take one credit (all with all_) of member for template"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        value = 0 if all_ else table.credits - 1
        cursor.execute(*table.update(
                [table.credits], [value],
                where=(table.member == int(member))
                & (table.template == int(template))
                & (table.credits > 0)))


class Message(Workflow, ModelSQL, ModelView):
    "Message"
    __name__ = 'member.message'

    _readonly = {'readonly': Eval('state') != 'queued'}

    member = fields.Many2One(
        'member.member', "Member", ondelete='CASCADE', readonly=True,
        states={
            'invisible': ~Eval('member'),
            })
    user = fields.Many2One(
        'res.user', "User", ondelete='CASCADE', readonly=True,
        states={
            'invisible': ~Eval('user'),
            })
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    template = fields.Many2One(
        'member.message.template', "Template", required=True,
        ondelete='RESTRICT', readonly=True)
    recipient = fields.Char(
        "Recipient", readonly=True,
        help="The email address, or the OpenID of the WeChat user.")
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
    dedup_key = fields.Char(
        "Deduplication Key", readonly=True,
        help="A message with the same key is never queued twice.")
    state = fields.Selection(
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
                'member.msg_message_dedup_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(
                    t, (t.state, Index.Equality(cardinality='low')),
                    (t.next_try, Index.Range()),
                    where=t.state.in_(['queued', 'sending'])),
                Index(t, (t.member, Index.Range())),
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
    def default_state(cls):
        return 'queued'

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def _get_origin(cls):
        "Return the models that may be the origin of a message"
        return ['member.member']

    @classmethod
    def get_origin(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        models = cls._get_origin()
        return [(None, '')] + [
            (m, IrModel.get_name(m)) for m in models]

    def get_rec_name(self, name):
        return '%s → %s' % (
            self.template.rec_name if self.template else '',
            (self.member or self.user).rec_name
            if (self.member or self.user) else '')

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

        Each values is a dictionary with: template (code or record),
        member or user (the recipient), payload (JSON-able dictionary) and
        optionally dedup_key, origin, attachment, attachment_name,
        language.  The texts are rendered at once in the language of the
        recipient.  A message whose dedup_key was queued before (by this
        or another process, even at the same time) is skipped: the unique
        key decides, not a read.  A message that no channel can take to its
        recipient (no WeChat OpenID for a WeChat template, no email) is not
        queued: it would only fail."""
        pool = Pool()
        Template = pool.get('member.message.template')
        Member = pool.get('member.member')
        User = pool.get('res.user')
        to_create = []
        with without_check_access():
            keys = [v['dedup_key'] for v in values_list
                if v.get('dedup_key')]
            existing = set()
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            in_ = fields.SQL_OPERATORS['in']
            from trytond.tools import grouped_slice
            for sub_keys in grouped_slice(keys, backend.MAX_QUERY_PARAMS):
                cursor.execute(*table.select(
                        table.dedup_key,
                        where=in_(table.dedup_key, list(sub_keys))))
                existing.update(k for k, in cursor)
            templates = {}
            for values in values_list:
                key = values.get('dedup_key') or None
                if key and key in existing:
                    continue
                if key:
                    existing.add(key)
                template = values['template']
                if isinstance(template, str):
                    if template not in templates:
                        templates[template] = Template.get(template)
                    template = templates[template]
                member = values.get('member')
                user = values.get('user')
                member = Member(int(member)) if member is not None else None
                user = User(int(user)) if user is not None else None
                message = cls._message_values(template, member, user, values)
                if not message['recipient']:
                    # No channel reaches the recipient: nothing to send,
                    # nothing failed (and the key stays free, so that the
                    # message is queued once the recipient has an address)
                    logger.info("message %s to %s not queued: no channel",
                        template.code, member or user)
                    if key:
                        existing.discard(key)
                    continue
                to_create.append(message)
            created = []
            if not to_create:
                return created
            keyed = [v for v in to_create if v.get('dedup_key')]
            plain = [v for v in to_create if not v.get('dedup_key')]
            if plain:
                created.extend(cls.create(plain))
            if keyed:
                try:
                    with tools.savepoint('member_message'):
                        created.extend(cls.create(keyed))
                except (SQLConstraintError, backend.DatabaseIntegrityError):
                    # Another transaction queued some of them meanwhile
                    for values in keyed:
                        try:
                            with tools.savepoint('member_message'):
                                created.extend(cls.create([values]))
                        except (SQLConstraintError,
                                backend.DatabaseIntegrityError):
                            logger.info(
                                "message %s already queued",
                                values['dedup_key'])
        return created

    @classmethod
    def _message_values(cls, template, member, user, values):
        "Return the values to create the message"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Template = pool.get('member.message.template')
        payload = values.get('payload') or {}
        language = values.get('language')
        if not language and user and user.language:
            language = user.language.code
        if not language:
            language = Configuration(1).message_language or config.get(
                'database', 'language', default='en')
        channel, recipient = cls._channel(template, member, user)
        with Transaction().set_context(language=language):
            template = Template(template.id)
            subject = render(template.subject, payload)
            body = render(template.body, payload)
        result = {
            'template': template.id,
            'member': member.id if member else None,
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
        return result

    @classmethod
    def _channel(cls, template, member, user):
        """Return the channel and recipient: WeChat when the template has a
        WeChat template and the member an OpenID, email otherwise"""
        if (member and member.wechat_openid
                and template.wechat_template_id):
            return 'wechat', member.wechat_openid
        email = None
        if member:
            email = member.party.email
        elif user:
            email = user.email
        return 'email', email or None

    # Sending

    @classmethod
    def send_queued(cls):
        """Hand the due messages to the task queue (run by the scheduler).

        A message left `sending` longer than the sending timeout is queued
        again first."""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        configuration = Configuration(1)
        current = clock.now()
        with without_check_access():
            stale = cls.search([
                    ('state', '=', 'sending'),
                    ('sending_at', '<', current
                        - configuration.message_sending_timeout),
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
                            'member.msg_message_interrupted'),
                        })
            messages = cls.search([
                    ('state', '=', 'queued'),
                    ('next_try', '<=', current),
                    ], order=[('next_try', 'ASC'), ('id', 'ASC')],
                limit=configuration.message_batch_limit or None)
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
        its own (run by the task queue)"""
        table = cls.__table__()
        for message_id in sorted(int(m) for m in messages):
            def claimed():
                # Read apart, not in the snapshot of the task: a message
                # queued again after the sending timeout (the task waited
                # in the queue) and claimed by a later run is sent by the
                # task of that run only
                cursor = Transaction().connection.cursor()
                where = (table.id == message_id) & (table.state == 'sending')
                if claimed_at is not None:
                    where &= table.sending_at == claimed_at
                cursor.execute(*table.select(table.id, where=where))
                return cursor.fetchone() is not None
            if not tools.run_apart(claimed):
                continue
            with without_check_access():
                message = cls(message_id)
                try:
                    outcome, error = message._deliver()
                except Exception as e:
                    logger.exception("message %s: sending failed", message_id)
                    outcome, error = 'retry', '%s: %s' % (
                        type(e).__name__, e)
            try:
                tools.run_apart(lambda: cls(message_id)._set_outcome(
                        outcome, error))
            except backend.DatabaseOperationalError:
                raise
            except Exception as e:
                if outcome != 'email':
                    raise
                # The SMTP server refused the connection: nothing was sent
                logger.warning("message %s: SMTP unavailable: %s",
                    message_id, e)
                error = 'SMTP: %s: %s' % (type(e).__name__, e)
                tools.run_apart(lambda: cls(message_id)._set_outcome(
                        'retry', error))

    def _deliver(self):
        """Send the message and return (outcome, error) where outcome is
        'sent', 'retry', 'failed', 'no_credit' or 'email' (sent when the
        outcome is committed)"""
        if not self.recipient:
            return 'failed', gettext('member.msg_message_no_address')
        if self.channel == 'wechat':
            return self._deliver_wechat()
        return 'email', None

    def _deliver_wechat(self):
        pool = Pool()
        Token = pool.get('member.wechat.token')
        Subscription = pool.get('member.message.subscription')
        if Subscription.credits_of(self.member, self.template) <= 0:
            return 'no_credit', gettext('member.msg_message_no_credit')
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
        if kind == 'token':
            kind = 'retry'
        elif kind == 'fail':
            kind = 'failed'
        return kind, error

    def _email(self):
        "Return the email message"
        msg = EmailMessage()
        from_ = config.get('email', 'from')
        msg['From'] = from_
        name = self.member.rec_name if self.member else (
            self.user.rec_name if self.user else '')
        msg['To'] = formataddr((name, self.recipient))
        msg['Subject'] = self.subject or ''
        msg['Message-ID'] = '<member-message-%s-%s@%s>' % (
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

    def _set_outcome(self, outcome, error):
        "Write the outcome of the sending (in its own transaction)"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Subscription = pool.get('member.message.subscription')
        configuration = Configuration(1)
        current = clock.now()
        cls = self.__class__
        with without_check_access():
            values = {'sending_at': None}
            if outcome in {'sent', 'email'}:
                # The last error stays: it may tell of a possible duplicate
                values.update(state='sent', sent_at=current)
                if outcome == 'email':
                    # Sent by SMTP when this transaction commits; the
                    # connection is opened before the commit (strict)
                    send_message_transactional(self._email(), strict=True)
                elif self.channel == 'wechat':
                    Subscription.consume(self.member, self.template)
            elif (outcome == 'retry'
                    and self.attempts + 1 < configuration.message_max_attempts):
                delay = configuration.message_retry_delay * (
                    2 ** self.attempts)
                values.update(
                    state='queued', next_try=current + delay,
                    last_error=error)
            else:
                values['last_error'] = error
                if outcome == 'no_credit' and self.member:
                    Subscription.consume(
                        self.member, self.template, all_=True)
                values['state'] = 'failed'
            values['attempts'] = self.attempts + 1
            # Not through the workflow: the transition is decided here
            cls.write([self], values)
