"""Print what scripts/demo shows once the server runs: the logins, a curl
session of the mini-program API and the kiosk screen of the demo's open
event.  Usage: demo_info.py DATABASE ADMIN_PASSWORD"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
                __file__))))

from scripts.demodata.member import (  # noqa: E402
    DEMO_MEMBER_PASSWORD, DEMO_MEMBER_PHONE)


def kiosk_url(database):
    "The kiosk address of an open event with QR check-in, for admin"
    from trytond.modules.miniprogram.event import public_url  # noqa: F401
    from trytond.modules.suite import clock
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0, readonly=True):
        Event = pool.get('checkin.event')
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        now = clock.now()
        events = [e for e in Event.search([
                    ('state', '=', 'open'),
                    ('end', '>', now),
                    ], order=[('start', 'DESC')])
            if 'qr' in e.methods]
        # A meeting happening now first, else the daily attendance
        events.sort(key=lambda e: (e.kind != 'meeting', e.start > now))
        if not events:
            return None, None
        return events[0].name, events[0].kiosk_urls(user=admin)


def main():
    database, admin_password = sys.argv[1:3]
    from trytond import config
    listen = config.get('web', 'listen')
    api = 'http://%s/%s/mp/v1' % (listen, database)
    print("""
  Tryton web client:  http://{listen}/   (database: {db})
  Admin login:        admin / {admin}
  Demo member login (mini-program API, phone / password):
                      {phone} / {password}

  Try the API (paste into a shell):
    TOKEN=$(curl -s -X POST {api}/auth/login \\
      -H 'Content-Type: application/json' \\
      -d '{{"phone": "{phone}", "password": "{password}"}}' \\
      | {token_of})
    curl -s {api}/me -H "Authorization: Bearer $TOKEN"
    curl -s '{api}/me/points?limit=5' -H "Authorization: Bearer $TOKEN"
    curl -s {api}/events -H "Authorization: Bearer $TOKEN"
  OpenAPI document:   {api}/openapi.json
  Mini-program:       open miniapp/ in WeChat DevTools (doc/miniapp.rst);
                      its develop server in miniapp/utils/config.js must be
                      {api}
                      organizer pages: admin / {admin}""".format(
            listen=listen, db=database, admin=admin_password, api=api,
            phone=DEMO_MEMBER_PHONE, password=DEMO_MEMBER_PASSWORD,
            token_of="python3 -c 'import json, sys; "
            "print(json.load(sys.stdin)[\"access_token\"])'"))
    try:
        name, urls = kiosk_url(database)
    except Exception as e:
        print("  (no kiosk link: %s)" % e)
        return
    if urls:
        print("""  Kiosk screen of "{name}" (open it on a TV or a browser):
    {kiosk}
  Its live dashboard:
    {dashboard}""".format(name=name, kiosk=urls['kiosk_url'],
                dashboard=urls['dashboard_url']))


if __name__ == '__main__':
    main()
