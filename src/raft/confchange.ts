import { ConfChangeType, type ConfChange, type ConfState, type NodeId } from './types.ts'

/**
 * A membership-change entry carries the change and the whole configuration that results from it,
 * so a node that receives only a suffix of the log still knows the membership exactly.
 */
export interface ConfChangeEntry {
  change: ConfChange
  conf: ConfState
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeConfChangeEntry(e: ConfChangeEntry): Uint8Array {
  return encoder.encode(JSON.stringify(e))
}

function isIdList(v: unknown): v is NodeId[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x) && x > 0)
}

export function decodeConfChangeEntry(data: Uint8Array): ConfChangeEntry {
  const v: unknown = JSON.parse(decoder.decode(data))
  if (typeof v !== 'object' || v === null) throw new TypeError('conf change entry: not an object')
  const { change, conf } = v as { change?: { type?: unknown; node?: unknown }; conf?: { voters?: unknown; learners?: unknown } }
  const types: readonly unknown[] = Object.values(ConfChangeType)
  if (!change || !types.includes(change.type) || !Number.isInteger(change.node)) {
    throw new TypeError('conf change entry: bad change')
  }
  if (!conf || !isIdList(conf.voters) || !isIdList(conf.learners)) throw new TypeError('conf change entry: bad conf')
  return {
    change: { type: change.type as ConfChangeType, node: change.node as NodeId },
    conf: { voters: conf.voters, learners: conf.learners },
  }
}

/** The configuration after applying one single-server change, or an error text if it is not allowed. */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState | string {
  const voters = conf.voters.filter((id) => id !== cc.node)
  const learners = conf.learners.filter((id) => id !== cc.node)
  const isVoter = conf.voters.includes(cc.node)
  const isLearner = conf.learners.includes(cc.node)
  if (!Number.isInteger(cc.node) || cc.node <= 0) return `invalid node id ${cc.node}`
  switch (cc.type) {
    case ConfChangeType.AddNode:
      if (isVoter) return `node ${cc.node} is already a voter`
      voters.push(cc.node)
      break
    case ConfChangeType.AddLearner:
      if (isVoter) return `node ${cc.node} is a voter; demotion is not supported`
      if (isLearner) return `node ${cc.node} is already a learner`
      learners.push(cc.node)
      break
    case ConfChangeType.RemoveNode:
      if (!isVoter && !isLearner) return `node ${cc.node} is not a member`
      if (isVoter && voters.length === 0) return 'cannot remove the last voter'
      break
    default:
      return 'unknown conf change type'
  }
  voters.sort((a, b) => a - b)
  learners.sort((a, b) => a - b)
  return { voters, learners }
}
