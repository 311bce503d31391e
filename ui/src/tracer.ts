// The request tracer: type a key or a request id and see that request's path through the cluster
// — arrival, proposal, the Appends that carried it, acks, commit, apply on each member, reply —
// as swimlanes on the proposer's clock (other members' clocks corrected by the server).
import type { Trace, TraceEvent } from '../../src/observe/json.ts'
import type { Api } from './api.ts'
import { fmtMs, h, s } from './dom.ts'

const KIND_COLOR: Record<string, string> = {
  arrive: '#0f172a',
  propose: '#7c3aed',
  persist: '#2563eb',
  commit: '#16a34a',
  apply: '#15803d',
  reply: '#0f172a',
  send: '#64748b',
  recv: '#94a3b8',
}

/** Who held the entry when the proposer learned it was committed: the proposer and each acker. */
export function majorityOf(t: Trace): number[] {
  if (t.committedAt === null) return []
  const who = new Set<number>()
  for (const e of t.events) {
    if (e.at > t.committedAt) continue
    if (e.node === t.proposer && e.kind === 'persist') who.add(e.node)
    if (e.node === t.proposer && e.kind === 'recv' && e.type === 'AppendResp' && !e.reject) who.add(e.peer)
  }
  return [...who].sort((a, b) => a - b)
}

export class Tracer {
  private readonly input: HTMLInputElement
  private readonly out: HTMLElement
  private last: Trace | null = null

  constructor(
    root: HTMLElement,
    private readonly api: Api,
  ) {
    this.input = h('input', { id: 'trace-input', placeholder: 'key, or request id (h2.17, i42, client:7)', size: 36 })
    const btn = h('button', { id: 'trace-go' }, 'Trace')
    const form = h('form', { class: 'row' }, this.input, btn)
    form.onsubmit = (e) => {
      e.preventDefault()
      void this.trace(this.input.value.trim())
    }
    this.out = h('div', { id: 'trace-out' }, h('p', { class: 'muted' }, 'Write a key (above) or enter one here to follow a request through consensus.'))
    root.append(h('h2', {}, 'Request tracer'), form, this.out)
  }

  get current(): Trace | null {
    return this.last
  }

  async trace(q: string): Promise<Trace | null> {
    if (!q) return null
    this.input.value = q
    this.out.replaceChildren(h('p', { class: 'muted' }, `tracing ${q}…`))
    try {
      const t = await this.api.trace(q)
      this.last = t
      this.show(t)
      return t
    } catch (e) {
      this.out.replaceChildren(h('p', { class: 'error', id: 'trace-error' }, `${q}: ${(e as Error).message}`))
      return null
    }
  }

  private show(t: Trace): void {
    const maj = majorityOf(t)
    const others = t.offsets.filter((o) => o.node !== t.proposer && o.samples > 0)
    const summary = h(
      'div',
      { id: 'trace-summary', 'data-committed': String(t.committedAt !== null), 'data-majority': maj.length, 'data-applied': t.appliedOn.length },
      h('b', {}, t.id),
      t.keys.length ? ` · key ${t.keys.join(', ')}` : '',
      ` · entry ${t.index}${t.term ? ` (term ${t.term})` : ''}${t.proposer ? `, proposed by S${t.proposer}` : ''}`,
      h('br'),
      t.committedAt !== null ? `committed after ${fmtMs(t.committedAt)} — held by a majority: ${maj.map((n) => `S${n}`).join(', ')}` : 'not committed (yet)',
      ` · applied on ${t.appliedOn.map((n) => `S${n}`).join(', ') || 'none'}`,
      t.replyAt !== null ? ` · replied after ${fmtMs(t.replyAt)}` : '',
      t.missing.length ? h('span', { class: 'warn' }, ` · no answer from ${t.missing.map((n) => `S${n}`).join(', ')}`) : '',
      others.length ? h('div', { class: 'muted' }, `clocks vs S${t.proposer}: ${others.map((o) => `S${o.node} ${o.offsetMs >= 0 ? '+' : ''}${fmtMs(o.offsetMs)}${o.errorMs >= 0 ? ` ±${fmtMs(o.errorMs)}` : ''}`).join(', ')}`) : '',
    )
    this.out.replaceChildren(summary, this.lanes(t), this.table(t.events))
  }

  /** Swimlanes: one per member, time left to right, arrows from each send to its receive. */
  private lanes(t: Trace): SVGSVGElement {
    const nodes = [...new Set([...t.answered, ...t.missing])].sort((a, b) => a - b)
    const W = 920
    const lane = 54
    const left = 70
    const H = nodes.length * lane + 30
    const max = Math.max(1, ...t.events.map((e) => e.at))
    const x = (at: number): number => left + (Math.max(0, at) / max) * (W - left - 30)
    const y = (n: number): number => 24 + nodes.indexOf(n) * lane + lane / 2
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'lanes', id: 'trace-lanes' })
    svg.append(s('defs', {}, s('marker', { id: 'arr', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, s('path', { d: 'M0 0L10 5L0 10z', fill: '#64748b' }))))
    for (const n of nodes) {
      svg.append(s('line', { x1: left, x2: W - 20, y1: y(n), y2: y(n), class: 'lane' }))
      svg.append(s('text', { x: 8, y: y(n) + 4, class: 'lane-name' }, `S${n}${n === t.proposer ? ' ♛' : ''}${t.missing.includes(n) ? ' ✕' : ''}`))
    }
    for (let k = 0; k <= 4; k++) svg.append(s('text', { x: x((max * k) / 4), y: 14, class: 'tick' }, fmtMs((max * k) / 4)))
    if (t.committedAt !== null) {
      svg.append(s('line', { x1: x(t.committedAt), x2: x(t.committedAt), y1: 18, y2: H, class: 'commit-line' }))
    }
    const byKey = new Map(t.events.map((e) => [`${e.node}/${e.seq}`, e]))
    for (const e of t.events) {
      if (e.kind !== 'send' || !e.pair) continue
      const r = byKey.get(`${e.pair.node}/${e.pair.seq}`)
      if (!r) continue
      svg.append(s('line', { x1: x(e.at), y1: y(e.node), x2: x(r.at), y2: y(r.node), class: `arrow ${e.type === 'AppendResp' ? 'ack' : ''}`, 'marker-end': 'url(#arr)' }))
    }
    // Labels take the first of a few rows around the lane where they do not overlap another.
    const ROWS = [-8, 16, -19, 27]
    const taken = new Map<string, number>()
    for (const e of t.events) {
      if (e.kind === 'send' || e.kind === 'recv') continue
      const cx = x(e.at)
      const cy = y(e.node)
      svg.append(s('circle', { cx, cy, r: 5, fill: KIND_COLOR[e.kind] ?? '#334155' }, s('title', {}, `${fmtMs(e.at)} S${e.node}: ${e.label}`)))
      const row = ROWS.findIndex((_, k) => (taken.get(`${e.node}/${k}`) ?? -Infinity) < cx)
      const k = row < 0 ? 0 : row
      taken.set(`${e.node}/${k}`, cx + 6 + e.kind.length * 6)
      svg.append(s('text', { x: cx + 6, y: cy + ROWS[k]!, class: 'ev-label' }, e.kind))
    }
    return svg
  }

  private table(events: readonly TraceEvent[]): HTMLElement {
    const tb = h('table', { class: 'trace-table' }, h('tr', {}, h('th', {}, 'at'), h('th', {}, 'node'), h('th', {}, 'step')))
    for (const e of events) tb.append(h('tr', { class: e.kind }, h('td', {}, fmtMs(e.at)), h('td', {}, `S${e.node}`), h('td', {}, e.label)))
    return h('details', {}, h('summary', {}, `${events.length} steps`), tb)
  }
}
