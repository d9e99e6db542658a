// Every text in both languages: each i18n/*.js has the same keys in zh_CN
// and en, none empty, with the same {placeholders}; every t('key') of the
// code has its text
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const { ROOT, load } = require('./helpers.js')

const FILES = fs.readdirSync(path.join(ROOT, 'i18n')).filter((f) => f.endsWith('.js'))

function placeholders(text) {
  return Array.from(String(text).matchAll(/\{(\w+)\}/g), (m) => m[1]).sort()
}

for (const file of FILES) {
  test('i18n/' + file + ': every key in zh_CN and en', () => {
    const area = require(path.join(ROOT, 'i18n', file))
    assert.deepEqual(Object.keys(area).sort(), ['en', 'zh_CN'])
    const zh = Object.keys(area.zh_CN)
    const en = Object.keys(area.en)
    assert.deepEqual(zh.filter((k) => !en.includes(k)), [], 'missing in en')
    assert.deepEqual(en.filter((k) => !zh.includes(k)), [], 'missing in zh_CN')
    for (const key of zh) {
      for (const lang of ['zh_CN', 'en']) {
        assert.equal(typeof area[lang][key], 'string', lang + ' ' + key)
        assert.notEqual(area[lang][key].trim(), '', lang + ' ' + key + ' is empty')
      }
      assert.deepEqual(placeholders(area.zh_CN[key]), placeholders(area.en[key]), key + ': placeholders')
    }
  })
}

test('no key is defined by two files (one would hide the other)', () => {
  const owner = {}
  for (const file of FILES.filter((f) => f !== 'errors.js')) {
    for (const key of Object.keys(require(path.join(ROOT, 'i18n', file)).zh_CN)) {
      assert.equal(owner[key], undefined, key + ' in ' + owner[key] + ' and ' + file)
      owner[key] = file
    }
  }
})

// The .js and .wxml files of the mini-program (not the tests, not npm)
function sources(dir = ROOT, found = []) {
  for (const name of fs.readdirSync(dir)) {
    if (['node_modules', 'miniprogram_npm', 'test', 'scripts'].includes(name)) continue
    const full = path.join(dir, name)
    if (fs.statSync(full).isDirectory()) sources(full, found)
    else if (/\.(js|wxml)$/.test(name)) found.push(full)
  }
  return found
}

test("every t('key') of the code has its text in both languages", () => {
  const { mod } = load({})
  const { messages } = mod('utils/i18n.js')
  const missing = []
  for (const file of sources()) {
    const text = fs.readFileSync(file, 'utf8')
    for (const m of text.matchAll(/\bt\(\s*['"]([a-z_]+\.[A-Za-z0-9_.]+)['"]/g)) {
      for (const lang of ['zh_CN', 'en']) {
        // t('booking.state.' + state): a prefix, completed at run time,
        // that keys of the language must start with
        const known = m[1].endsWith('.')
          ? Object.keys(messages[lang]).some((key) => key.startsWith(m[1]))
          : messages[lang][m[1]] !== undefined
        if (!known) missing.push(path.relative(ROOT, file) + ': ' + lang + ' ' + m[1])
      }
    }
  }
  assert.deepEqual(missing, [])
})

test('t(): the chosen language, placeholders, and the key itself when unknown', () => {
  const { mod } = load({ device: { language: 'en-US' } })
  const i18n = mod('utils/i18n.js')
  assert.equal(i18n.getLang(), 'en')
  assert.equal(i18n.t('error.slot_full'), 'This slot is full')
  i18n.setLang('zh_CN')
  assert.equal(i18n.t('error.slot_full'), '该时段已约满')
  assert.equal(i18n.acceptLanguage(), 'zh-CN,zh;q=0.9,en;q=0.5')
  assert.equal(i18n.t('no.such_key'), 'no.such_key')
})
