// One run: a cluster, the clients, a seeded schedule of faults for `seconds`, healing, final
// reads, then the checkers. A violation is written out as an artifact with the replay command.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_OBJECT_PATH } from '../../src/offload/addon.ts'
import { sleep } from '../cluster/fixtures/helpers.ts'
import { writeArtifact, type ScheduleEntry } from './artifact.ts'
import { checkAppendHistory, type AppendAnomaly } from './checker/append-check.ts'
import { checkRegisterHistory, type KeyResult } from './checker/register-check.ts'
import { onCleanup } from './cleanup.ts'
import { JCluster, srcRoot } from './cluster.ts'
import { ControlServer } from './control.ts'
import { History } from './history.ts'
import { healAll, inject, scaleUnavailable, unavailable, type NemesisKind } from './nemesis.ts'
import { NetnsLab, netnsUnavailable, sweepStale } from './netns.ts'
import { Rng } from './rng.ts'
import { Workload } from './workload.ts'

export interface RunOptions {
  seed: number
  seconds: number
  nemeses: NemesisKind[]
  offload: 'on' | 'off'
  /** How the nodes confirm linearizable reads (--read-mode): a quorum round, or the leader's lease. */
  readMode?: 'safe' | 'lease'
  nodes: number
  /** Time budget of the linearizability search per key. */
  budgetMs: number
  log: (line: string) => void
}

export interface RunResult {
  seed: number
  ops: number
  indeterminate: number
  /** Per-key histories checked (register keys + append keys). */
  histories: number
  unknown: number
  violations: number
  checkerMs: number
  faults: number
  skipped: string[]
  replay: string
  artifact?: string
  /** Set when the run could not be carried out (setup failure), which is not a violation. */
  error?: string
  /** Set when the cluster did not serve reads again after the faults healed (liveness). */
  liveness?: string
}

/** Null when the nodes' own sources (JEPSEN_SRC, or this tree) declare `--flag`; else why not. */
function nodeLacksFlag(flag: string, what: string): string | null {
  const opts = readFileSync(join(srcRoot, 'src', 'node', 'options.ts'), 'utf8')
  return new RegExp(`\\b${flag}['"]?\\s*:\\s*\\{\\s*type:`).test(opts) ? null : `${what} (no --${flag} in src/node/options.ts)`
}

/** Whether the node takes an --offload flag (the kernel fast path wired into the run loop). */
export function offloadUnavailable(): string | null {
  return nodeLacksFlag('offload', 'not wired into the node')
}

/** Whether the node takes --read-mode (lease reads selectable on the command line). */
export function leaseUnavailable(): string | null {
  return nodeLacksFlag('read-mode', 'lease reads not selectable')
}

export function replayCommand(o: RunOptions): string {
  const lease = o.readMode === 'lease' ? ' --read-mode lease' : ''
  return `npm run jepsen -- --runs 1 --seconds ${o.seconds} --nemesis ${o.nemeses.join(',')} --offload ${o.offload}${lease} --nodes ${o.nodes} --seed ${o.seed}`
}

export async function runOnce(o: RunOptions): Promise<RunResult> {
  const rng = new Rng(o.seed)
  const nemRng = rng.fork(1)
  const cliRng = rng.fork(2)
  const tag = (o.seed >>> 0).toString(36).slice(-4).padStart(4, '0')
  const replay = replayCommand(o)
  const result: RunResult = { seed: o.seed, ops: 0, indeterminate: 0, histories: 0, unknown: 0, violations: 0, checkerMs: 0, faults: 0, skipped: [], replay }
  // Namespaces for link faults, and for the fast path: each node then has an eth0 of its own
  // (on loopback the nodes would share lo, where only one XDP program can be attached).
  const netnsWhy = o.nemeses.some((n) => n === 'partition' || n === 'netem') || o.offload === 'on' ? netnsUnavailable() : 'not needed'
  let lab: NetnsLab | null = null
  // Room for the scale nemesis to grow the cluster by two.
  const maxNodes = o.nemeses.includes('scale') ? o.nodes + 2 : o.nodes
  const extra = ['--request-timeout-ms', '1000', '--cluster-secret', `jepsen-${o.seed}`]
  if (o.offload === 'on') {
    const why = offloadUnavailable()
    if (why) result.skipped.push(`offload on: ${why}; ran with offload off`)
    else extra.push('--offload', 'auto')
  }
  if (o.readMode === 'lease') {
    // A lease read is answered without a round to the followers: what pauses, partitions and
    // clock jumps attack. A harness that cannot ask for it must not report safe-mode runs as lease runs.
    const why = leaseUnavailable()
    if (why) throw new Error(`--read-mode lease: ${why}`)
    extra.push('--read-mode', 'lease')
  }
  if (netnsWhy === null) {
    sweepStale()
    // With the fast path (`auto` picks native XDP on veths): the bridge side needs a pass-all
    // XDP program, or the kernel's answers never leave the node's veth (see NetnsLab).
    lab = new NetnsLab(Array.from({ length: maxNodes }, (_, i) => i + 1), tag, extra.includes('--offload') ? DEFAULT_OBJECT_PATH : null)
  } else if (netnsWhy !== 'not needed') {
    result.skipped.push(`partition/netem skipped: ${netnsWhy}`)
  }
  const c = await JCluster.create(o.nodes, maxNodes, lab, extra)
  let control: ControlServer | null = null
  const undo = onCleanup(() => {
    c.killAllSync()
    lab?.cleanup()
  })
  const env = { c, lab, rng: nemRng }
  const h = new History()
  const schedule: ScheduleEntry[] = []
  let w: Workload | null = null
  let failed = false
  try {
    lab?.setup()
    if (o.nemeses.includes('scale')) {
      // The nodes' local orchestrator calls this to start and stop members (/scale-cluster).
      control = await ControlServer.start(c, lab ? `${lab.subnet}.254` : '127.0.0.1')
      c.controlUrl = control.url
    }
    for (const id of c.ids) c.spawn(id)
    c.started = true
    // Generous: on a loaded 2-core machine starting three tsx processes alone takes many seconds.
    if (!(await c.waitForLeader(90_000))) throw new Error('no leader within 90 s of starting the cluster')
    if (o.offload === 'on') {
      // Say what the fast path actually did (attached where, or why not): "on" is a request.
      const st = (await c.status(c.ids[0]!)) as unknown as { offload?: unknown } | null
      o.log(`  offload on node ${c.ids[0]}: ${JSON.stringify(st?.offload ?? null).slice(0, 300)}`)
    }
    const scaleWhy = o.nemeses.includes('scale') ? await scaleUnavailable(c) : null
    const kinds = o.nemeses.filter((k) => {
      const why = unavailable(k, lab, { netns: netnsWhy, scale: scaleWhy })
      if (why) result.skipped.push(`${k}: ${why}`)
      return why === null
    })
    w = new Workload(c, h, cliRng, { registerClients: 4, appendClients: 3, opTimeoutMs: 2500, registerKeyOps: 80, appendKeyOps: 150 }, tag)
    w.start()
    const end = Date.now() + o.seconds * 1000
    // Quiet, fault, hold, heal — until the time is up; bounded by the clock, not by the faults.
    while (kinds.length > 0 && Date.now() < end - 1000) {
      await sleep(Math.min(nemRng.int(500, 2000), Math.max(0, end - Date.now())))
      if (Date.now() >= end - 1000) break
      const kind = nemRng.pick(kinds)
      const at = h.now()
      const inj = await inject(kind, env)
      if ('skipped' in inj) {
        schedule.push({ at, kind, what: inj.skipped })
        continue
      }
      result.faults++
      const entry: ScheduleEntry = { at, kind, what: inj.fault.desc }
      schedule.push(entry)
      o.log(`  ${at.toFixed(0).padStart(6)} ms  ${inj.fault.desc}`)
      await sleep(Math.min(nemRng.int(1000, 4000), Math.max(200, end - Date.now())))
      entry.healed = await inj.fault.heal()
      entry.healedAt = h.now()
      o.log(`  ${entry.healedAt.toFixed(0).padStart(6)} ms  ${entry.healed}`)
    }
    if (kinds.length === 0) await sleep(Math.max(0, end - Date.now()))
    await healAll(env)
    schedule.push({ at: h.now(), kind: 'heal', what: 'heal all' })
    // Traffic keeps going while the cluster recovers; then the clients stop and read everything.
    const recovered = await c.waitForLeader(20_000)
    if (!recovered) o.log('  cluster did not settle on one leader within 20 s of healing')
    await sleep(1000)
    await w.stop()
    const unread = await w.finalReads(Date.now() + 20_000)
    if (unread > 0) {
      // Not a safety violation, but a liveness failure worth its own artifact: faults healed,
      // 20 s later still no reads.
      const lines = [`${unread} keys could not be read within 20 s after every fault healed (leader ${recovered ? 'settled' : 'never settled'}); node statuses:`]
      for (const id of c.alive()) {
        const s = await c.status(id)
        lines.push(`node ${id}: ${s ? JSON.stringify({ role: s.role, term: s.term, leader: s.leader, commit: s.commit, applied: s.applied, last: s.lastIndex, voters: s.voters, offload: (s as unknown as { offload?: unknown }).offload }) : 'no /status answer'}`)
      }
      for (const l of lines) o.log(`  ${l}`)
      result.liveness = lines.join('\n')
    }
  } catch (e) {
    result.error = (e as Error).message
    failed = true
    for (const id of [...c.logs.keys()].filter((i) => c.logs.get(i)!.length > 0)) o.log(`  node ${id} log tail:\n    ${c.tail(id, 8).join('\n    ')}`)
  } finally {
    await w?.stop()
    await control?.close()
    h.closePending()
    await c.destroy(failed)
    lab?.cleanup()
    undo()
  }
  const counts = h.counts()
  result.ops = counts.total
  result.indeterminate = counts.info
  const reg = checkRegisterHistory(h.ops, o.budgetMs)
  const app = checkAppendHistory(h.ops)
  result.histories = reg.keys.length + app.keys
  result.unknown = reg.unknown
  result.checkerMs = reg.ms + app.ms
  const badKeys: KeyResult[] = reg.keys.filter((k) => k.verdict === 'invalid')
  const anomalies: AppendAnomaly[] = app.anomalies
  result.violations = badKeys.length + anomalies.length
  if (result.violations > 0 || result.liveness) {
    const ids = new Set<number>([...badKeys.flatMap((k) => k.window ?? []), ...anomalies.flatMap((a) => a.ops)])
    const logs: Record<string, string[]> = {}
    for (const id of c.logs.keys()) logs[String(id)] = c.tail(id, 200)
    result.artifact = writeArtifact({
      seed: o.seed,
      replay,
      violations: [
        ...badKeys.map((k) => ({ kind: 'not-linearizable', key: k.key, ops: k.ops, window: k.window })),
        ...anomalies,
        ...(result.liveness ? [{ kind: 'liveness', detail: result.liveness }] : []),
      ],
      window: h.ops.filter((op) => ids.has(op.id)),
      schedule,
      history: h.ops,
      logs,
    })
  }
  return result
}
