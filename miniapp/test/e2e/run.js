// The mini-program's own utils/ and services/ against a real server: the
// member's story from registering to cancelling a booking, and the bad
// conditions (wrong password, expired token, refused refresh, the QR of
// another app, no network).  `wx` is test/wx-mock.js with its request bound
// to real HTTP (Node's http module).  Prints TAP (ok N / not ok N and a
// "# tests N pass N fail N" summary); exits non-zero on a failure.
//
//   MINIAPP_E2E_BASE_URL=http://127.0.0.1:8000/db/mp/v1 \
//   MINIAPP_E2E_STAFF_LOGIN=door MINIAPP_E2E_STAFF_PASSWORD=... \
//   MINIAPP_E2E_EVENTS=1,2,3 MINIAPP_E2E_SERVICE=4 \
//   MINIAPP_E2E_LAT=31.2304 MINIAPP_E2E_LON=121.4737 node test/e2e/run.js
//
// The events: three open now that the staff user organizes, with the QR
// method and a radius around LAT, LON; the service: a resource with free
// slots in the coming days (tests/test_miniapp_e2e.py makes them).
const http = require('http')
const https = require('https')
const path = require('path')
const { createWx, flush } = require('../wx-mock.js')

const ROOT = path.resolve(__dirname, '../..')
const TIMEOUT_MS = Number(process.env.MINIAPP_E2E_TIMEOUT_MS || 120000)

function env(name, fallback) {
  const value = process.env[name]
  if (value === undefined || value === '') {
    if (fallback !== undefined) return fallback
    console.log('Bail out! ' + name + ' is not set')
    process.exit(2)
  }
  return value
}

const BASE_URL = env('MINIAPP_E2E_BASE_URL')
const STAFF_LOGIN = env('MINIAPP_E2E_STAFF_LOGIN')
const STAFF_PASSWORD = env('MINIAPP_E2E_STAFF_PASSWORD')
const EVENTS = env('MINIAPP_E2E_EVENTS').split(',').map(Number)
const SERVICE = Number(env('MINIAPP_E2E_SERVICE'))
const LAT = Number(env('MINIAPP_E2E_LAT', '31.2304'))
const LON = Number(env('MINIAPP_E2E_LON', '121.4737'))

// ---- TAP ----
let count = 0
let failed = 0

function ok(condition, text, detail) {
  count += 1
  if (condition) {
    console.log('ok ' + count + ' - ' + text)
  } else {
    failed += 1
    console.log('not ok ' + count + ' - ' + text)
    if (detail !== undefined) {
      for (const line of String(typeof detail === 'string' ? detail : JSON.stringify(detail)).split('\n')) {
        console.log('#   ' + line)
      }
    }
  }
  return !!condition
}

function equal(actual, expected, text) {
  return ok(actual === expected, text, { actual, expected })
}

function summary() {
  console.log('1..' + count)
  console.log('# tests ' + count + ' pass ' + (count - failed) + ' fail ' + failed)
}

// ---- wx.request on real HTTP ----
// Answers as WeChat does: the body parsed when it is JSON (dataType
// 'json'), else the text; header names as the server sent them
function httpRequest({ url, method, data, header }) {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const body = data === undefined || data === null ? null
      : (typeof data === 'string' ? data : JSON.stringify(data))
    const headers = Object.assign({}, header)
    if (body !== null) headers['Content-Length'] = Buffer.byteLength(body)
    const transport = target.protocol === 'https:' ? https : http
    const req = transport.request(target, { method, headers, timeout: 30000 }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed = text
        try {
          if (text) parsed = JSON.parse(text)
        } catch (e) {
          parsed = text
        }
        resolve({ statusCode: res.statusCode, data: parsed, header: res.headers })
      })
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    if (body !== null) req.write(body)
    req.end()
  })
}

// A phone: its own storage, network switch and instance of the client's
// modules (utils/, services/ are loaded again for each phone)
function phone(name) {
  const state = { online: true, sent: [], name }
  const wx = createWx({
    request: (req) => {
      if (!state.online) throw new Error('net::ERR_INTERNET_DISCONNECTED')
      state.sent.push({ method: req.method, url: req.url, data: req.data })
      return httpRequest(req)
    },
  })
  for (const file of Object.keys(require.cache)) {
    if (/^(utils|services|i18n)[\\/]/.test(path.relative(ROOT, file))) {
      delete require.cache[file]
    }
  }
  const previous = global.wx
  global.wx = wx
  const mod = (rel) => require(path.join(ROOT, rel))
  const client = {
    wx, state,
    config: mod('utils/config.js'),
    i18n: mod('utils/i18n.js'),
    session: mod('utils/session.js'),
    events: mod('utils/events.js'),
    queue: mod('utils/queue.js'),
    flow: mod('utils/checkin-flow.js'),
    auth: mod('services/auth.js'),
    me: mod('services/me.js'),
    checkin: mod('services/checkin.js'),
    booking: mod('services/booking.js'),
    organizer: mod('services/organizer.js'),
    errors: require(path.join(ROOT, 'i18n/errors.js')),
  }
  client.config.setBaseUrl(BASE_URL)
  client.i18n.setLang('zh_CN')
  global.wx = previous
  return client
}

// Run fn with `wx` being the phone's (the client's modules call the global
// wx); the story is sequential, so one phone at a time
async function on(client, fn) {
  const previous = global.wx
  global.wx = client.wx
  try {
    return await fn(client)
  } finally {
    global.wx = previous
  }
}

async function rejection(promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  return null
}

function routesOf(client, from = 0) {
  return client.state.sent.slice(from).map((r) => r.method + ' ' + r.url.slice(BASE_URL.length + 1).split('?')[0])
}

function localDate(daysAhead) {
  const d = new Date(Date.now() + daysAhead * 86400000)
  return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0')
}

// ---- the story ----
async function story(member, staff) {
  const m = member
  const phoneNumber = '139' + String(Math.floor(Math.random() * 1e8)).padStart(8, '0')
  const password = 'Walnut-Tea-' + Math.floor(Math.random() * 1e6)
  m.wx.device.location = { latitude: LAT, longitude: LON, accuracy: 12, horizontalAccuracy: 12 }
  const logouts = []
  m.events.on('logout', () => logouts.push(true))

  // Register, log out, log in
  await on(m, async () => {
    const registered = await m.auth.register({ phone: phoneNumber, password, name: 'E2E 小程序' })
    ok(registered.access_token && m.session.get().access_token === registered.access_token,
      'register: the tokens are kept in the session')
    equal(m.session.get().member.phone, phoneNumber.slice(0, 3) + '****' + phoneNumber.slice(7),
      'register: the member with the masked phone')
    await m.auth.logout()
    equal(m.session.get(), null, 'logout: the session is cleared')
    const refused = await rejection(m.me.getMe())
    ok(refused && refused.code === 'unauthorized', 'logout: the API is no longer called as the member', refused)
    await m.auth.login({ phone: phoneNumber, password })
    ok(m.session.isLoggedIn(), 'login: a session again')
    const me = await m.me.getMe()
    equal(me.points_balance, 0, 'login: me answers the new member, no points yet')
  })

  // The organizer shows the kiosk QR of each event (another phone)
  const qr = {}
  await on(staff, async () => {
    await staff.auth.staffLogin({ login: STAFF_LOGIN, password: STAFF_PASSWORD })
    equal(staff.session.get('staff').kind, 'staff', 'staff login: a staff session on the second phone')
    equal(staff.session.get(), null, "the staff session is not a member's session")
    const first = await staff.organizer.qr(EVENTS[0])
    qr[EVENTS[0]] = first.token
    ok(typeof first.token === 'string' && first.png, 'organizer: the QR of the event', first)
  })
  await on(m, async () => {
    equal(m.session.get().kind, 'member', "the staff login does not touch the member's session")
  })

  // The member checks in with it
  await on(m, async () => {
    const events = await m.checkin.events()
    const ids = events.items.map((e) => e.id)
    ok(EVENTS.every((id) => ids.includes(id)), 'events: the three events are open to the member', ids)
    m.wx.device.scanCode = { result: qr[EVENTS[0]], scanType: 'QR_CODE' }
    const r = await m.flow.scanAndCheckIn()
    equal(r.outcome, 'created', 'check-in with the QR: created')
    ok(r.checkin && r.checkin.points_awarded > 0 && r.checkin.event_id === EVENTS[0],
      'check-in: points awarded for the event', r.checkin)
    ok(r.member && r.member.points_balance === r.checkin.points_awarded,
      'check-in: the balance counts them', r.member)
    const sent = m.state.sent[m.state.sent.length - 1]
    ok(sent.data.lat === LAT && sent.data.lon === LON && sent.data.client_uuid,
      'check-in: sent with the position and a client_uuid', sent.data)
    const again = await m.flow.checkIn(m.flow.parseCode(qr[EVENTS[0]]))
    ok(again.outcome === 'refused' && again.error.code === 'already_checked_in' &&
      again.error.message === m.errors.zh_CN.already_checked_in,
    'check-in twice: refused already_checked_in, in words', again.error)
  })

  // Offline: two check-ins at the other events are queued, nothing sent
  await on(staff, async () => {
    for (const id of EVENTS.slice(1)) qr[id] = (await staff.organizer.qr(id)).token
  })
  const queued = []
  await on(m, async () => {
    m.queue.start()
    await m.queue.flush()
    m.state.online = false
    m.wx.setNetwork(false)
    const before = m.state.sent.length
    for (const id of EVENTS.slice(1)) {
      m.wx.device.scanCode = { result: qr[id], scanType: 'QR_CODE' }
      const r = await m.flow.scanAndCheckIn()
      ok(r.outcome === 'queued' && r.error.code === 'network_error',
        'offline check-in at event ' + id + ': queued', r)
      if (r.entry) queued.push(r.entry.client_uuid)
    }
    equal(m.queue.pending(), 2, 'offline: two check-ins in the queue')
    equal(m.state.sent.length, before, 'offline: nothing reached the server')
    const flushed = await m.queue.flush()
    ok(flushed.stopped === 'offline' && m.queue.pending() === 2, 'offline: a flush keeps them', flushed)

    // The network comes back: the queue flushes by itself
    m.state.online = true
    const sentBefore = m.state.sent.length
    m.wx.setNetwork(true)
    await flush()
    await m.queue.flush()
    const syncs = routesOf(m, sentBefore).filter((r) => r === 'POST checkins/sync')
    equal(syncs.length, 1, 'back online: one checkins/sync')
    const batch = m.state.sent.slice(sentBefore).find((r) => r.url.endsWith('/checkins/sync'))
    ok(batch && JSON.stringify(batch.data.items.map((i) => i.client_uuid)) === JSON.stringify(queued),
      'back online: both items with the client_uuids of the queue', batch && batch.data)
    const entries = m.queue.items().filter((e) => queued.includes(e.client_uuid))
    ok(entries.length === 2 && entries.every((e) => e.state === 'created'),
      'back online: both created', entries.map((e) => [e.state, e.error]))
    ok(entries.every((e) => e.result && e.result.client_uuid === e.client_uuid && e.result.offline === true),
      'the server recorded them with the same client_uuid, as offline', entries.map((e) => e.result))
    equal(m.queue.pending(), 0, 'back online: the queue is empty')
    const resent = await m.checkin.sync(batch.data.items)
    ok(resent.results.length === 2 && resent.results.every((r) => r.status === 'duplicate'),
      'the same batch sent again: duplicate, nothing new', resent)
    const mine = await m.checkin.mine()
    equal(mine.total, 3, 'me/checkins: three check-ins')
    m.queue.stop()
  })

  // The daily sign-in and its streak
  await on(m, async () => {
    const signed = await m.checkin.daily({ client_uuid: require(path.join(ROOT, 'utils/uuid.js')).uuid4() })
    ok(signed.checkin && signed.checkin.points_awarded > 0, 'daily sign-in: points', signed)
    equal(signed.member.streak_days, 1, 'daily sign-in: a streak of one day')
    const twice = await rejection(m.checkin.daily())
    ok(twice && twice.code === 'already_checked_in' && twice.status === 409,
      'daily sign-in twice the same day: already_checked_in', twice)
    const me = await m.me.getMe()
    equal(me.streak_days, 1, 'me: the streak')
  })

  // Book a slot of the service, read it, cancel it
  await on(m, async () => {
    const services = await m.booking.services({ limit: 100 })
    ok(services.items.some((s) => s.id === SERVICE), 'services: the service is offered', services.items.map((s) => s.id))
    let slot = null
    for (let days = 1; days <= 7 && !slot; days++) {
      const answer = await m.booking.slots(SERVICE, { date: localDate(days) })
      // Far enough to be cancelled (the cancellation window of the tier)
      slot = answer.slots.find((s) => s.capacity_left > 0 &&
        Date.parse(s.start) - Date.now() > 26 * 3600 * 1000) || null
    }
    if (!ok(slot, 'slots: a free slot in the coming week')) return
    const created = await m.booking.create({
      service_id: SERVICE, start: slot.start, address: '上海市黄浦区人民大道120号', note: 'e2e',
    })
    const booking = created.booking
    equal(booking.state, 'pending', 'booking: created pending')
    const read = await m.booking.get(booking.id)
    equal(read.booking.id, booking.id, 'booking: read back')
    const cancelled = await m.booking.cancel(booking.id)
    equal(cancelled.booking.state, 'cancelled', 'booking: cancelled')
  })

  // Bad conditions
  await on(m, async () => {
    // A wrong password, on a phone of its own: the member stays logged in
    const stranger = phone('stranger')
    await on(stranger, async () => {
      const wrong = await rejection(stranger.auth.login({ phone: phoneNumber, password: 'not-' + password }))
      ok(wrong && wrong.code === 'invalid_credentials' && wrong.status === 401 &&
        wrong.message === stranger.errors.zh_CN.invalid_credentials,
      'wrong password: invalid_credentials, in words', wrong)
    })

    // An expired access token is renewed by itself
    const s = m.session.get()
    m.wx.setStorageSync('session', Object.assign({}, s, { access_token: 'garbage.' + s.access_token.slice(8) }))
    const before = m.state.sent.length
    const me = await m.me.getMe()
    equal(me.streak_days, 1, 'expired access token: the call succeeds')
    const routes = routesOf(m, before)
    ok(JSON.stringify(routes) === JSON.stringify(['GET me', 'POST auth/refresh', 'GET me']),
      'expired access token: 401, one refresh, the call again', routes)
    ok(m.session.get().refresh_token !== s.refresh_token, 'the refresh token was renewed')
    equal(logouts.length, 0, 'no logout for an expired access token')

    // A refused refresh ends the session
    const t = m.session.get()
    m.wx.setStorageSync('session', Object.assign({}, t, {
      access_token: 'garbage', refresh_token: 'garbage-refresh', expires_at: Date.now() - 1000,
    }))
    const refused = await rejection(m.me.getMe())
    ok(refused && refused.code === 'unauthorized', 'refused refresh: the call fails unauthorized', refused)
    equal(logouts.length, 1, 'refused refresh: logout')
    equal(m.session.get(), null, 'refused refresh: the session is gone')

    // The QR of another app is refused before anything is sent
    await m.auth.login({ phone: phoneNumber, password })
    const sent = m.state.sent.length
    m.wx.device.scanCode = { result: 'https://weixin.qq.com/r/AbCdEf', scanType: 'QR_CODE' }
    const other = await m.flow.scanAndCheckIn()
    ok(other.outcome === 'refused' && other.error.code === 'not_a_checkin_code' &&
      other.error.message === m.errors.zh_CN.not_a_checkin_code,
    'QR of another app: refused locally, in words', other)
    equal(m.state.sent.length, sent, 'QR of another app: nothing sent')
  })
}

async function main() {
  const timer = setTimeout(() => {
    ok(false, 'the story ended within ' + TIMEOUT_MS + ' ms')
    summary()
    process.exit(1)
  }, TIMEOUT_MS)
  const member = phone('member')
  const staff = phone('staff')
  const started = Date.now()
  try {
    await story(member, staff)
  } catch (error) {
    ok(false, 'the story ran to its end', (error && error.stack) || String(error))
    if (error && error.code) console.log('#   code ' + error.code + ' status ' + error.status + ' ' + JSON.stringify(error.details))
  }
  clearTimeout(timer)
  console.log('# time ' + ((Date.now() - started) / 1000).toFixed(1) + ' s')
  summary()
  process.exit(failed ? 1 : 0)
}

main()
