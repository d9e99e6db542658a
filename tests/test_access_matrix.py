# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""The access rights of every group on every model of the suite, as tables.

ACCESS is the intended policy: for each model of our modules (a model
whose `ir.model` record belongs to one of them and that stores records),
what a user holding only one group (and the groups it implies through
`res.group.parent`) may read / write / create / delete, as Tryton's
`ir.model.access` decides it.  BUTTONS is the same for the buttons: which
groups may click them.  A model, a button or a group of ours missing from
the tables fails the test, so that a new one must be classified.

How to read ACCESS: one column per group, `rwcd` for read, write, create
and delete, `-` where the right is refused.  The rights of a model with
`__access__` (a child such as the points lines of a member) are the
greatest of its own and of its parents' in Tryton 8.0: an access record on
the child can widen them, never narrow them.  Those rows say so; what the
record rules and the model's own checks add is tested below the tables.

Run with `scripts/test tests.test_access_matrix` (both backends).
"""
import datetime as dt
import os
import unittest
from contextlib import contextmanager

from tests.tools import activate_suite, suite_modules
from trytond.model import ModelStorage
from trytond.model.exceptions import AccessError
from trytond.modules.checkin.tests.test_module import (
    START, at, create_event, here)
from trytond.modules.company.tests import set_company
from trytond.modules.member.member import member_context
from trytond.modules.member.tests.test_module import (
    create_company_shanghai, create_member)
from trytond.modules.service_booking.tests.test_module import (
    NOW, clock, create_resource, create_service, utc)
from trytond.pool import Pool
from trytond.tests.test_tryton import drop_db, with_transaction
from trytond.transaction import Transaction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = suite_modules()

# The columns of the tables: a short name and the XML id of the group
# (None: a user with no group of ours)
GROUPS = [
    ('plain', None),
    ('org', 'checkin.group_checkin'),
    ('rev', 'checkin.group_checkin_reviewer'),  # implies org
    ('cadm', 'checkin.group_checkin_admin'),  # implies org
    ('mem', 'member.group_member_user'),
    ('madm', 'member.group_member_admin'),  # implies mem
    ('pts', 'member.group_points_manager'),  # implies mem
    ('self', 'member.group_member_self'),  # the mini-program API user
    ('book', 'service_booking.group_booking_user'),
    ('staff', 'service_booking.group_booking_staff'),
    ('badm', 'service_booking.group_booking_admin'),  # implies book
    ]
COLUMNS = [c for c, _ in GROUPS]
MODES = ['read', 'write', 'create', 'delete']

ACCESS = '''
model                            plain org  rev  cadm mem  madm pts  self book staff badm

# Check-in: organizers run their events (record rule: the events they
# organize), reviewers see every check-in and review the flagged ones,
# administrators configure places, tags and defaults.  A check-in is
# created by the check-in code only and is never deleted: reviewing
# writes the review note (Attendance.check_modification).
checkin.attendance               ---- r--- rw-- rw-- ---- ---- ---- r--- ---- ---- ----
checkin.configuration            r--- r--- r--- rwcd r--- r--- r--- r--- r--- r--- r---
checkin.event                    ---- rwcd rwcd rwcd ---- ---- ---- r--- ---- ---- ----
# Children of the event (__access__ event): the rights of the event
checkin.event-member.member      ---- rwcd rwcd rwcd ---- ---- ---- r--- ---- ---- ----
checkin.event-res.user           ---- rwcd rwcd rwcd ---- ---- ---- r--- ---- ---- ----
checkin.place                    ---- r--- r--- rwcd ---- ---- ---- ---- ---- ---- ----
checkin.tag                      ---- r--- r--- rwcd ---- ---- ---- ---- ---- ---- ----
# SQL views (table_query): __access__ gives them the rights of the event,
# resp. of the member; the ORM refuses to write to a view
checkin.report.day               ---- rwcd rwcd rwcd ---- ---- ---- r--- ---- ---- ----
checkin.report.member            ---- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---
# Reminder experiments: administrators define, run and stop them and make
# their winner the default; organizers read them and their results.  The
# variants and events are children (__access__ experiment); the
# assignments are recorded by the scheduler only and read by all of them
checkin.reminder.experiment      ---- r--- r--- rwcd ---- ---- ---- ---- ---- ---- ----
checkin.reminder.experiment-checkin.event ---- r--- r--- rwcd ---- ---- ---- ---- ---- ---- ----
checkin.reminder.experiment.variant ---- r--- r--- rwcd ---- ---- ---- ---- ---- ---- ----
checkin.reminder.assignment      ---- r--- r--- r--- ---- ---- ---- ---- ---- ---- ----
# The refused attempts (analytics counters) are for administrators; the
# conflicts of offline check-ins are read by organizers (record rule: their
# events) and marked reviewed by reviewers
checkin.attempt.counter          ---- ---- ---- r--- ---- ---- ---- ---- ---- ---- ----
checkin.attendance.conflict      ---- r--- rw-- r--- ---- ---- ---- ---- ---- ---- ----

# Members: staff of every module read members (field access hides the
# phone and WeChat ids), member administrators manage them, points
# managers adjust points through the wizard.  The self-service group
# reads its own member only (record rule on the member of the context)
# and writes nothing: the API changes a member through model methods.
member.configuration             r--- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---
member.member                    ---- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---
# The ledger (__access__ member): append-only whatever the access says,
# lines are posted by Member.post_points only (tested below)
member.points.line               ---- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---
# What each line took from or gave back to the lots (__access__ line):
# the rights and rules of the line (the self-service group: its own)
member.points.allocation         ---- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---
# The rewards catalogue: member administrators publish rewards; the
# redemptions are made by Reward.redeem (points managers may redeem for a
# member) and changed by their buttons only; booking staff read the coupons
# of bookings; members read the catalogue and their own redemptions
member.reward                    ---- ---- ---- ---- r--- rwcd r--- r--- r--- r--- r---
member.reward.redemption         ---- ---- ---- ---- r--- r--- r-c- r--- r--- r--- r---
member.streak.rule               r--- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---
member.tier                      r--- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---

# The outbox (its own menu is for Administration): member staff read the
# messages, templates and subscriptions, member administrators manage them;
# the self-service group reads its own messages and subscriptions (record
# rules on the member's party) and the templates, never the token.
outbox.configuration             r--- r--- r--- r--- r--- rwcd r--- r--- r--- r--- r---
outbox.message                   ---- ---- ---- ---- r--- rwcd r--- r--- ---- ---- ----
outbox.subscription              ---- ---- ---- ---- r--- rwcd r--- r--- ---- ---- ----
outbox.template                  ---- ---- ---- ---- r--- rwcd r--- r--- ---- ---- ----
outbox.wechat.token              ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----

# Booking: the front desk books for members and sees every booking, staff
# run the bookings of their resources (record rule), administrators set up
# services and resources.  Members read their own bookings and book
# through Booking.create_booking.
booking.booking                  ---- ---- ---- ---- ---- ---- ---- r--- rwcd rw-- rwcd
# Ratings are made and changed by Rating.rate / change_rating only: the
# front desk writes the hide reason, administrators moderate (buttons),
# staff read the ratings of their resources, members their own
booking.rating                   ---- ---- ---- ---- ---- ---- ---- r--- rw-- r--- rw--
booking.resource                 ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
# Skills: administrators keep the tags; the links to resources and services
# have the rights of their resource or service (__access__)
booking.resource-booking.resource.tag ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
booking.resource.tag             ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
# Children of the resource: a record rule hides the exceptions (leave)
# from the self-service group
booking.resource.exception       ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
booking.resource.hours           ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
booking.service                  ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
booking.service-booking.resource ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
booking.service-booking.resource.tag ---- ---- ---- ---- ---- ---- ---- r--- r--- r--- rwcd
# The history of the moves of bookings: read only (written by
# Booking.reschedule_booking)
booking.reschedule               ---- ---- ---- ---- ---- ---- ---- ---- r--- r--- r---
# The waiting lists: the front desk takes members off (Cancel), members
# read their own entries and join, accept and leave through the
# booking.waitlist methods
booking.waitlist                 ---- ---- ---- ---- ---- ---- ---- r--- rw-- r--- rw--

# Entry codes (wxacode) of events and places: organizers draw those of
# their events (record rule), administrators those of places too
miniprogram.entry_code           ---- rwcd rwcd rwcd ---- ---- ---- ---- ---- ---- ----
# Mini-program sessions: member administrators see and revoke them
miniprogram.refresh_token        ---- ---- ---- ---- ---- r--- ---- ---- ---- ---- ----
# The failed logins of members: the login code only (as res.user's)
miniprogram.login.attempt        ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
# SMS verification codes: member administrators see them (only a hash of
# each code); the requests of codes are the code's only (as the failed
# logins)
miniprogram.sms.code             ---- ---- ---- ---- ---- r--- ---- ---- ---- ---- ----
miniprogram.sms.attempt          ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
# The intake of check-ins: appended by POST checkins, recorded by the
# scheduler; check-in administrators read it
miniprogram.checkin.intake       ---- ---- ---- r--- ---- ---- ---- ---- ---- ---- ----
'''

# The groups allowed to click each button (with the groups they imply)
EVENT_RUNNERS = {'org', 'rev', 'cadm'}
BUTTONS = {
    ('checkin.attendance', 'approve'): {'rev'},
    ('checkin.attendance', 'reject'): {'rev'},
    ('checkin.attendance', 'confirm_checkout'): {'rev'},
    ('checkin.attendance.conflict', 'mark_reviewed'): {'rev'},
    ('miniprogram.entry_code', 'fetch'): EVENT_RUNNERS,
    ('checkin.event', 'open'): EVENT_RUNNERS,
    ('checkin.event', 'close'): EVENT_RUNNERS,
    ('checkin.event', 'cancel'): EVENT_RUNNERS,
    ('checkin.event', 'draft'): EVENT_RUNNERS,
    ('checkin.event', 'batch_check_in'): EVENT_RUNNERS,
    ('checkin.event', 'kiosk_link'): EVENT_RUNNERS,
    ('checkin.event', 'renew_secret'): {'cadm'},
    ('checkin.reminder.experiment', 'run'): {'cadm'},
    ('checkin.reminder.experiment', 'stop'): {'cadm'},
    ('checkin.reminder.experiment', 'draft'): {'cadm'},
    ('checkin.reminder.experiment', 'make_default'): {'cadm'},
    ('member.member', 'adjust_points'): {'pts'},
    ('member.reward.redemption', 'use'): {'mem', 'madm', 'pts'},
    ('member.reward.redemption', 'void'): {'pts'},
    ('outbox.message', 'retry'): {'madm'},
    ('outbox.message', 'cancel'): {'madm'},
    ('booking.booking', 'draft'): {'badm'},
    ('booking.booking', 'submit'): {'book', 'badm'},
    ('booking.booking', 'confirm'): {'staff', 'badm'},
    ('booking.booking', 'begin'): {'staff', 'badm'},
    ('booking.booking', 'finish'): {'staff', 'badm'},
    ('booking.booking', 'no_show'): {'staff', 'badm'},
    ('booking.booking', 'cancel'): {'book', 'staff', 'badm'},
    ('booking.booking', 'reschedule_wizard'): {'book', 'staff', 'badm'},
    # The front desk and administrators choose another technician
    ('booking.booking', 'reassign'): {'book', 'badm'},
    ('booking.waitlist', 'cancel'): {'book', 'badm'},
    ('booking.rating', 'hide'): {'badm'},
    ('booking.rating', 'publish'): {'badm'},
    # The front desk reviews the door check-ins, not the technicians
    ('booking.booking', 'clear_door_flag'): {'book', 'badm'},
    ('miniprogram.refresh_token', 'revoke'): {'madm'},
    }


def parse_access(text):
    "Return {model: {column: 'rwcd' mask}} from the ACCESS table"
    lines = [l.split() for l in text.splitlines()
        if l.strip() and not l.lstrip().startswith('#')]
    header, rows = lines[0], lines[1:]
    assert header[1:] == COLUMNS, header
    policy = {}
    for row in rows:
        model, masks = row[0], row[1:]
        assert len(masks) == len(COLUMNS), row
        assert model not in policy, model
        for mask in masks:
            assert len(mask) == 4 and all(
                c in {'-', m} for c, m in zip(mask, 'rwcd')), row
        policy[model] = dict(zip(COLUMNS, masks))
    return policy


def describe(mask):
    return ', '.join(
        m for m, c in zip(MODES, mask) if c != '-') or "nothing"


class AccessMatrixTestCase(unittest.TestCase):
    "Test the access rights of the groups"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_suite()
        cls.addClassCleanup(drop_db)

    def create_users(self):
        "Create a user per column holding only its group"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        users = User.create([{
                    'name': column,
                    'login': 'access-%s' % column,
                    'groups': [('add', [ModelData.get_id(
                                        *xml_id.split('.'))])]
                    if xml_id else [],
                    } for column, xml_id in GROUPS])
        return dict(zip(COLUMNS, users))

    @contextmanager
    def as_user(self, user, **context):
        "Run as user with the access checks of an RPC call"
        transaction = Transaction()
        with transaction.set_user(user.id), \
                transaction.set_context(_check_access=True, **context):
            yield

    @with_transaction()
    def test_groups_classified(self):
        "Every group of our modules is a column of the tables"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        groups = ModelData.search([
                ('model', '=', 'res.group'),
                ('module', 'in', MODULES),
                ])
        self.assertEqual(
            {'%s.%s' % (d.module, d.fs_id) for d in groups},
            {x for _, x in GROUPS if x},
            msg="the groups of the modules and the columns of GROUPS "
            "differ: classify the new group in ACCESS and BUTTONS")

    @with_transaction()
    def test_model_access(self):
        "Each group has the access to each model that the policy gives"
        pool = Pool()
        IrModel = pool.get('ir.model')
        ModelAccess = pool.get('ir.model.access')
        policy = parse_access(ACCESS)

        models = {m.name for m in IrModel.search([
                    ('module', 'in', MODULES),
                    ])
            if issubclass(pool.get(m.name), ModelStorage)}
        self.assertEqual(
            sorted(models - policy.keys()), [],
            msg="models of our modules missing from ACCESS: add them")
        self.assertEqual(
            sorted(policy.keys() - models), [],
            msg="models of ACCESS that our modules no longer define")

        users = self.create_users()
        for model in sorted(models):
            for column, xml_id in GROUPS:
                with self.subTest(model=model, group=xml_id or column):
                    with self.as_user(users[column]):
                        got = ''.join(
                            c if ModelAccess.check(
                                model, mode, raise_exception=False)
                            else '-'
                            for c, mode in zip('rwcd', MODES))
                    expected = policy[model][column]
                    wrong = [
                        "%s allowed, the policy refuses it" % mode
                        if g != '-' else
                        "%s refused, the policy allows it" % mode
                        for mode, g, e in zip(MODES, got, expected)
                        if g != e]
                    self.assertEqual(got, expected, msg=(
                            "%s, group %s: %s (the policy allows: %s)" % (
                                model, xml_id or "none", "; ".join(wrong),
                                describe(expected))))

    @with_transaction()
    def test_button_access(self):
        "Each group may click the buttons that the policy gives"
        pool = Pool()
        IrModel = pool.get('ir.model')
        Button = pool.get('ir.model.button')
        ModelAccess = pool.get('ir.model.access')
        User = pool.get('res.user')

        buttons = set()
        for model in IrModel.search([('module', 'in', MODULES)]):
            Model = pool.get(model.name)
            for name in getattr(Model, '_buttons', {}):
                buttons.add((model.name, name))
        self.assertEqual(
            sorted(buttons - BUTTONS.keys()), [],
            msg="buttons of our models missing from BUTTONS: add them")
        self.assertEqual(
            sorted(BUTTONS.keys() - buttons), [],
            msg="buttons of BUTTONS that our models no longer have")

        users = self.create_users()
        for model, name in sorted(buttons):
            groups = Button.get_groups(model, name)
            with self.subTest(button='%s.%s' % (model, name)):
                self.assertTrue(groups, msg=(
                        "button %s of %s is restricted to no group" % (
                            name, model)))
            for column, xml_id in GROUPS:
                with self.subTest(
                        button='%s.%s' % (model, name),
                        group=xml_id or column):
                    # The checks of ModelView.button: read access, then
                    # the groups of the button (write access without)
                    with self.as_user(users[column]):
                        allowed = ModelAccess.check(
                            model, 'read', raise_exception=False)
                        if allowed and groups:
                            allowed = bool(groups & set(User.get_groups()))
                        elif allowed:
                            allowed = ModelAccess.check(
                                model, 'write', raise_exception=False)
                    expected = column in BUTTONS[model, name]
                    self.assertEqual(allowed, expected, msg=(
                            "button %s of %s, group %s: %s" % (
                                name, model, xml_id or "none",
                                "allowed, the policy refuses it" if allowed
                                else "refused, the policy allows it")))

    @with_transaction()
    def test_member_self_rules(self):
        "A self-service user reads its own member's records only"
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Booking = pool.get('booking.booking')
        Exception_ = pool.get('booking.resource.exception')
        Line = pool.get('member.points.line')
        Member = pool.get('member.member')
        Message = pool.get('outbox.message')
        Subscription = pool.get('outbox.subscription')
        Template = pool.get('outbox.template')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')

        company = create_company_shanghai()
        alice = create_member("Alice")
        bob = create_member("Bob")
        members = [alice, bob]
        users = User.create([{
                    'name': m.name,
                    'login': 'self-%s' % m.id,
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'groups': [('add', [
                                ModelData.get_id(
                                    'member', 'group_member_self')])],
                    } for m in members])
        for member, user in zip(members, users):
            member.user = user
        Member.save(members)

        for member, points in zip(members, [5, 7]):
            Member.add_points(member, points, "Welcome")
        event = create_event()
        with at(START):
            for member in members:
                Attendance.check_in(member, {
                        'qr_token': event.current_token(START)},
                    position=here())
        with set_company(company), clock(NOW):
            resource = create_resource()
            service = create_service([resource])
            for member, hour in zip(members, [9, 14]):
                Booking.create_booking(
                    member, service, utc(dt.datetime(2026, 6, 3, hour)))
            Exception_.create([{
                        'resource': resource.id,
                        'reason': "Sick leave",
                        'start_date': dt.date(2026, 6, 10),
                        'end_date': dt.date(2026, 6, 10),
                        'closed': True,
                        }])

        template, = Template.create([{
                    'code': 'self', 'name': "Self", 'subject': "Hello",
                    'wechat_template_id': 'TPL-SELF'}])
        messages = {}
        for member in members:
            messages[member], = Message.create([{
                        'template': template.id, 'party': member.party.id,
                        'channel': 'email', 'recipient': 'a@example.com'}])
            Subscription.record_subscription(
                member.party, {'TPL-SELF': 'accept'})

        def owners(records):
            return {r.member for r in records}

        for member, user, other in [
                (alice, users[0], bob), (bob, users[1], alice)]:
            with self.subTest(member=member.name):
                with self.as_user(user, company=company.id,
                        **member_context(member.id)):
                    self.assertEqual(Member.search([]), [member])
                    lines = Line.search([])
                    self.assertTrue(lines)
                    self.assertEqual(owners(lines), {member})
                    attendances = Attendance.search([])
                    self.assertEqual(len(attendances), 1)
                    self.assertEqual(owners(attendances), {member})
                    bookings = Booking.search([])
                    self.assertEqual(len(bookings), 1)
                    self.assertEqual(owners(bookings), {member})
                    self.assertEqual(Exception_.search([]), [])
                    self.assertEqual(Message.search([]), [messages[member]])
                    self.assertEqual(
                        [s.party for s in Subscription.search([])],
                        [member.party])
                    self.assertIn(
                        'self', [t.code for t in Template.search([])])

                    with self.assertRaises(AccessError):
                        Member.read([other.id], ['name'])
                    other_lines = [l.id for l in Line.search([
                                ('member', '=', other.id)])]
                    self.assertEqual(other_lines, [])
                    with self.assertRaises(AccessError):
                        Member.write([member], {'address': "Elsewhere"})
                    with self.assertRaises(AccessError):
                        Message.read([messages[other].id], ['subject'])

        # Without a member in the context: nothing
        with self.as_user(users[0], company=company.id):
            self.assertEqual(Member.search([]), [])
            self.assertEqual(Line.search([]), [])
            self.assertEqual(Attendance.search([]), [])
            self.assertEqual(Booking.search([]), [])
            self.assertEqual(Message.search([]), [])
            self.assertEqual(Subscription.search([]), [])

    @with_transaction()
    def test_ledger_append_only(self):
        "No group changes, deletes or creates a points line directly"
        pool = Pool()
        Line = pool.get('member.points.line')
        Member = pool.get('member.member')
        member = create_member()
        line = Member.add_points(member, 5, "Welcome")
        users = self.create_users()
        for column, xml_id in GROUPS:
            with self.subTest(group=xml_id or column):
                with self.as_user(users[column]):
                    with self.assertRaises(AccessError):
                        Line.write([line], {'points': 500})
                    with self.assertRaises(AccessError):
                        Line.delete([line])
                    with self.assertRaises(AccessError):
                        Line.create([{
                                    'member': member.id,
                                    'date': dt.datetime(2026, 1, 1),
                                    'points': 500,
                                    'reason': "Gift",
                                    'balance_after': 505,
                                    }])
        self.assertEqual(Member(member.id).points_balance, 5)
