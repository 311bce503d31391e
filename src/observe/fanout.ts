// Asking the other members: their slices of a request trace, their status, their recent messages.
// Over their HTTP APIs (the addresses options.ts resolves), with short timeouts: a member that is
// down must not hold a trace or the visualizer up.
import type { Member, RpcLogPage, Trace } from './json.ts'
import { parseRequestId } from './reqid.ts'
import { resolveProposal, traceSlice, type ResolvedProposal, type TracePart } from './traceslice.ts'
import type { RpcLog } from './rpclog.ts'
import { buildTrace } from './trace.ts'

export async function getJson<T>(url: string, timeoutMs = 1500): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`)
  return (await r.json()) as T
}

/** Each member's answer, or null when it did not give one. */
async function ask<T>(members: readonly Member[], self: number, local: () => T | null, path: string, timeoutMs?: number): Promise<Map<number, T | null>> {
  const out = new Map<number, T | null>()
  await Promise.all(
    members.map(async (m) => {
      if (m.id === self) return void out.set(m.id, local())
      if (!m.url) return void out.set(m.id, null)
      try {
        out.set(m.id, await getJson<T>(`${m.url}${path}`, timeoutMs))
      } catch {
        out.set(m.id, null)
      }
    }),
  )
  return out
}

export type TraceQuery = { id: string } | { key: string }

export class BadTraceId extends Error {}

/**
 * Traces one request across every member: find the proposal (here, or on whichever member made
 * it), then gather each member's slice about its log entry and merge them on the proposer's clock.
 * Null when no member knows the request.
 */
export async function traceCluster(log: RpcLog, members: readonly Member[], q: TraceQuery): Promise<Trace | null> {
  const self = log.node
  const parsed = 'id' in q ? parseRequestId(q.id) : null
  if ('id' in q && !parsed) throw new BadTraceId(`bad request id ${JSON.stringify(q.id)} (want h<node>.<n>, i<index>, or client:seq)`)
  const resolveQ = parsed ?? { t: 'key' as const, key: (q as { key: string }).key }
  const param = 'id' in q ? `id=${encodeURIComponent(q.id)}` : `key=${encodeURIComponent(q.key)}`
  const askWhom = parsed?.t === 'http' ? members.filter((m) => m.id === parsed.node) : members
  const found = await ask<ResolvedProposal>(askWhom, self, () => resolveProposal(log, resolveQ), `/rpc-log/resolve?${param}`)
  let best: ResolvedProposal | null = null
  for (const r of found.values()) if (r && (!best || r.index > best.index)) best = r
  if (!best) {
    // An index needs no proposal record: every member can still say what it did with the entry.
    if (parsed?.t !== 'index') return null
    best = { id: `i${parsed.index}`, node: 0, index: parsed.index, term: 0, req: 0, keys: [], wall: 0 }
  }
  const target = best
  const parts = await ask<TracePart>(members, self, () => traceSlice(log, target.index, target.term, target.node === self ? target.req : 0), `/rpc-log/slice?index=${target.index}&term=${target.term}&req=${target.req}&proposer=${target.node}`, 3000)
  const got: TracePart[] = []
  const missing: number[] = []
  for (const [id, p] of parts) {
    if (p) got.push(p)
    else missing.push(id)
  }
  return buildTrace({ id: target.id, index: target.index, term: target.term, proposer: target.node, keys: target.keys }, got, missing.sort((a, b) => a - b))
}

/** Recent send/receive records of every member (for clock offsets in the visualizer). */
export async function recentMessages(self: number, members: readonly Member[], local: () => RpcLogPage | null, limit: number): Promise<Map<number, RpcLogPage | null>> {
  return ask<RpcLogPage>(members, self, local, `/rpc-log?kind=send,recv&limit=${limit}`)
}
