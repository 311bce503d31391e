// A bounded LRU of decoded records by data key, in front of LevelDB: hot keys (and keys a batch of
// committed entries touches) are read without a thread-pool round trip. Write-through: when a
// batch is applied, every record it wrote (and every delete, as a known absence) is published at
// once; only committed entries are applied, so the cache never holds a value that could be rolled
// back.
//
// A read that went to LevelDB may return after a newer write updated the cache; it must not put
// its older answer back. `version` counts writes: a read fills the cache only if no write happened
// since it started.
import type { Rec } from './record.ts'

const MAX_ENTRIES = 100_000
/** The budget, in what the entries really cost on the V8 heap (see ENTRY_OVERHEAD). */
const MAX_BYTES = 16 * 1024 * 1024
/**
 * What one cached record costs beside its value bytes: the Map slot, the key string, the record
 * object and its Buffer (about 330 bytes, measured in a heap snapshot of a node holding 200,000).
 * Counting only value bytes let a cache of small values take three times its budget.
 */
const ENTRY_OVERHEAD = 320

function cost(id: string, r: Rec | null): number {
  return ENTRY_OVERHEAD + id.length + (r ? r.value.length : 0)
}

export class RecCache {
  private readonly m = new Map<string, Rec | null>()
  private bytes = 0
  /** Bumped by every write and clear. */
  version = 0
  /**
   * Set from publishing a batch until the batch is written to LevelDB: meanwhile LevelDB still
   * holds older values, so nothing read from it may enter the cache.
   */
  private frozen = false
  hits = 0
  misses = 0

  /** The record (null = known absent), or undefined when not cached. */
  get(id: string): Rec | null | undefined {
    const r = this.m.get(id)
    if (r === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    // Most recently used last (Map keeps insertion order).
    this.m.delete(id)
    this.m.set(id, r)
    return r
  }

  /** The writes of one apply batch, at once; eviction spares them (they are not on disk yet). */
  publish(writes: ReadonlyMap<string, Rec | null>): void {
    if (writes.size === 0) return
    this.version++
    this.frozen = true
    for (const [id, r] of writes) {
      const old = this.m.get(id)
      if (old !== undefined) this.bytes -= cost(id, old)
      this.m.delete(id)
      this.m.set(id, r)
      this.bytes += cost(id, r)
    }
    this.evict(writes)
  }

  /** A value read from LevelDB when the read started at `version`. */
  fill(id: string, r: Rec | null, version: number): void {
    if (version === this.version && !this.frozen) this.store(id, r)
  }

  /** Empties the cache; fills stay off until release() (the flush is not on disk yet). */
  clear(): void {
    this.version++
    this.frozen = true
    this.m.clear()
    this.bytes = 0
  }

  /** The published batch is in LevelDB now: reads may fill the cache again. */
  release(): void {
    this.version++
    this.frozen = false
  }

  private store(id: string, r: Rec | null): void {
    const old = this.m.get(id)
    if (old !== undefined) this.bytes -= cost(id, old)
    this.m.delete(id)
    this.m.set(id, r)
    this.bytes += cost(id, r)
    this.evict(null)
  }

  /** Drops the least recently used entries until within bounds, never one of `keep`. */
  private evict(keep: ReadonlyMap<string, Rec | null> | null): void {
    while (this.m.size > MAX_ENTRIES || this.bytes > MAX_BYTES) {
      const [k, v] = this.m.entries().next().value as [string, Rec | null]
      if (keep?.has(k)) return
      this.m.delete(k)
      this.bytes -= cost(k, v)
    }
  }
}
