# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""When POST checkins goes to the intake of check-ins (intake.py): the
configuration and the measure of a saturated database, read by the HTTP
layer (api.py) before the transaction starts"""
import collections
import logging
import threading
import time

from trytond import backend, config

logger = logging.getLogger(__name__)

MODES = {'off', 'auto', 'always'}
# The WSGI environ key set when a request is answered by the intake
DIVERTED = 'miniprogram.intake'


def mode():
    "[miniprogram] intake: off (default), auto or always"
    value = (config.get('miniprogram', 'intake', default='off')
        or 'off').strip().lower()
    if value not in MODES:
        logger.warning("[miniprogram] intake = %r is not one of %s: off",
            value, ', '.join(sorted(MODES)))
        return 'off'
    return value


def latency_threshold():
    """[miniprogram] intake_latency: the seconds (default 0.5) above which
    the 90th percentile of the recent check-ins of the process says the
    database is saturated"""
    return config.getfloat('miniprogram', 'intake_latency', default=0.5)


def pool_threshold():
    """[miniprogram] intake_pool_waiting: the number of requests of the
    process waiting for a connection of the PostgreSQL pool (default 1) at
    which the database is saturated"""
    return config.getint('miniprogram', 'intake_pool_waiting', default=1)


def window():
    """[miniprogram] intake_window: the seconds of recent check-ins measured
    (default 10): without one in that time, the check-ins are recorded
    again, which measures again"""
    return config.getfloat('miniprogram', 'intake_window', default=10)


# The recent check-ins recorded by this process: (monotonic end, seconds)
_latencies = collections.deque(maxlen=1000)
_latencies_lock = threading.Lock()
# The fewest check-ins of the window that say anything
MIN_SAMPLES = 5


def note_latency(seconds, now=None):
    "Measure a check-in recorded in seconds by this process"
    now = time.monotonic() if now is None else now  # real time
    with _latencies_lock:
        _latencies.append((now, seconds))


def recent_latency(now=None):
    """The 90th percentile of the check-ins of the window, or None when
    there are too few"""
    now = time.monotonic() if now is None else now  # real time
    since = now - window()
    with _latencies_lock:
        while _latencies and _latencies[0][0] < since:
            _latencies.popleft()
        values = sorted(s for _, s in _latencies)
    if len(values) < MIN_SAMPLES:
        return None
    return values[min(len(values) - 1, int(len(values) * 0.9))]


def pool_waiting(database_name):
    "The requests of this process waiting for a connection (PostgreSQL)"
    if backend.name != 'postgresql':
        return 0
    try:
        connpool = backend.Database(database_name)._connpool
        return connpool.get_stats().get('requests_waiting', 0)
    except Exception:
        return 0


def saturated(database_name):
    """Tell if a check-in must go to the intake: always, or in auto mode
    when the pool or the recent check-ins say the database is saturated"""
    current = mode()
    if current == 'always':
        return True
    if current == 'off':
        return False
    latency = recent_latency()
    if latency is not None and latency > latency_threshold():
        return True
    return pool_waiting(database_name) >= pool_threshold()


def reset():
    "Forget the check-ins measured (tests)"
    with _latencies_lock:
        _latencies.clear()
