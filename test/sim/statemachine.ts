// The replicated state machine of the simulation: a tiny KV map plus a hash chain over every applied
// entry. The chain makes "same state" a single number, so State Machine Safety and snapshot
// contents can be checked in O(1); the map makes reads return something a client could compare.
import { EntryType, type Entry } from '../../src/raft/types.ts'
import { fnvBytes, mix } from './hash.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A client write: set `key` to the write's own unique id. */
export interface WriteCommand {
  id: number
  key: string
}

export function encodeWrite(w: WriteCommand): Uint8Array {
  return encoder.encode(`w|${w.id}|${w.key}`)
}

export function decodeWrite(data: Uint8Array): WriteCommand | null {
  if (data.length === 0) return null // the leader's no-op
  const parts = decoder.decode(data).split('|')
  if (parts.length !== 3 || parts[0] !== 'w') throw new Error(`bad command in log: ${decoder.decode(data)}`)
  return { id: Number(parts[1]), key: parts[2]! }
}

/** What identifies an entry's content independent of where it sits: its type and data. */
export function entryDigest(e: Entry): number {
  return fnvBytes(e.data, 0x811c9dc5 ^ (e.type * 0x1000193))
}

/** The chain value after applying `e` on top of `prev`. */
export function chainStep(prev: number, e: Entry): number {
  return mix(mix(mix(prev, e.index), e.term), entryDigest(e))
}

interface Serialized {
  i: number
  t: number
  c: number
  kv: [string, number][]
}

export class KvStateMachine {
  applied = 0
  appliedTerm = 0
  chain = 0
  readonly kv = new Map<string, number>()

  /** Applies one committed entry; returns the client write it carried, if any. */
  apply(e: Entry): WriteCommand | null {
    this.chain = chainStep(this.chain, e)
    this.applied = e.index
    this.appliedTerm = e.term
    // Membership entries change nothing here: the core acts on them when they are appended.
    if (e.type !== EntryType.Normal) return null
    const w = decodeWrite(e.data)
    if (w !== null) this.kv.set(w.key, w.id)
    return w
  }

  serialize(): Uint8Array {
    const s: Serialized = { i: this.applied, t: this.appliedTerm, c: this.chain, kv: [...this.kv.entries()] }
    return encoder.encode(JSON.stringify(s))
  }

  /** Rebuilds the state from snapshot data; empty data is the empty state at index 0. */
  static restore(data: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine()
    if (data.length === 0) return sm
    const s = JSON.parse(decoder.decode(data)) as Serialized
    sm.applied = s.i
    sm.appliedTerm = s.t
    sm.chain = s.c
    for (const [k, v] of s.kv) sm.kv.set(k, v)
    return sm
  }
}
