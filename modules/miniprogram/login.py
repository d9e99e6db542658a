# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
import datetime as dt

from sql.aggregate import Min

from trytond import config
from trytond.i18n import gettext
from trytond.pool import PoolMeta
from trytond.res.user import LoginAttempt as _LoginAttempt
from trytond.transaction import Transaction

from .exceptions import LoginThrottled


class RetryAfterMixin:
    "The seconds to wait before a throttled login may be tried again"
    __slots__ = ()

    @classmethod
    def window(cls):
        "The seconds during which an attempt counts: [session] timeout"
        return config.getint('session', 'timeout')

    @classmethod
    def retry_after(cls, login, network=False):
        """Return the seconds until the oldest counted attempt of login (or
        of the IP network of the request) leaves the window, at least 1"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        if network:
            _, ip_network = Transaction().remote_address()
            ip_network = str(ip_network) if ip_network else None
            where = table.ip_network == ip_network
        else:
            where = table.login == login[:cls.login.size]
        cursor.execute(*table.select(Min(table.create_date),
                where=where & (table.create_date >= cls.delay())))
        oldest, = cursor.fetchone()
        if not oldest:
            return 1
        if isinstance(oldest, str):
            oldest = dt.datetime.fromisoformat(oldest)
        timeout = cls.window()
        # The attempts are dated by the database and counted against the
        # system clock by Tryton (LoginAttempt.delay)
        remaining = (oldest + dt.timedelta(seconds=timeout)
            - dt.datetime.now()).total_seconds()  # real time
        return max(1, int(remaining) + 1)


class LoginAttempt(RetryAfterMixin, _LoginAttempt):
    """The failed logins of members on the mini-program API (phone or account
    deletion), kept apart from the logins of Tryton users as web_user does;
    the same limits: [session] max_attempt per login and
    max_attempt_ip_network per IP network, within [session] timeout"""
    __name__ = 'miniprogram.login.attempt'
    _table = None  # Not the table of res.user.login.attempt

    @classmethod
    def check(cls, login):
        "Raise LoginThrottled when login or its IP network failed too often"
        per_login = config.getint('session', 'max_attempt', default=5)
        per_network = config.getint(
            'session', 'max_attempt_ip_network', default=300)
        if cls.count_ip() >= per_network:
            retry_after = cls.retry_after(login, network=True)
        elif cls.count(login) >= per_login:
            retry_after = cls.retry_after(login)
        else:
            return
        raise LoginThrottled(
            gettext('miniprogram.msg_login_throttled'),
            retry_after=retry_after)


class UserLoginAttempt(RetryAfterMixin, metaclass=PoolMeta):
    "The failed logins of Tryton users (auth/staff)"
    __name__ = 'res.user.login.attempt'
