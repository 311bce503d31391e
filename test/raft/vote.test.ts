// Figure 2, "RequestVote RPC / Receiver implementation" (§5.2, §5.4.1).
import t from 'tap'
import { MsgType } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { brief, drain, msg, node, outgoing, withLog } from './util.ts'

const noPreVote = { preVote: false }

t.test('RequestVote: a request with term < currentTerm is not granted (ignored: no vote, no reply)', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 3], { term: 3 }), noPreVote)
  raw.step(msg(MsgType.Vote, 2, 1, 2, { index: 9, logTerm: 2 }))
  t.notOk(raw.hasReady(), 'nothing to send or persist')
  t.same([raw.status().term, raw.status().vote], [3, 0])
})

t.test('RequestVote: granted when not yet voted in the term and the log is up to date; the grant leaves only after the vote is persisted', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 1], { term: 1 }), noPreVote)
  raw.step(msg(MsgType.Vote, 2, 1, 2, { index: 2, logTerm: 1 }))
  const rd = drain(raw)
  t.same(rd.hardState, { term: 2, vote: 2, commit: 0 })
  t.same(rd.messages, [], 'nothing before the persist')
  t.same(rd.persistedMessages.map(brief), [{ type: 'VoteResp', from: 1, to: 2, term: 2, reject: false }])
})

t.test('RequestVote: §5.4.1 up-to-date check compares the last term first, then the last index', async (t) => {
  // The voter's log ends at index 3 in term 2.
  const cases: { index: number; logTerm: number; grant: boolean; why: string }[] = [
    { index: 3, logTerm: 2, grant: true, why: 'same last term and index' },
    { index: 4, logTerm: 2, grant: true, why: 'same last term, longer' },
    { index: 2, logTerm: 2, grant: false, why: 'same last term, shorter' },
    { index: 2, logTerm: 3, grant: true, why: 'higher last term, even though shorter' },
    { index: 9, logTerm: 1, grant: false, why: 'lower last term, even though longer' },
    { index: 0, logTerm: 0, grant: false, why: 'empty log' },
  ]
  for (const k of cases) {
    const raw = node(1, withLog([1, 2, 3], [1, 1, 2], { term: 2 }), noPreVote)
    raw.step(msg(MsgType.Vote, 2, 1, 5, { index: k.index, logTerm: k.logTerm }))
    const rd = drain(raw)
    t.same(outgoing(rd).map(brief), [{ type: 'VoteResp', from: 1, to: 2, term: 5, reject: !k.grant }], k.why)
    t.same(rd.hardState, { term: 5, vote: k.grant ? 2 : 0, commit: 0 }, `${k.why}: term adopted either way`)
  }
})

t.test('RequestVote: at most one vote per term; repeating the grant to the same candidate is fine', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1], { term: 1 }), noPreVote)
  raw.step(msg(MsgType.Vote, 2, 1, 5, { index: 1, logTerm: 1 }))
  drain(raw)
  raw.step(msg(MsgType.Vote, 3, 1, 5, { index: 7, logTerm: 4 }))
  let rd = drain(raw)
  t.same(outgoing(rd).map(brief), [{ type: 'VoteResp', from: 1, to: 3, term: 5, reject: true }], 'another candidate in the same term is refused')
  t.equal(rd.hardState, null, 'the vote is unchanged')
  raw.step(msg(MsgType.Vote, 2, 1, 5, { index: 1, logTerm: 1 }))
  rd = drain(raw)
  t.same(outgoing(rd).map(brief), [{ type: 'VoteResp', from: 1, to: 2, term: 5, reject: false }], 'a retransmitted request gets the same answer')
  raw.step(msg(MsgType.Vote, 3, 1, 6, { index: 7, logTerm: 4 }))
  rd = drain(raw)
  t.same(outgoing(rd).map(brief), [{ type: 'VoteResp', from: 1, to: 3, term: 6, reject: false }], 'a new term brings a new vote')
  t.same(rd.hardState, { term: 6, vote: 3, commit: 0 })
})

t.test('RequestVote: a leader or candidate has voted for itself and refuses others in its term', async (t) => {
  const cand = node(1, withLog([1, 2, 3], [1], { term: 1 }), noPreVote)
  cand.campaign()
  drain(cand)
  cand.step(msg(MsgType.Vote, 2, 1, 2, { index: 5, logTerm: 1 }))
  t.same(outgoing(drain(cand)).map(brief), [{ type: 'VoteResp', from: 1, to: 2, term: 2, reject: true }])
  t.equal(cand.status().role, 'candidate')
})

t.test('RequestVote: the vote survives a restart from the persisted hard state (no second vote in the term)', async (t) => {
  const c = new TestCluster([1, 2, 3], noPreVote)
  c.elect(1)
  t.same([c.node(3).raw.status().term, c.node(3).raw.status().vote], [1, 1])
  t.same(c.node(3).disk.hard, { term: 1, vote: 1, commit: 1 })
  const raw = c.restart(3).raw
  t.same([raw.status().term, raw.status().vote, raw.status().leader], [1, 1, 0], 'restored: term and vote, no leader known')
  raw.step(msg(MsgType.Vote, 2, 3, 1, { index: 10, logTerm: 1 }))
  t.same(outgoing(drain(raw)).map(brief), [{ type: 'VoteResp', from: 3, to: 2, term: 1, reject: true }], 'no second vote in term 1')
  raw.step(msg(MsgType.Vote, 1, 3, 1, { index: 1, logTerm: 1 }))
  t.same(outgoing(drain(raw)).map(brief), [{ type: 'VoteResp', from: 3, to: 1, term: 1, reject: false }], 'the same candidate again: granted')
})
