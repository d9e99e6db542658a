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

function toError(response) {
  const body = response.data
  const error = body && typeof body === 'object' && body.error
  const retryAfter = retryAfterOf(response.headers)
  if (error && typeof error.code === 'string') {
    return new ApiError({
      status: response.status, code: error.code,
      serverMessage: error.message || null, details: error.details || {}, retryAfter,
    })
  }
  return new ApiError({
    status: response.status,
    code: response.status >= 500 ? 'server_error' : 'bad_response',
    retryAfter,
  })
}

function endSession() {
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
    const error = toError(response)
    // Refused (401) or broken: the session is over.  A server that cannot
    // answer now (5xx, 429) leaves the session for a later try.
    if (!error.transient) endSession()
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

// options: method ('GET'), path (relative to the base URL: 'me/points'),
// query (object), data (the JSON body), auth (true: with the session's
// bearer token)
// Resolves the JSON body of a 2xx answer (null for 204), rejects an ApiError
async function request({ method = 'GET', path, query, data, auth = true }) {
  let bearer = await token(auth)
  let response = await send({ method, path, query, data, token: bearer })
  if (response.status === 401 && auth) {
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
    if (response.status === 401) {
      endSession()
    }
  }
  if (response.status >= 200 && response.status < 300) {
    return response.status === 204 ? null : response.data
  }
  throw toError(response)
}

module.exports = { request, refresh, url, queryString, retryAfterOf, toError }
