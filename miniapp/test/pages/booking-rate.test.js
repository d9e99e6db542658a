// booking/rate: stars, the fixed tags, a comment; POST, or PATCH when
// the booking is rated already
const { render, settle, text, json, apiError } = require('./helpers')
const { bookingOf, bookingRating, ratingOf, start, held } = require('./booking-fixtures')

async function open(extra, options) {
  const ctx = start(Object.assign({
    'GET bookings/42': json(200, { booking: bookingOf({ state: 'done' }) }),
    'POST bookings/42/rating': json(201, { rating: ratingOf() }),
    'PATCH bookings/42/rating': json(200, { rating: ratingOf() }),
  }, extra || {}), options)
  const comp = render('booking/rate/index', { query: { id: '42' } })
  await settle()
  return Object.assign(ctx, { comp })
}

describe('booking/rate', () => {
  test('the stars and the tags of the server, in Chinese', async () => {
    const { comp, wx } = await open()
    const shown = text(comp)
    for (const words of ['准时', '友好', '专业', '细致', '整洁', '物有所值', '迟到', '匆忙']) {
      expect(shown).toContain(words)
    }
    expect(shown).toContain('提交评价')
    expect(wx.callsOf('setNavigationBarTitle')[0].title).toBe('评价服务')
  })

  test('in English', async () => {
    const { comp } = await open({}, { device: { language: 'en' } })
    expect(text(comp)).toContain('Good value')
    expect(text(comp)).toContain('Send')
  })

  test('no star: asked for one, nothing sent', async () => {
    const { comp, sent } = await open()
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('请选择 1 到 5 颗星')
    expect(sent('POST', 'bookings/42/rating')).toHaveLength(0)
  })

  test('rated: stars, tag codes, comment posted; back to the booking', async () => {
    const { comp, wx, sent } = await open()
    comp.querySelector('#star-4').dispatchEvent('tap')
    comp.querySelector('#tag-punctual').dispatchEvent('tap')
    comp.querySelector('#tag-good_value').dispatchEvent('tap')
    comp.querySelector('#tag-late').dispatchEvent('tap')
    comp.querySelector('#tag-late').dispatchEvent('tap')
    comp.instance.onComment({ detail: { value: ' 很好 ' } })
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings/42/rating')[0].data).toEqual({
      stars: 4, comment: '很好', tags: ['punctual', 'good_value'],
    })
    expect(wx.callsOf('navigateBack')).toHaveLength(0)
    expect(wx.callsOf('redirectTo')[0].url).toBe('/booking/detail/index?id=42')
  })

  test('rated from the booking page: back to it', async () => {
    const { comp, wx } = await open()
    global.getCurrentPages = () => [{ route: 'booking/detail/index' }, { route: 'booking/rate/index' }]
    comp.querySelector('#star-5').dispatchEvent('tap')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(wx.callsOf('navigateBack')).toHaveLength(1)
    expect(wx.callsOf('redirectTo')).toHaveLength(0)
  })

  test('in flight: a second tap sends nothing', async () => {
    const [answer, release] = held()
    const { comp, sent } = await open({ 'POST bookings/42/rating': answer })
    comp.querySelector('#star-5').dispatchEvent('tap')
    comp.querySelector('#submit').dispatchEvent('tap')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings/42/rating')).toHaveLength(1)
    release(json(201, { rating: ratingOf() }))
    await settle()
  })

  test.each([
    [409, 'already_rated', '您已评价过此预约'],
    [422, 'invalid_state', '当前状态不能进行此操作'],
  ])('POST %s %s in words', async (status, code, words) => {
    const { comp, wx } = await open({ 'POST bookings/42/rating': apiError(status, code) })
    comp.querySelector('#star-3').dispatchEvent('tap')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain(words)
    expect(wx.callsOf('navigateBack')).toHaveLength(0)
    expect(wx.callsOf('redirectTo')).toHaveLength(0)
  })

  test('rated already: the rating shown and changed with PATCH', async () => {
    const { comp, sent, wx } = await open({ 'GET bookings/42': json(200, { booking: bookingOf({ state: 'done', rating: bookingRating() }) }) })
    expect(comp.data.editing).toBe(true)
    expect(comp.data.stars).toBe(4)
    expect(comp.data.comment).toBe('准时')
    expect(text(comp)).toContain('保存修改')
    expect(wx.callsOf('setNavigationBarTitle')[0].title).toBe('修改评价')
    comp.querySelector('#star-2').dispatchEvent('tap')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'bookings/42/rating')).toHaveLength(0)
    expect(sent('PATCH', 'bookings/42/rating')[0].data).toEqual({
      stars: 2, comment: '准时', tags: ['punctual'],
    })
  })

  test('PATCH 422 edit_window_passed in words', async () => {
    const { comp } = await open({
      'GET bookings/42': json(200, { booking: bookingOf({ state: 'done', rating: bookingRating() }) }),
      'PATCH bookings/42/rating': apiError(422, 'edit_window_passed'),
    })
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('已超过可修改评价的时间')
  })

  test('5xx and no network on sending; 429 loading with its countdown', async () => {
    let ctx = await open({ 'POST bookings/42/rating': apiError(503, 'service_unavailable') })
    ctx.comp.querySelector('#star-5').dispatchEvent('tap')
    ctx.comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(ctx.comp)).toContain('服务繁忙，请稍后再试')
    ctx = await open({ 'POST bookings/42/rating': () => { throw new Error('offline') } })
    ctx.comp.querySelector('#star-5').dispatchEvent('tap')
    ctx.comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(ctx.comp)).toContain('网络不可用')
    ctx = await open({ 'GET bookings/42': apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '4' }) })
    expect(text(ctx.comp)).toContain('请 4 秒后再试')
  })
})
