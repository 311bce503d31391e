// Snappy's raw block format, decompression only: LevelDB compresses table blocks with it, and the
// start-up table check (table-check.ts) must read index blocks to find the data blocks. Every
// length and offset is bounds-checked: the input is a file that may be damaged.
//
// Format: a varint with the uncompressed length, then elements. The low two bits of a tag byte
// say which: 0 a literal (length in the upper six bits, or in 1–4 following bytes), 1 a copy of
// 4–11 bytes with an 11-bit offset, 2 a copy with a 2-byte offset, 3 a copy with a 4-byte offset.
export function snappyUncompress(src: Uint8Array): Uint8Array {
  let pos = 0
  let length = 0
  for (let shift = 0; ; shift += 7) {
    if (pos >= src.length || shift > 28) throw new Error('snappy: bad length header')
    const b = src[pos++]!
    length += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) break
  }
  // No real block is this large (LevelDB's are ~4 KiB); a damaged header must not allocate GiBs.
  if (length > 64 << 20) throw new Error(`snappy: uncompressed length ${length} is implausible`)
  const out = new Uint8Array(length)
  let o = 0
  while (pos < src.length) {
    const tag = src[pos++]!
    const kind = tag & 3
    if (kind === 0) {
      let len = tag >>> 2
      if (len >= 60) {
        const extra = len - 59
        if (pos + extra > src.length) throw new Error('snappy: truncated literal length')
        len = 0
        for (let i = 0; i < extra; i++) len += src[pos + i]! * 2 ** (8 * i)
        pos += extra
      }
      len += 1
      if (pos + len > src.length || o + len > length) throw new Error('snappy: literal overruns')
      out.set(src.subarray(pos, pos + len), o)
      pos += len
      o += len
      continue
    }
    let len: number
    let offset: number
    if (kind === 1) {
      if (pos >= src.length) throw new Error('snappy: truncated copy')
      len = ((tag >>> 2) & 7) + 4
      offset = ((tag >>> 5) << 8) | src[pos++]!
    } else if (kind === 2) {
      if (pos + 2 > src.length) throw new Error('snappy: truncated copy')
      len = (tag >>> 2) + 1
      offset = src[pos]! | (src[pos + 1]! << 8)
      pos += 2
    } else {
      if (pos + 4 > src.length) throw new Error('snappy: truncated copy')
      len = (tag >>> 2) + 1
      offset = (src[pos]! | (src[pos + 1]! << 8) | (src[pos + 2]! << 16) | (src[pos + 3]! << 24)) >>> 0
      pos += 4
    }
    if (offset === 0 || offset > o || o + len > length) throw new Error('snappy: copy out of range')
    if (offset >= len) {
      out.copyWithin(o, o - offset, o - offset + len)
      o += len
    } else {
      // Byte by byte: the copy overlaps its own output (offset < len repeats a pattern).
      for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]!
    }
  }
  if (o !== length) throw new Error(`snappy: ${o} bytes decoded, header says ${length}`)
  return out
}
