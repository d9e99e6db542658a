# This file is part of the member module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The prepared statements of the hot paths (points postings, streaks,
check-ins) and what the ORM would do around their writes: internal to the
suite (see doc/development.rst)."""
import datetime as dt
import itertools
import re
import weakref
from decimal import Decimal

from sql import Column, Conflict, Expression, Table
from sql.functions import CurrentTimestamp, Function

from trytond import backend
from trytond.model import fields
from trytond.modules.suite.tools import triggers
from trytond.pool import Pool
from trytond.transaction import Transaction


class Returned(Expression):
    """An unqualified column name for RETURNING clauses (SQLite refuses
    the alias that python-sql puts before the column)"""
    __slots__ = ('_name',)

    def __init__(self, name):
        super().__init__()
        self._name = name

    def __str__(self):
        return '"%s"' % self._name

    @property
    def params(self):
        return ()


class NextId(Expression):
    """The next id of the table of Model, taken from its sequence, written
    in the text of a statement (PostgreSQL)"""
    __slots__ = ('_table',)

    def __init__(self, Model):
        super().__init__()
        self._table = Model._table

    def __str__(self):
        return "NEXTVAL(PG_GET_SERIAL_SEQUENCE('\"%s\"', 'id'))" % self._table

    @property
    def params(self):
        return ()


class SetConfig(Function):
    "PostgreSQL's set_config(name, value, is_local)"
    __slots__ = ()
    _function = 'SET_CONFIG'


def unchanged_row(table, id_):
    """The condition, on the row id_ of table locked FOR UPDATE by a
    statement committed alone (see fetch_alone), that it is the version the
    statement's snapshot sees.  Run by itself, the statement has the
    isolation of the session, READ COMMITTED by default: a row lock waited
    for then gives the version committed since, which the rest of the
    statement, reading its snapshot, does not see.  PostgreSQL checks the
    condition again on that version while the sub-query keeps the version
    it read once: the statement then locks and writes nothing (under
    REPEATABLE READ it fails instead)."""
    row = Table(table._name)
    return Column(table, 'xmin') == row.select(
        Column(row, 'xmin'), where=row.id == id_)


def can_be_alone(connection):
    """Whether the next statement on connection may be committed alone
    (see fetch_alone): PostgreSQL, with no transaction begun nor read
    only"""
    if backend.name != 'postgresql' or connection.read_only:
        return False
    from psycopg.pq import TransactionStatus
    return connection.pgconn.transaction_status == TransactionStatus.IDLE


def fetch_alone(key, build, /, **values):
    """Execute the query of statement(key, build, **values) and return its
    first row (None without one): committed by itself, without BEGIN and
    COMMIT (two round trips), when the transaction has begun nothing on
    its connection (can_be_alone), else in the transaction (SQLite, a
    transaction begun).

    Alone, the statement runs under the isolation of the session (see
    unchanged_row) and sees what is committed then, a later statement of
    the transaction a later snapshot.  A statement that writes must write
    everything of its request: the caller calls sealed once it wrote
    something, and any write after it then fails (the rest of the
    transaction is read only)."""
    connection = Transaction().connection
    if not can_be_alone(connection):
        return execute(key, build, **values).fetchone()
    return run_alone(connection, *_numbered_statement(key, build, values))


# The statements that run_alone prepared on each connection, by text and
# types of the parameters: {connection: {(text, types): name}}
_alone_names = weakref.WeakKeyDictionary()
_alone_numbers = itertools.count(1)
# The SQLSTATEs of a prepared statement to prepare again: one that does
# not exist (a DISCARD ALL or DEALLOCATE ALL of the session: none is
# left), one whose plan no longer gives its result's types (a table
# changed by a module's update while the server runs)
_FORGOTTEN, _STALE = b'26000', b'0A000'
# The statements run_alone keeps prepared on a connection at most (the
# types of the parameters make variants of a text: an integer is sent as
# the smallest type that holds it), as psycopg keeps its own
ALONE_MAX = 100


def run_alone(connection, text, params):
    """Execute text (numbered parameters, see numbered) with params on
    connection (psycopg, which has begun nothing: can_be_alone) and return
    its first row or None.

    The statement is sent by libpq (psycopg.pq), not by a cursor, which
    would begin a transaction first (or, switched to autocommit for it
    and back, cost more than the statement's own sending: about a tenth
    of a check-in's CPU, doc/operations.rst): PostgreSQL commits a
    statement received outside a transaction by itself.  It is prepared
    once per connection, text and types of the parameters (as psycopg
    prepares a statement it executes often); psycopg's error of its
    failure is raised, as a cursor would raise it.  At most ALONE_MAX
    statements are kept prepared per connection."""
    from psycopg import errors
    from psycopg.adapt import PyFormat, Transformer
    from psycopg.pq import DiagnosticField, ExecStatus
    transformer = Transformer(connection)
    dumped = transformer.dump_sequence(params, [PyFormat.AUTO] * len(params))
    names = _alone_names.setdefault(connection, {})
    key = (text, tuple(transformer.types))
    pgconn = connection.pgconn
    for attempt in (1, 2):
        name = names.get(key)
        if name is None:
            if len(names) >= ALONE_MAX:
                # Forgotten by the session too (outside a transaction)
                for old in names.values():
                    pgconn.exec_(b'DEALLOCATE ' + old)
                names.clear()
            name = b'suite_alone_%d' % next(_alone_numbers)
            result = pgconn.prepare(name, text, transformer.types)
            if result.status == ExecStatus.FATAL_ERROR:
                raise errors.error_from_result(
                    result, encoding=connection.info.encoding)
            names[key] = name
        result = pgconn.exec_prepared(name, dumped, transformer.formats)
        if result.status != ExecStatus.FATAL_ERROR:
            break
        code = result.error_field(DiagnosticField.SQLSTATE)
        if attempt == 1 and code == _FORGOTTEN:
            names.clear()
            continue
        elif attempt == 1 and code == _STALE:
            pgconn.exec_(b'DEALLOCATE ' + names.pop(key))
            continue
        raise errors.error_from_result(
            result, encoding=connection.info.encoding)
    if not result.ntuples:
        return None
    transformer.set_pgresult(result)
    return transformer.load_row(0, tuple)


def sealed(connection):
    """Make the rest of the transaction on connection read only once its
    statement committed alone wrote something (see fetch_alone): a write
    after it, which would not be atomic with it, fails"""
    connection.read_only = True


def sealed_by_alone(connection):
    """Whether a statement committed alone wrote on connection (see
    sealed)"""
    return bool(connection.read_only) and backend.name == 'postgresql'


class _Slot:
    "The place of a value in a statement made by `statement`"
    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name


_statements = {}
_numbered = {}
_PLACEHOLDER = re.compile(r'%([s%])')


def statement(key, build, /, **values):
    """Return (SQL, parameters) of the python-sql query build(**values)
    for cursor.execute.

    The text of the query is made once per process and backend for key,
    which must name everything the shape of the query depends on (tables,
    columns): build is called with a placeholder for each value and the
    placeholders are then replaced by values in the parameters.  Building
    its queries was more than half of the Python time of a check-in, and
    a constant text lets psycopg prepare the statement on the server."""
    sql, slots = _built(key, build, values)
    return sql, tuple(values[v] if s else v for s, v in slots)


def _built(key, build, values):
    """The text of statement(key, build, **values) and its slots: for each
    parameter (True, the name of its value) or (False, a constant)"""
    key = (backend.name, key)
    try:
        return _statements[key]
    except KeyError:
        sql, params = tuple(build(**{n: _Slot(n) for n in values}))
        slots = tuple((True, p.name) if isinstance(p, _Slot) else (False, p)
            for p in params)
        if {n for s, n in slots if s} != set(values):
            raise ValueError("a value is not a parameter of %s" % (key,))
        found = _statements[key] = sql, slots
        return found


def execute(key, build, /, **values):
    """Execute the query of statement(key, build, **values) in the
    transaction and return the cursor.

    On PostgreSQL the text is sent with numbered parameters ($1, $2...)
    by a raw cursor, made once per key (see numbered)."""
    connection = Transaction().connection
    if backend.name != 'postgresql':
        cursor = connection.cursor()
        cursor.execute(*statement(key, build, **values))
        return cursor
    from psycopg import RawCursor
    cursor = RawCursor(connection)
    cursor.execute(*_numbered_statement(key, build, values))
    return cursor


def _numbered_statement(key, build, values):
    """The text of statement(key, build, **values) with numbered
    parameters (see numbered) and the list of its parameters"""
    sql, slots = _built(key, build, values)
    text, slots = numbered(sql, slots, values)
    # A list made by a comprehension: a generator is resumed per value
    return text, [values[v] if s else v for s, v in slots]


# The types that psycopg sends with their PostgreSQL type: a number given
# for several places takes the same type in each (a text or a null one is
# typed by each place, which may differ)
_TYPED = {int, bool, float, Decimal, dt.date, dt.datetime, dt.time}


def numbered(sql, slots=None, values=None):
    """The text of sql (python-sql's, with %s) with numbered parameters
    ($1, $2...) as PostgreSQL takes them, and the slots of the numbers,
    made once per text and typed values: a value of a type of _TYPED, or
    such a constant, is given once for all the places it takes (the
    check-in's posting has 73 places; psycopg's time to send the
    parameters grows with their number).  The text is bytes, which psycopg
    would encode on each execution (it caches that only for statements of
    at most 50 parameters and 4,096 characters).  Without slots, each
    place takes a number of its own (not kept)."""
    if slots is None:
        count = itertools.count(1)
        return _PLACEHOLDER.sub(lambda m: '%' if m.group(1) == '%'
            else '$%d' % next(count), sql).encode('ascii'), None
    try:
        repeated, variants = _numbered[sql]
    except KeyError:
        names = [n for s, n in slots if s]
        repeated = tuple(sorted({n for n in names if names.count(n) > 1}))
        repeated, variants = _numbered[sql] = repeated, {}
    merged = tuple([n for n in repeated if type(values[n]) in _TYPED])
    try:
        return variants[merged]
    except KeyError:
        pass
    numbers, unique = {}, []
    places = iter(slots)
    merge = set(merged)

    def number(match):
        if match.group(1) == '%':
            return '%'
        slot = next(places)
        is_value, value = slot
        if is_value and value in merge:
            key = slot
        elif not is_value and type(value) in _TYPED:
            key = (False, type(value), value)
        else:
            key = object()
        found = numbers.get(key)
        if found is None:
            unique.append(slot)
            found = numbers[key] = len(unique)
        return '$%d' % found
    text = _PLACEHOLDER.sub(number, sql).encode('ascii')
    found = variants[merged] = text, tuple(unique)
    return found


_formats = {}


def _whole_second(value):
    "Whether value is a datetime to the second (as DateTime stores it)"
    return type(value) is dt.datetime and not value.microsecond


def _stripped(value):
    "Whether value is a string without surrounding spaces (as Char stores)"
    return type(value) is str and not (value and (
            value[0].isspace() or value[-1].isspace()))


def formatters(Model, names):
    """Return for each field name of names of Model the function that
    formats its value for a statement, as the field's sql_format does: None
    and, for the integer, many2one and boolean fields, a value of the type
    the column takes are taken as they are (formatting each value of a
    check-in's insert with sql_format was 6 % of its CPU); on PostgreSQL
    also the values that sql_format would give back unchanged (of the
    field's Python type, a date, a datetime to the second, a stripped
    string) and the empty tuple of a MultiSelection"""
    key = (backend.name, Model.__name__, names)
    try:
        return _formats[key]
    except KeyError:
        pass

    def formatter(field):
        sql_format = field.sql_format
        Field = type(field)
        kept, check = (), None
        if Field in {fields.Integer, fields.Many2One}:
            kept = (int,)
        elif Field is fields.Boolean:
            kept = (bool,)
        elif backend.name == 'postgresql':
            # Where sql_format gives the value of the field's Python type
            # back as it is (psycopg adapts it; not a BLOB's)
            if (Field.sql_format is fields.Field.sql_format
                    and field._py_type and field._sql_type != 'BLOB'):
                kept = (field._py_type,)
            elif Field is fields.Date:
                kept = (dt.date,)
            elif Field in {fields.DateTime, fields.Timestamp}:
                check = _whole_second
            elif (issubclass(Field, fields.Char)
                    and Field.sql_format is fields.Char.sql_format):
                check = _stripped
            elif Field is fields.MultiSelection:
                # The JSON list of none
                empty = sql_format(())

                def format_(value):
                    if value is None:
                        return None
                    if type(value) is tuple and not value:
                        return empty
                    return sql_format(value)
                return format_

        def format_(value):
            if (value is None or type(value) in kept
                    or (check is not None and check(value))):
                return value
            return sql_format(value)
        return format_
    found = _formats[key] = tuple(formatter(Model._fields[n]) for n in names)
    return found


def insert(Model, values, conflict=False):
    """Insert one record of Model with values ({field name: value}, already
    checked by the caller) in one prepared statement, as ModelSQL.create
    would (create_uid, create_date, the triggers on creation: see created)
    and return its id; with conflict, ON CONFLICT DO NOTHING: None when the
    database refuses it (a unique or exclusion constraint)"""
    transaction = Transaction()
    names = tuple(values)

    def build(create_uid, **values):
        table = Model.__table__()
        return table.insert(
            [table.create_uid, table.create_date]
            + [Column(table, n) for n in names],
            [[create_uid, CurrentTimestamp()] + [values[n] for n in names]],
            on_conflict=Conflict(table) if conflict else None,
            returning=[Returned('id')])
    cursor = execute((Model.__name__, 'insert', conflict, names),
        build, create_uid=transaction.user, **{
            n: f(v) for n, f, v in zip(
                names, formatters(Model, names), values.values())})
    found = cursor.fetchone()
    if not found:
        return None
    created(Model, [found[0]])
    return found[0]


def insert_many(Model, rows, conflict=False, returning=()):
    """Insert the records of Model with the values of rows (dictionaries of
    the same field names, already checked by the caller) in one statement,
    as insert does for one, and return for each row inserted its id and the
    values of the column names of returning; with conflict, ON CONFLICT DO
    NOTHING: the rows that the database refuses are left out.  Its text
    depends on the number of rows: it is not kept (see statement)."""
    transaction = Transaction()
    if not rows:
        return []
    names = tuple(rows[0])
    formats = list(zip(names, formatters(Model, names)))
    table = Model.__table__()
    query = table.insert(
        [table.create_uid, table.create_date]
        + [Column(table, n) for n in names],
        [[transaction.user, CurrentTimestamp()]
            + [f(values[n]) for n, f in formats]
            for values in rows],
        on_conflict=Conflict(table) if conflict else None,
        returning=[Returned('id')] + [Returned(n) for n in returning])
    cursor = transaction.connection.cursor()
    cursor.execute(*query)
    found = [tuple(r) for r in cursor]
    created(Model, [r[0] for r in found])
    return found


def invalidate_records(Model, ids):
    """Drop the ORM caches of the transaction for the records of Model
    written with SQL (the way ModelSQL does it)"""
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            model_cache = cache[Model.__name__]
            for id_ in ids:
                model_cache.pop(id_, None)


def created(Model, ids):
    """Do for the records of Model inserted with SQL what ModelStorage.create
    does after its insert: count them as created in the transaction and
    queue the triggers on creation"""
    Transaction().create_records[Model.__name__].extend(ids)
    found = triggers(Model.__name__, 'create')
    if found:
        records = Model.browse(ids)
        for trigger in found:
            trigger.queue_trigger_action(records)


def written(Model, ids, write):
    """Call write(), which updates the records of Model with SQL, as
    ModelStorage.write would: the triggers on write whose condition the
    records meet only afterwards are queued and the ORM caches dropped"""
    Trigger = Pool().get('ir.trigger')
    eligibles = {t: [r.id for r in Model.browse(ids) if not Trigger.eval(t, r)]
        for t in triggers(Model.__name__, 'write')}
    result = write()
    invalidate_records(Model, ids)
    for trigger, eligible in eligibles.items():
        trigger.queue_trigger_action(Model.browse(eligible))
    return result
