// Linearizable reads (thesis §6.4): ReadIndex confirmed by a heartbeat quorum, and lease reads.
import t from 'tap'
import { RawNode } from '../../src/raft/rawnode.ts'
import { MsgType, type Message } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { ELECTION, becomeLeader, config, drain, isolate, msg, node, ofType, outgoing, withLog } from './util.ts'

t.test('ReadIndex: confirmed only once a quorum acknowledged a heartbeat round sent after the request; index = commit', async (t) => {
  const c = new TestCluster([1, 2, 3, 4, 5])
  c.elect(1)
  c.propose(1, 'a')
  const leader = c.node(1).raw
  t.same(leader.readIndex(7), { ok: true })
  let rd = drain(leader)
  t.same(rd.readStates, [], 'not answered from the leader alone')
  const hbs = ofType(rd.messages, MsgType.Heartbeat)
  t.same(hbs.map((m) => m.to), [2, 3, 4, 5], 'one heartbeat round')
  const round = hbs[0]!.ctx
  t.ok(hbs.every((m) => m.ctx === round) && round > 0)
  leader.step(msg(MsgType.HeartbeatResp, 2, 1, 1, { index: 2, ctx: round }))
  t.same(drain(leader).readStates, [], 'leader + 1 of 5')
  leader.step(msg(MsgType.HeartbeatResp, 3, 1, 1, { index: 2, ctx: round - 1 }))
  t.same(drain(leader).readStates, [], 'an ack of an earlier round does not count')
  leader.step(msg(MsgType.HeartbeatResp, 4, 1, 1, { index: 2, ctx: round }))
  rd = drain(leader)
  t.same(rd.readStates, [{ ctx: 7, index: 2 }], 'leader + 2 of 5 acknowledged: read at the commit index')
})

t.test('ReadIndex: a partitioned leader never produces a ReadState', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  isolate(c, 1)
  t.same(c.node(1).raw.readIndex(1), { ok: true })
  c.tickAll(3 * ELECTION)
  t.same(c.node(1).reads, [])
  t.equal(c.node(1).raw.status().role, 'follower', 'it stepped down (CheckQuorum) and dropped the read')
  t.same(c.node(1).raw.readIndex(2), { ok: false, reason: 'no-leader' })
  c.drop = () => false
  c.tickAll(3 * ELECTION)
  t.same(c.node(1).reads, [], 'not even after healing')
})

t.test('ReadIndex: many reads between two Readies share one heartbeat round', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const mark = c.delivered.length
  for (let i = 1; i <= 10; i++) c.node(1).raw.readIndex(i)
  c.stabilize()
  const hbs = ofType(c.delivered.slice(mark), MsgType.Heartbeat)
  t.same(hbs.map((m) => m.to), [2, 3], 'two heartbeats for ten reads')
  t.same(c.node(1).reads, Array.from({ length: 10 }, (_, i) => ({ ctx: i + 1, index: 1 })))
})

t.test('ReadIndex: reads wait for the first commit of the leader\'s term', async (t) => {
  // Entry 2 (term 1) may be committed by the old leader already: until the new leader commits
  // its no-op it does not know the real commit index.
  const raw = node(1, withLog([1, 2, 3], [1, 1], { term: 1, commit: 1 }), { preVote: false })
  becomeLeader(raw, [1, 2])
  raw.readIndex(9)
  const rd = drain(raw)
  const round = ofType(rd.messages, MsgType.Heartbeat)[0]!.ctx
  raw.step(msg(MsgType.HeartbeatResp, 2, 1, 2, { ctx: round }))
  raw.step(msg(MsgType.HeartbeatResp, 3, 1, 2, { ctx: round }))
  t.same(drain(raw).readStates, [], 'confirmed leadership, but no commit in term 2 yet')
  t.equal(raw.status().commit, 1)
  raw.step(msg(MsgType.AppendResp, 2, 1, 2, { index: 3 }))
  t.same(drain(raw).readStates, [{ ctx: 9, index: 3 }], 'answered with the no-op\'s index once it commits')
})

t.test('ReadIndex: a follower\'s read is forwarded to the leader and answered with the leader\'s commit index', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a', 'b')
  const mark = c.delivered.length
  t.same(c.node(2).raw.readIndex(42), { ok: true })
  c.stabilize()
  const msgs = c.delivered.slice(mark)
  t.same(
    msgs.filter((m) => m.type === MsgType.ReadIndex || m.type === MsgType.ReadIndexResp).map((m) => [m.type, m.from, m.to, m.ctx, m.index]),
    [
      [MsgType.ReadIndex, 2, 1, 42, 0],
      [MsgType.ReadIndexResp, 1, 2, 42, 3],
    ],
  )
  t.equal(ofType(msgs, MsgType.Heartbeat).length, 2, 'after a heartbeat round')
  t.same(c.node(2).reads, [{ ctx: 42, index: 3 }])
  t.same(c.node(1).reads, [], 'the leader keeps no ReadState for it')
})

t.test('ReadIndex: a node that knows no leader refuses the read', async (t) => {
  const raw = node(1, withLog([1, 2, 3], []))
  t.same(raw.readIndex(1), { ok: false, reason: 'no-leader' })
})

t.test('Lease reads: answered at once, without a heartbeat round, while the lease holds', async (t) => {
  const c = new TestCluster([1, 2, 3], { readOnly: 'lease' })
  c.elect(1)
  c.propose(1, 'a')
  c.tickAll(1)
  const leader = c.node(1).raw
  t.ok(leader.status().leaseValid)
  leader.readIndex(5)
  const rd = drain(leader)
  t.same(rd.readStates, [{ ctx: 5, index: 2 }])
  t.same(ofType(rd.messages, MsgType.Heartbeat), [], 'no heartbeat needed')
  // A follower's read is answered by the leader from its lease as well.
  const mark = c.delivered.length
  c.node(3).raw.readIndex(6)
  c.stabilize()
  t.same(ofType(c.delivered.slice(mark), MsgType.Heartbeat), [])
  t.same(c.node(3).reads, [{ ctx: 6, index: 2 }])
})

t.test('Lease reads: once the lease (election timeout minus the drift margin) expires, reads need a heartbeat round again', async (t) => {
  const c = new TestCluster([1, 2, 3], { readOnly: 'lease', leaseMarginTicks: 2 })
  c.elect(1)
  c.tickAll(1)
  // Acks stop reaching the leader; it keeps sending heartbeats.
  const held: Message[] = []
  c.drop = (m) => {
    if (m.to === 1) held.push(m)
    return m.to === 1
  }
  const leader = c.node(1).raw
  const valid: boolean[] = []
  for (let i = 1; i <= ELECTION - 1; i++) {
    c.tickAll()
    valid.push(leader.status().leaseValid)
  }
  t.same(valid, [true, true, true, true, true, true, true, false, false], 'valid for electionTick − margin − 1 ticks after the last acked round')
  t.equal(leader.status().role, 'leader')
  leader.readIndex(3)
  const rd = drain(leader)
  t.same(rd.readStates, [], 'deferred')
  const hbs = ofType(rd.messages, MsgType.Heartbeat)
  t.equal(hbs.length, 2, 'a heartbeat round confirms it instead')
  for (const m of hbs) c.deliver(m)
  c.drop = () => false
  c.stabilize()
  t.same(c.node(1).reads, [{ ctx: 3, index: 1 }])
})

t.test('Lease reads: the configuration refuses readOnly "lease" without checkQuorum', async (t) => {
  t.throws(() => new RawNode(config(1, { readOnly: 'lease', checkQuorum: false }), withLog([1, 2, 3], [])), RangeError)
  t.doesNotThrow(() => new RawNode(config(1, { readOnly: 'lease', checkQuorum: true }), withLog([1, 2, 3], [])))
})

t.test('Lease reads: a restarted follower must not help elect a new leader while the old leader\'s lease holds', async (t) => {
  const c = new TestCluster([1, 2, 3], { readOnly: 'lease' })
  c.elect(1)
  c.propose(1, 'a')
  // Node 2 loses contact with node 1 (only that link).
  c.drop = (m) => (m.from === 1 && m.to === 2) || (m.from === 2 && m.to === 1)
  c.tickAll(2 * ELECTION)
  t.same([c.node(1).raw.status().role, c.node(1).raw.status().leaseValid], ['leader', true], 'node 3 keeps the lease alive')
  // Node 3 crashes right after acknowledging the latest round and restarts at once.
  c.restart(3)
  // Node 2 has not heard from a leader for two election timeouts: its timer fires now.
  c.node(2).raw.campaign()
  c.stabilize()
  const newLeader = [2, 3].find((id) => c.node(id).raw.status().role === 'leader')
  t.equal(newLeader, undefined, 'the restarted node keeps its promise: nobody else is elected within the lease')
  if (newLeader !== undefined) c.propose(newLeader, 'b')
  // Node 1 has not ticked since: its lease still looks valid.
  c.node(1).raw.readIndex(77)
  c.stabilize()
  const read = c.node(1).reads.find((r) => r.ctx === 77)
  const committed = Math.max(c.node(2).raw.status().commit, c.node(3).raw.status().commit)
  t.ok(read === undefined || read.index >= committed, `no stale read: committed elsewhere up to ${committed}, old leader read at ${read?.index}`)
})

t.test('Lease reads: a restarted node answers no Vote or PreVote for one election timeout after starting', async (t) => {
  const raw = node(3, withLog([1, 2, 3], [1], { term: 1 }), { readOnly: 'lease' })
  raw.step(msg(MsgType.PreVote, 2, 3, 2, { index: 1, logTerm: 1 }))
  raw.step(msg(MsgType.Vote, 2, 3, 2, { index: 1, logTerm: 1 }))
  t.notOk(raw.hasReady(), 'just started: it may have acknowledged a lease it cannot remember')
  for (let i = 0; i < ELECTION - 1; i++) raw.tick()
  raw.step(msg(MsgType.PreVote, 2, 3, 2, { index: 1, logTerm: 1 }))
  t.notOk(raw.hasReady(), `${ELECTION - 1} ticks: still quiet`)
  raw.tick()
  raw.step(msg(MsgType.PreVote, 2, 3, 2, { index: 1, logTerm: 1 }))
  t.same(outgoing(drain(raw)).map((m) => [m.type, m.to, m.term, m.reject]), [[MsgType.PreVoteResp, 2, 2, false]], 'after an election timeout it votes again')
  t.equal(raw.status().term, 1)
})
