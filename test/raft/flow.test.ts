// Flow control: the inflight window (messages and bytes), batching of proposals, message size,
// and the bound on uncommitted bytes.
import t from 'tap'
import { MsgType, type Message } from '../../src/raft/types.ts'
import { TestCluster, cmd } from './harness.ts'
import { ELECTION, ofType } from './util.ts'

/** Delays (does not lose) the messages `hold` selects. */
function holdBack(c: TestCluster, hold: (m: Message) => boolean): Message[] {
  const held: Message[] = []
  c.drop = (m) => {
    if (hold(m)) held.push(m)
    return hold(m)
  }
  return held
}

const appendsTo = (ms: readonly Message[], to: number): Message[] => ofType(ms, MsgType.Append, to).filter((m) => m.entries.length > 0)
const bytes = (n: number): Uint8Array => new Uint8Array(n)

t.test('Flow: with acks withheld, at most maxInflightMsgs Appends are in flight to a follower; each ack frees one slot', async (t) => {
  const c = new TestCluster([1, 2, 3], { maxInflightMsgs: 3, maxSizePerMsg: 1 })
  c.elect(1)
  c.propose(1, 'warm-up')
  const held = holdBack(c, (m) => m.type === MsgType.AppendResp && m.from === 2)
  const mark = c.delivered.length
  t.ok(c.node(1).raw.propose(Array.from({ length: 10 }, (_, i) => cmd(`c${i}`))).ok)
  c.stabilize()
  let to2 = appendsTo(c.delivered.slice(mark), 2)
  t.same(to2.map((m) => m.entries.map((e) => e.index)), [[3], [4], [5]], 'three single-entry Appends (maxSizePerMsg), then the window is full')
  t.equal(c.node(1).raw.status().progress.get(2)!.inflight, 3)
  t.equal(appendsTo(c.delivered.slice(mark), 3).length, 10, 'node 3, which acks, gets everything')
  const mark2 = c.delivered.length
  c.node(1).raw.step(held.shift()!)
  c.stabilize()
  to2 = appendsTo(c.delivered.slice(mark2), 2)
  t.same(to2.map((m) => m.entries.map((e) => e.index)), [[6]], 'one ack, one more Append')
  c.drop = () => false
  while (held.length > 0) {
    c.deliver(held.shift()!)
    c.stabilize()
  }
  t.equal(c.node(2).applied.length, 11, 'everything arrives in the end')
})

t.test('Flow: with acks withheld, the bytes in flight to a follower stay within maxInflightBytes', async (t) => {
  const entryCost = 10 + 24
  const c = new TestCluster([1, 2, 3], { maxInflightMsgs: 100, maxInflightBytes: 3 * entryCost })
  c.elect(1)
  c.propose(1, 'warm-up')
  const held = holdBack(c, (m) => m.type === MsgType.AppendResp && m.from === 2)
  const mark = c.delivered.length
  t.ok(c.node(1).raw.propose(Array.from({ length: 10 }, () => bytes(10))).ok)
  c.stabilize()
  const to2 = appendsTo(c.delivered.slice(mark), 2)
  t.same(to2.map((m) => m.entries.length), [3], 'one Append with the 3 entries that fit in the byte window')
  t.equal(c.node(1).raw.status().progress.get(2)!.inflight, 1)
  const mark2 = c.delivered.length
  c.node(1).raw.step(held.shift()!)
  c.stabilize()
  t.same(appendsTo(c.delivered.slice(mark2), 2).map((m) => m.entries.length), [3], 'the freed bytes allow 3 more')
})

t.test('Flow: proposals made between two Readies go out as one Append per follower', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'warm-up')
  const leader = c.node(1).raw
  const mark = c.delivered.length
  for (let i = 0; i < 5; i++) t.ok(leader.propose([cmd(`p${i}`)]).ok)
  c.stabilize()
  for (const id of [2, 3]) {
    t.same(appendsTo(c.delivered.slice(mark), id).map((m) => m.entries.map((e) => e.index)), [[3, 4, 5, 6, 7]], `node ${id}: one Append`)
  }
  t.same(c.node(3).applied, ['warm-up', 'p0', 'p1', 'p2', 'p3', 'p4'])
})

t.test('Flow: maxSizePerMsg splits a large backlog into several Appends', async (t) => {
  const c = new TestCluster([1, 2, 3], { maxSizePerMsg: 2 * (4 + 24) })
  c.elect(1)
  c.propose(1, 'warm')
  const mark = c.delivered.length
  c.node(1).raw.propose(Array.from({ length: 5 }, () => bytes(4)))
  c.stabilize()
  t.same(appendsTo(c.delivered.slice(mark), 2).map((m) => m.entries.length), [2, 2, 1])
})

t.test('Flow: maxUncommittedBytes refuses proposals beyond the limit (and appends nothing) until entries commit', async (t) => {
  const c = new TestCluster([1, 2, 3], { maxUncommittedBytes: 100 })
  c.elect(1)
  const held = holdBack(c, (m) => m.type === MsgType.Append && m.to !== 1)
  const leader = c.node(1).raw
  t.same(leader.propose([bytes(40)]), { ok: true, index: 2, term: 1 })
  t.same(leader.propose([bytes(40)]), { ok: true, index: 3, term: 1 })
  t.same(leader.propose([bytes(40)]), { ok: false, reason: 'too-many-uncommitted' })
  t.same(leader.propose([bytes(10), bytes(11)]), { ok: false, reason: 'too-many-uncommitted' }, 'a batch counts as a whole')
  t.equal(leader.status().lastIndex, 3, 'nothing appended by the refused proposals')
  t.same(leader.propose([bytes(20)]), { ok: true, index: 4, term: 1 }, 'exactly at the limit is fine')
  c.stabilize()
  c.drop = () => false
  for (const m of held) c.deliver(m)
  c.stabilize()
  t.equal(leader.status().commit, 4)
  t.same(leader.propose([bytes(40)]), { ok: true, index: 5, term: 1 }, 'accepted again once committed')
})

t.test('Flow: with nothing uncommitted, one proposal larger than maxUncommittedBytes is still accepted', async (t) => {
  const c = new TestCluster([1, 2, 3], { maxUncommittedBytes: 100 })
  c.elect(1)
  c.node(2).up = false
  c.node(3).up = false
  t.same(c.node(1).raw.propose([bytes(500)]), { ok: true, index: 2, term: 1 })
  t.same(c.node(1).raw.propose([bytes(1)]), { ok: false, reason: 'too-many-uncommitted' })
})

t.test('Flow: a leader whose Appends were lost while at maxUncommittedBytes recovers without a new proposal', async (t) => {
  const c = new TestCluster([1, 2, 3], { maxUncommittedBytes: 100 })
  c.elect(1)
  c.propose(1, 'warm-up')
  c.drop = (m) => m.type === MsgType.Append && m.to !== 1
  t.ok(c.node(1).raw.propose([bytes(100)]).ok)
  c.stabilize()
  c.drop = () => false
  c.tickAll(5 * ELECTION)
  t.equal(c.node(1).raw.status().commit, 3, 'the entry commits')
  t.ok(c.node(1).raw.propose([bytes(10)]).ok, 'and writes are accepted again')
})
