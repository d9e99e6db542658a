"""The server and the reference mini-program (miniapp/) agree, without a
database:

- every page a message opens (the WeChat page of each outbox template of
  the modules' XML data) is a page of miniapp/app.json;
- every route the client's services/ call is a route of the API (the
  client cannot call what the server does not serve)."""
import glob
import json
import os
import re
import unittest
from xml.etree import ElementTree

from trytond import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINIAPP = os.path.join(ROOT, 'miniapp')


def app_pages():
    with open(os.path.join(MINIAPP, 'app.json')) as file:
        app = json.load(file)
    pages = set(app['pages'])
    for package in app.get('subpackages', app.get('subPackages', [])):
        for page in package['pages']:
            pages.add(package['root'].rstrip('/') + '/' + page)
    return pages


def message_pages():
    "(file, template code, page) of every outbox template with a page"
    for path in sorted(glob.glob(os.path.join(ROOT, 'modules', '*', '*.xml'))):
        tree = ElementTree.parse(path)
        for record in tree.iter('record'):
            if record.get('model') != 'outbox.template':
                continue
            fields = {f.get('name'): (f.text or '').strip()
                for f in record.iter('field')}
            if fields.get('wechat_page'):
                yield (os.path.relpath(path, ROOT), fields.get('code'),
                    fields['wechat_page'])


@unittest.skipUnless(backend.name == 'sqlite',
    "files only, no database: checked once")
class MiniappContractTestCase(unittest.TestCase):

    def test_message_pages_exist(self):
        "Every page a subscription message opens is a mini-program page"
        pages = app_pages()
        found = list(message_pages())
        self.assertGreaterEqual(len(found), 5)
        for path, code, page in found:
            with self.subTest(template=code):
                self.assertIn(page.split('?', 1)[0], pages,
                    "%s: template %s opens %s, not a page of "
                    "miniapp/app.json" % (path, code, page))

    def test_pages_have_files(self):
        "Every page of app.json has its four files"
        for page in sorted(app_pages()):
            for ext in ['js', 'json', 'wxml', 'wxss']:
                with self.subTest(page=page, ext=ext):
                    self.assertTrue(os.path.exists(
                            os.path.join(MINIAPP, page + '.' + ext)))

    def test_services_call_api_routes(self):
        "Every path the client's services/ request is a route of the API"
        from trytond.modules.miniprogram.api import ROUTES
        routes = {(r['method'], re.sub(r'\{\w+\}', '{}', r['path']))
            for r in ROUTES}
        calls = []
        for path in sorted(glob.glob(os.path.join(MINIAPP, 'services',
                        '*.js'))):
            with open(path) as file:
                source = file.read()
            # request({method: 'POST', path: 'bookings/' + id + '/cancel'})
            for match in re.finditer(
                    r"request\(\{(?:\s*auth: '\w+',)?(?:\s*method: '(\w+)',)?"
                    r"\s*path: ([^,}]+)",
                    source):
                method = match.group(1) or 'GET'
                expression = match.group(2).strip()
                # 'services/' + serviceId + '/slots' -> services/{}/slots
                route = ''.join(
                    part.strip("'") if part.startswith("'") else '{}'
                    for part in (p.strip() for p in expression.split('+')))
                if not expression.startswith("'"):
                    # a variable holding the path (page() of services/me)
                    continue
                calls.append((os.path.basename(path), method, route))
            # page('me/points'): a GET of a list
            for match in re.finditer(r"\bpage\('([^']+)'\)", source):
                calls.append((os.path.basename(path), 'GET', match.group(1)))
        self.assertGreaterEqual(len(calls), 40)
        for name, method, route in calls:
            with self.subTest(service=name, route=route):
                self.assertIn((method, route), routes)
