// One seed, start to finish: build the scenario, run the fault phase with clients and the nemesis,
// then heal everything and require the cluster to converge (liveness). Returns the first violation
// (the run stops there) and a digest of the run for the determinism check.
import { Role } from '../../src/raft/types.ts'
import { Checker, type Violation } from './checker.ts'
import { Cluster } from './cluster.ts'
import { mix } from './hash.ts'
import { Nemesis } from './nemesis.ts'
import { Rng } from './rng.ts'
import { DEFAULT_FAULT_TICKS, scenarioFor, TICK, type Profile, type ScenarioOverrides } from './scenario.ts'
import { Sim } from './sim.ts'
import { Workload } from './workload.ts'

export interface RunOptions extends ScenarioOverrides {
  seed: number
  /** Receives one line per event when given (the --trace output). */
  trace?: (line: string) => void
  /** Check convergence after healing (default true); off to hunt safety bugs past a known liveness bug. */
  liveness?: boolean
}

export interface RunResult {
  seed: number
  size: number
  profile: Profile
  violation: Violation | null
  digest: number
  events: number
  virtualTime: number
  stats: Record<string, number>
}

/** The one command that reproduces a seed, with everything that shaped it. */
export function replayCommand(seed: number, size?: number, ticks?: number, liveness = true): string {
  let cmd = `npm run sim -- --seeds 1 --start ${seed}`
  if (size !== undefined) cmd += ` --size ${size}`
  if (ticks !== undefined && ticks !== DEFAULT_FAULT_TICKS) cmd += ` --ticks ${ticks}`
  if (!liveness) cmd += ' --no-liveness'
  return `${cmd} --trace`
}

/** Safety valve: a run this long means something loops (counted as a liveness failure). */
const MAX_EVENTS = 2_000_000

export function runSeed(opts: RunOptions): RunResult {
  const sc = scenarioFor(opts.seed, opts)
  const sim = new Sim(opts.trace ?? null)
  const checker = new Checker()
  checker.clock = () => sim.now
  checker.onViolation = (v) => sim.trace(`!!! VIOLATION ${v.kind}: ${v.detail}`)
  const rng = new Rng(opts.seed)
  const cluster = new Cluster(sim, rng.fork(), checker, sc.node)
  cluster.net.faults = sc.nemesis.calm
  const workload = new Workload(sim, rng.fork(), cluster, sc.workload)
  const nemesis = new Nemesis(sim, rng.fork(), cluster, sc.nemesis)
  if (sim.tracing) {
    const r = sc.node.raft
    sim.trace(
      `SEED ${opts.seed}: ${sc.size} nodes, profile ${sc.profile}, electionTick ${r.electionTick}, reads ${r.readOnly}, ` +
        `${sc.node.interleave ? 'steps interleave with persists' : 'sequential loop'}, snapshot every ${sc.node.snapshotEvery}, ` +
        `maxSizePerMsg ${r.maxSizePerMsg}, maxInflight ${r.maxInflightMsgs}, lossy drop ${sc.nemesis.lossy.drop.toFixed(3)} dup ${sc.nemesis.lossy.dup.toFixed(3)}`,
    )
  }

  const stop = (): boolean => checker.violation !== null || sim.events > MAX_EVENTS
  try {
    cluster.bootstrap(sc.size)
    workload.start()
    nemesis.start()
    sim.run(sc.faultTime, stop)

    // Heal: full network, everyone (not removed) up, no more faults or membership churn.
    nemesis.stop()
    workload.stop()
    cluster.faultsOn = false
    cluster.net.heal()
    cluster.net.faults = sc.nemesis.calm
    if (sim.tracing) sim.trace('=== HEAL: network healed, all nodes restarting; liveness phase ===')
    for (const n of cluster.nodes.values()) if (!n.up && !n.removed) cluster.restart(n)
    workload.addMustCommit(sc.mustCommit)
    const deadline = sim.now + sc.livenessTime
    let done = false
    let why = ''
    const poll = (): void => {
      workload.retryMustCommit(TICK * 5)
      why = convergence(cluster, workload)
      done = why === ''
      if (!done) sim.after(TICK / 2, poll)
    }
    sim.after(0, poll)
    sim.run(deadline, () => done || stop())
    if (checker.violation === null && !done && opts.liveness !== false) {
      const lead = cluster.leader()
      const progress = lead?.raw
        ? ` [leader n${lead.id} progress: ${[...lead.raw.status().progress].map(([id, p]) => `n${id} ${p.state} match=${p.match} next=${p.next} inflight=${p.inflight}`).join('; ')}]`
        : ''
      checker.fail('liveness', sim.events > MAX_EVENTS ? `more than ${MAX_EVENTS} events` : `not converged ${sc.livenessTime / TICK} ticks after healing: ${why}${progress}`)
    }
  } catch (err) {
    // A harness bug or a core throw outside a guarded call: report it, do not lose the seed.
    const e = err as Error
    checker.fail('exception', e.stack ?? String(e))
  }

  let digest = mix(sim.digest, sim.events)
  for (const n of cluster.nodes.values()) digest = mix(mix(mix(digest, n.id), n.sm.applied), n.sm.chain)
  return {
    seed: opts.seed,
    size: sc.size,
    profile: sc.profile,
    violation: checker.violation,
    digest,
    events: sim.events,
    virtualTime: sim.now,
    stats: {
      ...cluster.stats,
      ...prefixed('net', cluster.net.stats),
      ...prefixed('wl', workload.stats),
      ...prefixed('nem', nemesis.stats),
      ...checker.stats,
      maxCommitted: checker.maxCommitted,
    },
  }
}

/**
 * '' when converged: exactly one leader among running nodes, every must-commit write applied, and
 * every member of the leader's configuration up, following it and caught up past those writes.
 * Otherwise a short reason (shown if the deadline passes).
 */
function convergence(cluster: Cluster, workload: Workload): string {
  const leaders = cluster.upNodes().filter((n) => n.role === Role.Leader)
  if (leaders.length !== 1) return `${leaders.length} leaders (${leaders.map((n) => `n${n.id}/t${n.term}`).join(' ')})`
  const lead = leaders[0]!
  const target = workload.mustCommitIndex()
  if (target === null) return `leader n${lead.id} t${lead.term}: must-commit writes not all applied (applied ${workload.mustCommit.filter((id) => workload.appliedAt.has(id)).length}/${workload.mustCommit.length})`
  const st = lead.raw!.status()
  for (const id of [...st.conf.voters, ...st.conf.learners]) {
    const n = cluster.nodes.get(id)
    if (n === undefined || !n.up) return `member ${id} of ${st.conf.voters.join(',')} is down`
    if (n.sm.applied < target) return `member n${id} applied ${n.sm.applied} < ${target}`
    if (n.leader !== lead.id) return `member n${id} follows ${n.leader}, not ${lead.id}`
  }
  return ''
}

function prefixed(p: string, o: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(o)) out[`${p}.${k}`] = v
  return out
}
