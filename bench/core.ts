// bench/core: a 3-node in-memory cluster with no faults. Proposals go in in batches; every Ready
// is "persisted" instantly and its messages delivered by reference. Reports committed entries/s
// and Raft messages stepped/s for the core alone.
//
//   npm run bench:core -- [--seconds 5] [--batch 64] [--size 128] [--nodes 3]
import { bootstrapState, defaultConfig } from '../src/raft/config.ts'
import { RawNode } from '../src/raft/rawnode.ts'
import type { Message, NodeId } from '../src/raft/types.ts'

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const seconds = arg('seconds', 5)
const batch = arg('batch', 64)
const size = arg('size', 128)
const nodesN = arg('nodes', 3)

function rng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s / 0x80000000
  }
}

const ids: NodeId[] = Array.from({ length: nodesN }, (_, i) => i + 1)
const nodes = new Map<NodeId, RawNode>()
for (const id of ids) {
  nodes.set(id, new RawNode({ ...defaultConfig, id, random: rng(id), maxInflightMsgs: 4096 }, bootstrapState(ids)))
}
let stepped = 0
let applied = 0

function pump(): number {
  let moved = 0
  const out: Message[] = []
  for (const [id, n] of nodes) {
    if (!n.hasReady()) continue
    const rd = n.ready()
    for (const m of rd.messages) out.push(m)
    for (const m of rd.persistedMessages) out.push(m)
    if (id === 1) applied += rd.committedEntries.length
    n.advance(rd)
    moved++
  }
  for (const m of out) {
    nodes.get(m.to)!.step(m)
    stepped++
  }
  return moved + out.length
}

nodes.get(1)!.campaign()
while (pump() > 0);
if (nodes.get(1)!.status().role !== 'leader') throw new Error('node 1 did not become leader')

const payload = new Uint8Array(size)
const datas = Array.from({ length: batch }, () => payload)
const leader = nodes.get(1)!
// Warm up the JIT, then measure.
function run(ms: number): { entries: number; msgs: number; secs: number } {
  const a0 = applied
  const s0 = stepped
  const t0 = performance.now()
  let ticks = 0
  while (performance.now() - t0 < ms) {
    for (let k = 0; k < 64; k++) {
      const r = leader.propose(datas)
      if (!r.ok) throw new Error(`proposal refused: ${r.reason}`)
      pump()
      pump()
      // A tick now and then keeps heartbeats and CheckQuorum in the picture.
      if (++ticks % 16 === 0) for (const n of nodes.values()) n.tick()
    }
    // Compact now and then so memory stays bounded, as the application would.
    const st = leader.status()
    if (st.lastIndex - st.firstIndex > 200_000) {
      for (const n of nodes.values()) {
        const s = n.status()
        n.createSnapshot(s.applied, new Uint8Array(0))
      }
    }
  }
  while (pump() > 0);
  return { entries: applied - a0, msgs: stepped - s0, secs: (performance.now() - t0) / 1000 }
}
run(1000)
const r = run(seconds * 1000)
console.log(`nodes=${nodesN} batch=${batch} size=${size}B seconds=${r.secs.toFixed(2)}`)
console.log(`committed entries/s: ${Math.round(r.entries / r.secs)}`)
console.log(`messages stepped/s:  ${Math.round(r.msgs / r.secs)}`)

// Message stepping alone: heartbeat rounds through the same path (no entries to carry).
{
  const t0 = performance.now()
  const s0 = stepped
  let rounds = 0
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 256; k++) {
      for (const n of nodes.values()) n.tick()
      pump()
      pump()
      rounds++
    }
  }
  const secs = (performance.now() - t0) / 1000
  console.log(`heartbeat-only messages stepped/s: ${Math.round((stepped - s0) / secs)} (${rounds} tick rounds)`)
}
