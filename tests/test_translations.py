"""Every module of the suite ships a complete Simplified Chinese translation
(locale/zh_CN.po: Tryton loads locale/<language code>.po), and Tryton
shows it to a user whose language is zh_CN."""
import configparser
import importlib
import os
import unittest

import polib

from tests.tools import activate_suite, all_modules, suite_modules
from trytond.model.fields import Field
from trytond.tests.test_tryton import drop_db, with_transaction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = suite_modules()


def registered(module):
    "The classes that the tryton.cfg of module registers"
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'modules', module, 'tryton.cfg'))
    classes = []
    # [register] and [register <the modules it depends on>]
    for section in parser.sections():
        if section.split()[0] != 'register':
            continue
        for kind in parser.options(section):
            for name in parser.get(section, kind).split():
                file, _, class_name = name.rpartition('.')
                classes.append(getattr(importlib.import_module(
                            'trytond.modules.%s.%s' % (module, file)),
                        class_name))
    return classes


def translatable(module):
    """Tell if the module has views, messages (XML) or fields of its own:
    the suite has none (its ir.trigger adds a cache)"""
    with open(os.path.join(ROOT, 'modules', module, 'tryton.cfg')) as f:
        if 'xml:' in f.read():
            return True
    return any(isinstance(value, Field)
        for cls in registered(module) for value in vars(cls).values())


class TranslationFilesTestCase(unittest.TestCase):

    def test_complete(self):
        for module in all_modules():
            with self.subTest(module=module):
                if not translatable(module):
                    continue
                path = os.path.join(
                    ROOT, 'modules', module, 'locale', 'zh_CN.po')
                self.assertTrue(os.path.exists(path), path)
                po = polib.pofile(path)
                self.assertGreater(len(po), 0)
                self.assertEqual(
                    [e.msgid for e in po if not e.msgstr], [])
                self.assertEqual(
                    [e.msgid for e in po if 'fuzzy' in e.flags], [])


class TranslationLoadedTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_suite(lang='zh_CN')

    @classmethod
    def tearDownClass(cls):
        drop_db()

    @with_transaction(context={'language': 'zh_CN'})
    def test_member_labels(self):
        from trytond.pool import Pool
        Member = Pool().get('member.member')
        fields = Member.fields_get(['points_balance', 'phone'])
        self.assertEqual(fields['points_balance']['string'], "积分余额")
        self.assertEqual(fields['phone']['string'], "手机号")
