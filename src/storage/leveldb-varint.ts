// LevelDB's varints (util/coding.cc): little-endian base-128, at most 10 bytes for 64 bits. Read
// by the table check (block handles, block entries) and the MANIFEST replay (VersionEdit fields).

/** The varint at `pos.at`, which must end before `limit`; advances `pos.at`. Throws a RangeError if it does not. */
export function readVarint(buf: Uint8Array, pos: { at: number }, limit: number): number {
  let result = 0
  let mul = 1
  for (let i = 0; i < 10; i++) {
    if (pos.at >= limit) throw new RangeError('truncated varint')
    const b = buf[pos.at++]!
    result += (b & 0x7f) * mul
    if ((b & 0x80) === 0) return result
    mul *= 128
  }
  throw new RangeError('varint longer than 10 bytes')
}
