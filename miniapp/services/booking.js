// Booking routes of API.md: services, slots, bookings, reschedule, cancel,
// ratings and the waiting list.
const { request } = require('../utils/request.js')

function services({ limit = 20, offset = 0 } = {}) {
  return request({ path: 'services', query: { limit, offset } })
}

function service(serviceId) {
  return request({ path: 'services/' + serviceId })
}

// date: 'YYYY-MM-DD'; full: also the full slots (capacity_left 0), to join
// their waiting list
function slots(serviceId, { date, resourceId, full } = {}) {
  return request({
    path: 'services/' + serviceId + '/slots',
    query: { date, resource_id: resourceId, full: full ? 'true' : undefined },
  })
}

// booking: service_id, start, resource_id, address, note, points, coupon,
// lat, lon, coord_type
function create(booking) {
  const data = {}
  for (const [key, value] of Object.entries(booking)) {
    if (value !== undefined && value !== null && value !== '') data[key] = value
  }
  return request({ method: 'POST', path: 'bookings', data })
}

function get(id) {
  return request({ path: 'bookings/' + id })
}

function cancel(id) {
  return request({ method: 'POST', path: 'bookings/' + id + '/cancel' })
}

function reschedule(id, { start, resourceId } = {}) {
  const data = { start }
  if (resourceId) data.resource_id = resourceId
  return request({ method: 'POST', path: 'bookings/' + id + '/reschedule', data })
}

function mine({ limit = 20, offset = 0 } = {}) {
  return request({ path: 'me/bookings', query: { limit, offset } })
}

// rating: stars (1-5), comment, tags
function rate(id, rating) {
  return request({ method: 'POST', path: 'bookings/' + id + '/rating', data: rating })
}

function changeRating(id, rating) {
  return request({ method: 'PATCH', path: 'bookings/' + id + '/rating', data: rating })
}

function myRatings({ limit = 20, offset = 0 } = {}) {
  return request({ path: 'me/ratings', query: { limit, offset } })
}

function serviceRatings(serviceId, { limit = 20, offset = 0 } = {}) {
  return request({ path: 'services/' + serviceId + '/ratings', query: { limit, offset } })
}

function joinWaitlist(serviceId, { start, resourceId } = {}) {
  const data = { start }
  if (resourceId) data.resource_id = resourceId
  return request({ method: 'POST', path: 'services/' + serviceId + '/waitlist', data })
}

function myWaitlist({ limit = 20, offset = 0 } = {}) {
  return request({ path: 'me/waitlist', query: { limit, offset } })
}

function acceptOffer(entryId) {
  return request({ method: 'POST', path: 'waitlist/' + entryId + '/accept' })
}

function leaveWaitlist(entryId) {
  return request({ method: 'DELETE', path: 'waitlist/' + entryId })
}

module.exports = {
  services, service, slots, create, get, cancel, reschedule, mine,
  rate, changeRating, myRatings, serviceRatings,
  joinWaitlist, myWaitlist, acceptOffer, leaveWaitlist,
}
