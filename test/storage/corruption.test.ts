import { spawn } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CORRUPTION_MARKER, RaftStorage, StorageCorruptionError } from '../../src/storage/index.ts'
import { logKey, META_HARDSTATE, META_LOGTAIL, META_SNAPSHOT, seqKey, encodeApplied } from '../../src/storage/codec.ts'
import { crc32, crc32Table } from '../../src/storage/crc.ts'
import { enc, entries, meta, rng, tempDir, tsChild } from './fixtures/helpers.ts'

/** A storage with entries 1..20 (terms 1 and 2), a snapshot at 5 and applied 8, closed. */
async function build(dir: string): Promise<void> {
  const s = await RaftStorage.open(dir)
  await s.load()
  await s.persist({ entries: [...entries(1, 10, 1), ...entries(11, 10, 2)], hardState: { term: 2, vote: 1, commit: 15 }, snapshot: null })
  const b = s.applyBatch()
  b.put(enc('k'), enc('v'))
  await b.write(8)
  await s.compact(meta(5, 1))
  await s.close()
}

/** Opens `dir`, lets `damage` write through the raw handles, then reopens and loads. */
async function damageAndLoad(dir: string, damage: (s: RaftStorage) => Promise<void>): Promise<unknown> {
  const s = await RaftStorage.open(dir)
  await s.load()
  await damage(s)
  await s.close()
  const s2 = await RaftStorage.open(dir)
  try {
    await s2.load()
    return null
  } catch (e) {
    return e
  } finally {
    await s2.close()
  }
}

function flip(b: Uint8Array, at: number): Uint8Array {
  const c = new Uint8Array(b)
  c[at]! ^= 0x10
  return c
}

t.test('crc32: native and table-driven implementations agree', async (t) => {
  const r = rng(1)
  for (const n of [0, 1, 7, 64, 1000, 65536]) {
    const b = Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
    t.equal(crc32(b), crc32Table(b), `length ${n}`)
    t.equal(crc32(b.subarray(n >> 1), crc32(b.subarray(0, n >> 1))), crc32(b), 'chaining')
  }
  t.equal(crc32Table(enc('123456789')), 0xcbf43926, 'CRC-32 check value')
})

for (const [what, offset] of [
  ['header (term)', 5],
  ['data', 20],
  ['checksum', 15],
] as const) {
  t.test(`a flipped byte in a log record's ${what} is reported with its index`, async (t) => {
    const dir = tempDir(t)
    await build(dir)
    const err = await damageAndLoad(dir, async (s) => {
      const v = (await s.sublevels.log.get(logKey(12)))!
      await s.sublevels.log.put(logKey(12), flip(v, offset))
    })
    t.type(err, StorageCorruptionError)
    const e = err as StorageCorruptionError
    t.equal(e.index, 12)
    t.match(e.message, /log\[12\].*checksum mismatch/)
  })
}

t.test('a damaged last record (torn tail) is corruption, not a shorter log', async (t) => {
  const dir = tempDir(t)
  await build(dir)
  const err = await damageAndLoad(dir, async (s) => {
    const v = (await s.sublevels.log.get(logKey(20)))!
    await s.sublevels.log.put(logKey(20), v.subarray(0, v.length - 3))
  })
  t.type(err, StorageCorruptionError)
  t.match((err as Error).message, /log\[20\]/)
})

t.test('a vanished tail is detected through the log tail record', async (t) => {
  const dir = tempDir(t)
  await build(dir)
  const err = await damageAndLoad(dir, async (s) => {
    await s.sublevels.log.del(logKey(20))
    await s.sublevels.log.del(logKey(19))
  })
  t.type(err, StorageCorruptionError)
  t.match((err as Error).message, /entries 19\.\.20 are missing/)
})

t.test('a gap in the log is reported', async (t) => {
  const dir = tempDir(t)
  await build(dir)
  const err = await damageAndLoad(dir, (s) => s.sublevels.log.del(logKey(13)))
  t.type(err, StorageCorruptionError)
  t.equal((err as StorageCorruptionError).index, 13)
  t.match((err as Error).message, /gap: entries 13\.\.13 are missing/)
})

t.test('a record moved to another key fails its checksum (the key is covered)', async (t) => {
  const dir = tempDir(t)
  await build(dir)
  const err = await damageAndLoad(dir, async (s) => {
    const v = (await s.sublevels.log.get(logKey(14)))!
    await s.sublevels.log.put(logKey(13), v)
  })
  t.match((err as Error).message, /log\[13\].*checksum/)
})

t.test('decreasing terms and leftovers below the snapshot are reported', async (t) => {
  const dir = tempDir(t)
  await build(dir)
  // a validly-checksummed record with a lower term, written as if by a buggy writer
  const { encodeEntry } = await import('../../src/storage/codec.ts')
  let err = await damageAndLoad(dir, async (s) => {
    const { key, value } = encodeEntry({ index: 12, term: 1, type: 0, data: enc('x') })
    await s.sublevels.log.put(key, value)
  })
  t.match((err as Error).message, /log\[12\]: term 1 is lower than the term 2 of index 11/)
  const dir2 = tempDir(t)
  await build(dir2)
  err = await damageAndLoad(dir2, async (s) => {
    const { key, value } = encodeEntry({ index: 3, term: 1, type: 0, data: enc('x') })
    await s.sublevels.log.put(key, value)
  })
  t.match((err as Error).message, /log\[3\]: record at or below the snapshot index 5/)
})

t.test('bad hard state, snapshot meta and log tail checksums are reported', async (t) => {
  for (const [key, name] of [
    [META_HARDSTATE, 'hardstate'],
    [META_SNAPSHOT, 'snapshot'],
    [META_LOGTAIL, 'logtail'],
  ] as const) {
    const dir = tempDir(t)
    await build(dir)
    const err = await damageAndLoad(dir, async (s) => {
      const v = (await s.sublevels.meta.get(key))!
      await s.sublevels.meta.put(key, flip(v, 3))
    })
    t.type(err, StorageCorruptionError, name)
    t.match((err as Error).message, new RegExp(`meta/${name}: checksum mismatch`))
  }
})

t.test('a lost hard state is noticed (entries above its term)', async (t) => {
  const dir = tempDir(t)
  await build(dir)
  const err = await damageAndLoad(dir, (s) => s.sublevels.meta.del(META_HARDSTATE))
  t.match((err as Error).message, /entry term 2 is above the current term 0/)
})

t.test('a lost apply batch followed by a surviving one is reported', async (t) => {
  const dir = tempDir(t)
  await build(dir)
  // simulate: batch 1 was journalled, batch 2 lost, batch 3 survived (so record 1 was never deleted)
  const err = await damageAndLoad(dir, async (s) => {
    await s.sublevels.applied.put(seqKey(3), encodeApplied(seqKey(3), 9))
    // the valid journal record (seq 1) stays
  })
  t.match((err as Error).message, /applied: apply journal has records for batches 1, 3/)
})

t.test('LevelDB WAL damage: dropped records are reported, and the refusal is sticky', async (t) => {
  const dir = tempDir(t)
  const s = await RaftStorage.open(dir)
  await s.load()
  for (let i = 0; i < 20; i++) {
    await s.persist({ entries: entries(i * 5 + 1, 5, 1), hardState: { term: 1, vote: 1, commit: i * 5 }, snapshot: null })
  }
  await s.close() // LevelDB leaves the data in its WAL (.log) until the next open
  const wal = readdirSync(dir).find((f) => f.endsWith('.log'))!
  const b = readFileSync(join(dir, wal))
  b[Math.floor(b.length * 0.6)]! ^= 0x01
  writeFileSync(join(dir, wal), b)
  await t.rejects(RaftStorage.open(dir), { name: 'StorageCorruptionError', message: /dropping \d+ bytes/ })
  t.ok(existsSync(join(dir, CORRUPTION_MARKER)))
  // LevelDB has "recovered" by now (the WAL is gone): without the marker this open would look clean
  await t.rejects(RaftStorage.open(dir), { name: 'StorageCorruptionError', message: /earlier open found damage/ })
})

/**
 * Bit flips in the LevelDB files themselves (.log WAL, .ldb tables, MANIFEST), each in a fresh copy.
 * Every outcome must be a LevelDB error (or LevelDB aborting the process), our corruption error, or
 * exactly the original Raft state. The loads run in child processes (see flip-child.ts).
 */
t.test('random bit flips in LevelDB files never yield silently wrong Raft state', async (t) => {
  const base = tempDir(t)
  const s = await RaftStorage.open(base, { writeBufferSize: 64 * 1024 }) // small memtable: several .ldb files
  await s.load()
  let term = 1
  for (let i = 0; i < 60; i++) {
    if (i % 15 === 14) term++
    await s.persist({ entries: entries(i * 20 + 1, 20, term), hardState: { term, vote: 1, commit: i * 20 }, snapshot: null })
    const b = s.applyBatch()
    for (let k = 0; k < 10; k++) b.put(enc(`key-${i}-${k}`), enc(`value ${i} ${k} `.repeat(20)))
    await b.write(i * 20)
    if (i === 40) await s.compact(meta(300, 2)) // index 300 was written at i = 14, in term 2
  }
  await s.close()
  const files = readdirSync(base).filter((f) => /\.(log|ldb)$|^MANIFEST/.test(f))
  t.ok(files.some((f) => f.endsWith('.ldb')) && files.some((f) => f.endsWith('.log')), `files: ${files.join(' ')}`)

  const r = rng(20240601)
  const trials: Array<{ dir: string; file: string; flips: number[] }> = []
  const reference = tempDir(t, 'raftkv-ref-')
  cpSync(base, reference, { recursive: true })
  for (let trial = 0; trial < 150; trial++) {
    const copy = tempDir(t, 'raftkv-flip-')
    cpSync(base, copy, { recursive: true })
    const file = files[Math.floor(r() * files.length)]!
    const bytes = readFileSync(join(copy, file))
    const flips: number[] = []
    for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
      const at = Math.floor(r() * bytes.length)
      bytes[at]! ^= 1 << Math.floor(r() * 8)
      flips.push(at)
    }
    writeFileSync(join(copy, file), bytes)
    trials.push({ dir: copy, file, flips })
  }
  const results = await loadInChildren([reference, ...trials.map((x) => x.dir)])
  const ref = results.get(reference)
  t.equal(ref?.kind, 'state', 'the undamaged copy loads')
  const outcomes: Record<string, number> = {}
  for (const trial of trials) {
    const got = results.get(trial.dir)!
    let outcome: string = got.kind
    if (got.kind === 'state') {
      outcome = got.digest === ref?.digest ? (got.kvDigest === ref?.kvDigest ? 'identical' : 'raft-identical-kv-differs') : 'WRONG'
      if (outcome === 'WRONG') t.fail(`silently wrong state after flipping ${trial.file} at ${trial.flips.join(',')}`)
    }
    const kind = trial.file.replace(/^\d+/, '').replace(/-\d+$/, '')
    outcomes[`${kind}:${outcome}`] = (outcomes[`${kind}:${outcome}`] ?? 0) + 1
  }
  t.comment(`outcomes over ${trials.length} trials: ${JSON.stringify(outcomes)}`)
})

type ChildResult = { kind: 'state' | 'ours' | 'leveldb' | 'crash'; digest?: string; kvDigest?: string; message?: string }

/** Loads every dir in child processes; a child that dies marks its current dir 'crash' and the rest go to a new child. */
async function loadInChildren(dirs: string[]): Promise<Map<string, ChildResult>> {
  const results = new Map<string, ChildResult>()
  let pending = dirs
  while (pending.length > 0) {
    const child = spawn(process.execPath, tsChild('flip-child.ts', ...pending), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', () => undefined)
    await new Promise<void>((resolve) => child.on('close', () => resolve()))
    for (const line of out.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as ChildResult & { dir: string }
      results.set(r.dir, r)
    }
    const rest = pending.filter((d) => !results.has(d))
    if (rest.length > 0) results.set(rest[0]!, { kind: 'crash' }) // the dir it died on
    pending = rest.slice(1)
  }
  return results
}
