// Failover unavailability of a real local cluster: one writer issues one HTTP PUT at a time to
// whoever is leader (following 503s, and asking /status for the leader after connection errors)
// while the leader is killed with SIGKILL. The unavailability window of a run is the time from the
// last write acknowledged before the kill to the first write acknowledged after it. The killed
// node is restarted (and caught up) before the next run. Reports numbers; asserts nothing.
//
//   npm run bench:failover -- [--runs 7] [--nodes 3] [--election-ms 150] [--heartbeat-ms 20]
import { rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { parseArgs } from 'node:util'
import { Cluster, sleep } from '../test/cluster/fixtures/helpers.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    nodes: { type: 'string', default: '3' },
    'election-ms': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
})
const runs = Number(values.runs)
const nodes = Number(values.nodes)
const args: string[] = []
if (values['election-ms']) args.push('--election-ms', values['election-ms'])
if (values['heartbeat-ms']) args.push('--heartbeat-ms', values['heartbeat-ms'])

const agent = new Agent({ keepAlive: true, maxSockets: 4 })

/** One PUT: the HTTP status and the JSON `leader` hint of a 503 (0 when none), or -1 on a connection error. */
function put(port: number, key: string, value: string): Promise<{ code: number; leader: number }> {
  return new Promise((res) => {
    const body = Buffer.from(value)
    const req = request(
      { agent, host: '127.0.0.1', port, path: `/kv/${key}`, method: 'PUT', timeout: 2000, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } },
      (r) => {
        const chunks: Buffer[] = []
        r.on('data', (d: Buffer) => chunks.push(d))
        r.on('end', () => {
          let leader = 0
          if (r.statusCode === 503) {
            try {
              leader = (JSON.parse(Buffer.concat(chunks).toString()) as { leader?: number }).leader ?? 0
            } catch {
              // not JSON
            }
          }
          res({ code: r.statusCode ?? 0, leader })
        })
        r.on('error', () => res({ code: -1, leader: 0 }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => res({ code: -1, leader: 0 }))
    req.end(body)
  })
}

interface Run {
  killed: number
  newLeader: number
  windowMs: number
  /** From the kill to the first acknowledged write after it. */
  killToFirstMs: number
  failedAttempts: number
}

async function oneRun(c: Cluster, n: number): Promise<Run> {
  const { leader } = await c.waitForLeader(c.ids, 30_000)
  let target = leader
  let lastOk = 0
  let firstOkAfter = 0
  let killedAt = 0
  let failed = 0
  let newLeader = 0
  let stop = false
  let finding: Promise<void> | null = null
  const alive = (): number[] => c.ids.filter((id) => c.procs.get(id)?.alive)
  const findLeader = (): Promise<void> =>
    (finding ??= (async () => {
      // Ask every live node (fast: loopback) until one says it leads.
      for (;;) {
        const st = await c.statuses(alive())
        const l = [...st.values()].find((s) => s.role === 'leader')
        if (l) {
          target = l.id
          break
        }
        await sleep(2)
      }
      finding = null
    })())
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      const r = await put(c.httpPort(target), `run${n}-${i}`, `v${i}`)
      const now = performance.now()
      if (r.code === 200) {
        if (killedAt === 0) lastOk = now
        else if (firstOkAfter === 0) {
          firstOkAfter = now
          newLeader = target
        }
        continue
      }
      if (killedAt !== 0) failed++
      if (r.code === 503 && r.leader && r.leader !== target && c.procs.get(r.leader)?.alive) target = r.leader
      else await findLeader()
    }
  })()
  await sleep(1000) // steady state
  killedAt = performance.now()
  c.procs.get(leader)!.proc.kill('SIGKILL')
  await c.procs.get(leader)!.exited
  const deadline = Date.now() + 30_000
  while (firstOkAfter === 0 && Date.now() < deadline) await sleep(5)
  stop = true
  await writer
  if (firstOkAfter === 0) throw new Error(`run ${n}: no write acknowledged within 30 s of the kill`)
  // Bring the killed node back and let it catch up before the next run.
  c.spawn(leader)
  const commit = (await c.status(newLeader))!.commit
  await c.waitApplied(commit, c.ids, 30_000)
  return { killed: leader, newLeader, windowMs: firstOkAfter - lastOk, killToFirstMs: firstOkAfter - killedAt, failedAttempts: failed }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

async function main(): Promise<void> {
  const c = await Cluster.start(null, { nodes, name: 'bench-failover', logLevel: 'warn', args })
  const results: Run[] = []
  try {
    for (let n = 0; n < runs; n++) {
      const r = await oneRun(c, n)
      results.push(r)
      if (!values.json) {
        console.log(
          `  run ${n + 1}: killed leader ${r.killed}; node ${r.newLeader} took over; unavailable ${r.windowMs.toFixed(1)} ms (kill → first ack ${r.killToFirstMs.toFixed(1)} ms, ${r.failedAttempts} failed attempts)`,
        )
      }
    }
  } finally {
    await c.destroy()
    rmSync(c.dir, { recursive: true, force: true })
    agent.destroy()
  }
  const w = results.map((r) => r.windowMs)
  const summary = {
    nodes,
    runs: results.length,
    electionMs: values['election-ms'] ?? '150 (default)',
    heartbeatMs: values['heartbeat-ms'] ?? '20 (default)',
    medianMs: +median(w).toFixed(1),
    minMs: +Math.min(...w).toFixed(1),
    maxMs: +Math.max(...w).toFixed(1),
    runsMs: w.map((x) => +x.toFixed(1)),
  }
  if (values.json) console.log(JSON.stringify({ summary, results }, null, 2))
  else console.log(`failover: ${nodes} nodes, ${summary.runs} runs, unavailability median ${summary.medianMs} ms, range ${summary.minMs}–${summary.maxMs} ms (election ${summary.electionMs}, heartbeat ${summary.heartbeatMs})`)
}

await main()
