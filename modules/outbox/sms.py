# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""SMS providers of the outbox's `sms` channel.

A provider sends one text message made from a template of the provider
(the template and the signature are approved in the provider's console, as
the Chinese cloud SMS services require) and its parameters, and tells the
outcome: `Provider.send(phone, template, params, reference)` returns
`(outcome, error, provider_id)` with outcome 'sent', 'retry' (try again
later) or 'failed' (never again).

`HTTPProvider` is shaped like the Chinese cloud SMS APIs (Alibaba Cloud's
SendSms, Tencent Cloud's SendSms): a JSON POST to `<base URL>/sms/send`
with the phone, the signature name, the template code and its parameters,
signed with HMAC-SHA256 by the access key secret, answered
`{"Code": "OK", "BizId", "RequestId"}` or an error code.  A provider
whose API differs is a subclass registered in `PROVIDERS` (and in the
selection of `outbox.configuration`).  The key secret is never logged."""
import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid

from trytond import config

logger = logging.getLogger(__name__)

SEND_PATH = '/sms/send'
# The provider refuses for a while (flow control, busy): try again later
RETRY_CODES = {
    'isv.BUSINESS_LIMIT_CONTROL', 'isp.SYSTEM_ERROR', 'Throttling',
    'ServiceUnavailable', 'InternalError',
    }


class Provider:
    "The interface of an SMS provider"

    def __init__(self, base_url, key, secret, sign_name):
        self.base_url = (base_url or '').rstrip('/')
        self.key = key
        self.secret = secret
        self.sign_name = sign_name

    def send(self, phone, template, params, reference=None):
        """Send the message of template with params to phone (E.164) and
        return (outcome, error, provider_id)"""
        raise NotImplementedError


def provider_phone(phone):
    """The number as the Chinese providers take it: 11 digits for mainland
    China, else the country code and the number (digits only)"""
    if phone.startswith('+86'):
        return phone[3:]
    return phone.lstrip('+')


class HTTPProvider(Provider):
    "A Chinese cloud SMS API over HTTPS (JSON, HMAC-SHA256)"

    def signature(self, timestamp, nonce, body):
        """The signature of a request: base64 of HMAC-SHA256 by the secret
        of "POST\\n<path>\\n<timestamp>\\n<nonce>\\n<hex SHA-256 of the
        body>" """
        text = '\n'.join(['POST', SEND_PATH, timestamp, nonce,
                hashlib.sha256(body).hexdigest()])
        digest = hmac.new((self.secret or '').encode('utf-8'),
            text.encode('utf-8'), hashlib.sha256).digest()
        return base64.b64encode(digest).decode('ascii')

    def send(self, phone, template, params, reference=None):
        body = json.dumps({
                'PhoneNumbers': provider_phone(phone),
                'SignName': self.sign_name or '',
                'TemplateCode': template,
                'TemplateParam': json.dumps(
                    params, ensure_ascii=False, sort_keys=True),
                'OutId': str(reference or ''),
                }, ensure_ascii=False, sort_keys=True).encode('utf-8')
        timestamp = str(int(time.time()))  # real time: the provider's
        nonce = uuid.uuid4().hex
        request = urllib.request.Request(
            self.base_url + SEND_PATH, data=body, method='POST', headers={
                'Content-Type': 'application/json; charset=utf-8',
                'X-Sms-Key': self.key or '',
                'X-Sms-Timestamp': timestamp,
                'X-Sms-Nonce': nonce,
                'X-Sms-Signature': self.signature(timestamp, nonce, body),
                })
        timeout = config.getfloat('outbox', 'sms_timeout', default=5)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer = json.loads(response.read().decode('utf-8'))
        except urllib.error.HTTPError as e:
            try:
                answer = json.loads(e.read().decode('utf-8'))
            except ValueError:
                answer = None
            if not isinstance(answer, dict) or 'Code' not in answer:
                outcome = ('retry' if e.code >= 500 or e.code == 429
                    else 'failed')
                return outcome, 'SMS: HTTP %s' % e.code, None
        except (urllib.error.URLError, OSError) as e:
            return 'retry', 'SMS provider unreachable: %s' % (
                type(e).__name__), None
        except ValueError:
            return 'retry', 'SMS provider answered no JSON', None
        if not isinstance(answer, dict):
            return 'retry', 'SMS provider answered no JSON object', None
        code = str(answer.get('Code') or '')
        if code == 'OK':
            return 'sent', None, answer.get('BizId')
        error = 'SMS %s: %s' % (code, answer.get('Message') or '')
        return ('retry' if code in RETRY_CODES else 'failed'), error, None


PROVIDERS = {
    'http': HTTPProvider,
    }


def get_provider(name, base_url, key, secret, sign_name):
    "Return the provider of name configured, or None"
    if not name or name not in PROVIDERS or not base_url:
        return None
    return PROVIDERS[name](base_url, key, secret, sign_name)
