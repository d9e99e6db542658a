// organizer/event: live figures every 10 s while shown, the rotating QR,
// the kiosk link
const { render, settle, text, json, apiError } = require('./helpers')
const { start, held } = require('./booking-fixtures')

const STATS = {
  expected: 40, checked_in: 12, rate: 0.3, late: 2, flagged: 1, rejected: 0, bucket_minutes: 15,
  by_bucket: [
    { start: '2026-12-03T09:00:00+08:00', count: 4 },
    { start: '2026-12-03T09:15:00+08:00', count: 8 },
  ],
  recent: [
    { id: 1, member_id: 9, member: '王**', time: '2026-12-03T09:20:00+08:00', status: 'late', method: 'qr' },
  ],
}
const QR = {
  token: 'tok', expires_at: '2026-12-03T09:31:00+08:00', refresh_in: 30,
  png: 'iVBORw0KGgo=', svg: '<svg/>',
}
const KIOSK = {
  token: 'k', expires_at: '2026-12-03T18:00:00+08:00',
  kiosk_url: 'https://api.example.com/demo/mp/v1/events/5/kiosk?token=k',
  dashboard_url: 'https://api.example.com/demo/mp/v1/events/5/dashboard?token=k',
}

async function open(extra, options) {
  const ctx = start(Object.assign({
    'GET events/5/stats': json(200, STATS),
    'GET events/5/qr': json(200, QR),
    'POST events/5/kiosk-token': json(201, KIOSK),
  }, extra || {}), options)
  const comp = render('organizer/event/index', { query: { id: '5' } })
  await settle()
  return Object.assign(ctx, { comp })
}

describe('organizer/event', () => {
  afterEach(() => {
    jest.useRealTimers()
  })

  test('the figures, the arrivals, masked names only, the QR image', async () => {
    const { comp } = await open()
    comp.instance.onHide()
    const shown = text(comp)
    expect(comp.querySelector('#checked-in').dom.textContent).toBe('12')
    expect(shown).toContain('30%')
    expect(shown).toContain('09:15')
    expect(shown).toContain('王**')
    expect(shown).toContain('迟到')
    expect(shown).not.toContain('member_id')
    expect(comp.data.stats.buckets.map((b) => b.width)).toEqual([50, 100])
    expect(comp.data.qr.src).toBe('data:image/png;base64,iVBORw0KGgo=')
    expect(comp.querySelector('#qr')).toBeDefined()
  })

  test('in English', async () => {
    const { comp } = await open({}, { device: { language: 'en' } })
    comp.instance.onHide()
    expect(text(comp)).toContain('Checked in')
    expect(text(comp)).toContain('Get the kiosk link')
  })

  test('stats every 10 s while shown, none once hidden; the QR after refresh_in', async () => {
    const { comp, sent } = await open()
    comp.instance.onHide()
    jest.useFakeTimers()
    comp.instance.onShow()
    await jest.advanceTimersByTimeAsync(5)
    expect(sent('GET', 'events/5/stats')).toHaveLength(2)
    expect(sent('GET', 'events/5/qr')).toHaveLength(2)
    await jest.advanceTimersByTimeAsync(10000)
    expect(sent('GET', 'events/5/stats')).toHaveLength(3)
    await jest.advanceTimersByTimeAsync(10000)
    expect(sent('GET', 'events/5/stats')).toHaveLength(4)
    await jest.advanceTimersByTimeAsync(10000)
    // 30 s: the code of the next window
    expect(sent('GET', 'events/5/qr')).toHaveLength(3)
    comp.instance.onHide()
    await jest.advanceTimersByTimeAsync(60000)
    expect(sent('GET', 'events/5/stats')).toHaveLength(5)
    expect(sent('GET', 'events/5/qr')).toHaveLength(3)
  })

  test('the timers stop when the page goes (unload)', async () => {
    const { comp, sent } = await open()
    comp.instance.onHide()
    jest.useFakeTimers()
    comp.instance.onShow()
    await jest.advanceTimersByTimeAsync(5)
    comp.instance.onUnload()
    await jest.advanceTimersByTimeAsync(60000)
    expect(sent('GET', 'events/5/stats')).toHaveLength(2)
  })

  test('the kiosk link and the dashboard link copied, with the expiry', async () => {
    const { comp, wx, sent } = await open()
    comp.instance.onHide()
    comp.querySelector('#kiosk').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'events/5/kiosk-token')).toHaveLength(1)
    expect(text(comp)).toContain(KIOSK.kiosk_url)
    expect(text(comp)).toContain('链接有效期至 2026-12-03 18:00')
    comp.querySelector('#copy-kiosk').dispatchEvent('tap')
    comp.querySelector('#copy-dashboard').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('setClipboardData').map((c) => c.data)).toEqual([KIOSK.kiosk_url, KIOSK.dashboard_url])
  })

  test('kiosk link in flight: a second tap sends nothing', async () => {
    const [answer, release] = held()
    const { comp, sent } = await open({ 'POST events/5/kiosk-token': answer })
    comp.instance.onHide()
    comp.querySelector('#kiosk').dispatchEvent('tap')
    comp.querySelector('#kiosk').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'events/5/kiosk-token')).toHaveLength(1)
    release(json(201, KIOSK))
    await settle()
  })

  test('kiosk link 422 event_not_open in words', async () => {
    const { comp } = await open({ 'POST events/5/kiosk-token': apiError(422, 'event_not_open') })
    comp.instance.onHide()
    comp.querySelector('#kiosk').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('活动不在签到时间内')
  })

  test('403: not the organizer, nothing refreshed', async () => {
    const { comp, sent } = await open({
      'GET events/5/stats': apiError(403, 'forbidden'), 'GET events/5/qr': apiError(403, 'forbidden'),
    })
    expect(text(comp)).toContain('您不是该活动的组织者')
    jest.useFakeTimers()
    await jest.advanceTimersByTimeAsync(60000)
    expect(sent('GET', 'events/5/stats')).toHaveLength(1)
  })

  test('5xx, 429 with its countdown, no network', async () => {
    let ctx = await open({ 'GET events/5/stats': apiError(500, 'internal_error') })
    ctx.comp.instance.onHide()
    expect(text(ctx.comp)).toContain('服务器出错了')
    ctx = await open({ 'GET events/5/stats': apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '8' }) })
    ctx.comp.instance.onHide()
    expect(text(ctx.comp)).toContain('请 8 秒后再试')
    ctx = await open({ 'GET events/5/stats': () => { throw new Error('offline') } })
    ctx.comp.instance.onHide()
    expect(text(ctx.comp)).toContain('网络不可用')
  })

  test('a refresh that fails keeps the last figures', async () => {
    const { comp, wx } = await open()
    comp.instance.onHide()
    wx.setRequestHandler(() => apiError(500, 'internal_error'))
    await comp.instance.loadStats()
    await settle()
    expect(comp.querySelector('#checked-in').dom.textContent).toBe('12')
  })
})
