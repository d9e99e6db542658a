# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
import datetime as dt
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from trytond.cache import Cache
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.suite import clock, tools
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import timezone as tz
from trytond.transaction import Transaction, without_check_access

TIMEZONES = [(z, z) for z in tz.available_timezones()]

# The values of the configuration that every points posting and streak
# reads (see Configuration.get_cached)
_cached = Cache('member.configuration.cached', context=False)
# The instance of get_cached, kept by the transaction
_MEMO = 'member.configuration.cached'


def company_timezone():
    "Return the time zone of the company of the context, or None"
    Company = Pool().get('company.company')
    company_id = Transaction().context.get('company')
    if company_id is not None and company_id >= 0:
        return Company(company_id).timezone or None


def clear_cached():
    """Clear the cached configuration: in every process (at its next
    transaction) and the instance of this transaction"""
    _cached.clear()
    tools.transaction_memo(_MEMO).clear()


@lru_cache(maxsize=64)
def _months_after(date, months):
    """The day months after date (relativedelta's calendar arithmetic,
    kept per process: the postings of a day ask it for the same day)"""
    return date + relativedelta(months=months)


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "Member Configuration"
    __name__ = 'member.configuration'

    timezone = fields.Selection(
        TIMEZONES, "Timezone", required=True, translate=False,
        help="The time zone of the local day used for streaks and "
        "daily sign-ins.")
    allow_negative = fields.Boolean(
        "Allow Negative Balance",
        help="If checked, spending may bring a member's balance below zero.")
    downgrade_policy = fields.Selection([
            ('never', "Never"),
            ('period_end', "At Period End"),
            ], "Downgrade Policy", required=True,
        help="When a member whose lifetime points no longer reach the "
        "threshold of their tier moves down.\n"
        "Upgrades always take effect at once.")
    downgrade_period = fields.Selection([
            ('month', "Month"),
            ('quarter', "Quarter"),
            ('year', "Year"),
            ], "Downgrade Period", required=True)
    points_validity = fields.Integer(
        "Points Validity",
        domain=['OR',
            ('points_validity', '=', None),
            ('points_validity', '>', 0),
            ],
        help="The months after which the points earned expire "
        "(what remains of them).\n"
        "Leave empty for points that never expire.")
    expiry_notice_days = fields.Integer(
        "Expiry Notice",
        domain=['OR',
            ('expiry_notice_days', '=', None),
            ('expiry_notice_days', '>', 0),
            ],
        states={
            'invisible': ~Eval('points_validity'),
            },
        help="The days before their expiry at which the members are told "
        "of the points that expire.\n"
        "Leave empty to send no notice.")
    streak_base_points = fields.Integer(
        "Daily Points", required=True,
        help="Points awarded for each day of activity.")
    streak_rules = fields.One2Many(
        'member.streak.rule', 'configuration', "Streak Bonuses")

    @classmethod
    def default_timezone(cls):
        return company_timezone() or 'UTC'

    @classmethod
    def default_allow_negative(cls):
        return False

    @classmethod
    def default_downgrade_policy(cls):
        return 'never'

    @classmethod
    def default_downgrade_period(cls):
        return 'year'

    @classmethod
    def default_expiry_notice_days(cls):
        return 30

    @classmethod
    def default_streak_base_points(cls):
        return 10

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        clear_cached()

    @classmethod
    def get_cached(cls):
        """Return the configuration with its time zone, allow negative,
        streak base points, streak rules and points validity loaded from a
        per-process cache, cleared on any change (in every process); the
        other fields are read when used.  The same instance for the rest
        of the transaction (a check-in asks for it three times), unless
        the transaction changes the configuration (clear_cached)."""
        memo = tools.transaction_memo(_MEMO)
        found = memo.get(None)
        if found is not None:
            return found
        pool = Pool()
        StreakRule = pool.get('member.streak.rule')
        values = _cached.get(None)
        if values is None:
            with without_check_access():
                config = cls(1)
                values = {
                    'timezone': config.timezone,
                    'allow_negative': config.allow_negative,
                    'streak_base_points': config.streak_base_points,
                    'points_validity': config.points_validity,
                    'streak_rules': [(r.id, r.day, r.repeat, r.bonus)
                        for r in config.streak_rules],
                    }
            values = _cached.set(None, values)
        found = memo[None] = tools.cached_instance(cls, 1, values, related={
                'streak_rules': lambda rules: [
                    tools.instance(StreakRule, i, day=d, repeat=r, bonus=b)
                    for i, d, r, b in rules]})
        return found

    @property
    def tzinfo(self):
        return tz.get_tzinfo(self.timezone or 'UTC')

    def local_date(self, datetime=None):
        "Return the local date of the UTC datetime (default now)"
        if datetime is None:
            datetime = clock.now()
        if datetime.tzinfo is None:
            datetime = datetime.replace(tzinfo=dt.timezone.utc)
        return datetime.astimezone(self.tzinfo).date()

    def expiry_date(self, datetime=None):
        """Return the day on which the points earned at the UTC datetime
        expire (the local day that many months later) or None"""
        if not self.points_validity:
            return None
        if isinstance(datetime, dt.date) and not isinstance(
                datetime, dt.datetime):
            date = datetime
        else:
            date = self.local_date(datetime)
        return _months_after(date, self.points_validity)

    def streak_points(self, streak, base_points=None):
        "Return the points earned on the day a streak reaches its length"
        if base_points is None:
            base_points = self.streak_base_points or 0
        points = base_points
        for rule in self.streak_rules:
            if rule.applies(streak):
                points += rule.bonus
        return points

    def is_period_start(self, date):
        "Tell if date is the first day of a downgrade period"
        if date.day != 1:
            return False
        if self.downgrade_period == 'month':
            return True
        elif self.downgrade_period == 'quarter':
            return date.month in {1, 4, 7, 10}
        else:
            return date.month == 1
