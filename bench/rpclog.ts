// bench/rpclog: what the RPC log costs.
//
//  1. micro: ns per recorded message (the run loop's price per send/receive), against a loop that
//     does the same work without recording.
//  2. cluster: write throughput of a 3-node `raftkv local` cluster (HTTP PUT, 64 concurrent,
//     keep-alive) with the log off (--rpc-log-size 0), on with nobody reading, and on with a
//     visualizer's streams open (one SSE client per member, as the page opens them). Clusters
//     with the log off and on alternate; within a cluster with the log on, measuring windows
//     alternate between no reader and the streams open. Also CPU per write (from /proc), which
//     other work on the machine disturbs less than throughput.
//
//   npx tsx bench/rpclog.ts [--seconds 8] [--rounds 3] [--concurrency 64] [--size 64] [--micro-only]
import { readFileSync } from 'node:fs'
import { Agent, get, request } from 'node:http'
import { Observer } from '../src/observe/observer.ts'
import { recordAt } from '../src/observe/rpcquery.ts'
import { MsgType, emptyMessage, type Message } from '../src/raft/types.ts'
import { startLocal, waitForLeader, type LocalCluster } from '../test/ui/harness.ts'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const seconds = arg('seconds', 8)
const rounds = arg('rounds', 3)
const concurrency = arg('concurrency', 64)
const size = arg('size', 64)
const microOnly = process.argv.includes('--micro-only')

// ---- 1. micro -------------------------------------------------------------------------------------

function micro(): void {
  const o = new Observer(1, 50_000)
  const hb: Message = { ...emptyMessage(MsgType.Heartbeat, 1, 2, 7), index: 100, logTerm: 7, commit: 100, ctx: 1 }
  const app: Message = { ...emptyMessage(MsgType.Append, 1, 2, 7), index: 100, logTerm: 7, commit: 99, entries: [{ term: 7, index: 101, type: 0, data: new Uint8Array(64) }] }
  const N = 5_000_000
  let sink = 0
  const time = (f: () => void): number => {
    const t0 = process.hrtime.bigint()
    f()
    return Number(process.hrtime.bigint() - t0) / N
  }
  // Warm up the JIT on both paths first.
  for (let i = 0; i < 200_000; i++) {
    o.events.onSend(i & 1 ? hb : app)
    sink += hb.ctx
  }
  const base = time(() => {
    for (let i = 0; i < N; i++) sink += (i & 1 ? hb : app).term
  })
  const send = time(() => {
    for (let i = 0; i < N; i++) o.events.onSend(i & 1 ? hb : app)
  })
  const recv = time(() => {
    for (let i = 0; i < N; i++) o.events.onReceive(i & 1 ? hb : app)
  })
  const clock = time(() => {
    for (let i = 0; i < N; i++) sink += performance.now()
  })
  const heap = process.memoryUsage().heapUsed
  for (let i = 0; i < N; i++) o.events.onSend(hb)
  const grew = process.memoryUsage().heapUsed - heap
  console.log(`micro: record a sent message ${(send - base).toFixed(1)} ns, a received one ${(recv - base).toFixed(1)} ns (loop overhead ${base.toFixed(1)} ns subtracted; one performance.now() alone: ${(clock - base).toFixed(1)} ns)`)
  console.log(`micro: heap growth over ${N / 1e6}M more records: ${(grew / 1024).toFixed(0)} KiB (the ring is preallocated: ${((o.log.size * 83) / 1024 / 1024).toFixed(1)} MiB)`)
  // What a reader costs the node: turning records into the stream's JSON.
  const M = 200_000
  const off = o.log.wallOffset()
  const t0 = process.hrtime.bigint()
  let chars = 0
  for (let k = 0; k < M; k += 400) {
    const batch = []
    // Over the records the ring holds, again and again.
    const from = o.log.first + (k % (o.log.size - 400))
    for (let s = from; s < from + 400; s++) batch.push(recordAt(o.log, s, off))
    chars += JSON.stringify(batch).length
  }
  const per = Number(process.hrtime.bigint() - t0) / M
  console.log(`micro: serializing for a stream reader ${(per / 1000).toFixed(2)} µs per record (${(chars / M).toFixed(0)} bytes of JSON each)`)
  if (sink === 0) console.log('')
}

// ---- 2. cluster -----------------------------------------------------------------------------------

type Config = 'off' | 'on' | 'on+sse'

interface Result {
  config: Config
  writes: number
  perSec: number
  p50: number
  p99: number
  errors: number
  records: number
  /** CPU the three nodes spent per acknowledged write, µs. */
  cpuUsPerWrite: number
}

/** PUT; resolves with the status and, for "not the leader" answers, the leader named. */
function put(agent: Agent, url: string, key: string, body: Buffer): Promise<{ code: number; leader: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${url}/kv/${key}`)
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => {
        let leader = 0
        if (res.statusCode === 503) {
          try {
            leader = (JSON.parse(text) as { leader?: number }).leader ?? 0
          } catch {
            // Not JSON: no hint.
          }
        }
        resolve({ code: res.statusCode ?? 0, leader })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** One SSE client per member, reading everything (as the visualizer does). */
function openStreams(c: LocalCluster): { close(): void; bytes(): number } {
  let bytes = 0
  const reqs = Array.from({ length: c.nodes }, (_, i) =>
    get(`${c.url(i + 1)}/rpc-log/stream?status=true&backlog=3000&max=400`, (res) => {
      res.on('data', (d: Buffer) => (bytes += d.length))
      res.on('error', () => undefined)
    }).on('error', () => undefined),
  )
  return { close: () => reqs.forEach((r) => r.destroy()), bytes: () => bytes }
}

/**
 * CPU time (user + system, ms) the node processes have used: less sensitive than throughput to
 * other work on the machine, which slows everything but does not make a node do more per write.
 */
async function nodesCpuMs(c: LocalCluster): Promise<number> {
  const r = await fetch(`${c.controlUrl}/local/nodes`)
  const { nodes } = (await r.json()) as { nodes: { pid: number | null }[] }
  let ticks = 0
  for (const n of nodes) {
    if (!n.pid) continue
    // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name.
    const stat = readFileSync(`/proc/${n.pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(f[11]) + Number(f[12])
  }
  return ticks * 10 // USER_HZ is 100 on Linux
}

async function totalRecords(c: LocalCluster): Promise<number> {
  let sum = 0
  for (let id = 1; id <= c.nodes; id++) {
    try {
      const r = await fetch(`${c.url(id)}/observe/status`)
      sum += ((await r.json()) as { rpcLog: { total: number } }).rpcLog.total
    } catch {
      // Off or unreachable: counts as zero.
    }
  }
  return sum
}

/**
 * One cluster (log off or on) under load for `phases` back-to-back measuring windows. With the
 * log on, windows alternate between nobody reading and a visualizer's streams open: the same
 * processes, the same data, the same neighbours, a few seconds apart — the fairest A/B there is
 * on a shared machine.
 */
async function runCluster(logOn: boolean, phases: number): Promise<Result[]> {
  const c = await startLocal(3, logOn ? [] : ['--rpc-log-size', '0'])
  try {
    const leader = await waitForLeader(c)
    // Writes go to the leader; an election under load moves them to whoever is named next.
    let url = c.url(leader.id)
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
    const body = Buffer.alloc(size, 120)
    let lat: number[] = []
    let errors = 0
    let writes = 0
    let record = false
    let running = true
    const workers = Array.from({ length: concurrency }, async (_, w) => {
      let i = 0
      while (running) {
        const t0 = performance.now()
        try {
          const { code, leader } = await put(agent, url, `k${w}-${i++ % 500}`, body)
          if (leader) url = c.url(leader)
          if (code !== 200) {
            errors++
            if (!leader) await new Promise((r) => setTimeout(r, 10))
          } else if (record) {
            writes++
            lat.push(performance.now() - t0)
          }
        } catch {
          errors++
          await new Promise((r) => setTimeout(r, 10))
        }
      }
    })
    await new Promise((r) => setTimeout(r, 2000)) // warm-up: JIT, connections, LevelDB
    const out: Result[] = []
    for (let p = 0; p < phases; p++) {
      const config: Config = !logOn ? 'off' : p % 2 === 0 ? 'on' : 'on+sse'
      const streams = config === 'on+sse' ? openStreams(c) : null
      if (streams) await new Promise((r) => setTimeout(r, 500)) // past the backlog burst
      const before = await totalRecords(c)
      const cpu0 = await nodesCpuMs(c)
      writes = 0
      errors = 0
      lat = []
      record = true
      const t0 = performance.now()
      await new Promise((r) => setTimeout(r, seconds * 1000))
      record = false
      const elapsed = (performance.now() - t0) / 1000
      const cpu = (await nodesCpuMs(c)) - cpu0
      const records = (await totalRecords(c)) - before
      streams?.close()
      lat.sort((a, b) => a - b)
      out.push({ config, writes, perSec: writes / elapsed, p50: lat[Math.floor(lat.length * 0.5)] ?? 0, p99: lat[Math.floor(lat.length * 0.99)] ?? 0, errors, records, cpuUsPerWrite: (cpu * 1000) / Math.max(1, writes) })
    }
    running = false
    await Promise.all(workers)
    agent.destroy()
    return out
  } finally {
    await c.stop()
  }
}

micro()
if (!microOnly) {
  const configs: Config[] = ['off', 'on', 'on+sse']
  const all: Result[] = []
  const phases = 4
  for (let r = 0; r < rounds; r++) {
    for (const logOn of r % 2 === 0 ? [false, true] : [true, false]) {
      for (const res of await runCluster(logOn, logOn ? phases : phases / 2)) {
        all.push(res)
        console.log(`round ${r + 1} ${res.config.padEnd(6)} ${res.perSec.toFixed(0).padStart(6)} writes/s  p50 ${res.p50.toFixed(1)} ms  p99 ${res.p99.toFixed(1)} ms  cpu ${res.cpuUsPerWrite.toFixed(0)} µs/write  errors ${res.errors}  rpc-log records/write ${(res.records / Math.max(1, res.writes)).toFixed(1)}`)
      }
    }
  }
  const median = (cfg: Config, f: (r: Result) => number): number => {
    const xs = all.filter((x) => x.config === cfg).map(f).sort((a, b) => a - b)
    return xs.length % 2 ? xs[xs.length >> 1]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2
  }
  const off = median('off', (r) => r.perSec)
  const offCpu = median('off', (r) => r.cpuUsPerWrite)
  console.log(`\nmedian over ${rounds} rounds (${seconds} s windows, ${concurrency} concurrent PUTs of ${size} B, 3 nodes):`)
  for (const cfg of configs) {
    const m = median(cfg, (r) => r.perSec)
    const c = median(cfg, (r) => r.cpuUsPerWrite)
    const vs = cfg === 'off' ? '(baseline)' : `throughput ${(((m - off) / off) * 100).toFixed(1)}%, CPU per write ${(((c - offCpu) / offCpu) * 100).toFixed(1)}% vs off`
    console.log(`  ${cfg.padEnd(6)} ${m.toFixed(0).padStart(6)} writes/s  ${c.toFixed(0).padStart(5)} µs CPU/write  ${vs}`)
  }
  // The reader's cost measured within the same clusters, window against neighbouring window.
  const on = all.filter((x) => x.config === 'on')
  const sse = all.filter((x) => x.config === 'on+sse')
  const ratios = sse.map((x, i) => x.perSec / Math.max(1, on[i]!.perSec)).sort((a, b) => a - b)
  if (ratios.length) console.log(`  reader cost within the same cluster: median throughput ratio on+sse/on = ${ratios[ratios.length >> 1]!.toFixed(3)}`)
}
