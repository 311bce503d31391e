// The next single step that brings the cluster toward its target: a pure function of what the
// leader sees (configuration, replica count, follower progress), so a leader elected in the middle
// of an operation — after a crash, a transfer, anything — computes the same next step from the
// same facts and carries on. One member at a time: each step either changes the configuration by
// one server, changes the replica count, hands leadership over, or waits.
import type { NodeId } from '../raft/types.ts'

export interface PlanInput {
  self: NodeId
  voters: NodeId[]
  learners: NodeId[]
  /** The committed target (voters 1 … target). */
  target: number
  /** The orchestrator's replica count (ordinals 0 … replicas−1 exist). */
  replicas: number
  lastIndex: number
  /** Per member: how much of the leader's log it holds, and whether it answers. */
  progress: ReadonlyMap<NodeId, { match: number; healthy: boolean; replicating: boolean }>
}

export type Step =
  | { kind: 'done' }
  | { kind: 'scale'; replicas: number; reason: string }
  | { kind: 'add-learner'; id: NodeId }
  | { kind: 'wait-catch-up'; id: NodeId; match: number; lastIndex: number }
  | { kind: 'promote'; id: NodeId }
  | { kind: 'remove'; id: NodeId; reason: string }
  | { kind: 'transfer'; to: NodeId }
  /** Leadership must move but no voter that stays is fit to take it yet. */
  | { kind: 'wait-transfer-target' }

/** A learner this close to the leader's last index is promoted (a trickle of writes never stops). */
export const CATCH_UP_SLACK = 64

export function nextStep(p: PlanInput): Step {
  const members = [...p.voters, ...p.learners]
  const maxMember = members.length > 0 ? Math.max(...members) : 0
  // Every member must have a process: a learner added just before a crash, or a member whose pod
  // the replica count no longer covers, is started before anything else.
  if (p.replicas < maxMember) return { kind: 'scale', replicas: maxMember, reason: `member ${maxMember} has no process` }
  // Ordinals above every member and above the target are leftovers of a removal: scaled away (one
  // at a time, highest first, like a StatefulSet does anyway).
  const keep = Math.max(maxMember, p.target)
  if (p.replicas > keep) return { kind: 'scale', replicas: p.replicas - 1, reason: `ordinal ${p.replicas - 1} is no member` }
  for (const l of [...p.learners].sort((a, b) => a - b)) {
    // A learner beyond the target is what is left of a grow the target no longer wants.
    if (l > p.target) return { kind: 'remove', id: l, reason: 'learner beyond the target' }
    const pr = p.progress.get(l)
    const match = pr?.match ?? 0
    // Replicating (not probing) means it has answered an append: a learner whose process is not up
    // yet is never promoted on the strength of a short log alone.
    if (pr?.healthy && pr.replicating && match > 0 && p.lastIndex - match <= CATCH_UP_SLACK) return { kind: 'promote', id: l }
    return { kind: 'wait-catch-up', id: l, match, lastIndex: p.lastIndex }
  }
  for (let id = 1; id <= p.target; id++) if (!p.voters.includes(id)) return { kind: 'add-learner', id }
  const extra = p.voters.filter((id) => id > p.target).sort((a, b) => b - a)
  if (extra.length > 0) {
    const v = extra[0]!
    if (v !== p.self) return { kind: 'remove', id: v, reason: 'above the target' }
    // The leader leaves last among the extras only if it is the highest; either way it never
    // removes itself while leading: it hands over to the most up-to-date voter that stays.
    let best = 0
    let bestMatch = -1
    for (const id of p.voters) {
      if (id > p.target || id === p.self) continue
      const pr = p.progress.get(id)
      if (pr?.healthy && pr.match > bestMatch) {
        best = id
        bestMatch = pr.match
      }
    }
    return best ? { kind: 'transfer', to: best } : { kind: 'wait-transfer-target' }
  }
  return { kind: 'done' }
}

export function describeStep(s: Step): string {
  switch (s.kind) {
    case 'done':
      return 'idle'
    case 'scale':
      return `scale to ${s.replicas} replicas (${s.reason})`
    case 'add-learner':
      return `add node ${s.id} as a learner`
    case 'wait-catch-up':
      return `wait for learner ${s.id} to catch up (${s.match}/${s.lastIndex})`
    case 'promote':
      return `promote learner ${s.id} to voter`
    case 'remove':
      return `remove node ${s.id} (${s.reason})`
    case 'transfer':
      return `transfer leadership to node ${s.to} (the leader is leaving)`
    case 'wait-transfer-target':
      return 'wait for a healthy voter to take over leadership'
  }
}
