"""No import circle in modules/: the graph of the imports between the files
of the suite (at the top of a file or inside a function: an import put in
a function to dodge a circle is still one) has no cycle."""
import ast
import importlib
import os
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = os.path.join(ROOT, 'modules')


def module_name(path):
    "The dotted name of the file path of modules/"
    parts = os.path.relpath(path, MODULES)[:-len('.py')].split(os.sep)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(['trytond', 'modules'] + parts)


def source_files():
    for folder, dirs, files in os.walk(MODULES):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.join(folder, name)


def imports(path, name, known):
    "The modules of known that the file path (module name) imports"
    package = name if path.endswith('__init__.py') else name.rpartition(
        '.')[0]
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = importlib.util.resolve_name(
                    '.' * node.level + base, package)
            # from package import module, or from module import name
            targets = [base + '.' + a.name if base + '.' + a.name in known
                else base for a in node.names]
        else:
            continue
        for target in targets:
            # The innermost module of the suite that target names
            while target and target not in known:
                target = target.rpartition('.')[0]
            if target and target != name:
                found.add(target)
    return found


def graph():
    files = {module_name(p): p for p in source_files()}
    return {name: imports(path, name, files)
        for name, path in files.items()}


def cycles(edges):
    "The cycles of the graph edges, each as the list of its modules"
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = 'open'
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 'open':
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 'done'
    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


class ImportGraphTestCase(unittest.TestCase):

    def test_graph_found(self):
        "The graph sees the imports (a check of the test itself)"
        edges = graph()
        self.assertIn('trytond.modules.miniprogram.auth',
            edges['trytond.modules.miniprogram.api'])
        self.assertEqual(cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}),
            [['a', 'b', 'c', 'a']])

    def test_no_circle(self):
        "No module of the suite imports, even lazily, one that imports it"
        self.assertEqual(
            [' -> '.join(c) for c in cycles(graph())], [])
