// OffloadDriver against a fake fast path (no BPF needed): what it publishes, what it replays into
// the run loop, which answers it suppresses, how it feeds the kernel's leader contact to the
// election timer, and how a leader recovers acks whose ring-buffer records were lost.

import t from 'tap'
import { MsgType, Role, emptyMessage, type ConfState, type Message, type NodeId, type Ready } from '../../src/raft/types.ts'
import { OffloadDriver, type DriverHandle, type DriverNode } from '../../src/offload/driver.ts'
import type { KernelEvent } from '../../src/offload/events.ts'
import { DurablePublisher } from '../../src/offload/publisher.ts'
import { Verdict, type KernelState, type PeerKernelState, type PublishedState } from '../../src/offload/state.ts'
import { KEY, MS } from './helpers.ts'

const CONF: ConfState = { voters: [1, 2, 3], learners: [] }
const TICK_MS = 10

class FakeHandle implements DriverHandle {
  readonly mode = 'generic' as const
  readonly ifname = 'fake0'
  published: PublishedState[] = []
  touches: bigint[] = []
  kernel: KernelState = { epoch: 1, contactNs: 0n, contactTerm: 0, contactLeader: 0, contactPrev: 0, commitHint: 0, eventsLost: 0, quorumPassed: 0, votes: [], peers: [], counters: {} }
  deliver: ((evs: KernelEvent[]) => void) | null = null
  queued: KernelEvent[] = []
  closed = false
  publish(s: PublishedState): void {
    this.published.push(s)
  }
  touch(nowNs?: bigint): void {
    this.touches.push(nowNs ?? 0n)
  }
  readKernel(): KernelState {
    return this.kernel
  }
  onEvents(cb: (events: KernelEvent[]) => void): { stop: () => void; drain: () => number } {
    this.deliver = cb
    return {
      stop: () => (this.deliver = null),
      // Like the addon: records still in the ring are delivered synchronously.
      drain: () => {
        const n = this.queued.length
        if (n > 0) cb(this.queued.splice(0))
        return n
      },
    }
  }
  close(): void {
    this.closed = true
  }
}

class FakeNode implements DriverNode {
  stepped: Message[] = []
  heard: { leader: NodeId; term: number; ticksAgo: number }[] = []
  stepKernel(m: Message): void {
    this.stepped.push(m)
  }
  leaderHeard(leader: NodeId, term: number, ticksAgo: number): boolean {
    this.heard.push({ leader, term, ticksAgo })
    return true
  }
}

function ready(over: Partial<Ready>): Ready {
  return { softState: null, hardState: null, snapshot: null, entries: [], committedEntries: [], messages: [], persistedMessages: [], readStates: [], ...over }
}

function event(over: Partial<KernelEvent>): KernelEvent {
  return { ns: 0n, slot: 0, type: MsgType.Heartbeat, from: 1, to: 2, term: 5, index: 0, logTerm: 0, commit: 0, ctx: 0, hint: 0, reject: false, transfer: false, verdict: Verdict.Tx, replyTerm: 5, ...over }
}

function setup(id: NodeId, now: { ns: bigint }): { h: FakeHandle; n: FakeNode; d: OffloadDriver; recorded: { dir: string; type: number }[] } {
  const h = new FakeHandle()
  const n = new FakeNode()
  const pub = new DurablePublisher(
    { nodeId: id, clusterId: 7, port: 7000 + id, key: KEY, checkQuorum: true, electionTimeoutNs: 150n * MS, leaseMarginNs: 20n * MS, aliveMaxNs: 40n * MS },
    { term: 4, vote: 0, commit: 0, lastIndex: 0, lastTerm: 0, conf: CONF, recent: [{ index: 0, term: 0 }], quietUntilNs: 0n },
  )
  const recorded: { dir: string; type: number }[] = []
  const d = new OffloadDriver(h, pub, { nodeId: id, tickMs: TICK_MS, log: { info: () => undefined, warn: () => undefined }, rpcLog: { log: { record: (e) => recorded.push(e), lastT: 0 }, kernelReceived: () => undefined }, now: () => now.ns })
  d.start(n, CONF)
  return { h, n, d, recorded }
}

t.test('publishes the restart state at start and after every persisted Ready', async (t) => {
  const now = { ns: 1000n * MS }
  const { h, d } = setup(2, now)
  t.equal(h.published.length, 1, 'published once at start')
  t.match(h.published[0], { nodeId: 2, term: 4, role: Role.Follower, leader: 0 })
  t.equal(h.touches.length, 1, 'and the liveness stamp set')
  d.hooks.onPersisted(ready({ softState: { role: Role.Follower, leader: 1 }, hardState: { term: 5, vote: 0, commit: 0 } }), CONF)
  t.match(h.published[1], { term: 5, role: Role.Follower, leader: 1 }, 'the new term and leader')
})

t.test('a follower: kernel-acked heartbeats are replayed and the core’s duplicate ack is not sent', async (t) => {
  const now = { ns: 1000n * MS }
  const { h, n, d, recorded } = setup(2, now)
  d.hooks.onPersisted(ready({ softState: { role: Role.Follower, leader: 1 }, hardState: { term: 5, vote: 0, commit: 0 } }), CONF)
  h.deliver!([event({ ctx: 9, index: 3, logTerm: 5 }), event({ type: MsgType.PreVote, verdict: Verdict.TxReject, from: 3, term: 6, replyTerm: 5 })])
  t.equal(n.stepped.length, 1, 'only the heartbeat is stepped (a refused pre-vote changes nothing)')
  t.match(n.stepped[0], { type: MsgType.Heartbeat, from: 1, to: 2, term: 5, index: 3, ctx: 9 })
  t.same(recorded.map((r) => [r.dir, r.type]), [['recv', MsgType.Heartbeat], ['send', MsgType.HeartbeatResp], ['recv', MsgType.PreVote], ['send', MsgType.PreVoteResp]], 'both recorded on the kernel path, with the replies sent')
  const ack = emptyMessage(MsgType.HeartbeatResp, 2, 1, 5)
  ack.index = 3
  ack.ctx = 9
  t.notOk(d.hooks.filterSend(ack), 'the core’s ack to the replayed heartbeat is dropped')
  t.ok(d.hooks.filterSend({ ...ack }), 'but only once: a second identical ack is sent')
  t.ok(d.hooks.filterSend({ ...ack, ctx: 10 }), 'and an ack the kernel did not send goes out')
  const rej = { ...ack, ctx: 11, reject: true }
  t.ok(d.hooks.filterSend(rej), 'rejections always go out')
})

t.test('a follower: the kernel’s leader-contact stamp restarts the election timer from the contact time', async (t) => {
  const now = { ns: 1000n * MS }
  const { h, n, d } = setup(2, now)
  d.hooks.onPersisted(ready({ softState: { role: Role.Follower, leader: 1 }, hardState: { term: 5, vote: 0, commit: 0 } }), CONF)
  h.kernel = { ...h.kernel, contactNs: now.ns - 35n * MS, contactTerm: 5, contactLeader: 1 }
  d.hooks.onTick(1)
  t.same(n.heard, [{ leader: 1, term: 5, ticksAgo: 2 }], '35 ms ago = 3 ticks, told before the 1 tick owed is delivered: 2')
  h.kernel = { ...h.kernel, contactTerm: 4 }
  d.hooks.onTick(1)
  t.equal(n.heard.length, 1, 'a stamp from another term is not fed')
  t.equal(h.touches.length, 3, 'every tick refreshes the liveness stamp')
})

t.test('a leader: acks whose records were lost are stepped from the kernel half, once', async (t) => {
  const now = { ns: 1000n * MS }
  const { h, n, d } = setup(1, now)
  d.hooks.onPersisted(ready({ softState: { role: Role.Leader, leader: 1 }, hardState: { term: 5, vote: 1, commit: 0 } }), CONF)
  const peer = (id: NodeId, over: Partial<PeerKernelState>): PeerKernelState => ({ id, voter: true, match: 0, ackNs: 0n, ackEpoch: 1, ackCtx: 0, ...over })
  // Peer 2's ack arrives as a record; peer 3's record was lost.
  h.queued.push(event({ type: MsgType.HeartbeatResp, from: 2, to: 1, ns: 900n * MS, ctx: 4, verdict: Verdict.Counted, replyTerm: 0 }))
  h.kernel = { ...h.kernel, peers: [peer(1, {}), peer(2, { ackNs: 900n * MS, ackCtx: 4 }), peer(3, { ackNs: 950n * MS, ackCtx: 4, match: 7 })] }
  d.hooks.onTick(1)
  t.same(
    n.stepped.map((m) => [m.type, m.from, m.ctx, m.index]),
    [[MsgType.HeartbeatResp, 2, 4, 0], [MsgType.HeartbeatResp, 3, 4, 0], [MsgType.AppendResp, 3, 0, 7]],
    'the record for 2 (drained first), then 3’s ack and match from the kernel half',
  )
  d.hooks.onTick(1)
  t.equal(n.stepped.length, 3, 'nothing is stepped twice')
  h.kernel = { ...h.kernel, peers: [peer(1, {}), peer(2, { ackNs: 990n * MS, ackCtx: 5, ackEpoch: 0 })] }
  d.hooks.onTick(1)
  t.equal(n.stepped.length, 3, 'an ack from another epoch (an earlier term or role) is ignored')
  d.close()
  t.ok(h.closed, 'close() detaches')
})
