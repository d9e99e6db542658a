// booking/slots: the days, the slots of a day, the waiting list of a full
// slot, reschedule mode
const { render, settle, text, json, apiError } = require('./helpers')
const { SERVICE, SLOT, bookingOf, page, start, held } = require('./booking-fixtures')

const FULL = Object.assign({}, SLOT, {
  start: '2026-12-04T14:00:00+08:00', end: '2026-12-04T16:00:00+08:00', capacity_left: 0,
})

function routes(extra) {
  return Object.assign({
    'GET services/3': json(200, { service: SERVICE }),
    'GET services/3/slots': json(200, { slots: [SLOT, FULL] }),
  }, extra || {})
}

describe('booking/slots', () => {
  test('14 days from today; the slots of the day with their resource and places', async () => {
    const { sent } = start(routes())
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    expect(comp.data.days).toHaveLength(14)
    const today = new Date()
    const pad = (n) => (n < 10 ? '0' : '') + n
    expect(comp.data.date).toBe(today.getFullYear() + '-' + pad(today.getMonth() + 1) + '-' + pad(today.getDate()))
    const shown = text(comp)
    expect(shown).toContain('深层清洁')
    expect(shown).toContain('今天')
    expect(shown).toContain('09:00–11:00')
    expect(shown).toContain('王师傅')
    expect(shown).toContain('剩余 1 个名额')
    expect(shown).toContain('已约满，点击候补')
    expect(sent('GET', 'services/3/slots')[0].url).toContain('date=' + comp.data.date)
    // the full slots too, to join their waiting list
    expect(sent('GET', 'services/3/slots')[0].url).toContain('full=true')
  })

  test('in English', async () => {
    start(routes(), { device: { language: 'en' } })
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    expect(text(comp)).toContain('Today')
    expect(text(comp)).toContain('1 left')
    expect(text(comp)).toContain('Full: tap to wait')
  })

  test('another day loads its slots; none: the empty state', async () => {
    const { sent } = start(routes())
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    const second = comp.data.days[1].date
    // the server answers no slot for that day
    const { wx } = { wx: global.wx }
    wx.setRequestHandler(() => json(200, { slots: [] }))
    comp.querySelector('#day-1').dispatchEvent('tap')
    await settle()
    expect(comp.data.date).toBe(second)
    expect(text(comp)).toContain('这一天没有可预约的时段')
    expect(sent('GET', 'services/3/slots')).toHaveLength(1)
  })

  test('a free slot opens the confirm page', async () => {
    const { wx } = start(routes())
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    comp.querySelector('#slot-0').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe(
      '/booking/confirm/index?service=3&start=' + encodeURIComponent(SLOT.start) + '&resource=7')
  })

  test('a full slot: the waiting list joined, once while in flight', async () => {
    const [answer, release] = held()
    const { sent } = start(routes({ 'POST services/3/waitlist': answer }))
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    comp.querySelector('#slot-1').dispatchEvent('tap')
    comp.querySelector('#slot-1').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'services/3/waitlist')).toHaveLength(1)
    expect(sent('POST', 'services/3/waitlist')[0].data).toEqual({ start: FULL.start, resource_id: 7 })
    release(json(201, { entry: { id: 9, state: 'waiting', position: 2 } }))
    await settle()
    expect(text(comp)).toContain('已加入候补名单，排在第 2 位')
  })

  test.each([
    [409, 'already_waiting', '您已在候补名单中'],
    [422, 'slot_not_full', '该时段还有空位，可直接预约'],
  ])('waiting list %s %s', async (status, code, words) => {
    start(routes({ 'POST services/3/waitlist': apiError(status, code) }))
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    comp.querySelector('#slot-1').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain(words)
  })

  test('reschedule mode: the booking moved, then its page', async () => {
    const { wx, sent } = start(routes({
      'POST bookings/42/reschedule': json(200, { booking: bookingOf({ start: SLOT.start }) }),
    }))
    const comp = render('booking/slots/index', { query: { service: '3', reschedule: '42' } })
    await settle()
    expect(text(comp)).toContain('选择新的时段')
    comp.querySelector('#slot-0').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings/42/reschedule')[0].data).toEqual({ start: SLOT.start, resource_id: 7 })
    expect(wx.callsOf('redirectTo')[0].url).toBe('/booking/detail/index?id=42')
    expect(wx.callsOf('navigateTo')).toHaveLength(0)
  })

  test.each([
    [409, 'slot_full', '该时段已约满'],
    [422, 'slot_unavailable', '该时段不可预约'],
    [422, 'cancel_window_passed', '已超过可取消的时间'],
    [422, 'invalid_state', '当前状态不能进行此操作'],
  ])('reschedule %s %s in words, no navigation', async (status, code, words) => {
    const { wx } = start(routes({ 'POST bookings/42/reschedule': apiError(status, code, code, { reason: 'lead_time' }) }))
    const comp = render('booking/slots/index', { query: { service: '3', reschedule: '42' } })
    await settle()
    comp.querySelector('#slot-0').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain(words)
    if (code === 'slot_unavailable') expect(text(comp)).toContain('距开始太近')
    expect(wx.callsOf('redirectTo')).toHaveLength(0)
  })

  test('5xx while loading the slots, then retry', async () => {
    let fail = true
    start(routes({ 'GET services/3/slots': () => (fail ? apiError(503, 'service_unavailable') : json(200, { slots: [SLOT] })) }))
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    expect(text(comp)).toContain('服务繁忙，请稍后再试')
    fail = false
    comp.instance.load()
    await settle()
    expect(text(comp)).toContain('09:00–11:00')
  })

  test('429 on the waiting list: countdown, no tap counts until it ends', async () => {
    const { sent } = start(routes({
      'POST services/3/waitlist': apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '3' }),
    }))
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    jest.useFakeTimers()
    try {
      comp.querySelector('#slot-1').dispatchEvent('tap')
      await jest.advanceTimersByTimeAsync(0)
      for (let i = 0; i < 5; i++) await Promise.resolve()
      await jest.advanceTimersByTimeAsync(10)
      expect(text(comp)).toContain('操作太频繁，请稍后再试')
      expect(text(comp)).toContain('请 3 秒后再试')
      comp.querySelector('#slot-1').dispatchEvent('tap')
      expect(sent('POST', 'services/3/waitlist')).toHaveLength(1)
      await jest.advanceTimersByTimeAsync(3000)
      expect(comp.data.wait).toBe(0)
      comp.querySelector('#slot-1').dispatchEvent('tap')
      await jest.advanceTimersByTimeAsync(10)
      expect(sent('POST', 'services/3/waitlist')).toHaveLength(2)
    } finally {
      jest.useRealTimers()
    }
  })

  test('no network', async () => {
    start({})
    global.wx.setRequestHandler(() => { throw new Error('offline') })
    const comp = render('booking/slots/index', { query: { service: '3' } })
    await settle()
    expect(text(comp)).toContain('网络不可用，请检查网络后重试')
  })
})
