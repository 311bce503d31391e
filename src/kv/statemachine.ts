import type { ApplyBatch, RaftStorage } from '../storage/raft-storage.ts'
import { EntryType, type Entry } from '../raft/types.ts'
import { Op, decodeCommand } from './command.ts'

/** What applying one entry produced, handed back to whoever proposed it. */
export type ApplyResult = { ok: true; value: number | string | null } | { ok: false; error: string }

/** The replicated state machine the run loop drives. */
export interface StateMachine {
  /** Applies committed entries in order, adding their writes to `batch`; one result per entry. */
  apply(entries: Entry[], batch: ApplyBatch): Promise<ApplyResult[]>
}

const NOOP: ApplyResult = { ok: true, value: null }

/** The key-value state machine over the storage's kv sublevel. */
export class KvStateMachine implements StateMachine {
  constructor(private readonly storage: RaftStorage) {}

  async apply(entries: Entry[], batch: ApplyBatch): Promise<ApplyResult[]> {
    const out: ApplyResult[] = []
    for (const e of entries) {
      if (e.type !== EntryType.Normal || e.data.length === 0) {
        out.push(NOOP)
        continue
      }
      const c = decodeCommand(e.data)
      if (typeof c === 'string') {
        // A malformed command is a deterministic no-op everywhere, reported to its proposer.
        out.push({ ok: false, error: `ERR bad command in log entry ${e.index}: ${c}` })
        continue
      }
      switch (c.op) {
        case Op.Set:
          batch.put(c.key, c.value)
          out.push({ ok: true, value: 'OK' })
          break
        case Op.Del:
          batch.del(c.key)
          out.push({ ok: true, value: 1 })
          break
      }
    }
    return out
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.storage.kv.get(key)
  }
}
