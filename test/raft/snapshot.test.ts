// Log compaction and InstallSnapshot (§7).
import t from 'tap'
import { MsgType, type Message, type Ready, type Snapshot } from '../../src/raft/types.ts'
import { TestCluster, cmd } from './harness.ts'
import { ELECTION, brief, drain, entries, msg, node, ofType, withLog } from './util.ts'

const enc = new TextEncoder()

/** Node 3 is paused from the start; 1 and 2 commit a, b, c; node 1 snapshots; then d. */
function compactedCluster(): TestCluster {
  const c = new TestCluster([1, 2, 3])
  c.node(3).up = false
  c.elect(1)
  c.propose(1, 'a', 'b', 'c')
  c.snapshot(1)
  c.propose(1, 'd')
  return c
}

t.test('Snapshot: createSnapshot compacts the log up to the index and records its term and configuration', async (t) => {
  const c = new TestCluster([1, 2, 3])
  c.elect(1)
  c.propose(1, 'a', 'b', 'c')
  const raw = c.node(1).raw
  t.throws(() => raw.createSnapshot(5, new Uint8Array(0)), RangeError, 'not beyond the applied index')
  const snap = raw.createSnapshot(3, enc.encode('state'))!
  t.same(snap.meta, { index: 3, term: 1, conf: { voters: [1, 2, 3], learners: [] } })
  t.same([raw.status().firstIndex, raw.status().lastIndex], [4, 4])
  t.same(raw.snapshotMeta(), snap.meta)
  t.throws(() => raw.entriesFrom(3, 5), RangeError, 'compacted entries are gone')
  t.same(raw.entriesFrom(4, 5).map((e) => e.index), [4])
  t.equal(raw.createSnapshot(2, enc.encode('older')), null, 'an older snapshot request records nothing')
  t.equal(raw.createSnapshot(3, enc.encode('same')), null, 'nor does one at the current snapshot index')
  c.propose(1, 'd')
  t.same(c.node(2).applied, ['a', 'b', 'c', 'd'], 'replication continues after compaction')
})

t.test('Snapshot: a follower behind the compaction point is sent a Snapshot, restores it and rebuilds its state machine', async (t) => {
  const c = compactedCluster()
  const leader = c.node(1).raw
  t.same(leader.snapshotMeta().index, 4)
  const readies: Ready[] = []
  c.onReady = (n, rd) => {
    if (n.id === 3) readies.push(rd)
  }
  c.node(3).up = true
  const mark = c.delivered.length
  c.tickAll(1)
  const snaps = ofType(c.delivered.slice(mark), MsgType.Snapshot)
  t.same(snaps.map((m) => [m.from, m.to, m.term, m.snapshot?.meta.index, m.snapshot?.meta.term]), [[1, 3, 1, 4, 1]])
  const withSnap = readies.filter((rd) => rd.snapshot !== null)
  t.equal(withSnap.length, 1)
  const rd = withSnap[0]!
  t.same(rd.snapshot!.meta, { index: 4, term: 1, conf: { voters: [1, 2, 3], learners: [] } })
  t.same(JSON.parse(new TextDecoder().decode(rd.snapshot!.data)), ['a', 'b', 'c'])
  t.same([rd.entries, rd.committedEntries], [[], []], 'nothing to apply from the log in the same Ready')
  t.same(rd.hardState?.commit, 4)
  t.same(rd.persistedMessages.map((m) => [m.type, m.index, m.reject]), [[MsgType.AppendResp, 4, false]])
  t.same(c.node(3).applied, ['a', 'b', 'c', 'd'], 'snapshot state + entry 5')
  t.same([c.node(3).raw.status().firstIndex, c.node(3).raw.status().commit], [5, 5])
  t.equal(leader.status().progress.get(3)!.state, 'replicate')
  c.propose(1, 'e')
  t.same(c.node(3).applied, ['a', 'b', 'c', 'd', 'e'])
})

t.test('Snapshot: a snapshot at or below the follower\'s commit index is ignored', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 1, 1], { term: 1, commit: 4 }))
  const snap: Snapshot = { meta: { index: 3, term: 1, conf: { voters: [1, 2, 3], learners: [] } }, data: enc.encode('old') }
  raw.step(msg(MsgType.Snapshot, 1, 2, 1, { snapshot: snap }))
  const rd = drain(raw)
  t.equal(rd.snapshot, null)
  t.same(rd.persistedMessages.map((m) => ({ ...brief(m), index: m.index })), [{ type: 'AppendResp', from: 2, to: 1, term: 1, reject: false, index: 4 }])
  t.same([raw.status().firstIndex, raw.status().lastIndex, raw.status().commit], [1, 4, 4])
})

t.test('Snapshot: a snapshot whose last entry the follower already holds only advances the commit index', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 1, 1, 1], { term: 1, commit: 2 }))
  raw.step(msg(MsgType.Snapshot, 1, 2, 1, { snapshot: { meta: { index: 4, term: 1, conf: { voters: [1, 2, 3], learners: [] } }, data: cmd('s') } }))
  const rd = drain(raw)
  t.equal(rd.snapshot, null, 'nothing to install')
  t.same(rd.committedEntries.map((e) => e.index), [3, 4])
  t.same([raw.status().firstIndex, raw.status().lastIndex, raw.status().commit], [1, 5, 4], 'entry 5 is kept')
})

t.test('Snapshot: a snapshot that conflicts with the follower\'s log replaces the whole log', async (t) => {
  const raw = node(2, withLog([1, 2, 3], [1, 1, 2, 2, 2], { term: 2, commit: 2 }))
  raw.step(msg(MsgType.Snapshot, 1, 2, 3, { snapshot: { meta: { index: 4, term: 3, conf: { voters: [1, 2, 3], learners: [] } }, data: cmd('s') } }))
  const rd = drain(raw)
  t.same(rd.snapshot?.meta.index, 4)
  t.same([raw.status().firstIndex, raw.status().lastIndex, raw.status().lastTerm, raw.status().commit], [5, 4, 3, 4], 'entry 5 (term 2) is gone')
  t.same(rd.persistedMessages.map((m) => [m.type, m.index]), [[MsgType.AppendResp, 4]])
})

t.test('Snapshot: an ack still waiting for the persist is withdrawn when a snapshot replaces the entries it vouches for', async (t) => {
  // Between two Readies: leader A (term 2) sends entries 3–4; leader B (term 3) then installs a
  // snapshot at 5 whose history the follower cannot compare with A's entries.
  const raw = node(2, withLog([1, 2, 3], [1, 1], { term: 2 }))
  raw.step(msg(MsgType.Append, 1, 2, 2, { index: 2, logTerm: 1, entries: entries([2, 2], 3) }))
  raw.step(msg(MsgType.Snapshot, 3, 2, 3, { snapshot: { meta: { index: 5, term: 3, conf: { voters: [1, 2, 3], learners: [] } }, data: cmd('s') } }))
  const rd = drain(raw)
  t.same(rd.snapshot?.meta.index, 5)
  const acks = rd.persistedMessages.filter((m) => m.type === MsgType.AppendResp && !m.reject)
  t.same(acks.filter((m) => m.to === 1 && m.index >= 3), [], 'no ack tells A that its entries 3–4 are durable here')
  t.same(acks.filter((m) => m.to === 3).map((m) => [m.term, m.index]), [[3, 5]])
})

t.test('Snapshot: a snapshot reported as failed (reportSnapshot(false)) is sent again', async (t) => {
  const c = compactedCluster()
  const lost: Message[] = []
  c.drop = (m) => {
    if (m.type === MsgType.Snapshot) lost.push(m)
    return m.type === MsgType.Snapshot
  }
  c.node(3).up = true
  c.tickAll(1)
  t.equal(lost.length, 1)
  t.equal(c.node(1).raw.status().progress.get(3)!.state, 'snapshot')
  c.tickAll(3)
  t.equal(lost.length, 1, 'while the snapshot is outstanding it is not re-sent')
  c.drop = () => false
  c.node(1).raw.reportSnapshot(3, false)
  const mark = c.delivered.length
  c.stabilize()
  t.equal(ofType(c.delivered.slice(mark), MsgType.Snapshot).length, 1, 'sent again at once')
  t.same(c.node(3).applied, ['a', 'b', 'c', 'd'])
})

t.test('Snapshot: a snapshot lost without any report is retried after two election timeouts', async (t) => {
  const c = compactedCluster()
  const sentAt: number[] = []
  let tick = 0
  c.drop = (m) => {
    if (m.type !== MsgType.Snapshot) return false
    sentAt.push(tick)
    return sentAt.length === 1
  }
  c.node(3).up = true
  while (sentAt.length < 2 && tick < 10 * ELECTION) {
    tick++
    c.tickAll(1)
  }
  t.equal(sentAt.length, 2)
  const gap = sentAt[1]! - sentAt[0]!
  t.ok(gap >= 2 * ELECTION && gap <= 2 * ELECTION + 1, `retried ${gap} ticks later`)
  t.same(c.node(3).applied, ['a', 'b', 'c', 'd'])
})

t.test('Snapshot: after reportSnapshot(true) the leader continues right after the snapshot', async (t) => {
  const c = compactedCluster()
  const held: Message[] = []
  c.drop = (m) => {
    if (m.type === MsgType.AppendResp && m.from === 3) held.push(m)
    return m.type === MsgType.AppendResp && m.from === 3
  }
  c.node(3).up = true
  c.tickAll(1)
  t.equal(c.node(3).raw.status().commit, 4, 'node 3 installed the snapshot; its ack is delayed')
  c.drop = () => false
  const mark = c.delivered.length
  c.node(1).raw.reportSnapshot(3, true)
  c.stabilize()
  const appends = ofType(c.delivered.slice(mark), MsgType.Append).filter((m) => m.to === 3)
  t.same(appends.slice(0, 1).map((m) => [m.index, m.logTerm, m.entries.map((e) => e.index)]), [[4, 1, [5]]], 'probing from the snapshot index')
  t.same(c.node(3).applied, ['a', 'b', 'c', 'd'])
})
