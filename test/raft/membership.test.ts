// Membership changes (thesis §4): learners, single-server changes that take effect when appended,
// one change at a time, and a leader removing itself.
import t from 'tap'
import { bootstrapState } from '../../src/raft/config.ts'
import { ConfChangeType, EntryType, MsgType, type Message, type NodeId } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { ELECTION, becomeLeader, drain, heal, isolate, node, tickUntil, withLog } from './util.ts'

const add = (node: NodeId) => ({ type: ConfChangeType.AddNode, node })
const learner = (node: NodeId) => ({ type: ConfChangeType.AddLearner, node })
const remove = (node: NodeId) => ({ type: ConfChangeType.RemoveNode, node })

/** Voters 1–3 and learners 4 and 5, node 1 leading in term 1. */
function withLearner(): TestCluster {
  const c = new TestCluster([])
  for (const id of [1, 2, 3, 4, 5]) c.add(id, bootstrapState([1, 2, 3], [4, 5]), id)
  c.elect(1)
  return c
}

t.test('Membership: a learner receives and applies the log but is not counted in any quorum', async (t) => {
  const c = withLearner()
  c.propose(1, 'a')
  t.same(c.node(4).applied, ['a'])
  t.equal(c.node(1).raw.status().progress.get(4)!.learner, true)
  c.node(2).up = false
  c.node(3).up = false
  c.propose(1, 'b')
  t.same([c.node(4).raw.status().lastIndex, c.node(5).raw.status().lastIndex], [3, 3], 'the learners hold entry 3')
  t.equal(c.node(1).raw.status().commit, 2, 'leader + 2 learners (3 of 5 members) is not a majority of the 3 voters')
})

t.test('Membership: a learner never campaigns and cannot be made leader', async (t) => {
  const c = withLearner()
  // Cut node 4 off, but record everything it tries to send.
  const sent: Message[] = []
  c.drop = (m) => {
    if (m.from === 4) sent.push(m)
    return m.from === 4 || m.to === 4
  }
  c.tickAll(10 * ELECTION)
  const st = c.node(4).raw.status()
  t.same([st.term, st.role, st.leader], [1, 'follower', 1])
  t.same(sent.filter((m) => m.type === MsgType.PreVote || m.type === MsgType.Vote), [], 'not even a pre-vote')
  c.node(4).raw.campaign()
  t.same([c.node(4).raw.status().role, c.node(4).raw.hasReady()], ['follower', false], 'an explicit campaign() is a no-op too')
  heal(c)
  t.same(c.node(1).raw.transferLeadership(4), { ok: false, reason: 'unknown-node' })
})

t.test('Membership: heartbeat acks from learners do not confirm a read', async (t) => {
  const c = withLearner()
  c.node(2).up = false
  c.node(3).up = false
  const mark = c.delivered.length
  c.node(1).raw.readIndex(1)
  c.stabilize()
  t.same(c.delivered.slice(mark).filter((m) => m.type === MsgType.HeartbeatResp).map((m) => m.from), [4, 5], 'both learners answered')
  t.same(c.node(1).reads, [], 'leader + 2 learners are not a majority of the voters')
  c.node(2).up = true
  c.tickAll(1)
  t.same(c.node(1).reads, [{ ctx: 1, index: 1 }])
})

t.test('Membership: promoting a learner makes it a voter that counts toward commits', async (t) => {
  const c = withLearner()
  const r = c.node(1).raw.proposeConfChange(add(4))
  t.ok(r.ok)
  c.stabilize()
  for (const id of [1, 2, 3, 4, 5]) t.same(c.node(id).raw.status().conf, { voters: [1, 2, 3, 4], learners: [5] }, `node ${id}`)
  c.node(3).up = false
  c.propose(1, 'a')
  t.same(c.node(1).applied, ['a'], '1, 2 and 4 are 3 of 4 voters')
  c.node(2).up = false
  c.propose(1, 'b')
  t.same(c.node(1).applied, ['a'], '1 and 4 are not a majority of 4')
})

t.test('Membership: an added voter counts from the moment the change is appended — its own entry needs the new quorum', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.node(3).up = false
  const r = c.node(1).raw.proposeConfChange(add(4))
  t.same(r, { ok: true, index: 2, term: 1 })
  t.same(c.node(1).raw.status().conf.voters, [1, 2, 3, 4], 'in force on the leader before commit')
  c.stabilize()
  t.same(c.node(2).raw.status().conf.voters, [1, 2, 3, 4], 'in force on the follower that appended it')
  t.equal(c.node(1).raw.status().commit, 1, '1 and 2 would be a majority of the old configuration, not of the new one')
  c.add(4, bootstrapState([]), 4)
  c.tickAll(2)
  t.equal(c.node(1).raw.status().commit, 2, 'node 4 joined and completed the quorum')
  t.same(c.node(4).raw.status().conf.voters, [1, 2, 3, 4])
})

t.test('Membership: a voter whose ack the change needs is sent the log even if no other write follows', async (t) => {
  const c = new TestCluster([1])
  c.elect(1)
  c.propose(1, 'a')
  t.same(c.node(1).raw.proposeConfChange(add(2)), { ok: true, index: 3, term: 1 })
  c.add(2, bootstrapState([]), 2)
  c.tickAll(5 * ELECTION)
  t.same([c.node(1).raw.status().commit, c.node(2).raw.status().lastIndex], [3, 3], 'node 2 got the log and the change committed')
})

t.test('Membership: a removal takes effect when appended — it commits with a majority of the smaller configuration', async (t) => {
  const c = new TestCluster([1, 2, 3, 4])
  c.elect(1)
  c.node(3).up = false
  c.node(4).up = false
  c.node(1).raw.proposeConfChange(remove(4))
  c.stabilize()
  t.same(c.node(1).raw.status().conf.voters, [1, 2, 3])
  t.equal(c.node(1).raw.status().commit, 2, '1 and 2 of the new 3 voters (only 2 of the old 4)')
  t.same([...c.node(1).raw.status().progress.keys()].sort(), [1, 2, 3], 'node 4 is no longer tracked')
})

t.test('Membership: a configuration entry truncated on a follower reverts its configuration', async (t) => {
  const c = new TestCluster([1, 2, 3, 4, 5])
  c.elect(1)
  c.drop = (m) => m.type === MsgType.Append && m.to !== 2
  t.ok(c.node(1).raw.proposeConfChange(learner(6)).ok)
  c.stabilize()
  t.same(c.node(2).raw.status().conf, { voters: [1, 2, 3, 4, 5], learners: [6] }, 'node 2 appended the change: in force')
  t.equal(c.node(2).raw.status().commit, 1, 'but it is not committed')
  c.node(1).up = false
  isolate(c, 2)
  tickUntil(c, () => [3, 4, 5].some((id) => c.node(id).raw.status().role === 'leader'))
  const l = c.leader()!
  t.equal(l.raw.status().term, 2)
  heal(c)
  c.tickAll(2)
  const st = c.node(2).raw.status()
  t.same(st.conf, { voters: [1, 2, 3, 4, 5], learners: [] }, 'the change was overwritten: the old configuration is back')
  t.same(c.node(2).raw.entriesFrom(2, 3).map((e) => [e.term, e.type]), [[2, EntryType.Normal]])
  t.equal(st.leader, l.id)
})

t.test('Membership: a second change is refused while one is pending', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.node(2).up = false
  c.node(3).up = false
  const raw = c.node(1).raw
  t.ok(raw.proposeConfChange(learner(4)).ok)
  const last = raw.status().lastIndex
  t.same(raw.proposeConfChange(learner(5)), { ok: false, reason: 'pending-conf-change' })
  t.equal(raw.status().lastIndex, last, 'nothing appended')
  t.ok(raw.propose([new Uint8Array([1])]).ok, 'ordinary proposals are still accepted')
})

t.test('Membership: a change is refused until the leader has committed an entry (its no-op) in its term', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1], { term: 1, commit: 1 }), { preVote: false })
  becomeLeader(raw, [1, 2])
  t.same(raw.proposeConfChange(learner(4)), { ok: false, reason: 'no-commit-in-term' })
  t.equal(raw.status().lastIndex, 2)
  raw.step({ ...drain(raw).messages[0]!, type: MsgType.AppendResp, from: 2, to: 1, index: 2, entries: [] })
  t.equal(raw.status().commit, 2)
  t.same(raw.proposeConfChange(learner(4)), { ok: true, index: 3, term: 2 })
})

t.test('Membership: invalid changes are refused without appending anything', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const raw = c.node(1).raw
  for (const cc of [add(2), remove(9), learner(3), { type: ConfChangeType.AddNode, node: 0 }]) {
    t.same(raw.proposeConfChange(cc), { ok: false, reason: 'invalid-conf-change' }, JSON.stringify(cc))
  }
  t.equal(raw.status().lastIndex, 1)
  t.same(c.node(2).raw.proposeConfChange(learner(4)), { ok: false, reason: 'not-leader' })
})

t.test('Membership: a leader removing itself leads until the removal commits, without counting itself, then steps down', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const held: Message[] = []
  c.drop = (m) => {
    if (m.type === MsgType.Append && m.to === 3) held.push(m)
    return m.type === MsgType.Append && m.to === 3
  }
  t.same(c.node(1).raw.proposeConfChange(remove(1)), { ok: true, index: 2, term: 1 })
  c.stabilize()
  const st = c.node(1).raw.status()
  t.same([st.role, st.conf.voters], ['leader', [2, 3]])
  t.equal(st.commit, 1, 'leader + node 2 would be 2 of 3, but the leader no longer counts: needs 2 and 3')
  t.ok(c.node(1).raw.propose([new TextEncoder().encode('during')]).ok, 'still leading: accepts proposals')
  c.stabilize()
  c.drop = () => false
  for (const m of held) c.deliver(m)
  c.stabilize()
  t.equal(c.node(3).raw.status().lastIndex, 3)
  t.equal(c.node(1).raw.status().role, 'follower', 'stepped down once the removal committed')
  t.ok(c.node(1).raw.status().commit >= 2)
  const mark = c.delivered.length
  const ticks = tickUntil(c, () => c.leader() !== undefined)
  const l = c.leader()!
  t.ok(l.id === 2 || l.id === 3, `a remaining node leads after ${ticks} ticks`)
  t.same(l.raw.status().conf.voters, [2, 3])
  c.propose(l.id, 'after')
  t.same(c.node(2).applied, ['during', 'after'])
  t.equal(c.node(1).raw.status().role, 'follower', 'the removed node never campaigns')
  t.same(c.delivered.slice(mark).filter((m) => m.from === 1 && (m.type === MsgType.PreVote || m.type === MsgType.Vote)), [])
})

t.test('Membership: a new node started from bootstrapState([]) catches up as a learner, then is promoted', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a', 'b')
  const n4 = c.add(4, bootstrapState([]), 4)
  c.tickAll(3 * ELECTION)
  t.same([n4.raw.status().term, n4.raw.status().lastIndex], [0, 0], 'an empty node with no configuration stays silent')
  t.ok(c.node(1).raw.proposeConfChange(learner(4)).ok)
  c.stabilize()
  t.same(n4.applied, ['a', 'b'])
  t.same(n4.raw.status().conf, { voters: [1, 2, 3], learners: [4] })
  t.same([n4.raw.status().role, n4.raw.status().leader, n4.raw.status().commit], ['follower', 1, 4])
  t.ok(c.node(1).raw.proposeConfChange(add(4)).ok)
  c.stabilize()
  t.same(n4.raw.status().conf, { voters: [1, 2, 3, 4], learners: [] })
  c.node(1).up = false
  tickUntil(c, () => c.leader() !== undefined)
  c.propose(c.leader()!.id, 'c')
  t.same(n4.applied, ['a', 'b', 'c'])
})
