// Clients and operators: writes (single and batched), linearizable reads, membership changes,
// leadership transfers and forced campaigns, all aimed mostly at whoever currently leads.
import { ConfChangeType, Role, type NodeId } from '../../src/raft/types.ts'
import type { Cluster } from './cluster.ts'
import type { SimNode } from './node.ts'
import type { Rng } from './rng.ts'
import type { Sim } from './sim.ts'
import { encodeWrite, type WriteCommand } from './statemachine.ts'

export interface WorkloadOptions {
  /** Mean virtual time between client actions. */
  clientGap: number
  /** Relative weights of client actions during the fault phase. */
  mix: { write: number; batch: number; read: number; conf: number; transfer: number; campaign: number }
  /** Largest number of voters (the design caps clusters at 7). */
  maxVoters: number
  maxLearners: number
}

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']

export class Workload {
  private nextWrite = 1
  private nextCtx = 1
  /** Write id → index at which it was first applied (anywhere). */
  readonly appliedAt = new Map<number, number>()
  /** Writes made after healing that must all commit (the liveness check). */
  readonly mustCommit: number[] = []
  private readonly lastTry = new Map<number, number>()
  private active = true
  stats = { proposed: 0, refused: 0, reads: 0, confChanges: 0, transfers: 0 }

  constructor(
    private readonly sim: Sim,
    private readonly rng: Rng,
    private readonly cluster: Cluster,
    private readonly opts: WorkloadOptions,
  ) {
    cluster.hooks.onWrite = (w, index) => this.onWrite(w, index)
  }

  start(): void {
    this.schedule()
  }

  /** Ends the fault-phase workload (the liveness phase drives its own writes). */
  stop(): void {
    this.active = false
  }

  private schedule(): void {
    this.sim.after(this.rng.next() * 2 * this.opts.clientGap, () => {
      if (!this.active) return
      this.step()
      this.schedule()
    })
  }

  private onWrite(w: WriteCommand, index: number): void {
    if (!this.appliedAt.has(w.id)) this.appliedAt.set(w.id, index)
  }

  /**
   * Mostly the current leader; sometimes any node that believes it leads (a deposed leader that has
   * not heard yet is exactly where stale reads would come from); sometimes any up node, to exercise
   * refusals and forwarding.
   */
  private target(): SimNode | null {
    const up = this.cluster.upNodes()
    if (up.length === 0) return null
    const x = this.rng.next()
    if (x < 0.25) {
      const leaders = up.filter((n) => n.role === Role.Leader)
      if (leaders.length > 0) return this.rng.pick(leaders)
    }
    const lead = this.cluster.leader()
    if (lead !== null && x < 0.85) return lead
    return this.rng.pick(up)
  }

  private step(): void {
    const action = this.rng.weighted(this.opts.mix)
    switch (action) {
      case 'write':
        this.write(1)
        break
      case 'batch':
        this.write(this.rng.range(2, 5))
        break
      case 'read':
        this.read()
        break
      case 'conf':
        this.confChange()
        break
      case 'transfer':
        this.transfer()
        break
      case 'campaign': {
        const up = this.cluster.upNodes()
        if (up.length > 0) this.cluster.campaign(this.rng.pick(up))
        break
      }
    }
  }

  private newWrite(): WriteCommand {
    return { id: this.nextWrite++, key: this.rng.pick(KEYS) }
  }

  private write(count: number): void {
    const n = this.target()
    if (n === null) return
    const ws: WriteCommand[] = []
    for (let i = 0; i < count; i++) ws.push(this.newWrite())
    this.propose(n, ws)
  }

  private propose(n: SimNode, ws: WriteCommand[]): boolean {
    const res = this.cluster.propose(n, ws.map(encodeWrite))
    if (this.sim.tracing) {
      const what = ws.map((w) => `w${w.id}:${w.key}`).join(',')
      this.sim.trace(`n${n.id} propose ${what} → ${res === null ? 'busy' : res.ok ? `ok @${res.index}/${res.term}` : `refused (${res.reason})`}`)
    }
    if (res?.ok) {
      this.stats.proposed += ws.length
      return true
    }
    this.stats.refused++
    return false
  }

  private read(): void {
    const n = this.target()
    if (n === null) return
    this.stats.reads++
    this.cluster.readIndex(n, this.nextCtx++)
  }

  /** One membership change at the leader: add a learner, promote one, or remove a member. */
  private confChange(): void {
    const lead = this.cluster.leader()
    if (lead === null || lead.raw === null) return
    const st = lead.raw.status()
    const voters = st.conf.voters
    const learners = st.conf.learners
    const choices: ('add' | 'promote' | 'remove-voter' | 'remove-learner')[] = []
    if (learners.length < this.opts.maxLearners && voters.length + learners.length < this.opts.maxVoters + this.opts.maxLearners) choices.push('add')
    if (learners.length > 0 && voters.length < this.opts.maxVoters) choices.push('promote')
    // Keep at least 3 voters after a removal, so one crash never blocks progress for good.
    if (voters.length > 3) choices.push('remove-voter')
    if (learners.length > 0) choices.push('remove-learner')
    if (choices.length === 0) return
    this.stats.confChanges++
    switch (this.rng.pick(choices)) {
      case 'add': {
        // The server exists (and listens) before the leader starts sending to it.
        const joiner = this.cluster.addJoiner()
        const res = this.cluster.proposeConfChange(lead, { type: ConfChangeType.AddLearner, node: joiner.id })
        // Never added: shut the idle server down so it does not count as a member later.
        if (!res?.ok) this.cluster.retire(joiner, 'never added')
        return
      }
      case 'promote': {
        // Promote the most caught-up learner, as an operator waiting for catch-up would.
        let best: NodeId = learners[0]!
        for (const id of learners) if ((st.progress.get(id)?.match ?? 0) > (st.progress.get(best)?.match ?? 0)) best = id
        this.cluster.proposeConfChange(lead, { type: ConfChangeType.AddNode, node: best })
        return
      }
      case 'remove-voter': {
        // Now and then the leader removes itself.
        const others = voters.filter((id) => id !== lead.id)
        const node = this.rng.chance(0.2) ? lead.id : this.rng.pick(others)
        this.cluster.proposeConfChange(lead, { type: ConfChangeType.RemoveNode, node })
        return
      }
      case 'remove-learner':
        this.cluster.proposeConfChange(lead, { type: ConfChangeType.RemoveNode, node: this.rng.pick(learners) })
        return
    }
  }

  private transfer(): void {
    const lead = this.cluster.leader()
    if (lead === null || lead.raw === null) return
    const others = lead.raw.status().conf.voters.filter((id) => id !== lead.id)
    if (others.length === 0) return
    this.stats.transfers++
    this.cluster.transferLeadership(lead, this.rng.pick(others))
  }

  // ---- liveness phase -----------------------------------------------------------------------------

  /** Creates the writes that must commit after healing. */
  addMustCommit(count: number): void {
    for (let i = 0; i < count; i++) this.mustCommit.push(this.nextWrite++)
  }

  /**
   * A patient client: re-proposes each unapplied must-commit write to the current leader every so
   * often (an entry can be lost to a leader change; re-applying the same write is harmless).
   */
  retryMustCommit(retryAfter: number): void {
    const lead = this.cluster.leader()
    if (lead === null) return
    for (const id of this.mustCommit) {
      if (this.appliedAt.has(id)) continue
      const last = this.lastTry.get(id)
      if (last !== undefined && this.sim.now - last < retryAfter) continue
      if (this.propose(lead, [{ id, key: KEYS[id % KEYS.length]! }])) this.lastTry.set(id, this.sim.now)
    }
  }

  /** The highest index among the must-commit writes, or null while some are not applied yet. */
  mustCommitIndex(): number | null {
    let max = 0
    for (const id of this.mustCommit) {
      const at = this.appliedAt.get(id)
      if (at === undefined) return null
      if (at > max) max = at
    }
    return max
  }
}
