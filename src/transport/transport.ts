import type { Message, NodeId, SnapshotMeta } from '../raft/types.ts'

export interface PeerAddress {
  host: string
  /** The peer's Raft port: UDP for control messages, TCP for data frames. */
  port: number
}

/** How the run loop talks to its peers. */
export interface Transport {
  /** Set by the node: every valid message addressed to it. */
  onMessage: (m: Message) => void
  /**
   * Set by the node: one chunk of an incoming snapshot, in order. `m` is the Snapshot message
   * (its header: from, term); `last` marks the final chunk. `stream` tells the streams apart:
   * chunks of one stream arrive in order, but two streams (a retry, a new leader) may overlap.
   */
  onSnapshotChunk: (m: Message, meta: SnapshotMeta, chunk: Uint8Array, last: boolean, stream: SnapshotStream) => void | Promise<void>
  /** Sends a message (control types by UDP, the rest by TCP). Never blocks, never throws. */
  send(m: Message): void
  /** Streams a snapshot to m.to on a connection of its own. */
  sendSnapshot(m: Message, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void>
  close(): void
}

/** Which incoming snapshot stream a chunk belongs to, and where in it the chunk starts. */
export interface SnapshotStream {
  /** Unique per stream (per inbound connection) for the life of the process, increasing. */
  id: number
  /** Byte offset of the chunk in its stream: 0 for the first chunk. */
  offset: number
}

export type PeerResolver = (id: NodeId) => PeerAddress | undefined
