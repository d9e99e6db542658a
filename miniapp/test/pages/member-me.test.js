// pages/me: the member centre, the WeChat phone verification, log out
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { MEMBER, tap } = require('./member-fixtures')

describe('pages/me', () => {
  let wx
  let sent
  let answers

  beforeEach(() => {
    sent = []
    answers = {
      me: () => json(200, { member: MEMBER }),
      'auth/wechat-phone': () => json(200, { member: Object.assign({}, MEMBER, { phone: '139****1234' }) }),
      'auth/logout': () => json(204, ''),
    }
    wx = setup({
      request: (req) => {
        const route = routeOf(req.url)
        sent.push({ route, method: req.method, data: req.data })
        return answers[route](req)
      },
    })
    login(wx, MEMBER)
  })

  function withoutPhone() {
    const member = Object.assign({}, MEMBER, { phone: null, tier: null })
    answers.me = () => json(200, { member })
  }

  test('the member centre (zh_CN): name, masked phone, tier and discount, points, streaks', async () => {
    const comp = render('pages/me/index')
    await settle()
    expect(sent).toEqual([{ route: 'me', method: 'GET', data: undefined }])
    const page = text(comp)
    expect(page).toContain('张三')
    expect(page).toContain('138****0000')
    expect(page).toContain('金卡')
    expect(page).toContain('预约享 10% 优惠')
    expect(page).toContain('120')
    expect(page).toContain('连续签到 3 天 · 最长 9 天')
    expect(comp.querySelector('#verifyPhone')).toBeFalsy()
  })

  test('in English, with points about to expire', async () => {
    wx = setup({
      device: { language: 'en' },
      request: () => json(200, { member: Object.assign({}, MEMBER, { expiring: { points: 40, date: '2026-12-31' } }) }),
    })
    login(wx)
    const comp = render('pages/me/index')
    await settle()
    expect(text(comp)).toContain('10% off bookings')
    expect(text(comp)).toContain('40 points expire on 2026-12-31')
    expect(text(comp)).toContain('Points history')
  })

  test('the links', async () => {
    const comp = render('pages/me/index')
    await settle()
    for (const id of ['toPoints', 'toRewards', 'toBookings', 'toAccount', 'toOrganizer']) tap(comp, id)
    await settle()
    expect(wx.callsOf('navigateTo').map((c) => c.url)).toEqual([
      '/member/points/index', '/member/rewards/index', '/booking/mine/index', '/member/account/index',
      '/organizer/events/index',
    ])
  })

  test('not logged in: the login page', async () => {
    wx.removeStorageSync('session')
    render('pages/me/index')
    await settle()
    expect(sent).toEqual([])
    expect(wx.callsOf('reLaunch')[0].url).toBe(
      '/pages/login/index?redirect=' + encodeURIComponent('/pages/me/index'))
  })

  test('no network: says so, retry loads', async () => {
    answers.me = () => { throw new Error('offline') }
    const comp = render('pages/me/index')
    await settle()
    expect(text(comp)).toContain('网络不可用')
    answers.me = () => json(200, { member: MEMBER })
    comp.querySelector('#state').querySelector('.state-retry').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('张三')
  })

  test('no phone: verify it with WeChat, the member updated', async () => {
    withoutPhone()
    const comp = render('pages/me/index')
    await settle()
    expect(text(comp)).toContain('您还没有绑定手机号')
    expect(text(comp)).toContain('普通会员')
    comp.querySelector('#verifyPhone').dispatchEvent('getphonenumber', { detail: { code: 'phone-code-1', errMsg: 'getPhoneNumber:ok' } })
    await settle()
    expect(sent[1]).toEqual({ route: 'auth/wechat-phone', method: 'POST', data: { code: 'phone-code-1' } })
    expect(text(comp)).toContain('139****1234')
    expect(comp.querySelector('#verifyPhone')).toBeFalsy()
    expect(wx.getStorageSync('session').member.phone).toBe('139****1234')
  })

  test('the member refused to share the phone: nothing sent', async () => {
    withoutPhone()
    const comp = render('pages/me/index')
    await settle()
    comp.querySelector('#verifyPhone').dispatchEvent('getphonenumber', { detail: { errMsg: 'getPhoneNumber:fail user deny' } })
    await settle()
    expect(sent).toHaveLength(1)
  })

  test('409 phone_taken: the phone is another account\'s', async () => {
    withoutPhone()
    answers['auth/wechat-phone'] = () => apiError(409, 'phone_taken', 'taken')
    const comp = render('pages/me/index')
    await settle()
    comp.querySelector('#verifyPhone').dispatchEvent('getphonenumber', { detail: { code: 'c' } })
    await settle()
    expect(text(comp)).toContain('该手机号已属于另一个账号')
    expect(comp.querySelector('#verifyPhone')).toBeTruthy()
  })

  test('502 wechat_unavailable and 422 invalid_code in words', async () => {
    withoutPhone()
    answers['auth/wechat-phone'] = () => apiError(502, 'wechat_unavailable', 'down')
    const comp = render('pages/me/index')
    await settle()
    comp.querySelector('#verifyPhone').dispatchEvent('getphonenumber', { detail: { code: 'c' } })
    await settle()
    expect(text(comp)).toContain('暂时无法连接微信')
    answers['auth/wechat-phone'] = () => apiError(422, 'invalid_code', 'bad')
    comp.querySelector('#verifyPhone').dispatchEvent('getphonenumber', { detail: { code: 'c2' } })
    await settle()
    expect(text(comp)).toContain('微信未能验证该手机号')
  })

  test('log out: the refresh token revoked, the session gone, the login page', async () => {
    const comp = render('pages/me/index')
    await settle()
    tap(comp, 'logout')
    await settle()
    expect(sent[1]).toEqual({ route: 'auth/logout', method: 'POST', data: { refresh_token: 'refresh-1' } })
    expect(wx.getStorageSync('session')).toBe('')
    expect(wx.callsOf('reLaunch')[0].url).toBe('/pages/login/index')
  })
})
