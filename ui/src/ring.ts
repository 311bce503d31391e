// The servers around a circle, with role, term and election timer, and the messages between them
// moving from sender to receiver. Real messages take well under a millisecond on a LAN, far too
// fast to see, so every message is drawn as a flight of fixed on-screen length starting at its
// send time; when many of a kind cross one link, one dot stands for a burst (heartbeats every
// 20 ms would otherwise be a solid line).
import type { ObserveStatus } from '../../src/observe/json.ts'
import { attrs, h, s, termColor, text } from './dom.ts'
import type { Rec, Store } from './store.ts'
import type { StreamState } from './streams.ts'

const W = 640
const H = 560
const CX = W / 2
const CY = 262
const R = 200
const NODE_R = 40
/** A status older than this (at the drawn time) means the node is down or unreachable. */
export const STALE_MS = 1500

export interface NodeView {
  id: number
  st: ObserveStatus | null
  down: boolean
  x: number
  y: number
  timer: number
}

interface MsgStyle {
  fill: string
  r: number
  label: string
}

function styleOf(r: Rec): MsgStyle {
  switch (r.type) {
    case 'Append':
      return r.n ? { fill: '#16a34a', r: 8, label: String(r.n) } : { fill: '#9ca3af', r: 4, label: '' }
    case 'Heartbeat':
      return { fill: '#9ca3af', r: 4, label: '' }
    case 'AppendResp':
      return r.reject ? { fill: '#dc2626', r: 6, label: '✕' } : { fill: '#0d9488', r: 5, label: '' }
    case 'HeartbeatResp':
      return r.reject ? { fill: '#dc2626', r: 5, label: '✕' } : { fill: '#5eead4', r: 3.5, label: '' }
    case 'Vote':
      return { fill: '#ea580c', r: 8, label: 'V' }
    case 'PreVote':
      return { fill: '#fb923c', r: 7, label: 'P' }
    case 'VoteResp':
    case 'PreVoteResp':
      return r.reject ? { fill: '#dc2626', r: 7, label: '✕' } : { fill: '#16a34a', r: 7, label: '✓' }
    case 'TimeoutNow':
      return { fill: '#7c3aed', r: 8, label: 'T' }
    case 'Snapshot':
      return { fill: '#2563eb', r: 9, label: 'S' }
    default:
      return { fill: '#ca8a04', r: 4, label: '' }
  }
}

export const LEGEND: [string, string][] = [
  ['#16a34a', 'Append with entries (count)'],
  ['#9ca3af', 'Heartbeat / empty Append'],
  ['#0d9488', 'Append ack'],
  ['#5eead4', 'Heartbeat ack'],
  ['#ea580c', 'Vote / PreVote request'],
  ['#dc2626', 'rejected (vote, append)'],
  ['#7c3aed', 'TimeoutNow (leadership transfer)'],
  ['#2563eb', 'Snapshot'],
]

const ROLE_FILL: Record<string, string> = {
  leader: '#fde68a',
  candidate: '#fed7aa',
  'pre-candidate': '#ffedd5',
  follower: '#dbeafe',
}

interface NodeEls {
  g: SVGGElement
  circle: SVGCircleElement
  timer: SVGCircleElement
  name: SVGTextElement
  term: SVGTextElement
  role: SVGTextElement
  log: SVGTextElement
  crown: SVGTextElement
}

interface MsgEls {
  g: SVGGElement
  c: SVGCircleElement
  t: SVGTextElement
}

export class Ring {
  private readonly links: SVGGElement
  private readonly nodesG: SVGGElement
  private readonly msgsG: SVGGElement
  private readonly nodeEls = new Map<number, NodeEls>()
  private readonly pool: MsgEls[] = []
  /** Drawn-time length of a flight; follows the replay speed so slow motion shows single messages. */
  private flight = 600

  constructor(
    svg: SVGSVGElement,
    private readonly store: Store,
    private readonly streamState: (id: number) => StreamState,
  ) {
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
    this.links = s('g', { class: 'links' })
    this.msgsG = s('g', { class: 'msgs' })
    this.nodesG = s('g', { class: 'nodes' })
    svg.append(this.links, this.nodesG, this.msgsG)
  }

  /** Who is a member at T: every live node's configuration, merged; else every node ever seen. */
  members(T: number): number[] {
    const ids = new Set<number>()
    for (const id of this.store.nodes) {
      const snap = this.store.statusAt(id, T)
      if (snap && T - snap.g < STALE_MS) for (const v of [...snap.st.voters, ...snap.st.learners]) ids.add(v)
    }
    if (ids.size === 0) for (const id of this.store.nodes) ids.add(id)
    return [...ids].sort((a, b) => a - b)
  }

  /** Positions and state of the servers at T. */
  layout(T: number): NodeView[] {
    const ids = this.members(T)
    return ids.map((id, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / ids.length
      const snap = this.store.statusAt(id, T)
      const down = !snap || T - snap.g > STALE_MS
      let timer = 0
      if (snap && !down && snap.st.role !== 'leader') {
        // The timer restarted at the later of: what the node last reported, its last leader contact.
        const reset = Math.max(snap.g - snap.st.electionElapsedMs, this.store.lastContact(id, T))
        timer = Math.min(1, (T - reset) / (2 * snap.st.electionTimeoutMs))
      }
      return { id, st: snap?.st ?? null, down, x: CX + R * Math.cos(a), y: CY + R * Math.sin(a), timer }
    })
  }

  render(T: number, rate: number): NodeView[] {
    if (rate > 0) this.flight = Math.max(15, Math.min(600, 600 * rate))
    const views = this.layout(T)
    const pos = new Map(views.map((v) => [v.id, v]))
    this.drawLinks(views)
    for (const [id, els] of this.nodeEls) {
      if (!pos.has(id)) {
        els.g.remove()
        this.nodeEls.delete(id)
      }
    }
    for (const v of views) this.drawNode(v)
    this.drawMessages(T, pos)
    return views
  }

  private drawLinks(views: NodeView[]): void {
    const want: string[] = []
    for (let i = 0; i < views.length; i++) for (let j = i + 1; j < views.length; j++) want.push(`${views[i]!.x},${views[i]!.y},${views[j]!.x},${views[j]!.y}`)
    const key = want.join(';')
    if (this.links.dataset['key'] === key) return
    this.links.dataset['key'] = key
    this.links.replaceChildren(
      ...want.map((w) => {
        const [x1, y1, x2, y2] = w.split(',').map(Number)
        return s('line', { x1, y1, x2, y2, class: 'link' })
      }),
    )
  }

  private drawNode(v: NodeView): void {
    let els = this.nodeEls.get(v.id)
    if (!els) {
      const g = s('g', { class: 'server', 'data-id': v.id })
      els = {
        g,
        timer: s('circle', { r: NODE_R + 7, class: 'timer', fill: 'none', transform: 'rotate(-90)' }),
        circle: s('circle', { r: NODE_R, class: 'body' }),
        name: s('text', { y: -8, class: 'name' }),
        term: s('text', { y: 12, class: 'term' }),
        role: s('text', { y: NODE_R + 24, class: 'role' }),
        log: s('text', { y: NODE_R + 39, class: 'loginfo' }),
        crown: s('text', { y: -NODE_R - 12, class: 'crown' }),
      }
      // The tick marks the minimum election timeout; the randomized one falls between it and a full turn.
      const tick = s('line', { x1: 0, y1: NODE_R + 2, x2: 0, y2: NODE_R + 12, class: 'timer-tick' })
      g.append(s('circle', { r: NODE_R + 7, class: 'timer-track', fill: 'none' }), els.timer, tick, els.circle, els.name, els.term, els.role, els.log, els.crown)
      this.nodesG.append(g)
      this.nodeEls.set(v.id, els)
    }
    const st = v.st
    const role = v.down ? 'down' : (st?.role ?? 'unknown')
    const stream = this.streamState(v.id)
    attrs(els.g, { transform: `translate(${v.x.toFixed(1)} ${v.y.toFixed(1)})`, 'data-role': role, 'data-term': st?.term ?? 0 })
    attrs(els.circle, { fill: v.down ? '#e5e7eb' : (ROLE_FILL[role] ?? '#f3f4f6'), stroke: st ? termColor(st.term) : '#9ca3af', 'stroke-dasharray': st && st.learners.includes(v.id) ? '6 4' : null })
    const circ = 2 * Math.PI * (NODE_R + 7)
    attrs(els.timer, { 'stroke-dasharray': `${(circ * v.timer).toFixed(1)} ${circ.toFixed(1)}`, stroke: v.timer > 0.5 ? '#f97316' : '#60a5fa', visibility: v.timer > 0 ? 'visible' : 'hidden' })
    text(els.name, `S${v.id}`)
    text(els.term, st ? `term ${st.term}` : '')
    text(els.role, v.down ? (stream === 'down' ? 'down' : 'no status') : `${role}${st && st.learners.includes(v.id) ? ' (learner)' : ''}`)
    text(els.log, st && !v.down ? `last ${st.lastIndex} · commit ${st.commit}` : '')
    text(els.crown, role === 'leader' ? '♛' : '')
  }

  private drawMessages(T: number, pos: Map<number, NodeView>): void {
    const D = this.flight
    const recs = this.store.between(T - D, T)
    // One dot per (link, type) per bucket of the flight: bursts of heartbeats become one dot.
    const bucket = D / 3
    const seen = new Set<string>()
    let used = 0
    for (let i = recs.length - 1; i >= 0 && used < 160; i--) {
      const r = recs[i]!
      if (r.kind !== 'send' || !r.type) continue
      const a = pos.get(r.node)
      const b = pos.get(r.peer)
      if (!a || !b) continue
      const important = (r.type === 'Append' && !!r.n) || r.reject || r.type.includes('Vote') || r.type === 'TimeoutNow' || r.type === 'Snapshot'
      const k = `${r.node}>${r.peer}:${r.type}:${important ? r.seq : Math.floor(r.g / bucket)}`
      if (seen.has(k)) continue
      seen.add(k)
      const p = (T - r.g) / D
      const pair = this.store.pairOf(r)
      const kernel = r.path === 'kernel' || pair?.path === 'kernel'
      // Lost: never received, and the receiver is down at this time.
      const lost = !pair && b.down
      this.placeMessage(used++, r, a, b, p, kernel, lost)
    }
    for (let i = used; i < this.pool.length; i++) attrs(this.pool[i]!.g, { visibility: 'hidden' })
  }

  private placeMessage(i: number, r: Rec, a: NodeView, b: NodeView, p: number, kernel: boolean, lost: boolean): void {
    let m = this.pool[i]
    if (!m) {
      const g = s('g', { class: 'msg' })
      m = { g, c: s('circle', {}), t: s('text', { class: 'msg-label' }) }
      g.append(m.c, m.t)
      this.msgsG.append(g)
      this.pool.push(m)
    }
    const st = styleOf(r)
    // Requests and answers on a link travel on opposite sides of it so they do not overlap.
    const dx = b.x - a.x
    const dy = b.y - a.y
    const len = Math.hypot(dx, dy) || 1
    const ux = dx / len
    const uy = dy / len
    const side = r.node < r.peer ? 1 : -1
    const travel = len - 2 * NODE_R
    const q = lost ? Math.min(p, 0.8) : p
    const x = a.x + ux * (NODE_R + travel * q) - uy * 7 * side
    const y = a.y + uy * (NODE_R + travel * q) + ux * 7 * side
    attrs(m.g, {
      visibility: 'visible',
      transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      opacity: lost ? Math.max(0.15, 1 - p).toFixed(2) : 1,
      'data-type': r.type ?? '',
      'data-path': kernel ? 'kernel' : 'user',
    })
    attrs(m.c, { r: st.r, fill: kernel ? '#ffffff' : st.fill, stroke: kernel ? st.fill : '#ffffff', 'stroke-width': kernel ? 2.5 : 1, 'stroke-dasharray': kernel ? '2 1.5' : null })
    text(m.t, lost ? '✕' : kernel && !st.label ? 'k' : st.label)
    attrs(m.t, { fill: kernel || lost ? '#111827' : '#ffffff', 'font-size': st.r > 6 ? 9 : 7 })
  }
}

/** The legend under the ring. */
export function legend(): HTMLElement {
  const items = LEGEND.map(([c, t]) => h('span', { class: 'lg' }, h('i', { style: `background:${c}` }), t))
  items.push(h('span', { class: 'lg' }, h('i', { class: 'kernel' }), 'answered in the kernel (XDP)'))
  items.push(h('span', { class: 'lg' }, h('i', { class: 'timer' }), 'election timer (tick = minimum timeout)'))
  return h('div', {}, ...items)
}
