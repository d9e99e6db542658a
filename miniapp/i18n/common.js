// The words shared by every page (keys: '<area>.<what>')
module.exports = {
  zh_CN: {
    'state.loading': '加载中',
    'state.empty': '暂无内容',
    'state.retry': '重试',
    'state.wait': '请 {seconds} 秒后再试',
  },
  en: {
    'state.loading': 'Loading',
    'state.empty': 'Nothing here yet',
    'state.retry': 'Try again',
    'state.wait': 'Try again in {seconds} s',
  },
}
