import type { NodeId } from './types.ts'

interface PendingRead {
  ctx: number
  from: NodeId
  /** The heartbeat round whose quorum acknowledgement confirms this read. */
  round: number
}

/** How many recent heartbeat rounds keep their send tick (for leases). */
const ROUND_HISTORY = 128

/**
 * Reads waiting for the leader to confirm it is still the leader. Every heartbeat broadcast is a
 * numbered round; a read registered before round r is confirmed once a quorum acknowledged r or a
 * later round. Many reads share one round, so a burst of reads costs one heartbeat broadcast.
 */
export class ReadQueue {
  private queue: PendingRead[] = []
  private head = 0
  private round = 0
  private readonly ticks = new Float64Array(ROUND_HISTORY)

  /** Rounds keep increasing across terms so that acks from an old term can never match. */
  newRound(now: number): number {
    this.round++
    this.ticks[this.round % ROUND_HISTORY] = now
    return this.round
  }

  currentRound(): number {
    return this.round
  }

  /** The tick at which `round` was broadcast, if it is recent enough to be remembered. */
  roundTick(round: number): number | undefined {
    if (round <= 0 || round > this.round || this.round - round >= ROUND_HISTORY) return undefined
    return this.ticks[round % ROUND_HISTORY]
  }

  add(ctx: number, from: NodeId, round: number): void {
    this.queue.push({ ctx, from, round })
  }

  pending(): number {
    return this.queue.length - this.head
  }

  /** Removes and returns the reads confirmed by a quorum acknowledgement of `acked`. */
  release(acked: number): PendingRead[] {
    const out: PendingRead[] = []
    while (this.head < this.queue.length && this.queue[this.head]!.round <= acked) {
      out.push(this.queue[this.head]!)
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return out
  }

  /** Drops every waiting read (leadership changed: the callers must retry). */
  reset(): void {
    this.queue = []
    this.head = 0
  }
}
