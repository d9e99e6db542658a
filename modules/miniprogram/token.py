# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt
import hashlib
import time
import uuid

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from . import auth
from .exceptions import TokenInvalid


def _hash(jti):
    return hashlib.sha256(jti.encode('utf-8')).hexdigest()


class RefreshToken(ModelSQL, ModelView):
    "Mini-program Refresh Token"
    __name__ = 'miniprogram.refresh_token'

    member = fields.Many2One(
        'member.member', "Member", required=True, readonly=True,
        ondelete='CASCADE')
    jti_hash = fields.Char(
        "Token Hash", required=True, readonly=True, strip=False,
        help="The SHA-256 of the token's identifier: the token itself is "
        "never stored.")
    family = fields.Char(
        "Family", required=True, readonly=True,
        help="Tokens rotated from the same login share a family.")
    expires = fields.DateTime("Expires", required=True, readonly=True)
    revoked = fields.DateTime("Revoked", readonly=True)
    revoke_reason = fields.Selection([
            (None, ""),
            ('rotated', "Rotated"),
            ('logout', "Logout"),
            ('reuse', "Reuse Detected"),
            ('staff', "Revoked by Staff"),
            ('erased', "Personal Data Erased"),
            ('password_reset', "Password Reset"),
            ], "Revoke Reason", readonly=True)
    state = fields.Function(fields.Selection([
                ('active', "Active"),
                ('expired', "Expired"),
                ('revoked', "Revoked"),
                ], "State"), 'get_state')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('jti_hash_unique', Unique(t, t.jti_hash),
                'miniprogram.msg_refresh_token_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.family, Index.Equality())))
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'revoke': {
                    'invisible': Eval('state') != 'active',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def __post_setup__(cls):
        super().__post_setup__()
        # Refuse to serve the API with a missing or weak secret
        if not Pool.test:
            auth.jwt_secret()

    def get_state(self, name):
        if self.revoked:
            return 'revoked'
        if self.expires < dt.datetime.now():  # real time
            return 'expired'
        return 'active'

    def get_rec_name(self, name):
        return '%s (%s)' % (self.member.rec_name, self.family[:8])

    @classmethod
    @ModelView.button
    def revoke(cls, tokens):
        "Revoke the families of tokens (staff action)"
        cls._revoke_families({t.family for t in tokens}, 'staff')

    @classmethod
    def _revoke(cls, column, values, reason):
        "Revoke the tokens not revoked yet whose column is in values"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        values = list(values)
        if values:
            cursor.execute(*table.update(
                    [table.revoked, table.revoke_reason],
                    [dt.datetime.now(), reason],  # real time
                    where=getattr(table, column).in_(values)
                    & (table.revoked == None)))  # noqa: E711

    @classmethod
    def _revoke_families(cls, families, reason):
        cls._revoke('family', families, reason)

    @classmethod
    def revoke_members(cls, members, reason):
        "Revoke every refresh token of members"
        cls._revoke('member', [m.id for m in members], reason)

    @classmethod
    def issue(cls, member, family=None, auth_time=None):
        """Return a new access and refresh token pair for member as the
        dictionary the API answers.

        auth_time is when the member logged in (a timestamp, default now):
        both tokens carry it, and the refreshed ones keep it, so that a
        route may ask for a recent login (DELETE me)."""
        family = family or uuid.uuid4().hex
        if auth_time is None:
            # real time: the login time of the JWT, beside its iat and exp
            auth_time = int(time.time())
        access, _ = auth.encode(member.id, 'access', auth.access_ttl(),
            extra={'auth_time': auth_time})
        refresh, claims = auth.encode(
            member.id, 'refresh', auth.refresh_ttl(),
            extra={'fam': family, 'auth_time': auth_time})
        with without_check_access():
            cls.create([{
                        'member': member.id,
                        'jti_hash': _hash(claims['jti']),
                        'family': family,
                        # real time: the expiry of the JWT
                        'expires': dt.datetime.utcfromtimestamp(
                            claims['exp']),
                        }])
        return {
            'access_token': access,
            'refresh_token': refresh,
            'token_type': 'Bearer',
            'expires_in': auth.access_ttl(),
            }

    @classmethod
    def _find(cls, token):
        claims = auth.decode(token, 'refresh')
        with without_check_access():
            tokens = cls.search([('jti_hash', '=', _hash(claims['jti']))])
        if not tokens:
            raise TokenInvalid(gettext('miniprogram.msg_token_invalid'))
        token, = tokens
        # Serialise concurrent uses of the same token
        cls.lock([token])
        return cls(token.id)

    @classmethod
    def rotate(cls, token):
        """Revoke the refresh token and return a new pair of the same
        family.  A token used twice revokes its whole family."""
        pool = Pool()
        Member = pool.get('member.member')
        record = cls._find(token)
        # A token issued before auth_time was carried is no recent login
        auth_time = auth.decode(token, 'refresh').get('auth_time', 0)
        if record.revoked:
            # Reuse of a rotated (stolen?) token: end the whole family
            cls._revoke_families([record.family], 'reuse')
            raise TokenInvalid(gettext('miniprogram.msg_token_reused'))
        if record.expires < dt.datetime.now():  # real time
            raise TokenInvalid(gettext('miniprogram.msg_token_invalid'))
        member = Member(record.member.id)
        if not member.active:
            raise TokenInvalid(gettext('miniprogram.msg_token_invalid'))
        with without_check_access():
            cls.write([record], {
                    'revoked': dt.datetime.now(),  # real time
                    'revoke_reason': 'rotated',
                    })
        return member, cls.issue(
            member, family=record.family, auth_time=auth_time)

    @classmethod
    def logout(cls, token):
        "Revoke the family of the refresh token"
        record = cls._find(token)
        cls._revoke_families([record.family], 'logout')

    @classmethod
    def purge(cls):
        "Delete the tokens expired for more than a day (cron)"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(
                # real time: the expiry of the JWT (see auth.encode)
                where=table.expires < dt.datetime.now() - dt.timedelta(
                    days=1)))
