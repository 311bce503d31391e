// The Raft invariants, checked incrementally. The checker knows nothing about the simulator: the
// cluster feeds it observations (a node became leader, appended these entries, learned this commit,
// applied this entry, sent this message) and it remembers just enough global history to judge each
// one in time proportional to the observation, so it can run after every event of every seed.
import { MsgType, type Entry, type HardState, type Message, type NodeId } from '../../src/raft/types.ts'
import { entryDigest } from './statemachine.ts'

export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'committed-changed'
  | 'apply-order'
  | 'stale-read'
  | 'durability'
  | 'hard-state'
  | 'commit-rule'
  | 'liveness'
  | 'exception'
  | 'bad-ready'

export interface Violation {
  kind: ViolationKind
  detail: string
  time: number
}

/** Read access to one node's in-memory log, for Leader Completeness. */
export interface LogView {
  snapshotIndex: number
  snapshotTerm: number
  lastIndex: number
  /** Entries in [lo, hi), lo > snapshotIndex. */
  entries(lo: number, hi: number): Entry[]
}

/** What a node has durably stored, for the durability checks on outgoing messages. */
export interface DurableView {
  hardState: HardState
  snapshotIndex: number
  /** undefined when the index is compacted or beyond the durable log. */
  termAt(index: number): number | undefined
}

interface LogRecord {
  digest: number
  prevTerm: number
  node: NodeId
}

interface PendingRead {
  node: NodeId
  /** The highest index known committed anywhere when the read was issued. */
  minIndex: number
  issuedAt: number
}

/** Above any plausible term, so index * TERM_SPAN + term is a unique, exact number key. */
const TERM_SPAN = 1 << 21

export class Checker {
  violation: Violation | null = null
  /** Virtual time source, so violations and reads are stamped. */
  clock: () => number = () => 0
  /** Called once, when the first violation is recorded (the trace prints it in place). */
  onViolation: ((v: Violation) => void) | null = null

  private readonly leaderOfTerm = new Map<number, NodeId>()
  /** (index, term) → what the first log holding it had there. */
  private readonly logRecords = new Map<number, LogRecord>()
  /** Committed history by index; 0 / undefined = not yet known committed. */
  private readonly committedTerm: number[] = []
  private readonly committedDigest: number[] = []
  /** The highest index any node has known committed. */
  maxCommitted = 0
  /**
   * Per term, the highest index first seen committed by a node in that term. A leader of term T
   * must hold what was committed in terms before T; a late leader of an older term (it won with
   * delayed votes) need not hold what a newer term committed, and Raft does not promise it does.
   */
  private readonly committedByTerm = new Map<number, number>()
  /** The state-machine hash chain after applying each index, as first seen on any node. */
  private readonly appliedChain: number[] = []
  private readonly appliedIndex = new Map<NodeId, number>()
  private readonly reads = new Map<number, PendingRead>()
  stats = { leaders: 0, readsServed: 0, applied: 0 }

  fail(kind: ViolationKind, detail: string): void {
    if (this.violation !== null) return
    this.violation = { kind, detail, time: this.clock() }
    this.onViolation?.(this.violation)
  }

  /** Durable votes ever written: term → voter → candidate. A durable vote is a permanent fact. */
  private readonly durableVotes = new Map<number, Map<NodeId, NodeId>>()

  /** A node durably wrote this hard state. */
  votePersisted(node: NodeId, hs: HardState): void {
    if (hs.vote === 0) return
    let m = this.durableVotes.get(hs.term)
    if (m === undefined) this.durableVotes.set(hs.term, (m = new Map()))
    m.set(node, hs.vote)
  }

  /**
   * The votes a new leader counted must be durable: a quorum of its voters either durably voted for
   * it in this term or durably moved past the term (either way they can never vote for another
   * candidate in it). This catches a candidate counting its own vote before persisting it, even when
   * no crash happens to expose it.
   */
  leaderVotes(node: NodeId, term: number, voters: readonly NodeId[], durableTerm: (id: NodeId) => number): void {
    const votes = this.durableVotes.get(term)
    let n = 0
    for (const v of voters) if (votes?.get(v) === node || durableTerm(v) > term) n++
    if (n < (voters.length >> 1) + 1) {
      this.fail('election-safety', `node ${node} leads term ${term} with only ${n} durable votes of ${voters.length} voters [${voters.join(',')}]`)
    }
  }

  /**
   * A leader moved its commit index to `index`: a quorum of its voters must hold that entry durably
   * right now (acks promise durability; the leader's own copy counts only once written). A commit
   * without a durable quorum can be lost by crashes even if no crash happens in this run.
   */
  commitQuorum(node: NodeId, term: number, index: number, entryTerm: number | undefined, voters: readonly NodeId[], durableHas: (id: NodeId) => boolean): void {
    // §5.4.2: a leader commits by counting replicas only entries of its own term (Figure 8); older
    // ones become committed indirectly. A leader that counts older entries can lose them.
    if (entryTerm !== term) {
      this.fail('commit-rule', `leader ${node} (term ${term}) moves its commit index to ${index}, an entry of term ${entryTerm}`)
      return
    }
    let n = 0
    for (const v of voters) if (durableHas(v)) n++
    if (n < (voters.length >> 1) + 1) {
      this.fail('durability', `leader ${node} (term ${term}) commits index ${index} but only ${n} of voters [${voters.join(',')}] hold it durably`)
    }
  }

  /** Election Safety: at most one leader per term, ever (across crashes too). */
  leader(node: NodeId, term: number): void {
    this.stats.leaders++
    const prev = this.leaderOfTerm.get(term)
    if (prev === undefined) this.leaderOfTerm.set(term, node)
    else if (prev !== node) this.fail('election-safety', `node ${node} became leader in term ${term}, which node ${prev} already led`)
  }

  /**
   * Leader Completeness: a new leader's log holds every entry committed so far. A snapshot prefix
   * counts as holding what it covers, provided its own (index, term) agrees with the history.
   */
  leaderCompleteness(node: NodeId, term: number, log: LogView): void {
    let max = 0
    for (const [t, i] of this.committedByTerm) if (t < term && i > max) max = i
    if (max === 0) return
    if (log.lastIndex < max) {
      this.fail('leader-completeness', `node ${node} leads term ${term} with last index ${log.lastIndex} < committed ${max}`)
      return
    }
    const s = log.snapshotIndex
    if (s > 0 && s <= max) {
      const ct = this.committedTerm[s]
      if (ct !== undefined && ct !== log.snapshotTerm) {
        this.fail('leader-completeness', `node ${node} (term ${term}) snapshot ${s}/${log.snapshotTerm} but committed term there is ${ct}`)
        return
      }
    }
    if (s >= max) return
    const ents = log.entries(s + 1, max + 1)
    for (const e of ents) {
      const ct = this.committedTerm[e.index]
      if (ct === undefined) continue
      if (ct !== e.term || this.committedDigest[e.index] !== entryDigest(e)) {
        this.fail('leader-completeness', `node ${node} leads term ${term} but holds ${e.index}/${e.term} where ${e.index}/${ct} was committed`)
        return
      }
    }
  }

  /**
   * Log Matching, incrementally: every (index, term) ever appended anywhere maps to one content and
   * one previous term. By induction on index this makes equal (index, term) imply equal prefixes.
   */
  appended(node: NodeId, entries: readonly Entry[], prevTerm: number): void {
    // prevTerm: the term of the entry before entries[0] in that node's log (-1 if unknown).
    let prev = prevTerm
    for (const e of entries) {
      if (e.term < prev) {
        this.fail('log-matching', `node ${node} appends ${e.index}/${e.term} after an entry of higher term ${prev}`)
        return
      }
      const key = e.index * TERM_SPAN + e.term
      const d = entryDigest(e)
      const rec = this.logRecords.get(key)
      // A previous term of -1 means "unknown here" (compacted away): it matches anything.
      if (rec === undefined) {
        this.logRecords.set(key, { digest: d, prevTerm: prev, node })
      } else if (rec.prevTerm < 0 && prev >= 0 && rec.digest === d) {
        rec.prevTerm = prev
      } else if (rec.digest !== d || (rec.prevTerm !== prev && prev >= 0)) {
        this.fail(
          'log-matching',
          `node ${node} has ${e.index}/${e.term} (digest ${d}, prev term ${prev}) but node ${rec.node} had it as (digest ${rec.digest}, prev term ${rec.prevTerm})`,
        )
        return
      }
      prev = e.term
    }
  }

  /**
   * A node in term `nodeTerm` learned these entries are committed: they must agree with what is
   * already known committed. The first node to see a commit is its leader, so `nodeTerm` is the
   * term it was committed in (or, from a follower, a later one, which only weakens the check).
   */
  committed(node: NodeId, nodeTerm: number, entries: readonly Entry[]): void {
    for (const e of entries) this.commitOne(node, e.index, e.term, entryDigest(e), nodeTerm)
  }

  private commitOne(node: NodeId, index: number, term: number, digest: number, inTerm: number): void {
    const ct = this.committedTerm[index]
    if (ct === undefined) {
      this.committedTerm[index] = term
      this.committedDigest[index] = digest
      if (index > this.maxCommitted) this.maxCommitted = index
      if (index > (this.committedByTerm.get(inTerm) ?? 0)) this.committedByTerm.set(inTerm, index)
    } else if (ct !== term || this.committedDigest[index] !== digest) {
      this.fail('committed-changed', `node ${node} holds ${index}/${term} as committed, but ${index}/${ct} was committed before`)
    }
  }

  /** A restarted node's state machine starts over from its snapshot. */
  resetApplied(node: NodeId, index: number): void {
    this.appliedIndex.set(node, index)
  }

  /** A snapshot replaced the node's state machine. It must be newer and match the history. */
  snapshotInstalled(node: NodeId, index: number, term: number, chain: number): void {
    const applied = this.appliedIndex.get(node) ?? 0
    if (index < applied) this.fail('apply-order', `node ${node} installs snapshot ${index} below its applied index ${applied}`)
    const ct = this.committedTerm[index]
    if (ct !== undefined && ct !== term) this.fail('state-machine-safety', `node ${node} installs snapshot ${index}/${term} but ${index}/${ct} was committed`)
    this.chainAt(node, index, chain, 'snapshot')
    this.appliedIndex.set(node, index)
  }

  /** State Machine Safety: the same entry at each index everywhere, applied in order without gaps. */
  applied(node: NodeId, e: Entry, chain: number): void {
    this.stats.applied++
    const applied = this.appliedIndex.get(node) ?? 0
    if (e.index !== applied + 1) {
      this.fail('apply-order', `node ${node} applies ${e.index} after ${applied}`)
      return
    }
    this.appliedIndex.set(node, e.index)
    // Applying means committed: record it if no node had reported the commit yet (term unknown).
    this.commitOne(node, e.index, e.term, entryDigest(e), Infinity)
    this.chainAt(node, e.index, chain, 'apply')
  }

  private chainAt(node: NodeId, index: number, chain: number, how: string): void {
    const known = this.appliedChain[index]
    if (known === undefined) this.appliedChain[index] = chain
    else if (known !== chain) this.fail('state-machine-safety', `node ${node} state after ${how} of index ${index} differs from another node's`)
  }

  /** The hard state a node is about to persist, against what it had persisted before. */
  hardState(node: NodeId, before: HardState, after: HardState): void {
    if (after.term < before.term) this.fail('hard-state', `node ${node} persists term ${after.term} after ${before.term}`)
    else if (after.term === before.term && before.vote !== 0 && after.vote !== before.vote)
      this.fail('hard-state', `node ${node} changes its vote in term ${after.term} from ${before.vote} to ${after.vote}`)
    if (after.commit < before.commit) this.fail('hard-state', `node ${node} persists commit ${after.commit} after ${before.commit}`)
  }

  /**
   * Durability of what a message claims. `afterPersist`: it left in persistedMessages, after the
   * Ready's writes. `memTermAt`, when given, is the sender's in-memory log term: with nothing stepped
   * between ready() and the persist, memory and disk must agree at an acked index (else the Ready
   * left out an entry). When steps interleave, the log may legitimately move on after the ack was
   * made, so only the ack's durability is checked.
   */
  messageSent(node: NodeId, m: Message, afterPersist: boolean, durable: DurableView, memTermAt: ((index: number) => number | undefined) | null): void {
    if (m.from !== node) {
      this.fail('bad-ready', `node ${node} emits a message from ${m.from}: type ${m.type}`)
      return
    }
    if (m.to === node) this.fail('bad-ready', `node ${node} emits a message to itself: type ${m.type}`)
    const needsPersist =
      (m.type === MsgType.AppendResp && !m.reject) || m.type === MsgType.VoteResp || m.type === MsgType.PreVoteResp
    if (needsPersist && !afterPersist) {
      this.fail('durability', `node ${node} puts ${m.type === MsgType.AppendResp ? 'an AppendResp(success)' : `a ${m.type === MsgType.VoteResp ? 'VoteResp' : 'PreVoteResp'}`} to ${m.to} in messages (before persisting), not persistedMessages`)
      return
    }
    if ((m.type === MsgType.AppendResp || m.type === MsgType.HeartbeatResp) && !m.reject && m.index > 0) {
      // The leader may count this as a match at m.index: that entry must survive a crash.
      if (m.index <= durable.snapshotIndex) return
      const dt = durable.termAt(m.index)
      if (dt === undefined) {
        this.fail('durability', `node ${node} acks index ${m.index} to ${m.to} (term ${m.term}) but has not persisted it`)
        return
      }
      const mt = memTermAt === null ? undefined : memTermAt(m.index)
      if (mt !== undefined && mt !== dt) {
        this.fail('durability', `node ${node} acks index ${m.index} (in-memory term ${mt}) to ${m.to} but its durable entry there has term ${dt}`)
      }
    } else if (m.type === MsgType.VoteResp && !m.reject) {
      const hs = durable.hardState
      if (!(hs.term > m.term || (hs.term === m.term && hs.vote === m.to))) {
        this.fail('durability', `node ${node} grants its term-${m.term} vote to ${m.to} with durable hard state term ${hs.term} vote ${hs.vote}`)
      }
    }
  }

  readIssued(ctx: number, node: NodeId): void {
    this.reads.set(ctx, { node, minIndex: this.maxCommitted, issuedAt: this.clock() })
  }

  /**
   * A ReadState was served. Every write that completed before the read was issued is committed at
   * or below the commit index known then, so the read index must be at least that.
   */
  readServed(ctx: number, node: NodeId, readIndex: number): void {
    const r = this.reads.get(ctx)
    if (r === undefined) {
      this.fail('stale-read', `node ${node} serves read ctx ${ctx}, which was never issued`)
      return
    }
    this.stats.readsServed++
    if (readIndex < r.minIndex) {
      this.fail('stale-read', `read ctx ${ctx} (issued on node ${r.node} at t=${r.issuedAt.toFixed(1)}) served on node ${node} at index ${readIndex}, but index ${r.minIndex} was committed before it was issued`)
    }
  }
}
