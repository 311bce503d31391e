// Replication throughput and latency of a real local cluster (node processes on loopback, HTTP
// writes with keep-alive to the leader): writes/s committed, p50/p99 latency, and fsyncs/s per
// node from /status. Reports numbers; asserts nothing.
//
//   npm run bench:replicate -- [--nodes 3] [--writers 1,64] [--seconds 10] [--value-bytes 100]
//                             [--profile DIR]   (CPU profiles of every node, summarised for the leader)
//                             [--data-root DIR] (where the nodes' data goes, e.g. /dev/shm: no disk)
import { Agent, request } from 'node:http'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Cluster, sleep, type NodeStatus } from '../test/cluster/fixtures/helpers.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    writers: { type: 'string', default: '1,64' },
    seconds: { type: 'string', default: '10' },
    'value-bytes': { type: 'string', default: '100' },
    warmup: { type: 'string', default: '2' },
    profile: { type: 'string' },
    'data-root': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})
const nodes = Number(values.nodes)
const writerCounts = values.writers.split(',').map(Number)
const seconds = Number(values.seconds)
const valueBytes = Number(values['value-bytes'])
const warmup = Number(values.warmup)
const profileDir = values.profile ? resolve(values.profile) : null

function put(agent: Agent, port: number, path: string, body: Buffer): Promise<number> {
  return new Promise((res, rej) => {
    const req = request({ agent, host: '127.0.0.1', port, path, method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (r) => {
      r.resume()
      r.on('end', () => res(r.statusCode ?? 0))
      r.on('error', rej)
    })
    req.on('error', rej)
    req.end(body)
  })
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

interface Result {
  writers: number
  seconds: number
  writes: number
  errors: number
  writesPerSec: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
  fsyncsPerSec: Record<string, number>
  fsyncMeanMs: Record<string, number>
  entriesPerFsyncLeader: number
}

async function run(c: Cluster, leader: number, writers: number): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: writers })
  let port = c.httpPort(leader)
  // Follow the leader if it changes (counted as errors while it does).
  let finding: Promise<void> | null = null
  const refind = (): Promise<void> =>
    (finding ??= (async () => {
      await sleep(5)
      const l = await c.findLeader()
      if (l) {
        if (l !== leader) console.error(`leader changed: ${leader} → ${l}`)
        leader = l
        port = c.httpPort(l)
      }
      finding = null
    })())
  const body = Buffer.alloc(valueBytes, 'v')
  let stop = false
  let measuring = false
  const lat: number[] = []
  let errors = 0
  let writes = 0
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const t0 = performance.now()
      let code = 0
      try {
        code = await put(agent, port, `/kv/w${w}-${i % 1000}`, body)
      } catch {
        code = -1
      }
      const ms = performance.now() - t0
      if (code !== 200) await refind()
      if (!measuring) continue
      if (code === 200) {
        writes++
        lat.push(ms)
      } else errors++
    }
  })
  await sleep(warmup * 1000)
  const before = await c.statuses(c.ids)
  measuring = true
  const t0 = performance.now()
  await sleep(seconds * 1000)
  measuring = false
  const elapsed = (performance.now() - t0) / 1000
  const after = await c.statuses(c.ids)
  stop = true
  await Promise.all(loops)
  agent.destroy()
  lat.sort((a, b) => a - b)
  const fsyncsPerSec: Record<string, number> = {}
  const fsyncMeanMs: Record<string, number> = {}
  for (const id of c.ids) {
    const a = after.get(id)
    const b = before.get(id)
    if (!a || !b) continue
    const n = a.storage.fsyncs - b.storage.fsyncs
    const label = id === leader ? `${id} (leader)` : String(id)
    fsyncsPerSec[label] = Math.round(n / elapsed)
    fsyncMeanMs[label] = n ? +((a.storage.fsyncTotalMs - b.storage.fsyncTotalMs) / n).toFixed(3) : 0
  }
  const la = after.get(leader)!
  const lb = before.get(leader)!
  return {
    writers,
    seconds: +elapsed.toFixed(2),
    writes,
    errors,
    writesPerSec: Math.round(writes / elapsed),
    p50Ms: +pct(lat, 50).toFixed(3),
    p90Ms: +pct(lat, 90).toFixed(3),
    p99Ms: +pct(lat, 99).toFixed(3),
    maxMs: +(lat[lat.length - 1] ?? NaN).toFixed(3),
    fsyncsPerSec,
    fsyncMeanMs,
    entriesPerFsyncLeader: +((la.storage.entriesPersisted - lb.storage.entriesPersisted) / Math.max(1, la.storage.fsyncs - lb.storage.fsyncs)).toFixed(2),
  }
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount: number
}

/** Self time by function from a .cpuprofile, top `n`, plus coarse buckets by origin. */
function summarise(file: string, n = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }
  const total = p.samples.length
  const by = new Map<string, number>()
  const bucket = new Map<string, number>()
  for (const node of p.nodes) {
    if (!node.hitCount) continue
    const cf = node.callFrame
    const url = cf.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')
    const key = `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim()
    by.set(key, (by.get(key) ?? 0) + node.hitCount)
    const b = cf.functionName === '(idle)' ? 'idle'
      : cf.functionName === '(garbage collector)' ? 'gc'
      : cf.functionName === '(program)' ? 'native/program'
      : url.includes('node_modules/fastify') || url.includes('node_modules/find-my-way') || url.includes('node_modules/light-my-request') || url.includes('node_modules/avvio') ? 'fastify'
      : url.includes('node_modules/pino') ? 'pino'
      : url.includes('node_modules/') ? 'other deps'
      : url.startsWith('node:') ? 'node core (http, net, dgram, streams)'
      : url.includes('src/raft/') ? 'src/raft'
      : url.includes('src/storage/') ? 'src/storage'
      : url.includes('src/transport/') ? 'src/transport'
      : url.includes('src/kv/') ? 'src/kv'
      : url.includes('src/node/') ? 'src/node'
      : url === '' ? 'native/builtins'
      : 'other'
    bucket.set(b, (bucket.get(b) ?? 0) + node.hitCount)
  }
  const lines: string[] = []
  lines.push(`  ${file}: ${total} samples over ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s`)
  lines.push('  by origin (self time):')
  for (const [k, v] of [...bucket].sort((a, b) => b[1] - a[1])) lines.push(`    ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
  lines.push(`  top ${n} functions (self time):`)
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, n)) lines.push(`    ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
  return lines.join('\n')
}

async function main(): Promise<void> {
  const c = await Cluster.create(null, { nodes, name: 'bench-replicate', logLevel: 'warn', ...(values['data-root'] ? { root: values['data-root'] } : {}) })
  const nodeFlags = (id: number): string[] => {
    if (!profileDir) return []
    const dir = join(profileDir, `node${id}`)
    mkdirSync(dir, { recursive: true })
    return ['--cpu-prof', `--cpu-prof-dir=${dir}`]
  }
  for (const id of c.ids) c.spawn(id, [], nodeFlags(id))
  const results: Result[] = []
  let leader = 0
  try {
    leader = (await c.waitForLeader(c.ids, 30_000)).leader
    for (const w of writerCounts) {
      const r = await run(c, leader, w)
      results.push(r)
      const now = (await c.status(leader)) as NodeStatus
      if (now.role !== 'leader') console.error(`warning: node ${leader} is no longer leader; results after this are unreliable`)
    }
  } finally {
    if (profileDir) {
      // A graceful stop writes the profiles; followers first, so the leader does not hand over.
      for (const id of c.ids.filter((i) => i !== leader)) await c.kill(id, 'SIGTERM')
      await c.kill(leader, 'SIGTERM')
    }
    await c.destroy()
    rmSync(c.dir, { recursive: true, force: true })
  }
  if (values.json) {
    console.log(JSON.stringify({ nodes, valueBytes, results }, null, 2))
  } else {
    console.log(`replicate: ${nodes} nodes on loopback, HTTP PUT of ${valueBytes}-byte values to the leader (keep-alive), ${seconds} s per run after ${warmup} s warm-up, data under ${values['data-root'] ?? 'the OS temp dir'}`)
    for (const r of results) {
      console.log(
        `  ${String(r.writers).padStart(3)} writer(s): ${String(r.writesPerSec).padStart(6)} writes/s  p50 ${r.p50Ms.toFixed(2)} ms  p90 ${r.p90Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  max ${r.maxMs.toFixed(1)} ms  errors ${r.errors}`,
      )
      console.log(`      fsyncs/s ${JSON.stringify(r.fsyncsPerSec)}  mean fsync ms ${JSON.stringify(r.fsyncMeanMs)}  entries per leader fsync ${r.entriesPerFsyncLeader}`)
    }
  }
  if (profileDir) {
    const dir = join(profileDir, `node${leader}`)
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
    console.log(`\nCPU profile of the leader (node ${leader}), whole run:`)
    for (const f of files) console.log(summarise(join(dir, f)))
  }
}

await main()
