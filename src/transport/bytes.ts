// Big-endian integer helpers shared by the UDP and TCP codecs.
//
// Plain byte stores/loads: faster than Buffer's range-checked readUInt32BE/writeUInt32BE
// (and they never throw, which the decoders rely on — callers check lengths first).
// u64 values are JS numbers: the Raft core uses safe integers, so a u64 on the wire is
// hi * 2^32 + lo with hi ≤ 0x1fffff; larger values are rejected when decoding.

export const TWO32 = 4294967296
/** Largest high word of a u64 that keeps hi * 2^32 + lo ≤ Number.MAX_SAFE_INTEGER. */
export const MAX_SAFE_HI = 0x1fffff

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8
  b[o + 1] = v
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = v >>> 16
  b[o + 2] = v >>> 8
  b[o + 3] = v
}

/** v must be a non-negative safe integer (the encoders check). */
export function put64(b: Uint8Array, o: number, v: number): void {
  put32(b, o, Math.floor(v / TWO32))
  put32(b, o + 4, v >>> 0) // ToUint32 is exact mod 2^32 for any integer up to 2^53
}

export function get16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!
}

export function get32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
}

/** Reads a u64; returns -1 (never a valid value) when it exceeds Number.MAX_SAFE_INTEGER. */
export function get64(b: Uint8Array, o: number): number {
  const hi = get32(b, o)
  if (hi > MAX_SAFE_HI) return -1
  return hi * TWO32 + get32(b, o + 4)
}

/** Throws RangeError unless v is an integer in [0, max]. For encoders: bad input is a sender bug. */
export function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${name} ${v} out of range 0..${max}`)
}

/** Throws RangeError unless v is a non-negative safe integer (what a u64 field can carry). */
export function checkU64(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} ${v} is not a non-negative safe integer`)
}
