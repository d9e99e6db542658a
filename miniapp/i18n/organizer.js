// The words of the organizer pages (keys: '<page>.<what>')
module.exports = {
  zh_CN: {
  },
  en: {
  },
}
