// Merging members' logs of one request when their clocks disagree: a synthetic cluster whose true
// timeline is known, logged by nodes whose wall clocks are off by −40 ms and +250 ms. The merge must
// recover the offsets from paired messages and put every step back in its true order.
import t from 'tap'
import { estimateOffsets, mergeOnClock, pairSamples } from '../../src/observe/clock.ts'
import type { RpcRecord } from '../../src/observe/json.ts'
import { messageId } from '../../src/observe/rpcquery.ts'
import type { TracePart } from '../../src/observe/traceslice.ts'
import { buildTrace } from '../../src/observe/trace.ts'

const T0 = 1_800_000_000_000
const SKEW: Record<number, number> = { 1: 0, 2: -40, 3: 250 }
/** One-way minimum delays (ms): slightly asymmetric, as on a real network. */
const DELAY: Record<string, number> = { '1>2': 0.4, '2>1': 0.5, '1>3': 0.8, '3>1': 0.7 }
const TYPE_NUM: Record<string, number> = { Heartbeat: 1, HeartbeatResp: 2, AppendResp: 3, Append: 16 }

interface Truth {
  r: RpcRecord
  /** True time, ms since T0. */
  true: number
}

let seq = 0
function rec(node: number, at: number, fields: Partial<RpcRecord> & Pick<RpcRecord, 'kind'>): Truth {
  return {
    true: at,
    r: { seq: ++seq, node, mono: 0, wall: T0 + at + SKEW[node]!, peer: 0, term: 2, index: 0, path: 'user', ...fields },
  }
}

/** A message from → to: its send and receive records. */
function exchange(from: number, to: number, type: string, at: number, extra: number, f: { index?: number; commit?: number; n?: number; ctx?: number } = {}): Truth[] {
  const index = f.index ?? 0
  const commit = f.commit ?? 0
  const mid = messageId(from, to, TYPE_NUM[type]!, 2, index, 0, commit, f.n ?? 0, f.ctx ?? 0, 0, false)
  const common = { type, index, commit, mid, logTerm: 0, ...(f.n ? { n: f.n, eterm: 2 } : {}), ...(f.ctx ? { ctx: f.ctx } : {}) }
  const arrive = at + DELAY[`${from}>${to}`]! + extra
  return [rec(from, at, { kind: 'send', peer: to, ...common }), rec(to, arrive, { kind: 'recv', peer: from, ...common })]
}

/** Deterministic jitter. */
let seed = 7
function jitter(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return (seed / 0x7fffffff) * 0.3
}

function scenario(): { truth: Truth[]; samples: Truth[] } {
  const truth: Truth[] = [
    rec(1, 0, { kind: 'arrive', req: 1 }),
    rec(1, 0.2, { kind: 'propose', index: 10, req: 1 }),
    ...exchange(1, 2, 'Append', 0.3, 0, { index: 9, n: 1, commit: 9 }),
    ...exchange(1, 3, 'Append', 0.35, 0, { index: 9, n: 1, commit: 9 }),
    rec(1, 1.5, { kind: 'persist', index: 10, hint: 9 }),
    rec(2, 2.0, { kind: 'persist', index: 10, hint: 9 }),
    ...exchange(2, 1, 'AppendResp', 2.05, 0, { index: 10 }),
    rec(1, 2.6, { kind: 'commit', index: 10, hint: 9 }),
    rec(1, 2.9, { kind: 'apply', index: 10, hint: 9 }),
    rec(1, 3.0, { kind: 'reply', req: 1, status: 200 }),
    rec(3, 3.05, { kind: 'persist', index: 10, hint: 9 }),
    ...exchange(3, 1, 'AppendResp', 3.1, 0, { index: 10 }),
    ...exchange(1, 2, 'Heartbeat', 5.0, 0, { index: 10, commit: 10, ctx: 50 }),
    ...exchange(1, 3, 'Heartbeat', 5.02, 0, { index: 10, commit: 10, ctx: 50 }),
    rec(2, 5.5, { kind: 'commit', index: 10, hint: 9 }),
    rec(2, 5.6, { kind: 'apply', index: 10, hint: 9 }),
    rec(3, 5.95, { kind: 'commit', index: 10, hint: 9 }),
    rec(3, 6.0, { kind: 'apply', index: 10, hint: 9 }),
  ]
  // Heartbeat rounds around the request, with jittered delays: what the clocks are aligned on.
  const samples: Truth[] = []
  for (let k = -10; k <= 10; k++) {
    for (const f of [2, 3]) {
      const at = k * 20 + 10
      samples.push(...exchange(1, f, 'Heartbeat', at, jitter(), { index: 9, commit: 9, ctx: 100 + k }))
      samples.push(...exchange(f, 1, 'HeartbeatResp', at + 1.5, jitter(), { index: 9, ctx: 100 + k }))
    }
  }
  return { truth, samples }
}

function parts(truth: Truth[], samples: Truth[]): TracePart[] {
  return [1, 2, 3].map((node) => ({
    node,
    clock: { node, mono: 0, wall: T0 },
    events: truth.filter((x) => x.r.node === node).map((x) => x.r),
    samples: samples.filter((x) => x.r.node === node).map((x) => x.r),
  }))
}

t.test('offsets are recovered from paired messages (NTP-style bounds)', async (t) => {
  const { truth, samples } = scenario()
  const all = [...truth, ...samples].map((x) => x.r)
  const offs = estimateOffsets(1, [1, 2, 3], pairSamples(all))
  for (const o of offs) {
    t.ok(Math.abs(o.offsetMs - SKEW[o.node]!) <= 0.1, `S${o.node}: ${o.offsetMs.toFixed(3)} ms vs true ${SKEW[o.node]}`)
    if (o.node !== 1) t.ok(o.errorMs >= 0 && o.errorMs < 1, `S${o.node} bounded on both sides (±${o.errorMs.toFixed(3)})`)
  }
  // From a follower's point of view, the other follower is placed through the leader.
  const from2 = estimateOffsets(2, [1, 2, 3], pairSamples(all))
  const s3 = from2.find((o) => o.node === 3)!
  t.equal(s3.via, 1, 'S3 reached through S1')
  t.ok(Math.abs(s3.offsetMs - (SKEW[3]! - SKEW[2]!)) <= 0.2, `S3 vs S2: ${s3.offsetMs.toFixed(3)}`)
})

t.test('the merged trace puts every step in its true order despite skewed clocks', async (t) => {
  const { truth, samples } = scenario()
  const trueOrder = [...truth].sort((a, b) => a.true - b.true).map((x) => `${x.r.node}/${x.r.seq}`)
  const naive = [...truth].sort((a, b) => a.r.wall - b.r.wall).map((x) => `${x.r.node}/${x.r.seq}`)
  t.not(naive.join(), trueOrder.join(), 'raw wall clocks would get the order wrong (the test means something)')

  const trace = buildTrace({ id: 'h1.1', index: 10, term: 2, proposer: 1, keys: ['k'] }, parts(truth, samples), [])
  t.same(
    trace.events.map((e) => `${e.node}/${e.seq}`),
    trueOrder,
    'merged order = true order',
  )
  const trueAt = new Map(truth.map((x) => [`${x.r.node}/${x.r.seq}`, x.true]))
  for (const e of trace.events) t.ok(Math.abs(e.at - trueAt.get(`${e.node}/${e.seq}`)!) < 0.1, `S${e.node} ${e.label} at ${e.at} ms`)
  for (const e of trace.events) {
    if (e.kind === 'send') {
      t.ok(e.pair, `${e.type} ${e.node}→${e.peer} paired`)
      const r = trace.events.find((x) => x.node === e.pair!.node && x.seq === e.pair!.seq)!
      t.ok(r.at > e.at, 'received after sent')
    }
  }
  t.ok(Math.abs(trace.committedAt! - 2.6) < 0.05, `committed at ${trace.committedAt}`)
  t.ok(Math.abs(trace.replyAt! - 3.0) < 0.05)
  t.same(trace.appliedOn, [1, 2, 3])
  t.same(trace.missing, [])
  t.equal(trace.origin, T0, 'origin = the arrival on the proposer')
})

t.test('a member that did not answer is listed, and the rest still merge', async (t) => {
  const { truth, samples } = scenario()
  const ps = parts(truth, samples).filter((p) => p.node !== 3)
  const trace = buildTrace({ id: 'h1.1', index: 10, term: 2, proposer: 1, keys: [] }, ps, [3])
  t.same(trace.missing, [3])
  t.same(trace.appliedOn, [1, 2])
  t.notOk(trace.events.some((e) => e.node === 3))
})

t.test('a receive that would land before its send (offset error) is moved after it', async (t) => {
  const send: RpcRecord = { seq: 1, node: 1, kind: 'send', mono: 0, wall: 100, peer: 2, type: 'Append', term: 1, index: 1, path: 'user', mid: 'aa' }
  const recv: RpcRecord = { ...send, seq: 1, node: 2, kind: 'recv', peer: 1, wall: 99.5 }
  const { merged, pairs } = mergeOnClock([recv, send], [
    { node: 1, offsetMs: 0, errorMs: 0, samples: 0, via: null },
    { node: 2, offsetMs: 0, errorMs: -1, samples: 0, via: null },
  ])
  t.same(merged.map((c) => c.r.kind), ['send', 'recv'])
  t.ok(merged[1]!.at > merged[0]!.at)
  t.equal(pairs.get(merged[0]!), merged[1])
})
