// Figure 2, "Rules for Servers / Followers" and "/ Candidates" (§5.2).
import t from 'tap'
import { MsgType } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { ELECTION, brief, drain, isolate, msg, node, ofType, outgoing, times, withLog } from './util.ts'

t.test('Followers: a follower that keeps hearing from the leader never starts an election', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const mark = c.delivered.length
  c.tickAll(10 * ELECTION)
  const campaigns = c.delivered.slice(mark).filter((m) => m.type === MsgType.PreVote || m.type === MsgType.Vote)
  t.same(campaigns, [], 'no PreVote or Vote sent')
  for (const id of [1, 2, 3]) t.same([c.node(id).raw.status().term, c.node(id).raw.status().leader], [1, 1])
})

t.test('Followers: an election timeout without leader contact starts an election that elects a new leader', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  isolate(c, 1)
  const mark = c.delivered.length
  const ticks = (() => {
    for (let i = 1; i <= 4 * ELECTION; i++) {
      c.tickAll()
      const l = c.leader()
      if (l && l.id !== 1) return i
    }
    return -1
  })()
  t.ok(ticks >= ELECTION && ticks < 2 * ELECTION + 2, `a new leader within one randomized timeout (${ticks} ticks)`)
  const l = c.leader()!
  t.equal(l.raw.status().term, 2)
  const pre = ofType(c.delivered.slice(mark), MsgType.PreVote)
  t.ok(pre.length >= 1 && pre.every((m) => m.term === 2 && m.from !== 1), 'the campaign started with a pre-vote for term 2')
})

t.test('Followers: the first election timeout fires exactly at the randomized timeout, with a pre-vote to every voter', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 1, 2], { term: 2 }))
  let ticks = 0
  while (ticks < 100) {
    raw.tick()
    ticks++
    if (raw.hasReady()) break
  }
  const rd = drain(raw)
  t.ok(ticks >= ELECTION && ticks < 2 * ELECTION, `timeout ${ticks}`)
  t.same(rd.softState, { leader: 0, role: 'pre-candidate' })
  t.same(
    rd.messages.map((m) => ({ ...brief(m), index: m.index, logTerm: m.logTerm })),
    [2, 3].map((to) => ({ type: 'PreVote', from: 1, to, term: 3, reject: false, index: 3, logTerm: 2 })),
  )
})

t.test('Followers: election timeouts are drawn uniformly from [electionTick, 2·electionTick)', async (t) => {
  const seen = new Map<number, number>()
  const seeds = 400
  for (const seed of times(seeds)) {
    const raw = node(1, withLog([1, 2, 3], []), {}, seed + 1)
    let ticks = 0
    while (!raw.hasReady() && ticks < 100) {
      raw.tick()
      ticks++
    }
    seen.set(ticks, (seen.get(ticks) ?? 0) + 1)
  }
  const values = [...seen.keys()].sort((a, b) => a - b)
  t.same(values, times(ELECTION).map((i) => ELECTION + i), 'every value in [10, 20) occurs and nothing else')
  for (const [v, n] of seen) t.ok(n > seeds / ELECTION / 3, `timeout ${v} drawn ${n} times of ${seeds} (roughly uniform)`)
})

t.test('Followers: a learner never starts an election, however long it waits', async (t) => {
  const raw = node(4, withLog([1, 2, 3], [], {}, [4]))
  for (const _ of times(20 * ELECTION)) raw.tick()
  raw.campaign()
  t.notOk(raw.hasReady())
  t.same([raw.status().role, raw.status().term], ['follower', 0])
})

t.test('Candidates: campaigning increments the term, votes for self and requests votes from every voter (not learners)', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 1, 2], { term: 2 }, [4]), { preVote: false })
  raw.campaign()
  const rd = raw.ready()
  t.same(rd.softState, { leader: 0, role: 'candidate' })
  t.same(rd.hardState, { term: 3, vote: 1, commit: 0 })
  t.same(
    rd.messages.map((m) => ({ ...brief(m), index: m.index, logTerm: m.logTerm, transfer: m.transfer })),
    [2, 3].map((to) => ({ type: 'Vote', from: 1, to, term: 3, reject: false, index: 3, logTerm: 2, transfer: false })),
  )
  t.same(rd.persistedMessages, [], 'the vote for self is not a message to anyone else')
  raw.advance(rd)
})

t.test('Candidates: votes from a majority of voters (self included) make the candidate leader, not one vote earlier', async (t) => {
  const raw = node(1, withLog([1, 2, 3, 4, 5], [1], { term: 1 }), { preVote: false })
  raw.campaign()
  drain(raw)
  raw.step(msg(MsgType.VoteResp, 2, 1, 2))
  t.equal(raw.status().role, 'candidate', '2 of 5')
  raw.step(msg(MsgType.VoteResp, 2, 1, 2))
  t.equal(raw.status().role, 'candidate', 'a duplicate vote does not count twice')
  raw.step(msg(MsgType.VoteResp, 4, 1, 2, { reject: true }))
  t.equal(raw.status().role, 'candidate', '2 granted, 1 rejected')
  raw.step(msg(MsgType.VoteResp, 3, 1, 2))
  t.same([raw.status().role, raw.status().term, raw.status().leader], ['leader', 2, 1], '3 of 5')
})

t.test('Candidates: rejections from a majority make the candidate a follower in the same term', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1], { term: 1 }), { preVote: false })
  raw.campaign()
  drain(raw)
  raw.step(msg(MsgType.VoteResp, 2, 1, 2, { reject: true }))
  t.equal(raw.status().role, 'candidate', 'one rejection of 3 can still be outvoted')
  raw.step(msg(MsgType.VoteResp, 3, 1, 2, { reject: true }))
  t.same([raw.status().role, raw.status().term, raw.status().vote], ['follower', 2, 1])
})

t.test('Candidates: an Append from a leader of the same term makes the candidate a follower of it', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1], { term: 1 }), { preVote: false })
  raw.campaign()
  drain(raw)
  raw.step(msg(MsgType.Append, 3, 1, 2, { index: 1, logTerm: 1, entries: [{ term: 2, index: 2, type: 0, data: new Uint8Array(0) }] }))
  const rd = drain(raw)
  t.same([raw.status().role, raw.status().term, raw.status().leader], ['follower', 2, 3])
  t.same(rd.entries.map((e) => [e.index, e.term]), [[2, 2]], 'and processes the Append')
  t.same(outgoing(rd).map(brief), [{ type: 'AppendResp', from: 1, to: 3, term: 2, reject: false }])
})

t.test('Candidates: the own vote counts only after the Ready carrying it is persisted', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1], { term: 1 }), { preVote: false })
  raw.campaign()
  const rd = raw.ready()
  t.same(rd.hardState, { term: 2, vote: 1, commit: 0 })
  // Node 2's grant arrives while our term and vote are still being written.
  raw.step(msg(MsgType.VoteResp, 2, 1, 2))
  t.equal(raw.status().role, 'candidate', 'one unpersisted self-vote + one grant is not yet a majority')
  raw.advance(rd)
  t.same([raw.status().role, raw.status().leader], ['leader', 1], 'the persist completes the majority')
})

t.test('Candidates: a single-voter cluster becomes leader only after persisting its vote', async (t) => {
  const raw = node(1, withLog([1], [], {}), {})
  raw.campaign()
  const rd = raw.ready()
  t.equal(raw.status().role, 'candidate')
  raw.advance(rd)
  t.equal(raw.status().role, 'leader')
})

t.test('Candidates: a split vote times out and a new election in a higher term elects a leader', async (t) => {
  const c = new TestCluster([1, 2, 3, 4], { preVote: false })
  // 1 and 2 campaign at once; 3 hears only from 1 and 4 only from 2.
  c.drop = (m) => m.type === MsgType.Vote && ((m.from === 1 && m.to === 4) || (m.from === 2 && m.to === 3))
  c.node(1).raw.campaign()
  c.node(2).raw.campaign()
  c.stabilize()
  c.drop = () => false
  t.same(
    [1, 2, 3, 4].map((id) => [c.node(id).raw.status().term, c.node(id).raw.status().role]),
    [[1, 'candidate'], [1, 'candidate'], [1, 'follower'], [1, 'follower']],
    'no leader in term 1: each candidate holds 2 of the 3 votes it needs',
  )
  t.same([1, 2, 3, 4].map((id) => c.node(id).raw.status().vote), [1, 2, 1, 2], 'votes split 2–2')
  const ticks = (() => {
    for (let i = 1; i <= 4 * ELECTION; i++) {
      c.tickAll()
      if (c.leader()) return i
    }
    return -1
  })()
  t.ok(ticks >= ELECTION && ticks < 2 * ELECTION, `retried after a randomized timeout (${ticks} ticks)`)
  t.equal(c.leader()!.raw.status().term, 2)
})
