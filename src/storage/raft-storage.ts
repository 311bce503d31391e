// Durable Raft state on one LevelDB database per node (classic-level through `level`).
//
// Layout (sublevels of one database, so one batch can span them atomically):
//   log        u64 index (big-endian) → entry record (codec.ts), contiguous from snapshot.index + 1
//   meta       'hardstate' | 'snapshot' | 'logtail' | 'kvgen' → sealed records (codec.ts)
//   applied    u64 apply sequence → applied index (exactly one record; see ApplyBatch)
//   kv-XXXXXXXX  the replicated key-value data of generation XXXXXXXX (hex); 'kvgen' names the live one.
//
// Why generations: installing a snapshot must swap the whole KV contents atomically, and the
// contents may be far larger than one batch. The incoming data is streamed into the next
// generation's sublevel; one small synced batch then flips 'kvgen' together with the snapshot
// meta and the applied index. Old or half-written generations are cleared afterwards, and on
// every open any generation other than the live one is swept.
//
// Order of operations the node must follow (the Raft Ready contract, types.ts):
//   persist({ entries, hardState, snapshot }) → send persisted messages → apply committed entries
//   with applyBatch() → compact() when the application decides to snapshot.
// An incoming snapshot is streamed into snapshotWriter(meta) while the core decides; when the
// core's Ready carries that snapshot, call writer.finish() (which records the meta, applied index
// and log compaction durably), then persist() the rest of that Ready.
import { mkdir, open as openFile, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Level } from 'level'
import type { RestoredState } from '../raft/config.ts'
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts'
import {
  decodeApplied,
  decodeEntry,
  decodeHardState,
  decodeKvGen,
  decodeLogKey,
  decodeLogTail,
  decodeSeqKey,
  decodeSnapshotMeta,
  encodeApplied,
  encodeEntry,
  encodeHardState,
  encodeKvGen,
  encodeLogTail,
  encodeSnapshotMeta,
  hex,
  logKey,
  META_HARDSTATE,
  META_KVGEN,
  META_LOGTAIL,
  META_SNAPSHOT,
  seqKey,
  utf8,
} from './codec.ts'
import { LevelDbFileDamage, StorageCorruptionError, StorageFailedError } from './errors.ts'
import { liveFiles } from './manifest.ts'
import { checkTables } from './table-check.ts'
import { checkWalTails } from './wal-tail.ts'
import { crashNow, syncFailpoint } from './failpoint.ts'
import { KV_PREFIX, kvName, makeSublevel, prefixer, type Db, type Op, type Sublevel } from './layout.ts'
import { SnapshotSource, SnapshotWriter, type SnapshotHost } from './snapshot-stream.ts'

export type { Db, Op, Sublevel } from './layout.ts'

export interface RaftStorageOptions {
  /** Write apply batches with `sync: true`. Default false — see ApplyBatch for why that is safe. */
  syncApply?: boolean
  /** Called with the duration in ms of every synced write (for a metrics histogram). */
  onSyncWrite?: (ms: number) => void
  /** LevelDB memtable size (default 4 MiB). */
  writeBufferSize?: number
  /** LevelDB block cache size (default 8 MiB). */
  cacheSize?: number
}

export interface LoadedState extends RestoredState {
  /** Nothing was ever persisted here: a brand-new node, which the caller bootstraps. */
  fresh: boolean
}

export interface PersistRequest {
  entries: Entry[]
  hardState: HardState | null
  snapshot: SnapshotMeta | null
}

export interface StorageStats {
  /** Synced batch writes (each one LevelDB WAL fsync). */
  fsyncs: number
  fsyncMeanMs: number
  fsyncMaxMs: number
  fsyncTotalMs: number
  entriesPersisted: number
  logBytesPersisted: number
  applyWrites: number
}

/** Written next to the LevelDB files when LevelDB reports it dropped data; blocks every later open. */
export const CORRUPTION_MARKER = 'RAFTKV-CORRUPTED'
/** Written once the store first made Raft state durable (see RaftStorage.heldData). */
export const HELD_DATA_MARKER = 'RAFTKV-HELD-DATA'

// The LevelDB "durability barrier" (see barrier()) compacts a key range nothing lives in: every
// sublevel key starts with '!' (0x21), these start with 0xff.
const BARRIER_LO = new Uint8Array([0xff, 0xff, 0xff, 0x00])
const BARRIER_HI = new Uint8Array([0xff, 0xff, 0xff, 0x01])

type Chain = 'log' | 'apply'

export class RaftStorage {
  /** The root database handle. For tests and diagnostics: writing through it bypasses every check. */
  readonly db: Db
  readonly dir: string
  /** Raw sublevels, for tests and diagnostics. */
  readonly sublevels: { readonly log: Sublevel; readonly meta: Sublevel; readonly applied: Sublevel }

  private readonly opts: RaftStorageOptions
  /** Root keys of the internal sublevels (writes go to the root database, see layout.ts). */
  private readonly rk: { readonly log: (k: Uint8Array) => Uint8Array; readonly meta: (k: Uint8Array) => Uint8Array; readonly applied: (k: Uint8Array) => Uint8Array }
  private loaded = false
  private closed = false
  private failure: unknown = null

  // Durable state mirrored in memory (updated only after the batch that wrote it resolved), so
  // truncation, compaction and the apply journal never need a scan.
  private snap: SnapshotMeta = { index: 0, term: 0, conf: { voters: [], learners: [] } }
  private hs: HardState = { term: 0, vote: 0, commit: 0 }
  private lastIndex = 0
  private lastTerm = 0
  private applied = 0
  private applySeq = 0
  private kvGen = 0
  private kvSub: Sublevel

  // Writes are serialised per chain: persist/compact on 'log', apply batches on 'apply'. They may
  // overlap across chains (different keys), which lets the node apply turn n while persisting n+1.
  // Within a chain order matters: classic-level runs batches on the libuv thread pool, so two
  // concurrent batch() calls may reach LevelDB in either order.
  private chains: Record<Chain, Promise<void>> = { log: Promise.resolve(), apply: Promise.resolve() }
  private background = new Set<Promise<void>>()
  private sweep: Promise<void> = Promise.resolve()
  private writerActive = false

  /**
   * The directory has held durable Raft state (HELD_DATA_MARKER exists): it must never load as a
   * fresh store again. LevelDB can lose a whole batch without reporting it (a damaged record it
   * takes for a torn write, a damaged table index); a node that then starts as new forgets its
   * vote and its log.
   */
  private heldData: boolean

  private st = { fsyncs: 0, fsyncTotalMs: 0, fsyncMaxMs: 0, entries: 0, logBytes: 0, applyWrites: 0 }

  private constructor(dir: string, db: Db, opts: RaftStorageOptions, heldData: boolean) {
    this.heldData = heldData
    this.dir = dir
    this.db = db
    this.opts = opts
    this.sublevels = { log: makeSublevel(db, 'log'), meta: makeSublevel(db, 'meta'), applied: makeSublevel(db, 'applied') }
    this.rk = { log: prefixer(this.sublevels.log), meta: prefixer(this.sublevels.meta), applied: prefixer(this.sublevels.applied) }
    this.kvSub = makeSublevel(db, kvName(0))
  }

  /** Opens (creating if missing) the database in `dir`. Call load() before anything else. */
  static async open(dir: string, opts: RaftStorageOptions = {}): Promise<RaftStorage> {
    await mkdir(dir, { recursive: true })
    await refuseIfMarked(dir)
    try {
      // One read of the MANIFEST says which tables and logs LevelDB will read.
      const live = await liveFiles(dir)
      await checkTables(dir, live)
      await checkWalTails(dir, live)
    } catch (e) {
      if (!(e instanceof LevelDbFileDamage)) throw e
      await markCorrupt(dir, `LevelDB's files failed a check before opening ${dir}:\n${e.message}\n`)
      throw new StorageCorruptionError(`leveldb/${e.file}`, e.message)
    }
    const heldData = await exists(join(dir, HELD_DATA_MARKER))
    const db: Db = new Level<Uint8Array, Uint8Array>(dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      ...(opts.writeBufferSize !== undefined ? { writeBufferSize: opts.writeBufferSize } : {}),
      ...(opts.cacheSize !== undefined ? { cacheSize: opts.cacheSize } : {}),
    })
    await db.open() // LevelDB's own errors (bad MANIFEST, unreadable table) propagate unchanged
    try {
      await checkRecoveryLog(dir)
    } catch (e) {
      await db.close()
      throw e
    }
    return new RaftStorage(dir, db, opts, heldData)
  }

  /**
   * Reads and verifies everything: hard state, snapshot meta, applied index, and every log record
   * (checksum, contiguity from snapshot.index + 1, non-decreasing terms). Throws
   * StorageCorruptionError on any inconsistency; the node must not start then.
   */
  async load(): Promise<LoadedState> {
    this.assertOpen()
    const { meta, applied: appliedSub, log } = this.sublevels
    const hsRaw = await meta.get(META_HARDSTATE)
    const snapRaw = await meta.get(META_SNAPSHOT)
    const genRaw = await meta.get(META_KVGEN)
    const tailRaw = await meta.get(META_LOGTAIL)
    const hardState = hsRaw ? decodeHardState(hsRaw) : { term: 0, vote: 0, commit: 0 }
    const snap = snapRaw ? decodeSnapshotMeta(snapRaw) : { index: 0, term: 0, conf: { voters: [], learners: [] } }
    const kvGen = genRaw ? decodeKvGen(genRaw) : 0

    // The apply journal holds exactly one record when all is well (see ApplyBatch).
    const journal: Array<{ seq: number; index: number }> = []
    for await (const [k, v] of appliedSub.iterator()) journal.push({ seq: decodeSeqKey(k), index: decodeApplied(k, v) })
    if (journal.length > 1) {
      throw new StorageCorruptionError(
        'applied',
        `apply journal has records for batches ${journal.map((j) => j.seq).join(', ')}: an apply batch was lost ` +
          'while a later one survived, so the KV data is missing changes',
      )
    }
    const applied = journal[0]?.index ?? 0
    const applySeq = journal[0]?.seq ?? 0

    const entries: Entry[] = []
    let prevIndex = snap.index
    let prevTerm = snap.term
    for await (const [k, v] of log.iterator()) {
      const index = decodeLogKey(k)
      if (index <= snap.index) {
        throw new StorageCorruptionError(`log[${index}]`, `record at or below the snapshot index ${snap.index} (compaction is atomic, so it cannot be left over)`, index)
      }
      if (index !== prevIndex + 1) {
        throw new StorageCorruptionError(`log[${prevIndex + 1}]`, `gap: entries ${prevIndex + 1}..${index - 1} are missing (next stored record is ${index})`, prevIndex + 1)
      }
      const e = decodeEntry(index, k, v)
      if (e.term < prevTerm) {
        throw new StorageCorruptionError(`log[${index}]`, `term ${e.term} is lower than the term ${prevTerm} of index ${prevIndex}`, index)
      }
      entries.push(e)
      prevIndex = index
      prevTerm = e.term
    }

    // The log must end exactly where the last write left it. This catches a tail that vanished
    // without a checksum failing: a table-file bit flip that turns a put into a delete, or
    // records LevelDB dropped while recovering (those are also reported through its LOG file).
    if (tailRaw) {
      const tail = decodeLogTail(tailRaw)
      if (tail.index !== prevIndex || tail.term !== prevTerm) {
        const what =
          prevIndex < tail.index
            ? `log ends at ${prevIndex} but the last write ended it at ${tail.index}: entries ${prevIndex + 1}..${tail.index} are missing (torn or dropped tail)`
            : `log ends at ${prevIndex}/term ${prevTerm} but the last write ended it at ${tail.index}/term ${tail.term}`
        throw new StorageCorruptionError(`log[${Math.min(prevIndex, tail.index) + 1}]`, what, Math.min(prevIndex, tail.index) + 1)
      }
    } else if (entries.length > 0 || snap.index > 0) {
      throw new StorageCorruptionError('meta/logtail', 'record is missing although the log or a snapshot exists')
    }

    // Cross-record invariants. Each holds after every batch this class writes, so a violation
    // means lost or damaged data (or a second writer), never a crash at an unlucky moment.
    if (hardState.commit > prevIndex) {
      throw new StorageCorruptionError('meta/hardstate', `commit index ${hardState.commit} is beyond the last durable entry ${prevIndex}`)
    }
    if (entries.length > 0 && prevTerm > hardState.term) {
      throw new StorageCorruptionError(`log[${prevIndex}]`, `entry term ${prevTerm} is above the current term ${hardState.term} in the hard state`, prevIndex)
    }
    if (applied < snap.index) {
      throw new StorageCorruptionError('applied', `applied index ${applied} is below the snapshot index ${snap.index}: the KV data is older than the compacted log`)
    }
    if (applied > prevIndex) {
      throw new StorageCorruptionError('applied', `applied index ${applied} is beyond the last durable entry ${prevIndex}`)
    }

    this.hs = hardState
    this.snap = snap
    this.lastIndex = prevIndex
    this.lastTerm = prevTerm
    this.applied = applied
    this.applySeq = applySeq
    this.kvGen = kvGen
    this.kvSub = makeSublevel(this.db, kvName(kvGen))
    this.loaded = true
    this.sweep = this.track(this.sweepGenerations())
    const fresh = !hsRaw && !snapRaw && entries.length === 0 && journal.length === 0
    if (fresh && this.heldData) {
      throw new StorageCorruptionError(HELD_DATA_MARKER, 'this store held Raft state, but LevelDB now returns none (a whole batch or table was lost without an error): refusing to start as a new node')
    }
    return { hardState, snapshot: snap, entries, applied, fresh }
  }

  /**
   * Group commit: everything one Ready asks to persist, in ONE batch written with sync: true.
   * - snapshot: records the meta and compacts the log durably (records ≤ snapshot.index go; the
   *   records above it stay only if the stored entry at snapshot.index has the snapshot's term —
   *   Raft's log matching then proves them consistent with it — otherwise the whole old log goes).
   *   The snapshot's data must already be installed (SnapshotWriter.finish records the same meta).
   * - entries: replace stored entries from entries[0].index on; stored records past the last new
   *   entry are deleted (a conflicting suffix truncated).
   * - hardState: overwritten.
   */
  persist(p: PersistRequest): Promise<void> {
    return this.serial(['log'], () => this.doPersist(p))
  }

  private async doPersist({ entries, hardState, snapshot }: PersistRequest): Promise<void> {
    this.assertWritable()
    if (entries.length === 0 && !hardState && !snapshot) return // nothing to make durable: no fsync
    const ops: Op[] = []
    let snap = this.snap
    let first = this.snap.index + 1
    let last = this.lastIndex
    let lastTerm = this.lastTerm

    if (snapshot) {
      if (snapshot.index > this.applied) {
        throw new Error(`persist: snapshot ${snapshot.index} is not installed (applied ${this.applied}); finish its SnapshotWriter first`)
      }
      const plan = await this.planSnapshot(snapshot)
      ops.push(...plan.ops, { type: 'put', key: this.rk.meta(META_SNAPSHOT), value: encodeSnapshotMeta(snapshot) })
      snap = snapshot
      first = snapshot.index + 1
      last = plan.last
      lastTerm = plan.lastTerm
    }

    let bytes = 0
    if (entries.length > 0) {
      const e0 = entries[0]!
      if (e0.index < first || e0.index > last + 1) {
        throw new RangeError(`persist: entries start at ${e0.index}, but the stored log spans ${first}..${last} (no gaps, no overwriting compacted entries)`)
      }
      if (e0.index === last + 1 && e0.term < lastTerm) {
        throw new RangeError(`persist: entry ${e0.index} has term ${e0.term}, below the previous entry's term ${lastTerm}`)
      }
      let prev: Entry | undefined
      for (const e of entries) {
        if (prev && (e.index !== prev.index + 1 || e.term < prev.term)) {
          throw new RangeError(`persist: entries not contiguous with non-decreasing terms at index ${e.index}`)
        }
        const { key, value } = encodeEntry(e)
        ops.push({ type: 'put', key: this.rk.log(key), value })
        bytes += value.length
        prev = e
      }
      const newLast = prev!.index
      for (let i = newLast + 1; i <= last; i++) ops.push({ type: 'del', key: this.rk.log(logKey(i)) })
      last = newLast
      lastTerm = prev!.term
    }
    // Never write a state that load() would refuse: the same invariants, checked before the fsync.
    const hs = hardState ?? this.hs
    if (hs.commit > last) throw new RangeError(`persist: commit ${hs.commit} would be beyond the last entry ${last} (committed entries are never truncated)`)
    if (last < this.applied) throw new RangeError(`persist: the log would end at ${last}, below the applied index ${this.applied}`)
    if (last > snap.index && lastTerm > hs.term) throw new RangeError(`persist: entry term ${lastTerm} is above the current term ${hs.term}`)
    if (hardState) ops.push({ type: 'put', key: this.rk.meta(META_HARDSTATE), value: encodeHardState(hardState) })
    if (snapshot || entries.length > 0) ops.push({ type: 'put', key: this.rk.meta(META_LOGTAIL), value: encodeLogTail(last, lastTerm) })

    await this.write(ops, true)
    if (!this.heldData) await this.markHeldData()
    this.hs = hs
    this.snap = snap
    this.lastIndex = last
    this.lastTerm = lastTerm
    this.st.entries += entries.length
    this.st.logBytes += bytes
  }

  /** Once, after the first synced persist: the marker, synced, and its directory entry synced. */
  private async markHeldData(): Promise<void> {
    const fh = await openFile(join(this.dir, HELD_DATA_MARKER), 'w')
    try {
      await fh.writeFile('this directory holds Raft state; an empty load means lost data\n')
      await fh.sync()
    } finally {
      await fh.close()
    }
    const d = await openFile(this.dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
    this.heldData = true
  }

  /**
   * What installing `s` does to the stored log: the delete ops and the new last index/term.
   * Runs on the 'log' chain, so the stored log cannot change underneath it.
   */
  private async planSnapshot(s: SnapshotMeta): Promise<{ ops: Op[]; last: number; lastTerm: number }> {
    if (s.index < this.snap.index) throw new RangeError(`snapshot ${s.index} is older than the stored snapshot ${this.snap.index}`)
    let matches: boolean
    if (s.index === this.snap.index) matches = s.term === this.snap.term
    else if (s.index <= this.lastIndex) matches = (await this.termAt(s.index)) === s.term
    else matches = false
    const dropTo = matches ? s.index : this.lastIndex
    const ops: Op[] = []
    for (let i = this.snap.index + 1; i <= dropTo; i++) ops.push({ type: 'del', key: this.rk.log(logKey(i)) })
    return matches && this.lastIndex > s.index ? { ops, last: this.lastIndex, lastTerm: this.lastTerm } : { ops, last: s.index, lastTerm: s.term }
  }

  /** The term of the durable entry at `index` (the snapshot's term at snapshot.index). */
  private async termAt(index: number): Promise<number> {
    if (index === this.snap.index) return this.snap.term
    const key = logKey(index)
    const v = await this.sublevels.log.get(key)
    if (!v) throw new StorageCorruptionError(`log[${index}]`, 'expected record is missing', index)
    return decodeEntry(index, key, v).term
  }

  /**
   * The application took a snapshot of its state at meta.index (≤ applied): record the meta and
   * delete the log up to it, in one synced batch. The entries after meta.index stay.
   */
  async compact(meta: SnapshotMeta): Promise<void> {
    this.assertWritable()
    if (meta.index > this.applied) throw new RangeError(`compact: index ${meta.index} is not applied yet (applied ${this.applied})`)
    if (meta.index <= this.snap.index) return
    // Apply batches are written without fsync; the KV state up to meta.index must be on disk before
    // the log that could rebuild it is deleted.
    if (!this.opts.syncApply) await this.barrier()
    await this.serial(['log'], async () => {
      this.assertWritable()
      if (meta.index <= this.snap.index) return
      if (meta.index > this.lastIndex) throw new RangeError(`compact: index ${meta.index} is beyond the last entry ${this.lastIndex}`)
      const term = await this.termAt(meta.index)
      if (term !== meta.term) throw new RangeError(`compact: entry ${meta.index} has term ${term}, not ${meta.term}`)
      const ops: Op[] = []
      for (let i = this.snap.index + 1; i <= meta.index; i++) ops.push({ type: 'del', key: this.rk.log(logKey(i)) })
      ops.push({ type: 'put', key: this.rk.meta(META_SNAPSHOT), value: encodeSnapshotMeta(meta) })
      await this.write(ops, true)
      this.snap = meta
      if (this.lastIndex === meta.index) this.lastTerm = meta.term
    })
  }

  /**
   * A batch of KV changes plus the new applied index, written atomically by write().
   *
   * Why `sync: false` is enough: every applied entry is already in the durable log (persist()
   * resolved before it was applied), so an apply batch lost in a crash is replayed from the log on
   * restart — the applied index, written in the same batch, says where to resume. A process crash
   * (kill -9, OOM) loses nothing at all: LevelDB hands each batch to the OS before it resolves.
   * Only a machine crash can lose the unsynced tail, and the two ways that could hurt are closed:
   * - compaction deletes the log that would replay lost applies: compact() first forces all
   *   earlier writes to disk (barrier());
   * - LevelDB 1.20 does not fsync a WAL file when it retires it for a new one, so a later synced
   *   write can survive while an earlier unsynced one was lost. Each batch therefore journals
   *   itself under a new sequence key and deletes its predecessor's: a lost batch leaves its
   *   predecessor's record behind, and load() reports two journal records as corruption instead
   *   of running on KV data with a hole. (Pass syncApply: true to fsync every apply instead.)
   */
  applyBatch(): ApplyBatch {
    this.assertWritable()
    return new ApplyBatch(this, this.kvGen, this.kvSub)
  }

  /** @internal Called by ApplyBatch.write. */
  writeApply(batch: ApplyBatch, appliedIndex: number, ops: Op[]): Promise<void> {
    return this.serial(['apply'], async () => {
      this.assertWritable()
      if (batch.gen !== this.kvGen) throw new Error('apply batch was built before a snapshot replaced the KV data; rebuild it')
      if (appliedIndex < this.applied) throw new RangeError(`apply: index ${appliedIndex} is below the applied index ${this.applied}`)
      if (appliedIndex > this.lastIndex) {
        throw new RangeError(`apply: index ${appliedIndex} is beyond the durable log (last ${this.lastIndex}); persist before applying`)
      }
      const seq = this.applySeq + 1
      const k = seqKey(seq)
      const all: Op[] = [...ops, { type: 'put', key: this.rk.applied(k), value: encodeApplied(k, appliedIndex) }]
      if (this.applySeq > 0) all.push({ type: 'del', key: this.rk.applied(seqKey(this.applySeq)) })
      await this.write(all, this.opts.syncApply === true)
      this.applySeq = seq
      this.applied = appliedIndex
      this.st.applyWrites++
    })
  }

  /**
   * The live KV data, for reads (get, iterator with gt/lt ranges). A snapshot install replaces the
   * sublevel with a new generation, so read this property again rather than keeping the handle.
   */
  get kv(): Sublevel {
    return this.kvSub
  }

  /** The applied index as of the last resolved apply batch or snapshot install. */
  get appliedIndex(): number {
    return this.applied
  }

  /** The durable log bounds as of the last resolved write. */
  get bounds(): { snapshotIndex: number; snapshotTerm: number; lastIndex: number; lastTerm: number } {
    return { snapshotIndex: this.snap.index, snapshotTerm: this.snap.term, lastIndex: this.lastIndex, lastTerm: this.lastTerm }
  }

  /**
   * A consistent point-in-time view of the KV data at the applied index, streamed as checksummed
   * chunks of at most `chunkBytes` (default 1 MiB). Close it (or iterate to the end) to release the
   * LevelDB snapshot.
   */
  async snapshotSource(opts: { chunkBytes?: number } = {}): Promise<SnapshotSource> {
    this.assertWritable()
    return SnapshotSource.open(this.host(), opts.chunkBytes ?? 1 << 20)
  }

  /** Receives a snapshot's chunks into a staging generation; see SnapshotWriter. One at a time. */
  async snapshotWriter(meta: SnapshotMeta): Promise<SnapshotWriter> {
    this.assertWritable()
    if (this.writerActive) throw new Error('another snapshot is being received')
    if (meta.index < this.applied) throw new RangeError(`snapshot ${meta.index} is behind the applied index ${this.applied}`)
    this.writerActive = true // before the await: a second caller must not get past the check
    await this.sweep // a swept generation number must not be reused while it is being cleared
    return new SnapshotWriter(this.host(), meta, this.kvGen + 1, makeSublevel(this.db, kvName(this.kvGen + 1)))
  }

  private host(): SnapshotHost {
    return {
      db: this.db,
      sublevels: this.sublevels,
      kvSublevel: (gen) => makeSublevel(this.db, kvName(gen)),
      write: (ops, sync) => this.write(ops, sync),
      track: (p) => this.track(p),
      install: (gen, meta) => this.install(gen, meta),
      release: () => {
        this.writerActive = false
      },
    }
  }

  /** Atomically makes staged generation `gen` the live KV data, recording meta and applied index. */
  private install(gen: number, meta: SnapshotMeta): Promise<void> {
    return this.serial(['log', 'apply'], async () => {
      this.assertWritable()
      if (meta.index < this.applied) throw new RangeError(`snapshot ${meta.index} is behind the applied index ${this.applied}`)
      // Unsynced apply batches from before must not be able to surface after this one (the journal
      // would then show a stale record); see barrier().
      if (!this.opts.syncApply) await this.barrier()
      const plan = await this.planSnapshot(meta)
      if (this.hs.commit > plan.last) throw new RangeError(`snapshot ${meta.index}/${meta.term} would discard committed entries (commit ${this.hs.commit})`)
      const seq = this.applySeq + 1
      const k = seqKey(seq)
      const ops: Op[] = [
        ...plan.ops,
        { type: 'put', key: this.rk.meta(META_SNAPSHOT), value: encodeSnapshotMeta(meta) },
        { type: 'put', key: this.rk.meta(META_KVGEN), value: encodeKvGen(gen) },
        { type: 'put', key: this.rk.meta(META_LOGTAIL), value: encodeLogTail(plan.last, plan.lastTerm) },
        { type: 'put', key: this.rk.applied(k), value: encodeApplied(k, meta.index) },
      ]
      if (this.applySeq > 0) ops.push({ type: 'del', key: this.rk.applied(seqKey(this.applySeq)) })
      await this.write(ops, true)
      const old = this.kvSub
      this.snap = meta
      this.lastIndex = plan.last
      this.lastTerm = plan.lastTerm
      this.applied = meta.index
      this.applySeq = seq
      this.kvGen = gen
      this.kvSub = makeSublevel(this.db, kvName(gen))
      this.track(old.clear()) // the old generation is garbage now; a crash before this ends is swept on open
    })
  }

  /**
   * Forces every earlier write onto disk: LevelDB flushes its memtable to a synced table file when
   * asked to compact a range (CompactRange → CompactMemTable), and the range chosen holds no keys,
   * so nothing else is compacted. classic-level has this method; the `level` typings omit it.
   */
  private async barrier(): Promise<void> {
    const compactRange = (this.db as unknown as { compactRange?: (a: Uint8Array, b: Uint8Array) => Promise<void> }).compactRange
    if (typeof compactRange !== 'function') throw new Error('LevelDB binding has no compactRange; use syncApply: true')
    await compactRange.call(this.db, BARRIER_LO, BARRIER_HI)
  }

  /** Clears every kv generation other than the live one (left by a crash or an abandoned install). */
  private async sweepGenerations(): Promise<void> {
    const lo = utf8('!' + KV_PREFIX)
    const hi = utf8('!' + KV_PREFIX + '~')
    const it = this.db.keys({ gte: lo, lt: hi })
    try {
      const stale: number[] = []
      for (let key = await it.next(); key !== undefined; key = await it.next()) {
        const name = Buffer.from(key.subarray(1, 1 + KV_PREFIX.length + 8)).toString('latin1')
        const gen = Number.parseInt(name.slice(KV_PREFIX.length), 16)
        if (!name.startsWith(KV_PREFIX) || !Number.isInteger(gen)) throw new StorageCorruptionError(`key ${hex(key)}`, 'malformed kv generation prefix')
        if (gen !== this.kvGen) stale.push(gen)
        // skip the rest of this generation: seek to the first key after its prefix ('!' + 1 = '"')
        it.seek(utf8(`!${kvName(gen)}"`))
      }
      for (const gen of stale) await makeSublevel(this.db, kvName(gen)).clear()
    } finally {
      await it.close()
    }
  }

  stats(): StorageStats {
    const s = this.st
    return {
      fsyncs: s.fsyncs,
      fsyncMeanMs: s.fsyncs ? s.fsyncTotalMs / s.fsyncs : 0,
      fsyncMaxMs: s.fsyncMaxMs,
      fsyncTotalMs: s.fsyncTotalMs,
      entriesPersisted: s.entries,
      logBytesPersisted: s.logBytes,
      applyWrites: s.applyWrites,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([this.chains.log, this.chains.apply])
    await Promise.allSettled([...this.background])
    await this.db.close()
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private async write(ops: Op[], sync: boolean): Promise<void> {
    if (this.failure) throw new StorageFailedError(this.failure)
    const batch = this.db.batch()
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value)
        else batch.del(op.key)
      }
    } catch (e) {
      await batch.close() // a bad argument, not an I/O failure: nothing was written
      throw e
    }
    // Timed from the write alone: this is the "WAL fsync duration" the metrics report.
    const t0 = performance.now()
    // Fault testing only (failpoint.ts): a crash before, or between, the write and its fsync.
    const crash = sync ? syncFailpoint() : null
    if (crash === 'before-fsync') crashNow(crash)
    try {
      await batch.write({ sync: crash === 'after-write' ? false : sync })
      if (crash === 'after-write') crashNow(crash)
    } catch (e) {
      this.failure = e
      throw e
    }
    if (sync) {
      const ms = performance.now() - t0
      this.st.fsyncs++
      this.st.fsyncTotalMs += ms
      if (ms > this.st.fsyncMaxMs) this.st.fsyncMaxMs = ms
      this.opts.onSyncWrite?.(ms)
    }
  }

  /** Runs fn after everything queued on the given chains; later work on them waits for fn. */
  private serial<T>(on: Chain[], fn: () => Promise<T>): Promise<T> {
    const result = Promise.all(on.map((c) => this.chains[c])).then(fn)
    const done = result.then(
      () => undefined,
      () => undefined,
    )
    for (const c of on) this.chains[c] = done
    return result
  }

  private track(p: Promise<void>): Promise<void> {
    const t = p.catch((e: unknown) => {
      // Background clears only remove garbage; a failure is worth a note but must not crash.
      process.emitWarning(`raftkv storage background task failed: ${e instanceof Error ? e.message : String(e)}`)
    })
    this.background.add(t)
    void t.then(() => this.background.delete(t))
    return t
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('storage is closed')
  }

  private assertWritable(): void {
    this.assertOpen()
    if (!this.loaded) throw new Error('call load() before writing: the storage needs the durable log bounds')
    if (this.failure) throw new StorageFailedError(this.failure)
  }
}

/** See RaftStorage.applyBatch. Not reusable after write(). */
export class ApplyBatch {
  /** @internal the kv generation this batch targets */
  readonly gen: number
  private readonly storage: RaftStorage
  private readonly rk: (key: Uint8Array) => Uint8Array
  private ops: Op[] = []
  private written = false

  /** @internal */
  constructor(storage: RaftStorage, gen: number, sub: Sublevel) {
    this.storage = storage
    this.gen = gen
    this.rk = prefixer(sub)
  }

  put(key: Uint8Array, value: Uint8Array): this {
    this.ops.push({ type: 'put', key: this.rk(key), value })
    return this
  }

  del(key: Uint8Array): this {
    this.ops.push({ type: 'del', key: this.rk(key) })
    return this
  }

  get length(): number {
    return this.ops.length
  }

  /** Writes the changes and `appliedIndex` atomically. */
  write(appliedIndex: number): Promise<void> {
    if (this.written) return Promise.reject(new Error('apply batch already written'))
    this.written = true
    return this.storage.writeApply(this, appliedIndex, this.ops)
  }
}

// ---- LevelDB recovery check ---------------------------------------------------------------------

/**
 * LevelDB (as built by classic-level, without paranoid_checks) recovers from a damaged WAL record
 * by dropping it — and everything after it in the same 32 KiB block — and only says so in its
 * LOG file. It then flushes what it recovered into a table and deletes the WAL, so the next open
 * would look clean. We read LOG after each open (LevelDB starts a new LOG per open) and, on a
 * report of dropped data, leave a marker file so that every later open refuses too.
 */
async function checkRecoveryLog(dir: string): Promise<void> {
  let text: string
  try {
    text = await readFile(join(dir, 'LOG'), 'utf8')
  } catch {
    return // no info log (other LevelDB builds): nothing to check
  }
  const bad = text.split('\n').filter((l) => /dropping \d+ bytes|Corruption:/.test(l))
  if (bad.length === 0) return
  await markCorrupt(dir, `LevelDB reported damaged data while opening ${dir}:\n${bad.join('\n')}\n`)
  throw new StorageCorruptionError('leveldb/LOG', `LevelDB dropped damaged records during recovery: ${bad[0]!.trim()}`)
}

/** Leaves a durable note so that later starts refuse too, even if LevelDB would open the store. */
async function markCorrupt(dir: string, report: string): Promise<void> {
  const fh = await openFile(join(dir, CORRUPTION_MARKER), 'w')
  try {
    await fh.writeFile(report)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p)
    return true
  } catch {
    return false
  }
}

async function refuseIfMarked(dir: string): Promise<void> {
  let text: string
  try {
    text = await readFile(join(dir, CORRUPTION_MARKER), 'utf8')
  } catch {
    return
  }
  throw new StorageCorruptionError(
    CORRUPTION_MARKER,
    `an earlier open found damage (remove ${join(dir, CORRUPTION_MARKER)} only after repairing or wiping the directory): ${text.trim()}`,
  )
}
