// The state machine the run loop drives when cluster operations are on: the KV machine, with the
// cluster's own entries (record.ts) taken out first and applied here. The target record is written
// in the same apply batch as the KV writes around it, into the KV sublevel, so it is durable with
// the applied index and travels inside snapshots: a node that catches up by snapshot, or a leader
// elected after a crash, reads the same target as everyone else.
import { EntryType, type Entry } from '../raft/types.ts'
import { OK, err, type Reply } from '../kv/reply.ts'
import type { StateMachine } from '../kv/statemachine.ts'
import type { ApplyBatch, RaftStorage } from '../storage/raft-storage.ts'
import { TARGET_KEY, decodeClusterEntry, decodeTargetRecord, encodeTargetRecord, isClusterEntry, type TargetRecord } from './record.ts'

const EMPTY = new Uint8Array(0)

export class ClusterStateMachine implements StateMachine {
  /** Called after each applied target record (the scaler wakes up on it). */
  onTarget: ((r: TargetRecord) => void) | null = null

  constructor(
    private readonly inner: StateMachine,
    private readonly storage: RaftStorage,
  ) {}

  async apply(entries: Entry[], batch: ApplyBatch): Promise<Reply[]> {
    // Cluster entries reach the KV machine as empty entries (its no-op), so its replies stay
    // aligned with the entries; theirs are replaced below.
    const mine: number[] = []
    const passed = entries.map((e, i) => {
      if (e.type !== EntryType.Normal || !isClusterEntry(e.data)) return e
      mine.push(i)
      return { ...e, data: EMPTY }
    })
    const out = await this.inner.apply(passed, batch)
    if (mine.length === 0) return out
    let applied: TargetRecord | null = null
    for (const i of mine) {
      const ce = decodeClusterEntry(entries[i]!.data)
      if (typeof ce === 'string') {
        out[i] = err(`ERR bad cluster entry at ${entries[i]!.index}: ${ce}`)
        continue
      }
      if (ce.kind === 'target') {
        batch.put(TARGET_KEY, encodeTargetRecord(ce.record))
        applied = ce.record
      }
      out[i] = OK
    }
    if (applied && this.onTarget) {
      // After the batch is written (the run loop writes it when apply returns): readers of the
      // storage see the record by the time the callback runs.
      const r = applied
      const cb = this.onTarget
      setImmediate(() => cb(r))
    }
    return out
  }

  /** The last applied target record, or null when no scale operation was ever accepted. */
  async target(): Promise<TargetRecord | null> {
    const v = await this.storage.kv.get(TARGET_KEY)
    return v ? decodeTargetRecord(v) : null
  }
}
