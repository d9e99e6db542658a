"""Calls of Tryton's API whose meaning changed in 8.0 and which only warn
(a DeprecationWarning that the test runs do not show): each is made the
8.0 way everywhere in modules/.

- ``grouped_slice(records)`` without a size slices one record at a time in
  8.0 (it was ``in_max``): a loop over it runs one query per record;
- a module's ``register()`` function: its classes are registered in the
  ``[register]`` section of its ``tryton.cfg``;
- ``from trytond.config import config``: ``trytond.config`` is the
  configuration."""
import ast
import os
import unittest

from .test_import_graph import ROOT, source_files


def calls(tree, name):
    "The calls of the function name (by its name or as an attribute)"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == name
                    or isinstance(func, ast.Attribute)
                    and func.attr == name):
                yield node


def config_imports(source, path='<source>'):
    "The lines of the imports of trytond.config's config in source"
    tree = ast.parse(source, path)
    return [node.lineno for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == 'trytond.config'
        and any(a.name == 'config' for a in node.names)]


def register_functions(source, path='<source>'):
    "The lines of the register functions at the top of source"
    tree = ast.parse(source, path)
    return [node.lineno for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == 'register']


def unsized_slices(source, path='<source>'):
    "The lines of the calls of grouped_slice without a size in source"
    tree = ast.parse(source, path)
    return [c.lineno for c in calls(tree, 'grouped_slice')
        if len(c.args) < 2 and not any(
            k.arg == 'count' for k in c.keywords)]


class TrytonCallsTestCase(unittest.TestCase):

    def test_found(self):
        "The check finds the calls without size, and only them"
        self.assertEqual(unsized_slices(
                "for s in grouped_slice(ids):\n    pass\n"
                "tools.grouped_slice(ids)\n"
                "grouped_slice(ids, 100)\n"
                "grouped_slice(ids, count=backend.MAX_QUERY_PARAMS)\n"),
            [1, 3])

    def test_found_others(self):
        "The checks find the old imports and registers, and only them"
        self.assertEqual(config_imports(
                "from trytond.config import config\n"
                "from trytond import config\n"
                "from trytond.config import _config\n"), [1])
        self.assertEqual(register_functions(
                "def register():\n    pass\n"
                "def other():\n    def register():\n        pass\n"),
            [1])

    def check_files(self, check, message, names=None):
        "Every file of modules/ (named names) passes check"
        found = []
        for path in source_files():
            if names is not None and os.path.basename(path) not in names:
                continue
            with open(path) as f:
                source = f.read()
            found += ['%s:%s' % (os.path.relpath(path, ROOT), line)
                for line in check(source, path)]
        self.assertEqual(found, [], message)

    def test_config_module(self):
        "modules/ uses trytond.config, not its deprecated config object"
        self.check_files(config_imports, "from trytond.config import config")

    def test_registered_in_cfg(self):
        "No module of modules/ registers by a register function"
        self.check_files(register_functions,
            "register() instead of tryton.cfg", names={'__init__.py'})

    def test_grouped_slice_sized(self):
        "Every grouped_slice of modules/ is given its size"
        self.check_files(unsized_slices,
            "grouped_slice without size: one record per slice in 8.0")
