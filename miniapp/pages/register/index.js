// Registration: phone, password (at least 8 characters), optional name.
// The client checks only the obvious; the server is the judge: 400
// invalid_request shows its message and marks the field, 409 phone_taken
// offers to log in or to recover the password.
const auth = require('../../services/auth.js')
const { words, t } = require('../../utils/i18n.js')
const countdown = require('../../components/countdown/countdown.js')
const { invalidField: fieldOf } = require('../../utils/view.js')
const { afterLogin } = require('../login/after-login.js')

const MIN_PASSWORD = 8

Component({
  behaviors: [countdown],

  data: {
    w: {},
    phone: '',
    password: '',
    name: '',
    busy: false,
    error: '',
    field: '',
    taken: false,
    wait: 0,
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('register') })
    },
  },

  methods: {
    onLoad(query = {}) {
      wx.setNavigationBarTitle({ title: t('register.nav') })
      this.redirect = query.redirect || ''
    },

    onInput(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value })
    },

    async submit() {
      if (this.data.busy || this.data.wait > 0) return
      const w = this.data.w
      const phone = this.data.phone.trim()
      const password = this.data.password
      const name = this.data.name.trim()
      if (!phone) return this.setData({ error: w.phoneMissing, field: 'phone', taken: false })
      if (password.length < MIN_PASSWORD) {
        return this.setData({ error: w.passwordShort, field: 'password', taken: false })
      }
      this.setData({ busy: true, error: '', field: '', taken: false })
      try {
        await auth.register({ phone, password, name })
        afterLogin(this.redirect)
      } catch (error) {
        const invalid = error.code === 'invalid_request'
        this.setData({
          // the server's own message names what is wrong (weak password,
          // bad phone format); ours is only generic
          error: invalid && error.serverMessage ? error.serverMessage : error.message,
          field: invalid ? fieldOf(error.details) : '',
          taken: error.code === 'phone_taken',
        })
        if (error.retryAfter) this.startCountdown('wait', error.retryAfter)
      } finally {
        this.setData({ busy: false })
      }
    },

    toLogin() {
      wx.redirectTo({ url: '/pages/login/index?phone=' + encodeURIComponent(this.data.phone.trim()) })
    },

    toRecover() {
      wx.redirectTo({ url: '/pages/recover/index?phone=' + encodeURIComponent(this.data.phone.trim()) })
    },
  },
})
