// From the "我要签到" button to the result: scan the code at the door,
// read it, take the phone's position (and the Wi-Fi it is connected to),
// POST checkins.  A check-in that cannot reach the server now is put in the
// offline queue (utils/queue.js) and sent later: the member never loses
// one.  Pages call scanAndCheckIn() (or checkIn() with an activity code)
// and show the outcome.
const checkin = require('../services/checkin.js')
const queue = require('./queue.js')
const { uuid4 } = require('./uuid.js')
const { ApiError } = require('./errors.js')

// The QR token of modules/checkin/token.py: <event id>.<window>.<signature>
const QR_TOKEN = /^(0|[1-9][0-9]{0,11})\.(0|[1-9][0-9]{0,13})\.([A-Za-z0-9_-]{22})$/
// The kiosk's QR link (modules/checkin/token.py): <base>?t=<token> on the
// https base registered as the mini-program's "QR code link" prefix.  The
// link is sent as it was scanned: the server checks its host and path.
const URL_PARAM = 't'
// How long the Wi-Fi may take to answer before the check-in goes without it
const WIFI_TIMEOUT_MS = 3000

function notACheckinCode() {
  return new ApiError({ status: 0, code: 'not_a_checkin_code' })
}

// The query parameters of a URL (WeChat's engine has no URL class)
function queryOf(url) {
  const params = {}
  const query = url.split('#')[0].split('?').slice(1).join('?')
  for (const part of query.split('&')) {
    if (!part) continue
    const eq = part.indexOf('=')
    const name = eq < 0 ? part : part.slice(0, eq)
    const value = eq < 0 ? '' : part.slice(eq + 1)
    try {
      params[decodeURIComponent(name)] = decodeURIComponent(value.replace(/\+/g, ' '))
    } catch (e) {
      // a malformed escape: not ours
    }
  }
  return params
}

// scanResult: the answer of wx.scanCode ({result, ...}) or the text read.
// Returns {qr_token} (the token, or the kiosk's link as scanned); throws
// ApiError not_a_checkin_code for anything else
// (the QR of another app).  The one place to teach new forms of code.
function parseCode(scanResult) {
  const text = typeof scanResult === 'string' ? scanResult
    : (scanResult && typeof scanResult.result === 'string' ? scanResult.result : '')
  const value = text.trim()
  if (QR_TOKEN.test(value)) return { qr_token: value }
  if (/^https:\/\/[^/?#@\s]+[^?#@\s]*\?[^#\s]+$/i.test(value)) {
    const params = queryOf(value)
    const names = Object.keys(params)
    const parts = value.split('?').slice(1).join('?').split('&')
    if (names.length === 1 && names[0] === URL_PARAM && parts.length === 1 &&
        QR_TOKEN.test(params[URL_PARAM])) {
      return { qr_token: value }
    }
  }
  throw notACheckinCode()
}

// The options of a launch by a scanned code (onLoad of the check-in page):
// q, the kiosk's QR link (WeChat gives it encoded), or scene, the scene of
// an entry code printed for an event or a place.  Returns {q} or {scene}
// decoded, or null when the page was not opened by a code.
function launchCode(options) {
  const decode = (value) => {
    try {
      return decodeURIComponent(String(value)).trim()
    } catch (e) {
      return ''
    }
  }
  if (options && options.q) return { q: decode(options.q) }
  if (options && options.scene) return { scene: decode(options.scene) }
  return null
}

// A wx API as a promise: resolves the success answer, rejects the fail one
function call(api, options) {
  return new Promise((resolve, reject) => {
    api(Object.assign({}, options, { success: resolve, fail: reject }))
  })
}

// The phone's position: {lat, lon, accuracy_m}; throws ApiError
// location_denied (the member or WeChat refused it) or location_failed
async function position() {
  let res
  try {
    res = await call(wx.getLocation, {
      type: 'wgs84', isHighAccuracy: true, highAccuracyExpireTime: 4000,
    })
  } catch (err) {
    const message = (err && err.errMsg) || ''
    const denied = /auth deny|auth denied|authorize/i.test(message)
    throw new ApiError({
      status: 0, code: denied ? 'location_denied' : 'location_failed', serverMessage: message,
    })
  }
  const place = { lat: res.latitude, lon: res.longitude }
  const accuracy = res.horizontalAccuracy !== undefined ? res.horizontalAccuracy : res.accuracy
  if (Number.isFinite(accuracy) && accuracy >= 0) place.accuracy_m = accuracy
  return place
}

// The BSSID of the Wi-Fi the phone is connected to, or null (no Wi-Fi, not
// allowed, not supported: the check-in goes without it)
function bssid() {
  if (typeof wx.startWifi !== 'function' || typeof wx.getConnectedWifi !== 'function') {
    return Promise.resolve(null)
  }
  const read = call(wx.startWifi, {})
    .then(() => call(wx.getConnectedWifi, {}))
    .then((res) => {
      const value = res && res.wifi && res.wifi.BSSID
      // Without the permission some phones answer a placeholder
      if (!value || /^(00:|02:)00:00:00:00:00$/.test(value)) return null
      return String(value)
    })
    .catch(() => null)
  let timer
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), WIFI_TIMEOUT_MS)
  })
  return Promise.race([read, late]).then((value) => {
    clearTimeout(timer)
    return value
  })
}

// The identifier of this installation of the mini-program, kept in its
// storage: sent with every check-in (device_id) so that the server can
// report a member checking in from two phones
const DEVICE_KEY = 'device_id'

function deviceId() {
  let id
  try {
    id = wx.getStorageSync(DEVICE_KEY)
  } catch (err) {
    id = ''
  }
  if (typeof id === 'string' && id) return id
  id = uuid4()
  try {
    wx.setStorageSync(DEVICE_KEY, id)
  } catch (err) {
    // Not kept: the next check-in gets another one
  }
  return id
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0')
}

// ISO 8601 in the phone's time with its offset: 2026-12-03T20:15:00.000+08:00
function localIso(date = new Date()) {
  const offset = -date.getTimezoneOffset()
  const sign = offset >= 0 ? '+' : '-'
  const abs = Math.abs(offset)
  return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) +
    'T' + pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds()) +
    '.' + pad(date.getMilliseconds(), 3) + sign + pad(Math.floor(abs / 60)) + ':' + pad(abs % 60)
}

function result(outcome, fields = {}) {
  return Object.assign({ outcome, checkin: null, member: null, error: null, entry: null }, fields)
}

// credential: {qr_token} or {code, event_id}.  Resolves {outcome, checkin,
// member, error, entry}:
//   'created'  201, checkin and member (points_balance, streak_days)
//   'flagged'  201 with status flagged: checkin.reasons tell why
//   'queued'   the server could not be reached (or not answer now): the
//              item is in the offline queue (entry), sent later
//   'refused'  any other error (error: ApiError, its details: distance_m
//              and radius_m of out_of_range, the existing checkin of
//              already_checked_in...), the position refused included
async function checkIn(credential) {
  let place, wifi
  try {
    [place, wifi] = await Promise.all([position(), bssid()])
  } catch (error) {
    return result('refused', { error })
  }
  const item = Object.assign({}, credential, {
    client_uuid: uuid4(), client_time: localIso(), device_id: deviceId(),
  }, place)
  if (wifi) item.bssid = wifi
  try {
    const answer = await checkin.checkin(item)
    const record = answer && answer.checkin
    return result(record && record.status === 'flagged' ? 'flagged' : 'created', {
      checkin: record || null, member: (answer && answer.member) || null,
    })
  } catch (error) {
    if (error && error.transient) {
      return result('queued', { error, entry: queue.enqueue(item) })
    }
    return result('refused', { error })
  }
}

// The button: the camera (or an image of the album), then checkIn.  A scan
// the member cancelled resolves {outcome: 'cancelled'}; so does a scan
// WeChat could not make (the member sees the camera close and may retry).
// extra: added to the credential (event_id of an entry code: the QR code of
// another event is refused)
async function scanAndCheckIn(extra = {}) {
  let scanned
  try {
    scanned = await call(wx.scanCode, { onlyFromCamera: false, scanType: ['qrCode'] })
  } catch (err) {
    return result('cancelled')
  }
  let credential
  try {
    credential = Object.assign(parseCode(scanned), extra)
  } catch (error) {
    return result('refused', { error })
  }
  return checkIn(credential)
}

// The mini-program opened by a code (launchCode): the kiosk's QR link
// checks in at once; an entry code is resolved by the server (GET
// entry-codes), then the member scans the event's rotating QR code (the
// printed code is no proof of presence).  Resolves as checkIn, with
// event (the name of the event of an entry code); null without a code.
async function launch(options) {
  const code = launchCode(options)
  if (!code) return null
  if (code.q !== undefined) {
    let credential
    try {
      credential = parseCode(code.q)
    } catch (error) {
      return result('refused', { error })
    }
    return checkIn(credential)
  }
  let answer
  try {
    answer = await checkin.entryCode(code.scene)
  } catch (error) {
    return result('refused', { error })
  }
  const event = (answer.events || [])[0]
  if (!event) return result('refused', { error: new ApiError({ status: 422, code: 'event_not_open' }) })
  const outcome = await scanAndCheckIn({ event_id: event.id })
  return Object.assign(outcome, { event: event.name })
}

module.exports = {
  QR_TOKEN, URL_PARAM, parseCode, launchCode, launch, position, bssid, checkIn,
  scanAndCheckIn, localIso, queryOf, deviceId,
}
