// BPF_PROG_RUN on crafted packets: every row of DESIGN §5's table and every pass-up reason.
// Each case checks the XDP verdict, the reply bytes (decoded with the TS codec, MAC verified),
// the exact counter the kernel bumped, the ring-buffer event, and the map changes.

import t, { type Test } from 'tap'
import { MsgType, type Message } from '../../src/raft/types.ts'
import { decodeControl, newWireCounters } from '../../src/transport/wire.ts'
import { FastPath } from '../../src/offload/offload.ts'
import { GlobalStat, STATE_LAYOUT, TYPE_NAMES, VERDICT_COUNT, VERDICT_NAMES, Verdict, type PublishedState } from '../../src/offload/state.ts'
import type { KernelEvent } from '../../src/offload/events.ts'
import type { BpfError } from '../../src/offload/addon.ts'
import {
  CLUSTER, KEY, LEADER_EP, MS, XDP, bpfSkipReason, followerState, ipv4Packet, ipv6Packet, msg, parsePacket, wire,
} from './helpers.ts'

const skip = bpfSkipReason()

interface RunResult {
  retval: number
  out: Buffer
  reply: Message | null
  /** The one (type, verdict) counter that moved, as names; null if none did. */
  counted: { type: string; verdict: string } | null
  events: KernelEvent[]
}

t.test('the verifier accepts raft_xdp (and the maps are what the layout says)', { skip }, async (t) => {
  let fp: FastPath | null = null
  try {
    fp = FastPath.open({ port: LEADER_EP.dport, slot: 0 })
  } catch (e) {
    const err = e as BpfError
    t.fail(`load failed: ${err.message}`, { libbpfLog: err.libbpfLog })
    return
  }
  t.teardown(() => fp!.close())
  t.same(fp.obj.programs(), ['raft_xdp'])
  const st = fp.obj.mapInfo('raft_state')
  t.equal(st.valueSize, STATE_LAYOUT.slotSize, 'slot size')
  t.equal(st.maxEntries, STATE_LAYOUT.slots, 'slots')
  t.equal(st.flags & 0x400, 0x400, 'BPF_F_MMAPABLE')
  t.equal(fp.stateBuffer.byteLength, STATE_LAYOUT.slots * STATE_LAYOUT.slotSize, 'the whole array is mapped')
  t.equal(fp.obj.mapInfo('raft_events').type, 27, 'BPF_MAP_TYPE_RINGBUF')
})

t.test('XDP rules under BPF_PROG_RUN', { skip }, async (t) => {
  const fp = FastPath.open({ port: LEADER_EP.dport, slot: 0 })
  t.teardown(() => fp.close())
  const events: KernelEvent[] = []
  const sub = fp.onEvents((evs) => events.push(...evs))

  const snapshot = (): number[] => {
    const c: number[] = []
    for (let ty = 0; ty < STATE_LAYOUT.types; ty++) for (let v = 0; v < VERDICT_COUNT; v++) c.push(fp.state.counter(ty, v))
    return c
  }

  /** Fresh slot, then publish `s` and a fresh liveness stamp. */
  const setState = (s: PublishedState | null): void => {
    fp.state.reset()
    if (s) {
      fp.publish(s)
      fp.touch()
    }
  }

  const runPacket = (pkt: Buffer, key: Uint8Array | null = KEY): RunResult => {
    events.length = 0
    sub.drain()
    events.length = 0
    const before = snapshot()
    const r = fp.testRun(pkt)
    const after = snapshot()
    let counted: RunResult['counted'] = null
    let moved = 0
    after.forEach((v, i) => {
      if (v !== before[i]) {
        moved += v - before[i]!
        counted = { type: TYPE_NAMES[Math.floor(i / VERDICT_COUNT)]!, verdict: VERDICT_NAMES[i % VERDICT_COUNT]! }
      }
    })
    if (moved > 1) throw new Error(`${moved} counter increments for one packet`)
    sub.drain()
    let reply: Message | null = null
    if (r.retval === XDP.TX) {
      const p = parsePacket(r.data)
      const wc = newWireCounters()
      reply = decodeControl(p.payload, CLUSTER, key, wc)
      if (!reply) throw new Error(`kernel reply does not decode: ${JSON.stringify(wc)}`)
    }
    return { retval: r.retval, out: r.data, reply, counted, events: [...events] }
  }

  const run = (m: Message, o: { key?: Uint8Array | null; cluster?: number } = {}): RunResult =>
    runPacket(ipv4Packet(wire(m, o)), o.key === undefined ? KEY : o.key)

  /** Asserts a pass-up with one reason, no reply, no event. */
  const passes = (t: Test, r: RunResult, type: string, verdict: keyof typeof Verdict, what: string): void => {
    t.equal(r.retval, XDP.PASS, `${what}: XDP_PASS`)
    t.same(r.counted, { type, verdict }, `${what}: counted as ${type}/${verdict}`)
    t.equal(r.events.length, 0, `${what}: no ring-buffer event for a pass-up`)
  }

  const consumed = (t: Test, r: RunResult, type: string, verdict: 'Counted' | 'Ignored', what: string): void => {
    t.equal(r.retval, XDP.DROP, `${what}: XDP_DROP`)
    t.same(r.counted, { type, verdict }, `${what}: counted as ${type}/${verdict}`)
    t.equal(r.events.length, 1, `${what}: one ring-buffer event`)
    t.equal(r.events[0]?.verdict, Verdict[verdict], `${what}: event verdict`)
  }

  const answered = (t: Test, r: RunResult, type: string, verdict: 'Tx' | 'TxReject', expect: Partial<Message>, what: string): void => {
    t.equal(r.retval, XDP.TX, `${what}: XDP_TX`)
    t.same(r.counted, { type, verdict }, `${what}: counted as ${type}/${verdict}`)
    t.match(r.reply, expect, `${what}: reply fields`)
    t.same(r.reply?.entries, [], `${what}: reply decodes as a control message`)
    t.equal(r.events.length, 1, `${what}: one ring-buffer event`)
    t.equal(r.events[0]?.verdict, Verdict[verdict], `${what}: event verdict`)
    t.equal(r.events[0]?.replyTerm, r.reply?.term, `${what}: event reply term = the reply's term`)
  }

  // ---- follower: Heartbeat -----------------------------------------------------------------

  t.test('heartbeat from the known leader, prev in the ring → ack', async (t) => {
    setState(followerState())
    const hb = msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5, commit: 9, ctx: 77 })
    const r = run(hb)
    answered(t, r, 'Heartbeat', 'Tx', { type: MsgType.HeartbeatResp, from: 2, to: 1, term: 5, index: 10, ctx: 77, reject: false, logTerm: 0, commit: 0, hint: 0 }, 'ack')
    const p = parsePacket(r.out)
    t.equal(p.srcMac, LEADER_EP.dstMac, 'MACs swapped')
    t.equal(p.dstMac, LEADER_EP.srcMac)
    t.equal(p.srcIp, LEADER_EP.dstIp, 'IPs swapped')
    t.equal(p.dstIp, LEADER_EP.srcIp)
    t.equal(p.sport, LEADER_EP.dport, 'ports swapped')
    t.equal(p.dport, LEADER_EP.sport)
    t.ok(p.ipChecksumOk, 'IPv4 header checksum valid')
    t.equal(p.udpChecksum, 0, 'UDP checksum 0 (none) for IPv4')
    t.equal(p.ttl, 64, 'fresh TTL')
    t.equal(r.out.length, 14 + 20 + 8 + 72, 'same length')
    const k = fp.readKernel()
    t.equal(k.contactTerm, 5, 'leader contact: term')
    t.equal(k.contactLeader, 1, 'leader contact: leader')
    t.equal(k.contactPrev, 10, 'leader contact: prev acked')
    t.ok(k.contactNs > 0n, 'leader contact stamped')
    t.equal(k.commitHint, 9, 'commit hint = min(commit, prev)')
    const ev = r.events[0]!
    t.match(ev, { type: MsgType.Heartbeat, from: 1, to: 2, term: 5, index: 10, logTerm: 5, commit: 9, ctx: 77, slot: 0 }, 'event carries the message')
    // A commit above prev is capped at prev (handleHeartbeat: commitTo(min(commit, index))).
    run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5, commit: 50, ctx: 78 }))
    t.equal(fp.readKernel().commitHint, 10, 'hint capped at prev')
  })

  t.test('heartbeat with prev ≤ commit matches whatever its term', async (t) => {
    setState(followerState())
    const r = run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 7, logTerm: 99, commit: 7, ctx: 1 }))
    answered(t, r, 'Heartbeat', 'Tx', { type: MsgType.HeartbeatResp, index: 7, term: 5, ctx: 1, reject: false }, 'committed prev')
    const r0 = run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 0, logTerm: 0, commit: 0, ctx: 2 }))
    answered(t, r0, 'Heartbeat', 'Tx', { type: MsgType.HeartbeatResp, index: 0, term: 5, ctx: 2 }, 'prev 0')
  })

  t.test('heartbeat pass-ups', async (t) => {
    setState(followerState())
    passes(t, run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 4 })), 'Heartbeat', 'LogMismatch', 'prev term differs')
    passes(t, run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 12, logTerm: 5 })), 'Heartbeat', 'LogMismatch', 'prev beyond the durable log')
    passes(t, run(msg(MsgType.Heartbeat, 1, 2, 6, { index: 10, logTerm: 5 })), 'Heartbeat', 'HigherTerm', 'higher term')
    passes(t, run(msg(MsgType.Heartbeat, 1, 2, 4, { index: 10, logTerm: 5 })), 'Heartbeat', 'LowerTerm', 'lower term')
    passes(t, run(msg(MsgType.Heartbeat, 3, 2, 5, { index: 10, logTerm: 5 })), 'Heartbeat', 'NotLeader', 'not the known leader')
    setState(followerState({ leader: 0 }))
    passes(t, run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 })), 'Heartbeat', 'NotLeader', 'no known leader')
    setState(followerState({ role: 'candidate', leader: 0, votedFor: 2 }))
    passes(t, run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 })), 'Heartbeat', 'Role', 'candidate')
    // A ring slot that holds another index (index + 256) is detected.
    setState(followerState({ lastIndex: 300, lastTerm: 5 }))
    passes(t, run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 266, logTerm: 5 })), 'Heartbeat', 'LogMismatch', 'ring slot of another index')
    t.equal(fp.readKernel().contactNs, 0n, 'no contact stamped by passed-up heartbeats')
  })

  t.test('heartbeat over IPv6: reply with a valid UDP checksum', async (t) => {
    setState(followerState())
    const ep = { srcMac: LEADER_EP.srcMac, dstMac: LEADER_EP.dstMac, srcIp: 'fd00::1', dstIp: 'fd00::2', sport: 7001, dport: LEADER_EP.dport }
    const r = runPacket(ipv6Packet(wire(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5, ctx: 9 })), ep))
    answered(t, r, 'Heartbeat', 'Tx', { type: MsgType.HeartbeatResp, index: 10, ctx: 9, term: 5 }, 'IPv6 ack')
    const p = parsePacket(r.out)
    t.ok(p.v6)
    t.ok(p.udpChecksumOk, 'UDP checksum valid over the pseudo-header')
    t.equal(p.srcIp, 'fd000000000000000000000000000002', 'addresses swapped')
    t.equal(p.dport, 7001)
  })

  // ---- guards ------------------------------------------------------------------------------

  t.test('guards: authentication, membership, addressing', async (t) => {
    setState(followerState())
    const hb = msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 })
    const bad = wire(hb)
    bad[70]! ^= 1
    passes(t, runPacket(ipv4Packet(bad)), 'Heartbeat', 'BadMac', 'corrupted MAC')
    passes(t, run(hb, { key: Uint8Array.from({ length: 16 }, () => 7) }), 'Heartbeat', 'BadMac', 'another key')
    passes(t, run(hb, { key: null }), 'Heartbeat', 'BadMac', 'no MAC while the cluster has a key')
    passes(t, run(hb, { cluster: CLUSTER + 1 }), 'Heartbeat', 'BadCluster', 'another cluster')
    passes(t, run(msg(MsgType.Heartbeat, 9, 2, 5, { index: 10, logTerm: 5 })), 'Heartbeat', 'NotMember', 'unknown sender')
    passes(t, run(msg(MsgType.Heartbeat, 1, 3, 5, { index: 10, logTerm: 5 })), 'Heartbeat', 'Misaddressed', 'to another node')
    passes(t, run(msg(MsgType.Heartbeat, 2, 2, 5, { index: 10, logTerm: 5 })), 'Heartbeat', 'Misaddressed', 'from ourselves')
    answered(t, run(msg(MsgType.Heartbeat, 1, 0, 5, { index: 10, logTerm: 5 })), 'Heartbeat', 'Tx', { to: 1 }, 'to = 0 (none) is accepted, as step() does')
    // Without a key: only mac = 0 is accepted, and replies carry mac = 0.
    setState(followerState({ key: null }))
    answered(t, run(hb, { key: null }), 'Heartbeat', 'Tx', { type: MsgType.HeartbeatResp, index: 10 }, 'keyless cluster')
    passes(t, run(hb), 'Heartbeat', 'BadMac', 'a MAC where none is expected')
    passes(t, run(msg(MsgType.TimeoutNow, 1, 2, 5), { key: null }), 'TimeoutNow', 'Type', 'TimeoutNow always goes up')
  })

  t.test('guards: seqlock, liveness, initialisation, off switch', async (t) => {
    const hb = msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 })
    setState(followerState())
    const untear = fp.state.tearForTest()
    passes(t, run(hb), 'Heartbeat', 'Torn', 'odd seqlock (writer mid-publish)')
    untear()
    answered(t, run(hb), 'Heartbeat', 'Tx', { index: 10 }, 'even again → answered')
    fp.touch(process.hrtime.bigint() - 20_000n * MS)
    passes(t, run(hb), 'Heartbeat', 'StaleUser', 'liveness stamp older than aliveMaxNs')
    fp.touch()
    answered(t, run(hb), 'Heartbeat', 'Tx', { index: 10 }, 'fresh stamp → answered')
    setState(followerState({ aliveMaxNs: 1n }))
    await new Promise((r) => setTimeout(r, 2))
    passes(t, run(hb), 'Heartbeat', 'StaleUser', 'tight aliveMaxNs')
    setState(null)
    passes(t, run(hb), 'Heartbeat', 'NoState', 'uninitialised slot')
    setState(followerState({ enabled: false }))
    passes(t, run(hb), 'Heartbeat', 'NoState', 'off switch')
  })

  t.test('guards: malformed packets', async (t) => {
    setState(followerState())
    const good = wire(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 }))
    passes(t, runPacket(ipv4Packet(good.subarray(0, 71))), 'none', 'BadLen', '71-byte payload')
    passes(t, runPacket(ipv4Packet(Buffer.concat([good, Buffer.alloc(1)]))), 'none', 'BadLen', '73-byte payload')
    passes(t, runPacket(ipv4Packet(good, LEADER_EP, { ipLen: 101 })), 'none', 'BadLen', 'IP length disagrees')
    passes(t, runPacket(ipv4Packet(good, LEADER_EP, { udpLen: 79 })), 'none', 'BadLen', 'UDP length disagrees')
    const trunc = ipv4Packet(good).subarray(0, 14 + 20 + 8 + 40)
    passes(t, runPacket(trunc), 'none', 'BadLen', 'truncated frame')
    const withByte = (off: number, v: number): Buffer => {
      const b = Buffer.from(good)
      b[off] = v
      return b
    }
    passes(t, runPacket(ipv4Packet(withByte(0, 0x51))), 'Heartbeat', 'BadHdr', 'bad magic')
    passes(t, runPacket(ipv4Packet(withByte(4, 2))), 'Heartbeat', 'BadHdr', 'bad version')
    passes(t, runPacket(ipv4Packet(withByte(5, 0))), 'none', 'BadHdr', 'type 0')
    passes(t, runPacket(ipv4Packet(withByte(5, 9))), 'none', 'BadHdr', 'type 9')
    passes(t, runPacket(ipv4Packet(withByte(7, 4))), 'Heartbeat', 'BadHdr', 'unknown flag bit')
  })

  t.test('not ours: wrong port, non-UDP, fragments, options', async (t) => {
    setState(followerState())
    const good = wire(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 }))
    const g0 = fp.globalStats()
    const r1 = runPacket(ipv4Packet(good, { ...LEADER_EP, dport: LEADER_EP.dport + 1 }))
    t.equal(r1.retval, XDP.PASS, 'wrong port: XDP_PASS')
    t.equal(r1.counted, null, 'wrong port: no slot counter')
    const g1 = fp.globalStats()
    t.equal(g1[GlobalStat.NoSlot]! - g0[GlobalStat.NoSlot]!, 1, 'counted as no slot')
    for (const [what, pkt] of [
      ['TCP', ipv4Packet(good, LEADER_EP, { proto: 6 })],
      ['IPv4 options', ipv4Packet(Buffer.concat([Buffer.alloc(4), good]), LEADER_EP, { ihl: 6 })],
      ['a fragment', ipv4Packet(good, LEADER_EP, { frag: 0x2000 })],
      ['ARP', Buffer.concat([ipv4Packet(good).subarray(0, 12), Buffer.from([0x08, 0x06]), Buffer.alloc(28)])],
      ['a runt frame', Buffer.alloc(14)],
    ] as const) {
      const before = fp.globalStats()[GlobalStat.NotUdp]!
      const r = runPacket(pkt)
      t.equal(r.retval, XDP.PASS, `${what}: XDP_PASS`)
      t.equal(r.counted, null, `${what}: no slot counter`)
      t.equal(fp.globalStats()[GlobalStat.NotUdp]! - before, 1, `${what}: counted as not UDP`)
    }
  })

  // ---- PreVote -----------------------------------------------------------------------------

  t.test('pre-vote: answered fully', async (t) => {
    const now = (): bigint => process.hrtime.bigint()
    const pv = (term: number, f: Partial<Message> = {}): Message => msg(MsgType.PreVote, 3, 2, term, { index: 10, logTerm: 5, ...f })
    // Out of lease (no leader contact for long): grant iff up to date.
    setState(followerState({ contactNs: 0n }))
    answered(t, run(pv(6)), 'PreVote', 'Tx', { type: MsgType.PreVoteResp, from: 2, to: 3, term: 6, reject: false, index: 0, logTerm: 0 }, 'higher term, up to date → grant in its term')
    answered(t, run(pv(6, { index: 11, logTerm: 5 })), 'PreVote', 'Tx', { term: 6, reject: false }, 'longer log → grant')
    answered(t, run(pv(6, { index: 2, logTerm: 6 })), 'PreVote', 'Tx', { term: 6, reject: false }, 'higher last term → grant')
    answered(t, run(pv(6, { index: 9, logTerm: 5 })), 'PreVote', 'TxReject', { type: MsgType.PreVoteResp, term: 5, reject: true }, 'shorter log → reject with our term')
    answered(t, run(pv(6, { index: 20, logTerm: 4 })), 'PreVote', 'TxReject', { term: 5, reject: true }, 'lower last term → reject')
    answered(t, run(pv(4)), 'PreVote', 'TxReject', { term: 5, reject: true }, 'lower term → reject with our term')
    // In lease: a recent leader message (user-space stamp) → ignored, as step() does.
    setState(followerState({ contactNs: now() }))
    consumed(t, run(pv(6)), 'PreVote', 'Ignored', 'in lease (user-space contact)')
    answered(t, run(pv(6, { transfer: true })), 'PreVote', 'Tx', { term: 6, reject: false }, 'transfer ignores the lease')
    // Close to the boundary: doubt → up.
    setState(followerState({ contactNs: now() - 150n * MS }))
    passes(t, run(pv(6)), 'PreVote', 'LeaseDoubt', 'elapsed ≈ election timeout')
    // The kernel's own leader contact counts (heartbeat answered a moment ago).
    setState(followerState({ contactNs: 0n }))
    run(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 }))
    consumed(t, run(pv(6)), 'PreVote', 'Ignored', 'in lease (kernel contact)')
    // Without CheckQuorum there are no leases.
    setState(followerState({ contactNs: now(), checkQuorum: false }))
    answered(t, run(pv(6)), 'PreVote', 'Tx', { term: 6 }, 'no checkQuorum → no lease')
    // A leader is always in lease.
    setState(followerState({ role: 'leader', leader: 2, votedFor: 2, termStart: 10 }))
    consumed(t, run(pv(6)), 'PreVote', 'Ignored', 'leader ignores higher-term pre-votes')
    // After a restart with lease reads: quiet until quietUntilNs.
    setState(followerState({ leader: 0, quietUntilNs: now() + 1000n * MS }))
    consumed(t, run(pv(6)), 'PreVote', 'Ignored', 'quiet period after restart')
    // Same term: canVote = vote == from || (no vote && no leader).
    setState(followerState({ votedFor: 0, leader: 0 }))
    answered(t, run(pv(5)), 'PreVote', 'Tx', { term: 5, reject: false }, 'same term, free → grant')
    setState(followerState({ votedFor: 3, leader: 0 }))
    answered(t, run(pv(5)), 'PreVote', 'Tx', { term: 5, reject: false }, 'same term, voted for it → grant')
    setState(followerState({ votedFor: 1, leader: 0 }))
    answered(t, run(pv(5)), 'PreVote', 'TxReject', { term: 5, reject: true }, 'same term, voted for another → reject')
    setState(followerState({ votedFor: 0, leader: 1 }))
    answered(t, run(pv(5)), 'PreVote', 'TxReject', { term: 5, reject: true }, 'same term, has a leader → reject')
  })

  // ---- RequestVote -------------------------------------------------------------------------

  t.test('request vote: only rejections and ignores', async (t) => {
    const now = (): bigint => process.hrtime.bigint()
    const rv = (term: number, f: Partial<Message> = {}): Message => msg(MsgType.Vote, 3, 2, term, { index: 10, logTerm: 5, ...f })
    setState(followerState({ contactNs: 0n }))
    consumed(t, run(rv(4)), 'Vote', 'Ignored', 'lower term: no answer (step())')
    passes(t, run(rv(6)), 'Vote', 'HigherTerm', 'higher term: user space persists the term first')
    setState(followerState({ contactNs: now() }))
    consumed(t, run(rv(6)), 'Vote', 'Ignored', 'higher term in lease: ignored')
    passes(t, run(rv(6, { transfer: true })), 'Vote', 'HigherTerm', 'transfer ignores the lease')
    setState(followerState({ contactNs: now() - 150n * MS }))
    passes(t, run(rv(6)), 'Vote', 'LeaseDoubt', 'lease boundary')
    setState(followerState({ votedFor: 1, leader: 0 }))
    answered(t, run(rv(5)), 'Vote', 'TxReject', { type: MsgType.VoteResp, from: 2, to: 3, term: 5, reject: true }, 'already voted for another')
    setState(followerState({ votedFor: 0, leader: 1 }))
    answered(t, run(rv(5)), 'Vote', 'TxReject', { type: MsgType.VoteResp, term: 5, reject: true }, 'has a leader')
    setState(followerState({ votedFor: 0, leader: 0 }))
    answered(t, run(rv(5, { index: 9 })), 'Vote', 'TxReject', { type: MsgType.VoteResp, term: 5, reject: true }, 'log not up to date')
    passes(t, run(rv(5)), 'Vote', 'Grant', 'a grant goes up (persist the vote first)')
    setState(followerState({ votedFor: 3, leader: 0 }))
    passes(t, run(rv(5)), 'Vote', 'Grant', 'already voted for it: the re-grant goes up too')
  })

  // ---- leader: AppendResp ------------------------------------------------------------------

  const leaderState = (over: Partial<PublishedState> = {}): PublishedState =>
    followerState({ nodeId: 1, role: 'leader', leader: 1, votedFor: 1, lastIndex: 20, lastTerm: 5, commit: 10, termStart: 15, port: LEADER_EP.dport, ...over })
  const ack = (from: number, index: number, f: Partial<Message> = {}): Message => msg(MsgType.AppendResp, from, 1, 5, { index, ...f })
  const peer = (id: number): { match: number; ackNs: bigint; ackCtx: number; ackEpoch: number } => fp.readKernel().peers.find((p) => p.id === id)!

  t.test('append acks: count, and pass only what advances the quorum', async (t) => {
    setState(leaderState())
    consumed(t, run(ack(2, 12)), 'AppendResp', 'Counted', 'ack below term start: nothing commits')
    t.equal(peer(2).match, 12, 'match recorded')
    consumed(t, run(ack(2, 11)), 'AppendResp', 'Counted', 'an older ack')
    t.equal(peer(2).match, 12, 'match never goes back')
    const q = run(ack(2, 16))
    passes(t, q, 'AppendResp', 'Quorum', 'ack that makes {self 20, peer 16} a quorum above max(commit, termStart-1)')
    t.equal(fp.readKernel().quorumPassed, 16, 'quorum index passed up recorded')
    consumed(t, run(ack(3, 16)), 'AppendResp', 'Counted', 'a second ack of the same index: nothing new')
    passes(t, run(ack(3, 18)), 'AppendResp', 'Quorum', 'quorum moves to 18')
    consumed(t, run(ack(2, 16)), 'AppendResp', 'Counted', 'duplicate')
    passes(t, run(ack(2, 12, { reject: true, hint: 11 })), 'AppendResp', 'Reject', 'rejection')
    passes(t, run(ack(2, 21)), 'AppendResp', 'BeyondLog', 'beyond our durable log')
    passes(t, run(msg(MsgType.AppendResp, 2, 1, 6, { index: 12 })), 'AppendResp', 'HigherTerm', 'higher term')
    consumed(t, run(msg(MsgType.AppendResp, 2, 1, 4, { index: 12 })), 'AppendResp', 'Ignored', 'lower term: step() drops it')
    // A new term (epoch): old matches no longer count.
    setState(null)
    fp.publish(leaderState())
    fp.touch()
    fp.publish(leaderState({ term: 6, termStart: 21, lastIndex: 21, lastTerm: 6, entries: [{ index: 21, term: 6 }] }))
    t.equal(peer(2).match, 0, 'matches of the previous epoch read as 0')
    setState(followerState({ contactNs: 0n }))
    passes(t, run(msg(MsgType.AppendResp, 1, 2, 5, { index: 5 })), 'AppendResp', 'Role', 'follower gets an ack')
  })

  t.test('append acks: commit index as threshold, learners never make a quorum', async (t) => {
    setState(leaderState({ commit: 17, voters: [1, 2, 3], learners: [4] }))
    consumed(t, run(ack(2, 17)), 'AppendResp', 'Counted', 'at the commit index: nothing to commit')
    consumed(t, run(ack(4, 20)), 'AppendResp', 'Counted', 'a learner at the end: not a voter')
    t.equal(peer(4).match, 20, 'learner match recorded')
    passes(t, run(ack(3, 19)), 'AppendResp', 'Quorum', 'voter above commit')
    // Five voters: the leader alone is not a quorum.
    setState(leaderState({ voters: [1, 2, 3, 4, 5] }))
    consumed(t, run(ack(2, 20)), 'AppendResp', 'Counted', '2 of 5')
    passes(t, run(ack(3, 15)), 'AppendResp', 'Quorum', '3 of 5 above 14')
    // A leader without itself in the configuration (removing itself) counts only the others.
    setState(leaderState({ voters: [2, 3] }))
    consumed(t, run(ack(2, 20)), 'AppendResp', 'Counted', '1 of 2 (self not a voter)')
    passes(t, run(ack(3, 20)), 'AppendResp', 'Quorum', '2 of 2')
  })

  // ---- leader: HeartbeatResp ---------------------------------------------------------------

  t.test('heartbeat acks: stamp and drop', async (t) => {
    setState(leaderState())
    const t0 = process.hrtime.bigint()
    consumed(t, run(msg(MsgType.HeartbeatResp, 2, 1, 5, { index: 10, ctx: 5 })), 'HeartbeatResp', 'Counted', 'ack')
    let p = peer(2)
    t.ok(p.ackNs >= t0, 'ack time stamped')
    t.equal(p.ackCtx, 5, 'read round recorded')
    t.equal(p.ackEpoch, fp.state.currentEpoch, 'in this epoch')
    consumed(t, run(msg(MsgType.HeartbeatResp, 2, 1, 5, { index: 10, ctx: 3 })), 'HeartbeatResp', 'Counted', 'older round')
    p = peer(2)
    t.equal(p.ackCtx, 5, 'read round is a max')
    passes(t, run(msg(MsgType.HeartbeatResp, 2, 1, 5, { index: 10, reject: true })), 'HeartbeatResp', 'Reject', 'rejection')
    passes(t, run(msg(MsgType.HeartbeatResp, 2, 1, 6, { index: 10 })), 'HeartbeatResp', 'HigherTerm', 'higher term')
    consumed(t, run(msg(MsgType.HeartbeatResp, 2, 1, 4, { index: 10 })), 'HeartbeatResp', 'Ignored', 'lower term')
    setState(followerState())
    passes(t, run(msg(MsgType.HeartbeatResp, 1, 2, 5, { index: 10 })), 'HeartbeatResp', 'Role', 'not leader')
  })

  // ---- candidate: VoteResp / PreVoteResp -----------------------------------------------------

  const candState = (over: Partial<PublishedState> = {}): PublishedState =>
    followerState({ nodeId: 1, role: 'candidate', leader: 0, votedFor: 1, term: 6, voters: [1, 2, 3, 4, 5], ...over })
  const grant = (from: number, term = 6): Message => msg(MsgType.VoteResp, from, 1, term)

  t.test('vote replies: set bits, pass only the one reaching quorum', async (t) => {
    setState(candState())
    consumed(t, run(grant(2)), 'VoteResp', 'Counted', 'self + 2 of 5')
    t.same(fp.readKernel().votes, [2], 'bit set')
    consumed(t, run(grant(2)), 'VoteResp', 'Counted', 'duplicate')
    passes(t, run(grant(3)), 'VoteResp', 'Quorum', 'self + 2 + 3: quorum')
    consumed(t, run(grant(4)), 'VoteResp', 'Counted', 'after the quorum')
    t.same(fp.readKernel().votes, [2, 3, 4], 'bits')
    passes(t, run(msg(MsgType.VoteResp, 5, 1, 6, { reject: true })), 'VoteResp', 'Reject', 'rejection')
    passes(t, run(grant(5, 7)), 'VoteResp', 'HigherTerm', 'higher term')
    consumed(t, run(grant(5, 5)), 'VoteResp', 'Ignored', 'lower term')
    // A new campaign (same term and role) must not count the old bits.
    fp.publish({ ...candState(), newCampaign: true })
    t.same(fp.readKernel().votes, [], 'bits of the previous campaign are stale')
    // Our own vote counts only once durable (published votedFor = self).
    setState(candState({ voters: [1, 2, 3], votedFor: 0 }))
    consumed(t, run(grant(2)), 'VoteResp', 'Counted', 'own vote not durable: 1 of 3')
    passes(t, run(grant(3)), 'VoteResp', 'Quorum', '2 of 3 without self')
    setState(candState({ voters: [1, 2, 3] }))
    passes(t, run(grant(2)), 'VoteResp', 'Quorum', 'self + 1 of 3')
    setState(candState({ voters: [1, 2, 3], learners: [4] }))
    consumed(t, run(grant(4)), 'VoteResp', 'Ignored', 'a learner’s vote does not count (handleVoteResponse)')
    setState(followerState({ term: 6 }))
    passes(t, run(msg(MsgType.VoteResp, 3, 2, 6)), 'VoteResp', 'Role', 'not a candidate')
  })

  t.test('pre-vote replies', async (t) => {
    const pre = (over: Partial<PublishedState> = {}): PublishedState => candState({ role: 'pre-candidate', term: 5, votedFor: 0, voters: [1, 2, 3], ...over })
    setState(pre())
    passes(t, run(msg(MsgType.PreVoteResp, 2, 1, 6)), 'PreVoteResp', 'Quorum', 'self + 1 of 3 in term + 1')
    setState(pre({ voters: [1, 2, 3, 4, 5] }))
    consumed(t, run(msg(MsgType.PreVoteResp, 2, 1, 6)), 'PreVoteResp', 'Counted', '2 of 5')
    passes(t, run(msg(MsgType.PreVoteResp, 3, 1, 6)), 'PreVoteResp', 'Quorum', '3 of 5')
    passes(t, run(msg(MsgType.PreVoteResp, 4, 1, 5)), 'PreVoteResp', 'LowerTerm', 'grant in our term (not term + 1)')
    passes(t, run(msg(MsgType.PreVoteResp, 4, 1, 7)), 'PreVoteResp', 'HigherTerm', 'grant beyond term + 1')
    passes(t, run(msg(MsgType.PreVoteResp, 4, 1, 5, { reject: true })), 'PreVoteResp', 'Reject', 'rejection')
    passes(t, run(msg(MsgType.PreVoteResp, 4, 1, 8, { reject: true })), 'PreVoteResp', 'HigherTerm', 'rejection with a higher term')
    consumed(t, run(msg(MsgType.PreVoteResp, 4, 1, 4)), 'PreVoteResp', 'Ignored', 'lower term')
    setState(candState())
    passes(t, run(msg(MsgType.PreVoteResp, 2, 1, 7)), 'PreVoteResp', 'Role', 'candidate gets a pre-vote reply')
  })

  t.test('ring buffer: events arrive through the libuv watcher', async (t) => {
    setState(followerState())
    sub.drain()
    const got: KernelEvent[] = []
    const sub2 = fp.onEvents((evs) => got.push(...evs))
    fp.testRun(ipv4Packet(wire(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5, ctx: 4242 }))))
    // Whichever watcher drains first gets it: wait for either.
    for (let i = 0; i < 100 && got.length === 0 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    const all = [...got, ...events]
    t.ok(all.some((e) => e.ctx === 4242 && e.verdict === Verdict.Tx), 'the answered heartbeat was reported without a manual drain')
    sub2.stop()
  })
})

