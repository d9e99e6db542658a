// The home tab: the two big buttons of the seed, "我要签到" (scan the code
// at the door → the result page) and "我的记录" (the records page, with the
// count of check-ins waiting in the offline queue), and the daily sign-in
// card (points and streak).  Without a session: the login page (reLaunch:
// nothing to go back to without one).
const flow = require('../../utils/checkin-flow.js')
const queue = require('../../utils/queue.js')
const events = require('../../utils/events.js')
const session = require('../../utils/session.js')
const checkins = require('../../services/checkin.js')
const me = require('../../services/me.js')
const { words, t } = require('../../utils/i18n.js')
const countdown = require('../../components/countdown/countdown.js')
const outcome = require('../checkin-result/outcome.js')
const { loginUrl } = require('../login/after-login.js')

Component({
  behaviors: [countdown],

  data: {
    w: {},
    pending: 0,
    checking: false,
    signing: false,
    daily: null, // {done, points, balance, streak, already}
    dailyError: '',
    wait: 0,
  },

  lifetimes: {
    attached() {
      this.setData({ w: words('home') })
      this.offQueue = events.on('queue', ({ pending }) => this.setData({ pending }))
    },
    detached() {
      if (this.offQueue) this.offQueue()
    },
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('home.nav') })
    },

    onShow() {
      if (!session.isLoggedIn()) {
        wx.reLaunch({ url: loginUrl('/pages/home/index') })
        return
      }
      this.setData({ pending: queue.pending() })
    },

    async checkIn() {
      if (this.data.checking) return
      this.setData({ checking: true })
      let result
      try {
        result = await flow.scanAndCheckIn()
      } catch (error) {
        // the flow resolves its outcomes; anything thrown is a refusal too
        result = { outcome: 'refused', error }
      }
      this.setData({ checking: false, pending: queue.pending() })
      if (result.outcome === 'cancelled') return
      outcome.save(result)
      wx.navigateTo({ url: '/pages/checkin-result/index' })
    },

    records() {
      wx.navigateTo({ url: '/pages/records/index' })
    },

    async signIn() {
      if (this.data.signing || this.data.wait > 0) return
      this.setData({ signing: true, dailyError: '' })
      try {
        const answer = await checkins.daily()
        this.setData({
          daily: {
            already: false,
            text: t('home.signedIn', {
              points: answer.checkin.points_awarded, streak: answer.member.streak_days,
            }),
            balance: t('home.balance', { points: answer.member.points_balance }),
          },
        })
      } catch (error) {
        if (error.code === 'already_checked_in') await this.already()
        else {
          this.setData({ dailyError: error.message })
          if (error.retryAfter) this.startCountdown('wait', error.retryAfter)
        }
      } finally {
        this.setData({ signing: false })
      }
    },

    // Signed in earlier today: the streak from the profile (the answer of
    // the 409 has the existing sign-in, not the streak)
    async already() {
      let member = (session.get() || {}).member
      try {
        member = await me.getMe()
      } catch (e) {
        // the streak known at login is good enough
      }
      this.setData({
        daily: {
          already: true,
          text: t('home.already', { streak: member ? member.streak_days : 0 }),
          balance: member ? t('home.balance', { points: member.points_balance }) : '',
        },
      })
    },
  },
})
