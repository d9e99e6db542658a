// One booking of the member: when, with whom, where, its price from list
// price to amount due, and what can be done in its state: cancel (after a
// confirmation), reschedule, rate once done, or read and change the
// rating within its edit window.
const { t } = require('../../utils/i18n.js')
const booking = require('../../services/booking.js')
const util = require('../util.js')
const countdown = require('../../components/countdown/countdown.js')
const { tagText } = require('../tags.js')

const CANCELLABLE = ['draft', 'pending', 'confirmed']
const RESCHEDULABLE = ['pending', 'confirmed']

function view(b) {
  return {
    id: b.id,
    state: b.state,
    stateText: util.stateText(b.state),
    service: b.service,
    when: util.when(b.start, b.end),
    resource: b.resource ? b.resource.name : '',
    address: b.address || '',
    note: b.note || '',
    pointsEarned: b.points_earned || 0,
    checkedIn: b.checked_in_at ? util.when(b.checked_in_at) : '',
    checkedOut: b.checked_out_at ? util.when(b.checked_out_at) : '',
    canCancel: CANCELLABLE.indexOf(b.state) >= 0,
    canReschedule: RESCHEDULABLE.indexOf(b.state) >= 0,
  }
}

function ratingView(r) {
  return {
    stars: '★★★★★'.slice(0, r.stars) + '☆☆☆☆☆'.slice(0, 5 - r.stars),
    tags: (r.tags || []).map(tagText).join(' · '),
    comment: r.comment || '',
    hidden: !!r.hidden,
    editable: !!r.editable,
    deadline: util.when(r.edit_deadline),
  }
}

Component({
  behaviors: [countdown],

  data: {
    id: null,
    status: 'loading',
    error: null,
    booking: null,
    raw: null,
    rating: null,
    ratingKnown: false,
    busy: false,
    actionError: '',
    wait: 0,
    waitText: '',
    text: {},
  },

  methods: {
    onLoad(query) {
      wx.setNavigationBarTitle({ title: t('detail.title') })
      this.setData({
        id: Number(query.id),
        text: {
          when: t('detail.when'),
          resource: t('detail.resource'),
          address: t('detail.address'),
          note: t('detail.note'),
          pointsEarned: t('detail.points_earned'),
          checkedIn: t('detail.checked_in'),
          checkedOut: t('detail.checked_out'),
          cancel: t('detail.cancel'),
          reschedule: t('detail.reschedule'),
          rate: t('detail.rate'),
          rating: t('detail.rating'),
          edit: t('detail.edit_rating'),
          hidden: t('detail.hidden'),
        },
      })
    },

    // Loaded on show: back from the rate or slots page, it is up to date
    onShow() {
      this.load()
    },

    async load() {
      if (!this.data.booking) this.setData({ status: 'loading', error: null })
      try {
        const answer = await booking.get(this.data.id)
        const b = answer.booking
        // The booking tells its rating (null: not rated yet)
        this.setData({
          status: 'ok', booking: view(b), raw: b,
          rating: b.rating ? ratingView(b.rating) : null, ratingKnown: b.rating !== undefined,
        })
      } catch (error) {
        this.setData({ status: 'error', error: util.errorView(error) })
      }
    },

    onCancel() {
      if (this.data.busy || this.data.wait > 0) return
      this.setData({ busy: true, actionError: '' })
      wx.showModal({
        title: t('detail.cancel_title'),
        content: t('detail.cancel_confirm'),
        confirmText: t('detail.cancel_yes'),
        cancelText: t('detail.cancel_no'),
        success: (res) => {
          if (res.confirm) this.cancel()
          else this.setData({ busy: false })
        },
        fail: () => this.setData({ busy: false }),
      })
    },

    async cancel() {
      try {
        const answer = await booking.cancel(this.data.id)
        this.setData({ busy: false, booking: view(answer.booking), raw: answer.booking })
        wx.showToast({ title: t('detail.cancelled'), icon: 'success' })
      } catch (error) {
        util.actionFailed(this, error)
      }
    },

    onReschedule() {
      wx.navigateTo({
        url: '/booking/slots/index?reschedule=' + this.data.id + '&service=' + this.data.booking.service.id,
      })
    },

    onRate() {
      wx.navigateTo({ url: '/booking/rate/index?id=' + this.data.id })
    },
  },
})
