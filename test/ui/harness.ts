// A `raftkv local` cluster for the visualizer test and the RPC-log benchmark: one supervisor
// process (its own process group) with its nodes on a free block of loopback ports, stopped in
// teardown. Self-contained so it does not move when the cluster tests' helpers do.
import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const repoRoot = resolve(here, '..', '..')
export const cliPath = join(repoRoot, 'src', 'cli.ts')
const guardUrl = pathToFileURL(join(here, 'orphan-guard.mjs')).href
/** Whether this build's nodes serve RESP (then the cluster gets its own RESP ports). */
export const hasResp = readFileSync(join(repoRoot, 'src', 'node', 'options.ts'), 'utf8').includes("'resp-port'")

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Polls `fn` until it gives something other than undefined/false; throws after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown = null
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v as T
    } catch (e) {
      lastErr = e
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (${String(lastErr)})` : ''}`)
    await sleep(intervalMs)
  }
}

async function portFree(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((res) => {
    const s = createServer()
    s.once('error', () => res(false))
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)))
  })
  if (!tcp) return false
  return new Promise<boolean>((res) => {
    const u = createSocket('udp4')
    u.once('error', () => {
      u.close()
      res(false)
    })
    u.bind(port, '127.0.0.1', () => u.close(() => res(true)))
  })
}

/** A block of `size` free ports (TCP and UDP) in 20000–31999, below the ephemeral range. */
export async function freePortBlock(size: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 300) * 40
    let ok = true
    for (let p = base; p < base + size && ok; p++) ok = await portFree(p)
    if (ok) return base
  }
  throw new Error(`no block of ${size} free ports`)
}

export interface LocalCluster {
  nodes: number
  base: number
  dir: string
  proc: ChildProcess
  out: string[]
  httpPort(id: number): number
  url(id: number): string
  respPort(id: number): number
  controlUrl: string
  /** SIGTERM to the supervisor (it stops its nodes), then SIGKILL to the group; removes the data. */
  stop(): Promise<void>
}

/**
 * Starts `raftkv local --nodes n`: Raft on base+id, HTTP on base+10+id, RESP on base+20+id,
 * the control API on base+10. `nodeFlags` go to every node.
 */
export async function startLocal(nodes: number, nodeFlags: string[] = []): Promise<LocalCluster> {
  const base = await freePortBlock(30)
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-local-'))
  const args = ['--import', 'tsx', cliPath, 'local', '--nodes', String(nodes), '--data-dir', dir, '--raft-port-base', String(base), '--http-port-base', String(base + 10), '--resp-port-base', String(base + 20), '--', '--log-level', 'warn', ...nodeFlags]
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TAP') && !k.startsWith('_TAP')) env[k] = v
  // The guard reaches the nodes too (they inherit NODE_OPTIONS): if we die, they do not linger.
  env['NODE_OPTIONS'] = `--import=${guardUrl}`
  const proc = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const out: string[] = []
  proc.stdout!.on('data', (d: Buffer) => out.push(d.toString()))
  proc.stderr!.on('data', (d: Buffer) => out.push(d.toString()))
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  return {
    nodes,
    base,
    dir,
    proc,
    out,
    httpPort: (id) => base + 10 + id,
    url: (id) => `http://127.0.0.1:${base + 10 + id}`,
    respPort: (id) => base + 20 + id,
    controlUrl: `http://127.0.0.1:${base + 10}`,
    async stop() {
      proc.kill('SIGTERM')
      await Promise.race([exited, sleep(8000)])
      try {
        process.kill(-proc.pid!, 'SIGKILL')
      } catch {
        // The group is gone already.
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface NodeStatusLite {
  id: number
  role: string
  leader: number
  term: number
  commit: number
}

export async function status(url: string): Promise<NodeStatusLite | null> {
  try {
    const r = await fetch(`${url}/status`, { signal: AbortSignal.timeout(1000) })
    return r.ok ? ((await r.json()) as NodeStatusLite) : null
  } catch {
    return null
  }
}

/** Waits until every node answers and exactly one is leader, all agreeing; returns it. */
export async function waitForLeader(c: LocalCluster, timeoutMs = 60_000): Promise<NodeStatusLite> {
  const ids = Array.from({ length: c.nodes }, (_, i) => i + 1)
  return waitFor(
    'one leader',
    async () => {
      const st = await Promise.all(ids.map((id) => status(c.url(id))))
      const leaders = st.filter((s) => s?.role === 'leader')
      if (!st.every((s) => s) || leaders.length !== 1) return undefined
      const l = leaders[0]!
      return st.every((s) => s!.leader === l.id && s!.term === l.term) ? l : undefined
    },
    timeoutMs,
    100,
  )
}
