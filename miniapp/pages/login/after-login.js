// Where a member goes once logged in (login, register, recover): back to
// the page that sent them to the login page (query `redirect`, an encoded
// path of the mini-program), else the home tab.  Tab pages can only be
// reached with switchTab (which takes no query).
const TABS = ['/pages/home/index', '/pages/services/index', '/pages/me/index']
const HOME = '/pages/home/index'
const queue = require('../../utils/queue.js')

function target(redirect) {
  let url = redirect ? decodeURIComponent(redirect) : HOME
  // Only pages of this mini-program: never a page of the login itself
  if (!url.startsWith('/') || /^\/pages\/(login|register|recover)\//.test(url)) url = HOME
  return url
}

function afterLogin(redirect) {
  // Check-ins queued while the session had ended go now (utils/queue.js)
  queue.flush()
  const url = target(redirect)
  const path = url.split('?')[0]
  if (TABS.includes(path)) wx.switchTab({ url: path })
  else wx.redirectTo({ url })
}

// The login page of a page that needs a member, coming back afterwards
function loginUrl(from) {
  return '/pages/login/index?redirect=' + encodeURIComponent(from)
}

module.exports = { afterLogin, target, loginUrl, TABS }
