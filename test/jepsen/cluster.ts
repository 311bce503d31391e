// The cluster under test: real node processes, on loopback (each node its own ports) or each in
// its own network namespace (own address, default ports) when partitions or link faults are
// wanted. Reuses the cluster tests' process fixtures (NodeProc, childEnv, freePortBlock).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { childEnv, cliPath, freePortBlock, NodeProc, repoRoot, sleep, type NodeStatus } from '../cluster/fixtures/helpers.ts'
import type { NetnsLab } from './netns.ts'

const clockPreload = fileURLToPath(new URL('./clock-offset.mjs', import.meta.url))
/**
 * Where the node sources come from: this tree, or JEPSEN_SRC (e.g. an export of a commit made by
 * scripts in test/jepsen/snapshot.sh) so a run tests a fixed version while the tree is being edited.
 */
export const srcRoot = process.env['JEPSEN_SRC'] ?? repoRoot
const nodeCli = process.env['JEPSEN_SRC'] ? join(srcRoot, 'src', 'cli.ts') : cliPath

export interface Endpoint {
  host: string
  resp: number
  http: number
}

export class JCluster {
  readonly dir: string
  readonly procs = new Map<number, NodeProc>()
  readonly logs = new Map<number, string[]>()
  readonly paused = new Set<number>()
  private destroyed = false
  /** How many members the orchestrator runs (ids 1…replicas); /scale-cluster changes it. */
  replicas: number
  /** The local supervisor's control URL the nodes' orchestrator calls (ControlServer), if any. */
  controlUrl: string | null = null
  /** Set once the initial members were started: from then on an empty node always joins. */
  started = false

  private constructor(
    /** The initial members (bootstrapped together). */
    readonly ids: number[],
    /** The most nodes a scale-up may reach. */
    readonly maxNodes: number,
    private readonly lab: NetnsLab | null,
    private readonly portBase: number,
    private readonly extraArgs: string[],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'raftkv-jepsen-'))
    this.replicas = ids.length
    for (let id = 1; id <= maxNodes; id++) this.logs.set(id, [])
  }

  /** On loopback (lab = null) or in the lab's namespaces (which must exist for maxNodes ids). */
  static async create(nodes: number, maxNodes: number, lab: NetnsLab | null, extraArgs: string[]): Promise<JCluster> {
    const ids = Array.from({ length: nodes }, (_, i) => i + 1)
    const base = lab ? 0 : await freePortBlock(30)
    return new JCluster(ids, Math.max(nodes, maxNodes), lab, base, extraArgs)
  }

  /** The ids the orchestrator currently runs. */
  members(): number[] {
    return Array.from({ length: this.replicas }, (_, i) => i + 1)
  }

  /**
   * What the local supervisor does on a replica change: stop and wipe ids above `n` (like a
   * StatefulSet with whenScaled: Delete), start the missing ids up to `n` (empty ones join).
   */
  async scaleTo(n: number): Promise<void> {
    const before = this.replicas
    this.replicas = n
    for (let id = this.maxNodes; id > n; id--) {
      await this.kill(id)
      rmSync(join(this.dir, `node${id}`), { recursive: true, force: true })
    }
    for (let id = before + 1; id <= n; id++) if (!this.procs.get(id)?.alive) this.spawn(id)
  }

  host(id: number): string {
    return this.lab ? this.lab.ip(id) : '127.0.0.1'
  }

  private raftPort(id: number): number {
    return this.lab ? 7000 + id : this.portBase + id
  }

  private respBase(): number {
    return this.lab ? 6378 : this.portBase + 20
  }

  endpoint(id: number): Endpoint {
    return { host: this.host(id), resp: this.respBase() + id, http: this.lab ? 8079 + id : this.portBase + 10 + id }
  }

  url(id: number): string {
    const e = this.endpoint(id)
    return `http://${e.host}:${e.http}`
  }

  clockFile(id: number): string {
    return join(this.dir, `clock-${id}`)
  }

  /** Shifts node `id`'s wall clock by `ms` (0 = back to true time); applies within 20 ms. */
  setClock(id: number, ms: number): void {
    writeFileSync(this.clockFile(id), String(ms))
  }

  /** Starts node `id`; `env` adds variables (e.g. a failpoint) to this incarnation only. */
  spawn(id: number, env: Record<string, string> = {}): NodeProc {
    if (this.destroyed) throw new Error('cluster destroyed')
    const old = this.procs.get(id)
    if (old?.alive) throw new Error(`node ${id} is still running`)
    const peers = this.ids.map((p) => `${p}=${this.host(p)}:${this.raftPort(p)}`).join(',')
    const e = this.endpoint(id)
    const dataDir = join(this.dir, `node${id}`)
    // A node added later starts empty and joins (never bootstraps a configuration of its own).
    const join_ = !existsSync(dataDir) && (this.started || !this.ids.includes(id))
    const template = this.lab ? `${this.lab.subnet}.{id}:{port}` : '127.0.0.1:{port}'
    const nodeArgs = [
      '--import', clockPreload,
      '--import', 'tsx', nodeCli, 'node',
      '--id', String(id),
      '--peers', peers,
      '--host', e.host,
      '--data-dir', dataDir,
      '--peer-template', template,
      '--raft-port-base', String(this.lab ? 7000 : this.portBase),
      '--http-port-base', String(this.lab ? 8079 : this.portBase + 10),
      ...(join_ ? ['--join'] : []),
      '--http-port', String(e.http),
      '--resp-port', String(e.resp),
      '--resp-port-base', String(this.respBase()),
      '--log-level', 'warn',
      ...this.extraArgs,
    ]
    const prefix = this.lab ? this.lab.execPrefix(id) : []
    const cmd = prefix.length ? prefix[0]! : process.execPath
    const args = prefix.length ? [...prefix.slice(1), process.execPath, ...nodeArgs] : nodeArgs
    const sink = this.logs.get(id)!
    sink.push(`=== node ${id} starting ${JSON.stringify(env)}`)
    const proc = spawn(cmd, args, { cwd: srcRoot, env: childEnv({ RAFTKV_CLOCK_FILE: this.clockFile(id), ...(this.controlUrl ? { RAFTKV_LOCAL_CONTROL: this.controlUrl } : {}), ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
    const p = new NodeProc(id, proc, sink)
    this.procs.set(id, p)
    return p
  }

  alive(): number[] {
    return [...this.procs.keys()].filter((id) => this.procs.get(id)?.alive).sort((a, b) => a - b)
  }

  async kill(id: number): Promise<void> {
    const p = this.procs.get(id)
    if (!p?.alive) return
    this.resume(id)
    p.proc.kill('SIGKILL')
    await p.exited
  }

  pause(id: number): void {
    const p = this.procs.get(id)
    if (!p?.alive) return
    p.proc.kill('SIGSTOP')
    this.paused.add(id)
  }

  resume(id: number): void {
    const p = this.procs.get(id)
    if (p?.alive && this.paused.has(id)) p.proc.kill('SIGCONT')
    this.paused.delete(id)
  }

  async status(id: number, timeoutMs = 800): Promise<NodeStatus | null> {
    if (!this.procs.get(id)?.alive || this.paused.has(id)) return null
    try {
      const r = await fetch(`${this.url(id)}/status`, { signal: AbortSignal.timeout(timeoutMs) })
      if (!r.ok) return null
      return (await r.json()) as NodeStatus
    } catch {
      return null
    }
  }

  /** The leader of the highest term any reachable node reports, or 0. */
  async findLeader(): Promise<number> {
    const st = await Promise.all(this.alive().map((id) => this.status(id)))
    let best: NodeStatus | null = null
    for (const s of st) if (s && s.role === 'leader' && (!best || s.term > best.term)) best = s
    return best ? best.id : 0
  }

  /** Waits (bounded) until the running nodes agree on one leader; false when they did not. */
  async waitForLeader(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && !this.destroyed) {
      const ids = this.alive().filter((id) => !this.paused.has(id))
      const st = await Promise.all(ids.map((id) => this.status(id)))
      const ok = st.filter((s): s is NodeStatus => s !== null)
      const leaders = ok.filter((s) => s.role === 'leader')
      if (ok.length === ids.length && leaders.length === 1 && ok.every((s) => s.leader === leaders[0]!.id && s.term === leaders[0]!.term)) return true
      await sleep(50)
    }
    return false
  }

  /** Kills every process (resuming paused ones first) and waits for them. Idempotent. */
  async destroy(keepDir: boolean): Promise<void> {
    this.destroyed = true
    const waits: Promise<unknown>[] = []
    for (const [id, p] of this.procs) {
      if (!p.alive) continue
      this.resume(id)
      p.proc.kill('SIGKILL')
      waits.push(p.exited)
    }
    await Promise.all(waits)
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true })
  }

  /** Kills synchronously (process exit / SIGINT path). */
  killAllSync(): void {
    for (const p of this.procs.values()) {
      if (!p.alive) continue
      try {
        p.proc.kill('SIGCONT')
        p.proc.kill('SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }

  tail(id: number, lines = 30): string[] {
    return this.logs.get(id)!.slice(-lines)
  }
}
