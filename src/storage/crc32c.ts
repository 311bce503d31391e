// CRC-32C (Castagnoli), the checksum LevelDB puts on its table blocks and log records. Node has
// no native one (zlib.crc32 is the IEEE polynomial), so this is a slicing-by-8 table loop: eight
// bytes per step keeps a start-up scan of a few hundred MB of tables around a second.
const POLY = 0x82f63b78

const T: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256))
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1
    t[0]![n] = c >>> 0
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k]![n] = (t[0]![t[k - 1]![n]! & 0xff]! ^ (t[k - 1]![n]! >>> 8)) >>> 0
  }
  return t
})()
const [T0, T1, T2, T3, T4, T5, T6, T7] = T as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array]

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff
  let i = 0
  const n8 = data.length - (data.length % 8)
  for (; i < n8; i += 8) {
    const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0
    c =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[data[i + 4]!]! ^
      T2[data[i + 5]!]! ^
      T1[data[i + 6]!]! ^
      T0[data[i + 7]!]!
  }
  for (; i < data.length; i++) c = T0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const MASK_DELTA = 0xa282ead8

/** LevelDB stores CRCs masked (rotated and offset) so a CRC of data holding CRCs stays strong. */
export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0
}

export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0
  return ((rot >>> 17) | (rot << 15)) >>> 0
}
