// Putting several nodes' logs on one clock. Each node stamps records with its own wall clock, and
// those clocks disagree (NTP error, a VM's drift, a deliberately skewed test node). Every message
// is logged twice — sent on one node, received on another — and a receive can never precede its
// send, so paired records bound the offset between two clocks the way NTP does:
//
//   a→b:  recv_b − send_a = delay + θ   (θ = clock_b − clock_a)  ⇒  θ ≤ min(recv_b − send_a)
//   b→a:  recv_a − send_b = delay − θ                            ⇒  θ ≥ −min(recv_a − send_b)
//
// The estimate is the middle of that interval (symmetric minimum delays), its error half the
// width. Nodes that never talk directly (two followers) are placed through the leader.
import type { ClockOffset, RpcRecord } from './json.ts'

export interface Sample {
  from: number
  to: number
  /** Sender's wall clock at send, receiver's at receive (ms). */
  sent: number
  received: number
}

/** Sends and receives of the same message id; only ids seen once on each side are trusted. */
export function pairSamples(records: readonly RpcRecord[]): Sample[] {
  const byMid = new Map<string, { sends: RpcRecord[]; recvs: RpcRecord[] }>()
  for (const r of records) {
    if (!r.mid || (r.kind !== 'send' && r.kind !== 'recv')) continue
    let g = byMid.get(r.mid)
    if (!g) byMid.set(r.mid, (g = { sends: [], recvs: [] }))
    ;(r.kind === 'send' ? g.sends : g.recvs).push(r)
  }
  const out: Sample[] = []
  for (const g of byMid.values()) {
    if (g.sends.length !== 1 || g.recvs.length !== 1) continue
    const s = g.sends[0]!
    const r = g.recvs[0]!
    if (s.node === r.node) continue
    out.push({ from: s.node, to: r.node, sent: s.wall, received: r.wall })
  }
  return out
}

interface Edge {
  /** min(recv_b − send_a) over a→b, and over b→a. */
  ab: number
  ba: number
  n: number
}

/**
 * Each node's clock offset from `ref` (subtract it from the node's wall times). Nodes with no path
 * of samples to `ref` get offset 0 and samples 0.
 */
export function estimateOffsets(ref: number, nodes: readonly number[], samples: readonly Sample[]): ClockOffset[] {
  const edges = new Map<string, Edge>()
  const key = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`)
  for (const s of samples) {
    const k = key(s.from, s.to)
    let e = edges.get(k)
    if (!e) edges.set(k, (e = { ab: Infinity, ba: Infinity, n: 0 }))
    e.n++
    const d = s.received - s.sent
    // Store in the direction of the lower id: "ab" is low→high.
    if (s.from < s.to) e.ab = Math.min(e.ab, d)
    else e.ba = Math.min(e.ba, d)
  }
  /** θ = clock_b − clock_a with its error, from the edge between a and b. */
  const theta = (a: number, b: number): { theta: number; error: number; n: number } | null => {
    const e = edges.get(key(a, b))
    if (!e) return null
    const lowToHigh = a < b
    const ab = lowToHigh ? e.ab : e.ba // min over a→b
    const ba = lowToHigh ? e.ba : e.ab // min over b→a
    if (ab !== Infinity && ba !== Infinity) return { theta: (ab - ba) / 2, error: Math.abs(ab + ba) / 2, n: e.n }
    if (ab !== Infinity) return { theta: ab, error: -1, n: e.n }
    if (ba !== Infinity) return { theta: -ba, error: -1, n: e.n }
    return null
  }
  const result = new Map<number, ClockOffset>()
  result.set(ref, { node: ref, offsetMs: 0, errorMs: 0, samples: 0, via: null })
  // Breadth-first from the reference, best-bounded edges first.
  let frontier = [ref]
  while (frontier.length > 0) {
    const next: number[] = []
    for (const a of frontier) {
      const base = result.get(a)!
      const cands = nodes
        .filter((b) => !result.has(b))
        .map((b) => ({ b, th: theta(a, b) }))
        .filter((c): c is { b: number; th: { theta: number; error: number; n: number } } => c.th !== null)
        .sort((x, y) => (x.th.error < 0 ? 1e12 : x.th.error) - (y.th.error < 0 ? 1e12 : y.th.error))
      for (const { b, th } of cands) {
        if (result.has(b)) continue
        const error = base.errorMs < 0 || th.error < 0 ? -1 : base.errorMs + th.error
        result.set(b, { node: b, offsetMs: base.offsetMs + th.theta, errorMs: error, samples: th.n, via: a === ref ? null : a })
        next.push(b)
      }
    }
    frontier = next
  }
  for (const n of nodes) if (!result.has(n)) result.set(n, { node: n, offsetMs: 0, errorMs: -1, samples: 0, via: null })
  return nodes.map((n) => result.get(n)!)
}

/** A record on the reference clock. */
export interface Corrected {
  r: RpcRecord
  at: number
}

/**
 * Corrects every record's time by its node's offset and sorts them; then pairs sends with receives
 * by message id (k-th send with k-th receive) and, where a receive still lands before its send
 * (offset error), moves it to just after the send so the merged order stays causal.
 */
export function mergeOnClock(records: readonly RpcRecord[], offsets: readonly ClockOffset[]): { merged: Corrected[]; pairs: Map<Corrected, Corrected> } {
  const off = new Map(offsets.map((o) => [o.node, o.offsetMs]))
  const merged: Corrected[] = records.map((r) => ({ r, at: r.wall - (off.get(r.node) ?? 0) }))
  merged.sort((a, b) => a.at - b.at || a.r.node - b.r.node || a.r.seq - b.r.seq)
  const byMid = new Map<string, { sends: Corrected[]; recvs: Corrected[] }>()
  for (const c of merged) {
    const mid = c.r.mid
    if (!mid || (c.r.kind !== 'send' && c.r.kind !== 'recv')) continue
    let g = byMid.get(mid)
    if (!g) byMid.set(mid, (g = { sends: [], recvs: [] }))
    ;(c.r.kind === 'send' ? g.sends : g.recvs).push(c)
  }
  const pairs = new Map<Corrected, Corrected>()
  let moved = false
  for (const g of byMid.values()) {
    const n = Math.min(g.sends.length, g.recvs.length)
    for (let k = 0; k < n; k++) {
      const s = g.sends[k]!
      const r = g.recvs[k]!
      pairs.set(s, r)
      pairs.set(r, s)
      if (r.at <= s.at) {
        r.at = s.at + 0.001
        moved = true
      }
    }
  }
  if (moved) merged.sort((a, b) => a.at - b.at || a.r.node - b.r.node || a.r.seq - b.r.seq)
  return { merged, pairs }
}
