// booking/mine: my bookings and my waiting list entries
const { render, settle, text, json, apiError } = require('./helpers')
const { bookingOf, page, start, held } = require('./booking-fixtures')

const WAITING = {
  id: 8, state: 'waiting', service: { id: 3, name: '深层清洁' },
  start: '2026-12-05T09:00:00+08:00', end: '2026-12-05T11:00:00+08:00',
  resource: null, position: 2, offer: null, booking_id: null,
}
const OFFERED = Object.assign({}, WAITING, {
  id: 9, state: 'offered', position: null,
  offer: { resource: { id: 7, name: '王师傅' }, expires: '2026-12-04T18:30:00+08:00' },
})

async function open(extra, options, query) {
  const ctx = start(Object.assign({
    'GET me/bookings': json(200, page([bookingOf(), bookingOf({ id: 41, state: 'cancelled' })])),
    'GET me/waitlist': json(200, page([WAITING, OFFERED])),
  }, extra || {}), options)
  const comp = render('booking/mine/index', { query: query || {} })
  await settle()
  return Object.assign(ctx, { comp })
}

describe('booking/mine', () => {
  test('my bookings with their state in words, my waiting list', async () => {
    const { comp } = await open()
    const shown = text(comp)
    expect(shown).toContain('待确认')
    expect(shown).toContain('已取消')
    expect(shown).toContain('¥170.00')
    expect(shown).toContain('候补中，第 2 位')
    expect(shown).toContain('有空位了（王师傅），请在 2026-12-04 18:30 前确认')
    expect(comp.querySelector('#accept-8')).toBeUndefined()
    expect(comp.querySelector('#accept-9')).toBeDefined()
  })

  test('opened from a message of the waiting list: that entry stands out', async () => {
    const { comp } = await open({}, {}, { waitlist: '9' })
    expect(comp.data.entries.map((e) => e.highlight)).toEqual([false, true])
    expect(comp.querySelector('#entry-9').dom.className).toContain('entry-highlight')
  })

  test('in English', async () => {
    const { comp } = await open({}, { device: { language: 'en' } })
    expect(text(comp)).toContain('Pending')
    expect(text(comp)).toContain('Waiting, number 2')
  })

  test('empty', async () => {
    const { comp } = await open({
      'GET me/bookings': json(200, page([])), 'GET me/waitlist': json(200, page([])),
    })
    expect(text(comp)).toContain('还没有预约')
  })

  test('a booking opens its page', async () => {
    const { comp, wx } = await open()
    comp.querySelector('#booking-42').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/booking/detail/index?id=42')
  })

  test('an offer accepted: the new booking opens; once while in flight', async () => {
    const [answer, release] = held()
    const { comp, wx, sent } = await open({ 'POST waitlist/9/accept': answer })
    comp.querySelector('#accept-9').dispatchEvent('tap')
    comp.querySelector('#accept-9').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'waitlist/9/accept')).toHaveLength(1)
    release(json(201, { booking: bookingOf({ id: 77 }) }))
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/booking/detail/index?id=77')
  })

  test('422 offer_expired in words; the list reloaded', async () => {
    const { comp, sent } = await open({ 'POST waitlist/9/accept': apiError(422, 'offer_expired') })
    comp.querySelector('#accept-9').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('候补名额已过期')
    expect(sent('GET', 'me/waitlist')).toHaveLength(2)
  })

  test('leave the waiting list, then the list reloaded', async () => {
    const { comp, sent } = await open({ 'DELETE waitlist/8': { statusCode: 204, data: '' } })
    comp.querySelector('#leave-8').dispatchEvent('tap')
    await settle()
    expect(sent('DELETE', 'waitlist/8')).toHaveLength(1)
    expect(sent('GET', 'me/waitlist')).toHaveLength(2)
  })

  test('leaving refused (422 invalid_state) in words', async () => {
    const { comp } = await open({ 'DELETE waitlist/8': apiError(422, 'invalid_state') })
    comp.querySelector('#leave-8').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('当前状态不能进行此操作')
  })

  test('pull to refresh reloads both lists and stops the spinner', async () => {
    const { comp, wx, sent } = await open()
    await comp.instance.onPullDownRefresh()
    expect(sent('GET', 'me/bookings')).toHaveLength(2)
    expect(sent('GET', 'me/waitlist')).toHaveLength(2)
    expect(wx.callsOf('stopPullDownRefresh')).toHaveLength(1)
  })

  test('5xx, 429 with its countdown, no network', async () => {
    let ctx = await open({ 'GET me/bookings': apiError(500, 'internal_error') })
    expect(text(ctx.comp)).toContain('服务器出错了')
    ctx = await open({ 'GET me/waitlist': apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '5' }) })
    expect(text(ctx.comp)).toContain('请 5 秒后再试')
    ctx = await open({ 'GET me/bookings': () => { throw new Error('offline') } })
    expect(text(ctx.comp)).toContain('网络不可用')
  })
})
