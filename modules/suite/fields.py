# This file is part of the suite module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The fields that the modules of the suite share."""
import re

from sql import Expression, Literal
from sql.operators import Equal, In

from trytond.model import fields
from trytond.model.fields.field import SQL_OPERATORS, domain_method

# The longest list of an in whose values are parameters of their own (Key)
SHORT = 100
# The strings that Constant writes in the text of a statement
_PLAIN = re.compile(r'^[A-Za-z0-9_.:-]*$')


class Constant(Expression):
    """An integer, a boolean or a plain string (letters, digits and _ . : -)
    written in the text of a statement instead of a parameter.

    The predicate of a partial index must be in the text for a plan made
    for any value of the parameters (PostgreSQL's generic plan, kept for a
    prepared statement; SQLite's every plan) to use the index; psycopg
    caches the parsing of a statement only up to 50 parameters."""
    __slots__ = ('_value',)

    def __init__(self, value):
        super().__init__()
        if not self.takes(value):
            raise TypeError(repr(value))
        self._value = value

    @staticmethod
    def takes(value):
        "Whether value can be written as a constant"
        if isinstance(value, str):
            return bool(_PLAIN.match(value))
        return isinstance(value, (int, bool))

    def __str__(self):
        if isinstance(self._value, bool):
            return 'TRUE' if self._value else 'FALSE'
        elif isinstance(self._value, str):
            return "'%s'" % self._value
        return str(int(self._value))

    @property
    def params(self):
        return ()


class Key(fields.Char):
    """A Char that identifies a record (a client UUID, a code, an openid, a
    token's hash): its column is indexed, and the look-ups by it use the
    index.

    Tryton compares an optional Char in a domain as COALESCE(column, '')
    (so that NULL and '' are alike), which no index of the column serves:
    every search by it reads the whole table.  For = and in with values
    that are not empty, the bare column gives the same rows (a value that
    is not empty never equals NULL nor ''); any other clause is Char's.
    Each value of an in of up to SHORT values (a page, a batch) is a
    parameter of its own; a longer list is Tryton's (one array on
    PostgreSQL) on the bare column."""

    @domain_method
    def convert_domain(self, domain, tables, Model):
        name, operator, value = domain
        if (self.translate or operator not in {'=', 'in'}
                or not self._filled(operator, value)):
            return super().convert_domain(domain, tables, Model)
        column = self.sql_column(tables, Model)
        value = self._domain_value(operator, value)
        if operator == '=':
            return Equal(column, value)
        if not value:
            return Literal(False)
        if len(value) > SHORT:
            return SQL_OPERATORS['in'](column, value)
        # A parameter each, not Tryton's = ANY of one array: a plan made
        # for an array of any length (PostgreSQL's generic plan) may read
        # the table where the values' own plan uses the index
        return In(column, value)

    def _filled(self, operator, value):
        "Whether value (of operator) holds only strings that are not empty"
        values = [value] if operator == '=' else value
        if not isinstance(values, (list, tuple, set, frozenset)):
            return False
        return all(isinstance(v, str) and self.sql_format(v)
            for v in values)


class Predicate(fields.Boolean):
    """A Boolean that is the predicate of a partial index (the counted
    check-ins' unique key): ('name', '=', True) is the bare column.

    Tryton passes the True of the clause as a parameter, and a plan made
    for any value of it (PostgreSQL's generic plan, kept for a prepared
    statement; SQLite's every plan) cannot use an index whose predicate is
    the column: the search reads the whole table.  Any other clause is
    Boolean's."""

    @domain_method
    def convert_domain(self, domain, tables, Model):
        name, operator, value = domain
        if operator == '=' and value is True:
            return self.sql_column(tables, Model)
        return super().convert_domain(domain, tables, Model)


class State(fields.Selection):
    """A Selection whose values are the predicate of a partial index (the
    messages to send, the intake items pending): ('name', '=', value) and
    ('name', 'in', values) of values of its selection are written in the
    text of the statement (Constant).

    Tryton passes them as parameters, and a plan made for any value of
    them (PostgreSQL's generic plan, SQLite's every plan) cannot use the
    index.  Any other clause is Selection's."""

    @domain_method
    def convert_domain(self, domain, tables, Model):
        name, operator, value = domain
        values = [value] if operator == '=' else value
        if (operator not in {'=', 'in'} or isinstance(self.selection, str)
                or not isinstance(values, (list, tuple, set, frozenset))
                or not values):
            return super().convert_domain(domain, tables, Model)
        keys = {k for k, _ in self.selection}
        if not all(isinstance(v, str) and v in keys and Constant.takes(v)
                for v in values):
            return super().convert_domain(domain, tables, Model)
        column = self.sql_column(tables, Model)
        if operator == '=':
            return Equal(column, Constant(value))
        return In(column, [Constant(v) for v in sorted(values)])
