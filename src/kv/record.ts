// How keys and values sit in the storage's kv sublevel.
//   data key   'd' + user key  → record: type u8 | expireAt f64 (ms, 0 = none) | revision f64 | value
//   session    'c' + client id → the last request applied for that client (deduplication)
// The revision is the Raft index that last wrote the key: WATCH and HTTP If-Match compare it.

export const DATA = 0x64
export const SESSION = 0x63
export const TYPE_STRING = 0
const HEADER = 17

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

export function encodeRec(r: Rec): Uint8Array {
  const out = new Uint8Array(HEADER + r.value.length)
  const dv = new DataView(out.buffer)
  out[0] = r.type
  dv.setFloat64(1, r.expireAt)
  dv.setFloat64(9, r.rev)
  out.set(r.value, HEADER)
  return out
}

/** Decodes a stored record; undefined for a record too short to be one (reported by the caller). */
export function decodeRec(b: Uint8Array): Rec | undefined {
  if (b.length < HEADER) return undefined
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  return { type: b[0]!, expireAt: dv.getFloat64(1), rev: dv.getFloat64(9), value: b.subarray(HEADER) }
}

export function isLive(r: Rec | undefined, now: number): r is Rec {
  return r !== undefined && (r.expireAt === 0 || r.expireAt > now)
}
