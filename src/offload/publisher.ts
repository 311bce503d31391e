// What the run loop publishes to the kernel, derived from the Readies it persists — never from
// RawNode.status(), which may already be ahead of the disk (messages stepped while a write is
// in flight). Pure: no I/O, no clock of its own (times are passed in).
//
// The run loop's part, per Ready:
//   1. persist the Ready (entries, hard state, snapshot) with fsync;
//   2. publisher.persisted(rd, nowNs) and handle.publish(the result)   ← before anything below;
//   3. send rd.persistedMessages (votes, acks: they promise what step 2 made visible);
//   4. advance(rd).
// and besides: noteLeaderContact(nowNs) whenever it steps an Append / Heartbeat / Snapshot from
// the leader (the core resets its election timer then), and handle.touch() every tick.

import { MsgType, NONE, Role, type ConfState, type NodeId, type Ready } from '../raft/types.ts'
import { STATE_LAYOUT, type PublishedState } from './state.ts'

export interface PublisherConfig {
  nodeId: NodeId
  clusterId: number
  port: number
  key: Uint8Array | null
  checkQuorum: boolean
  /** electionTick × tick length. */
  electionTimeoutNs: bigint
  /** Within this of the lease boundary the kernel passes up (≥ one tick plus timer jitter). */
  leaseMarginNs: bigint
  /** The kernel answers only while the liveness stamp is younger than this. */
  aliveMaxNs: bigint
}

/** What a node had durably when it (re)started. */
export interface DurableStart {
  term: number
  vote: NodeId
  commit: number
  lastIndex: number
  lastTerm: number
  conf: ConfState
  /** The last ≤ 256 durable (index, term) pairs. */
  recent: { index: number; term: number }[]
  /** With lease reads after a restart (term > 0): in lease until then; else 0n. */
  quietUntilNs: bigint
}

export class DurablePublisher {
  private term: number
  private vote: NodeId
  private commit: number
  private lastIndex: number
  private lastTerm: number
  private role: Role = Role.Follower
  private leader: NodeId = NONE
  private termStart = 0
  private conf: ConfState
  private contactNs = 0n
  private quietUntilNs: bigint
  private pendingEntries: { index: number; term: number }[]

  constructor(
    private readonly cfg: PublisherConfig,
    start: DurableStart,
  ) {
    this.term = start.term
    this.vote = start.vote
    this.commit = start.commit
    this.lastIndex = start.lastIndex
    this.lastTerm = start.lastTerm
    this.conf = start.conf
    this.quietUntilNs = start.quietUntilNs
    this.pendingEntries = start.recent.slice(-STATE_LAYOUT.ringSize)
  }

  /** The core reset its election timer for a leader message (step of Append/Heartbeat/Snapshot from the leader). */
  noteLeaderContact(nowNs: bigint): void {
    if (nowNs > this.contactNs) this.contactNs = nowNs
  }

  /**
   * The durable state after `rd` was persisted, to publish before its persistedMessages leave.
   * `conf` is the configuration in force (RawNode.status().conf: membership takes effect when
   * appended, and the run loop calls this right after persisting, so it is durable too).
   */
  persisted(rd: Ready, nowNs: bigint, conf?: ConfState): PublishedState {
    let newCampaign = false
    if (rd.softState) {
      if (rd.softState.role !== this.role || rd.softState.leader !== this.leader) this.contactNs = nowNs // reset() zeroes electionElapsed
      this.role = rd.softState.role
      this.leader = rd.softState.leader
    }
    if (rd.hardState) {
      if (rd.hardState.vote !== this.vote && rd.hardState.vote !== NONE && rd.hardState.vote !== this.cfg.nodeId) this.contactNs = nowNs // a granted vote resets the timer
      if (rd.hardState.term !== this.term) this.termStart = 0
      this.term = rd.hardState.term
      this.vote = rd.hardState.vote
      this.commit = rd.hardState.commit
    }
    // A re-grant to the same candidate also resets the election timer.
    for (const m of rd.persistedMessages) if (m.type === MsgType.VoteResp && !m.reject) this.contactNs = nowNs
    if (rd.snapshot) {
      this.lastIndex = rd.snapshot.meta.index
      this.lastTerm = rd.snapshot.meta.term
      if (rd.snapshot.meta.index > this.commit) this.commit = rd.snapshot.meta.index
      this.pendingEntries.push({ index: rd.snapshot.meta.index, term: rd.snapshot.meta.term })
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!
      // Entries replace what was stored from entries[0].index on: the last one is the durable end.
      this.lastIndex = last.index
      this.lastTerm = last.term
      for (const e of rd.entries) {
        this.pendingEntries.push({ index: e.index, term: e.term })
        if (this.role === Role.Leader && e.term === this.term && this.termStart === 0) this.termStart = e.index
      }
    }
    for (const m of rd.messages) {
      if ((m.type === MsgType.Vote || m.type === MsgType.PreVote) && m.from === this.cfg.nodeId) newCampaign = true
    }
    if (conf) this.conf = conf
    const entries = this.pendingEntries.filter((e) => e.index > this.lastIndex - STATE_LAYOUT.ringSize)
    this.pendingEntries = []
    return {
      nodeId: this.cfg.nodeId,
      clusterId: this.cfg.clusterId,
      port: this.cfg.port,
      key: this.cfg.key,
      role: this.role,
      term: this.term,
      votedFor: this.vote,
      leader: this.leader,
      lastIndex: this.lastIndex,
      lastTerm: this.lastTerm,
      commit: Math.min(this.commit, this.lastIndex),
      termStart: this.role === Role.Leader ? this.termStart : 0,
      voters: this.conf.voters,
      learners: this.conf.learners,
      checkQuorum: this.cfg.checkQuorum,
      electionTimeoutNs: this.cfg.electionTimeoutNs,
      leaseMarginNs: this.cfg.leaseMarginNs,
      aliveMaxNs: this.cfg.aliveMaxNs,
      contactNs: this.contactNs,
      quietUntilNs: this.quietUntilNs,
      entries,
      newCampaign,
    }
  }
}
