# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The WeChat login API (code2session) at a configurable base URL:
[miniprogram] wechat_api (default https://api.weixin.qq.com), appid and
secret.  Tests point wechat_api at a local fake server."""
import json
import logging
import urllib.error
import urllib.parse
import urllib.request

from trytond import config

logger = logging.getLogger(__name__)

DEFAULT_API = 'https://api.weixin.qq.com'
# errcode of code2session that mean the code itself is wrong
INVALID_CODE = {40029, 40163, 40226}


class WeChatError(Exception):

    def __init__(self, message, errcode=None):
        super().__init__(message)
        self.errcode = errcode

    @property
    def code_invalid(self):
        return self.errcode in INVALID_CODE


def base_url():
    return config.get('miniprogram', 'wechat_api', default=DEFAULT_API
        ).rstrip('/')


def code2session(code):
    """Return {'openid', 'session_key', 'unionid'?} for a wx.login code or
    raise WeChatError"""
    appid = config.get('miniprogram', 'appid', default='')
    secret = config.get('miniprogram', 'secret', default='')
    if not appid or not secret:
        raise WeChatError("[miniprogram] appid and secret are not set")
    query = urllib.parse.urlencode({
            'appid': appid,
            'secret': secret,
            'js_code': code,
            'grant_type': 'authorization_code',
            })
    url = '%s/sns/jscode2session?%s' % (base_url(), query)
    timeout = config.getfloat('miniprogram', 'wechat_timeout', default=5)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = json.loads(response.read().decode('utf-8'))
    except (urllib.error.URLError, OSError, ValueError) as e:
        # Never log the URL: it holds the secret
        logger.warning("WeChat code2session failed: %s", type(e).__name__)
        raise WeChatError("WeChat unreachable")
    errcode = data.get('errcode') or 0
    if errcode or not data.get('openid'):
        logger.info("WeChat code2session refused: errcode %s", errcode)
        raise WeChatError("WeChat error %s" % errcode, errcode=errcode)
    return data
