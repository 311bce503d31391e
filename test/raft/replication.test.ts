// Figure 2, "AppendEntries RPC / Receiver implementation" and the leader's replication rules
// (§5.3): nextIndex/matchIndex, consistency check, probing and fast backtracking.
import t from 'tap'
import { EntryType, MsgType, type Entry } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { ELECTION, becomeLeader, brief, drain, entries, msg, node, ofType, outgoing, withLog } from './util.ts'

const terms = (es: readonly Entry[]): number[] => es.map((e) => e.term)
const logTerms = (raw: ReturnType<typeof node>): number[] => terms(raw.entriesFrom(raw.status().firstIndex, raw.status().lastIndex + 1))

t.test('AppendEntries: reject when the log has no entry at prevLogIndex with prevLogTerm, with a hint for the leader', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 2], { term: 2 }))
  raw.step(msg(MsgType.Append, 1, 2, 3, { index: 3, logTerm: 3, commit: 3, entries: entries([3], 4) }))
  let rd = drain(raw)
  t.same(rd.entries, [], 'nothing appended')
  t.same(rd.messages, [])
  t.same(
    rd.persistedMessages.map((m) => ({ ...brief(m), index: m.index, hint: m.hint, logTerm: m.logTerm })),
    [{ type: 'AppendResp', from: 2, to: 1, term: 3, reject: true, index: 3, hint: 3, logTerm: 2 }],
    'term mismatch at prev: the hint names our last entry of a term ≤ the leader\'s prev term',
  )
  raw.step(msg(MsgType.Append, 1, 2, 3, { index: 6, logTerm: 3, commit: 3 }))
  rd = drain(raw)
  t.same(
    rd.persistedMessages.map((m) => ({ ...brief(m), index: m.index, hint: m.hint, logTerm: m.logTerm })),
    [{ type: 'AppendResp', from: 2, to: 1, term: 3, reject: true, index: 6, hint: 3, logTerm: 2 }],
    'prev beyond our log: the hint is our last index',
  )
  t.same(logTerms(raw), [1, 1, 2])
  t.equal(raw.status().commit, 0, 'a rejected Append commits nothing')
})

t.test('AppendEntries: a conflicting entry is deleted with all that follow it, then the new entries are appended', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 2, 2], { term: 2 }))
  raw.step(msg(MsgType.Append, 1, 2, 3, { index: 2, logTerm: 1, entries: entries([3, 3, 3], 3) }))
  const rd = drain(raw)
  t.same(rd.entries.map((e) => [e.index, e.term]), [[3, 3], [4, 3], [5, 3]], 'the Ready rewrites the log from index 3')
  t.same(logTerms(raw), [1, 1, 3, 3, 3])
  t.same(
    rd.persistedMessages.map((m) => ({ ...brief(m), index: m.index })),
    [{ type: 'AppendResp', from: 2, to: 1, term: 3, reject: false, index: 5 }],
  )
})

t.test('AppendEntries: a duplicate or reordered older Append never truncates the log', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1], { term: 1 }))
  const long = msg(MsgType.Append, 1, 2, 1, { index: 1, logTerm: 1, entries: entries([1, 1, 1, 1], 2) })
  const short = msg(MsgType.Append, 1, 2, 1, { index: 1, logTerm: 1, entries: entries([1, 1], 2) })
  raw.step(long)
  t.equal(drain(raw).entries.length, 4)
  raw.step(short)
  const rd = drain(raw)
  t.same(rd.entries, [], 'nothing rewritten')
  t.same(logTerms(raw), [1, 1, 1, 1, 1])
  t.same(
    rd.persistedMessages.map((m) => [m.reject, m.index]),
    [[false, 3]],
    'the older Append is acknowledged for what it carried',
  )
  raw.step(long)
  t.same(drain(raw).entries, [], 'an exact duplicate changes nothing either')
  t.equal(raw.status().lastIndex, 5)
})

t.test('AppendEntries: commitIndex = min(leaderCommit, index of the last new entry)', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 1, 1, 1], { term: 1 }))
  raw.step(msg(MsgType.Append, 1, 2, 1, { index: 1, logTerm: 1, entries: entries([1], 2), commit: 5 }))
  let rd = drain(raw)
  t.equal(raw.status().commit, 2, 'only what this Append proved to match')
  t.same(rd.hardState, { term: 1, vote: 0, commit: 2 })
  t.same(rd.committedEntries.map((e) => e.index), [1, 2])
  raw.step(msg(MsgType.Append, 1, 2, 1, { index: 4, logTerm: 1, commit: 3 }))
  rd = drain(raw)
  t.equal(raw.status().commit, 3, 'leaderCommit below the last matching entry')
  raw.step(msg(MsgType.Append, 1, 2, 1, { index: 5, logTerm: 1, commit: 4 }))
  drain(raw)
  t.equal(raw.status().commit, 4)
  raw.step(msg(MsgType.Append, 1, 2, 1, { index: 5, logTerm: 1, commit: 2 }))
  drain(raw)
  t.equal(raw.status().commit, 4, 'the commit index never goes back')
})

t.test('AppendEntries: an Append whose prev is below our commit index is answered with the commit index', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 1], { term: 1, commit: 3 }))
  raw.step(msg(MsgType.Append, 1, 2, 1, { index: 1, logTerm: 1, entries: entries([1], 2), commit: 3 }))
  const rd = drain(raw)
  t.same(rd.persistedMessages.map((m) => [m.type, m.reject, m.index]), [[MsgType.AppendResp, false, 3]])
  t.same(rd.entries, [])
})

t.test('AppendEntries: an ack still waiting for the persist is withdrawn when a newer leader truncates the entries it vouches for', async (t) => {
  // Between two Readies: leader A (term 2) sends entry 2@2, then leader B (term 3) replaces it with 2@3.
  const raw = node(2, withLog([1, 2, 3], [1], { term: 1 }))
  raw.step(msg(MsgType.Append, 1, 2, 2, { index: 1, logTerm: 1, entries: entries([2], 2) }))
  raw.step(msg(MsgType.Append, 3, 2, 3, { index: 1, logTerm: 1, entries: entries([3], 2) }))
  const rd = drain(raw)
  t.same(rd.entries.map((e) => [e.index, e.term]), [[2, 3]], 'what is persisted is 2@3')
  const acks = rd.persistedMessages.filter((m) => m.type === MsgType.AppendResp && !m.reject)
  t.same(acks.filter((m) => m.to === 1 && m.index >= 2), [], 'no ack tells A that 2@2 is durable here')
  t.same(acks.filter((m) => m.to === 3).map((m) => [m.term, m.index]), [[3, 2]], 'B gets its ack')
})

t.test('AppendEntries: a Heartbeat commits only up to the entry it proves to match', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 2], { term: 3 }))
  raw.step(msg(MsgType.Heartbeat, 1, 2, 3, { index: 3, logTerm: 3, commit: 3, ctx: 7 }))
  let rd = drain(raw)
  t.same(rd.messages.map((m) => ({ ...brief(m), index: m.index, ctx: m.ctx })), [
    { type: 'HeartbeatResp', from: 2, to: 1, term: 3, reject: true, index: 3, ctx: 7 },
  ])
  t.equal(raw.status().commit, 0, 'entry 3 is not the leader\'s: do not commit it')
  raw.step(msg(MsgType.Heartbeat, 1, 2, 3, { index: 2, logTerm: 1, commit: 2, ctx: 8 }))
  rd = drain(raw)
  t.same(rd.messages.map((m) => [m.reject, m.index, m.ctx]), [[false, 2, 8]])
  t.equal(raw.status().commit, 2)
})

t.test('Leader: the first entry of every term is a no-op of that term, and it commits', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  for (const id of [1, 2, 3]) {
    const raw = c.node(id).raw
    t.same(raw.entriesFrom(1, 2).map((e) => ({ index: e.index, term: e.term, type: e.type, len: e.data.length })), [
      { index: 1, term: 1, type: EntryType.Normal, len: 0 },
    ])
    t.equal(raw.status().commit, 1)
  }
  c.propose(1, 'a')
  c.node(1).up = false
  c.tickAll(3 * ELECTION)
  const l = c.leader()!
  t.equal(l.raw.status().term, 2)
  t.same(l.raw.entriesFrom(3, 4).map((e) => ({ index: e.index, term: e.term, len: e.data.length })), [{ index: 3, term: 2, len: 0 }])
  t.equal(l.raw.status().commit, 3)
})

t.test('Leader: nextIndex starts after the leader\'s last entry and matchIndex at 0; acks move them', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [1, 1], { term: 1 }), { preVote: false })
  const rd = becomeLeader(raw, [1, 2])
  const pr = raw.status().progress
  t.same([pr.get(2)!.next, pr.get(2)!.match, pr.get(2)!.state], [3, 0, 'probe'])
  t.same(
    ofType(rd.messages, MsgType.Append).map((m) => ({ to: m.to, index: m.index, logTerm: m.logTerm, ents: m.entries.map((e) => e.index) })),
    [2, 3].map((to) => ({ to, index: 2, logTerm: 1, ents: [3] })),
    'the first Append probes at the end of the leader\'s log and carries the no-op',
  )
  raw.step(msg(MsgType.AppendResp, 2, 1, 2, { index: 3 }))
  const after = raw.status().progress.get(2)!
  t.same([after.next, after.match, after.state], [4, 3, 'replicate'])
  t.equal(raw.status().commit, 3, 'leader (persisted) + node 2 = majority for the no-op')
})

t.test('Leader: probe sends one Append at a time; the first success switches to replicate (streaming); a rejection goes back to probe', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [], {}), { preVote: false })
  becomeLeader(raw, [1, 2])
  raw.propose([new Uint8Array([1])])
  raw.propose([new Uint8Array([2])])
  let rd = drain(raw)
  t.same(ofType(rd.messages, MsgType.Append), [], 'probing: nothing more until the probe is answered')
  raw.step(msg(MsgType.AppendResp, 2, 1, 1, { index: 1 }))
  rd = drain(raw)
  t.same(
    ofType(rd.messages, MsgType.Append, 2).map((m) => [m.index, m.entries.map((e) => e.index)]),
    [[1, [2, 3]]],
    'after the first ack the rest follows',
  )
  t.equal(raw.status().progress.get(2)!.state, 'replicate')
  raw.propose([new Uint8Array([3])])
  rd = drain(raw)
  t.same(
    ofType(rd.messages, MsgType.Append, 2).map((m) => [m.index, m.entries.map((e) => e.index)]),
    [[3, [4]]],
    'replicating: the next Append goes out without waiting for the previous ack',
  )
  t.same(ofType(rd.messages, MsgType.Append, 3), [], 'node 3 is still probing')
  t.equal(raw.status().progress.get(2)!.inflight, 2)
  raw.step(msg(MsgType.AppendResp, 2, 1, 1, { index: 3, reject: true, hint: 1, logTerm: 1 }))
  rd = drain(raw)
  t.equal(raw.status().progress.get(2)!.state, 'probe')
  t.same(
    ofType(rd.messages, MsgType.Append, 2).map((m) => [m.index, m.entries.map((e) => e.index)]),
    [[1, [2, 3, 4]]],
    'resent from the last known match',
  )
})

t.test('Leader: a stale rejection (for an index already acknowledged) is ignored', async (t) => {
  const raw = node(1, withLog([1, 2, 3], [], {}), { preVote: false })
  becomeLeader(raw, [1, 2])
  raw.propose([new Uint8Array([1])])
  raw.step(msg(MsgType.AppendResp, 2, 1, 1, { index: 1 }))
  drain(raw)
  raw.step(msg(MsgType.AppendResp, 2, 1, 1, { index: 2 }))
  drain(raw)
  raw.step(msg(MsgType.AppendResp, 2, 1, 1, { index: 1, reject: true, hint: 0 }))
  const rd = drain(raw)
  t.same(ofType(rd.messages, MsgType.Append), [])
  t.same([raw.status().progress.get(2)!.state, raw.status().progress.get(2)!.match], ['replicate', 2])
})

t.test('Leader: a probe lost in the network is resent after the next heartbeat', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.drop = (m) => m.type === MsgType.Append && m.to === 3
  c.elect(1)
  t.equal(c.node(1).raw.status().progress.get(3)!.state, 'probe')
  c.drop = () => false
  c.tickAll(1)
  t.same([c.node(3).raw.status().commit, c.node(1).raw.status().progress.get(3)!.state], [1, 'replicate'])
})

t.test('Leader: an Append lost while replicating is retransmitted even when no further proposal follows', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a')
  t.equal(c.node(1).raw.status().progress.get(3)!.state, 'replicate')
  c.drop = (m) => m.type === MsgType.Append && m.to === 3
  c.propose(1, 'b')
  c.drop = () => false
  c.tickAll(5 * ELECTION)
  t.same(c.node(3).applied, ['a', 'b'], 'node 3 gets the lost entry without waiting for the next write')
})

t.test('Leader: fast backtracking repairs a long divergent suffix in round trips proportional to the differing terms, not entries', async (t) => {
  const blocks = 8
  const per = 12
  const leaderTerms = [1, 1, 1]
  const followerTerms = [1, 1, 1]
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < per; i++) {
      leaderTerms.push(2 * b + 2)
      followerTerms.push(2 * b + 3)
    }
  }
  const c = new TestCluster([], { preVote: false })
  c.add(1, withLog([1, 2, 3], leaderTerms, { term: 18 }), 1)
  c.add(2, withLog([1, 2, 3], followerTerms, { term: 18 }), 2)
  c.add(3, withLog([1, 2, 3], leaderTerms, { term: 18 }), 3)
  c.elect(1)
  t.equal(c.leader()?.id, 1)
  const rejects = c.delivered.filter((m) => m.type === MsgType.AppendResp && m.from === 2 && m.reject)
  const appends = c.delivered.filter((m) => m.type === MsgType.Append && m.to === 2)
  t.ok(rejects.length <= blocks + 1, `${rejects.length} rejections for ${blocks} differing terms (${blocks * per} differing entries)`)
  t.ok(appends.length <= blocks + 3, `${appends.length} Appends to node 2`)
  t.same(logTerms(c.node(2).raw), [...leaderTerms, 19], 'the follower\'s log is the leader\'s')
  t.equal(c.node(2).raw.status().commit, leaderTerms.length + 1)
})

t.test('Leader: a divergent suffix from a single old term is repaired in one rejection', async (t) => {
  const c = new TestCluster([], { preVote: false })
  const leaderTerms = [1, 1, ...Array<number>(50).fill(3)]
  const followerTerms = [1, 1, ...Array<number>(80).fill(2)]
  c.add(1, withLog([1, 2, 3], leaderTerms, { term: 3 }), 1)
  c.add(2, withLog([1, 2, 3], followerTerms, { term: 3 }), 2)
  c.add(3, withLog([1, 2, 3], leaderTerms, { term: 3 }), 3)
  c.elect(1)
  const rejects = c.delivered.filter((m) => m.type === MsgType.AppendResp && m.from === 2 && m.reject)
  t.equal(rejects.length, 1)
  t.same(logTerms(c.node(2).raw), [...leaderTerms, 4])
})

t.test('Leader: the Appends a follower rejects leave the leader\'s log untouched (leader append-only)', async (t) => {
  const c = new TestCluster([], { preVote: false })
  c.add(1, withLog([1, 2, 3], [1, 2, 2], { term: 3 }), 1)
  c.add(2, withLog([1, 2, 3], [1, 3, 3, 3], { term: 3 }), 2)
  c.add(3, withLog([1, 2, 3], [1, 2, 2], { term: 3 }), 3)
  c.elect(1)
  t.same(logTerms(c.node(1).raw), [1, 2, 2, 4])
  t.same(logTerms(c.node(2).raw), [1, 2, 2, 4])
  t.same(outgoing(drain(c.node(1).raw)), [])
})
