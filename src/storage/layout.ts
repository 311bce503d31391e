// How the storage's data is laid out in the one LevelDB database, and the write operation type.
import { Level } from 'level'

export type Db = Level<Uint8Array, Uint8Array>

export function makeSublevel(db: Db, name: string) {
  return db.sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' })
}
export type Sublevel = ReturnType<typeof makeSublevel>

/**
 * One write, on the root database with the full (sublevel-prefixed) key. Why not abstract-level's
 * `{ sublevel }` batch operations: each of those is validated, re-encoded and prefixed in JS per
 * operation, several times slower than a plain chained batch on the root (measured: ~15 µs vs
 * ~3 µs per put). That matters for apply batches and snapshot installs of many keys.
 */
export type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

/**
 * Maps a key of `sub` to its key in the root database. With binary keys, a direct sublevel of the
 * root stores key K as the bytes of its prefix ('!name!') followed by K — the same bytes the
 * sublevel's own reads look up, which the tests check by reading through the sublevels.
 */
export function prefixer(sub: Sublevel): (key: Uint8Array) => Uint8Array {
  const prefix = new TextEncoder().encode(sub.prefix)
  return (key) => {
    const k = new Uint8Array(prefix.length + key.length)
    k.set(prefix, 0)
    k.set(key, prefix.length)
    return k
  }
}

export const KV_PREFIX = 'kv-'
/** The sublevel name of KV generation `gen` (see raft-storage.ts on generations). */
export function kvName(gen: number): string {
  return KV_PREFIX + gen.toString(16).padStart(8, '0')
}
