// A small deterministic in-memory cluster for the core's unit tests: every Ready is persisted,
// applied and its messages delivered synchronously, unless a filter drops them.
import { bootstrapState, defaultConfig, type RaftConfig, type RestoredState } from '../../src/raft/config.ts'
import { RawNode } from '../../src/raft/rawnode.ts'
import {
  EntryType,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type SnapshotMeta,
} from '../../src/raft/types.ts'

export function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Disk {
  hard: HardState
  snap: SnapshotMeta
  snapData: Uint8Array
  entries: Entry[]
}

export interface TestNode {
  id: NodeId
  raw: RawNode
  disk: Disk
  /** Commands applied, in order (no-ops and conf changes excluded). */
  applied: string[]
  appliedIndex: number
  reads: { ctx: number; index: number }[]
  up: boolean
}

const enc = new TextEncoder()
const dec = new TextDecoder()
export const cmd = (s: string): Uint8Array => enc.encode(s)

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>()
  /** Return true to drop a message. */
  drop: (m: Message) => boolean = () => false
  /** Every message delivered, for assertions. */
  readonly delivered: Message[] = []
  /** Called with every Ready before the harness persists it, for assertions. */
  onReady: (n: TestNode, rd: Ready) => void = () => {}
  private readonly cfgOverrides: Partial<RaftConfig>

  constructor(ids: NodeId[], cfg: Partial<RaftConfig> = {}, seed = 1) {
    this.cfgOverrides = { ...cfg }
    let i = 0
    for (const id of ids) this.add(id, bootstrapState(ids), seed + i++)
  }

  config(id: NodeId, seed: number): RaftConfig {
    return { ...defaultConfig, electionTick: 10, heartbeatTick: 1, ...this.cfgOverrides, id, random: seeded(seed) }
  }

  add(id: NodeId, state: RestoredState, seed = id): TestNode {
    const disk: Disk = {
      hard: { ...state.hardState },
      snap: state.snapshot,
      snapData: state.snapshotData ?? new Uint8Array(0),
      entries: [...state.entries],
    }
    const n: TestNode = {
      id,
      raw: new RawNode(this.config(id, seed), state),
      disk,
      applied: [],
      appliedIndex: state.applied,
      reads: [],
      up: true,
    }
    this.nodes.set(id, n)
    return n
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id)
    if (!n) throw new Error(`no node ${id}`)
    return n
  }

  /** Crash and restart a node from what it persisted. */
  restart(id: NodeId, seed = id * 7): TestNode {
    const old = this.node(id)
    const d = old.disk
    const state: RestoredState = {
      hardState: { ...d.hard },
      snapshot: d.snap,
      snapshotData: d.snapData,
      entries: [...d.entries],
      applied: d.snap.index,
    }
    const n = this.add(id, state, seed)
    // The state machine is rebuilt from the snapshot and replay; keep what the snapshot holds.
    n.applied = d.snapData.length > 0 ? (JSON.parse(dec.decode(d.snapData)) as string[]) : []
    return n
  }

  leader(): TestNode | undefined {
    let found: TestNode | undefined
    for (const n of this.nodes.values()) {
      if (n.up && n.raw.status().role === 'leader') {
        if (!found || n.raw.status().term > found.raw.status().term) found = n
      }
    }
    return found
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).raw.tick()
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (n.up) n.raw.tick()
      this.stabilize()
    }
  }

  /** Processes Readies and delivers messages until nothing moves. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const msgs: Message[] = []
      let handled = 0
      for (const n of this.nodes.values()) {
        if (!n.up || !n.raw.hasReady()) continue
        msgs.push(...this.handleReady(n))
        handled++
      }
      // A Ready without messages (a persist, an apply) may lead to more work: keep going until idle.
      if (msgs.length === 0 && handled === 0) return
      for (const m of msgs) this.deliver(m)
    }
    throw new Error('cluster did not stabilize')
  }

  handleReady(n: TestNode): Message[] {
    const rd = n.raw.ready()
    this.onReady(n, rd)
    const d = n.disk
    if (rd.snapshot) {
      // A snapshot from the leader replaces the whole log (the core discarded every entry it held).
      d.snap = rd.snapshot.meta
      d.snapData = rd.snapshot.data
      d.entries = []
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index
      d.entries = d.entries.filter((e) => e.index < first).concat(rd.entries)
    }
    if (rd.hardState) d.hard = { ...rd.hardState }
    if (rd.snapshot) {
      n.applied = rd.snapshot.data.length > 0 ? (JSON.parse(dec.decode(rd.snapshot.data)) as string[]) : []
      n.appliedIndex = rd.snapshot.meta.index
    }
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.Normal && e.data.length > 0) n.applied.push(dec.decode(e.data))
      n.appliedIndex = e.index
    }
    n.reads.push(...rd.readStates)
    n.raw.advance(rd)
    return [...rd.messages, ...rd.persistedMessages]
  }

  deliver(m: Message): void {
    const to = this.nodes.get(m.to)
    if (!to || !to.up || this.drop(m)) return
    this.delivered.push(m)
    to.raw.step(structuredClone(m))
  }

  /** Elect `id` by letting it time out first. */
  elect(id: NodeId): void {
    this.node(id).raw.campaign()
    this.stabilize()
  }

  propose(id: NodeId, ...cmds: string[]): ReturnType<RawNode['propose']> {
    const r = this.node(id).raw.propose(cmds.map(cmd))
    this.stabilize()
    return r
  }

  /** Take an application snapshot at the applied index of `id`. */
  snapshot(id: NodeId): void {
    const n = this.node(id)
    const snap = n.raw.createSnapshot(n.appliedIndex, enc.encode(JSON.stringify(n.applied)))
    if (!snap) return
    n.disk.snap = snap.meta
    n.disk.snapData = snap.data
    n.disk.entries = n.disk.entries.filter((e) => e.index > snap.meta.index)
  }
}
