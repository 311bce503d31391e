// Figure 2, "Rules for Servers / All Servers": terms only move forward, a newer term always wins,
// and messages from older terms never act on the receiver.
import t from 'tap'
import { MsgType, type Message } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { brief, drain, isolate, msg, node, ofType, outgoing, withLog } from './util.ts'

/** A 3-node cluster where node 1 leads in term 1 and everything is committed. */
function ledCluster(cfg: ConstructorParameters<typeof TestCluster>[1] = {}): TestCluster {
  const c = new TestCluster([1, 2, 3], cfg)
  c.elect(1)
  return c
}

t.test('All servers: a higher term in any request or response makes a leader adopt it and become follower', async (t) => {
  // Vote/PreVote are left out: a leader within its lease ignores them (see prevote.test.ts).
  const cases: { name: string; m: (term: number) => Message; leader: number }[] = [
    { name: 'Append', m: (term) => msg(MsgType.Append, 2, 1, term), leader: 2 },
    { name: 'Heartbeat', m: (term) => msg(MsgType.Heartbeat, 2, 1, term), leader: 2 },
    {
      name: 'Snapshot',
      m: (term) =>
        msg(MsgType.Snapshot, 2, 1, term, {
          snapshot: { meta: { index: 0, term: 0, conf: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array(0) },
        }),
      leader: 2,
    },
    { name: 'AppendResp', m: (term) => msg(MsgType.AppendResp, 2, 1, term, { index: 1 }), leader: 0 },
    { name: 'HeartbeatResp', m: (term) => msg(MsgType.HeartbeatResp, 2, 1, term), leader: 0 },
    { name: 'VoteResp (rejecting)', m: (term) => msg(MsgType.VoteResp, 2, 1, term, { reject: true }), leader: 0 },
    { name: 'PreVoteResp (rejecting)', m: (term) => msg(MsgType.PreVoteResp, 2, 1, term, { reject: true }), leader: 0 },
    { name: 'TimeoutNow', m: (term) => msg(MsgType.TimeoutNow, 2, 1, term), leader: 0 },
    { name: 'ReadIndex', m: (term) => msg(MsgType.ReadIndex, 2, 1, term), leader: 0 },
    { name: 'ReadIndexResp', m: (term) => msg(MsgType.ReadIndexResp, 2, 1, term), leader: 0 },
  ]
  for (const k of cases) {
    const c = ledCluster()
    const raw = c.node(1).raw
    t.equal(raw.status().term, 1)
    raw.step(k.m(5))
    const st = raw.status()
    t.same({ term: st.term, role: st.role, leader: st.leader, vote: st.vote }, { term: 5, role: 'follower', leader: k.leader, vote: 0 }, k.name)
    const rd = drain(raw)
    t.same(rd.hardState, { term: 5, vote: 0, commit: 1 }, `${k.name}: the new term is persisted`)
    t.same(rd.softState, { leader: k.leader, role: 'follower' }, `${k.name}: soft state reports the step-down`)
  }
})

t.test('All servers: a candidate seeing a RequestVote with a higher term adopts it, becomes follower and may vote', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1]), { preVote: false })
  raw.campaign()
  drain(raw)
  t.same([raw.status().role, raw.status().term, raw.status().vote], ['candidate', 2, 1])
  raw.step(msg(MsgType.Vote, 3, 1, 7, { index: 1, logTerm: 1 }))
  const rd = drain(raw)
  t.same([raw.status().role, raw.status().term, raw.status().vote], ['follower', 7, 3])
  t.same(rd.persistedMessages.map(brief), [{ type: 'VoteResp', from: 1, to: 3, term: 7, reject: false }])
})

t.test('All servers: a granted PreVoteResp does not move the pre-candidate to the future term', async (t) => {
  const raw = node(1, withLog([1, 2, 3, 4, 5], [1]))
  raw.campaign()
  drain(raw)
  t.equal(raw.status().role, 'pre-candidate')
  raw.step(msg(MsgType.PreVoteResp, 2, 1, 2))
  t.same([raw.status().role, raw.status().term], ['pre-candidate', 1], 'one grant of 2 needed: still pre-candidate in term 1')
})

t.test('All servers: a PreVote with a lower term is answered with a rejection carrying the current term', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 3], { term: 3 }))
  raw.step(msg(MsgType.PreVote, 2, 1, 2, { index: 9, logTerm: 3 }))
  const rd = drain(raw)
  t.same(outgoing(rd).map(brief), [{ type: 'PreVoteResp', from: 1, to: 2, term: 3, reject: true }])
  t.same([raw.status().term, raw.status().vote], [3, 0])
})

t.test('All servers: responses with a lower term do not act on the leader', async (t) => {
  const c = ledCluster()
  c.node(2).up = false
  c.propose(1, 'x')
  const raw = c.node(1).raw
  const before = raw.status()
  t.equal(before.progress.get(2)!.match, 1)
  // An ack for index 2 from an older term must not move node 2's match nor commit index 2.
  raw.step(msg(MsgType.AppendResp, 2, 1, 0, { index: 2 }))
  raw.step(msg(MsgType.HeartbeatResp, 2, 1, 0, { ctx: 99 }))
  const after = raw.status()
  t.equal(after.progress.get(2)!.match, 1)
  t.equal(after.term, 1)
  t.equal(after.role, 'leader')
})

t.test('All servers: an Append with a lower term never touches the log; with PreVote/CheckQuorum it is answered with the higher term', async (t) => {
  for (const cfg of [
    { preVote: true, checkQuorum: true },
    { preVote: true, checkQuorum: false },
    { preVote: false, checkQuorum: true },
  ]) {
    const raw = node(2, withLog([1, 2, 3], [1, 2], { term: 5 }), cfg)
    raw.step(msg(MsgType.Append, 1, 2, 4, { index: 2, logTerm: 2, entries: [{ term: 4, index: 3, type: 0, data: new Uint8Array(0) }], commit: 3 }))
    const rd = drain(raw)
    t.same(rd.entries, [], `${JSON.stringify(cfg)}: nothing appended`)
    t.equal(raw.status().lastIndex, 2)
    t.equal(raw.status().commit, 0)
    t.same(outgoing(rd).map(brief), [{ type: 'AppendResp', from: 2, to: 1, term: 5, reject: false }], JSON.stringify(cfg))
    t.same(rd.messages, [], 'the term notice waits for the persist like every AppendResp')
  }
  const plain = node(2, withLog([1, 2, 3], [1, 2], { term: 5 }), { preVote: false, checkQuorum: false })
  plain.step(msg(MsgType.Heartbeat, 1, 2, 4))
  t.notOk(plain.hasReady(), 'without PreVote and CheckQuorum the stale message is dropped silently')
})

t.test('All servers: a stale leader learns the new term from the AppendResp to its own heartbeat and steps down', async (t) => {
  // CheckQuorum off so that the old leader keeps leading while partitioned.
  const c = ledCluster({ checkQuorum: false })
  isolate(c, 1)
  c.tickAll(5 * 10)
  const l2 = c.leader()
  t.ok(l2 && l2.id !== 1, 'the majority elected a new leader')
  t.equal(c.node(1).raw.status().role, 'leader', 'the old leader does not know yet')
  const newTerm = l2!.raw.status().term
  t.ok(newTerm > 1)
  // Heal, but keep the new leader's own messages away from node 1: only answers reach it.
  c.drop = (m) => m.to === 1 && m.type !== MsgType.AppendResp
  const mark = c.delivered.length
  c.tick(1)
  c.stabilize()
  const toOld = c.delivered.slice(mark).filter((m) => m.to === 1)
  t.ok(toOld.length > 0 && toOld.every((m) => m.type === MsgType.AppendResp && m.term === newTerm), 'answered with the new term')
  t.same([c.node(1).raw.status().role, c.node(1).raw.status().term], ['follower', newTerm])
  t.equal(ofType(c.delivered.slice(mark), MsgType.Heartbeat).filter((m) => m.from === 1).length, 2, 'one heartbeat round was all it took')
})
