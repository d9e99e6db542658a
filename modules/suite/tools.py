# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The transaction and time helpers that every module of the suite shares:
one home each (see doc/development.rst)."""
import datetime as dt
import random
import time
import weakref
from contextlib import contextmanager

from trytond import backend, config
from trytond.model.fields import Field
from trytond.model.modelstorage import local_cache
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

UTC = dt.timezone.utc


@contextmanager
def savepoint(name='suite'):
    """Roll back to a savepoint when the block fails, so that an expected
    error (a unique or exclusion violation) leaves the transaction usable.

    PostgreSQL aborts the whole transaction on an error, so the block is
    wrapped in a savepoint there.  SQLite only aborts the failed statement
    (and shares the connection of an in-memory database with the
    transaction that Tryton opens to report a constraint error, which
    releases every savepoint), so nothing is needed there."""
    if backend.name != 'postgresql':
        yield
        return
    connection = Transaction().connection
    cursor = connection.cursor()
    name = '%s_%d' % (name, random.randrange(10 ** 9))
    cursor.execute('SAVEPOINT %s' % name)
    try:
        yield
    except Exception:
        rollback(connection, name)
        raise
    else:
        cursor.execute('RELEASE SAVEPOINT %s' % name)


def rollback(connection, savepoint=None):
    """Roll the transaction of connection back at the database (to
    savepoint when given), keeping the statements prepared on the
    connection.

    psycopg deallocates every prepared statement of the connection on a
    rollback (its rollback(), or a ROLLBACK executed, to a savepoint too):
    each statement was then planned again on its next five uses, which
    made the second of two copies of a check-in (its statement refused,
    the transaction started again) cost PostgreSQL four times a check-in.
    A prepared statement is the session's, not the transaction's: it
    stays valid."""
    if backend.name != 'postgresql':
        if savepoint is None:
            connection.rollback()
        else:
            connection.cursor().execute('ROLLBACK TO SAVEPOINT %s' % savepoint)
        return
    from psycopg import errors, generators, pq
    pgconn = connection.pgconn
    if savepoint is None:
        if pgconn.transaction_status == pq.TransactionStatus.IDLE:
            return
        command = b'ROLLBACK'
    else:
        command = b'ROLLBACK TO SAVEPOINT ' + savepoint.encode('ascii')
    pgconn.send_query(command)
    result = connection.wait(generators.execute(pgconn))[-1]
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(
            result, encoding=connection.info.encoding)


def rollback_transaction(transaction=None):
    """Tryton's Transaction.rollback of transaction (default the current
    one), keeping the statements prepared on its connection (see
    rollback)"""
    if transaction is None:
        transaction = Transaction()
    if transaction.connection is not None:
        rollback(transaction.connection)
    transaction.rollback()


def retries():
    "The number of times a refused transaction is tried again"
    return config.getint('database', 'retry', default=5)


def contention(error):
    """Tell if a database error is a conflict with concurrent transactions
    (a lock held too long, a serialization failure, a deadlock, SQLite's
    busy database): the work is tried again; the database is not
    unavailable"""
    if backend.name == 'postgresql':
        from psycopg import errors
        return isinstance(error, (errors.SerializationFailure,
                errors.DeadlockDetected, errors.LockNotAvailable))
    text = str(error).lower()
    return 'locked' in text or 'busy' in text


def backoff(count, low=0.01, high=0.05):
    "Sleep before the count-th new try (real time: the other side waits)"
    time.sleep(random.uniform(low, high) * count)


def run_apart(func, retries_=None, **context):
    """Run func() in a transaction of its own and commit it; when the
    database refuses (a lock or a serialization failure) try again after a
    pause, at most retries_ times (default: [database] retry).  context
    goes to Transaction.new_transaction (for example _lock_records); the
    locks that func asks for (Tryton 8.0: Model.lock raises
    TransactionError) are added to it and the transaction starts again."""
    transaction = Transaction()
    if retries_ is None:
        retries_ = retries()
    count = 0
    while True:
        try:
            return _with_locks(transaction.new_transaction, func, context)
        except backend.DatabaseOperationalError:
            if count >= retries_:
                raise
            count += 1
            backoff(count)


def rec_name_domain(clause, *names):
    """Return the domain of a search_rec_name clause on the fields names:
    any of them matches, or none for a negative operator"""
    bool_op = ('AND' if clause[1].startswith('!')
        or clause[1].startswith('not ') else 'OR')
    return [bool_op] + [(name,) + tuple(clause[1:]) for name in names]


def parse_datetime(value):
    """Return the naive UTC datetime of an ISO 8601 string with an offset
    (or Z) or of an aware datetime; raise ValueError otherwise"""
    if isinstance(value, str):
        text = value
        if text.endswith(('Z', 'z')):
            text = text[:-1] + '+00:00'
        value = dt.datetime.fromisoformat(text)
    if not isinstance(value, dt.datetime):
        raise ValueError("not a datetime: %r" % (value,))
    if value.tzinfo is None:
        raise ValueError("missing offset: %s" % value)
    return value.astimezone(UTC).replace(tzinfo=None)


def isoformat(value, tzinfo=None):
    """Return ISO 8601 with the offset of tzinfo (default UTC) of a naive UTC
    (Tryton's convention) or aware datetime; a date as is; None as None"""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tzinfo or UTC).isoformat()


def relax_pool_checks(window=None):
    """Check a pooled PostgreSQL connection only when it has not been handed
    out for window seconds (config [database] pool_check_window, default
    5; 0 checks every time, as Tryton does), in the pools that this process
    creates from now on (the web workers, scripts/gunicorn.conf.py: Tryton
    creates them at the first request).

    Tryton's pool sends an empty query on every connection it hands out
    (psycopg_pool's ConnectionPool.check_connection, which Tryton gives as
    the check of its pools): a round trip of each request.  A connection
    used a moment ago is alive; one broken since (a restarted PostgreSQL)
    fails at the request's first statement, which the write transactions
    retry ([database] retry) and the pool then drops.  Return whether the
    check was relaxed."""
    if window is None:
        window = config.getfloat('database', 'pool_check_window', default=5)
    if window <= 0:
        return False
    from psycopg_pool import ConnectionPool
    check_connection = getattr(ConnectionPool.check_connection,
        'checks_every_time', ConnectionPool.check_connection)
    handed = weakref.WeakKeyDictionary()

    def check(connection):
        now = time.monotonic()
        last = handed.get(connection)
        if last is None or now - last > window:
            check_connection(connection)
        handed[connection] = now
    check.checks_every_time = check_connection
    ConnectionPool.check_connection = staticmethod(check)
    return True


# What is kept for a transaction until it stops: {transaction: {name: value}}
# (not weak: what is kept, instances, refers to its transaction)
_memos = {}


def transaction_memo(name, transaction=None):
    """The dictionary that the transaction (default the current one) keeps
    under name until it stops: one home for what is kept per transaction
    (a weak key would never be freed, the instances kept refer to their
    transaction: the memory of every request would stay)."""
    if transaction is None:
        transaction = Transaction()
    memo = _memos.get(transaction)
    if memo is None:
        memo = _memos[transaction] = {}
        transaction.atexit(_memos.pop, transaction, None)
    try:
        return memo[name]
    except KeyError:
        found = memo[name] = {}
        return found


def instance(Model, id, **values):
    """Model(id, **values), with the record cache of the transaction and
    the local cache of Model that the instances made before in the same
    user and context took: Tryton builds both again for each instance
    (Transaction.get_cache, modelstorage.local_cache), as browse shares
    them between the records it makes.  values of fields that store what
    they are given (not relations, not with context) are stored as
    Field.__set__ would, without its per-field assignment and the copy of
    the values that Model.__init__ makes."""
    transaction = Transaction()
    memo = transaction_memo('suite.record_cache', transaction)
    found = memo.get(None)
    if (found is None or found[0] is not transaction.context
            or found[1] != transaction.user):
        found = memo[None] = (transaction.context, transaction.user,
            transaction.get_cache(), {})
    local = found[3].get(Model.__name__)
    if local is None:
        local = found[3][Model.__name__] = local_cache(Model, transaction)
    stored = _stored_values(Model, values) if values else None
    if values and stored is None:
        return Model(id, _transaction=transaction,
            _transaction_cache=found[2], _local_cache=local, **values)
    record = Model(id, _transaction=transaction,
        _transaction_cache=found[2], _local_cache=local)
    if stored:
        record._values = Model._record(**stored)
        if id is not None:
            record._init_values = Model._record(**stored)
    return record


def _stored_values(Model, values):
    """Return values as the fields of Model store them, or None when one of
    them converts on assignment more than to its Python type"""
    stored = {}
    for name, value in values.items():
        field = Model._fields[name]
        if type(field).__set__ is not Field.__set__ or field.context:
            return None
        if (field._py_type and value is not None
                and not isinstance(value, field._py_type)):
            value = field._py_type(value)
        stored[name] = value
    return stored


def remember(memo, key, value, size):
    """Keep value under key in memo, a dictionary of the process bounded
    to size entries by emptying it when full (cheaper than an LRU on a hot
    path: what is dropped is made again at its next use); return value"""
    if len(memo) >= size:
        memo.clear()
    memo[key] = value
    return value


# The values of cached_instance as the fields store them, per process:
# {(model, id): (values, {field: value})}
_instance_templates = {}
INSTANCE_TEMPLATES_SIZE = 4096


# The subclasses of the models of cached_instance whose cached fields are
# slots: {(Model, names): class}, bounded as the templates (a pool loaded
# again makes new models)
_snapshot_classes = {}
SNAPSHOT_CLASSES_SIZE = 256


def _snapshot_class(Model, names):
    """Return the subclass of Model whose fields names are slots (Model
    itself without names).  A slot of the subclass shadows the field of
    Model: reading it is a read of the instance's own value, without a
    Python call, where reading a field of Model calls four functions
    (Field.__get__, ModelStorage and Model.__getattr__, the getter of the
    values), about 35 times longer (a cached event's fields are read some
    forty times by a check-in).  A field not in names, or a slot left
    empty (an instance made by Model's own means, self.__class__(id)),
    is read by Model's __getattr__ as before.  An instance of it must not
    be written: an assignment to a slot does not reach its values."""
    if not names:
        return Model
    key = (Model, names)
    cls = _snapshot_classes.get(key)
    if cls is None:
        cls = remember(_snapshot_classes, key, type(Model)(
                Model.__qualname__.rsplit('.', 1)[-1] + 'Snapshot',
                (Model,), {
                    '__slots__': names,
                    '__name__': Model.__name__,
                    '__module__': Model.__module__,
                    }), SNAPSHOT_CLASSES_SIZE)
    return cls


def cached_instance(Model, id, values, related=None):
    """Return the instance of Model id holding values, a dictionary of
    field values cached per process (Tryton's Cache: its identity tells
    whether it changed; keys starting with _ are not fields), without a
    query: the same instance within a transaction.

    The values as the fields store them are made once per process and
    copied into each new instance, instead of being assigned field by
    field (Model(id, **values)); the instance is of a subclass of Model
    whose slots hold them (_snapshot_class): it is read, never written.
    related: {field: convert or None} of the fields whose value holds
    records (Many2One, One2Many), which belong
    to their transaction: assigned to each instance, converted from the
    cached value by convert, unless empty (None, no record)."""
    transaction = Transaction()
    key = (Model.__name__, id)
    # {(model, id): (values, instance)}
    memo = transaction_memo('suite.cached_instance', transaction)
    found = memo.get(key)
    if found is not None and found[0] is values:
        return found[1]
    template = _instance_templates.get(key)
    if template is None or template[0] is not values:
        related = related or {}
        built = Model(id, **{k: v for k, v in values.items()
                if not k.startswith('_') and k not in related})
        stored = dict(built._values._items())
        # An empty relation is stored as its field stores it (None, an
        # empty tuple), not assigned to each instance
        stored.update((n, None if values[n] is None else ())
            for n in related if not values[n])
        # The fields read from a slot: those held as they are stored
        slots = tuple(sorted(n for n in stored if n not in related))
        template = remember(_instance_templates, key,
            (values, stored, {n: c for n, c in related.items()
                    if values[n]}, slots,
                tuple((n, stored[n]) for n in slots)),
            INSTANCE_TEMPLATES_SIZE)
    record = instance(_snapshot_class(Model, template[3]), id)
    record._values = Model._record(**template[1])
    record._init_values = Model._record(**template[1])
    for name, value in template[4]:
        setattr(record, name, value)
    for name, convert in template[2].items():
        value = values[name]
        setattr(record, name, convert(value) if convert else value)
        setattr(record._init_values, name, getattr(record._values, name))
    memo[key] = (values, record)
    return record


def triggers(model_name, mode):
    """Return the triggers of model_name on mode (ir.trigger get_triggers)
    without its context-keyed cache when no trigger of any state exists on
    them (the usual case: a hot path asks it for each record it writes
    with SQL), and without making the instances of an empty list; once
    none is found, the transaction asks no cache again (until a trigger
    changes: suite's ir.trigger on_modification)"""
    transaction = Transaction()
    if transaction.context.get('_no_trigger'):
        return []
    key = (model_name, mode)
    none = transaction_memo('suite.no_triggers', transaction)
    if key in none:
        return []
    Trigger = Pool().get('ir.trigger')
    exists = Trigger._suite_exists_cache.get(key)
    if exists is None:
        with without_check_access(), \
                Transaction().set_context(active_test=False):
            exists = bool(Trigger.search([
                        ('model.name', '=', model_name),
                        ('on_%s_' % mode, '=', True),
                        ], limit=1))
        Trigger._suite_exists_cache.set(key, exists)
    if not exists:
        none[key] = True
        return []
    # The cache gives back the list of ids as a tuple, None when not kept
    ids = Trigger._get_triggers_cache.get(key)
    if ids is not None and not len(ids):
        return []
    return Trigger.get_triggers(model_name, mode)


def committed(database, func, user=0, context=None):
    """Run func() in a committed transaction of database and return its
    result, the transaction started again with the locks it asks for
    (Tryton 8.0's protocol: Model.lock raises TransactionError)"""
    return _with_locks(lambda **extras: Transaction().start(
            database, user, context=context, **extras), func, {})


def _with_locks(start, func, extras):
    """Run func() in the transaction start(**extras) and commit it; when
    func asks for locks (Tryton 8.0: Model.lock raises TransactionError,
    whose fix adds them to extras), start it again with them"""
    from trytond.transaction import TransactionError
    while True:
        with start(**extras) as transaction:
            try:
                result = func()
            except TransactionError as e:
                rollback_transaction(transaction)
                e.fix(extras)
                continue
            transaction.commit()
            return result
