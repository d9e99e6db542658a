# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
import secrets

from sql import Null
from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import (
    Check, DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow,
    fields)
from trytond.modules.suite import clock, tools
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.rpc import RPC
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .exceptions import (
    InsufficientPointsError, InvalidCouponError, OutOfStockError,
    RedemptionStateError, RewardNotFoundError, RewardUnavailableError)
from .member import SLICE, context_member
from .prepared import invalidate_records

# The characters of a coupon code: no 0/O, 1/I/L to misread
CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
CODE_LENGTH = 10


def new_code():
    "Return a random coupon code"
    return ''.join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code):
    "Return the code as stored: upper case, without spaces nor dashes"
    if not isinstance(code, str):
        return None
    return ''.join(c for c in code.upper() if c not in ' -') or None


class Reward(DeactivableMixin, ModelSQL, ModelView):
    "Reward"
    __name__ = 'member.reward'

    company = fields.Many2One(
        'company.company', "Company", required=True,
        states={
            'readonly': Eval('id', -1) >= 0,
            })
    name = fields.Char("Name", required=True, translate=True)
    description = fields.Text("Description", translate=True)
    kind = fields.Selection([
            ('product', "Product"),
            ('discount', "Discount Coupon"),
            ], "Kind", required=True,
        help="Product: handed over by the staff against the coupon.\n"
        "Discount coupon: an amount off a booking.")
    points_cost = fields.Integer(
        "Points Cost", required=True,
        domain=[('points_cost', '>', 0)],
        help="The points a member spends to redeem the reward.")
    amount = fields.Numeric(
        "Amount", digits='currency',
        domain=[If(Eval('kind') == 'discount',
                ('amount', '>', 0),
                ())],
        states={
            'required': Eval('kind') == 'discount',
            'invisible': Eval('kind') != 'discount',
            },
        help="The amount off the price that the coupon pays.")
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"), 'get_currency')
    stock = fields.Integer(
        "Stock",
        domain=['OR',
            ('stock', '=', None),
            ('stock', '>=', 0),
            ],
        help="How many are left to redeem; leave empty for no limit.\n"
        "Each redemption takes one, a voided one gives it back.")
    valid_from = fields.Date(
        "Valid From",
        domain=[If(Eval('valid_from') & Eval('valid_until'),
                ('valid_from', '<=', Eval('valid_until')),
                ())],
        help="The first day the reward may be redeemed.")
    valid_until = fields.Date(
        "Valid Until",
        domain=[If(Eval('valid_from') & Eval('valid_until'),
                ('valid_until', '>=', Eval('valid_from')),
                ())],
        help="The last day the reward may be redeemed.")
    coupon_days = fields.Integer(
        "Coupon Validity", required=True,
        domain=[('coupon_days', '>', 0)],
        help="How many days a coupon stays valid after its redemption "
        "(the day of the redemption included).")
    redemptions = fields.One2Many(
        'member.reward.redemption', 'reward', "Redemptions", readonly=True)
    redeemed = fields.Function(
        fields.Integer(
            "Redeemed", help="The redemptions that are not voided."),
        'get_redeemed')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('stock_positive', Check(t, (t.stock == Null) | (t.stock >= 0)),
                'member.msg_reward_stock_positive'),
            ]
        cls._order = [('points_cost', 'ASC'), ('id', 'ASC')]
        cls.__rpc__.update({
                'redeem': RPC(readonly=False, result=int),
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_kind(cls):
        return 'product'

    @classmethod
    def default_coupon_days(cls):
        return 30

    def get_currency(self, name):
        return self.company.currency.id if self.company else None

    @classmethod
    def get_redeemed(cls, rewards, name):
        pool = Pool()
        Redemption = pool.get('member.reward.redemption')
        redemption = Redemption.__table__()
        cursor = Transaction().connection.cursor()
        counts = {r.id: 0 for r in rewards}
        for sub_ids in grouped_slice([r.id for r in rewards], SLICE):
            cursor.execute(*redemption.select(
                    redemption.reward, Count(redemption.id),
                    where=fields.SQL_OPERATORS['in'](
                        redemption.reward, list(sub_ids))
                    & (redemption.state != 'voided'),
                    group_by=[redemption.reward]))
            counts.update(cursor)
        return counts

    @classmethod
    def copy(cls, rewards, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('redemptions', None)
        return super().copy(rewards, default=default)

    @staticmethod
    def today():
        "The local day of the members (the member configuration's)"
        Configuration = Pool().get('member.configuration')
        return Configuration.get_cached().local_date()

    def is_valid(self, date=None):
        "Tell if the reward may be redeemed on date (default today)"
        if date is None:
            date = self.today()
        return ((not self.valid_from or self.valid_from <= date)
            and (not self.valid_until or date <= self.valid_until))

    @classmethod
    def catalogue(cls, offset=0, limit=None):
        """Return the rewards members may redeem today (active, within their
        validity, with stock left or no limit) and their count"""
        today = cls.today()
        domain = [
            ['OR', ('valid_from', '=', None), ('valid_from', '<=', today)],
            ['OR', ('valid_until', '=', None), ('valid_until', '>=', today)],
            ['OR', ('stock', '=', None), ('stock', '>', 0)],
            ]
        return (cls.search(domain, offset=offset, limit=limit),
            cls.search_count(domain))

    @classmethod
    def _take_stock(cls, reward):
        """Take one of the stock of reward or raise OutOfStockError.

        One conditional UPDATE: concurrent redemptions of the last one
        cannot both take it (the second updates no row, or restarts on
        PostgreSQL with a snapshot that sees the first); the check
        constraint stock_positive stands behind it."""
        if reward.stock is None:
            return
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.stock], [table.stock - 1],
                where=(table.id == reward.id) & (table.stock > 0)))
        if cursor.rowcount != 1:
            raise OutOfStockError(gettext(
                    'member.msg_reward_out_of_stock', reward=reward.rec_name),
                details={'reward': reward.id})
        invalidate_records(cls, [reward.id])

    @classmethod
    def _give_back_stock(cls, rewards):
        "Give one of the stock back to each of rewards (a voided redemption)"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        for reward in rewards:
            cursor.execute(*table.update(
                    [table.stock], [table.stock + 1],
                    where=(table.id == reward.id) & (table.stock != Null)))
        invalidate_records(cls, [r.id for r in rewards])

    @classmethod
    def redeem(cls, reward, member=None):
        """Redeem reward (id) for member (default: the member of the
        context) and return the redemption, whose code is the coupon.

        The member's points are locked (Member.hold_lock), the points
        available (the balance less what pending bookings will take) must
        cover the cost, one is taken from the stock, and the cost is posted
        to the ledger with the redemption as origin.  Raise
        RewardNotFoundError (not_found), RewardUnavailableError
        (reward_unavailable), InsufficientPointsError (insufficient_points)
        or OutOfStockError (out_of_stock)."""
        pool = Pool()
        Member = pool.get('member.member')
        Redemption = pool.get('member.reward.redemption')
        ModelAccess = pool.get('ir.model.access')
        member_id = Redemption._check_member(member)
        if context_member() is None:
            ModelAccess.check(Redemption.__name__, 'create')
        try:
            reward_id = int(reward)
        except (TypeError, ValueError):
            reward_id = None
        # Lock first: the transaction may restart with the lock taken
        Member.hold_lock(Member.browse([member_id]))
        with without_check_access():
            rewards = cls.search([('id', '=', reward_id)])
            if not rewards or not Member.search([('id', '=', member_id)]):
                raise RewardNotFoundError(gettext(
                        'member.msg_reward_not_found', id=reward),
                    details={'model': cls.__name__, 'id': reward})
            reward, = rewards
            member = Member(member_id)
            today = cls.today()
            if not reward.is_valid(today):
                raise RewardUnavailableError(gettext(
                        'member.msg_reward_unavailable',
                        reward=reward.rec_name),
                    details={
                        'valid_from': (reward.valid_from.isoformat()
                            if reward.valid_from else None),
                        'valid_until': (reward.valid_until.isoformat()
                            if reward.valid_until else None),
                        })
            cls._take_stock(reward)
            member.check_available_points(reward.points_cost)
            redemption = Redemption(
                member=member,
                reward=reward,
                code=new_code(),
                date=clock.now(),
                points=reward.points_cost,
                valid_until=today + dt.timedelta(days=reward.coupon_days - 1),
                state='active')
            redemption.save()
            line = Member.add_points(member, -reward.points_cost,
                ('member.msg_reward_points_reason', {
                        'reward': reward.rec_name}),
                origin=str(redemption), key=redemption.spend_key)
            Redemption.write([redemption], {'points_line': line.id})
        return Redemption(redemption.id)


class Redemption(Workflow, ModelSQL, ModelView):
    "Reward Redemption"
    __name__ = 'member.reward.redemption'
    _rec_name = 'code'

    member = fields.Many2One(
        'member.member', "Member", required=True, readonly=True,
        ondelete='RESTRICT')
    reward = fields.Many2One(
        'member.reward', "Reward", required=True, readonly=True,
        ondelete='RESTRICT')
    code = fields.Char(
        "Code", required=True, readonly=True, strip=False,
        help="The single-use coupon code given to the member.")
    date = fields.DateTime("Date", required=True, readonly=True)
    points = fields.Integer(
        "Points", required=True, readonly=True,
        help="The points spent on the reward.")
    valid_until = fields.Date(
        "Valid Until", required=True, readonly=True,
        help="The last day the coupon may be used.")
    state = fields.Selection([
            ('active', "Active"),
            ('used', "Used"),
            ('voided', "Voided"),
            ], "State", required=True, readonly=True, sort=False)
    status = fields.Function(fields.Selection([
                ('active', "Active"),
                ('used', "Used"),
                ('voided', "Voided"),
                ('expired', "Expired"),
                ], "Status",
            help="The state, or expired for an active coupon past its "
            "validity."), 'get_status')
    used_date = fields.DateTime("Used", readonly=True)
    used_by = fields.Reference(
        "Used By", selection='get_used_by', readonly=True,
        help="The document that accepted the coupon.")
    points_line = fields.Many2One(
        'member.points.line', "Points Line", readonly=True,
        ondelete='RESTRICT')
    refund_line = fields.Many2One(
        'member.points.line', "Refund Line", readonly=True,
        ondelete='RESTRICT',
        help="The points given back when the redemption was voided.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'member.msg_redemption_code_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.member, Index.Range()), (t.id, Index.Range())),
                Index(t, (t.reward, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('active', 'used'),
            ('used', 'active'),
            ('active', 'voided'),
            }
        cls._buttons.update({
                'use': {
                    'invisible': Eval('state') != 'active',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'void': {
                    'invisible': Eval('state') != 'active',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'active'

    @property
    def spend_key(self):
        "The idempotency key of the points spent"
        return 'reward-redemption:%d' % self.id

    @property
    def refund_key(self):
        "The idempotency key of the points given back"
        return 'reward-redemption-void:%d' % self.id

    def get_status(self, name):
        if (self.state == 'active' and self.valid_until
                and self.valid_until < Pool().get('member.reward').today()):
            return 'expired'
        return self.state

    @classmethod
    def _get_used_by(cls):
        "Return the models that may accept a coupon"
        return []

    @classmethod
    def get_used_by(cls):
        IrModel = Pool().get('ir.model')
        return [(None, '')] + [
            (m, IrModel.get_name(m)) for m in cls._get_used_by()]

    @classmethod
    def search_rec_name(cls, name, clause):
        return tools.rec_name_domain(
            clause, 'code', 'reward.rec_name', 'member.rec_name')

    @classmethod
    def copy(cls, redemptions, default=None):
        if not redemptions:
            return []
        raise RedemptionStateError(gettext('member.msg_redemption_copy'))

    @classmethod
    def check_modification(
            cls, mode, redemptions, values=None, external=False):
        super().check_modification(
            mode, redemptions, values=values, external=external)
        if mode == 'delete':
            raise RedemptionStateError(gettext(
                    'member.msg_redemption_delete'))

    @classmethod
    @ModelView.button
    @Workflow.transition('used')
    def use(cls, redemptions):
        "Hand over the reward (a product) against the coupon"
        for redemption in redemptions:
            redemption.check_usable()
        cls.write(list(redemptions), {'used_date': clock.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('voided')
    def void(cls, redemptions):
        """Void the redemptions: the points are given back (once, by the
        key of the refund) and the stock of the reward too"""
        pool = Pool()
        Member = pool.get('member.member')
        Reward = pool.get('member.reward')
        with without_check_access():
            redemptions = cls.browse([r.id for r in redemptions])
            entries = [{
                    'member': r.member,
                    'points': r.points,
                    'reason': ('member.msg_reward_void_reason', {
                            'reward': r.reward.rec_name}),
                    'origin': str(r),
                    'key': r.refund_key,
                    # back to the lots it took, not earned again
                    'reverses': r.points_line,
                    } for r in redemptions if r.points_line]
            lines = Member.post_points(entries)
            to_write = []
            for redemption, line in zip(
                    [r for r in redemptions if r.points_line], lines):
                to_write.extend([[redemption], {'refund_line': line.id}])
            if to_write:
                cls.write(*to_write)
            Reward._give_back_stock([r.reward for r in redemptions])

    @classmethod
    def _check_member(cls, member, required=True):
        """Return the id of member, checked against the member of the
        context (a mini-program user acts only for its member)"""
        request_member = context_member()
        if member is None:
            member = request_member
        try:
            member_id = int(member) if member is not None else None
        except (TypeError, ValueError):
            member_id = None
        if request_member is not None and member_id != request_member:
            raise RewardNotFoundError(gettext(
                    'member.msg_redemption_other_member'),
                details={'member': member_id})
        if required and member_id is None:
            raise RewardNotFoundError(gettext(
                    'member.msg_reward_member_not_found', id=member),
                details={'model': 'member.member', 'id': member})
        return member_id

    @classmethod
    def member_coupons(cls, member=None, offset=0, limit=None):
        """Return the redemptions of member (default: the member of the
        context), newest first, and their count"""
        member_id = cls._check_member(member)
        domain = [('member', '=', member_id)]
        return (cls.search(domain, offset=offset, limit=limit),
            cls.search_count(domain))

    def check_usable(self, date=None):
        "Raise InvalidCouponError unless the coupon may be used on date"
        if date is None:
            date = Pool().get('member.reward').today()
        reason = None
        if self.state != 'active':
            reason = self.state
        elif self.valid_until < date:
            reason = 'expired'
        if reason:
            raise InvalidCouponError(gettext(
                    'member.msg_coupon_%s' % reason, code=self.code),
                details={'reason': reason, 'code': self.code})

    @classmethod
    def find_coupon(cls, code, member):
        """Return the active redemption of the code of member (id), usable
        today, or raise InvalidCouponError: the coupon of another member is
        unknown to this one"""
        normalized = normalize_code(code)
        redemptions = []
        if normalized:
            with without_check_access():
                redemptions = cls.search([
                        ('code', '=', normalized),
                        ('member', '=', int(member)),
                        ], limit=1)
        if not redemptions:
            raise InvalidCouponError(gettext(
                    'member.msg_coupon_unknown', code=code),
                details={'reason': 'unknown', 'code': code})
        redemption, = redemptions
        redemption.check_usable()
        return redemption

    @classmethod
    def take(cls, redemption, document):
        """Mark the coupon as used by document: one conditional UPDATE, so
        that two documents cannot take the same coupon even at once"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.state, table.used_date, table.used_by],
                ['used', clock.now(), str(document)],
                where=(table.id == redemption.id)
                & (table.state == 'active')))
        invalidate_records(cls, [redemption.id])
        if cursor.rowcount != 1:
            raise InvalidCouponError(gettext(
                    'member.msg_coupon_used', code=redemption.code),
                details={'reason': 'used', 'code': redemption.code})

    @classmethod
    def release(cls, redemptions, document):
        """Make the coupons taken by document usable again (the document
        was cancelled)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        for redemption in redemptions:
            cursor.execute(*table.update(
                    [table.state, table.used_date, table.used_by],
                    ['active', Null, Null],
                    where=(table.id == redemption.id)
                    & (table.state == 'used')
                    & (table.used_by == str(document))))
        invalidate_records(cls, [r.id for r in redemptions])


class Member(metaclass=PoolMeta):
    __name__ = 'member.member'

    @classmethod
    def reserved_points(cls, members):
        """Return {member id: points} promised to documents that have not
        taken them yet (e.g. pending bookings); other modules add theirs"""
        return {int(m): 0 for m in members}

    def check_available_points(self, points):
        """Raise InsufficientPointsError unless the balance less the
        reserved points covers points.  Call it under the member lock."""
        reserved = self.reserved_points([self])[self.id]
        balance = self.points_balance or 0
        available = balance - reserved
        if points > available:
            raise InsufficientPointsError(gettext(
                    'member.msg_insufficient_points',
                    available=available, points=points),
                details={
                    'balance': balance,
                    'reserved': reserved,
                    'available': available,
                    'points': points,
                    })


class PointsLine(metaclass=PoolMeta):
    __name__ = 'member.points.line'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['member.reward.redemption']

    @classmethod
    def _reason_codes(cls):
        return super()._reason_codes() + [
            'member.msg_reward_points_reason',
            'member.msg_reward_void_reason']
