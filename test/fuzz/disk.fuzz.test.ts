// Bit flips in the files LevelDB keeps on disk (its write-ahead .log, the .ldb tables, MANIFEST):
// a node reopening a damaged store must either report the damage or load exactly what was
// written — never different entries, hard state or KV values. (A flip that LevelDB's own checksums
// catch may also surface as an open/load error; both count as detected.) FUZZ_RUNS sets how many
// damaged stores are tried (each one is a fresh store: this path is slower per input).
import { cpSync, readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { dataKey, decodeRec, encodeRec, TYPE_STRING as TYPE } from '../../src/kv/record.ts'
import { RaftStorage } from '../../src/storage/index.ts'
import { enc, entries, tempDir } from '../storage/fixtures/helpers.ts'
import { FUZZ_SEED } from './support.ts'

/** Damaged stores are much slower than packets: a tenth of FUZZ_RUNS, at least 30. */
const RUNS = Math.max(30, Math.floor(Number(process.env['FUZZ_RUNS'] ?? 300) / 10))

interface Loaded {
  log: string[]
  hard: string
  kv: string[]
}

async function loadAll(dir: string): Promise<Loaded> {
  const s = await RaftStorage.open(dir)
  try {
    const st = await s.load()
    const kv: string[] = []
    for (let i = 0; i < 20; i++) {
      // Through the KV machine's record decoder, which checks each record's CRC (throws if bad).
      const key = dataKey(enc(`key-${i}`))
      const v = await s.kv.get(key)
      kv.push(v === undefined ? '-' : Buffer.from(decodeRec(key, v).value).toString('hex'))
    }
    return { log: st.entries.map((e) => `${e.index}/${e.term}/${Buffer.from(e.data).toString('hex')}`), hard: JSON.stringify(st.hardState), kv }
  } finally {
    await s.close()
  }
}

async function campaign(t: Test, which: RegExp, crashed: boolean): Promise<void> {
  // One pristine store (log, hard state, applied KV records), copied for every damaged run:
  // either closed cleanly (everything compacted into tables) or copied while open, as a crash
  // leaves it (the recent writes only in LevelDB's write-ahead .log).
  const pristine = tempDir(t, 'raftkv-fuzz-disk-')
  const s = await RaftStorage.open(pristine)
  await s.load()
  await s.persist({ entries: [...entries(1, 30, 1), ...entries(31, 30, 2)], hardState: { term: 2, vote: 1, commit: 50 }, snapshot: null })
  // A crash image taken between the persist and the apply batch: a state a crash can leave, so
  // loading it is harmless (the node re-applies the committed entries from its log).
  const beforeApply = tempDir(t, 'raftkv-fuzz-disk-before-apply-')
  if (crashed) cpSync(pristine, beforeApply, { recursive: true })
  const b = s.applyBatch()
  for (let i = 0; i < 20; i++) {
    const key = dataKey(enc(`key-${i}`))
    b.put(key, encodeRec(key, { type: TYPE, value: enc(`value-${i}-${'x'.repeat(i * 7)}`), rev: i + 1, expireAt: 0 }))
  }
  await b.write(40)
  let source = pristine
  if (crashed) {
    source = tempDir(t, 'raftkv-fuzz-disk-crashed-')
    cpSync(pristine, source, { recursive: true })
  }
  await s.close()
  const want = await loadAll(crashed ? copyOf(t, source) : pristine)
  const alsoHarmless = crashed ? JSON.stringify(await loadAll(copyOf(t, beforeApply))) : null
  const files = readdirSync(source).filter((f) => which.test(f) && statSync(join(source, f)).size > 0)
  t.ok(files.length > 0, `damageable files: ${files.join(', ')}`)

  const outcomes = { detected: 0, identical: 0, lastApplyBatchLost: 0 }
  const silent: string[] = []
  const work = tempDir(t, 'raftkv-fuzz-disk-work-')
  let run = 0
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...files), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3 }), async (file, flips) => {
      const dir = join(work, `r${run++}`)
      cpSync(source, dir, { recursive: true })
      const p = join(dir, file)
      const bytes = readFileSync(p)
      for (const [at, bit] of flips) bytes[at % bytes.length]! ^= 1 << bit
      writeFileSync(p, bytes)
      let got: Loaded
      try {
        got = await loadAll(dir)
      } catch {
        outcomes.detected++
        return true
      }
      if (JSON.stringify(got) === JSON.stringify(want)) {
        outcomes.identical++
        return true
      }
      // LevelDB dropped the last record (the apply batch) as if a crash had torn it: the state
      // before that batch, which a crash can leave too. (A dropped *persist* batch is not this.)
      if (alsoHarmless !== null && JSON.stringify(got) === alsoHarmless) {
        outcomes.lastApplyBatchLost++
        return true
      }
      silent.push(`${file} flips ${JSON.stringify(flips)}: log ${got.log.length}/${want.log.length} entries, hard ${got.hard}, kv differs at ${got.kv.findIndex((v, i) => v !== want.kv[i])}`)
      return false
    }),
    { numRuns: RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
  ).catch((e: unknown) => t.fail(`silently used damaged data: ${silent[0] ?? ''}\n${(e as Error).message.split('\n').slice(0, 4).join('\n')}`))
  t.comment(`outcomes: ${JSON.stringify(outcomes)}`)
  t.ok(outcomes.detected > 0, 'some damage was detected (the property is not vacuous)')
}

/** A throwaway copy (loading a store writes to it). */
function copyOf(t: Test, dir: string): string {
  const d = tempDir(t, 'raftkv-fuzz-disk-copy-')
  cpSync(dir, d, { recursive: true })
  return d
}

t.test('bit flips in the write-ahead log (.log) of a crashed store are detected or harmless', (t) => campaign(t, /\.log$/, true))

// LevelDB verifies table blocks' checksums only when a read asks (ReadOptions.verify_checksums),
// which classic-level does not expose: a flipped bit in an .ldb table used to be read as good — a
// store once reopened empty (term 0, no vote), a node that forgets its vote. The storage now checks
// every table block's CRC before LevelDB opens (src/storage/table-check.ts).
t.test('bit flips in table files (.ldb, MANIFEST) of a closed store are detected or harmless', (t) => campaign(t, /\.ldb$|^MANIFEST/, false))
