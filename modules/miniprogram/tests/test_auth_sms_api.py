# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""Recovery and verification of the phone: SMS codes (auth/sms-code,
auth/reset-password, auth/sms-login) against a fake SMS provider and
WeChat's phone number (auth/wechat-phone) against a fake WeChat server,
both on 127.0.0.1, with the bad inputs a client can send."""
import datetime as dt
import json

from trytond import config
from trytond.modules.outbox.tests.tools import (
    FakeSMS, FakeWeChat, configure_sms)
from trytond.modules.suite import clock
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase

from .tools import Api, in_transaction

PASSWORD = 'Lotus-2026-x'
NEW_PASSWORD = 'Walnut-Tea-2026'
_numbers = iter(range(100, 10 ** 4))


def new_phone():
    "A mainland mobile number of 11 digits"
    return '1370000%04d' % next(_numbers)


def set_config(test, section, option, value):
    "Set a configuration option for the test only"
    from trytond.config import _config
    if not _config.has_section(section):
        _config.add_section(section)
    old = config.get(section, option)

    def restore():
        if old is None:
            _config.remove_option(section, option)
            config._cache_clear()
        else:
            config.set(section, option, old)
    test.addCleanup(restore)
    config.set(section, option, str(value))


class SmsApiTestCase(RouteTestCase):
    "Mini-program API: SMS codes, password reset, SMS login"
    module = 'miniprogram'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sms = FakeSMS()
        configure_sms(DB_NAME, cls.sms)

    @classmethod
    def tearDownClass(cls):
        cls.sms.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.api = Api(self.client())
        # The tests share the address 127.0.0.1
        set_config(self, 'miniprogram', 'sms_max_network', 10000)
        set_config(self, 'session', 'max_attempt_ip_network', 10000)

    def assertError(self, result, status, code, reason=None):
        got_status, data = result
        self.assertEqual(got_status, status, data)
        self.assertEqual(data['error']['code'], code, data)
        self.assertIsInstance(data['error']['message'], str)
        if reason is not None:
            self.assertEqual(data['error']['details'].get('reason'), reason,
                data)
        return data

    def register(self):
        phone = new_phone()
        data = self.api.json('POST', 'auth/register', {
                'phone': phone, 'password': PASSWORD, 'name': "Li"},
            expect=201)
        return phone, data

    def ask_code(self, phone, purpose='reset', **kwargs):
        "Ask a code for phone and return the code sent (or None)"
        before = len(self.sms.codes(phone))
        data = self.api.json('POST', 'auth/sms-code', {
                'phone': phone, 'purpose': purpose}, **kwargs, expect=202)
        self.assertEqual(data, {'expires_in': 300,
                'resend_in': config.getint(
                    'miniprogram', 'sms_interval', default=60)})
        codes = self.sms.codes(phone)
        if len(codes) > before:
            return codes[-1]
        return None

    def codes_of(self, phone):
        def read():
            Code = Pool().get('miniprogram.sms.code')
            return [(c.purpose, c.state, c.attempts,
                    c.member.id if c.member else None, c.code_hash,
                    c.message.state if c.message else None,
                    c.message.payload if c.message else None,
                    c.message.body if c.message else None)
                for c in Code.search([('phone', '=', '+86' + phone)],
                    order=[('id', 'ASC')])]
        return in_transaction(read)

    def reset(self, phone, code, password=NEW_PASSWORD, **kwargs):
        "POST auth/reset-password (kwargs: those of Api.json)"
        return self.api.json('POST', 'auth/reset-password', {
                'phone': phone, 'code': code, 'password': password}, **kwargs)

    def login(self, phone, password=PASSWORD, **kwargs):
        "POST auth/login (kwargs: those of Api.json)"
        return self.api.json('POST', 'auth/login', {
                'phone': phone, 'password': password}, **kwargs)

    def sms_login(self, phone, code, **kwargs):
        "POST auth/sms-login (kwargs: those of Api.json)"
        return self.api.json('POST', 'auth/sms-login', {
                'phone': phone, 'code': code}, **kwargs)

    def wrong(self, code):
        "A code of 6 digits other than code"
        return '%06d' % ((int(code) + 1) % 10 ** 6)

    # auth/sms-code

    def test_code_sent_to_member(self):
        "A member's phone receives a 6-digit code, stored hashed only"
        phone, _ = self.register()
        code = self.ask_code(phone)
        self.assertRegex(code, r'^[0-9]{6}$')
        sent, = [b for b in self.sms.sent if b['PhoneNumbers'] == phone]
        self.assertEqual(sent['TemplateCode'], 'SMS_0001')
        self.assertEqual(sent['SignName'], 'Lotus Club')
        (purpose, state, attempts, member, code_hash, message_state,
            payload, body), = self.codes_of(phone)
        self.assertEqual((purpose, state, attempts), ('reset', 'pending', 0))
        self.assertIsNotNone(member)
        self.assertNotIn(code, code_hash)
        # The message that carried it is sent and erased
        self.assertEqual(message_state, 'sent')
        self.assertIsNone(payload)
        self.assertIsNone(body)

    def test_code_unregistered_same_answer(self):
        "An unknown phone gets the same answer and nothing is sent"
        phone = new_phone()
        self.assertIsNone(self.ask_code(phone))
        self.assertEqual(self.sms.codes(phone), [])
        (purpose, state, _, member, code_hash, message, _, _), = (
            self.codes_of(phone))
        # The same work: a code made and hashed, never sent
        self.assertEqual((purpose, state, member, message),
            ('reset', 'pending', None, None))
        self.assertTrue(code_hash)
        # No code can be right
        self.assertError(self.reset(phone, '123456'),
            422, 'invalid_code', 'wrong')

    def test_code_malformed(self):
        "Malformed requests are 400 and send nothing"
        phone, _ = self.register()
        for body in [
                {'phone': phone},
                {'phone': phone, 'purpose': 'other'},
                {'phone': 'abc', 'purpose': 'reset'},
                {'phone': '12345', 'purpose': 'login'},
                {'phone': phone, 'purpose': 'reset', 'member': 1},
                {'phone': 13700000000, 'purpose': 'reset'},
                ]:
            with self.subTest(body=body):
                self.assertError(self.api.json('POST', 'auth/sms-code', body),
                    400, 'invalid_request')
        self.assertEqual(self.sms.codes(phone), [])

    def test_code_rate_limited(self):
        "One code a minute and 5 an hour per phone, Retry-After"
        phone, _ = self.register()
        self.ask_code(phone)
        response = self.api('POST', 'auth/sms-code', {
                'phone': phone, 'purpose': 'login'})
        self.assertEqual(response.status_code, 429)
        self.assertEqual(
            json.loads(response.data)['error']['code'], 'rate_limited')
        self.assertTrue(0 < int(response.headers['Retry-After']) <= 61)
        self.assertEqual(len(self.sms.codes(phone)), 1)
        # An unknown phone is limited the same way
        unknown = new_phone()
        self.ask_code(unknown)
        self.assertError(self.api.json('POST', 'auth/sms-code', {
                    'phone': unknown, 'purpose': 'reset'}),
            429, 'rate_limited')
        # At most sms_max_phone within the window
        set_config(self, 'miniprogram', 'sms_interval', 0)
        set_config(self, 'miniprogram', 'sms_max_phone', 3)
        self.ask_code(phone)
        self.ask_code(phone)
        response = self.api('POST', 'auth/sms-code', {
                'phone': phone, 'purpose': 'reset'})
        self.assertEqual(response.status_code, 429)
        self.assertGreater(int(response.headers['Retry-After']), 60)
        self.assertEqual(len(self.sms.codes(phone)), 3)

    def test_code_rate_limited_network(self):
        "Codes of many phones from one IP network are limited there"
        set_config(self, 'miniprogram', 'sms_max_network', 2)
        set_config(self, 'session', 'ip_network_4', 24)
        client = self.client()

        def ask(address, phone):
            response = client.open(
                '/%s/mp/v1/auth/sms-code' % DB_NAME, method='POST',
                data=json.dumps({'phone': phone, 'purpose': 'reset'}),
                headers={'Content-Type': 'application/json'},
                environ_base={'REMOTE_ADDR': address})
            return response.status_code, response.headers.get('Retry-After')
        self.assertEqual(ask('10.7.0.1', new_phone())[0], 202)
        self.assertEqual(ask('10.7.0.2', new_phone())[0], 202)
        status, retry_after = ask('10.7.0.3', new_phone())
        self.assertEqual(status, 429)
        self.assertGreater(int(retry_after), 0)
        self.assertEqual(ask('10.6.0.1', new_phone())[0], 202)

    def test_code_replaced(self):
        "A new code ends the previous one of the phone and purpose"
        set_config(self, 'miniprogram', 'sms_interval', 0)
        phone, _ = self.register()
        first = self.ask_code(phone)
        login = self.ask_code(phone, 'login')
        second = self.ask_code(phone)
        states = [(p, s) for p, s, *_ in self.codes_of(phone)]
        self.assertEqual(states, [('reset', 'replaced'),
                ('login', 'pending'), ('reset', 'pending')])
        if first != second:
            self.assertError(self.reset(phone, first),
                422, 'invalid_code', 'wrong')
        self.reset(phone, second, expect=200)
        # The code of the other purpose still works
        self.sms_login(phone, login, expect=200)

    def test_provider_refusals(self):
        "A busy provider is retried later, a refusal fails; same answer"
        phone, _ = self.register()
        set_config(self, 'miniprogram', 'sms_interval', 0)
        self.sms.answers[:] = ['isv.BUSINESS_LIMIT_CONTROL']
        self.assertIsNone(self.ask_code(phone))
        self.sms.answers[:] = ['isv.MOBILE_NUMBER_ILLEGAL']
        self.assertIsNone(self.ask_code(phone))
        self.sms.answers[:] = ['http500']
        self.assertIsNone(self.ask_code(phone))
        messages = [(m, p) for _, _, _, _, _, m, p, _ in self.codes_of(phone)]
        self.assertEqual([m for m, _ in messages],
            ['queued', 'failed', 'queued'])
        # A failed secret message is erased, a queued one not yet
        self.assertIsNone(messages[1][1])
        self.assertIn('code', messages[0][1])

    # auth/reset-password

    def test_reset_password(self):
        "A code sets the password, answers tokens, revokes the others"
        phone, registered = self.register()
        code = self.ask_code(phone)
        data = self.reset(phone, code, expect=200)
        self.assertEqual(data['member']['id'], registered['member']['id'])
        # The refresh tokens issued before are revoked, the new one works
        self.assertError(self.api.json('POST', 'auth/refresh', {
                    'refresh_token': registered['refresh_token']}),
            401, 'unauthorized')
        self.api.json('POST', 'auth/refresh', {
                'refresh_token': data['refresh_token']}, expect=200)
        self.assertError(self.login(phone), 401, 'invalid_credentials')
        self.login(phone, NEW_PASSWORD, expect=200)

        def reasons():
            RefreshToken = Pool().get('miniprogram.refresh_token')
            return {t.revoke_reason for t in RefreshToken.search([
                        ('member', '=', registered['member']['id'])])}
        self.assertIn('password_reset', in_transaction(reasons))
        # Used once
        self.assertError(self.reset(phone, code, PASSWORD),
            422, 'invalid_code', 'used')
        self.login(phone, NEW_PASSWORD, expect=200)

    def test_reset_wrong_code(self):
        "A wrong code changes nothing and is counted; the right one works"
        phone, _ = self.register()
        code = self.ask_code(phone)
        self.assertError(self.reset(phone, self.wrong(code)),
            422, 'invalid_code', 'wrong')
        self.assertEqual(self.codes_of(phone)[0][2], 1)
        self.login(phone, expect=200)
        self.reset(phone, code, expect=200)

    def test_reset_too_many_attempts(self):
        "3 wrong codes block the code; more failures are throttled (429)"
        phone, _ = self.register()
        code = self.ask_code(phone)
        body = {'phone': phone, 'password': NEW_PASSWORD}
        for reason in ['wrong', 'wrong', 'too_many_attempts']:
            self.assertError(self.api.json('POST', 'auth/reset-password',
                    dict(body, code=self.wrong(code))),
                422, 'invalid_code', reason)
        # Even the right code
        self.assertError(self.api.json('POST', 'auth/reset-password',
                dict(body, code=code)),
            422, 'invalid_code', 'too_many_attempts')
        self.assertEqual(self.codes_of(phone)[0][1:3], ('blocked', 3))
        # The failures of the phone are throttled as failed logins
        self.assertError(self.api.json('POST', 'auth/reset-password',
                dict(body, code=code)),
            422, 'invalid_code', 'too_many_attempts')
        response = self.api('POST', 'auth/reset-password',
            dict(body, code=code))
        self.assertEqual(response.status_code, 429)
        self.assertGreater(int(response.headers['Retry-After']), 0)
        self.login(phone, expect=200)

    def test_reset_expired(self):
        "A code is valid 5 minutes"
        phone, _ = self.register()
        start = dt.datetime.now(dt.timezone.utc)  # real time: the test's
        clock.freeze(start)
        self.addCleanup(clock.unfreeze)
        code = self.ask_code(phone)
        clock.freeze(start + dt.timedelta(seconds=299))
        # A reset code is not a login code
        self.sms_login(phone, code, expect=422)
        clock.freeze(start + dt.timedelta(seconds=300))
        self.assertError(self.reset(phone, code),
            422, 'invalid_code', 'expired')
        self.login(phone, expect=200)

    def test_reset_weak_password(self):
        "A password refused by the rules uses no code"
        phone, _ = self.register()
        code = self.ask_code(phone)
        # The last one is refused after the code was checked (it is the
        # member's login): the code is not used either
        for password in ['short', '12345678', '+86' + phone]:
            with self.subTest(password=password):
                self.assertError(self.reset(phone, code, password),
                    400, 'invalid_request')
        self.assertEqual(self.codes_of(phone)[0][1:3], ('pending', 0))
        self.reset(phone, code, expect=200)

    def test_reset_malformed(self):
        "Malformed codes and bodies are 400 and count nothing"
        phone, _ = self.register()
        self.ask_code(phone)
        for body in [
                {'phone': phone, 'code': '12345', 'password': NEW_PASSWORD},
                {'phone': phone, 'code': '1234567',
                    'password': NEW_PASSWORD},
                {'phone': phone, 'code': 'abcdef', 'password': NEW_PASSWORD},
                {'phone': phone, 'code': 123456, 'password': NEW_PASSWORD},
                {'phone': phone, 'code': '123456'},
                {'phone': phone, 'code': '123456', 'password': NEW_PASSWORD,
                    'member_id': 1},
                ]:
            with self.subTest(body=body):
                self.assertError(self.api.json(
                        'POST', 'auth/reset-password', body),
                    400, 'invalid_request')
        self.assertEqual(self.codes_of(phone)[0][1:3], ('pending', 0))

    def test_reset_inactive_member(self):
        "The code of a member deactivated since is refused"
        phone, registered = self.register()
        code = self.ask_code(phone)

        def deactivate():
            Member = Pool().get('member.member')
            Member.write([Member(registered['member']['id'])],
                {'active': False})
        in_transaction(deactivate)
        self.assertError(self.reset(phone, code),
            422, 'invalid_code', 'wrong')

    # auth/sms-login

    def test_sms_login(self):
        "A login code answers tokens once"
        phone, registered = self.register()
        code = self.ask_code(phone, 'login')
        data = self.sms_login(phone, code, expect=200)
        self.assertEqual(data['member']['id'], registered['member']['id'])
        self.api.json('GET', 'me', token=data['access_token'], expect=200)
        self.assertError(self.sms_login(phone, code),
            422, 'invalid_code', 'used')
        # The password still works, the other sessions too
        self.api.json('POST', 'auth/refresh', {
                'refresh_token': registered['refresh_token']}, expect=200)

    def test_sms_login_errors(self):
        "Wrong, reset-purpose, unknown phone and malformed codes"
        phone, _ = self.register()
        self.assertError(self.sms_login(phone, '123456'),
            422, 'invalid_code', 'wrong')
        code = self.ask_code(phone, 'reset')
        self.assertError(self.sms_login(phone, code),
            422, 'invalid_code', 'wrong')
        self.assertError(self.sms_login(new_phone(), code),
            422, 'invalid_code', 'wrong')
        for body in [{'phone': phone}, {'code': code},
                {'phone': 'x', 'code': code},
                {'phone': phone, 'code': code, 'password': PASSWORD}]:
            with self.subTest(body=body):
                self.assertError(self.api.json(
                        'POST', 'auth/sms-login', body),
                    400, 'invalid_request')

    def test_openapi(self):
        "The routes are published with their errors"
        status, doc = self.api.json('GET', 'openapi.json')
        self.assertEqual(status, 200)
        paths = doc['paths']
        prefix = '/{database}/mp/v1/'
        self.assertIn('202', paths[prefix + 'auth/sms-code']['post'][
                'responses'])
        self.assertIn('429', paths[prefix + 'auth/sms-code']['post'][
                'responses'])
        for path in ['auth/reset-password', 'auth/sms-login']:
            self.assertIn('422', paths[prefix + path]['post']['responses'])
        responses = paths[prefix + 'auth/wechat-phone']['post']['responses']
        for status in ['200', '401', '409', '422', '502']:
            self.assertIn(status, responses)


class SmsApiChineseTestCase(RouteTestCase):
    "Mini-program API: the errors of the SMS codes in Simplified Chinese"
    module = 'miniprogram'
    language = 'zh_CN'

    def test_errors_in_chinese(self):
        api = Api(self.client(), language='zh-CN')
        phone = new_phone()
        data = api.json('POST', 'auth/sms-login', {
                'phone': phone, 'code': '000000'}, expect=422)
        self.assertEqual(data['error']['message'], "验证码错误。")
        api.json('POST', 'auth/sms-code', {
                'phone': phone, 'purpose': 'login'}, expect=202)
        data = api.json('POST', 'auth/sms-code', {
                'phone': phone, 'purpose': 'login'}, expect=429)
        self.assertEqual(data['error']['message'],
            "该手机号或网络获取验证码过于频繁，请稍后再试。")


class WeChatPhoneApiTestCase(RouteTestCase):
    "Mini-program API: the phone of WeChat's getPhoneNumber button"
    module = 'miniprogram'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wechat = FakeWeChat()
        cls.wechat.appid = 'wx-test'

    @classmethod
    def tearDownClass(cls):
        cls.wechat.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        set_config(self, 'miniprogram', 'wechat_api', self.wechat.url)
        set_config(self, 'miniprogram', 'appid', 'wx-test')
        set_config(self, 'miniprogram', 'secret', 'wx-secret')
        self.api = Api(self.client())

    assertError = SmsApiTestCase.assertError

    def wechat_member(self):
        "An Api of a member without phone (as after auth/wechat)"
        def create():
            pool = Pool()
            Member = pool.get('member.member')
            RefreshToken = pool.get('miniprogram.refresh_token')
            member, = Member.create([{'name': "Wei"}])
            return member.id, RefreshToken.issue(member)['access_token']
        member_id, token = in_transaction(create)
        api = Api(self.client(), token=token)
        api.member_id = member_id
        return api

    def phone_of(self, member_id):
        def read():
            return Pool().get('member.member')(member_id).phone
        return in_transaction(read)

    def test_bind(self):
        "The verified phone is given to the member"
        api = self.wechat_member()
        number = new_phone()
        self.wechat.phones['p-1'] = ('86', number)
        data = api.json('POST', 'auth/wechat-phone', {'code': 'p-1'},
            expect=200)
        self.assertEqual(data['member']['phone'],
            number[:3] + '****' + number[-4:])
        self.assertEqual(self.phone_of(api.member_id), '+86' + number)
        # The token was fetched and sent
        self.assertEqual(self.wechat.phone_codes[-1], 'p-1')
        # The same phone again: nothing changes
        self.wechat.phones['p-2'] = ('86', number)
        api.json('POST', 'auth/wechat-phone', {'code': 'p-2'}, expect=200)
        # The phone is a login: SMS codes reach it
        # (the code of a button is valid once)
        self.assertError(api.json('POST', 'auth/wechat-phone',
                {'code': 'p-1'}),
            422, 'invalid_code', 'wechat')

    def test_replace_phone(self):
        "A member's phone is replaced by the one WeChat verified"
        phone = new_phone()
        data = self.api.json('POST', 'auth/register', {
                'phone': phone, 'password': PASSWORD}, expect=201)
        api = Api(self.client(), token=data['access_token'])
        number = new_phone()
        self.wechat.phones['r-1'] = ('86', number)
        api.json('POST', 'auth/wechat-phone', {'code': 'r-1'}, expect=200)
        self.assertEqual(
            self.phone_of(data['member']['id']), '+86' + number)

    def test_phone_taken(self):
        "Another member's phone is 409 and nothing is merged"
        phone = new_phone()
        other = self.api.json('POST', 'auth/register', {
                'phone': phone, 'password': PASSWORD}, expect=201)
        api = self.wechat_member()
        self.wechat.phones['t-1'] = ('86', phone)
        data = self.assertError(api.json('POST', 'auth/wechat-phone',
                {'code': 't-1'}), 409, 'phone_taken')
        self.assertNotIn(phone, json.dumps(data))
        self.assertIsNone(self.phone_of(api.member_id))
        self.assertEqual(self.phone_of(other['member']['id']), '+86' + phone)
        status, me = api.json('GET', 'me')
        self.assertIsNone(me['member']['phone'])

    def test_wechat_errors(self):
        "WeChat's refusals map to the API's codes"
        api = self.wechat_member()
        self.assertError(api.json('POST', 'auth/wechat-phone',
                {'code': 'unknown'}), 422, 'invalid_code', 'wechat')
        self.wechat.phones['used'] = 40163
        self.assertError(api.json('POST', 'auth/wechat-phone',
                {'code': 'used'}), 422, 'invalid_code', 'wechat')
        for code, answer in [('busy', -1), ('quota', 1400001),
                ('limit', 45011), ('down', 'http500')]:
            with self.subTest(answer=answer):
                self.wechat.phones[code] = answer
                data = self.assertError(api.json('POST', 'auth/wechat-phone',
                        {'code': code}), 502, 'wechat_unavailable')
                self.assertNotIn('TOKEN', json.dumps(data))
        # A landline is no member's phone
        self.wechat.phones['land'] = ('86', '2161234567')
        self.assertError(api.json('POST', 'auth/wechat-phone',
                {'code': 'land'}), 422, 'invalid_code', 'not_mobile')
        # Another mini-program's answer
        self.wechat.appid = 'wx-other'
        self.addCleanup(setattr, self.wechat, 'appid', 'wx-test')
        self.wechat.phones['other'] = ('86', new_phone())
        self.assertError(api.json('POST', 'auth/wechat-phone',
                {'code': 'other'}), 502, 'wechat_unavailable')
        self.assertIsNone(self.phone_of(api.member_id))

    def test_token_renewed(self):
        "A token refused by WeChat is renewed once"
        api = self.wechat_member()
        number = new_phone()
        self.wechat.phones['n-1'] = ('86', number)
        status, _ = api.json('GET', 'me')
        fetches = self.wechat.token_fetches
        # WeChat forgets the stored token (fetched by another system)
        with self.wechat.lock:
            self.wechat.valid_token = 'SOMEONE-ELSES'
        api.json('POST', 'auth/wechat-phone', {'code': 'n-1'}, expect=200)
        self.assertGreater(self.wechat.token_fetches, fetches)
        self.assertEqual(self.phone_of(api.member_id), '+86' + number)

    def test_unreachable(self):
        "An unreachable WeChat is 502"
        api = self.wechat_member()
        set_config(self, 'miniprogram', 'wechat_api', 'http://127.0.0.1:9')

        def forget():
            Token = Pool().get('outbox.wechat.token')
            Token.write(Token.search([]), {'access_token': None})
        in_transaction(forget)
        self.assertError(api.json('POST', 'auth/wechat-phone',
                {'code': 'x'}), 502, 'wechat_unavailable')

    def test_bad_requests(self):
        "No token is 401, a malformed body 400"
        self.assertError(self.api.json('POST', 'auth/wechat-phone',
                {'code': 'p'}), 401, 'unauthorized')
        api = self.wechat_member()
        for body in [{}, {'code': ''}, {'code': 5}, {'code': 'x' * 129},
                {'code': 'p', 'phone': '13700000000'}]:
            with self.subTest(body=body):
                self.assertError(api.json('POST', 'auth/wechat-phone', body),
                    400, 'invalid_request')
        self.assertEqual(self.wechat.phone_codes, [])
