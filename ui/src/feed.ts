// Notable events up to the drawn time, newest first: elections and votes (with why a vote was
// refused), leadership changes, membership changes, rejected Appends, nodes going down and up.
import { h } from './dom.ts'
import { lowerBound, type Store } from './store.ts'

const SHOW = 60

function clock(g: number): string {
  const d = new Date(g)
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`
}

export class Feed {
  private key = ''

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
  ) {}

  render(T: number): void {
    const feed = this.store.feed
    const end = lowerBound(feed, T + 1e-9, (f) => f.g)
    const items = feed.slice(Math.max(0, end - SHOW), end).reverse()
    const key = `${end}:${feed.length}:${items[0]?.g ?? 0}`
    if (key === this.key) return
    this.key = key
    const list = h('ol', { class: 'feed-list' })
    for (const f of items) list.append(h('li', { class: f.cls }, h('time', {}, clock(f.g)), ' ', f.text))
    this.root.replaceChildren(h('h2', {}, 'Events'), items.length ? list : h('p', { class: 'muted' }, 'nothing yet'))
  }
}
