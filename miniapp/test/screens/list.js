// The screens of the documentation (doc/miniapp.rst): a page, the member's
// language, the API's answers ('METHOD route': body, or a function of the
// request; ANSWERS by default) and what is done on the page before the
// picture (after(comp, wx)).  The answers are the page tests' fixtures,
// shaped as the server's serializers write them.
const { json, apiError } = require('../pages/helpers')
const { MEMBER, checkin } = require('../pages/member-fixtures')
const { SERVICE, SLOT, bookingOf, bookingRating } = require('../pages/booking-fixtures')

function page(items) {
  return { items, total: items.length }
}

const SERVICES = [
  SERVICE,
  Object.assign({}, SERVICE, {
    id: 4, name: '上门推拿', description: '60 分钟肩颈放松', duration_min: 60,
    price: '168.00', member_price: '151.20', average: 4.8, count: 35,
  }),
  Object.assign({}, SERVICE, {
    id: 5, name: '空调清洗', description: '挂机或柜机一台', duration_min: 90,
    price: '120.00', member_price: '108.00', average: null, count: 0,
  }),
]

const SLOTS = ['09:00', '11:00', '14:00', '16:00'].map((time, i) => Object.assign({}, SLOT, {
  start: '2026-12-04T' + time + ':00+08:00',
  end: '2026-12-04T' + String(Number(time.slice(0, 2)) + 2).padStart(2, '0') + ':00:00+08:00',
  resource: i % 2 ? { id: 8, name: '李师傅' } : SLOT.resource,
  // the 11:00 slot is full: its waiting list takes members
  capacity_left: i === 1 ? 0 : 1,
}))

const ANSWERS = {
  'GET me': { member: MEMBER },
  'GET me/checkins': page([
    checkin(),
    checkin({ id: 30, event_name: '周六晨跑', method: 'app', points_awarded: 5, time: '2026-12-02T07:02:00+08:00' }),
    checkin({ id: 29, event_name: '每日签到', method: 'app', points_awarded: 2, time: '2026-12-01T08:15:00+08:00' }),
  ]),
  'GET me/points': page([
    { id: 3, date: '2026-12-03', points: 10, reason: '签到：年度会员大会', origin: { type: 'checkin', id: 31 }, balance_after: 120 },
    { id: 2, date: '2026-12-02', points: -100, reason: '预约抵扣：深层清洁', origin: { type: 'booking', id: 40 }, balance_after: 110 },
    { id: 1, date: '2026-12-01', points: 200, reason: '新会员礼', origin: null, balance_after: 210 },
  ]),
  'GET services': page(SERVICES),
  'GET services/3': { service: SERVICE },
  'GET services/3/slots': { slots: SLOTS },
  'GET me/coupons': page([]),
  'GET me/subscriptions': { items: [] },
  'GET me/bookings': page([
    bookingOf({ state: 'confirmed' }),
    bookingOf({ id: 40, state: 'done', start: '2026-11-28T14:00:00+08:00', end: '2026-11-28T16:00:00+08:00', rating: bookingRating() }),
  ]),
  'GET me/waitlist': page([]),
  'GET bookings/42': { booking: bookingOf({ state: 'confirmed' }) },
  'GET organizer/events': page([
    { id: 5, name: '年度会员大会', kind: 'meeting', state: 'open', start: '2026-12-03T09:00:00+08:00', end: '2026-12-03T12:00:00+08:00', is_open: true, attendance_count: 12, expected: 40 },
    { id: 6, name: '每日签到', kind: 'daily', state: 'open', start: '2026-12-01T00:00:00+08:00', end: '2026-12-31T23:59:00+08:00', is_open: true, attendance_count: 230, expected: null },
  ]),
  'GET events/5/stats': {
    expected: 40, checked_in: 12, rate: 0.3, late: 2, flagged: 1, rejected: 0, bucket_minutes: 15,
    by_bucket: [
      { start: '2026-12-03T09:00:00+08:00', count: 4 },
      { start: '2026-12-03T09:15:00+08:00', count: 8 },
    ],
    recent: [
      { id: 1, member_id: 9, member: '王**', time: '2026-12-03T09:20:00+08:00', status: 'late', method: 'qr' },
      { id: 2, member_id: 8, member: 'Li **', time: '2026-12-03T09:12:00+08:00', status: 'valid', method: 'qr' },
    ],
  },
  'GET events/5/qr': {
    token: 'tok', expires_at: '2026-12-03T09:31:00+08:00', refresh_in: 30, png: 'iVBORw0KGgo=', svg: '<svg/>',
  },
  'POST checkins/daily': json(201, {
    checkin: checkin({ event_name: '每日签到', method: 'app', points_awarded: 2 }),
    member: { points_balance: 122, streak_days: 4 },
  }),
}

function outcome(result) {
  return (wx) => wx.setStorageSync('checkin_outcome', result)
}

module.exports = [
  { name: 'login', page: 'pages/login/index', login: false },
  { name: 'home', page: 'pages/home/index' },
  {
    name: 'checkin-created',
    page: 'pages/checkin-result/index',
    before: outcome({
      outcome: 'created', checkin: checkin(), member: { points_balance: 130, streak_days: 4 },
      error: null, pending: 0,
    }),
  },
  {
    name: 'checkin-out-of-range',
    page: 'pages/checkin-result/index',
    before: outcome({
      outcome: 'refused', checkin: null, member: null, pending: 0,
      error: {
        code: 'out_of_range', status: 422, message: '您不在签到范围内',
        details: { distance_m: 820, radius_m: 200 }, retryAfter: null,
      },
    }),
  },
  {
    name: 'checkin-queued-en',
    page: 'pages/checkin-result/index',
    lang: 'en',
    before: outcome({ outcome: 'queued', checkin: null, member: null, error: null, pending: 2 }),
  },
  {
    name: 'records-offline-queue',
    page: 'pages/records/index',
    before: () => {
      const queue = require('../../utils/queue.js')
      for (const [time, uuid] of [['09:41', 'a'], ['09:43', 'b']]) {
        queue.enqueue({
          qr_token: 'tok', lat: 31.2304, lon: 121.4737, accuracy_m: 15,
          client_uuid: uuid.repeat(8) + '-0000-4000-8000-000000000000',
          client_time: '2026-12-03T' + time + ':00+08:00',
        })
      }
    },
  },
  { name: 'me', page: 'pages/me/index' },
  { name: 'points', page: 'member/points/index' },
  { name: 'services', page: 'pages/services/index' },
  { name: 'slots', page: 'booking/slots/index', query: { service: '3' } },
  {
    name: 'confirm',
    page: 'booking/confirm/index',
    query: { service: '3', start: encodeURIComponent(SLOTS[0].start), resource: '7' },
  },
  { name: 'booking-detail', page: 'booking/detail/index', query: { id: '42' } },
  { name: 'my-bookings', page: 'booking/mine/index' },
  { name: 'organizer-events', page: 'organizer/events/index' },
  { name: 'organizer-event', page: 'organizer/event/index', query: { id: '5' } },
]

for (const screen of module.exports) {
  screen.answers = Object.assign({}, ANSWERS, screen.answers || {})
}
void apiError
