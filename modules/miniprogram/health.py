# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The readiness of a database for the health route: what a balancer and
the operator's checks ask before they send members to this server.

Each check answers whether a part of the service works, never a figure
(those are for the operator's metrics):

- database: a transaction starts and answers;
- cron: the scheduler runs: no active task is overdue by more than the
  grace unless a task ended within it (a long task delays the others);
- worker: when Tryton's task queue has workers ([queue] worker), no task
  ready to run waits longer than the grace;
- outbox: no message due waits longer than the grace and no more than
  [miniprogram] health_outbox_depth are queued."""
import datetime as dt
import logging

from sql import Literal, Null
from sql.aggregate import Count
from sql.conditionals import Coalesce

from trytond import config
from trytond.modules.suite import clock
from trytond.modules.suite.fields import Constant
from trytond.pool import Pool
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

CHECKS = ['database', 'cron', 'worker', 'outbox']


def grace():
    "How long a task or a message may be late before it is a failure"
    return dt.timedelta(seconds=config.getint(
            'miniprogram', 'health_grace', default=600))


def outbox_depth():
    "The largest number of queued messages of a ready server"
    return config.getint('miniprogram', 'health_outbox_depth', default=10000)


def failing(database_name):
    """Return the names of the checks of database_name that fail, None when
    there is no such database (or the API is not activated in it)"""
    from .api import _activated
    try:
        if database_name not in Pool.database_list():
            with Transaction().start(None, 0, readonly=True) as transaction:
                if database_name not in transaction.database.list():
                    return None
        pool = Pool(database_name)
        with Transaction().start(database_name, 0, readonly=True):
            if database_name not in Pool.database_list():
                pool.init()
            if not _activated(pool):
                return None
            now = clock.now()
            return [name for name, check in [
                    ('cron', _cron_late),
                    ('worker', _worker_late),
                    ('outbox', _outbox_late),
                    ] if check(pool, now)]
    except Exception as error:
        logger.warning("health of %s: database unavailable: %s",
            database_name, str(error).splitlines()[0] if str(error)
            else type(error).__name__)
        return ['database']


def _exists(query):
    cursor = Transaction().connection.cursor()
    query.limit = 1
    cursor.execute(*query)
    return cursor.fetchone() is not None


def _cron_late(pool, now):
    Cron = pool.get('ir.cron')
    Log = pool.get('ir.cron.log')
    cron, log = Cron.__table__(), Log.__table__()
    since = now - grace()
    overdue = _exists(cron.select(Literal(1),
            where=(cron.active == Literal(True))
            & (cron.next_call != Null) & (cron.next_call < since)))
    if not overdue:
        return False
    return not _exists(log.select(Literal(1), where=log.ended >= since))


def _worker_late(pool, now):
    if not config.getboolean('queue', 'worker', default=False):
        # The tasks run in the request that queues them
        return False
    Queue = pool.get('ir.queue')
    queue = Queue.__table__()
    since = now - grace()
    return _exists(queue.select(Literal(1),
            where=(queue.dequeued_at == Null)
            & (Coalesce(queue.scheduled_at, queue.enqueued_at) < since)))


def _outbox_late(pool, now):
    Message = pool.get('outbox.message')
    message = Message.__table__()
    cursor = Transaction().connection.cursor()
    queued = message.state == Constant('queued')
    if _exists(message.select(Literal(1),
                where=queued & (
                    Coalesce(message.next_try, message.create_date)
                    < now - grace()))):
        return True
    limit = outbox_depth()
    cursor.execute(*message.select(Count(Literal(1)),
            where=message.id.in_(message.select(message.id,
                    where=queued, limit=limit + 1))))
    count, = cursor.fetchone()
    return count > limit
