# This file is part of the check-in/membership/booking suite.  The COPYRIGHT
# file at the top level of this repository contains the full copyright
# notices and license terms.
"""The bridges to Tryton's modules do not stop a trytond without them.

Tryton builds one graph of every module it finds (the folders of
trytond/modules and the trytond.modules entry points, ours included) and
refuses to start when a module depends on one that is not there.  The
bridges are always found (they are folders of modules/), Tryton's modules
they connect to come from the erp extra: a bridge must name those as
extras_depend, so that the graph of the core (what the install without the
erp extra holds) with the bridges has no missing module."""
import configparser
import os
import unittest

from scripts.create_db import BRIDGES, SUITE

from .tools import module_closure

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BridgesTestCase(unittest.TestCase):

    def core(self):
        """The modules of an install without the erp extra: ours and what
        the core suite depends on, recursively"""
        from trytond.modules import get_modules
        found = get_modules()
        core = set(module_closure(SUITE))
        self.assertLessEqual(core, found)
        return core | set(BRIDGES)

    def test_graph_without_erp_modules(self):
        "Tryton's graph of the core and the bridges misses no module"
        from trytond.exceptions import MissingDependenciesException
        from trytond.modules import create_graph
        try:
            create_graph(self.core())
        except MissingDependenciesException as e:
            self.fail("a bridge depends on %s: name it in extras_depend"
                % e)

    def test_bridges_register_with_their_extras(self):
        "Every class of a bridge is registered under its extras"
        for bridge in BRIDGES:
            config = configparser.ConfigParser()
            config.read(os.path.join(
                    ROOT, 'modules', bridge, 'tryton.cfg'))
            extras = set(config.get(
                    'tryton', 'extras_depend', fallback='').split())
            self.assertTrue(extras, bridge)
            for section in config.sections():
                if section.startswith('register'):
                    self.assertEqual(
                        set(section.split()[1:]), extras,
                        '%s [%s]' % (bridge, section))
