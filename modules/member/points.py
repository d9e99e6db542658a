# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import LedgerAccessError, PointsError


class PointsLine(ModelSQL, ModelView):
    "Points Line"
    __name__ = 'member.points.line'

    member = fields.Many2One(
        'member.member', "Member", required=True, ondelete='RESTRICT')
    date = fields.DateTime("Date", required=True)
    points = fields.Integer("Points", required=True)
    reason = fields.Char("Reason", required=True)
    origin = fields.Reference(
        "Origin", selection='get_origin',
        help="The document that earned or spent the points.")
    idempotency_key = fields.Char(
        "Idempotency Key",
        help="A key posted once only: posting it again returns this line.")
    reversal = fields.Boolean(
        "Reversal",
        help="Cancels points earned before: also lowers the lifetime points.")
    balance_after = fields.Integer("Balance After", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('member')
        t = cls.__table__()
        cls._sql_constraints += [
            ('idempotency_key_unique', Unique(t, t.idempotency_key),
                'member.msg_points_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.member, Index.Range()), (t.id, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def _get_origin(cls):
        "Return the models that may be the origin of a line"
        return ['res.user']

    @classmethod
    def get_origin(cls):
        pool = Pool()
        IrModel = pool.get('ir.model')
        get_name = IrModel.get_name
        models = cls._get_origin()
        return [(None, '')] + [(m, get_name(m)) for m in models]

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(
            mode, lines, values=values, external=external)
        if mode == 'create':
            if not Transaction().context.get('_member_points_posting'):
                raise LedgerAccessError(gettext(
                        'member.msg_points_line_post_only'))
        elif mode in {'write', 'delete'}:
            raise LedgerAccessError(gettext(
                    'member.msg_points_line_immutable'))

    @classmethod
    def copy(cls, lines, default=None):
        if not lines:
            return []
        raise LedgerAccessError(gettext('member.msg_points_line_immutable'))


class AdjustStart(ModelView):
    "Adjust Points"
    __name__ = 'member.points.adjust.start'

    member = fields.Many2One('member.member', "Member", readonly=True)
    balance = fields.Integer("Current Balance", readonly=True)
    points = fields.Integer(
        "Points", required=True,
        help="Positive to add points, negative to remove them.")
    reason = fields.Char("Reason", required=True)
    reversal = fields.Boolean(
        "Reversal",
        states={
            'invisible': Eval('points', 0) >= 0,
            },
        help="Check to cancel points earned by mistake: the lifetime points "
        "are lowered too, which may lower the tier.")


class Adjust(Wizard):
    "Adjust Points"
    __name__ = 'member.points.adjust'

    start = StateView('member.points.adjust.start',
        'member.points_adjust_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Adjust", 'adjust', 'tryton-ok', default=True),
            ])
    adjust = StateTransition()

    def default_start(self, fields):
        return {
            'member': self.record.id,
            'balance': self.record.points_balance,
            }

    def transition_adjust(self):
        pool = Pool()
        Member = pool.get('member.member')
        if not self.start.points:
            raise PointsError(gettext(
                    'member.msg_points_invalid', points=self.start.points))
        Member.add_points(
            self.record, self.start.points, self.start.reason,
            origin='res.user,%s' % Transaction().user,
            reversal=self.start.points < 0 and bool(self.start.reversal))
        return 'end'
