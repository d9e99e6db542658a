// The live page of an event for its organizer: the figures (refreshed
// every 10 s while the page is shown), the current rotating QR code
// (fetched again when its window ends) and the kiosk link for a screen at
// the door, with the dashboard's, to copy (a mini-program cannot open a
// web page).  Members appear by their masked names only, as the API gives
// them.
const { t } = require('../../utils/i18n.js')
const organizer = require('../../services/organizer.js')
const util = require('../../utils/view.js')
const countdown = require('../../components/countdown/countdown.js')

const STATS_EVERY_MS = 10 * 1000

function statsView(s) {
  const max = Math.max(1, ...(s.by_bucket || []).map((b) => b.count))
  return {
    expected: s.expected === null || s.expected === undefined ? '—' : s.expected,
    checkedIn: s.checked_in,
    rate: s.rate === null || s.rate === undefined ? '—' : Math.round(s.rate * 100) + '%',
    late: s.late,
    flagged: s.flagged,
    buckets: (s.by_bucket || []).map((b) => ({
      time: util.hhmm(b.start), count: b.count, width: Math.round((b.count / max) * 100),
    })),
    recent: (s.recent || []).map((r, i) => ({
      key: r.id || i,
      member: r.member, // masked by the server (Wang **)
      time: util.hhmm(r.time),
      status: r.status ? t('org_event.status.' + r.status) : '',
    })),
  }
}

Component({
  behaviors: [countdown],

  data: {
    id: null,
    status: 'loading',
    error: null,
    stats: null,
    qr: null,
    qrError: '',
    kiosk: null,
    busy: false,
    actionError: '',
    wait: 0,
    waitText: '',
    text: {},
  },

  lifetimes: {
    detached() {
      this.stop()
    },
  },

  methods: {
    onLoad(query) {
      wx.setNavigationBarTitle({ title: t('org_event.title') })
      this.setData({
        id: Number(query.id),
        text: {
          expected: t('org_event.expected'),
          checkedIn: t('org_event.checked_in'),
          rate: t('org_event.rate'),
          late: t('org_event.late'),
          flagged: t('org_event.flagged'),
          buckets: t('org_event.buckets'),
          recent: t('org_event.recent'),
          qr: t('org_event.qr'),
          kiosk: t('org_event.kiosk'),
          kioskHint: t('org_event.kiosk_hint'),
          kioskUrl: t('org_event.kiosk_url'),
          dashboardUrl: t('org_event.dashboard_url'),
          copy: t('org_event.copy'),
        },
      })
    },

    // Figures and code only while the page is seen
    onShow() {
      this.stop()
      this.loadStats()
      this.loadQr()
      this.statsTimer = setInterval(() => this.loadStats(), STATS_EVERY_MS)
    },

    onHide() {
      this.stop()
    },

    onUnload() {
      this.stop()
    },

    stop() {
      if (this.statsTimer) clearInterval(this.statsTimer)
      if (this.qrTimer) clearTimeout(this.qrTimer)
      this.statsTimer = null
      this.qrTimer = null
    },

    // 403: the user does not organize this event; nothing to refresh
    failed(error) {
      const view = util.errorView(error)
      if (error.status === 403) {
        view.message = t('org_event.forbidden')
        this.stop()
      }
      this.setData({ status: 'error', error: view })
    },

    async loadStats() {
      try {
        const stats = await organizer.stats(this.data.id)
        this.setData({ status: 'ok', stats: statsView(stats) })
      } catch (error) {
        // A refresh that fails keeps the last figures on screen
        if (!this.data.stats || error.status === 403) this.failed(error)
      }
    },

    async loadQr() {
      if (this.qrTimer) clearTimeout(this.qrTimer)
      this.qrTimer = null
      try {
        const qr = await organizer.qr(this.data.id)
        this.setData({ qr: { src: 'data:image/png;base64,' + qr.png, expires: util.hhmm(qr.expires_at) }, qrError: '' })
        // The next code when this one's window ends (at least 1 s later)
        if (this.statsTimer) {
          this.qrTimer = setTimeout(() => this.loadQr(), Math.max(1, Number(qr.refresh_in) || 1) * 1000)
        }
      } catch (error) {
        if (error.status === 403) this.failed(error)
        else this.setData({ qrError: error.message })
      }
    },

    async onKiosk() {
      if (this.data.busy || this.data.wait > 0) return
      this.setData({ busy: true, actionError: '' })
      try {
        const answer = await organizer.kioskToken(this.data.id)
        this.setData({
          busy: false,
          kiosk: {
            kioskUrl: answer.kiosk_url,
            dashboardUrl: answer.dashboard_url,
            expires: t('org_event.expires', { time: util.when(answer.expires_at) }),
          },
        })
      } catch (error) {
        util.actionFailed(this, error, { message: error.status === 403 ? t('org_event.forbidden') : null })
      }
    },

    onCopy(event) {
      const which = event.currentTarget.dataset.which
      const data = which === 'dashboard' ? this.data.kiosk.dashboardUrl : this.data.kiosk.kioskUrl
      wx.setClipboardData({
        data,
        success: () => wx.showToast({ title: t('org_event.copied'), icon: 'success' }),
      })
    },
  },
})
