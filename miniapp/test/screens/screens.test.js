// Renders each screen of test/screens/list.js with the page tests' harness
// (miniprogram-simulate, the wx mock, canned API answers) and writes it as
// a standalone HTML page into $SCREENS_OUT, with the phone's navigation
// bar and tab bar around it; scripts/miniapp-screenshots takes the
// pictures (doc/images/miniapp/).
const fs = require('fs')
const path = require('path')
const { setup, login, render, settle, json, routeOf, ROOT } = require('../pages/helpers')
const SCREENS = require('./list.js')

// 1 rpx is half a pixel of a 375 px wide page, as on a phone (simulate
// makes it a pixel)
const simulateUtils = require('miniprogram-simulate/src/utils.js')
simulateUtils.transformRpx = (style) => style.replace(/(\d+(?:\.\d+)?)rpx/ig,
  (all, value) => Number(value) / 2 + 'px')

const OUT = process.env.SCREENS_OUT
const APP = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
const PHONE_CSS = fs.readFileSync(path.join(__dirname, 'phone.css'), 'utf8')

// app.wxss (with WeUI) applies to the pages and to the components that
// take the global classes (addGlobalClass): compiled here for each prefix
// simulate gave the classes of the page (main--, price-breakdown--...).
// WeUI sets its variables on `page`, the body here.
function appStyles(dom) {
  const wxss = require('miniprogram-simulate/src/wxss.js')
  const content = wxss.getContent(path.join(ROOT, 'app.wxss'))
  const prefixes = new Set(['main'])
  for (const node of dom.querySelectorAll('[class]')) {
    for (const name of node.getAttribute('class').split(/\s+/)) {
      const match = /^([a-z][\w-]*?)--/.exec(name)
      if (match) prefixes.add(match[1])
    }
  }
  return Array.from(prefixes).map((prefix) => simulateUtils.transformRpx(
    wxss.compile(content, { prefix })).replace(/(^|[},\s])page(?=[\s,{.:[])/g, '$1body'),
  ).join('\n')
}

function title(screen, wx) {
  const set = wx.callsOf('setNavigationBarTitle')
  if (set.length) return set[set.length - 1].title
  const page = JSON.parse(fs.readFileSync(path.join(ROOT, screen.page + '.json'), 'utf8'))
  return page.navigationBarTitleText || APP.window.navigationBarTitleText
}

function tabs(screen) {
  const list = (APP.tabBar && APP.tabBar.list) || []
  if (!list.some((tab) => tab.pagePath === screen.page)) return ''
  return '<div class="screen-tabs">' + list.map((tab) =>
    '<div class="' + (tab.pagePath === screen.page ? 'on' : '') + '">' + tab.text + '</div>',
  ).join('') + '</div>'
}

function escape(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;')
}

const describeIf = OUT ? describe : describe.skip

describeIf('screens', () => {
  for (const screen of SCREENS) {
    test(screen.name, async () => {
      const wx = setup({ device: Object.assign({ language: screen.lang || 'zh_CN' }, screen.device || {}) })
      wx.setRequestHandler((req) => {
        const route = req.method + ' ' + routeOf(req.url)
        const answer = screen.answers && screen.answers[route]
        if (answer === undefined) return json(404, { error: { code: 'not_found', message: route } })
        const value = typeof answer === 'function' ? answer(req) : answer
        return value && value.statusCode ? value : json(200, value)
      })
      if (screen.login !== false) login(wx, screen.member)
      if (screen.before) await screen.before(wx)
      const comp = render(screen.page, { query: screen.query || {} })
      await settle()
      if (screen.after) await screen.after(comp, wx)
      await settle()
      const styles = Array.from(document.head.querySelectorAll('style'))
        .map((style) => style.textContent).join('\n')
      const html = '<!doctype html><html><head><meta charset="utf-8"><style>' + PHONE_CSS
        + '</style><style>' + appStyles(comp.dom) + '</style><style>' + styles + '</style></head><body>'
        + '<div class="screen-nav">' + escape(title(screen, wx)) + '</div>'
        + '<div class="screen-body">' + comp.dom.outerHTML + '</div>' + tabs(screen)
        + '</body></html>'
      fs.mkdirSync(OUT, { recursive: true })
      fs.writeFileSync(path.join(OUT, screen.name + '.html'), html)
    })
  }
})
