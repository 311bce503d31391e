// The leader's side of /scale-cluster: accepts a target (committed to the log as a cluster entry,
// record.ts), then drives the cluster toward it one step at a time (plan.ts), on every leader in
// turn: whichever node leads runs the same loop from the same committed facts, so an operation
// survives a crash or a leadership transfer of the node that started it.
//
// Re-used ordinals. A StatefulSet that shrinks 3 → 1 and grows back to 3 brings back ordinals 1
// and 2 (ids 2 and 3). Their old data is dangerous: a removed server usually never receives the
// entry that removed it (the leader stops replicating to it once the entry is appended), so its
// disk still says it is a voter of the old configuration. Two such servers coming back together
// form a majority of that old configuration among themselves and could elect a leader of their
// own. So a removed ordinal's data is discarded when it is scaled away (Kubernetes:
// persistentVolumeClaimRetentionPolicy whenScaled: Delete; local: the supervisor deletes its
// directory), and a re-added ordinal always starts empty with --join (no configuration, never a
// candidate) and enters as a learner that the leader fills by snapshot or log before promoting it.
// Scaling down happens only after a barrier entry commits behind the removal, so the data of a
// server is never discarded while a configuration that counts it might still win.
import type { Logger } from 'pino'
import { ConfChangeType, type NodeId } from '../raft/types.ts'
import type { Status } from '../raft/rawnode.ts'
import type { RaftNode } from '../node/raftnode.ts'
import { NotLeaderError, UnknownOutcomeError } from '../node/errors.ts'
import type { Orchestrator } from './orchestrator.ts'
import { describeStep, nextStep, type Step } from './plan.ts'
import { MAX_REPLICAS, MIN_REPLICAS, encodeClusterEntry, type TargetRecord } from './record.ts'
import type { ClusterStateMachine } from './statemachine.ts'

export interface ScalerOptions {
  /** How often the leader re-plans (and followers refresh what they show). */
  passMs: number
  /** A member not heard from for this long is unhealthy. */
  healthWindowMs: number
  /** A voter further than this many entries behind the leader is unhealthy. */
  maxHealthyLag: number
  /** How often the replica count is re-read from the orchestrator when nothing changes. */
  replicasRefreshMs: number
}

export const defaultScalerOptions: ScalerOptions = { passMs: 200, healthWindowMs: 1500, maxHealthyLag: 1000, replicasRefreshMs: 5000 }

export interface ScaleEvent {
  /** ms since the epoch */
  at: number
  text: string
}

/**
 * What status() reports (GET /status `cluster`, GET /cluster/scale, the visualizer's 'status'
 * events). A type, not an interface, so that it stays a plain record for the routes to spread.
 */
export type ScalerStatus = {
  orchestrator: Orchestrator['kind'] | null
  target: number | null
  op: number | null
  requestedAt: number | null
  from: number | null
  replicas: number | null
  voters: NodeId[]
  learners: NodeId[]
  inProgress: boolean | null
  step: string | null
  lastError: string | null
  events: ScaleEvent[]
}

export interface HttpAnswer {
  code: number
  body: Record<string, unknown>
}

export interface MemberInfo {
  id: NodeId
  name: string
  role: 'leader' | 'follower' | 'learner' | 'not-a-member'
  raft: string | null
  http: string | null
  healthy: boolean
  match: number | null
  lag: number | null
}

export interface ScalerDeps {
  node: RaftNode
  sm: ClusterStateMachine
  orchestrator: Orchestrator | null
  log: Logger
  raftAddr: (id: NodeId) => string | null
  httpAddr: (id: NodeId) => string | null
  /** Called with every progress event (the visualizer and the log see them). */
  onEvent?: (e: ScaleEvent) => void
}

const MAX_EVENTS = 100

/** A step without its progress numbers: "waiting for learner 4" is one event, not one per pass. */
function stepKey(s: Step): string {
  switch (s.kind) {
    case 'scale':
      return `scale:${s.replicas}`
    case 'add-learner':
    case 'promote':
    case 'remove':
    case 'wait-catch-up':
      return `${s.kind}:${s.id}`
    case 'transfer':
      return `transfer:${s.to}`
    case 'done':
    case 'wait-transfer-target':
      return s.kind
  }
}

export class Scaler {
  private timer: NodeJS.Timeout | null = null
  private passing = false
  private accepting = false
  private readonly lastSeen = new Map<NodeId, number>()
  private step: Step = { kind: 'done' }
  /** The term in which a pass last ran on this node as leader (0: not leading at the last pass). */
  private leaderPassTerm = 0
  private target: TargetRecord | null = null
  private replicasCache: { n: number; at: number } | null = null
  private lastError: string | null = null
  private labeled: boolean | null = null
  private labelError: string | null = null
  /**
   * The term in which this node, as leader, confirmed it has applied everything committed before
   * its term (a read barrier). Until then its copy of the target may be older than the log's: a
   * new leader must not act on — or answer from — a target it has not applied yet.
   */
  private caughtUpTerm = 0
  readonly events: ScaleEvent[] = []
  private readonly opts: ScalerOptions

  constructor(
    private readonly d: ScalerDeps,
    opts: Partial<ScalerOptions> = {},
  ) {
    this.opts = { ...defaultScalerOptions, ...opts }
  }

  start(): void {
    this.timer = setInterval(() => void this.pass(), this.opts.passMs)
    // A newly committed target is acted on at once, not at the next tick.
    this.d.sm.onTarget = () => void this.pass()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.d.sm.onTarget = null
  }

  private note(text: string): void {
    const e = { at: Date.now(), text }
    this.events.push(e)
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS)
    this.d.log.info({ cluster: text }, 'cluster operation')
    this.d.onEvent?.(e)
  }

  private sampleHealth(st: Status): void {
    const now = Date.now()
    for (const [id, p] of st.progress) if (p.recentActive || id === st.id) this.lastSeen.set(id, now)
  }

  private healthy(st: Status, id: NodeId): boolean {
    if (id === st.id) return true
    const seen = this.lastSeen.get(id)
    const p = st.progress.get(id)
    // Replicating, not probing or receiving a snapshot: a member just added (the core counts it
    // active until proven otherwise) or just restarted has not shown it can keep up yet.
    return (
      seen !== undefined &&
      Date.now() - seen <= this.opts.healthWindowMs &&
      p !== undefined &&
      p.state === 'replicate' &&
      st.lastIndex - p.match <= this.opts.maxHealthyLag
    )
  }

  private async replicas(fresh = false): Promise<number> {
    const o = this.d.orchestrator!
    const c = this.replicasCache
    if (!fresh && c && Date.now() - c.at < this.opts.replicasRefreshMs) return c.n
    const n = await o.replicas()
    this.replicasCache = { n, at: Date.now() }
    return n
  }

  private plan(st: Status, target: number, replicas: number): Step {
    const progress = new Map<NodeId, { match: number; healthy: boolean; replicating: boolean }>()
    for (const [id, p] of st.progress) progress.set(id, { match: p.match, healthy: this.healthy(st, id), replicating: p.state === 'replicate' })
    return nextStep({ self: st.id, voters: st.conf.voters, learners: st.conf.learners, target, replicas, lastIndex: st.lastIndex, progress })
  }

  /** One round: refresh, and on the leader take the next step toward the target. */
  async pass(): Promise<void> {
    if (this.passing) return
    this.passing = true
    try {
      const st = this.d.node.status()
      this.sampleHealth(st)
      this.target = await this.d.sm.target()
      const leader = st.role === 'leader'
      if (leader && this.leaderPassTerm !== st.term) {
        // A new leadership (even of a node that led before) reads the replica count afresh and
        // reconciles before anything else.
        this.replicasCache = null
        this.lastSeen.clear()
        this.sampleHealth(st)
      }
      this.leaderPassTerm = leader ? st.term : 0
      await this.label(st)
      if (!leader || !this.d.orchestrator) {
        this.step = { kind: 'done' }
        return
      }
      if (this.caughtUpTerm !== st.term) {
        await this.d.node.linearizableRead()
        this.caughtUpTerm = st.term
        this.target = await this.d.sm.target()
      }
      const replicas = await this.replicas()
      if (!this.target) {
        await this.adopt(st, replicas)
        return
      }
      const step = this.plan(st, this.target.target, replicas)
      const changed = stepKey(step) !== stepKey(this.step)
      if (changed && step.kind === 'done' && this.step.kind !== 'done') this.note(`reached ${this.target.target} members`)
      this.step = step
      if (changed && (step.kind === 'wait-catch-up' || step.kind === 'wait-transfer-target')) this.note(describeStep(step))
      await this.execute(step)
      this.lastError = null
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      if (msg !== this.lastError) this.d.log.warn({ err: e, step: describeStep(this.step) }, 'cluster step failed; will retry')
      this.lastError = msg
    } finally {
      this.passing = false
    }
  }

  /**
   * No target was ever committed (a new cluster): take the orchestrator's replica count — or the
   * current number of voters, if larger, so a cluster is never shrunk without being asked.
   */
  private async adopt(st: Status, replicas: number): Promise<void> {
    const target = Math.min(MAX_REPLICAS, Math.max(MIN_REPLICAS, replicas, st.conf.voters.length))
    const record: TargetRecord = { target, op: 0, by: st.id, at: Date.now(), from: st.conf.voters.length }
    await this.d.node.propose(encodeClusterEntry({ kind: 'target', record }))
    this.note(`adopted target ${target} (replicas ${replicas}, voters ${st.conf.voters.length})`)
  }

  private async execute(step: Step): Promise<void> {
    const node = this.d.node
    switch (step.kind) {
      case 'done':
      case 'wait-catch-up':
      case 'wait-transfer-target':
        return
      case 'scale': {
        const current = await this.replicas()
        if (step.replicas < current) {
          // Discarding a removed member's data is safe only once its removal is committed: a
          // barrier entry applied here proves every entry before it is.
          await node.propose(encodeClusterEntry({ kind: 'barrier', note: `before scaling to ${step.replicas}` }))
        }
        await this.d.orchestrator!.scale(step.replicas)
        this.replicasCache = { n: step.replicas, at: Date.now() }
        this.note(describeStep(step))
        return
      }
      case 'add-learner':
        await node.proposeConfChange({ type: ConfChangeType.AddLearner, node: step.id })
        this.note(describeStep(step))
        return
      case 'promote':
        await node.proposeConfChange({ type: ConfChangeType.AddNode, node: step.id })
        this.note(describeStep(step))
        return
      case 'remove':
        await node.proposeConfChange({ type: ConfChangeType.RemoveNode, node: step.id })
        this.note(describeStep(step))
        return
      case 'transfer': {
        this.note(describeStep(step))
        if (!node.transferLeadership(step.to)) throw new Error(`leadership transfer to ${step.to} refused`)
        const deadline = Date.now() + 2000
        while (Date.now() < deadline && node.status().role === 'leader') await new Promise((r) => setTimeout(r, 20))
        if (node.status().role === 'leader') throw new Error(`leadership transfer to ${step.to} did not complete`)
        return
      }
    }
  }

  /** The leader Service selects a label the leader sets on its own pod (and clears elsewhere). */
  private async label(st: Status): Promise<void> {
    const o = this.d.orchestrator
    if (!o) return
    const leader = st.role === 'leader'
    if (this.labeled === leader) return
    try {
      await o.labelLeader(st.id, leader)
    } catch (e) {
      // Only the leader Service depends on the label: scaling must not wait for it. Retried on
      // the next pass.
      const msg = e instanceof Error ? e.message : String(e)
      if (msg !== this.labelError) this.d.log.warn({ err: e }, 'cannot set the leader label')
      this.labelError = msg
      return
    }
    this.labelError = null
    if (leader) {
      // A crashed leader could not clear its own label: the new one does it for everyone.
      for (const id of [...st.conf.voters, ...st.conf.learners]) if (id !== st.id) await o.labelLeader(id, false).catch(() => undefined)
    }
    this.labeled = leader
  }

  /**
   * Accepts `replicas` as the new target (leader only; the route forwards from followers). With
   * `force`, it replaces the target of an operation still in progress — the way out when a new
   * member never comes up (its learner beyond the new target is then removed); every step stays
   * one member at a time.
   */
  async requestScale(replicas: number, force = false): Promise<HttpAnswer> {
    const o = this.d.orchestrator
    if (!o) return { code: 501, body: { error: 'no orchestrator: run the nodes under `raftkv local` or on Kubernetes to scale' } }
    if (!Number.isInteger(replicas) || replicas < MIN_REPLICAS || replicas > MAX_REPLICAS) {
      return { code: 400, body: { error: `replicas must be an integer from ${MIN_REPLICAS} to ${MAX_REPLICAS}` } }
    }
    const st = this.d.node.status()
    if (st.role !== 'leader') return { code: 503, body: { error: 'not the leader', leader: st.leader } }
    if (this.accepting) return { code: 409, body: { error: 'another scale request is being accepted; retry when it is done' } }
    if (this.caughtUpTerm !== st.term) return { code: 503, body: { error: 'the leader is still catching up with the log; retry', leader: st.id } }
    this.accepting = true
    try {
      const rec = await this.d.sm.target()
      const current = await this.replicas(true)
      const fresh = this.d.node.status()
      this.sampleHealth(fresh)
      if (rec) {
        const step = this.plan(fresh, rec.target, current)
        if (step.kind !== 'done' && !force) {
          return { code: 409, body: { error: `a scale operation to ${rec.target} is in progress: ${describeStep(step)}`, target: rec.target, step: describeStep(step) } }
        }
      }
      const sick = fresh.conf.voters.filter((id) => !this.healthy(fresh, id))
      if (sick.length > 0) return { code: 503, body: { error: `member(s) ${sick.join(', ')} not healthy; refusing to change the cluster size`, unhealthy: sick } }
      const voters = fresh.conf.voters.length
      if (rec && rec.target === replicas && voters === replicas && fresh.conf.learners.length === 0) {
        return { code: 200, body: { target: replicas, op: rec.op, unchanged: true } }
      }
      const record: TargetRecord = { target: replicas, op: (rec?.op ?? 0) + 1, by: st.id, at: Date.now(), from: voters }
      try {
        await this.d.node.propose(encodeClusterEntry({ kind: 'target', record }))
      } catch (e) {
        if (e instanceof NotLeaderError) return { code: 503, body: { error: 'leadership changed; retry', leader: this.d.node.status().leader } }
        if (e instanceof UnknownOutcomeError) return { code: 504, body: { error: e.message, outcome: 'unknown' } }
        throw e
      }
      this.note(`accepted scale ${voters} → ${replicas} (op ${record.op})`)
      void this.pass()
      return { code: 202, body: { accepted: true, ...record } }
    } finally {
      this.accepting = false
    }
  }

  /** Progress for /status and GET /cluster/scale. */
  status(): ScalerStatus {
    const st = this.d.node.status()
    // A leader plans only once a pass has run in its current term: until then its replica count
    // and target may be an earlier leadership's (a node that led before), and a plan from them
    // could show an operation in progress that has long finished.
    const leader = st.role === 'leader' && this.leaderPassTerm === st.term
    // Planned afresh from the configuration reported beside it (the loop's last step may be a
    // pass old), so the two always agree.
    const step = leader && this.target && this.replicasCache ? this.plan(st, this.target.target, this.replicasCache.n) : this.step
    return {
      orchestrator: this.d.orchestrator?.kind ?? null,
      target: this.target?.target ?? null,
      op: this.target?.op ?? null,
      requestedAt: this.target?.at ?? null,
      from: this.target?.from ?? null,
      replicas: this.replicasCache?.n ?? null,
      voters: st.conf.voters,
      learners: st.conf.learners,
      // Only the leader plans; elsewhere (and on a leader before its first pass) "in progress" is unknown here.
      inProgress: leader ? step.kind !== 'done' : null,
      step: leader ? describeStep(step) : null,
      lastError: this.lastError,
      events: this.events.slice(-20),
    }
  }

  /** Members and the ordinals the orchestrator runs, with roles, addresses and health (leader view). */
  members(): MemberInfo[] {
    const st = this.d.node.status()
    const ids = new Set<NodeId>([...st.conf.voters, ...st.conf.learners])
    const n = this.replicasCache?.n ?? 0
    for (let id = 1; id <= n; id++) ids.add(id)
    return [...ids]
      .sort((a, b) => a - b)
      .map((id) => {
        const p = st.progress.get(id)
        const role: MemberInfo['role'] = id === st.leader ? 'leader' : st.conf.voters.includes(id) ? 'follower' : st.conf.learners.includes(id) ? 'learner' : 'not-a-member'
        return {
          id,
          name: this.d.orchestrator?.podName(id) ?? `node-${id}`,
          role,
          raft: this.d.raftAddr(id),
          http: this.d.httpAddr(id),
          healthy: role !== 'not-a-member' && this.healthy(st, id),
          match: p ? p.match : null,
          lag: p ? st.lastIndex - p.match : null,
        }
      })
  }
}
