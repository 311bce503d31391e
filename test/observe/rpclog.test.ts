// The RPC log ring and its reader: bounded, filters, message ids that pair both ends, request ids
// of Appends, kernel records, and the reasons the observer gives for refused votes.
import t from 'tap'
import { encodeRequest } from '../../src/kv/request.ts'
import { MsgType, type Ready } from '../../src/raft/types.ts'
import { Observer } from '../../src/observe/observer.ts'
import { kindSet, queryPage, recordAt, selectSeqs } from '../../src/observe/rpcquery.ts'
import { resolveProposal, traceSlice } from '../../src/observe/traceslice.ts'
import { Kind, RpcLog } from '../../src/observe/rpclog.ts'
import { entries, fakeStatus, msg } from './helpers.ts'

const enc = new TextEncoder()

function emptyReady(over: Partial<Ready> = {}): Ready {
  return { softState: null, hardState: null, snapshot: null, entries: [], committedEntries: [], messages: [], persistedMessages: [], readStates: [], ...over }
}

t.test('the ring keeps the newest `size` records and says what it lost', async (t) => {
  const log = new RpcLog(1, 4)
  for (let i = 1; i <= 6; i++) log.send(msg(MsgType.Heartbeat, 1, 2, 1, { ctx: i }))
  t.equal(log.total, 6)
  t.equal(log.first, 3)
  t.equal(log.slotOf(2), -1, 'overwritten')
  t.equal(log.slotOf(7), -1, 'not written yet')
  t.same(selectSeqs(log, { limit: 10 }), [3, 4, 5, 6])
  t.same(selectSeqs(log, { limit: 2 }), [5, 6], 'without since: the newest')
  t.same(selectSeqs(log, { since: 0, limit: 2 }), [3, 4], 'with since: oldest first from the cursor')
  t.same(selectSeqs(log, { since: 4, limit: 10 }), [5, 6])
  const page = queryPage(log, { limit: 10 })
  t.same([page.first, page.last, page.size, page.records.length], [3, 6, 4, 4])
  t.same(page.records.map((r) => r.ctx), [3, 4, 5, 6])
  t.throws(() => new RpcLog(1, 0), RangeError)
})

t.test('filters: type, peer, kind, path', async (t) => {
  const log = new RpcLog(1, 100)
  log.send(msg(MsgType.Append, 1, 2, 3, { index: 4, logTerm: 3, entries: entries(5, 2, 3) }))
  log.send(msg(MsgType.Heartbeat, 1, 3, 3))
  log.receive(msg(MsgType.AppendResp, 2, 1, 3, { index: 6 }))
  log.record({ dir: 'recv', peer: 3, type: MsgType.HeartbeatResp, term: 3, index: 0 })
  log.propose(7, 3, new Uint8Array([1]), 0)
  const types = (f: Parameters<typeof selectSeqs>[1]): (string | undefined)[] => selectSeqs(log, f).map((s) => recordAt(log, s, 0)!.type ?? recordAt(log, s, 0)!.kind)
  t.same(types({ limit: 10, types: new Set([MsgType.Append, MsgType.AppendResp]) }), ['Append', 'AppendResp'])
  t.same(types({ limit: 10, peer: 3 }), ['Heartbeat', 'HeartbeatResp'])
  t.same(types({ limit: 10, kinds: kindSet('recv') }), ['AppendResp', 'HeartbeatResp'])
  t.same(types({ limit: 10, kinds: kindSet('propose,send') }), ['Append', 'Heartbeat', 'propose'])
  t.same(types({ limit: 10, path: 'kernel' }), ['HeartbeatResp'])
  t.same(types({ limit: 10, path: 'user', kinds: kindSet('send,recv') }), ['Append', 'Heartbeat', 'AppendResp'])
  const a = recordAt(log, 1, 0)!
  t.match(a, { kind: 'send', node: 1, peer: 2, type: 'Append', term: 3, index: 4, logTerm: 3, n: 2, eterm: 3, path: 'user' })
  t.equal(recordAt(log, 4, 0)!.path, 'kernel')
})

t.test('a message hashes to the same id when sent and when received, and differently from others', async (t) => {
  const a = new RpcLog(1, 10)
  const b = new RpcLog(2, 10)
  const m = msg(MsgType.Append, 1, 2, 4, { index: 9, logTerm: 4, commit: 8, entries: entries(10, 3, 4) })
  a.send(m)
  b.receive(m)
  const s = recordAt(a, 1, 0)!
  const r = recordAt(b, 1, 0)!
  t.equal(s.mid, r.mid, 'paired')
  t.match(s.mid, /^[0-9a-f]{8}$/)
  b.receive({ ...m, commit: 9 })
  t.not(recordAt(b, 2, 0)!.mid, s.mid, 'another commit index, another message')
  a.send({ ...m, to: 3 })
  t.not(recordAt(a, 2, 0)!.mid, s.mid, 'another destination, another message')
})

t.test('kernel records: path kernel, CLOCK_MONOTONIC timestamps converted', async (t) => {
  const log = new RpcLog(2, 10)
  const before = process.hrtime.bigint()
  log.record({ dir: 'send', peer: 1, type: MsgType.HeartbeatResp, term: 7, index: 12, ctx: 99, monoNs: before - 5_000_000n })
  const r = recordAt(log, 1, performance.timeOrigin)!
  t.match(r, { kind: 'send', path: 'kernel', type: 'HeartbeatResp', term: 7, index: 12, ctx: 99 })
  t.ok(Math.abs(r.mono - Number(before - 5_000_000n)) < 50_000, `mono kept (${r.mono} vs ${before - 5_000_000n})`)
  t.ok(Math.abs(r.wall - (Date.now() - 5)) < 50, 'wall time follows')
})

t.test('proposals: request ids and keys, and the Appends that carry them', async (t) => {
  const log = new RpcLog(1, 100)
  const now = Date.now()
  log.propose(5, 2, encodeRequest({ client: 'c7', seq: 9, now, ops: [{ t: 'set', key: enc.encode('alpha'), value: enc.encode('1') }] }), 0)
  log.propose(6, 2, encodeRequest({ now, ops: [{ t: 'del', keys: [enc.encode('beta'), enc.encode('gamma')] }] }), 3)
  log.propose(7, 2, encodeRequest({ now, ops: [{ t: 'set', key: enc.encode('alpha'), value: enc.encode('2') }] }), 0)
  log.send(msg(MsgType.Append, 1, 2, 2, { index: 4, logTerm: 2, entries: entries(5, 3, 2) }))
  t.same(recordAt(log, 1, 0)!.reqs, ['c7:9'])
  t.same(recordAt(log, 2, 0)!.reqs, ['h1.3'])
  t.same(recordAt(log, 2, 0)!.keys, ['beta', 'gamma'])
  t.same(recordAt(log, 3, 0)!.reqs, ['i7'])
  t.same(recordAt(log, 4, 0, true)!.reqs, ['c7:9', 'h1.3', 'i7'], 'the Append names every request it carries')
  t.equal(recordAt(log, 4, 0, false)!.reqs, undefined, 'only when asked')
  t.match(resolveProposal(log, { t: 'client', client: 'c7', seq: 9 }), { index: 5, id: 'c7:9' })
  t.match(resolveProposal(log, { t: 'http', node: 1, req: 3 }), { index: 6, id: 'h1.3', req: 3 })
  t.equal(resolveProposal(log, { t: 'http', node: 2, req: 3 }), null, 'another node’s request')
  t.match(resolveProposal(log, { t: 'key', key: 'alpha' }), { index: 7 }, 'the latest write of a key')
  t.equal(resolveProposal(log, { t: 'key', key: 'zeta' }), null)
})

t.test('the ring drops proposal data it overwrites (nothing pinned)', async (t) => {
  const log = new RpcLog(1, 3)
  log.propose(1, 1, new Uint8Array(10), 0)
  t.not(log.data[0], null)
  for (let i = 0; i < 3; i++) log.send(msg(MsgType.Heartbeat, 1, 2, 1))
  t.same(log.data, [null, null, null])
  const big = new RpcLog(1, 3, 16)
  big.propose(1, 1, new Uint8Array(17), 0)
  t.equal(big.data[0], null, 'large proposals are not kept')
})

t.test('why a vote was refused', async (t) => {
  const cases: [string, Parameters<typeof fakeStatus>[0], number, number, RegExp][] = [
    ['voted-other', { role: 'follower', term: 5, vote: 3, leader: 0, lastIndex: 10, lastTerm: 4 }, MsgType.Vote, 5, /already voted for 3/],
    ['has-leader', { role: 'follower', term: 5, vote: 0, leader: 3, lastIndex: 10, lastTerm: 4 }, MsgType.Vote, 5, /leader 3/],
    ['log-behind', { role: 'follower', term: 5, vote: 0, leader: 0, lastIndex: 10, lastTerm: 4 }, MsgType.Vote, 5, /ends at 8@t3, ours at 10@t4/],
    ['stale-term', { role: 'follower', term: 6, vote: 0, leader: 0, lastIndex: 10, lastTerm: 4 }, MsgType.PreVote, 5, /term 5 is behind ours \(6\)/],
  ]
  for (const [reason, st, type, term, detail] of cases) {
    const o = new Observer(1, 100)
    o.attach(() => fakeStatus(st))
    o.events.onReceive(msg(type as MsgType, 2, 1, term, { index: 8, logTerm: 3 }))
    const resp = type === MsgType.Vote ? MsgType.VoteResp : MsgType.PreVoteResp
    o.events.onSend(msg(resp, 1, 2, st!.term!, { reject: true }))
    const r = recordAt(o.log, 2, 0)!
    t.equal(r.reason, reason, reason)
    t.match(r.detail, detail)
  }
  const o = new Observer(1, 100)
  o.attach(() => fakeStatus())
  o.events.onSend(msg(MsgType.AppendResp, 1, 2, 3, { reject: true, index: 9, hint: 4, logTerm: 2 }))
  t.match(recordAt(o.log, 1, 0), { reason: 'log-mismatch', hint: 4, logTerm: 2 })
})

t.test('Readies become persist, commit, apply, role and membership records', async (t) => {
  const o = new Observer(2, 100)
  o.attach(() => fakeStatus({ id: 2, commit: 0, applied: 0, term: 1 }))
  const ack = msg(MsgType.AppendResp, 2, 1, 3, { index: 6 })
  // The run loop sends `messages` first and `persistedMessages` after the write; onReady comes last.
  o.events.onSend(ack)
  o.events.onReady(
    emptyReady({
      softState: { leader: 1, role: 'follower' },
      hardState: { term: 3, vote: 1, commit: 5 },
      entries: entries(5, 2, 3),
      committedEntries: [
        ...entries(1, 4, 3),
        { term: 3, index: 5, type: 1, data: enc.encode(JSON.stringify({ change: { type: 'add-learner', node: 4 }, conf: { voters: [1, 2, 3], learners: [4] } })) },
      ],
      persistedMessages: [ack],
    }),
    () => fakeStatus(),
  )
  const recs = queryPage(o.log, { limit: 100 }).records
  t.same(
    recs.map((r) => r.kind),
    ['send', 'commit', 'persist', 'apply', 'conf', 'role'],
  )
  t.match(recs[1], { kind: 'commit', index: 5, hint: 0, term: 3 })
  t.match(recs[2], { kind: 'persist', index: 6, hint: 4 })
  t.match(recs[3], { kind: 'apply', index: 5, hint: 0 })
  t.match(recs[4], { kind: 'conf', peer: 4, change: 'add-learner', index: 5 })
  t.match(recs[5], { kind: 'role', role: 'follower', peer: 1, term: 3 })
  t.ok(recs[2]!.wall <= recs[0]!.wall + 0.001, 'persisted when its persisted message left, not when onReady ran')
  t.ok(o.electionElapsedMs() < 1000)
})

t.test('a trace slice: the Appends that carried an entry, first acks, commit, apply', async (t) => {
  const log = new RpcLog(1, 1000)
  log.send(msg(MsgType.Heartbeat, 1, 2, 2, { ctx: 1 })) // before: not about the entry
  log.receive(msg(MsgType.AppendResp, 2, 1, 2, { index: 3 })) // an older ack
  log.event(Kind.Arrive, 0, 0, 0, 0, 4)
  log.propose(4, 2, new Uint8Array([1]), 4)
  log.event(Kind.Persist, 2, 4, 3, 0, 0)
  log.send(msg(MsgType.Append, 1, 2, 2, { index: 3, logTerm: 2, commit: 3, entries: entries(4, 1, 2) }))
  log.send(msg(MsgType.Append, 1, 3, 2, { index: 3, logTerm: 2, commit: 3, entries: entries(4, 1, 2) }))
  log.receive(msg(MsgType.AppendResp, 2, 1, 2, { index: 4 }))
  log.receive(msg(MsgType.AppendResp, 2, 1, 2, { index: 4 })) // duplicate: only the first counts
  log.event(Kind.Commit, 2, 4, 3, 0, 0)
  log.event(Kind.Apply, 2, 4, 3, 0, 0)
  log.send(msg(MsgType.Heartbeat, 1, 2, 2, { commit: 4, index: 4, ctx: 2 }))
  log.send(msg(MsgType.Heartbeat, 1, 2, 2, { commit: 4, index: 4, ctx: 3 })) // a later one: not needed
  log.send(msg(MsgType.Append, 1, 2, 3, { index: 4, logTerm: 2, commit: 4, entries: entries(5, 1, 3) })) // next term: not this entry's path
  log.event(Kind.Reply, 0, 0, 200, 0, 4)
  const part = traceSlice(log, 4, 2, 4)
  t.same(
    part.events.map((r) => `${r.kind}${r.type ? `:${r.type}` : ''}`),
    ['arrive', 'propose', 'persist', 'send:Append', 'send:Append', 'recv:AppendResp', 'commit', 'apply', 'send:Heartbeat', 'reply'],
  )
  t.ok(part.samples.length > 0, 'other messages come along to align clocks')
})
