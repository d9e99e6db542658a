// The slots of a service: a strip of 14 days (today and the next 13), the
// slots of the chosen day.  A slot with room opens the confirm page; a
// full one (capacity_left 0) puts the member on its waiting list.
// Reschedule mode (?reschedule=BOOKING_ID&service=ID): a tap moves that
// booking to the slot and opens the booking.
const { t } = require('../../utils/i18n.js')
const booking = require('../../services/booking.js')
const util = require('../util.js')
const countdown = require('../../components/countdown/countdown.js')

const DAYS = 14

function pad(n) {
  return (n < 10 ? '0' : '') + n
}

// The phone's local date, 'YYYY-MM-DD'
function isoDate(date) {
  return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate())
}

function dateStrip(now) {
  const days = []
  for (let i = 0; i < DAYS; i++) {
    const date = new Date(now.getFullYear(), now.getMonth(), now.getDate() + i)
    days.push({
      date: isoDate(date),
      label: i === 0 ? t('slots.today') : pad(date.getMonth() + 1) + '/' + pad(date.getDate()),
      weekday: t('slots.weekday.' + date.getDay()),
    })
  }
  return days
}

function slotView(slot, index) {
  const full = slot.capacity_left <= 0
  return {
    index,
    start: slot.start,
    time: util.hhmm(slot.start) + '–' + util.hhmm(slot.end),
    resource: slot.resource ? slot.resource.name : '',
    resourceId: slot.resource ? slot.resource.id : null,
    full,
    status: full ? t('slots.full') : t('slots.left', { count: slot.capacity_left }),
  }
}

Component({
  behaviors: [countdown],

  data: {
    serviceId: null,
    serviceName: '',
    reschedule: null,
    days: [],
    date: '',
    status: 'loading',
    error: null,
    slots: [],
    anyFull: false,
    busy: false,
    actionError: '',
    notice: '',
    wait: 0,
    waitText: '',
    text: {},
  },

  methods: {
    onLoad(query) {
      const days = dateStrip(new Date())
      this.setData({
        serviceId: Number(query.service),
        reschedule: query.reschedule ? Number(query.reschedule) : null,
        days,
        date: days[0].date,
        text: {
          empty: t('slots.empty'),
          rescheduleHint: t('slots.reschedule_hint'),
          waitlistHint: t('slots.waitlist_hint'),
        },
      })
      wx.setNavigationBarTitle({ title: t(query.reschedule ? 'slots.title_reschedule' : 'slots.title') })
      util.findService(query.service).then((service) => {
        if (service) this.setData({ serviceName: service.name })
      }, () => {
        // the name is a nicety: the slots say what matters
      })
      this.load()
    },

    async load() {
      this.setData({ status: 'loading', error: null })
      const date = this.data.date
      try {
        const answer = await booking.slots(this.data.serviceId, { date, full: true })
        if (date !== this.data.date) return // another day was chosen meanwhile
        const slots = (answer.slots || []).map(slotView)
        this.setData({
          slots, anyFull: slots.some((s) => s.full), status: slots.length ? 'ok' : 'empty',
        })
      } catch (error) {
        if (date !== this.data.date) return
        this.setData({ status: 'error', error: util.errorView(error) })
      }
    },

    onDay(event) {
      const date = event.currentTarget.dataset.date
      if (date === this.data.date) return
      this.setData({ date, actionError: '', notice: '' })
      this.load()
    },

    onSlot(event) {
      if (this.data.busy || this.data.wait > 0) return
      const slot = this.data.slots[event.currentTarget.dataset.index]
      if (!slot) return
      this.setData({ actionError: '', notice: '' })
      if (this.data.reschedule) this.move(slot)
      else if (slot.full) this.joinWaitlist(slot)
      else {
        wx.navigateTo({
          url: '/booking/confirm/index?service=' + this.data.serviceId +
            '&start=' + encodeURIComponent(slot.start) +
            (slot.resourceId ? '&resource=' + slot.resourceId : ''),
        })
      }
    },

    async move(slot) {
      this.setData({ busy: true })
      try {
        await booking.reschedule(this.data.reschedule, { start: slot.start, resourceId: slot.resourceId })
        this.setData({ busy: false })
        wx.redirectTo({ url: '/booking/detail/index?id=' + this.data.reschedule })
      } catch (error) {
        util.actionFailed(this, error)
      }
    },

    async joinWaitlist(slot) {
      this.setData({ busy: true })
      try {
        const answer = await booking.joinWaitlist(this.data.serviceId, {
          start: slot.start, resourceId: slot.resourceId,
        })
        const position = answer.entry && answer.entry.position
        this.setData({
          busy: false,
          notice: position ? t('slots.waiting_at', { position }) : t('slots.waiting'),
        })
      } catch (error) {
        util.actionFailed(this, error)
      }
    },
  },
})
