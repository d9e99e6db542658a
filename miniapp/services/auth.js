// auth/* of API.md: each successful login keeps the tokens and the member
// in the session (utils/session.js).
const { request } = require('../utils/request.js')
const session = require('../utils/session.js')

function keep(answer, kind) {
  session.save(answer, kind || 'member')
  return answer
}

function register({ phone, password, name }) {
  const data = { phone, password }
  if (name) data.name = name
  return request({ method: 'POST', path: 'auth/register', data, auth: false }).then((a) => keep(a))
}

function login({ phone, password }) {
  return request({ method: 'POST', path: 'auth/login', data: { phone, password }, auth: false })
    .then((a) => keep(a))
}

// code: of wx.login
function wechatLogin(code) {
  return request({ method: 'POST', path: 'auth/wechat', data: { code }, auth: false })
    .then((a) => keep(a))
}

// code: of the getPhoneNumber button (phone quick verification); the
// member logged in gets the verified phone
function wechatPhone(code) {
  return request({ method: 'POST', path: 'auth/wechat-phone', data: { code } }).then((a) => {
    if (a && a.member) session.setMember(a.member)
    return a
  })
}

// purpose: 'reset' or 'login'
function sendSmsCode({ phone, purpose }) {
  return request({ method: 'POST', path: 'auth/sms-code', data: { phone, purpose }, auth: false })
}

function resetPassword({ phone, code, password }) {
  return request({
    method: 'POST', path: 'auth/reset-password', data: { phone, code, password }, auth: false,
  }).then((a) => keep(a))
}

function smsLogin({ phone, code }) {
  return request({ method: 'POST', path: 'auth/sms-login', data: { phone, code }, auth: false })
    .then((a) => keep(a))
}

// An organizer's login (a Tryton user): a token for the organizer routes,
// kept apart from the member's session (utils/session.js)
function staffLogin({ login, password }) {
  return request({ method: 'POST', path: 'auth/staff', data: { login, password }, auth: false })
    .then((a) => keep(a, 'staff'))
}

// The organizer's staff session ends here (staff tokens are not revoked:
// they expire); the member's session stays
function staffLogout() {
  session.clear('staff')
  return Promise.resolve()
}

// The refresh token revoked on the server (when it can be reached), the
// session cleared here in any case
function logout() {
  const current = session.get()
  const done = () => session.clear()
  if (!current || !current.refresh_token) {
    done()
    return Promise.resolve()
  }
  return request({
    method: 'POST', path: 'auth/logout', data: { refresh_token: current.refresh_token }, auth: false,
  }).then(done, done)
}

module.exports = {
  register, login, wechatLogin, wechatPhone, sendSmsCode, resetPassword, smsLogin,
  staffLogin, staffLogout, logout,
}
