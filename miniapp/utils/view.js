// What pages show the same way: an error for components/state, the error
// of an action under its button (with the Retry-After countdown of the
// page's countdown Behavior, components/countdown), times as the API
// writes them and money.  The main package holds it: every subpackage may
// require it.
const { t } = require('./i18n.js')

// The API writes times in the time zone of the event or service
// ('2026-12-03T09:00:00+08:00'): the member reads them as written,
// whatever the phone's zone
function hhmm(iso) {
  return iso ? iso.slice(11, 16) : ''
}

function day(iso) {
  return iso ? iso.slice(0, 10) : ''
}

// '2026-12-04 09:00–11:00', or with the end's day when it is another
function when(start, end) {
  if (!start) return ''
  const sameDay = end && day(end) === day(start)
  return day(start) + ' ' + hhmm(start) +
    (end ? '–' + (sameDay ? '' : day(end) + ' ') + hhmm(end) : '')
}

// '88.00', 'CNY' → '¥88.00'; another currency after the amount
function money(amount, currency) {
  if (amount === null || amount === undefined || amount === '') return ''
  if (!currency || currency === 'CNY') return '¥' + amount
  return amount + ' ' + currency
}

// The state component's error: {message, code, retryAfter}
function errorView(error) {
  return {
    message: (error && error.message) || t('error.server_error'),
    code: (error && error.code) || 'server_error',
    retryAfter: (error && error.retryAfter) || 0,
  }
}

// The field an invalid_request is about: details.field ('body.password')
// or the first of details.fields, without its prefix ('password')
function invalidField(details) {
  const raw = (details && (details.field || (details.fields || [])[0])) || ''
  return String(raw).split('.').pop()
}

// An action failed: data.actionError (message: another text than the
// error's), busy off, the countdown data.wait / data.waitText of the
// page's countdown Behavior; extra: more data to set
function actionFailed(page, error, { message, extra } = {}) {
  const view = errorView(error)
  page.setData(Object.assign({
    busy: false,
    actionError: message || view.message,
    actionCode: view.code,
  }, extra || {}))
  page.startCountdown('wait', view.retryAfter)
}

module.exports = { hhmm, day, when, money, errorView, invalidField, actionFailed }
