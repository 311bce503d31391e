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
   * (its header: from, term); `last` marks the final chunk.
   */
  onSnapshotChunk: (m: Message, meta: SnapshotMeta, chunk: Uint8Array, last: boolean) => void | Promise<void>
  /** Sends a message (control types by UDP, the rest by TCP). Never blocks, never throws. */
  send(m: Message): void
  /** Streams a snapshot to m.to on a connection of its own. */
  sendSnapshot(m: Message, meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<void>
  close(): void
}

export type PeerResolver = (id: NodeId) => PeerAddress | undefined
