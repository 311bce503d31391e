// Everything the page has heard from the members, on one timeline: RPC-log records and status
// snapshots from every member's stream, each stamped with a global time `g` (the member's wall
// time corrected by its clock offset), kept for the last few minutes so the time slider can replay
// them. Views ask "what was true at time T" and never hold state of their own.
import type { ObserveStatus, RpcRecord } from '../../src/observe/json.ts'
import { ScaleFeed } from './scale.ts'

export interface Rec extends RpcRecord {
  /** Global time, ms (reference clock). */
  g: number
}

export interface Snap {
  g: number
  st: ObserveStatus
}

export interface FeedItem {
  g: number
  node: number
  text: string
  cls: 'vote-ok' | 'vote-no' | 'role' | 'conf' | 'reject' | 'ops' | 'warn' | 'info' | 'scale'
}

const KEEP_MS = 5 * 60_000
const MAX_RECORDS = 400_000

/** Index of the first element with key ≥ x in an array sorted by key. */
export function lowerBound<T>(a: readonly T[], x: number, key: (t: T) => number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (key(a[mid]!) < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

const byG = (r: { g: number }): number => r.g

export class Store {
  /** All records, sorted by g. */
  records: Rec[] = []
  /** Status snapshots per node, sorted by g. */
  readonly snaps = new Map<number, Snap[]>()
  /** Per node: times it heard from a leader (what resets its election timer). */
  readonly contacts = new Map<number, number[]>()
  /** Notable events for the feed, sorted by g. */
  feed: FeedItem[] = []
  /** Clock offset of each node from the reference (ms, subtracted from its wall times). */
  readonly offsets = new Map<number, number>()
  /** Term of each log index, as far as proposals and Appends tell. */
  readonly termOf = new Map<number, number>()
  private readonly mids = new Map<string, { send?: Rec; recv?: Rec }>()
  private readonly seenVoteAsk = new Set<string>()
  /** Every node id ever heard of (members can be removed; their history stays drawable). */
  readonly nodes = new Set<number>()
  /** Turns the resize progress in status snapshots into feed lines (steps, events, done, errors). */
  private readonly scaleFeed = new ScaleFeed()
  version = 0

  toGlobal(node: number, wall: number): number {
    return wall - (this.offsets.get(node) ?? 0)
  }

  /** Adds a batch of one node's records (oldest first). */
  add(node: number, batch: readonly RpcRecord[]): void {
    if (batch.length === 0) return
    this.nodes.add(node)
    const fresh: Rec[] = batch.map((r) => ({ ...r, g: this.toGlobal(node, r.wall) }))
    fresh.sort((a, b) => a.g - b.g)
    const recs = this.records
    if (recs.length === 0 || fresh[0]!.g >= recs[recs.length - 1]!.g) {
      for (const r of fresh) recs.push(r)
    } else {
      // Batches from different members interleave by up to a stream tick: merge the tail.
      const pos = lowerBound(recs, fresh[0]!.g, byG)
      const tail = recs.splice(pos)
      let i = 0
      let j = 0
      while (i < tail.length || j < fresh.length) {
        if (j >= fresh.length || (i < tail.length && tail[i]!.g <= fresh[j]!.g)) recs.push(tail[i++]!)
        else recs.push(fresh[j++]!)
      }
    }
    for (const r of fresh) this.index(r)
    this.version++
  }

  private index(r: Rec): void {
    if (r.mid && (r.kind === 'send' || r.kind === 'recv')) {
      let p = this.mids.get(r.mid)
      if (!p) this.mids.set(r.mid, (p = {}))
      if (r.kind === 'send') p.send ??= r
      else p.recv ??= r
    }
    if (r.kind === 'recv' && (r.type === 'Append' || r.type === 'Heartbeat' || r.type === 'Snapshot')) {
      let c = this.contacts.get(r.node)
      if (!c) this.contacts.set(r.node, (c = []))
      c.push(r.g)
      if (c.length > 1 && c[c.length - 2]! > r.g) c.sort((a, b) => a - b)
    }
    if (r.kind === 'propose') this.termOf.set(r.index, r.term)
    if (r.type === 'Append' && r.n && r.eterm) for (let i = r.index + 1; i <= r.index + r.n; i++) this.termOf.set(i, r.eterm)
    const f = feedItemOf(r, this.seenVoteAsk)
    if (f) this.addFeed(f)
  }

  addFeed(f: FeedItem): void {
    const feed = this.feed
    if (feed.length === 0 || f.g >= feed[feed.length - 1]!.g) feed.push(f)
    else feed.splice(lowerBound(feed, f.g, byG), 0, f)
  }

  addStatus(node: number, st: ObserveStatus): void {
    this.nodes.add(node)
    let a = this.snaps.get(node)
    if (!a) this.snaps.set(node, (a = []))
    const g = this.toGlobal(node, st.clock.wall)
    a.push({ g, st })
    if (st.scale) for (const f of this.scaleFeed.items(node, g, st.scale, (wall) => this.toGlobal(node, wall))) this.addFeed(f)
    this.version++
  }

  /** The node's latest snapshot at or before T (with its time), or null. */
  statusAt(node: number, T: number): Snap | null {
    const a = this.snaps.get(node)
    if (!a || a.length === 0) return null
    const i = lowerBound(a, T + 1e-9, byG) - 1
    return i >= 0 ? a[i]! : null
  }

  /** The last time before T the node heard from a leader, or -Infinity. */
  lastContact(node: number, T: number): number {
    const c = this.contacts.get(node)
    if (!c || c.length === 0) return -Infinity
    const i = lowerBound(c, T + 1e-9, (x) => x) - 1
    return i >= 0 ? c[i]! : -Infinity
  }

  /** Records with g in [t0, t1]. */
  between(t0: number, t1: number): Rec[] {
    const a = lowerBound(this.records, t0, byG)
    const b = lowerBound(this.records, t1 + 1e-9, byG)
    return this.records.slice(a, b)
  }

  /** The receive of a send (or the send of a receive), when both were logged. */
  pairOf(r: Rec): Rec | undefined {
    if (!r.mid) return undefined
    const p = this.mids.get(r.mid)
    return r.kind === 'send' ? p?.recv : p?.send
  }

  /** [oldest, newest] time held. */
  span(): [number, number] {
    let lo = Infinity
    let hi = -Infinity
    if (this.records.length > 0) {
      lo = this.records[0]!.g
      hi = this.records[this.records.length - 1]!.g
    }
    for (const a of this.snaps.values()) {
      if (a.length === 0) continue
      lo = Math.min(lo, a[0]!.g)
      hi = Math.max(hi, a[a.length - 1]!.g)
    }
    return [lo, hi]
  }

  /** Forgets what is older than the replay window (or beyond the record budget). */
  prune(now: number): void {
    const cut = now - KEEP_MS
    let n = lowerBound(this.records, cut, byG)
    if (this.records.length - n > MAX_RECORDS) n = this.records.length - MAX_RECORDS
    if (n > 0) {
      for (const r of this.records.slice(0, n)) if (r.mid) this.mids.delete(r.mid)
      this.records = this.records.slice(n)
    }
    for (const [node, a] of this.snaps) {
      const k = lowerBound(a, cut, byG)
      if (k > 0) this.snaps.set(node, a.slice(k))
    }
    for (const [node, c] of this.contacts) {
      const k = lowerBound(c, cut, (x) => x)
      if (k > 0) this.contacts.set(node, c.slice(k))
    }
    const k = lowerBound(this.feed, cut, byG)
    if (k > 0) this.feed = this.feed.slice(k)
    if (this.termOf.size > 50_000) this.termOf.clear()
  }
}

/** What the feed says about a record, if it is worth a line. */
function feedItemOf(r: Rec, seenVoteAsk: Set<string>): FeedItem | null {
  const S = (id: number): string => `S${id}`
  switch (r.kind) {
    case 'role':
      if (r.role === 'leader') return { g: r.g, node: r.node, cls: 'role', text: `${S(r.node)} became leader (term ${r.term})` }
      if (r.role === 'candidate') return { g: r.g, node: r.node, cls: 'role', text: `${S(r.node)} became candidate (term ${r.term})` }
      if (r.role === 'pre-candidate') return { g: r.g, node: r.node, cls: 'role', text: `${S(r.node)} started a pre-vote (term ${r.term})` }
      return { g: r.g, node: r.node, cls: 'role', text: r.peer ? `${S(r.node)} follows ${S(r.peer)} (term ${r.term})` : `${S(r.node)} is a follower with no leader (term ${r.term})` }
    case 'conf':
      return { g: r.g, node: r.node, cls: 'conf', text: `${S(r.node)} applied membership change: ${r.change} ${S(r.peer)} (entry ${r.index})` }
    case 'send':
      switch (r.type) {
        case 'Vote':
        case 'PreVote': {
          const k = `${r.node}/${r.type}/${r.term}`
          if (seenVoteAsk.has(k)) return null
          seenVoteAsk.add(k)
          return { g: r.g, node: r.node, cls: 'info', text: `${S(r.node)} asks for ${r.type === 'PreVote' ? 'pre-votes' : 'votes'} for term ${r.term} (log ends ${r.index}@t${r.logTerm ?? 0})` }
        }
        case 'VoteResp':
        case 'PreVoteResp': {
          const what = r.type === 'PreVoteResp' ? 'pre-vote' : 'vote'
          if (!r.reject) return { g: r.g, node: r.node, cls: 'vote-ok', text: `${S(r.node)} granted its ${what} to ${S(r.peer)} (term ${r.term})` }
          const why = r.reason ? `: ${r.reason}${r.detail ? ` — ${r.detail}` : ''}` : ''
          return { g: r.g, node: r.node, cls: 'vote-no', text: `${S(r.node)} refused its ${what} to ${S(r.peer)}${why}` }
        }
        case 'AppendResp':
          if (r.reject) return { g: r.g, node: r.node, cls: 'reject', text: `${S(r.node)} rejected ${S(r.peer)}'s Append after ${r.index}: log mismatch, hint ${r.hint ?? 0}@t${r.logTerm ?? 0}` }
          return null
        case 'TimeoutNow':
          return { g: r.g, node: r.node, cls: 'role', text: `${S(r.node)} hands leadership to ${S(r.peer)} (TimeoutNow)` }
        case 'Snapshot':
          return { g: r.g, node: r.node, cls: 'info', text: `${S(r.node)} sends a snapshot to ${S(r.peer)} (index ${r.index})` }
      }
      return null
    default:
      return null
  }
}
