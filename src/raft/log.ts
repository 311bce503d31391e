import type { Entry, Snapshot, SnapshotMeta } from './types.ts'

/** Returned by term() for an index that is compacted away or beyond the end of the log. */
export const UNKNOWN_TERM = -1

/**
 * The in-memory Raft log: everything after the latest snapshot. The whole uncompacted log lives in
 * memory so that the core can answer every question synchronously; the application bounds its size
 * by taking snapshots.
 *
 * Indexes: snapshot.index < firstIndex() ≤ … ≤ lastIndex(). `stable` is the highest index known
 * to be durable; everything above it goes out in the next Ready.
 */
export class RaftLog {
  snapshot: SnapshotMeta
  /** The data of `snapshot`, when the core was handed it; otherwise empty (the runtime streams it). */
  snapshotData: Uint8Array
  /** A snapshot received from the leader that the application has not yet persisted and installed. */
  pendingSnapshot: Snapshot | null = null
  entries: Entry[]
  committed: number
  applied: number
  /** The highest index handed to the application for applying (≥ applied until advance). */
  applying: number
  stable: number

  constructor(snapshot: SnapshotMeta, snapshotData: Uint8Array, entries: Entry[], committed: number, applied: number) {
    this.snapshot = snapshot
    this.snapshotData = snapshotData
    this.entries = entries
    const last = snapshot.index + entries.length
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.index !== snapshot.index + 1 + i) {
        throw new RangeError(`restored log is not contiguous at position ${i}: index ${entries[i]!.index}`)
      }
    }
    // A commit index beyond the durable log can only come from corrupt state; clamp rather than trust it.
    this.committed = Math.min(Math.max(committed, snapshot.index), last)
    this.applied = Math.max(applied, snapshot.index)
    if (this.applied > this.committed) this.committed = Math.min(this.applied, last)
    this.applying = this.applied
    this.stable = last
  }

  firstIndex(): number {
    return this.snapshot.index + 1
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length
  }

  lastTerm(): number {
    const n = this.entries.length
    return n === 0 ? this.snapshot.term : this.entries[n - 1]!.term
  }

  term(index: number): number {
    const s = this.snapshot.index
    if (index === s) return this.snapshot.term
    if (index < s || index > s + this.entries.length) return UNKNOWN_TERM
    return this.entries[index - s - 1]!.term
  }

  entry(index: number): Entry | undefined {
    return this.entries[index - this.snapshot.index - 1]
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm()
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex())
  }

  /** Entries in [lo, hi), limited to about maxBytes of data (always at least one entry). */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const base = this.snapshot.index + 1
    if (lo < base) throw new RangeError(`slice from ${lo} below first index ${base}`)
    const end = Math.min(hi, this.lastIndex() + 1)
    if (lo >= end) return []
    if (maxBytes === Infinity) return this.entries.slice(lo - base, end - base)
    let bytes = 0
    let i = lo
    for (; i < end; i++) {
      bytes += entrySize(this.entries[i - base]!)
      if (bytes > maxBytes && i > lo) break
    }
    return this.entries.slice(lo - base, i - base)
  }

  /** Appends entries that follow lastIndex() directly (the leader's own proposals). */
  appendOwn(ents: Entry[]): void {
    for (const e of ents) this.entries.push(e)
  }

  /**
   * Follower side of AppendEntries once the previous entry matched: skips entries we already have,
   * truncates from the first conflicting one and appends the rest. Returns the index of the first
   * replaced entry (0 if nothing was truncated). Committed entries are never truncated.
   */
  appendFromLeader(ents: Entry[]): number {
    let conflict = 0
    let from = 0
    for (; from < ents.length; from++) {
      const e = ents[from]!
      const t = this.term(e.index)
      if (t === e.term) continue
      // Callers only pass entries above the commit index, so UNKNOWN_TERM means "beyond our end".
      if (t !== UNKNOWN_TERM) conflict = e.index
      break
    }
    if (from === ents.length) return 0
    const first = ents[from]!.index
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(`raft safety: entry ${conflict} conflicts with committed entry (committed ${this.committed})`)
      }
      this.entries.length = conflict - this.snapshot.index - 1
      if (this.stable >= conflict) this.stable = conflict - 1
    } else if (first !== this.lastIndex() + 1) {
      throw new Error(`raft: append at ${first} leaves a gap after ${this.lastIndex()}`)
    }
    for (let i = from; i < ents.length; i++) this.entries.push(ents[i]!)
    return conflict
  }

  /**
   * The (index, term) to suggest to the leader after rejecting an append at `index`: the last entry
   * at or below `index` whose term is ≤ `term` (the leader's term at its probe), so the leader can
   * skip a whole conflicting term per round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex())
    for (; i > this.snapshot.index; i--) {
      const t = this.term(i)
      if (t <= term) return { index: i, term: t }
    }
    return { index: this.snapshot.index, term: this.snapshot.term }
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false
    const last = this.lastIndex()
    if (index > last) throw new Error(`raft: commit ${index} beyond last index ${last}`)
    this.committed = index
    return true
  }

  unstableEntries(): Entry[] {
    const last = this.lastIndex()
    if (this.stable >= last) return []
    return this.entries.slice(this.stable - this.snapshot.index)
  }

  /** Marks entries up to (index, term) durable, unless the log changed under that index meanwhile. */
  stableTo(index: number, term: number): void {
    if (this.term(index) === term && index > this.stable) this.stable = index
  }

  /** Committed entries not yet handed out for applying; only ones this node holds. */
  nextCommitted(): Entry[] {
    const lo = Math.max(this.applying, this.snapshot.index) + 1
    const hi = Math.min(this.committed, this.lastIndex())
    if (lo > hi) return []
    return this.slice(lo, hi + 1)
  }

  hasNextCommitted(): boolean {
    return Math.min(this.committed, this.lastIndex()) > Math.max(this.applying, this.snapshot.index)
  }

  /** Drops entries up to `index` (which the application snapshotted). */
  compact(meta: SnapshotMeta, data: Uint8Array): void {
    const drop = meta.index - this.snapshot.index
    if (drop <= 0) return
    this.entries = this.entries.slice(drop)
    this.snapshot = meta
    this.snapshotData = data
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(snap: Snapshot): void {
    this.entries = []
    this.snapshot = snap.meta
    this.snapshotData = snap.data
    this.pendingSnapshot = snap
    this.committed = snap.meta.index
    this.stable = snap.meta.index
  }
}

/** Bytes an entry costs in flight and in memory accounting (data plus a fixed header). */
export function entrySize(e: Entry): number {
  return e.data.length + 24
}
