// `raftkv local`: a cluster of node processes on loopback, one per member, data under ./data.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startControl, type LocalNodes } from './control.ts'
import { NODE_ENV, NODE_EXEC_ARGV } from './runtime.ts'

const cliPath = fileURLToPath(new URL('../cli.ts', import.meta.url))
const tsxLoader = import.meta.resolve('tsx')

export interface LocalClusterOptions {
  nodes: number
  dataDir: string
  host: string
  raftPortBase: number
  httpPortBase: number
  respPortBase: number
  extraArgs: string[]
  /** Where each node's output goes: 'inherit' (terminal) or 'ignore'. */
  stdio: 'inherit' | 'ignore' | 'pipe'
}

export function nodeArgs(o: LocalClusterOptions, id: number): string[] {
  const peers = Array.from({ length: o.nodes }, (_, i) => `${i + 1}=${o.host}:${o.raftPortBase + i + 1}`).join(',')
  return [
    'node',
    '--id', String(id),
    '--peers', peers,
    '--peer-template', `${o.host}:{port}`,
    '--raft-port-base', String(o.raftPortBase),
    '--http-port', String(o.httpPortBase + id),
    '--http-port-base', String(o.httpPortBase),
    '--resp-port-base', String(o.respPortBase),
    '--data-dir', join(o.dataDir, `node${id}`),
    ...o.extraArgs,
  ]
}

/** Starts one node process running the CLI through tsx. */
export function spawnNode(args: string[], stdio: LocalClusterOptions['stdio'], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  // tsx resolved from here, not from the working directory (which need not hold node_modules).
  return spawn(process.execPath, [...NODE_EXEC_ARGV, '--import', tsxLoader, cliPath, ...args], { stdio: ['ignore', stdio, stdio], env: { ...NODE_ENV, ...env } })
}

export async function runLocal(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      nodes: { type: 'string', default: '3' },
      'data-dir': { type: 'string', default: './data' },
      host: { type: 'string', default: '127.0.0.1' },
      'raft-port-base': { type: 'string', default: '7000' },
      'http-port-base': { type: 'string', default: '8079' },
      'resp-port-base': { type: 'string', default: '6378' },
      /** The control API (control.ts) for the visualizer's stop/start buttons; 0: off. */
      'control-port': { type: 'string' },
    },
  })
  const n = Number(values.nodes)
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error('--nodes must be 1 to 9')
  const o: LocalClusterOptions = {
    nodes: n,
    dataDir: resolve(values['data-dir']),
    host: values.host,
    raftPortBase: Number(values['raft-port-base']),
    httpPortBase: Number(values['http-port-base']),
    respPortBase: Number(values['resp-port-base']),
    extraArgs: positionals,
    stdio: 'inherit',
  }
  mkdirSync(o.dataDir, { recursive: true })
  const controlPort = Number(values['control-port'] ?? o.httpPortBase)
  if (!Number.isInteger(controlPort) || controlPort < 0 || controlPort > 65535) throw new Error('--control-port must be a port number (0: off)')
  const controlUrl = controlPort > 0 ? `http://${o.host}:${controlPort}` : null
  // Nodes tell the visualizer where to send stop/start.
  const env: NodeJS.ProcessEnv = controlUrl ? { ...process.env, RAFTKV_LOCAL_CONTROL: controlUrl } : process.env
  const children = new Map<number, ChildProcess>()
  /**
   * Nodes whose exit is expected (stopped through the control API, being restarted, scaled away):
   * their exit is no error, and not the cluster's end.
   */
  const held = new Set<number>()
  let stopping = false
  /** Ordinals 0 … replicas−1 (ids 1 … replicas) should run; the leader changes it (scale). */
  let replicas = n
  const dirOf = (id: number): string => join(o.dataDir, `node${id}`)
  // Marks a data directory that began with --join. A joined node that restarts before it learned
  // any configuration must get --join again: without it, the node would take its empty
  // configuration for old data and assume the bootstrap members.
  const joinedMark = (id: number): string => join(o.dataDir, `node${id}.joined`)
  // A node with no data joins an existing cluster (no configuration, filled by the leader) unless
  // the cluster itself is brand new: then the first `--nodes` bootstrap it together. A re-added
  // node must never bootstrap: see scaler.ts on re-used ordinals.
  const brandNew = !Array.from({ length: 9 }, (_, i) => existsSync(dirOf(i + 1))).some(Boolean)
  const startNode = (id: number, initial = false): void => {
    const fresh = !existsSync(dirOf(id))
    const join = fresh ? !(initial && brandNew) : existsSync(joinedMark(id))
    if (fresh && join) writeFileSync(joinedMark(id), '')
    const c = spawnNode([...nodeArgs(o, id), ...(join ? ['--join'] : [])], o.stdio, env)
    children.set(id, c)
    held.delete(id)
    c.on('exit', (code, sig) => {
      if (children.get(id) === c) children.delete(id)
      if (!stopping && !held.has(id)) console.error(`node ${id} exited (${sig ?? code})`)
      if (stopping && children.size === 0) process.exit(0)
      if (!stopping && children.size === 0 && held.size === 0) process.exit(1)
    })
  }
  for (let id = 1; id <= n; id++) startNode(id, true)
  const stopNode = async (id: number, signal: NodeJS.Signals): Promise<boolean> => {
    const c = children.get(id)
    if (!c) return false
    held.add(id)
    const exited = new Promise((r) => c.once('exit', r))
    c.kill(signal)
    await exited
    return true
  }
  const nodes: LocalNodes = {
    list: () =>
      Array.from({ length: Math.max(replicas, ...children.keys()) }, (_, i) => i + 1).map((id) => {
        const c = children.get(id)
        return { id, pid: c?.pid ?? null, running: c !== undefined, held: held.has(id), http: `http://${o.host}:${o.httpPortBase + id}` }
      }),
    stop: stopNode,
    start: (id) => {
      if (children.has(id) || stopping) return false
      startNode(id)
      return true
    },
    replicas: () => replicas,
    scale: async (want) => {
      replicas = want
      // Scaled away: stopped, and the data discarded (a StatefulSet with whenScaled: Delete).
      for (const id of [...children.keys()].filter((id) => id > want).sort((a, b) => b - a)) await stopNode(id, 'SIGKILL')
      for (let id = want + 1; id <= 9; id++) {
        rmSync(dirOf(id), { recursive: true, force: true })
        rmSync(joinedMark(id), { force: true })
        // No longer "stopped by hand": scaling up again starts it (fresh).
        held.delete(id)
      }
      for (let id = 1; id <= want; id++) if (!children.has(id) && !held.has(id) && !stopping) startNode(id)
    },
    restart: async (id) => {
      if (stopping || id > replicas) return false
      await stopNode(id, 'SIGKILL')
      startNode(id)
      return true
    },
  }
  if (controlUrl) {
    // A busy port costs only the buttons, not the cluster.
    await startControl(o.host, controlPort, nodes).catch((e: unknown) => console.error(`control API off: ${(e as Error).message}`))
  }
  console.log(`raftkv: local cluster of ${n} nodes, data under ${o.dataDir}`)
  for (let id = 1; id <= n; id++) {
    console.log(
      `  node ${id}: redis-cli -h ${o.host} -p ${o.respPortBase + id}  http http://${o.host}:${o.httpPortBase + id}  raft ${o.host}:${o.raftPortBase + id} (udp+tcp)`,
    )
  }
  console.log(`  visualizer: http://${o.host}:${o.httpPortBase + 1}/ui/ (any member's /ui/)${controlUrl ? `, control API ${controlUrl}` : ''}`)
  console.log('Ctrl-C stops the cluster; starting again resumes it from its data.')
  const stop = (): void => {
    if (stopping) return
    stopping = true
    for (const c of children.values()) c.kill('SIGTERM')
    // A node that does not stop in time is killed; its data is safe either way.
    setTimeout(() => {
      for (const c of children.values()) c.kill('SIGKILL')
    }, 5000).unref()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
