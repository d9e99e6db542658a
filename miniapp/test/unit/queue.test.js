// The offline queue of check-ins (utils/queue.js)
const test = require('node:test')
const assert = require('node:assert/strict')
const { load, login, routeOf, json, apiError, offline, flush } = require('./helpers.js')

function item(n) {
  return {
    qr_token: '7.100.' + 'a'.repeat(22), lat: 31.23, lon: 121.47,
    client_uuid: '00000000-0000-4000-8000-' + String(n).padStart(12, '0'),
    client_time: '2026-12-03T20:00:00.000+08:00',
  }
}

// A server of checkins/sync: answers what `answer(items)` says, records
// the batches; created the first time a uuid comes, duplicate after
function syncServer() {
  const seen = new Set()
  const batches = []
  let next = null
  const handler = (req) => {
    if (routeOf(req.url) !== 'checkins/sync') return apiError(404, 'not_found')
    batches.push(req.data.items)
    if (next) {
      const answer = next
      next = null
      return answer(req)
    }
    return json(200, {
      results: req.data.items.map((it, i) => {
        const status = seen.has(it.client_uuid) ? 'duplicate' : 'created'
        seen.add(it.client_uuid)
        return { client_uuid: it.client_uuid, status, checkin: { id: i + 1, status: 'valid' } }
      }),
    })
  }
  return { handler, batches, seen, once: (fn) => { next = fn } }
}

function setup(handler, options = {}) {
  const { wx, mod } = load(Object.assign({ request: handler }, options))
  if (!options.storage) login(wx)
  return { wx, mod, queue: mod('utils/queue.js'), events: mod('utils/events.js') }
}

test('offline: two check-ins queued; network back: one sync with both, same uuids', async () => {
  const server = syncServer()
  let online = false
  const { wx, queue } = setup((req) => (online ? server.handler(req) : offline()))
  queue.start()
  await flush()
  queue.enqueue(item(1))
  queue.enqueue(item(2))
  assert.equal(queue.pending(), 2)
  assert.equal(server.batches.length, 0)
  // A flush while offline sends nothing and keeps them
  const summary = await queue.flush()
  assert.equal(summary.stopped, 'offline')
  assert.equal(queue.pending(), 2)
  online = true
  wx.setNetwork(true)
  await flush()
  assert.equal(server.batches.length, 1)
  assert.deepEqual(server.batches[0].map((i) => i.client_uuid), [item(1).client_uuid, item(2).client_uuid])
  assert.equal(queue.pending(), 0)
  const entries = queue.items()
  assert.deepEqual(entries.map((e) => e.state), ['created', 'created'])
  // newest first
  assert.equal(entries[0].client_uuid, item(2).client_uuid)
  assert.equal(entries[0].result.status, 'valid')
  queue.stop()
})

test('an entry has the documented shape', () => {
  const { queue } = setup(() => offline())
  const entry = queue.enqueue(item(1))
  assert.equal(entry.client_uuid, item(1).client_uuid)
  assert.deepEqual(entry.item, item(1))
  assert.equal(entry.state, 'queued')
  assert.ok(!Number.isNaN(Date.parse(entry.queued_at)))
  // Enqueued twice (same uuid): kept once
  queue.enqueue(item(1))
  assert.equal(queue.pending(), 1)
})

test('resent after a failure with the same uuids; a duplicate answer counts as done', async () => {
  const server = syncServer()
  const { queue } = setup(server.handler)
  queue.enqueue(item(1))
  queue.enqueue(item(2))
  // The server recorded item 1 but the answer was lost
  server.seen.add(item(1).client_uuid)
  server.once(() => { throw new Error('connection reset') })
  let summary = await queue.flush()
  assert.equal(summary.stopped, 'offline')
  assert.equal(queue.pending(), 2)
  summary = await queue.flush()
  assert.equal(server.batches.length, 2)
  assert.deepEqual(server.batches[1].map((i) => i.client_uuid), server.batches[0].map((i) => i.client_uuid))
  assert.deepEqual(queue.items().map((e) => e.state), ['created', 'duplicate'])
  assert.equal(summary.duplicate, 1)
  assert.equal(summary.created, 1)
  assert.equal(queue.pending(), 0)
})

for (const [status, code] of [[500, 'internal_error'], [502, null], [503, 'service_unavailable'], [429, 'rate_limited']]) {
  test('a ' + status + ' keeps the items queued', async () => {
    const server = syncServer()
    const { queue } = setup(server.handler)
    queue.enqueue(item(1))
    server.once(() => (code ? apiError(status, code) : { statusCode: 502, data: '<html>502 Bad Gateway</html>', header: {} }))
    const summary = await queue.flush()
    assert.equal(summary.stopped, 'waiting')
    assert.equal(queue.pending(), 1)
    assert.equal(queue.items()[0].state, 'queued')
    await queue.flush()
    assert.equal(queue.items()[0].state, 'created')
    assert.equal(server.batches.length, 2)
  })
}

test('Retry-After: no flush before it', async () => {
  const server = syncServer()
  const { wx, queue } = setup(server.handler)
  queue.enqueue(item(1))
  server.once(() => apiError(429, 'rate_limited', 'slow down', {}, { 'Retry-After': '30' }))
  await queue.flush()
  assert.equal(server.batches.length, 1)
  assert.ok(queue.retryAt() > Date.now() + 25 * 1000)
  const summary = await queue.flush()
  assert.equal(summary.stopped, 'waiting')
  assert.equal(server.batches.length, 1, 'nothing sent before Retry-After')
  // Once the time has passed it goes
  wx.setStorageSync(queue.RETRY_KEY, Date.now() - 1)
  await queue.flush()
  assert.equal(server.batches.length, 2)
  assert.equal(queue.pending(), 0)
  queue.stop()
})

test('Retry-After as an HTTP date', async () => {
  const server = syncServer()
  const { queue } = setup(server.handler)
  queue.enqueue(item(1))
  const when = new Date(Date.now() + 120 * 1000).toUTCString()
  server.once(() => apiError(503, 'service_unavailable', 'busy', {}, { 'retry-after': when }))
  await queue.flush()
  assert.ok(queue.retryAt() > Date.now() + 100 * 1000)
  queue.stop()
})

test('batches of at most 100', async () => {
  const server = syncServer()
  const { queue } = setup(server.handler)
  for (let i = 1; i <= 250; i++) queue.enqueue(item(i))
  const summary = await queue.flush()
  assert.deepEqual(server.batches.map((b) => b.length), [100, 100, 50])
  // oldest first
  assert.equal(server.batches[0][0].client_uuid, item(1).client_uuid)
  assert.equal(summary.created, 250)
  assert.equal(queue.pending(), 0)
})

test('an item answered error is final, with its error in words', async () => {
  const server = syncServer()
  const { queue } = setup(server.handler, { lang: 'en' })
  queue.enqueue(item(1))
  queue.enqueue(item(2))
  server.once((req) => json(200, {
    results: [
      { client_uuid: item(1).client_uuid, status: 'created', checkin: { id: 1 } },
      { client_uuid: item(2).client_uuid, status: 'error', error: { code: 'qr_expired', message: 'QR code expired', details: {} } },
    ],
  }))
  await queue.flush()
  const [second, first] = queue.items()
  assert.equal(first.state, 'created')
  assert.equal(second.state, 'error')
  assert.equal(second.error.code, 'qr_expired')
  assert.equal(second.error.message, 'The code has expired: scan the current one')
  await queue.flush()
  assert.equal(server.batches.length, 1, 'an error is not sent again')
})

test('a 401 keeps them queued until the member logs in again', async () => {
  const server = syncServer()
  let refused = true
  const { wx, queue, events } = setup((req) => {
    if (routeOf(req.url) === 'auth/refresh') return apiError(401, 'unauthorized')
    if (refused) return apiError(401, 'unauthorized')
    return server.handler(req)
  })
  let logouts = 0
  events.on('logout', () => { logouts += 1 })
  queue.enqueue(item(1))
  let summary = await queue.flush()
  assert.equal(summary.stopped, 'logged_out')
  assert.equal(logouts, 1)
  assert.equal(queue.pending(), 1)
  // Logged out: nothing is tried
  const sent = wx.callsOf('request').length
  summary = await queue.flush()
  assert.equal(summary.stopped, 'logged_out')
  assert.equal(wx.callsOf('request').length, sent)
  refused = false
  login(wx)
  await queue.flush()
  assert.equal(queue.items()[0].state, 'created')
  assert.equal(server.batches[0][0].client_uuid, item(1).client_uuid)
})

test('survives a restart: queued entries, and one left sending is resent', async () => {
  const first = setup(() => offline())
  first.queue.enqueue(item(1))
  first.queue.enqueue(item(2))
  // The mini-program killed while a batch was in flight
  const stored = first.wx.getStorageSync(first.queue.KEY)
  stored[0].state = 'sending'
  first.wx.setStorageSync(first.queue.KEY, stored)
  const server = syncServer()
  const second = setup(server.handler, { storage: first.wx.storage })
  assert.equal(second.queue.pending(), 2)
  await second.queue.flush()
  assert.deepEqual(server.batches[0].map((i) => i.client_uuid), [item(1).client_uuid, item(2).client_uuid])
  assert.equal(second.queue.pending(), 0)
})

test('a flush in flight is shared', async () => {
  const server = syncServer()
  let release
  const gate = new Promise((r) => { release = r })
  const { queue } = setup(async (req) => {
    await gate
    return server.handler(req)
  })
  queue.enqueue(item(1))
  const a = queue.flush()
  const b = queue.flush()
  assert.equal(a, b)
  // While in flight the entry is 'sending' and still pending
  await flush()
  assert.equal(queue.items()[0].state, 'sending')
  assert.equal(queue.pending(), 1)
  release()
  await a
  assert.equal(server.batches.length, 1)
  // The next one is a new flush
  assert.notEqual(queue.flush(), a)
})

test('a check-in queued while a flush is in flight is not lost', async () => {
  const server = syncServer()
  let release
  const gate = new Promise((r) => { release = r })
  const { queue } = setup(async (req) => {
    await gate
    return server.handler(req)
  })
  queue.enqueue(item(1))
  const running = queue.flush()
  await flush()
  queue.enqueue(item(2))
  release()
  await running
  // item 2 came after the batch was made: the same flush sends it next
  assert.deepEqual(server.batches.map((b) => b.map((i) => i.client_uuid)),
    [[item(1).client_uuid], [item(2).client_uuid]])
  assert.equal(queue.pending(), 0)
})

test('events: queue with the pending count on every change; clearDone', async () => {
  const server = syncServer()
  const { queue, events } = setup(server.handler)
  const seen = []
  events.on('queue', (p) => seen.push(p.pending))
  queue.enqueue(item(1))
  queue.enqueue(item(2))
  await queue.flush()
  assert.deepEqual(seen.slice(0, 2), [1, 2])
  assert.equal(seen[seen.length - 1], 0)
  assert.equal(queue.items().length, 2)
  queue.enqueue(item(3))
  queue.clearDone()
  assert.deepEqual(queue.items().map((e) => e.client_uuid), [item(3).client_uuid])
  assert.equal(seen[seen.length - 1], 1)
})

test('a malformed item refusing the batch is final, the others go', async () => {
  const server = syncServer()
  const { queue } = setup(server.handler)
  queue.enqueue(item(1))
  queue.enqueue(item(2))
  server.once(() => apiError(400, 'invalid_request', 'bad item', { item: 1 }))
  await queue.flush()
  const [second, first] = queue.items()
  assert.equal(second.state, 'error')
  assert.equal(second.error.code, 'invalid_request')
  assert.equal(first.state, 'created')
  assert.deepEqual(server.batches[1].map((i) => i.client_uuid), [item(1).client_uuid])
})
