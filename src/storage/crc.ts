// CRC-32 (IEEE 802.3, the zlib/gzip polynomial) for record and chunk checksums.
//
// Why CRC-32 and not CRC-32C: Node ≥ 20.15 ships `zlib.crc32`, which runs in native code
// (zlib's SIMD-accelerated implementation) and is far faster than any table loop in JS.
// Both polynomials detect every burst error up to 32 bits and all odd-bit errors in the
// record sizes we write, so the choice is about speed only. The table-driven fallback keeps
// the package working on Node 20.0–20.14 (package.json says ">=20"); it computes the same
// function, so a database written by either path verifies under the other.
import * as zlib from 'node:zlib'

type Crc32 = (data: Uint8Array, initial?: number) => number

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** The pure-JS fallback; exported so a test can check it against the native one. */
export function crc32Table(data: Uint8Array, initial = 0): number {
  let c = (initial ^ 0xffffffff) >>> 0
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

// `zlib.crc32` is typed in @types/node 20.19 but absent at run time before Node 20.15.
const native: Crc32 | undefined = typeof zlib.crc32 === 'function' ? (d, i) => zlib.crc32(d, i ?? 0) : undefined

/** crc32(data, previous) continues a running checksum, so header and body need no concatenation. */
export const crc32: Crc32 = native ?? crc32Table

export const crc32IsNative = native !== undefined
