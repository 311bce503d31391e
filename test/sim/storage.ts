// A node's durable storage: exactly what would survive a crash. It changes only when the harness
// "finishes" persisting a Ready (or records an application snapshot), never when the core merely
// holds something in memory — that gap is what the crash tests probe.
import type { RestoredState } from '../../src/raft/config.ts'
import type { Entry, HardState, Ready, SnapshotMeta } from '../../src/raft/types.ts'
import { cloneEntry } from './messages.ts'

export class DurableStorage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 }
  snapshot: SnapshotMeta
  snapshotData: Uint8Array = new Uint8Array(0)
  /** Entries after snapshot.index, contiguous. */
  entries: Entry[] = []

  constructor(initial: RestoredState) {
    this.hardState = { ...initial.hardState }
    this.snapshot = copyMeta(initial.snapshot)
    this.entries = initial.entries.map(cloneEntry)
  }

  /** The checker reads durable state through this view (DurableStorage is one). */
  get snapshotIndex(): number {
    return this.snapshot.index
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length
  }

  /** The durable term at `index`; undefined if compacted below the snapshot or past the end. */
  termAt(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term
    if (index < this.snapshot.index || index > this.lastIndex()) return undefined
    return this.entries[index - this.snapshot.index - 1]!.term
  }

  /**
   * Persists what a Ready asks for, in the documented order: snapshot (replacing the whole log, as a
   * snapshot from the leader does in the core), then entries (replacing stored ones from the first
   * new index on), then the hard state. Returns an error text if the Ready is not persistable.
   */
  persist(rd: Ready): string | null {
    if (rd.snapshot !== null) {
      this.snapshot = copyMeta(rd.snapshot.meta)
      this.snapshotData = rd.snapshot.data.slice()
      this.entries = []
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index
      if (first <= this.snapshot.index) return `Ready entries start at ${first}, at or below the durable snapshot ${this.snapshot.index}`
      if (first > this.lastIndex() + 1) return `Ready entries start at ${first}, leaving a gap after durable last index ${this.lastIndex()}`
      for (let i = 1; i < rd.entries.length; i++) {
        if (rd.entries[i]!.index !== first + i) return `Ready entries are not contiguous at position ${i}`
      }
      this.entries.length = first - this.snapshot.index - 1
      for (const e of rd.entries) this.entries.push(cloneEntry(e))
    }
    if (rd.hardState !== null) this.hardState = { ...rd.hardState }
    return null
  }

  /** Records an application snapshot and drops the log entries it covers. Returns an error text if impossible. */
  compact(meta: SnapshotMeta, data: Uint8Array): string | null {
    const drop = meta.index - this.snapshot.index
    if (drop <= 0) return null
    // The state machine only applies durable entries, so a snapshot can never pass the durable log.
    if (meta.index > this.lastIndex()) return `snapshot at ${meta.index} beyond durable last index ${this.lastIndex()}`
    if (this.termAt(meta.index) !== meta.term) return `snapshot term ${meta.term} at ${meta.index} differs from durable term ${this.termAt(meta.index)}`
    this.entries = this.entries.slice(drop)
    this.snapshot = copyMeta(meta)
    this.snapshotData = data.slice()
    return null
  }

  /** What a restarted node is built from. The state machine restarts from the snapshot, hence applied. */
  restored(): RestoredState {
    return {
      hardState: { ...this.hardState },
      snapshot: copyMeta(this.snapshot),
      entries: this.entries.map(cloneEntry),
      applied: this.snapshot.index,
      snapshotData: this.snapshotData.slice(),
    }
  }
}

function copyMeta(m: SnapshotMeta): SnapshotMeta {
  return { index: m.index, term: m.term, conf: { voters: [...m.conf.voters], learners: [...m.conf.learners] } }
}
