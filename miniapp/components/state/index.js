// The loading, empty and error states of a page: one look for every page.
// An error (utils/errors.ApiError) shows its message in the member's words
// and, when the server asked to wait (Retry-After of a 429 or 503), a
// countdown before the retry button can be tapped again.
//   <state status="{{status}}" error="{{error}}" bind:retry="load" />
const { t } = require('../../utils/i18n.js')
const countdown = require('../countdown/countdown.js')

Component({
  behaviors: [countdown],

  properties: {
    status: { type: String, value: 'ok' }, // loading, empty, error, ok
    error: { type: Object, value: null }, // {message, code, retryAfter}
    emptyText: { type: String, value: '' },
    retry: { type: Boolean, value: true },
  },

  data: {
    message: '',
    wait: 0,
    waitText: '',
    loadingText: '',
    retryText: '',
  },

  observers: {
    error(error) {
      const message = (error && error.message) || t('error.server_error')
      this.setData({ message })
      this.startCountdown('wait', (error && error.retryAfter) || 0)
    },
    emptyText(text) {
      if (!text) this.setData({ emptyText: t('state.empty') })
    },
  },

  lifetimes: {
    attached() {
      this.setData({
        loadingText: t('state.loading'),
        retryText: t('state.retry'),
        emptyText: this.data.emptyText || t('state.empty'),
      })
    },
  },

  methods: {
    onRetry() {
      if (this.data.wait > 0) return
      this.triggerEvent('retry')
    },
  },
})
