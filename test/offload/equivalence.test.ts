// A/B equivalence of the kernel and the Raft core: for the same durable state, every reply the
// XDP program sends is exactly the message a RawNode with that persisted state sends for the same
// input, every message it drops is one the core ignores, and what it only counts (acks, votes)
// leads — once replayed from the ring buffer — to the same decisions the core makes.

import t from 'tap'
import { defaultConfig, type RaftConfig, type RestoredState } from '../../src/raft/config.ts'
import { RawNode } from '../../src/raft/rawnode.ts'
import { EntryType, MsgType, type Message, type Ready } from '../../src/raft/types.ts'
import { decodeControl, newWireCounters } from '../../src/transport/wire.ts'
import { FastPath } from '../../src/offload/offload.ts'
import { Verdict, VERDICT_NAMES, type PublishedState } from '../../src/offload/state.ts'
import { replayMessage, type KernelEvent } from '../../src/offload/events.ts'
import { rng } from '../transport/helpers.ts'
import { CLUSTER, KEY, LEADER_EP, MS, XDP, bpfSkipReason, ipv4Packet, msg, wire } from './helpers.ts'

const skip = bpfSkipReason()
const ELECTION_TICK = 15

function config(id: number, preVote = true): RaftConfig {
  // random() = 0.99: the randomized timeout is 2 × electionTick − 1, so ticking electionTick
  // times leaves the lease without starting an election.
  return { ...defaultConfig, id, electionTick: ELECTION_TICK, heartbeatTick: 2, preVote, checkQuorum: true, random: () => 0.99 }
}

interface Durable {
  self: number
  voters: number[]
  term: number
  vote: number
  lead: number
  /** log[i] = term of entry i + 1 */
  log: number[]
  commit: number
  inLease: boolean
}

function restored(d: Durable): RestoredState {
  return {
    hardState: { term: d.term, vote: d.vote, commit: d.commit },
    snapshot: { index: 0, term: 0, conf: { voters: d.voters, learners: [] } },
    entries: d.log.map((term, i) => ({ term, index: i + 1, type: EntryType.Normal, data: new Uint8Array(0) })),
    applied: d.commit,
  }
}

function drain(raw: RawNode): Ready {
  const rd = raw.ready()
  raw.advance(rd)
  return rd
}

/** A follower RawNode in exactly the published state (leader known or not, in lease or not). */
function follower(d: Durable): RawNode {
  const raw = new RawNode(config(d.self), restored(d))
  if (d.lead !== 0) {
    // Learn the leader the way a follower does: a heartbeat of its term (prev 0 always matches).
    raw.step(msg(MsgType.Heartbeat, d.lead, d.self, d.term))
    drain(raw)
  }
  if (!d.inLease) for (let i = 0; i < ELECTION_TICK; i++) raw.tick()
  drain(raw)
  return raw
}

function published(d: Durable, role: PublishedState['role'] = 'follower'): PublishedState {
  return {
    nodeId: d.self,
    clusterId: CLUSTER,
    port: LEADER_EP.dport,
    key: KEY,
    role,
    term: d.term,
    votedFor: d.vote,
    leader: d.lead,
    lastIndex: d.log.length,
    lastTerm: d.log.length ? d.log[d.log.length - 1]! : 0,
    commit: d.commit,
    termStart: 0,
    voters: d.voters,
    learners: [],
    checkQuorum: true,
    electionTimeoutNs: 150n * MS,
    leaseMarginNs: 20n * MS,
    aliveMaxNs: 10_000n * MS,
    // In lease: user space just heard the leader. Out: long ago.
    contactNs: d.inLease && d.lead !== 0 ? process.hrtime.bigint() : 0n,
    quietUntilNs: 0n,
    entries: d.log.map((term, i) => ({ index: i + 1, term })),
  }
}

/** Every message the core sends for one input (before and after the persist). */
function outputs(rd: Ready): Message[] {
  return [...rd.messages, ...rd.persistedMessages]
}

t.test('follower side: kernel replies equal the core’s, drops are the core’s ignores', { skip }, async (t) => {
  const fp = FastPath.open({ port: LEADER_EP.dport, slot: 0 })
  t.teardown(() => fp.close())
  const r = rng(0x5eed)
  const tally = new Map<string, number>()
  let checked = 0
  for (let i = 0; i < 1500; i++) {
    const term = 3 + r.int(4)
    const len = r.int(9)
    const log: number[] = []
    let lt = 1
    for (let j = 0; j < len; j++) {
      lt = Math.min(term, lt + (r.int(3) === 0 ? 1 : 0))
      log.push(lt)
    }
    const lead = [0, 1, 3][r.int(3)]!
    const d: Durable = {
      self: 2, voters: [1, 2, 3], term, vote: [0, 1, 3][r.int(3)]!, lead, log,
      commit: r.int(len + 1), inLease: r.int(2) === 0,
    }
    const type = [MsgType.Heartbeat, MsgType.PreVote, MsgType.Vote][r.int(3)]!
    const from = [1, 3][r.int(2)]!
    const m = msg(type, from, 2, term - 1 + r.int(3), { index: r.int(len + 3), logTerm: r.int(term + 2), ctx: r.int(100) })
    if (type === MsgType.Heartbeat) m.commit = r.int(m.index + 3)
    else m.transfer = r.int(5) === 0

    fp.state.reset()
    fp.publish(published(d))
    fp.touch()
    const res = fp.testRun(ipv4Packet(wire(m)))
    const verdictName = VERDICT_NAMES[lastVerdict(fp, m.type)] ?? '?'
    const key = `${['', 'Heartbeat', '', '', 'Vote', 'PreVote'][type]}/${verdictName}`
    tally.set(key, (tally.get(key) ?? 0) + 1)

    const raw = follower(d)
    const before = raw.status()
    raw.step(m)
    const rd = drain(raw)
    const out = outputs(rd)
    const ctx = `case ${i}: ${JSON.stringify({ d, m: { ...m, entries: undefined, snapshot: undefined } })} → ${key}`
    if (res.retval === XDP.TX) {
      const reply = decodeControl(res.data.subarray(42), CLUSTER, KEY, newWireCounters())
      if (out.length !== 1 || JSON.stringify(out[0]) !== JSON.stringify(reply)) {
        t.fail(`kernel reply differs from the core's: ${ctx}\nkernel ${JSON.stringify(reply)}\ncore   ${JSON.stringify(out)}`)
        continue
      }
      // The answer must not depend on anything the core would have changed durably.
      if (rd.hardState && (rd.hardState.term !== before.term || rd.hardState.vote !== before.vote)) {
        t.fail(`kernel answered a message that changes term or vote: ${ctx}`)
        continue
      }
    } else if (res.retval === XDP.DROP) {
      if (out.length !== 0 || (rd.hardState && (rd.hardState.term !== before.term || rd.hardState.vote !== before.vote))) {
        t.fail(`kernel dropped a message the core acts on: ${ctx}\ncore ${JSON.stringify(out)} ${JSON.stringify(rd.hardState)}`)
        continue
      }
    } else {
      // Passed up: the core answers. Spot-check the reasons that claim something.
      const v = lastVerdict(fp, m.type)
      if (v === Verdict.Grant && !(out.length === 1 && out[0]!.type === MsgType.VoteResp && !out[0]!.reject)) {
        t.fail(`kernel said "grant" but the core does not grant: ${ctx} ${JSON.stringify(out)}`)
        continue
      }
      if (v === Verdict.LogMismatch && !(out.length === 1 && out[0]!.type === MsgType.HeartbeatResp && out[0]!.reject)) {
        t.fail(`kernel said "log mismatch" but the core does not reject: ${ctx} ${JSON.stringify(out)}`)
        continue
      }
    }
    checked++
  }
  t.equal(checked, 1500, 'every case agrees')
  // The random cases must have exercised every kind of kernel answer.
  for (const k of ['Heartbeat/Tx', 'Heartbeat/LogMismatch', 'PreVote/Tx', 'PreVote/TxReject', 'PreVote/Ignored', 'Vote/TxReject', 'Vote/Ignored', 'Vote/Grant', 'Vote/HigherTerm']) {
    t.ok((tally.get(k) ?? 0) > 0, `covered ${k} (${tally.get(k) ?? 0})`)
  }
  t.comment([...tally.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' '))
})

/** The verdict of the one packet run since the slot was reset (reset() zeroes the counters). */
function lastVerdict(fp: FastPath, type: number): number {
  for (const ty of [type, 0]) for (let v = 0; v < 32; v++) if (fp.state.counter(ty, v) > 0) return v
  return -1
}

t.test('candidate and leader side: drops replayed from the ring buffer give the core’s decisions', { skip }, async (t) => {
  for (const voters of [[1, 2, 3], [1, 2, 3, 4, 5]]) {
    const fp = FastPath.open({ port: LEADER_EP.dport, slot: 0 })
    const events: KernelEvent[] = []
    const sub = fp.onEvents((evs) => events.push(...evs))
    const r = rng(voters.length)
    const d: Durable = { self: 1, voters, term: 2, vote: 0, lead: 0, log: [1, 1, 2], commit: 1, inLease: false }
    const raw = new RawNode(config(1, false), restored(d))
    raw.campaign()
    drain(raw) // persists term 3 + vote for self, then counts the self vote
    let st = raw.status()
    t.equal(st.role, 'candidate', `${voters.length} voters: candidate`)
    const pub = (p: Partial<PublishedState>): void => {
      fp.publish({ ...published({ ...d, term: st.term, vote: st.vote, lead: st.leader, commit: st.commit, log: [1, 1, 2] }, st.role), ...p })
      fp.touch()
    }
    fp.state.reset()
    pub({})
    /** Runs m through the kernel; steps it into the core directly (passed) or replayed (consumed). */
    const deliver = (m: Message): number => {
      const res = fp.testRun(ipv4Packet(wire(m)))
      events.length = 0
      sub.drain()
      if (res.retval === XDP.PASS) raw.step(m)
      else for (const e of events) {
        const rm = replayMessage(e)
        if (rm) raw.step(rm)
      }
      return res.retval
    }
    // Votes: the core becomes leader exactly on the grant the kernel passes up.
    const peers = voters.filter((v) => v !== 1)
    for (const p of peers) {
      const wasCandidate = raw.status().role === 'candidate'
      const verdict = deliver(msg(MsgType.VoteResp, p, 1, 3))
      const isLeader = raw.status().role === 'leader'
      if (wasCandidate && isLeader) t.equal(verdict, XDP.PASS, `grant from ${p} won the election and was passed up`)
      if (wasCandidate && !isLeader) t.equal(verdict, XDP.DROP, `grant from ${p} did not win: consumed`)
      if (!wasCandidate) break
    }
    t.equal(raw.status().role, 'leader', 'elected')
    drain(raw) // persists the no-op at index 4
    st = raw.status()
    t.equal(st.lastIndex, 4, 'no-op appended')
    pub({ lastIndex: 4, lastTerm: 3, termStart: 4, entries: [{ index: 4, term: 3 }] })
    // Acks in random order: whenever the core's commit advances, the kernel passed that ack.
    const match = new Map(peers.map((p) => [p, 0]))
    let commits = 0
    for (let step = 0; step < 40; step++) {
      const p = peers[r.int(peers.length)]!
      const idx = Math.min(4, match.get(p)! + r.int(3))
      match.set(p, Math.max(match.get(p)!, idx))
      const before = raw.status().commit
      const verdict = deliver(msg(MsgType.AppendResp, p, 1, 3, { index: idx }))
      const rd = drain(raw)
      const after = raw.status().commit
      if (after > before) {
        commits++
        t.equal(verdict, XDP.PASS, `ack ${p}@${idx} advanced commit ${before}→${after}: passed up`)
        pub({ lastIndex: 4, lastTerm: 3, termStart: 4, commit: after })
      }
      void rd
    }
    t.equal(commits, 1, 'the no-op committed once')
    t.equal(raw.status().commit, 4, 'committed through the kernel path')
    sub.stop()
    fp.close()
  }
})
