// booking/detail: one booking, its breakdown and the actions of its state
const { render, settle, text, json, apiError } = require('./helpers')
const { bookingOf, bookingRating, start, held } = require('./booking-fixtures')

async function open(booking, extra, options) {
  const ctx = start(Object.assign({
    'GET bookings/42': json(200, { booking }),
  }, extra || {}), options)
  const comp = render('booking/detail/index', { query: { id: '42' } })
  await settle()
  return Object.assign(ctx, { comp })
}

describe('booking/detail', () => {
  test('a pending booking: state in words, the breakdown, cancel and reschedule', async () => {
    const { comp, sent } = await open(bookingOf())
    const shown = text(comp)
    expect(shown).toContain('深层清洁')
    expect(shown).toContain('待确认')
    expect(shown).toContain('2026-12-04 09:00–11:00')
    expect(shown).toContain('王师傅')
    expect(shown).toContain('原价¥200.00')
    expect(shown).toContain('会员折扣 (10%)-¥20.00')
    expect(shown).toContain('会员价¥180.00')
    expect(shown).toContain('积分抵扣 100 分-¥10.00')
    expect(shown).toContain('应付金额¥170.00')
    expect(comp.querySelector('#cancel')).toBeDefined()
    expect(comp.querySelector('#reschedule')).toBeDefined()
    expect(comp.querySelector('#rate')).toBeUndefined()
    expect(sent('GET', 'me/ratings')).toHaveLength(0)
  })

  test('in English, with a coupon', async () => {
    const { comp } = await open(bookingOf({ coupon: 'CPN-1', coupon_amount: '15.00' }), {}, { device: { language: 'en' } })
    expect(text(comp)).toContain('Pending')
    expect(text(comp)).toContain('Coupon CPN-1-¥15.00')
    expect(text(comp)).toContain('Amount due¥170.00')
  })

  test('cancel: confirmed by the member, then cancelled', async () => {
    const { comp, wx, sent } = await open(bookingOf(), {
      'POST bookings/42/cancel': json(200, { booking: bookingOf({ state: 'cancelled' }) }),
    })
    comp.querySelector('#cancel').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('showModal')).toHaveLength(1)
    expect(sent('POST', 'bookings/42/cancel')).toHaveLength(1)
    expect(text(comp)).toContain('已取消')
    expect(comp.querySelector('#cancel')).toBeUndefined()
  })

  test('cancel refused in the dialog: nothing sent', async () => {
    const { comp, wx, sent } = await open(bookingOf())
    wx.device.modalConfirm = false
    comp.querySelector('#cancel').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings/42/cancel')).toHaveLength(0)
    expect(comp.data.busy).toBe(false)
  })

  test('cancel in flight: a second tap sends nothing', async () => {
    const [answer, release] = held()
    const { comp, sent } = await open(bookingOf(), { 'POST bookings/42/cancel': answer })
    comp.querySelector('#cancel').dispatchEvent('tap')
    await settle()
    comp.querySelector('#cancel').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings/42/cancel')).toHaveLength(1)
    expect(global.wx.callsOf('showModal')).toHaveLength(1)
    release(json(200, { booking: bookingOf({ state: 'cancelled' }) }))
    await settle()
  })

  test.each([
    ['cancel_window_passed', '已超过可取消的时间'],
    ['invalid_state', '当前状态不能进行此操作'],
  ])('cancel 422 %s in words', async (code, words) => {
    const { comp } = await open(bookingOf(), { 'POST bookings/42/cancel': apiError(422, code) })
    comp.querySelector('#cancel').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain(words)
    expect(text(comp)).toContain('待确认')
  })

  test('reschedule opens the slots in reschedule mode', async () => {
    const { comp, wx } = await open(bookingOf({ state: 'confirmed' }))
    comp.querySelector('#reschedule').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/booking/slots/index?reschedule=42&service=3')
  })

  test('done and not rated: rate', async () => {
    const { comp, wx } = await open(bookingOf({ state: 'done', rating: null }))
    expect(comp.querySelector('#cancel')).toBeUndefined()
    expect(comp.querySelector('#reschedule')).toBeUndefined()
    comp.querySelector('#rate').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/booking/rate/index?id=42')
  })

  test('done and rated: the rating, and its change within the window', async () => {
    const { comp, wx } = await open(bookingOf({ state: 'done', rating: bookingRating() }))
    const shown = text(comp)
    expect(shown).toContain('★★★★☆')
    expect(shown).toContain('准时')
    expect(comp.querySelector('#rate')).toBeUndefined()
    comp.querySelector('#edit-rating').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/booking/rate/index?id=42')
  })

  test('rated after the edit window: no change offered', async () => {
    const { comp } = await open(bookingOf({ state: 'done', rating: bookingRating({ editable: false }) }))
    expect(text(comp)).toContain('★★★★☆')
    expect(comp.querySelector('#edit-rating')).toBeUndefined()
  })

  test('404: another member\'s booking', async () => {
    const { comp } = await open(bookingOf(), { 'GET bookings/42': apiError(404, 'not_found') })
    expect(text(comp)).toContain('内容不存在或已被删除')
  })

  test('5xx, 429 with its countdown, no network', async () => {
    let ctx = await open(bookingOf(), { 'GET bookings/42': apiError(500, 'internal_error') })
    expect(text(ctx.comp)).toContain('服务器出错了')
    ctx = await open(bookingOf(), { 'GET bookings/42': apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '9' }) })
    expect(text(ctx.comp)).toContain('请 9 秒后再试')
    ctx = await open(bookingOf(), { 'GET bookings/42': () => { throw new Error('offline') } })
    expect(text(ctx.comp)).toContain('网络不可用')
  })
})
