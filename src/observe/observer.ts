// Connects a node's run loop to its RPC log: the NodeEvents callbacks (send, receive, propose,
// Ready) and the little state the visualizer wants that the core does not expose (when the
// election timer was last reset, why a vote was refused).
import { decodeConfChangeEntry } from '../raft/confchange.ts'
import type { Status } from '../raft/rawnode.ts'
import { EntryType, MsgType, type Message, type Ready } from '../raft/types.ts'
import { CHANGE_CODES, ROLE_CODES } from './rpcquery.ts'
import { F_KERNEL, Kind, Reason, RpcLog } from './rpclog.ts'

/** The callbacks RaftNode calls (a subset of its NodeEvents, kept structural to avoid a cycle). */
export interface ObserverEvents {
  onSend: (m: Message) => void
  onReceive: (m: Message) => void
  onPropose: (index: number, term: number, data: Uint8Array) => void
  onReady: (rd: Ready, status: () => Status) => void
}

interface VoteRequest {
  type: number
  term: number
  index: number
  logTerm: number
}

export class Observer {
  readonly log: RpcLog
  /** performance.now() when the election timer last restarted (leader contact, vote, new term). */
  private timerReset = performance.now()
  private term = 0
  private commit = 0
  private applied = 0
  /** The log's last seq when the previous Ready was done. */
  private readySeq = 0
  private status: (() => Status) | null = null
  /** The last vote request from each candidate, to explain a refusal. */
  private readonly voteRequests = new Map<number, VoteRequest>()
  readonly events: ObserverEvents

  constructor(node: number, size: number) {
    this.log = new RpcLog(node, size)
    this.events = {
      onSend: (m) => this.onSend(m),
      onReceive: (m) => this.onReceive(m),
      onPropose: (index, term, data) => this.log.propose(index, term, data, this.log.pendingRequest),
      onReady: (rd, status) => this.onReady(rd, status),
    }
  }

  /** The node's status, for vote reasons and the status route. */
  attach(status: () => Status): void {
    this.status = status
    const st = status()
    this.term = st.term
    this.commit = st.commit
    this.applied = st.applied
  }

  /**
   * A message the kernel fast path handled (already in the log through RpcLog.record): a leader's
   * heartbeat the kernel acknowledged restarts the election timer here as one received would.
   */
  kernelReceived(type: number, term: number, t: number): void {
    if (type === MsgType.Heartbeat && term >= this.term && t > this.timerReset) this.timerReset = t
  }

  electionElapsedMs(): number {
    return performance.now() - this.timerReset
  }

  private onSend(m: Message): void {
    const seq = this.log.send(m)
    switch (m.type) {
      case MsgType.VoteResp:
      case MsgType.PreVoteResp:
        if (m.reject) this.explainVoteRefusal(m, seq)
        else if (m.type === MsgType.VoteResp) this.timerReset = this.log.lastT
        break
      case MsgType.AppendResp:
        if (m.reject) this.log.annotate(seq, Reason.LogMismatch, null)
        break
      case MsgType.HeartbeatResp:
        if (m.reject) this.log.annotate(seq, Reason.PrevMismatch, null)
        break
    }
  }

  private onReceive(m: Message): void {
    this.log.receive(m)
    switch (m.type) {
      case MsgType.Append:
      case MsgType.Heartbeat:
      case MsgType.Snapshot:
        // What resets a follower's election timer: a message from the leader of a current term.
        if (m.term >= this.term) this.timerReset = this.log.lastT
        break
      case MsgType.Vote:
      case MsgType.PreVote:
        this.voteRequests.set(m.from, { type: m.type, term: m.term, index: m.index, logTerm: m.logTerm })
        break
    }
  }

  /** Re-derives why the core refused a (pre-)vote, from the same rules it applies (raft.ts). */
  private explainVoteRefusal(m: Message, seq: number): void {
    const req = this.voteRequests.get(m.to)
    if (!req || !this.status) return
    const st = this.status()
    const pre = req.type === MsgType.PreVote
    if (pre && req.term < st.term) {
      this.log.annotate(seq, Reason.StaleTerm, `candidate's term ${req.term} is behind ours (${st.term})`)
      return
    }
    const canVote = st.vote === m.to || (st.vote === 0 && st.leader === 0) || (pre && req.term > st.term)
    if (!canVote && st.vote !== 0) {
      this.log.annotate(seq, Reason.VotedOther, `already voted for ${st.vote} in term ${st.term}`)
    } else if (!canVote) {
      this.log.annotate(seq, Reason.HasLeader, `follows leader ${st.leader} in term ${st.term}`)
    } else {
      this.log.annotate(seq, Reason.LogBehind, `candidate's log ends at ${req.index}@t${req.logTerm}, ours at ${st.lastIndex}@t${st.lastTerm}`)
    }
  }

  /**
   * When this Ready's work began and when its persist ended, read off the sends it made: the run
   * loop sends `messages` first thing and `persistedMessages` right after the write (RaftNode
   * handleReady), while onReady itself only comes after the apply. Null when there were none.
   */
  private readyTimes(rd: Ready): { start: number | null; persisted: number | null } {
    const log = this.log
    let start: number | null = null
    let persisted: number | null = null
    let sends = 0
    const firstPersisted = rd.messages.length + 1
    for (let s = Math.max(this.readySeq + 1, log.first); s <= log.total; s++) {
      const i = log.slotOf(s)
      if (log.kind[i] !== Kind.Send || log.flags[i]! & F_KERNEL) continue
      sends++
      if (sends === 1) start = log.t[i]!
      if (sends === firstPersisted && rd.persistedMessages.length > 0) persisted = log.t[i]!
    }
    return { start, persisted }
  }

  private onReady(rd: Ready, status: () => Status): void {
    const log = this.log
    const now = performance.now()
    const times = this.readyTimes(rd)
    const hs = rd.hardState
    if (hs) {
      if (hs.term !== this.term) {
        this.term = hs.term
        this.timerReset = now
      }
      if (hs.commit > this.commit) {
        log.event(Kind.Commit, hs.term, hs.commit, this.commit, 0, 0, times.start ?? now)
        this.commit = hs.commit
      }
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index
      log.event(Kind.Persist, this.term, rd.entries[rd.entries.length - 1]!.index, first - 1, 0, 0, times.persisted ?? now)
    }
    if (rd.snapshot) {
      const si = rd.snapshot.meta.index
      log.event(Kind.Apply, this.term, si, this.applied, 0, 0)
      this.applied = si
      if (si > this.commit) this.commit = si
    }
    const ce = rd.committedEntries
    if (ce.length > 0) {
      const last = ce[ce.length - 1]!.index
      log.event(Kind.Apply, this.term, last, ce[0]!.index - 1, 0, 0)
      this.applied = last
      for (const e of ce) {
        if (e.type !== EntryType.ConfChange) continue
        try {
          const cc = decodeConfChangeEntry(e.data).change
          log.event(Kind.Conf, e.term, e.index, 0, cc.node, CHANGE_CODES[cc.type] ?? 0)
        } catch {
          // Not ours to judge: the state machine reports undecodable entries.
        }
      }
    }
    if (rd.softState) {
      this.timerReset = now
      if (!this.status) this.status = status
      log.event(Kind.Role, this.term, 0, 0, rd.softState.leader, ROLE_CODES[rd.softState.role] ?? 0, times.start ?? now)
    }
    this.readySeq = log.total
  }
}
