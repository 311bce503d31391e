// Request ids and keys of proposals, decoded from the entry data only when someone reads the log
// (a trace, a /rpc-log query): the run loop never pays for it.
import { decodeRequest, type WriteOp } from '../kv/request.ts'

export interface ProposalInfo {
  /** The client session (dedup id) and sequence, when the request carries one. */
  client: string | null
  seq: number
  keys: string[]
}

const dec = new TextDecoder('utf-8', { fatal: false })
const MAX_KEYS = 8

function keysOf(op: WriteOp, out: Uint8Array[]): void {
  switch (op.t) {
    case 'del':
    case 'mget':
    case 'exists':
      out.push(...op.keys)
      return
    case 'mset':
      for (let i = 0; i < op.kvs.length; i += 2) out.push(op.kvs[i]!)
      return
    case 'rename':
      out.push(op.src, op.dst)
      return
    case 'flush':
    case 'dbsize':
    case 'keys':
    case 'scan':
    case 'randomkey':
      return
    default:
      out.push(op.key)
  }
}

/** What a proposal's entry data says about its request; null when it is not a KV request. */
export function describeProposal(data: Uint8Array): ProposalInfo | null {
  const r = decodeRequest(data)
  if (typeof r === 'string') return null
  const raw: Uint8Array[] = []
  for (const op of r.ops) {
    keysOf(op, raw)
    if (raw.length >= MAX_KEYS) break
  }
  return { client: r.client ?? null, seq: r.seq ?? 0, keys: raw.slice(0, MAX_KEYS).map((k) => dec.decode(k.subarray(0, 256))) }
}

/**
 * The id a trace is asked for: `client:seq` for a client session (the RESP proxy, retries),
 * `h<node>.<n>` for the n-th HTTP write on a node (returned in the x-raftkv-request header),
 * else `i<index>` (the log index of the entry).
 */
export function requestIdOf(node: number, index: number, httpReq: number, info: ProposalInfo | null): string {
  if (info?.client) return `${info.client}:${info.seq}`
  if (httpReq > 0) return `h${node}.${httpReq}`
  return `i${index}`
}

export type ParsedRequestId = { t: 'http'; node: number; req: number } | { t: 'index'; index: number } | { t: 'client'; client: string; seq: number }

/** Parses a request id (see requestIdOf); null when malformed. */
export function parseRequestId(id: string): ParsedRequestId | null {
  let m = /^h(\d{1,5})\.(\d{1,15})$/.exec(id)
  if (m) return { t: 'http', node: Number(m[1]), req: Number(m[2]) }
  m = /^i?(\d{1,15})$/.exec(id)
  if (m) return { t: 'index', index: Number(m[1]) }
  const colon = id.lastIndexOf(':')
  if (colon > 0 && /^\d{1,15}$/.test(id.slice(colon + 1))) return { t: 'client', client: id.slice(0, colon), seq: Number(id.slice(colon + 1)) }
  return null
}
