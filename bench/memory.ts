// bench/memory: the resident memory of nodes holding many keys. A 3-node local cluster is loaded
// with `--keys` distinct keys of `--value-bytes` bytes through RESP (MSET of `--per-mset` pairs,
// pipelined on one connection), then each node's RSS and peak RSS are read from /proc once every
// member has applied everything. Reports numbers; asserts nothing.
//
//   npx tsx bench/memory.ts [--keys 1000000] [--value-bytes 100] [--per-mset 100] [--window 16]
import { connect, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Cluster, sleep } from '../test/cluster/fixtures/helpers.ts'
import { NODE_ENV, NODE_EXEC_ARGV } from '../src/cluster/runtime.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    keys: { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '100' },
    'per-mset': { type: 'string', default: '100' },
    window: { type: 'string', default: '16' },
  },
})
const nodes = Number(values.nodes)
const keys = Number(values.keys)
const valueBytes = Number(values['value-bytes'])
const perMset = Number(values['per-mset'])
const window = Number(values.window)
const TARGET_MB = 300
// Nodes run as the launchers run them (raftkv local, the container image).
Object.assign(process.env, NODE_ENV)

/** One RESP array of bulk strings. */
function command(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/**
 * Sends MSETs with at most `window` in flight and counts the replies (each a one-line "+OK" or an
 * error) so that loading is as fast as the cluster commits, without one round trip per command.
 */
async function load(sock: Socket): Promise<{ errors: string[] }> {
  const value = Buffer.alloc(valueBytes, 'v')
  const total = Math.ceil(keys / perMset)
  let sent = 0
  let answered = 0
  const errors: string[] = []
  let pending = ''
  let shown = 0
  return new Promise((resolve, reject) => {
    const pump = (): void => {
      while (sent < total && sent - answered < window) {
        const args: (string | Buffer)[] = ['MSET']
        for (let k = sent * perMset; k < Math.min(keys, (sent + 1) * perMset); k++) args.push(`key:${String(k).padStart(8, '0')}`, value)
        sock.write(command(args))
        sent++
      }
    }
    sock.on('data', (d: Buffer) => {
      pending += d.toString('latin1')
      let nl: number
      while ((nl = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 2)
        if (line.startsWith('-')) errors.push(line)
        answered++
      }
      if (answered - shown >= 1000 || answered === total) {
        shown = answered
        process.stderr.write(`\r  ${answered * perMset} keys written, ${errors.length} errors`)
      }
      if (answered === total) {
        process.stderr.write('\n')
        resolve({ errors })
      } else pump()
    })
    sock.on('error', reject)
    pump()
  })
}

/**
 * RSS and its parts: anonymous memory (heaps, LevelDB's caches and memtables) and file pages
 * mapped into the process (LevelDB reads its tables through mmap: clean page cache the kernel can
 * drop at any time, but counted in RSS).
 */
function rssOf(pid: number): { rssMb: number; peakMb: number; anonMb: number; fileMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN)
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024 }
}

/** The V8 heap and external (Buffer) memory from a node's /metrics (prom-client's defaults). */
async function heapOf(url: string): Promise<string> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
    const mb = (name: string): string => {
      const m = new RegExp(`^raftkv_${name} (\\S+)$`, 'm').exec(text)
      return m ? (Number(m[1]) / 2 ** 20).toFixed(0) : '?'
    }
    return `V8 heap used ${mb('nodejs_heap_size_used_bytes')} of ${mb('nodejs_heap_size_total_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB`
  } catch (e) {
    return `no /metrics (${(e as Error).message})`
  }
}

function simple(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(command(args)))
    s.once('data', (d) => {
      resolve(d.toString('latin1').trim())
      s.destroy()
    })
    s.on('error', reject)
  })
}

async function main(): Promise<void> {
  const c = await Cluster.create(null, { nodes, name: 'bench-memory', logLevel: 'warn' })
  for (const id of c.ids) c.spawn(id, [], [...NODE_EXEC_ARGV])
  try {
    const { leader } = await c.waitForLeader(c.ids, 30_000)
    const before = new Map(c.ids.map((id) => [id, rssOf(c.procs.get(id)!.pid)]))
    const sock = connect(c.respPort(leader), '127.0.0.1')
    await new Promise<void>((r) => sock.once('connect', () => r()))
    const t0 = performance.now()
    // VmHWM says how high RSS went, not of what: sample the split while loading.
    const highest = new Map<number, ReturnType<typeof rssOf>>()
    const sampler = setInterval(() => {
      for (const id of c.ids) {
        const r = rssOf(c.procs.get(id)!.pid)
        if (r.rssMb > (highest.get(id)?.rssMb ?? 0)) highest.set(id, r)
      }
    }, 250)
    const { errors } = await load(sock)
    const secs = (performance.now() - t0) / 1000
    sock.destroy()
    const st = await c.status(leader)
    if (!st) throw new Error('leader gone')
    await c.waitApplied(st.commit, c.ids, 120_000)
    clearInterval(sampler)
    // Let deferred work (compactions, cache trimming) settle before reading the figures.
    await sleep(3000)
    const dbsize = await simple(c.respPort(leader), ['DBSIZE'])
    console.log(`memory: ${nodes} nodes, ${keys} keys of ${valueBytes} bytes loaded through RESP MSET (${perMset} per command) in ${secs.toFixed(1)} s (${(keys / secs).toFixed(0)} keys/s), ${errors.length} errors${errors.length ? ` (first: ${errors[0]})` : ''}; DBSIZE ${dbsize.replace(/^:/, '')}`)
    for (const id of c.ids) {
      const b = before.get(id)!
      const a = rssOf(c.procs.get(id)!.pid)
      const verdict = a.rssMb < TARGET_MB ? `under ${TARGET_MB} MB` : `OVER ${TARGET_MB} MB`
      console.log(`  node ${id}${id === leader ? ' (leader)' : ''}: RSS ${a.rssMb.toFixed(0)} MB (anon ${a.anonMb.toFixed(0)}, file ${a.fileMb.toFixed(0)}; empty ${b.rssMb.toFixed(0)} MB), peak ${a.peakMb.toFixed(0)} MB (highest sample: anon ${highest.get(id)?.anonMb.toFixed(0)}, file ${highest.get(id)?.fileMb.toFixed(0)}) — ${verdict}`)
      console.log(`    ${await heapOf(c.url(id))}`)
    }
  } finally {
    await c.destroy()
  }
}

await main()
