// The unique-append workload's checker. Every token is appended once, so the longest read fixes
// the one total order; then: every read is a prefix of it, no token appears twice, no token
// appears that was never appended or whose append definitely failed, every append acknowledged
// before a read began is in that read (no lost or stale writes), a read that began after another
// ended is at least as long (no going back in time), and appends ordered in real time are
// ordered the same way in the log.
import type { HOp } from '../history.ts'

export interface AppendAnomaly {
  kind: 'not-prefix' | 'duplicate' | 'phantom' | 'failed-append-visible' | 'lost-append' | 'stale-read' | 'real-time-order'
  key: string
  /** The op ids involved. */
  ops: number[]
  detail: string
}

export interface AppendReport {
  keys: number
  reads: number
  anomalies: AppendAnomaly[]
  ms: number
}

function checkKey(key: string, ops: HOp[], out: AppendAnomaly[]): number {
  const appends = new Map<string, HOp>()
  const reads: { op: HOp; list: string[] }[] = []
  for (const o of ops) {
    if (o.body.f === 'append') appends.set(o.body.value, o)
    else if (o.body.f === 'read-list' && o.outcome === 'ok') reads.push({ op: o, list: o.body.value ?? [] })
  }
  if (reads.length === 0) return 0
  let longest = reads[0]!
  for (const r of reads) if (r.list.length > longest.list.length) longest = r
  const pos = new Map<string, number>()
  longest.list.forEach((t, i) => {
    if (pos.has(t)) out.push({ kind: 'duplicate', key, ops: [longest.op.id], detail: `token ${t} appears twice` })
    else pos.set(t, i)
    const a = appends.get(t)
    if (!a) out.push({ kind: 'phantom', key, ops: [longest.op.id], detail: `token ${t} was never appended` })
    else if (a.outcome === 'fail') out.push({ kind: 'failed-append-visible', key, ops: [a.id, longest.op.id], detail: `append of ${t} failed (${a.error ?? ''}) but is visible` })
  })
  for (const r of reads) {
    for (let i = 0; i < r.list.length; i++) {
      if (r.list[i] !== longest.list[i]) {
        out.push({ kind: 'not-prefix', key, ops: [r.op.id, longest.op.id], detail: `read ${r.op.id} differs from read ${longest.op.id} at position ${i}: ${r.list[i]} vs ${longest.list[i]}` })
        break
      }
    }
  }
  // Acknowledged appends by completion time, with the running maximum of their positions.
  const acked = [...appends.values()].filter((a) => a.outcome === 'ok').sort((a, b) => a.ret - b.ret)
  const sortedReads = [...reads].sort((a, b) => a.op.call - b.op.call)
  let ai = 0
  let need = -1
  let needOp: HOp | null = null
  for (const r of sortedReads) {
    while (ai < acked.length && acked[ai]!.ret < r.op.call) {
      const a = acked[ai++]!
      const p = pos.get((a.body as { value: string }).value)
      if (p === undefined) {
        out.push({ kind: 'lost-append', key, ops: [a.id, r.op.id], detail: `append ${a.id} was acknowledged but is in no read` })
        continue
      }
      if (p > need) {
        need = p
        needOp = a
      }
    }
    if (needOp && r.list.length <= need) {
      out.push({ kind: 'lost-append', key, ops: [needOp.id, r.op.id], detail: `read ${r.op.id} (length ${r.list.length}) misses append ${needOp.id}, acknowledged before the read began` })
    }
  }
  // Monotonic reads: sort by completion, keep the longest completed so far.
  const byRet = [...reads].sort((a, b) => a.op.ret - b.op.ret)
  let ri = 0
  let best: { op: HOp; list: string[] } | null = null
  for (const r of sortedReads) {
    while (ri < byRet.length && byRet[ri]!.op.ret < r.op.call) {
      const c = byRet[ri++]!
      if (!best || c.list.length > best.list.length) best = c
    }
    if (best && r.list.length < best.list.length) {
      out.push({ kind: 'stale-read', key, ops: [best.op.id, r.op.id], detail: `read ${r.op.id} (length ${r.list.length}) began after read ${best.op.id} (length ${best.list.length}) ended` })
    }
  }
  // Real-time order of acknowledged appends: if a ended before b began, a comes first.
  const byCall = acked.filter((a) => pos.has((a.body as { value: string }).value)).sort((x, y) => x.call - y.call)
  const byRetIn = [...byCall].sort((x, y) => x.ret - y.ret)
  let bi = 0
  let maxPos = -1
  let maxOp: HOp | null = null
  for (const b of byCall) {
    while (bi < byRetIn.length && byRetIn[bi]!.ret < b.call) {
      const a = byRetIn[bi++]!
      const p = pos.get((a.body as { value: string }).value)!
      if (p > maxPos) {
        maxPos = p
        maxOp = a
      }
    }
    const pb = pos.get((b.body as { value: string }).value)!
    if (maxOp && pb < maxPos) out.push({ kind: 'real-time-order', key, ops: [maxOp.id, b.id], detail: `append ${b.id} began after append ${maxOp.id} was acknowledged but comes before it` })
  }
  return reads.length
}

export function checkAppendHistory(ops: HOp[]): AppendReport {
  const t0 = performance.now()
  const byKey = new Map<string, HOp[]>()
  for (const o of ops) {
    if (o.body.f !== 'append' && o.body.f !== 'read-list') continue
    let l = byKey.get(o.key)
    if (!l) byKey.set(o.key, (l = []))
    l.push(o)
  }
  const anomalies: AppendAnomaly[] = []
  let reads = 0
  for (const [key, l] of byKey) reads += checkKey(key, l, anomalies)
  return { keys: byKey.size, reads, anomalies, ms: performance.now() - t0 }
}
