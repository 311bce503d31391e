// The JSON the observability routes speak, shared by the server (src/observe) and the visualizer
// (ui/). No Node imports here: the UI bundle includes this file.

/** What one RPC-log record describes. */
export type RecordKind =
  | 'send' // a Raft message handed to the transport (or sent by the kernel)
  | 'recv' // a Raft message received (by user space or answered in the kernel)
  | 'propose' // this node (leader) appended a client command at `index`
  | 'persist' // entries up to `index` are durable here
  | 'commit' // this node learned that everything up to `index` is committed
  | 'apply' // this node applied entries up to `index`
  | 'role' // role change: `role`, leader = `peer`, in `term`
  | 'conf' // a membership change was applied: `change` of node `peer`
  | 'arrive' // a client write request arrived over HTTP (request number `req`)
  | 'reply' // its reply left (HTTP status `status`)

export const RECORD_KINDS: readonly RecordKind[] = ['send', 'recv', 'propose', 'persist', 'commit', 'apply', 'role', 'conf', 'arrive', 'reply']

/** Names of Raft message types (src/raft/types.ts MsgType), by number. */
export const MSG_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'Heartbeat',
  2: 'HeartbeatResp',
  3: 'AppendResp',
  4: 'Vote',
  5: 'PreVote',
  6: 'VoteResp',
  7: 'PreVoteResp',
  8: 'TimeoutNow',
  16: 'Append',
  17: 'Snapshot',
  18: 'ReadIndex',
  19: 'ReadIndexResp',
}

export const MSG_TYPE_BY_NAME: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(MSG_TYPE_NAMES).map(([n, s]) => [s, Number(n)]))

/** Why a request was refused, where the log can tell. */
export type RejectReason =
  | 'log-behind' // vote: the candidate's log is not as up to date as the voter's (§5.4.1)
  | 'voted-other' // vote: already voted for another candidate in this term
  | 'has-leader' // vote: the voter knows a leader in this term
  | 'stale-term' // pre-vote: the candidate's term is behind the voter's
  | 'log-mismatch' // append: no entry at the previous index with the previous term (see hint)
  | 'prev-mismatch' // heartbeat: the acknowledged prefix does not match

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

/** One record of a node's RPC log as served by GET /rpc-log and the SSE stream. */
export interface RpcRecord {
  /** Position in this node's log (monotonic per process; `since` cursors use it). */
  seq: number
  /** The node that logged it. */
  node: number
  kind: RecordKind
  /** Monotonic clock of the logging process, nanoseconds (CLOCK_MONOTONIC, as process.hrtime). */
  mono: number
  /** The same instant on the node's wall clock, ms since the epoch (mono + the node's offset). */
  wall: number
  /** The other end of a message (send: destination, recv: source); leader for 'role'; 0 when none. */
  peer: number
  /** Message type name (send/recv only). */
  type?: string
  term: number
  index: number
  logTerm?: number
  commit?: number
  /** Entries carried (Append) . */
  n?: number
  /** Term of the last entry carried (Append), to colour logs by term. */
  eterm?: number
  hint?: number
  ctx?: number
  reject?: boolean
  transfer?: boolean
  reason?: RejectReason
  /** Human-readable detail of the reason (numbers compared). */
  detail?: string
  path: 'user' | 'kernel'
  /** Pairs a send with its receive on the other node: a hash of the message's fields. */
  mid?: string
  /** Client request ids whose entries this record carries or concerns (propose, Append). */
  reqs?: string[]
  /** arrive/reply/propose: the HTTP request number on this node (0 when not from HTTP). */
  req?: number
  /** reply: HTTP status. */
  status?: number
  /** role: the new role. */
  role?: RaftRole
  /** conf: the change applied. */
  change?: string
  /** arrive/propose: the key(s) the request writes, when decoded. */
  keys?: string[]
}

/** The clock of the node that answered: to convert between its monotonic and wall time. */
export interface NodeClock {
  node: number
  /** Now, monotonic ns. */
  mono: number
  /** Now, wall ms. */
  wall: number
}

export interface RpcLogPage {
  node: number
  clock: NodeClock
  /** The oldest seq still held, and the newest written (0 when empty). */
  first: number
  last: number
  /** Capacity of the ring (0: the log is off). */
  size: number
  records: RpcRecord[]
}

export interface PeerProgress {
  id: number
  match: number
  next: number
  state: 'probe' | 'replicate' | 'snapshot'
  recentActive: boolean
  learner: boolean
  inflight: number
}

/** A node's state for the visualizer (GET /observe/status and SSE 'status' events). */
export interface ObserveStatus {
  id: number
  role: RaftRole
  term: number
  vote: number
  leader: number
  firstIndex: number
  lastIndex: number
  lastTerm: number
  /** Highest durable index ("persisted"). */
  stableIndex: number
  commit: number
  applied: number
  voters: number[]
  learners: number[]
  progress: PeerProgress[]
  /** Time since the election timer was last reset (leader contact, vote granted, role change). */
  electionElapsedMs: number
  /** The configured minimum election timeout; the randomized one is in [1×, 2×). */
  electionTimeoutMs: number
  heartbeatMs: number
  clock: NodeClock
  rpcLog: { size: number; total: number }
  /** The /scale-cluster operation as this node sees it (absent when the node runs no scaler). */
  scale?: ScaleProgress
}

/** One thing the scaler did or waited for (ms since the epoch, on the reporting node's clock). */
export interface ScaleEvent {
  at: number
  text: string
}

/**
 * A cluster resize as GET /status `cluster` reports it: only the leader plans, so `inProgress` and
 * `step` are null on the other members; `events` are the ones this node logged while it led.
 */
export interface ScaleProgress {
  /** 'local' or 'kubernetes'; null when the node cannot scale (no orchestrator). */
  orchestrator: string | null
  /** The committed target number of members, and the voters counted when it was accepted. */
  target: number | null
  from: number | null
  /** Operation number (one per accepted /scale-cluster). */
  op: number | null
  /** Processes (pods) the orchestrator runs, as last read. */
  replicas: number | null
  voters: number[]
  learners: number[]
  inProgress: boolean | null
  /** The step the leader takes next, in words ("wait for learner 4 to catch up (12/40)"). */
  step: string | null
  lastError: string | null
  events: ScaleEvent[]
}

export interface Member {
  id: number
  /** Base URL of the member's HTTP API (as this node resolves it), or null when unknown. */
  url: string | null
  self: boolean
  voter: boolean
}

export interface MembersInfo {
  self: number
  members: Member[]
  /** The `raftkv local` supervisor's control URL (stop/start nodes), when running under it. */
  localControl: string | null
}

/** One event of a traced request, on the reference clock. */
export interface TraceEvent extends RpcRecord {
  /** Corrected time, ms since the trace's origin (arrival or proposal on the proposer). */
  at: number
  /** For a send: the node/seq of its receive; for a recv: of its send. */
  pair?: { node: number; seq: number }
  /** What this step means for the request, in words. */
  label: string
}

export interface ClockOffset {
  node: number
  /** This node's wall clock minus the reference node's, ms (subtract to correct). */
  offsetMs: number
  /** Half the width of the bound the samples gave, ms (Infinity-free: -1 when one-sided). */
  errorMs: number
  /** How many paired messages gave it. */
  samples: number
  via: number | null
}

export interface Trace {
  id: string
  index: number
  term: number
  proposer: number
  keys: string[]
  /** Wall time (reference clock) of the origin `at` = 0. */
  origin: number
  offsets: ClockOffset[]
  events: TraceEvent[]
  /** Members that answered, and those that did not (down or unreachable). */
  answered: number[]
  missing: number[]
  /** When the proposer learned the entry was committed (ms since origin), and on how many members it was durable then. */
  committedAt: number | null
  /** Nodes that applied it. */
  appliedOn: number[]
  replyAt: number | null
}
