import { crc32 } from '../storage/crc.ts'

// How keys and values sit in the storage's kv sublevel.
//   data key   'd' + user key  → record: crc32 u32 | type u8 | expireAt f64 (ms, 0 = none) | revision f64 | value
//              (the crc covers the key and the rest of the record: LevelDB does not verify table
//              checksums on reads, so a flipped bit on disk would otherwise come back as data)
//   session    'c' + client id → the last request applied for that client (deduplication)
// The revision is the Raft index that last wrote the key: WATCH and HTTP If-Match compare it.

export const DATA = 0x64
export const SESSION = 0x63
export const TYPE_STRING = 0
const HEADER = 21

export class RecordCorruptionError extends Error {
  constructor(key: Uint8Array) {
    super(`corrupt value on disk for key ${JSON.stringify(Buffer.from(key).toString('latin1'))}: checksum mismatch`)
    this.name = 'RecordCorruptionError'
  }
}

function recCrc(key: Uint8Array, body: Uint8Array): number {
  return crc32(body, crc32(key))
}

export interface Rec {
  type: number
  expireAt: number
  rev: number
  value: Uint8Array
}

export function dataKey(key: Uint8Array): Uint8Array {
  const k = new Uint8Array(key.length + 1)
  k[0] = DATA
  k.set(key, 1)
  return k
}

export function userKey(stored: Uint8Array): Uint8Array {
  return stored.subarray(1)
}

export function sessionKey(client: string): Uint8Array {
  const b = Buffer.from(client, 'utf8')
  const k = new Uint8Array(b.length + 1)
  k[0] = SESSION
  k.set(b, 1)
  return k
}

/** Encodes the record stored under `dkey` (the data key, prefix included). */
export function encodeRec(dkey: Uint8Array, r: Rec): Uint8Array {
  const out = new Uint8Array(HEADER + r.value.length)
  const dv = new DataView(out.buffer)
  out[4] = r.type
  dv.setFloat64(5, r.expireAt)
  dv.setFloat64(13, r.rev)
  out.set(r.value, HEADER)
  dv.setUint32(0, recCrc(dkey, out.subarray(4)))
  return out
}

/** Decodes the record stored under `dkey`; throws RecordCorruptionError if it fails its checksum. */
export function decodeRec(dkey: Uint8Array, b: Uint8Array): Rec {
  if (b.length < HEADER) throw new RecordCorruptionError(dkey.subarray(1))
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  if (dv.getUint32(0) !== recCrc(dkey, b.subarray(4))) throw new RecordCorruptionError(dkey.subarray(1))
  return { type: b[4]!, expireAt: dv.getFloat64(5), rev: dv.getFloat64(13), value: b.subarray(HEADER) }
}

export function isLive(r: Rec | undefined, now: number): r is Rec {
  return r !== undefined && (r.expireAt === 0 || r.expireAt > now)
}
