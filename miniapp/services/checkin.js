// Check-in routes of API.md: events, entry-codes, checkins, checkins/sync,
// checkins/daily, checkins/checkout.  The offline queue (utils/queue.js) keeps what could not
// be sent and resends it with checkins/sync, with the same client_uuid.
const { request } = require('../utils/request.js')

function events({ limit = 20, offset = 0, from, to } = {}) {
  return request({ path: 'events', query: { limit, offset, from, to } })
}

// What the entry code of scene opens: {scene, kind, place, events}
function entryCode(scene) {
  return request({ path: 'entry-codes', query: { scene } })
}

// item: one of qr_token, code (+ event_id), nfc_tag; lat, lon, accuracy_m,
// bssid, client_uuid, client_time (API.md)
function checkin(item) {
  return request({ method: 'POST', path: 'checkins', data: item })
}

// items: at most 100, each with client_uuid and client_time
function sync(items) {
  return request({ method: 'POST', path: 'checkins/sync', data: { items } })
}

function daily({ client_uuid, client_time } = {}) {
  const data = {}
  if (client_uuid) data.client_uuid = client_uuid
  if (client_time) data.client_time = client_time
  return request({ method: 'POST', path: 'checkins/daily', data })
}

// The check-out of an event that records leaving: event_id (or the
// qr_token of the door), optionally lat, lon, accuracy_m, coord_type,
// bssid and client_uuid; the answer is the check-in with duration_min
function checkout(item) {
  return request({ method: 'POST', path: 'checkins/checkout', data: item })
}

function mine({ limit = 20, offset = 0 } = {}) {
  return request({ path: 'me/checkins', query: { limit, offset } })
}

module.exports = { events, entryCode, checkin, sync, daily, checkout, mine, MAX_SYNC: 100 }
