// A Behavior of pages that must wait before asking again: the Retry-After
// of a 429 (or 503), the resend interval of an SMS code.  Each countdown
// is a data field counting down to 0 once a second, with its words in
// <field>Text ("try again in 3 s", empty at 0); buttons bound to it stay
// disabled while it is above 0.  The one countdown of the mini-program
// (utils/view.actionFailed starts it too).
//   behaviors: [countdown]
//   this.startCountdown('wait', error.retryAfter)
//   <button disabled="{{wait > 0}}">  <view>{{waitText}}</view>
const { t } = require('../../utils/i18n.js')

function words(seconds) {
  return seconds > 0 ? t('state.wait', { seconds }) : ''
}

module.exports = Behavior({
  lifetimes: {
    detached() {
      this.stopCountdowns()
    },
  },

  methods: {
    startCountdown(field, seconds) {
      if (!this.countdownTimers) this.countdownTimers = {}
      this.stopCountdown(field)
      const start = Math.max(0, Math.ceil(Number(seconds) || 0))
      this.setData({ [field]: start, [field + 'Text']: words(start) })
      if (start <= 0) return
      this.countdownTimers[field] = setInterval(() => {
        const left = this.data[field] - 1
        this.setData({ [field]: Math.max(0, left), [field + 'Text']: words(left) })
        if (left <= 0) this.stopCountdown(field)
      }, 1000)
    },

    stopCountdown(field) {
      const timers = this.countdownTimers || {}
      if (timers[field]) clearInterval(timers[field])
      delete timers[field]
    },

    stopCountdowns() {
      for (const field of Object.keys(this.countdownTimers || {})) this.stopCountdown(field)
    },
  },
})
