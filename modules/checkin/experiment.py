# This file is part of the checkin module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Experiments of the missed check-in reminder (A/B tests).

A running experiment assigns each member of the roster of its events to one
of its variants, deterministically (a SHA-256 of the experiment and member
ids over the weights), and Event.send_missed_reminders reminds the member
with the delay and template of that variant (a control variant sends
nothing).  Each assignment is recorded when it is applied (one row per
member, event and local day) and the outcome of each variant is measured
against those rows: the next-day check-in rate and the streak
continuation, with their 95% Wilson score intervals."""
import hashlib
import math

from sql import Literal
from sql.operators import Exists

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .exceptions import ExperimentError, ExperimentValidationError

STATES = [
    ('draft', "Draft"),
    ('running', "Running"),
    ('stopped', "Stopped"),
    ]
# The kinds an experiment applies to: those with a local day, the next day
# of which the outcome is measured
KINDS = [
    (None, ""),
    ('daily', "Daily Attendance"),
    ('points', "Points Sign-in"),
    ]
# The z of a two-sided 95% interval (the 0.975 quantile of the normal law)
Z95 = 1.959963984540054


def wilson_interval(successes, n, z=Z95):
    """Return the Wilson score interval (low, high) of the proportion
    successes / n, or (None, None) without trial"""
    if n <= 0:
        return None, None
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def bucket(experiment_id, member_id):
    """Return the stable position in [0, 1) of member in experiment: the
    same in every process and release (not Python's salted hash())"""
    digest = hashlib.sha256(
        ('%d:%d' % (experiment_id, member_id)).encode('ascii')).digest()
    return int.from_bytes(digest[:8], 'big') / 2 ** 64


def choose(experiment_id, member_id, variants):
    """Return the variant of member among variants (records with an id and
    a positive weight), in proportion of their weights"""
    variants = sorted(variants, key=lambda v: v.id)
    total = sum(v.weight for v in variants)
    if not variants or total <= 0:
        return None
    position = bucket(experiment_id, member_id) * total
    for variant in variants:
        position -= variant.weight
        if position < 0:
            return variant
    return variants[-1]


class Experiment(Workflow, ModelSQL, ModelView):
    "Reminder Experiment"
    __name__ = 'checkin.reminder.experiment'
    __string__ = "Reminder Experiment"

    _draft = {'readonly': Eval('state') != 'draft'}

    name = fields.Char("Name", required=True)
    events = fields.Many2Many(
        'checkin.reminder.experiment-checkin.event', 'experiment', 'event',
        "Events", states=_draft,
        domain=[('kind', 'in', ['daily', 'points'])],
        help="The daily events whose members are reminded by the "
        "experiment.")
    kind = fields.Selection(
        KINDS, "Kind", states=_draft,
        help="Apply also to every event of this kind.")
    state = fields.Selection(
        STATES, "State", required=True, readonly=True, sort=False)
    start_date = fields.DateTime(
        "Start Date", readonly=True,
        help="When the experiment was started.")
    stop_date = fields.DateTime(
        "Stop Date", readonly=True,
        help="When the experiment was stopped.")
    variants = fields.One2Many(
        'checkin.reminder.experiment.variant', 'experiment', "Variants",
        states=_draft)
    winner = fields.Many2One(
        'checkin.reminder.experiment.variant', "Winner",
        domain=[('experiment', '=', Eval('id', -1))],
        states={
            'invisible': Eval('state') != 'stopped',
            },
        help="The variant to make the default reminder.")
    assignments = fields.One2Many(
        'checkin.reminder.assignment', 'experiment', "Assignments",
        readonly=True)

    del _draft

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('start_date', 'DESC NULLS FIRST'))
        cls._transitions |= {
            ('draft', 'running'),
            ('running', 'stopped'),
            ('stopped', 'draft'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': Eval('state') != 'stopped',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'run': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-launch',
                    'depends': ['state'],
                    },
                'stop': {
                    'invisible': Eval('state') != 'running',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'make_default': {
                    'invisible': Eval('state') != 'stopped',
                    'readonly': ~Bool(Eval('winner')),
                    'icon': 'tryton-ok',
                    'depends': ['state', 'winner'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def copy(cls, experiments, default=None):
        default = default.copy() if default is not None else {}
        for name in ['start_date', 'stop_date', 'winner', 'assignments']:
            default.setdefault(name, None)
        return super().copy(experiments, default=default)

    @classmethod
    def validate_fields(cls, experiments, field_names):
        super().validate_fields(experiments, field_names)
        cls.check_overlap(experiments, field_names)

    @classmethod
    def check_overlap(cls, experiments, field_names=None):
        "Check that no event is in two running experiments"
        if field_names and not (field_names & {'state', 'events', 'kind'}):
            return
        running = [e for e in experiments if e.state == 'running']
        if not running:
            return
        others = cls.search([('state', '=', 'running')])
        for experiment in running:
            for other in others:
                if other == experiment:
                    continue
                event = experiment._overlap(other)
                if event:
                    raise ExperimentValidationError(gettext(
                            'checkin.msg_experiment_overlap',
                            experiment=experiment.rec_name,
                            other=other.rec_name,
                            event=event))

    def _overlap(self, other):
        "Return the name of what self and other both apply to, or None"
        if self.kind and self.kind == other.kind:
            return dict(self.fields_get(['kind'])['kind']['selection'])[
                self.kind]
        for event in self.events:
            if event in other.events or event.kind == other.kind:
                return event.rec_name
        for event in other.events:
            if event.kind == self.kind:
                return event.rec_name
        return None

    @classmethod
    def check_variants(cls, experiments):
        "Check that the experiments can run"
        for experiment in experiments:
            if not experiment.variants:
                raise ExperimentError(gettext(
                        'checkin.msg_experiment_no_variant',
                        experiment=experiment.rec_name))
            if not experiment.events and not experiment.kind:
                raise ExperimentError(gettext(
                        'checkin.msg_experiment_no_event',
                        experiment=experiment.rec_name))
            for variant in experiment.variants:
                variant.check_template()

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, experiments):
        cls.write(experiments, {
                'start_date': None,
                'stop_date': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('running')
    def run(cls, experiments):
        cls.check_variants(experiments)
        cls.write(experiments, {
                'start_date': clock.now(),
                'stop_date': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('stopped')
    def stop(cls, experiments):
        cls.write(experiments, {'stop_date': clock.now()})

    @classmethod
    @ModelView.button
    def make_default(cls, experiments):
        """Make the winner of the experiment the default reminder: its
        delay (none for a control) and template"""
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        config = Configuration(1)
        for experiment in experiments:
            if experiment.state != 'stopped' or not experiment.winner:
                raise ExperimentError(gettext(
                        'checkin.msg_experiment_no_winner',
                        experiment=experiment.rec_name))
            winner = experiment.winner
            if winner.control:
                config.missed_reminder = None
            else:
                config.missed_reminder = winner.delay
                config.missed_reminder_template = winner.template
        if experiments:
            config.save()

    @classmethod
    def running(cls, events, now):
        "Return {event id: running experiment} of events at now"
        experiments = cls.search([
                ('state', '=', 'running'),
                ('start_date', '<=', now),
                ])
        result = {}
        for experiment in experiments:
            ids = {e.id for e in experiment.events}
            for event in events:
                if event.id in ids or event.kind == experiment.kind:
                    result.setdefault(event.id, experiment)
        return result

    def variant_of(self, member_id):
        "Return the variant of the member (deterministic)"
        return choose(self.id, member_id, self.variants)


class ExperimentEvent(ModelSQL):
    "Reminder Experiment - Event"
    __name__ = 'checkin.reminder.experiment-checkin.event'
    __string__ = "Reminder Experiment - Event"

    experiment = fields.Many2One(
        'checkin.reminder.experiment', "Experiment", required=True,
        ondelete='CASCADE')
    event = fields.Many2One(
        'checkin.event', "Event", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('experiment')
        t = cls.__table__()
        cls._sql_constraints += [
            ('experiment_event_unique', Unique(t, t.experiment, t.event),
                'checkin.msg_experiment_event_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.event, Index.Equality())))


class Variant(ModelSQL, ModelView):
    "Reminder Experiment Variant"
    __name__ = 'checkin.reminder.experiment.variant'
    __string__ = "Reminder Experiment Variant"

    _readonly = {
        'readonly': Eval('experiment_state', 'draft') != 'draft',
        }

    experiment = fields.Many2One(
        'checkin.reminder.experiment', "Experiment", required=True,
        ondelete='CASCADE', states=_readonly)
    experiment_state = fields.Function(
        fields.Selection(STATES, "Experiment State"),
        'on_change_with_experiment_state')
    name = fields.Char("Name", required=True, states=_readonly)
    control = fields.Boolean(
        "Control", states=_readonly,
        help="Send no reminder to the members of this variant: they "
        "measure what happens without.")
    delay = fields.Integer(
        "Delay", required=True, states=_readonly,
        domain=[('delay', '>=', 0)],
        help="In minutes after the start (or the daily start) of the "
        "event, when to remind the members who have not checked in "
        "(for a control: when they are counted as not reminded).")
    template = fields.Many2One(
        'outbox.template', "Template", ondelete='RESTRICT',
        states={
            'readonly': _readonly['readonly'],
            'required': ~Eval('control', False),
            'invisible': Eval('control', False),
            },
        help="The message sent to the members of this variant.")
    weight = fields.Integer(
        "Weight", required=True, states=_readonly,
        domain=[('weight', '>', 0)],
        help="The share of the members assigned to this variant, in "
        "proportion of the weights of the experiment.")

    reminded = fields.Function(
        fields.Integer("Reminded", help="The members assigned per day."),
        'get_results')
    next_day_n = fields.Function(
        fields.Integer("Next-Day Trials",
            help="The assignments whose next day is over."),
        'get_results')
    next_day = fields.Function(
        fields.Integer("Next-Day Check-ins",
            help="Of the next-day trials, those who checked in the day "
            "after the reminder."),
        'get_results')
    next_day_rate = fields.Function(
        fields.Float("Next-Day Rate", digits=(1, 4)), 'get_results')
    next_day_low = fields.Function(
        fields.Float("Next-Day Low", digits=(1, 4),
            help="The lower bound of the 95% Wilson interval."),
        'get_results')
    next_day_high = fields.Function(
        fields.Float("Next-Day High", digits=(1, 4),
            help="The upper bound of the 95% Wilson interval."),
        'get_results')
    streak_n = fields.Function(
        fields.Integer("Streak Trials",
            help="The assignments of members who checked in the day "
            "before (a streak at stake), whose day is over."),
        'get_results')
    streak = fields.Function(
        fields.Integer("Streaks Continued",
            help="Of the streak trials, those who checked in the day of "
            "the reminder."),
        'get_results')
    streak_rate = fields.Function(
        fields.Float("Streak Rate", digits=(1, 4)), 'get_results')
    streak_low = fields.Function(
        fields.Float("Streak Low", digits=(1, 4),
            help="The lower bound of the 95% Wilson interval."),
        'get_results')
    streak_high = fields.Function(
        fields.Float("Streak High", digits=(1, 4),
            help="The upper bound of the 95% Wilson interval."),
        'get_results')

    del _readonly

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('experiment')
        cls._order.insert(0, ('id', 'ASC'))

    @classmethod
    def default_control(cls):
        return False

    @classmethod
    def default_weight(cls):
        return 1

    @classmethod
    def default_delay(cls):
        pool = Pool()
        Configuration = pool.get('checkin.configuration')
        delay = Configuration(1).missed_reminder
        return delay if delay is not None else 15

    @classmethod
    def default_experiment_state(cls):
        return 'draft'

    @fields.depends('experiment', '_parent_experiment.state')
    def on_change_with_experiment_state(self, name=None):
        return self.experiment.state if self.experiment else 'draft'

    @fields.depends('control', 'template')
    def on_change_control(self):
        if self.control:
            self.template = None

    @classmethod
    def validate_fields(cls, variants, field_names):
        super().validate_fields(variants, field_names)
        if field_names and not (field_names & {'control', 'template'}):
            return
        for variant in variants:
            if variant.experiment.state != 'draft':
                variant.check_template()

    def check_template(self):
        if not self.control and not self.template:
            raise ExperimentValidationError(gettext(
                    'checkin.msg_experiment_variant_template',
                    variant=self.rec_name,
                    experiment=self.experiment.rec_name))

    @classmethod
    def get_results(cls, variants, names):
        """Return the outcome of variants: per variant, the next-day
        check-ins and the streaks continued, with their Wilson interval"""
        pool = Pool()
        Assignment = pool.get('checkin.reminder.assignment')
        result = {n: {v.id: None for v in variants} for n in names}
        counts = Assignment.outcomes(variants)
        for variant in variants:
            reminded, next_n, next_s, streak_n, streak_s = counts.get(
                variant.id, (0, 0, 0, 0, 0))
            next_low, next_high = wilson_interval(next_s, next_n)
            streak_low, streak_high = wilson_interval(streak_s, streak_n)
            values = {
                'reminded': reminded,
                'next_day_n': next_n,
                'next_day': next_s,
                'next_day_rate': next_s / next_n if next_n else None,
                'next_day_low': next_low,
                'next_day_high': next_high,
                'streak_n': streak_n,
                'streak': streak_s,
                'streak_rate': streak_s / streak_n if streak_n else None,
                'streak_low': streak_low,
                'streak_high': streak_high,
                }
            for name in names:
                result[name][variant.id] = values[name]
        return result


class Assignment(ModelSQL, ModelView):
    "Reminder Assignment"
    __name__ = 'checkin.reminder.assignment'
    __string__ = "Reminder Assignment"

    experiment = fields.Many2One(
        'checkin.reminder.experiment', "Experiment", required=True,
        ondelete='CASCADE', readonly=True)
    variant = fields.Many2One(
        'checkin.reminder.experiment.variant', "Variant", required=True,
        ondelete='CASCADE', readonly=True,
        domain=[('experiment', '=', Eval('experiment', -1))])
    event = fields.Many2One(
        'checkin.event', "Event", required=True, ondelete='CASCADE',
        readonly=True)
    member = fields.Many2One(
        'member.member', "Member", required=True, ondelete='CASCADE',
        readonly=True)
    day_key = fields.Integer("Day Key", required=True, readonly=True)
    date = fields.Date("Date", required=True, readonly=True,
        help="The local day of the reminder.")
    sent_at = fields.DateTime("Sent At", required=True, readonly=True,
        help="When the variant was applied (the reminder queued, or not "
        "sent for a control).")
    message = fields.Many2One(
        'outbox.message', "Message", ondelete='SET NULL', readonly=True,
        help="The reminder queued (none for a control or a member no "
        "channel reaches).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('event_member_day_unique',
                Unique(t, t.event, t.member, t.day_key),
                'checkin.msg_assignment_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.variant, Index.Equality())),
                Index(t, (t.experiment, Index.Equality())),
                })
        cls._order = [('sent_at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def outcomes(cls, variants):
        """Return {variant id: (assignments, next-day trials, next-day
        check-ins, streak trials, streaks continued)} of variants.

        A next-day trial is an assignment whose next local day is over;
        a streak trial an assignment of a member who checked in the day
        before, whose day is over."""
        pool = Pool()
        Attendance = pool.get('checkin.attendance')
        Event = pool.get('checkin.event')
        assignment = cls.__table__()
        cursor = Transaction().connection.cursor()
        in_ = fields.SQL_OPERATORS['in']
        now = clock.now()

        def attended(offset):
            attendance = Attendance.__table__()
            # By the counted key: no index of the event's to be planned on
            return attendance.select(Literal(1),
                where=(attendance.counted_key == Attendance.counted_key_sql(
                        assignment.event, assignment.member,
                        assignment.day_key + offset))
                & (attendance.counted == Literal(True)))
        rows = []
        for sub_ids in grouped_slice(
                [v.id for v in variants], backend.MAX_QUERY_PARAMS):
            cursor.execute(*assignment.select(
                    assignment.variant, assignment.event,
                    assignment.day_key,
                    Exists(attended(-1)), Exists(attended(0)),
                    Exists(attended(1)),
                    where=in_(assignment.variant, list(sub_ids))))
            rows.extend(cursor)
        today = {}
        counts = {}
        for variant_id, event_id, day_key, before, same, after in rows:
            if event_id not in today:
                today[event_id] = Event(event_id).day_key(now)
            figures = counts.setdefault(variant_id, [0, 0, 0, 0, 0])
            figures[0] += 1
            if day_key + 1 < today[event_id]:
                figures[1] += 1
                figures[2] += bool(after)
            if before and day_key < today[event_id]:
                figures[3] += 1
                figures[4] += bool(same)
        return {k: tuple(v) for k, v in counts.items()}
