// The member's (or staff user's) session, kept in storage so that it
// survives a restart of the mini-program: the tokens of auth/* (API.md) and
// when the access token expires.
const KEY = 'session'

function now() {
  return Date.now()
}

function get() {
  try {
    return wx.getStorageSync(KEY) || null
  } catch (e) {
    return null
  }
}

// tokens: the answer of auth/login, register, refresh...
// kind: 'member' or 'staff' (a staff token has no refresh token)
function save(tokens, kind) {
  const previous = get() || {}
  const session = {
    kind: kind || previous.kind || 'member',
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token || null,
    expires_at: now() + (tokens.expires_in || 0) * 1000,
    member: tokens.member || previous.member || null,
  }
  wx.setStorageSync(KEY, session)
  return session
}

function setMember(member) {
  const session = get()
  if (session) {
    session.member = member
    wx.setStorageSync(KEY, session)
  }
}

function clear() {
  wx.removeStorageSync(KEY)
}

function isLoggedIn() {
  const session = get()
  return !!(session && session.access_token)
}

// The access token is taken for expired a little before it is
// (clock skew between the phone and the server, time in flight)
const MARGIN_MS = 30 * 1000

function accessExpired(session) {
  return !session || !session.expires_at || session.expires_at - MARGIN_MS <= now()
}

module.exports = { KEY, get, save, setMember, clear, isLoggedIn, accessExpired }
