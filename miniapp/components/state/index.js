// The loading, empty and error states of a page: one look for every page.
// An error (utils/errors.ApiError) shows its message in the member's words
// and, when the server asked to wait (Retry-After of a 429 or 503), a
// countdown before the retry button can be tapped again.
//   <state status="{{status}}" error="{{error}}" bind:retry="load" />
const { t } = require('../../utils/i18n.js')

Component({
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
      this.stopCountdown()
      const message = (error && error.message) || t('error.server_error')
      this.setData({ message })
      const wait = (error && error.retryAfter) || 0
      if (wait > 0) this.countdown(wait)
      else this.setData({ wait: 0, waitText: '' })
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
    detached() {
      this.stopCountdown()
    },
  },

  methods: {
    countdown(seconds) {
      this.setData({ wait: seconds, waitText: t('state.wait', { seconds }) })
      this.timer = setInterval(() => {
        const wait = this.data.wait - 1
        this.setData({ wait, waitText: wait > 0 ? t('state.wait', { seconds: wait }) : '' })
        if (wait <= 0) this.stopCountdown()
      }, 1000)
    },

    stopCountdown() {
      if (this.timer) clearInterval(this.timer)
      this.timer = null
    },

    onRetry() {
      if (this.data.wait > 0) return
      this.triggerEvent('retry')
    },
  },
})
