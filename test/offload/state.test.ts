// The TypeScript side alone (no root, no BPF): the seqlocked publish, epochs and tagged
// kernel values on a plain ArrayBuffer, event decoding and replay, and loadOffload's "off".

import t from 'tap'
import { MsgType } from '../../src/raft/types.ts'
import { SharedState, STATE_LAYOUT, STATE_MAGIC, RoleCode, StateFlag, Verdict } from '../../src/offload/state.ts'
import { decodeEvents, isKernelDuplicate, replayMessage } from '../../src/offload/events.ts'
import { loadOffload } from '../../src/offload/offload.ts'
import { followerState, msg } from './helpers.ts'

const U = STATE_LAYOUT.user.fields
const K = STATE_LAYOUT.kern

t.test('publish writes the user half under an even seqlock', async (t) => {
  const buf = new ArrayBuffer(STATE_LAYOUT.slotSize * 2)
  const s = new SharedState(buf, 1)
  const dv = new DataView(buf, STATE_LAYOUT.slotSize)
  s.publish(followerState())
  const u = s.readUser()
  t.equal(u.seq % 2, 0, 'seq even after publish')
  t.equal(u.seq, 2, 'one publish = +2')
  t.equal(u.magic, STATE_MAGIC)
  t.equal(u.role, RoleCode.follower)
  t.equal(u.term, 5)
  t.equal(u.lastIndex, 10)
  t.same(u.members, [1, 2, 3])
  t.equal(u.voterMask, 0b111)
  t.equal(u.flags, StateFlag.Enabled | StateFlag.CheckQuorum | StateFlag.HasKey)
  t.equal(dv.getBigUint64(U.ring.offset + 10 * 16, true), 10n, 'ring[10].index')
  t.equal(dv.getBigUint64(U.ring.offset + 10 * 16 + 8, true), 5n, 'ring[10].term')
  t.equal(dv.getUint8(U.key.offset), 0xa0, 'key bytes')
  t.equal(new Uint8Array(buf, 0, STATE_LAYOUT.slotSize).some((b) => b !== 0), false, 'slot 0 untouched')
  s.touch(123n)
  t.equal(s.readUser().aliveNs, 123n, 'touch writes the stamp')
  t.equal(s.readUser().seq, 2, 'touch does not move the seqlock')
  const untear = s.tearForTest()
  t.equal(s.readUser().seq % 2, 1, 'torn: odd')
  untear()
  t.equal(s.readUser().seq % 2, 0)
  t.throws(() => s.publish(followerState({ voters: Array.from({ length: 17 }, (_, i) => i + 1) })), RangeError)
  t.throws(() => s.publish(followerState({ key: new Uint8Array(8) })), RangeError)
  t.throws(() => s.publish(followerState({ term: -1 })), RangeError)
})

t.test('epochs: term, role, membership and new campaigns make kernel values stale', async (t) => {
  const buf = new ArrayBuffer(STATE_LAYOUT.slotSize)
  const s = new SharedState(buf, 0)
  const dv = new DataView(buf)
  s.publish(followerState({ role: 'leader', leader: 2, nodeId: 2 }))
  const e1 = s.currentEpoch
  s.publish(followerState({ role: 'leader', leader: 2, nodeId: 2, commit: 9 }))
  t.equal(s.currentEpoch, e1, 'same term/role/members: same epoch')
  // Kernel writes (as the XDP program would): peer 0 match 7 in this epoch, votes bits.
  const tag = BigInt(e1 & 0xffff) << 48n
  dv.setBigUint64(K.offset + K.fields.peers.offset + STATE_LAYOUT.peer.fields.match.offset, tag | 7n, true)
  dv.setBigUint64(K.offset + K.fields.votes.offset, (BigInt(e1) << 32n) | 0b101n, true)
  dv.setBigUint64(K.offset + K.fields.counters.offset + 8 * (1 * STATE_LAYOUT.verdicts + Verdict.Tx), 3n, true)
  let k = s.readKernel()
  t.equal(k.peers[0]!.match, 7, 'tagged match of this epoch')
  t.same(k.votes, [1, 3], 'vote bits map to member ids')
  t.same(k.counters, { Heartbeat: { Tx: 3 } }, 'counters by name')
  s.publish(followerState({ role: 'leader', leader: 2, nodeId: 2, term: 6 }))
  t.not(s.currentEpoch, e1, 'new term: new epoch')
  k = s.readKernel()
  t.equal(k.peers[0]!.match, 0, 'old match is stale')
  t.same(k.votes, [], 'old votes are stale')
  const e2 = s.currentEpoch
  s.publish(followerState({ role: 'leader', leader: 2, nodeId: 2, term: 6, newCampaign: true }))
  t.equal(s.currentEpoch, e2 + 1, 'newCampaign bumps')
  s.publish(followerState({ role: 'leader', leader: 2, nodeId: 2, term: 6, learners: [4] }))
  t.equal(s.currentEpoch, e2 + 2, 'membership change bumps')
  // A new owner of the slot continues above the old epoch.
  const s2 = new SharedState(buf, 0)
  s2.publish(followerState())
  t.ok(s2.currentEpoch > e2 + 2, 'a new SharedState never reuses an epoch of the slot')
})

t.test('events: decode, replay, duplicates', async (t) => {
  const rec = Buffer.alloc(STATE_LAYOUT.event.size * 2)
  const E = STATE_LAYOUT.event.fields
  const put = (base: number, type: number, verdict: number): void => {
    rec.writeBigUInt64LE(99n, base + E.ns.offset)
    rec.writeBigUInt64LE(5n, base + E.term.offset)
    rec.writeBigUInt64LE(10n, base + E.index.offset)
    rec.writeBigUInt64LE(5n, base + E.log_term.offset)
    rec.writeBigUInt64LE(9n, base + E.commit.offset)
    rec.writeBigUInt64LE(77n, base + E.ctx.offset)
    rec.writeUInt16LE(1, base + E.from.offset)
    rec.writeUInt16LE(2, base + E.to.offset)
    rec[base + E.type.offset] = type
    rec[base + E.verdict.offset] = verdict
    rec[base + E.flags.offset] = 2
    rec.writeBigUInt64LE(5n, base + E.reply_term.offset)
  }
  put(0, MsgType.Heartbeat, Verdict.Tx)
  put(72, MsgType.PreVote, Verdict.Tx)
  const evs = decodeEvents(rec, [72, 72])
  t.equal(evs.length, 2)
  t.match(evs[0], { ns: 99n, type: MsgType.Heartbeat, from: 1, to: 2, term: 5, index: 10, logTerm: 5, commit: 9, ctx: 77, transfer: true, reject: false, verdict: Verdict.Tx, replyTerm: 5 })
  t.same(decodeEvents(rec, [10]), [], 'short records are skipped')
  const hb = replayMessage(evs[0]!)
  t.match(hb, { type: MsgType.Heartbeat, from: 1, to: 2, term: 5, index: 10, logTerm: 5, commit: 9, ctx: 77 })
  t.equal(replayMessage(evs[1]!), null, 'a pre-vote answer changes nothing in user space')
  t.ok(isKernelDuplicate(msg(MsgType.HeartbeatResp, 2, 1, 5, { index: 10, ctx: 77 }), hb!), 'the core’s own ack is a duplicate')
  t.notOk(isKernelDuplicate(msg(MsgType.HeartbeatResp, 2, 1, 5, { index: 10, ctx: 78 }), hb!), 'another round is not')
  put(0, MsgType.AppendResp, Verdict.Counted)
  t.match(replayMessage(decodeEvents(rec, [72])[0]!), { type: MsgType.AppendResp, index: 10 }, 'counted acks are replayed')
  put(0, MsgType.Vote, Verdict.Ignored)
  t.equal(replayMessage(decodeEvents(rec, [72])[0]!), null, 'ignored messages are not')
})

t.test('loadOffload says why it is off', async (t) => {
  t.same(loadOffload({ mode: 'off', ifname: 'lo', port: 7001 }), { mode: 'off', reason: 'disabled by configuration' })
  const warned: string[] = []
  const log = { info: () => {}, warn: (o: object) => warned.push((o as { reason: string }).reason) }
  const r = loadOffload({ mode: 'auto', ifname: 'lo', port: 7001, addonPath: '/nonexistent/raftkv_bpf.node', log })
  t.equal(r.mode, 'off')
  t.match((r as { reason: string }).reason, /not root|addon not built/, 'no privileges or no addon')
  t.equal(warned.length, 1, 'logged once')
  if (process.getuid?.() === 0) {
    const r2 = loadOffload({ mode: 'auto', ifname: 'lo', port: 7001, objectPath: '/nonexistent/raft_xdp.o' })
    t.match(r2, { mode: 'off', reason: /XDP object not built|addon not built/ }, 'no object')
    const r3 = loadOffload({ mode: 'generic', ifname: 'no-such-if0', port: 7001 })
    t.match(r3, { mode: 'off', reason: /no interface no-such-if0|addon not built/ }, 'no interface')
  }
})
