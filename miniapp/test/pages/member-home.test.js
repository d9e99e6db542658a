// pages/home: the check-in button (through utils/checkin-flow), the
// records button with the offline queue's count, the daily sign-in
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { MEMBER, checkin, tap } = require('./member-fixtures')

const TOKEN = '5.2934567.abcdefghijklmnopqrstuv'

describe('pages/home', () => {
  let wx
  let sent
  let answers

  beforeEach(() => {
    sent = []
    answers = {
      checkins: () => json(201, { checkin: checkin(), member: { points_balance: 130, streak_days: 4 } }),
      'checkins/daily': () => json(201, {
        checkin: checkin({ id: 40, event_id: 2, method: 'daily', points_awarded: 5, distance_m: null }),
        member: { points_balance: 125, streak_days: 4 },
      }),
      me: () => json(200, { member: MEMBER }),
      'auth/refresh': () => json(200, {
        access_token: 'access-2', refresh_token: 'refresh-2', token_type: 'Bearer', expires_in: 900,
      }),
    }
    wx = setup({
      device: { scanCode: { result: TOKEN, scanType: 'QR_CODE' } },
      request: (req) => {
        const route = routeOf(req.url)
        sent.push({ route, method: req.method, data: req.data, auth: req.header.Authorization })
        return answers[route](req)
      },
    })
    login(wx, MEMBER)
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  test('renders the two big buttons and the daily card in Chinese', async () => {
    const comp = render('pages/home/index')
    await settle()
    expect(text(comp)).toContain('我要签到')
    expect(text(comp)).toContain('我的记录')
    expect(text(comp)).toContain('每日签到')
    expect(sent).toEqual([])
  })

  test('renders in English', async () => {
    wx = setup({ device: { language: 'en' } })
    login(wx)
    const comp = render('pages/home/index')
    expect(text(comp)).toContain('Check in')
    expect(text(comp)).toContain('Daily sign-in')
  })

  test('not logged in: the login page, back here afterwards', async () => {
    wx.removeStorageSync('session')
    render('pages/home/index')
    await settle()
    expect(wx.callsOf('reLaunch')[0].url).toBe(
      '/pages/login/index?redirect=' + encodeURIComponent('/pages/home/index'))
  })

  test('check-in: scan, position, POST checkins, the result page with the outcome', async () => {
    const comp = render('pages/home/index')
    tap(comp, 'checkin')
    await settle()
    expect(wx.callsOf('scanCode')[0]).toMatchObject({ onlyFromCamera: false, scanType: ['qrCode'] })
    expect(sent).toHaveLength(1)
    expect(sent[0].route).toBe('checkins')
    expect(sent[0].method).toBe('POST')
    expect(sent[0].data).toMatchObject({ qr_token: TOKEN, lat: 31.2304, lon: 121.4737, accuracy_m: 15 })
    expect(sent[0].data.client_uuid).toMatch(/^[0-9a-f-]{36}$/)
    expect(wx.callsOf('navigateTo')[0].url).toBe('/pages/checkin-result/index')
    const saved = wx.getStorageSync('checkin_outcome')
    expect(saved.outcome).toBe('created')
    expect(saved.checkin.points_awarded).toBe(10)
    expect(comp.data.checking).toBe(false)
  })

  test('a scan cancelled: nothing sent, no navigation', async () => {
    wx.device.scanCode = new Error('cancel')
    const comp = render('pages/home/index')
    tap(comp, 'checkin')
    await settle()
    expect(sent).toEqual([])
    expect(wx.callsOf('navigateTo')).toEqual([])
  })

  test('a QR of another app: refused locally, nothing sent', async () => {
    wx.device.scanCode = { result: 'https://weixin.qq.com/r/somebody-else' }
    const comp = render('pages/home/index')
    tap(comp, 'checkin')
    await settle()
    expect(sent).toEqual([])
    const saved = wx.getStorageSync('checkin_outcome')
    expect(saved).toMatchObject({ outcome: 'refused', error: { code: 'not_a_checkin_code' } })
    expect(saved.error.message).toContain('这不是签到码')
  })

  test('location refused: refused with location_denied, nothing sent', async () => {
    wx.device.location = new Error('auth deny')
    const comp = render('pages/home/index')
    tap(comp, 'checkin')
    await settle()
    expect(sent).toEqual([])
    expect(wx.getStorageSync('checkin_outcome').error.code).toBe('location_denied')
  })

  test('no network: the check-in is queued and the badge counts it', async () => {
    answers.checkins = () => { throw new Error('offline') }
    const comp = render('pages/home/index')
    expect(comp.querySelector('#pending')).toBeFalsy()
    tap(comp, 'checkin')
    await settle()
    expect(wx.getStorageSync('checkin_outcome')).toMatchObject({ outcome: 'queued', pending: 1 })
    expect(comp.data.pending).toBe(1)
    expect(comp.querySelector('#pending')).toBeTruthy()
    expect(text(comp)).toContain('待发送的签到： 1')
  })

  test('the badge follows the queue (events "queue")', async () => {
    const comp = render('pages/home/index')
    require('../../utils/events.js').emit('queue', { pending: 3 })
    await settle()
    expect(comp.data.pending).toBe(3)
    expect(text(comp)).toContain('3')
  })

  test('my records', async () => {
    const comp = render('pages/home/index')
    tap(comp, 'records')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/pages/records/index')
  })

  test('daily sign-in: points and streak', async () => {
    const comp = render('pages/home/index')
    tap(comp, 'daily-signin')
    await settle()
    expect(sent).toEqual([{ route: 'checkins/daily', method: 'POST', data: {}, auth: 'Bearer access-1' }])
    expect(text(comp)).toContain('签到成功，获得 5 积分，已连续签到 4 天')
    expect(text(comp)).toContain('当前积分 125')
    expect(text(comp)).toContain('已签到')
  })

  test('daily sign-in twice the same day: already signed in, with the streak', async () => {
    answers['checkins/daily'] = () => apiError(409, 'already_checked_in', 'already', {
      checkin: checkin({ id: 39, method: 'daily' }),
    })
    const comp = render('pages/home/index')
    tap(comp, 'daily-signin')
    await settle()
    expect(sent.map((s) => s.route)).toEqual(['checkins/daily', 'me'])
    expect(text(comp)).toContain('今天已经签到过了，已连续签到 3 天')
  })

  test('daily sign-in without network: says so, may try again', async () => {
    answers['checkins/daily'] = () => { throw new Error('offline') }
    const comp = render('pages/home/index')
    tap(comp, 'daily-signin')
    await settle()
    expect(text(comp)).toContain('网络不可用')
    expect(comp.data.signing).toBe(false)
    answers['checkins/daily'] = () => json(201, {
      checkin: checkin({ points_awarded: 5 }), member: { points_balance: 125, streak_days: 4 },
    })
    tap(comp, 'daily-signin')
    await settle()
    expect(text(comp)).toContain('签到成功')
  })

  test('daily sign-in: 5xx in words', async () => {
    answers['checkins/daily'] = () => apiError(500, 'internal_error', 'boom')
    const comp = render('pages/home/index')
    tap(comp, 'daily-signin')
    await settle()
    expect(text(comp)).toContain('服务器出错了')
  })

  test('daily sign-in: 429 with Retry-After, disabled until the wait ends', async () => {
    jest.useFakeTimers()
    answers['checkins/daily'] = () => apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '4' })
    const comp = render('pages/home/index')
    tap(comp, 'daily-signin')
    await jest.advanceTimersByTimeAsync(10)
    expect(text(comp)).toContain('操作太频繁')
    expect(text(comp)).toContain('4s')
    tap(comp, 'daily-signin')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(4000)
    expect(comp.data.wait).toBe(0)
    tap(comp, 'daily-signin')
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(2)
  })

  test('an expired token: 401, one refresh, the sign-in retried with the new token', async () => {
    let first = true
    answers['checkins/daily'] = () => {
      if (first) {
        first = false
        return apiError(401, 'unauthorized', 'expired')
      }
      return json(201, { checkin: checkin({ points_awarded: 5 }), member: { points_balance: 125, streak_days: 4 } })
    }
    const comp = render('pages/home/index')
    tap(comp, 'daily-signin')
    await settle()
    expect(sent.map((s) => [s.route, s.auth])).toEqual([
      ['checkins/daily', 'Bearer access-1'],
      ['auth/refresh', undefined],
      ['checkins/daily', 'Bearer access-2'],
    ])
    expect(sent[1].data).toEqual({ refresh_token: 'refresh-1' })
    expect(text(comp)).toContain('签到成功')
    expect(wx.getStorageSync('session').access_token).toBe('access-2')
  })
})
