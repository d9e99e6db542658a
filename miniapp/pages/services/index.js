// The services tab: the bookable services with the member's price (the
// tier discount), their rating, page by page; a tap opens the slots.
const { t } = require('../../utils/i18n.js')
const { money: price } = require('../../utils/view.js')
const booking = require('../../services/booking.js')
const paged = require('../../components/paged/paged.js')

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
  behaviors: [paged],

  data: {
    needLogin: false,
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
      this.reload()
    },

    fetchPage(page) {
      this.setData({ needLogin: false })
      return booking.services(page)
    },

    itemView: view,

    // no session (or it ended): the way to log in
    loadError(error) {
      return { needLogin: error.status === 401 }
    },

    async onPullDownRefresh() {
      await this.reload()
      wx.stopPullDownRefresh()
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
