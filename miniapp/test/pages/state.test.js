// components/state: the loading, empty and error states of every page
const { setup, render, settle, text } = require('./helpers')

describe('components/state', () => {
  beforeEach(() => {
    setup()
  })

  test('an error shows its message and a retry that emits retry', async () => {
    const comp = render('components/state/index', {
      props: { status: 'error', error: { message: '服务器出错了' } },
    })
    await settle()
    expect(text(comp)).toContain('服务器出错了')
    const retries = []
    comp.addEventListener('retry', () => retries.push(1))
    comp.querySelector('.state-retry').dispatchEvent('tap')
    await settle()
    expect(retries).toHaveLength(1)
  })

  test('Retry-After: a countdown, no retry before it ends', async () => {
    jest.useFakeTimers()
    const comp = render('components/state/index', {
      props: { status: 'error', error: { message: '操作太频繁', retryAfter: 2 } },
    })
    expect(text(comp)).toContain('请 2 秒后再试')
    const retries = []
    comp.addEventListener('retry', () => retries.push(1))
    comp.instance.onRetry()
    expect(retries).toHaveLength(0)
    jest.advanceTimersByTime(2000)
    expect(comp.data.wait).toBe(0)
    comp.instance.onRetry()
    expect(retries).toHaveLength(1)
    jest.useRealTimers()
  })

  test('empty and loading speak the member\'s language', async () => {
    const wx = setup({ device: { language: 'en' } })
    expect(wx.device.language).toBe('en')
    const comp = render('components/state/index', { props: { status: 'empty' } })
    expect(text(comp)).toContain('Nothing here yet')
  })
})
