// The cluster's own log entries (src/cluster/record.ts) pass through the state machine beside KV
// requests: the target record is stored durably in the same apply batch, read back after a
// restart, invisible to the keyspace, and a malformed cluster entry is an error reply that changes
// nothing — the same on every replica.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { KvMachine } from '../../src/kv/machine.ts'
import { encodeRequest } from '../../src/kv/request.ts'
import { CLUSTER_MAGIC, encodeClusterEntry, type TargetRecord } from '../../src/cluster/record.ts'
import { ClusterStateMachine } from '../../src/cluster/statemachine.ts'
import type { Entry } from '../../src/raft/types.ts'
import { RaftStorage } from '../../src/storage/index.ts'

async function open(dir: string): Promise<{ s: RaftStorage; kv: KvMachine; sm: ClusterStateMachine }> {
  const s = await RaftStorage.open(dir)
  await s.load()
  const kv = new KvMachine(s)
  await kv.recount()
  return { s, kv, sm: new ClusterStateMachine(kv, s) }
}

t.test('target records beside KV writes, across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-cluster-sm-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let { s, kv, sm } = await open(dir)
  let index = 0
  const apply = async (datas: Uint8Array[]): Promise<string[]> => {
    const es: Entry[] = datas.map((data) => ({ term: 1, index: ++index, type: 0, data }))
    await s.persist({ entries: es, hardState: { term: 1, vote: 1, commit: index }, snapshot: null })
    const batch = s.applyBatch()
    const out = await sm.apply(es, batch)
    await batch.write(index)
    return out.map((r) => `${r.k}:${r.k === 'status' || r.k === 'error' ? r.v : ''}`)
  }
  const set = (k: string, v: string): Uint8Array => encodeRequest({ now: Date.now(), ops: [{ t: 'set', key: Buffer.from(k), value: Buffer.from(v) }] })
  const rec = (target: number, op: number): TargetRecord => ({ target, op, by: 1, at: 1_700_000_000_000, from: 3 })

  t.equal(await sm.target(), null, 'no target before any request')
  let seen: TargetRecord | null = null
  sm.onTarget = (r) => {
    seen = r
  }
  const replies = await apply([set('a', '1'), encodeClusterEntry({ kind: 'target', record: rec(5, 1) }), set('b', '2'), encodeClusterEntry({ kind: 'barrier', note: 'x' })])
  t.same(replies, ['status:OK', 'status:OK', 'status:OK', 'status:OK'], 'every entry answered in order')
  t.same(await sm.target(), rec(5, 1), 'the target is stored')
  await new Promise((r) => setImmediate(r))
  t.same(seen, rec(5, 1), 'and announced once applied')
  t.equal(kv.keyCount, 2, 'the keyspace holds only the two keys')

  const bad = Uint8Array.of(CLUSTER_MAGIC, 0x7b)
  const r2 = await apply([bad, encodeClusterEntry({ kind: 'target', record: rec(7, 2) })])
  t.match(r2[0], /^error:ERR bad cluster entry/, 'a malformed cluster entry is an error reply')
  t.same(await sm.target(), rec(7, 2), 'the last record wins')

  await s.close()
  ;({ s, kv, sm } = await open(dir))
  t.same(await sm.target(), rec(7, 2), 'the target survives a restart')
  t.equal(kv.keyCount, 2, 'and is no key after it either')
  await s.close()
})
