export { RaftStorage, ApplyBatch, CORRUPTION_MARKER } from './raft-storage.ts'
export type { LoadedState, PersistRequest, RaftStorageOptions, StorageStats, Sublevel } from './raft-storage.ts'
export { SnapshotSource, SnapshotWriter } from './snapshot-stream.ts'
export { StorageCorruptionError, StorageFailedError, SnapshotChunkError } from './errors.ts'
