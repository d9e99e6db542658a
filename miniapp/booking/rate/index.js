// Rate a done booking: 1 to 5 stars, the fixed tags, a comment.  When the
// member rated it already (the booking's rating), the page changes that rating
// (PATCH) instead, within its edit window.
const { t } = require('../../utils/i18n.js')
const booking = require('../../services/booking.js')
const util = require('../util.js')
const countdown = require('../../components/countdown/countdown.js')
const { TAGS, tagText } = require('../tags.js')

Component({
  behaviors: [countdown],

  data: {
    id: null,
    status: 'loading',
    error: null,
    editing: false,
    stars: 0,
    starList: [1, 2, 3, 4, 5],
    tags: [],
    comment: '',
    busy: false,
    actionError: '',
    wait: 0,
    waitText: '',
    text: {},
  },

  methods: {
    onLoad(query) {
      this.setData({
        id: Number(query.id),
        text: {
          stars: t('rate.stars'),
          tags: t('rate.tags'),
          comment: t('rate.comment'),
          placeholder: t('rate.placeholder'),
          submit: t('rate.submit'),
          save: t('rate.save'),
          pickStars: t('rate.pick_stars'),
        },
      })
      this.load()
    },

    // The member's rating of this booking, if any, to change it
    async load() {
      this.setData({ status: 'loading', error: null })
      try {
        const answer = await booking.get(this.data.id)
        const rating = answer.booking.rating || null
        const chosen = rating ? rating.tags || [] : []
        this.setData({
          status: 'ok',
          editing: !!rating,
          stars: rating ? rating.stars : 0,
          comment: rating ? rating.comment || '' : '',
          tags: TAGS.map((code) => ({ code, text: tagText(code), on: chosen.indexOf(code) >= 0 })),
        })
        wx.setNavigationBarTitle({ title: t(rating ? 'rate.title_edit' : 'rate.title') })
      } catch (error) {
        this.setData({ status: 'error', error: util.errorView(error) })
      }
    },

    onStar(event) {
      this.setData({ stars: Number(event.currentTarget.dataset.stars), actionError: '' })
    },

    onTag(event) {
      const code = event.currentTarget.dataset.code
      this.setData({
        tags: this.data.tags.map((tag) => (tag.code === code ? Object.assign({}, tag, { on: !tag.on }) : tag)),
      })
    },

    onComment(event) {
      this.setData({ comment: event.detail.value })
    },

    async onSubmit() {
      if (this.data.busy || this.data.wait > 0) return
      if (!this.data.stars) {
        this.setData({ actionError: t('rate.pick_stars') })
        return
      }
      this.setData({ busy: true, actionError: '' })
      const rating = {
        stars: this.data.stars,
        comment: this.data.comment.trim() || null,
        tags: this.data.tags.filter((tag) => tag.on).map((tag) => tag.code),
      }
      try {
        if (this.data.editing) await booking.changeRating(this.data.id, rating)
        else await booking.rate(this.data.id, rating)
        this.setData({ busy: false })
        wx.showToast({ title: t('rate.thanks'), icon: 'success' })
        // Back to the booking; opened from a message, there is none to
        // go back to: open it
        if (getCurrentPages().length > 1) wx.navigateBack({ delta: 1 })
        else wx.redirectTo({ url: '/booking/detail/index?id=' + this.data.id })
      } catch (error) {
        util.actionFailed(this, error)
      }
    },
  },
})
