// Figure 2, "Rules for Servers / Leaders": commitIndex advances to N when a majority has matchIndex ≥ N
// and log[N].term == currentTerm (§5.3, §5.4.2, Figure 8); the leader's own copy counts once durable.
import t from 'tap'
import { MsgType, type Message } from '../../src/raft/types.ts'
import { TestCluster } from './harness.ts'
import { ELECTION, becomeLeader, drain, msg, node, ofType, withLog } from './util.ts'

t.test('Leader: an entry stored on a majority commits, and every node applies it once, in order', async (t) => {
  const c = new TestCluster([1, 2, 3, 4, 5])
  c.elect(1)
  c.node(4).up = false
  c.node(5).up = false
  c.propose(1, 'a')
  c.propose(1, 'b')
  t.same([1, 2, 3].map((id) => c.node(id).applied), [['a', 'b'], ['a', 'b'], ['a', 'b']])
  t.equal(c.node(1).raw.status().commit, 3)
})

t.test('Leader: an entry stored on a minority does not commit until a majority holds it', async (t) => {
  const c = new TestCluster([1, 2, 3, 4, 5])
  c.elect(1)
  // Appends to 3, 4 and 5 are held back (delayed, not lost).
  const held: Message[] = []
  c.drop = (m) => {
    if (m.type === MsgType.Append && m.to >= 3) {
      held.push(m)
      return true
    }
    return false
  }
  const r = c.propose(1, 'a')
  t.same(r, { ok: true, index: 2, term: 1 })
  c.tickAll(3)
  t.same([c.node(1).raw.status().commit, c.node(2).raw.status().commit], [1, 1], 'leader + 1 of 5 is not enough')
  t.same(c.node(1).applied, [])
  c.drop = () => false
  const late = held.find((m) => m.to === 3 && m.entries.length > 0)!
  c.deliver(late)
  c.stabilize()
  t.equal(c.node(1).raw.status().commit, 2, 'a third copy commits it')
  t.same(c.node(1).applied, ['a'])
})

t.test('Leader: only current-term entries commit by counting replicas; an older entry commits with them (Figure 8)', async (t) => {
  // S1 was leader in term 2 and wrote entry 2; S5 led term 3 and wrote a different entry 2. S1 is
  // now elected for term 4 (votes of S2 and S3) and brings entry 2 to a majority.
  const voters = [1, 2, 3, 4, 5]
  const raw = node(1, withLog(voters, [1, 2], { term: 3, commit: 1 }), { preVote: false })
  becomeLeader(raw, [1, 2, 3])
  t.same([raw.status().term, raw.status().lastIndex, raw.status().commit], [4, 3, 1], 'no-op of term 4 at index 3')
  raw.step(msg(MsgType.AppendResp, 2, 1, 4, { index: 2 }))
  raw.step(msg(MsgType.AppendResp, 3, 1, 4, { index: 2 }))
  t.equal(raw.status().commit, 1, 'entry 2 (term 2) is on S1, S2, S3 — a majority — yet not committed')
  t.equal(drain(raw).committedEntries.length, 0)
  raw.step(msg(MsgType.AppendResp, 2, 1, 4, { index: 3 }))
  t.equal(raw.status().commit, 1, 'the term-4 entry is on only two nodes')
  raw.step(msg(MsgType.AppendResp, 3, 1, 4, { index: 3 }))
  t.equal(raw.status().commit, 3, 'the term-4 entry reaches a majority and commits entry 2 with it')
  t.same(drain(raw).committedEntries.map((e) => [e.index, e.term]), [[2, 2], [3, 4]])
})

t.test('Leader: why Figure 8 matters — the majority-replicated old entry can still be overwritten by S5', async (t) => {
  // The state just after S1 (term 4) copied entry 2@2 to S3 and crashed before its own entry spread.
  const voters = [1, 2, 3, 4, 5]
  const c = new TestCluster([], { preVote: false })
  c.add(2, withLog(voters, [1, 2], { term: 4, vote: 1 }), 2)
  c.add(3, withLog(voters, [1, 2], { term: 4, vote: 1 }), 3)
  c.add(4, withLog(voters, [1], { term: 4, vote: 1 }), 4)
  c.add(5, withLog(voters, [1, 3], { term: 4, vote: 1 }), 5)
  c.elect(5)
  t.same([c.leader()?.id, c.node(5).raw.status().term], [5, 5], 'S5 wins: its last term (3) beats theirs (2)')
  for (const id of [2, 3, 4]) {
    t.same(c.node(id).raw.entriesFrom(2, 4).map((e) => e.term), [3, 5], `node ${id}: entry 2 is now S5's`)
  }
})

t.test('Leader: the leader counts its own entries only once persisted (advance), even when a follower already acked', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.node(3).up = false
  const leader = c.node(1).raw
  leader.propose([new TextEncoder().encode('x')])
  const rd = leader.ready()
  t.same(rd.entries.map((e) => e.index), [2])
  const appends = ofType(rd.messages, MsgType.Append, 2)
  t.equal(appends.length, 1, 'the Append leaves before the leader persisted')
  c.node(2).raw.step(structuredClone(appends[0]!))
  const acks = c.handleReady(c.node(2))
  t.same(acks.map((m) => [m.type, m.index]), [[MsgType.AppendResp, 2]])
  for (const m of acks) leader.step(m)
  t.equal(leader.status().progress.get(2)!.match, 2)
  t.equal(leader.status().commit, 1, 'node 2 alone is not a majority of 3: the leader\'s unpersisted copy does not count')
  leader.advance(rd)
  t.equal(leader.status().commit, 2, 'after the persist it does')
  const rd2 = drain(leader)
  t.same(rd2.committedEntries.map((e) => e.index), [2])
  t.same(rd2.hardState, { term: 1, vote: 1, commit: 2 })
})

t.test('Leader: followers learn a new commit index in the next message and apply the entry', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  const mark = c.delivered.length
  c.propose(1, 'x')
  const appends = ofType(c.delivered.slice(mark), MsgType.Append)
  t.same(
    appends.map((m) => [m.to, m.commit, m.entries.length]),
    [[2, 1, 1], [3, 1, 1], [2, 2, 0], [3, 2, 0]],
    'entries go out with the old commit index, then an empty Append announces the new one',
  )
  t.same([c.node(2).applied, c.node(3).applied], [['x'], ['x']])
  c.tickAll(ELECTION)
  t.same([c.node(2).applied, c.node(3).applied], [['x'], ['x']], 'and never again')
})
