// Fresh client modules on a `wx` mock for each unit test (node --test).
//
//   const { load, json, apiError } = require('./helpers.js')
//   const { wx, mod } = load({ request: handler })
//   const queue = mod('utils/queue.js')
//
// load() forgets the modules of utils/, services/ and i18n/ (so that their
// state starts again, as after a restart of the mini-program) and installs
// a new global `wx`; pass `storage: wx.storage` to keep the storage of the
// previous run.
const path = require('path')
const { createWx, flush } = require('../wx-mock.js')

const ROOT = path.resolve(__dirname, '../..')
const BASE_URL = 'http://127.0.0.1:9/test/mp/v1'

function forget() {
  for (const file of Object.keys(require.cache)) {
    const rel = path.relative(ROOT, file)
    if (/^(utils|services|i18n)[\\/]/.test(rel)) delete require.cache[file]
  }
}

function load(options = {}) {
  forget()
  const storage = options.storage instanceof Map ? Object.fromEntries(options.storage) : options.storage
  const wx = createWx(Object.assign({}, options, { storage }))
  global.wx = wx
  const mod = (rel) => require(path.join(ROOT, rel))
  mod('utils/config.js').setBaseUrl(BASE_URL)
  mod('utils/i18n.js').reset()
  if (options.lang) mod('utils/i18n.js').setLang(options.lang)
  return { wx, mod }
}

// A logged-in member, tokens valid for an hour
function login(wx, extra = {}) {
  wx.setStorageSync('session', Object.assign({
    kind: 'member', access_token: 'access-1', refresh_token: 'refresh-1',
    expires_at: Date.now() + 3600 * 1000, member: { id: 1, name: '张三' },
  }, extra))
}

// The route of a URL of the API: 'checkins/sync' (no base, no query)
function routeOf(url) {
  return url.slice(BASE_URL.length + 1).split('?')[0]
}

function queryOf(url) {
  const query = {}
  const q = url.split('?')[1]
  if (!q) return query
  for (const part of q.split('&')) {
    const [k, v] = part.split('=')
    query[decodeURIComponent(k)] = decodeURIComponent(v || '')
  }
  return query
}

function json(statusCode, data, header = {}) {
  return { statusCode, data, header: Object.assign({ 'Content-Type': 'application/json' }, header) }
}

function apiError(statusCode, code, message = code, details = {}, header = {}) {
  return json(statusCode, { error: { code, message, details } }, header)
}

// A request that fails as without network
function offline() {
  throw new Error('net::ERR_INTERNET_DISCONNECTED')
}

module.exports = { ROOT, BASE_URL, load, login, routeOf, queryOf, json, apiError, offline, flush }
