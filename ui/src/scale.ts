// Cluster resizing (/scale-cluster) on the page: a banner with the leader's current step while an
// operation is in progress, the last error and recent events; and feed lines for each step, each
// scaler event, completion and failures. Everything comes from the `scale` field of the members'
// status snapshots; only the leader plans, so the banner follows the leader drawn at that time.
import type { ScaleProgress } from '../../src/observe/json.ts'
import { h } from './dom.ts'
import type { NodeView } from './ring.ts'
import type { FeedItem } from './store.ts'

/** A step without its progress numbers: "wait for learner 4 to catch up" is one line, not one per snapshot. */
export function stepKey(step: string): string {
  return step.replace(/\s*\(\d+\/\d+\)$/, '')
}

/** "3 → 5": where the operation started (voters when it was accepted) and its target. */
export function resizeLabel(sc: ScaleProgress): string {
  return `${sc.from ?? sc.voters.length} → ${sc.target ?? '?'}`
}

interface NodeScaleState {
  step: string | null
  inProgress: boolean | null
  lastError: string | null
}

/** How many event keys to remember per page: status snapshots repeat the last 20 events each time. */
const MAX_SEEN = 5000

export class ScaleFeed {
  private readonly nodes = new Map<number, NodeScaleState>()
  /** Events already in the feed (node, time, text): every snapshot carries them again. */
  private readonly seenEvents = new Set<string>()
  /** Per node and operation, texts already said, so a planned step is not repeated once it is an event. */
  private readonly said = new Set<string>()

  /**
   * Feed lines for one node's snapshot at global time `g`; `toGlobal` converts the node's wall
   * times (its events' `at`) to the page's timeline.
   */
  items(node: number, g: number, sc: ScaleProgress, toGlobal: (wall: number) => number): FeedItem[] {
    const out: FeedItem[] = []
    const S = `S${node}`
    const op = sc.op ?? 0
    for (const e of sc.events) {
      const k = `${node}|${e.at}|${e.text}`
      if (this.seenEvents.has(k)) continue
      this.remember(this.seenEvents, k)
      // The scaler notes most steps as it takes them: a step the feed already showed as planned
      // is not said a second time (and a step noted first is not shown again as planned).
      const said = `${node}|${op}|${stepKey(e.text)}`
      if (this.said.has(said)) continue
      this.remember(this.said, said)
      out.push({ g: toGlobal(e.at), node, cls: 'scale', text: `${S} resize: ${e.text}` })
    }
    const prev = this.nodes.get(node) ?? { step: null, inProgress: null, lastError: null }
    if (sc.inProgress && sc.step !== null) {
      const key = stepKey(sc.step)
      const said = `${node}|${op}|${key}`
      if (key !== prev.step && !this.said.has(said)) {
        this.remember(this.said, said)
        out.push({ g, node, cls: 'scale', text: `${S} resizing ${resizeLabel(sc)}: ${sc.step}` })
      }
    }
    if (prev.inProgress === true && sc.inProgress === false && !this.said.has(`${node}|${op}|reached ${sc.target} members`)) {
      out.push({ g, node, cls: 'scale', text: `${S} resize ${resizeLabel(sc)} done (voters ${sc.voters.join(', ')})` })
    }
    if (sc.lastError !== null && sc.lastError !== prev.lastError) {
      out.push({ g, node, cls: 'warn', text: `${S} resize step failed, will retry: ${sc.lastError}` })
    }
    this.nodes.set(node, { step: sc.inProgress && sc.step !== null ? stepKey(sc.step) : null, inProgress: sc.inProgress, lastError: sc.lastError })
    return out
  }

  private remember(set: Set<string>, k: string): void {
    set.add(k)
    // Sets iterate in insertion order: the first key is the oldest.
    if (set.size > MAX_SEEN) set.delete(set.values().next().value!)
  }
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false })
}

export class ScalePanel {
  private key = ''

  constructor(private readonly root: HTMLElement) {
    root.hidden = true
  }

  /** Draws the resize state of the leader among `views` (the servers at the drawn time). */
  render(views: readonly NodeView[]): void {
    const leader = views.filter((v) => !v.down && v.st?.role === 'leader').sort((a, b) => b.st!.term - a.st!.term)[0]
    // Without a leader nobody plans: keep showing what the last one said.
    if (!leader) return
    const sc = leader.st!.scale
    const key = sc ? JSON.stringify([leader.id, sc.target, sc.op, sc.inProgress, sc.step, sc.lastError, sc.voters, sc.learners, sc.replicas, sc.events.length, sc.events[sc.events.length - 1]?.at]) : ''
    if (key === this.key) return
    this.key = key
    // Nothing to show where the nodes cannot scale and no target was ever set.
    if (!sc || (sc.orchestrator === null && sc.target === null)) {
      this.root.hidden = true
      this.root.replaceChildren()
      return
    }
    this.root.hidden = false
    const d = this.root.dataset
    d['inProgress'] = String(sc.inProgress === true)
    d['target'] = String(sc.target ?? '')
    d['voters'] = String(sc.voters.length)
    const parts: (Node | string)[] = [h('h2', {}, `Cluster size${sc.op ? ` — resize #${sc.op}` : ''}`)]
    if (sc.inProgress) {
      parts.push(h('div', { class: 'scale-banner', id: 'scale-banner' }, h('strong', {}, `Scaling: ${resizeLabel(sc)}`), ' — ', sc.step ?? ''))
    } else {
      parts.push(h('p', { class: 'scale-idle' }, `${sc.voters.length} voters${sc.target !== null ? `, target ${sc.target}` : ''} · ${sc.replicas ?? '?'} ${sc.orchestrator === 'kubernetes' ? 'pods' : 'processes'} · idle`))
    }
    parts.push(h('p', { class: 'muted scale-members' }, `voters ${sc.voters.map((v) => `S${v}`).join(' ') || '–'}${sc.learners.length ? ` · learners ${sc.learners.map((v) => `S${v}`).join(' ')}` : ''}`))
    if (sc.lastError) parts.push(h('p', { class: 'error scale-error' }, `last step failed (retrying): ${sc.lastError}`))
    const recent = sc.events.slice(-5).reverse()
    if (recent.length) {
      const list = h('ol', { class: 'feed-list scale-events' })
      for (const e of recent) list.append(h('li', { class: 'scale' }, h('time', {}, clock(e.at)), ' ', e.text))
      parts.push(list)
    }
    this.root.replaceChildren(...parts)
  }
}
