// An organizer's login with the login and password of a Tryton user: the
// staff token opens the organizer pages.  Wrong credentials are told; too
// many attempts wait for the server's Retry-After.
const { t } = require('../../utils/i18n.js')
const auth = require('../../services/auth.js')
const util = require('../../utils/view.js')
const countdown = require('../../components/countdown/countdown.js')

Component({
  behaviors: [countdown],

  data: {
    login: '',
    password: '',
    busy: false,
    actionError: '',
    wait: 0,
    waitText: '',
    text: {},
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('org_login.title') })
      this.setData({
        text: {
          intro: t('org_login.intro'),
          login: t('org_login.login'),
          password: t('org_login.password'),
          submit: t('org_login.submit'),
        },
      })
    },

    onLogin(event) {
      this.setData({ login: event.detail.value })
    },

    onPassword(event) {
      this.setData({ password: event.detail.value })
    },

    async onSubmit() {
      if (this.data.busy || this.data.wait > 0) return
      const login = this.data.login.trim()
      if (!login || !this.data.password) {
        this.setData({ actionError: t('org_login.missing') })
        return
      }
      this.setData({ busy: true, actionError: '' })
      try {
        await auth.staffLogin({ login, password: this.data.password })
        this.setData({ busy: false, password: '' })
        wx.redirectTo({ url: '/organizer/events/index' })
      } catch (error) {
        util.actionFailed(this, error, {
          message: error.code === 'invalid_credentials' ? t('org_login.invalid') : null,
        })
      }
    },
  },
})
