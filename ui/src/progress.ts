// The leader's view of each follower: how far their logs match (match), what it sends next
// (next), and how (probe: one Append at a time; replicate: streaming; snapshot: catching up).
import { h } from './dom.ts'
import type { NodeView } from './ring.ts'

export class Progress {
  private key = ''

  constructor(private readonly root: HTMLElement) {}

  render(views: readonly NodeView[]): void {
    const leaders = views.filter((v) => !v.down && v.st?.role === 'leader').sort((a, b) => b.st!.term - a.st!.term)
    const l = leaders[0]
    const key = l ? JSON.stringify([l.id, l.st!.lastIndex, l.st!.progress]) : ''
    if (key === this.key) return
    this.key = key
    if (!l) {
      this.root.replaceChildren(h('h2', {}, 'Replication'), h('p', { class: 'muted' }, 'no leader right now'))
      return
    }
    const st = l.st!
    const table = h('table', { class: 'progress' }, h('tr', {}, h('th', {}, 'member'), h('th', {}, 'state'), h('th', {}, 'match'), h('th', {}, 'next'), h('th', {}, 'inflight'), h('th', {}, '')))
    for (const p of st.progress) {
      const frac = st.lastIndex > 0 ? Math.min(1, p.match / st.lastIndex) : 1
      table.append(
        h(
          'tr',
          { 'data-peer': p.id, class: p.recentActive ? '' : 'inactive' },
          h('td', {}, `S${p.id}${p.id === st.id ? ' (self)' : ''}${p.learner ? ' learner' : ''}`),
          h('td', {}, h('span', { class: `state ${p.state}` }, p.state)),
          h('td', {}, String(p.match)),
          h('td', {}, String(p.next)),
          h('td', {}, String(p.inflight)),
          h('td', { class: 'bar' }, h('span', { style: `width:${(frac * 100).toFixed(1)}%` })),
        ),
      )
    }
    this.root.replaceChildren(h('h2', {}, `Replication — leader S${st.id}, term ${st.term}, last ${st.lastIndex}`), table)
  }
}
