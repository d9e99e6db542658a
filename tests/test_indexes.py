# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""No index of our tables that another serves.

Every index costs its insert to each row written: on the hot paths (a
check-in, a points posting) the database's CPU goes mostly to the index
inserts.  Tryton gives an index to each field of a One2Many (and a
module declares its own): an index whose columns start another index of
the same table is served by it, for every look-up it would answer, and is
only a cost.  Checked on the database as installed (both backends), over
the tables of the models of our modules."""
import unittest

from sql import Column
from sql.operators import And, Equal, In

from tests.tools import activate_suite, suite_modules
from trytond import backend
from trytond.model import ModelSQL, fields
from trytond.pool import Pool
from trytond.tests.test_tryton import drop_db, with_transaction
from trytond.transaction import Transaction

MODULES = suite_modules()
# The indexes left although another serves their look-ups: (table, columns)
EXEMPT = {
    # The rec_name's index, for the searches of any part of the code: a
    # trigram index where PostgreSQL has pg_trgm, a B-tree elsewhere
    ('member_reward_redemption', ('code',)),
    }


def postgresql_indexes(cursor, tables):
    """The B-tree indexes of tables: [(table, name, columns, unique,
    plain)], plain when the index has neither predicate nor expression"""
    cursor.execute(
        "SELECT t.relname, i.relname, ix.indisunique, "
        "ix.indpred IS NULL AND ix.indexprs IS NULL, "
        "ARRAY(SELECT a.attname FROM unnest(ix.indkey) "
        "WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
        "ORDER BY k.n) "
        "FROM pg_index ix "
        "JOIN pg_class t ON t.oid = ix.indrelid "
        "JOIN pg_class i ON i.oid = ix.indexrelid "
        "JOIN pg_am am ON am.oid = i.relam "
        "WHERE t.relname = ANY(%s) AND am.amname = 'btree'",
        (list(tables),))
    return [(table, name, tuple(columns), unique, plain)
        for table, name, unique, plain, columns in cursor]


def sqlite_indexes(cursor, tables):
    "The indexes of tables as postgresql_indexes gives them"
    found = []
    for table in tables:
        cursor.execute('PRAGMA index_list("%s")' % table)
        for _, name, unique, _, partial in cursor.fetchall():
            cursor.execute('PRAGMA index_xinfo("%s")' % name)
            # The key columns (cid -2: an expression), not the row id
            columns = [(cid, column) for _, cid, column, _, _, key
                in cursor.fetchall() if key]
            found.append((table, name, tuple(c for _, c in columns),
                    bool(unique),
                    not partial and all(cid >= 0 for cid, _ in columns)))
    return found


class IndexesTestCase(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_suite()

    @classmethod
    def tearDownClass(cls):
        drop_db()

    @with_transaction()
    def test_no_index_served_by_another(self):
        "No plain index whose columns start another plain index"
        pool = Pool()
        IrModel = pool.get('ir.model')
        tables = set()
        for record in IrModel.search([('module', 'in', MODULES)]):
            Model = pool.get(record.name)
            if (issubclass(Model, ModelSQL)
                    and not Model._is_table_query()):
                tables.add(Model._table)
        self.assertIn('checkin_attendance', tables)
        cursor = Transaction().connection.cursor()
        if backend.name == 'postgresql':
            indexes = postgresql_indexes(cursor, tables)
        else:
            indexes = sqlite_indexes(cursor, tables)
        self.assertTrue(any(i[0] == 'member_points_line' for i in indexes))
        served = []
        for table, name, columns, unique, plain in indexes:
            if (unique or not plain or not columns
                    or (table, columns) in EXEMPT):
                continue
            for other in indexes:
                if (other[0] == table and other[1] != name and other[4]
                        and other[2][:len(columns)] == columns
                        and (len(other[2]) > len(columns)
                            or other[3] or other[1] < name)):
                    served.append('%s %s%s by %s%s' % (table, name,
                            columns, other[1], other[2]))
                    break
        self.assertEqual(served, [])

    @with_transaction()
    def test_char_look_ups_use_their_index(self):
        """A search by = or in on a Char whose column leads an index
        compares the bare column (Tryton's Char compares COALESCE(column,
        '') when the field is optional, which no index serves: the suite's
        Key field)"""
        pool = Pool()
        IrModel = pool.get('ir.model')
        cursor = Transaction().connection.cursor()
        models = {}
        for record in IrModel.search([('module', 'in', MODULES)]):
            Model = pool.get(record.name)
            if (issubclass(Model, ModelSQL)
                    and not Model._is_table_query()):
                models.setdefault(Model._table, []).append(Model)
        if backend.name == 'postgresql':
            indexes = postgresql_indexes(cursor, models)
        else:
            indexes = sqlite_indexes(cursor, models)
        leading = {(table, columns[0]) for table, _, columns, _, _
            in indexes if columns}
        self.assertIn(('checkin_attendance', 'client_uuid'), leading)
        checked, scanned = [], []
        for table, Models in models.items():
            for Model in Models:
                for name, field in Model._fields.items():
                    if (not isinstance(field, fields.Char)
                            or hasattr(field, 'set')
                            or isinstance(field, fields.Function)
                            or field.translate
                            or (table, name) not in leading):
                        continue
                    checked.append('%s.%s' % (Model.__name__, name))
                    for clause in [(name, '=', 'x'), (name, 'in', ['x'])]:
                        query = Model.search([clause], query=True)
                        if 'COALESCE' in str(query.where):
                            scanned.append('%s %s' % (Model.__name__, clause))
        self.assertIn('checkin.attendance.client_uuid', checked)
        self.assertEqual(scanned, [])

    @with_transaction()
    def test_partial_index_look_ups_write_their_predicate(self):
        """A search by = or in on a field that the predicate of a partial
        index compares to constants writes the values in the text of the
        statement (Tryton passes them as parameters, with which a plan made
        for any value, PostgreSQL's generic plan and SQLite's every plan,
        cannot use the index: the suite's State field)"""
        pool = Pool()
        IrModel = pool.get('ir.model')
        checked, passed = [], []
        for record in IrModel.search([('module', 'in', MODULES)]):
            Model = pool.get(record.name)
            if (not issubclass(Model, ModelSQL)
                    or Model._is_table_query()):
                continue
            for index in Model._sql_indexes:
                for name, values in predicates(index.options.get('where')):
                    field = Model._fields.get(name)
                    if field is None or hasattr(field, 'set'):
                        continue
                    checked.append('%s.%s' % (Model.__name__, name))
                    for clause in [
                            (name, '=', values[0]), (name, 'in', values)]:
                        query = Model.search([clause], query=True)
                        params = []
                        for param in query.where.params:
                            params += param if isinstance(
                                param, (list, tuple)) else [param]
                        if any(v in params for v in values):
                            passed.append('%s %s' % (Model.__name__, clause))
        self.assertIn('outbox.message.state', checked)
        self.assertIn('miniprogram.checkin.intake.state', checked)
        self.assertEqual(passed, [])


def predicates(where):
    """The (column name, [values]) that where (a python-sql condition)
    compares with = or in to constant strings"""
    if isinstance(where, And):
        return [p for w in where for p in predicates(w)]
    if isinstance(where, (Equal, In)) and isinstance(where.left, Column):
        values = [where.right] if isinstance(where, Equal) else where.right
        if (isinstance(values, (list, tuple))
                and all(isinstance(v, str) for v in values)):
            return [(where.left.name, list(values))]
    return []
