// Subscription messages: the templates the server sends (GET
// me/subscriptions) and what the member answered to
// wx.requestSubscribeMessage (POST me/subscriptions).
const { request } = require('../utils/request.js')

function list() {
  return request({ path: 'me/subscriptions' })
}

// results: the answer of wx.requestSubscribeMessage as it is
// ({<template id>: 'accept' | 'reject' | 'ban' | 'filter', errMsg})
function record(results) {
  const clean = {}
  for (const [key, value] of Object.entries(results || {})) {
    if (key !== 'errMsg') clean[key] = value
  }
  return request({ method: 'POST', path: 'me/subscriptions', data: { results: clean } })
}

module.exports = { list, record }
