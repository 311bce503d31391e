// Leadership transfer (thesis §3.10): catch the target up, send TimeoutNow, the target campaigns at once.
import t from 'tap'
import { MsgType, type Message } from '../../src/raft/types.ts'
import { TestCluster, cmd } from './harness.ts'
import { ELECTION, brief, drain, msg, node, ofType, withLog } from './util.ts'

/** Holds back (delays) the messages `hold` selects; they can be delivered later. */
function holdBack(c: TestCluster, hold: (m: Message) => boolean): Message[] {
  const held: Message[] = []
  c.drop = (m) => {
    if (hold(m)) held.push(m)
    return hold(m)
  }
  return held
}

t.test('Transfer: to an up-to-date follower — TimeoutNow at once, the target campaigns without pre-vote and wins term+1', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a')
  const leader = c.node(1).raw
  t.same(leader.transferLeadership(2), { ok: true })
  const mark = c.delivered.length
  c.stabilize()
  const msgs = c.delivered.slice(mark)
  t.same(msgs.slice(0, 1).map(brief), [{ type: 'TimeoutNow', from: 1, to: 2, term: 1, reject: false }])
  const votes = msgs.filter((m) => m.type === MsgType.Vote)
  t.same(votes.map((m) => [m.from, m.to, m.term, m.transfer]), [[2, 1, 2, true], [2, 3, 2, true]], 'a real vote, flagged as transfer')
  t.same(ofType(msgs, MsgType.PreVote), [], 'no pre-vote')
  t.same(ofType(msgs, MsgType.VoteResp).map((m) => [m.from, m.reject]), [[1, false], [3, false]], 'granted despite the followers\' lease')
  for (const id of [1, 2, 3]) t.same([c.node(id).raw.status().term, c.node(id).raw.status().leader], [2, 2], `node ${id}`)
  c.propose(2, 'b')
  t.same(c.node(1).applied, ['a', 'b'])
})

t.test('Transfer: to a lagging follower — it is caught up first, and only then gets TimeoutNow', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a')
  const held = holdBack(c, (m) => m.type === MsgType.Append && m.to === 3)
  c.propose(1, 'b', 'c')
  const leader = c.node(1).raw
  t.same([leader.status().progress.get(3)!.match, leader.status().lastIndex], [2, 4], 'node 3 lacks entries 3 and 4')
  t.same(leader.transferLeadership(3), { ok: true })
  t.same(ofType(drain(leader).messages, MsgType.TimeoutNow), [], 'no TimeoutNow while it lags')
  c.drop = () => false
  const mark = c.delivered.length
  for (const m of held) c.deliver(m)
  c.stabilize()
  const msgs = c.delivered.slice(mark)
  const catchUp = msgs.findIndex((m) => m.type === MsgType.AppendResp && m.from === 3 && m.index === 4)
  const timeoutNow = msgs.findIndex((m) => m.type === MsgType.TimeoutNow)
  t.ok(catchUp >= 0 && timeoutNow > catchUp, `TimeoutNow (#${timeoutNow}) follows the ack of the last entry (#${catchUp})`)
  t.same([c.leader()?.id, c.node(3).raw.status().term], [3, 2])
  t.same(c.node(3).applied, ['a', 'b', 'c'])
})

t.test('Transfer: proposals and membership changes are refused while a transfer is under way', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  holdBack(c, (m) => m.to === 3)
  c.propose(1, 'a')
  const leader = c.node(1).raw
  t.same(leader.transferLeadership(3), { ok: true })
  t.equal(leader.status().transferee, 3)
  t.same(leader.propose([cmd('x')]), { ok: false, reason: 'transferring' })
  t.same(leader.proposeConfChange({ type: 'add-learner', node: 4 }), { ok: false, reason: 'transferring' })
  t.same(leader.transferLeadership(3), { ok: true }, 'asking again is harmless')
})

t.test('Transfer: abandoned after an election timeout when the target does not take over', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.node(3).up = false
  c.propose(1, 'a')
  const leader = c.node(1).raw
  t.same(leader.transferLeadership(3), { ok: true })
  c.tickAll(ELECTION - 1)
  t.same([leader.status().transferee, leader.propose([cmd('x')]).ok], [3, false], `${ELECTION - 1} ticks: still transferring`)
  c.tickAll(1)
  t.equal(leader.status().transferee, 0, 'given up after one election timeout')
  t.same([leader.status().role, leader.status().term], ['leader', 1])
  t.ok(c.propose(1, 'y').ok, 'proposals are accepted again')
  t.same(c.node(2).applied, ['a', 'y'])
})

t.test('Transfer: to itself, to a non-member, or asked of a follower is refused', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  t.same(c.node(1).raw.transferLeadership(1), { ok: false, reason: 'transfer-to-self' })
  t.same(c.node(1).raw.transferLeadership(7), { ok: false, reason: 'unknown-node' })
  t.same(c.node(2).raw.transferLeadership(3), { ok: false, reason: 'not-leader' })
  t.equal(c.node(1).raw.status().transferee, 0)
  t.same(c.node(1).raw.propose([cmd('x')]), { ok: true, index: 2, term: 1 })
})

t.test('Transfer: a TimeoutNow from anyone but the current leader is ignored', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const raw = c.node(2).raw
  raw.step(msg(MsgType.TimeoutNow, 3, 2, 1))
  t.notOk(raw.hasReady())
  t.same([raw.status().role, raw.status().term], ['follower', 1])
})

t.test('Transfer: a learner ignores TimeoutNow (it can never campaign)', async (t) => {
  const raw = node(4, withLog([1, 2, 3], [1], { term: 1 }, [4]))
  raw.step(msg(MsgType.Heartbeat, 1, 4, 1, { index: 1, logTerm: 1 }))
  drain(raw)
  raw.step(msg(MsgType.TimeoutNow, 1, 4, 1))
  t.notOk(raw.hasReady())
  t.same([raw.status().role, raw.status().term], ['follower', 1])
})

t.test('Transfer: once TimeoutNow is sent the leader no longer trusts its lease', async (t) => {
  const c = new TestCluster([1, 2, 3], { readOnly: 'lease' })
  c.elect(1)
  c.tickAll(1)
  const leader = c.node(1).raw
  t.equal(leader.status().leaseValid, true)
  c.drop = (m) => m.type === MsgType.TimeoutNow
  leader.transferLeadership(2)
  c.stabilize()
  t.equal(leader.status().leaseValid, false)
  leader.readIndex(1)
  const rd = drain(leader)
  t.same(rd.readStates, [], 'the read needs a heartbeat round')
  t.equal(ofType(rd.messages, MsgType.Heartbeat).length, 2)
})
