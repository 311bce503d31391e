// The register model the linearizability checker searches over: a single value per key
// (null = absent) with read, write and compare-and-set. ANY is the "unknown start" used when a
// failing window is cut out of the middle of a history: the first read tells what it was.

export const ANY: unique symbol = Symbol('any')
export type RegState = string | null | typeof ANY

/** One register operation as the checker sees it. */
export interface RegOp {
  /** Dense index within the key's history (the bitset position). */
  i: number
  /** The history op id (for reports). */
  id: number
  f: 'read' | 'write' | 'cas'
  /** read: the observed value; write/cas: the new value. */
  value: string | null
  /** cas only. */
  expected?: string | null
  call: number
  /** Infinity when the outcome is unknown. */
  ret: number
  /** The outcome is unknown: it may or may not have taken effect. */
  indeterminate: boolean
}

/** Applies `op` to `s`: the next state, or undefined when `op` cannot happen in state `s`. */
export function step(s: RegState, op: RegOp): RegState | undefined {
  switch (op.f) {
    case 'read':
      if (s === ANY) return op.value
      return s === op.value ? s : undefined
    case 'write':
      return op.value
    case 'cas':
      if (op.indeterminate) {
        // Unknown outcome: it took effect iff the comparison held (a failed CAS changes nothing).
        if (s === ANY) return ANY
        return s === op.expected ? op.value : s
      }
      if (s === ANY) return op.value
      return s === op.expected ? op.value : undefined
  }
}

export function stateKey(s: RegState): string {
  if (s === ANY) return '*'
  if (s === null) return '-'
  return `=${s}`
}
