// The simulated cluster: creates, crashes and restarts nodes, routes messages through the network,
// and drives each node's Ready loop as separate events (ready → messages out → persist done →
// persisted messages out → apply → advance), so that a crash can land between sending and persisting.
// After every interaction with a node it reports what changed to the checker.
import { bootstrapState, type RaftConfig, type RestoredState } from '../../src/raft/config.ts'
import { decodeConfChangeEntry } from '../../src/raft/confchange.ts'
import { RawNode } from '../../src/raft/rawnode.ts'
import {
  ConfChangeType,
  EntryType,
  Role,
  type ConfChange,
  type Entry,
  type Message,
  type NodeId,
  type ProposeResult,
  type Ready,
  type RequestResult,
} from '../../src/raft/types.ts'
import type { Checker, LogView } from './checker.ts'
import { fmtConf, fmtReady, fmtResult, formatMessage } from './format.ts'
import { Network } from './network.ts'
import { SimNode, TICK } from './node.ts'
import type { Rng } from './rng.ts'
import type { Sim } from './sim.ts'
import { KvStateMachine, type WriteCommand } from './statemachine.ts'
import { DurableStorage } from './storage.ts'

export interface NodeOptions {
  raft: Omit<RaftConfig, 'id' | 'random'>
  /**
   * Step messages and ticks while a Ready is being persisted (etcd's Node does this), instead of
   * queueing them until advance() like a strictly sequential loop.
   */
  interleave: boolean
  /** Persist (fsync) latency range, and the chance of a slow one. */
  persistMin: number
  persistMax: number
  slowPersist: number
  slowPersistMax: number
  /**
   * Chance that a Ready with something to write ends in a power failure before its write completes
   * (the node restarts after restartMin..restartMax). Aimed at the window between sending
   * `messages` and finishing the persist, where unpersisted entries and votes must not count.
   */
  crashInPersist: number
  restartMin: number
  restartMax: number
  /** Take an application snapshot every this many applied entries. */
  snapshotEvery: number
  /** Nominal virtual time per tick, and the ± fraction each node's clock rate may differ by. */
  tickInterval: number
  clockDrift: number
}

export interface ClusterHooks {
  /** A committed client write was applied on some node. */
  onWrite(w: WriteCommand, index: number, node: NodeId): void
}

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>()
  readonly net: Network
  /** Node ids are never reused: the next new member gets this one. */
  nextId = 1
  stats = { crashes: 0, powerFailures: 0, restarts: 0, snapshotsTaken: 0, snapshotsInstalled: 0, confChangesApplied: 0, readies: 0 }
  hooks: ClusterHooks = { onWrite: () => {} }
  /** Off once the cluster is healed: the liveness phase injects no more crashes. */
  faultsOn = true
  /** Conf change indexes already acted on (a removal stops its node once, on first apply). */
  private readonly confApplied = new Set<number>()

  constructor(
    private readonly sim: Sim,
    private readonly rng: Rng,
    private readonly checker: Checker,
    private readonly opts: NodeOptions,
  ) {
    this.net = new Network(sim, rng.fork(), {
      deliver: (m) => this.deliver(m),
      snapshotFate: (m, ok) => this.snapshotFate(m, ok),
    })
  }

  /** Creates the initial members and starts them. */
  bootstrap(size: number): void {
    const voters: NodeId[] = []
    for (let i = 0; i < size; i++) voters.push(this.nextId++)
    for (const id of voters) this.addNode(id, bootstrapState(voters))
  }

  /** A brand-new server with a fresh id, which learns the configuration from the leader. */
  addJoiner(): SimNode {
    return this.addNode(this.nextId++, bootstrapState([]))
  }

  private addNode(id: NodeId, initial: RestoredState): SimNode {
    const drift = 1 + (this.rng.next() * 2 - 1) * this.opts.clockDrift
    const n = new SimNode(id, new DurableStorage(initial), this.rng.fork(), this.opts.tickInterval * drift)
    this.nodes.set(id, n)
    this.start(n)
    return n
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** (Re)starts a node from its durable storage; its state machine restarts from the snapshot. */
  start(n: SimNode): void {
    if (n.up || n.removed) return
    const state = n.durable.restored()
    const rng = n.rng
    const cfg: RaftConfig = { ...this.opts.raft, id: n.id, random: () => rng.next() }
    n.raw = this.guard(n, () => new RawNode(cfg, state)) ?? null
    if (n.raw === null) return
    n.sm = KvStateMachine.restore(state.snapshotData ?? new Uint8Array(0))
    if (n.sm.applied !== state.snapshot.index) {
      this.checker.fail('bad-ready', `node ${n.id} durable snapshot data is at ${n.sm.applied}, its meta at ${state.snapshot.index}`)
    }
    this.checker.resetApplied(n.id, state.snapshot.index)
    const st = n.raw.status()
    n.role = st.role
    n.term = st.term
    n.commit = st.commit
    n.leader = st.leader
    if (this.sim.tracing) {
      const hs = state.hardState
      this.sim.trace(`n${n.id} START inc${n.incarnation} hs=t${hs.term}/v${hs.vote}/c${hs.commit} snap=${state.snapshot.index}/${state.snapshot.term} log=${state.snapshot.index + 1}..${n.durable.lastIndex()} conf=${fmtConf(st.conf)}`)
    }
    const inc = n.incarnation
    // Random phase so nodes do not tick in lockstep.
    this.sim.after(this.rng.next() * n.tickInterval, () => this.tick(n, inc))
    this.scheduleReady(n)
  }

  /** Loses everything not in durable storage; pending events of this life become no-ops. */
  crash(n: SimNode): void {
    if (!n.up) return
    this.stats.crashes++
    this.kill(n, 'CRASH')
  }

  private kill(n: SimNode, why: string): void {
    if (this.sim.tracing) this.sim.trace(`n${n.id} ${why}${n.inflight ? ' (a Ready was being persisted: lost)' : ''}`)
    n.raw = null
    n.incarnation++
    n.inflight = null
    n.readyScheduled = false
    n.inbox = []
    n.waitingReads = []
    n.role = Role.Follower
    n.leader = 0
    n.pausedUntil = 0
  }

  /** Freezes a node (a GC pause, a stopped VM): no ticks, no processing, packets queue up. */
  pause(n: SimNode, duration: number): void {
    if (!n.up) return
    n.pausedUntil = Math.max(n.pausedUntil, this.sim.now + duration)
    if (this.sim.tracing) this.sim.trace(`n${n.id} PAUSED until ${n.pausedUntil.toFixed(1)}`)
  }

  restart(n: SimNode): void {
    if (n.up || n.removed) return
    this.stats.restarts++
    this.start(n)
  }

  /** Stops a node for good: its removal committed, or it was never added. It never comes back. */
  retire(n: SimNode, why: string): void {
    if (n.removed) return
    if (n.up) this.kill(n, `RETIRED (${why})`)
    n.removed = true
  }

  upNodes(): SimNode[] {
    const out: SimNode[] = []
    for (const n of this.nodes.values()) if (n.up) out.push(n)
    return out
  }

  /** The up node that believes it leads, in the highest term (stale leaders may linger). */
  leader(): SimNode | null {
    let best: SimNode | null = null
    for (const n of this.nodes.values()) {
      if (n.up && n.role === Role.Leader && (best === null || n.term > best.term)) best = n
    }
    return best
  }

  // ---- driving the core -------------------------------------------------------------------------

  /** Runs `fn` against the core, turning a throw into a violation (step must never throw). */
  private guard<T>(n: SimNode, fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      const e = err as Error
      this.checker.fail('exception', `node ${n.id}: ${e.stack ?? String(e)}`)
      return undefined
    }
  }

  private tick(n: SimNode, inc: number): void {
    if (n.incarnation !== inc || n.raw === null) return
    this.sim.after(n.tickInterval, () => this.tick(n, inc))
    // A paused process misses its timer ticks: its sense of time stops (what makes leases fragile).
    if (n.pausedUntil > this.sim.now) return
    if (n.inflight !== null && !this.opts.interleave) {
      n.inbox.push(TICK)
      return
    }
    const raw = n.raw
    this.guard(n, () => raw.tick())
    this.afterEvent(n)
  }

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to)
    if (n === undefined || n.raw === null) {
      if (this.sim.tracing) this.sim.trace(`  (n${m.to} is down: ${formatMessage(m)} lost)`)
      return
    }
    // Paused: the packet waits in the socket buffer.
    if (n.pausedUntil > this.sim.now) return this.sim.after(n.pausedUntil - this.sim.now, () => this.deliver(m))
    if (n.inflight !== null && !this.opts.interleave) {
      n.inbox.push(m)
      return
    }
    const raw = n.raw
    this.guard(n, () => raw.step(m))
    this.afterEvent(n)
  }

  private snapshotFate(m: Message, ok: boolean): void {
    const n = this.nodes.get(m.from)
    if (n === undefined || n.raw === null) return
    if (n.pausedUntil > this.sim.now) return this.sim.after(n.pausedUntil - this.sim.now, () => this.snapshotFate(m, ok))
    if (n.inflight !== null && !this.opts.interleave) return // a busy loop would report it later; dropping it is fine too
    const raw = n.raw
    if (this.sim.tracing) this.sim.trace(`n${n.id} reportSnapshot(${m.to}, ${ok})`)
    this.guard(n, () => raw.reportSnapshot(m.to, ok))
    this.afterEvent(n)
  }

  /** Client-facing calls. A sequential loop that is persisting cannot take them right now. */
  propose(n: SimNode, data: Uint8Array[]): ProposeResult | null {
    const raw = this.available(n)
    if (raw === null) return null
    const res = this.guard(n, () => raw.propose(data)) ?? null
    this.afterEvent(n)
    return res
  }

  proposeConfChange(n: SimNode, cc: ConfChange): ProposeResult | null {
    const raw = this.available(n)
    if (raw === null) return null
    const res = this.guard(n, () => raw.proposeConfChange(cc)) ?? null
    if (this.sim.tracing) this.sim.trace(`n${n.id} proposeConfChange ${cc.type} ${cc.node} → ${fmtResult(res)}`)
    this.afterEvent(n)
    return res
  }

  readIndex(n: SimNode, ctx: number): RequestResult | null {
    const raw = this.available(n)
    if (raw === null) return null
    const res = this.guard(n, () => raw.readIndex(ctx)) ?? null
    if (res?.ok) this.checker.readIssued(ctx, n.id)
    if (this.sim.tracing) this.sim.trace(`n${n.id} readIndex ctx${ctx} → ${fmtResult(res)}`)
    this.afterEvent(n)
    return res
  }

  transferLeadership(n: SimNode, to: NodeId): RequestResult | null {
    const raw = this.available(n)
    if (raw === null) return null
    const res = this.guard(n, () => raw.transferLeadership(to)) ?? null
    if (this.sim.tracing) this.sim.trace(`n${n.id} transferLeadership → ${to}: ${fmtResult(res)}`)
    this.afterEvent(n)
    return res
  }

  campaign(n: SimNode): void {
    const raw = this.available(n)
    if (raw === null) return
    const res = this.guard(n, () => raw.campaign())
    if (this.sim.tracing) this.sim.trace(`n${n.id} campaign() → ${res === undefined ? 'threw' : res ? fmtResult(res) : 'ok'}`)
    this.afterEvent(n)
  }

  private available(n: SimNode): RawNode | null {
    if (n.raw === null || n.pausedUntil > this.sim.now || (n.inflight !== null && !this.opts.interleave)) return null
    return n.raw
  }

  /** After any call into a node: check what changed, then make sure its Ready gets processed. */
  private afterEvent(n: SimNode): void {
    this.observe(n)
    this.scheduleReady(n)
  }

  private scheduleReady(n: SimNode): void {
    if (n.raw === null || n.inflight !== null || n.readyScheduled) return
    const raw = n.raw
    if (!(this.guard(n, () => raw.hasReady()) ?? false)) return
    n.readyScheduled = true
    const inc = n.incarnation
    // A short delay lets several steps batch into one Ready, as a busy event loop would.
    this.sim.after(this.rng.int(3), () => this.readyStart(n, inc))
  }

  // ---- the Ready loop ---------------------------------------------------------------------------

  private readyStart(n: SimNode, inc: number): void {
    if (n.incarnation !== inc || n.raw === null) return
    if (n.pausedUntil > this.sim.now) return this.sim.after(n.pausedUntil - this.sim.now, () => this.readyStart(n, inc))
    n.readyScheduled = false
    const raw = n.raw
    if (!(this.guard(n, () => raw.hasReady()) ?? false)) return
    const rd = this.guard(n, () => raw.ready())
    if (rd === undefined) return
    this.stats.readies++
    n.inflight = rd
    if (this.sim.tracing) this.sim.trace(`n${n.id} READY ${fmtReady(rd)}`)
    if (rd.entries.length > 0) this.checker.appended(n.id, rd.entries, this.prevTerm(n, rd.entries[0]!.index))
    for (const m of rd.messages) {
      this.checker.messageSent(n.id, m, false, n.durable, null)
      this.net.send(m)
    }
    const slow = this.opts.slowPersist > 0 && this.rng.chance(this.opts.slowPersist)
    const delay = slow ? this.rng.range(this.opts.persistMax, this.opts.slowPersistMax) : this.rng.range(this.opts.persistMin, this.opts.persistMax)
    this.sim.after(delay, () => this.persistDone(n, inc, rd))
    const writes = rd.entries.length > 0 || rd.hardState !== null || rd.snapshot !== null
    // A stalled write is where a crash hurts most (acks and votes may arrive meanwhile): more likely there.
    const crashChance = this.opts.crashInPersist * (slow ? 25 : 1)
    if (writes && this.faultsOn && crashChance > 0 && this.rng.chance(crashChance)) {
      this.sim.after(this.rng.next() * delay, () => {
        if (n.incarnation !== inc) return
        if (this.sim.tracing) this.sim.trace(`n${n.id} power failure during persist`)
        this.stats.powerFailures++
        this.crash(n)
        const down = n.incarnation
        // Often back quickly: a restarted node that lost its unpersisted votes/entries matters most
        // while the election it took part in is still going on.
        const back = this.rng.chance(0.5) ? this.rng.range(this.opts.tickInterval, 3 * this.opts.tickInterval) : this.rng.range(this.opts.restartMin, this.opts.restartMax)
        this.sim.after(back, () => {
          if (n.incarnation === down) this.restart(n)
        })
      })
    }
  }

  /** The in-memory term just before `index` (the snapshot's term at the snapshot index). */
  private prevTerm(n: SimNode, index: number): number {
    const raw = n.raw!
    const snap = raw.snapshotMeta()
    if (index - 1 === snap.index) return snap.term
    if (index - 1 < snap.index) return -1
    return raw.entriesFrom(index - 1, index)[0]?.term ?? -1
  }

  private persistDone(n: SimNode, inc: number, rd: Ready): void {
    if (n.incarnation !== inc || n.raw === null) return // crashed mid-persist: the Ready is lost
    if (n.pausedUntil > this.sim.now) return this.sim.after(n.pausedUntil - this.sim.now, () => this.persistDone(n, inc, rd))
    const raw = n.raw
    const d = n.durable
    if (rd.hardState !== null) this.checker.hardState(n.id, d.hardState, rd.hardState)
    const err = d.persist(rd)
    if (err !== null) this.checker.fail('bad-ready', `node ${n.id}: ${err}`)
    if (rd.hardState !== null) this.checker.votePersisted(n.id, rd.hardState)
    const memTerm = this.opts.interleave || rd.persistedMessages.length === 0 ? null : (i: number): number | undefined => memTermAt(raw, i)
    for (const m of rd.persistedMessages) {
      this.checker.messageSent(n.id, m, true, n.durable, memTerm)
      this.net.send(m)
    }
    if (rd.snapshot !== null) {
      this.stats.snapshotsInstalled++
      const meta = rd.snapshot.meta
      n.sm = KvStateMachine.restore(rd.snapshot.data)
      if (n.sm.applied !== meta.index) this.checker.fail('bad-ready', `node ${n.id} snapshot ${meta.index} carries state at ${n.sm.applied}`)
      this.checker.snapshotInstalled(n.id, meta.index, meta.term, n.sm.chain)
      if (this.sim.tracing) this.sim.trace(`n${n.id} installed snapshot ${meta.index}/${meta.term}`)
    }
    for (const e of rd.committedEntries) this.apply(n, e)
    for (const rs of rd.readStates) n.waitingReads.push(rs)
    this.serveReads(n)
    this.guard(n, () => raw.advance(rd))
    n.inflight = null
    if (this.checker.violation === null) this.observe(n)
    this.maybeSnapshot(n)
    // A sequential loop now handles what queued up while it was writing.
    const inbox = n.inbox
    n.inbox = []
    for (const item of inbox) {
      if (n.raw === null) break
      if (item === TICK) this.guard(n, () => raw.tick())
      else this.guard(n, () => raw.step(item))
      this.observe(n)
    }
    this.scheduleReady(n)
  }

  private apply(n: SimNode, e: Entry): void {
    const w = n.sm.apply(e)
    this.checker.applied(n.id, e, n.sm.chain)
    if (w !== null) this.hooks.onWrite(w, e.index, n.id)
    if (e.type === EntryType.ConfChange && !this.confApplied.has(e.index)) {
      this.confApplied.add(e.index)
      this.stats.confChangesApplied++
      const { change, conf } = decodeConfChangeEntry(e.data)
      if (this.sim.tracing) this.sim.trace(`n${n.id} applied conf change @${e.index}: ${change.type} ${change.node} → ${fmtConf(conf)}`)
      // A removed member is shut down once its removal is committed (first applied anywhere).
      if (change.type === ConfChangeType.RemoveNode) {
        const target = this.nodes.get(change.node)
        if (target !== undefined) this.sim.after(0, () => this.retire(target, 'removal committed'))
      }
    }
  }

  private serveReads(n: SimNode): void {
    if (n.waitingReads.length === 0) return
    const still = []
    for (const rs of n.waitingReads) {
      if (n.sm.applied >= rs.index) {
        this.checker.readServed(rs.ctx, n.id, rs.index)
        if (this.sim.tracing) this.sim.trace(`n${n.id} served read ctx${rs.ctx} at index ${rs.index} (applied ${n.sm.applied})`)
      } else still.push(rs)
    }
    n.waitingReads = still
  }

  private maybeSnapshot(n: SimNode): void {
    const raw = n.raw
    if (raw === null || n.sm.applied - n.durable.snapshot.index < this.opts.snapshotEvery) return
    // The core may hold a newer snapshot from the leader that is not installed yet; nothing to take.
    if (n.sm.applied <= raw.snapshotMeta().index) return
    const snap = this.guard(n, () => raw.createSnapshot(n.sm.applied, n.sm.serialize()))
    if (snap === undefined || snap === null) return
    if (snap.meta.index !== n.sm.applied) {
      this.checker.fail('bad-ready', `node ${n.id}: createSnapshot(${n.sm.applied}) returned a snapshot at ${snap.meta.index}`)
      return
    }
    this.stats.snapshotsTaken++
    const err = n.durable.compact(snap.meta, snap.data)
    if (err !== null) this.checker.fail('bad-ready', `node ${n.id}: ${err}`)
    if (this.sim.tracing) this.sim.trace(`n${n.id} snapshot+compact at ${snap.meta.index}/${snap.meta.term}`)
  }

  // ---- observation ------------------------------------------------------------------------------

  /** Compares the node's status with what it was after its previous event and reports changes. */
  private observe(n: SimNode): void {
    const raw = n.raw
    if (raw === null) return
    const st = raw.status()
    if (st.term < n.term) this.checker.fail('hard-state', `node ${n.id} term went back from ${n.term} to ${st.term}`)
    if (st.role === Role.Leader && (n.role !== Role.Leader || n.term !== st.term)) {
      if (this.sim.tracing) this.sim.trace(`n${n.id} BECOMES LEADER t${st.term} last=${st.lastIndex}/${st.lastTerm} commit=${st.commit} conf=${fmtConf(st.conf)}`)
      this.checker.leader(n.id, st.term)
      this.checker.leaderVotes(n.id, st.term, st.conf.voters, (id) => this.nodes.get(id)?.durable.hardState.term ?? 0)
      this.checker.leaderCompleteness(n.id, st.term, this.logView(raw, st.lastIndex))
    } else if (this.sim.tracing && (st.role !== n.role || st.term !== n.term || st.leader !== n.leader)) {
      this.sim.trace(`n${n.id} ${st.role} t${st.term} leader=${st.leader}`)
    }
    if (st.commit > n.commit) {
      const snap = raw.snapshotMeta().index
      const lo = Math.max(n.commit, snap) + 1
      if (lo <= st.commit) this.checker.committed(n.id, st.term, raw.entriesFrom(lo, st.commit + 1))
      if (st.role === Role.Leader) {
        const term = memTermAt(raw, st.commit)
        this.checker.commitQuorum(n.id, st.term, st.commit, term, st.conf.voters, (id) => {
          const d = this.nodes.get(id)?.durable
          return d !== undefined && (st.commit <= d.snapshot.index || d.termAt(st.commit) === term)
        })
      }
      if (this.sim.tracing) this.sim.trace(`n${n.id} commit ${n.commit} → ${st.commit}`)
    } else if (st.commit < n.commit) {
      this.checker.fail('hard-state', `node ${n.id} commit went back from ${n.commit} to ${st.commit}`)
    }
    n.role = st.role
    n.term = st.term
    n.commit = st.commit
    n.leader = st.leader
  }

  private logView(raw: RawNode, lastIndex: number): LogView {
    const snap = raw.snapshotMeta()
    return { snapshotIndex: snap.index, snapshotTerm: snap.term, lastIndex, entries: (lo, hi) => raw.entriesFrom(lo, hi) }
  }

}

function memTermAt(raw: RawNode, index: number): number | undefined {
  const snap = raw.snapshotMeta()
  if (index === snap.index) return snap.term
  if (index < snap.index) return undefined
  return raw.entriesFrom(index, index + 1)[0]?.term
}
