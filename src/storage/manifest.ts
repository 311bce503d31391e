// Which table files LevelDB considers live: replayed from the MANIFEST that CURRENT names.
//
// Why: the start-up table check (table-check.ts) must look only at live tables. A process killed
// while LevelDB compacts leaves a half-written table that is in no version yet — LevelDB ignores
// and later deletes it — and reporting that as damage would refuse a store a crash left intact.
//
// The MANIFEST is a log (the write-ahead log's format: 32 KiB blocks of CRC-checked records)
// of VersionEdits (LevelDB's db/version_edit.cc): tagged fields, of which only new-file (7) and
// deleted-file (6) records and the log numbers (2, 9) matter here.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { checksums, HEADER, physicalRecords } from './leveldb-log.ts'
import { readVarint } from './leveldb-varint.ts'

const FULL = 1
const FIRST = 2
const MIDDLE = 3
const LAST = 4

export interface LiveFiles {
  /** Numbers of the live table files. */
  tables: Set<number>
  /** Write-ahead logs numbered below this are obsolete (LevelDB does not replay them). */
  logNumber: number
}

/** The logical records of a LevelDB log file; null when a record is damaged or torn. */
function records(buf: Uint8Array): Uint8Array[] | null {
  const out: Uint8Array[] = []
  let parts: Uint8Array[] = []
  for (const { off, type, len, blockEnd } of physicalRecords(buf)) {
    const end = off + HEADER + len
    if (end > blockEnd || !checksums(buf, off, end)) return null
    const data = buf.subarray(off + HEADER, end)
    if (type === FULL) out.push(data)
    else if (type === FIRST) parts = [data]
    else if (type === MIDDLE) parts.push(data)
    else if (type === LAST) {
      parts.push(data)
      out.push(Buffer.concat(parts))
      parts = []
    } else return null
  }
  return out
}

/** Replays the current MANIFEST; null if it cannot be read or parsed (LevelDB judges it then). */
export async function liveFiles(dir: string): Promise<LiveFiles | null> {
  let manifest: Uint8Array
  try {
    const current = (await readFile(join(dir, 'CURRENT'), 'utf8')).trim()
    if (!/^MANIFEST-\d+$/.test(current)) return null
    manifest = await readFile(join(dir, current))
  } catch {
    return null
  }
  const recs = records(manifest)
  if (!recs) return null
  const tables = new Set<number>()
  let logNumber = 0
  for (const r of recs) {
    const pos = { at: 0 }
    const varint = (): number => readVarint(r, pos, r.length)
    const skipSlice = (): void => {
      const n = varint()
      pos.at += n
      if (pos.at > r.length) throw new Error('truncated')
    }
    try {
      while (pos.at < r.length) {
        const tag = varint()
        switch (tag) {
          case 1: // comparator name
            skipSlice()
            break
          case 2: // log number
            logNumber = varint()
            break
          case 3: // next file number
          case 4: // last sequence
          case 9: // previous log number
            varint()
            break
          case 5: // compact pointer: level, key
            varint()
            skipSlice()
            break
          case 6: // deleted file: level, number
            varint()
            tables.delete(varint())
            break
          case 7: {
            // new file: level, number, size, smallest key, largest key
            varint()
            const n = varint()
            varint()
            skipSlice()
            skipSlice()
            tables.add(n)
            break
          }
          default:
            return null
        }
      }
    } catch {
      return null
    }
  }
  return { tables, logNumber }
}
