import type { NodeId } from './types.ts'

/** Votes needed out of n voters. */
export function quorumSize(n: number): number {
  return (n >> 1) + 1
}

/**
 * The highest index a majority of voters has reached. `value` gives each voter's index;
 * with no voters nothing can be committed.
 */
export function majorityIndex(voters: readonly NodeId[], value: (id: NodeId) => number): number {
  const n = voters.length
  if (n === 0) return 0
  if (n === 1) return value(voters[0]!)
  const vals = new Array<number>(n)
  for (let i = 0; i < n; i++) vals[i] = value(voters[i]!)
  vals.sort((a, b) => b - a)
  return vals[quorumSize(n) - 1]!
}

export type VoteResult = 'won' | 'lost' | 'pending'

export function tallyVotes(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0
  let rejected = 0
  for (const id of voters) {
    const v = votes.get(id)
    if (v === true) granted++
    else if (v === false) rejected++
  }
  const q = quorumSize(voters.length)
  if (granted >= q) return 'won'
  if (rejected > voters.length - q) return 'lost'
  return 'pending'
}
