// pages/login: phone + password, WeChat login, the errors of auth/login
// and auth/wechat, and where the member goes afterwards
const { setup, render, settle, text, json, apiError, routeOf } = require('./helpers')

const { TOKENS, type } = require('./member-fixtures')

describe('pages/login', () => {
  let wx
  let sent
  let answer

  beforeEach(() => {
    sent = []
    answer = () => json(200, TOKENS)
    wx = setup({
      request: (req) => {
        sent.push({ route: routeOf(req.url), method: req.method, data: req.data })
        return answer(req)
      },
    })
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  test('renders in Chinese', async () => {
    const comp = render('pages/login/index')
    await settle()
    expect(text(comp)).toContain('会员登录')
    expect(text(comp)).toContain('微信登录')
  })

  test('renders in English', async () => {
    wx = setup({ device: { language: 'en' } })
    const comp = render('pages/login/index')
    await settle()
    expect(text(comp)).toContain('Member login')
    expect(text(comp)).toContain('Log in with WeChat')
    expect(wx.callsOf('setNavigationBarTitle')[0].title).toBe('Log in')
  })

  test('logs in with phone and password, keeps the session and goes home', async () => {
    const comp = render('pages/login/index')
    type(comp, 'phone', '13800000000')
    type(comp, 'password', 'secret-123')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent).toEqual([{
      route: 'auth/login', method: 'POST', data: { phone: '13800000000', password: 'secret-123' },
    }])
    expect(wx.getStorageSync('session').access_token).toBe('access-1')
    expect(wx.callsOf('switchTab')[0].url).toBe('/pages/home/index')
  })

  test('goes back to the page that sent the member here', async () => {
    const comp = render('pages/login/index', {
      query: { redirect: encodeURIComponent('/member/points/index?x=1') },
    })
    type(comp, 'phone', '13800000000')
    type(comp, 'password', 'secret-123')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('redirectTo')[0].url).toBe('/member/points/index?x=1')
  })

  test('a tab page to go back to is reached with switchTab', async () => {
    const comp = render('pages/login/index', {
      query: { redirect: encodeURIComponent('/pages/me/index') },
    })
    type(comp, 'phone', '13800000000')
    type(comp, 'password', 'secret-123')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('switchTab')[0].url).toBe('/pages/me/index')
  })

  test('nothing is sent without phone and password', async () => {
    const comp = render('pages/login/index')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent).toEqual([])
    expect(text(comp)).toContain('请输入手机号和密码')
  })

  test('invalid_credentials in words, no navigation', async () => {
    answer = () => apiError(401, 'invalid_credentials', 'Wrong phone or password')
    const comp = render('pages/login/index')
    type(comp, 'phone', '13800000000')
    type(comp, 'password', 'wrong-pass')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('手机号或密码不正确')
    expect(wx.callsOf('switchTab')).toEqual([])
    expect(comp.data.busy).toBe(false)
  })

  test('no network: says so', async () => {
    answer = () => { throw new Error('offline') }
    const comp = render('pages/login/index')
    type(comp, 'phone', '13800000000')
    type(comp, 'password', 'secret-123')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('网络不可用')
  })

  test('429 with Retry-After: countdown, login disabled until it ends', async () => {
    jest.useFakeTimers()
    answer = () => apiError(429, 'rate_limited', 'Too many attempts', {}, { 'Retry-After': '3' })
    const comp = render('pages/login/index')
    type(comp, 'phone', '13800000000')
    type(comp, 'password', 'secret-123')
    comp.querySelector('#submit').dispatchEvent('tap')
    await jest.advanceTimersByTimeAsync(10)
    expect(text(comp)).toContain('操作太频繁')
    expect(text(comp)).toContain('3s')
    expect(comp.data.wait).toBe(3)
    // tapping again during the wait sends nothing
    comp.querySelector('#submit').dispatchEvent('tap')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(3000)
    expect(comp.data.wait).toBe(0)
    answer = () => json(200, TOKENS)
    comp.querySelector('#submit').dispatchEvent('tap')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(2)
    expect(wx.callsOf('switchTab')).toHaveLength(1)
  })

  test('WeChat login sends the code of wx.login', async () => {
    const comp = render('pages/login/index')
    comp.querySelector('#wechat').dispatchEvent('tap')
    await settle()
    expect(sent).toEqual([{ route: 'auth/wechat', method: 'POST', data: { code: 'wx-login-code' } }])
    expect(wx.callsOf('switchTab')[0].url).toBe('/pages/home/index')
  })

  test('WeChat unavailable (502) in words', async () => {
    answer = () => apiError(502, 'wechat_unavailable', 'WeChat did not answer')
    const comp = render('pages/login/index')
    comp.querySelector('#wechat').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('暂时无法连接微信')
    expect(wx.callsOf('switchTab')).toEqual([])
  })

  test('wx.login failing sends nothing', async () => {
    wx.device.loginCode = new Error('system error')
    const comp = render('pages/login/index')
    comp.querySelector('#wechat').dispatchEvent('tap')
    await settle()
    expect(sent).toEqual([])
    expect(text(comp)).toContain('无法获取微信登录凭证')
  })

  test('check-ins queued while logged out are sent once logged in', async () => {
    require('../../utils/queue.js').enqueue({
      qr_token: '5.2934567.abcdefghijklmnopqrstuv', client_uuid: 'a1b2c3d4-0000-4000-8000-000000000001',
      client_time: '2026-12-03T09:05:00+08:00',
    })
    answer = (req) => routeOf(req.url) === 'checkins/sync'
      ? json(200, { results: [{ client_uuid: 'a1b2c3d4-0000-4000-8000-000000000001', status: 'duplicate' }] })
      : json(200, TOKENS)
    const comp = render('pages/login/index')
    type(comp, 'phone', '13800000000')
    type(comp, 'password', 'secret-123')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent.map((s) => s.route)).toEqual(['auth/login', 'checkins/sync'])
    expect(sent[1].data.items[0].client_uuid).toBe('a1b2c3d4-0000-4000-8000-000000000001')
  })

  test('links to register and recover', async () => {
    const comp = render('pages/login/index')
    comp.querySelector('#register').dispatchEvent('tap')
    comp.querySelector('#recover').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo').map((c) => c.url)).toEqual([
      '/pages/register/index', '/pages/recover/index',
    ])
  })
})
