// SipHash-2-4 (Aumasson & Bernstein, 2012) with a 128-bit key and a 64-bit output.
//
// It MACs every control-plane packet, so it must not allocate: the 64-bit state words are
// kept as pairs of 32-bit halves in local variables (V8 keeps them in registers as int32),
// and the result is written into a caller-supplied Uint32Array. A BigInt version is 10–50x
// slower and allocates per operation (see bench/wire.ts for the measurement).
//
// Conventions (the same as the reference implementation and bpf/raft_wire.h):
// k0 = key bytes 0..7 little-endian, k1 = bytes 8..15; message words are little-endian.

/** Reads a little-endian u32 (as an int32 bit pattern) without bounds checks beyond the typed array's. */
function le32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)
}

/**
 * SipHash-2-4 of data[off, off+len) under a 16-byte key. Writes the 64-bit result into
 * out[0] (high 32 bits) and out[1] (low 32 bits): that is the order the wire stores it in
 * (big-endian), and it lets the caller compare without building a BigInt.
 */
export function siphash24Into(
  key: Uint8Array,
  data: Uint8Array,
  off: number,
  len: number,
  out: Uint32Array,
): void {
  const k0l = le32(key, 0)
  const k0h = le32(key, 4)
  const k1l = le32(key, 8)
  const k1h = le32(key, 12)
  // The initialisation constants "somepseudorandomlygeneratedbytes", split into halves.
  let v0h = k0h ^ 0x736f6d65
  let v0l = k0l ^ 0x70736575
  let v1h = k1h ^ 0x646f7261
  let v1l = k1l ^ 0x6e646f6d
  let v2h = k0h ^ 0x6c796765
  let v2l = k0l ^ 0x6e657261
  let v3h = k1h ^ 0x74656462
  let v3l = k1l ^ 0x79746573
  let t = 0
  let h = 0

  const blocks = len >>> 3
  // One iteration per 8-byte word, plus one for the final block (tail bytes + length byte).
  for (let i = 0; i <= blocks; i++) {
    let ml: number
    let mh: number
    if (i < blocks) {
      const p = off + (i << 3)
      ml = le32(data, p)
      mh = le32(data, p + 4)
    } else {
      // Final block: the 0–7 leftover bytes little-endian, and len mod 256 in the top byte.
      ml = 0
      mh = (len & 0xff) << 24
      const p = off + (blocks << 3)
      const rest = len & 7
      for (let j = 0; j < rest; j++) {
        if (j < 4) ml |= data[p + j]! << (j << 3)
        else mh |= data[p + j]! << ((j - 4) << 3)
      }
    }
    v3h ^= mh
    v3l ^= ml
    for (let r = 0; r < 2; r++) {
      // SipRound. 64-bit add = low add + high add + carry (unsigned compare via >>> 0).
      t = (v0l + v1l) | 0; v0h = (v0h + v1h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0; v0l = t
      h = v1h; v1h = (h << 13) | (v1l >>> 19); v1l = (v1l << 13) | (h >>> 19)
      v1h ^= v0h; v1l ^= v0l
      t = v0h; v0h = v0l; v0l = t // rotl 32 = swap halves
      t = (v2l + v3l) | 0; v2h = (v2h + v3h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0; v2l = t
      h = v3h; v3h = (h << 16) | (v3l >>> 16); v3l = (v3l << 16) | (h >>> 16)
      v3h ^= v2h; v3l ^= v2l
      t = (v0l + v3l) | 0; v0h = (v0h + v3h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0; v0l = t
      h = v3h; v3h = (h << 21) | (v3l >>> 11); v3l = (v3l << 21) | (h >>> 11)
      v3h ^= v0h; v3l ^= v0l
      t = (v2l + v1l) | 0; v2h = (v2h + v1h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0; v2l = t
      h = v1h; v1h = (h << 17) | (v1l >>> 15); v1l = (v1l << 17) | (h >>> 15)
      v1h ^= v2h; v1l ^= v2l
      t = v2h; v2h = v2l; v2l = t
    }
    v0h ^= mh
    v0l ^= ml
  }

  v2l ^= 0xff
  for (let r = 0; r < 4; r++) {
    // The same SipRound as above (kept inline: a helper cannot return four words without allocating).
    t = (v0l + v1l) | 0; v0h = (v0h + v1h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0; v0l = t
    h = v1h; v1h = (h << 13) | (v1l >>> 19); v1l = (v1l << 13) | (h >>> 19)
    v1h ^= v0h; v1l ^= v0l
    t = v0h; v0h = v0l; v0l = t
    t = (v2l + v3l) | 0; v2h = (v2h + v3h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0; v2l = t
    h = v3h; v3h = (h << 16) | (v3l >>> 16); v3l = (v3l << 16) | (h >>> 16)
    v3h ^= v2h; v3l ^= v2l
    t = (v0l + v3l) | 0; v0h = (v0h + v3h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0; v0l = t
    h = v3h; v3h = (h << 21) | (v3l >>> 11); v3l = (v3l << 21) | (h >>> 11)
    v3h ^= v0h; v3l ^= v0l
    t = (v2l + v1l) | 0; v2h = (v2h + v1h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0; v2l = t
    h = v1h; v1h = (h << 17) | (v1l >>> 15); v1l = (v1l << 17) | (h >>> 15)
    v1h ^= v2h; v1l ^= v2l
    t = v2h; v2h = v2l; v2l = t
  }
  out[0] = v0h ^ v1h ^ v2h ^ v3h
  out[1] = v0l ^ v1l ^ v2l ^ v3l
}

const scratch = new Uint32Array(2)

/** Convenience form (allocates a BigInt): SipHash-2-4 of all of data as an unsigned 64-bit value. */
export function siphash24(key: Uint8Array, data: Uint8Array): bigint {
  if (key.length !== 16) throw new RangeError(`SipHash key must be 16 bytes, got ${key.length}`)
  siphash24Into(key, data, 0, data.length, scratch)
  return (BigInt(scratch[0]!) << 32n) | BigInt(scratch[1]!)
}
