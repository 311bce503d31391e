// Reading the RPC log: turning ring slots into JSON records (names, message ids, request ids, wall
// times) and filtering them. All the formatting the writer skipped happens here, on the reader's
// time. (The slices a request trace needs are in traceslice.ts.)
import type { NodeClock, RecordKind, RejectReason, RpcLogPage, RpcRecord } from './json.ts'
import { MSG_TYPE_NAMES, RECORD_KINDS } from './json.ts'
import { describeProposal, requestIdOf, type ProposalInfo } from './reqid.ts'
import { F_KERNEL, F_REJECT, F_TRANSFER, Kind, type RpcLog } from './rpclog.ts'

const REASONS: readonly (RejectReason | undefined)[] = [undefined, 'log-behind', 'voted-other', 'has-leader', 'stale-term', 'log-mismatch', 'prev-mismatch']
const ROLES = ['follower', 'pre-candidate', 'candidate', 'leader'] as const
export const ROLE_CODES: Readonly<Record<string, number>> = { follower: 0, 'pre-candidate': 1, candidate: 2, leader: 3 }
const CHANGES = ['add-node', 'add-learner', 'remove-node'] as const
export const CHANGE_CODES: Readonly<Record<string, number>> = { 'add-node': 0, 'add-learner': 1, 'remove-node': 2 }

export interface RpcFilter {
  /** Only records after this seq (oldest first); without it, the newest `limit` records. */
  since?: number
  types?: ReadonlySet<number>
  kinds?: ReadonlySet<number>
  peer?: number
  path?: 'user' | 'kernel'
  limit: number
}

/** FNV-1a over the 8 bytes of a number's low and high 32-bit halves (allocation-free). */
function fnv(h: number, x: number): number {
  const lo = x >>> 0
  const hi = Math.floor(x / 4294967296) >>> 0
  h = Math.imul(h ^ (lo & 0xff), 16777619)
  h = Math.imul(h ^ ((lo >>> 8) & 0xff), 16777619)
  h = Math.imul(h ^ ((lo >>> 16) & 0xff), 16777619)
  h = Math.imul(h ^ (lo >>> 24), 16777619)
  h = Math.imul(h ^ (hi & 0xff), 16777619)
  h = Math.imul(h ^ ((hi >>> 8) & 0xff), 16777619)
  h = Math.imul(h ^ ((hi >>> 16) & 0xff), 16777619)
  return Math.imul(h ^ (hi >>> 24), 16777619)
}

/** The id pairing a send with its receive: the message's fields, from and to included. */
export function messageId(from: number, to: number, type: number, term: number, index: number, logTerm: number, commit: number, n: number, ctx: number, hint: number, reject: boolean): string {
  let h = fnv(2166136261, from)
  h = fnv(h, to)
  h = fnv(h, type)
  h = fnv(h, term)
  h = fnv(h, index)
  h = fnv(h, logTerm)
  h = fnv(h, commit)
  h = fnv(h, n)
  h = fnv(h, ctx)
  h = fnv(h, hint)
  h = fnv(h, reject ? 1 : 0)
  return (h >>> 0).toString(16).padStart(8, '0')
}

/** Decoded proposals, by seq: a reader asking twice (the stream, a trace) decodes once. */
const infoCache = new WeakMap<RpcLog, Map<number, ProposalInfo | null>>()

export function proposalInfo(log: RpcLog, seq: number): ProposalInfo | null {
  const i = log.slotOf(seq)
  if (i < 0 || log.kind[i] !== Kind.Propose) return null
  let cache = infoCache.get(log)
  if (!cache) infoCache.set(log, (cache = new Map()))
  if (cache.has(seq)) return cache.get(seq)!
  const d = log.data[i]
  const info = d ? describeProposal(d) : null
  if (cache.size > 10_000) cache.clear()
  cache.set(seq, info)
  return info
}

export function clockOf(log: RpcLog): NodeClock {
  const now = performance.now()
  return { node: log.node, mono: log.monoNs(now), wall: now + log.wallOffset() }
}

/** Seqs of the propose records whose index is in [lo, hi], newest first, scanning at most `max` records back. */
function proposalsIn(log: RpcLog, lo: number, hi: number, max = 20_000): number[] {
  const out: number[] = []
  const stop = Math.max(log.first, log.total - max)
  for (let s = log.total; s >= stop; s--) {
    const i = (s - 1) % log.size
    if (log.kind[i] !== Kind.Propose) continue
    const idx = log.index[i]!
    if (idx >= lo && idx <= hi) out.push(s)
    // Proposals are appended in index order: once below the range, older ones are too.
    if (idx < lo) break
  }
  return out
}

/** Record `seq` as JSON; null when overwritten. `withReqs`: name the requests an Append carries. */
export function recordAt(log: RpcLog, seq: number, wallOffset: number, withReqs = false): RpcRecord | null {
  const i = log.slotOf(seq)
  if (i < 0) return null
  const kind = log.kind[i]! as Kind
  const t = log.t[i]!
  const flags = log.flags[i]!
  const r: RpcRecord = {
    seq,
    node: log.node,
    kind: RECORD_KINDS[kind - 1]!,
    mono: log.monoNs(t),
    wall: Math.round((t + wallOffset) * 1000) / 1000,
    peer: log.peer[i]!,
    term: log.term[i]!,
    index: log.index[i]!,
    path: flags & F_KERNEL ? 'kernel' : 'user',
  }
  switch (kind) {
    case Kind.Send:
    case Kind.Recv: {
      const type = log.type[i]!
      const n = log.n[i]!
      r.type = MSG_TYPE_NAMES[type] ?? String(type)
      r.logTerm = log.logTerm[i]!
      r.commit = log.commit[i]!
      if (n > 0) {
        r.n = n
        r.eterm = log.eterm[i]!
      }
      if (log.hint[i]) r.hint = log.hint[i]!
      if (log.ctx[i]) r.ctx = log.ctx[i]!
      if (flags & F_REJECT) r.reject = true
      if (flags & F_TRANSFER) r.transfer = true
      const reason = REASONS[log.reason[i]!]
      if (reason) r.reason = reason
      const note = log.notes.get(seq)
      if (note) r.detail = note
      const from = kind === Kind.Send ? log.node : r.peer
      const to = kind === Kind.Send ? r.peer : log.node
      r.mid = messageId(from, to, type, r.term, r.index, r.logTerm, r.commit, n, log.ctx[i]!, log.hint[i]!, (flags & F_REJECT) !== 0)
      if (withReqs && n > 0 && type === 16 && kind === Kind.Send) {
        const reqs: string[] = []
        for (const s of proposalsIn(log, r.index + 1, r.index + n)) {
          const j = log.slotOf(s)
          reqs.push(requestIdOf(log.node, log.index[j]!, log.ctx[j]!, proposalInfo(log, s)))
        }
        if (reqs.length > 0) r.reqs = reqs.reverse()
      }
      break
    }
    case Kind.Propose: {
      const info = proposalInfo(log, seq)
      r.req = log.ctx[i]!
      r.reqs = [requestIdOf(log.node, r.index, r.req, info)]
      if (info) r.keys = info.keys
      break
    }
    case Kind.Persist:
    case Kind.Commit:
    case Kind.Apply:
      r.hint = log.hint[i]! // the previous index: this record covers (hint, index]
      break
    case Kind.Role:
      r.role = ROLES[log.ctx[i]!] ?? 'follower'
      break
    case Kind.Conf:
      r.change = CHANGES[log.ctx[i]!] ?? 'unknown'
      break
    case Kind.Arrive:
      r.req = log.ctx[i]!
      break
    case Kind.Reply:
      r.req = log.ctx[i]!
      r.status = log.hint[i]!
      break
  }
  return r
}

/** Whether the record in slot `i` passes the filter (its since/limit aside). */
export function matches(log: RpcLog, i: number, f: Omit<RpcFilter, 'since' | 'limit'>): boolean {
  const kind = log.kind[i]!
  if (f.kinds && !f.kinds.has(kind)) return false
  if (f.types && !((kind === Kind.Send || kind === Kind.Recv) && f.types.has(log.type[i]!))) return false
  if (f.peer !== undefined && log.peer[i] !== f.peer) return false
  if (f.path !== undefined && ((log.flags[i]! & F_KERNEL) !== 0) !== (f.path === 'kernel')) return false
  return true
}

/** The seqs matching `f`, oldest first. */
export function selectSeqs(log: RpcLog, f: RpcFilter): number[] {
  const out: number[] = []
  if (f.since !== undefined) {
    for (let s = Math.max(f.since + 1, log.first); s <= log.total && out.length < f.limit; s++) {
      if (matches(log, (s - 1) % log.size, f)) out.push(s)
    }
    return out
  }
  for (let s = log.total; s >= log.first && out.length < f.limit; s--) {
    if (matches(log, (s - 1) % log.size, f)) out.push(s)
  }
  return out.reverse()
}

export function queryPage(log: RpcLog, f: RpcFilter): RpcLogPage {
  const off = log.wallOffset()
  const records: RpcRecord[] = []
  for (const s of selectSeqs(log, f)) {
    const r = recordAt(log, s, off, true)
    if (r) records.push(r)
  }
  return { node: log.node, clock: clockOf(log), first: log.total === 0 ? 0 : log.first, last: log.total, size: log.size, records }
}

/** Parses the filter names of the routes (already schema-checked) into a filter. */
export function kindSet(names: string | undefined): Set<number> | undefined {
  if (!names) return undefined
  return new Set(names.split(',').map((k) => RECORD_KINDS.indexOf(k.trim() as RecordKind) + 1))
}
