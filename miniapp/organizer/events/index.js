// The events the user organizes (GET organizer/events): open or not, the
// attendance against the expected count; a tap opens the live page.  A
// member who organizes nothing (403) or without a session (401) is
// offered the staff login.
const { t } = require('../../utils/i18n.js')
const organizer = require('../../services/organizer.js')
const util = require('../../utils/view.js')

function view(e) {
  return {
    id: e.id,
    name: e.name,
    kind: t('org_events.kind.' + e.kind),
    when: util.when(e.start, e.end),
    open: !!e.is_open,
    openText: t(e.is_open ? 'org_events.open' : 'org_events.closed'),
    count: e.expected !== null && e.expected !== undefined
      ? t('org_events.count_of', { count: e.attendance_count, expected: e.expected })
      : t('org_events.count', { count: e.attendance_count }),
  }
}

Component({
  data: {
    status: 'loading',
    error: null,
    needLogin: false,
    items: [],
    text: {},
  },

  methods: {
    onLoad() {
      wx.setNavigationBarTitle({ title: t('org_events.title') })
      this.setData({
        text: { empty: t('org_events.empty'), login: t('org_events.login') },
      })
      this.load()
    },

    async load() {
      this.setData({ status: 'loading', error: null, needLogin: false })
      try {
        const page = await organizer.myEvents({ limit: 100 })
        const items = (page.items || []).map(view)
        this.setData({ items, status: items.length ? 'ok' : 'empty' })
      } catch (error) {
        const error403 = error.status === 403
        const view = util.errorView(error)
        if (error403) view.message = t('org_events.forbidden')
        this.setData({
          status: 'error', error: view,
          needLogin: error403 || error.status === 401,
        })
      }
    },

    async onPullDownRefresh() {
      await this.load()
      wx.stopPullDownRefresh()
    },

    onOpen(event) {
      wx.navigateTo({ url: '/organizer/event/index?id=' + event.currentTarget.dataset.id })
    },

    onLogin() {
      wx.navigateTo({ url: '/organizer/login/index' })
    },
  },
})
