// Rewards: the catalogue (points cost, stock left, valid until) with
// redeem (a confirmation first; 422 insufficient_points, 409 out_of_stock
// in words) and my coupons (code, state, valid until).  Both lists are
// paginated the same way.
const rewards = require('../../services/rewards.js')
const session = require('../../utils/session.js')
const { words, t, has } = require('../../utils/i18n.js')

const LIMIT = 20

function rewardView(r) {
  return {
    id: r.id,
    name: r.name,
    description: r.description || '',
    cost: t('rewards.cost', { points: r.points_cost }),
    stock: r.stock_left === null || r.stock_left === undefined
      ? t('rewards.unlimited') : t('rewards.stock', { count: r.stock_left }),
    soldOut: r.stock_left === 0,
    until: r.valid_until ? t('rewards.until', { date: r.valid_until }) : '',
    points: r.points_cost,
  }
}

function couponView(c) {
  const state = 'rewards.state_' + c.state
  return {
    id: c.id || c.code,
    code: c.code,
    name: c.reward ? c.reward.name : '',
    state: c.state,
    stateText: has(state) ? t(state) : c.state,
    until: t('rewards.until', { date: c.valid_until }),
  }
}

const LISTS = {
  catalogue: { fetch: (q) => rewards.list(q), view: rewardView },
  coupons: { fetch: (q) => rewards.coupons(q), view: couponView },
}

function emptyList() {
  return { status: 'loading', error: null, items: [], total: 0, more: false }
}

Component({
  data: {
    w: {},
    balance: null,
    catalogue: emptyList(),
    coupons: emptyList(),
    redeeming: 0,
    error: '',
    notice: '',
  },

  lifetimes: {
    attached() {
      const member = (session.get() || {}).member
      this.setData({
        w: words('rewards'),
        balance: member && Number.isInteger(member.points_balance) ? member.points_balance : null,
      })
    },
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('rewards.nav') })
      this.reloadAll()
    },

    onPullDownRefresh() {
      this.reloadAll().then(() => wx.stopPullDownRefresh())
    },

    reloadAll() {
      return Promise.all([this.load('catalogue'), this.load('coupons')])
    },

    // name: catalogue or coupons; more: the next page after those shown
    async load(name, more) {
      const list = this.data[name]
      if (more && (list.more || list.items.length >= list.total)) return
      if (more) this.setData({ [name + '.more']: true })
      else this.setData({ [name + '.status']: 'loading', [name + '.error']: null })
      try {
        const { fetch, view } = LISTS[name]
        const answer = await fetch({ limit: LIMIT, offset: more ? list.items.length : 0 })
        const items = (more ? list.items : []).concat(answer.items.map(view))
        this.setData({
          [name + '.items']: items, [name + '.total']: answer.total,
          [name + '.status']: items.length ? 'ok' : 'empty',
        })
      } catch (error) {
        if (more) this.setData({ error: error.message })
        else {
          this.setData({
            [name + '.status']: 'error',
            [name + '.error']: { message: error.message, retryAfter: error.retryAfter },
          })
        }
      } finally {
        this.setData({ [name + '.more']: false })
      }
    },

    retryCatalogue() {
      this.load('catalogue')
    },

    retryCoupons() {
      this.load('coupons')
    },

    moreOf(e) {
      this.load(e.currentTarget.dataset.list, true)
    },

    // Redeem: ask first (points are spent at once), then the coupon
    redeem(e) {
      const id = Number(e.currentTarget.dataset.id)
      const reward = this.data.catalogue.items.find((r) => r.id === id)
      if (!reward || this.data.redeeming) return
      wx.showModal({
        title: this.data.w.confirmTitle,
        content: t('rewards.confirm', { name: reward.name, points: reward.points }),
        confirmText: this.data.w.confirmOk,
        cancelText: this.data.w.confirmCancel,
        success: (res) => {
          if (res.confirm) this.doRedeem(reward)
        },
      })
    },

    async doRedeem(reward) {
      this.setData({ redeeming: reward.id, error: '', notice: '' })
      try {
        const answer = await rewards.redeem(reward.id)
        this.setData({
          notice: t('rewards.redeemed', { name: reward.name, code: answer.coupon.code }),
          balance: answer.member.points_balance,
        })
        const member = (session.get() || {}).member
        if (member) session.setMember(Object.assign({}, member, { points_balance: answer.member.points_balance }))
        this.reloadAll()
      } catch (error) {
        this.setData({ error: error.message })
        // the stock changed under us: show the catalogue as it is now
        if (error.code === 'out_of_stock' || error.code === 'reward_unavailable') this.load('catalogue')
      } finally {
        this.setData({ redeeming: 0 })
      }
    },
  },
})
