// RESP throughput of a real local cluster, measured with redis-benchmark against the leader:
// SET and (linearizable) GET with 50 connections, without and with pipelining. Reports numbers
// next to the targets; asserts nothing.
//
//   npx tsx bench/resp.ts [--nodes 3] [--requests 200000] [--clients 50] [--pipelines 1,16]
//                         [--tests set,get] [--profile DIR]   (CPU profiles, summarised for the leader)
//                         [--node-args="--election-ms 1000"] (extra flags for every node)
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Cluster, type NodeStatus } from '../test/cluster/fixtures/helpers.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    requests: { type: 'string', default: '200000' },
    clients: { type: 'string', default: '50' },
    pipelines: { type: 'string', default: '1,16' },
    tests: { type: 'string', default: 'set,get' },
    profile: { type: 'string' },
    'node-args': { type: 'string', default: '' },
  },
})
const nodes = Number(values.nodes)
const requests = Number(values.requests)
const clients = Number(values.clients)
const pipelines = values.pipelines.split(',').map(Number)
const profileDir = values.profile ? resolve(values.profile) : null

/** The targets from the task: ops/s at -c 50, by test and pipeline depth. */
const TARGETS: Record<string, number> = { 'SET P1': 20_000, 'SET P16': 60_000, 'GET P1': 20_000 }

function sh(cmd: string, args: string[]): Promise<{ out: string; code: number }> {
  return new Promise((res) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: 30 * 60_000 }, (e, stdout, stderr) => {
      res({ out: `${stdout}${stderr}${e ? `\n(${e.message})` : ''}`, code: e ? 1 : 0 })
    })
  })
}

interface Row {
  test: string
  pipeline: number
  rps: number
  p50: number
  line: string
}

/** Parses redis-benchmark -q output: "SET: 12345.67 requests per second, p50=1.234 msec". */
function parse(out: string, pipeline: number): Row[] {
  const rows: Row[] = []
  for (const raw of out.split(/[\r\n]+/)) {
    const m = /^(\w+): ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?/.exec(raw.trim())
    if (m) rows.push({ test: m[1]!, pipeline, rps: Number(m[2]), p50: Number(m[3] ?? NaN), line: raw.trim() })
  }
  return rows
}

/** Self time by function from a .cpuprofile (top n). */
function summarise(file: string, n = 25): string {
  type PNode = { hitCount?: number; callFrame: { functionName: string; url: string; lineNumber: number } }
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: PNode[]; samples: number[] }
  const by = new Map<string, number>()
  for (const node of p.nodes) {
    if (!node.hitCount) continue
    const cf = node.callFrame
    const url = cf.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')
    const key = `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim()
    by.set(key, (by.get(key) ?? 0) + node.hitCount)
  }
  const total = p.samples.length
  return [...by]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `    ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n')
}

async function main(): Promise<void> {
  const extra = values['node-args'].split(' ').filter(Boolean)
  const c = await Cluster.create(null, { nodes, name: 'bench-resp', logLevel: 'warn', args: extra })
  const nodeFlags = (id: number): string[] => {
    if (!profileDir) return []
    const dir = join(profileDir, `node${id}`)
    mkdirSync(dir, { recursive: true })
    return ['--cpu-prof', `--cpu-prof-dir=${dir}`]
  }
  for (const id of c.ids) c.spawn(id, [], nodeFlags(id))
  const rows: Row[] = []
  let leader = 0
  let fsync = ''
  try {
    leader = (await c.waitForLeader(c.ids, 30_000)).leader
    const port = String(c.respPort(leader))
    for (const P of pipelines) {
      const r = await sh('redis-benchmark', ['-p', port, '-t', values.tests, '-c', String(clients), '-n', String(requests), '-P', String(P), '-q'])
      if (r.code !== 0) console.error(`redis-benchmark -P ${P} failed:\n${r.out.slice(-2000)}`)
      rows.push(...parse(r.out, P))
      const st = (await c.status(leader)) as NodeStatus
      if (st.role !== 'leader') console.error(`warning: node ${leader} is no longer leader; later results are unreliable`)
    }
    const st = (await c.status(leader)) as NodeStatus
    fsync = `leader fsyncs ${st.storage.fsyncs}, mean ${st.storage.fsyncMeanMs.toFixed(2)} ms, max ${st.storage.fsyncMaxMs.toFixed(1)} ms`
  } finally {
    if (profileDir) {
      // A graceful stop writes the profiles; followers first, so the leader does not hand over.
      for (const id of c.ids.filter((i) => i !== leader)) await c.kill(id, 'SIGTERM')
      await c.kill(leader, 'SIGTERM')
    }
    await c.destroy()
  }
  console.log(`resp: ${nodes} nodes on loopback${extra.length ? ` (${extra.join(' ')})` : ''}, redis-benchmark -c ${clients} -n ${requests} against the leader (GET is linearizable: a ReadIndex round per batch)`)
  for (const r of rows) {
    const target = TARGETS[`${r.test} P${r.pipeline}`]
    const verdict = target ? (r.rps >= target ? `meets ${target}/s` : `below ${target}/s`) : ''
    console.log(`  ${`${r.test} -P ${r.pipeline}`.padEnd(12)} ${r.rps.toFixed(0).padStart(8)} ops/s  p50 ${Number.isNaN(r.p50) ? '?' : r.p50.toFixed(2)} ms  ${verdict}`)
  }
  if (fsync) console.log(`  ${fsync}`)
  if (profileDir) {
    const dir = join(profileDir, `node${leader}`)
    console.log(`\nCPU profile of the leader (node ${leader}), whole run, top functions by self time:`)
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) console.log(`  ${f}\n${summarise(join(dir, f))}`)
  }
}

await main()
