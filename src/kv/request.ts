// A write request as it travels in one Raft log entry. Everything time-dependent is fixed by the
// leader before proposing (`now`, absolute expiry times), so every replica applies it identically.
import { pack, unpack } from './pack.ts'

type Key = Uint8Array

/**
 * Reads that can travel in a log entry: MULTI/EXEC puts its reads in the same entry as its writes,
 * so they see exactly the state between the transaction's writes (one atomic step). Outside a
 * transaction the same ops are answered from local state after a read barrier (KvMachine.read).
 */
export type ReadOp =
  | { t: 'get'; key: Key }
  | { t: 'mget'; keys: Key[] }
  | { t: 'strlen'; key: Key }
  | { t: 'getrange'; key: Key; start: number; end: number }
  | { t: 'exists'; keys: Key[] }
  /** TTL/PTTL (abs false) and EXPIRETIME/PEXPIRETIME (abs true); ms = milliseconds. */
  | { t: 'ttl'; key: Key; ms: boolean; abs: boolean }
  | { t: 'type'; key: Key }
  | { t: 'dbsize' }
  | { t: 'keys'; pattern: Key }
  /**
   * SCAN: examine up to `count` live keys after `after` (null = from the start); reply is
   * [last key examined, or null when the keyspace is exhausted; matching keys].
   */
  | { t: 'scan'; after: Key | null; count: number; match: Key | null; type: string | null }
  /** RANDOMKEY: the first live key after `seed` (chosen by the proposer), wrapping around. */
  | { t: 'randomkey'; seed: Key }

export const READ_OPS: ReadonlySet<string> = new Set(['get', 'mget', 'strlen', 'getrange', 'exists', 'ttl', 'type', 'dbsize', 'keys', 'scan', 'randomkey'])

export function isReadOp(op: WriteOp): op is ReadOp {
  return READ_OPS.has(op.t)
}

export type WriteOp =
  | ReadOp
  | { t: 'set'; key: Key; value: Uint8Array; cond?: 'nx' | 'xx'; get?: boolean; expireAt?: number; keepTtl?: boolean }
  | { t: 'del'; keys: Key[] }
  | { t: 'incr'; key: Key; by: string }
  | { t: 'incrf'; key: Key; by: string }
  | { t: 'append'; key: Key; value: Uint8Array }
  | { t: 'setrange'; key: Key; offset: number; value: Uint8Array }
  | { t: 'getdel'; key: Key }
  | { t: 'getex'; key: Key; expireAt?: number; persist?: boolean }
  | { t: 'expire'; key: Key; at: number; cond?: 'nx' | 'xx' | 'gt' | 'lt' }
  | { t: 'persist'; key: Key }
  | { t: 'rename'; src: Key; dst: Key; nx?: boolean }
  | { t: 'mset'; kvs: Uint8Array[]; nx?: boolean }
  | { t: 'flush' }
  /** The leader's active expiry: delete `key` if it still carries expiry time `at`. */
  | { t: 'expired'; key: Key; at: number }
  /** Compare-and-set for HTTP If-Match: write only if the key's revision is `rev` (0 = absent). */
  | { t: 'cas'; key: Key; rev: number; value: Uint8Array | null; expireAt?: number }

export interface WriteRequest {
  /** Deduplication: a client id and its request sequence (absent for one-shot writes). */
  client?: string
  seq?: number
  /**
   * Every request of `client` below this sequence has been answered: the machine may forget their
   * replies. Requests at or above it may be retried (several can be in flight at once).
   */
  ack?: number
  /** The leader's clock (ms since the epoch) when it proposed: the apply-time "now". */
  now: number
  ops: WriteOp[]
  /** MULTI/EXEC: the reply is one array; `watch` aborts the whole request if a key changed. */
  multi?: boolean
  /** [key, revision seen at WATCH time] pairs. */
  watch?: [Key, number][]
}


/** Entry data: a version byte, then the msgpack body (room to change the format later). */
const VERSION = 1

export function encodeRequest(r: WriteRequest): Uint8Array {
  const body = pack(r)
  const out = new Uint8Array(body.length + 1)
  out[0] = VERSION
  out.set(body, 1)
  return out
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array
}

function checkOp(o: unknown): o is WriteOp {
  if (typeof o !== 'object' || o === null) return false
  const op = o as Record<string, unknown>
  switch (op.t) {
    case 'set':
    case 'append':
      return isBytes(op.key) && isBytes(op.value)
    case 'del':
      return Array.isArray(op.keys) && op.keys.every(isBytes)
    case 'incr':
    case 'incrf':
      return isBytes(op.key) && typeof op.by === 'string'
    case 'setrange':
      return isBytes(op.key) && isBytes(op.value) && Number.isInteger(op.offset)
    case 'getdel':
    case 'getex':
    case 'persist':
      return isBytes(op.key)
    case 'expire':
    case 'expired':
      return isBytes(op.key) && typeof op.at === 'number'
    case 'rename':
      return isBytes(op.src) && isBytes(op.dst)
    case 'mset':
      return Array.isArray(op.kvs) && op.kvs.length % 2 === 0 && op.kvs.every(isBytes)
    case 'flush':
      return true
    case 'cas':
      return isBytes(op.key) && typeof op.rev === 'number' && (op.value === null || isBytes(op.value))
    case 'get':
    case 'strlen':
    case 'type':
      return isBytes(op.key)
    case 'mget':
    case 'exists':
      return Array.isArray(op.keys) && op.keys.every(isBytes)
    case 'getrange':
      return isBytes(op.key) && typeof op.start === 'number' && typeof op.end === 'number'
    case 'ttl':
      return isBytes(op.key) && typeof op.ms === 'boolean' && typeof op.abs === 'boolean'
    case 'dbsize':
      return true
    case 'keys':
      return isBytes(op.pattern)
    case 'scan':
      return (op.after === null || isBytes(op.after)) && Number.isInteger(op.count) && (op.match === null || isBytes(op.match)) && (op.type === null || typeof op.type === 'string')
    case 'randomkey':
      return isBytes(op.seed)
    default:
      return false
  }
}

/** Decodes entry data; an error text for anything malformed (never throws). */
export function decodeRequest(data: Uint8Array): WriteRequest | string {
  if (data.length < 2 || data[0] !== VERSION) return 'unknown request format'
  let v: unknown
  try {
    v = unpack(data.subarray(1))
  } catch (e) {
    return `undecodable request: ${(e as Error).message}`
  }
  if (typeof v !== 'object' || v === null) return 'request is not an object'
  const r = v as Record<string, unknown>
  if (typeof r.now !== 'number' || !Array.isArray(r.ops) || !r.ops.every(checkOp)) return 'malformed request'
  if (r.client !== undefined && (typeof r.client !== 'string' || r.client.includes('\0') || typeof r.seq !== 'number')) return 'malformed client session'
  if (r.ack !== undefined && typeof r.ack !== 'number') return 'malformed ack'
  if (r.watch !== undefined && !(Array.isArray(r.watch) && r.watch.every((w) => Array.isArray(w) && isBytes(w[0]) && typeof w[1] === 'number'))) {
    return 'malformed watch list'
  }
  return v as WriteRequest
}
