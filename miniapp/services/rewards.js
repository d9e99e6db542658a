// Points to spend (API.md 1.1): the rewards catalogue, redeeming, coupons
const { request } = require('../utils/request.js')

function list({ limit = 20, offset = 0 } = {}) {
  return request({ path: 'rewards', query: { limit, offset } })
}

function redeem(rewardId) {
  return request({ method: 'POST', path: 'rewards/' + rewardId + '/redeem' })
}

function coupons({ limit = 20, offset = 0 } = {}) {
  return request({ path: 'me/coupons', query: { limit, offset } })
}

module.exports = { list, redeem, coupons }
