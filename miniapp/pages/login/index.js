// Login: phone + password, or WeChat (wx.login → auth/wechat).  Links to
// register and to password recovery.  A 429 (too many failed logins)
// shows the wait and keeps the buttons disabled until it ends.
const auth = require('../../services/auth.js')
const { words, t } = require('../../utils/i18n.js')
const countdown = require('../../components/countdown/countdown.js')
const { afterLogin } = require('./after-login.js')

Component({
  behaviors: [countdown],

  data: {
    w: {},
    phone: '',
    password: '',
    busy: false,
    error: '',
    wait: 0,
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('login') })
    },
  },

  methods: {
    onLoad(query = {}) {
      wx.setNavigationBarTitle({ title: t('login.nav') })
      this.redirect = query.redirect || ''
      if (query.phone) this.setData({ phone: query.phone })
    },

    onInput(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value })
    },

    fail(error) {
      this.setData({ error: error.message })
      if (error.retryAfter) this.startCountdown('wait', error.retryAfter)
    },

    async submit() {
      if (this.data.busy || this.data.wait > 0) return
      const phone = this.data.phone.trim()
      const password = this.data.password
      if (!phone || !password) {
        this.setData({ error: this.data.w.fill })
        return
      }
      this.setData({ busy: true, error: '' })
      try {
        await auth.login({ phone, password })
        afterLogin(this.redirect)
      } catch (error) {
        this.fail(error)
      } finally {
        this.setData({ busy: false })
      }
    },

    wechat() {
      if (this.data.busy || this.data.wait > 0) return
      this.setData({ busy: true, error: '' })
      wx.login({
        success: async ({ code }) => {
          try {
            await auth.wechatLogin(code)
            afterLogin(this.redirect)
          } catch (error) {
            this.fail(error)
          } finally {
            this.setData({ busy: false })
          }
        },
        fail: () => {
          this.setData({ busy: false, error: this.data.w.wechatFailed })
        },
      })
    },

    toRegister() {
      wx.navigateTo({ url: '/pages/register/index' + this.redirectQuery() })
    },

    toRecover() {
      wx.navigateTo({ url: '/pages/recover/index' + this.redirectQuery() })
    },

    redirectQuery() {
      return this.redirect ? '?redirect=' + encodeURIComponent(this.redirect) : ''
    },
  },
})
