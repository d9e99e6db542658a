// The points ledger (me/points, newest first): date, points ±, reason
// (already in the member's language), balance after; paginated, pull to
// refresh.
const me = require('../../services/me.js')
const { words, t } = require('../../utils/i18n.js')

const LIMIT = 20

function lineView(line) {
  return {
    id: line.id,
    date: String(line.date || '').slice(0, 10),
    points: line.points > 0 ? '+' + line.points : String(line.points),
    gain: line.points > 0,
    reason: line.reason,
    balance: t('points.balanceAfter', { points: line.balance_after }),
    expires: line.expires && line.remaining ? t('points.expires', { date: line.expires }) : '',
  }
}

Component({
  data: {
    w: {},
    status: 'loading',
    error: null,
    items: [],
    total: 0,
    more: false,
    moreError: '',
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('points') })
    },
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('points.nav') })
      this.reload()
    },

    onPullDownRefresh() {
      this.reload().then(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      this.loadMore()
    },

    async reload() {
      this.setData({ status: 'loading', error: null, moreError: '' })
      try {
        const answer = await me.points({ limit: LIMIT, offset: 0 })
        const items = answer.items.map(lineView)
        this.setData({ items, total: answer.total, status: items.length ? 'ok' : 'empty' })
      } catch (error) {
        this.setData({ status: 'error', error: { message: error.message, retryAfter: error.retryAfter } })
      }
    },

    async loadMore() {
      if (this.data.more || this.data.status !== 'ok' || this.data.items.length >= this.data.total) return
      this.setData({ more: true, moreError: '' })
      try {
        const answer = await me.points({ limit: LIMIT, offset: this.data.items.length })
        this.setData({ items: this.data.items.concat(answer.items.map(lineView)), total: answer.total })
      } catch (error) {
        this.setData({ moreError: error.message })
      } finally {
        this.setData({ more: false })
      }
    },
  },
})
