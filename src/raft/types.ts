// The data the Raft core speaks in. Plain objects with fixed shapes: the core steps
// millions of these a second, so no classes, no getters, no optional fields on hot paths.

/** A node id: a small positive integer (StatefulSet ordinal + 1). 0 means "none". */
export type NodeId = number
export const NONE: NodeId = 0

/**
 * Message types. Numbers 1–15 travel on the UDP control plane (fixed-size, see
 * bpf/raft_wire.h); 16 and up travel on the TCP data plane.
 */
export const MsgType = {
  Heartbeat: 1,
  HeartbeatResp: 2,
  AppendResp: 3,
  Vote: 4,
  PreVote: 5,
  VoteResp: 6,
  PreVoteResp: 7,
  TimeoutNow: 8,
  Append: 16,
  Snapshot: 17,
  ReadIndex: 18,
  ReadIndexResp: 19,
} as const
export type MsgType = (typeof MsgType)[keyof typeof MsgType]

export const EntryType = {
  /** A command for the state machine; empty data is the leader's no-op. */
  Normal: 0,
  /** A membership change; data is an encoded ConfChangeEntry (see confchange.ts). */
  ConfChange: 1,
} as const
export type EntryType = (typeof EntryType)[keyof typeof EntryType]

export interface Entry {
  term: number
  index: number
  type: EntryType
  data: Uint8Array
}

/**
 * One Raft message. Field meaning depends on the type:
 * - Append / Heartbeat: index, logTerm = previous entry; commit = leader commit; ctx = read round (heartbeat).
 * - AppendResp: success → index = last matching index; reject → index = rejected prev index,
 *   hint = follower's best guess of a matching index, logTerm = term of the entry at hint.
 * - HeartbeatResp: index = the prev index it acknowledges (reject when it does not match); ctx echoed.
 * - Vote / PreVote: index, logTerm = candidate's last entry; transfer = campaign ordered by TimeoutNow.
 * - VoteResp / PreVoteResp: reject = not granted.
 * - Snapshot: snapshot carries the metadata and (opaque) data.
 * - ReadIndex (follower → leader) / ReadIndexResp: ctx = the request; index = the read index.
 */
export interface Message {
  type: MsgType
  from: NodeId
  to: NodeId
  term: number
  index: number
  logTerm: number
  commit: number
  hint: number
  ctx: number
  reject: boolean
  transfer: boolean
  entries: Entry[]
  snapshot: Snapshot | null
}

export interface HardState {
  term: number
  vote: NodeId
  commit: number
}

export interface ConfState {
  voters: NodeId[]
  learners: NodeId[]
}

export interface SnapshotMeta {
  index: number
  term: number
  conf: ConfState
}

export interface Snapshot {
  meta: SnapshotMeta
  /** Opaque to the core. The runtime may leave it empty and stream the state separately. */
  data: Uint8Array
}

export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const
export type Role = (typeof Role)[keyof typeof Role]

export interface SoftState {
  leader: NodeId
  role: Role
}

export interface ReadState {
  /** The caller's read context, as passed to readIndex(). */
  ctx: number
  /** Serve the read once the state machine has applied this index. */
  index: number
}

/**
 * What the application must do, in order:
 * 1. send `messages` (may be before or during the persist),
 * 2. durably write `snapshot`, then `entries` (replacing any stored entries from entries[0].index on),
 *    then `hardState`, in one batch,
 * 3. send `persistedMessages`,
 * 4. install `snapshot` into the state machine, then apply `committedEntries` in order,
 * 5. serve `readStates` once applied ≥ their index,
 * 6. call advance(ready).
 */
export interface Ready {
  softState: SoftState | null
  hardState: HardState | null
  snapshot: Snapshot | null
  entries: Entry[]
  committedEntries: Entry[]
  messages: Message[]
  persistedMessages: Message[]
  readStates: ReadState[]
}

export const ConfChangeType = {
  AddNode: 'add-node',
  AddLearner: 'add-learner',
  RemoveNode: 'remove-node',
} as const
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType]

export interface ConfChange {
  type: ConfChangeType
  node: NodeId
}

/** Why the core refused a local request. Nothing was appended when this is returned. */
export type RefuseReason =
  | 'not-leader'
  | 'no-leader'
  | 'transferring'
  | 'pending-conf-change'
  | 'no-commit-in-term'
  | 'invalid-conf-change'
  | 'too-many-uncommitted'
  | 'transfer-to-self'
  | 'unknown-node'
  | 'in-lease'

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; reason: RefuseReason }

export type RequestResult = { ok: true } | { ok: false; reason: RefuseReason }

export function emptyMessage(type: MsgType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    index: 0,
    logTerm: 0,
    commit: 0,
    hint: 0,
    ctx: 0,
    reject: false,
    transfer: false,
    entries: [],
    snapshot: null,
  }
}
