// The member centre (tab): name, masked phone, tier and its discount,
// points, streak and best streak; links to the points ledger, rewards, my
// bookings, the account and the organizer's events; "verify my phone with WeChat" for a member
// without a phone (getPhoneNumber → auth/wechat-phone); log out.
const me = require('../../services/me.js')
const auth = require('../../services/auth.js')
const session = require('../../utils/session.js')
const { words, t } = require('../../utils/i18n.js')
const { loginUrl } = require('../login/after-login.js')

// "10.00" → "10"; "12.50" → "12.5"
function percent(value) {
  return String(Number(value))
}

function memberView(m) {
  const discount = m.tier && Number(m.tier.discount) > 0
  return {
    name: m.name || t('me.noName'),
    phone: m.phone || '',
    tier: m.tier ? m.tier.name : t('me.noTier'),
    benefit: discount ? t('me.discount', { percent: percent(m.tier.discount) }) : '',
    points: m.points_balance,
    streak: t('me.streak', { days: m.streak_days, best: m.best_streak }),
    expiring: m.expiring ? t('me.expiring', { points: m.expiring.points, date: m.expiring.date }) : '',
  }
}

Component({
  data: {
    w: {},
    status: 'loading',
    error: null,
    member: null,
    binding: false,
    phoneError: '',
    leaving: false,
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('me') })
    },
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('me.nav') })
    },

    onShow() {
      if (!session.isLoggedIn()) {
        wx.reLaunch({ url: loginUrl('/pages/me/index') })
        return
      }
      this.load()
    },

    onPullDownRefresh() {
      this.load().then(() => wx.stopPullDownRefresh())
    },

    async load() {
      if (!this.data.member) this.setData({ status: 'loading', error: null })
      try {
        const member = await me.getMe()
        this.setData({ member: memberView(member), status: 'ok', error: null })
      } catch (error) {
        this.setData({ status: 'error', error: { message: error.message, retryAfter: error.retryAfter } })
      }
    },

    go(e) {
      wx.navigateTo({ url: e.currentTarget.dataset.url })
    },

    // The getPhoneNumber button: WeChat gives a code (nothing when the
    // member refused), the server asks WeChat for the phone
    async onPhone(e) {
      const code = e.detail && e.detail.code
      if (!code || this.data.binding) return
      this.setData({ binding: true, phoneError: '' })
      try {
        const answer = await auth.wechatPhone(code)
        this.setData({ member: memberView(answer.member) })
      } catch (error) {
        // invalid_code: WeChat refused the code or gave no mobile number
        const message = error.code === 'phone_taken' ? t('me.phoneTaken')
          : error.code === 'invalid_code' ? t('me.phoneRefused') : error.message
        this.setData({ phoneError: message })
      } finally {
        this.setData({ binding: false })
      }
    },

    async logout() {
      if (this.data.leaving) return
      this.setData({ leaving: true })
      await auth.logout()
      wx.reLaunch({ url: '/pages/login/index' })
    },
  },
})
