// Loading a page or component of the mini-program in miniprogram-simulate
// (jsdom, WeChat's official compiler), with a fresh `wx` mock
// (test/wx-mock.js) and fresh client modules for each test.
//
//   const { setup, render } = require('./helpers')
//   let wx
//   beforeEach(() => { wx = setup({ request: handler }) })
//   const page = render('pages/home/index')
//   page.querySelector('#checkin').dispatchEvent('tap')
//   await settle()
//
// Pages are written with Component() (miniprogram-simulate loads nothing
// else); their page lifetimes (onLoad, onShow) are methods the helper
// calls: render(path, {query}) calls onLoad(query) and onShow().
const fs = require('fs')
const path = require('path')
const simulate = require('miniprogram-simulate')
const { createWx, flush } = require('../wx-mock.js')

const ROOT = path.resolve(__dirname, '../..')
const BASE_URL = 'http://127.0.0.1:9/test/mp/v1'

// The npm components as DevTools resolves them (miniprogram_npm/, made by
// scripts/build-npm.js)
function npmComponents(page) {
  const using = {}
  const visit = (file) => {
    const json = JSON.parse(fs.readFileSync(path.join(ROOT, file + '.json'), 'utf8'))
    for (const [tag, value] of Object.entries(json.usingComponents || {})) {
      if (!value.startsWith('/') && !value.startsWith('.')) {
        using[tag] = '/miniprogram_npm/' + value
      } else if (value.startsWith('/')) {
        visit(value.slice(1))
      } else {
        visit(path.join(path.dirname(file), value))
      }
    }
  }
  visit(page)
  return using
}

function setup(options = {}) {
  jest.resetModules()
  const wx = createWx(options)
  global.wx = wx
  global.getApp = () => ({ globalData: {} })
  global.getCurrentPages = () => []
  require('../../utils/config.js').setBaseUrl(BASE_URL)
  require('../../utils/i18n.js').reset()
  return wx
}

// A logged-in member (tokens valid for an hour)
function login(wx, member = { id: 1, name: '张三', phone: '138****0000' }) {
  wx.setStorageSync('session', {
    kind: 'member', access_token: 'access-1', refresh_token: 'refresh-1',
    expires_at: Date.now() + 3600 * 1000, member,
  })
}

function render(page, { query = {}, props = {} } = {}) {
  const id = simulate.load(path.join(ROOT, page), {
    rootPath: ROOT, usingComponents: npmComponents(page),
  })
  const comp = simulate.render(id, props)
  comp.attach(document.createElement('parent-wrapper'))
  const instance = comp.instance
  if (instance.onLoad) instance.onLoad(query)
  if (instance.onShow) instance.onShow()
  return comp
}

// Let the requests, timers of 0 and re-renders of the page happen
async function settle() {
  await flush(20)
  await simulate.sleep(0)
  await flush(5)
}

// The text of the page as a member reads it
function text(comp) {
  return comp.dom.textContent.replace(/\s+/g, ' ').trim()
}

// A JSON answer of the API
function json(statusCode, data, header) {
  return { statusCode, data, header: Object.assign({ 'Content-Type': 'application/json' }, header || {}) }
}

function apiError(statusCode, code, message = code, details = {}, header) {
  return json(statusCode, { error: { code, message, details } }, header)
}

// The path of an API request, after the base URL, without the query
function routeOf(url) {
  return url.slice(BASE_URL.length + 1).split('?')[0]
}

module.exports = {
  ROOT, BASE_URL, setup, login, render, settle, text, json, apiError, routeOf, simulate,
}
