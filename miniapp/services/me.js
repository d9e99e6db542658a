// me, me/* of API.md
const { request } = require('../utils/request.js')
const session = require('../utils/session.js')

function getMe() {
  return request({ path: 'me' }).then((a) => {
    session.setMember(a.member || a)
    return a.member || a
  })
}

// changes: name, avatar_url, address
function updateMe(changes) {
  return request({ method: 'PATCH', path: 'me', data: changes }).then((a) => {
    session.setMember(a.member || a)
    return a.member || a
  })
}

// The account deleted on the server; the session ends here
function deleteMe(password) {
  const data = password ? { password } : {}
  return request({ method: 'DELETE', path: 'me', data }).then(() => {
    session.clear()
    return null
  })
}

function page(path) {
  return ({ limit = 20, offset = 0 } = {}) => request({ path, query: { limit, offset } })
}

module.exports = {
  getMe,
  updateMe,
  deleteMe,
  points: page('me/points'),
  checkins: page('me/checkins'),
  bookings: page('me/bookings'),
  messages: page('me/messages'),
  ratings: page('me/ratings'),
  waitlist: page('me/waitlist'),
  coupons: page('me/coupons'),
}
