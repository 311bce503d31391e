// One simulated server: a RawNode plus what survives it (durable storage) and what it serves from
// (the state machine), and the bookkeeping the harness needs to drive its Ready loop.
import type { RawNode } from '../../src/raft/rawnode.ts'
import { Role, type Message, type NodeId, type Ready, type ReadState } from '../../src/raft/types.ts'
import type { Rng } from './rng.ts'
import { KvStateMachine } from './statemachine.ts'
import type { DurableStorage } from './storage.ts'

/** A tick that arrived while the node was busy persisting (sequential-loop mode). */
export const TICK = 'tick'
export type InboxItem = Message | typeof TICK

export class SimNode {
  raw: RawNode | null = null
  sm = new KvStateMachine()
  /** Bumped on every crash: events scheduled for an earlier life are ignored. */
  incarnation = 0
  /** Stopped for good (its removal committed); never restarted. */
  removed = false
  /** The Ready handed out by ready() whose persist has not finished. */
  inflight: Ready | null = null
  readyScheduled = false
  /** What arrived while a Ready was in flight, in a sequential-loop node. */
  inbox: InboxItem[] = []
  /** Frozen (process pause) until this virtual time. */
  pausedUntil = 0
  /** ReadStates waiting for the state machine to reach their index. */
  waitingReads: ReadState[] = []

  // What the node looked like after its last event, for change detection (and for cheap queries).
  role: Role = Role.Follower
  term = 0
  commit = 0
  leader: NodeId = 0

  constructor(
    readonly id: NodeId,
    readonly durable: DurableStorage,
    /** Source of the core's randomness across all its lives. */
    readonly rng: Rng,
    /** Virtual time per tick; differs slightly per node (clock rate drift). */
    readonly tickInterval: number,
  ) {}

  get up(): boolean {
    return this.raw !== null
  }
}
