// Every services/* function sends the method, path, query and body of the
// API (API.md; the routes really served: modules/miniprogram/routes.py)
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const { ROOT, load, login, json, routeOf, queryOf } = require('./helpers.js')

const MODULES = ['auth', 'booking', 'checkin', 'me', 'organizer', 'rewards', 'staff', 'subscriptions']

// The routes of the server: [method, RegExp of the path]
function serverRoutes() {
  const text = fs.readFileSync(path.join(ROOT, '..', 'modules', 'miniprogram', 'routes.py'), 'utf8')
  const routes = []
  for (const m of text.matchAll(/@api_route\(\s*'([A-Z]+)',\s*'([^']+)'/g)) {
    routes.push([m[1], new RegExp('^' + m[2].replace(/\{\w+\}/g, '[^/]+').replace(/\./g, '\\.') + '$'), m[2]])
  }
  return routes
}

// Functions of the client whose route the server does not serve (yet):
// the test fails when one of them becomes served, to drop it from here
const NOT_SERVED = []

// [module.function, args, method, path, query, body]
const TABLE = [
  ['auth.register', [{ phone: '13800000000', password: 'pw-123456', name: 'Li' }], 'POST', 'auth/register', {}, { phone: '13800000000', password: 'pw-123456', name: 'Li' }],
  ['auth.login', [{ phone: '13800000000', password: 'pw' }], 'POST', 'auth/login', {}, { phone: '13800000000', password: 'pw' }],
  ['auth.wechatLogin', ['c0de'], 'POST', 'auth/wechat', {}, { code: 'c0de' }],
  ['auth.wechatPhone', ['ph0ne'], 'POST', 'auth/wechat-phone', {}, { code: 'ph0ne' }],
  ['auth.sendSmsCode', [{ phone: '13800000000', purpose: 'reset' }], 'POST', 'auth/sms-code', {}, { phone: '13800000000', purpose: 'reset' }],
  ['auth.resetPassword', [{ phone: '1', code: '123456', password: 'pw' }], 'POST', 'auth/reset-password', {}, { phone: '1', code: '123456', password: 'pw' }],
  ['auth.smsLogin', [{ phone: '1', code: '123456' }], 'POST', 'auth/sms-login', {}, { phone: '1', code: '123456' }],
  ['auth.staffLogin', [{ login: 'org', password: 'pw' }], 'POST', 'auth/staff', {}, { login: 'org', password: 'pw' }],
  ['auth.logout', [], 'POST', 'auth/logout', {}, { refresh_token: 'refresh-1' }],
  ['booking.services', [{ limit: 5, offset: 10 }], 'GET', 'services', { limit: '5', offset: '10' }, undefined],
  ['booking.service', [3], 'GET', 'services/3', {}, undefined],
  ['booking.slots', [3, { date: '2026-12-04', resourceId: 8 }], 'GET', 'services/3/slots', { date: '2026-12-04', resource_id: '8' }, undefined],
  ['booking.slots', [3, { date: '2026-12-04', full: true }], 'GET', 'services/3/slots', { date: '2026-12-04', full: 'true' }, undefined],
  ['booking.create', [{ service_id: 3, start: '2026-12-04T10:00:00+08:00', address: '', note: 'hi', points: 0, coupon: null }], 'POST', 'bookings', {}, { service_id: 3, start: '2026-12-04T10:00:00+08:00', note: 'hi', points: 0 }],
  ['booking.get', [5], 'GET', 'bookings/5', {}, undefined],
  ['booking.cancel', [5], 'POST', 'bookings/5/cancel', {}, undefined],
  ['booking.reschedule', [5, { start: 'S', resourceId: 8 }], 'POST', 'bookings/5/reschedule', {}, { start: 'S', resource_id: 8 }],
  ['booking.mine', [], 'GET', 'me/bookings', { limit: '20', offset: '0' }, undefined],
  ['booking.rate', [5, { stars: 5, comment: 'ok', tags: ['on_time'] }], 'POST', 'bookings/5/rating', {}, { stars: 5, comment: 'ok', tags: ['on_time'] }],
  ['booking.changeRating', [5, { stars: 4 }], 'PATCH', 'bookings/5/rating', {}, { stars: 4 }],
  ['booking.myRatings', [], 'GET', 'me/ratings', { limit: '20', offset: '0' }, undefined],
  ['booking.serviceRatings', [3, { limit: 2 }], 'GET', 'services/3/ratings', { limit: '2', offset: '0' }, undefined],
  ['booking.joinWaitlist', [3, { start: 'S' }], 'POST', 'services/3/waitlist', {}, { start: 'S' }],
  ['booking.myWaitlist', [], 'GET', 'me/waitlist', { limit: '20', offset: '0' }, undefined],
  ['booking.acceptOffer', [7], 'POST', 'waitlist/7/accept', {}, undefined],
  ['booking.leaveWaitlist', [7], 'DELETE', 'waitlist/7', {}, undefined],
  ['checkin.events', [{ from: 'A', to: 'B' }], 'GET', 'events', { limit: '20', offset: '0', from: 'A', to: 'B' }, undefined],
  ['checkin.entryCode', ['e12.AbCdEfGhIjKlMnOp'], 'GET', 'entry-codes', { scene: 'e12.AbCdEfGhIjKlMnOp' }, undefined],
  ['checkin.checkin', [{ qr_token: 'T', lat: 1, lon: 2 }], 'POST', 'checkins', {}, { qr_token: 'T', lat: 1, lon: 2 }],
  ['checkin.sync', [[{ qr_token: 'T', client_uuid: 'U', client_time: 'C' }]], 'POST', 'checkins/sync', {}, { items: [{ qr_token: 'T', client_uuid: 'U', client_time: 'C' }] }],
  ['checkin.daily', [{ client_uuid: 'U', client_time: 'C' }], 'POST', 'checkins/daily', {}, { client_uuid: 'U', client_time: 'C' }],
  ['checkin.checkout', [{ event_id: 5, client_uuid: 'U' }], 'POST', 'checkins/checkout', {}, { event_id: 5, client_uuid: 'U' }],
  ['checkin.mine', [], 'GET', 'me/checkins', { limit: '20', offset: '0' }, undefined],
  ['me.getMe', [], 'GET', 'me', {}, undefined],
  ['me.updateMe', [{ name: 'Li' }], 'PATCH', 'me', {}, { name: 'Li' }],
  ['me.deleteMe', ['pw'], 'DELETE', 'me', {}, { password: 'pw' }],
  ['me.points', [], 'GET', 'me/points', { limit: '20', offset: '0' }, undefined],
  ['me.checkins', [], 'GET', 'me/checkins', { limit: '20', offset: '0' }, undefined],
  ['me.bookings', [], 'GET', 'me/bookings', { limit: '20', offset: '0' }, undefined],
  ['me.messages', [], 'GET', 'me/messages', { limit: '20', offset: '0' }, undefined],
  ['me.ratings', [], 'GET', 'me/ratings', { limit: '20', offset: '0' }, undefined],
  ['me.waitlist', [], 'GET', 'me/waitlist', { limit: '20', offset: '0' }, undefined],
  ['me.coupons', [], 'GET', 'me/coupons', { limit: '20', offset: '0' }, undefined],
  ['organizer.myEvents', [], 'GET', 'organizer/events', { limit: '20', offset: '0' }, undefined],
  ['organizer.qr', [9], 'GET', 'events/9/qr', {}, undefined],
  ['organizer.stats', [9], 'GET', 'events/9/stats', {}, undefined],
  ['organizer.kioskToken', [9], 'POST', 'events/9/kiosk-token', {}, undefined],
  ['organizer.batchCheckin', [9, [1, 2]], 'POST', 'events/9/batch-checkin', {}, { member_ids: [1, 2] }],
  ['rewards.list', [], 'GET', 'rewards', { limit: '20', offset: '0' }, undefined],
  ['rewards.redeem', [4], 'POST', 'rewards/4/redeem', {}, undefined],
  ['rewards.coupons', [], 'GET', 'me/coupons', { limit: '20', offset: '0' }, undefined],
  ['staff.bookings', [{ date: '2026-12-04' }], 'GET', 'staff/bookings', { date: '2026-12-04' }, undefined],
  ['staff.checkin', [5, { lat: 1, lon: 2, accuracy_m: 9 }], 'POST', 'staff/bookings/5/checkin', {}, { lat: 1, lon: 2, coord_type: 'wgs84', accuracy_m: 9 }],
  ['staff.checkout', [5], 'POST', 'staff/bookings/5/checkout', {}, undefined],
  ['subscriptions.list', [], 'GET', 'me/subscriptions', {}, undefined],
  ['subscriptions.record', [{ T1: 'accept', errMsg: 'requestSubscribeMessage:ok' }], 'POST', 'me/subscriptions', {}, { results: { T1: 'accept' } }],
]

// Functions that send nothing (tested in request.test.js)
const LOCAL = ['auth.staffLogout']

test('the table covers every function of services/*', () => {
  const { mod } = load({})
  const exported = []
  for (const name of MODULES) {
    for (const [fn, value] of Object.entries(mod('services/' + name + '.js'))) {
      if (typeof value === 'function') exported.push(name + '.' + fn)
    }
  }
  const table = TABLE.map((row) => row[0])
  assert.deepEqual(exported.filter((e) => !table.includes(e) && !LOCAL.includes(e)), [],
    'functions without a row')
  assert.deepEqual(table.filter((e) => !exported.includes(e)), [], 'rows without a function')
})

for (const [name, args, method, route, query, body] of TABLE) {
  test(name + ' → ' + method + ' ' + route, async () => {
    const { wx, mod } = load({ request: () => json(200, { items: [], total: 0, member: { id: 1 } }) })
    login(wx)
    const [module, fn] = name.split('.')
    await mod('services/' + module + '.js')[fn](...args)
    const [req] = wx.callsOf('request')
    assert.equal(req.method, method)
    assert.equal(routeOf(req.url), route)
    assert.deepEqual(queryOf(req.url), query)
    assert.deepEqual(req.data, body)
    // auth/* is sent without a token, but for the phone of the member
    // logged in; every other route with the member's token
    const anonymous = route.startsWith('auth/') && route !== 'auth/wechat-phone'
    assert.equal(req.header.Authorization, anonymous ? undefined : 'Bearer access-1')
    const served = serverRoutes().some(([m, re]) => m === method && re.test(route))
    assert.equal(served, !NOT_SERVED.includes(name),
      served ? 'served now: drop it from NOT_SERVED' : 'no such route on the server')
  })
}
