// Organizer routes of API.md: the events the user organizes, their
// current QR, live stats, the kiosk link and batch check-in.
const { request } = require('../utils/request.js')

function myEvents({ limit = 20, offset = 0 } = {}) {
  return request({ auth: 'organizer', path: 'organizer/events', query: { limit, offset } })
}

function qr(eventId) {
  return request({ auth: 'organizer', path: 'events/' + eventId + '/qr' })
}

function stats(eventId) {
  return request({ auth: 'organizer', path: 'events/' + eventId + '/stats' })
}

// {token, expires_at, kiosk_url, dashboard_url}: a link to open on the
// screen at the door
function kioskToken(eventId) {
  return request({ auth: 'organizer', method: 'POST', path: 'events/' + eventId + '/kiosk-token' })
}

function batchCheckin(eventId, memberIds) {
  return request({
    auth: 'organizer', method: 'POST', path: 'events/' + eventId + '/batch-checkin', data: { member_ids: memberIds },
  })
}

module.exports = { myEvents, qr, stats, kioskToken, batchCheckin }
