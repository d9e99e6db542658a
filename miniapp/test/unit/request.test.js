// utils/request.js: tokens and their refresh, error mapping, Retry-After,
// network failures and answers that are not JSON
const test = require('node:test')
const assert = require('node:assert/strict')
const { load, login, routeOf, json, apiError, offline, BASE_URL } = require('./helpers.js')
const ERRORS = require('../../i18n/errors.js')

// A server whose valid access token is `valid`; auth/refresh answers
// `refreshAnswer()` (new tokens by default) after `refreshDelay` ms
function tokenServer({ refreshAnswer, refreshDelay = 5 } = {}) {
  const state = { valid: 'access-1', refreshes: 0, seen: [] }
  state.handler = async (req) => {
    const route = routeOf(req.url)
    if (route === 'auth/refresh') {
      state.refreshes += 1
      await new Promise((r) => setTimeout(r, refreshDelay))
      if (refreshAnswer) return refreshAnswer(req)
      state.valid = 'access-' + (state.refreshes + 1)
      return json(200, {
        access_token: state.valid, refresh_token: 'refresh-' + (state.refreshes + 1),
        token_type: 'Bearer', expires_in: 900,
      })
    }
    const bearer = (req.header.Authorization || '').replace('Bearer ', '')
    state.seen.push({ route, bearer })
    if (bearer !== state.valid) return apiError(401, 'unauthorized', 'expired')
    return json(200, { route, bearer })
  }
  return state
}

function setup(handler, options = {}) {
  const { wx, mod } = load(Object.assign({ request: handler }, options))
  const events = mod('utils/events.js')
  const logouts = []
  events.on('logout', () => logouts.push(Date.now()))
  return {
    wx, mod, logouts, session: mod('utils/session.js'),
    request: mod('utils/request.js').request,
  }
}

test('5 concurrent calls, access token expired: exactly one refresh, each with the new token', async () => {
  const server = tokenServer()
  server.valid = 'access-2' // the server would refuse access-1
  server.refreshes = 0
  const { wx, request, session, logouts } = setup(server.handler)
  login(wx, { expires_at: Date.now() - 1000 })
  const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => request({ path: 'me/points', query: { n } })))
  assert.equal(server.refreshes, 1)
  const refreshes = wx.callsOf('request').filter((r) => routeOf(r.url) === 'auth/refresh')
  assert.equal(refreshes.length, 1)
  assert.deepEqual(refreshes[0].data, { refresh_token: 'refresh-1' })
  for (const a of answers) assert.equal(a.bearer, 'access-2')
  assert.equal(session.get().access_token, 'access-2')
  assert.equal(session.get().refresh_token, 'refresh-2')
  assert.equal(session.get().member.name, '张三', 'the member stays in the session')
  assert.equal(logouts.length, 0)
})

test('5 concurrent calls answered 401 (token revoked early): one refresh, each retried with the new token', async () => {
  const server = tokenServer({ refreshDelay: 20 })
  server.valid = 'not-access-1'
  const { wx, request, logouts } = setup(async (req) => {
    // The answers of the five calls come back at different times: some
    // while the refresh is in flight, some after it ended
    const route = routeOf(req.url)
    if (route !== 'auth/refresh' && /n=(\d)/.test(req.url) && (req.header.Authorization || '').endsWith('access-1')) {
      await new Promise((r) => setTimeout(r, Number(/n=(\d)/.exec(req.url)[1]) * 10))
    }
    if (route === 'auth/refresh') {
      const answer = await server.handler(req)
      return answer
    }
    return server.handler(req)
  })
  login(wx)
  const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => request({ path: 'me', query: { n } })))
  assert.equal(server.refreshes, 1)
  for (const a of answers) assert.equal(a.bearer, 'access-2')
  // each call: once with the old token, once with the new
  assert.equal(server.seen.filter((s) => s.bearer === 'access-1').length, 5)
  assert.equal(server.seen.filter((s) => s.bearer === 'access-2').length, 5)
  assert.equal(logouts.length, 0)
})

test('refresh refused: logout (once), session gone, the calls fail unauthorized', async () => {
  const server = tokenServer({ refreshAnswer: () => apiError(401, 'unauthorized', 'revoked') })
  const { wx, request, session, logouts } = setup(server.handler, { lang: 'en' })
  login(wx, { expires_at: Date.now() - 1000 })
  const results = await Promise.allSettled([1, 2, 3].map(() => request({ path: 'me' })))
  for (const r of results) {
    assert.equal(r.status, 'rejected')
    assert.equal(r.reason.code, 'unauthorized')
    assert.equal(r.reason.status, 401)
    assert.equal(r.reason.message, 'Your session has expired: please log in again')
  }
  assert.equal(server.refreshes, 1)
  assert.equal(session.get(), null)
  assert.equal(logouts.length, 1)
})

test('a refresh refused after a 401 answer: logout', async () => {
  const server = tokenServer({ refreshAnswer: () => apiError(401, 'unauthorized', 'revoked') })
  server.valid = 'other'
  const { wx, request, session, logouts } = setup(server.handler)
  login(wx)
  await assert.rejects(request({ path: 'me' }), (e) => e.code === 'unauthorized')
  assert.equal(session.get(), null)
  assert.equal(logouts.length, 1)
})

for (const [name, answer] of [
  ['no network', () => offline()],
  ['503', () => apiError(503, 'service_unavailable', 'busy', {}, { 'Retry-After': '3' })],
  ['502 of a proxy', () => ({ statusCode: 502, data: '<html><center>nginx</center></html>', header: {} })],
  ['429', () => apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '10' })],
  ['a Wi-Fi login page', () => ({ statusCode: 200, data: '<html>login</html>', header: {} })],
]) {
  test('transient refresh failure (' + name + '): the session is kept, no logout', async () => {
    const server = tokenServer({ refreshAnswer: answer })
    const { wx, request, session, logouts } = setup(server.handler)
    login(wx, { expires_at: Date.now() - 1000 })
    await assert.rejects(request({ path: 'me' }), (e) => e.name === 'ApiError')
    assert.equal(session.get().refresh_token, 'refresh-1')
    assert.equal(logouts.length, 0)
    // A later call tries again (a new refresh: the first did not happen)
    await assert.rejects(request({ path: 'me' }), (e) => e.name === 'ApiError')
    assert.equal(server.refreshes, 2)
  })
}

test('401 on the retried request: logout', async () => {
  const server = tokenServer()
  const { wx, request, session, logouts } = setup((req) => {
    if (routeOf(req.url) === 'auth/refresh') return server.handler(req)
    return apiError(401, 'unauthorized', 'no')
  })
  login(wx)
  await assert.rejects(request({ path: 'me' }), (e) => e.code === 'unauthorized' && e.status === 401)
  assert.equal(server.refreshes, 1)
  assert.equal(session.get(), null)
  assert.equal(logouts.length, 1)
})

test('a staff session (no refresh token) answered 401 ends, with one logout', async () => {
  const { wx, request, session, logouts } = setup(() => apiError(401, 'unauthorized', 'no'))
  login(wx, { kind: 'staff', refresh_token: null })
  // Three calls answered 401 together: one logout, not three
  const results = await Promise.allSettled([1, 2, 3].map((n) => request({ path: 'events/' + n + '/qr' })))
  assert.ok(results.every((r) => r.status === 'rejected' && r.reason.code === 'unauthorized'))
  assert.equal(wx.callsOf('request').length, 3, 'nothing to refresh a staff token with')
  assert.equal(session.get(), null)
  assert.equal(logouts.length, 1)
})

test('a 401 of a route without auth (wrong password) is only an error', async () => {
  const { wx, request, session, logouts } = setup(() => apiError(401, 'invalid_credentials', 'bad'), { lang: 'zh_CN' })
  login(wx)
  await assert.rejects(request({ method: 'POST', path: 'auth/login', data: {}, auth: false }), (e) => {
    assert.equal(e.code, 'invalid_credentials')
    assert.equal(e.message, '手机号或密码不正确')
    return true
  })
  assert.ok(session.get())
  assert.equal(logouts.length, 0)
  assert.equal(wx.callsOf('request').length, 1)
})

test('a 401 of an authenticated route about the request (DELETE me, wrong password): no refresh, session kept', async () => {
  const { wx, request, session, logouts } = setup((req) => {
    if (routeOf(req.url) === 'auth/refresh') throw new Error('no refresh expected')
    return apiError(401, 'invalid_credentials', 'bad')
  }, { lang: 'zh_CN' })
  login(wx)
  await assert.rejects(request({ method: 'DELETE', path: 'me', data: { password: 'x' } }),
    (e) => e.code === 'invalid_credentials' && e.status === 401)
  assert.deepEqual(wx.callsOf('request').map((r) => routeOf(r.url)), ['me'])
  assert.ok(session.get())
  assert.equal(logouts.length, 0)
})

test('without a session an authenticated call fails unauthorized, nothing sent', async () => {
  const { wx, request, logouts } = setup(() => json(200, {}))
  await assert.rejects(request({ path: 'me' }), (e) => e.code === 'unauthorized' && e.status === 401)
  assert.equal(wx.callsOf('request').length, 0)
  assert.equal(logouts.length, 0)
})

for (const lang of ['zh_CN', 'en']) {
  test('error mapping (' + lang + '): every code of i18n/errors.js answers its text', async () => {
    const codes = Object.keys(ERRORS[lang])
    assert.deepEqual(codes.slice().sort(), Object.keys(ERRORS.zh_CN).sort())
    for (const code of codes) {
      const { wx, request } = setup(() => apiError(422, code, 'server words', { a: 1 }), { lang })
      login(wx)
      await assert.rejects(request({ path: 'x', auth: false }), (e) => {
        assert.equal(e.name, 'ApiError')
        assert.equal(e.code, code)
        assert.equal(e.status, 422)
        assert.equal(e.message, ERRORS[lang][code], code)
        assert.equal(e.serverMessage, 'server words')
        assert.deepEqual(e.details, { a: 1 })
        return true
      })
    }
  })
}

test('an unknown code: the server message (already in the member language)', async () => {
  const { request } = setup(() => apiError(409, 'brand_new_code', '新的错误'))
  await assert.rejects(request({ path: 'x', auth: false }), (e) => e.code === 'brand_new_code' && e.message === '新的错误')
})

test('Retry-After: seconds, HTTP date, details.retry_after', async () => {
  const cases = [
    [apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '42' }), (s) => s === 42],
    [apiError(503, 'service_unavailable', 'busy', {}, { 'retry-after': new Date(Date.now() + 90500).toUTCString() }),
      (s) => s >= 89 && s <= 91],
    [apiError(429, 'rate_limited', 'slow', { retry_after: 7 }), (s) => s === 7],
    [apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': 'soon' }), (s) => s === null],
  ]
  for (const [answer, expected] of cases) {
    const { request } = setup(() => answer)
    await assert.rejects(request({ path: 'x', auth: false }), (e) => e.transient && expected(e.retryAfter))
  }
  const { mod } = setup(() => json(200, {}))
  const { retryAfterOf } = mod('utils/request.js')
  assert.equal(retryAfterOf({ 'Retry-After': '1.2' }), 2)
  assert.equal(retryAfterOf({ 'Retry-After': new Date(Date.now() - 5000).toUTCString() }), 0)
  assert.equal(retryAfterOf({}), null)
  assert.equal(retryAfterOf(null), null)
})

test('network failure: network_error, status 0, transient', async () => {
  const { request } = setup(() => offline(), { lang: 'en' })
  await assert.rejects(request({ path: 'x', auth: false }), (e) => {
    assert.equal(e.code, 'network_error')
    assert.equal(e.status, 0)
    assert.ok(e.transient)
    assert.equal(e.message, 'No network: check your connection and try again')
    return true
  })
})

test('answers that are not JSON', async () => {
  const cases = [
    // the HTML error page of a proxy
    [{ statusCode: 502, data: '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>', header: { 'Content-Type': 'text/html' } }, 'server_error', true],
    [{ statusCode: 504, data: '', header: {} }, 'server_error', true],
    // a body WeChat could not parse stays a string
    [{ statusCode: 400, data: 'Bad Request', header: {} }, 'bad_response', false],
    [{ statusCode: 404, data: '<html>Not Found</html>', header: {} }, 'not_found', false],
    // a Wi-Fi login page answering 200 in place of the server
    [{ statusCode: 200, data: '<html>Welcome to the hotel Wi-Fi</html>', header: {} }, 'bad_response', false],
    [{ statusCode: 422, data: { error: 'text' }, header: {} }, 'bad_response', false],
    [{ statusCode: 500, data: { message: 'odd' }, header: {} }, 'server_error', true],
  ]
  for (const [answer, code, transient] of cases) {
    const { request } = setup(() => answer)
    await assert.rejects(request({ path: 'x', auth: false }), (e) => {
      assert.equal(e.name, 'ApiError')
      assert.equal(e.code, code, JSON.stringify(answer))
      assert.equal(e.status, answer.statusCode)
      assert.equal(e.transient, transient)
      return true
    })
  }
})

test('204 answers null; 2xx JSON answers the body', async () => {
  const empty = setup(() => ({ statusCode: 204, data: '', header: {} }))
  assert.equal(await empty.request({ method: 'DELETE', path: 'x', auth: false }), null)
  const created = setup(() => json(201, { id: 3 }))
  assert.deepEqual(await created.request({ method: 'POST', path: 'x', auth: false, data: {} }), { id: 3 })
})

test('the request: URL, query, JSON, bearer and language headers', async () => {
  const { wx, request } = setup(() => json(200, {}), { lang: 'en' })
  login(wx)
  await request({ method: 'POST', path: '/bookings', query: { a: 'x y', b: null, c: '', d: 0 }, data: { n: 1 } })
  const [req] = wx.callsOf('request')
  assert.equal(req.url, BASE_URL + '/bookings?a=x%20y&d=0')
  assert.equal(req.method, 'POST')
  assert.deepEqual(req.data, { n: 1 })
  assert.equal(req.header.Authorization, 'Bearer access-1')
  assert.equal(req.header['Content-Type'], 'application/json')
  assert.equal(req.header['Accept-Language'], 'en')
  await request({ path: 'events', auth: false })
  assert.equal(wx.callsOf('request')[1].header.Authorization, undefined)
})

test("a staff login keeps the member's session; organizer routes use the staff token", async () => {
  const { wx, mod, session, logouts } = setup((req) => {
    const route = routeOf(req.url)
    if (route === 'auth/staff') {
      return json(200, { access_token: 'staff-1', refresh_token: null, token_type: 'Bearer', expires_in: 28800 })
    }
    return json(200, { route, bearer: req.header.Authorization })
  })
  login(wx)
  const auth = mod('services/auth.js')
  const organizer = mod('services/organizer.js')
  const me = mod('services/me.js')
  // Without a staff session the organizer routes go with the member's token
  // (a member linked to a Tryton user organizes with it)
  assert.equal((await organizer.stats(5)).bearer, 'Bearer access-1')
  await auth.staffLogin({ login: 'org', password: 'pw' })
  assert.equal(session.get().access_token, 'access-1', "the member's session is untouched")
  assert.equal(session.get('staff').access_token, 'staff-1')
  assert.equal((await organizer.stats(5)).bearer, 'Bearer staff-1')
  assert.equal((await me.points()).bearer, 'Bearer access-1', 'member routes keep the member token')
  await auth.staffLogout()
  assert.equal(session.get('staff'), null)
  assert.equal((await organizer.stats(5)).bearer, 'Bearer access-1')
  assert.equal(logouts.length, 0)
})

test("a staff token refused: the staff session ends (staff-logout), the member's stays", async () => {
  const { wx, mod, session, logouts } = setup(() => apiError(401, 'unauthorized', 'expired'))
  login(wx)
  session.save({ access_token: 'staff-1', expires_in: 60 }, 'staff')
  const staffLogouts = []
  mod('utils/events.js').on('staff-logout', () => staffLogouts.push(1))
  await assert.rejects(mod('services/organizer.js').qr(5), (e) => e.code === 'unauthorized')
  assert.equal(session.get('staff'), null)
  assert.equal(session.get().access_token, 'access-1')
  assert.deepEqual([staffLogouts.length, logouts.length], [1, 0])
  // no refresh of a staff token
  assert.deepEqual(wx.callsOf('request').map((r) => routeOf(r.url)), ['events/5/qr'])
})
