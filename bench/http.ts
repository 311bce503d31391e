// REST throughput of a real local cluster: PUT then (linearizable) GET against the leader with
// 64 keep-alive connections, for a fixed time each. Reports writes/s, reads/s, p50 and p99;
// asserts nothing.
//
//   npx tsx bench/http.ts [--nodes 3] [--connections 64] [--seconds 10] [--value-bytes 100]
//                         [--target leader|follower]   (follower: every write is proxied)
//                         [--idempotent]               (an Idempotency-Key on every PUT)
import { rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { parseArgs } from 'node:util'
import { Cluster } from '../test/cluster/fixtures/helpers.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    'value-bytes': { type: 'string', default: '100' },
    target: { type: 'string', default: 'leader' },
    // Every PUT carries an Idempotency-Key (a deduplication session per write, as proxied writes do).
    idempotent: { type: 'boolean', default: false },
  },
})
const connections = Number(values.connections)
const seconds = Number(values.seconds)
const value = Buffer.alloc(Number(values['value-bytes']), 'v')

// One agent: at most `connections` sockets, kept alive between requests (no per-request handshake).
const agent = new Agent({ keepAlive: true, maxSockets: connections })

function once(port: number, method: 'PUT' | 'GET', path: string, body?: Buffer): Promise<number> {
  const headers: Record<string, string | number> = body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {}
  if (body && values.idempotent) headers['idempotency-key'] = `bench${path}`
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

interface Result {
  ops: number
  errors: number
  rate: number
  p50: number
  p99: number
}

/** `connections` loops issuing requests back to back for `seconds`; latencies in ms. */
async function phase(port: number, make: (worker: number, i: number) => { method: 'PUT' | 'GET'; path: string; body?: Buffer }): Promise<Result> {
  const lat: number[] = []
  let errors = 0
  const end = performance.now() + seconds * 1000
  const start = performance.now()
  await Promise.all(
    Array.from({ length: connections }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const r = make(w, i)
        const t0 = performance.now()
        const status = await once(port, r.method, r.path, r.body).catch(() => 0)
        if (status === 200) lat.push(performance.now() - t0)
        else errors++
      }
    }),
  )
  const elapsed = (performance.now() - start) / 1000
  lat.sort((a, b) => a - b)
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN
  return { ops: lat.length, errors, rate: lat.length / elapsed, p50: q(0.5), p99: q(0.99) }
}

const c = await Cluster.start(null, { nodes: Number(values.nodes), name: 'bench-http', logLevel: 'warn' })
try {
  const { leader } = await c.waitForLeader()
  const target = values.target === 'follower' ? c.ids.find((id) => id !== leader)! : leader
  const port = c.httpPort(target)
  const written: number[] = new Array<number>(connections).fill(0)
  const put = await phase(port, (w, i) => {
    written[w] = i + 1
    return { method: 'PUT', path: `/kv/bench-${w}-${i}`, body: value }
  })
  const get = await phase(port, (w, i) => ({ method: 'GET', path: `/kv/bench-${w}-${i % Math.max(1, written[w]! - 1)}` }))
  const fmt = (name: string, r: Result): string =>
    `${name}: ${r.rate.toFixed(0)}/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  (${r.ops} ok, ${r.errors} failed)`
  console.log(`REST against node ${target} (${target === leader ? 'leader' : 'follower, writes proxied'}), ${connections} keep-alive connections, ${seconds} s per phase, ${value.length} B values${values.idempotent ? ', Idempotency-Key on every PUT' : ''}`)
  console.log(fmt('PUT', put))
  console.log(fmt('GET (linearizable)', get))
} finally {
  agent.destroy()
  await c.destroy()
  rmSync(c.dir, { recursive: true, force: true })
}
