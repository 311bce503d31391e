// Regression (found by the disk fuzzer at 100,000 inputs): a crashed store whose state was all in
// LevelDB's write-ahead log lost everything to one flipped bit in the length field of the log's
// last record — LevelDB's reader took the record for a write torn by the crash and dropped it
// silently, and the node loaded as new (term 0, no vote, no log). Now a last record whose data is
// complete and checksums is reported as a damaged length, and a store that once held Raft state
// refuses to load empty, whatever LevelDB lost. A genuinely torn tail still loads what was synced.
import { cpSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { StorageCorruptionError } from '../../src/storage/errors.ts'
import { RaftStorage } from '../../src/storage/index.ts'
import { HELD_DATA_MARKER } from '../../src/storage/raft-storage.ts'
import { LevelDbFileDamage } from '../../src/storage/errors.ts'
import { checkWalTail } from '../../src/storage/wal-tail.ts'
import { entries, tempDir } from './fixtures/helpers.ts'

/** A store as a crash leaves it: copied while open, so its state is only in the .log. */
async function crashed(t: Test, batches: number): Promise<{ dir: string; wal: string }> {
  const live = tempDir(t)
  const s = await RaftStorage.open(live)
  await s.load()
  for (let b = 0; b < batches; b++) await s.persist({ entries: entries(b * 30 + 1, 30, 5), hardState: { term: 5, vote: 2, commit: b * 30 + 20 }, snapshot: null })
  const dir = tempDir(t, 'raftkv-crashed-')
  cpSync(live, dir, { recursive: true })
  await s.close()
  const wal = readdirSync(dir).find((n) => /^\d+\.log$/.test(n))!
  return { dir, wal }
}

t.test('a flipped bit in the last record length is reported, not taken for a torn write', async (t) => {
  const { dir, wal } = await crashed(t, 1)
  const bytes = readFileSync(join(dir, wal))
  t.doesNotThrow(() => checkWalTail(wal, bytes), 'the intact log passes')
  bytes[5] = bytes[5]! ^ (1 << 4) // high byte of the first (and last) record's length
  t.throws(() => checkWalTail(wal, bytes), LevelDbFileDamage, 'the check sees a complete record with a wrong length')
  writeFileSync(join(dir, wal), bytes)
  await t.rejects(RaftStorage.open(dir), StorageCorruptionError, 'open refuses the store')
})

t.test('the same flip with the CRC damaged too: the held-data marker refuses an empty load', async (t) => {
  const { dir, wal } = await crashed(t, 1)
  const bytes = readFileSync(join(dir, wal))
  bytes[5] = bytes[5]! ^ (1 << 4)
  bytes[0] = bytes[0]! ^ 1
  writeFileSync(join(dir, wal), bytes)
  const s = await RaftStorage.open(dir) // LevelDB drops the record as torn; nothing else to see
  t.teardown(() => s.close())
  await t.rejects(s.load(), { name: 'StorageCorruptionError', where: HELD_DATA_MARKER }, 'load refuses to start as a new node')
})

t.test('a genuinely torn last batch still loads what was synced before it', async (t) => {
  const { dir, wal } = await crashed(t, 2)
  const size = readFileSync(join(dir, wal)).length
  truncateSync(join(dir, wal), size - 100) // the second batch cut short, as a crash mid-write leaves it
  const s = await RaftStorage.open(dir)
  t.teardown(() => s.close())
  const st = await s.load()
  t.equal(st.entries.length, 30, 'the first batch is there')
  t.same(st.hardState, { term: 5, vote: 2, commit: 20 }, 'with its hard state')
})
