// CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for the TCP data-plane frames.
//
// node:zlib.crc32 is native (and SIMD-accelerated) but only exists from Node 20.15 / 22.2;
// package.json allows any Node ≥ 20, so older runtimes get a table-driven fallback that
// computes the identical value. (CRC-32C would be marginally stronger; nothing in Node
// computes it natively, and CRC-32 detects all burst errors ≤ 32 bits just the same.)

import * as zlib from 'node:zlib'

let table: Int32Array | null = null

function crc32Js(data: Uint8Array, value: number): number {
  if (table === null) {
    table = new Int32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c
    }
  }
  let c = ~value
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

/** CRC-32 of data, continuing from `value` (the CRC of preceding bytes; 0 to start). Unsigned. */
export const crc32: (data: Uint8Array, value?: number) => number =
  typeof native === 'function' ? (data, value = 0) => native(data, value) : (data, value = 0) => crc32Js(data, value)

/** The JavaScript fallback, exported so the tests can check it equals the native one. */
export { crc32Js }
