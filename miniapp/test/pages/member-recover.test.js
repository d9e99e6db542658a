// pages/recover: password reset and SMS login by code
const { setup, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { TOKENS, type, tap } = require('./member-fixtures')

describe('pages/recover', () => {
  let wx
  let sent
  let answers

  beforeEach(() => {
    sent = []
    answers = {
      'auth/sms-code': () => json(202, { expires_in: 300, resend_in: 60 }),
      'auth/reset-password': () => json(200, TOKENS),
      'auth/sms-login': () => json(200, TOKENS),
    }
    wx = setup({
      request: (req) => {
        const route = routeOf(req.url)
        sent.push({ route, method: req.method, data: req.data })
        return answers[route](req)
      },
    })
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  test('renders in Chinese and English', async () => {
    let comp = render('pages/recover/index')
    expect(text(comp)).toContain('找回密码')
    expect(text(comp)).toContain('获取验证码')
    wx = setup({ device: { language: 'en' } })
    comp = render('pages/recover/index')
    expect(text(comp)).toContain('Recover your password')
  })

  test('reset: code sent (same words whatever the phone), resend countdown, then the new password', async () => {
    jest.useFakeTimers()
    const comp = render('pages/recover/index', { query: { phone: '13800000000' } })
    tap(comp, 'send')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent[0]).toEqual({
      route: 'auth/sms-code', method: 'POST', data: { phone: '13800000000', purpose: 'reset' },
    })
    expect(text(comp)).toContain('如果该手机号已注册，验证码已发送')
    expect(text(comp)).toContain('重新发送 (60s)')
    tap(comp, 'send')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(60000)
    expect(comp.data.resend).toBe(0)
    type(comp, 'code', '123456')
    type(comp, 'password', 'new-password-9')
    tap(comp, 'submit')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent[1]).toEqual({
      route: 'auth/reset-password', method: 'POST',
      data: { phone: '13800000000', code: '123456', password: 'new-password-9' },
    })
    expect(wx.getStorageSync('session').access_token).toBe('access-1')
    expect(wx.callsOf('switchTab')[0].url).toBe('/pages/home/index')
  })

  test('429 on sending a code: Retry-After before the next', async () => {
    jest.useFakeTimers()
    answers['auth/sms-code'] = () => apiError(429, 'rate_limited', 'slow down', {}, { 'Retry-After': '5' })
    const comp = render('pages/recover/index', { query: { phone: '13800000000' } })
    tap(comp, 'send')
    await jest.advanceTimersByTimeAsync(10)
    expect(text(comp)).toContain('操作太频繁')
    expect(comp.data.resend).toBe(5)
    expect(comp.data.sent).toBe(false)
    await jest.advanceTimersByTimeAsync(5000)
    expect(comp.data.resend).toBe(0)
  })

  test('422 invalid_code in words; an expired code asks for a new one', async () => {
    answers['auth/reset-password'] = () => apiError(422, 'invalid_code', 'expired', { reason: 'expired' })
    const comp = render('pages/recover/index', { query: { phone: '13800000000' } })
    type(comp, 'code', '123456')
    type(comp, 'password', 'new-password-9')
    tap(comp, 'submit')
    await settle()
    expect(text(comp)).toContain('验证码错误或已过期')
    expect(text(comp)).toContain('请重新获取验证码')
    expect(wx.callsOf('switchTab')).toEqual([])
  })

  test('400 of a weak new password shows the server\'s message', async () => {
    answers['auth/reset-password'] = () => apiError(400, 'invalid_request', '密码太常见', { field: 'body.password' })
    const comp = render('pages/recover/index', { query: { phone: '13800000000' } })
    type(comp, 'code', '123456')
    type(comp, 'password', 'password1')
    tap(comp, 'submit')
    await settle()
    expect(text(comp)).toContain('密码太常见')
  })

  test('a code that is not 6 digits is not sent', async () => {
    const comp = render('pages/recover/index', { query: { phone: '13800000000' } })
    type(comp, 'code', '12')
    tap(comp, 'submit')
    await settle()
    expect(sent).toEqual([])
    expect(text(comp)).toContain('6 位验证码')
  })

  test('SMS login mode: a code for login, then auth/sms-login', async () => {
    const comp = render('pages/recover/index')
    tap(comp, 'modeLogin')
    await settle()
    expect(text(comp)).toContain('验证码登录')
    expect(comp.querySelector('#password')).toBeFalsy()
    type(comp, 'phone', '13900000000')
    tap(comp, 'send')
    await settle()
    type(comp, 'code', '654321')
    tap(comp, 'submit')
    await settle()
    expect(sent).toEqual([
      { route: 'auth/sms-code', method: 'POST', data: { phone: '13900000000', purpose: 'login' } },
      { route: 'auth/sms-login', method: 'POST', data: { phone: '13900000000', code: '654321' } },
    ])
    expect(wx.callsOf('switchTab')[0].url).toBe('/pages/home/index')
  })

  test('SMS login: 429 keeps the login disabled for Retry-After', async () => {
    jest.useFakeTimers()
    answers['auth/sms-login'] = () => apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '2' })
    const comp = render('pages/recover/index', { query: { phone: '13900000000', mode: 'login' } })
    type(comp, 'code', '654321')
    tap(comp, 'submit')
    await jest.advanceTimersByTimeAsync(10)
    expect(comp.data.wait).toBe(2)
    tap(comp, 'submit')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(2000)
    expect(comp.data.wait).toBe(0)
  })

  test('no network when asking for a code', async () => {
    answers['auth/sms-code'] = () => { throw new Error('offline') }
    const comp = render('pages/recover/index', { query: { phone: '13800000000' } })
    tap(comp, 'send')
    await settle()
    expect(text(comp)).toContain('网络不可用')
    expect(comp.data.sending).toBe(false)
  })
})
