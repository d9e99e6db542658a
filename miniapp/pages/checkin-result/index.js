// The outcome of a check-in in words (saved by the home page, outcome.js):
// created (event, time, points, balance, streak), flagged (accepted, the
// reasons), queued (saved, sent when the network returns), refused (the
// reason and what to do: out_of_range its distance and radius,
// already_checked_in the time of the existing check-in, an expired or
// foreign QR to scan again, location refused with a button to the
// settings), cancelled (back).  A check-in to an event that records
// leaving offers a check-out (also from already_checked_in: the member
// scans the door's code again when leaving).
const queue = require('../../utils/queue.js')
const events = require('../../utils/events.js')
const { words, t, has } = require('../../utils/i18n.js')
const flow = require('../../utils/checkin-flow.js')
const checkinService = require('../../services/checkin.js')
const { uuid4 } = require('../../utils/uuid.js')
const { take, save } = require('./outcome.js')
const session = require('../../utils/session.js')
const { loginUrl } = require('../login/after-login.js')

// "2026-12-03T09:05:00+08:00" → "2026-12-03 09:05" (the event's local time)
const { when } = require('../../utils/view.js')

// The check-in to check out of, if its event records leaving and it is
// not checked out yet
function toCheckOut(checkin) {
  return checkin && checkin.record_leaving && !checkin.checkout_time ? checkin : null
}

// The lines of a check-out: its time and the duration
function checkoutLines(checkin) {
  return [
    t('result.checkoutTime', { time: when(checkin.checkout_time) }),
    t('result.duration', { minutes: checkin.duration_min || 0 }),
  ]
}

// A reason of a flagged check-in (or of a refusal) in words
function reasonText(code) {
  const key = 'result.reason_' + code
  return has(key) ? t(key) : code
}

// The lines under the message of a refusal: the figures that help
function refusalLines(error) {
  const d = error.details || {}
  const lines = []
  if (error.code === 'out_of_range' && d.distance_m !== undefined && d.distance_m !== null) {
    lines.push(t('result.distance', { distance: d.distance_m, radius: d.radius_m }))
  } else if (error.code === 'out_of_range' && d.reason === 'no_position') {
    lines.push(t('result.noPosition'))
  }
  if (error.code === 'already_checked_in' && d.checkin && d.checkin.time) {
    lines.push(t('result.existing', { time: when(d.checkin.time) }))
  }
  if (error.code === 'qr_expired' || error.code === 'invalid_token') {
    lines.push(t('result.scanAgain'))
  }
  if (error.code === 'not_a_checkin_code') lines.push(t('result.otherApp'))
  return lines
}

Component({
  data: {
    w: {},
    kind: '', // created, flagged, queued, refused
    icon: 'success',
    title: '',
    lines: [],
    pending: 0,
    settings: false, // the button to allow the location
    rescan: false,
    scanning: false,
    event: '',
    checkout: null, // the check-in to check out of
    checkingOut: false,
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('result') })
      this.offQueue = events.on('queue', ({ pending }) => this.setData({ pending }))
    },
    detached() {
      if (this.offQueue) this.offQueue()
    },
  },

  methods: {
    // Opened by the home page (the outcome saved), or by WeChat's scanner:
    // q (the kiosk's QR link) or scene (an entry code) start the check-in
    onLoad(query = {}) {
      wx.setNavigationBarTitle({ title: t('result.nav') })
      if (flow.launchCode(query)) {
        this.launch(query)
        return
      }
      const result = take()
      if (!result || result.outcome === 'cancelled') {
        wx.navigateBack()
        return
      }
      this.show(result)
    },

    show(result) {
      const kind = result.outcome
      if (kind === 'created' || kind === 'flagged') {
        const c = result.checkin || {}
        const m = result.member || {}
        const lines = [
          t('result.time', { time: when(c.time) }),
          t('result.points', { points: c.points_awarded || 0 }),
          t('result.balance', { points: m.points_balance, streak: m.streak_days }),
        ]
        if (kind === 'flagged') {
          lines.unshift(t('result.reasons', {
            reasons: (c.reasons || []).map(reasonText).join(t('result.separator')),
          }))
        }
        this.setData({
          kind, icon: kind === 'created' ? 'success' : 'info',
          title: t(kind === 'created' ? 'result.created' : 'result.flagged'), lines,
          // the server names the event in the answer (event_name)
          event: c.event_name || '',
          checkout: toCheckOut(c),
        })
      } else if (kind === 'queued') {
        this.setData({
          kind, icon: 'waiting', title: t('result.queued'), lines: [t('result.queuedHint')],
          pending: queue.pending(),
        })
      } else {
        const error = result.error || { code: 'server_error', message: t('error.server_error') }
        this.setData({
          kind: 'refused', icon: 'warn', title: error.message, lines: refusalLines(error),
          settings: error.code === 'location_denied',
          rescan: ['qr_expired', 'invalid_token', 'not_a_checkin_code'].includes(error.code),
          checkout: error.code === 'already_checked_in'
            ? toCheckOut((error.details || {}).checkin) : null,
        })
      }
    },

    async launch(query) {
      if (!session.isLoggedIn()) {
        const code = flow.launchCode(query)
        const back = '/pages/checkin-result/index?' + (code.q !== undefined
          ? 'q=' + encodeURIComponent(code.q) : 'scene=' + encodeURIComponent(code.scene))
        wx.reLaunch({ url: loginUrl(back) })
        return
      }
      this.setData({ scanning: true })
      let result
      try {
        result = await flow.launch(query)
      } catch (error) {
        result = { outcome: 'refused', error }
      }
      this.setData({ scanning: false })
      if (!result || result.outcome === 'cancelled') {
        wx.reLaunch({ url: '/pages/home/index' })
        return
      }
      save(result)
      this.show(take())
      if (result.event && !this.data.event) this.setData({ event: result.event })
    },

    // Scan the code on the screen again, here: the new outcome replaces this
    async rescan() {
      if (this.data.scanning) return
      this.setData({ scanning: true })
      let result
      try {
        result = await flow.scanAndCheckIn()
      } catch (error) {
        result = { outcome: 'refused', error }
      }
      this.setData({ scanning: false })
      if (result.outcome === 'cancelled') return
      save(result)
      this.setData({ event: '', settings: false, rescan: false, lines: [] })
      this.show(take())
    },

    // Check out of the event of the check-in shown: its time and duration
    // replace the lines; already_checked_out shows the first check-out
    async checkOut() {
      const checkin = this.data.checkout
      if (!checkin || this.data.checkingOut) return
      this.setData({ checkingOut: true })
      try {
        const answer = await checkinService.checkout({
          event_id: checkin.event_id, client_uuid: uuid4(),
        })
        this.setData({
          kind: 'created', icon: 'success', title: t('result.checkedOut'),
          lines: checkoutLines(answer.checkin), checkout: null, rescan: false,
        })
      } catch (error) {
        const existing = (error.details || {}).checkin
        if (error.code === 'already_checked_out' && existing) {
          this.setData({
            kind: 'created', icon: 'success', title: t('result.checkedOut'),
            lines: checkoutLines(existing), checkout: null,
          })
        } else {
          this.setData({
            kind: 'refused', icon: 'warn', title: error.message, lines: [], checkout: null,
          })
        }
      }
      this.setData({ checkingOut: false })
    },

    openSettings() {
      wx.openSetting({})
    },

    back() {
      wx.navigateBack()
    },
  },
})
