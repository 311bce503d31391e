// Byte formats of everything the storage writes. All integers are big-endian so that keys sort
// numerically in LevelDB's bytewise order. Every value carries a CRC-32 that also covers its key:
// a value that turns up under the wrong key (a damaged key in a table file) fails its check.
import { EntryType, type ConfState, type Entry, type HardState, type SnapshotMeta } from '../raft/types.ts'
import { crc32 } from './crc.ts'
import { StorageCorruptionError } from './errors.ts'

/** First byte of every value: lets a later release change a format and still read this one. */
export const FORMAT_VERSION = 1

const TWO_32 = 2 ** 32

function putU64(v: DataView, off: number, n: number): void {
  // Raft indexes and terms are JS numbers; 2^53 entries will not be reached, but a NaN or negative
  // number reaching the disk would be read back as something else entirely, so refuse it here.
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a u64-storable integer: ${n}`)
  v.setUint32(off, Math.floor(n / TWO_32))
  v.setUint32(off + 4, n >>> 0)
}

function getU64(v: DataView, off: number): number {
  return v.getUint32(off) * TWO_32 + v.getUint32(off + 4)
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

// ---- log records ------------------------------------------------------------------------------

export function logKey(index: number): Uint8Array {
  const k = new Uint8Array(8)
  putU64(view(k), 0, index)
  return k
}

export function decodeLogKey(key: Uint8Array): number {
  if (key.length !== 8) throw new StorageCorruptionError(`log key ${hex(key)}`, `key is ${key.length} bytes, expected 8`)
  return getU64(view(key), 0)
}

/** version u8 | type u8 | term u64 | data length u32 | crc u32 — then the data. */
export const ENTRY_HEADER = 18
const ENTRY_CRC_AT = 14

export function encodeEntry(e: Entry): { key: Uint8Array; value: Uint8Array } {
  const key = logKey(e.index)
  const value = new Uint8Array(ENTRY_HEADER + e.data.length)
  const v = view(value)
  v.setUint8(0, FORMAT_VERSION)
  v.setUint8(1, e.type)
  putU64(v, 2, e.term)
  v.setUint32(10, e.data.length)
  value.set(e.data, ENTRY_HEADER)
  v.setUint32(ENTRY_CRC_AT, entryCrc(key, value))
  return { key, value }
}

// The checksum skips its own 4 bytes: key, the 14 header bytes before it, then the data.
function entryCrc(key: Uint8Array, value: Uint8Array): number {
  return crc32(value.subarray(ENTRY_HEADER), crc32(value.subarray(0, ENTRY_CRC_AT), crc32(key)))
}

/** Decodes and verifies one stored log record; `index` comes from its key. */
export function decodeEntry(index: number, key: Uint8Array, value: Uint8Array): Entry {
  const where = `log[${index}]`
  if (value.length < ENTRY_HEADER) {
    throw new StorageCorruptionError(where, `record is ${value.length} bytes, shorter than its ${ENTRY_HEADER}-byte header`, index)
  }
  const v = view(value)
  const stored = v.getUint32(ENTRY_CRC_AT)
  const actual = entryCrc(key, value)
  if (stored !== actual) {
    throw new StorageCorruptionError(where, `checksum mismatch (stored ${hex32(stored)}, computed ${hex32(actual)})`, index)
  }
  // Checked after the CRC: with a valid CRC these can only be wrong if a future format wrote them.
  const version = v.getUint8(0)
  if (version !== FORMAT_VERSION) throw new StorageCorruptionError(where, `unknown record format version ${version}`, index)
  const len = v.getUint32(10)
  if (len !== value.length - ENTRY_HEADER) {
    throw new StorageCorruptionError(where, `data length ${len} does not match record size ${value.length}`, index)
  }
  const type = v.getUint8(1)
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) {
    throw new StorageCorruptionError(where, `unknown entry type ${type}`, index)
  }
  return { index, term: getU64(v, 2), type, data: value.subarray(ENTRY_HEADER) }
}

// ---- sealed records: version u8 | payload | crc u32 over (key, version, payload) ---------------

function seal(key: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + payload.length + 4)
  out[0] = FORMAT_VERSION
  out.set(payload, 1)
  view(out).setUint32(1 + payload.length, crc32(out.subarray(0, 1 + payload.length), crc32(key)))
  return out
}

function unseal(where: string, key: Uint8Array, value: Uint8Array, minPayload: number): DataView {
  if (value.length < 1 + minPayload + 4) throw new StorageCorruptionError(where, `record is ${value.length} bytes, too short`)
  const end = value.length - 4
  const stored = view(value).getUint32(end)
  const actual = crc32(value.subarray(0, end), crc32(key))
  if (stored !== actual) {
    throw new StorageCorruptionError(where, `checksum mismatch (stored ${hex32(stored)}, computed ${hex32(actual)})`)
  }
  if (value[0] !== FORMAT_VERSION) throw new StorageCorruptionError(where, `unknown record format version ${value[0]}`)
  return new DataView(value.buffer, value.byteOffset + 1, end - 1)
}

export const META_HARDSTATE = utf8('hardstate')
export const META_SNAPSHOT = utf8('snapshot')
/** Last index and term of the log as of the last write that changed it (detects a dropped tail). */
export const META_LOGTAIL = utf8('logtail')
/** Which kv generation holds the live key-value data (see raft-storage.ts, snapshot install). */
export const META_KVGEN = utf8('kvgen')

export function encodeHardState(hs: HardState): Uint8Array {
  const p = new Uint8Array(20)
  const v = view(p)
  putU64(v, 0, hs.term)
  v.setUint32(8, hs.vote)
  putU64(v, 12, hs.commit)
  return seal(META_HARDSTATE, p)
}

export function decodeHardState(value: Uint8Array): HardState {
  const v = unseal('meta/hardstate', META_HARDSTATE, value, 20)
  if (v.byteLength !== 20) throw new StorageCorruptionError('meta/hardstate', `payload is ${v.byteLength} bytes, expected 20`)
  return { term: getU64(v, 0), vote: v.getUint32(8), commit: getU64(v, 12) }
}

export function encodeSnapshotMeta(m: SnapshotMeta): Uint8Array {
  const { voters, learners } = m.conf
  const p = new Uint8Array(16 + 4 + voters.length * 4 + 4 + learners.length * 4)
  const v = view(p)
  putU64(v, 0, m.index)
  putU64(v, 8, m.term)
  let off = 16
  for (const list of [voters, learners]) {
    v.setUint32(off, list.length)
    off += 4
    for (const id of list) {
      v.setUint32(off, id)
      off += 4
    }
  }
  return seal(META_SNAPSHOT, p)
}

export function decodeSnapshotMeta(value: Uint8Array): SnapshotMeta {
  const where = 'meta/snapshot'
  const v = unseal(where, META_SNAPSHOT, value, 24)
  let off = 16
  const lists: number[][] = []
  for (let l = 0; l < 2; l++) {
    if (off + 4 > v.byteLength) throw new StorageCorruptionError(where, 'truncated configuration')
    const n = v.getUint32(off)
    off += 4
    if (off + n * 4 > v.byteLength) throw new StorageCorruptionError(where, `configuration list of ${n} ids overruns the record`)
    const ids: number[] = []
    for (let i = 0; i < n; i++, off += 4) ids.push(v.getUint32(off))
    lists.push(ids)
  }
  if (off !== v.byteLength) throw new StorageCorruptionError(where, `${v.byteLength - off} trailing bytes`)
  const conf: ConfState = { voters: lists[0]!, learners: lists[1]! }
  return { index: getU64(v, 0), term: getU64(v, 8), conf }
}

export function encodeLogTail(index: number, term: number): Uint8Array {
  const p = new Uint8Array(16)
  putU64(view(p), 0, index)
  putU64(view(p), 8, term)
  return seal(META_LOGTAIL, p)
}

export function decodeLogTail(value: Uint8Array): { index: number; term: number } {
  const v = unseal('meta/logtail', META_LOGTAIL, value, 16)
  if (v.byteLength !== 16) throw new StorageCorruptionError('meta/logtail', `payload is ${v.byteLength} bytes, expected 16`)
  return { index: getU64(v, 0), term: getU64(v, 8) }
}

/** The applied index, stored under an apply sequence number key (see ApplyBatch). */
export function encodeApplied(seqKey: Uint8Array, index: number): Uint8Array {
  const p = new Uint8Array(8)
  putU64(view(p), 0, index)
  return seal(seqKey, p)
}

export function decodeApplied(seqKey: Uint8Array, value: Uint8Array): number {
  const where = `applied/${hex(seqKey)}`
  const v = unseal(where, seqKey, value, 8)
  if (v.byteLength !== 8) throw new StorageCorruptionError(where, `payload is ${v.byteLength} bytes, expected 8`)
  return getU64(v, 0)
}

/** Apply sequence numbers share the log key format (u64 big-endian). */
export const seqKey = logKey
export function decodeSeqKey(key: Uint8Array): number {
  if (key.length !== 8) throw new StorageCorruptionError(`applied/${hex(key)}`, `key is ${key.length} bytes, expected 8`)
  return getU64(view(key), 0)
}

export function encodeKvGen(gen: number): Uint8Array {
  const p = new Uint8Array(4)
  view(p).setUint32(0, gen)
  return seal(META_KVGEN, p)
}

export function decodeKvGen(value: Uint8Array): number {
  const v = unseal('meta/kvgen', META_KVGEN, value, 4)
  if (v.byteLength !== 4) throw new StorageCorruptionError('meta/kvgen', `payload is ${v.byteLength} bytes, expected 4`)
  return v.getUint32(0)
}

// ---- helpers ----------------------------------------------------------------------------------

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

function hex32(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0')
}
