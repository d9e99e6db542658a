// A `wx` of the tests: storage in memory, wx.request answered by a handler
// of the test (or by a real HTTP server: test/e2e), the device APIs
// (scanCode, getLocation, getConnectedWifi, login, requestSubscribeMessage,
// network status) answering what the test set, and every navigation or
// toast recorded in `calls`.
//
//   const wx = createWx({ request: (req) => ({ statusCode: 200, data: {} }) })
//   global.wx = wx
//
// A request handler gets {url, method, data, header} and returns (or
// resolves) {statusCode, data, header}, or throws / rejects to make the
// request fail as without network (fail callback, errMsg).
function createWx(options = {}) {
  const storage = new Map(Object.entries(options.storage || {}))
  const calls = []
  const networkListeners = []
  const device = Object.assign({
    scanCode: { result: '', scanType: 'QR_CODE' },
    location: { latitude: 31.2304, longitude: 121.4737, accuracy: 15, horizontalAccuracy: 15 },
    wifi: null,
    loginCode: 'wx-login-code',
    subscribe: {},
    network: { isConnected: true, networkType: 'wifi' },
    language: 'zh_CN',
    envVersion: 'develop',
  }, options.device || {})
  let handler = options.request || (() => ({ statusCode: 200, data: {} }))

  function record(name, args) {
    calls.push({ name, args })
  }

  // success / fail / complete callbacks of an API answering `result` (an
  // Error or {errMsg} with fail: true to fail)
  function answer(opts, result, failed) {
    Promise.resolve().then(() => {
      if (failed) {
        const err = typeof result === 'object' ? result : { errMsg: String(result) }
        if (opts && opts.fail) opts.fail(err)
      } else if (opts && opts.success) {
        opts.success(result)
      }
      if (opts && opts.complete) opts.complete(result)
    })
  }

  // A device answer: a value, an Error (fails) or a function of the options
  function deviceApi(name, key) {
    return (opts = {}) => {
      record(name, opts)
      let value = device[key]
      if (typeof value === 'function') value = value(opts)
      if (value instanceof Error) {
        answer(opts, { errMsg: name + ':fail ' + value.message }, true)
      } else {
        answer(opts, Object.assign({ errMsg: name + ':ok' }, value || {}))
      }
    }
  }

  const wx = {
    calls,
    device,
    storage,
    setRequestHandler(fn) {
      handler = fn
    },
    setNetwork(isConnected, networkType) {
      device.network = { isConnected, networkType: networkType || (isConnected ? 'wifi' : 'none') }
      for (const fn of networkListeners.slice()) fn(Object.assign({}, device.network))
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(JSON.stringify(storage.get(key))) : ''
    },
    setStorageSync(key, value) {
      storage.set(key, JSON.parse(JSON.stringify(value)))
    },
    removeStorageSync(key) {
      storage.delete(key)
    },
    getAccountInfoSync() {
      return { miniProgram: { appId: 'wx0000000000000000', envVersion: device.envVersion } }
    },
    getAppBaseInfo() {
      return { language: device.language, SDKVersion: '3.0.0' }
    },
    getSystemInfoSync() {
      return { language: device.language, platform: 'devtools', SDKVersion: '3.0.0' }
    },
    request(opts) {
      record('request', { url: opts.url, method: opts.method, data: opts.data, header: opts.header })
      Promise.resolve().then(() => handler({
        url: opts.url, method: opts.method || 'GET', data: opts.data, header: opts.header || {},
      })).then((res) => {
        const result = {
          statusCode: res.statusCode, data: res.data === undefined ? '' : res.data,
          header: res.header || {}, errMsg: 'request:ok',
        }
        if (opts.success) opts.success(result)
        if (opts.complete) opts.complete(result)
      }, (error) => {
        const err = { errMsg: 'request:fail ' + ((error && error.message) || 'network') }
        if (opts.fail) opts.fail(err)
        if (opts.complete) opts.complete(err)
      })
      return { abort() {} }
    },
    scanCode: deviceApi('scanCode', 'scanCode'),
    getLocation: deviceApi('getLocation', 'location'),
    login: (opts = {}) => {
      record('login', opts)
      const code = typeof device.loginCode === 'function' ? device.loginCode() : device.loginCode
      if (code instanceof Error) answer(opts, { errMsg: 'login:fail ' + code.message }, true)
      else answer(opts, { code, errMsg: 'login:ok' })
    },
    startWifi: (opts = {}) => answer(opts, { errMsg: 'startWifi:ok' }),
    getConnectedWifi: (opts = {}) => {
      record('getConnectedWifi', opts)
      if (!device.wifi) answer(opts, { errMsg: 'getConnectedWifi:fail not connected', errCode: 12005 }, true)
      else answer(opts, { wifi: device.wifi, errMsg: 'getConnectedWifi:ok' })
    },
    requestSubscribeMessage: (opts = {}) => {
      record('requestSubscribeMessage', opts)
      const result = typeof device.subscribe === 'function' ? device.subscribe(opts) : device.subscribe
      if (result instanceof Error) answer(opts, { errMsg: 'requestSubscribeMessage:fail ' + result.message, errCode: 20004 }, true)
      else answer(opts, Object.assign({ errMsg: 'requestSubscribeMessage:ok' }, result))
    },
    getNetworkType: (opts = {}) => answer(opts, { networkType: device.network.networkType }),
    onNetworkStatusChange(fn) {
      networkListeners.push(fn)
    },
    offNetworkStatusChange(fn) {
      const i = networkListeners.indexOf(fn)
      if (i >= 0) networkListeners.splice(i, 1)
    },
    getSetting: (opts = {}) => answer(opts, { authSetting: device.authSetting || {} }),
    openSetting: (opts = {}) => {
      record('openSetting', opts)
      answer(opts, { authSetting: device.authSetting || {} })
    },
    chooseLocation: deviceApi('chooseLocation', 'chosenLocation'),
    setClipboardData: (opts = {}) => {
      record('setClipboardData', opts)
      answer(opts, { errMsg: 'setClipboardData:ok' })
    },
  }
  // Navigation and feedback: recorded, answered at once
  for (const name of ['navigateTo', 'redirectTo', 'reLaunch', 'switchTab', 'navigateBack',
    'showToast', 'hideToast', 'showLoading', 'hideLoading', 'showModal', 'setNavigationBarTitle',
    'stopPullDownRefresh', 'vibrateShort']) {
    wx[name] = (opts = {}) => {
      record(name, opts)
      const result = name === 'showModal'
        ? { confirm: device.modalConfirm !== false, cancel: device.modalConfirm === false }
        : {}
      answer(opts, Object.assign({ errMsg: name + ':ok' }, result))
    }
  }
  wx.callsOf = (name) => calls.filter((c) => c.name === name).map((c) => c.args)
  return wx
}

// Resolve when the promises queued so far (and those they queue) settled
function flush(times = 10) {
  let p = Promise.resolve()
  for (let i = 0; i < times; i++) p = p.then(() => new Promise((r) => setTimeout(r, 0)))
  return p
}

module.exports = { createWx, flush }
