// Before booking: the slot, the price from list price to member price,
// points to spend (at most the member's balance), a coupon (one of the
// member's or typed), the address (typed or chosen on the map) and a note.
// Book: first the subscription prompt for the booking's messages (its
// answer recorded; refused or failed, the booking goes on), then the
// booking; its page shows the breakdown the server computed.
const { t } = require('../../utils/i18n.js')
const booking = require('../../services/booking.js')
const me = require('../../services/me.js')
const rewards = require('../../services/rewards.js')
const subscriptions = require('../../services/subscriptions.js')
const util = require('../util.js')
const countdown = require('../../components/countdown/countdown.js')

// WeChat asks for at most 3 templates at once
const MAX_TEMPLATES = 3

function cents(amount) {
  return Math.round(Number(amount) * 100)
}

// The price before the server's answer: points are counted, their value
// is the server's
function preview(service, points) {
  if (!service) return null
  const hasPrices = service.price !== null && service.member_price !== null
  return {
    price: service.price,
    discount: hasPrices ? ((cents(service.price) - cents(service.member_price)) / 100).toFixed(2) : null,
    discount_percent: service.discount_percent,
    final_price: service.member_price,
    currency: service.currency,
    points_used: points,
  }
}

Component({
  behaviors: [countdown],

  data: {
    status: 'loading',
    error: null,
    serviceId: null,
    start: '',
    resourceId: null,
    service: null,
    slotText: '',
    balance: 0,
    points: 0,
    coupons: [],
    coupon: '',
    address: '',
    position: null, // {lat, lon, coord_type} of the map picker
    note: '',
    templates: [],
    breakdown: null,
    busy: false,
    actionError: '',
    actionCode: '',
    wait: 0,
    waitText: '',
    offerWaitlist: false,
    notice: '',
    text: {},
  },

  methods: {
    onLoad(query) {
      wx.setNavigationBarTitle({ title: t('confirm.title') })
      const start = decodeURIComponent(query.start || '')
      this.setData({
        serviceId: Number(query.service),
        start,
        resourceId: query.resource ? Number(query.resource) : null,
        text: {
          when: t('confirm.when'),
          points: t('confirm.points'),
          coupon: t('confirm.coupon'),
          couponPlaceholder: t('confirm.coupon_placeholder'),
          address: t('confirm.address'),
          addressPlaceholder: t('confirm.address_placeholder'),
          map: t('confirm.map'),
          located: t('confirm.located'),
          note: t('confirm.note'),
          notePlaceholder: t('confirm.note_placeholder'),
          book: t('confirm.book'),
          waitlist: t('confirm.waitlist'),
          subscribeHint: t('confirm.subscribe_hint'),
        },
      })
      this.load()
    },

    async load() {
      this.setData({ status: 'loading', error: null })
      // Coupons and message templates are extras: without them the
      // member can still book
      const optional = (promise, fallback) => promise.catch(() => fallback)
      try {
        const [service, member, coupons, templates] = await Promise.all([
          util.findService(this.data.serviceId),
          me.getMe(),
          optional(rewards.coupons({ limit: 100 }), { items: [] }),
          optional(subscriptions.list(), { items: [] }),
        ])
        if (!service) {
          this.setData({ status: 'error', error: { message: t('error.not_found') } })
          return
        }
        const slot = this.data.start
        this.setData({
          status: 'ok',
          service,
          slotText: util.when(slot, null) + (service.duration_min
            ? ' · ' + t('services.duration', { minutes: service.duration_min }) : ''),
          balance: member.points_balance || 0,
          address: this.data.address || member.address || '',
          coupons: (coupons.items || []).filter((c) => c.state === 'active').map((c) => ({
            code: c.code, name: c.reward ? c.reward.name : '', until: c.valid_until,
          })),
          templates: (templates.items || []).map((i) => i.template_id).filter(Boolean)
            .slice(0, MAX_TEMPLATES),
          breakdown: preview(service, this.data.points),
          pointsHint: t('confirm.points_hint', { balance: member.points_balance || 0 }),
        })
      } catch (error) {
        this.setData({ status: 'error', error: util.errorView(error) })
      }
    },

    // Points: a whole number from 0 to the member's balance
    onPoints(event) {
      let points = parseInt(String(event.detail.value).replace(/\D/g, ''), 10) || 0
      points = Math.max(0, Math.min(points, this.data.balance))
      this.setData({ points, breakdown: preview(this.data.service, points) })
      return String(points)
    },

    onCouponInput(event) {
      this.setData({ coupon: String(event.detail.value || '').trim() })
    },

    onCouponPick(event) {
      const code = event.currentTarget.dataset.code
      this.setData({ coupon: this.data.coupon === code ? '' : code })
    },

    onAddress(event) {
      this.setData({ address: event.detail.value })
    },

    onNote(event) {
      this.setData({ note: event.detail.value })
    },

    // The map picker answers GCJ-02 coordinates (WeChat's maps)
    onMap() {
      wx.chooseLocation({
        success: (res) => {
          const text = [res.address, res.name].filter(Boolean).join(' ')
          this.setData({
            address: text || this.data.address,
            position: { lat: res.latitude, lon: res.longitude, coord_type: 'gcj02' },
          })
        },
        fail: () => {
          // cancelled or refused: the typed address stays
        },
      })
    },

    // The subscription prompt must be opened in the tap itself, before
    // any request; its result is recorded, then the booking is sent.  A
    // refusal or a failure of the prompt never stops the booking.
    onBook() {
      if (this.data.busy || this.data.wait > 0) return
      this.setData({ busy: true, actionError: '', offerWaitlist: false, notice: '' })
      return this.askSubscription().then(() => this.book())
    },

    askSubscription() {
      const tmplIds = this.data.templates
      if (!tmplIds.length || !wx.requestSubscribeMessage) return Promise.resolve()
      return new Promise((resolve) => {
        try {
          wx.requestSubscribeMessage({
            tmplIds,
            success: (results) => {
              subscriptions.record(results).then(resolve, resolve)
            },
            fail: () => resolve(),
          })
        } catch (e) {
          resolve()
        }
      })
    },

    async book() {
      const d = this.data
      const position = d.position || {}
      try {
        const answer = await booking.create({
          service_id: d.serviceId,
          start: d.start,
          resource_id: d.resourceId,
          address: d.address,
          note: d.note,
          points: d.points > 0 ? d.points : undefined,
          coupon: d.coupon,
          lat: position.lat,
          lon: position.lon,
          coord_type: position.coord_type,
        })
        this.setData({ busy: false })
        wx.redirectTo({ url: '/booking/detail/index?id=' + answer.booking.id })
      } catch (error) {
        util.actionFailed(this, error, { offerWaitlist: error.code === 'slot_full' })
      }
    },

    // After slot_full: wait for a place of that slot
    async onWaitlist() {
      if (this.data.busy || this.data.wait > 0) return
      this.setData({ busy: true, actionError: '' })
      try {
        const answer = await booking.joinWaitlist(this.data.serviceId, {
          start: this.data.start, resourceId: this.data.resourceId,
        })
        const position = answer.entry && answer.entry.position
        this.setData({
          busy: false,
          offerWaitlist: false,
          notice: position ? t('slots.waiting_at', { position }) : t('slots.waiting'),
        })
      } catch (error) {
        util.actionFailed(this, error)
      }
    },
  },
})
