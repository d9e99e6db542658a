# This file is part of the outbox module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The one WeChat HTTP client of the suite: the mini-program login
(code2session), the access token, subscription messages
(subscribeMessage.send), the phone number of a getPhoneNumber button
(getuserphonenumber) and the images of mini-program codes
(getwxacodeunlimit).

The base URL, appid and secret are the mini-program's:
[miniprogram] wechat_api (default https://api.weixin.qq.com), appid and
secret, with wechat_timeout (seconds) and token_margin (seconds before its
expiry a token is renewed).  Tests point wechat_api at a local fake server.
Only the HTTP calls are here; the shared token lives in the database
(outbox.wechat.token) and the outcome of a send is decided by `classify`.
The URLs hold the secret or the token: they are never logged."""
import datetime as dt
import json
import logging
import urllib.error
import urllib.parse
import urllib.request

from trytond import config

logger = logging.getLogger(__name__)

DEFAULT_API = 'https://api.weixin.qq.com'
# The token is invalid or expired: fetch a new one and send again once
TOKEN_ERRORS = {40001, 40014, 42001}
# The member has no subscription left for the template: never retry
NO_CREDIT_ERRORS = {43101}
# WeChat is busy: retry later
RETRY_ERRORS = {-1, 45009, 45011}
# errcode of code2session that mean the code itself is wrong
INVALID_CODE = {40029, 40163, 40226}


class WeChatError(Exception):
    "A refused call: errcode is WeChat's code (None for HTTP or network)"

    def __init__(self, message, errcode=None, transient=False):
        super().__init__(message)
        self.errcode = errcode
        self.transient = transient

    @property
    def code_invalid(self):
        return self.errcode in INVALID_CODE


def base_url():
    return config.get('miniprogram', 'wechat_api', default=DEFAULT_API
        ).rstrip('/')


def token_margin():
    return dt.timedelta(seconds=config.getint(
            'miniprogram', 'token_margin', default=300))


def _credentials():
    appid = config.get('miniprogram', 'appid', default='')
    secret = config.get('miniprogram', 'secret', default='')
    if not appid or not secret:
        raise WeChatError("[miniprogram] appid and secret are not set")
    return appid, secret


def _call(path, query, body=None, binary=False):
    """Return the JSON answer of path?query (POST body as JSON when given).

    binary: return the bytes of an answer that is not JSON (an image), a
    JSON answer stays a dictionary."""
    url = '%s%s?%s' % (base_url(), path, urllib.parse.urlencode(query))
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode('utf-8')
        headers['Content-Type'] = 'application/json'
    request = urllib.request.Request(url, data=data, headers=headers)
    timeout = config.getfloat('miniprogram', 'wechat_timeout', default=5)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            content = response.read()
            kind = response.headers.get_content_type()
        if binary and kind not in {'application/json', 'text/plain'}:
            return content
        return json.loads(content.decode('utf-8'))
    except urllib.error.HTTPError as e:
        transient = e.code >= 500 or e.code == 429
        raise WeChatError("HTTP %s" % e.code, transient=transient)
    except (urllib.error.URLError, OSError) as e:
        raise WeChatError(
            "WeChat unreachable: %s" % type(e).__name__, transient=True)
    except ValueError:
        raise WeChatError("WeChat answered no JSON", transient=True)


def code2session(code):
    """Return {'openid', 'session_key', 'unionid'?} for a wx.login code or
    raise WeChatError"""
    appid, secret = _credentials()
    try:
        data = _call('/sns/jscode2session', {
                'appid': appid,
                'secret': secret,
                'js_code': code,
                'grant_type': 'authorization_code',
                })
    except WeChatError as e:
        logger.warning("WeChat code2session failed: %s", e)
        raise
    errcode = data.get('errcode') or 0
    if errcode or not data.get('openid'):
        logger.info("WeChat code2session refused: errcode %s", errcode)
        raise WeChatError("WeChat error %s" % errcode, errcode=errcode)
    return data


def fetch_token():
    "Return (access_token, expires_in timedelta) or raise WeChatError"
    appid, secret = _credentials()
    data = _call('/cgi-bin/token', {
            'grant_type': 'client_credential',
            'appid': appid,
            'secret': secret,
            })
    errcode = data.get('errcode') or 0
    if errcode or not data.get('access_token'):
        logger.warning("WeChat token refused: errcode %s", errcode)
        raise WeChatError(
            "WeChat token error %s" % errcode, errcode=errcode,
            transient=errcode in RETRY_ERRORS)
    return data['access_token'], dt.timedelta(
        seconds=int(data.get('expires_in') or 7200))


def send_subscribe(access_token, openid, template_id, data, page=None):
    """Send a subscription message and return WeChat's (errcode, errmsg)
    (errcode 0 when sent); raise WeChatError for HTTP and network failures"""
    body = {
        'touser': openid,
        'template_id': template_id,
        'data': {k: {'value': v} for k, v in data.items()},
        }
    if page:
        body['page'] = page
    answer = _call('/cgi-bin/message/subscribe/send',
        {'access_token': access_token}, body)
    return int(answer.get('errcode') or 0), answer.get('errmsg') or ''


def classify(errcode):
    """Return what to do after a send answered errcode: 'sent', 'token'
    (refresh the token and send again), 'no_credit', 'retry' or 'fail'"""
    if errcode == 0:
        return 'sent'
    elif errcode in TOKEN_ERRORS:
        return 'token'
    elif errcode in NO_CREDIT_ERRORS:
        return 'no_credit'
    elif errcode in RETRY_ERRORS:
        return 'retry'
    return 'fail'


# errcode of getuserphonenumber that mean the code itself is wrong (invalid,
# used or expired)
PHONE_CODE_INVALID = {40029, 40163, 40013}


def get_phone_number(access_token, code):
    """Return the phone_info of the code of a getPhoneNumber button:
    {'phoneNumber', 'purePhoneNumber', 'countryCode', 'watermark':
    {'timestamp', 'appid'}}; raise WeChatError (errcode set when WeChat
    refused, transient for a busy WeChat).  A code is valid once, for 5
    minutes."""
    answer = _call('/wxa/business/getuserphonenumber',
        {'access_token': access_token}, {'code': code})
    errcode = int(answer.get('errcode') or 0)
    info = answer.get('phone_info')
    if errcode or not isinstance(info, dict):
        logger.info("WeChat getuserphonenumber refused: errcode %s", errcode)
        raise WeChatError("WeChat error %s" % errcode, errcode=errcode,
            transient=errcode in RETRY_ERRORS)
    return info


# errcode of getwxacodeunlimit that mean the page is not a published page of
# the mini-program (41030) or the scene is refused (40097, 40169)
CODE_PAGE_INVALID = {41030}
CODE_SCENE_INVALID = {40097, 40169}


def get_unlimited_code(access_token, scene, page, env_version='release',
        width=430, check_path=True):
    """Return the image (bytes) of the mini-program code of scene on page
    (wxacode.getUnlimited); raise WeChatError (errcode set when WeChat
    refused, transient for a busy WeChat).

    The scene is at most 32 characters of [0-9A-Za-z!#$&'()*+,/:;=?@-._~]:
    the mini-program gets it as the `scene` launch option."""
    answer = _call('/wxa/getwxacodeunlimit', {'access_token': access_token}, {
            'scene': scene,
            'page': page,
            'check_path': check_path,
            'env_version': env_version,
            'width': width,
            }, binary=True)
    if isinstance(answer, bytes) and answer:
        return answer
    errcode = int((answer or {}).get('errcode') or 0) if isinstance(
        answer, dict) else 0
    logger.info("WeChat getwxacodeunlimit refused: errcode %s", errcode)
    raise WeChatError("WeChat error %s" % errcode, errcode=errcode or None,
        transient=errcode in RETRY_ERRORS)
