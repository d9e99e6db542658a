// Password recovery by SMS code, and login with an SMS code (a mode
// switch on the same page).  Step 1: the phone → auth/sms-code (202
// whatever the phone: we never say whether it is registered), then a
// resend countdown (resend_in of the answer; a 429 waits Retry-After).
// Step 2: the code (+ the new password) → auth/reset-password or
// auth/sms-login; the member is logged in afterwards.
const auth = require('../../services/auth.js')
const { words, t } = require('../../utils/i18n.js')
const countdown = require('../../components/countdown/countdown.js')
const { afterLogin } = require('../login/after-login.js')

const MIN_PASSWORD = 8

Component({
  behaviors: [countdown],

  data: {
    w: {},
    mode: 'reset', // reset | login
    phone: '',
    code: '',
    password: '',
    sent: false,
    sending: false,
    busy: false,
    error: '',
    resend: 0, // seconds before another code may be asked
    wait: 0, // Retry-After of the last 429 of step 2
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('recover') })
    },
  },

  methods: {
    onLoad(query = {}) {
      wx.setNavigationBarTitle({ title: t('recover.nav') })
      this.redirect = query.redirect || ''
      const changes = {}
      if (query.phone) changes.phone = query.phone
      if (query.mode === 'login') changes.mode = 'login'
      this.setData(changes)
    },

    onInput(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value })
    },

    // A code is for one purpose: switching asks for a new one
    setMode(e) {
      const mode = e.currentTarget.dataset.mode
      if (mode === this.data.mode) return
      this.stopCountdown('resend')
      this.setData({ mode, sent: false, code: '', error: '', resend: 0 })
    },

    async send() {
      if (this.data.sending || this.data.resend > 0) return
      const phone = this.data.phone.trim()
      if (!phone) return this.setData({ error: this.data.w.phoneMissing })
      this.setData({ sending: true, error: '' })
      try {
        const answer = await auth.sendSmsCode({ phone, purpose: this.data.mode })
        this.setData({ sent: true })
        this.startCountdown('resend', (answer && answer.resend_in) || 60)
      } catch (error) {
        this.setData({ error: error.code === 'invalid_request' && error.serverMessage || error.message })
        if (error.retryAfter) this.startCountdown('resend', error.retryAfter)
      } finally {
        this.setData({ sending: false })
      }
    },

    async submit() {
      if (this.data.busy || this.data.wait > 0) return
      const w = this.data.w
      const phone = this.data.phone.trim()
      const code = this.data.code.trim()
      const reset = this.data.mode === 'reset'
      if (!/^[0-9]{6}$/.test(code)) return this.setData({ error: w.codeMissing })
      if (reset && this.data.password.length < MIN_PASSWORD) {
        return this.setData({ error: w.passwordShort })
      }
      this.setData({ busy: true, error: '' })
      try {
        if (reset) await auth.resetPassword({ phone, code, password: this.data.password })
        else await auth.smsLogin({ phone, code })
        afterLogin(this.redirect)
      } catch (error) {
        let message = error.message
        if (error.code === 'invalid_request' && error.serverMessage) message = error.serverMessage
        const reason = error.code === 'invalid_code' && error.details && error.details.reason
        if (reason === 'too_many_attempts' || reason === 'expired' || reason === 'used') {
          message += ' ' + t('recover.askAgain')
        }
        this.setData({ error: message })
        if (error.retryAfter) this.startCountdown('wait', error.retryAfter)
      } finally {
        this.setData({ busy: false })
      }
    },
  },
})
