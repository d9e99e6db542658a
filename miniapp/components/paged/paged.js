// A Behavior of the pages that list a paginated route of the API
// ({items, total}, limit and offset): the first page (reload: on load, on
// pull-down, on the state component's retry), the next ones (loadMore: the
// "more" button, the bottom of the page), the state component's status and
// error, a failed "more" in moreError while the items stay.
// The page gives fetchPage({limit, offset}) (a services/ function) and
// itemView(item); loadError(error) may add data to the error state.
//   behaviors: [paged]
//   <state status="{{status}}" error="{{error}}" bind:retry="reload" />
//   <button disabled="{{more}}" bindtap="loadMore">
const LIMIT = 20

module.exports = Behavior({
  data: {
    status: 'loading',
    error: null,
    items: [],
    total: 0,
    more: false,
    moreError: '',
  },

  methods: {
    async reload() {
      this.setData({ status: 'loading', error: null, moreError: '' })
      try {
        const answer = await this.fetchPage({ limit: LIMIT, offset: 0 })
        const items = (answer.items || []).map((item) => this.itemView(item))
        this.setData({ items, total: answer.total || 0, status: items.length ? 'ok' : 'empty' })
      } catch (error) {
        this.setData(Object.assign({
          status: 'error', error: { message: error.message, retryAfter: error.retryAfter },
        }, this.loadError ? this.loadError(error) : {}))
      }
    },

    async loadMore() {
      if (this.data.more || this.data.status !== 'ok' || this.data.items.length >= this.data.total) return
      this.setData({ more: true, moreError: '' })
      try {
        const answer = await this.fetchPage({ limit: LIMIT, offset: this.data.items.length })
        this.setData({
          items: this.data.items.concat((answer.items || []).map((item) => this.itemView(item))),
          total: answer.total || 0,
        })
      } catch (error) {
        this.setData({ moreError: error.message })
      } finally {
        this.setData({ more: false })
      }
    },

    onReachBottom() {
      this.loadMore()
    },
  },
})
