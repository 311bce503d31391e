// Snapshots of the KV data as a stream of checksummed chunks, so that neither the sender nor the
// receiver ever holds the whole state machine in one buffer.
//
// Chunk layout (big-endian):
//   magic u32 'RKS1' | flags u8 (1 = last) | seq u32 | snapshot index u64 | snapshot term u64 |
//   record count u32 | payload length u32 | crc u32 (over the header before it and the payload)
//   payload: records, each  key length u32 | key | value length u32 | value
// The sequence number catches lost, duplicated and reordered chunks; index and term catch chunks of
// another snapshot; the last flag catches a stream cut short. A single record larger than the chunk
// limit travels alone in a chunk of its own size (the limit is a target, not a hard cap).
import type { SnapshotMeta } from '../raft/types.ts'
import { crc32 } from './crc.ts'
import { decodeApplied, decodeEntry, decodeKvGen, decodeSnapshotMeta, logKey, META_KVGEN, META_SNAPSHOT } from './codec.ts'
import { SnapshotChunkError, StorageCorruptionError } from './errors.ts'
import { prefixer, type Db, type Op, type Sublevel } from './layout.ts'

const MAGIC = 0x524b5331 // 'RKS1'
const FLAG_LAST = 1
export const CHUNK_HEADER = 37
const CRC_AT = 33
const TWO_32 = 2 ** 32

/** A LevelDB snapshot handle (typed from `level` so we need no direct abstract-level import). */
type LevelSnapshot = ReturnType<Db['snapshot']>

/** What the streams need from RaftStorage (kept narrow so the two files stay decoupled). */
export interface SnapshotHost {
  readonly db: Db
  readonly sublevels: { readonly log: Sublevel; readonly meta: Sublevel; readonly applied: Sublevel }
  kvSublevel(gen: number): Sublevel
  write(ops: Op[], sync: boolean): Promise<void>
  track(p: Promise<void>): Promise<void>
  install(gen: number, meta: SnapshotMeta): Promise<void>
  release(): void
}

// ---- chunk codec ------------------------------------------------------------------------------

function encodeChunk(seq: number, last: boolean, index: number, term: number, parts: Uint8Array[], size: number, count: number): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER + size)
  const v = new DataView(out.buffer)
  v.setUint32(0, MAGIC)
  v.setUint8(4, last ? FLAG_LAST : 0)
  v.setUint32(5, seq)
  v.setUint32(9, Math.floor(index / TWO_32))
  v.setUint32(13, index >>> 0)
  v.setUint32(17, Math.floor(term / TWO_32))
  v.setUint32(21, term >>> 0)
  v.setUint32(25, count)
  v.setUint32(29, size)
  let off = CHUNK_HEADER
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  v.setUint32(CRC_AT, crc32(out.subarray(CHUNK_HEADER), crc32(out.subarray(0, CRC_AT))))
  return out
}

interface DecodedChunk {
  last: boolean
  records: Array<{ key: Uint8Array; value: Uint8Array }>
}

/** Verifies and decodes chunk `seq` of the snapshot `meta`. */
export function decodeChunk(chunk: Uint8Array, meta: { index: number; term: number }, seq: number): DecodedChunk {
  if (chunk.length < CHUNK_HEADER) throw new SnapshotChunkError(seq, `${chunk.length} bytes, shorter than the header`)
  const v = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  if (v.getUint32(0) !== MAGIC) throw new SnapshotChunkError(seq, 'bad magic (not a raftkv snapshot chunk)')
  const size = v.getUint32(29)
  if (size !== chunk.length - CHUNK_HEADER) throw new SnapshotChunkError(seq, `payload length ${size} does not match chunk size ${chunk.length}`)
  const stored = v.getUint32(CRC_AT)
  const actual = crc32(chunk.subarray(CHUNK_HEADER), crc32(chunk.subarray(0, CRC_AT)))
  if (stored !== actual) throw new SnapshotChunkError(seq, 'checksum mismatch')
  const gotSeq = v.getUint32(5)
  if (gotSeq !== seq) throw new SnapshotChunkError(seq, `out of order: got chunk ${gotSeq}`)
  const index = v.getUint32(9) * TWO_32 + v.getUint32(13)
  const term = v.getUint32(17) * TWO_32 + v.getUint32(21)
  if (index !== meta.index || term !== meta.term) {
    throw new SnapshotChunkError(seq, `belongs to snapshot ${index}/${term}, not ${meta.index}/${meta.term}`)
  }
  const count = v.getUint32(25)
  const records: DecodedChunk['records'] = []
  let off = CHUNK_HEADER
  for (let i = 0; i < count; i++) {
    if (off + 4 > chunk.length) throw new SnapshotChunkError(seq, `record ${i} overruns the chunk`)
    const kl = v.getUint32(off)
    off += 4
    if (off + kl + 4 > chunk.length) throw new SnapshotChunkError(seq, `record ${i} overruns the chunk`)
    const key = chunk.subarray(off, off + kl)
    off += kl
    const vl = v.getUint32(off)
    off += 4
    if (off + vl > chunk.length) throw new SnapshotChunkError(seq, `record ${i} overruns the chunk`)
    records.push({ key, value: chunk.subarray(off, off + vl) })
    off += vl
  }
  if (off !== chunk.length) throw new SnapshotChunkError(seq, `${chunk.length - off} bytes after the last record`)
  return { last: (v.getUint8(4) & FLAG_LAST) !== 0, records }
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

// ---- reading ----------------------------------------------------------------------------------

/**
 * The KV data at the applied index, read through one LevelDB snapshot: writes that land while the
 * stream is being read (applies, even a snapshot install) do not show up in it.
 */
export class SnapshotSource {
  /** The applied index the data reflects, and the term of that entry. */
  readonly index: number
  readonly term: number
  private readonly snapshot: LevelSnapshot
  private readonly kv: Sublevel
  private readonly chunkBytes: number
  private used = false
  private closing: Promise<void> | null = null

  private constructor(snapshot: LevelSnapshot, kv: Sublevel, index: number, term: number, chunkBytes: number) {
    this.snapshot = snapshot
    this.kv = kv
    this.index = index
    this.term = term
    this.chunkBytes = chunkBytes
  }

  static async open(host: SnapshotHost, chunkBytes: number): Promise<SnapshotSource> {
    if (!Number.isInteger(chunkBytes) || chunkBytes < CHUNK_HEADER + 64) throw new RangeError(`chunkBytes too small: ${chunkBytes}`)
    const snapshot = host.db.snapshot()
    try {
      const { meta, applied, log } = host.sublevels
      const genRaw = await meta.get(META_KVGEN, { snapshot })
      const snapRaw = await meta.get(META_SNAPSHOT, { snapshot })
      const snap = snapRaw ? decodeSnapshotMeta(snapRaw) : { index: 0, term: 0 }
      let index = 0
      for await (const [k, v] of applied.iterator({ snapshot })) index = decodeApplied(k, v)
      let term = 0
      if (index === snap.index) term = snap.term
      else {
        const key = logKey(index)
        const raw = await log.get(key, { snapshot })
        if (!raw) throw new StorageCorruptionError(`log[${index}]`, 'the entry at the applied index is missing', index)
        term = decodeEntry(index, key, raw).term
      }
      const kv = host.kvSublevel(genRaw ? decodeKvGen(genRaw) : 0)
      return new SnapshotSource(snapshot, kv, index, term, chunkBytes)
    } catch (e) {
      await snapshot.close()
      throw e
    }
  }

  /** The chunks, in order; iterable once. Ending (or breaking out of) the iteration closes the source. */
  async *chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.used) throw new Error('a snapshot source can be read only once')
    this.used = true
    const it = this.kv.iterator({ snapshot: this.snapshot })
    try {
      let parts: Uint8Array[] = []
      let size = 0
      let count = 0
      let seq = 0
      for await (const [k, v] of it) {
        const len = 8 + k.length + v.length
        if (count > 0 && CHUNK_HEADER + size + len > this.chunkBytes) {
          yield encodeChunk(seq++, false, this.index, this.term, parts, size, count)
          parts = []
          size = 0
          count = 0
        }
        parts.push(u32(k.length), k, u32(v.length), v)
        size += len
        count++
      }
      yield encodeChunk(seq, true, this.index, this.term, parts, size, count)
    } finally {
      await it.close()
      await this.close()
    }
  }

  /** Releases the LevelDB snapshot (needed only when the chunks are not read to the end). */
  close(): Promise<void> {
    this.closing ??= this.snapshot.close()
    return this.closing
  }
}

// ---- writing ----------------------------------------------------------------------------------

/**
 * Receives chunks into a staging KV generation. Each chunk is verified, then written with
 * sync: true — a chunk is up to a megabyte, so one fsync per chunk costs little, and it means
 * finish() never depends on unsynced data in a WAL file LevelDB has already retired.
 * finish() swaps the staged generation in atomically; abort() (also done automatically when a
 * chunk is rejected or finish fails) discards it. The live KV data is untouched until finish().
 */
export class SnapshotWriter {
  readonly meta: SnapshotMeta
  private readonly host: SnapshotHost
  private readonly gen: number
  private readonly staging: Sublevel
  private readonly stagingKey: (key: Uint8Array) => Uint8Array
  private nextSeq = 0
  private sawLast = false
  private busy = false
  private state: 'open' | 'done' | 'aborted' = 'open'
  private aborting: Promise<void> | null = null
  private records = 0

  /** @internal created by RaftStorage.snapshotWriter */
  constructor(host: SnapshotHost, meta: SnapshotMeta, gen: number, staging: Sublevel) {
    this.host = host
    this.meta = meta
    this.gen = gen
    this.staging = staging
    this.stagingKey = prefixer(staging)
  }

  /** Records received so far. */
  get recordCount(): number {
    return this.records
  }

  /** Verifies and stages one chunk. Await each call before the next: chunks must arrive in order. */
  async write(chunk: Uint8Array): Promise<void> {
    this.enter()
    try {
      if (this.sawLast) throw new SnapshotChunkError(this.nextSeq, 'arrived after the last chunk')
      const { last, records } = decodeChunk(chunk, this.meta, this.nextSeq)
      if (records.length > 0) {
        const ops: Op[] = records.map((r) => ({ type: 'put', key: this.stagingKey(r.key), value: r.value }))
        await this.host.write(ops, true)
      }
      this.nextSeq++
      this.sawLast = last
      this.records += records.length
    } catch (e) {
      await this.abortNow()
      throw e
    } finally {
      this.busy = false
    }
  }

  /** Atomically replaces the live KV data with the staged one and records meta and applied index. */
  async finish(): Promise<void> {
    this.enter()
    try {
      if (!this.sawLast) throw new SnapshotChunkError(this.nextSeq, 'stream ended before the last chunk')
      await this.host.install(this.gen, this.meta)
      this.state = 'done'
      this.host.release()
    } catch (e) {
      await this.abortNow()
      throw e
    } finally {
      this.busy = false
    }
  }

  /** Discards the staged data. Safe to call more than once, and after a failure. */
  async abort(): Promise<void> {
    if (this.state === 'done') return
    await this.abortNow()
  }

  private enter(): void {
    if (this.state !== 'open') throw new Error(`snapshot writer is ${this.state}`)
    if (this.busy) throw new Error('snapshot writer: await the previous call first')
    this.busy = true
  }

  private abortNow(): Promise<void> {
    if (!this.aborting) {
      this.state = 'aborted'
      // Clearing must finish before the generation number can be handed out again (release()).
      this.aborting = this.host.track(this.staging.clear()).then(() => this.host.release())
    }
    return this.aborting
  }
}
