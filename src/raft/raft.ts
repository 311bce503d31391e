import { validateConfig, type RaftConfig, type RestoredState } from './config.ts'
import { applyConfChange, decodeConfChangeEntry, encodeConfChangeEntry } from './confchange.ts'
import { RaftLog, UNKNOWN_TERM, entrySize } from './log.ts'
import { Progress, ProgressState } from './progress.ts'
import { majorityIndex, quorumSize, tallyVotes } from './quorum.ts'
import { ReadQueue } from './readqueue.ts'
import {
  EntryType,
  MsgType,
  NONE,
  Role,
  emptyMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ProposeResult,
  type ReadState,
  type RequestResult,
  type Snapshot,
  type SnapshotMeta,
} from './types.ts'

const EMPTY = new Uint8Array(0)

/**
 * The Raft protocol state machine (Ongaro's thesis, with etcd-raft's PreVote, CheckQuorum and
 * flow control). It never touches I/O, time or randomness other than `config.random`; RawNode
 * wraps it with the Ready/advance hand-off.
 */
export class Raft {
  readonly id: NodeId
  readonly cfg: RaftConfig
  term: number
  vote: NodeId
  lead: NodeId = NONE
  role: Role = Role.Follower
  readonly log: RaftLog
  conf: ConfState
  /** Indexes of membership entries in the log, ascending (for reverting on truncation). */
  private confIndexes: number[] = []
  readonly progress = new Map<NodeId, Progress>()
  private votes = new Map<NodeId, boolean>()

  /** Ticks since the last reset: leader contact (followers), last CheckQuorum round (leader). */
  electionElapsed = 0
  private heartbeatElapsed = 0
  private randomizedElectionTimeout = 0
  /** Ticks since this node started; the clock for leases and snapshot timeouts. */
  private now = 0
  /**
   * Before a restart this node may have acknowledged a leader's heartbeat, promising (for leases)
   * not to help elect anyone else for an election timeout. It cannot remember when, so it keeps
   * that promise for one election timeout after starting.
   */
  private quietUntil: number

  leadTransferee: NodeId = NONE
  /** A TimeoutNow went out this term: a transfer may be under way, so leases cannot be trusted. */
  private timeoutNowSent = false
  /** Bytes of this leader's entries not yet committed. */
  private uncommittedBytes = 0

  readonly reads = new ReadQueue()
  readStates: ReadState[] = []

  /** Messages sendable now. */
  msgs: Message[] = []
  /** Messages that may leave only after the Ready's entries and hard state are durable. */
  msgsAfterPersist: Message[] = []
  /** Peers that may have appends to send (flushed in one pass, which batches proposals). */
  private dirty = new Set<NodeId>()
  /** The commit index advanced: every peer gets an Append even if it carries no entries. */
  private commitOwed = false
  /** A heartbeat round is owed to confirm waiting reads. */
  private readRoundOwed = false

  constructor(cfg: RaftConfig, state: RestoredState) {
    validateConfig(cfg)
    this.id = cfg.id
    this.cfg = cfg
    this.term = state.hardState.term
    this.vote = state.hardState.vote
    this.log = new RaftLog(
      state.snapshot,
      state.snapshotData ?? EMPTY,
      state.entries.slice(),
      state.hardState.commit,
      state.applied,
    )
    this.conf = state.snapshot.conf
    for (const e of this.log.entries) if (e.type === EntryType.ConfChange) this.confIndexes.push(e.index)
    this.conf = this.confAt(this.log.lastIndex())
    // Only leases depend on the promise; a node that never had a term never acknowledged anyone.
    this.quietUntil = cfg.readOnly === 'lease' && state.hardState.term > 0 ? cfg.electionTick : 0
    this.becomeFollower(this.term, NONE)
  }

  /** Heard from a leader within the minimum election timeout (or just started): votes wait. */
  inLease(): boolean {
    if (!this.cfg.checkQuorum) return false
    if (this.now < this.quietUntil) return true
    return this.lead !== NONE && this.electionElapsed < this.cfg.electionTick
  }

  // ---- membership -------------------------------------------------------------------------

  isVoter(id: NodeId = this.id): boolean {
    return this.conf.voters.includes(id)
  }

  /** The configuration in force at `index`: the latest membership entry at or below it. */
  confAt(index: number): ConfState {
    for (let i = this.confIndexes.length - 1; i >= 0; i--) {
      const ci = this.confIndexes[i]!
      if (ci <= index) {
        const e = this.log.entry(ci)
        if (e) return decodeConfChangeEntry(e.data).conf
      }
    }
    return this.log.snapshot.conf
  }

  private lastConfIndex(): number {
    const n = this.confIndexes.length
    return n === 0 ? this.log.snapshot.index : this.confIndexes[n - 1]!
  }

  /** Puts a new configuration in force (it takes effect as soon as it is in the log). */
  private setConf(conf: ConfState): void {
    this.conf = conf
    if (this.role !== Role.Leader) return
    const next = this.log.lastIndex() + 1
    const members = new Set([...conf.voters, ...conf.learners])
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id)
    for (const id of members) {
      const learner = conf.learners.includes(id)
      let pr = this.progress.get(id)
      if (!pr) {
        pr = this.newProgress(next, learner)
        // A new member gets a full CheckQuorum round before it can count against the leader.
        pr.recentActive = true
        this.progress.set(id, pr)
        this.dirty.add(id)
      }
      pr.learner = learner
    }
    if (this.leadTransferee !== NONE && !conf.voters.includes(this.leadTransferee)) this.leadTransferee = NONE
    // A smaller quorum may commit at once.
    if (this.maybeCommit()) this.commitOwed = true
  }

  /** After the follower's log changed: recompute the configuration from the log. */
  private onLogChanged(truncatedFrom: number, appended: Entry[]): void {
    let changed = false
    if (truncatedFrom > 0) {
      this.dropAcksFrom(truncatedFrom)
      while (this.confIndexes.length > 0 && this.confIndexes[this.confIndexes.length - 1]! >= truncatedFrom) {
        this.confIndexes.pop()
        changed = true
      }
    }
    for (const e of appended) {
      if (e.type === EntryType.ConfChange && e.index > this.lastConfIndex()) {
        this.confIndexes.push(e.index)
        changed = true
      }
    }
    if (changed) this.setConf(this.confAt(this.log.lastIndex()))
  }

  // ---- role changes -----------------------------------------------------------------------

  private newProgress(next: number, learner: boolean): Progress {
    return new Progress(next, learner, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes)
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = NONE
    }
    this.lead = NONE
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.randomizedElectionTimeout = this.cfg.electionTick + Math.floor(this.cfg.random() * this.cfg.electionTick)
    this.leadTransferee = NONE
    this.timeoutNowSent = false
    this.votes.clear()
    this.progress.clear()
    this.dirty.clear()
    this.reads.reset()
    this.readRoundOwed = false
    this.commitOwed = false
    this.uncommittedBytes = 0
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term)
    this.lead = lead
    this.role = Role.Follower
  }

  private becomePreCandidate(): void {
    // A pre-candidate changes neither term nor vote: a lost pre-election leaves no trace.
    this.votes.clear()
    this.lead = NONE
    this.role = Role.PreCandidate
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = Role.Candidate
  }

  private becomeLeader(): void {
    this.reset(this.term)
    this.lead = this.id
    this.role = Role.Leader
    const next = this.log.lastIndex() + 1
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      const pr = this.newProgress(next, this.conf.learners.includes(id))
      if (id === this.id) {
        // The leader's own match is its durable last index; it moves only as its writes complete.
        pr.match = this.log.stable
        pr.becomeReplicate()
        pr.next = next
      }
      pr.recentActive = true
      this.progress.set(id, pr)
    }
    // §8: a no-op entry commits everything from earlier terms and unblocks reads.
    this.appendEntries([{ term: this.term, index: 0, type: EntryType.Normal, data: EMPTY }])
    this.bcastAppend()
  }

  // ---- ticks --------------------------------------------------------------------------------

  /**
   * The leader this follower follows was heard `ticksAgo` ticks ago by a path that stepped no
   * message here (the kernel fast path acknowledged its heartbeat from the durable state): the
   * election timer restarts from then, as a stepped heartbeat would have restarted it. Only for
   * the known leader of the current term, and it can only make the timer younger: anything else
   * (another term, another leader, no leader, not a follower) is ignored. Returns whether the
   * timer moved.
   */
  leaderHeard(leader: NodeId, term: number, ticksAgo: number): boolean {
    if (this.role !== Role.Follower || this.lead === NONE || leader !== this.lead || term !== this.term) return false
    if (!Number.isInteger(ticksAgo) || ticksAgo < 0 || ticksAgo >= this.electionElapsed) return false
    this.electionElapsed = ticksAgo
    return true
  }

  tick(): void {
    this.now++
    if (this.role === Role.Leader) this.tickHeartbeat()
    else this.tickElection()
  }

  private tickElection(): void {
    this.electionElapsed++
    if (this.isVoter() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.hup(false)
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0
      if (this.cfg.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE)
          return
        }
      }
      // A transfer that has not finished within an election timeout is abandoned.
      this.leadTransferee = NONE
    }
    for (const [id, pr] of this.progress) {
      if (
        id !== this.id &&
        pr.state === ProgressState.Snapshot &&
        this.now - pr.snapshotSentTick >= 2 * this.cfg.electionTick
      ) {
        // No answer to the snapshot: try again from probing (the snapshot may have been lost).
        pr.becomeProbe()
        this.dirty.add(id)
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat()
    }
  }

  private quorumActive(): boolean {
    let active = 0
    for (const id of this.conf.voters) {
      if (id === this.id) {
        active++
        continue
      }
      const pr = this.progress.get(id)
      if (pr?.recentActive) active++
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false
    return active >= quorumSize(this.conf.voters.length)
  }

  // ---- elections ----------------------------------------------------------------------------

  /** Starts an election (a pre-election first when PreVote is on and this is not a transfer). */
  hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.isVoter()) return
    if (this.cfg.preVote && !transfer) this.campaignPre()
    else this.campaign(transfer)
  }

  private campaignPre(): void {
    this.becomePreCandidate()
    this.votes.set(this.id, true)
    if (tallyVotes(this.conf.voters, this.votes) === 'won') {
      this.campaign(false)
      return
    }
    this.sendVoteRequests(MsgType.PreVote, this.term + 1, false)
  }

  private campaign(transfer: boolean): void {
    this.becomeCandidate()
    this.sendVoteRequests(MsgType.Vote, this.term, transfer)
    // Our own vote counts only once it is durable: it is answered to ourselves after the persist.
    const self = emptyMessage(MsgType.VoteResp, this.id, this.id, this.term)
    this.msgsAfterPersist.push(self)
  }

  private sendVoteRequests(type: MsgType, term: number, transfer: boolean): void {
    const li = this.log.lastIndex()
    const lt = this.log.lastTerm()
    for (const id of this.conf.voters) {
      if (id === this.id) continue
      const m = emptyMessage(type, this.id, id, term)
      m.index = li
      m.logTerm = lt
      m.transfer = transfer
      this.msgs.push(m)
    }
  }

  private handleVoteRequest(m: Message): void {
    const isPre = m.type === MsgType.PreVote
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (isPre && m.term > this.term)
    const respType = isPre ? MsgType.PreVoteResp : MsgType.VoteResp
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted pre-vote answers in the candidate's future term, so the candidate counts it.
      this.send(emptyMessage(respType, this.id, m.from, m.term))
      if (!isPre) {
        this.electionElapsed = 0
        this.vote = m.from
      }
    } else {
      const r = emptyMessage(respType, this.id, m.from, this.term)
      r.reject = true
      this.send(r)
    }
  }

  private handleVoteResponse(m: Message): void {
    if (!this.conf.voters.includes(m.from)) return
    if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject)
    const res = tallyVotes(this.conf.voters, this.votes)
    if (res === 'won') {
      if (this.role === Role.PreCandidate) this.campaign(false)
      else this.becomeLeader()
    } else if (res === 'lost') {
      this.becomeFollower(this.term, NONE)
    }
  }

  // ---- step ---------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.to !== this.id && m.to !== NONE) return
    if (m.from === this.id && m.type !== MsgType.VoteResp) return
    if (m.term > this.term) {
      if (m.type === MsgType.Vote || m.type === MsgType.PreVote) {
        // §4.2.3: while we hear from a leader, ignore disruptive candidates — unless the leader
        // itself handed over (TimeoutNow).
        if (!m.transfer && this.inLease()) return
      }
      if (m.type === MsgType.PreVote) {
        // A pre-vote never moves our term.
      } else if (m.type === MsgType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the term we would campaign in; it is not a newer leader's term.
      } else if (m.type === MsgType.Append || m.type === MsgType.Heartbeat || m.type === MsgType.Snapshot) {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, NONE)
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MsgType.Heartbeat || m.type === MsgType.Append)) {
        // A stale leader, or we advanced our term while partitioned and can no longer win: answer
        // with our term so that the old leader steps down and a fresh election can include us.
        this.send(emptyMessage(MsgType.AppendResp, this.id, m.from, this.term))
      } else if (m.type === MsgType.PreVote) {
        const r = emptyMessage(MsgType.PreVoteResp, this.id, m.from, this.term)
        r.reject = true
        this.send(r)
      }
      return
    }

    switch (m.type) {
      case MsgType.Vote:
      case MsgType.PreVote:
        this.handleVoteRequest(m)
        return
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m)
        return
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m)
        return
      default:
        this.stepFollower(m)
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from)
    switch (m.type) {
      case MsgType.AppendResp:
        if (pr) this.handleAppendResp(m, pr)
        return
      case MsgType.HeartbeatResp:
        if (pr) this.handleHeartbeatResp(m, pr)
        return
      case MsgType.ReadIndex:
        if (pr) this.leaderReadIndex(m.ctx, m.from)
        return
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MsgType.Append:
        this.becomeFollower(m.term, m.from)
        this.handleAppend(m)
        return
      case MsgType.Heartbeat:
        this.becomeFollower(m.term, m.from)
        this.handleHeartbeat(m)
        return
      case MsgType.Snapshot:
        this.becomeFollower(m.term, m.from)
        this.handleSnapshot(m)
        return
      case MsgType.PreVoteResp:
        if (this.role === Role.PreCandidate) this.handleVoteResponse(m)
        return
      case MsgType.VoteResp:
        if (this.role === Role.Candidate) this.handleVoteResponse(m)
        return
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MsgType.Append:
        this.electionElapsed = 0
        this.lead = m.from
        this.handleAppend(m)
        return
      case MsgType.Heartbeat:
        this.electionElapsed = 0
        this.lead = m.from
        this.handleHeartbeat(m)
        return
      case MsgType.Snapshot:
        this.electionElapsed = 0
        this.lead = m.from
        this.handleSnapshot(m)
        return
      case MsgType.TimeoutNow:
        // The leader picked us: campaign at once, skipping the pre-election and leases.
        if (m.from === this.lead) this.hup(true)
        return
      case MsgType.ReadIndexResp:
        this.readStates.push({ ctx: m.ctx, index: m.index })
        return
    }
  }

  // ---- replication: follower side ------------------------------------------------------------

  private handleAppend(m: Message): void {
    const log = this.log
    if (m.index < log.committed) {
      // Everything up to our commit index matches the leader (Leader Completeness); say so.
      const r = emptyMessage(MsgType.AppendResp, this.id, m.from, this.term)
      r.index = log.committed
      this.send(r)
      return
    }
    if (log.matchTerm(m.index, m.logTerm)) {
      const last = m.index + m.entries.length
      if (m.entries.length > 0) {
        const truncated = log.appendFromLeader(m.entries)
        this.onLogChanged(truncated, m.entries)
      }
      // Only entries known to match the leader's may be committed here.
      log.commitTo(Math.min(m.commit, last))
      const r = emptyMessage(MsgType.AppendResp, this.id, m.from, this.term)
      r.index = last
      this.send(r)
      return
    }
    const hint = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm)
    const r = emptyMessage(MsgType.AppendResp, this.id, m.from, this.term)
    r.index = m.index
    r.reject = true
    r.hint = hint.index
    r.logTerm = hint.term
    this.send(r)
  }

  private handleHeartbeat(m: Message): void {
    const log = this.log
    // The previous entry matches if it is committed here (committed entries are the leader's) or
    // its term agrees; only then is the leader's commit index meaningful up to it.
    const matched = m.index <= log.committed || log.matchTerm(m.index, m.logTerm)
    if (matched) log.commitTo(Math.min(m.commit, m.index))
    const r = emptyMessage(MsgType.HeartbeatResp, this.id, m.from, this.term)
    r.index = m.index
    r.ctx = m.ctx
    r.reject = !matched
    this.send(r)
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot
    if (!snap) return
    const meta = snap.meta
    const r = emptyMessage(MsgType.AppendResp, this.id, m.from, this.term)
    if (meta.index <= this.log.committed) {
      r.index = this.log.committed
    } else if (this.log.matchTerm(meta.index, meta.term)) {
      // We already hold the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(meta.index)
      r.index = meta.index
    } else {
      // Acks still queued may vouch for entries the snapshot replaced without our being able to
      // compare them; only what we already knew to be committed is the same in every leader's log.
      const knownCommitted = this.log.committed
      this.log.restore(snap)
      this.dropAcksFrom(knownCommitted + 1)
      this.confIndexes = []
      this.setConf(meta.conf)
      r.index = meta.index
    }
    this.send(r)
  }

  // ---- replication: leader side --------------------------------------------------------------

  private appendEntries(ents: Entry[]): void {
    let index = this.log.lastIndex()
    for (const e of ents) {
      e.term = this.term
      e.index = ++index
      this.uncommittedBytes += e.data.length
    }
    this.log.appendOwn(ents)
    for (const e of ents) if (e.type === EntryType.ConfChange) this.confIndexes.push(e.index)
    for (const id of this.progress.keys()) if (id !== this.id) this.dirty.add(id)
  }

  /** Sends what a follower is missing, as far as its window allows. Returns whether it sent. */
  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to)
    if (!pr || pr.isPaused()) return false
    const log = this.log
    const prev = pr.next - 1
    const prevTerm = log.term(prev)
    if (prevTerm === UNKNOWN_TERM) {
      if (prev < log.snapshot.index) return this.sendSnapshot(to, pr)
      // next beyond our log (a stale progress): probe from the end.
      pr.next = log.lastIndex() + 1
      return false
    }
    let maxBytes = this.cfg.maxSizePerMsg
    if (this.cfg.maxInflightBytes > 0 && pr.state === ProgressState.Replicate) {
      maxBytes = Math.min(maxBytes, Math.max(1, this.cfg.maxInflightBytes - pr.inflights.bytes))
    }
    const ents = log.slice(pr.next, Infinity, maxBytes)
    if (ents.length === 0 && !sendIfEmpty) return false
    const m = emptyMessage(MsgType.Append, this.id, to, this.term)
    m.index = prev
    m.logTerm = prevTerm
    m.entries = ents
    m.commit = log.committed
    let bytes = 0
    for (const e of ents) bytes += entrySize(e)
    pr.sentEntries(ents.length, prev + ents.length, bytes)
    this.msgs.push(m)
    return true
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const log = this.log
    const m = emptyMessage(MsgType.Snapshot, this.id, to, this.term)
    m.snapshot = { meta: log.snapshot, data: log.snapshotData }
    pr.becomeSnapshot(log.snapshot.index, this.now)
    this.msgs.push(m)
    return true
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.dirty.add(id)
  }

  /** Sends appends to every peer that may need them; run once per Ready so proposals batch. */
  flush(): void {
    if (this.role === Role.Leader) {
      if (this.commitOwed) {
        this.commitOwed = false
        for (const id of this.progress.keys()) {
          if (id === this.id) continue
          // Tell everyone the new commit index; send entries too where the window allows.
          if (this.sendAppend(id, true)) while (this.sendAppend(id, false));
        }
        this.dirty.clear()
      }
      if (this.dirty.size > 0) {
        for (const id of this.dirty) {
          while (this.sendAppend(id, false)) {
            // keep filling the window
          }
        }
        this.dirty.clear()
      }
      if (this.readRoundOwed) {
        this.readRoundOwed = false
        this.bcastHeartbeat()
      }
    } else {
      this.dirty.clear()
      this.readRoundOwed = false
      this.commitOwed = false
    }
  }

  hasPendingSends(): boolean {
    return (this.dirty.size > 0 || this.readRoundOwed || this.commitOwed) && this.role === Role.Leader
  }

  private bcastHeartbeat(): void {
    const round = this.reads.newRound(this.now)
    const log = this.log
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue
      const m = emptyMessage(MsgType.Heartbeat, this.id, id, this.term)
      // prev = what we know the follower holds durably; the kernel path checks exactly this pair.
      const t = log.term(pr.match)
      if (t !== UNKNOWN_TERM) {
        m.index = pr.match
        m.logTerm = t
      }
      m.commit = Math.min(log.committed, m.index)
      m.ctx = round
      this.msgs.push(m)
    }
    // Our own acknowledgement of the round (absent when this leader is removing itself).
    const self = this.progress.get(this.id)
    if (self) self.readAck = round
  }

  private handleAppendResp(m: Message, pr: Progress): void {
    pr.recentActive = true
    const log = this.log
    if (m.reject) {
      let probe = m.hint
      if (m.logTerm > 0) probe = log.findConflictByTerm(m.hint, m.logTerm).index
      if (pr.maybeDecrTo(m.index, probe)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe()
        this.sendAppend(m.from, false) || this.sendAppend(m.from, true)
      }
      return
    }
    if (m.index > log.lastIndex()) return
    const oldPaused = pr.isPaused()
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === ProgressState.Probe) pr.becomeReplicate()
      else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
        pr.becomeProbe()
        pr.becomeReplicate()
      } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index)
      if (this.maybeCommit()) this.commitOwed = true
      this.dirty.add(m.from)
      if (m.from === this.leadTransferee && pr.match === log.lastIndex()) this.sendTimeoutNow(m.from)
    } else if (oldPaused) {
      this.dirty.add(m.from)
    }
  }

  private handleHeartbeatResp(m: Message, pr: Progress): void {
    pr.recentActive = true
    pr.probeSent = false
    if (m.reject && pr.state === ProgressState.Replicate) pr.becomeProbe()
    // The follower is alive but the window is full: appends or their acks were probably lost.
    // Free one slot so an Append goes out; a gap makes the follower reject and we re-probe.
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirst()
    if (pr.match < this.log.lastIndex()) {
      // Send even an empty Append: if the one carrying the tail was lost, the follower's
      // rejection of this one (a gap) is what brings the leader back to probing.
      this.sendAppend(m.from, true)
      this.dirty.add(m.from)
    }
    if (m.ctx > pr.readAck) {
      pr.readAck = m.ctx
      this.releaseReads()
    }
  }

  /** Commits the highest index a quorum holds durably, if it is from this term (§5.4.2). */
  maybeCommit(): boolean {
    if (this.role !== Role.Leader) return false
    const idx = majorityIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0)
    if (idx <= this.log.committed || this.log.term(idx) !== this.term) return false
    const from = this.log.committed + 1
    this.log.commitTo(idx)
    for (let i = from; i <= idx; i++) this.uncommittedBytes -= this.log.entry(i)?.data.length ?? 0
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0
    this.releaseReads()
    // A leader that removed itself leaves once the removal is committed.
    if (!this.isVoter() && idx >= this.lastConfIndex()) {
      this.becomeFollower(this.term, NONE)
      return false
    }
    return true
  }

  /** Called by RawNode once entries up to `index` are durable on this node. */
  onPersisted(): void {
    if (this.role !== Role.Leader) return
    const self = this.progress.get(this.id)
    if (self && self.maybeUpdate(this.log.stable)) {
      if (this.maybeCommit()) this.commitOwed = true
    }
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term
  }

  // ---- local requests ----------------------------------------------------------------------

  propose(datas: Uint8Array[]): ProposeResult {
    if (this.role !== Role.Leader) return { ok: false, reason: this.lead === NONE ? 'no-leader' : 'not-leader' }
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'transferring' }
    if (this.cfg.maxUncommittedBytes > 0 && this.uncommittedBytes > 0) {
      let add = 0
      for (const d of datas) add += d.length
      if (this.uncommittedBytes + add > this.cfg.maxUncommittedBytes) return { ok: false, reason: 'too-many-uncommitted' }
    }
    const ents: Entry[] = datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data }))
    this.appendEntries(ents)
    return { ok: true, index: this.log.lastIndex(), term: this.term }
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== Role.Leader) return { ok: false, reason: this.lead === NONE ? 'no-leader' : 'not-leader' }
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'transferring' }
    // One change at a time, and only after this term's no-op committed: a single-server change
    // proposed before that could be decided by a quorum that overlaps no earlier one (Ongaro, 2015).
    if (this.lastConfIndex() > this.log.committed) return { ok: false, reason: 'pending-conf-change' }
    if (!this.committedInTerm()) return { ok: false, reason: 'no-commit-in-term' }
    const next = applyConfChange(this.conf, cc)
    if (typeof next === 'string') return { ok: false, reason: 'invalid-conf-change' }
    const data = encodeConfChangeEntry({ change: cc, conf: next })
    this.appendEntries([{ term: 0, index: 0, type: EntryType.ConfChange, data }])
    this.setConf(next)
    return { ok: true, index: this.log.lastIndex(), term: this.term }
  }

  readIndex(ctx: number): RequestResult {
    if (this.role === Role.Leader) {
      this.leaderReadIndex(ctx, this.id)
      return { ok: true }
    }
    if (this.lead === NONE) return { ok: false, reason: 'no-leader' }
    const m = emptyMessage(MsgType.ReadIndex, this.id, this.lead, this.term)
    m.ctx = ctx
    this.msgs.push(m)
    return { ok: true }
  }

  private leaderReadIndex(ctx: number, from: NodeId): void {
    if (this.conf.voters.length === 1 && this.isVoter()) {
      this.answerRead(from, ctx, this.log.committed)
      return
    }
    if (this.cfg.readOnly === 'lease' && this.committedInTerm() && this.leaseValid()) {
      this.answerRead(from, ctx, this.log.committed)
      return
    }
    // The read index is taken once this term has committed (before that, commit may lag).
    this.reads.add(ctx, from, this.reads.currentRound() + 1)
    this.readRoundOwed = true
    this.releaseReads()
  }

  /** Answers waiting reads whose heartbeat round a quorum acknowledged. */
  private releaseReads(): void {
    if (this.reads.pending() === 0 || !this.committedInTerm()) return
    const acked = majorityIndex(this.conf.voters, (id) => this.progress.get(id)?.readAck ?? 0)
    const commit = this.log.committed
    // Any commit index at or after the read's arrival is a valid read index; the current one is.
    for (const r of this.reads.release(acked)) this.answerRead(r.from, r.ctx, commit)
  }

  private answerRead(to: NodeId, ctx: number, index: number): void {
    if (to === this.id) {
      this.readStates.push({ ctx, index })
      return
    }
    const m = emptyMessage(MsgType.ReadIndexResp, this.id, to, this.term)
    m.ctx = ctx
    m.index = index
    this.msgs.push(m)
  }

  /**
   * The lease holds while a quorum acknowledged a heartbeat sent less than an election timeout
   * (minus a drift margin) ago: until then none of them will vote for another candidate.
   */
  leaseValid(): boolean {
    if (this.role !== Role.Leader || this.timeoutNowSent || this.leadTransferee !== NONE) return false
    const acked = majorityIndex(this.conf.voters, (id) => this.progress.get(id)?.readAck ?? 0)
    const sentAt = this.reads.roundTick(acked)
    if (sentAt === undefined) return false
    return this.now < sentAt + this.cfg.electionTick - this.cfg.leaseMarginTicks
  }

  transferLeadership(to: NodeId): RequestResult {
    if (this.role !== Role.Leader) return { ok: false, reason: this.lead === NONE ? 'no-leader' : 'not-leader' }
    if (to === this.id) return { ok: false, reason: 'transfer-to-self' }
    if (!this.conf.voters.includes(to)) return { ok: false, reason: 'unknown-node' }
    if (this.leadTransferee === to) return { ok: true }
    this.leadTransferee = to
    // The transfer must finish within one election timeout, counted from now.
    this.electionElapsed = 0
    const pr = this.progress.get(to)!
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to)
    else this.dirty.add(to)
    return { ok: true }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSent = true
    this.msgs.push(emptyMessage(MsgType.TimeoutNow, this.id, to, this.term))
  }

  /**
   * Records a snapshot the application took at `index` (≤ applied) and compacts the log to it.
   * Null when the core already holds a snapshot at or beyond `index` (possibly one received from the
   * leader and not yet installed): there is nothing for the application to store.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot | null {
    const log = this.log
    if (index <= log.snapshot.index) return null
    if (index > log.applied) throw new RangeError(`snapshot index ${index} is beyond applied index ${log.applied}`)
    const meta = { index, term: log.term(index), conf: this.confAt(index) }
    log.compact(meta, data)
    while (this.confIndexes.length > 0 && this.confIndexes[0]! <= index) this.confIndexes.shift()
    return { meta, data }
  }

  /**
   * The snapshot metadata for the state at `index` (between the snapshot and the applied index),
   * without compacting: lets the runtime send a snapshot of exactly the state it just captured.
   */
  metaAt(index: number): SnapshotMeta {
    const log = this.log
    if (index === log.snapshot.index) return log.snapshot
    if (index < log.snapshot.index || index > log.applied) {
      throw new RangeError(`no snapshot metadata for ${index}: outside [${log.snapshot.index}, ${log.applied}]`)
    }
    return { index, term: log.term(index), conf: this.confAt(index) }
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    const pr = this.progress.get(to)
    if (this.role !== Role.Leader || !pr || pr.state !== ProgressState.Snapshot) return
    // On success the follower holds the snapshot; either way go back to probing from there.
    if (!ok) pr.pendingSnapshot = 0
    pr.becomeProbe()
    this.dirty.add(to)
  }

  /**
   * Withdraws acks not yet sent that vouch for entries at or above `index`, which the log no longer
   * holds (they were truncated, or replaced by a snapshot before they were ever persisted). Sent
   * after the persist, they would claim durable entries this node does not have.
   */
  private dropAcksFrom(index: number): void {
    this.msgsAfterPersist = this.msgsAfterPersist.filter(
      (m) => !(m.type === MsgType.AppendResp && !m.reject && m.index >= index),
    )
  }

  private send(m: Message): void {
    if (m.type === MsgType.AppendResp || m.type === MsgType.VoteResp || m.type === MsgType.PreVoteResp) {
      // Acks and votes promise durable state: they leave only after the persist (thesis §3.8).
      this.msgsAfterPersist.push(m)
    } else {
      this.msgs.push(m)
    }
  }
}
