// PreVote (thesis §9.6) and CheckQuorum / leader stickiness (thesis §4.2.3, §6.2).
import t from 'tap'
import { MsgType } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { ELECTION, brief, drain, heal, isolate, msg, node, ofType, outgoing, withLog } from './util.ts'

t.test('PreVote: granting a pre-vote changes neither the voter\'s term nor its vote; the grant carries the future term', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 3], { term: 3 }))
  raw.step(msg(MsgType.PreVote, 2, 1, 4, { index: 2, logTerm: 3 }))
  const rd = drain(raw)
  t.equal(rd.hardState, null, 'nothing to persist')
  t.same([raw.status().term, raw.status().vote, raw.status().role], [3, 0, 'follower'])
  t.same(outgoing(rd).map(brief), [{ type: 'PreVoteResp', from: 1, to: 2, term: 4, reject: false }])
  // A real vote for someone else in term 4 is still possible afterwards.
  raw.step(msg(MsgType.Vote, 3, 1, 4, { index: 2, logTerm: 3 }))
  t.same(outgoing(drain(raw)).map(brief), [{ type: 'VoteResp', from: 1, to: 3, term: 4, reject: false }])
})

t.test('PreVote: a pre-vote is refused to a candidate whose log is behind, also without changing the term', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 3], { term: 3 }))
  raw.step(msg(MsgType.PreVote, 2, 1, 4, { index: 5, logTerm: 2 }))
  const rd = drain(raw)
  t.equal(rd.hardState, null)
  t.same(outgoing(rd).map(brief), [{ type: 'PreVoteResp', from: 1, to: 2, term: 3, reject: true }])
})

t.test('PreVote: the pre-candidate keeps its term; only a won pre-election starts a real election in term+1', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1], { term: 1 }))
  raw.campaign()
  const rd = drain(raw)
  t.same(rd.softState, { leader: 0, role: 'pre-candidate' })
  t.equal(rd.hardState, null, 'term and vote untouched')
  t.same(rd.messages.map(brief), [2, 3].map((to) => ({ type: 'PreVote', from: 1, to, term: 2, reject: false })))
  raw.step(msg(MsgType.PreVoteResp, 3, 1, 2))
  const rd2 = raw.ready()
  t.same(rd2.softState, { leader: 0, role: 'candidate' })
  t.same(rd2.hardState, { term: 2, vote: 1, commit: 0 })
  t.same(rd2.messages.map(brief), [2, 3].map((to) => ({ type: 'Vote', from: 1, to, term: 2, reject: false })))
  raw.advance(rd2)
})

t.test('PreVote: a pre-candidate that loses the pre-election goes back to follower; no term changed anywhere', async (t) => {
  const c = new TestCluster([])
  c.add(1, withLog([1, 2, 3], [1], { term: 1 }), 1)
  c.add(2, withLog([1, 2, 3], [1, 1], { term: 1 }), 2)
  c.add(3, withLog([1, 2, 3], [1, 1], { term: 1 }), 3)
  c.node(1).raw.campaign()
  c.stabilize()
  t.same(c.delivered.map(brief), [
    { type: 'PreVote', from: 1, to: 2, term: 2, reject: false },
    { type: 'PreVote', from: 1, to: 3, term: 2, reject: false },
    { type: 'PreVoteResp', from: 2, to: 1, term: 1, reject: true },
    { type: 'PreVoteResp', from: 3, to: 1, term: 1, reject: true },
  ])
  t.same([1, 2, 3].map((id) => [c.node(id).raw.status().role, c.node(id).raw.status().term]), [
    ['follower', 1],
    ['follower', 1],
    ['follower', 1],
  ])
})

t.test('PreVote: a node partitioned away and rejoining does not disrupt a stable leader (term unchanged)', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  isolate(c, 3)
  const mark = c.delivered.length
  const attempts: number[] = []
  c.drop = (m) => {
    if (m.type === MsgType.PreVote && m.from === 3) attempts.push(m.term)
    return m.from === 3 || m.to === 3
  }
  c.tickAll(5 * ELECTION)
  t.ok(attempts.length >= 4 && attempts.every((term) => term === 2), `node 3 pre-campaigned ${attempts.length / 2} times, always for term 2`)
  t.equal(c.node(3).raw.status().term, 1, 'the isolated node kept its term while pre-campaigning')
  c.propose(1, 'x')
  heal(c)
  c.tickAll(5 * ELECTION)
  t.same(ofType(c.delivered.slice(mark), MsgType.Vote), [], 'no real election happened')
  c.propose(1, 'y')
  for (const id of [1, 2, 3]) {
    const st = c.node(id).raw.status()
    t.same([st.term, st.leader], [1, 1], `node ${id} still in term 1 under leader 1`)
  }
  t.same(c.node(3).applied, ['x', 'y'], 'and the rejoined node caught up')
})

t.test('PreVote: without it the same rejoin forces a new election (the scenario above is meaningful)', async (t) => {
  const c = new TestCluster([1, 2, 3], { preVote: false })
  c.elect(1)
  isolate(c, 3)
  c.tickAll(5 * ELECTION)
  t.ok(c.node(3).raw.status().term > 2, 'the isolated node inflated its term')
  heal(c)
  c.tickAll(5 * ELECTION)
  t.ok(c.node(1).raw.status().term > 1, 'the cluster had to move to a higher term')
})

t.test('CheckQuorum: a leader that loses contact with a quorum steps down within an election timeout', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.tickAll(3)
  isolate(c, 1)
  let ticks = 0
  while (c.node(1).raw.status().role === 'leader' && ticks < 10 * ELECTION) {
    c.tickAll()
    ticks++
  }
  // The first check after the cut may still see the acks from before it; the next one cannot.
  t.ok(ticks > 0 && ticks <= 2 * ELECTION, `stepped down after ${ticks} ticks`)
  t.same([c.node(1).raw.status().role, c.node(1).raw.status().term, c.node(1).raw.status().leader], ['follower', 1, 0])
})

t.test('CheckQuorum: a leader in contact with a quorum keeps leading even if a minority is gone', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.node(3).up = false
  c.tickAll(10 * ELECTION)
  t.same([c.node(1).raw.status().role, c.node(1).raw.status().term], ['leader', 1])
})

t.test('CheckQuorum: without it, an isolated leader keeps believing it leads', async (t) => {
  const c = new TestCluster([1, 2, 3], { checkQuorum: false })
  c.elect(1)
  isolate(c, 1)
  c.tickAll(10 * ELECTION)
  t.equal(c.node(1).raw.status().role, 'leader')
})

t.test('CheckQuorum: a follower that heard from the leader within the election timeout ignores higher-term Vote and PreVote (no term change, no reply)', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.tickAll(ELECTION - 1)
  const raw = c.node(2).raw
  raw.step(msg(MsgType.PreVote, 3, 2, 2, { index: 9, logTerm: 1 }))
  raw.step(msg(MsgType.Vote, 3, 2, 2, { index: 9, logTerm: 1 }))
  t.notOk(raw.hasReady(), 'no reply, nothing to persist')
  t.same([raw.status().term, raw.status().vote, raw.status().leader], [1, 1, 1])
  const leader = c.node(1).raw
  leader.step(msg(MsgType.Vote, 3, 1, 2, { index: 9, logTerm: 1 }))
  t.notOk(leader.hasReady(), 'the leader ignores it too')
  t.same([leader.status().term, leader.status().role], [1, 'leader'])
})

t.test('CheckQuorum: the lease is lifted for a Vote that carries the transfer flag', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const raw = c.node(2).raw
  raw.step(msg(MsgType.Vote, 3, 2, 2, { index: 9, logTerm: 1, transfer: true }))
  const rd = drain(raw)
  t.same(rd.hardState, { term: 2, vote: 3, commit: 1 })
  t.same(outgoing(rd).map(brief), [{ type: 'VoteResp', from: 2, to: 3, term: 2, reject: false }])
})

t.test('CheckQuorum: once the election timeout passes without leader contact, the follower answers pre-votes again', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  isolate(c, 1)
  const raw = c.node(2).raw
  for (let i = 0; i < ELECTION - 1; i++) raw.tick()
  raw.step(msg(MsgType.PreVote, 3, 2, 2, { index: 9, logTerm: 1 }))
  t.notOk(raw.hasReady(), `${ELECTION - 1} ticks: still within the lease`)
  raw.tick()
  raw.step(msg(MsgType.PreVote, 3, 2, 2, { index: 9, logTerm: 1 }))
  t.same(outgoing(drain(raw)).map(brief), [{ type: 'PreVoteResp', from: 2, to: 3, term: 2, reject: false }], 'after a full election timeout: granted')
})
