# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The intake of check-ins: when the database is saturated, POST checkins
validates the request, appends it here and answers 202 with a receipt; the
worker records the items later, in order, each exactly once, through
checkin.attendance.check_in (see doc/operations.rst)."""
import json
import logging
import time
import uuid

from sql import Column, Literal
from sql.aggregate import Count, Min
from sql.functions import CurrentTimestamp
from sql.operators import Exists

from trytond import backend
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.checkin.attendance import CheckInResult
from trytond.modules.member.member import member_context
from trytond.modules.suite import clock, tools
from trytond.modules.suite.fields import Constant, State
from trytond.pool import Pool
from trytond.transaction import (
    Transaction, TransactionError, without_check_access)

from .api import _default, error_body, from_user_error
from .auth import _company
from .exceptions import TokenInvalid
from .routes import checkin_outcome

logger = logging.getLogger(__name__)


class CheckinIntake(ModelSQL, ModelView):
    "Mini-program Check-in Intake"
    __name__ = 'miniprogram.checkin.intake'

    receipt = fields.Char("Receipt", required=True, readonly=True,
        strip=False,
        help="The random identifier given to the member, who reads the "
        "outcome with it.")
    # Not a foreign key: its check (FOR KEY SHARE of the member's row)
    # would wait for the member's lock, held by the check-ins that saturate
    # the database
    member_id = fields.Integer("Member ID", required=True, readonly=True)
    member = fields.Function(fields.Many2One('member.member', "Member"),
        'get_member', searcher='search_member')
    event = fields.Many2One('checkin.event', "Event", readonly=True,
        ondelete='SET NULL',
        help="The event of the credential when it names one.")
    client_uuid = fields.Char("Client UUID", readonly=True, strip=False)
    request = fields.Text("Request", readonly=True,
        help="The body of the check-in as the mini-program sent it (JSON).")
    language = fields.Char("Language", readonly=True)
    received = fields.DateTime("Received", required=True, readonly=True,
        help="The time of the server when the request arrived: the rules "
        "are applied as of this time.")
    state = State([
            ('pending', "Pending"),
            ('done', "Done"),
            ], "State", required=True, readonly=True, sort=False)
    processed = fields.DateTime("Processed", readonly=True)
    status = fields.Integer("HTTP Status", readonly=True,
        help="The status of the final answer: 201 recorded, else the "
        "status of the error.")
    code = fields.Char("Code", readonly=True,
        help="The error code of the final answer.")
    answer = fields.Text("Answer", readonly=True,
        help="The final answer (JSON): the check-in or the error object.")
    attendance = fields.Many2One('checkin.attendance', "Check-in",
        readonly=True, ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('receipt_unique', Unique(t, t.receipt),
                'miniprogram.msg_intake_receipt_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality(cardinality='low')),
                    (t.id, Index.Range()),
                    where=t.state == 'pending'),
                Index(t, (t.member_id, Index.Equality()),
                    (t.client_uuid, Index.Equality())),
                Index(t, (t.event, Index.Equality()),
                    where=t.state == 'pending'),
                })

    def get_member(self, name):
        return self.member_id

    @classmethod
    def search_member(cls, name, clause):
        pool = Pool()
        Member = pool.get('member.member')
        if clause[1] in {'=', '!=', 'in', 'not in'} and (
                len(clause) == 3 and not isinstance(clause[2], str)):
            return [('member_id',) + tuple(clause[1:])]
        members = Member.search([('rec_name',) + tuple(clause[1:])],
            order=[])
        return [('member_id', 'in', [m.id for m in members])]

    @classmethod
    def default_state(cls):
        return 'pending'

    def get_rec_name(self, name):
        return self.receipt

    @classmethod
    def check_request(cls, body):
        """Check the check-in body as check_in does before the database:
        the credential's keys, the position and coordinate system, the BSSID,
        client_uuid, client_time and device_id; raise the CheckInError of
        the answer the check-in would have got"""
        from trytond.modules.checkin.attendance import (
            CREDENTIAL_KEYS, normalize_device, normalize_uuid,
            parse_client_time)
        Attendance = Pool().get('checkin.attendance')
        kwargs = Attendance.parse_item(body)
        normalize_uuid(kwargs['client_uuid'])
        Attendance._parse_attempt(kwargs['credential'], CREDENTIAL_KEYS,
            kwargs['position'], kwargs['bssid'])
        parse_client_time(kwargs['client_time'])
        normalize_device(kwargs['device_id'])

    @classmethod
    def receive(cls, member, body, language=None):
        """Append the check-in body of member to the intake and return its
        receipt; the same client_uuid of the member gives the same
        receipt.  The body is checked by the caller (check_request); raise
        TokenInvalid when the member is not active.

        One prepared INSERT ... SELECT instead of the ORM (which reads the
        record back to validate it): it appends the item only for an
        active member without an item of the same client_uuid, with the
        event of the credential when it exists.  This runs when the
        database is saturated, and the values are made here.  When the
        transaction has begun nothing (the early answer's, api.
        early_answer), the statement is committed by itself, sent by libpq
        (member.prepared.fetch_alone), and nothing more may be written."""
        from trytond.modules.member.prepared import (
            Returned, can_be_alone, created, execute, fetch_alone, sealed)
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        Member = pool.get('member.member')
        transaction = Transaction()
        client_uuid = body.get('client_uuid')
        if isinstance(client_uuid, str):
            client_uuid = client_uuid.strip().lower() or None
        else:
            client_uuid = None
        with without_check_access():
            event_id = Attendance._named_event(CheckInResult('refused'),
                Attendance.parse_item(body)['credential'])
        values = {
            'receipt': uuid.uuid4().hex,
            'request': json.dumps(body, separators=(',', ':'),
                ensure_ascii=False),
            'language': language,
            'received': clock.now(),
            }
        names = tuple(values)

        def append(create_uid, member_id, event_id, client_uuid, **values):
            table, other = cls.__table__(), cls.__table__()
            member, event = Member.__table__(), Event.__table__()
            return table.insert(
                [table.create_uid, table.create_date, table.member_id,
                    table.event, table.client_uuid, table.state]
                + [Column(table, n) for n in names],
                member.select(Literal(create_uid), CurrentTimestamp(),
                    member.id, event.select(event.id,
                        where=event.id == event_id),
                    Literal(client_uuid), Literal('pending'),
                    *(Literal(values[n]) for n in names),
                    where=(member.id == member_id)
                    & (member.active == Literal(True))
                    & ~Exists(other.select(Literal(1),
                            where=(other.member_id == member_id)
                            & (other.client_uuid == client_uuid)))),
                returning=[Returned('id')])
        # Committed by itself when the transaction has begun nothing (the
        # early answer's): the request writes nothing else
        alone = can_be_alone(transaction.connection)
        row = fetch_alone((cls.__name__, 'append', names), append,
            create_uid=transaction.user, member_id=int(member),
            event_id=event_id, client_uuid=client_uuid, **{
                n: cls._fields[n].sql_format(v)
                for n, v in values.items()})
        if row and alone:
            sealed(transaction.connection)
        if row:
            created(cls, [row[0]])
            return values['receipt']

        def find(member_id, client_uuid):
            table, member = cls.__table__(), Member.__table__()
            return table.join(member,
                condition=member.id == table.member_id).select(
                table.receipt,
                where=(table.member_id == member_id)
                & (table.client_uuid == client_uuid)
                & (member.active == Literal(True)), limit=1)
        cursor = execute((cls.__name__, 'find'), find,
            member_id=int(member), client_uuid=client_uuid)
        row = cursor.fetchone()
        if not row:
            raise TokenInvalid(gettext('miniprogram.msg_member_inactive'))
        return row[0]

    @classmethod
    def outcome(cls, member, receipt):
        """Return the item of receipt of member or None (another member's
        receipt is nobody's)"""
        with without_check_access():
            items = cls.search([
                    ('receipt', '=', receipt),
                    ('member_id', '=', int(member)),
                    ], limit=1)
        return items[0] if items else None

    @property
    def idempotency_key(self):
        """The client_uuid of the check-in of the item: the client's, else
        one derived from the receipt, so that the check-in is recorded once
        even if the item were recorded twice"""
        return self.client_uuid or str(uuid.UUID(self.receipt))

    @classmethod
    def pending_count(cls, event):
        "The number of items of event waiting for the worker"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Count(table.id),
                where=(table.state == Constant('pending'))
                & (table.event == int(event))))
        return cursor.fetchone()[0]

    @classmethod
    def backlog(cls):
        "(pending items, received time of the oldest or None)"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Count(table.id), Min(table.received),
                where=table.state == Constant('pending')))
        count, oldest = cursor.fetchone()
        if isinstance(oldest, str):
            oldest = tools.parse_datetime(oldest + '+00:00')
        return count, oldest

    @classmethod
    def drain(cls, limit=None, seconds=None):
        """Record the pending items in id order, each in a transaction of
        its own, until none is left (or limit items, or seconds); return
        the number recorded here.

        Several workers may drain at once: each item is recorded under the
        lock of its row, after reading its state again, so exactly once.
        An item whose row or member stays locked is left pending for the
        next run.  On PostgreSQL the run sees the items pending when it
        started (its snapshot); later ones wait for the next run."""
        transaction = Transaction()
        # real time: how long this run may take
        deadline = (time.monotonic() + seconds) if seconds else None
        table = cls.__table__()
        recorded = 0
        last = 0
        while True:
            cursor = transaction.connection.cursor()
            cursor.execute(*table.select(table.id,
                    where=(table.state == Constant('pending'))
                    & (table.id > last),
                    order_by=[table.id.asc], limit=100))
            ids = [i for i, in cursor]
            if not ids:
                break
            for item_id in ids:
                last = item_id
                try:
                    if cls._record_apart(item_id):
                        recorded += 1
                except backend.DatabaseOperationalError as e:
                    # Its row or its member held past the retries (another
                    # worker records it, or a long transaction): left
                    # pending for the next run, the others go on
                    logger.warning("intake item %s: database busy, left "
                        "pending: %s", item_id, e)
                    continue
                if limit and recorded >= limit:
                    return recorded
                if deadline and time.monotonic() > deadline:  # real time
                    return recorded
        return recorded

    @classmethod
    def process(cls):
        "Record the pending items (the scheduler), for at most 50 seconds"
        cls.drain(seconds=50)

    @classmethod
    def _record_apart(cls, item_id):
        """Record the item in a transaction of its own that starts with the
        lock of its row; tell if this call recorded it"""
        # The member's lock, asked for by the check-in, is added when the
        # transaction starts again (tools.run_apart)
        return tools.run_apart(lambda: cls._record_one(item_id),
            _lock_records={cls._table: [item_id]})

    @classmethod
    def _record_one(cls, item_id):
        """Record the item if pending (its row locked): the check-in through
        checkin.attendance.check_in as of the time the request arrived,
        and its final answer.  Tell if it was recorded."""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        transaction = Transaction()
        with without_check_access():
            items = cls.search([('id', '=', item_id)])
            if not items or items[0].state != 'pending':
                return False
            item, = items
            processed = clock.now()
            context = member_context(item.member_id)
            company = _company()
            if company:
                context['company'] = company
            context['language'] = item.language or 'en'
            context[clock.CONTEXT_KEY] = item.received
            attendance = None
            with transaction.set_context(context):
                try:
                    kwargs = Attendance.parse_item(json.loads(item.request))
                    if not kwargs.get('client_uuid'):
                        kwargs['client_uuid'] = item.idempotency_key
                    result = Attendance.check_in(item.member_id, **kwargs)
                    status, answer = checkin_outcome(pool, result)
                    attendance = result.attendance
                except (UserError, UserWarning) as e:
                    status, answer = _error_outcome(e)
                except (TransactionError, backend.DatabaseOperationalError):
                    raise
                except Exception:
                    logger.exception("intake item %s failed", item_id)
                    status, answer = 500, error_body('internal_error',
                        gettext('miniprogram.msg_status_500'))
            code = answer['error']['code'] if 'error' in answer else None
            cls.write([item], {
                    'state': 'done',
                    'processed': processed,
                    'status': status,
                    'code': code,
                    'answer': json.dumps(answer, separators=(',', ':'),
                        ensure_ascii=False, default=_default),
                    'attendance': attendance.id if attendance else None,
                    })
        return True

    def final_answer(self):
        "(status, body) of the item: 202 pending or the final answer"
        if self.state == 'pending':
            return 202, {'status': 'pending', 'receipt': self.receipt}
        return self.status, json.loads(self.answer)


def _error_outcome(error):
    "(status, error object) of the answer to a UserError"
    api_error = from_user_error(error)
    return api_error.status, error_body(
        api_error.code, api_error.message, api_error.details)
