// The services tab: the bookable services with the member's price (the
// tier discount), their rating, page by page; a tap opens the slots.
const { t } = require('../../utils/i18n.js')
const booking = require('../../services/booking.js')

const LIMIT = 20

function price(amount, currency) {
  if (amount === null || amount === undefined) return ''
  return !currency || currency === 'CNY' ? '¥' + amount : amount + ' ' + currency
}

// A service of the API as the list shows it
function view(service) {
  const discounted = service.member_price !== null && service.price !== null &&
    service.member_price !== service.price
  const count = service.count !== undefined ? service.count : service.rating_count
  const average = service.average !== undefined ? service.average : service.rating_average
  return {
    id: service.id,
    name: service.name,
    description: service.description,
    duration: t('services.duration', { minutes: service.duration_min }),
    price: price(service.price, service.currency),
    memberPrice: price(service.member_price, service.currency),
    discounted,
    discountText: discounted && service.discount_percent
      ? t('services.discount', { percent: Number(service.discount_percent) }) : '',
    rating: count > 0 && average !== null && average !== undefined
      ? t('services.rating', { average: Number(average).toFixed(1), count }) : '',
  }
}

Component({
  data: {
    status: 'loading',
    error: null,
    needLogin: false,
    items: [],
    total: 0,
    loadingMore: false,
    moreError: '',
    text: {},
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('services.title') })
      this.setData({
        text: {
          empty: t('services.empty'),
          memberPrice: t('services.member_price'),
          more: t('services.more'),
          login: t('services.login'),
        },
      })
      this.load()
    },

    async load() {
      this.setData({ status: 'loading', error: null, moreError: '', needLogin: false })
      try {
        const page = await booking.services({ limit: LIMIT, offset: 0 })
        const items = (page.items || []).map(view)
        this.setData({ items, total: page.total || 0, status: items.length ? 'ok' : 'empty' })
      } catch (error) {
        this.setData({
          status: 'error',
          error: { message: error.message, retryAfter: error.retryAfter },
          // no session (or it ended): the way to log in
          needLogin: error.status === 401,
        })
      }
    },

    async loadMore() {
      if (this.data.loadingMore || this.data.items.length >= this.data.total) return
      this.setData({ loadingMore: true, moreError: '' })
      try {
        const page = await booking.services({ limit: LIMIT, offset: this.data.items.length })
        this.setData({
          items: this.data.items.concat((page.items || []).map(view)),
          total: page.total || 0,
          loadingMore: false,
        })
      } catch (error) {
        this.setData({ loadingMore: false, moreError: error.message })
      }
    },

    async onPullDownRefresh() {
      await this.load()
      wx.stopPullDownRefresh()
    },

    onReachBottom() {
      this.loadMore()
    },

    onLogin() {
      wx.navigateTo({ url: '/pages/login/index' })
    },

    onOpen(event) {
      const id = event.currentTarget.dataset.id
      wx.navigateTo({ url: '/booking/slots/index?service=' + id })
    },
  },
})
