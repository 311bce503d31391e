// bench/storage: durable persist throughput and sync-write latency of src/storage on this disk.
// Each persist() is one Ready's worth: `batch` entries of `size` bytes plus the hard state, in one
// LevelDB batch written with sync: true (one WAL fsync). Persists run back to back, one at a time,
// as the node's run loop issues them. Optionally an apply batch per persist (--apply 1) and a
// compaction every 10,000 entries, as a node would do.
//
//   npx tsx bench/storage.ts [--seconds 5] [--batch 64] [--size 128] [--apply 0] [--dir /path]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Entry } from '../src/raft/types.ts'
import { RaftStorage } from '../src/storage/index.ts'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
function argStr(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const seconds = arg('seconds', 5)
const batch = arg('batch', 64)
const size = arg('size', 128)
const withApply = arg('apply', 0) === 1
const parent = argStr('dir') ?? tmpdir()
const dir = mkdtempSync(join(parent, 'raftkv-bench-storage-'))

const syncMs: number[] = []
const s = await RaftStorage.open(dir, { onSyncWrite: (ms) => syncMs.push(ms) })
await s.load()
const payload = new Uint8Array(size).fill(0x61)
const persistMs: number[] = []
let next = 1
let term = 1
const t0 = performance.now()
const end = t0 + seconds * 1000
while (performance.now() < end) {
  const es: Entry[] = []
  for (let i = 0; i < batch; i++) es.push({ index: next + i, term, type: 0, data: payload })
  const p0 = performance.now()
  await s.persist({ entries: es, hardState: { term, vote: 1, commit: next - 1 }, snapshot: null })
  persistMs.push(performance.now() - p0)
  next += batch
  if (withApply) {
    const b = s.applyBatch()
    for (const e of es) b.put(new TextEncoder().encode(`k${e.index % 10000}`), e.data)
    await b.write(next - 1)
    if (Math.floor((next - 1) / 10000) > Math.floor((next - 1 - batch) / 10000)) {
      await s.compact({ index: next - 1 - batch, term, conf: { voters: [1], learners: [] } })
    }
  }
}
const elapsed = (performance.now() - t0) / 1000
const entries = next - 1
const st = s.stats()
await s.close()
rmSync(dir, { recursive: true, force: true })

function pct(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const f = (n: number) => n.toFixed(3)
console.log(`storage bench: ${parent} (${seconds}s, ${batch} entries x ${size} B per persist${withApply ? ', + apply batch, compaction every 10k' : ''})`)
console.log(`  persists:        ${persistMs.length} (${(persistMs.length / elapsed).toFixed(0)}/s)`)
console.log(`  entries:         ${entries} (${(entries / elapsed).toFixed(0)} entries/s, ${((entries * size) / elapsed / 1048576).toFixed(1)} MiB/s payload)`)
console.log(`  sync write ms:   p50 ${f(pct(syncMs, 50))}  p90 ${f(pct(syncMs, 90))}  p99 ${f(pct(syncMs, 99))}  max ${f(st.fsyncMaxMs)}  mean ${f(st.fsyncMeanMs)}  (n=${st.fsyncs})`)
console.log(`  persist() ms:    p50 ${f(pct(persistMs, 50))}  p99 ${f(pct(persistMs, 99))}`)
