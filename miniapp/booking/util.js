// What the booking pages share: times as the API writes them, money, the
// words of a state, the service of an id, and the error of an action
// (a message under the button, with the Retry-After countdown of a 429 or
// 503 that keeps the button disabled until it ends).
const { t } = require('../utils/i18n.js')
const booking = require('../services/booking.js')

// The API writes times in the service's time zone ('2026-12-03T09:00:00
// +08:00'): the member reads them as written, whatever the phone's zone
function hhmm(iso) {
  return iso ? iso.slice(11, 16) : ''
}

function day(iso) {
  return iso ? iso.slice(0, 10) : ''
}

function when(start, end) {
  if (!start) return ''
  return day(start) + ' ' + hhmm(start) + (end ? '–' + hhmm(end) : '')
}

// '88.00', 'CNY' → '¥88.00'; another currency after the amount
function money(amount, currency) {
  if (amount === null || amount === undefined || amount === '') return ''
  if (!currency || currency === 'CNY') return '¥' + amount
  return amount + ' ' + currency
}

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

// The page's state component from an error: {message, code, retryAfter}
function errorView(error) {
  return {
    message: (error && error.message) || t('error.server_error'),
    code: (error && error.code) || 'server_error',
    retryAfter: (error && error.retryAfter) || 0,
  }
}

// An action failed: its message (and the details that help) shown as
// data.actionError, the countdown as data.wait / data.waitText
function actionFailed(page, error, extra) {
  const view = errorView(error)
  const wait = view.retryAfter
  page.setData(Object.assign({
    busy: false,
    actionError: view.message + detailsText(error),
    actionCode: view.code,
    wait,
    waitText: wait > 0 ? t('state.wait', { seconds: wait }) : '',
  }, extra || {}))
  stopWait(page)
  if (wait > 0) {
    page._waitTimer = setInterval(() => {
      const left = page.data.wait - 1
      page.setData({ wait: left, waitText: left > 0 ? t('state.wait', { seconds: left }) : '' })
      if (left <= 0) stopWait(page)
    }, 1000)
  }
}

function stopWait(page) {
  if (page._waitTimer) clearInterval(page._waitTimer)
  page._waitTimer = null
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
  hhmm, day, when, money, stateText, findService, errorView, actionFailed, stopWait,
}
