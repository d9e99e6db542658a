// What the booking pages share: the words of a state, the service of an
// id, the error of an action with the details of a booking error; and
// utils/view's times, money and errors.
const { t } = require('../utils/i18n.js')
const view = require('../utils/view.js')
const booking = require('../services/booking.js')

function stateText(state) {
  return t('booking.state.' + state)
}

// The service of an id from the list of services (the API has no route
// for one service); null when it is not there
async function findService(id) {
  const wanted = Number(id)
  const limit = 100
  for (let offset = 0; offset < 1000; offset += limit) {
    const page = await booking.services({ limit, offset })
    const found = (page.items || []).find((s) => s.id === wanted)
    if (found) return found
    if (offset + limit >= (page.total || 0)) break
  }
  return null
}

// An action failed: its message with the details that help (utils/view)
function actionFailed(page, error, extra) {
  view.actionFailed(page, error, {
    message: view.errorView(error).message + detailsText(error), extra,
  })
}

// The details of a booking error worth showing: why a slot cannot be
// booked, the points the member has or may use
function detailsText(error) {
  const details = (error && error.details) || {}
  const parts = []
  if (error && error.code === 'slot_unavailable' && details.reason) {
    const key = 'booking.reason.' + details.reason
    const reason = t(key)
    if (reason !== key) parts.push(reason)
  }
  if (details.available !== undefined) parts.push(t('booking.available', { points: details.available }))
  if (details.max_points !== undefined) parts.push(t('booking.max_points', { points: details.max_points }))
  return parts.length ? ' (' + parts.join(', ') + ')' : ''
}

module.exports = {
  hhmm: view.hhmm, day: view.day, when: view.when, money: view.money, errorView: view.errorView,
  stateText, findService, actionFailed,
}
