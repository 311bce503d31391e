import type { RaftConfig, RestoredState } from './config.ts'
import type { ProgressState } from './progress.ts'
import { Raft } from './raft.ts'
import {
  MsgType,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type ProposeResult,
  type Ready,
  type RequestResult,
  type Role,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
} from './types.ts'

export interface PeerStatus {
  match: number
  next: number
  state: ProgressState
  recentActive: boolean
  learner: boolean
  inflight: number
}

export interface Status {
  id: NodeId
  term: number
  vote: NodeId
  commit: number
  applied: number
  leader: NodeId
  role: Role
  firstIndex: number
  lastIndex: number
  lastTerm: number
  stableIndex: number
  conf: ConfState
  /** The leader's view of every member, itself included; empty on other roles. */
  progress: Map<NodeId, PeerStatus>
  transferee: NodeId
  leaseValid: boolean
}

/**
 * The application's handle on the Raft core (etcd-raft's RawNode): feed it ticks, messages and
 * requests; take a Ready; do what it says; advance. Deterministic: the same calls give the same
 * Readies.
 */
export class RawNode {
  private readonly r: Raft
  private prevSoft: SoftState
  private prevHard: HardState
  /** Messages to ourselves that wait for the persist of the Ready they came with. */
  private selfAfterPersist: Message[] = []
  private outstanding = false

  constructor(config: RaftConfig, state: RestoredState) {
    this.r = new Raft(config, state)
    this.prevSoft = { leader: this.r.lead, role: this.r.role }
    this.prevHard = { term: this.r.term, vote: this.r.vote, commit: this.r.log.committed }
  }

  tick(): void {
    this.r.tick()
  }

  /** Steps a message from a peer. Stale, misaddressed or unknown messages are ignored. */
  /** See Raft.leaderHeard: the known leader was heard `ticksAgo` ticks ago without a stepped message. */
  leaderHeard(leader: NodeId, term: number, ticksAgo: number): boolean {
    return this.r.leaderHeard(leader, term, ticksAgo)
  }

  step(m: Message): void {
    this.r.step(m)
  }

  /** Appends commands (leader only). The entries get consecutive indexes ending at the result's index. */
  propose(data: Uint8Array[]): ProposeResult {
    return this.r.propose(data)
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.r.proposeConfChange(cc)
  }

  /** Asks for a linearizable read point; a ReadState with this ctx follows in a later Ready. */
  readIndex(ctx: number): RequestResult {
    return this.r.readIndex(ctx)
  }

  transferLeadership(to: NodeId): RequestResult {
    return this.r.transferLeadership(to)
  }

  /**
   * Starts an election now (operator action or tests). With lease reads, refused while this node
   * hears from a leader (or just restarted): it promised that leader not to help elect anyone for an
   * election timeout, and the leader's lease relies on that. Move leadership with transferLeadership().
   */
  campaign(): RequestResult {
    if (this.r.cfg.readOnly === 'lease' && this.r.inLease() && this.r.role !== 'leader') return { ok: false, reason: 'in-lease' }
    this.r.hup(false)
    return { ok: true }
  }

  /** See Raft.createSnapshot: null when there is nothing newer to record. */
  createSnapshot(index: number, data: Uint8Array): Snapshot | null {
    return this.r.createSnapshot(index, data)
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    this.r.reportSnapshot(to, ok)
  }

  hasReady(): boolean {
    const r = this.r
    const log = r.log
    if (r.msgs.length > 0 || r.msgsAfterPersist.length > 0 || r.readStates.length > 0) return true
    if (r.hasPendingSends()) return true
    if (log.pendingSnapshot !== null || log.stable < log.lastIndex() || log.hasNextCommitted()) return true
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true
    const h = this.prevHard
    return r.term !== h.term || r.vote !== h.vote || log.committed !== h.commit
  }

  ready(): Ready {
    if (this.outstanding) throw new Error('raft: ready() called again before advance()')
    const r = this.r
    r.flush()
    const log = r.log
    let softState: SoftState | null = null
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) {
      softState = { leader: r.lead, role: r.role }
      this.prevSoft = softState
    }
    let hardState: HardState | null = null
    const h = this.prevHard
    if (r.term !== h.term || r.vote !== h.vote || log.committed !== h.commit) {
      hardState = { term: r.term, vote: r.vote, commit: log.committed }
    }
    const committedEntries = log.nextCommitted()
    if (committedEntries.length > 0) log.applying = committedEntries[committedEntries.length - 1]!.index
    const persisted: Message[] = []
    for (const m of r.msgsAfterPersist) {
      if (m.to === r.id) this.selfAfterPersist.push(m)
      else persisted.push(m)
    }
    const rd: Ready = {
      softState,
      hardState,
      snapshot: log.pendingSnapshot,
      entries: log.unstableEntries(),
      committedEntries,
      messages: r.msgs,
      persistedMessages: persisted,
      readStates: r.readStates,
    }
    r.msgs = []
    r.msgsAfterPersist = []
    r.readStates = []
    this.outstanding = true
    return rd
  }

  /** Acknowledges that everything the Ready asked for is done. */
  advance(rd: Ready): void {
    this.outstanding = false
    const r = this.r
    const log = r.log
    if (rd.snapshot) {
      if (log.pendingSnapshot === rd.snapshot) log.pendingSnapshot = null
      if (log.applied < rd.snapshot.meta.index) log.applied = rd.snapshot.meta.index
      if (log.applying < log.applied) log.applying = log.applied
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!
      log.stableTo(last.index, last.term)
    }
    if (rd.hardState) this.prevHard = rd.hardState
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!.index
      if (last > log.applied) log.applied = last
    }
    r.onPersisted()
    const self = this.selfAfterPersist
    this.selfAfterPersist = []
    for (const m of self) r.step(m)
  }

  status(): Status {
    const r = this.r
    const progress = new Map<NodeId, PeerStatus>()
    for (const [id, pr] of r.progress) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        recentActive: pr.recentActive,
        learner: pr.learner,
        inflight: pr.inflights.count,
      })
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      leader: r.lead,
      role: r.role,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      lastTerm: r.log.lastTerm(),
      stableIndex: r.log.stable,
      conf: r.conf,
      progress,
      transferee: r.leadTransferee,
      leaseValid: r.leaseValid(),
    }
  }

  /** Entries in [lo, hi) that the core still holds (lo must be above the snapshot index). */
  entriesFrom(lo: number, hi: number): Entry[] {
    return this.r.log.slice(lo, hi)
  }

  snapshotMeta(): SnapshotMeta {
    return this.r.log.snapshot
  }

  /** Metadata describing the state machine at `index` (snapshot index ≤ index ≤ applied). */
  metaAt(index: number): SnapshotMeta {
    return this.r.metaAt(index)
  }

  /** The id of this node. */
  get id(): NodeId {
    return this.r.id
  }
}

/** Whether a message type travels on the fixed-size UDP control plane. */
export function isControlMessage(m: Message): boolean {
  return m.type < MsgType.Append
}
