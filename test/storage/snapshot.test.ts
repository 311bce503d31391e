import t from 'tap'
import { RaftStorage, SnapshotChunkError, type SnapshotSource } from '../../src/storage/index.ts'
import { CHUNK_HEADER } from '../../src/storage/snapshot-stream.ts'
import { dec, enc, entries, meta, tempDir } from './fixtures/helpers.ts'

const N = 50_000
const CHUNK = 256 * 1024

/** A storage whose KV data holds `n` pairs (applied at index 10, term 2). */
async function source(dir: string, n: number, tag: string): Promise<RaftStorage> {
  const s = await RaftStorage.open(dir)
  await s.load()
  await s.persist({ entries: entries(1, 10, 2), hardState: { term: 2, vote: 1, commit: 10 }, snapshot: null })
  let b = s.applyBatch()
  for (let i = 0; i < n; i++) {
    b.put(enc(`key:${String(i).padStart(6, '0')}`), enc(`${tag} value ${i} `.repeat(1 + (i % 5))))
    if (b.length === 5000) {
      await b.write(5)
      b = s.applyBatch()
    }
  }
  await b.write(10)
  return s
}

async function collect(src: SnapshotSource): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of src.chunks()) out.push(c)
  return out
}

async function dump(s: RaftStorage): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of s.kv.iterator()) out.push(`${dec(k)}=${dec(v)}`)
  return out
}

t.test('50,000 pairs stream out in bounded chunks and into a second storage', async (t) => {
  const a = await source(tempDir(t), N, 'a')
  const src = await a.snapshotSource({ chunkBytes: CHUNK })
  t.equal(src.index, 10)
  t.equal(src.term, 2)
  // writes after the source was opened are not in it (LevelDB snapshot)
  const late = a.applyBatch()
  late.put(enc('key:late'), enc('not in the snapshot'))
  late.del(enc('key:000000'))
  await late.write(10)
  const chunks = await collect(src)
  t.ok(chunks.length > 5, `${chunks.length} chunks`)
  t.ok(chunks.every((c) => c.length <= CHUNK), 'each chunk within the limit')

  // the target has older, different data that the install replaces wholesale
  const b = await source(tempDir(t), 1000, 'b')
  const w = await b.snapshotWriter(meta(10, 2))
  for (const c of chunks) await w.write(c)
  t.equal(w.recordCount, N)
  await w.finish()
  const got = await dump(b)
  t.equal(got.length, N)
  t.equal(got[0], `key:000000=${'a value 0 '}`)
  t.notOk(got.some((x) => x.startsWith('key:late')))
  t.notOk(got.some((x) => x.includes('b value')), 'none of the old data is left')
  t.equal(b.appliedIndex, 10)

  // durable, and the old generation is gone from disk after reopen's sweep
  const dir = b.dir
  await b.close()
  const b2 = await RaftStorage.open(dir)
  const st = await b2.load()
  t.same(st.snapshot, meta(10, 2))
  t.equal(st.applied, 10)
  t.equal((await dump(b2)).length, N)
  let all = 0
  for await (const _ of b2.db.keys({ gte: enc('!kv-'), lt: enc('!kv.') })) all++
  t.equal(all, N, 'only the live generation remains')
  await b2.close()
  await a.close()
})

t.test('a corrupted, reordered or foreign chunk is rejected and the old contents stay', async (t) => {
  const a = await source(tempDir(t), 5000, 'a')
  const chunks = await collect(await a.snapshotSource({ chunkBytes: 16 * 1024 }))
  t.ok(chunks.length > 3)
  await a.close()
  const b = await source(tempDir(t), 100, 'b')
  const before = await dump(b)

  const cases: Array<[string, (w: Awaited<ReturnType<RaftStorage['snapshotWriter']>>) => Promise<void>, RegExp]> = [
    [
      'flipped byte',
      async (w) => {
        await w.write(chunks[0]!)
        const bad = new Uint8Array(chunks[1]!)
        bad[CHUNK_HEADER + 100]! ^= 0x04
        await w.write(bad)
      },
      /chunk 1: checksum mismatch/,
    ],
    ['out of order', (w) => w.write(chunks[1]!), /chunk 0: out of order: got chunk 1/],
    [
      'truncated stream',
      async (w) => {
        for (const c of chunks.slice(0, -1)) await w.write(c)
        await w.finish()
      },
      /stream ended before the last chunk/,
    ],
    [
      'duplicate',
      async (w) => {
        await w.write(chunks[0]!)
        await w.write(chunks[0]!)
      },
      /chunk 1: out of order: got chunk 0/,
    ],
  ]
  for (const [name, run, msg] of cases) {
    const w = await b.snapshotWriter(meta(10, 2))
    await t.rejects(run(w), msg, name)
    await w.abort()
    t.same(await dump(b), before, `${name}: old contents intact`)
  }
  // a chunk of another snapshot (same data, different index)
  const w = await b.snapshotWriter(meta(11, 2))
  await t.rejects(w.write(chunks[0]!), SnapshotChunkError)
  await w.abort()
  t.equal(b.appliedIndex, 10)
  let all = 0
  for await (const _ of b.db.keys({ gte: enc('!kv-'), lt: enc('!kv.') })) all++
  t.equal(all, 100, 'aborted staging data was cleared')
  await b.close()
})

t.test('an install interrupted by a crash is swept on the next open', async (t) => {
  const a = await source(tempDir(t), 2000, 'a')
  const chunks = await collect(await a.snapshotSource({ chunkBytes: 8 * 1024 }))
  await a.close()
  const b = await source(tempDir(t), 10, 'b')
  const w = await b.snapshotWriter(meta(10, 2))
  for (const c of chunks.slice(0, 3)) await w.write(c)
  // no finish, no abort: just close (as if the process died)
  await b.close()
  const b2 = await RaftStorage.open(b.dir)
  await b2.load()
  t.equal((await dump(b2)).length, 10, 'live data untouched')
  const w2 = await b2.snapshotWriter(meta(10, 2)) // waits for the sweep, reuses the generation number
  let all = 0
  for await (const _ of b2.db.keys({ gte: enc('!kv-'), lt: enc('!kv.') })) all++
  t.equal(all, 10, 'the half-written generation was swept')
  for (const c of chunks) await w2.write(c)
  await w2.finish()
  t.equal((await dump(b2)).length, 2000)
  await b2.close()
})

t.test('an empty state machine streams as one final chunk', async (t) => {
  const s = await RaftStorage.open(tempDir(t))
  await s.load()
  const chunks = await collect(await s.snapshotSource())
  t.equal(chunks.length, 1)
  t.equal(chunks[0]!.length, CHUNK_HEADER)
  await s.close()
})

t.test('a record larger than the chunk limit travels alone', async (t) => {
  const s = await RaftStorage.open(tempDir(t))
  await s.load()
  await s.persist({ entries: entries(1, 1, 1), hardState: { term: 1, vote: 1, commit: 1 }, snapshot: null })
  const b = s.applyBatch()
  b.put(enc('a'), enc('small'))
  b.put(enc('b'), new Uint8Array(10_000).fill(7))
  b.put(enc('c'), enc('small'))
  await b.write(1)
  const chunks = await collect(await s.snapshotSource({ chunkBytes: 4096 }))
  t.same(
    chunks.map((c) => c.length > 4096),
    [false, true, false],
  )
  await s.close()
})
