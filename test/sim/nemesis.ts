// The fault injector: at random intervals it partitions the network (random halves, the leader
// alone, the leader with a minority, one node, one-way links), heals it, crashes and restarts
// nodes, and switches the network between calm and lossy (drop / duplicate / long delays).
import type { NodeId } from '../../src/raft/types.ts'
import type { Cluster } from './cluster.ts'
import type { NetFaults } from './network.ts'
import type { SimNode } from './node.ts'
import type { Rng } from './rng.ts'
import type { Sim } from './sim.ts'

export interface NemesisOptions {
  /** Mean virtual time between fault actions. */
  gap: number
  mix: { partition: number; cutLinks: number; heal: number; crash: number; restart: number; lossy: number; calm: number; pause: number }
  /** A pause lasts up to this long (long enough for the others to elect a new leader). */
  pauseMax: number
  /** A crashed node comes back after a delay in this range (unless a later action restarts it first). */
  restartMin: number
  restartMax: number
  /** The network when calm, and when lossy. */
  calm: NetFaults
  lossy: NetFaults
}

export class Nemesis {
  private active = true
  stats = { partitions: 0, heals: 0, crashes: 0, lossy: 0 }

  constructor(
    private readonly sim: Sim,
    private readonly rng: Rng,
    private readonly cluster: Cluster,
    private readonly opts: NemesisOptions,
  ) {}

  start(): void {
    this.schedule()
  }

  stop(): void {
    this.active = false
  }

  private schedule(): void {
    this.sim.after(this.opts.gap * (0.5 + this.rng.next()), () => {
      if (!this.active) return
      this.act()
      this.schedule()
    })
  }

  private members(): NodeId[] {
    const ids: NodeId[] = []
    for (const n of this.cluster.nodes.values()) if (!n.removed) ids.push(n.id)
    return ids
  }

  private act(): void {
    const net = this.cluster.net
    const action = this.rng.weighted(this.opts.mix)
    switch (action) {
      case 'partition': {
        const groups = this.partition()
        if (groups === null) return
        net.partition(groups)
        this.stats.partitions++
        break
      }
      case 'cutLinks': {
        // Asymmetric faults: a few one-way links, often around the leader (it can send, not hear).
        const ids = this.members()
        if (ids.length < 2) return
        const lead = this.cluster.leader()
        const cuts = this.rng.range(1, 3)
        for (let i = 0; i < cuts; i++) {
          const a = lead !== null && this.rng.chance(0.5) ? lead.id : this.rng.pick(ids)
          const b = this.rng.pick(ids.filter((id) => id !== a))
          if (this.rng.chance(0.5)) net.cutLink(a, b)
          else net.cutLink(b, a)
        }
        this.stats.partitions++
        break
      }
      case 'heal':
        net.heal()
        this.stats.heals++
        break
      case 'crash': {
        const up = this.cluster.upNodes()
        if (up.length === 0) return
        const lead = this.cluster.leader()
        const victim = lead !== null && this.rng.chance(0.35) ? lead : this.rng.pick(up)
        this.cluster.crash(victim)
        this.stats.crashes++
        const inc = victim.incarnation
        this.sim.after(this.rng.range(this.opts.restartMin, this.opts.restartMax), () => {
          // Only if nothing else restarted (and crashed) it meanwhile.
          if (victim.incarnation === inc) this.cluster.restart(victim)
        })
        break
      }
      case 'restart': {
        const down: SimNode[] = []
        for (const n of this.cluster.nodes.values()) if (!n.up && !n.removed) down.push(n)
        if (down.length === 0) return
        this.cluster.restart(this.rng.pick(down))
        break
      }
      case 'pause': {
        const up = this.cluster.upNodes()
        if (up.length === 0) return
        const lead = this.cluster.leader()
        const victim = lead !== null && this.rng.chance(0.6) ? lead : this.rng.pick(up)
        this.cluster.pause(victim, this.rng.range(this.opts.pauseMax / 4, this.opts.pauseMax))
        break
      }
      case 'lossy':
        net.faults = this.opts.lossy
        this.stats.lossy++
        break
      case 'calm':
        net.faults = this.opts.calm
        break
    }
    if (this.sim.tracing) this.sim.trace(`NEMESIS ${action}: net ${net.describe()} drop=${net.faults.drop} dup=${net.faults.dup}`)
  }

  /** Groups split off from the rest (group 0), or null if there is nothing to split. */
  private partition(): NodeId[][] | null {
    const ids = this.members()
    if (ids.length < 2) return null
    const lead = this.cluster.leader()
    const kind = this.rng.pick(['halves', 'isolate-leader', 'leader-minority', 'isolate-one', 'three-way'] as const)
    switch (kind) {
      case 'halves': {
        const shuffled = this.rng.shuffle([...ids])
        return [shuffled.slice(0, this.rng.range(1, ids.length - 1))]
      }
      case 'isolate-leader':
        return lead === null ? [[this.rng.pick(ids)]] : [[lead.id]]
      case 'leader-minority': {
        // The old leader keeps a minority (it must step down via CheckQuorum); the majority elects anew.
        const others = this.rng.shuffle(ids.filter((id) => id !== lead?.id))
        const side = lead === null ? [] : [lead.id]
        const minority = Math.floor((ids.length - 1) / 2)
        while (side.length < minority && others.length > 0) side.push(others.pop()!)
        return side.length === 0 ? [[this.rng.pick(ids)]] : [side]
      }
      case 'isolate-one':
        return [[this.rng.pick(ids)]]
      case 'three-way': {
        const shuffled = this.rng.shuffle([...ids])
        const a = this.rng.range(1, Math.max(1, ids.length - 2))
        const b = this.rng.range(a + 1, Math.max(a + 1, ids.length - 1))
        return [shuffled.slice(0, a), shuffled.slice(a, b)]
      }
    }
  }
}
