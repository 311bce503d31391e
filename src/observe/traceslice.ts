// The parts of a node's RPC log a request trace needs: finding the proposal a request id or key
// names, and the slice of records about its log entry (what trace.ts merges across members).
import type { NodeClock, RpcRecord } from './json.ts'
import { requestIdOf, type ParsedRequestId, type ProposalInfo } from './reqid.ts'
import { clockOf, proposalInfo, recordAt } from './rpcquery.ts'
import { F_REJECT, Kind, type RpcLog } from './rpclog.ts'

export interface ResolvedProposal {
  id: string
  node: number
  index: number
  term: number
  req: number
  keys: string[]
  wall: number
}

/** Finds the proposal a request id (or, with `key`, the latest write of that key) names here. */
export function resolveProposal(log: RpcLog, q: ParsedRequestId | { t: 'key'; key: string }, maxScan = 50_000): ResolvedProposal | null {
  if (q.t === 'http' && q.node !== log.node) return null
  const off = log.wallOffset()
  const stop = Math.max(log.first, log.total - maxScan)
  for (let s = log.total; s >= stop; s--) {
    const i = (s - 1) % log.size
    if (log.kind[i] !== Kind.Propose) continue
    const index = log.index[i]!
    const req = log.ctx[i]!
    let hit = false
    let info: ProposalInfo | null = null
    switch (q.t) {
      case 'http':
        hit = req === q.req
        break
      case 'index':
        hit = index === q.index
        break
      case 'client':
        info = proposalInfo(log, s)
        hit = info?.client === q.client && info.seq === q.seq
        break
      case 'key':
        info = proposalInfo(log, s)
        hit = info?.keys.includes(q.key) ?? false
        break
    }
    if (!hit) continue
    info ??= proposalInfo(log, s)
    return { id: requestIdOf(log.node, index, req, info), node: log.node, index, term: log.term[i]!, req, keys: info?.keys ?? [], wall: log.t[i]! + off }
  }
  return null
}

export interface TracePart {
  node: number
  clock: NodeClock
  /** Records about the entry at `index`, oldest first. */
  events: RpcRecord[]
  /** Other messages around them, only to estimate clock offsets between nodes. */
  samples: RpcRecord[]
}

/**
 * What this node logged about log entry `index` (and HTTP request `req` if it arrived here): the
 * proposal, the Appends that carried it, the first ack of it from/to each peer, the first message
 * telling each follower it is committed (all in the entry's `term`, when known), and the
 * persist/commit/apply records that crossed it.
 */
export function traceSlice(log: RpcLog, index: number, term: number, req: number, maxSamples = 400): TracePart {
  const off = log.wallOffset()
  const picked: number[] = []
  const firstAck = new Set<string>()
  const firstCommitMsg = new Set<string>()
  const crossed = new Set<number>()
  let tStart = Infinity
  let tEnd = -Infinity
  const take = (s: number, t: number): void => {
    picked.push(s)
    if (t < tStart) tStart = t
    if (t > tEnd) tEnd = t
  }
  for (let s = log.first; s <= log.total; s++) {
    const i = (s - 1) % log.size
    const kind = log.kind[i]!
    const t = log.t[i]!
    const idx = log.index[i]!
    switch (kind) {
      case Kind.Propose:
        if (idx === index) take(s, t)
        break
      case Kind.Arrive:
      case Kind.Reply:
        if (req > 0 && log.ctx[i] === req) take(s, t)
        break
      case Kind.Persist:
      case Kind.Commit:
      case Kind.Apply:
        if (!crossed.has(kind) && idx >= index && log.hint[i]! < index) {
          crossed.add(kind)
          take(s, t)
        }
        break
      case Kind.Send:
      case Kind.Recv: {
        const type = log.type[i]!
        const n = log.n[i]!
        const key = `${kind}/${log.peer[i]}`
        // Messages of another term (a later leader's) are about its own log, not this entry's path.
        if (term > 0 && log.term[i] !== term) break
        if (type === 16 && n > 0 && idx < index && index <= idx + n) {
          take(s, t)
          if (log.commit[i]! >= index) firstCommitMsg.add(key)
        } else if (tStart === Infinity) {
          // Nothing about this entry yet: acks and commits before it are about older entries.
        } else if (type === 3 && !(log.flags[i]! & F_REJECT) && idx >= index && !firstAck.has(key)) {
          firstAck.add(key)
          take(s, t)
        } else if ((type === 16 || type === 1) && log.commit[i]! >= index && !firstCommitMsg.has(key)) {
          firstCommitMsg.add(key)
          take(s, t)
        }
      }
    }
  }
  const events: RpcRecord[] = []
  for (const s of picked) {
    const r = recordAt(log, s, off, true)
    if (r) events.push(r)
  }
  // Samples: messages within 300 ms of the events, nearest first, to pair across nodes.
  const samples: RpcRecord[] = []
  if (picked.length > 0) {
    const lo = tStart - 300
    const hi = tEnd + 300
    const pickedSet = new Set(picked)
    const cand: number[] = []
    for (let s = log.first; s <= log.total; s++) {
      const i = (s - 1) % log.size
      const k = log.kind[i]
      if ((k !== Kind.Send && k !== Kind.Recv) || pickedSet.has(s)) continue
      const t = log.t[i]!
      if (t >= lo && t <= hi) cand.push(s)
    }
    const mid = (tStart + tEnd) / 2
    cand.sort((a, b) => Math.abs(log.t[(a - 1) % log.size]! - mid) - Math.abs(log.t[(b - 1) % log.size]! - mid))
    for (const s of cand.slice(0, maxSamples).sort((a, b) => a - b)) {
      const r = recordAt(log, s, off)
      if (r) samples.push(r)
    }
  }
  return { node: log.node, clock: clockOf(log), events, samples }
}
