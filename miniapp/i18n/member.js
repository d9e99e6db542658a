// The words of the member pages (keys: '<page>.<what>')
module.exports = {
  zh_CN: {
  },
  en: {
  },
}
