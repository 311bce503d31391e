// The start-up check of LevelDB's table files: CRC-32C and snappy against known answers, every
// block of real tables written by classic-level verified, and damage anywhere — a data block, the
// index, the footer, a truncated file — reported by file, and refused by RaftStorage.open.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import t, { type Test } from 'tap'
import { crc32c, maskCrc, unmaskCrc } from '../../src/storage/crc32c.ts'
import { StorageCorruptionError } from '../../src/storage/errors.ts'
import { RaftStorage } from '../../src/storage/index.ts'
import { CORRUPTION_MARKER } from '../../src/storage/raft-storage.ts'
import { snappyUncompress } from '../../src/storage/snappy.ts'
import { liveFiles } from '../../src/storage/manifest.ts'
import { LevelDbFileDamage } from '../../src/storage/errors.ts'
import { checkTable, checkTables } from '../../src/storage/table-check.ts'
import { entries, tempDir } from './fixtures/helpers.ts'

t.test('CRC-32C: the standard check value and LevelDB masking', async (t) => {
  t.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283, 'check value of "123456789"')
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa, '32 zero bytes (RFC 3720 B.4)')
  t.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43, '32 0xff bytes (RFC 3720 B.4)')
  const ramp = Uint8Array.from({ length: 32 }, (_, i) => i)
  t.equal(crc32c(ramp), 0x46dd794e, 'ascending bytes (RFC 3720 B.4)')
  for (const c of [0, 1, 0xe3069283, 0xffffffff]) t.equal(unmaskCrc(maskCrc(c)), c, `mask round trip ${c}`)
  t.not(maskCrc(0xe3069283), 0xe3069283, 'masking changes the value')
})

t.test('snappy: literals, copies (overlapping too) and damage', async (t) => {
  // "abcd" literal, then a 1-byte-offset copy of 8 bytes from 4 back: "abcdabcdabcd".
  const ok = Uint8Array.from([12, 3 << 2, 0x61, 0x62, 0x63, 0x64, 0x01 | ((8 - 4) << 2), 4])
  t.equal(new TextDecoder().decode(snappyUncompress(ok)), 'abcdabcdabcd')
  // One-byte literal then a 2-byte-offset copy of 5 repeating it: "aaaaaa".
  const run = Uint8Array.from([6, 0, 0x61, 0x02 | ((5 - 1) << 2), 1, 0])
  t.equal(new TextDecoder().decode(snappyUncompress(run)), 'aaaaaa')
  t.throws(() => snappyUncompress(Uint8Array.from([12, 3 << 2, 0x61])), /literal overruns/, 'truncated literal')
  t.throws(() => snappyUncompress(Uint8Array.from([4, 0x01, 9])), /copy out of range/, 'copy before the start')
  t.throws(() => snappyUncompress(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x7f])), /implausible|bad length/, 'huge length header')
  t.throws(() => snappyUncompress(Uint8Array.from([5, 0, 0x61])), /1 bytes decoded, header says 5/, 'short output')
})

/** A closed classic-level store with several tables (small write buffer), compressed or not. */
async function store(t: Test, compression: boolean): Promise<string> {
  const dir = tempDir(t, 'raftkv-tables-')
  const db = new ClassicLevel<string, string>(dir, { writeBufferSize: 64 << 10, compression })
  await db.open()
  for (let b = 0; b < 8; b++) {
    await db.batch(Array.from({ length: 500 }, (_, i) => ({ type: 'put' as const, key: `k${String(b * 500 + i).padStart(6, '0')}`, value: `value ${b * 500 + i} `.repeat(8) })))
  }
  await db.compactRange('k', 'l')
  await db.close()
  return dir
}

function tables(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.ldb')).sort()
}

for (const compression of [true, false]) {
  t.test(`real tables (${compression ? 'snappy' : 'uncompressed'}): all blocks verify; any damaged block is reported`, async (t) => {
    const dir = await store(t, compression)
    const names = tables(dir)
    t.ok(names.length > 0, `tables: ${names.join(', ')}`)
    const good = await checkTables(dir)
    t.ok(good.blocks > names.length * 3, `${good.blocks} blocks in ${good.tables} tables verify`)
    const name = names[0]!
    const path = join(dir, name)
    const pristine = readFileSync(path)
    const size = statSync(path).size
    // Early in the file (a data block), near the end (index block), the footer's magic.
    for (const [what, at] of [['data block', 100], ['index block', size - 48 - 20], ['footer magic', size - 3]] as const) {
      const bad = Buffer.from(pristine)
      bad[at] = bad[at]! ^ 0x10
      t.throws(() => checkTable(name, bad), LevelDbFileDamage, `${what}: a flipped bit is caught`)
    }
    t.throws(() => checkTable(name, pristine.subarray(0, size - 100)), LevelDbFileDamage, 'a truncated table is caught')
    t.throws(() => checkTable(name, pristine.subarray(0, 10)), /shorter than a table footer/, 'a stub is caught')

    const bad = Buffer.from(pristine)
    bad[100] = bad[100]! ^ 0x01
    writeFileSync(path, bad)
    await t.rejects(checkTables(dir), { name: 'LevelDbFileDamage', file: name }, 'the directory scan names the file')
  })
}

t.test('RaftStorage.open refuses a store with a damaged table, and keeps refusing', async (t) => {
  const dir = tempDir(t)
  const s = await RaftStorage.open(dir, { writeBufferSize: 16 << 10 })
  await s.load()
  for (let i = 0; i < 20; i++) await s.persist({ entries: entries(i * 50 + 1, 50, 1), hardState: { term: 1, vote: 1, commit: 0 }, snapshot: null })
  await s.close()
  const name = tables(dir)[0]
  t.ok(name, 'the log reached a table')
  const path = join(dir, name!)
  const bytes = readFileSync(path)
  bytes[50] = bytes[50]! ^ 0x04
  writeFileSync(path, bytes)
  await t.rejects(RaftStorage.open(dir), StorageCorruptionError, 'open fails with a corruption error')
  await t.rejects(RaftStorage.open(dir), /an earlier open found damage/, 'a second start is refused by the marker')
  t.ok(existsSync(join(dir, CORRUPTION_MARKER)), 'a marker file explains why')
})

// A process killed while LevelDB compacts leaves a half-written table that no version lists;
// LevelDB never reads it (and deletes it later). Found by the SIGKILL crash test: reporting it
// refused a store the crash had left intact.
t.test('tables the MANIFEST does not list (a compaction cut short) are not checked', async (t) => {
  const dir = await store(t, true)
  const live = await liveFiles(dir)
  t.ok(live, 'the MANIFEST parses')
  t.same([...live!.tables].sort((a, b) => a - b), tables(dir).map((n) => Number(n.slice(0, -4))), 'its live tables are the .ldb files on disk')
  writeFileSync(join(dir, '999999.ldb'), Buffer.from('half a table, cut off by a crash'))
  const r = await checkTables(dir)
  t.equal(r.tables, live!.tables.size, 'only the live tables are checked')
  const s = await RaftStorage.open(dir)
  await s.close()
  t.pass('the store opens')
})
