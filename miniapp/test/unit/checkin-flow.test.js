// The scan-to-result logic of the "我要签到" button (utils/checkin-flow.js)
const test = require('node:test')
const assert = require('node:assert/strict')
const { load, login, routeOf, json, apiError, offline } = require('./helpers.js')

const TOKEN = '12.29412345.' + 'AbCdEfGhIjKlMnOpQrSt_-'
const CHECKIN = {
  id: 5, event_id: 12, time: '2026-12-03T20:00:00+08:00', status: 'valid', method: 'qr',
  distance_m: 8, points_awarded: 10, late: false, reasons: [],
}

function setup(handler, device = {}) {
  const { wx, mod } = load({ request: handler, device, lang: 'en' })
  login(wx)
  return { wx, flow: mod('utils/checkin-flow.js'), queue: mod('utils/queue.js') }
}

function created(status = 'valid', reasons = []) {
  return () => json(201, {
    checkin: Object.assign({}, CHECKIN, { status, reasons }),
    member: { points_balance: 110, streak_days: 3 },
  })
}

test('parseCode: the bare token and the kiosk link <base>?t=<token> as scanned', () => {
  const { flow } = setup(() => offline())
  assert.deepEqual(flow.parseCode({ result: TOKEN, scanType: 'QR_CODE' }), { qr_token: TOKEN })
  assert.deepEqual(flow.parseCode('  ' + TOKEN + '\n'), { qr_token: TOKEN })
  const link = 'https://lotus.example.com/mp/checkin?t=' + TOKEN
  // the link goes to the server, which checks its host and path
  assert.deepEqual(flow.parseCode(link), { qr_token: link })
  assert.deepEqual(flow.parseCode({ result: ' ' + link + '\n' }), { qr_token: link })
  const encoded = 'https://lotus.example.com?t=' + encodeURIComponent(TOKEN)
  assert.deepEqual(flow.parseCode(encoded), { qr_token: encoded })
  assert.equal(flow.parseCode('0.0.' + 'a'.repeat(22)).qr_token, '0.0.' + 'a'.repeat(22))
})

test('parseCode: the QR of another app is refused locally', () => {
  const { flow } = setup(() => offline())
  const others = [
    'https://weixin.qq.com/r/abcdef', 'http://example.com/c?token=' + TOKEN, 'hello',
    '012.1.' + 'a'.repeat(22), '12.1.' + 'a'.repeat(21), '12.1.' + 'a'.repeat(23),
    'https://example.com/c?token=nottoken', '', null, undefined, { result: 42 },
    'wxp://f2f0abc', TOKEN + ' extra',
    // only the form the kiosk shows: t alone, https, no fragment, no user
    'https://example.com/c?qr_token=' + TOKEN, 'https://example.com/c?token=' + TOKEN,
    'https://example.com/c?a=1&t=' + TOKEN, 'https://example.com/c?t=' + TOKEN + '&t=' + TOKEN,
    'https://example.com/c?t=' + TOKEN + '#x', 'http://example.com/c?t=' + TOKEN,
    'https://user@example.com/c?t=' + TOKEN, 'https://example.com/c?t=nottoken',
    'https://example.com/c', 'https://example.com/c?t=' + TOKEN + ' x',
  ]
  for (const value of others) {
    assert.throws(() => flow.parseCode(value), (e) => {
      assert.equal(e.name, 'ApiError')
      assert.equal(e.code, 'not_a_checkin_code')
      assert.equal(e.status, 0)
      assert.equal(e.message, 'This is not a check-in code: scan the code shown at the event')
      return true
    }, String(value))
  }
})

test('created: the item carries uuid, time with offset, position and bssid', async () => {
  const { wx, flow } = setup(created(), {
    wifi: { SSID: 'Hall', BSSID: 'aa:bb:cc:dd:ee:ff' }, scanCode: { result: TOKEN, scanType: 'QR_CODE' },
  })
  const r = await flow.scanAndCheckIn()
  assert.equal(r.outcome, 'created')
  assert.equal(r.checkin.points_awarded, 10)
  assert.equal(r.member.points_balance, 110)
  assert.equal(r.error, null)
  const [scan] = wx.callsOf('scanCode')
  assert.equal(scan.onlyFromCamera, false)
  assert.deepEqual(scan.scanType, ['qrCode'])
  const [location] = wx.callsOf('getLocation')
  assert.equal(location.type, 'wgs84')
  assert.equal(location.isHighAccuracy, true)
  const [req] = wx.callsOf('request')
  assert.equal(routeOf(req.url), 'checkins')
  assert.equal(req.method, 'POST')
  const body = req.data
  assert.equal(body.qr_token, TOKEN)
  assert.match(body.client_uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.match(body.client_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/)
  assert.ok(Math.abs(Date.parse(body.client_time) - Date.now()) < 5000)
  assert.equal(body.lat, 31.2304)
  assert.equal(body.lon, 121.4737)
  assert.equal(body.accuracy_m, 15)
  assert.equal(body.bssid, 'aa:bb:cc:dd:ee:ff')
  // The identifier of the installation, the same for the next check-in
  assert.match(body.device_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.equal(wx.getStorageSync('device_id'), body.device_id)
  await flow.scanAndCheckIn()
  const again = wx.callsOf('request')[1].data
  assert.equal(again.device_id, body.device_id)
  assert.notEqual(again.client_uuid, body.client_uuid)
})

test('flagged: 201 with status flagged and the reasons', async () => {
  const { flow } = setup(created('flagged', ['low_accuracy']))
  const r = await flow.checkIn({ qr_token: TOKEN })
  assert.equal(r.outcome, 'flagged')
  assert.deepEqual(r.checkin.reasons, ['low_accuracy'])
})

test('an activity code goes with its event', async () => {
  const { wx, flow } = setup(created())
  const r = await flow.checkIn({ code: '123456', event_id: 12 })
  assert.equal(r.outcome, 'created')
  const body = wx.callsOf('request')[0].data
  assert.equal(body.code, '123456')
  assert.equal(body.event_id, 12)
  assert.equal(body.qr_token, undefined)
})

test('BSSID missing: the check-in goes without it', async () => {
  const { wx, flow } = setup(created(), { wifi: null })
  assert.equal(await flow.bssid(), null)
  const r = await flow.checkIn({ qr_token: TOKEN })
  assert.equal(r.outcome, 'created')
  assert.ok(!('bssid' in wx.callsOf('request')[0].data))
  // Wi-Fi APIs missing altogether, or failing to start
  delete wx.getConnectedWifi
  assert.equal(await flow.bssid(), null)
  wx.getConnectedWifi = () => { throw new Error('boom') }
  assert.equal(await flow.bssid(), null)
})

test('queued: no network, 5xx and 429 put the item in the queue', async () => {
  const answers = [
    () => offline(),
    () => apiError(500, 'internal_error'),
    () => ({ statusCode: 502, data: '<html><body>502 Bad Gateway</body></html>', header: { 'Content-Type': 'text/html' } }),
    () => apiError(429, 'rate_limited', 'slow', {}, { 'Retry-After': '5' }),
  ]
  for (const answer of answers) {
    const { wx, flow, queue } = setup(answer)
    const r = await flow.checkIn({ qr_token: TOKEN })
    assert.equal(r.outcome, 'queued')
    assert.ok(r.error.transient)
    assert.equal(queue.pending(), 1)
    const sent = wx.callsOf('request')[0].data
    assert.equal(r.entry.client_uuid, sent.client_uuid)
    assert.deepEqual(queue.items()[0].item, sent)
  }
})

test('refused: the errors of the server, with their details', async () => {
  const cases = [
    [apiError(422, 'out_of_range', 'too far', { distance_m: 840, radius_m: 200 }), 'out_of_range', 'You are too far from the event'],
    [apiError(409, 'already_checked_in', 'done', { checkin: CHECKIN }), 'already_checked_in', 'You have already checked in'],
    [apiError(422, 'qr_expired', 'expired'), 'qr_expired', 'The code has expired: scan the current one'],
    [apiError(422, 'invalid_token', 'bad'), 'invalid_token', 'Invalid code: scan the check-in code shown at the event'],
    [apiError(422, 'wifi_mismatch', 'wifi'), 'wifi_mismatch', "Connect to the event's Wi-Fi and try again"],
  ]
  for (const [answer, code, message] of cases) {
    const { flow, queue } = setup(() => answer)
    const r = await flow.checkIn({ qr_token: TOKEN })
    assert.equal(r.outcome, 'refused')
    assert.equal(r.error.code, code)
    assert.equal(r.error.message, message)
    assert.equal(queue.pending(), 0, 'a refused check-in is not queued')
    if (code === 'out_of_range') assert.deepEqual(r.error.details, { distance_m: 840, radius_m: 200 })
    if (code === 'already_checked_in') assert.equal(r.error.details.checkin.id, 5)
  }
})

test('location refused, or not found: nothing sent', async () => {
  for (const [errMessage, code] of [['auth deny', 'location_denied'], ['authorize no response', 'location_denied'], ['timeout', 'location_failed']]) {
    const { wx, flow } = setup(created(), { location: new Error(errMessage) })
    await assert.rejects(flow.position(), (e) => e.code === code && e.status === 0)
    const r = await flow.checkIn({ qr_token: TOKEN })
    assert.equal(r.outcome, 'refused')
    assert.equal(r.error.code, code)
    assert.equal(wx.callsOf('request').length, 0)
  }
})

test('position: accuracy from horizontalAccuracy, else accuracy', async () => {
  const cases = [
    [{ latitude: 1, longitude: 2, accuracy: 30 }, { lat: 1, lon: 2, accuracy_m: 30 }],
    [{ latitude: 1, longitude: 2, accuracy: 30, horizontalAccuracy: 12 }, { lat: 1, lon: 2, accuracy_m: 12 }],
    [{ latitude: 1, longitude: 2 }, { lat: 1, lon: 2 }],
  ]
  for (const [location, expected] of cases) {
    const { flow } = setup(created(), { location })
    assert.deepEqual(await flow.position(), expected)
  }
})

test('scan cancelled by the member: cancelled, nothing sent', async () => {
  const { wx, flow } = setup(created(), { scanCode: new Error('cancel') })
  const r = await flow.scanAndCheckIn()
  assert.equal(r.outcome, 'cancelled')
  assert.equal(wx.callsOf('request').length, 0)
  assert.equal(wx.callsOf('getLocation').length, 0)
})

test('scanning the QR of another app: refused locally, nothing sent', async () => {
  const { wx, flow } = setup(created(), { scanCode: { result: 'https://weixin.qq.com/r/xyz', scanType: 'QR_CODE' } })
  const r = await flow.scanAndCheckIn()
  assert.equal(r.outcome, 'refused')
  assert.equal(r.error.code, 'not_a_checkin_code')
  assert.equal(wx.callsOf('request').length, 0)
})

test('launchCode: q and scene of the launch options, decoded', () => {
  const { flow } = setup(() => offline())
  const link = 'https://lotus.example.com/mp/checkin?t=' + TOKEN
  assert.deepEqual(flow.launchCode({ q: encodeURIComponent(link) }), { q: link })
  assert.deepEqual(flow.launchCode({ scene: encodeURIComponent('e12.AbCdEfGhIjKlMnOp') }),
    { scene: 'e12.AbCdEfGhIjKlMnOp' })
  assert.deepEqual(flow.launchCode({ q: '%E0%A4%A' }), { q: '' })
  assert.equal(flow.launchCode({}), null)
  assert.equal(flow.launchCode(undefined), null)
})

test('launch with q: the kiosk link is sent to check in, no scan', async () => {
  const link = 'https://lotus.example.com/mp/checkin?t=' + TOKEN
  const { wx, flow } = setup(created())
  const r = await flow.launch({ q: encodeURIComponent(link) })
  assert.equal(r.outcome, 'created')
  assert.equal(wx.callsOf('scanCode').length, 0)
  const [req] = wx.callsOf('request')
  assert.equal(req.data.qr_token, link)
  const other = setup(created())
  const refused = await other.flow.launch({ q: encodeURIComponent('https://weixin.qq.com/r/x') })
  assert.equal(refused.outcome, 'refused')
  assert.equal(refused.error.code, 'not_a_checkin_code')
  assert.equal(other.wx.callsOf('request').length, 0)
})

test('launch with scene: resolved, then the event\'s QR is scanned for that event', async () => {
  const scene = 'e12.AbCdEfGhIjKlMnOp'
  const { wx, flow } = setup((req) => {
    if (routeOf(req.url) === 'entry-codes') {
      return json(200, { scene, kind: 'event', place: null, events: [{ id: 12, name: 'Meeting' }] })
    }
    return created()(req)
  }, { scanCode: { result: TOKEN, scanType: 'QR_CODE' } })
  const r = await flow.launch({ scene: encodeURIComponent(scene) })
  assert.equal(r.outcome, 'created')
  assert.equal(r.event, 'Meeting')
  const [resolve, post] = wx.callsOf('request')
  assert.ok(resolve.url.endsWith('entry-codes?scene=' + encodeURIComponent(scene)), resolve.url)
  assert.equal(post.data.qr_token, TOKEN)
  assert.equal(post.data.event_id, 12)
})

test('launch with a forged or expired scene: refused, nothing scanned', async () => {
  for (const reason of ['signature', 'expired', 'revoked']) {
    const { wx, flow } = setup(() => apiError(422, 'invalid_token', 'This code is not valid', { reason }),
      { scanCode: { result: TOKEN } })
    const r = await flow.launch({ scene: 'e12.AbCdEfGhIjKlMnOx' })
    assert.equal(r.outcome, 'refused')
    assert.equal(r.error.code, 'invalid_token')
    assert.equal(r.error.details.reason, reason)
    assert.equal(wx.callsOf('scanCode').length, 0)
  }
  const { flow } = setup(() => json(200, { scene: 'p3.AbCdEfGhIjKlMnOp', kind: 'place', place: null, events: [] }))
  const r = await flow.launch({ scene: 'p3.AbCdEfGhIjKlMnOp' })
  assert.equal(r.error.code, 'event_not_open')
})

test('localIso: the local time with its offset', () => {
  const { flow } = setup(() => offline())
  const now = new Date()
  const text = flow.localIso(now)
  assert.equal(Date.parse(text), now.getTime())
})

test('uuid4: RFC 4122 v4, from wx.getRandomValues when present', async () => {
  const { wx, mod } = load({})
  const { uuid4 } = mod('utils/uuid.js')
  const seen = new Set()
  for (let i = 0; i < 1000; i++) {
    const u = uuid4()
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    seen.add(u)
  }
  assert.equal(seen.size, 1000)
  // WeChat's API fills the pool (asynchronously); its bytes are used next
  let asked = 0
  wx.getRandomValues = ({ length, success, complete }) => {
    asked += 1
    const bytes = new Uint8Array(length).fill(0xff)
    Promise.resolve().then(() => {
      success({ randomValues: bytes.buffer })
      complete()
    })
  }
  uuid4()
  await new Promise((r) => setTimeout(r, 0))
  assert.equal(asked, 1)
  assert.equal(uuid4(), 'ffffffff-ffff-4fff-bfff-ffffffffffff')
})
