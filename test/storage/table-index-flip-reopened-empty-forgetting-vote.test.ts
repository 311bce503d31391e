// Regression (found by the disk fuzzer): one flipped bit in the index block of a LevelDB table
// made the whole store read as empty — LevelDB does not check table block CRCs unless a read asks,
// and classic-level cannot ask — so RaftStorage loaded it as a fresh node: term 0, no vote, no log.
// A node that forgets its vote can vote twice in one term. Now the tables are verified before
// LevelDB opens, and the node refuses to start.
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import t from 'tap'
import { StorageCorruptionError } from '../../src/storage/errors.ts'
import { RaftStorage } from '../../src/storage/index.ts'
import { readVarint } from '../../src/storage/leveldb-varint.ts'
import { entries, tempDir } from './fixtures/helpers.ts'

/** The (offset, size) of a table's index block, from its footer. */
function indexBlock(buf: Buffer): { offset: number; size: number } {
  const pos = { at: buf.length - 48 }
  const varint = (): number => readVarint(buf, pos, buf.length)
  varint() // metaindex offset
  varint() // metaindex size
  return { offset: varint(), size: varint() }
}

async function keysSeenByLevelDB(dir: string): Promise<number | string> {
  const db = new ClassicLevel<string, string>(dir)
  try {
    await db.open()
    let n = 0
    for await (const _ of db.keys()) n++
    return n
  } catch (e) {
    return (e as Error).message
  } finally {
    await db.close().catch(() => undefined)
  }
}

t.test('a bit flip in a table index block that empties the store is refused at open', async (t) => {
  const pristine = tempDir(t)
  const s = await RaftStorage.open(pristine)
  await s.load()
  await s.persist({ entries: entries(1, 30, 5), hardState: { term: 5, vote: 2, commit: 20 }, snapshot: null })
  await s.close()
  // Everything into one table (the write-ahead log replayed and compacted).
  const raw = new ClassicLevel(pristine)
  await raw.open()
  await raw.compactRange('\x00', '\xff')
  await raw.close()
  const [table] = readdirSync(pristine).filter((n) => n.endsWith('.ldb'))
  t.ok(table, 'the store is one table')
  const bytes = readFileSync(join(pristine, table!))
  const idx = indexBlock(bytes)

  // Find a flip that LevelDB itself swallows: the store then reads as empty.
  const work = tempDir(t, 'raftkv-flip-')
  let damaged: string | null = null
  for (let off = idx.offset; off < idx.offset + idx.size && !damaged; off++) {
    for (let bit = 0; bit < 8 && !damaged; bit++) {
      const dir = join(work, `${off}-${bit}`)
      cpSync(pristine, dir, { recursive: true })
      const b = Buffer.from(bytes)
      b[off] = b[off]! ^ (1 << bit)
      writeFileSync(join(dir, table!), b)
      if ((await keysSeenByLevelDB(dir)) === 0) damaged = dir
    }
  }
  t.ok(damaged, 'some single-bit flip in the index block makes LevelDB see no keys at all')
  await t.rejects(RaftStorage.open(damaged!), StorageCorruptionError, 'RaftStorage refuses the store instead of loading it as a fresh node')
  await t.rejects(RaftStorage.open(damaged!), /an earlier open found damage/, 'and keeps refusing')
  // The undamaged copy still loads with its vote.
  const ok = await RaftStorage.open(pristine)
  const st = await ok.load()
  await ok.close()
  t.same(st.hardState, { term: 5, vote: 2, commit: 20 }, 'the pristine store keeps its vote')
  t.equal(st.entries.length, 30)
})
