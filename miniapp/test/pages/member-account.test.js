// member/account: edit the name and address (PATCH me), delete the
// account (DELETE me)
const { setup, login, render, settle, text, json, apiError, routeOf } = require('./helpers')
const { MEMBER, type, tap } = require('./member-fixtures')

describe('member/account', () => {
  let wx
  let sent
  let answers

  beforeEach(() => {
    sent = []
    answers = {
      'GET me': () => json(200, { member: MEMBER }),
      'PATCH me': (req) => json(200, { member: Object.assign({}, MEMBER, req.data) }),
      'DELETE me': () => json(204, ''),
      'POST auth/refresh': () => json(200, {
        access_token: 'access-2', refresh_token: 'refresh-2', token_type: 'Bearer', expires_in: 900,
      }),
    }
    wx = setup({
      request: (req) => {
        const key = req.method + ' ' + routeOf(req.url)
        sent.push({ key, data: req.data })
        return answers[key](req)
      },
    })
    login(wx, MEMBER)
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  test('renders the profile and the warning (zh_CN)', async () => {
    const comp = render('member/account/index')
    await settle()
    expect(sent).toEqual([{ key: 'GET me', data: undefined }])
    expect(comp.data.name).toBe('张三')
    expect(comp.data.address).toBe('上海市人民路 1 号')
    expect(text(comp)).toContain('将被删除：您的姓名、手机号')
    expect(text(comp)).toContain('将匿名保留：签到、预约和积分记录')
  })

  test('renders in English', async () => {
    wx = setup({ device: { language: 'en' }, request: () => json(200, { member: MEMBER }) })
    login(wx)
    const comp = render('member/account/index')
    await settle()
    expect(text(comp)).toContain('Delete my account')
    expect(text(comp)).toContain('Kept without your name')
  })

  test('saves only what changed', async () => {
    const comp = render('member/account/index')
    await settle()
    type(comp, 'address', ' 北京市长安街 2 号 ')
    tap(comp, 'save')
    await settle()
    expect(sent[1]).toEqual({ key: 'PATCH me', data: { address: '北京市长安街 2 号' } })
    expect(text(comp)).toContain('已保存')
    expect(wx.getStorageSync('session').member.address).toBe('北京市长安街 2 号')
  })

  test('an emptied address is sent as null; an empty name is not sent', async () => {
    const comp = render('member/account/index')
    await settle()
    type(comp, 'name', '  ')
    tap(comp, 'save')
    await settle()
    expect(sent).toHaveLength(1)
    expect(text(comp)).toContain('请填写姓名')
    type(comp, 'name', '张三')
    type(comp, 'address', '')
    tap(comp, 'save')
    await settle()
    expect(sent[1]).toEqual({ key: 'PATCH me', data: { address: null } })
  })

  test('400 invalid_request: the server\'s message and the field', async () => {
    answers['PATCH me'] = () => apiError(400, 'invalid_request', '姓名过长', { field: 'body.name', reason: 'maxLength' })
    const comp = render('member/account/index')
    await settle()
    type(comp, 'name', '王五')
    tap(comp, 'save')
    await settle()
    expect(text(comp)).toContain('姓名过长')
    expect(comp.data.field).toBe('name')
  })

  test('load without network: says so', async () => {
    answers['GET me'] = () => { throw new Error('offline') }
    const comp = render('member/account/index')
    await settle()
    expect(text(comp)).toContain('网络不可用')
  })

  test('delete: confirmation, DELETE me with the password, the session gone, the login page', async () => {
    const comp = render('member/account/index')
    await settle()
    type(comp, 'password', 'secret-123')
    tap(comp, 'delete')
    await settle()
    expect(wx.callsOf('showModal')).toHaveLength(1)
    expect(sent[1]).toEqual({ key: 'DELETE me', data: { password: 'secret-123' } })
    expect(wx.getStorageSync('session')).toBe('')
    expect(wx.callsOf('reLaunch')[0].url).toBe('/pages/login/index')
  })

  test('delete cancelled in the dialog: nothing sent', async () => {
    wx.device.modalConfirm = false
    const comp = render('member/account/index')
    await settle()
    tap(comp, 'delete')
    await settle()
    expect(sent).toHaveLength(1)
  })

  test('delete without a password (just logged in) sends {}', async () => {
    const comp = render('member/account/index')
    await settle()
    tap(comp, 'delete')
    await settle()
    expect(sent[1]).toEqual({ key: 'DELETE me', data: {} })
  })

  test('a wrong password: said so, the account kept', async () => {
    answers['DELETE me'] = () => apiError(401, 'invalid_credentials', 'wrong')
    const comp = render('member/account/index')
    await settle()
    type(comp, 'password', 'wrong-pass')
    tap(comp, 'delete')
    await settle()
    expect(text(comp)).toContain('密码不正确，账号未注销')
    expect(wx.callsOf('reLaunch')).toEqual([])
  })

  // A 401 of DELETE me is about the password, not the token
  test('a wrong password does not end the session', async () => {
    answers['DELETE me'] = () => apiError(401, 'invalid_credentials', 'wrong')
    const comp = render('member/account/index')
    await settle()
    type(comp, 'password', 'wrong-pass')
    tap(comp, 'delete')
    await settle()
    expect(sent.map((s) => s.key)).toEqual(['GET me', 'DELETE me'])
    expect(wx.getStorageSync('session').access_token).toBeTruthy()
  })

  test('429 with Retry-After: delete disabled until the wait ends', async () => {
    jest.useFakeTimers()
    answers['DELETE me'] = () => apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '3' })
    const comp = render('member/account/index')
    await jest.advanceTimersByTimeAsync(10)
    type(comp, 'password', 'secret-123')
    tap(comp, 'delete')
    await jest.advanceTimersByTimeAsync(10)
    expect(text(comp)).toContain('操作太频繁')
    expect(text(comp)).toContain('3s')
    tap(comp, 'delete')
    await jest.advanceTimersByTimeAsync(10)
    expect(wx.callsOf('showModal')).toHaveLength(1)
    await jest.advanceTimersByTimeAsync(3000)
    expect(comp.data.wait).toBe(0)
    tap(comp, 'delete')
    await jest.advanceTimersByTimeAsync(10)
    expect(wx.callsOf('showModal')).toHaveLength(2)
  })
})
