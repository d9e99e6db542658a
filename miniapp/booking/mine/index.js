// The member's bookings (newest first, their state in words) and waiting
// list entries: a place offered can be taken (until it expires) and an
// entry left.  Pull down to refresh; shown again, the lists are reloaded.
const { t } = require('../../utils/i18n.js')
const booking = require('../../services/booking.js')
const me = require('../../services/me.js')
const util = require('../util.js')
const countdown = require('../../components/countdown/countdown.js')

const LIMIT = 50

function bookingView(b) {
  return {
    id: b.id,
    service: b.service.name,
    when: util.when(b.start, b.end),
    state: b.state,
    stateText: util.stateText(b.state),
    price: util.money(b.amount_due || b.final_price, b.currency),
  }
}

// highlight: the entry a message of the waiting list opened the page for
function entryView(e, highlight) {
  let status = t('mine.entry.' + e.state)
  if (e.state === 'waiting' && e.position) status = t('mine.entry.waiting_at', { position: e.position })
  if (e.state === 'offered' && e.offer) {
    status = t('mine.entry.offered_until', { time: util.when(e.offer.expires), resource: e.offer.resource.name })
  }
  return {
    id: e.id,
    service: e.service.name,
    when: util.when(e.start, e.end),
    state: e.state,
    status,
    canAccept: e.state === 'offered',
    canLeave: e.state === 'waiting' || e.state === 'offered',
    highlight: e.id === highlight,
  }
}

Component({
  behaviors: [countdown],

  data: {
    status: 'loading',
    error: null,
    bookings: [],
    entries: [],
    highlight: null,
    busy: false,
    actionError: '',
    wait: 0,
    waitText: '',
    text: {},
  },

  methods: {
    // ?waitlist=ENTRY_ID: opened from a message about that entry
    onLoad(query) {
      wx.setNavigationBarTitle({ title: t('mine.title') })
      this.setData({
        highlight: query && query.waitlist ? Number(query.waitlist) : null,
        text: {
          empty: t('mine.empty'),
          bookings: t('mine.bookings'),
          waitlist: t('mine.waitlist'),
          accept: t('mine.accept'),
          leave: t('mine.leave'),
        },
      })
    },

    onShow() {
      this.load()
    },

    async load() {
      if (!this.data.bookings.length && !this.data.entries.length) {
        this.setData({ status: 'loading', error: null })
      }
      try {
        const [bookings, entries] = await Promise.all([
          me.bookings({ limit: LIMIT }),
          booking.myWaitlist({ limit: LIMIT }),
        ])
        const b = (bookings.items || []).map(bookingView)
        const e = (entries.items || []).map((entry) => entryView(entry, this.data.highlight))
        this.setData({ bookings: b, entries: e, status: b.length || e.length ? 'ok' : 'empty' })
      } catch (error) {
        this.setData({ status: 'error', error: util.errorView(error) })
      }
    },

    async onPullDownRefresh() {
      await this.load()
      wx.stopPullDownRefresh()
    },

    onOpen(event) {
      wx.navigateTo({ url: '/booking/detail/index?id=' + event.currentTarget.dataset.id })
    },

    async onAccept(event) {
      if (this.data.busy || this.data.wait > 0) return
      this.setData({ busy: true, actionError: '' })
      try {
        const answer = await booking.acceptOffer(event.currentTarget.dataset.id)
        this.setData({ busy: false })
        wx.navigateTo({ url: '/booking/detail/index?id=' + answer.booking.id })
      } catch (error) {
        util.actionFailed(this, error)
        // an offer that expired is no longer one: show the list as it is
        if (error.code === 'offer_expired' || error.code === 'invalid_state') this.load()
      }
    },

    async onLeave(event) {
      if (this.data.busy || this.data.wait > 0) return
      this.setData({ busy: true, actionError: '' })
      try {
        await booking.leaveWaitlist(event.currentTarget.dataset.id)
        this.setData({ busy: false })
        wx.showToast({ title: t('mine.left'), icon: 'success' })
        await this.load()
      } catch (error) {
        util.actionFailed(this, error)
      }
    },
  },
})
