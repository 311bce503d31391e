// The cluster's own records in the Raft log: the replica count an operator asked for, and
// barriers. They travel as ordinary Normal entries whose first byte is CLUSTER_MAGIC — KV requests
// start with their format version (1) — so the KV machine never sees them (statemachine.ts takes
// them out first), and every replica, and every future leader, learns the target from the log.
import type { NodeId } from '../raft/types.ts'

/** First byte of a cluster entry. Never a KV request version (those are small integers). */
export const CLUSTER_MAGIC = 0xc1

/** The key of the target record in the KV sublevel: prefix 'k' is neither KV data ('d') nor sessions ('c'). */
export const TARGET_KEY = new TextEncoder().encode('k/cluster/target')

export const MIN_REPLICAS = 1
export const MAX_REPLICAS = 9

/** What the last accepted /scale-cluster asked for. */
export interface TargetRecord {
  /** The wanted number of voters (ids 1 … target). */
  target: number
  /** Increments with every accepted request, so two requests for the same size are told apart. */
  op: number
  /** The node that accepted the request (the leader at the time). */
  by: NodeId
  /** The leader's clock when it accepted the request, ms since the epoch. */
  at: number
  /** The number of voters when the request was accepted. */
  from: number
}

export type ClusterEntry = { kind: 'target'; record: TargetRecord } | { kind: 'barrier'; note: string }

const enc = new TextEncoder()
const dec = new TextDecoder()

export function encodeClusterEntry(e: ClusterEntry): Uint8Array {
  const body = enc.encode(JSON.stringify(e))
  const out = new Uint8Array(body.length + 1)
  out[0] = CLUSTER_MAGIC
  out.set(body, 1)
  return out
}

export function isClusterEntry(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === CLUSTER_MAGIC
}

function isRecord(v: unknown): v is TargetRecord {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return ['target', 'op', 'by', 'at', 'from'].every((k) => Number.isInteger(r[k]))
}

/** Decodes a cluster entry; a malformed one is an error text (applied as a no-op everywhere alike). */
export function decodeClusterEntry(data: Uint8Array): ClusterEntry | string {
  let v: unknown
  try {
    v = JSON.parse(dec.decode(data.subarray(1)))
  } catch {
    return 'not JSON'
  }
  if (typeof v !== 'object' || v === null) return 'not an object'
  const o = v as { kind?: unknown; record?: unknown; note?: unknown }
  if (o.kind === 'target' && isRecord(o.record)) return { kind: 'target', record: o.record }
  if (o.kind === 'barrier' && typeof o.note === 'string') return { kind: 'barrier', note: o.note }
  return 'unknown cluster entry'
}

export function encodeTargetRecord(r: TargetRecord): Uint8Array {
  return enc.encode(JSON.stringify(r))
}

export function decodeTargetRecord(b: Uint8Array): TargetRecord | null {
  try {
    const v: unknown = JSON.parse(dec.decode(b))
    return isRecord(v) ? v : null
  } catch {
    return null
  }
}
