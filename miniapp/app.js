// The mini-program: a session that ends sends the member to the login
// page; the offline queue of check-ins is sent again whenever the network
// comes back and when the mini-program comes to the foreground.
const events = require('./utils/events.js')
const queue = require('./utils/queue.js')

App({
  onLaunch() {
    events.on('logout', () => {
      wx.reLaunch({ url: '/pages/login/index' })
    })
    queue.start()
  },

  onShow() {
    queue.flush()
  },
})
