// LevelDB's log format (doc/log_format.md), shared by its write-ahead logs and its MANIFEST:
// 32 KiB blocks of physical records; a record header is a masked CRC-32C (4 bytes, over the type
// byte and the data), a little-endian length (2) and a type (1); fewer than 7 bytes left in a
// block, or a zero header, are padding.
import { crc32c, unmaskCrc } from './crc32c.ts'

const BLOCK = 32 * 1024
export const HEADER = 7

export interface PhysicalRecord {
  /** Where its header starts. */
  off: number
  type: number
  len: number
  /** Where its block ends (the file's end for the last block). */
  blockEnd: number
}

/**
 * The physical records of a log file, in order. The walk ends after a record that does not fit
 * its block (off + HEADER + len > blockEnd): what follows it cannot be framed.
 */
export function* physicalRecords(buf: Uint8Array): Generator<PhysicalRecord> {
  let off = 0
  while (off < buf.length) {
    const blockEnd = Math.min(buf.length, (Math.floor(off / BLOCK) + 1) * BLOCK)
    const len = blockEnd - off < HEADER ? 0 : buf[off + 4]! | (buf[off + 5]! << 8)
    const type = blockEnd - off < HEADER ? 0 : buf[off + 6]!
    if (type === 0 && len === 0) {
      off = blockEnd
      continue
    }
    yield { off, type, len, blockEnd }
    if (off + HEADER + len > blockEnd) return
    off += HEADER + len
  }
}

/** Whether the stored CRC of the record at `off` matches its type byte and the data up to `end`. */
export function checksums(buf: Uint8Array, off: number, end: number): boolean {
  const stored = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0, true)
  return unmaskCrc(stored) === crc32c(buf.subarray(off + 6, end))
}
