import t, { type Test } from 'tap'
import { RaftStorage, StorageFailedError } from '../../src/storage/index.ts'
import { logKey } from '../../src/storage/codec.ts'
import { dec, enc, entries, meta, shape, tempDir } from './fixtures/helpers.ts'

async function reopen(dir: string) {
  const s = await RaftStorage.open(dir)
  return { s, st: await s.load() }
}

t.test('a fresh directory loads as a fresh, empty state', async (t) => {
  const { s, st } = await reopen(tempDir(t))
  t.same(st, { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: { index: 0, term: 0, conf: { voters: [], learners: [] } }, entries: [], applied: 0, fresh: true })
  await s.close()
})

t.test('entries, hard state and snapshot meta round-trip across close/reopen', async (t) => {
  const dir = tempDir(t)
  let { s } = await reopen(dir)
  const es = [...entries(1, 3, 1), { index: 4, term: 2, type: 1 as const, data: new Uint8Array([0, 255, 7]) }, { index: 5, term: 2, type: 0 as const, data: new Uint8Array(0) }]
  await s.persist({ entries: es, hardState: { term: 2, vote: 3, commit: 4 }, snapshot: null })
  await s.close()
  let st
  ;({ s, st } = await reopen(dir))
  t.equal(st.fresh, false)
  t.same(st.hardState, { term: 2, vote: 3, commit: 4 })
  t.same(shape(st.entries), ['1/1', '2/1', '3/1', '4/2', '5/2'])
  t.same(st.entries.map((e) => e.type), [0, 0, 0, 1, 0])
  t.same([...st.entries[3]!.data], [0, 255, 7])
  t.equal(st.entries[4]!.data.length, 0)
  t.equal(dec(st.entries[0]!.data), 'entry 1 term 1')
  t.same(s.bounds, { snapshotIndex: 0, snapshotTerm: 0, lastIndex: 5, lastTerm: 2 })

  // hard state alone (a vote), then the snapshot meta via compact
  await s.persist({ entries: [], hardState: { term: 3, vote: 2, commit: 4 }, snapshot: null })
  await s.applyBatch().write(4)
  await s.compact(meta(3, 1))
  await s.close()
  ;({ s, st } = await reopen(dir))
  t.same(st.hardState, { term: 3, vote: 2, commit: 4 })
  t.same(st.snapshot, meta(3, 1))
  t.same(shape(st.entries), ['4/2', '5/2'])
  t.equal(st.applied, 4)
  await s.close()
})

t.test('truncating a conflicting suffix is durable', async (t) => {
  const dir = tempDir(t)
  let { s } = await reopen(dir)
  await s.persist({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 3 }, snapshot: null })
  // a new leader in term 2 overwrites from index 5 with only two entries: 7..10 must go
  await s.persist({ entries: entries(5, 2, 2), hardState: { term: 2, vote: 0, commit: 3 }, snapshot: null })
  t.same(s.bounds, { snapshotIndex: 0, snapshotTerm: 0, lastIndex: 6, lastTerm: 2 })
  await s.close()
  let st
  ;({ s, st } = await reopen(dir))
  t.same(shape(st.entries), ['1/1', '2/1', '3/1', '4/1', '5/2', '6/2'])
  t.equal(dec(st.entries[4]!.data), 'entry 5 term 2')
  t.equal(await s.sublevels.log.get(logKey(7)), undefined, 'stale record 7 deleted')
  // the in-memory last index was restored by load: appending continues at 7
  await s.persist({ entries: entries(7, 1, 2), hardState: null, snapshot: null })
  await s.close()
  ;({ s, st } = await reopen(dir))
  t.same(shape(st.entries).slice(-2), ['6/2', '7/2'])
  await s.close()
})

t.test('compaction below a snapshot is durable', async (t) => {
  const dir = tempDir(t)
  let { s } = await reopen(dir)
  await s.persist({ entries: entries(1, 20, 1), hardState: { term: 1, vote: 1, commit: 15 }, snapshot: null })
  const b = s.applyBatch()
  b.put(enc('k'), enc('v'))
  await b.write(15)
  await s.compact(meta(12, 1))
  await s.compact(meta(10, 1)) // older than the stored one: a no-op
  await s.close()
  let st
  ;({ s, st } = await reopen(dir))
  t.same(st.snapshot, meta(12, 1))
  t.same(shape(st.entries), ['13/1', '14/1', '15/1', '16/1', '17/1', '18/1', '19/1', '20/1'])
  for (let i = 1; i <= 12; i++) t.equal(await s.sublevels.log.get(logKey(i)), undefined, `record ${i} deleted`)
  // compacting the whole log leaves the snapshot as the tail
  await s.compact(meta(15, 1)).catch((e: unknown) => t.fail(String(e)))
  await s.persist({ entries: [], hardState: { term: 1, vote: 1, commit: 20 }, snapshot: null })
  await s.applyBatch().write(20)
  await s.compact(meta(20, 1))
  await s.close()
  ;({ s, st } = await reopen(dir))
  t.same(st.entries, [])
  t.same(s.bounds, { snapshotIndex: 20, snapshotTerm: 1, lastIndex: 20, lastTerm: 1 })
  await s.persist({ entries: entries(21, 2, 2), hardState: { term: 2, vote: 1, commit: 20 }, snapshot: null })
  await s.close()
  ;({ s, st } = await reopen(dir))
  t.same(shape(st.entries), ['21/2', '22/2'])
  await s.close()
})

t.test('compact refuses what is not applied, and a wrong term', async (t) => {
  const { s } = await reopen(tempDir(t))
  await s.persist({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 }, snapshot: null })
  await t.rejects(s.compact(meta(3, 1)), /not applied/)
  await s.applyBatch().write(5)
  await t.rejects(s.compact(meta(3, 2)), /has term 1, not 2/)
  await s.close()
})

t.test('persist with a snapshot and entries in one batch', async (t) => {
  const dir = tempDir(t)
  let { s } = await reopen(dir)
  await s.persist({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 2 }, snapshot: null })
  // the snapshot's data arrives first (writer → finish records the meta and applied index)
  const w = await s.snapshotWriter(meta(50, 3))
  const src = await makeSnapshotChunks(t, 50, 3)
  for (const c of src) await w.write(c)
  await w.finish()
  t.same(s.bounds, { snapshotIndex: 50, snapshotTerm: 3, lastIndex: 50, lastTerm: 3 }, 'the old log (no match at 50) is gone')
  // then the Ready that carried it: snapshot + the entries after it + hard state, one batch
  const before = s.stats().fsyncs
  await s.persist({ entries: entries(51, 3, 3), hardState: { term: 3, vote: 0, commit: 50 }, snapshot: meta(50, 3) })
  t.equal(s.stats().fsyncs, before + 1)
  await s.close()
  let st
  ;({ s, st } = await reopen(dir))
  t.same(st.snapshot, meta(50, 3))
  t.same(shape(st.entries), ['51/3', '52/3', '53/3'])
  t.equal(st.applied, 50)
  t.same(st.hardState, { term: 3, vote: 0, commit: 50 })
  t.equal(dec((await s.kv.get(enc('snap-key')))!), 'from snapshot 50')
  await s.close()
})

t.test('a snapshot that matches the log keeps the suffix; persist refuses an uninstalled snapshot', async (t) => {
  const dir = tempDir(t)
  let { s } = await reopen(dir)
  await s.persist({ entries: entries(1, 10, 2), hardState: { term: 2, vote: 1, commit: 4 }, snapshot: null })
  await t.rejects(s.persist({ entries: [], hardState: null, snapshot: meta(6, 2) }), /not installed/)
  const w = await s.snapshotWriter(meta(6, 2))
  for (const c of await makeSnapshotChunks(t, 6, 2)) await w.write(c)
  await w.finish()
  t.same(s.bounds, { snapshotIndex: 6, snapshotTerm: 2, lastIndex: 10, lastTerm: 2 })
  await s.persist({ entries: [], hardState: { term: 2, vote: 1, commit: 6 }, snapshot: meta(6, 2) })
  await s.close()
  let st
  ;({ s, st } = await reopen(dir))
  t.same(shape(st.entries), ['7/2', '8/2', '9/2', '10/2'])
  await s.close()
})

t.test('group commit: one persist() is one batch with sync: true', async (t) => {
  const { s } = await reopen(tempDir(t))
  const calls: Array<{ ops: number; sync: boolean | undefined }> = []
  const db = s.db
  const original = db.batch.bind(db)
  // Spy on the root handle: every write the storage makes is one chained batch, db.batch() then
  // write(options). Record each batch's size and its sync option.
  const spy = () => {
    const b = original()
    const write = b.write.bind(b)
    Object.assign(b, {
      write: (options: { sync?: boolean }) => {
        calls.push({ ops: b.length, sync: options.sync })
        return write(options)
      },
    })
    return b
  }
  Object.assign(db, { batch: spy })
  t.teardown(() => Object.assign(db, { batch: original }))

  const before = s.stats().fsyncs
  await s.persist({ entries: entries(1, 64, 1), hardState: { term: 1, vote: 1, commit: 0 }, snapshot: null })
  t.same(calls, [{ ops: 64 + 2, sync: true }], '64 entries + hard state + log tail in one synced batch')
  t.equal(s.stats().fsyncs, before + 1)
  t.equal(s.stats().entriesPersisted, 64)
  t.ok(s.stats().fsyncMeanMs > 0)

  calls.length = 0
  await s.persist({ entries: [], hardState: null, snapshot: null })
  t.same(calls, [], 'nothing to persist: no write at all')

  const b = s.applyBatch()
  b.put(enc('a'), enc('1')).put(enc('b'), enc('2')).del(enc('c'))
  await b.write(10)
  t.equal(calls.length, 1)
  t.equal(calls[0]!.sync, false, 'apply batches are not synced by default')
  await s.close()
})

t.test('persist validates its input', async (t) => {
  const { s } = await reopen(tempDir(t))
  await s.persist({ entries: entries(1, 5, 2), hardState: { term: 2, vote: 1, commit: 0 }, snapshot: null })
  await t.rejects(s.persist({ entries: entries(7, 1, 2), hardState: null, snapshot: null }), /entries start at 7/, 'a gap')
  await t.rejects(s.persist({ entries: entries(6, 1, 1), hardState: null, snapshot: null }), /below the previous entry's term/)
  await t.rejects(s.persist({ entries: [...entries(6, 1, 2), ...entries(8, 1, 2)], hardState: null, snapshot: null }), /not contiguous/)
  // states load() would refuse are refused before they are written
  await s.persist({ entries: [], hardState: { term: 2, vote: 1, commit: 4 }, snapshot: null })
  await t.rejects(s.persist({ entries: entries(3, 1, 3), hardState: { term: 3, vote: 1, commit: 4 }, snapshot: null }), /commit 4 would be beyond the last entry 3/)
  await t.rejects(s.persist({ entries: entries(6, 1, 3), hardState: null, snapshot: null }), /entry term 3 is above the current term 2/)
  // the failed calls changed nothing
  await s.persist({ entries: entries(6, 1, 2), hardState: null, snapshot: null })
  t.same(s.bounds.lastIndex, 6)
  await s.close()
})

t.test('an apply batch writes kv changes and the applied index atomically', async (t) => {
  const dir = tempDir(t)
  let { s } = await reopen(dir)
  await s.persist({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 }, snapshot: null })
  const b = s.applyBatch()
  b.put(enc('x'), enc('1'))
  b.put(enc('y'), enc('2'))
  await b.write(3)
  const b2 = s.applyBatch()
  b2.del(enc('x'))
  b2.put(enc('z'), enc('3'))
  await b2.write(5)
  await t.rejects(s.applyBatch().write(4), /below the applied index/)
  await t.rejects(s.applyBatch().write(6), /beyond the durable log/)
  await s.close()
  let st
  ;({ s, st } = await reopen(dir))
  t.equal(st.applied, 5)
  const kv: string[] = []
  for await (const [k, v] of s.kv.iterator()) kv.push(`${dec(k)}=${dec(v)}`)
  t.same(kv, ['y=2', 'z=3'])
  t.equal(s.appliedIndex, 5)
  // exactly one journal record remains
  t.equal((await s.sublevels.applied.keys().all()).length, 1)
  await s.close()
})

t.test('writes need load(); a failed write makes the storage refuse further writes', async (t) => {
  const dir = tempDir(t)
  const s = await RaftStorage.open(dir)
  await t.rejects(s.persist({ entries: entries(1, 1, 1), hardState: null, snapshot: null }), /call load\(\)/)
  await s.load()
  const db = s.db
  const original = db.batch.bind(db)
  Object.assign(db, {
    batch: () => {
      const b = original()
      return Object.assign(b, { write: () => b.close().then(() => Promise.reject(new Error('EIO: simulated fsync failure'))) })
    },
  })
  await t.rejects(s.persist({ entries: entries(1, 1, 1), hardState: { term: 1, vote: 0, commit: 0 }, snapshot: null }), /EIO/)
  Object.assign(db, { batch: original })
  await t.rejects(s.persist({ entries: entries(1, 1, 1), hardState: null, snapshot: null }), StorageFailedError)
  await s.close()
})

/** Chunks of a tiny snapshot at (index, term) containing one key, made in a scratch storage. */
async function makeSnapshotChunks(t: Test, index: number, term: number): Promise<Uint8Array[]> {
  const src = await RaftStorage.open(tempDir(t))
  await src.load()
  await src.persist({ entries: entries(1, index, term), hardState: { term, vote: 1, commit: index }, snapshot: null })
  const b = src.applyBatch()
  b.put(enc('snap-key'), enc(`from snapshot ${index}`))
  await b.write(index)
  const source = await src.snapshotSource()
  t.equal(source.index, index)
  t.equal(source.term, term)
  const out: Uint8Array[] = []
  for await (const c of source.chunks()) out.push(c)
  await src.close()
  return out
}
