// A linearizable read starts with a confirmation round (RaftNode.linearizableRead: a ReadIndex
// answered by a leader that still holds a quorum). A round that fails without an answer — no
// leader yet, or the leader changed while the round was out — did nothing, so every read path
// (RESP and HTTP) asks again until its deadline instead of failing the reader at the first try.
import { setTimeout as sleep } from 'node:timers/promises'
import { NotLeaderError, ReadFailedError } from './errors.ts'

/** Runs `confirm` until it resolves; rethrows its last error once `timeoutMs` have passed (or at once, for any other error). */
export async function confirmRead(confirm: () => Promise<void>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await confirm()
    } catch (e) {
      if (!(e instanceof NotLeaderError || e instanceof ReadFailedError) || Date.now() >= deadline) throw e
      // No leader: an election takes a while. A leadership change: the next round can go now.
      await sleep(e instanceof NotLeaderError ? 20 : 5)
    }
  }
}
