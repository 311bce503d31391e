/**
 * The stored state is damaged or inconsistent. The node must refuse to start: running Raft on a
 * log with a hole, a changed entry or a lost vote breaks its safety guarantees for the whole
 * cluster, not just for this node. The operator repairs it by wiping the node's data directory
 * (the node then catches up from the leader by snapshot) once the cause is understood.
 */
export class StorageCorruptionError extends Error {
  override name = 'StorageCorruptionError'
  /** Where the damage was found: e.g. `log[1234]`, `meta/hardstate`, `leveldb/LOG`. */
  readonly where: string
  /** The log index concerned, when there is one. */
  readonly index: number | undefined

  constructor(where: string, what: string, index?: number) {
    super(`storage corruption at ${where}: ${what}`)
    this.where = where
    this.index = index
  }
}

/**
 * A write failed earlier, so the storage refuses further writes. After a failed fsync the kernel may
 * have dropped the dirty pages and cleared the error ("fsyncgate"): retrying would report success
 * for data that never reached the disk. The process must restart and re-read what is durable.
 */
export class StorageFailedError extends Error {
  override name = 'StorageFailedError'
  constructor(cause: unknown) {
    super(`storage failed earlier and refuses further writes: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

/** An incoming snapshot chunk is damaged, out of order, or from another snapshot. The install is aborted. */
export class SnapshotChunkError extends Error {
  override name = 'SnapshotChunkError'
  readonly seq: number
  constructor(seq: number, what: string) {
    super(`snapshot chunk ${seq}: ${what}`)
    this.seq = seq
  }
}

/** A LevelDB file (a table, a write-ahead log) failed a check made before LevelDB opens it. */
export class LevelDbFileDamage extends Error {
  override name = 'LevelDbFileDamage'
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`${file}: ${what}`)
  }
}
