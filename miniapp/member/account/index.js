// The account: edit the name and the address (PATCH me: 400 names the
// field), and delete the account: what is erased and what is kept
// anonymous said plainly, the password to confirm (or none within 10
// minutes of a login), DELETE me, then the login page.
const me = require('../../services/me.js')
const { words, t } = require('../../utils/i18n.js')
const countdown = require('../../components/countdown/countdown.js')
const { invalidField: fieldOf } = require('../../utils/view.js')

Component({
  behaviors: [countdown],

  data: {
    w: {},
    status: 'loading',
    loadError: null,
    name: '',
    address: '',
    saving: false,
    saveError: '',
    field: '',
    saved: false,
    password: '',
    deleting: false,
    deleteError: '',
    wait: 0,
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('account') })
    },
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('account.nav') })
      this.load()
    },

    async load() {
      this.setData({ status: 'loading', loadError: null })
      try {
        const member = await me.getMe()
        this.original = { name: member.name || '', address: member.address || '' }
        this.setData(Object.assign({ status: 'ok' }, this.original))
      } catch (error) {
        this.setData({ status: 'error', loadError: { message: error.message, retryAfter: error.retryAfter } })
      }
    },

    onInput(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value, saved: false })
    },

    async save() {
      if (this.data.saving) return
      const name = this.data.name.trim()
      const address = this.data.address.trim()
      if (!name) return this.setData({ saveError: this.data.w.nameMissing, field: 'name' })
      // Only what changed (PATCH)
      const changes = {}
      if (name !== this.original.name) changes.name = name
      if (address !== this.original.address) changes.address = address || null
      if (!Object.keys(changes).length) return this.setData({ saved: true, saveError: '', field: '' })
      this.setData({ saving: true, saveError: '', field: '', saved: false })
      try {
        const member = await me.updateMe(changes)
        this.original = { name: member.name || '', address: member.address || '' }
        this.setData(Object.assign({ saved: true }, this.original))
      } catch (error) {
        const invalid = error.code === 'invalid_request'
        this.setData({
          saveError: invalid && error.serverMessage ? error.serverMessage : error.message,
          field: invalid ? fieldOf(error.details) : '',
        })
      } finally {
        this.setData({ saving: false })
      }
    },

    // Ask once more: this cannot be undone
    remove() {
      if (this.data.deleting || this.data.wait > 0) return
      const w = this.data.w
      wx.showModal({
        title: w.confirmTitle,
        content: w.confirmText,
        confirmText: w.confirmOk,
        confirmColor: '#fa5151',
        cancelText: w.confirmCancel,
        success: (res) => {
          if (res.confirm) this.doRemove()
        },
      })
    },

    async doRemove() {
      this.setData({ deleting: true, deleteError: '' })
      try {
        await me.deleteMe(this.data.password)
        wx.reLaunch({ url: '/pages/login/index' })
      } catch (error) {
        let message = error.message
        if (error.code === 'invalid_credentials') {
          message = this.data.password ? t('account.wrongPassword') : t('account.passwordNeeded')
        }
        this.setData({ deleteError: message })
        if (error.retryAfter) this.startCountdown('wait', error.retryAfter)
      } finally {
        this.setData({ deleting: false })
      }
    },
  },
})
