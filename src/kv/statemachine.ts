import type { Entry } from '../raft/types.ts'
import type { ApplyBatch } from '../storage/raft-storage.ts'
import type { Reply } from './reply.ts'

/** The replicated state machine the run loop drives (KvMachine in machine.ts). */
export interface StateMachine {
  /** Applies committed entries in order, adding their writes to `batch`; one reply per entry. */
  apply(entries: Entry[], batch: ApplyBatch): Promise<Reply[]>
}
