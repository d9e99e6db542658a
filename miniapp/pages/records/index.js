// My records: on top the offline queue (each check-in waiting or sent,
// with its state and result or error; "send now" and "clear sent"), then
// my check-ins (me/checkins, newest first, paginated, pull to refresh).
const checkins = require('../../services/checkin.js')
const queue = require('../../utils/queue.js')
const events = require('../../utils/events.js')
const session = require('../../utils/session.js')
const { words, t, has } = require('../../utils/i18n.js')
const { loginUrl } = require('../login/after-login.js')
const paged = require('../../components/paged/paged.js')

// "2026-12-03T09:05:00+08:00" → "2026-12-03 09:05" (the event's local time)
const { when } = require('../../utils/view.js')

function word(prefix, code) {
  return has(prefix + code) ? t(prefix + code) : code
}

// A queue entry as the member reads it
function entryView(entry) {
  const view = {
    id: entry.client_uuid,
    state: entry.state,
    stateText: word('records.state_', entry.state),
    time: when(entry.item && entry.item.client_time),
    detail: '',
  }
  if (entry.state === 'error' && entry.error) view.detail = entry.error.message
  if ((entry.state === 'created' || entry.state === 'duplicate') && entry.result) {
    view.detail = t('records.points', { points: entry.result.points_awarded || 0 })
  }
  return view
}

function checkinView(c) {
  return {
    id: c.id,
    event: c.event_name || '',
    time: when(c.time),
    status: c.status,
    statusText: word('records.status_', c.status),
    methodText: word('records.method_', c.method),
    points: c.points_awarded ? t('records.points', { points: c.points_awarded }) : '',
    offline: !!c.offline,
  }
}

Component({
  behaviors: [paged],

  data: {
    w: {},
    queued: [],
    pending: 0,
    flushing: false,
    flushNote: '',
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('records') })
      this.offQueue = events.on('queue', () => this.showQueue())
    },
    detached() {
      if (this.offQueue) this.offQueue()
    },
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('records.nav') })
      if (!session.isLoggedIn()) {
        wx.redirectTo({ url: loginUrl('/pages/records/index') })
        return
      }
      this.reload()
    },

    onShow() {
      this.showQueue()
    },

    onPullDownRefresh() {
      this.showQueue()
      this.reload().then(() => wx.stopPullDownRefresh())
    },

    showQueue() {
      const entries = queue.items()
      this.setData({ queued: entries.map(entryView), pending: queue.pending() })
      // Check-ins the queue got recorded (by "send now" or by itself when
      // the network came back) are my check-ins now: read the list again
      const done = entries.filter((e) => e.state === 'created').length
      if (this.created !== undefined && done > this.created && this.data.status !== 'loading') this.reload()
      this.created = done
    },

    fetchPage(page) {
      return checkins.mine(page)
    },

    itemView: checkinView,

    // Send the queued check-ins now; whatever cannot go stays queued
    async flush() {
      if (this.data.flushing) return
      this.setData({ flushing: true, flushNote: '' })
      const summary = await queue.flush()
      this.showQueue()
      const note = summary.pending && summary.stopped
        ? word('records.stopped_', summary.stopped) : ''
      this.setData({ flushing: false, flushNote: note })
    },

    clearDone() {
      queue.clearDone()
      this.showQueue()
    },
  },
})
