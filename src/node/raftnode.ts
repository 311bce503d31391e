// The run loop: the one place that touches time, sockets, disk and (through the offload hooks,
// src/offload/driver.ts) the kernel fast path's shared state. It feeds the
// pure core with ticks, messages and requests, persists what a Ready asks in one synced batch,
// sends, applies, and answers the callers waiting on proposals and reads.
import type { Logger } from 'pino'
import { bootstrapState, defaultConfig, type RaftConfig, type RestoredState } from '../raft/config.ts'
import { RawNode, type Status } from '../raft/rawnode.ts'
import { ConfChangeType, MsgType, type ConfChange, type ConfState, type Entry, type HardState, type Message, type NodeId, type Ready, type SnapshotMeta } from '../raft/types.ts'
import type { RaftStorage } from '../storage/raft-storage.ts'
import type { SnapshotWriter } from '../storage/snapshot-stream.ts'
import type { StateMachine } from '../kv/statemachine.ts'
import type { Reply } from '../kv/reply.ts'
import type { SnapshotStream, Transport } from '../transport/transport.ts'
import { DroppedError, NotLeaderError, ReadFailedError, RefusedError, UnknownOutcomeError } from './errors.ts'

export interface RaftNodeOptions {
  id: NodeId
  /** The voters of a brand-new cluster (ignored when the data directory already holds state). */
  initialMembers: NodeId[]
  /** Join an existing cluster: start with no configuration and learn it from the leader. */
  join: boolean
  tickMs: number
  electionTick: number
  heartbeatTick: number
  /** Take a snapshot and compact the log every this many applied entries. */
  snapshotEntries: number
  /**
   * …or once the entries applied since the last snapshot hold this many bytes: the uncompacted log
   * lives in memory, so large entries (MSETs of many keys) must not pile up to `snapshotEntries`.
   */
  snapshotBytes: number
  /** Entries kept behind a snapshot so slightly slow followers catch up from the log. */
  compactionMargin: number
  /** How long a proposal or read may wait before its caller hears "unknown" / "retry". */
  requestTimeoutMs: number
  preVote: boolean
  checkQuorum: boolean
  readOnly: 'safe' | 'lease'
  random: () => number
}

interface ProposalWaiter {
  term: number
  resolve: (r: Reply) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

interface ReadWaiter {
  resolve: () => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
  /** Set once the read index is known. */
  index: number
  /** When the read index was last asked for (performance.now()). */
  askedAt: number
}

export interface NodeEvents {
  /** Called after every Ready is handled (for metrics, the RPC log, the kernel state). */
  onReady?: (rd: Ready, status: () => Status) => void
  onRoleChange?: (role: string, leader: NodeId, term: number) => void
  // ---- observe hooks (src/observe: the RPC log) ----
  /** Every message handed to the transport, and every message received from it. */
  onSend?: (m: Message) => void
  onReceive?: (m: Message) => void
  /** A command this node proposed: its index, term and entry data (request ids are read from it). */
  onPropose?: (index: number, term: number, data: Uint8Array) => void
  // ---- end observe hooks ----
  // ---- offload hooks (src/offload/driver.ts: the kernel fast path) ----
  /** After a Ready's persist and before its persistedMessages leave (publish the durable state). */
  onPersisted?: (rd: Ready, conf: ConfState) => void
  /** Every tick interval, before the `ticks` owed (possibly 0) are delivered to the core. */
  onTick?: (ticks: number) => void
  /** False: do not send m (the kernel already sent the same answer). */
  filterSend?: (m: Message) => boolean
  // ---- end offload hooks ----
}

export class RaftNode {
  readonly id: NodeId
  private readonly raw: RawNode
  private tickTimer: NodeJS.Timeout | null = null
  private running = false
  private again = false
  private stopped = false
  private readonly proposals = new Map<number, ProposalWaiter>()
  private readonly reads = new Map<number, ReadWaiter>()
  /** Reads whose index is known, waiting for the apply to reach it. */
  private readsByIndex: { ctx: number; index: number }[] = []
  private readSeq = 0
  private appliedSinceSnapshot = 0
  /** Bytes of entry data applied since the last snapshot (see snapshotBytes). */
  private appliedBytesSinceSnapshot = 0
  /**
   * The incoming snapshot being received (or, once `complete`, handed to the core and awaiting
   * its Ready). Only one at a time; `stream` is the transport stream that owns it.
   */
  private staged: { meta: SnapshotMeta; writer: SnapshotWriter; stream: number; complete: boolean } | null = null
  /** Incoming snapshot chunks are handled one at a time, across all streams. */
  private snapshotChain: Promise<void> = Promise.resolve()
  private snapshotsToSend: Message[] = []
  /** Followers a snapshot is being streamed to right now (one stream per follower at a time). */
  private readonly snapshotStreams = new Set<NodeId>()
  private readonly idleWaiters: (() => void)[] = []
  /** The hard state as last written to disk. */
  private durableHs: HardState = { term: 0, vote: 0, commit: 0 }
  /** A newer hard state that differs from the durable one only in its commit index (not yet written). */
  private lazyHs: HardState | null = null
  private lastTickAt = performance.now()
  private lastRole = ''
  private lastLeader = 0
  /** Counts for INFO, /status and metrics. */
  readonly counters = { readies: 0, persists: 0, applied: 0, proposalsFailed: 0, leaderChanges: 0, readsReasked: 0 }

  private constructor(
    private readonly opts: RaftNodeOptions,
    private readonly storage: RaftStorage,
    private readonly sm: StateMachine,
    private readonly transport: Transport,
    private readonly log: Logger,
    raw: RawNode,
    private readonly events: NodeEvents,
  ) {
    this.id = opts.id
    this.raw = raw
  }

  static async start(
    opts: RaftNodeOptions,
    storage: RaftStorage,
    sm: StateMachine,
    transport: Transport,
    log: Logger,
    events: NodeEvents = {},
  ): Promise<RaftNode> {
    const loaded = await storage.load()
    let state: RestoredState = loaded
    if (loaded.fresh) {
      // The bootstrap configuration lives in the index-0 snapshot meta. Make it durable before
      // anything else happens: otherwise a restart finds no members, and a cluster whose nodes
      // all restart has no voter left to start an election, ever.
      state = bootstrapState(opts.join ? [] : opts.initialMembers)
      await storage.persist({ entries: [], hardState: null, snapshot: state.snapshot })
    } else if (loaded.snapshot.index === 0 && loaded.snapshot.conf.voters.length === 0 && loaded.snapshot.conf.learners.length === 0) {
      // A node that joined and has not learnt its configuration yet: it waits for the leader again,
      // whatever its flags say. Taking the initial members here (a restart without --join) would
      // invent a configuration no leader ever committed.
      log.info('no configuration learnt yet; waiting for the leader to add this node')
    }
    const cfg: RaftConfig = {
      ...defaultConfig,
      id: opts.id,
      electionTick: opts.electionTick,
      heartbeatTick: opts.heartbeatTick,
      preVote: opts.preVote,
      checkQuorum: opts.checkQuorum,
      readOnly: opts.readOnly,
      random: opts.random,
    }
    const raw = new RawNode(cfg, state)
    const node = new RaftNode(opts, storage, sm, transport, log, raw, events)
    node.durableHs = state.hardState
    log.info(
      { id: opts.id, fresh: loaded.fresh, term: state.hardState.term, commit: state.hardState.commit, applied: state.applied, lastIndex: state.snapshot.index + state.entries.length },
      loaded.fresh ? 'starting a new node' : 'restarting from persisted state',
    )
    transport.onMessage = (m) => node.onMessage(m)
    transport.onSnapshotChunk = (m, meta, chunk, last, stream) => node.onSnapshotChunk(m, meta, chunk, last, stream)
    node.tickTimer = setInterval(() => node.onTick(), opts.tickMs)
    node.kick()
    return node
  }

  // ---- inputs ---------------------------------------------------------------------------------

  private onTick(): void {
    this.advanceClock(true)
  }

  /**
   * Delivers as many ticks as wall-clock time says have passed: after a stall (GC, SIGSTOP, a busy
   * loop) the core must learn that time went by, or a leader would trust an expired lease.
   * The tick timer is not enough on its own: libuv (1.45 on) runs timers after the I/O poll, so a
   * process waking from a stall without a signal (a paused VM, a starved CPU) handles the I/O that
   * piled up (a read, a message) before its timers; a read or a message therefore first brings the
   * core's clock up to date here. The offload hook is told before the ticks are delivered (it
   * feeds the kernel's leader contact in first); off the timer, only when a tick is owed.
   */
  private advanceClock(fromTimer: boolean): void {
    const now = performance.now()
    let n = Math.floor((now - this.lastTickAt) / this.opts.tickMs)
    if (fromTimer || n > 0) this.events.onTick?.(Math.max(0, Math.min(n, 4 * this.opts.electionTick))) // offload hook
    if (n <= 0) return
    this.lastTickAt += n * this.opts.tickMs
    // Past a few election timeouts more ticks change nothing but cost time.
    n = Math.min(n, 4 * this.opts.electionTick)
    for (let i = 0; i < n; i++) this.raw.tick()
    this.reaskReads(now)
    this.kick()
  }

  /**
   * A follower's ReadIndex request is one frame on its TCP connection to the leader: it is gone
   * if that connection dies before the leader reads it (the transport reconnects but does not
   * resend), and a leader that steps down forgets the requests it queued. Either way no answer
   * ever comes.
   * Asking again (the same ctx; a second answer finds no waiter) bounds what a lost request costs
   * a reader to one election timeout instead of the whole request timeout. A leader's own reads
   * wait in its core for a heartbeat round, which a re-ask would not hasten.
   */
  private reaskReads(now: number): void {
    // The role and leader as of the last Ready (onSoftState): no status() snapshot per tick.
    if (this.reads.size === 0 || this.lastRole === 'leader' || this.lastLeader === 0) return
    const after = this.opts.electionTick * this.opts.tickMs
    for (const [ctx, w] of this.reads) {
      if (w.index !== 0 || now - w.askedAt < after) continue
      if (!this.raw.readIndex(ctx).ok) return
      w.askedAt = now
      this.counters.readsReasked++
    }
  }

  private onMessage(m: Message): void {
    if (this.stopped) return
    this.advanceClock(false)
    this.events.onReceive?.(m) // observe hook
    this.raw.step(m)
    this.kick()
  }

  /**
   * A snapshot arrives in chunks; once whole, the core decides whether to take it. Chunks are
   * handled strictly one at a time even when two streams overlap (a leader's retry, or a new
   * leader while the old stream is still trickling in): a new stream supersedes one still being
   * received, the rest of a superseded stream is dropped, and a snapshot already handed to the
   * core is never disturbed until its Ready installs it.
   */
  private onSnapshotChunk(header: Message, meta: SnapshotMeta, chunk: Uint8Array, last: boolean, stream: SnapshotStream): Promise<void> {
    const p = this.snapshotChain.then(() => this.receiveChunk(header, meta, chunk, last, stream))
    this.snapshotChain = p.catch(() => undefined)
    return p
  }

  private async receiveChunk(header: Message, meta: SnapshotMeta, chunk: Uint8Array, last: boolean, stream: SnapshotStream): Promise<void> {
    if (this.stopped) return
    let st = this.staged
    if (!st || st.stream !== stream.id) {
      // Not the stream being received: only the first chunk of a stream may start a new one, and
      // never while the core holds a complete snapshot it has not installed yet.
      if (stream.offset !== 0 || st?.complete) return
      if (st) {
        this.log.info({ index: st.meta.index, by: meta.index }, 'incoming snapshot superseded by a newer stream')
        this.staged = null
        await st.writer.abort().catch(() => undefined)
      }
      try {
        st = { meta, writer: await this.storage.snapshotWriter(meta), stream: stream.id, complete: false }
      } catch (e) {
        // E.g. behind what is applied already: the leader learns from our next ack.
        this.log.warn({ err: e, index: meta.index }, 'cannot receive snapshot')
        return
      }
      this.staged = st
    }
    try {
      await st.writer.write(chunk)
    } catch (e) {
      this.log.warn({ err: e, index: meta.index }, 'snapshot receive failed')
      if (this.staged === st) this.staged = null
      await st.writer.abort().catch(() => undefined)
      return
    }
    if (!last) return
    // The data is staged on disk; the core sees only the metadata and decides. It takes the
    // snapshot iff its log's snapshot becomes this one; otherwise (stale, or we already hold the
    // entries) the staged data is discarded.
    const before = this.raw.snapshotMeta()
    this.raw.step({ ...header, entries: [], snapshot: { meta, data: new Uint8Array(0) } })
    const after = this.raw.snapshotMeta()
    if (after !== before && after.index === meta.index && after.term === meta.term) {
      st.complete = true
    } else {
      this.log.info({ index: meta.index, have: after.index }, 'snapshot not needed; discarded')
      this.staged = null
      await st.writer.abort().catch(() => undefined)
    }
    this.kick()
  }

  // ---- requests -------------------------------------------------------------------------------

  /** Proposes one command; resolves with its result once applied here. */
  propose(data: Uint8Array): Promise<Reply> {
    const r = this.raw.propose([data])
    if (!r.ok) {
      if (r.reason === 'not-leader' || r.reason === 'no-leader') return Promise.reject(new NotLeaderError(this.raw.status().leader))
      return Promise.reject(new RefusedError(r.reason))
    }
    this.events.onPropose?.(r.index, r.term, data) // observe hook
    this.kick()
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(r.index)
        reject(new UnknownOutcomeError(`no apply within ${this.opts.requestTimeoutMs} ms`))
      }, this.opts.requestTimeoutMs)
      this.proposals.set(r.index, { term: r.term, resolve, reject, timer })
    })
  }

  proposeConfChange(cc: ConfChange): Promise<Reply> {
    const r = this.raw.proposeConfChange(cc)
    if (!r.ok) {
      if (r.reason === 'not-leader' || r.reason === 'no-leader') return Promise.reject(new NotLeaderError(this.raw.status().leader))
      return Promise.reject(new RefusedError(r.reason))
    }
    this.kick()
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(r.index)
        reject(new UnknownOutcomeError(`membership change not applied within ${this.opts.requestTimeoutMs} ms`))
      }, this.opts.requestTimeoutMs)
      this.proposals.set(r.index, { term: r.term, resolve, reject, timer })
    })
  }

  /** Resolves once this node's state machine reflects every write committed before the call. */
  linearizableRead(): Promise<void> {
    this.advanceClock(false)
    const ctx = ++this.readSeq
    const r = this.raw.readIndex(ctx)
    if (!r.ok) return Promise.reject(new NotLeaderError(0))
    this.kick()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(ctx)
        this.readsByIndex = this.readsByIndex.filter((x) => x.ctx !== ctx)
        reject(new ReadFailedError(`no read index within ${this.opts.requestTimeoutMs} ms`))
      }, this.opts.requestTimeoutMs)
      this.reads.set(ctx, { resolve, reject, timer, index: 0, askedAt: performance.now() })
    })
  }

  /** Steps a message the kernel fast path already handled (replayed from its ring-buffer record). */
  stepKernel(m: Message): void {
    if (this.stopped) return
    this.raw.step(m)
    this.kick()
  }

  /** The kernel saw the leader's heartbeat `ticksAgo` ticks ago (RawNode.leaderHeard). */
  leaderHeard(leader: NodeId, term: number, ticksAgo: number): boolean {
    return !this.stopped && this.raw.leaderHeard(leader, term, ticksAgo)
  }

  transferLeadership(to: NodeId): boolean {
    const r = this.raw.transferLeadership(to)
    this.kick()
    return r.ok
  }

  status(): Status {
    return this.raw.status()
  }

  addLearner(id: NodeId): Promise<Reply> {
    return this.proposeConfChange({ type: ConfChangeType.AddLearner, node: id })
  }

  // ---- the loop -------------------------------------------------------------------------------

  /** Schedules a turn of the loop (coalescing: many inputs, one turn). */
  private kick(): void {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    setImmediate(() => void this.turn())
  }

  private async turn(): Promise<void> {
    try {
      do {
        this.again = false
        while (!this.stopped && this.raw.hasReady()) await this.handleReady(this.raw.ready())
        await this.sendSnapshots()
        this.maybeCompact()
      } while (this.again && !this.stopped)
    } catch (e) {
      // A failed write leaves the node unable to promise durability: stop rather than lie.
      this.log.fatal({ err: e }, 'run loop failed; stopping the node')
      this.stopped = true
      this.failAll(new UnknownOutcomeError('node stopped after a storage failure'))
      process.exitCode = 1
      setImmediate(() => process.exit(1))
    } finally {
      this.running = false
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    this.counters.readies++
    // The leader's appends may leave while its own write is in flight (thesis §10.2.1).
    for (const m of rd.messages) this.dispatch(m)
    if (rd.snapshot) {
      const st = this.staged
      if (!st || !st.complete || st.meta.index !== rd.snapshot.meta.index || st.meta.term !== rd.snapshot.meta.term) {
        throw new Error(`the core installed snapshot ${rd.snapshot.meta.index} that was not staged`)
      }
      // Cleared only once installed, so no chunk of another stream can start a writer meanwhile.
      try {
        await st.writer.finish()
      } finally {
        this.staged = null
      }
      this.appliedSinceSnapshot = 0
      this.appliedBytesSinceSnapshot = 0
      // Proposals at or below the snapshot may have been applied inside it: unknown outcome.
      for (const [index, w] of this.proposals) {
        if (index <= rd.snapshot.meta.index) {
          this.proposals.delete(index)
          clearTimeout(w.timer)
          w.reject(new UnknownOutcomeError('replaced by a snapshot'))
        }
      }
    }
    // Only new entries, a new term or a new vote must be on disk before we go on (etcd's
    // MustSync). A hard state that differs only in its commit index is not worth an fsync: the
    // commit index is recovered from the leader (and from the applied index) after a restart, so
    // it rides along with the next synced write instead — one fsync per write, not two.
    // Committed entries that were already durable here before this Ready — and that this Ready
    // does not overwrite — are applied while its own entries are being synced (the storage runs
    // the two on separate chains); the others wait for the persist. (A follower may learn that
    // entries are committed in the same Ready that replaces its stale copies of them: applying
    // those before they are on disk could leave an applied index over a log that disagrees.)
    const committed = rd.committedEntries
    const durableLast = Math.min(this.storage.bounds.lastIndex, rd.entries.length > 0 ? rd.entries[0]!.index - 1 : Infinity)
    let split = 0
    while (split < committed.length && committed[split]!.index <= durableLast) split++
    const early = split > 0 ? this.applyEntries(committed.slice(0, split)) : null
    // Never an unhandled rejection if the persist fails first; the error still surfaces below.
    early?.catch(() => undefined)
    const hs = rd.hardState
    if (rd.entries.length > 0 || (hs && (hs.term !== this.durableHs.term || hs.vote !== this.durableHs.vote))) {
      const write = hs ?? this.lazyHs
      await this.storage.persist({ entries: rd.entries, hardState: write, snapshot: null })
      if (write) this.durableHs = write
      this.lazyHs = null
      this.counters.persists++
    } else if (hs) {
      this.lazyHs = hs
    }
    // offload hook: the kernel may answer from this state as soon as the messages promising it leave.
    if (this.events.onPersisted) this.events.onPersisted(rd, this.raw.status().conf)
    for (const m of rd.persistedMessages) this.dispatch(m)
    if (early) await early
    if (split < committed.length) await this.applyEntries(split === 0 ? committed : committed.slice(split))
    for (const rs of rd.readStates) {
      const w = this.reads.get(rs.ctx)
      if (w) {
        w.index = rs.index
        this.readsByIndex.push({ ctx: rs.ctx, index: rs.index })
      }
    }
    this.raw.advance(rd)
    this.releaseReads()
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.leader)
    this.events.onReady?.(rd, () => this.raw.status())
  }

  /** Applies committed entries in one batch and answers their proposers. */
  private async applyEntries(entries: Entry[]): Promise<void> {
    const batch = this.storage.applyBatch()
    const results = await this.sm.apply(entries, batch)
    const written = batch.write(entries[entries.length - 1]!.index)
    // Never an unhandled rejection: the failure surfaces through the await below.
    written.catch(() => undefined)
    // Proposers are answered before the apply batch reaches LevelDB: their entries are committed
    // (durable on a majority), so a crash now re-applies them from the log with the same results,
    // and a linearizable read waits for the applied index, which moves only once the batch is
    // written (releaseReads). Answering first takes a thread-pool round trip off every write.
    this.answer(entries, results)
    await written
    this.counters.applied += entries.length
    this.appliedSinceSnapshot += entries.length
    for (const e of entries) this.appliedBytesSinceSnapshot += e.data.length
  }

  /** Resolves the proposals of applied entries (or rejects those another leader's entry replaced). */
  private answer(entries: Entry[], results: Reply[]): void {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      const w = this.proposals.get(e.index)
      if (!w) continue
      this.proposals.delete(e.index)
      clearTimeout(w.timer)
      if (w.term === e.term) w.resolve(results[i]!)
      else w.reject(new DroppedError(e.index))
    }
  }

  private releaseReads(): void {
    if (this.readsByIndex.length === 0) return
    const applied = this.storage.appliedIndex
    const keep: { ctx: number; index: number }[] = []
    for (const r of this.readsByIndex) {
      if (r.index > applied) {
        keep.push(r)
        continue
      }
      const w = this.reads.get(r.ctx)
      if (!w) continue
      this.reads.delete(r.ctx)
      clearTimeout(w.timer)
      w.resolve()
    }
    this.readsByIndex = keep
  }

  private onSoftState(role: string, leader: NodeId): void {
    const st = this.raw.status()
    if (leader !== this.lastLeader) this.counters.leaderChanges++
    if (role !== this.lastRole || leader !== this.lastLeader) {
      this.log.info({ role, leader, term: st.term }, 'role changed')
      this.events.onRoleChange?.(role, leader, st.term)
    }
    // Reads waiting on a leader that is gone will never be confirmed: let callers retry now —
    // reads this node queued as leader, and reads it forwarded to a leader it no longer follows.
    if (role !== 'leader' && (this.lastRole === 'leader' || leader !== this.lastLeader)) {
      for (const [ctx, w] of this.reads) {
        if (w.index === 0) {
          this.reads.delete(ctx)
          clearTimeout(w.timer)
          w.reject(new ReadFailedError('leadership changed'))
        }
      }
    }
    this.lastRole = role
    this.lastLeader = leader
  }

  private dispatch(m: Message): void {
    if (this.events.filterSend && !this.events.filterSend(m)) return // offload hook
    this.events.onSend?.(m) // observe hook
    if (m.type === MsgType.Snapshot) {
      // Captured after this turn, so the data matches exactly the state it describes.
      this.snapshotsToSend.push(m)
      return
    }
    this.transport.send(m)
  }

  /**
   * Streams a fresh point-in-time copy of the state machine to each follower that needs one. The
   * metadata describes that copy (its applied index ≥ the core's snapshot index), so what the
   * follower installs is exactly what the index says.
   */
  private async sendSnapshots(): Promise<void> {
    while (this.snapshotsToSend.length > 0) {
      const m = this.snapshotsToSend.shift()!
      // One stream per follower: a second one would only compete with the first on the wire and
      // at the receiver. If the first does not bring the follower up to date, the core's snapshot
      // timeout sends it back to probing and it asks again.
      if (this.snapshotStreams.has(m.to)) continue
      const source = await this.storage.snapshotSource()
      let meta: SnapshotMeta
      try {
        meta = this.raw.metaAt(source.index)
      } catch (e) {
        await source.close()
        this.log.warn({ err: e, to: m.to }, 'cannot describe snapshot; will retry')
        this.raw.reportSnapshot(m.to, false)
        continue
      }
      this.log.info({ to: m.to, index: meta.index }, 'sending snapshot')
      this.snapshotStreams.add(m.to)
      this.transport
        .sendSnapshot(m, meta, source.chunks())
        .catch((e: unknown) => {
          this.log.warn({ err: e, to: m.to }, 'snapshot send failed')
          this.raw.reportSnapshot(m.to, false)
          this.kick()
        })
        .finally(() => {
          this.snapshotStreams.delete(m.to)
          void source.close().catch(() => undefined)
        })
    }
  }

  private maybeCompact(): void {
    const bytes = this.appliedBytesSinceSnapshot
    if (this.appliedSinceSnapshot < this.opts.snapshotEntries && bytes < this.opts.snapshotBytes) return
    // The margin kept behind the snapshot is bounded in bytes as well (a quarter of the budget),
    // from the mean size of the entries applied since the last one.
    const mean = bytes / Math.max(1, this.appliedSinceSnapshot)
    const margin = Math.min(this.opts.compactionMargin, Math.floor(this.opts.snapshotBytes / 4 / Math.max(1, mean)))
    const st = this.raw.status()
    const index = st.applied - margin
    if (index <= this.raw.snapshotMeta().index) return
    // Counted from zero again: the log then holds at most the margin plus one budget.
    this.appliedSinceSnapshot = 0
    this.appliedBytesSinceSnapshot = 0
    const snap = this.raw.createSnapshot(index, new Uint8Array(0))
    if (!snap) return
    // The state machine lives in LevelDB already; the snapshot is its metadata plus the log cut.
    this.storage.compact(snap.meta).catch((e: unknown) => this.log.error({ err: e }, 'log compaction failed'))
  }

  private failAll(e: Error): void {
    for (const [, w] of this.proposals) {
      clearTimeout(w.timer)
      w.reject(e)
    }
    this.proposals.clear()
    for (const [, w] of this.reads) {
      clearTimeout(w.timer)
      w.reject(new ReadFailedError(e.message))
    }
    this.reads.clear()
  }

  /** Waits until the loop is idle (tests and shutdown). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  /** Graceful stop: hand leadership away if leader, let the loop drain, close. */
  async stop(transferTimeoutMs = 2000): Promise<void> {
    if (this.stopped) return
    const st = this.raw.status()
    if (st.role === 'leader' && st.conf.voters.length > 1) {
      const target = this.bestTransferTarget(st)
      if (target && this.transferLeadership(target)) {
        const deadline = Date.now() + transferTimeoutMs
        while (Date.now() < deadline && this.raw.status().role === 'leader') await new Promise((r) => setTimeout(r, 10))
        this.log.info({ to: target, done: this.raw.status().role !== 'leader' }, 'leadership transfer on shutdown')
      }
    }
    this.stopped = true
    if (this.tickTimer) clearInterval(this.tickTimer)
    await this.idle()
    this.failAll(new UnknownOutcomeError('node stopped'))
    await this.snapshotChain
    if (this.staged) await this.staged.writer.abort().catch(() => undefined)
    // Record the latest commit index on the way out (not needed for safety; it saves a restart
    // from re-learning it).
    if (this.lazyHs) {
      await this.storage.persist({ entries: [], hardState: this.lazyHs, snapshot: null }).catch(() => undefined)
      this.lazyHs = null
    }
    this.transport.close()
  }

  private bestTransferTarget(st: Status): NodeId {
    let best = 0
    let bestMatch = -1
    for (const id of st.conf.voters) {
      if (id === this.id) continue
      const p = st.progress.get(id)
      if (p && p.recentActive && p.match > bestMatch) {
        best = id
        bestMatch = p.match
      }
    }
    return best
  }
}
