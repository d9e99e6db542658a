// The screens of the documentation: a page, the member's language, the
// API's answers ('METHOD route': body, or a function of the request) and
// what is done on the page before the picture (after(comp, wx)).
const { apiError } = require('../pages/helpers')

module.exports = [
  {
    name: 'state-rate-limited',
    page: 'components/state/index',
    lang: 'zh_CN',
    answers: {},
    before: () => {},
    after: async (comp) => {
      comp.setData({ status: 'error', error: { message: '操作太频繁，请稍后再试', retryAfter: 30 } })
    },
  },
]
void apiError
