// Checks the tail of LevelDB's write-ahead logs (NNNNNN.log) before the database opens.
//
// Why: LevelDB's log reader treats a last record that runs past the end of the file as a write
// torn by a crash and drops it without a word — right for a record that never finished, but a bit
// flipped in the length field of a *complete* last record looks exactly the same, and then a
// synced batch (a vote, acknowledged entries) silently disappears. A torn record's data is cut
// short, so its CRC cannot match; a complete one with a damaged length still checksums over the
// bytes that are there. That is the case reported here.
//
// The log format is described in leveldb-log.ts.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LevelDbFileDamage } from './errors.ts'
import { checksums, HEADER, physicalRecords } from './leveldb-log.ts'
import type { LiveFiles } from './manifest.ts'

/** Checks one log's bytes; throws LevelDbFileDamage if its last record is complete but its length is not. */
export function checkWalTail(file: string, buf: Uint8Array): void {
  for (const { off, len, blockEnd } of physicalRecords(buf)) {
    // A record that does not fit its block: inside the file LevelDB reports that as corruption
    // itself; at the end of the file it would take it for a torn write.
    if (off + HEADER + len <= blockEnd || blockEnd < buf.length) continue
    if (checksums(buf, off, buf.length)) {
      throw new LevelDbFileDamage(file, `the last record (at byte ${off}) is complete and checksums, but its length field says ${len} bytes where ${buf.length - off - HEADER} are present: a damaged length, not a torn write`)
    }
  }
}

/** Checks every write-ahead log LevelDB still replays (all of them without a readable MANIFEST). */
export async function checkWalTails(dir: string, live: LiveFiles | null): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  // Logs older than the MANIFEST's log number are obsolete (LevelDB does not replay them).
  for (const name of names.filter((n) => /^\d+\.log$/.test(n))) {
    if (live && Number(name.slice(0, -4)) < live.logNumber) continue
    checkWalTail(name, await readFile(join(dir, name)))
  }
}
