// Answers of the API shaped as modules/miniprogram/serializers.py makes
// them, shared by the member page tests
const MEMBER = {
  id: 7, name: '张三', phone: '138****0000',
  tier: { code: 'gold', name: '金卡', discount: '10.00' },
  points_balance: 120, streak_days: 3, best_streak: 9, joined: '2026-11-01',
  avatar_url: null, address: '上海市人民路 1 号', expiring: null,
}

const TOKENS = {
  access_token: 'access-1', refresh_token: 'refresh-1', token_type: 'Bearer', expires_in: 900,
  member: MEMBER,
}

function checkin(fields = {}) {
  return Object.assign({
    id: 31, event_id: 5, event_name: '年度会员大会', member_id: 7, time: '2026-12-03T09:05:00+08:00', status: 'valid',
    method: 'qr', distance_m: 12, points_awarded: 10, late: false, reasons: [],
    client_uuid: null, offline: false,
  }, fields)
}

// Type into an <input> of the page as the member does
function type(comp, id, value) {
  comp.querySelector('#' + id).dispatchEvent('input', { detail: { value } })
}

function tap(comp, id) {
  const node = comp.querySelector('#' + id)
  if (!node) throw new Error('nothing to tap: #' + id)
  node.dispatchEvent('tap')
}

module.exports = { MEMBER, TOKENS, checkin, type, tap }
