// The outcome of a check-in, from the home page to the result page.  It
// goes through storage (it survives the navigation, and simulate has no
// real navigation): a plain object, as an ApiError does not survive JSON.
const queue = require('../../utils/queue.js')

const KEY = 'checkin_outcome'

function plainError(error) {
  if (!error) return null
  return {
    code: error.code || 'server_error',
    status: error.status || 0,
    message: error.message || '',
    details: error.details || {},
    retryAfter: error.retryAfter || null,
  }
}

// result: of checkin-flow.scanAndCheckIn()/checkIn()
function save(result) {
  const outcome = {
    outcome: result.outcome,
    checkin: result.checkin || null,
    member: result.member || null,
    error: plainError(result.error),
    pending: result.outcome === 'queued' ? queue.pending() : 0,
  }
  wx.setStorageSync(KEY, outcome)
  return outcome
}

// The outcome saved last, once
function take() {
  const outcome = wx.getStorageSync(KEY) || null
  wx.removeStorageSync(KEY)
  return outcome
}

module.exports = { KEY, save, take, plainError }
