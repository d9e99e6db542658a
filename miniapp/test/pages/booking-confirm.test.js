// booking/confirm: the price, points, coupon, address, the subscription
// prompt and the booking
const { render, settle, text, json, apiError } = require('./helpers')
const { SERVICE, SLOT, MEMBER, bookingOf, page, start, held } = require('./booking-fixtures')

const COUPON = {
  id: 1, code: 'CPN-1', reward: { id: 2, name: '满减券', kind: 'discount' }, state: 'active',
  points: 100, redeemed_at: '2026-12-01T10:00:00+08:00', valid_until: '2026-12-31',
  used_at: null, booking_id: null,
}
const USED = Object.assign({}, COUPON, { id: 2, code: 'OLD-1', state: 'used' })
const TEMPLATES = {
  items: [
    { template_id: 'TPL-A', code: 'booking_confirmed', name: '预约成功', credits: 0 },
    { template_id: 'TPL-B', code: 'booking_reminder', name: '预约提醒', credits: 0 },
  ],
}

function routes(extra) {
  return Object.assign({
    'GET services/3': json(200, { service: SERVICE }),
    'GET me': json(200, { member: MEMBER }),
    'GET me/coupons': json(200, page([COUPON, USED])),
    'GET me/subscriptions': json(200, TEMPLATES),
    'POST me/subscriptions': json(200, TEMPLATES),
    'POST bookings': json(201, { booking: bookingOf() }),
  }, extra || {})
}

const QUERY = { service: '3', start: encodeURIComponent(SLOT.start), resource: '7' }

async function open(extra, options) {
  const ctx = start(routes(extra), options)
  const comp = render('booking/confirm/index', { query: QUERY })
  await settle()
  return Object.assign(ctx, { comp })
}

describe('booking/confirm', () => {
  test('the slot, the price with the tier discount, the balance, the active coupons', async () => {
    const { comp } = await open()
    const shown = text(comp)
    expect(shown).toContain('深层清洁')
    expect(shown).toContain('2026-12-04 09:00')
    expect(shown).toContain('原价¥200.00')
    expect(shown).toContain('会员折扣 (10%)-¥20.00')
    expect(shown).toContain('会员价¥180.00')
    expect(shown).toContain('您有 500 积分可用')
    expect(shown).toContain('满减券 CPN-1')
    expect(shown).not.toContain('OLD-1')
    expect(comp.data.address).toBe(MEMBER.address)
  })

  test('in English', async () => {
    const { comp } = await open({}, { device: { language: 'en' } })
    expect(text(comp)).toContain('Member discount (10%)-¥20.00')
    expect(text(comp)).toContain('You have 500 points')
  })

  test('points are bounded by the balance', async () => {
    const { comp } = await open()
    expect(comp.instance.onPoints({ detail: { value: '900' } })).toBe('500')
    expect(comp.data.points).toBe(500)
    expect(comp.instance.onPoints({ detail: { value: '-3' } })).toBe('3')
    expect(comp.instance.onPoints({ detail: { value: 'abc' } })).toBe('0')
    comp.instance.onPoints({ detail: { value: '120' } })
    await settle()
    expect(text(comp)).toContain('积分抵扣 120 分')
  })

  test('subscription accepted: recorded, then the booking with every field; its page opens', async () => {
    const { comp, wx, requests, sent } = await open()
    wx.device.subscribe = { 'TPL-A': 'accept', 'TPL-B': 'reject' }
    comp.instance.onPoints({ detail: { value: '100' } })
    comp.querySelector('#coupon-CPN-1').dispatchEvent('tap')
    comp.instance.onNote({ detail: { value: '有宠物' } })
    wx.device.chosenLocation = { name: '人民广场', address: '上海市黄浦区', latitude: 31.23, longitude: 121.47 }
    comp.querySelector('#map').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('已在地图上选定位置')
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('requestSubscribeMessage')[0].tmplIds).toEqual(['TPL-A', 'TPL-B'])
    const order = requests.filter((r) => r.method === 'POST').map((r) => r.route)
    expect(order).toEqual(['me/subscriptions', 'bookings'])
    expect(sent('POST', 'me/subscriptions')[0].data).toEqual({ results: { 'TPL-A': 'accept', 'TPL-B': 'reject' } })
    expect(sent('POST', 'bookings')[0].data).toEqual({
      service_id: 3, start: SLOT.start, resource_id: 7, address: '上海市黄浦区 人民广场',
      note: '有宠物', points: 100, coupon: 'CPN-1', lat: 31.23, lon: 121.47, coord_type: 'gcj02',
    })
    expect(wx.callsOf('redirectTo')[0].url).toBe('/booking/detail/index?id=42')
  })

  test('subscription refused: still booked', async () => {
    const { comp, wx, sent } = await open()
    wx.device.subscribe = { 'TPL-A': 'reject', 'TPL-B': 'reject' }
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings')).toHaveLength(1)
    expect(sent('POST', 'bookings')[0].data).toEqual({
      service_id: 3, start: SLOT.start, resource_id: 7, address: MEMBER.address,
    })
    expect(wx.callsOf('redirectTo')[0].url).toBe('/booking/detail/index?id=42')
  })

  test('the prompt failing: nothing recorded, still booked', async () => {
    const { comp, wx, sent } = await open()
    wx.device.subscribe = new Error('user tap required')
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('requestSubscribeMessage')).toHaveLength(1)
    expect(sent('POST', 'me/subscriptions')).toHaveLength(0)
    expect(sent('POST', 'bookings')).toHaveLength(1)
    expect(wx.callsOf('redirectTo')).toHaveLength(1)
  })

  test('recording the answer failing: still booked', async () => {
    const { comp, wx, sent } = await open({ 'POST me/subscriptions': apiError(422, 'unknown_template') })
    wx.device.subscribe = { 'TPL-A': 'accept', 'TPL-B': 'accept' }
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings')).toHaveLength(1)
    expect(wx.callsOf('redirectTo')).toHaveLength(1)
  })

  test('no template: no prompt, booked', async () => {
    const { comp, wx, sent } = await open({ 'GET me/subscriptions': json(200, { items: [] }) })
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('requestSubscribeMessage')).toHaveLength(0)
    expect(sent('POST', 'bookings')).toHaveLength(1)
  })

  test('Book is disabled in flight: a second tap sends nothing', async () => {
    const [answer, release] = held()
    const { comp, sent } = await open({ 'POST bookings': answer })
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(comp.data.busy).toBe(true)
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings')).toHaveLength(1)
    expect(global.wx.callsOf('requestSubscribeMessage')).toHaveLength(1)
    release(json(201, { booking: bookingOf() }))
    await settle()
    expect(comp.data.busy).toBe(false)
  })

  test('409 slot_full: the waiting list offered and joined', async () => {
    const { comp, wx, sent } = await open({
      'POST bookings': apiError(409, 'slot_full'),
      'POST services/3/waitlist': json(201, { entry: { id: 9, state: 'waiting', position: 1 } }),
    })
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('该时段已约满')
    expect(wx.callsOf('redirectTo')).toHaveLength(0)
    comp.querySelector('#waitlist').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'services/3/waitlist')[0].data).toEqual({ start: SLOT.start, resource_id: 7 })
    expect(text(comp)).toContain('已加入候补名单，排在第 1 位')
  })

  test.each([
    [422, 'slot_unavailable', { reason: 'beyond_horizon' }, '该时段不可预约 (超出可预约的日期)'],
    [422, 'insufficient_points', { available: 80, points: 100 }, '积分不足 (可用积分 80)'],
    [422, 'points_limit', { points: 300, max_points: 200 }, '使用的积分超过上限 (最多可用 200 积分)'],
    [422, 'invalid_coupon', {}, '优惠券不可用'],
    [409, 'booking_overlap', {}, '该时间段您已有其他预约'],
    [422, 'booking_suspended', {}, '因爽约次数过多，暂时不能预约'],
    [422, 'invalid_coord_type', {}, '位置格式不支持'],
  ])('%s %s in words', async (status, code, details, words) => {
    const { comp, wx } = await open({ 'POST bookings': apiError(status, code, code, details) })
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain(words)
    expect(comp.querySelector('#waitlist')).toBeUndefined()
    expect(wx.callsOf('redirectTo')).toHaveLength(0)
    expect(comp.data.busy).toBe(false)
  })

  test('5xx on booking, then a second try books', async () => {
    let fail = true
    const { comp, sent } = await open({
      'POST bookings': () => (fail ? apiError(500, 'internal_error') : json(201, { booking: bookingOf() })),
    })
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('服务器出错了，请稍后再试')
    fail = false
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings')).toHaveLength(2)
    expect(global.wx.callsOf('redirectTo')).toHaveLength(1)
  })

  test('429 on booking: the countdown of Retry-After keeps Book disabled', async () => {
    const { comp, sent } = await open({
      'POST bookings': apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '2' }),
    })
    jest.useFakeTimers()
    try {
      comp.querySelector('#book').dispatchEvent('tap')
      for (let i = 0; i < 5; i++) await jest.advanceTimersByTimeAsync(1)
      expect(text(comp)).toContain('操作太频繁，请稍后再试')
      expect(text(comp)).toContain('请 2 秒后再试')
      comp.querySelector('#book').dispatchEvent('tap')
      await jest.advanceTimersByTimeAsync(1)
      expect(sent('POST', 'bookings')).toHaveLength(1)
      await jest.advanceTimersByTimeAsync(2000)
      expect(comp.data.wait).toBe(0)
      expect(text(comp)).not.toContain('秒后再试')
    } finally {
      jest.useRealTimers()
    }
  })

  test('no network while booking', async () => {
    const { comp, wx } = await open()
    wx.setRequestHandler(() => { throw new Error('offline') })
    comp.querySelector('#book').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('网络不可用，请检查网络后重试')
  })

  test('the page cannot load (5xx): error state, coupons and templates failing do not matter', async () => {
    const { comp } = await open({ 'GET me': apiError(502, 'wechat_unavailable') })
    expect(text(comp)).toContain('暂时无法连接微信，请稍后再试')
    const other = await open({
      'GET me/coupons': apiError(500, 'internal_error'),
      'GET me/subscriptions': apiError(500, 'internal_error'),
    })
    expect(text(other.comp)).toContain('会员价¥180.00')
    expect(other.comp.data.templates).toEqual([])
  })
})
