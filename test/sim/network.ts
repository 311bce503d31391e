// The simulated network: per-message drop, duplication and random delay (which also reorders), plus
// partitions. Partitions are evaluated both when a message is sent and when it would arrive, like a
// link that fails while a packet is in flight. Every delivered message is a fresh deep copy.
import { MsgType, type Message, type NodeId } from '../../src/raft/types.ts'
import { formatMessage } from './format.ts'
import { cloneMessage } from './messages.ts'
import type { Rng } from './rng.ts'
import type { Sim } from './sim.ts'

export interface NetFaults {
  /** Probability a message is lost. */
  drop: number
  /** Probability a message is delivered twice (each copy with its own delay). */
  dup: number
  /** Normal one-way delay range, in time units (a tick is 100). */
  delayMin: number
  delayMax: number
  /** Probability of a much longer delay (a slow path), which reorders aggressively. */
  slow: number
  slowMax: number
}

export const calmNet: NetFaults = { drop: 0, dup: 0, delayMin: 2, delayMax: 20, slow: 0, slowMax: 0 }

export interface NetworkHandlers {
  deliver(m: Message): void
  /** A Snapshot message arrived or was lost: the sender's transport would report that. */
  snapshotFate(m: Message, delivered: boolean): void
}

export class Network {
  faults: NetFaults = calmNet
  /** Partition group per node; nodes in different groups cannot talk. Absent = group 0. */
  private readonly group = new Map<NodeId, number>()
  /** Directed links cut on their own (asymmetric faults), key from * 65536 + to. */
  private readonly cut = new Set<number>()
  stats = { sent: 0, dropped: 0, duplicated: 0 }

  constructor(
    private readonly sim: Sim,
    private readonly rng: Rng,
    private readonly handlers: NetworkHandlers,
  ) {}

  blocked(from: NodeId, to: NodeId): boolean {
    return (this.group.get(from) ?? 0) !== (this.group.get(to) ?? 0) || this.cut.has(from * 65536 + to)
  }

  /** Splits the given nodes off into their own group(s); everyone else stays in group 0. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.group.clear()
    groups.forEach((g, i) => {
      for (const id of g) this.group.set(id, i + 1)
    })
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(from * 65536 + to)
  }

  heal(): void {
    this.group.clear()
    this.cut.clear()
  }

  describe(): string {
    const groups = new Map<number, NodeId[]>()
    for (const [id, g] of this.group) {
      const list = groups.get(g) ?? []
      list.push(id)
      groups.set(g, list)
    }
    const parts = [...groups.values()].map((g) => `{${g.sort((a, b) => a - b).join(',')}}`)
    const cuts = [...this.cut].map((k) => `${Math.floor(k / 65536)}↛${k % 65536}`)
    return [...parts, ...cuts].join(' ') || 'healed'
  }

  send(m: Message): void {
    this.stats.sent++
    const f = this.faults
    if (this.blocked(m.from, m.to)) return this.lose(m, 'partitioned')
    if (f.drop > 0 && this.rng.chance(f.drop)) return this.lose(m, 'dropped')
    const copies = f.dup > 0 && this.rng.chance(f.dup) ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let i = 0; i < copies; i++) {
      // Copy at send time: the sender may reuse or mutate its objects afterwards.
      const copy = cloneMessage(m)
      const delay = f.slow > 0 && this.rng.chance(f.slow) ? this.rng.range(f.delayMax, Math.max(f.delayMax, f.slowMax)) : this.rng.range(f.delayMin, f.delayMax)
      this.sim.after(delay, () => this.arrive(copy))
    }
  }

  private arrive(m: Message): void {
    if (this.blocked(m.from, m.to)) return this.lose(m, 'partitioned in flight')
    if (this.sim.tracing) this.sim.trace(`  recv ${formatMessage(m)}`)
    if (m.type === MsgType.Snapshot) this.handlers.snapshotFate(m, true)
    this.handlers.deliver(m)
  }

  private lose(m: Message, why: string): void {
    this.stats.dropped++
    if (this.sim.tracing) this.sim.trace(`  lost ${formatMessage(m)} (${why})`)
    // A transport learns about a failed snapshot stream only after a while.
    if (m.type === MsgType.Snapshot) this.sim.after(this.faults.delayMax * 2, () => this.handlers.snapshotFate(m, false))
  }
}
