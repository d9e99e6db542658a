// organizer/events: the events the user organizes (GET organizer/events)
const { render, settle, text, json, apiError } = require('./helpers')
const { start } = require('./booking-fixtures')

const EVENTS = {
  items: [
    { id: 5, name: '年度大会', kind: 'meeting', start: '2026-12-03T09:00:00+08:00',
      end: '2026-12-03T17:00:00+08:00', is_open: true, attendance_count: 12, expected: 40 },
    { id: 6, name: '每日打卡', kind: 'daily', start: '2026-12-04T00:00:00+08:00',
      end: '2026-12-04T23:59:00+08:00', is_open: false, attendance_count: 0, expected: null },
  ],
  total: 2,
}

async function open(answer, options) {
  const ctx = start({ 'GET organizer/events': answer }, options)
  const comp = render('organizer/events/index')
  await settle()
  return Object.assign(ctx, { comp })
}

describe('organizer/events', () => {
  test('the events with their state and attendance', async () => {
    const { comp, sent } = await open(json(200, EVENTS))
    const shown = text(comp)
    expect(shown).toContain('年度大会')
    expect(shown).toContain('会议 · 2026-12-03 09:00–17:00')
    expect(shown).toContain('签到中')
    expect(shown).toContain('已签到 12/40')
    expect(shown).toContain('未开放')
    expect(shown).toContain('已签到 0')
    expect(sent('GET', 'organizer/events')).toHaveLength(1)
  })

  test('in English', async () => {
    const { comp } = await open(json(200, EVENTS), { device: { language: 'en' } })
    expect(text(comp)).toContain('12/40 checked in')
  })

  test('a tap opens the live page', async () => {
    const { comp, wx } = await open(json(200, EVENTS))
    comp.querySelector('#event-5').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/organizer/event/index?id=5')
  })

  test('empty', async () => {
    const { comp } = await open(json(200, { items: [], total: 0 }))
    expect(text(comp)).toContain('暂无活动')
  })

  test('403: organizes nothing, the staff login offered', async () => {
    const { comp, wx } = await open(apiError(403, 'forbidden'))
    expect(text(comp)).toContain('您没有组织任何活动')
    comp.querySelector('#staff-login').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateTo')[0].url).toBe('/organizer/login/index')
  })

  test('5xx, 429 with its countdown, no network', async () => {
    let ctx = await open(apiError(500, 'internal_error'))
    expect(text(ctx.comp)).toContain('服务器出错了')
    expect(ctx.comp.querySelector('#staff-login')).toBeUndefined()
    ctx = await open(apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '6' }))
    expect(text(ctx.comp)).toContain('请 6 秒后再试')
    ctx = await open(() => { throw new Error('offline') })
    expect(text(ctx.comp)).toContain('网络不可用')
  })
})
