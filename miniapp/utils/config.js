// The server each environment of the mini-program talks to.  WeChat tells
// the running version (develop: DevTools and preview, trial, release); each
// has its own base URL, that of the API of one database:
// https://<host>/<database>/mp/v1
// Change these three lines to brand the client (miniapp/README.md); tests
// and the end-to-end suite call setBaseUrl().
const BASE_URLS = {
  develop: 'http://127.0.0.1:8000/demo/mp/v1',
  trial: 'https://trial.example.com/demo/mp/v1',
  release: 'https://api.example.com/demo/mp/v1',
}

let override = null

function envVersion() {
  try {
    return wx.getAccountInfoSync().miniProgram.envVersion || 'develop'
  } catch (e) {
    return 'develop'
  }
}

function baseUrl() {
  return override || BASE_URLS[envVersion()] || BASE_URLS.develop
}

function setBaseUrl(url) {
  override = url ? url.replace(/\/+$/, '') : null
}

module.exports = { BASE_URLS, baseUrl, setBaseUrl, envVersion }
