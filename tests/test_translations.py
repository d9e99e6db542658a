"""Every module of the suite ships a complete Simplified Chinese translation
(locale/zh_CN.po: Tryton loads locale/<language code>.po), and Tryton
shows it to a user whose language is zh_CN."""
import os
import unittest

import polib

from tests.tools import activate_suite, all_modules, suite_modules
from trytond.tests.test_tryton import drop_db, with_transaction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = suite_modules()


def translatable(module):
    "Tell if the module has models, views or messages (the suite has none)"
    with open(os.path.join(ROOT, 'modules', module, 'tryton.cfg')) as f:
        cfg = f.read()
    return 'xml:' in cfg or '[register' in cfg


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
