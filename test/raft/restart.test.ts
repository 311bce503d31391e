// Crash and restart (Figure 2 "Persistent state on all servers"): what was persisted comes back, and
// what was not persisted was never promised to anyone.
import t from 'tap'
import { MsgType, type Ready } from '../../src/raft/types.ts'
import { TestCluster, cmd } from './harness.ts'
import { ELECTION, drain, msg, node, ofType, outgoing, tickUntil, withLog } from './util.ts'

t.test('Restart: term, vote, log and commit index come back from the persisted state', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a', 'b')
  const before = c.node(2).raw.status()
  const log = c.node(2).raw.entriesFrom(1, before.lastIndex + 1)
  const raw = c.restart(2).raw
  const after = raw.status()
  t.same(
    [after.term, after.vote, after.commit, after.lastIndex, after.lastTerm],
    [before.term, before.vote, before.commit, before.lastIndex, before.lastTerm],
  )
  t.same([before.term, before.vote, before.commit, before.lastIndex], [1, 1, 3, 3])
  t.same(raw.entriesFrom(1, after.lastIndex + 1), log)
  t.same([after.role, after.leader], ['follower', 0], 'it comes back as a follower that knows no leader')
})

t.test('Restart: committed entries after the applied index are handed out again for applying', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a', 'b')
  const readies: Ready[] = []
  c.onReady = (n, rd) => {
    if (n.id === 2) readies.push(rd)
  }
  c.restart(2)
  c.stabilize()
  t.same(readies[0]?.committedEntries.map((e) => e.index), [1, 2, 3], 'the first Ready replays the committed log')
  t.same(c.node(2).applied, ['a', 'b'], 'the state machine is rebuilt exactly')
})

t.test('Restart: from a snapshot plus the log after it, only the entries after the snapshot are replayed', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a', 'b')
  c.snapshot(2)
  c.propose(1, 'c')
  const readies: Ready[] = []
  c.onReady = (n, rd) => {
    if (n.id === 2) readies.push(rd)
  }
  const raw = c.restart(2).raw
  t.same([raw.status().firstIndex, raw.status().lastIndex, raw.status().commit, raw.status().applied], [4, 4, 4, 3])
  c.stabilize()
  t.same(readies[0]?.committedEntries.map((e) => e.index), [4])
  t.same(c.node(2).applied, ['a', 'b', 'c'])
  c.propose(1, 'd')
  t.same(c.node(2).applied, ['a', 'b', 'c', 'd'])
})

t.test('Restart: a follower that crashes between ready() and the persist never acknowledged the lost entries', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.node(3).up = false
  const leader = c.node(1).raw
  leader.propose([cmd('x')])
  const sent = c.handleReady(c.node(1))
  const follower = c.node(2).raw
  follower.step(structuredClone(ofType(sent, MsgType.Append, 2)[0]!))
  const rd = follower.ready()
  t.same(rd.entries.map((e) => e.index), [2])
  t.same(rd.messages, [], 'no ack may leave before the persist')
  t.same(ofType(rd.persistedMessages, MsgType.AppendResp).map((m) => m.index), [2])
  // Crash now: nothing persisted, persistedMessages never sent.
  const raw = c.restart(2).raw
  t.equal(raw.status().lastIndex, 1, 'entry 2 is lost')
  c.stabilize()
  t.equal(leader.status().commit, 1, 'and was never counted: x is not committed')
  // The next write reveals the gap; the leader re-sends from what node 2 really holds.
  c.propose(1, 'y')
  t.same([c.node(1).applied, c.node(2).applied], [['x', 'y'], ['x', 'y']])
})

t.test('Restart: a follower that lost unpersisted entries in a crash gets them again without a further write', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.node(3).up = false
  c.node(1).raw.propose([cmd('x')])
  const sent = c.handleReady(c.node(1))
  c.node(2).raw.step(structuredClone(ofType(sent, MsgType.Append, 2)[0]!))
  c.node(2).raw.ready()
  c.restart(2)
  c.tickAll(5 * ELECTION)
  t.same([c.node(1).raw.status().commit, c.node(2).applied], [2, ['x']])
})

t.test('Restart: a leader that crashes after sending entries but before persisting them — the cluster stays consistent', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const leader = c.node(1).raw
  leader.propose([cmd('x')])
  const rd = leader.ready()
  t.same(rd.entries.map((e) => e.index), [2])
  const appends = ofType(rd.messages, MsgType.Append)
  t.equal(appends.length, 2, 'Appends may leave before the leader\'s own persist')
  c.node(1).up = false
  for (const m of appends) c.deliver(m)
  c.stabilize()
  t.same([c.node(2).raw.status().lastIndex, c.node(3).raw.status().lastIndex], [2, 2])
  const raw = c.restart(1).raw
  t.same([raw.status().lastIndex, raw.status().term, raw.status().commit], [1, 1, 1], 'the leader lost its unpersisted entry')
  tickUntil(c, () => c.leader() !== undefined)
  const l = c.leader()!
  t.not(l.id, 1, 'node 1\'s shorter log cannot win')
  c.propose(l.id, 'y')
  c.tickAll(2)
  for (const id of [1, 2, 3]) t.same(c.node(id).applied, ['x', 'y'], `node ${id} applied x once, then y`)
})

t.test('Restart: a vote lost in a crash before its persist was never sent, so voting again in that term is safe', async (t) => {
  const state = withLog([1, 2, 3], [1], { term: 1 })
  const before = node(2, state, { preVote: false })
  before.step(msg(MsgType.Vote, 1, 2, 2, { index: 1, logTerm: 1 }))
  const rd = before.ready()
  t.same(rd.hardState, { term: 2, vote: 1, commit: 0 })
  t.same(rd.messages, [], 'the grant is not sendable yet')
  t.same(ofType(rd.persistedMessages, MsgType.VoteResp).map((m) => [m.to, m.reject]), [[1, false]])
  // Crash: restart from the same (unchanged) persisted state.
  const after = node(2, state, { preVote: false })
  t.same([after.status().term, after.status().vote], [1, 0])
  after.step(msg(MsgType.Vote, 3, 2, 2, { index: 1, logTerm: 1 }))
  t.same(outgoing(drain(after)).map((m) => [m.type, m.to, m.term, m.reject]), [[MsgType.VoteResp, 3, 2, false]], 'the only grant node 2 ever sent in term 2')
})

t.test('Restart: a restarted node rejoins without disturbing the leader and catches up', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a')
  c.node(3).up = false
  c.propose(1, 'b')
  c.restart(3)
  c.propose(1, 'c')
  c.tickAll(3 * ELECTION)
  t.same(c.node(3).applied, ['a', 'b', 'c'])
  for (const id of [1, 2, 3]) t.same([c.node(id).raw.status().term, c.node(id).raw.status().leader], [1, 1])
})
