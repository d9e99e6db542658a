// The points ledger (me/points, newest first): date, points ±, reason
// (already in the member's language), balance after; paginated, pull to
// refresh.
const me = require('../../services/me.js')
const { words, t } = require('../../utils/i18n.js')
const paged = require('../../components/paged/paged.js')

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
  behaviors: [paged],

  data: {
    w: {},
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

    fetchPage(page) {
      return me.points(page)
    },

    itemView: lineView,
  },
})
