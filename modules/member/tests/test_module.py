# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import tempfile
from unittest.mock import patch

from sql import Literal, Select, Table

from trytond import backend, config
from trytond.exceptions import UserError
from trytond.model import ModelSQL, fields
from trytond.model.exceptions import AccessError, SQLConstraintError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.member import prepared
from trytond.modules.member.exceptions import LockUnlessFound, PasswordError
from trytond.modules.member.member import (
    FILLFACTOR, mask_name, mask_phone, member_context, normalize_phone)
from trytond.modules.member.prepared import formatters
from trytond.modules.party.tests import (
    PartyCheckEraseMixin, PartyCheckReplaceMixin)
from trytond.modules.suite import clock, tools
from trytond.modules.suite.tests.tools import statements as counted_statements
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction


def create_tiers():
    Tier = Pool().get('member.tier')
    return Tier.create([
            {'code': 'basic', 'name': "Basic", 'threshold': 0},
            {'code': 'silver', 'name': "Silver", 'threshold': 100,
                'discount': 5},
            {'code': 'gold', 'name': "Gold", 'threshold': 500,
                'discount': 10},
            ])


def create_company_shanghai():
    "Return a company in Shanghai (Asia/Shanghai) that counts in yuan (CNY)"
    from trytond.modules.currency.tests import create_currency
    company = create_company(currency=create_currency('CNY'))
    company.timezone = 'Asia/Shanghai'
    company.save()
    return company


def create_member(name="Alice", phone=None, email=None):
    "Create a member; with an email, messages can reach them"
    Member = Pool().get('member.member')
    member, = Member.create([{'name': name, 'phone': phone}])
    if email:
        add_email(member, email)
    return member


def erase_party(party):
    "Run Tryton's Erase Party wizard on party"
    Erase = Pool().get('party.erase', type='wizard')
    session_id, _, _ = Erase.create()
    erase = Erase(session_id)
    erase.ask.party = party
    erase.transition_erase()
    Erase.delete(session_id)


def create_user(login, group):
    "Create the user login in the group (its fs id) of the member module"
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    user, = User.create([{
                'name': login.title(), 'login': login,
                'groups': [('add', [ModelData.get_id('member', group)])],
                }])
    return user


def add_email(member, email):
    "Give the party of member the email address"
    pool = Pool()
    ContactMechanism = pool.get('party.contact_mechanism')
    ContactMechanism.create([{
                'party': member.party.id, 'type': 'email', 'value': email}])


class MemberTestCase(
        PartyCheckEraseMixin, PartyCheckReplaceMixin, CompanyTestMixin,
        ModuleTestCase):
    "Test Member module"
    module = 'member'

    def test_normalize_phone(self):
        "Mainland mobile numbers are normalised, others refused"
        for value in [
                '13800138000', '138 0013 8000', '138-0013-8000',
                '(138) 0013.8000', '+86 138 0013 8000', '008613800138000',
                '8613800138000', '\uff11\uff13\uff18\uff10\uff10\uff11'
                '\uff13\uff18\uff10\uff10\uff10']:
            with self.subTest(value=value):
                self.assertEqual(normalize_phone(value), '+8613800138000')
        for value, e164 in [
                ('+44 20 7946 0958', '+442079460958'),
                ('0044 7400 123456', '+447400123456'),
                ('+1 415-555-2671', '+14155552671'),
                ('+33 6 12 34 56 78', '+33612345678'),
                ('+49 151 12345678', '+4915112345678'),
                ('+852 9123 4567', '+85291234567'),
                ('+886 912 345 678', '+886912345678'),
                ]:
            with self.subTest(value=value):
                self.assertEqual(normalize_phone(value), e164)
        for value in [
                '12800138000', '1380013800', '138001380001', 'abc',
                '+86 12800138000', '+0123', '0571-8888888',
                # A mainland landline receives no SMS code
                '+86 571 8888 8888',
                # Not a number of its country, a vanity number, extensions
                '+44 1234', '+1 415 555 267', '+1-800-FLOWERS',
                '+44 20 7946 0958 ext. 12', '13800138000;ext=1',
                # A foreign number without its country code
                '7400 123456', '+', '()']:
            with self.subTest(value=value):
                with self.assertRaises(ValueError):
                    normalize_phone(value)
        self.assertIsNone(normalize_phone(''))
        self.assertIsNone(normalize_phone(' '))
        self.assertIsNone(normalize_phone(None))

    def test_mask_phone(self):
        "Phone masked like 138****0000"
        self.assertEqual(mask_phone('+8613800000000'), '138****0000')
        self.assertEqual(mask_phone('+442079460958'), '+44 ****0958')
        self.assertEqual(mask_phone('+14155552671'), '+1 ****2671')
        # Stored before the numbers were checked
        self.assertEqual(mask_phone('+999123'), '+9****')
        self.assertIsNone(mask_phone(None))

    @with_transaction()
    def test_member_create_party(self):
        "A member created with a name gets a party"
        member = create_member("Bob", '13800138000')
        self.assertEqual(member.party.name, "Bob")
        self.assertEqual(member.name, "Bob")
        self.assertEqual(member.phone, '+8613800138000')
        self.assertEqual(member.points_balance, 0)
        self.assertEqual(member.join_date, Pool().get('ir.date').today())

    def test_mask_name(self):
        "Display names are masked; phones, e-mails and ids are no names"
        for name, masked in [
                ("Wang Xiaoming", "Wang **"), ("王小明", "王**"),
                (" Alice ", "A**"), ("Member 42", "Member **")]:
            with self.subTest(name=name):
                self.assertEqual(mask_name(name), masked)
        for name in [
                None, '', '  ', '+8613945124220', '139 4512 4220',
                'alice@example.com', 'oGZUI0egBJY1zhBYw2KhdUfwVJJE',
                'Wang 13945124220']:
            with self.subTest(name=name):
                self.assertIsNone(mask_name(name))

    @with_transaction()
    def test_member_default_name(self):
        "A member created without a name is not named after the phone"
        Member = Pool().get('member.member')
        member, = Member.create([{'phone': '13945124220'}])
        self.assertEqual(member.name, "Member")
        self.assertNotIn('4220', member.rec_name)
        self.assertEqual(member.display_name, "M**")
        named = create_member("Wang Xiaoming", '13945124221')
        self.assertEqual(named.display_name, "Wang **")
        # A name that is a phone number is never displayed
        Member.write([named], {'name': '+8613945124221'})
        self.assertEqual(Member(named.id).display_name, "M**")

    @with_transaction()
    def test_member_erase(self):
        "Erase Party erases the member's phone, WeChat ids, address, avatar"
        pool = Pool()
        Member = pool.get('member.member')
        Party = pool.get('party.party')
        Line = pool.get('member.points.line')
        member, = Member.create([{
                    'name': "Wang Xiaoming",
                    'phone': '13945124220',
                    'wechat_openid': 'openid-wang',
                    'wechat_unionid': 'unionid-wang',
                    'avatar_url': 'https://example.com/wang.png',
                    'address': "1 Nanjing Road, Shanghai",
                    }])
        Member.set_password([member], 'Lantern-42')
        Member.add_points(member, 30, "Welcome")
        other = create_member("Li Lei", '13945124221')
        Party.write([member.party], {'active': False})

        erase_party(member.party)

        member = Member(member.id)
        self.assertFalse(member.active)
        self.assertFalse(member.party.name)
        for field in ['phone', 'wechat_openid', 'wechat_unionid',
                'avatar_url', 'address']:
            with self.subTest(field=field):
                self.assertIsNone(getattr(member, field))
        self.assertFalse(member.check_password('Lantern-42'))
        # The ledger stays, anonymous
        self.assertEqual(
            sum(l.points for l in Line.search([('member', '=', member.id)])),
            30)
        self.assertEqual(member.points_balance, 30)
        self.assertEqual(member.display_name, "M**")
        # The other member is untouched
        other = Member(other.id)
        self.assertEqual(
            (other.name, other.phone), ("Li Lei", '+8613945124221'))

    @with_transaction()
    def test_member_erase_personal_data(self):
        "erase_personal_data deactivates and erases members"
        Member = Pool().get('member.member')
        member = create_member("Wang Xiaoming", '13945124220')
        Member.erase_personal_data([member])
        member = Member(member.id)
        self.assertFalse(member.active)
        self.assertFalse(member.party.active)
        self.assertIsNone(member.phone)
        self.assertFalse(member.name)

    @with_transaction()
    def test_member_replace(self):
        "Replace Party moves the member to the destination party"
        pool = Pool()
        Member = pool.get('member.member')
        Party = pool.get('party.party')
        Replace = pool.get('party.replace', type='wizard')
        member = create_member("Wang Xiaoming", '13945124220')
        source = member.party
        destination, = Party.create([{'name': "Wang Xiaoming"}])

        session_id, _, _ = Replace.create()
        replace = Replace(session_id)
        replace.ask.source = source
        replace.ask.destination = destination
        replace.transition_replace()

        # Replaced with SQL: read again
        Transaction().cache.clear()
        self.assertEqual(Member(member.id).party, destination)

        # A party is the member once: two members are not merged this way
        other = create_member("Wang Xiaoming", '13945124221')
        replace = Replace(session_id)
        replace.ask.source = other.party
        replace.ask.destination = destination
        with self.assertRaisesRegex(UserError, 'both members'):
            replace.transition_replace()

    @with_transaction()
    def test_member_password(self):
        "Passwords are hashed with Tryton's scheme and checked"
        Member = Pool().get('member.member')
        member = create_member("Lotus Flower", '13800138000')
        for password, message in [
                ('short', 'at least 8 characters'),
                (None, 'at least 8 characters'),
                ('\u5bc6\u7801\u5bc6\u7801\u5bc6\u7801', 'at least 8'),
                ('12345678', 'too common'), ('password', 'too common'),
                ('PassWord1', 'too common'), ('aaaaaaaaaa', 'too common'),
                ('abababababab', 'too common'),
                # res.user's rules: not the name nor the login (phone)
                ('lotus flower', "user's name"),
                ('+8613800138000', "user's login"),
                ]:
            with self.subTest(password=password):
                with self.assertRaisesRegex(PasswordError, message):
                    Member.set_password([member], password)
        self.assertTrue(Member.validate_password(
                '\u5bc6\u7801\u5bc6\u7801\u5bc6\u7801\u5b89\u5168')
            is None)
        Member.set_password([member], 'Lantern-42')
        member = Member(member.id)
        self.assertIsNone(member.password_hash)
        table = Member.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.password_hash, where=table.id == member.id))
        password_hash, = cursor.fetchone()
        self.assertNotIn('Lantern-42', password_hash)
        self.assertTrue(password_hash.startswith('$argon2'))
        self.assertTrue(member.check_password('Lantern-42'))
        self.assertFalse(member.check_password('Lantern-43'))
        self.assertFalse(member.check_password(''))

    @with_transaction()
    def test_member_password_forbidden_file(self):
        "[password] forbidden replaces the suite's list of common passwords"
        Member = Pool().get('member.member')
        member = create_member()
        with tempfile.NamedTemporaryFile('w', suffix='.txt') as fp:
            fp.write('Lantern-42\n')
            fp.flush()
            previous = config.get('password', 'forbidden') or ''
            config.set('password', 'forbidden', fp.name)
            try:
                with self.assertRaisesRegex(PasswordError, 'forbidden'):
                    Member.set_password([member], 'Lantern-42')
                Member.set_password([member], 'password1')
            finally:
                # An empty path is no file, for Tryton as for the member
                config.set('password', 'forbidden', previous)
        self.assertTrue(member.check_password('password1'))

    @with_transaction()
    def test_member_fillfactor(self):
        """On PostgreSQL the member table keeps room in its pages for the
        new version of a row that a posting rewrites (a HOT update)"""
        Member = Pool().get('member.member')
        if backend.name != 'postgresql':
            self.skipTest("a storage parameter of PostgreSQL")
        cursor = Transaction().connection.cursor()

        def options():
            cursor.execute('SELECT reloptions FROM pg_class '
                'WHERE oid = CAST(%s AS regclass)', (Member._table,))
            return cursor.fetchone()[0] or []

        self.assertIn('fillfactor=%d' % FILLFACTOR, options())
        # Set again by an update of the module
        cursor.execute('ALTER TABLE "%s" RESET (fillfactor)' % Member._table)
        self.assertNotIn('fillfactor=%d' % FILLFACTOR, options())
        Member._set_fillfactor()
        self.assertEqual(options(), ['fillfactor=%d' % FILLFACTOR])

    @with_transaction()
    def test_member_invalid_phone(self):
        "An invalid phone is refused with a clear message"
        with self.assertRaisesRegex(UserError, 'not valid'):
            create_member("Bob", '12345')

    @with_transaction()
    def test_member_phone_unique(self):
        "The same phone, written differently, cannot be used twice"
        create_member("A", '13800138000')
        with self.assertRaises(SQLConstraintError):
            create_member("B", '+86 138-0013-8000')

    @with_transaction()
    def test_member_openid_unique_when_set(self):
        "Empty WeChat ids are not unique, set ones are"
        Member = Pool().get('member.member')
        Member.create([{'name': "A", 'wechat_openid': ''},
                {'name': "B", 'wechat_openid': None}])
        Member.create([{'name': "C", 'wechat_openid': 'o1'}])
        with self.assertRaises(SQLConstraintError):
            Member.create([{'name': "D", 'wechat_openid': 'o1'}])

    @with_transaction()
    def test_key_look_ups(self):
        """A Key field (wechat_openid) finds what a Char finds: the bare
        column for values, NULL and '' alike for the empty ones"""
        Member = Pool().get('member.member')
        many = ['o%d' % i for i in range(150)]
        empty, none, set_ = Member.create([
                {'name': "A", 'wechat_openid': ''},
                {'name': "B", 'wechat_openid': None},
                {'name': "C", 'wechat_openid': 'o1'}])
        for clause, expected in [
                (('wechat_openid', '=', 'o1'), [set_]),
                (('wechat_openid', '=', ' o1 '), [set_]),
                (('wechat_openid', '=', 'o2'), []),
                (('wechat_openid', '=', ''), [empty, none]),
                (('wechat_openid', '=', ' '), [empty, none]),
                (('wechat_openid', '=', None), [empty, none]),
                (('wechat_openid', 'in', ['o1', 'o2']), [set_]),
                (('wechat_openid', 'in', many), [set_]),
                (('wechat_openid', 'in', []), []),
                (('wechat_openid', 'in', ['o1', None]), [empty, none, set_]),
                (('wechat_openid', 'in', ['o1', '']), [empty, none, set_]),
                (('wechat_openid', '!=', 'o1'), [empty, none]),
                (('wechat_openid', 'not in', ['o1']), [empty, none]),
                ]:
            with self.subTest(clause=clause):
                self.assertEqual(
                    Member.search([clause], order=[('id', 'ASC')]), expected)
        for values in [['o1'], many]:
            where = str(Member.search(
                    [('wechat_openid', 'in', values)], query=True).where)
            self.assertNotIn('COALESCE', where)
        self.assertIn('COALESCE', str(Member.search(
                    [('wechat_openid', '=', None)], query=True).where))

    @with_transaction()
    def test_points_earn_spend(self):
        "Points earned and spent, balance is the sum of lines"
        Member = Pool().get('member.member')
        member = create_member()
        line = Member.add_points(member, 50, "Welcome")
        self.assertEqual(line.balance_after, 50)
        line = Member.add_points(member, -20, "Coupon")
        self.assertEqual(line.balance_after, 30)
        member = Member(member.id)
        self.assertEqual(member.points_balance, 30)
        self.assertEqual(member.lifetime_points, 50)
        self.assertEqual(Member.check_balances([member]), [])
        self.assertEqual(
            Member.search([('points_balance', '=', 30)]), [member])
        self.assertEqual(
            Member.search([('points_balance', '>', 30)]), [])

    @with_transaction()
    def test_points_negative_refused(self):
        "A spend below zero is refused and posts nothing"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        member = create_member()
        Member.add_points(member, 10, "Welcome")
        with self.assertRaisesRegex(UserError, 'cannot spend 11'):
            Member.add_points(member, -11, "Too much")
        self.assertEqual(Line.search_count([('member', '=', member.id)]), 1)

    @with_transaction()
    def test_points_negative_allowed(self):
        "The configuration may allow a negative balance"
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        Configuration(1, allow_negative=True).save()
        member = create_member()
        line = Member.add_points(member, -5, "Advance")
        self.assertEqual(line.balance_after, -5)

    @with_transaction()
    def test_points_invalid(self):
        "Zero or non-integer points and empty reasons are refused"
        Member = Pool().get('member.member')
        member = create_member()
        for points in [0, 1.5, '3', None, True]:
            with self.subTest(points=points):
                with self.assertRaises(UserError):
                    Member.add_points(member, points, "x")
        with self.assertRaises(UserError):
            Member.add_points(member, 5, "  ")

    @with_transaction()
    def test_points_idempotency_key(self):
        "A key is posted once, also twice in the same batch"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        member = create_member()
        other = create_member("Other")
        line1 = Member.add_points(member, 10, "Check-in", key='k1')
        line2 = Member.add_points(member, 10, "Check-in", key='k1')
        self.assertEqual(line1, line2)
        lines = Member.post_points([
                {'member': member, 'points': 5, 'reason': "x", 'key': 'k2'},
                {'member': member, 'points': 5, 'reason': "x", 'key': 'k2'},
                ])
        self.assertEqual(lines[0], lines[1])
        self.assertEqual(Member(member.id).points_balance, 15)
        self.assertEqual(Line.search_count([]), 2)
        with self.assertRaisesRegex(UserError, 'another member'):
            Member.add_points(other, 10, "Check-in", key='k1')

    @with_transaction()
    def test_posting(self):
        "A posting writes the line and the member row, a key once, the tier"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        basic, silver, gold = create_tiers()
        member = create_member()
        other = create_member("Other")
        Member.add_points(member, 10, "Welcome")
        line = Member.add_points(
            member, 95, " Check-in ", origin='res.user,1', key='c1')
        self.assertEqual(line.balance_after, 105)
        line = Line(line.id)
        self.assertEqual(
            (line.balance_after, line.points, line.reason,
                line.idempotency_key, line.member, str(line.origin)),
            (105, 95, "Check-in", 'c1', member, 'res.user,1'))
        member = Member(member.id)
        self.assertEqual(
            (member.points_balance, member.lifetime_points, member.tier),
            (105, 105, silver))
        # The same key again: the existing line, nothing posted
        self.assertEqual(
            Member.add_points(member, 95, "Check-in", key='c1'), line)
        member = Member(member.id)
        self.assertEqual(
            (member.points_balance, member.lifetime_points), (105, 105))
        self.assertEqual(Line.search_count([('member', '=', member.id)]), 2)
        self.assertEqual(Member.check_balances([member]), [])
        # The key of another member: refused, the other's balance untouched
        with self.assertRaisesRegex(UserError, 'another member'):
            Member.add_points(other, 5, "x", key='c1')
        other = Member(other.id)
        self.assertEqual(
            (other.points_balance or 0, other.lifetime_points or 0), (0, 0))
        # Spending below zero: refused, nothing posted
        with self.assertRaises(UserError):
            Member.add_points(member, -1000, "Spend")
        self.assertEqual(Member(member.id).points_balance, 105)
        self.assertEqual(Member.check_balances([member, other]), [])

    @with_transaction()
    def test_points_line_immutable(self):
        "Ledger lines cannot be written, deleted or created directly"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        member = create_member()
        line = Member.add_points(member, 10, "Welcome")
        with self.assertRaises(AccessError):
            Line.write([line], {'points': 100})
        with self.assertRaises(AccessError):
            Line.delete([line])
        with self.assertRaises(AccessError):
            Line.create([{
                        'member': member.id, 'points': 5, 'reason': "x",
                        'date': dt.datetime.now(), 'balance_after': 15}])
        # Nor the stored balance of the member
        with self.assertRaises(AccessError):
            Member.write([member], {'points_balance': 1000})
        with self.assertRaises(AccessError):
            Member.create([{'name': "Rich", 'lifetime_points': 5000}])
        self.assertEqual(Member(member.id).points_balance, 10)

    @with_transaction()
    def test_tier_upgrade(self):
        "Tier follows lifetime points upwards at once"
        Member = Pool().get('member.member')
        basic, silver, gold = create_tiers()
        member = create_member()
        Member.add_points(member, 10, "a")
        self.assertEqual(Member(member.id).tier, basic)
        Member.add_points(member, 95, "b")
        self.assertEqual(Member(member.id).tier, silver)
        # Spending does not lower lifetime points nor the tier
        Member.add_points(member, -100, "spend")
        self.assertEqual(Member(member.id).tier, silver)
        self.assertEqual(Member(member.id).lifetime_points, 105)

    @with_transaction()
    def test_tier_thresholds_cached(self):
        "The thresholds answered as kept by the cache, first time included"
        Tier = Pool().get('member.tier')
        basic, silver, gold = create_tiers()
        first, kept = Tier.thresholds(), Tier.thresholds()
        self.assertEqual(type(first), type(kept))
        self.assertEqual(dict(first), dict(kept))
        self.assertEqual(first[silver.id], silver.threshold)

    @with_transaction()
    def test_tier_base_at_creation(self):
        "A new member is in the base tier (threshold 0) from its creation"
        Member = Pool().get('member.member')
        self.assertIsNone(create_member("Before tiers").tier)
        basic, silver, gold = create_tiers()
        self.assertEqual(create_member().tier, basic)
        # Also when created with the tier explicitly empty or as a copy
        member, = Member.create([{'name': "Bob", 'tier': None}])
        self.assertEqual(member.tier, basic)
        copy, = Member.copy([member])
        self.assertEqual(copy.tier, basic)

    @with_transaction()
    def test_tier_member_count(self):
        "Each tier counts its active members"
        pool = Pool()
        Member = pool.get('member.member')
        Tier = pool.get('member.tier')
        basic, silver, gold = create_tiers()
        for name, points in [("A", 10), ("B", 150), ("C", 120), ("D", 0)]:
            member = create_member(name)
            if points:
                Member.add_points(member, points, "x")
        counts = {t.code: t.member_count for t in Tier.browse(
                    [basic, silver, gold])}
        # D, without points, is in the base tier too
        self.assertEqual(counts, {'basic': 2, 'silver': 2, 'gold': 0})

    @with_transaction()
    def test_tier_downgrade_policy(self):
        "A reversal lowers lifetime points; downgrades follow the policy"
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        basic, silver, gold = create_tiers()
        member = create_member()
        Member.add_points(member, 150, "a")
        Member.add_points(member, -100, "mistake", reversal=True)
        member = Member(member.id)
        self.assertEqual(member.lifetime_points, 50)
        self.assertEqual(member.tier, silver)

        # never
        Member.recompute_tiers(date=dt.date(2026, 1, 1))
        self.assertEqual(Member(member.id).tier, silver)

        Configuration(1, downgrade_policy='period_end',
            downgrade_period='quarter').save()
        Member.recompute_tiers(date=dt.date(2026, 2, 1))
        self.assertEqual(Member(member.id).tier, silver)
        Member.recompute_tiers(date=dt.date(2026, 4, 1))
        self.assertEqual(Member(member.id).tier, basic)

    @with_transaction()
    def test_fetch_alone(self):
        """fetch_alone: on PostgreSQL, with no transaction begun, the
        statement is sent by libpq and commits by itself (nothing begun
        after it), its failure raises psycopg's error and leaves the
        connection usable, and a prepared statement the session forgot is
        prepared again, as one whose plan no longer gives the types of its
        result; in a transaction begun, and on SQLite, it runs in the
        transaction"""

        def build(value):
            return Select([Literal(12) / value])

        def divide(value):
            return prepared.fetch_alone(('test', 'divide'), build,
                value=value)
        if backend.name == 'postgresql':
            import psycopg
            from psycopg.pq import TransactionStatus
            with Transaction().new_transaction() as transaction:
                connection = transaction.connection
                status = connection.pgconn.transaction_status
                self.assertEqual(status, TransactionStatus.IDLE)
                self.assertTrue(prepared.can_be_alone(connection))
                with counted_statements() as executed:
                    self.assertEqual(divide(3), (4,))
                self.assertEqual(len(executed), 1)
                self.assertEqual(connection.pgconn.transaction_status,
                    TransactionStatus.IDLE)
                # The session forgets its prepared statements
                connection.pgconn.exec_(b'DEALLOCATE ALL')
                self.assertEqual(divide(4), (3,))
                with self.assertRaises(psycopg.errors.DivisionByZero):
                    divide(0)
                self.assertEqual(connection.pgconn.transaction_status,
                    TransactionStatus.IDLE)
                self.assertEqual(divide(6), (2,))
                # A table changed under a prepared statement's plan
                pgconn = connection.pgconn
                pgconn.exec_(b'CREATE TEMPORARY TABLE "fetch_alone" (a int)')
                pgconn.exec_(b'INSERT INTO "fetch_alone" VALUES (1)')

                def read():
                    return prepared.fetch_alone(('test', 'fetch_alone'),
                        lambda: Table('fetch_alone').select())
                self.assertEqual(read(), (1,))
                pgconn.exec_(b'ALTER TABLE "fetch_alone" ADD COLUMN b int')
                self.assertEqual(read(), (1, None))
                # At most ALONE_MAX kept prepared, on the session too

                def kept():
                    return int(pgconn.exec_(b"SELECT COUNT(*) "
                            b"FROM pg_prepared_statements "
                            b"WHERE name LIKE 'suite_alone_%'"
                            ).get_value(0, 0))
                with patch.object(prepared, 'ALONE_MAX', 3):
                    # Five texts: SELECT $1, SELECT $1, $1...
                    for n in range(1, 6):
                        self.assertEqual(prepared.fetch_alone(
                                ('test', 'kept', n),
                                lambda n, k=n: Select([Literal(n)] * k), n=n),
                            (n,) * n)
                        self.assertEqual(kept(), len(
                                prepared._alone_names[connection]))
                        self.assertLessEqual(kept(), 3)
                self.assertEqual(divide(2), (6,))
        # In a transaction begun: in it
        cursor = Transaction().connection.cursor()
        cursor.execute(*Select([Literal(1)]))
        self.assertEqual(divide(2), (6,))
        if backend.name == 'postgresql':
            self.assertFalse(prepared.can_be_alone(
                    Transaction().connection))

    @with_transaction()
    def test_formatters(self):
        """The formatters of the prepared statements give what sql_format
        gives, for every stored field of the pool's models and values of
        every kind, those they take as they are included"""
        pool = Pool()
        samples = [None, 0, 7, True, False, 1.5, 2, "", "a b", " a", "a\n",
            b"", b"x",
            dt.date(2026, 3, 1), dt.datetime(2026, 3, 1, 8, 30),
            dt.datetime(2026, 3, 1, 8, 30, 5, 120), (), ('late',),
            ['late', 'far'], {}, {'a': 1}]
        checked = set()

        def binary(value):
            # psycopg's Binary compares by identity
            return ('Binary', value.obj) if hasattr(value, 'obj') else value
        for _, Model in pool.iterobject():
            if not issubclass(Model, ModelSQL) or Model._is_table_query():
                continue
            names = tuple(n for n, f in Model._fields.items()
                if not isinstance(f, fields.Function) and f.sql_type())
            for name, format_ in zip(names, formatters(Model, names)):
                field = Model._fields[name]
                for value in samples:
                    try:
                        expected = field.sql_format(value)
                    except Exception:
                        continue
                    self.assertEqual(binary(format_(value)),
                        binary(expected), (Model.__name__, name, value))
                    checked.add(type(field))
        self.assertTrue({fields.Char, fields.DateTime, fields.Date,
                fields.MultiSelection, fields.Selection, fields.Float,
                fields.Integer, fields.Boolean} <= checked, checked)

    @with_transaction()
    def test_keeps_tier_sql(self):
        """_keeps_tier, the SQL of a statement committed alone, agrees with
        update_tiers's rule (_changes_tier) for every tier a member row may
        have and lifetime points that only grow"""
        pool = Pool()
        Member = pool.get('member.member')
        Tier = pool.get('member.tier')
        basic, silver, gold = create_tiers()
        # Two active tiers of the same threshold (the higher id wins) and
        # one no longer active
        twin, old = Tier.create([
                {'code': 'twin', 'name': "Twin", 'threshold': 100},
                {'code': 'old', 'name': "Old", 'threshold': 50},
                ])
        Tier.write([old], {'active': False})
        thresholds = Tier.thresholds()
        table = Member.__table__()
        cursor = Transaction().connection.cursor()
        member = create_member()
        tiers = [None, basic.id, silver.id, twin.id, gold.id, old.id]
        for current in tiers:
            for lifetime in [0, 49, 50, 99, 100, 101, 499, 500, 900]:
                for added in [0, 1, 10, 400]:
                    with self.subTest(
                            tier=current, lifetime=lifetime, added=added):
                        cursor.execute(*table.update(
                                [table.tier, table.lifetime_points],
                                [current, lifetime],
                                where=table.id == member.id))
                        cursor.execute(*table.select(
                                Member._keeps_tier(table,
                                    table.lifetime_points + Literal(added)),
                                where=table.id == member.id))
                        keeps, = cursor.fetchone()
                        reached = Tier.reached(thresholds, lifetime + added)
                        self.assertEqual(bool(keeps), not Member._changes_tier(
                                thresholds, reached, current))

    @with_transaction()
    def test_cached_configuration_follows_changes(self):
        """get_cached gives the same instance for the rest of the
        transaction, until the transaction changes the configuration or its
        streak rules"""
        pool = Pool()
        Configuration = pool.get('member.configuration')
        StreakRule = pool.get('member.streak.rule')
        cached = Configuration.get_cached()
        self.assertIs(Configuration.get_cached(), cached)
        config = Configuration(1)
        config.streak_base_points = 3
        config.save()
        self.assertEqual(Configuration.get_cached().streak_base_points, 3)
        # As the configuration's form saves them
        config = Configuration(1)
        config.streak_rules = [StreakRule(day=5, bonus=7)]
        config.save()
        rules = Configuration.get_cached().streak_rules
        self.assertEqual([(r.day, r.bonus) for r in rules], [(5, 7)])

    @with_transaction()
    def test_activity_posts_nothing_sql(self):
        """_activity_posts_nothing, the SQL of a statement committed alone,
        agrees with the streak points of _daily_activity for every streak
        a member row may reach"""
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        StreakRule = pool.get('member.streak.rule')
        config = Configuration(1)
        config.streak_rules = [
            StreakRule(day=3, bonus=10),
            StreakRule(day=4, bonus=1, repeat=True),
            ]
        config.save()
        config = Configuration(1)
        table = Member.__table__()
        cursor = Transaction().connection.cursor()
        member = create_member()
        day = dt.date(2026, 3, 10)
        yesterday = day - dt.timedelta(days=1)
        for last in [None, day - dt.timedelta(days=2), yesterday, day]:
            for length in range(0, 13):
                for base in [0, 2]:
                    with self.subTest(last=last, length=length, base=base):
                        cursor.execute(*table.update(
                                [table.last_activity_date,
                                    table.streak_length],
                                [last, length],
                                where=table.id == member.id))
                        cursor.execute(*table.select(
                                Member._activity_posts_nothing(
                                    table, day, yesterday, base),
                                where=table.id == member.id))
                        nothing, = cursor.fetchone()
                        counts = Member.streak_counts(last, day)
                        streak = length + 1 if last == yesterday else 1
                        points = config.streak_points(
                            streak, base_points=base) if counts else 0
                        self.assertEqual(bool(nothing), not points)

    @with_transaction()
    def test_streak(self):
        "Consecutive days extend the streak, a missed day resets it"
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        StreakRule = pool.get('member.streak.rule')
        config = Configuration(1)
        config.streak_base_points = 2
        config.streak_rules = [
            StreakRule(day=3, bonus=10),
            StreakRule(day=2, bonus=1, repeat=True),
            ]
        config.save()
        member = create_member()
        day = dt.date(2026, 3, 1)
        results = []
        for offset in [0, 1, 2, 2, 3, 5]:
            result = Member.record_daily_activity(
                member, day + dt.timedelta(days=offset))
            results.append((result['counted'], result['streak'],
                    result['points']))
        self.assertEqual(results, [
                (True, 1, 2),
                (True, 2, 3),
                (True, 3, 12),
                (False, 3, 0),
                (True, 4, 3),
                (True, 1, 2),
                ])
        member = Member(member.id)
        self.assertEqual(member.best_streak, 4)
        self.assertEqual(member.streak_length, 1)
        self.assertEqual(member.points_balance, 2 + 3 + 12 + 3 + 2)
        # An earlier day changes nothing
        result = Member.record_daily_activity(member, day)
        self.assertFalse(result['counted'])
        # Other base points: only the bonuses of the rules are added
        result = Member.record_daily_activity(
            member, day + dt.timedelta(days=6), base_points=0)
        self.assertEqual((result['streak'], result['points']), (2, 1))

    @with_transaction()
    def test_streak_timezone(self):
        "The local day of a UTC time follows the configured time zone"
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        Configuration(1, timezone='Asia/Shanghai').save()
        member = create_member()
        # 2026-03-01 23:30 in Shanghai is 15:30 UTC
        result = Member.record_daily_activity(
            member, dt.datetime(2026, 3, 1, 15, 30))
        self.assertEqual(Member(member.id).last_activity_date,
            dt.date(2026, 3, 1))
        # 16:30 UTC is already the next local day
        result = Member.record_daily_activity(
            member, dt.datetime(2026, 3, 1, 16, 30))
        self.assertEqual(result['streak'], 2)

    @with_transaction()
    def test_streak_days_current(self):
        "The current streak is 0 once a day was missed"
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        member = create_member()
        today = Configuration(1).local_date()
        Member.record_daily_activity(member, today - dt.timedelta(days=1))
        self.assertEqual(Member(member.id).streak_days, 1)
        member2 = create_member("Two")
        Member.record_daily_activity(member2, today - dt.timedelta(days=2))
        self.assertEqual(Member(member2.id).streak_days, 0)

    @with_transaction()
    def test_streak_follows_clock(self):
        "Freezing the clock of the suite moves the day of the streak"
        pool = Pool()
        Member = pool.get('member.member')
        Configuration = pool.get('member.configuration')
        Date = pool.get('ir.date')
        Configuration(1, timezone='Asia/Shanghai').save()
        member = create_member()
        # 2026-03-02 01:00 in Shanghai
        with clock.at(dt.datetime(2026, 3, 1, 17, 0)):
            result = Member.record_daily_activity(member)
            self.assertEqual(result['streak'], 1)
        self.assertEqual(
            Member(member.id).last_activity_date, dt.date(2026, 3, 2))
        # 2026-03-03 23:30 in Shanghai: yesterday was active
        with clock.at(dt.datetime(2026, 3, 3, 15, 30)):
            self.assertEqual(Member(member.id).streak_days, 1)
            self.assertEqual(
                Member.balance_and_streak(member.id)[1], 1)
        # 2026-03-04 00:30 in Shanghai: a whole day was missed
        clock.freeze(dt.datetime(2026, 3, 3, 16, 30))
        try:
            self.assertEqual(Member(member.id).streak_days, 0)
            self.assertEqual(Member.balance_and_streak(member.id)[1], 0)
            self.assertEqual(
                Configuration(1).local_date(), dt.date(2026, 3, 4))
            # the local day of the suite without company
            self.assertEqual(Date.today(), dt.date(2026, 3, 4))
        finally:
            clock.unfreeze()

    @with_transaction()
    def test_date_today_local(self):
        "Today is the local day of the suite at 02:00 in Shanghai"
        pool = Pool()
        Configuration = pool.get('member.configuration')
        Date = pool.get('ir.date')
        Configuration(1, timezone='Asia/Shanghai').save()
        # 2026-03-02 02:00 in Shanghai
        with clock.at(dt.datetime(2026, 3, 1, 18, 0)):
            self.assertEqual(Date.today(), dt.date(2026, 3, 2))
            company = create_company()
            company.timezone = 'America/New_York'
            company.save()
            with set_company(company):
                self.assertEqual(Date.today(), dt.date(2026, 3, 1))
            self.assertEqual(
                Date.today(dt.timezone.utc), dt.date(2026, 3, 1))

    @with_transaction()
    def test_clock(self):
        "The clock follows the context, then freeze, then the system"
        when = dt.datetime(2026, 1, 1, 12, 0)
        with clock.at(when):
            self.assertEqual(clock.now(), when)
            self.assertTrue(clock.frozen())
        clock.freeze(dt.datetime(2026, 1, 1, 20, 0, 30, 5,
                tzinfo=dt.timezone(dt.timedelta(hours=8))))
        try:
            self.assertEqual(clock.now(), dt.datetime(2026, 1, 1, 12, 0, 30))
            self.assertEqual(
                clock.today(dt.timezone(dt.timedelta(hours=-13))),
                dt.date(2025, 12, 31))
        finally:
            clock.unfreeze()
        self.assertFalse(clock.frozen())
        system = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.assertLess(abs(clock.now() - system), dt.timedelta(seconds=5))

    @with_transaction()
    def test_configuration_timezone_default(self):
        "The time zone defaults to the company's"
        Configuration = Pool().get('member.configuration')
        company = create_company_shanghai()
        with set_company(company):
            self.assertEqual(Configuration.default_timezone(),
                'Asia/Shanghai')
        self.assertEqual(Configuration.default_timezone(), 'UTC')

    @with_transaction()
    def test_adjust_wizard(self):
        "The adjustment wizard posts a line with the reason"
        pool = Pool()
        Adjust = pool.get('member.points.adjust', type='wizard')
        Member = pool.get('member.member')
        member = create_member()
        session_id, _, _ = Adjust.create()
        with Transaction().set_context(
                active_model='member.member', active_id=member.id,
                active_ids=[member.id]):
            adjust = Adjust(session_id)
            adjust.start.points = 25
            adjust.start.reason = "Goodwill"
            adjust.start.reversal = False
            adjust.transition_adjust()
        member = Member(member.id)
        self.assertEqual(member.points_balance, 25)
        line, = member.points_lines
        self.assertEqual(line.reason, "Goodwill")
        self.assertEqual(line.origin.__name__, 'res.user')

    @with_transaction()
    def test_post_points_rpc_points_manager_only(self):
        "Through RPC, only points managers post points"
        Member = Pool().get('member.member')
        member = create_member()
        clerk = create_user('clerk', 'group_member_user')
        manager = create_user('manager', 'group_points_manager')
        entry = {'member': member.id, 'points': 5, 'reason': "x"}
        with Transaction().set_user(clerk.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Member.post_points([entry])
        with Transaction().set_user(manager.id), \
                Transaction().set_context(_check_access=True):
            Member.post_points([entry])
        self.assertEqual(Member(member.id).points_balance, 5)

    @with_transaction()
    def test_self_service_rule(self):
        "A self-service user sees only the member of its context"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        user = create_user('api', 'group_member_self')
        alice = create_member("Alice")
        bob = create_member("Bob")
        Member.add_points(alice, 5, "a")
        Member.add_points(bob, 7, "b")
        with Transaction().set_user(user.id), \
                Transaction().set_context(
                    _check_access=True, **member_context(alice.id)):
            self.assertEqual(Member.search([]), [alice])
            self.assertEqual(
                [l.member.id for l in Line.search([])], [alice.id])
        with Transaction().set_user(user.id), \
                Transaction().set_context(
                    _check_access=True, **member_context(bob.id)):
            self.assertEqual(Member.search([]), [bob])

    # Expiring points

    def _remaining(self, member):
        "Return {line id: remaining} of the lots of member"
        Line = Pool().get('member.points.line')
        return {l.id: l.remaining for l in Line.search([
                    ('member', '=', member.id), ('points', '>', 0)])}

    @with_transaction()
    def test_points_never_expire_by_default(self):
        "Without a validity the points earned never expire"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        member = create_member()
        line = Line(Member.add_points(member, 30, "Welcome").id)
        self.assertEqual((line.expires, line.remaining), (None, 30))
        self.assertEqual(Line.expire(dt.date(2100, 1, 1)), [])

    @with_transaction()
    def test_points_expiry_date(self):
        "The points expire the local day that many months later"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Configuration = pool.get('member.configuration')
        Configuration(1, points_validity=12,
            timezone='Asia/Shanghai').save()
        member = create_member()
        with clock.at(dt.datetime(2025, 1, 31, 17, 0)):
            line = Line(Member.add_points(member, 30, "Welcome").id)
        # 01:00 on 1 February in Shanghai
        self.assertEqual(line.expires, dt.date(2026, 2, 1))
        Configuration(1, points_validity=1).save()
        with clock.at(dt.datetime(2025, 1, 31, 3, 0)):
            line = Line(Member.add_points(member, 30, "Welcome").id)
        self.assertEqual(line.expires, dt.date(2025, 2, 28))

    @with_transaction()
    def test_points_spend_first_expiring(self):
        "Spending takes the points that expire first, never-expiring last"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Configuration = pool.get('member.configuration')
        member = create_member()
        forever = Member.add_points(member, 10, "Forever")
        Configuration(1, points_validity=6).save()
        with clock.at(dt.datetime(2025, 3, 1, 12)):
            late = Member.add_points(member, 10, "Late")
        with clock.at(dt.datetime(2025, 1, 1, 12)):
            early = Member.add_points(member, 10, "Early")
        spend = Member.add_points(member, -15, "Spend")
        lots = self._remaining(member)
        self.assertEqual(lots[early.id], 0)
        self.assertEqual(lots[late.id], 5)
        self.assertEqual(lots[forever.id], 10)
        spend = Line(spend.id)
        self.assertEqual(
            sorted((a.lot.id, a.points) for a in spend.allocations),
            sorted([(early.id, -10), (late.id, -5)]))
        self.assertEqual(Member.check_balances([member]), [])

    @with_transaction()
    def test_points_expire(self):
        "The cron expires what remains of the lots past their date, once"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Configuration = pool.get('member.configuration')
        basic, silver, gold = create_tiers()
        Configuration(1, points_validity=1).save()
        member = create_member()
        with clock.at(dt.datetime(2025, 1, 10, 12)):
            lot = Member.add_points(member, 120, "Welcome")
        with clock.at(dt.datetime(2025, 2, 1, 12)):
            Member.add_points(member, -20, "Spend")
            kept = Member.add_points(member, 5, "Later")
        self.assertEqual(Line.expire(dt.date(2025, 2, 9)), [])
        expiry, = Line.expire(dt.date(2025, 2, 10))
        expiry = Line(expiry.id)
        self.assertEqual(
            (expiry.points, expiry.origin, expiry.balance_after,
                expiry.idempotency_key, expiry.reason),
            (-100, Line(lot.id), 5, 'expiry:%d:1' % lot.id,
                "Points expired on 2025-02-10"))
        self.assertEqual(self._remaining(member)[lot.id], 0)
        self.assertEqual(self._remaining(member)[kept.id], 5)
        # Again: nothing more
        self.assertEqual(Line.expire(dt.date(2025, 2, 11)), [])
        member = Member(member.id)
        # The tier counts the points earned, not the balance
        self.assertEqual(
            (member.points_balance, member.lifetime_points, member.tier),
            (5, 125, silver))
        self.assertEqual(Member.check_balances([member]), [])

    @with_transaction()
    def test_points_give_back(self):
        "A give-back returns the points to the lots the spending took"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Configuration = pool.get('member.configuration')
        Configuration(1, points_validity=1).save()
        member = create_member()
        with clock.at(dt.datetime(2025, 1, 10, 12)):
            lot1 = Member.add_points(member, 30, "One")
        with clock.at(dt.datetime(2025, 1, 20, 12)):
            lot2 = Member.add_points(member, 30, "Two")
        Member.add_points(member, -40, "Booking", key='booking:1:points')
        # Partly given back: the latest taken first
        back1 = Member.add_points(
            member, 5, "Cancelled", key='booking:1:points:back:1')
        self.assertEqual(Line(back1.id).reverses.idempotency_key,
            'booking:1:points')
        self.assertEqual(self._remaining(member),
            {lot1.id: 0, lot2.id: 25, back1.id: 0})
        back2 = Member.add_points(
            member, 35, "Cancelled", key='booking:1:points:back:2')
        self.assertEqual(self._remaining(member),
            {lot1.id: 30, lot2.id: 30, back1.id: 0, back2.id: 0})
        member = Member(member.id)
        # Given back, not earned
        self.assertEqual(
            (member.points_balance, member.lifetime_points), (60, 60))
        # Another key is a new lot
        other = Member.add_points(member, 7, "Gift", key='booking:1:gift')
        self.assertEqual(Line(other.id).reverses, None)
        self.assertEqual(self._remaining(member)[other.id], 7)
        self.assertEqual(Member(member.id).lifetime_points, 67)
        self.assertEqual(Member.check_balances([member]), [])
        # Given back to an expired lot: it expires again
        Member.add_points(member, -60, "Spend", key='spend:2')
        Line.expire(dt.date(2025, 2, 28))
        Member.add_points(member, 60, "Back", key='spend:2:back')
        expired = Line.expire(dt.date(2025, 2, 28))
        self.assertEqual(
            sorted(l.idempotency_key for l in expired),
            sorted(['expiry:%d:1' % lot1.id, 'expiry:%d:1' % lot2.id]))
        self.assertEqual(Member(member.id).points_balance, 7)
        self.assertEqual(Member.check_balances([member]), [])

    @with_transaction()
    def test_points_give_back_named(self):
        "A give-back may name its spending; only a spending of the member"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        member = create_member()
        other = create_member("Other")
        lot = Member.add_points(member, 30, "Earn")
        spend = Member.add_points(member, -20, "Booking", key='b-spend:1')
        earn = Member.add_points(other, 5, "Earn")
        for reverses in [lot, earn]:
            with self.subTest(reverses=reverses):
                with self.assertRaisesRegex(UserError, 'give back'):
                    Member.post_points([{
                                'member': member, 'points': 20,
                                'reason': "Refund", 'reverses': reverses}])
        back, = Member.post_points([{
                    'member': member, 'points': 20, 'reason': "Refund",
                    'key': 'b-refund:1', 'reverses': spend}])
        self.assertEqual(Line(back.id).reverses, Line(spend.id))
        self.assertEqual(self._remaining(member)[lot.id], 30)
        self.assertEqual(Member(member.id).lifetime_points, 30)
        self.assertEqual(Member.check_balances([member, other]), [])

    @with_transaction()
    def test_points_expiry_entry_covered(self):
        "An entry of a lot takes what the lot cannot cover from the others"
        Member = Pool().get('member.member')
        member = create_member()
        first = Member.add_points(member, 10, "First")
        second = Member.add_points(member, 10, "Second")
        Member.post_points([{
                    'member': member, 'points': -15, 'reason': "x",
                    'lot': second}])
        self.assertEqual(self._remaining(member),
            {first.id: 5, second.id: 0})
        self.assertEqual(Member.check_balances([member]), [])

    @with_transaction()
    def test_points_reversal_own_lot(self):
        "A reversal takes the points of its origin first"
        Member = Pool().get('member.member')
        member = create_member()
        first = Member.add_points(member, 10, "First")
        cheat = Member.add_points(
            member, 10, "Cheat", origin='res.user,1')
        Member.post_points([{
                    'member': member, 'points': -10, 'reason': "Cheat",
                    'origin': 'res.user,1', 'reversal': True}])
        self.assertEqual(self._remaining(member),
            {first.id: 10, cheat.id: 0})

    @with_transaction()
    def test_points_negative_then_earn(self):
        "Points earned below zero first pay what the lots could not cover"
        Member = Pool().get('member.member')
        member = create_member()
        Member.add_points(member, 10, "Welcome")
        Member.post_points([{
                    'member': member, 'points': -30, 'reason': "Cheat",
                    'reversal': True, 'allow_negative': True}])
        small = Member.add_points(member, 15, "Earn")
        big = Member.add_points(member, 15, "Earn")
        lots = self._remaining(member)
        self.assertEqual((lots[small.id], lots[big.id]), (0, 10))
        self.assertEqual(Member.check_balances([member]), [])

    @with_transaction()
    def test_points_earning_one_statement(self):
        "Earning on the hot path is still one statement on the ledger"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Configuration = pool.get('member.configuration')
        member = create_member()
        Member.add_points(member, 10, "Warm")
        for validity in [None, 6]:
            Configuration(1, points_validity=validity).save()
            Configuration.get_cached()
            with self.subTest(validity=validity):
                with counted_statements() as statements:
                    Line._post_one(Line._post_values({
                                'member': member.id, 'points': 5,
                                'reason': "x"}))
                self.assertEqual(
                    len(statements), 1 if backend.name == 'postgresql' else 2,
                    statements)

    def redemption_posting(self):
        """Return the functions of the ledger entry of member that inserts
        a redemption of code (entry(member, code, **values)) and of the
        redemption of code or None (redemption(code)): a redemption stands
        for any record with a link to its line"""
        pool = Pool()
        Reward = pool.get('member.reward')
        Redemption = pool.get('member.reward.redemption')
        company = create_company_shanghai()
        with set_company(company):
            reward, = Reward.create([{
                        'name': "Mug", 'kind': 'product', 'points_cost': 5,
                        }])
        now = dt.datetime(2026, 6, 1, 8)

        def entry(member, code, **values):
            return dict({
                    'member': member.id, 'points': 5, 'reason': "Inserted",
                    'insert': (Redemption, {
                            'member': member.id, 'reward': reward.id,
                            'code': code, 'date': now, 'points': 5,
                            'valid_until': now.date(), 'state': 'active',
                            }, 'test:'),
                    'link': (Redemption, None, 'points_line', {}),
                    }, **values)

        def redemption(code):
            redemptions = Redemption.search([('code', '=', code)])
            return redemptions[0] if redemptions else None
        return entry, redemption

    @with_transaction()
    def test_points_insert_origin(self):
        "A posting inserts its origin first: nothing when it is refused"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Redemption = pool.get('member.reward.redemption')
        posting, redemption = self.redemption_posting()
        member = create_member()
        Member.add_points(member, 10, "Warm")
        now = dt.datetime(2026, 6, 1, 8)

        def entry(code, **values):
            return posting(member, code, **values)

        # The triggers on creation, read once per process
        tools.triggers(Redemption.__name__, 'create')
        with counted_statements() as statements:
            row = Line._post_one(Line._post_values(entry('A1')))
        if backend.name == 'postgresql':
            # The record, the line, the member and the link together
            self.assertEqual(len(statements), 1, statements)
        first = redemption('A1')
        line = Line(row[0])
        self.assertEqual(row[-1], first.id)
        self.assertEqual(line.origin, first)
        self.assertEqual(line.idempotency_key, 'test:%d' % first.id)
        self.assertEqual(first.points_line, line)
        self.assertEqual((line.points, line.balance_after), (5, 15))
        self.assertEqual(Member(member.id).points_balance, 15)

        # Refused by the unique code: nothing posted, the streak unchanged
        count = Line.search_count([])
        self.assertEqual(Line._post_entries([entry('A1')]), [(None, None)])
        last = Member(member.id).last_activity_date
        self.assertIsNone(Member._daily_activity(
                member, date=now.date(), entry=entry('A1')))
        self.assertEqual(Line.search_count([]), count)
        self.assertEqual(Member(member.id).points_balance, 15)
        self.assertEqual(Member(member.id).last_activity_date, last)
        self.assertEqual(Redemption.search_count([('code', '=', 'A1')]), 1)

        (line, _), = Line._post_entries([entry('A2')])
        self.assertEqual(line.origin, redemption('A2'))
        self.assertEqual(line.balance_after, 20)
        self.assertEqual(Member.check_balances([member]), [])

        for wrong in [{'points': -5}, {'origin': str(first)},
                {'key': 'key'}, {'link': None},
                {'link': (Redemption, first.id, 'points_line', {})}]:
            with self.subTest(wrong=wrong):
                with self.assertRaises(ValueError):
                    Line._post_entries([entry('A3', **wrong)])
        self.assertIsNone(redemption('A3'))

    @with_transaction()
    def test_points_insert_takes_lock(self):
        """A posting that inserts its origin takes the member's lock in its
        statement: only of an active member, unless a record answers"""
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Redemption = pool.get('member.reward.redemption')
        posting, redemption = self.redemption_posting()
        member = create_member()
        table = Redemption.__table__()

        def unless(record_id):
            "The look-up of record_id"
            return (('test', 'unless'), lambda record: table.select(
                    table.id, where=table.id == record), {'record': record_id})

        def entry(code, lock=None):
            return posting(member, code, lock=('2000', lock))

        locked = Transaction()._locked_records[Member._table]
        locked.discard(member.id)
        with counted_statements() as statements:
            (line, _), = Line._post_entries([entry('L1')])
        first = redemption('L1')
        self.assertEqual(line.origin, first)
        self.assertEqual(line.balance_after, 5)
        if backend.name != 'postgresql':
            # SQLite's writer holds the database: the lock is hold_lock's
            self.assertEqual(Member.check_balances([member]), [])
            return
        # The triggers are read once per process, but in a test's
        # transaction, which does not keep Tryton's cache of them
        statements = [e for e in statements if '"ir_trigger"' not in e]
        self.assertEqual(len(statements), 1, statements)
        self.assertIn('FOR UPDATE', statements[0])
        # Held from the posting on
        self.assertIn(member.id, locked)

        # The look-up finds its record: nothing inserted nor posted
        with self.assertRaises(LockUnlessFound) as found:
            Line._post_entries([entry('L2', unless(first.id))])
        self.assertEqual(found.exception.record_id, first.id)
        self.assertIsNone(redemption('L2'))
        (line, _), = Line._post_entries([entry('L3', unless(-1))])
        self.assertEqual(line.origin, redemption('L3'))
        self.assertEqual(line.balance_after, 10)

        # An inactive member: nothing, whatever the look-up finds
        Member.write([member], {'active': False})
        for lock in [None, unless(first.id)]:
            with self.subTest(lock=lock):
                self.assertEqual(
                    Line._post_entries([entry('L4', lock)]), [(None, None)])
                self.assertIsNone(redemption('L4'))
        self.assertEqual(Member(member.id).points_balance, 10)
        self.assertEqual(Member.check_balances([member]), [])

        # Only the posting that inserts its record takes the lock
        with self.assertRaises(ValueError):
            Line._post_entries([{
                        'member': member.id, 'points': 5, 'reason': "Lock",
                        'lock': ('2000', None)}])

    @with_transaction()
    def test_points_expiring_notice(self):
        "Members are told once of the points expiring within the notice"
        pool = Pool()
        Member = pool.get('member.member')
        Line = pool.get('member.points.line')
        Message = pool.get('outbox.message')
        Configuration = pool.get('member.configuration')
        Configuration(1, points_validity=2, expiry_notice_days=10).save()
        member = create_member(email='alice@example.com')
        create_member("Bob", email='bob@example.com')
        with clock.at(dt.datetime(2025, 1, 10, 12)):
            Member.add_points(member, 30, "Welcome")
            Member.add_points(member, -5, "Spend")
        self.assertEqual(Line.notify_expiring(dt.date(2025, 2, 27)), [])
        message, = Line.notify_expiring(dt.date(2025, 3, 1))
        self.assertEqual(message.party, member.party)
        self.assertIn('25 of your points expire on 2025-03-10', message.body)
        self.assertEqual(Line.notify_expiring(dt.date(2025, 3, 2)), [])
        self.assertEqual(Message.search_count([]), 1)
        member = Member(member.id)
        with clock.at(dt.datetime(2025, 3, 1, 12)):
            member = Member(member.id)
            self.assertEqual(
                (member.points_expiring, member.points_expiring_date),
                (25, dt.date(2025, 3, 10)))


del ModuleTestCase
