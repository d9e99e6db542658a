// The one error type of the client.  An API error object
// {"error": {"code", "message", "details"}} (API.md) becomes an ApiError
// with the status, the code, the details and a message in the member's
// words; the phone's own failures (no network, location refused, a QR of
// another app) use the same type with status 0 and codes of their own
// (i18n/errors.js).
const i18n = require('./i18n.js')

class ApiError extends Error {
  constructor({ status = 0, code, serverMessage = null, details = {}, retryAfter = null }) {
    super(messageOf(code, serverMessage))
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.serverMessage = serverMessage
    this.details = details || {}
    // seconds to wait before asking again (429, 503: Retry-After)
    this.retryAfter = retryAfter
  }

  // Worth trying again later, the same request unchanged: the request did
  // not reach the server, or the server could not answer it now
  get transient() {
    return this.status === 0 ? this.code === 'network_error'
      : this.status === 429 || this.status >= 500
  }
}

function messageOf(code, serverMessage) {
  const key = 'error.' + code
  if (i18n.has(key)) return i18n.t(key)
  return serverMessage || i18n.t('error.server_error')
}

function isApiError(error) {
  return !!error && error.name === 'ApiError'
}

module.exports = { ApiError, isApiError, messageOf }
