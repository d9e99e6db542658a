// The words of the booking pages (keys: '<page>.<what>')
module.exports = {
  zh_CN: {
  },
  en: {
  },
}
