// member/rewards: the catalogue, redeeming (confirmation first) and my
// coupons
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { MEMBER, tap } = require('./member-fixtures')

function reward(fields = {}) {
  return Object.assign({
    id: 3, name: '咖啡券', description: '任意一杯', kind: 'product', points_cost: 100, stock_left: 5,
    valid_from: null, valid_until: '2026-12-31', coupon_days: 30, amount: null, currency: '', service: null,
  }, fields)
}

function coupon(fields = {}) {
  return Object.assign({
    id: 8, code: 'CPN-7Q2X', reward: { id: 3, name: '咖啡券', kind: 'product' }, state: 'active',
    points: 100, redeemed_at: '2026-12-01T10:00:00+08:00', valid_until: '2026-12-31', used_at: null, booking_id: null,
  }, fields)
}

describe('member/rewards', () => {
  let wx
  let sent
  let answers

  beforeEach(() => {
    sent = []
    answers = {
      rewards: () => json(200, { items: [reward(), reward({ id: 4, name: '免费洗车', points_cost: 500, stock_left: null, valid_until: null })], total: 2 }),
      'me/coupons': () => json(200, { items: [coupon(), coupon({ id: 7, code: 'CPN-OLD1', state: 'used' })], total: 2 }),
      'rewards/3/redeem': () => json(201, { coupon: coupon({ id: 9, code: 'CPN-NEW9' }), member: { points_balance: 20 } }),
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

  test('the catalogue and my coupons (zh_CN)', async () => {
    const comp = render('member/rewards/index')
    await settle()
    expect(sent.map((s) => [s.route, s.method])).toEqual([['rewards', 'GET'], ['me/coupons', 'GET']])
    const page = text(comp)
    expect(page).toContain('我的积分 120')
    expect(page).toContain('咖啡券')
    expect(page).toContain('100 积分 · 剩余 5 · 有效期至 2026-12-31')
    expect(page).toContain('500 积分 · 不限量')
    expect(page).toContain('CPN-7Q2X')
    expect(page).toContain('可使用')
    expect(page).toContain('已使用')
  })

  test('in English', async () => {
    wx = setup({
      device: { language: 'en' },
      request: (req) => routeOf(req.url) === 'rewards'
        ? json(200, { items: [reward()], total: 1 }) : json(200, { items: [], total: 0 }),
    })
    login(wx)
    const comp = render('member/rewards/index')
    await settle()
    expect(text(comp)).toContain('100 points · 5 left')
    expect(text(comp)).toContain('No coupons yet')
  })

  test('redeem: confirmation, the coupon code, the balance, both lists read again', async () => {
    const comp = render('member/rewards/index')
    await settle()
    tap(comp, 'redeem-3')
    await settle()
    expect(wx.callsOf('showModal')[0].content).toContain('用 100 积分兑换「咖啡券」')
    const redeem = sent.filter((s) => s.route === 'rewards/3/redeem')
    expect(redeem).toEqual([{ route: 'rewards/3/redeem', method: 'POST', data: undefined, url: expect.any(String) }])
    expect(text(comp)).toContain('已兑换「咖啡券」，券码 CPN-NEW9')
    expect(text(comp)).toContain('我的积分 20')
    expect(sent.filter((s) => s.route === 'me/coupons')).toHaveLength(2)
    expect(wx.getStorageSync('session').member.points_balance).toBe(20)
  })

  test('redeem cancelled in the dialog: nothing sent', async () => {
    wx.device.modalConfirm = false
    const comp = render('member/rewards/index')
    await settle()
    tap(comp, 'redeem-3')
    await settle()
    expect(sent.filter((s) => s.route === 'rewards/3/redeem')).toEqual([])
  })

  test('422 insufficient_points in words', async () => {
    answers['rewards/3/redeem'] = () => apiError(422, 'insufficient_points', 'not enough', { balance: 20, needed: 100 })
    const comp = render('member/rewards/index')
    await settle()
    tap(comp, 'redeem-3')
    await settle()
    expect(text(comp)).toContain('积分不足')
    expect(comp.data.redeeming).toBe(0)
  })

  test('409 out_of_stock: says so and shows the catalogue as it is now', async () => {
    answers['rewards/3/redeem'] = () => apiError(409, 'out_of_stock', 'gone')
    const comp = render('member/rewards/index')
    await settle()
    answers.rewards = () => json(200, { items: [reward({ stock_left: 0 })], total: 1 })
    tap(comp, 'redeem-3')
    await settle()
    expect(text(comp)).toContain('已兑换完')
    expect(text(comp)).toContain('已兑完')
    expect(comp.data.catalogue.items[0].soldOut).toBe(true)
  })

  test('no double redeem while one is in flight', async () => {
    let release
    answers['rewards/3/redeem'] = () => new Promise((resolve) => {
      release = () => resolve(json(201, { coupon: coupon({ code: 'CPN-NEW9' }), member: { points_balance: 20 } }))
    })
    const comp = render('member/rewards/index')
    await settle()
    tap(comp, 'redeem-3')
    await settle()
    tap(comp, 'redeem-3')
    await settle()
    expect(wx.callsOf('showModal')).toHaveLength(1)
    release()
    await settle()
    expect(sent.filter((s) => s.route === 'rewards/3/redeem')).toHaveLength(1)
  })

  test('empty catalogue, and the coupons failing on their own (no network)', async () => {
    answers.rewards = () => json(200, { items: [], total: 0 })
    answers['me/coupons'] = () => { throw new Error('offline') }
    const comp = render('member/rewards/index')
    await settle()
    expect(text(comp)).toContain('暂时没有可兑换的奖品')
    expect(text(comp)).toContain('网络不可用')
    answers['me/coupons'] = () => json(200, { items: [coupon()], total: 1 })
    comp.querySelector('#couponsState').querySelector('.state-retry').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('CPN-7Q2X')
  })

  test('coupons paginated', async () => {
    answers['me/coupons'] = (req) => json(200, {
      items: [req.url.includes('offset=0') ? coupon() : coupon({ id: 1, code: 'CPN-PAGE2' })], total: 2,
    })
    const comp = render('member/rewards/index')
    await settle()
    tap(comp, 'moreCoupons')
    await settle()
    expect(sent[2].url).toContain('me/coupons?limit=20&offset=1')
    expect(text(comp)).toContain('CPN-PAGE2')
  })
})
