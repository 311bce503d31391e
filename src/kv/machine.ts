// The replicated key-value state machine: applies committed write requests in log order into the
// storage's kv sublevel, and answers reads. Deterministic: apply depends only on the log (time comes
// from the request's `now`), so every replica ends in the same state.
import { Packr } from 'msgpackr'
import type { Entry } from '../raft/types.ts'
import { EntryType } from '../raft/types.ts'
import type { ApplyBatch, RaftStorage } from '../storage/raft-storage.ts'
import { DATA, TYPE_STRING, dataKey, decodeRec, encodeRec, isLive, sessionKey, type Rec } from './record.ts'
import { E, NIL, OK, arr, bulk, err, int, type Reply } from './reply.ts'
import { decodeRequest, type WriteOp, type WriteRequest } from './request.ts'

/** Redis's proto-max-bulk-len: the largest string a value may grow to. */
export const MAX_STRING = 512 * 1024 * 1024
const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
/** A deduplication record older than this (by request clocks) is forgotten. */
const SESSION_TTL_MS = 60 * 60 * 1000

const sessionPackr = new Packr({ useRecords: false, mapsAsObjects: true })
const enc = new TextEncoder()
const dec = new TextDecoder()

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

interface Session {
  seq: number
  at: number
  reply: Reply
}

/**
 * The writes of one apply batch, readable before they are written: later commands in the same
 * batch must see earlier ones.
 */
class Overlay {
  private readonly m = new Map<string, Rec | null>()
  flushed = false
  constructor(
    private readonly storage: RaftStorage,
    private readonly batch: ApplyBatch,
  ) {}

  private static id(k: Uint8Array): string {
    return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1')
  }

  async get(key: Uint8Array): Promise<Rec | undefined> {
    const dk = dataKey(key)
    const id = Overlay.id(dk)
    const o = this.m.get(id)
    if (o !== undefined) return o ?? undefined
    if (this.flushed) return undefined
    const raw = await this.storage.kv.get(dk)
    return raw === undefined ? undefined : decodeRec(dk, raw)
  }

  put(key: Uint8Array, r: Rec): void {
    const dk = dataKey(key)
    this.m.set(Overlay.id(dk), r)
    this.batch.put(dk, encodeRec(dk, r))
  }

  del(key: Uint8Array): void {
    const dk = dataKey(key)
    this.m.set(Overlay.id(dk), null)
    this.batch.del(dk)
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
}

export class KvMachine {
  /** Keys written, for INFO's keyspace line; approximate between restarts (recounted at start). */
  keyCount = 0
  constructor(private readonly storage: RaftStorage) {}

  /** Counts live keys (at start-up; O(keys)). */
  async recount(now = Date.now()): Promise<void> {
    let n = 0
    for await (const [k, v] of this.storage.kv.iterator({ gte: Uint8Array.of(DATA), lt: Uint8Array.of(DATA + 1) })) {
      if (isLive(decodeRec(k, v), now)) n++
    }
    this.keyCount = n
  }

  async apply(entries: Entry[], batch: ApplyBatch): Promise<Reply[]> {
    const ov = new Overlay(this.storage, batch)
    const out: Reply[] = []
    for (const e of entries) {
      if (e.type !== EntryType.Normal || e.data.length === 0) {
        out.push(NIL)
        continue
      }
      const req = decodeRequest(e.data)
      if (typeof req === 'string') {
        // Deterministic everywhere: a malformed entry changes nothing and tells its proposer why.
        out.push(err(`ERR bad request in log entry ${e.index}: ${req}`))
        continue
      }
      out.push(await this.applyRequest(req, e.index, ov, batch))
    }
    return out
  }

  private async applyRequest(req: WriteRequest, index: number, ov: Overlay, batch: ApplyBatch): Promise<Reply> {
    let sk: Uint8Array | undefined
    const seq = req.seq ?? 0
    if (req.client !== undefined && req.seq !== undefined) {
      sk = sessionKey(req.client)
      const raw = await this.storage.kv.get(sk)
      const s = raw ? (sessionPackr.unpack(raw) as Session) : undefined
      if (s && s.at + SESSION_TTL_MS >= req.now) {
        // A retry of what we already applied: answer as the first time, change nothing.
        if (seq === s.seq) return s.reply
        if (seq < s.seq) return err('ERR request already superseded by a newer one from the same client')
      }
    }
    let reply: Reply
    if (req.watch && req.watch.length > 0) {
      let changed = false
      for (const [k, rev] of req.watch) {
        const r = await ov.get(k)
        const cur = isLive(r, req.now) ? r.rev : 0
        if (cur !== rev) changed = true
      }
      if (changed) reply = { k: 'array', v: null }
      else reply = await this.applyOps(req, index, ov)
    } else {
      reply = await this.applyOps(req, index, ov)
    }
    if (sk) batch.put(sk, sessionPackr.pack({ seq, at: req.now, reply } satisfies Session))
    return reply
  }

  private async applyOps(req: WriteRequest, index: number, ov: Overlay): Promise<Reply> {
    if (!req.multi) return req.ops.length === 1 ? this.applyOp(req.ops[0]!, req.now, index, ov) : err(E.syntax)
    const replies: Reply[] = []
    // EXEC runs every command; one failing command does not undo the others (Redis semantics).
    for (const op of req.ops) replies.push(await this.applyOp(op, req.now, index, ov))
    return arr(replies)
  }

  private async live(ov: Overlay, key: Uint8Array, now: number): Promise<Rec | undefined> {
    const r = await ov.get(key)
    return isLive(r, now) ? r : undefined
  }

  private write(ov: Overlay, key: Uint8Array, value: Uint8Array, expireAt: number, index: number, existed: boolean): void {
    if (!existed) this.keyCount++
    ov.put(key, { type: TYPE_STRING, expireAt, rev: index, value })
  }

  private remove(ov: Overlay, key: Uint8Array): void {
    this.keyCount = Math.max(0, this.keyCount - 1)
    ov.del(key)
  }

  private async applyOp(op: WriteOp, now: number, index: number, ov: Overlay): Promise<Reply> {
    switch (op.t) {
      case 'set': {
        const cur = await this.live(ov, op.key, now)
        if (cur && cur.type !== TYPE_STRING && op.get) return err(E.wrongType)
        if ((op.cond === 'nx' && cur) || (op.cond === 'xx' && !cur)) return op.get ? bulk(cur?.value ?? null) : NIL
        const expireAt = op.keepTtl && cur ? cur.expireAt : (op.expireAt ?? 0)
        if (expireAt !== 0 && expireAt <= now) {
          // Already in the past (EXAT/PXAT): the write happens and the key is gone at once.
          if (cur) this.remove(ov, op.key)
          return op.get ? bulk(cur?.value ?? null) : OK
        }
        this.write(ov, op.key, op.value, expireAt, index, !!cur)
        return op.get ? bulk(cur?.value ?? null) : OK
      }
      case 'del': {
        let n = 0
        for (const k of op.keys) {
          if (await this.live(ov, k, now)) {
            this.remove(ov, k)
            n++
          } else if (await ov.get(k)) {
            // Expired but not yet reclaimed: reclaim it now, it does not count.
            ov.del(k)
          }
        }
        return int(n)
      }
      case 'incr': {
        const cur = await this.live(ov, op.key, now)
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
        this.write(ov, op.key, enc.encode(nv.toString()), cur?.expireAt ?? 0, index, !!cur)
        return int(nv)
      }
      case 'incrf': {
        const cur = await this.live(ov, op.key, now)
        const by = Number(op.by)
        let v = 0
        if (cur) {
          if (cur.type !== TYPE_STRING) return err(E.wrongType)
          const p = parseF64(cur.value)
          if (p === undefined) return err(E.notFloat)
          v = p
        }
        const nv = v + by
        if (!Number.isFinite(nv)) return err(E.nanOrInf)
        const s = enc.encode(formatFloat(nv))
        this.write(ov, op.key, s, cur?.expireAt ?? 0, index, !!cur)
        return bulk(s)
      }
      case 'append': {
        const cur = await this.live(ov, op.key, now)
        if (cur && cur.type !== TYPE_STRING) return err(E.wrongType)
        const old = cur?.value ?? new Uint8Array(0)
        if (old.length + op.value.length > MAX_STRING) return err(E.maxSize)
        const nv = new Uint8Array(old.length + op.value.length)
        nv.set(old)
        nv.set(op.value, old.length)
        this.write(ov, op.key, nv, cur?.expireAt ?? 0, index, !!cur)
        return int(nv.length)
      }
      case 'setrange': {
        const cur = await this.live(ov, op.key, now)
        if (cur && cur.type !== TYPE_STRING) return err(E.wrongType)
        const old = cur?.value ?? new Uint8Array(0)
        if (op.value.length === 0) return int(old.length)
        if (op.offset < 0) return err(E.offsetRange)
        if (op.offset + op.value.length > MAX_STRING) return err(E.maxSize)
        const nv = new Uint8Array(Math.max(old.length, op.offset + op.value.length))
        nv.set(old)
        nv.set(op.value, op.offset)
        this.write(ov, op.key, nv, cur?.expireAt ?? 0, index, !!cur)
        return int(nv.length)
      }
      case 'getdel': {
        const cur = await this.live(ov, op.key, now)
        if (!cur) return NIL
        if (cur.type !== TYPE_STRING) return err(E.wrongType)
        this.remove(ov, op.key)
        return bulk(cur.value)
      }
      case 'getex': {
        const cur = await this.live(ov, op.key, now)
        if (!cur) return NIL
        if (cur.type !== TYPE_STRING) return err(E.wrongType)
        if (op.persist) this.write(ov, op.key, cur.value, 0, index, true)
        else if (op.expireAt !== undefined) {
          if (op.expireAt <= now) this.remove(ov, op.key)
          else this.write(ov, op.key, cur.value, op.expireAt, index, true)
        }
        return bulk(cur.value)
      }
      case 'expire': {
        const cur = await this.live(ov, op.key, now)
        if (!cur) return int(0)
        const ttl = cur.expireAt === 0 ? Infinity : cur.expireAt
        if (op.cond === 'nx' && cur.expireAt !== 0) return int(0)
        if (op.cond === 'xx' && cur.expireAt === 0) return int(0)
        if (op.cond === 'gt' && !(op.at > ttl)) return int(0)
        if (op.cond === 'lt' && !(op.at < ttl)) return int(0)
        if (op.at <= now) this.remove(ov, op.key)
        else this.write(ov, op.key, cur.value, op.at, index, true)
        return int(1)
      }
      case 'persist': {
        const cur = await this.live(ov, op.key, now)
        if (!cur || cur.expireAt === 0) return int(0)
        this.write(ov, op.key, cur.value, 0, index, true)
        return int(1)
      }
      case 'rename': {
        const src = await this.live(ov, op.src, now)
        if (!src) return err(E.noSuchKey)
        const same = Buffer.compare(op.src, op.dst) === 0
        if (op.nx) {
          if (same) return int(0)
          if (await this.live(ov, op.dst, now)) return int(0)
        }
        if (same) return OK
        const dst = await this.live(ov, op.dst, now)
        this.remove(ov, op.src)
        this.write(ov, op.dst, src.value, src.expireAt, index, !!dst)
        return op.nx ? int(1) : OK
      }
      case 'mset': {
        if (op.nx) {
          for (let i = 0; i < op.kvs.length; i += 2) if (await this.live(ov, op.kvs[i]!, now)) return int(0)
        }
        for (let i = 0; i < op.kvs.length; i += 2) {
          const cur = await this.live(ov, op.kvs[i]!, now)
          this.write(ov, op.kvs[i]!, op.kvs[i + 1]!, 0, index, !!cur)
        }
        return op.nx ? int(1) : OK
      }
      case 'flush':
        await ov.flush()
        this.keyCount = 0
        return OK
      case 'expired': {
        const r = await ov.get(op.key)
        if (r && r.expireAt === op.at && r.expireAt !== 0 && r.expireAt <= now) {
          this.remove(ov, op.key)
          return int(1)
        }
        return int(0)
      }
      case 'cas': {
        const cur = await this.live(ov, op.key, now)
        const rev = cur ? cur.rev : 0
        if (rev !== op.rev) return err(`CONFLICT revision is ${rev}`)
        if (op.value === null) {
          if (cur) this.remove(ov, op.key)
        } else this.write(ov, op.key, op.value, op.expireAt ?? 0, index, !!cur)
        return int(index)
      }
    }
  }

  // ---- reads (after a linearizable read barrier, or stale when asked) -----------------------------

  async get(key: Uint8Array, now = Date.now()): Promise<Rec | undefined> {
    const dk = dataKey(key)
    const raw = await this.storage.kv.get(dk)
    if (raw === undefined) return undefined
    const r = decodeRec(dk, raw)
    return isLive(r, now) ? r : undefined
  }

  /**
   * Live keys in key order after `after` (exclusive), up to `limit`, optionally only those starting
   * with `prefix`. Also returns the expired keys met on the way (for the leader to reclaim).
   */
  async scan(opts: { after?: Uint8Array; prefix?: Uint8Array; limit: number; now?: number }): Promise<{ keys: [Uint8Array, Rec][]; expired: [Uint8Array, number][]; done: boolean }> {
    const now = opts.now ?? Date.now()
    const lo = dataKey(opts.prefix ?? new Uint8Array(0))
    const hiBase = opts.prefix && opts.prefix.length > 0 ? prefixEnd(lo) : Uint8Array.of(DATA + 1)
    const range = opts.after ? { gt: dataKey(opts.after), lt: hiBase } : { gte: lo, lt: hiBase }
    const keys: [Uint8Array, Rec][] = []
    const expired: [Uint8Array, number][] = []
    let done = true
    for await (const [k, v] of this.storage.kv.iterator({ ...range })) {
      const r = decodeRec(k, v)
      const uk = k.subarray(1)
      if (r.expireAt === 0 || r.expireAt > now) {
        if (keys.length >= opts.limit) {
          done = false
          break
        }
        keys.push([uk, r])
      } else expired.push([uk, r.expireAt])
    }
    return { keys, expired, done }
  }
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
