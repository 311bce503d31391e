// Cheap non-cryptographic hashing for digests: entry contents, state-machine hash chains and the
// run digest used by the determinism test. Collisions only weaken a check, never fail a good run.

/** FNV-1a over bytes, starting from `h`. */
export function fnvBytes(data: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < data.length; i++) {
    h ^= data[i]!
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Mixes one number (treated as up to 53 bits) into a running 32-bit hash. */
export function mix(h: number, x: number): number {
  const lo = x >>> 0
  const hi = Math.floor(x / 4294967296) >>> 0
  h = Math.imul(h ^ lo, 0x9e3779b1)
  h = Math.imul(h ^ (h >>> 15) ^ hi, 0x85ebca77)
  return (h ^ (h >>> 13)) >>> 0
}

/** FNV-1a over the UTF-16 code units of a string (for trace digests). */
export function fnvString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
