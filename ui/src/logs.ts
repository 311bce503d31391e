// Each server's log, side by side: the last few dozen indexes, coloured by term, with the marks
// that matter — last (L), persisted (P), committed (C), applied (A).
import { h, termColor } from './dom.ts'
import type { NodeView } from './ring.ts'
import type { Store } from './store.ts'

const WIDTH = 32

export class Logs {
  private key = ''

  constructor(
    private readonly root: HTMLElement,
    private readonly store: Store,
  ) {}

  render(views: readonly NodeView[]): void {
    const live = views.filter((v) => v.st && !v.down)
    const hi = Math.max(0, ...live.map((v) => v.st!.lastIndex))
    const lo = Math.max(1, hi - WIDTH + 1)
    const key = JSON.stringify([lo, hi, views.map((v) => (v.st && !v.down ? [v.id, v.st.role, v.st.firstIndex, v.st.lastIndex, v.st.stableIndex, v.st.commit, v.st.applied, v.st.term] : [v.id]))])
    if (key === this.key) return
    this.key = key
    const head = h('div', { class: 'log-row log-head' }, h('span', { class: 'log-name' }, 'index'))
    for (let i = lo; i < lo + WIDTH; i++) head.append(h('span', { class: 'cell idx' }, i % 5 === 0 || i === lo ? String(i) : ''))
    const rows: HTMLElement[] = [head]
    for (const v of views) {
      const st = v.st && !v.down ? v.st : null
      const row = h('div', { class: 'log-row', 'data-node': v.id })
      const name = st ? `S${v.id} ${st.role === 'leader' ? '♛' : ''}` : `S${v.id} (down)`
      row.append(h('span', { class: 'log-name', title: st ? `last ${st.lastIndex}, persisted ${st.stableIndex}, committed ${st.commit}, applied ${st.applied}` : '' }, name))
      const marks = h('div', { class: 'log-row log-marks' }, h('span', { class: 'log-name' }, st ? `L${st.lastIndex} P${st.stableIndex} C${st.commit} A${st.applied}` : ''))
      for (let i = lo; i < lo + WIDTH; i++) {
        let cls = 'cell'
        let style = ''
        if (st && i <= st.lastIndex && i >= st.firstIndex) {
          const term = this.store.termOf.get(i) ?? 0
          cls += i <= st.applied ? ' applied' : i <= st.commit ? ' committed' : i <= st.stableIndex ? ' persisted' : ' unstable'
          style = `--tc:${termColor(term)};--tl:${termColor(term, true)}`
        } else if (st && i < st.firstIndex) {
          cls += ' compacted'
        }
        row.append(h('span', { class: cls, style, title: `index ${i}${this.store.termOf.has(i) ? `, term ${this.store.termOf.get(i)}` : ''}` }))
        let m = ''
        if (st) {
          if (i === st.lastIndex) m += 'L'
          if (i === st.stableIndex) m += 'P'
          if (i === st.commit) m += 'C'
          if (i === st.applied) m += 'A'
        }
        marks.append(h('span', { class: 'cell mark' }, m))
      }
      rows.push(row, marks)
    }
    const legendRow = h(
      'div',
      { class: 'log-legend' },
      h('span', { class: 'cell applied', style: '--tc:#64748b;--tl:#e2e8f0' }),
      ' applied ',
      h('span', { class: 'cell committed', style: '--tc:#64748b;--tl:#e2e8f0' }),
      ' committed ',
      h('span', { class: 'cell persisted', style: '--tc:#64748b;--tl:#e2e8f0' }),
      ' persisted ',
      h('span', { class: 'cell unstable', style: '--tc:#64748b;--tl:#e2e8f0' }),
      ' not yet durable · colour = term · L last, P persisted, C committed, A applied',
    )
    this.root.replaceChildren(h('h2', {}, 'Logs'), ...rows, legendRow)
  }
}
