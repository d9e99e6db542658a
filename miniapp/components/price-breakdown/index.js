// The price of a booking from the list price to the amount due: list
// price, tier discount, member price, coupon, points and their value,
// amount due.  `booking` is a booking of the API (or the same fields of a
// preview); the rows it has no value for are left out.
//   <price-breakdown booking="{{booking}}" />
const { t } = require('../../utils/i18n.js')

function money(amount, currency) {
  if (amount === null || amount === undefined || amount === '') return null
  return !currency || currency === 'CNY' ? '¥' + amount : amount + ' ' + currency
}

function positive(amount) {
  return amount !== null && amount !== undefined && Number(amount) > 0
}

function rowsOf(b) {
  if (!b) return []
  const cur = b.currency
  const rows = []
  const add = (key, label, value, extra) => {
    if (value !== null) rows.push(Object.assign({ key, label, value }, extra || {}))
  }
  add('price', t('price.list'), money(b.price, cur))
  if (positive(b.discount)) {
    const percent = positive(b.discount_percent) ? ' (' + Number(b.discount_percent) + '%)' : ''
    add('discount', t('price.discount') + percent, '-' + money(b.discount, cur), { minus: true })
  }
  add('final_price', t('price.final'), money(b.final_price, cur))
  if (positive(b.coupon_amount)) {
    add('coupon', t('price.coupon', { code: b.coupon || '' }), '-' + money(b.coupon_amount, cur), { minus: true })
  }
  if (b.points_used > 0) {
    const value = positive(b.points_value) ? '-' + money(b.points_value, cur) : ''
    add('points', t('price.points', { points: b.points_used }), value, { minus: true })
  }
  add('amount_due', t('price.due'), money(b.amount_due, cur), { total: true })
  return rows
}

Component({
  // The WeUI cells of app.wxss
  options: { addGlobalClass: true },

  properties: {
    booking: { type: Object, value: null },
  },

  data: {
    rows: [],
  },

  observers: {
    booking(booking) {
      this.setData({ rows: rowsOf(booking) })
    },
  },
})
