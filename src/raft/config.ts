import type { ConfState, Entry, HardState, NodeId, SnapshotMeta } from './types.ts'

export interface RaftConfig {
  id: NodeId
  /** Minimum election timeout in ticks; the actual timeout is drawn from [electionTick, 2*electionTick). */
  electionTick: number
  /** Leader heartbeat interval in ticks. */
  heartbeatTick: number
  /** A seeded source of uniform numbers in [0, 1). The core has no randomness of its own. */
  random: () => number
  preVote: boolean
  checkQuorum: boolean
  /** 'safe' confirms every read with a heartbeat quorum; 'lease' trusts a leader lease (needs checkQuorum). */
  readOnly: 'safe' | 'lease'
  /** Ticks taken off the lease to allow for clock drift between nodes. */
  leaseMarginTicks: number
  /** Upper bound on the bytes of entries in one Append. */
  maxSizePerMsg: number
  /** Upper bound on Appends in flight to one follower. */
  maxInflightMsgs: number
  /** Upper bound on bytes of entries in flight to one follower (0 = unbounded). */
  maxInflightBytes: number
  /** Upper bound on bytes of proposed but uncommitted entries at the leader (0 = unbounded). */
  maxUncommittedBytes: number
}

export const defaultConfig: Omit<RaftConfig, 'id' | 'random'> = {
  electionTick: 15,
  heartbeatTick: 2,
  preVote: true,
  checkQuorum: true,
  readOnly: 'safe',
  leaseMarginTicks: 2,
  maxSizePerMsg: 1 << 20,
  maxInflightMsgs: 256,
  maxInflightBytes: 32 << 20,
  maxUncommittedBytes: 64 << 20,
}

/**
 * What a node had persisted when it (re)starts. A brand-new cluster member starts from
 * `bootstrapState(initialMembers)`; a node joining an existing cluster starts from
 * `bootstrapState([])` and learns the configuration from the leader.
 */
export interface RestoredState {
  hardState: HardState
  /** The latest snapshot; index 0 / term 0 holds the bootstrap configuration. */
  snapshot: SnapshotMeta
  /** Log entries after snapshot.index, contiguous. */
  entries: Entry[]
  /** The index the state machine has applied (≥ snapshot.index). */
  applied: number
  /** The snapshot's data, if the application keeps it in memory; else empty and streamed by the transport. */
  snapshotData?: Uint8Array
}

export function bootstrapState(voters: NodeId[], learners: NodeId[] = []): RestoredState {
  const conf: ConfState = { voters: [...voters].sort((a, b) => a - b), learners: [...learners].sort((a, b) => a - b) }
  return {
    hardState: { term: 0, vote: 0, commit: 0 },
    snapshot: { index: 0, term: 0, conf },
    entries: [],
    applied: 0,
  }
}

export function validateConfig(c: RaftConfig): void {
  if (!Number.isInteger(c.id) || c.id <= 0) throw new RangeError(`node id must be a positive integer, got ${c.id}`)
  if (c.heartbeatTick <= 0) throw new RangeError('heartbeatTick must be positive')
  if (c.electionTick <= c.heartbeatTick) throw new RangeError('electionTick must be greater than heartbeatTick')
  if (c.readOnly === 'lease' && !c.checkQuorum) throw new RangeError('lease reads require checkQuorum')
  if (c.leaseMarginTicks < 0 || c.leaseMarginTicks >= c.electionTick) throw new RangeError('leaseMarginTicks must be in [0, electionTick)')
  if (c.maxInflightMsgs <= 0) throw new RangeError('maxInflightMsgs must be positive')
  if (c.maxSizePerMsg <= 0) throw new RangeError('maxSizePerMsg must be positive')
}
