// The state machine on real storage, without processes: deduplication sessions (several requests
// of one client in flight, a retry in the same apply batch as the original), reads inside a
// transaction (one atomic step, KEYS seeing the batch's own writes), WATCH revisions, the key
// counts DBSIZE and INFO report, and the record cache staying consistent with LevelDB.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { KvMachine } from '../../src/kv/machine.ts'
import { encodeRequest, type WriteOp, type WriteRequest } from '../../src/kv/request.ts'
import type { Reply } from '../../src/kv/reply.ts'
import type { Entry } from '../../src/raft/types.ts'
import { RaftStorage } from '../../src/storage/index.ts'

const b = (s: string) => Buffer.from(s)

/** A machine over fresh storage, and a way to commit-and-apply batches of requests. */
async function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-machine-'))
  const s = await RaftStorage.open(dir)
  await s.load()
  t.teardown(async () => {
    await s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const m = new KvMachine(s)
  await m.recount()
  let index = 0
  /** Appends, commits and applies one batch; the replies, shown compactly. */
  const apply = async (...reqs: Omit<WriteRequest, 'now'>[]): Promise<unknown[]> => {
    const es: Entry[] = reqs.map((r) => ({ term: 1, index: ++index, type: 0, data: encodeRequest({ now: Date.now(), ...r }) }))
    await s.persist({ entries: es, hardState: { term: 1, vote: 1, commit: index }, snapshot: null })
    const batch = s.applyBatch()
    const out = await m.apply(es, batch)
    await batch.write(index)
    return out.map(show)
  }
  return { m, apply }
}

function show(r: Reply): unknown {
  switch (r.k) {
    case 'bulk':
      return r.v === null ? null : Buffer.from(r.v).toString()
    case 'int':
      return Number(r.v)
    case 'array':
      return r.v === null ? null : r.v.map(show)
    case 'status':
      return r.v
    case 'error':
      return `ERR:${r.v}`
    default:
      return r
  }
}

const one = (op: WriteOp, extra: Partial<WriteRequest> = {}) => ({ ops: [op], ...extra })

t.test('sessions: in-flight requests and retries are answered, not applied twice', async (t) => {
  const { m, apply } = await setup(t)
  const incr = (seq: number, ack = 1) => one({ t: 'incr', key: b('n'), by: '1' }, { client: 'c1', seq, ack })
  t.same(await apply(incr(1), incr(2), incr(3)), [1, 2, 3], 'three in flight, applied in order')
  t.same(await apply(incr(2), incr(1)), [2, 1], 'retries get the first replies')
  t.same(await apply(incr(4), incr(4)), [4, 4], 'a retry in the same batch as its original')
  t.equal(show({ k: 'bulk', v: (await m.get(b('n')))!.value }), '4', 'the counter moved four times')
  t.same(await apply(incr(5, 5)), [5], 'acknowledging up to 5 forgets the replies below')
  t.match(await apply(incr(2)), [/superseded/], 'a retry below the ack is refused, not applied')
  t.same(await apply(one({ t: 'incr', key: b('n'), by: '1' }, { client: 'c2', seq: 1 })), [6], 'another client has its own session')
})

t.test('transactions: reads and writes in one step, KEYS sees the batch', async (t) => {
  const { m, apply } = await setup(t)
  await apply(one({ t: 'mset', kvs: [b('k1'), b('1'), b('k3'), b('3')] }))
  const tx: WriteOp[] = [
    { t: 'set', key: b('k2'), value: b('2') },
    { t: 'del', keys: [b('k3')] },
    { t: 'get', key: b('k2') },
    { t: 'incr', key: b('k1'), by: '10' },
    { t: 'mget', keys: [b('k1'), b('k2'), b('k3')] },
    { t: 'keys', pattern: b('k*') },
    { t: 'exists', keys: [b('k1'), b('k1'), b('k3')] },
    { t: 'dbsize' },
  ]
  t.same(await apply({ ops: tx, multi: true }), [['OK', 1, '2', 11, ['11', '2', null], ['k1', 'k2'], 2, 2]])
  const rev = (await m.get(b('k1')))!.rev
  t.same(await apply({ ops: [{ t: 'get', key: b('k1') }], multi: true, watch: [[b('k1'), rev]] }), [['11']], 'WATCH with the current revision')
  t.same(await apply({ ops: [{ t: 'get', key: b('k1') }], multi: true, watch: [[b('k1'), rev - 1]] }), [null], 'WATCH with an old revision: aborted')
  t.same(await apply({ ops: [], multi: true, watch: [[b('missing'), 0]] }), [[]], 'a missing key watched as absent')
})

t.test('key counts: DBSIZE counts stored keys, expired ones until reclaimed', async (t) => {
  const { m, apply } = await setup(t)
  const soon = Date.now() + 150
  await apply(one({ t: 'set', key: b('a'), value: b('1'), expireAt: soon }), one({ t: 'set', key: b('b'), value: b('2') }))
  t.same([m.keyCount, m.expiresCount], [2, 1])
  await new Promise((r) => setTimeout(r, 200))
  t.equal(await m.get(b('a')), undefined, 'expired reads as missing')
  t.same(await apply(one({ t: 'set', key: b('a'), value: b('3') })), ['OK'], 'rewriting an expired key')
  t.same([m.keyCount, m.expiresCount], [2, 0], 'counted once, without its old expiry')
  await apply(one({ t: 'set', key: b('c'), value: b('1'), expireAt: Date.now() + 100 }))
  await new Promise((r) => setTimeout(r, 150))
  t.same(await apply(one({ t: 'del', keys: [b('c'), b('b')] })), [1], 'DEL counts only live keys')
  t.same([m.keyCount, m.expiresCount], [1, 0], 'and reclaims the expired one')
  await m.recount()
  t.same([m.keyCount, m.expiresCount], [1, 0], 'a recount agrees')
  await apply(one({ t: 'flush' }))
  t.same([m.keyCount, await m.get(b('a'))], [0, undefined], 'FLUSHALL')
})

t.test('the record cache follows every write', async (t) => {
  const { m, apply } = await setup(t)
  await apply(one({ t: 'set', key: b('x'), value: b('1') }))
  t.equal(show({ k: 'bulk', v: (await m.get(b('x')))!.value }), '1')
  for (let i = 2; i < 50; i++) {
    await apply(one({ t: 'set', key: b('x'), value: b(String(i)) }))
    t.equal(show({ k: 'bulk', v: (await m.get(b('x')))!.value }), String(i), `after write ${i}`)
  }
  await apply(one({ t: 'flush' }))
  t.equal(await m.get(b('x')), undefined, 'after FLUSHALL')
  t.ok(m.cache.hits > 0, `served from the cache (${m.cache.hits} hits, ${m.cache.misses} misses)`)
})

t.test('INCRBYFLOAT in the machine', async (t) => {
  const { apply } = await setup(t)
  t.same(await apply(one({ t: 'incrf', key: b('f'), by: '0.1' }), one({ t: 'incrf', key: b('f'), by: '0.2' })), ['0.1', '0.3'])
  t.match(await apply(one({ t: 'incrf', key: b('f'), by: 'inf' })), [/NaN or Infinity/])
})
