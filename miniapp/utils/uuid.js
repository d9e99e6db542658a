// RFC 4122 version 4 UUIDs: the client_uuid of a check-in, by which the
// server recognizes an item sent twice (the offline queue resends).
//
// uuid4() must answer at once, but WeChat's wx.getRandomValues answers in a
// callback: a pool of random bytes is filled from it in the background and
// used while it lasts; without it (or before it answered) the bytes come
// from crypto.getRandomValues when the engine has it, else Math.random.
// Uniqueness is what matters here, not secrecy.
const POOL_SIZE = 256

let pool = []
let filling = false

function refill() {
  if (filling || typeof wx === 'undefined' || typeof wx.getRandomValues !== 'function') return
  filling = true
  try {
    wx.getRandomValues({
      length: POOL_SIZE,
      success: (res) => {
        pool = pool.concat(Array.from(new Uint8Array(res.randomValues)))
      },
      complete: () => {
        filling = false
      },
    })
  } catch (e) {
    filling = false
  }
}

function randomBytes(n) {
  if (pool.length < n) refill()
  if (pool.length >= n) return pool.splice(0, n)
  const bytes = new Uint8Array(n)
  const engine = typeof crypto !== 'undefined' ? crypto : null
  if (engine && typeof engine.getRandomValues === 'function') {
    engine.getRandomValues(bytes)
  } else {
    for (let i = 0; i < n; i++) bytes[i] = Math.floor(Math.random() * 256)
  }
  return Array.from(bytes)
}

function hex(byte) {
  return (byte + 0x100).toString(16).slice(1)
}

function uuid4() {
  const b = randomBytes(16)
  b[6] = (b[6] & 0x0f) | 0x40 // version 4
  b[8] = (b[8] & 0x3f) | 0x80 // variant 10xx (RFC 4122)
  const h = b.map(hex)
  return h.slice(0, 4).join('') + '-' + h.slice(4, 6).join('') + '-' + h.slice(6, 8).join('') +
    '-' + h.slice(8, 10).join('') + '-' + h.slice(10, 16).join('')
}

// Tests: forget the pool
function reset() {
  pool = []
  filling = false
}

module.exports = { uuid4, reset }
