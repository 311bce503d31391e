// The RPC log: a bounded ring of every Raft message a node sends and receives (by user space, or by
// the kernel fast path through record()), plus the few local events a request trace needs
// (proposal, persist, commit, apply, role and membership changes, HTTP arrival and reply).
//
// Written on the hot path of the run loop, so it is a struct of typed arrays: recording a message
// is a handful of number stores into preallocated columns — no objects, no strings, no hashing.
// Everything readable (names, message ids, request ids, wall times) is computed when someone reads
// (rpcquery.ts), which is rare next to the write rate.
import type { Message } from '../raft/types.ts'

/** Record kinds, as stored (see json.ts RecordKind for their meaning). */
export const Kind = {
  Send: 1,
  Recv: 2,
  Propose: 3,
  Persist: 4,
  Commit: 5,
  Apply: 6,
  Role: 7,
  Conf: 8,
  Arrive: 9,
  Reply: 10,
} as const
export type Kind = (typeof Kind)[keyof typeof Kind]

/** Flag bits. */
export const F_REJECT = 1
export const F_TRANSFER = 2
export const F_KERNEL = 4

/** Reject reasons, as stored (0 = none); names in rpcquery.ts. */
export const Reason = {
  None: 0,
  LogBehind: 1,
  VotedOther: 2,
  HasLeader: 3,
  StaleTerm: 4,
  LogMismatch: 5,
  PrevMismatch: 6,
} as const

/** A message seen by the kernel fast path, as its ring-buffer reader hands it over. */
export interface KernelRecord {
  dir: 'send' | 'recv'
  peer: number
  type: number
  term: number
  index: number
  logTerm?: number
  commit?: number
  hint?: number
  ctx?: number
  reject?: boolean
  /** Entries carried (the kernel only handles control messages: 0). */
  entries?: number
  /** bpf_ktime_get_ns(): CLOCK_MONOTONIC ns, the same clock as process.hrtime. Default: now. */
  monoNs?: bigint | number
}

export const DEFAULT_RPC_LOG_SIZE = 50_000

export class RpcLog {
  /** Records ever written; record number s (1-based) lives in slot (s - 1) % size. */
  total = 0
  readonly size: number
  // One column per field. Float64 for anything that is a Raft index/term/counter (they may pass
  // 2^32 in a long-lived cluster); narrow types where the range is known.
  readonly t: Float64Array // performance.now() ms: monotonic, sub-µs resolution, no allocation
  readonly kind: Uint8Array
  readonly type: Uint8Array
  readonly flags: Uint8Array
  readonly reason: Uint8Array
  readonly peer: Uint16Array
  readonly term: Float64Array
  readonly index: Float64Array
  readonly logTerm: Float64Array
  readonly commit: Float64Array
  readonly hint: Float64Array
  readonly ctx: Float64Array
  readonly n: Uint32Array
  readonly eterm: Float64Array
  /** Proposal data (propose records only): request ids and keys are decoded from it lazily. */
  readonly data: (Uint8Array | null)[]
  /** Free-text detail for rare records (vote rejections): seq → text; pruned as the ring turns. */
  readonly notes = new Map<number, string>()
  /** Anchors to convert kernel CLOCK_MONOTONIC ns to our timebase and back. */
  readonly hr0: bigint
  /** hr0 as a number (ns; exact to well under a µs), so reading does no BigInt conversion. */
  private readonly hr0n: number
  readonly perf0: number
  /** The HTTP request whose handler is running now (set by the request hooks; see httphooks.ts). */
  pendingRequest = 0
  private pos = 0
  /** The time of the newest record (so a caller can reuse it instead of reading the clock again). */
  lastT = 0

  constructor(
    readonly node: number,
    size: number = DEFAULT_RPC_LOG_SIZE,
    /** Proposal data larger than this is not kept (its keys are then unknown to the trace). */
    readonly maxDataBytes = 4096,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`rpc log size must be a positive integer, got ${size}`)
    this.size = size
    this.t = new Float64Array(size)
    this.kind = new Uint8Array(size)
    this.type = new Uint8Array(size)
    this.flags = new Uint8Array(size)
    this.reason = new Uint8Array(size)
    this.peer = new Uint16Array(size)
    this.term = new Float64Array(size)
    this.index = new Float64Array(size)
    this.logTerm = new Float64Array(size)
    this.commit = new Float64Array(size)
    this.hint = new Float64Array(size)
    this.ctx = new Float64Array(size)
    this.n = new Uint32Array(size)
    this.eterm = new Float64Array(size)
    this.data = new Array<Uint8Array | null>(size).fill(null)
    this.hr0 = process.hrtime.bigint()
    this.hr0n = Number(this.hr0)
    this.perf0 = performance.now()
  }

  /** Claims the next slot, stamped now; returns it. */
  private slot(kind: Kind, t: number): number {
    const i = this.pos
    this.pos = i + 1 === this.size ? 0 : i + 1
    this.total++
    this.t[i] = t
    this.lastT = t
    this.kind[i] = kind
    this.flags[i] = 0
    this.reason[i] = 0
    this.n[i] = 0
    this.eterm[i] = 0
    // Drop the previous occupant's data reference so the ring never pins old proposals.
    if (this.data[i] !== null) this.data[i] = null
    return i
  }

  private message(kind: Kind, m: Message, peer: number, t: number, kernel: boolean): number {
    const i = this.slot(kind, t)
    this.type[i] = m.type
    this.peer[i] = peer
    this.term[i] = m.term
    this.index[i] = m.index
    this.logTerm[i] = m.logTerm
    this.commit[i] = m.commit
    this.hint[i] = m.hint
    this.ctx[i] = m.ctx
    this.flags[i] = (m.reject ? F_REJECT : 0) | (m.transfer ? F_TRANSFER : 0) | (kernel ? F_KERNEL : 0)
    const es = m.entries
    if (es.length > 0) {
      this.n[i] = es.length
      this.eterm[i] = es[es.length - 1]!.term
    }
    return i
  }

  /** A message handed to the transport by user space. Returns the seq it got. */
  send(m: Message): number {
    this.message(Kind.Send, m, m.to, performance.now(), false)
    return this.total
  }

  /** A message received by user space. */
  receive(m: Message): number {
    this.message(Kind.Recv, m, m.from, performance.now(), false)
    return this.total
  }

  /**
   * A message sent or received by the kernel fast path (XDP/TC), from the BPF ring buffer: path
   * 'kernel'. Its timestamp is the kernel's CLOCK_MONOTONIC, which is process.hrtime's clock.
   */
  record(e: KernelRecord): number {
    const t = e.monoNs === undefined ? performance.now() : this.perf0 + Number(BigInt(e.monoNs) - this.hr0) / 1e6
    const i = this.slot(e.dir === 'send' ? Kind.Send : Kind.Recv, t)
    this.type[i] = e.type
    this.peer[i] = e.peer
    this.term[i] = e.term
    this.index[i] = e.index
    this.logTerm[i] = e.logTerm ?? 0
    this.commit[i] = e.commit ?? 0
    this.hint[i] = e.hint ?? 0
    this.ctx[i] = e.ctx ?? 0
    this.n[i] = e.entries ?? 0
    this.flags[i] = F_KERNEL | (e.reject ? F_REJECT : 0)
    return this.total
  }

  /** Marks the record `seq` (just written) with a reject reason and optional detail text. */
  annotate(seq: number, reason: number, note: string | null): void {
    const i = this.slotOf(seq)
    if (i < 0) return
    this.reason[i] = reason
    if (note !== null) {
      this.notes.set(seq, note)
      // Notes are rare; prune those whose records the ring has overwritten.
      if (this.notes.size > 1024) for (const k of this.notes.keys()) if (this.slotOf(k) < 0) this.notes.delete(k)
    }
  }

  /** A command this node proposed at `index` in `term`; `req` = HTTP request number or 0. */
  propose(index: number, term: number, data: Uint8Array, req: number): void {
    const i = this.slot(Kind.Propose, performance.now())
    this.type[i] = 0
    this.peer[i] = 0
    this.term[i] = term
    this.index[i] = index
    this.logTerm[i] = 0
    this.commit[i] = 0
    this.hint[i] = data.length
    this.ctx[i] = req
    this.n[i] = 1
    if (data.length <= this.maxDataBytes) this.data[i] = data
  }

  /**
   * A local event: persist/commit/apply (index, previous index in `from`), role, conf, arrive,
   * reply. `t`: when it happened, if earlier than now.
   */
  event(kind: Kind, term: number, index: number, from: number, peer: number, ctx: number, t = performance.now()): void {
    const i = this.slot(kind, t)
    this.type[i] = 0
    this.peer[i] = peer
    this.term[i] = term
    this.index[i] = index
    this.logTerm[i] = 0
    this.commit[i] = 0
    this.hint[i] = from
    this.ctx[i] = ctx
  }

  /** The slot holding record `seq`, or -1 when it was overwritten or not written yet. */
  slotOf(seq: number): number {
    if (seq < 1 || seq > this.total || seq <= this.total - this.size) return -1
    return (seq - 1) % this.size
  }

  /** The oldest seq still held (total + 1 when empty). */
  get first(): number {
    return Math.max(1, this.total - this.size + 1)
  }

  /** Converts a record time to CLOCK_MONOTONIC ns (what process.hrtime.bigint() reads). */
  monoNs(t: number): number {
    return this.hr0n + Math.round((t - this.perf0) * 1e6)
  }

  /**
   * Wall clock minus the monotonic timebase, ms: performance.timeOrigin, the wall time the process
   * started at, to the microsecond. (Date.now() − performance.now() would be simpler but only
   * ms-precise, which blurs sub-ms orderings across nodes; a wall-clock step after start is
   * corrected by the merge's offset estimation like any other skew.)
   */
  wallOffset(): number {
    return performance.timeOrigin
  }
}
