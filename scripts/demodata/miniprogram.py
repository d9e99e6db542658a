"""Demo data of the miniprogram module: the SMS template code of the
verification codes (no SMS provider is configured: a demo sends no text
message, the outbox shows the message failed), a history of codes for
the member administrators' list (Members > SMS Verification Codes), the QR
link base of the kiosks and the entry codes of the yoga class and of the
park (not fetched: the demo has no WeChat credentials; *Fetch from
WeChat* tells so)."""
import datetime as dt
import secrets

from trytond.modules.miniprogram.sms import hash_code
from trytond.modules.suite import clock

# The provider's template of the codes, as approved in its console
SMS_TEMPLATE_ID = 'SMS_DEMO_0001'
# The prefix of "QR code links" registered in the mini-program's admin
QR_URL_BASE = 'https://lotus.example.com/mp/checkin'


def load(pool, rng, company):
    Template = pool.get('outbox.template')
    Member = pool.get('member.member')
    Code = pool.get('miniprogram.sms.code')

    templates = Template.search([('code', '=', 'miniprogram_sms_code')])
    Template.write(templates, {'sms_template_id': SMS_TEMPLATE_ID})

    members = [m for m in Member.search([('phone', '!=', None)],
            order=[('id', 'ASC')], limit=12)]
    now = clock.now()
    to_create = []
    for i, member in enumerate(members[1:]):
        purpose = rng.choice(['reset', 'login'])
        state = rng.choice(['used', 'used', 'used', 'replaced', 'blocked'])
        created = now - dt.timedelta(
            days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        salt = secrets.token_hex(8)
        code = '%06d' % rng.randrange(10 ** 6)
        to_create.append({
                'phone': member.phone,
                'purpose': purpose,
                'member': member.id,
                'code_hash': '%s$%s' % (salt,
                    hash_code(salt, member.phone, purpose, code)),
                'expires': created + dt.timedelta(minutes=5),
                'state': state,
                'attempts': 3 if state == 'blocked' else rng.randint(0, 1),
                'used_at': (created + dt.timedelta(seconds=rng.randint(
                            20, 200))) if state == 'used' else None,
                })
    # A phone that is nobody's: a code was made, none sent
    salt = secrets.token_hex(8)
    to_create.append({
            'phone': '+8613900009999',
            'purpose': 'reset',
            'code_hash': '%s$%s' % (salt,
                hash_code(salt, '+8613900009999', 'reset', '000000')),
            'expires': now - dt.timedelta(days=2),
            'state': 'pending',
            })
    Code.create(to_create)
    _entry_codes(pool)


def _entry_codes(pool):
    "The kiosks show links; the open yoga class and its park have codes"
    Configuration = pool.get('checkin.configuration')
    EntryCode = pool.get('miniprogram.entry_code')
    Event = pool.get('checkin.event')
    Place = pool.get('checkin.place')
    Configuration.write([Configuration(1)], {'qr_url_base': QR_URL_BASE})
    events = Event.search([('state', '=', 'open'), ('place', '!=', None)],
        order=[('start', 'ASC'), ('id', 'ASC')], limit=1)
    values = [{'event': e.id} for e in events]
    places = Place.search([('name', 'ilike', '%park%')], limit=1)
    values.extend({'place': p.id} for p in places)
    EntryCode.create(values)
