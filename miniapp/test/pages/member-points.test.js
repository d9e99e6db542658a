// member/points: the points ledger
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { MEMBER, tap } = require('./member-fixtures')

function line(fields = {}) {
  return Object.assign({
    id: 11, date: '2026-12-03T09:05:00+08:00', points: 10, reason: '签到：年度会员大会',
    origin: { type: 'checkin.attendance', id: 31 }, balance_after: 120, expires: '2027-12-31', remaining: 10,
  }, fields)
}

describe('member/points', () => {
  let wx
  let sent
  let answer

  beforeEach(() => {
    sent = []
    answer = () => json(200, {
      items: [line(), line({ id: 10, date: '2026-12-01T10:00:00+08:00', points: -50, reason: '兑换：咖啡券', balance_after: 110, expires: null, remaining: null })],
      total: 2,
    })
    wx = setup({
      request: (req) => {
        sent.push({ route: routeOf(req.url), method: req.method, url: req.url })
        return answer(req)
      },
    })
    login(wx, MEMBER)
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  test('the ledger (zh_CN): date, points ±, reason, balance after', async () => {
    const comp = render('member/points/index')
    await settle()
    expect(sent[0]).toMatchObject({ route: 'me/points', method: 'GET' })
    expect(sent[0].url).toContain('limit=20&offset=0')
    const page = text(comp)
    expect(page).toContain('签到：年度会员大会')
    expect(page).toContain('2026-12-03 · 余额 120 · 2027-12-31 过期')
    expect(page).toContain('+10')
    expect(page).toContain('-50')
    expect(page).toContain('兑换：咖啡券')
    expect(comp.querySelector('#more')).toBeFalsy()
  })

  test('in English', async () => {
    wx = setup({ device: { language: 'en' }, request: () => json(200, { items: [line({ reason: 'Check-in' })], total: 1 }) })
    login(wx)
    const comp = render('member/points/index')
    await settle()
    expect(text(comp)).toContain('balance 120')
    expect(wx.callsOf('setNavigationBarTitle')[0].title).toBe('Points history')
  })

  test('empty', async () => {
    answer = () => json(200, { items: [], total: 0 })
    const comp = render('member/points/index')
    await settle()
    expect(text(comp)).toContain('还没有积分记录')
  })

  test('paginated', async () => {
    answer = (req) => json(200, {
      items: [line({ id: req.url.includes('offset=0') ? 11 : 9, reason: req.url.includes('offset=0') ? 'A' : 'B' })],
      total: 2,
    })
    const comp = render('member/points/index')
    await settle()
    tap(comp, 'more')
    await settle()
    expect(sent[1].url).toContain('offset=1')
    expect(comp.data.items.map((i) => i.reason)).toEqual(['A', 'B'])
  })

  test('a failed page of more keeps what is shown', async () => {
    answer = (req) => req.url.includes('offset=0')
      ? json(200, { items: [line()], total: 2 })
      : (() => { throw new Error('offline') })()
    const comp = render('member/points/index')
    await settle()
    tap(comp, 'more')
    await settle()
    expect(comp.data.items).toHaveLength(1)
    expect(text(comp)).toContain('网络不可用')
  })

  test('pull to refresh', async () => {
    const comp = render('member/points/index')
    await settle()
    comp.instance.onPullDownRefresh()
    await settle()
    expect(sent).toHaveLength(2)
    expect(wx.callsOf('stopPullDownRefresh')).toHaveLength(1)
  })

  test('429 with Retry-After: the retry waits', async () => {
    jest.useFakeTimers()
    answer = () => apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '2' })
    const comp = render('member/points/index')
    await jest.advanceTimersByTimeAsync(10)
    expect(text(comp)).toContain('请 2 秒后再试')
    await jest.advanceTimersByTimeAsync(2000)
    answer = () => json(200, { items: [line()], total: 1 })
    comp.querySelector('#state').querySelector('.state-retry').dispatchEvent('tap')
    await jest.advanceTimersByTimeAsync(10)
    expect(text(comp)).toContain('签到：年度会员大会')
  })
})
