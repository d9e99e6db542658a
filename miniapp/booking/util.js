// What the booking pages share: the words of a state, the service of an
// id, the error of an action with the details of a booking error; and
// utils/view's times, money and errors.
const { t } = require('../utils/i18n.js')
const view = require('../utils/view.js')
const booking = require('../services/booking.js')

function stateText(state) {
  return t('booking.state.' + state)
}

// The service of an id (services/<id>); null when there is none
async function findService(id) {
  try {
    return (await booking.service(Number(id))).service
  } catch (error) {
    if (error.code === 'not_found') return null
    throw error
  }
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
