// The offline queue of check-ins.  A check-in that could not reach the
// server (no network, 5xx, 429) is kept in storage, so that it survives a
// restart of the mini-program, and sent again with checkins/sync when the
// network comes back, with the same client_uuid: the server answers
// 'duplicate' for an item it already has, so sending twice is harmless and
// nothing queued is ever lost (a crash between sending and storing the
// answer only sends it again).
//
// An entry: {client_uuid, item, state, queued_at, result?, error?}
//   state: 'queued' (to send), 'sending' (in a batch in flight), 'created',
//   'duplicate' (the server had it: done), 'error' (refused: final)
//   result: the checkin of the answer; error: {code, message, details}
//   with the message in the member's words
const checkin = require('../services/checkin.js')
const session = require('./session.js')
const events = require('./events.js')
const { messageOf } = require('./errors.js')

const KEY = 'checkin_queue'
// When the server asked to wait (Retry-After): no flush before this time
const RETRY_KEY = 'checkin_queue_retry_at'
const MAX_SYNC = checkin.MAX_SYNC || 100
// Entries done (created, duplicate, error) kept for the member to see
const KEEP_DONE = 100

let inflight = null
let listener = null
let timer = null

function read() {
  let list
  try {
    list = wx.getStorageSync(KEY)
  } catch (e) {
    list = null
  }
  if (!Array.isArray(list)) return []
  // An entry left 'sending' by a run that ended before the answer was
  // stored (the mini-program was killed) is sent again
  if (!inflight) {
    for (const entry of list) if (entry.state === 'sending') entry.state = 'queued'
  }
  return list
}

function isPending(entry) {
  return entry.state === 'queued' || entry.state === 'sending'
}

function write(list) {
  // Oldest first in storage; the oldest done entries go first when too many
  const done = list.filter((e) => !isPending(e))
  if (done.length > KEEP_DONE) {
    const drop = new Set(done.slice(0, done.length - KEEP_DONE))
    list = list.filter((e) => !drop.has(e))
  }
  wx.setStorageSync(KEY, list)
  events.emit('queue', { pending: list.filter(isPending).length })
}

// item: the body of POST checkins, with client_uuid and client_time
function enqueue(item) {
  const list = read()
  const existing = list.find((e) => e.client_uuid === item.client_uuid)
  if (existing) return existing
  const entry = {
    client_uuid: item.client_uuid, item, state: 'queued', queued_at: new Date().toISOString(),
  }
  list.push(entry)
  write(list)
  return entry
}

// Newest first
function items() {
  return read().reverse()
}

// The check-ins still to send
function pending() {
  return read().filter(isPending).length
}

function retryAt() {
  try {
    return Number(wx.getStorageSync(RETRY_KEY)) || 0
  } catch (e) {
    return 0
  }
}

function delay(seconds) {
  const at = Date.now() + seconds * 1000
  wx.setStorageSync(RETRY_KEY, at)
  // Try again by itself when the wait is over (while the mini-program runs)
  if (timer) clearTimeout(timer)
  timer = setTimeout(() => {
    timer = null
    flush()
  }, seconds * 1000 + 50)
  // Node (tests) only: a pending timer must not keep the process alive
  if (timer && typeof timer === 'object' && typeof timer.unref === 'function') timer.unref()
}

function update(uuids, change) {
  const list = read()
  for (const entry of list) {
    if (uuids.has(entry.client_uuid)) change(entry)
  }
  write(list)
}

function errorOf(error) {
  const code = (error && error.code) || 'server_error'
  return {
    code,
    message: messageOf(code, (error && error.message) || null),
    details: (error && error.details) || {},
  }
}

// Send the queued entries, oldest first, in batches of MAX_SYNC.  Resolves
// {sent, created, duplicate, error, pending, stopped}; stopped: why the
// rest stays queued ('waiting' for a Retry-After, 'offline', 'logged_out',
// 'refused' or null).  Never rejects.
function flush() {
  if (inflight) return inflight
  inflight = run().finally(() => {
    inflight = null
  })
  return inflight
}

async function run() {
  const summary = { sent: 0, created: 0, duplicate: 0, error: 0, pending: 0, stopped: null }
  const tried = new Set()
  const finish = (stopped) => {
    summary.stopped = stopped
    summary.pending = read().filter(isPending).length
    return summary
  }
  if (retryAt() > Date.now()) return finish('waiting')
  // Without a session nothing can be sent: the entries wait for the next
  // login (the login pages call flush())
  if (!session.isLoggedIn()) return finish('logged_out')
  for (;;) {
    const batch = read().filter((e) => e.state === 'queued' && !tried.has(e.client_uuid))
      .slice(0, MAX_SYNC)
    if (!batch.length) return finish(null)
    const uuids = new Set(batch.map((e) => e.client_uuid))
    for (const uuid of uuids) tried.add(uuid)
    update(uuids, (e) => {
      e.state = 'sending'
    })
    let answer
    try {
      answer = await checkin.sync(batch.map((e) => e.item))
    } catch (error) {
      const item = error && error.details && error.details.item
      if (error && !error.transient && error.status === 400 && Number.isInteger(item) &&
          batch[item]) {
        // One malformed item refuses the whole batch: that item is final
        // (it would be refused forever), the others go again
        const bad = batch[item].client_uuid
        update(uuids, (e) => {
          if (e.client_uuid === bad) {
            e.state = 'error'
            e.error = errorOf(error)
            summary.error += 1
          } else {
            e.state = 'queued'
            tried.delete(e.client_uuid)
          }
        })
        continue
      }
      update(uuids, (e) => {
        e.state = 'queued'
      })
      if (error && error.retryAfter) delay(error.retryAfter)
      if (error && error.status === 401) return finish('logged_out')
      if (error && error.transient) return finish(error.status === 0 ? 'offline' : 'waiting')
      // Anything else (a bad answer, 403...): kept for a later try
      return finish('refused')
    }
    const results = {}
    for (const r of (answer && answer.results) || []) results[r.client_uuid] = r
    summary.sent += batch.length
    update(uuids, (e) => {
      const r = results[e.client_uuid]
      if (!r) {
        // Not in the answer: sent again by a later flush
        e.state = 'queued'
        return
      }
      if (r.status === 'created' || r.status === 'duplicate') {
        e.state = r.status
        e.result = r.checkin || null
        e.done_at = new Date().toISOString()
      } else {
        e.state = 'error'
        e.error = errorOf(r.error)
        e.done_at = new Date().toISOString()
      }
      summary[e.state] += 1
    })
  }
}

// Send when the network comes back, and now
function start() {
  if (!listener) {
    listener = (res) => {
      if (res && res.isConnected) flush()
    }
    wx.onNetworkStatusChange(listener)
  }
  return flush()
}

// Tests and logout: no more listening
function stop() {
  if (listener && wx.offNetworkStatusChange) wx.offNetworkStatusChange(listener)
  listener = null
  if (timer) clearTimeout(timer)
  timer = null
}

// Drop the entries that are no longer queued (the member saw them)
function clearDone() {
  write(read().filter(isPending))
}

module.exports = {
  KEY, RETRY_KEY, MAX_SYNC, enqueue, items, pending, flush, start, stop, clearDone, retryAt,
}
