// pages/records: the offline queue (states, send now, clear sent) and my
// check-ins (paginated, pull to refresh, the states of the list)
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { MEMBER, checkin, tap } = require('./member-fixtures')

const UUID1 = 'a1b2c3d4-0000-4000-8000-000000000001'
const UUID2 = 'a1b2c3d4-0000-4000-8000-000000000002'

function item(uuid, time) {
  return { qr_token: '5.2934567.abcdefghijklmnopqrstuv', lat: 31.2, lon: 121.4, client_uuid: uuid, client_time: time }
}

function page(items, total) {
  return { items, total: total === undefined ? items.length : total }
}

describe('pages/records', () => {
  let wx
  let sent
  let answers

  beforeEach(() => {
    sent = []
    answers = {
      'me/checkins': () => json(200, page([checkin(), checkin({ id: 30, method: 'app', points_awarded: 5, time: '2026-12-02T08:00:00+08:00' })])),
      'checkins/sync': (req) => json(200, {
        results: req.data.items.map((i) => ({
          client_uuid: i.client_uuid, status: 'created', checkin: checkin({ client_uuid: i.client_uuid, offline: true }),
        })),
      }),
    }
    wx = setup({
      request: (req) => {
        const route = routeOf(req.url)
        sent.push({ route, method: req.method, data: req.data, url: req.url })
        return answers[route](req)
      },
    })
    login(wx, MEMBER)
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  // The retry button of components/state
  function retry(comp) {
    comp.querySelector('#state').querySelector('.state-retry').dispatchEvent('tap')
  }

  function enqueue(...items) {
    const queue = require('../../utils/queue.js')
    for (const i of items) queue.enqueue(i)
  }

  test('my check-ins (zh_CN): event, time, method, status, points', async () => {
    const comp = render('pages/records/index')
    await settle()
    expect(sent[0]).toMatchObject({ route: 'me/checkins', method: 'GET' })
    expect(sent[0].url).toContain('limit=20&offset=0')
    const page = text(comp)
    expect(page).toContain('我的签到')
    expect(page).toContain('年度会员大会')
    expect(page).toContain('2026-12-03 09:05 · 扫码签到')
    expect(page).toContain('有效')
    expect(page).toContain('+10 积分')
    expect(page).toContain('每日签到')
    expect(comp.querySelector('#queue')).toBeFalsy()
  })

  test('renders in English', async () => {
    wx = setup({ device: { language: 'en' }, request: () => json(200, page([checkin()])) })
    login(wx)
    const comp = render('pages/records/index')
    await settle()
    expect(text(comp)).toContain('My check-ins')
    expect(text(comp)).toContain('QR code')
  })

  test('empty', async () => {
    answers['me/checkins'] = () => json(200, page([]))
    const comp = render('pages/records/index')
    await settle()
    expect(text(comp)).toContain('还没有签到记录')
  })

  test('paginated: load more asks the next offset', async () => {
    answers['me/checkins'] = (req) => req.url.includes('offset=0')
      ? json(200, page([checkin()], 2))
      : json(200, page([checkin({ id: 29, time: '2026-11-30T10:00:00+08:00' })], 2))
    const comp = render('pages/records/index')
    await settle()
    tap(comp, 'more')
    await settle()
    expect(sent[1].url).toContain('limit=20&offset=1')
    expect(comp.data.items).toHaveLength(2)
    expect(text(comp)).toContain('2026-11-30 10:00')
    expect(comp.querySelector('#more')).toBeFalsy()
  })

  test('pull to refresh reloads and stops the indicator', async () => {
    const comp = render('pages/records/index')
    await settle()
    comp.instance.onPullDownRefresh()
    await settle()
    expect(sent.filter((s) => s.route === 'me/checkins')).toHaveLength(2)
    expect(wx.callsOf('stopPullDownRefresh')).toHaveLength(1)
  })

  test('no network: says so, retry loads', async () => {
    answers['me/checkins'] = () => { throw new Error('offline') }
    const comp = render('pages/records/index')
    await settle()
    expect(text(comp)).toContain('网络不可用')
    answers['me/checkins'] = () => json(200, page([checkin()]))
    retry(comp)
    await settle()
    expect(text(comp)).toContain('扫码签到')
  })

  test('5xx in words', async () => {
    answers['me/checkins'] = () => apiError(503, 'service_unavailable', 'busy')
    const comp = render('pages/records/index')
    await settle()
    expect(text(comp)).toContain('服务繁忙')
  })

  test('429 with Retry-After: countdown, retry disabled until it ends', async () => {
    jest.useFakeTimers()
    answers['me/checkins'] = () => apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '3' })
    const comp = render('pages/records/index')
    await jest.advanceTimersByTimeAsync(10)
    expect(text(comp)).toContain('请 3 秒后再试')
    retry(comp)
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(3000)
    retry(comp)
    await jest.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(2)
  })

  test('the queue on top: each item with its state', async () => {
    enqueue(item(UUID1, '2026-12-03T09:01:00+08:00'), item(UUID2, '2026-12-03T09:02:00+08:00'))
    const comp = render('pages/records/index')
    await settle()
    expect(text(comp)).toContain('待发送的签到')
    expect(comp.data.queued.map((q) => [q.id, q.stateText])).toEqual([
      [UUID2, '待发送'], [UUID1, '待发送'],
    ])
    expect(text(comp)).toContain('2026-12-03 09:02')
  })

  test('send now: one sync with both, created and duplicate shown, then clear sent', async () => {
    enqueue(item(UUID1, '2026-12-03T09:01:00+08:00'), item(UUID2, '2026-12-03T09:02:00+08:00'))
    answers['checkins/sync'] = (req) => json(200, {
      results: [
        { client_uuid: UUID1, status: 'created', checkin: checkin({ client_uuid: UUID1, offline: true }) },
        { client_uuid: UUID2, status: 'duplicate', checkin: checkin({ id: 32, client_uuid: UUID2 }) },
      ],
    })
    const comp = render('pages/records/index')
    await settle()
    tap(comp, 'flush')
    await settle()
    const sync = sent.filter((s) => s.route === 'checkins/sync')
    expect(sync).toHaveLength(1)
    expect(sync[0].method).toBe('POST')
    expect(sync[0].data.items.map((i) => i.client_uuid)).toEqual([UUID1, UUID2])
    expect(comp.data.queued.map((q) => q.stateText)).toEqual(['已发送（服务器已有）', '已发送'])
    // the list of my check-ins is read again
    expect(sent.filter((s) => s.route === 'me/checkins')).toHaveLength(2)
    tap(comp, 'clear')
    await settle()
    expect(comp.querySelector('#queue')).toBeFalsy()
  })

  test('the queue sent by itself (network back): shown, and my check-ins read again', async () => {
    enqueue(item(UUID1, '2026-12-03T09:01:00+08:00'))
    const comp = render('pages/records/index')
    await settle()
    expect(comp.data.queued[0].state).toBe('queued')
    await require('../../utils/queue.js').flush()
    await settle()
    expect(comp.data.queued[0].stateText).toBe('已发送')
    expect(sent.map((s) => s.route)).toEqual(['me/checkins', 'checkins/sync', 'me/checkins'])
  })

  test('an item refused shows the reason', async () => {
    enqueue(item(UUID1, '2026-12-03T09:01:00+08:00'))
    answers['checkins/sync'] = () => json(200, {
      results: [{
        client_uuid: UUID1, status: 'error',
        error: { code: 'qr_expired', message: 'The QR code has expired', details: {} },
      }],
    })
    const comp = render('pages/records/index')
    await settle()
    tap(comp, 'flush')
    await settle()
    expect(comp.data.queued[0].stateText).toBe('被拒绝')
    expect(text(comp)).toContain('二维码已过期')
  })

  test('nothing queued is lost: a failed flush keeps the items queued and says why', async () => {
    enqueue(item(UUID1, '2026-12-03T09:01:00+08:00'), item(UUID2, '2026-12-03T09:02:00+08:00'))
    answers['checkins/sync'] = () => { throw new Error('offline') }
    const comp = render('pages/records/index')
    await settle()
    tap(comp, 'flush')
    await settle()
    expect(sent.filter((s) => s.route === 'checkins/sync')).toHaveLength(1)
    expect(comp.data.queued.map((q) => [q.id, q.state])).toEqual([
      [UUID2, 'queued'], [UUID1, 'queued'],
    ])
    expect(text(comp)).toContain('网络不可用，签到仍保存在本机')
    expect(comp.data.flushing).toBe(false)
    // the mini-program restarted (fresh modules, the same storage): still there
    wx = setup({ storage: Object.fromEntries(wx.storage), request: () => json(200, page([])) })
    const again = render('pages/records/index')
    await settle()
    expect(again.data.queued).toHaveLength(2)
  })

  test('a 5xx on flush: kept, the server is busy', async () => {
    enqueue(item(UUID1, '2026-12-03T09:01:00+08:00'))
    answers['checkins/sync'] = () => apiError(502, 'internal_error', 'bad gateway')
    const comp = render('pages/records/index')
    await settle()
    tap(comp, 'flush')
    await settle()
    expect(comp.data.queued[0].state).toBe('queued')
    expect(text(comp)).toContain('服务器繁忙')
  })

  test('not logged in: the login page', async () => {
    wx.removeStorageSync('session')
    render('pages/records/index')
    await settle()
    expect(sent).toEqual([])
    expect(wx.callsOf('redirectTo')[0].url).toContain('/pages/login/index?redirect=')
  })
})
