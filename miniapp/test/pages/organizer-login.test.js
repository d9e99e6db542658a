// organizer/login: the staff login
const { render, settle, text, json, apiError } = require('./helpers')
const { start, held } = require('./booking-fixtures')

const TOKEN = { access_token: 'staff-1', token_type: 'Bearer', expires_in: 3600 }

async function open(answer, options) {
  const ctx = start({ 'POST auth/staff': answer }, options)
  ctx.wx.removeStorageSync('session')
  const comp = render('organizer/login/index')
  await settle()
  comp.instance.onLogin({ detail: { value: ' admin ' } })
  comp.instance.onPassword({ detail: { value: 'secret-pass' } })
  return Object.assign(ctx, { comp })
}

describe('organizer/login', () => {
  test('renders in Chinese and in English', async () => {
    let ctx = await open(json(200, TOKEN))
    expect(text(ctx.comp)).toContain('使用后台账号登录')
    ctx = await open(json(200, TOKEN), { device: { language: 'en' } })
    expect(text(ctx.comp)).toContain('Log in with your back-office account')
  })

  test('logged in: a staff session, then the events', async () => {
    const { comp, wx, sent } = await open(json(200, TOKEN))
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'auth/staff')[0].data).toEqual({ login: 'admin', password: 'secret-pass' })
    // The staff session, apart from the member's (none here: not written)
    expect(wx.getStorageSync('staff_session').kind).toBe('staff')
    expect(wx.getStorageSync('staff_session').access_token).toBe('staff-1')
    expect(wx.getStorageSync('session')).toBe('')
    expect(wx.callsOf('redirectTo')[0].url).toBe('/organizer/events/index')
  })

  test('nothing typed: asked, nothing sent', async () => {
    const { comp, sent } = await open(json(200, TOKEN))
    comp.instance.onPassword({ detail: { value: '' } })
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('请输入账号和密码')
    expect(sent('POST', 'auth/staff')).toHaveLength(0)
  })

  test('401 invalid_credentials in words', async () => {
    const { comp, wx } = await open(apiError(401, 'invalid_credentials'))
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(comp)).toContain('账号或密码不正确')
    expect(wx.callsOf('redirectTo')).toHaveLength(0)
  })

  test('in flight: a second tap sends nothing', async () => {
    const [answer, release] = held()
    const { comp, sent } = await open(answer)
    comp.querySelector('#submit').dispatchEvent('tap')
    comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(sent('POST', 'auth/staff')).toHaveLength(1)
    release(json(200, TOKEN))
    await settle()
  })

  test('429: the countdown of Retry-After, then a new try', async () => {
    const { comp, sent } = await open(apiError(429, 'rate_limited', 'x', {}, { 'Retry-After': '2' }))
    jest.useFakeTimers()
    try {
      comp.querySelector('#submit').dispatchEvent('tap')
      for (let i = 0; i < 5; i++) await jest.advanceTimersByTimeAsync(1)
      expect(text(comp)).toContain('操作太频繁，请稍后再试')
      expect(text(comp)).toContain('请 2 秒后再试')
      comp.querySelector('#submit').dispatchEvent('tap')
      await jest.advanceTimersByTimeAsync(1)
      expect(sent('POST', 'auth/staff')).toHaveLength(1)
      await jest.advanceTimersByTimeAsync(2000)
      comp.querySelector('#submit').dispatchEvent('tap')
      for (let i = 0; i < 5; i++) await jest.advanceTimersByTimeAsync(1)
      expect(sent('POST', 'auth/staff')).toHaveLength(2)
    } finally {
      jest.useRealTimers()
    }
  })

  test('5xx and no network', async () => {
    let ctx = await open(apiError(500, 'internal_error'))
    ctx.comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(ctx.comp)).toContain('服务器出错了')
    ctx = await open(() => { throw new Error('offline') })
    ctx.comp.querySelector('#submit').dispatchEvent('tap')
    await settle()
    expect(text(ctx.comp)).toContain('网络不可用')
  })
})
