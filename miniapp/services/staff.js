// The technician at the door (API.md 1.1), with a staff token
const { request } = require('../utils/request.js')

function bookings({ date } = {}) {
  return request({ auth: 'organizer', path: 'staff/bookings', query: { date } })
}

function checkin(bookingId, { lat, lon, accuracy_m, coord_type = 'wgs84' }) {
  const data = { lat, lon, coord_type }
  if (accuracy_m !== undefined && accuracy_m !== null) data.accuracy_m = accuracy_m
  return request({ auth: 'organizer', method: 'POST', path: 'staff/bookings/' + bookingId + '/checkin', data })
}

function checkout(bookingId) {
  return request({ auth: 'organizer', method: 'POST', path: 'staff/bookings/' + bookingId + '/checkout' })
}

module.exports = { bookings, checkin, checkout }
