// Verifies the block checksums of LevelDB's table files (.ldb/.sst) before the database opens.
//
// Why: LevelDB checks a table block's CRC only when a read asks for it (ReadOptions::
// verify_checksums) or with paranoid_checks, and classic-level exposes neither. A flipped bit in a
// table is then read as if it were good: a damaged index block can make every lookup miss, so a
// store reopens looking empty — term 0, no vote: a node that forgets its vote. Our own record CRCs
// cannot see a record that is simply not found. So every block of every table is checked here,
// before LevelDB opens (once open, a compaction could copy damaged blocks into a new table under a
// fresh, valid checksum).
//
// Table layout (LevelDB's doc/table_format.md): data blocks, a filter block, a metaindex block and
// an index block, each followed by a 5-byte trailer (compression type, masked CRC-32C of the block
// and the type byte), then a 48-byte footer: two block handles (varint offset and size) and a magic
// number. The index block maps keys to data block handles; the metaindex names the filter block.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32c, unmaskCrc } from './crc32c.ts'
import { LevelDbFileDamage } from './errors.ts'
import { readVarint } from './leveldb-varint.ts'
import { liveFiles, type LiveFiles } from './manifest.ts'
import { snappyUncompress } from './snappy.ts'

const FOOTER = 48
const TRAILER = 5
const MAGIC_LO = 0x8b80fb57
const MAGIC_HI = 0xdb477524
const NO_COMPRESSION = 0
const SNAPPY = 1

interface Handle {
  offset: number
  size: number
}

/** A varint (sizes and offsets here fit in a double); a bad one is damage to `file`. */
function varint(buf: Uint8Array, pos: { at: number }, limit: number, file: string): number {
  try {
    return readVarint(buf, pos, limit)
  } catch (e) {
    throw new LevelDbFileDamage(file, (e as Error).message)
  }
}

function handleAt(buf: Uint8Array, pos: { at: number }, limit: number, file: string): Handle {
  const offset = varint(buf, pos, limit, file)
  const size = varint(buf, pos, limit, file)
  return { offset, size }
}

/** Checks one block's trailer; returns its uncompressed contents when `decode` asks for them. */
function block(buf: Uint8Array, h: Handle, file: string, what: string, decode = true): Uint8Array {
  const end = h.offset + h.size
  if (!Number.isSafeInteger(end) || end + TRAILER > buf.length - FOOTER) {
    throw new LevelDbFileDamage(file, `${what} block handle (offset ${h.offset}, size ${h.size}) points outside the file`)
  }
  const type = buf[end]!
  const stored = new DataView(buf.buffer, buf.byteOffset + end + 1, 4).getUint32(0, true)
  // The CRC covers the block contents and the type byte that follows them.
  const actual = crc32c(buf.subarray(h.offset, end + 1))
  if (unmaskCrc(stored) !== actual) throw new LevelDbFileDamage(file, `${what} block at offset ${h.offset} fails its checksum`)
  const raw = buf.subarray(h.offset, end)
  if (type === NO_COMPRESSION || (!decode && type === SNAPPY)) return raw
  if (type === SNAPPY) {
    try {
      return snappyUncompress(raw)
    } catch (e) {
      throw new LevelDbFileDamage(file, `${what} block at offset ${h.offset}: ${(e as Error).message}`)
    }
  }
  throw new LevelDbFileDamage(file, `${what} block at offset ${h.offset} has unknown compression type ${type}`)
}

/** The values of a block's entries (prefix-compressed keys are skipped: only values are needed). */
function blockEntries(b: Uint8Array, file: string, what: string): Array<{ key: Uint8Array; value: Uint8Array }> {
  if (b.length < 4) throw new LevelDbFileDamage(file, `${what} block is shorter than its restart count`)
  const dv = new DataView(b.buffer, b.byteOffset, b.length)
  const restarts = dv.getUint32(b.length - 4, true)
  const limit = b.length - 4 - 4 * restarts
  if (restarts === 0 || limit < 0) throw new LevelDbFileDamage(file, `${what} block has a bad restart count ${restarts}`)
  const out: Array<{ key: Uint8Array; value: Uint8Array }> = []
  let prevKey: Uint8Array = new Uint8Array(0)
  const pos = { at: 0 }
  while (pos.at < limit) {
    const shared = varint(b, pos, limit, file)
    const unshared = varint(b, pos, limit, file)
    const valueLen = varint(b, pos, limit, file)
    if (shared > prevKey.length || pos.at + unshared + valueLen > limit) throw new LevelDbFileDamage(file, `${what} block has an entry that overruns it`)
    const key = new Uint8Array(shared + unshared)
    key.set(prevKey.subarray(0, shared))
    key.set(b.subarray(pos.at, pos.at + unshared), shared)
    pos.at += unshared
    out.push({ key, value: b.subarray(pos.at, pos.at + valueLen) })
    pos.at += valueLen
    prevKey = key
  }
  return out
}

/** Verifies every block of one table file held in `buf`; returns how many blocks were checked. */
export function checkTable(file: string, data: Uint8Array): number {
  // A plain view: slicing a Node Buffer per block (subarray makes a Buffer) doubles the scan time.
  const buf = new Uint8Array(data.buffer, data.byteOffset, data.length)
  if (buf.length < FOOTER) throw new LevelDbFileDamage(file, `${buf.length} bytes: shorter than a table footer`)
  const footer = buf.length - FOOTER
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length)
  if (dv.getUint32(buf.length - 8, true) !== MAGIC_LO || dv.getUint32(buf.length - 4, true) !== MAGIC_HI) {
    throw new LevelDbFileDamage(file, 'bad magic number in the footer')
  }
  const pos = { at: footer }
  const metaindex = handleAt(buf, pos, buf.length - 8, file)
  const index = handleAt(buf, pos, buf.length - 8, file)
  let blocks = 0
  for (const { value } of blockEntries(block(buf, index, file, 'index'), file, 'index')) {
    block(buf, handleAt(value, { at: 0 }, value.length, file), file, 'data', false)
    blocks++
  }
  for (const { value } of blockEntries(block(buf, metaindex, file, 'metaindex'), file, 'metaindex')) {
    block(buf, handleAt(value, { at: 0 }, value.length, file), file, 'meta', false)
    blocks++
  }
  return blocks + 2
}

/**
 * Verifies every live table (those the MANIFEST lists) in a LevelDB directory. Throws LevelDbFileDamage
 * for the first bad one. Tables in no version — a compaction's output cut short by a crash — are
 * skipped: LevelDB never reads them. Without a readable MANIFEST nothing is checked here (LevelDB
 * checks its MANIFEST's records itself and refuses to open).
 */
export async function checkTables(dir: string, known?: LiveFiles | null): Promise<{ tables: number; blocks: number; bytes: number }> {
  let names: string[]
  const live = known === undefined ? await liveFiles(dir) : known
  try {
    names = await readdir(dir)
  } catch {
    return { tables: 0, blocks: 0, bytes: 0 }
  }
  let tables = 0
  let blocks = 0
  let bytes = 0
  const isLive = (n: string): boolean => live !== null && live.tables.has(Number(n.slice(0, n.indexOf('.'))))
  for (const name of names.filter((n) => (n.endsWith('.ldb') || n.endsWith('.sst')) && isLive(n)).sort()) {
    const buf = await readFile(join(dir, name))
    blocks += checkTable(name, buf)
    tables++
    bytes += buf.length
  }
  return { tables, blocks, bytes }
}
