// pages/services: the bookable services with the member price
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')

const SERVICE = {
  id: 3, name: '深层清洁', description: '全屋深度清洁', duration_min: 120,
  price: '200.00', member_price: '180.00', discount_percent: '10.00', currency: 'CNY',
  capacity: 1, lead_time_min: 60, horizon_days: 14, cancel_hours: 24,
  timezone: 'Asia/Shanghai', average: 4.5, count: 12,
}

function page(items, total) {
  return { items, total: total === undefined ? items.length : total }
}

describe('pages/services', () => {
  let wx
  let requests
  function start(handler) {
    requests = []
    wx = setup({
      request: (req) => {
        requests.push(req)
        return handler(req)
      },
    })
    login(wx)
  }

  test('lists the services with the member price, the discount and the rating', async () => {
    start(() => json(200, page([SERVICE])))
    const comp = render('pages/services/index')
    await settle()
    const shown = text(comp)
    expect(shown).toContain('深层清洁')
    expect(shown).toContain('120 分钟')
    expect(shown).toContain('¥200.00')
    expect(shown).toContain('会员价 ¥180.00')
    expect(shown).toContain('会员优惠 10%')
    expect(shown).toContain('★ 4.5（12 条评价）')
    expect(routeOf(requests[0].url)).toBe('services')
    expect(requests[0].url).toContain('limit=20')
    expect(wx.callsOf('setNavigationBarTitle')[0].title).toBe('预约服务')
  })

  test('in English; no rating shown without ratings, no discount without one', async () => {
    wx = setup({
      device: { language: 'en' },
      request: () => json(200, page([Object.assign({}, SERVICE, {
        member_price: '200.00', discount_percent: '0.00', average: null, count: 0,
      })])),
    })
    login(wx)
    const comp = render('pages/services/index')
    await settle()
    const shown = text(comp)
    expect(shown).toContain('120 min')
    expect(shown).not.toContain('Member price')
    expect(shown).not.toContain('★')
  })

  test('a tap opens the slots of the service', async () => {
    start(() => json(200, page([SERVICE])))
    const comp = render('pages/services/index')
    await settle()
    comp.querySelector('#service-3').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/booking/slots/index?service=3')
  })

  test('pull to refresh loads the first page again and stops the spinner', async () => {
    start(() => json(200, page([SERVICE])))
    const comp = render('pages/services/index')
    await settle()
    await comp.instance.onPullDownRefresh()
    expect(requests).toHaveLength(2)
    expect(wx.callsOf('stopPullDownRefresh')).toHaveLength(1)
  })

  test('empty list', async () => {
    start(() => json(200, page([])))
    const comp = render('pages/services/index')
    await settle()
    expect(text(comp)).toContain('暂无可预约的服务')
  })

  test('the next page on "more", once while in flight', async () => {
    let answer
    start((req) => {
      if (req.url.includes('offset=0')) return json(200, page([SERVICE], 2))
      return new Promise((resolve) => { answer = resolve })
    })
    const comp = render('pages/services/index')
    await settle()
    comp.querySelector('#more').dispatchEvent('tap')
    comp.querySelector('#more').dispatchEvent('tap')
    await settle()
    expect(requests.filter((r) => r.url.includes('offset=1'))).toHaveLength(1)
    answer(json(200, page([Object.assign({}, SERVICE, { id: 4, name: '上门维修' })], 2)))
    await settle()
    expect(text(comp)).toContain('上门维修')
    expect(comp.querySelector('#more')).toBeUndefined()
  })

  test('5xx: the error and a retry that loads again', async () => {
    let fail = true
    start(() => (fail ? apiError(500, 'internal_error') : json(200, page([SERVICE]))))
    const comp = render('pages/services/index')
    await settle()
    expect(text(comp)).toContain('服务器出错了，请稍后再试')
    fail = false
    comp.instance.reload()
    await settle()
    expect(text(comp)).toContain('深层清洁')
  })

  test('429: the countdown of Retry-After', async () => {
    start(() => apiError(429, 'rate_limited', 'slow down', {}, { 'Retry-After': '7' }))
    const comp = render('pages/services/index')
    await settle()
    expect(text(comp)).toContain('操作太频繁，请稍后再试')
    expect(text(comp)).toContain('请 7 秒后再试')
  })

  test('not logged in: the way to log in, no request', async () => {
    start(() => json(200, page([SERVICE])))
    wx.removeStorageSync('session')
    const comp = render('pages/services/index')
    await settle()
    expect(text(comp)).toContain('登录已过期，请重新登录')
    expect(requests).toHaveLength(0)
    comp.querySelector('#login').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/pages/login/index')
  })

  test('no network', async () => {
    start(() => { throw new Error('offline') })
    const comp = render('pages/services/index')
    await settle()
    expect(text(comp)).toContain('网络不可用，请检查网络后重试')
  })
})
