// What the organizer pages share: the error of a page or of an action
// (with the Retry-After countdown of a 429 or 503), and times as the API
// writes them (the event's time zone).  The booking subpackage has its
// own: subpackages cannot require each other.
const { t } = require('../utils/i18n.js')

function hhmm(iso) {
  return iso ? iso.slice(11, 16) : ''
}

function when(start, end) {
  if (!start) return ''
  const sameDay = end && end.slice(0, 10) === start.slice(0, 10)
  return start.slice(0, 10) + ' ' + hhmm(start) +
    (end ? '–' + (sameDay ? '' : end.slice(0, 10) + ' ') + hhmm(end) : '')
}

function errorView(error) {
  return {
    message: (error && error.message) || t('error.server_error'),
    code: (error && error.code) || 'server_error',
    retryAfter: (error && error.retryAfter) || 0,
  }
}

// An action failed: data.actionError, and the countdown data.wait /
// data.waitText that keeps its button disabled
function actionFailed(page, error, message) {
  const view = errorView(error)
  const wait = view.retryAfter
  stopWait(page)
  page.setData({
    busy: false,
    actionError: message || view.message,
    wait,
    waitText: wait > 0 ? t('state.wait', { seconds: wait }) : '',
  })
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

module.exports = { hhmm, when, errorView, actionFailed, stopWait }
