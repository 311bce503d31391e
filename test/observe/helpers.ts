// Shared pieces of the observability tests: messages, a fake node status, synthetic records.
import type { Status } from '../../src/raft/rawnode.ts'
import { emptyMessage, type Entry, type Message, type MsgType, type NodeId } from '../../src/raft/types.ts'

export function msg(type: MsgType, from: NodeId, to: NodeId, term: number, fields: Partial<Omit<Message, 'type' | 'from' | 'to' | 'term'>> = {}): Message {
  return { ...emptyMessage(type, from, to, term), ...fields }
}

export function entries(first: number, n: number, term: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ term, index: first + i, type: 0, data: new Uint8Array(0) }))
}

export function fakeStatus(over: Partial<Status> = {}): Status {
  return {
    id: 1,
    term: 2,
    vote: 1,
    commit: 5,
    applied: 5,
    leader: 1,
    role: 'leader',
    firstIndex: 1,
    lastIndex: 5,
    lastTerm: 2,
    stableIndex: 5,
    conf: { voters: [1, 2, 3], learners: [] },
    progress: new Map([
      [1, { match: 5, next: 6, state: 'replicate', recentActive: true, learner: false, inflight: 0 }],
      [2, { match: 5, next: 6, state: 'replicate', recentActive: true, learner: false, inflight: 0 }],
      [3, { match: 3, next: 4, state: 'probe', recentActive: false, learner: false, inflight: 0 }],
    ]),
    transferee: 0,
    leaseValid: false,
    ...over,
  }
}
