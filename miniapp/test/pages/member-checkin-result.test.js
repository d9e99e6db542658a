// pages/checkin-result: every outcome of utils/checkin-flow in words, with
// the outcome prepared the way the home page prepares it (outcome.save)
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { MEMBER, checkin, tap } = require('./member-fixtures')

const TOKEN = '5.2934567.abcdefghijklmnopqrstuv'
const EVENTS = {
  items: [{
    id: 5, name: '年度会员大会', kind: 'meeting', start: '2026-12-03T09:00:00+08:00',
    end: '2026-12-03T12:00:00+08:00', location: { lat: 31.23, lon: 121.47, radius_m: 200 },
    methods: ['qr'], checked_in: true,
  }],
  total: 1,
}

describe('pages/checkin-result', () => {
  let wx
  let sent
  let answers

  beforeEach(() => {
    sent = []
    answers = {
      events: () => json(200, EVENTS),
      checkins: () => json(201, { checkin: checkin(), member: { points_balance: 130, streak_days: 4 } }),
    }
    wx = setup({
      device: { scanCode: { result: TOKEN } },
      request: (req) => {
        const route = routeOf(req.url)
        sent.push({ route, method: req.method, data: req.data })
        return answers[route](req)
      },
    })
    login(wx, MEMBER)
  })

  // The outcome as home saves it
  function prepared(result) {
    return require('../../pages/checkin-result/outcome.js').save(result)
  }

  function refused(code, details = {}, status = 422) {
    const { ApiError } = require('../../utils/errors.js')
    return { outcome: 'refused', error: new ApiError({ status, code, details }) }
  }

  test('created: event, time, points, balance and streak (zh_CN)', async () => {
    prepared({ outcome: 'created', checkin: checkin(), member: { points_balance: 130, streak_days: 4 } })
    const comp = render('pages/checkin-result/index')
    await settle()
    const page = text(comp)
    expect(page).toContain('签到成功')
    expect(page).toContain('年度会员大会')
    expect(page).toContain('签到时间 2026-12-03 09:05')
    expect(page).toContain('获得积分 10')
    expect(page).toContain('当前积分 130，已连续签到 4 天')
    // the event is named by the answer: nothing more asked
    expect(sent).toEqual([])
    // the outcome is read once
    expect(wx.getStorageSync('checkin_outcome')).toBe('')
  })

  test('created in English', async () => {
    wx = setup({ device: { language: 'en' }, request: () => json(200, EVENTS) })
    login(wx)
    prepared({ outcome: 'created', checkin: checkin(), member: { points_balance: 130, streak_days: 4 } })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('Checked in')
    expect(text(comp)).toContain('Balance 130 points, a streak of 4 days')
  })

  test('an answer without the event name (an older server): the check-in still shows', async () => {
    prepared({ outcome: 'created', checkin: checkin({ event_name: undefined }), member: { points_balance: 130, streak_days: 4 } })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('签到成功')
    expect(comp.querySelector('#event')).toBeFalsy()
  })

  test('flagged: accepted, the reasons in words', async () => {
    prepared({
      outcome: 'flagged',
      checkin: checkin({ status: 'flagged', reasons: ['out_of_range', 'wifi_mismatch'] }),
      member: { points_balance: 130, streak_days: 4 },
    })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('签到已受理，待核实')
    expect(text(comp)).toContain('原因：不在签到范围内、未连接现场 Wi-Fi')
  })

  test('queued: saved, sent when the network returns, the queue\'s count', async () => {
    const queue = require('../../utils/queue.js')
    queue.enqueue({ qr_token: TOKEN, client_uuid: 'a1b2c3d4-0000-4000-8000-000000000001', client_time: '2026-12-03T09:05:00+08:00' })
    const { ApiError } = require('../../utils/errors.js')
    prepared({ outcome: 'queued', error: new ApiError({ status: 0, code: 'network_error' }) })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('签到已保存')
    expect(text(comp)).toContain('网络恢复后会自动发送')
    expect(text(comp)).toContain('待发送的签到： 1')
  })

  test('out_of_range: the distance and the radius', async () => {
    prepared(refused('out_of_range', { reason: 'distance', distance_m: 850, radius_m: 200, accuracy_m: 20 }))
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('您不在签到范围内')
    expect(text(comp)).toContain('您距离签到点 850 米，签到范围为 200 米')
  })

  test('already_checked_in: the time of the existing check-in', async () => {
    prepared(refused('already_checked_in', { checkin: checkin({ time: '2026-12-03T08:58:00+08:00' }) }, 409))
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('您已经签到过了')
    expect(text(comp)).toContain('您已于 2026-12-03 08:58 签到')
  })

  test('qr_expired: scan the code on the screen again, here', async () => {
    prepared(refused('qr_expired'))
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('二维码已过期')
    expect(text(comp)).toContain('请重新扫描现场屏幕上的签到码')
    tap(comp, 'rescan')
    await settle()
    expect(sent.map((s) => s.route)).toEqual(['checkins'])
    expect(sent[0].data.qr_token).toBe(TOKEN)
    expect(text(comp)).toContain('签到成功')
    expect(comp.querySelector('#rescan')).toBeFalsy()
  })

  test('invalid_token: says to scan the code at the door', async () => {
    prepared(refused('invalid_token'))
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('二维码无效')
    expect(comp.querySelector('#rescan')).toBeTruthy()
  })

  test('a QR of another app says so', async () => {
    const { ApiError } = require('../../utils/errors.js')
    prepared({ outcome: 'refused', error: new ApiError({ status: 0, code: 'not_a_checkin_code' }) })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('这不是签到码')
    expect(text(comp)).toContain('扫描到的是其他应用的二维码')
  })

  test('location refused: a button that opens the settings', async () => {
    const { ApiError } = require('../../utils/errors.js')
    prepared({ outcome: 'refused', error: new ApiError({ status: 0, code: 'location_denied' }) })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('需要您的位置才能签到')
    tap(comp, 'settings')
    await settle()
    expect(wx.callsOf('openSetting')).toHaveLength(1)
  })

  test('the settings button only where the location was refused', async () => {
    prepared(refused('event_not_open'))
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('活动不在签到时间内')
    expect(comp.querySelector('#settings')).toBeFalsy()
  })

  test('cancelled (or nothing to show): back', async () => {
    prepared({ outcome: 'cancelled' })
    render('pages/checkin-result/index')
    await settle()
    expect(wx.callsOf('navigateBack')).toHaveLength(1)
  })

  test('opened by the kiosk link (q): checked in at once, no scan', async () => {
    const link = 'https://lotus.example.com/mp/checkin?t=' + TOKEN
    const comp = render('pages/checkin-result/index', { query: { q: encodeURIComponent(link) } })
    await settle()
    expect(text(comp)).toContain('签到成功')
    expect(wx.callsOf('scanCode')).toHaveLength(0)
    const post = sent.find((r) => r.route === 'checkins')
    expect(post.data.qr_token).toBe(link)
  })

  test('opened by an entry code (scene): resolved, then the event QR scanned', async () => {
    const scene = 'e5.AbCdEfGhIjKlMnOp'
    answers['entry-codes'] = () => json(200, {
      scene, kind: 'event', place: null, events: [EVENTS.items[0]],
    })
    const comp = render('pages/checkin-result/index', { query: { scene: encodeURIComponent(scene) } })
    await settle()
    expect(text(comp)).toContain('签到成功')
    expect(sent.map((r) => r.route)).toEqual(['entry-codes', 'checkins'])
    expect(sent[1].data.event_id).toBe(5)
    expect(sent[1].data.qr_token).toBe(TOKEN)
  })

  test('opened by a forged entry code: refused, scan again offered', async () => {
    answers['entry-codes'] = () => apiError(422, 'invalid_token', '此二维码无效。', { reason: 'signature' })
    const comp = render('pages/checkin-result/index', { query: { scene: 'e5.AbCdEfGhIjKlMnOx' } })
    await settle()
    expect(text(comp)).toContain('二维码无效')
    expect(text(comp)).toContain('重新扫码')
    expect(wx.callsOf('scanCode')).toHaveLength(0)
    expect(sent.map((r) => r.route)).toEqual(['entry-codes'])
  })

  test('opened by a code without a session: login first, then back here', async () => {
    wx.removeStorageSync(require('../../utils/session.js').KEY)
    render('pages/checkin-result/index', { query: { scene: 'e5.AbCdEfGhIjKlMnOp' } })
    await settle()
    const [call] = wx.callsOf('reLaunch')
    expect(decodeURIComponent(call.url.split('redirect=')[1]))
      .toBe('/pages/checkin-result/index?scene=e5.AbCdEfGhIjKlMnOp')
    expect(sent).toEqual([])
  })

  test('an event that records leaving: check out, the time and the duration', async () => {
    const leaving = { record_leaving: true, checkout_time: null }
    answers['checkins/checkout'] = () => json(200, {
      checkin: checkin({ record_leaving: true, checkout_time: '2026-12-03T10:35:00+08:00', checkout_source: 'member', duration_min: 90 }),
      duration_min: 90,
    })
    prepared({ outcome: 'created', checkin: checkin(leaving), member: { points_balance: 130, streak_days: 4 } })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('签退')
    tap(comp, 'checkout')
    await settle()
    expect(sent.map((s) => s.route)).toEqual(['checkins/checkout'])
    expect(sent[0].method).toBe('POST')
    expect(sent[0].data.event_id).toBe(5)
    expect(sent[0].data.client_uuid).toMatch(/^[0-9a-f-]{36}$/)
    expect(text(comp)).toContain('已签退')
    expect(text(comp)).toContain('签退时间 2026-12-03 10:35')
    expect(text(comp)).toContain('在场 90 分钟')
    expect(comp.querySelector('#checkout')).toBeFalsy()
  })

  test('no check-out for an event that does not record leaving', async () => {
    prepared({ outcome: 'created', checkin: checkin(), member: { points_balance: 130, streak_days: 4 } })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(comp.querySelector('#checkout')).toBeFalsy()
  })

  test('no check-out once checked out', async () => {
    prepared(refused('already_checked_in', { checkin: checkin({ record_leaving: true, checkout_time: '2026-12-03T10:00:00+08:00' }) }, 409))
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(comp.querySelector('#checkout')).toBeFalsy()
  })

  test('already_checked_in when leaving: check out from there; checked out twice shows the first', async () => {
    answers['checkins/checkout'] = () => json(409, { error: {
      code: 'already_checked_out', message: '您已经签退过了。',
      details: { checkin: checkin({ record_leaving: true, checkout_time: '2026-12-03T10:20:00+08:00', duration_min: 75 }) },
    } })
    prepared(refused('already_checked_in', { checkin: checkin({ record_leaving: true, checkout_time: null }) }, 409))
    const comp = render('pages/checkin-result/index')
    await settle()
    tap(comp, 'checkout')
    await settle()
    expect(text(comp)).toContain('已签退')
    expect(text(comp)).toContain('在场 75 分钟')
  })

  test('a refused check-out says why (English)', async () => {
    wx = setup({
      device: { language: 'en' },
      request: (req) => {
        sent.push({ route: routeOf(req.url) })
        return json(422, { error: { code: 'not_checked_in', message: 'You have not checked in.', details: {} } })
      },
    })
    login(wx)
    prepared({ outcome: 'created', checkin: checkin({ record_leaving: true, checkout_time: null }), member: { points_balance: 1, streak_days: 1 } })
    const comp = render('pages/checkin-result/index')
    await settle()
    expect(text(comp)).toContain('Check out')
    tap(comp, 'checkout')
    await settle()
    expect(text(comp)).toContain('You have not checked in: check in before checking out')
    expect(comp.querySelector('#checkout')).toBeFalsy()
  })

  test('back', async () => {
    prepared(refused('wifi_mismatch'))
    const comp = render('pages/checkin-result/index')
    tap(comp, 'back')
    await settle()
    expect(wx.callsOf('navigateBack')).toHaveLength(1)
  })
})
