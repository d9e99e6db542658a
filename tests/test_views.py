# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""What the views of the suite show, checked over all of them.

A list whose columns share a title ("Date" twice for a DateTime shown as a
date and a time, "Start" twice) cannot be read: every tree view of our
modules is checked, in English and in Simplified Chinese (where two
different English titles may have one translation).

A form whose field does not fit on the row of its label puts the label at
the end of one row and the value at the start of the next: every form view
is laid out the way the clients do (a grid of `col` columns per container,
4 by default, a child taking `colspan` cells, 1 by default, 4 for a
notebook) and each label must share its row with its field."""
import os
import unittest

from lxml import etree

from tests.tools import activate_suite, suite_modules
from trytond.pool import Pool
from trytond.tests.test_tryton import drop_db, with_transaction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = suite_modules()


def column_titles(model, view_id):
    """Return the titles of the visible columns of the tree view, as the
    clients show them"""
    view = model.fields_view_get(view_id=view_id, view_type='tree')
    tree = etree.fromstring(view['arch'])
    fields = view['fields']
    titles = []
    for node in tree:
        if node.tag not in {'field', 'button'}:
            continue
        if node.get('tree_invisible') == '1':
            continue
        if node.tag == 'field':
            title = node.get('string') or fields[node.get('name')]['string']
        else:
            title = node.get('string')
            if title is None:
                continue  # an icon button: no title
        titles.append(title)
    return titles


def split_rows(view):
    """Return the labels whose field starts another row, as
    'container: field' strings, for the form view (as fields_view_get
    answers it)"""
    tree = etree.fromstring(view['arch'])
    broken = []

    def layout(container, path):
        col = int(container.get('col', 4))
        position = 0
        previous = None
        for node in container:
            if node.tag in {'newline'}:
                position = 0
                previous = None
                continue
            if not isinstance(node.tag, str) or node.tag == 'xpath':
                continue
            if node.get('invisible') == '1':
                continue
            default = 4 if node.tag == 'notebook' else 1
            colspan = int(node.get('colspan', default))
            wrapped = False
            if col > 0 and position and position + colspan > col:
                position = 0
                wrapped = True
            if (wrapped and node.tag == 'field' and previous is not None
                    and previous.tag == 'label'
                    and previous.get('name') == node.get('name')):
                broken.append('%s: %s' % (path, node.get('name')))
            position += colspan
            if col > 0 and position >= col:
                position = 0
            previous = node
            if node.tag in {'group', 'page', 'notebook'}:
                layout(node, '%s/%s' % (path, node.get('id')
                        or node.get('name') or node.get('string')
                        or node.tag))
    layout(tree, tree.tag)
    return broken


class ViewsTestCase(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_suite(lang='zh_CN')

    @classmethod
    def tearDownClass(cls):
        drop_db()

    @staticmethod
    def _views(type_, check):
        """Return the problems that check(Model, view id) finds in the
        views of type_ of our modules, by view"""
        pool = Pool()
        View = pool.get('ir.ui.view')
        problems = {}
        for view in View.search([
                    ('module', 'in', MODULES),
                    ('type', '=', type_),
                    ]):
            found = check(pool.get(view.model), view.id)
            if found:
                problems['%s.%s' % (view.module, view.name)] = found
        return problems

    def _duplicate_titles(self):
        def repeated(Model, view_id):
            titles = column_titles(Model, view_id)
            return sorted({t for t in titles if titles.count(t) > 1})
        return self._views('tree', repeated)

    @with_transaction(context={'language': 'en'})
    def test_no_duplicate_column_titles(self):
        "No list has two columns with one title (English)"
        self.assertEqual(self._duplicate_titles(), {})

    @with_transaction(context={'language': 'zh_CN'})
    def test_no_duplicate_column_titles_zh(self):
        "No list has two columns with one title (Simplified Chinese)"
        self.assertEqual(self._duplicate_titles(), {})

    @with_transaction()
    def test_list_columns_the_web_client_draws(self):
        "No list shows a date and time as one column (sao has none)"
        def datetimes(Model, view_id):
            view = Model.fields_view_get(view_id=view_id, view_type='tree')
            fields = view['fields']
            return sorted(node.get('name')
                for node in etree.fromstring(view['arch']).iter('field')
                if fields[node.get('name')]['type'] in {
                    'datetime', 'timestamp'}
                and node.get('widget') not in {'date', 'time'})
        self.assertEqual(self._views('tree', datetimes), {})

    @with_transaction()
    def test_labels_on_the_row_of_their_field(self):
        "Every form puts each label on the row of its field"
        self.assertEqual(self._views('form', lambda Model, view_id:
                split_rows(Model.fields_view_get(
                        view_id=view_id, view_type='form'))), {})
