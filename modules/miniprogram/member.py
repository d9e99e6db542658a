# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import time

from trytond import config
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import SQLConstraintError
from trytond.modules.member.exceptions import ConcurrentCreation
from trytond.modules.member.member import (
    mask_phone, normalize_phone, violated_constraint)
from trytond.modules.outbox import wechat
from trytond.modules.outbox.wechat import WeChatError, code2session
from trytond.modules.suite.tools import savepoint
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from . import auth
from .exceptions import (
    InvalidCode, InvalidCredentials, MiniprogramError, PhoneTaken,
    WeChatUnavailable)


class Member(metaclass=PoolMeta):
    __name__ = 'member.member'

    wechat_session_key = fields.Char(
        "WeChat Session Key", readonly=True, strip=False)

    @classmethod
    def read(cls, ids, fields_names):
        # The WeChat session key never leaves the server
        result = super().read(ids, fields_names)
        cache = Transaction().get_cache().get(cls.__name__)
        for values in result:
            if 'wechat_session_key' in values:
                values['wechat_session_key'] = None
            if cache and values['id'] in cache:
                cache[values['id']]['wechat_session_key'] = None
        return result

    @classmethod
    def copy(cls, members, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('wechat_session_key', None)
        return super().copy(members, default=default)

    @classmethod
    def _mp_phone(cls, phone):
        "The E.164 form of phone; a phone is required (blank is invalid)"
        try:
            normalized = normalize_phone(phone)
            if not normalized:
                raise ValueError(phone)
            return normalized
        except ValueError:
            raise MiniprogramError(
                gettext('member.msg_member_phone_invalid', phone=phone),
                details={'field': 'phone'})

    @classmethod
    def mp_register(cls, phone, password, name=None):
        "Create a member with a phone and a password and return it"
        phone = cls._mp_phone(phone)
        cls.validate_password(password)
        with without_check_access():
            if cls.search([('phone', '=', phone)], limit=1):
                raise PhoneTaken(gettext('miniprogram.msg_phone_taken'))
            try:
                # The failed insert must not end the transaction on
                # PostgreSQL: the error is answered with a translated text
                # Without a name the member gets the neutral default name
                # (never the phone: names are shown to other people)
                with savepoint('miniprogram_register'):
                    member, = cls.create([{
                                'name': (name or '').strip() or None,
                                'phone': phone,
                                }])
            except SQLConstraintError as e:
                # A concurrent registration of the phone was committed
                # after this transaction started
                if violated_constraint(cls, e) == 'phone_unique':
                    raise PhoneTaken(
                        gettext('miniprogram.msg_phone_taken')) from e
                raise
        cls.set_password([member], password)
        return member

    @classmethod
    def _throttle_key(cls, phone):
        "The login of the failed attempts of phone"
        return phone or ''

    @classmethod
    def mp_login(cls, phone, password):
        """Return the active member of phone if password matches.

        Failed attempts are counted per phone and per IP network like
        Tryton's own logins; past the limits LoginThrottled is raised."""
        pool = Pool()
        Attempt = pool.get('miniprogram.login.attempt')
        try:
            phone = normalize_phone(phone)
        except ValueError:
            pass
        key = cls._throttle_key(phone)
        with without_check_access():
            Attempt.check(key)
            members = cls.search([('phone', '=', phone)], limit=1)
            if members and members[0].check_password(password):
                Attempt.remove(key)
                return members[0]
            Attempt.add(key)
        raise InvalidCredentials(
            gettext('miniprogram.msg_invalid_credentials'))

    @classmethod
    def mp_wechat_session(cls, code):
        """Exchange a wx.login code for its WeChat session: {'openid',
        'session_key', 'unionid'?}.  A code is valid once: the caller keeps
        the session for a restarted transaction."""
        try:
            return code2session(code)
        except WeChatError as e:
            if e.code_invalid:
                from .exceptions import WeChatCodeInvalid
                raise WeChatCodeInvalid(
                    gettext('miniprogram.msg_wechat_code_invalid'))
            raise WeChatUnavailable(
                gettext('miniprogram.msg_wechat_unavailable'))

    @classmethod
    def mp_wechat_login(cls, code, session=None):
        """Return the member of the openid of a wx.login code (or of its
        WeChat session, already exchanged), created on first login; the
        session key is kept on the server.

        Idempotent under concurrency: when a concurrent first login of the
        same openid (or unionid) created the member after this transaction
        started, the transaction restarts and finds it."""
        if session is None:
            session = cls.mp_wechat_session(code)
        openid = session['openid']
        unionid = session.get('unionid') or None
        with without_check_access():
            members = cls.search([('wechat_openid', '=', openid)], limit=1)
            values = {'wechat_session_key': session.get('session_key')}
            if unionid:
                values['wechat_unionid'] = unionid
                if not members:
                    # The person may be known by the unionid only (from
                    # another application of the same open platform)
                    others = cls.search(
                        [('wechat_unionid', '=', unionid)], limit=1)
                    if others and not others[0].wechat_openid:
                        members = others
                        values['wechat_openid'] = openid
                    elif others:
                        # The unionid belongs to another openid's member
                        del values['wechat_unionid']
                elif (members[0].wechat_unionid
                        and members[0].wechat_unionid != unionid):
                    del values['wechat_unionid']
            if members:
                member, = members
                cls.write([member], values)
                return member
            name = gettext('miniprogram.msg_wechat_user')
            try:
                with savepoint('miniprogram_wechat_login'):
                    member, = cls.create([dict(values,
                                name=name, wechat_openid=openid)])
            except SQLConstraintError as e:
                constraint = violated_constraint(cls, e)
                if constraint in {
                        'wechat_openid_unique', 'wechat_unionid_unique'}:
                    raise ConcurrentCreation(
                        'wechat:%s' % constraint) from e
                raise
        return member

    def mp_update_profile(self, values):
        "Change the profile fields a member may change themself"
        allowed = {'name', 'avatar_url', 'address'}
        unknown = set(values) - allowed
        if unknown:
            raise MiniprogramError(
                gettext('miniprogram.msg_field_not_writable',
                    fields=', '.join(sorted(unknown))),
                details={'fields': sorted(unknown)})
        with without_check_access():
            to_write = {}
            if 'name' in values:
                name = (values['name'] or '').strip()
                if not name:
                    raise MiniprogramError(
                        gettext('miniprogram.msg_name_required'),
                        details={'field': 'name'})
                to_write['name'] = name
            for field in ['avatar_url', 'address']:
                if field in values:
                    to_write[field] = values[field] or None
            if to_write:
                self.write([self], to_write)

    def mp_delete_account(self, password=None, auth_time=None):
        """Delete the account of the member (API DELETE me), confirmed by
        the member's password or by a login (auth_time, a timestamp) within
        [miniprogram] reauth_window seconds.

        Every token is revoked and the personal data erased by Tryton's
        Erase Party (extended by the modules for what they store); the
        check-ins, bookings and points lines stay, linked to the erased
        member, so that the statistics do not change.  Failed passwords
        are counted and throttled like logins."""
        pool = Pool()
        Attempt = pool.get('miniprogram.login.attempt')
        cls = self.__class__
        key = 'delete:%s' % self.id
        with without_check_access():
            if password is not None:
                Attempt.check(key)
                if not self.check_password(password):
                    Attempt.add(key)
                    raise InvalidCredentials(
                        gettext('miniprogram.msg_delete_invalid_password'))
                Attempt.remove(key)
            elif not (isinstance(auth_time, (int, float))
                    # real time: auth_time is the login time of the JWT
                    and 0 <= time.time() - auth_time <= auth.reauth_window()):
                raise InvalidCredentials(
                    gettext('miniprogram.msg_delete_confirm',
                        minutes=auth.reauth_window() // 60),
                    details={'reason': "password or recent login required"})
            if self.phone:
                Attempt.remove(cls._throttle_key(self.phone))
        cls.erase_personal_data([self])

    # Verification of the phone: SMS codes and WeChat's getPhoneNumber

    @classmethod
    def mp_sms_code(cls, phone, purpose):
        """Send an SMS code to phone for purpose (reset or login) if it is
        an active member's; the same work and answer otherwise (see
        miniprogram.sms.code).  Return the code record."""
        pool = Pool()
        Code = pool.get('miniprogram.sms.code')
        return Code.send_code(cls._mp_phone(phone), purpose)

    @classmethod
    def mp_reset_password(cls, phone, code, password):
        """Set the password of the member of phone, proven by an SMS code
        for reset, and return the member.  Every refresh token of the
        member is revoked and the failed logins of the phone forgotten.
        A password refused by the rules uses no code."""
        pool = Pool()
        Code = pool.get('miniprogram.sms.code')
        RefreshToken = pool.get('miniprogram.refresh_token')
        Attempt = pool.get('miniprogram.login.attempt')
        phone = cls._mp_phone(phone)
        cls.validate_password(password)
        member = Code.verify(phone, 'reset', code)
        # Refused with the member's own attributes: the transaction is
        # rolled back, the code stays usable
        cls.set_password([member], password)
        with without_check_access():
            RefreshToken.revoke_members([member], 'password_reset')
            Attempt.remove(cls._throttle_key(phone))
        return member

    @classmethod
    def mp_sms_login(cls, phone, code):
        "Return the member of phone, proven by an SMS code for login"
        pool = Pool()
        Code = pool.get('miniprogram.sms.code')
        return Code.verify(cls._mp_phone(phone), 'login', code)

    @classmethod
    def mp_wechat_phone_number(cls, code):
        """Return the phone (E.164) that WeChat verified for the code of a
        getPhoneNumber button, asked with the shared access token (renewed
        once when WeChat refuses it).  A code is valid once: the caller
        keeps the phone for a restarted transaction.

        WeChat's refusals of the code are InvalidCode (422), its other
        errors and an unreachable WeChat WeChatUnavailable (502)."""
        pool = Pool()
        Token = pool.get('outbox.wechat.token')
        try:
            info = Token.call(wechat.get_phone_number, code)
        except WeChatError as e:
            if e.errcode in wechat.PHONE_CODE_INVALID:
                raise InvalidCode(
                    gettext('miniprogram.msg_wechat_phone_code_invalid'),
                    details={'reason': 'wechat', 'errcode': e.errcode})
            raise WeChatUnavailable(
                gettext('miniprogram.msg_wechat_unavailable'),
                details={'errcode': e.errcode} if e.errcode else {})
        appid = config.get('miniprogram', 'appid', default='')
        watermark = (info or {}).get('watermark') or {}
        if info is None or (watermark.get('appid')
                and watermark['appid'] != appid):
            # Not an answer for this mini-program
            raise WeChatUnavailable(
                gettext('miniprogram.msg_wechat_unavailable'),
                details={'reason': 'appid' if info else 'token'})
        try:
            phone = normalize_phone('+%s%s' % (
                    info.get('countryCode') or '86',
                    info.get('purePhoneNumber') or ''))
        except ValueError:
            phone = None
        if not phone:
            raise InvalidCode(
                gettext('miniprogram.msg_wechat_phone_refused'),
                details={'reason': 'not_mobile'})
        return phone

    def mp_bind_phone(self, phone):
        """Give the member the phone verified by WeChat.

        When another member (active or not) holds that phone, PhoneTaken
        is raised and nothing changes: accounts are never merged."""
        cls = self.__class__
        with without_check_access():
            if self.phone == phone:
                return self
            with Transaction().set_context(active_test=False):
                others = cls.search([
                        ('phone', '=', phone),
                        ('id', '!=', self.id),
                        ], limit=1)
            if others:
                raise PhoneTaken(
                    gettext('miniprogram.msg_wechat_phone_taken',
                        phone=mask_phone(phone)))
            try:
                with savepoint('miniprogram_bind_phone'):
                    cls.write([self], {'phone': phone})
            except SQLConstraintError as e:
                # Bound to another member by a concurrent request
                if violated_constraint(cls, e) == 'phone_unique':
                    raise PhoneTaken(
                        gettext('miniprogram.msg_wechat_phone_taken',
                            phone=mask_phone(phone))) from e
                raise
        return self
