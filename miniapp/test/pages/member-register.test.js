// pages/register: phone, password, name → auth/register; the server's
// 400 and 409 answers
const { setup, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { TOKENS, type, tap } = require('./member-fixtures')

describe('pages/register', () => {
  let wx
  let sent
  let answer

  beforeEach(() => {
    sent = []
    answer = () => json(201, TOKENS)
    wx = setup({
      request: (req) => {
        sent.push({ route: routeOf(req.url), method: req.method, data: req.data })
        return answer(req)
      },
    })
  })

  function fill(comp, { phone = '13800000000', password = 'long-enough-1', name } = {}) {
    type(comp, 'phone', phone)
    type(comp, 'password', password)
    if (name !== undefined) type(comp, 'name', name)
  }

  test('renders in Chinese and English', async () => {
    let comp = render('pages/register/index')
    expect(text(comp)).toContain('注册会员')
    wx = setup({ device: { language: 'en' } })
    comp = render('pages/register/index')
    expect(text(comp)).toContain('Become a member')
  })

  test('registers with a name, keeps the session, goes home', async () => {
    const comp = render('pages/register/index')
    fill(comp, { name: ' 李四 ' })
    tap(comp, 'submit')
    await settle()
    expect(sent).toEqual([{
      route: 'auth/register', method: 'POST',
      data: { phone: '13800000000', password: 'long-enough-1', name: '李四' },
    }])
    expect(wx.getStorageSync('session').refresh_token).toBe('refresh-1')
    expect(wx.callsOf('switchTab')[0].url).toBe('/pages/home/index')
  })

  test('the name is optional: not sent when empty', async () => {
    const comp = render('pages/register/index')
    fill(comp)
    tap(comp, 'submit')
    await settle()
    expect(sent[0].data).toEqual({ phone: '13800000000', password: 'long-enough-1' })
  })

  test('a password shorter than 8 is refused before sending', async () => {
    const comp = render('pages/register/index')
    fill(comp, { password: 'short' })
    tap(comp, 'submit')
    await settle()
    expect(sent).toEqual([])
    expect(text(comp)).toContain('密码至少需要 8 位')
    expect(comp.data.field).toBe('password')
  })

  test('400 invalid_request: the server\'s message and its field', async () => {
    answer = () => apiError(400, 'invalid_request', '密码太常见，请换一个', { field: 'body.password', reason: 'common' })
    const comp = render('pages/register/index')
    fill(comp, { password: 'password1' })
    tap(comp, 'submit')
    await settle()
    expect(text(comp)).toContain('密码太常见，请换一个')
    expect(comp.data.field).toBe('password')
    expect(comp.querySelector('#error')).toBeTruthy()
    expect(wx.callsOf('switchTab')).toEqual([])
  })

  test('400 with details.fields marks the first field', async () => {
    answer = () => apiError(400, 'invalid_request', 'bad phone', { fields: ['phone'] })
    const comp = render('pages/register/index')
    fill(comp, { phone: '123' })
    tap(comp, 'submit')
    await settle()
    expect(comp.data.field).toBe('phone')
  })

  test('409 phone_taken offers login and recovery with the phone', async () => {
    answer = () => apiError(409, 'phone_taken', 'taken')
    const comp = render('pages/register/index')
    fill(comp)
    tap(comp, 'submit')
    await settle()
    expect(text(comp)).toContain('该手机号已注册')
    tap(comp, 'toLogin')
    tap(comp, 'toRecover')
    await settle()
    expect(wx.callsOf('redirectTo').map((c) => c.url)).toEqual([
      '/pages/login/index?phone=13800000000', '/pages/recover/index?phone=13800000000',
    ])
  })

  test('no double submit while the request is in flight', async () => {
    let release
    answer = () => new Promise((resolve) => { release = () => resolve(json(201, TOKENS)) })
    const comp = render('pages/register/index')
    fill(comp)
    tap(comp, 'submit')
    await settle()
    expect(comp.data.busy).toBe(true)
    tap(comp, 'submit')
    await settle()
    expect(sent).toHaveLength(1)
    release()
    await settle()
    expect(comp.data.busy).toBe(false)
  })
})
