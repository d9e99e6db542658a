// A tiny event bus of the client: 'logout' (the session ended: refresh
// refused), 'online' / 'offline' (network), 'queue' (the offline queue
// changed).  Pages subscribe in attached/onShow and unsubscribe when they go.
const handlers = {}

function on(name, fn) {
  (handlers[name] = handlers[name] || []).push(fn)
  return () => off(name, fn)
}

function off(name, fn) {
  handlers[name] = (handlers[name] || []).filter((h) => h !== fn)
}

function emit(name, payload) {
  for (const fn of (handlers[name] || []).slice()) {
    try {
      fn(payload)
    } catch (e) {
      console.error('event handler of %s failed', name, e)
    }
  }
}

function reset() {
  for (const name of Object.keys(handlers)) delete handlers[name]
}

module.exports = { on, off, emit, reset }
