// The run loop's side of the kernel fast path (DESIGN §5): what RaftNode calls, and what it is
// fed back. One OffloadDriver per attached node:
//
// - after every persist, before the Ready's persistedMessages leave: publish the durable state
//   (DurablePublisher → the seqlocked slot), so the kernel never promises more than the disk;
// - every tick: refresh the liveness stamp, drain the ring buffer, and hand the core what the
//   kernel saw without a message reaching user space — a follower's leader contact
//   (RawNode.leaderHeard) and, on a leader, peer acks and match indexes whose ring-buffer
//   records were lost;
// - every ring-buffer record: an RPC-log entry on path 'kernel', and the message the core must
//   still step (events.ts replayMessage); the core's own answer to a replayed heartbeat is
//   dropped, since the kernel already sent it.

import { MsgType, Role, emptyMessage, type ConfState, type Message, type NodeId, type Ready } from '../raft/types.ts'
import { eventMessage, replayMessage, type KernelEvent } from './events.ts'
import type { OffloadHandle } from './offload.ts'
import type { DurablePublisher } from './publisher.ts'
import { Verdict, isAnswered, isConsumed, type KernelState } from './state.ts'

/** What the driver uses of an attached fast path (OffloadHandle; tests pass a fake). */
export type DriverHandle = Pick<OffloadHandle, 'mode' | 'ifname' | 'publish' | 'touch' | 'readKernel' | 'onEvents' | 'close'>

/** What the driver needs of the run loop (RaftNode). */
export interface DriverNode {
  /** Steps a message the kernel already handled (replayed from its record) and runs the loop. */
  stepKernel(m: Message): void
  /** RawNode.leaderHeard. */
  leaderHeard(leader: NodeId, term: number, ticksAgo: number): boolean
}

/** Where kernel-path RPCs are recorded (src/observe: the Observer's RpcLog). */
export interface KernelRecorder {
  log: {
    record(e: { dir: 'send' | 'recv'; peer: number; type: number; term: number; index: number; logTerm?: number; commit?: number; hint?: number; ctx?: number; reject?: boolean; monoNs?: bigint }): number
    /** The time (its timebase) of the record just written. */
    readonly lastT: number
  }
  /** What a received message does to the visualizer's election timer. */
  kernelReceived(type: number, term: number, t: number): void
}

export interface DriverOptions {
  nodeId: NodeId
  tickMs: number
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }
  /** The RPC log, when it is on. */
  rpcLog?: KernelRecorder | null
  /** The clock (CLOCK_MONOTONIC ns, the kernel's bpf_ktime_get_ns); tests pass their own. */
  now?: () => bigint
}

/** The hooks RaftNode calls (a subset of its NodeEvents). */
export interface OffloadHooks {
  onPersisted: (rd: Ready, conf: ConfState) => void
  onTick: (ticks: number) => void
  onReceive: (m: Message) => void
  filterSend: (m: Message) => boolean
}

export interface DriverCounters {
  /** Ring-buffer records taken. */
  events: number
  /** Of those, messages stepped into the core. */
  replayed: number
  /** The core's answers to replayed heartbeats that were not sent (the kernel had sent them). */
  duplicatesDropped: number
  /** Ticks on which the kernel's leader-contact stamp restarted the election timer. */
  contactFed: number
  /** Peer acks / match indexes read from the kernel half because their records never came. */
  acksResynced: number
  matchesResynced: number
  publishes: number
}

/** The kernel's answer to a message it answered: the reply's wire type. */
const REPLY_TYPE: Partial<Record<number, MsgType>> = {
  [MsgType.Heartbeat]: MsgType.HeartbeatResp,
  [MsgType.PreVote]: MsgType.PreVoteResp,
  [MsgType.Vote]: MsgType.VoteResp,
}

export class OffloadDriver {
  readonly counters: DriverCounters = { events: 0, replayed: 0, duplicatesDropped: 0, contactFed: 0, acksResynced: 0, matchesResynced: 0, publishes: 0 }
  readonly hooks: OffloadHooks
  private node: DriverNode | null = null
  private ring: { stop: () => void; drain: () => number } | null = null
  private readonly now: () => bigint
  private readonly tickNs: bigint
  /** Term and role as last published (the durable view the kernel judges by). */
  private term = 0
  private role: Role = Role.Follower
  /** Heartbeats replayed into the core whose HeartbeatResp the kernel already sent: key → count. */
  private readonly answered = new Map<string, number>()
  /** Per peer: the newest heartbeat-ack time and match index the core was given (leader). */
  private readonly ackSeen = new Map<NodeId, bigint>()
  private readonly matchSeen = new Map<NodeId, number>()
  private closed = false

  constructor(
    readonly handle: DriverHandle,
    private readonly publisher: DurablePublisher,
    private readonly opts: DriverOptions,
  ) {
    this.now = opts.now ?? (() => process.hrtime.bigint())
    this.tickNs = BigInt(Math.round(opts.tickMs * 1e6))
    this.hooks = {
      onPersisted: (rd, conf) => this.onPersisted(rd, conf),
      onTick: (n) => this.onTick(n),
      onReceive: (m) => this.onReceive(m),
      filterSend: (m) => this.filterSend(m),
    }
  }

  /**
   * Publishes the state the node restarted with (the publisher's DurableStart: nothing has been
   * stepped yet, so the core's state is the disk's) and starts taking kernel records.
   */
  start(node: DriverNode, conf: ConfState): void {
    this.node = node
    const nothing: Ready = { softState: null, hardState: null, snapshot: null, entries: [], committedEntries: [], messages: [], persistedMessages: [], readStates: [] }
    this.onPersisted(nothing, conf)
    this.handle.touch(this.now())
    this.ring = this.handle.onEvents((evs) => this.onEvents(evs))
  }

  // ---- hooks ----------------------------------------------------------------------------------

  /** Step 2 of the publisher's contract: after the fsync, before persistedMessages are sent. */
  private onPersisted(rd: Ready, conf: ConfState): void {
    if (this.closed) return
    const s = this.publisher.persisted(rd, this.now(), conf)
    this.handle.publish(s)
    this.counters.publishes++
    if (s.term !== this.term || s.role !== this.role) {
      // A new leadership (or none): what earlier acks told the core is no longer its business.
      this.ackSeen.clear()
      this.matchSeen.clear()
    }
    this.term = s.term
    this.role = s.role
  }

  /** Called every tick interval, before the `ticks` owed are delivered to the core. */
  private onTick(ticks: number): void {
    if (this.closed) return
    const now = this.now()
    // Every tick, even one that owes no tick: the kernel answers only while this is fresh.
    this.handle.touch(now)
    // Records still queued would otherwise look lost to the resync below.
    this.ring?.drain()
    const node = this.node
    if (!node) return
    const k = this.handle.readKernel()
    if (this.role === Role.Follower) this.feedContact(node, k, now, ticks)
    else if (this.role === Role.Leader) this.resyncPeers(node, k)
  }

  /** A message from the socket (user path): the core resets its timer for a current leader's. */
  private onReceive(m: Message): void {
    if ((m.type === MsgType.Append || m.type === MsgType.Heartbeat || m.type === MsgType.Snapshot) && m.term >= this.term) {
      this.publisher.noteLeaderContact(this.now())
    }
  }

  /** False for the core's answer to a heartbeat the kernel already answered. */
  private filterSend(m: Message): boolean {
    if (m.type !== MsgType.HeartbeatResp || m.reject || this.answered.size === 0) return true
    const key = hbKey(m.to, m.term, m.index, m.ctx)
    const n = this.answered.get(key)
    if (n === undefined) return true
    if (n <= 1) this.answered.delete(key)
    else this.answered.set(key, n - 1)
    this.counters.duplicatesDropped++
    return false
  }

  // ---- what the kernel saw --------------------------------------------------------------------

  /**
   * The kernel stamps leader contact when it acks a heartbeat. Its record normally replays that
   * heartbeat into the core, but records can be lost (a full ring buffer) or still be in flight:
   * the stamp is the ground truth. Told before the owed ticks are delivered, so its age is
   * counted from the contact itself.
   */
  private feedContact(node: DriverNode, k: KernelState, now: bigint, ticks: number): void {
    if (k.contactNs === 0n || k.contactLeader === 0 || k.contactTerm !== this.term) return
    const age = now > k.contactNs ? Number((now - k.contactNs) / this.tickNs) : 0
    if (node.leaderHeard(k.contactLeader, k.contactTerm, Math.max(0, age - ticks))) this.counters.contactFed++
  }

  /**
   * A leader learns acks from their replayed records; whatever the kernel recorded in its half
   * but no record brought (lost) is stepped as the ack it stands for. The kernel tags every value
   * with the epoch (term + role + membership) it was written in, and readKernel() reads another
   * epoch's match as 0; ack times carry their epoch, checked here — none predates this leadership.
   */
  private resyncPeers(node: DriverNode, k: KernelState): void {
    for (const p of k.peers) {
      if (p.id === this.opts.nodeId) continue
      if (p.ackEpoch === k.epoch && p.ackNs > (this.ackSeen.get(p.id) ?? 0n)) {
        this.ackSeen.set(p.id, p.ackNs)
        const m = emptyMessage(MsgType.HeartbeatResp, p.id, this.opts.nodeId, this.term)
        m.ctx = p.ackCtx
        this.counters.acksResynced++
        node.stepKernel(m)
      }
      if (p.match > (this.matchSeen.get(p.id) ?? 0)) {
        this.matchSeen.set(p.id, p.match)
        const m = emptyMessage(MsgType.AppendResp, p.id, this.opts.nodeId, this.term)
        m.index = p.match
        this.counters.matchesResynced++
        node.stepKernel(m)
      }
    }
  }

  private onEvents(evs: KernelEvent[]): void {
    if (this.closed) return
    const node = this.node
    for (const e of evs) {
      this.counters.events++
      this.recordRpc(e)
      if (e.verdict === Verdict.Counted && e.term === this.term) this.noteSeen(e)
      const m = replayMessage(e)
      if (!m || !node) continue
      if (m.type === MsgType.Heartbeat) {
        const key = hbKey(m.from, e.replyTerm || m.term, m.index, m.ctx)
        this.answered.set(key, (this.answered.get(key) ?? 0) + 1)
        if (m.term >= this.term) this.publisher.noteLeaderContact(e.ns)
      }
      this.counters.replayed++
      node.stepKernel(m)
    }
    // Answers the core never produced (it moved on meanwhile) must not pile up.
    if (this.answered.size > 1024) this.answered.clear()
  }

  /** The ack a record brings, so that the resync does not step it a second time. */
  private noteSeen(e: KernelEvent): void {
    if (e.type === MsgType.HeartbeatResp && e.ns > (this.ackSeen.get(e.from) ?? 0n)) this.ackSeen.set(e.from, e.ns)
    if (e.type === MsgType.AppendResp && e.index > (this.matchSeen.get(e.from) ?? 0)) this.matchSeen.set(e.from, e.index)
  }

  private recordRpc(e: KernelEvent): void {
    const rpc = this.opts.rpcLog
    if (!rpc || !(isAnswered(e.verdict) || isConsumed(e.verdict))) return
    const m = eventMessage(e)
    rpc.log.record({ dir: 'recv', peer: m.from, type: m.type, term: m.term, index: m.index, logTerm: m.logTerm, commit: m.commit, hint: m.hint, ctx: m.ctx, reject: m.reject, monoNs: e.ns })
    rpc.kernelReceived(m.type, m.term, rpc.log.lastT)
    const reply = REPLY_TYPE[e.type]
    if (reply === undefined || !isAnswered(e.verdict)) return
    const hb = reply === MsgType.HeartbeatResp
    rpc.log.record({ dir: 'send', peer: m.from, type: reply, term: e.replyTerm, index: hb ? m.index : 0, ctx: hb ? m.ctx : 0, reject: e.verdict === Verdict.TxReject, monoNs: e.ns })
  }

  // ---- reporting ------------------------------------------------------------------------------

  /** For /status: mode, the kernel's counters by message type and verdict, and ours. */
  status(): OffloadStatus {
    const k = this.handle.readKernel()
    return { mode: this.handle.mode, ifname: this.handle.ifname, ...summarize(k.counters), eventsLost: k.eventsLost, epoch: k.epoch, driver: { ...this.counters } }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.ring?.stop()
    this.ring = null
    this.handle.close()
  }
}

function hbKey(peer: NodeId, term: number, index: number, ctx: number): string {
  return `${peer}:${term}:${index}:${ctx}`
}

export interface OffloadStatus {
  mode: 'native' | 'generic'
  ifname: string
  /** Per message type: answered (a reply sent), consumed (counted / ignored), passed up. */
  byType: Record<string, { answered: number; consumed: number; passed: number }>
  /** Pass-ups by reason (the verdict name), all types together. */
  passedBy: Record<string, number>
  eventsLost: number
  epoch: number
  driver: DriverCounters
}

/** The kernel's counters[type][verdict] folded into answered / consumed / passed. */
export function summarize(counters: KernelState['counters']): Pick<OffloadStatus, 'byType' | 'passedBy'> {
  const byType: OffloadStatus['byType'] = {}
  const passedBy: Record<string, number> = {}
  for (const [type, verdicts] of Object.entries(counters)) {
    const row = (byType[type] ??= { answered: 0, consumed: 0, passed: 0 })
    for (const [verdict, n] of Object.entries(verdicts)) {
      const v = Verdict[verdict as keyof typeof Verdict]
      if (isAnswered(v)) row.answered += n
      else if (isConsumed(v)) row.consumed += n
      else {
        row.passed += n
        passedBy[verdict] = (passedBy[verdict] ?? 0) + n
      }
    }
  }
  return { byType, passedBy }
}
