// Answers of the API shaped as modules/miniprogram/serializers.py writes
// them, and a start() that records the requests, for the booking and
// organizer page tests
const { setup, login, json, routeOf, apiError } = require('./helpers')

const SERVICE = {
  id: 3, name: '深层清洁', description: '全屋深度清洁', duration_min: 120,
  price: '200.00', member_price: '180.00', discount_percent: '10.00', currency: 'CNY',
  capacity: 1, lead_time_min: 60, horizon_days: 14, cancel_hours: 24,
  timezone: 'Asia/Shanghai', average: 4.5, count: 12,
}

const SLOT = {
  start: '2026-12-04T09:00:00+08:00', end: '2026-12-04T11:00:00+08:00',
  resource: { id: 7, name: '王师傅' }, capacity_left: 1,
}

const MEMBER = {
  id: 1, name: '张三', phone: '138****0000',
  tier: { code: 'gold', name: '金卡', discount: '10.00' },
  points_balance: 500, streak_days: 2, best_streak: 5, joined: '2026-01-01',
  avatar_url: null, address: '上海市黄浦区人民大道 1 号', expiring: null,
}

function bookingOf(changes) {
  return Object.assign({
    id: 42, state: 'pending', service: { id: 3, name: '深层清洁' },
    resource: { id: 7, name: '王师傅' },
    start: '2026-12-04T09:00:00+08:00', end: '2026-12-04T11:00:00+08:00',
    address: '上海市黄浦区人民大道 1 号', note: null,
    price: '200.00', discount: '20.00', discount_percent: '10.00', final_price: '180.00',
    currency: 'CNY', points_earned: 0, points_used: 100, points_value: '10.00',
    coupon: null, coupon_amount: null, amount_due: '170.00',
    price_breakdown: {
      list: '200.00', discount: '20.00', coupon_amount: '0.00', points: 100,
      points_amount: '10.00', due: '170.00', currency: 'CNY',
    },
    position: null, checked_in_at: null, checked_out_at: null, duration_min: null,
    rating: null,
  }, changes || {})
}

// The member's rating as a booking answers it (booking.rating)
function bookingRating(changes) {
  return Object.assign({
    id: 5, stars: 4, tags: ['punctual'], comment: '准时', hidden: false,
    editable: true, edit_deadline: '2026-12-11T12:00:00+08:00',
  }, changes || {})
}

function ratingOf(changes) {
  return Object.assign({
    id: 5, member: '张*', stars: 4, comment: '准时', tags: ['punctual'],
    resource: { id: 7, name: '王师傅' }, date: '2026-12-04T12:00:00+08:00',
    booking_id: 42, service: { id: 3, name: '深层清洁' }, hidden: false,
    edit_deadline: '2026-12-11T12:00:00+08:00', editable: true,
  }, changes || {})
}

function page(items, total) {
  return { items, total: total === undefined ? items.length : total }
}

// A fresh wx answering with routes: {'METHOD path': answer or fn(req)};
// unknown routes answer 404.  Returns {wx, requests}; requests are
// {method, route, data, url}.
function start(routes, options = {}) {
  const requests = []
  const wx = setup(Object.assign({}, options, {
    request: (req) => {
      const route = routeOf(req.url)
      requests.push({ method: req.method, route, data: req.data, url: req.url })
      const answer = routes[req.method + ' ' + route]
      if (answer === undefined) return apiError(404, 'not_found')
      return typeof answer === 'function' ? answer(req) : answer
    },
  }))
  login(wx)
  return { wx, requests, sent: (method, route) => requests.filter((r) => r.method === method && r.route === route) }
}

// An answer held until the test releases it: [answerFn, release]
function held() {
  let release
  const promise = new Promise((resolve) => { release = resolve })
  return [() => promise, release]
}

module.exports = { SERVICE, SLOT, MEMBER, bookingOf, bookingRating, ratingOf, page, start, held, json }
