import { Inflights } from './inflights.ts'

export const ProgressState = {
  /** Unknown match: send one Append at a time and wait for its answer. */
  Probe: 'probe',
  /** Known match: stream Appends optimistically within the inflight window. */
  Replicate: 'replicate',
  /** Behind the compaction point: a snapshot is on its way. */
  Snapshot: 'snapshot',
} as const
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState]

/** The leader's view of one follower (or of itself: match = its own durable last index). */
export class Progress {
  match = 0
  next: number
  state: ProgressState = ProgressState.Probe
  /** In Probe: an Append was sent and not yet answered. */
  probeSent = false
  /** In Snapshot: the index of the snapshot sent, and the tick it was sent at. */
  pendingSnapshot = 0
  snapshotSentTick = 0
  /** Heard from since the last CheckQuorum round. */
  recentActive = false
  /** The highest heartbeat round this peer acknowledged in the current term (ReadIndex, lease). */
  readAck = 0
  learner: boolean
  readonly inflights: Inflights

  constructor(next: number, learner: boolean, maxInflight: number, maxInflightBytes: number) {
    this.next = next
    this.learner = learner
    this.inflights = new Inflights(maxInflight, maxInflightBytes)
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot index.
    if (this.state === ProgressState.Snapshot) {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1)
    } else {
      this.next = this.match + 1
    }
    this.state = ProgressState.Probe
    this.probeSent = false
    this.pendingSnapshot = 0
    this.inflights.reset()
  }

  becomeReplicate(): void {
    this.state = ProgressState.Replicate
    this.next = this.match + 1
    this.probeSent = false
    this.pendingSnapshot = 0
    this.inflights.reset()
  }

  becomeSnapshot(index: number, tick: number): void {
    this.state = ProgressState.Snapshot
    this.probeSent = false
    this.pendingSnapshot = index
    this.snapshotSentTick = tick
    this.inflights.reset()
  }

  /** An ack for `n`: returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false
    if (this.match < n) {
      this.match = n
      updated = true
      this.probeSent = false
    }
    if (this.next < n + 1) this.next = n + 1
    return updated
  }

  /**
   * A rejection of the Append whose previous index was `rejected`, with the follower's hint of where
   * the logs may match. Returns false for a stale rejection (one we already acted on).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  /** Records an Append just sent that ends at `last` and carries `bytes` of entries. */
  sentEntries(count: number, last: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = last + 1
        this.inflights.add(last, bytes)
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent
      case ProgressState.Replicate:
        return this.inflights.full()
      default:
        return true
    }
  }
}
