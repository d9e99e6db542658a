#!/usr/bin/env node
// "Tools -> Build npm" of WeChat DevTools, for the tests and for CI: each
// package of "dependencies" is copied into miniprogram_npm/<name> as
// DevTools does (developers.weixin.qq.com/miniprogram/dev/devtools/npm.html):
// the folder of its "miniprogram" field when it has one (a package of
// custom components, like weui-miniprogram), else the folder of its main
// file.  In DevTools the menu item does the same; either way the pages
// use the components as "weui-miniprogram/<name>/<name>".
const fs = require('fs')
const path = require('path')

const root = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const out = path.join(root, 'miniprogram_npm')

function copy(from, to) {
  fs.mkdirSync(to, { recursive: true })
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name)
    const target = path.join(to, entry.name)
    if (entry.isDirectory()) copy(source, target)
    else fs.copyFileSync(source, target)
  }
}

fs.rmSync(out, { recursive: true, force: true })
for (const name of Object.keys(pkg.dependencies || {})) {
  const dir = path.join(root, 'node_modules', name)
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  const source = meta.miniprogram
    ? path.join(dir, meta.miniprogram)
    : path.dirname(path.join(dir, meta.main || 'index.js'))
  if (!fs.existsSync(source)) {
    console.error('build-npm: %s has no %s', name, source)
    process.exit(1)
  }
  copy(source, path.join(out, name))
  console.log('build-npm: %s -> miniprogram_npm/%s', path.relative(root, source), name)
}
