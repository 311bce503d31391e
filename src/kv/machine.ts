// The replicated key-value state machine: applies committed write requests in log order into the
// storage's kv sublevel, and answers reads. Deterministic: apply depends only on the log (time comes
// from the request's `now`), so every replica ends in the same state.
import { pack, unpack } from './pack.ts'
import type { Entry } from '../raft/types.ts'
import { EntryType } from '../raft/types.ts'
import type { ApplyBatch, RaftStorage } from '../storage/raft-storage.ts'
import { formatIncrFloat, parseLongDouble } from './float.ts'
import { globMatch, literalPrefix } from './glob.ts'
import { RecCache } from './reccache.ts'
import { DATA, TYPE_STRING, dataKey, decodeRec, encodeRec, isLive, sessionKey, type Rec } from './record.ts'
import { E, NIL, OK, arr, bulk, err, int, status, type Reply } from './reply.ts'
import { decodeRequest, type ReadOp, type WriteOp, type WriteRequest } from './request.ts'

/** Redis's proto-max-bulk-len: the largest string a value may grow to. */
export const MAX_STRING = 512 * 1024 * 1024
const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
/** A deduplication session unused for longer than this (by request clocks) is forgotten. */
const SESSION_TTL_MS = 60 * 60 * 1000
/** At most this many old replies are deleted when a session's ack jumps (bounds one apply). */
const MAX_ACK_SWEEP = 10_000

const enc = new TextEncoder()
const dec = new TextDecoder()
const EMPTY = new Uint8Array(0)

export function parseI64(b: Uint8Array): bigint | undefined {
  if (b.length === 0 || b.length > 20) return undefined
  const s = dec.decode(b)
  if (!/^-?(0|[1-9][0-9]*)$/.test(s) || s === '-0') return undefined
  const v = BigInt(s)
  return v < I64_MIN || v > I64_MAX ? undefined : v
}

export function parseF64(b: Uint8Array): number | undefined {
  const s = dec.decode(b)
  if (s.length === 0 || /\s/.test(s) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?inf(inity)?$/i.test(s)) return undefined
  const v = /inf/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : Number(s)
  return Number.isNaN(v) ? undefined : v
}

/** Formats a double the way Redis prints INCRBYFLOAT results (17 significant digits, no trailing zeros). */
export function formatFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return v.toFixed(0)
  let s = v.toPrecision(17)
  if (s.includes('e')) {
    const n = Number(s)
    s = Math.abs(n) >= 1e-6 && Math.abs(n) < 1e21 ? n.toFixed(20) : s
  }
  if (s.includes('.') && !s.includes('e')) s = s.replace(/0+$/, '').replace(/\.$/, '')
  return s
}

/**
 * A client's deduplication session (Raft thesis §6.3): replies are kept per sequence number from
 * `ack` (everything below was answered, so forgotten) up to `max`, so several requests of one
 * client can be in flight and each retry gets the reply of the first application.
 */
interface SessionHead {
  ack: number
  max: number
  at: number
}

function replyKey(client: string, seq: number): Uint8Array {
  const head = sessionKey(client)
  const k = new Uint8Array(head.length + 9)
  k.set(head)
  // A NUL separator (client ids cannot contain one) and the sequence, big-endian.
  new DataView(k.buffer).setFloat64(head.length + 1, seq)
  return k
}

function idOf(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1')
}

/** A data record through the cache, else from LevelDB (filling the cache). */
async function loadRec(storage: RaftStorage, cache: RecCache, dk: Uint8Array): Promise<Rec | undefined> {
  const id = idOf(dk)
  const c = cache.get(id)
  if (c !== undefined) return c ?? undefined
  const version = cache.version
  const raw = await storage.kv.get(dk)
  const r = raw === undefined ? undefined : decodeRec(dk, raw)
  cache.fill(id, r ?? null, version)
  return r
}

/** Where apply-time reads look: the committed state plus the writes of the batch so far. */
class Overlay {
  private readonly m = new Map<string, Rec | null>()
  private readonly raw = new Map<string, Uint8Array | null>()
  flushed = false
  constructor(
    private readonly storage: RaftStorage,
    private readonly batch: ApplyBatch,
    private readonly cache: RecCache,
  ) {}

  async get(key: Uint8Array): Promise<Rec | undefined> {
    const dk = dataKey(key)
    const o = this.m.get(idOf(dk))
    if (o !== undefined) return o ?? undefined
    if (this.flushed) return undefined
    return loadRec(this.storage, this.cache, dk)
  }

  async getMany(keys: Uint8Array[]): Promise<(Rec | undefined)[]> {
    const out: (Rec | undefined)[] = []
    for (const k of keys) out.push(await this.get(k))
    return out
  }

  /**
   * Reads the records a batch of requests will touch in one LevelDB call (getMany), into the
   * cache: applying then waits on no thread-pool round trip per key.
   */
  async prefetch(keys: Uint8Array[]): Promise<void> {
    if (this.flushed) return
    const want: Uint8Array[] = []
    const seen = new Set<string>()
    for (const k of keys) {
      const dk = dataKey(k)
      const id = idOf(dk)
      if (seen.has(id) || this.m.has(id) || this.cache.get(id) !== undefined) continue
      seen.add(id)
      want.push(dk)
    }
    if (want.length === 0) return
    const version = this.cache.version
    const vals = await this.storage.kv.getMany(want)
    for (let i = 0; i < want.length; i++) {
      const v = vals[i]
      this.cache.fill(idOf(want[i]!), v === undefined ? null : decodeRec(want[i]!, v), version)
    }
  }

  put(key: Uint8Array, r: Rec): void {
    const dk = dataKey(key)
    const id = idOf(dk)
    this.m.set(id, r)
    this.batch.put(dk, encodeRec(dk, r))
  }

  del(key: Uint8Array): void {
    const dk = dataKey(key)
    const id = idOf(dk)
    this.m.set(id, null)
    this.batch.del(dk)
  }

  /** Session keys (not data): read through the batch so a retry in the same batch is seen. */
  async getRaw(k: Uint8Array): Promise<Uint8Array | undefined> {
    const o = this.raw.get(idOf(k))
    if (o !== undefined) return o ?? undefined
    return this.storage.kv.get(k)
  }

  putRaw(k: Uint8Array, v: Uint8Array): void {
    this.raw.set(idOf(k), v)
    this.batch.put(k, v)
  }

  delRaw(k: Uint8Array): void {
    this.raw.set(idOf(k), null)
    this.batch.del(k)
  }

  /** Data records in key order after `after` (exclusive): the committed ones merged with this batch's. */
  async *iterate(after: Uint8Array | null, prefix: Uint8Array): AsyncGenerator<[Uint8Array, Rec]> {
    const lo = after && Buffer.compare(after, prefix) >= 0 ? after : null
    const inRange = (uk: Uint8Array): boolean => (lo === null || Buffer.compare(uk, lo) > 0) && startsWith(uk, prefix)
    // This batch's writes, sorted: usually a handful, so sorting per scan is cheap.
    const mine = [...this.m.entries()]
      .map(([id, r]) => [Buffer.from(id, 'latin1').subarray(1), r] as const)
      .filter(([uk]) => inRange(uk))
      .sort((a, b) => Buffer.compare(a[0], b[0]))
    let i = 0
    if (!this.flushed) {
      for await (const [uk, r] of iterateStored(this.storage, lo, prefix)) {
        while (i < mine.length && Buffer.compare(mine[i]![0], uk) < 0) {
          const [k, v] = mine[i++]!
          if (v) yield [k, v]
        }
        if (i < mine.length && Buffer.compare(mine[i]![0], uk) === 0) {
          const v = mine[i++]![1]
          if (v) yield [uk, v]
          continue
        }
        yield [uk, r]
      }
    }
    for (; i < mine.length; i++) {
      const [k, v] = mine[i]!
      if (v) yield [k, v]
    }
  }

  /** Deletes every data key (FLUSHALL): what is stored, and what this batch wrote. */
  async flush(): Promise<void> {
    for await (const k of this.storage.kv.keys({ gte: Uint8Array.of(DATA), lt: Uint8Array.of(DATA + 1) })) this.batch.del(k)
    for (const [id, v] of this.m) {
      if (v !== null) this.batch.del(Buffer.from(id, 'latin1'))
    }
    this.m.clear()
    this.flushed = true
  }

  /**
   * Makes the batch's writes visible to cached reads, all at once (synchronously, so no reader
   * sees half of a transaction). Only committed entries are applied, so this is safe before the
   * batch reaches LevelDB; linearizable reads wait for the applied index anyway.
   */
  publish(): void {
    if (this.flushed) this.cache.clear()
    this.cache.publish(this.m)
  }
}

function startsWith(k: Uint8Array, prefix: Uint8Array): boolean {
  if (k.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (k[i] !== prefix[i]) return false
  return true
}

/** Stored data records (live or not) after `after`, limited to `prefix`, in key order. */
async function* iterateStored(storage: RaftStorage, after: Uint8Array | null, prefix: Uint8Array): AsyncGenerator<[Uint8Array, Rec]> {
  const lo = dataKey(prefix)
  const hi = prefix.length > 0 ? prefixEnd(lo) : Uint8Array.of(DATA + 1)
  const range = after && Buffer.compare(after, prefix) >= 0 ? { gt: dataKey(after), lt: hi } : { gte: lo, lt: hi }
  for await (const [k, v] of storage.kv.iterator(range)) yield [k.subarray(1), decodeRec(k, v)]
}

/** What reads need: one key's record, and the keyspace in order (live or not; callers filter). */
interface RecSource {
  get(key: Uint8Array): Promise<Rec | undefined>
  /** Several keys read at one point in time (MGET, EXISTS must not see half of a transaction). */
  getMany(keys: Uint8Array[]): Promise<(Rec | undefined)[]>
  iterate(after: Uint8Array | null, prefix: Uint8Array): AsyncIterable<[Uint8Array, Rec]>
}

/** A looked-up key: the stored record (maybe expired) and the live one (undefined when expired). */
interface Look {
  raw: Rec | undefined
  cur: Rec | undefined
}

export class KvMachine {
  /** Stored data records, live or expired-but-not-reclaimed (what Redis's DBSIZE counts too). */
  keyCount = 0
  /** Stored records that carry an expiry time (INFO keyspace `expires=`). */
  expiresCount = 0
  /** The kv sublevel the counts describe: a snapshot install replaces it, and we recount. */
  private countedKv: unknown = null
  /** Hot records; cleared when a snapshot install replaces the kv sublevel. */
  readonly cache = new RecCache()
  private cachedKv: unknown = null
  private readonly committed: RecSource
  constructor(private readonly storage: RaftStorage) {
    this.committed = {
      get: (key) => loadRec(this.storage, this.liveCache(), dataKey(key)),
      getMany: async (keys) => {
        // All cached: answered synchronously, between two published batches. Otherwise one
        // LevelDB getMany (one snapshot, and the storage changes by whole batches).
        const cache = this.liveCache()
        const hit = keys.map((k) => cache.get(idOf(dataKey(k))))
        if (hit.every((r) => r !== undefined)) return hit.map((r) => r ?? undefined)
        const dks = keys.map(dataKey)
        const vals = await this.storage.kv.getMany(dks)
        return vals.map((v, i) => (v === undefined ? undefined : decodeRec(dks[i]!, v)))
      },
      iterate: (after, prefix) => iterateStored(this.storage, after, prefix),
    }
  }

  /** Counts the stored keys (at start-up and after a snapshot install; O(keys)). */
  async recount(): Promise<void> {
    let n = 0
    let x = 0
    for await (const [k, v] of this.storage.kv.iterator({ gte: Uint8Array.of(DATA), lt: Uint8Array.of(DATA + 1) })) {
      const r = decodeRec(k, v)
      n++
      if (r.expireAt !== 0) x++
    }
    this.keyCount = n
    this.expiresCount = x
    this.countedKv = this.storage.kv
  }

  /** The cache, emptied first if a snapshot install replaced the data under it. */
  private liveCache(): RecCache {
    if (this.cachedKv !== this.storage.kv) {
      this.cache.clear()
      this.cache.release()
      this.cachedKv = this.storage.kv
    }
    return this.cache
  }

  async apply(entries: Entry[], batch: ApplyBatch): Promise<Reply[]> {
    if (this.countedKv !== this.storage.kv) await this.recount()
    // The run loop writes the batch after apply returns; the cache learns when that is done (it
    // must not take values from LevelDB that this batch is about to replace).
    const write = batch.write.bind(batch)
    batch.write = (index: number) => write(index).finally(() => this.cache.release())
    const ov = new Overlay(this.storage, batch, this.liveCache())
    const reqs = entries.map((e) => (e.type !== EntryType.Normal || e.data.length === 0 ? null : decodeRequest(e.data)))
    const keys: Uint8Array[] = []
    for (const r of reqs) if (r && typeof r !== 'string') touchedKeys(r, keys)
    await ov.prefetch(keys)
    const out: Reply[] = []
    for (let i = 0; i < entries.length; i++) {
      const req = reqs[i]!
      if (req === null) out.push(NIL)
      else if (typeof req === 'string') {
        // Deterministic everywhere: a malformed entry changes nothing and tells its proposer why.
        out.push(err(`ERR bad request in log entry ${entries[i]!.index}: ${req}`))
      } else out.push(await this.applyRequest(req, entries[i]!.index, ov))
    }
    ov.publish()
    return out
  }

  private async applyRequest(req: WriteRequest, index: number, ov: Overlay): Promise<Reply> {
    if (req.client === undefined || req.seq === undefined) return this.applyChecked(req, index, ov)
    const client = req.client
    const seq = req.seq
    const hk = sessionKey(client)
    const rawHead = await ov.getRaw(hk)
    let head = rawHead ? (unpack(rawHead) as Partial<SessionHead>) : undefined
    // Forgotten (too old) or in the pre-window format: a new session.
    if (head && (typeof head.max !== 'number' || (head.at ?? 0) + SESSION_TTL_MS < req.now)) head = undefined
    const h = head as SessionHead | undefined
    if (h) {
      if (seq < h.ack) return err('ERR request already superseded by a newer one from the same client')
      if (seq <= h.max) {
        // A retry of something already applied: answer as the first time, change nothing.
        const prev = await ov.getRaw(replyKey(client, seq))
        if (prev) return unpack(prev) as Reply
      }
    }
    const reply = await this.applyChecked(req, index, ov)
    const next: SessionHead = { ack: Math.max(h?.ack ?? 0, req.ack ?? 0), max: Math.max(h?.max ?? 0, seq), at: req.now }
    ov.putRaw(replyKey(client, seq), pack(reply))
    if (h && next.ack > h.ack) {
      for (let s = h.ack; s < next.ack && s < h.ack + MAX_ACK_SWEEP; s++) ov.delRaw(replyKey(client, s))
    }
    ov.putRaw(hk, pack(next))
    return reply
  }

  /** Applies the ops unless a WATCHed key changed since its revision was read. */
  private async applyChecked(req: WriteRequest, index: number, ov: Overlay): Promise<Reply> {
    for (const [k, rev] of req.watch ?? []) {
      const r = await ov.get(k)
      const cur = isLive(r, req.now) ? r.rev : 0
      if (cur !== rev) return { k: 'array', v: null }
    }
    if (!req.multi) return req.ops.length === 1 ? this.applyOp(req.ops[0]!, req.now, index, ov) : err(E.syntax)
    const replies: Reply[] = []
    // EXEC runs every command; one failing command does not undo the others (Redis semantics).
    for (const op of req.ops) replies.push(await this.applyOp(op, req.now, index, ov))
    return arr(replies)
  }

  private async look(ov: Overlay, key: Uint8Array, now: number): Promise<Look> {
    const raw = await ov.get(key)
    return { raw, cur: isLive(raw, now) ? raw : undefined }
  }

  /** Writes a key; `old` is what was stored before (live or not), for the counts. */
  private write(ov: Overlay, key: Uint8Array, value: Uint8Array, expireAt: number, index: number, old: Rec | undefined): void {
    if (!old) this.keyCount++
    this.expiresCount += (expireAt !== 0 ? 1 : 0) - (old && old.expireAt !== 0 ? 1 : 0)
    ov.put(key, { type: TYPE_STRING, expireAt, rev: index, value })
  }

  private remove(ov: Overlay, key: Uint8Array, old: Rec | undefined): void {
    if (!old) return
    this.keyCount = Math.max(0, this.keyCount - 1)
    if (old.expireAt !== 0) this.expiresCount = Math.max(0, this.expiresCount - 1)
    ov.del(key)
  }

  private async applyOp(op: WriteOp, now: number, index: number, ov: Overlay): Promise<Reply> {
    switch (op.t) {
      case 'set': {
        const { raw, cur } = await this.look(ov, op.key, now)
        if (cur && cur.type !== TYPE_STRING && op.get) return err(E.wrongType)
        if ((op.cond === 'nx' && cur) || (op.cond === 'xx' && !cur)) return op.get ? bulk(cur?.value ?? null) : NIL
        const expireAt = op.keepTtl && cur ? cur.expireAt : (op.expireAt ?? 0)
        if (expireAt !== 0 && expireAt <= now) {
          // Already in the past (EXAT/PXAT): the write happens and the key is gone at once.
          this.remove(ov, op.key, raw)
          return op.get ? bulk(cur?.value ?? null) : OK
        }
        this.write(ov, op.key, op.value, expireAt, index, raw)
        return op.get ? bulk(cur?.value ?? null) : OK
      }
      case 'del': {
        let n = 0
        for (const k of op.keys) {
          const { raw, cur } = await this.look(ov, k, now)
          // An expired record not yet reclaimed is reclaimed now, but does not count.
          if (cur) n++
          this.remove(ov, k, raw)
        }
        return int(n)
      }
      case 'incr': {
        const { raw, cur } = await this.look(ov, op.key, now)
        const by = BigInt(op.by)
        let v = 0n
        if (cur) {
          if (cur.type !== TYPE_STRING) return err(E.wrongType)
          const p = parseI64(cur.value)
          if (p === undefined) return err(E.notInt)
          v = p
        }
        const nv = v + by
        if (nv < I64_MIN || nv > I64_MAX) return err(E.overflow)
        this.write(ov, op.key, enc.encode(nv.toString()), cur?.expireAt ?? 0, index, raw)
        return int(nv)
      }
      case 'incrf': {
        const { raw, cur } = await this.look(ov, op.key, now)
        let old = '0'
        if (cur) {
          if (cur.type !== TYPE_STRING) return err(E.wrongType)
          if (parseLongDouble(dec.decode(cur.value)) === undefined) return err(E.notFloat)
          old = dec.decode(cur.value)
        }
        const s = formatIncrFloat(old, op.by)
        if (s === null) return err(E.nanOrInf)
        const b = enc.encode(s)
        this.write(ov, op.key, b, cur?.expireAt ?? 0, index, raw)
        return bulk(b)
      }
      case 'append': {
        const { raw, cur } = await this.look(ov, op.key, now)
        if (cur && cur.type !== TYPE_STRING) return err(E.wrongType)
        const old = cur?.value ?? EMPTY
        if (old.length + op.value.length > MAX_STRING) return err(E.maxSize)
        const nv = new Uint8Array(old.length + op.value.length)
        nv.set(old)
        nv.set(op.value, old.length)
        this.write(ov, op.key, nv, cur?.expireAt ?? 0, index, raw)
        return int(nv.length)
      }
      case 'setrange': {
        if (op.offset < 0) return err(E.offsetRange)
        const { raw, cur } = await this.look(ov, op.key, now)
        if (cur && cur.type !== TYPE_STRING) return err(E.wrongType)
        const old = cur?.value ?? EMPTY
        if (op.value.length === 0) return int(old.length)
        if (op.offset + op.value.length > MAX_STRING) return err(E.maxSize)
        const nv = new Uint8Array(Math.max(old.length, op.offset + op.value.length))
        nv.set(old)
        nv.set(op.value, op.offset)
        this.write(ov, op.key, nv, cur?.expireAt ?? 0, index, raw)
        return int(nv.length)
      }
      case 'getdel': {
        const { raw, cur } = await this.look(ov, op.key, now)
        if (!cur) return NIL
        if (cur.type !== TYPE_STRING) return err(E.wrongType)
        this.remove(ov, op.key, raw)
        return bulk(cur.value)
      }
      case 'getex': {
        const { raw, cur } = await this.look(ov, op.key, now)
        if (!cur) return NIL
        if (cur.type !== TYPE_STRING) return err(E.wrongType)
        if (op.persist) {
          if (cur.expireAt !== 0) this.write(ov, op.key, cur.value, 0, index, raw)
        } else if (op.expireAt !== undefined) {
          if (op.expireAt <= now) this.remove(ov, op.key, raw)
          else this.write(ov, op.key, cur.value, op.expireAt, index, raw)
        }
        return bulk(cur.value)
      }
      case 'expire': {
        const { raw, cur } = await this.look(ov, op.key, now)
        if (!cur) return int(0)
        const ttl = cur.expireAt === 0 ? Infinity : cur.expireAt
        if (op.cond === 'nx' && cur.expireAt !== 0) return int(0)
        if (op.cond === 'xx' && cur.expireAt === 0) return int(0)
        if (op.cond === 'gt' && !(op.at > ttl)) return int(0)
        if (op.cond === 'lt' && !(op.at < ttl)) return int(0)
        if (op.at <= now) this.remove(ov, op.key, raw)
        else this.write(ov, op.key, cur.value, op.at, index, raw)
        return int(1)
      }
      case 'persist': {
        const { raw, cur } = await this.look(ov, op.key, now)
        if (!cur || cur.expireAt === 0) return int(0)
        this.write(ov, op.key, cur.value, 0, index, raw)
        return int(1)
      }
      case 'rename': {
        const src = await this.look(ov, op.src, now)
        if (!src.cur) return err(E.noSuchKey)
        const same = Buffer.compare(op.src, op.dst) === 0
        if (same) return op.nx ? int(0) : OK
        const dst = await this.look(ov, op.dst, now)
        if (op.nx && dst.cur) return int(0)
        this.remove(ov, op.src, src.raw)
        this.write(ov, op.dst, src.cur.value, src.cur.expireAt, index, dst.raw)
        return op.nx ? int(1) : OK
      }
      case 'mset': {
        if (op.nx) {
          for (let i = 0; i < op.kvs.length; i += 2) if ((await this.look(ov, op.kvs[i]!, now)).cur) return int(0)
        }
        for (let i = 0; i < op.kvs.length; i += 2) {
          const { raw } = await this.look(ov, op.kvs[i]!, now)
          this.write(ov, op.kvs[i]!, op.kvs[i + 1]!, 0, index, raw)
        }
        return op.nx ? int(1) : OK
      }
      case 'flush':
        await ov.flush()
        this.keyCount = 0
        this.expiresCount = 0
        return OK
      case 'expired': {
        const r = await ov.get(op.key)
        if (r && r.expireAt === op.at && r.expireAt !== 0 && r.expireAt <= now) {
          this.remove(ov, op.key, r)
          return int(1)
        }
        return int(0)
      }
      case 'cas': {
        const { raw, cur } = await this.look(ov, op.key, now)
        const rev = cur ? cur.rev : 0
        if (rev !== op.rev) return err(`CONFLICT revision is ${rev}`)
        if (op.value === null) this.remove(ov, op.key, raw)
        else this.write(ov, op.key, op.value, op.expireAt ?? 0, index, raw)
        return int(index)
      }
      default:
        // Reads inside a transaction: answered from the state between the transaction's writes.
        return this.readFrom(op, ov, now)
    }
  }

  // ---- reads (after a linearizable read barrier, or stale when asked) -----------------------------

  async get(key: Uint8Array, now = Date.now()): Promise<Rec | undefined> {
    const r = await this.committed.get(key)
    return isLive(r, now) ? r : undefined
  }

  /** Answers a read op from the committed local state. */
  read(op: ReadOp, now = Date.now()): Promise<Reply> {
    return this.readFrom(op, this.committed, now)
  }

  private async readFrom(op: ReadOp, src: RecSource, now: number): Promise<Reply> {
    const live = async (k: Uint8Array): Promise<Rec | undefined> => {
      const r = await src.get(k)
      return isLive(r, now) ? r : undefined
    }
    switch (op.t) {
      case 'get': {
        const r = await live(op.key)
        if (r && r.type !== TYPE_STRING) return err(E.wrongType)
        return bulk(r?.value ?? null)
      }
      case 'mget': {
        // MGET answers nil for keys of another type rather than failing.
        const recs = await src.getMany(op.keys)
        return arr(recs.map((r) => bulk(isLive(r, now) && r.type === TYPE_STRING ? r.value : null)))
      }
      case 'strlen': {
        const r = await live(op.key)
        if (r && r.type !== TYPE_STRING) return err(E.wrongType)
        return int(r?.value.length ?? 0)
      }
      case 'getrange': {
        const r = await live(op.key)
        if (r && r.type !== TYPE_STRING) return err(E.wrongType)
        return bulk(substr(r?.value ?? EMPTY, op.start, op.end))
      }
      case 'exists': {
        const recs = await src.getMany(op.keys)
        return int(recs.filter((r) => isLive(r, now)).length)
      }
      case 'ttl': {
        const r = await live(op.key)
        if (!r) return int(-2)
        if (r.expireAt === 0) return int(-1)
        if (op.abs) return int(op.ms ? r.expireAt : Math.trunc(r.expireAt / 1000))
        const ms = r.expireAt - now
        return int(op.ms ? ms : Math.trunc((ms + 500) / 1000))
      }
      case 'type':
        return status((await live(op.key)) ? 'string' : 'none')
      case 'dbsize':
        return int(this.keyCount)
      case 'keys': {
        const out: Reply[] = []
        for await (const [k, r] of src.iterate(null, literalPrefix(op.pattern))) {
          if (isLive(r, now) && globMatch(op.pattern, k)) out.push(bulk(Uint8Array.from(k)))
        }
        return arr(out)
      }
      case 'scan': {
        const out: Reply[] = []
        let examined = 0
        let last: Uint8Array | null = null
        let more = false
        for await (const [k, r] of src.iterate(op.after, EMPTY)) {
          if (examined >= op.count) {
            more = true
            break
          }
          if (!isLive(r, now)) continue
          examined++
          last = Uint8Array.from(k)
          if (op.match && !globMatch(op.match, k)) continue
          if (op.type !== null && op.type.toLowerCase() !== 'string') continue
          out.push(bulk(last))
        }
        return arr([bulk(more ? last : null), arr(out)])
      }
      case 'randomkey': {
        for await (const [k, r] of src.iterate(op.seed, EMPTY)) if (isLive(r, now)) return bulk(Uint8Array.from(k))
        for await (const [k, r] of src.iterate(null, EMPTY)) if (isLive(r, now)) return bulk(Uint8Array.from(k))
        return NIL
      }
    }
  }

  /**
   * Live keys in key order after `after` (exclusive), up to `limit`, optionally only those starting
   * with `prefix`. Also returns the expired keys met on the way (for the leader to reclaim), at most
   * `maxExamined` records in all (live or expired) so one call's work is bounded.
   */
  async scan(opts: { after?: Uint8Array; prefix?: Uint8Array; limit: number; now?: number; maxExamined?: number }): Promise<{ keys: [Uint8Array, Rec][]; expired: [Uint8Array, number][]; done: boolean; last: Uint8Array | null }> {
    const now = opts.now ?? Date.now()
    const keys: [Uint8Array, Rec][] = []
    const expired: [Uint8Array, number][] = []
    const max = opts.maxExamined ?? Infinity
    let examined = 0
    let last: Uint8Array | null = null
    let done = true
    for await (const [uk, r] of iterateStored(this.storage, opts.after ?? null, opts.prefix ?? EMPTY)) {
      if (examined >= max || (isLive(r, now) && keys.length >= opts.limit)) {
        done = false
        break
      }
      examined++
      last = uk
      const at = r.expireAt
      if (isLive(r, now)) keys.push([uk, r])
      else expired.push([uk, at])
    }
    return { keys, expired, done, last }
  }
}

/** The data keys a request reads or writes (for the batch prefetch). */
function touchedKeys(r: WriteRequest, out: Uint8Array[]): void {
  for (const [k] of r.watch ?? []) out.push(k)
  for (const op of r.ops) {
    switch (op.t) {
      case 'del':
      case 'mget':
      case 'exists':
        out.push(...op.keys)
        break
      case 'rename':
        out.push(op.src, op.dst)
        break
      case 'mset':
        for (let i = 0; i < op.kvs.length; i += 2) out.push(op.kvs[i]!)
        break
      default:
        if ('key' in op) out.push(op.key)
    }
  }
}

/** GETRANGE's index arithmetic (t_string.c getrangeCommand). */
function substr(v: Uint8Array, start: number, end: number): Uint8Array {
  const len = v.length
  if (start < 0 && end < 0 && start > end) return EMPTY
  if (start < 0) start = len + start
  if (end < 0) end = len + end
  if (start < 0) start = 0
  if (end < 0) end = 0
  if (end >= len) end = len - 1
  if (start > end || len === 0) return EMPTY
  return v.subarray(start, end + 1)
}

/** The smallest key greater than every key with this prefix. */
function prefixEnd(p: Uint8Array): Uint8Array {
  const out = Uint8Array.from(p)
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++
      return out.subarray(0, i + 1)
    }
  }
  return Uint8Array.of(DATA + 1)
}

export { OK }
