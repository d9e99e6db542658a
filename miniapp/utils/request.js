// Every call of the API goes through request(): the base URL of the
// environment (utils/config.js), JSON in and out, the bearer token, the
// member's language, and one way to fail (utils/errors.ApiError).
//
// Tokens: an access token that has expired (or a 401 answer) is renewed
// with auth/refresh before the request is sent (again); concurrent
// requests share ONE refresh in flight (the refresh token is single-use on
// the server: two refreshes with it would revoke the session).  When the
// refresh is refused, the session ends: it is cleared and 'logout' emitted
// (app.js takes the member to the login page).
const config = require('./config.js')
const session = require('./session.js')
const events = require('./events.js')
const i18n = require('./i18n.js')
const { ApiError } = require('./errors.js')

let refreshing = null

function queryString(query) {
  if (!query) return ''
  const parts = []
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    parts.push(encodeURIComponent(name) + '=' + encodeURIComponent(String(value)))
  }
  return parts.length ? '?' + parts.join('&') : ''
}

function url(path, query) {
  return config.baseUrl() + '/' + path.replace(/^\/+/, '') + queryString(query)
}

function header(name, headers) {
  if (!headers) return undefined
  const wanted = name.toLowerCase()
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === wanted) return headers[key]
  }
  return undefined
}

function retryAfterOf(headers) {
  const value = header('Retry-After', headers)
  if (value === undefined || value === null || value === '') return null
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds))
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000))
}

// One HTTP exchange: resolves {status, data, headers} whatever the status,
// rejects an ApiError network_error when nothing came back
function send({ method, path, query, data, token }) {
  return new Promise((resolve, reject) => {
    const headers = {
      'Content-Type': 'application/json',
      'Accept-Language': i18n.acceptLanguage(),
    }
    if (token) headers.Authorization = 'Bearer ' + token
    wx.request({
      url: url(path, query),
      method,
      data: data === undefined ? undefined : data,
      header: headers,
      dataType: 'json',
      success: (res) => resolve({ status: res.statusCode, data: res.data, headers: res.header || {} }),
      fail: (err) => reject(new ApiError({
        status: 0, code: 'network_error',
        serverMessage: err && err.errMsg,
      })),
    })
  })
}

// The code of an answer without the API's error object (a proxy's HTML
// page, an empty body): what its status says
const STATUS_CODES = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'header_too_large',
  503: 'service_unavailable',
}

function toError(response) {
  const body = response.data
  const error = body && typeof body === 'object' && body.error
  let retryAfter = retryAfterOf(response.headers)
  if (error && typeof error === 'object' && typeof error.code === 'string') {
    const details = error.details && typeof error.details === 'object' ? error.details : {}
    // rate_limited also tells the wait in its details
    if (retryAfter === null && Number.isFinite(Number(details.retry_after)) &&
        details.retry_after !== null && details.retry_after !== '') {
      retryAfter = Math.max(0, Math.ceil(Number(details.retry_after)))
    }
    return new ApiError({
      status: response.status, code: error.code,
      serverMessage: typeof error.message === 'string' ? error.message : null,
      details, retryAfter,
    })
  }
  const status = response.status
  return new ApiError({
    status,
    code: STATUS_CODES[status] || (status >= 500 ? 'server_error' : 'bad_response'),
    retryAfter,
  })
}

// Once per session: the requests that failed with it do not each say so
function endSession() {
  if (!session.get()) return
  session.clear()
  events.emit('logout')
}

// Renew the tokens; concurrent callers get the same promise
function refresh() {
  if (refreshing) return refreshing
  const current = session.get()
  if (!current || !current.refresh_token) {
    endSession()
    return Promise.reject(new ApiError({ status: 401, code: 'unauthorized' }))
  }
  refreshing = send({
    method: 'POST', path: 'auth/refresh',
    data: { refresh_token: current.refresh_token },
  }).then((response) => {
    if (response.status === 200 && response.data && response.data.access_token) {
      return session.save(response.data)
    }
    // A 2xx without tokens is not the API answering (a Wi-Fi login page)
    const error = response.status < 300
      ? new ApiError({ status: response.status, code: 'bad_response' }) : toError(response)
    // Refused (401; 400, 403: a token it does not take): the session is
    // over.  Anything else (no answer, 5xx, 429, a proxy's page) leaves the
    // session for a later try.
    if ([400, 401, 403].includes(response.status)) endSession()
    throw error
  }).finally(() => {
    refreshing = null
  })
  return refreshing
}

async function token(auth) {
  if (!auth) return null
  let current = session.get()
  if (!current || !current.access_token) {
    throw new ApiError({ status: 401, code: 'unauthorized' })
  }
  if (current.refresh_token && session.accessExpired(current)) {
    current = await refresh()
  }
  return current.access_token
}

// A 401 about the token (unauthorized: missing, expired, revoked), not an
// answer about the request itself such as DELETE me's invalid_credentials
// (a wrong password must not end the session)
function tokenRefused(response) {
  if (response.status !== 401) return false
  const body = response.data
  const code = body && typeof body === 'object' && body.error && body.error.code
  return !code || code === 'unauthorized'
}

// The answer of a request: the JSON body of a 2xx answer (null for 204),
// else an ApiError thrown
function answerOf(response) {
  if (response.status >= 200 && response.status < 300) {
    const body = response.data
    if (response.status === 204 || body === '' || body === undefined || body === null) return null
    // Not JSON (WeChat leaves what it could not parse as a string): not the
    // API answering, e.g. the login page of a Wi-Fi
    if (typeof body !== 'object') {
      throw new ApiError({ status: response.status, code: 'bad_response' })
    }
    return body
  }
  throw toError(response)
}

// An organizer route with the staff session of auth/staff.  Staff tokens
// are not renewed (no refresh token): refused, the staff session ends
// ('staff-logout', the organizer logs in again) and the member's stays.
async function staffRequest(staff, { method, path, query, data }) {
  const response = await send({ method, path, query, data, token: staff.access_token })
  if (tokenRefused(response) && session.get('staff')) {
    session.clear('staff')
    events.emit('staff-logout')
  }
  return answerOf(response)
}

// options: method ('GET'), path (relative to the base URL: 'me/points'),
// query (object), data (the JSON body), auth (true: with the member's
// bearer token; 'organizer': with the staff session when there is one, else
// the member's, as the API takes both on its organizer routes)
// Resolves the JSON body of a 2xx answer (null for 204), rejects an ApiError
async function request({ method = 'GET', path, query, data, auth = true }) {
  const staff = auth === 'organizer' ? session.get('staff') : null
  if (staff && staff.access_token) return staffRequest(staff, { method, path, query, data })
  let bearer = await token(auth)
  let response = await send({ method, path, query, data, token: bearer })
  if (auth && tokenRefused(response)) {
    const current = session.get()
    if (current && current.refresh_token) {
      // Expired earlier than the phone's clock says, or revoked: renew
      // once and try again
      if (!refreshing && current.access_token === bearer) {
        await refresh()
      } else if (refreshing) {
        await refreshing
      }
      bearer = await token(auth)
      response = await send({ method, path, query, data, token: bearer })
    }
    if (tokenRefused(response)) {
      endSession()
    }
  }
  return answerOf(response)
}

module.exports = { request, refresh, url, queryString, retryAfterOf, toError }
