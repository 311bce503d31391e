// Checks the tail of LevelDB's write-ahead logs (NNNNNN.log) before the database opens.
//
// Why: LevelDB's log reader treats a last record that runs past the end of the file as a write
// torn by a crash and drops it without a word — right for a record that never finished, but a bit
// flipped in the length field of a *complete* last record looks exactly the same, and then a
// synced batch (a vote, acknowledged entries) silently disappears. A torn record's data is cut
// short, so its CRC cannot match; a complete one with a damaged length still checksums over the
// bytes that are there. That is the case reported here.
//
// Log format (LevelDB's doc/log_format.md): 32 KiB blocks of records; a record header is a masked
// CRC-32C (4 bytes, over the type byte and the data), a little-endian length (2) and a type (1);
// fewer than 7 bytes left in a block are zero padding.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32c, unmaskCrc } from './crc32c.ts'
import { liveFiles } from './manifest.ts'

const BLOCK = 32 * 1024
const HEADER = 7

/** What is wrong with the tail of one write-ahead log. */
export class WalDamage extends Error {
  override name = 'WalDamage'
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`${file}: ${what}`)
  }
}

/** Checks one log's bytes; throws WalDamage if its last record is complete but its length is not. */
export function checkWalTail(file: string, buf: Uint8Array): void {
  let off = 0
  while (off < buf.length) {
    const blockEnd = Math.min(buf.length, (Math.floor(off / BLOCK) + 1) * BLOCK)
    if (blockEnd - off < HEADER) {
      off = blockEnd // trailer padding
      continue
    }
    const len = buf[off + 4]! | (buf[off + 5]! << 8)
    const type = buf[off + 6]!
    if (type === 0 && len === 0) {
      off = blockEnd // zeroes (LevelDB's own padding, or preallocated space): nothing more here
      continue
    }
    const end = off + HEADER + len
    if (end <= blockEnd) {
      off = end
      continue
    }
    // The record does not fit its block. Inside the file LevelDB reports that as corruption
    // itself; at the end of the file it would take it for a torn write.
    if (blockEnd < buf.length) return
    const stored = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0, true)
    const rest = buf.subarray(off + 6, buf.length) // the type byte and every data byte present
    if (unmaskCrc(stored) === crc32c(rest)) {
      throw new WalDamage(file, `the last record (at byte ${off}) is complete and checksums, but its length field says ${len} bytes where ${buf.length - off - HEADER} are present: a damaged length, not a torn write`)
    }
    return
  }
}

/** Checks every write-ahead log in a LevelDB directory. */
export async function checkWalTails(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  // Logs older than the MANIFEST's log number are obsolete (LevelDB does not replay them).
  const live = await liveFiles(dir)
  for (const name of names.filter((n) => /^\d+\.log$/.test(n))) {
    if (live && Number(name.slice(0, -4)) < live.logNumber) continue
    checkWalTail(name, await readFile(join(dir, name)))
  }
}
