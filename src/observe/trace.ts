// One client request's path through the cluster, from the slices every member logged about its
// log entry (rpcquery.ts traceSlice), put on the proposer's clock (clock.ts).
import { estimateOffsets, mergeOnClock, pairSamples } from './clock.ts'
import type { RpcRecord, Trace, TraceEvent } from './json.ts'
import type { TracePart } from './traceslice.ts'

export interface TraceTarget {
  id: string
  index: number
  term: number
  /** The node that proposed it (the reference clock); 0 when unknown. */
  proposer: number
  keys: string[]
}

function label(r: RpcRecord, index: number, proposer: number): string {
  const p = `S${r.peer}`
  switch (r.kind) {
    case 'arrive':
      return 'client request arrived (HTTP)'
    case 'propose':
      return `proposed as entry ${r.index} in term ${r.term}`
    case 'persist':
      return `entry durable here (log persisted to ${r.index})`
    case 'commit':
      return r.node === proposer ? `committed: a majority holds entry ${index}` : `learned commit index ${r.index}`
    case 'apply':
      return `applied to the state machine (to ${r.index})`
    case 'reply':
      return `replied to the client (HTTP ${r.status ?? '?'})`
    case 'send':
    case 'recv': {
      const dir = r.kind === 'send' ? `→ ${p}` : `← ${p}`
      const kernel = r.path === 'kernel' ? ' [kernel]' : ''
      if (r.type === 'Append' && r.n && r.index < index && index <= r.index + r.n) {
        return `Append ${dir} carrying entries ${r.index + 1}…${r.index + r.n}${kernel}`
      }
      if (r.type === 'AppendResp') return `ack ${dir}: holds entries to ${r.index}${kernel}`
      return `${r.type} ${dir}: commit index ${r.commit ?? 0}${kernel}`
    }
    default:
      return r.kind
  }
}

/** Merges the members' slices into one causal timeline on the proposer's clock. */
export function buildTrace(target: TraceTarget, parts: readonly TracePart[], missing: readonly number[]): Trace {
  const ref = target.proposer || parts[0]?.node || 0
  const nodes = parts.map((p) => p.node)
  const all: RpcRecord[] = []
  const samples: RpcRecord[] = []
  for (const p of parts) {
    all.push(...p.events)
    samples.push(...p.events, ...p.samples)
  }
  const offsets = estimateOffsets(ref, nodes, pairSamples(samples))
  const { merged, pairs } = mergeOnClock(all, offsets)
  const originRec = merged.find((c) => c.r.node === ref && c.r.kind === 'arrive') ?? merged.find((c) => c.r.kind === 'propose') ?? merged[0]
  const origin = originRec?.at ?? 0
  const round = (x: number): number => Math.round(x * 1000) / 1000
  const events: TraceEvent[] = merged.map((c) => {
    const other = pairs.get(c)
    const e: TraceEvent = { ...c.r, at: round(c.at - origin), label: label(c.r, target.index, ref) }
    if (other) e.pair = { node: other.r.node, seq: other.r.seq }
    return e
  })
  const commit = events.find((e) => e.node === ref && e.kind === 'commit')
  const reply = events.find((e) => e.node === ref && e.kind === 'reply')
  return {
    id: target.id,
    index: target.index,
    term: target.term,
    proposer: target.proposer,
    keys: target.keys,
    origin: round(origin),
    offsets: offsets.map((o) => ({ ...o, offsetMs: round(o.offsetMs), errorMs: o.errorMs < 0 ? -1 : round(o.errorMs) })),
    events,
    answered: nodes,
    missing: [...missing],
    committedAt: commit ? commit.at : null,
    appliedOn: [...new Set(events.filter((e) => e.kind === 'apply').map((e) => e.node))].sort((a, b) => a - b),
    replyAt: reply ? reply.at : null,
  }
}
