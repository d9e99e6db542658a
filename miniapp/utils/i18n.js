// zh_CN and en.  The language is the one the member chose in the
// mini-program (storage 'lang'), else WeChat's; anything but Chinese is
// answered in English.  t('key', {name}) replaces {name}; errors are
// looked up as 'error.<code>'.
const AREAS = [
  require('../i18n/common.js'),
  require('../i18n/member.js'),
  require('../i18n/booking.js'),
  require('../i18n/organizer.js'),
]
const ERRORS = require('../i18n/errors.js')

const LANGS = ['zh_CN', 'en']
const messages = {}
for (const lang of LANGS) {
  messages[lang] = {}
  for (const area of AREAS) Object.assign(messages[lang], area[lang])
  for (const [code, text] of Object.entries(ERRORS[lang])) {
    messages[lang]['error.' + code] = text
  }
}

let current = null

function normalize(language) {
  return /^zh/i.test(language || '') ? 'zh_CN' : 'en'
}

function getLang() {
  if (current) return current
  let chosen = null
  try {
    chosen = wx.getStorageSync('lang')
  } catch (e) {
    chosen = null
  }
  if (!chosen) {
    try {
      const info = wx.getAppBaseInfo ? wx.getAppBaseInfo() : wx.getSystemInfoSync()
      chosen = info.language
    } catch (e) {
      chosen = 'zh_CN'
    }
  }
  current = normalize(chosen)
  return current
}

function setLang(lang) {
  current = normalize(lang)
  try {
    wx.setStorageSync('lang', current)
  } catch (e) {
    // the choice lasts for this run only
  }
  return current
}

// The Accept-Language header of the API requests
function acceptLanguage() {
  return getLang() === 'zh_CN' ? 'zh-CN,zh;q=0.9,en;q=0.5' : 'en'
}

function has(key) {
  return Object.prototype.hasOwnProperty.call(messages[getLang()], key)
}

function t(key, params) {
  const lang = getLang()
  let text = messages[lang][key]
  if (text === undefined) text = messages.en[key]
  if (text === undefined) return key
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (m, name) =>
      params[name] === undefined || params[name] === null ? m : String(params[name]))
  }
  return text
}

function reset() {
  current = null
}

// The texts of one page for its WXML: words('login') → {title, phone...}
// from the keys 'login.title', 'login.phone'... of the current language
function words(prefix) {
  const start = prefix + '.'
  const out = {}
  for (const key of Object.keys(messages.en)) {
    if (key.startsWith(start)) out[key.slice(start.length)] = t(key)
  }
  return out
}

module.exports = { LANGS, t, has, getLang, setLang, acceptLanguage, messages, reset, words }
