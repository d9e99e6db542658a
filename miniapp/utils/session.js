// The sessions, kept in storage so that they survive a restart of the
// mini-program: the tokens of auth/* (API.md) and when the access token
// expires.  The member's session ('member', the default) and an
// organizer's staff session ('staff', of auth/staff for the organizer
// pages) are kept apart: an organizer's login does not log the member out.
const KEY = 'session'
const KEYS = { member: KEY, staff: 'staff_session' }

function keyOf(kind) {
  return KEYS[kind || 'member']
}

function now() {
  return Date.now()
}

function get(kind) {
  try {
    return wx.getStorageSync(keyOf(kind)) || null
  } catch (e) {
    return null
  }
}

// tokens: the answer of auth/login, register, refresh...
// kind: 'member' (default) or 'staff' (a staff token has no refresh token)
function save(tokens, kind) {
  kind = kind || 'member'
  const previous = get(kind) || {}
  const session = {
    kind,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token || null,
    expires_at: now() + (tokens.expires_in || 0) * 1000,
    member: tokens.member || previous.member || null,
  }
  wx.setStorageSync(keyOf(kind), session)
  return session
}

function setMember(member) {
  const session = get()
  if (session) {
    session.member = member
    wx.setStorageSync(KEY, session)
  }
}

function clear(kind) {
  wx.removeStorageSync(keyOf(kind))
}

function isLoggedIn(kind) {
  const session = get(kind)
  return !!(session && session.access_token)
}

// The access token is taken for expired a little before it is
// (clock skew between the phone and the server, time in flight)
const MARGIN_MS = 30 * 1000

function accessExpired(session) {
  return !session || !session.expires_at || session.expires_at - MARGIN_MS <= now()
}

module.exports = { KEY, KEYS, get, save, setMember, clear, isLoggedIn, accessExpired }
