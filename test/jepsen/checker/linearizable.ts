// Linearizability checking of one register's history: Wing & Gong's search with Lowe's
// just-in-time linearization (an op is tried only when every op that returned before its call is
// already linearized: we walk a list of call/return events in time order and backtrack at the
// first return whose op is not yet placed) and memoization of (set of linearized ops, state)
// configurations already explored (Lowe; Porcupine). A time budget turns a search that would take
// too long into 'unknown' instead of a hang.
import { performance } from 'node:perf_hooks'
import { ANY, step, stateKey, type RegOp, type RegState } from './register-model.ts'

export type Verdict = 'valid' | 'invalid' | 'unknown'

export interface LinResult {
  verdict: Verdict
  /** Configurations explored (for the report). */
  explored: number
  ms: number
  /** When invalid: the ops linearized on the deepest path the search found (in order). */
  deepest?: number[]
}

interface Event {
  op: RegOp
  isCall: boolean
  time: number
  prev: Event | null
  next: Event | null
  /** The call's return event (calls only). */
  match: Event | null
}

/** A bitset of linearized ops, with a compact string form for the memo table. */
class Bits {
  private readonly w: Uint32Array
  constructor(n: number) {
    this.w = new Uint32Array(Math.ceil(n / 32) || 1)
  }
  set(i: number): void {
    this.w[i >>> 5]! |= 1 << (i & 31)
  }
  clear(i: number): void {
    this.w[i >>> 5]! &= ~(1 << (i & 31))
  }
  key(): string {
    return Array.prototype.join.call(this.w, ',')
  }
}

function buildEvents(ops: RegOp[]): Event {
  const evs: Event[] = []
  for (const op of ops) {
    const call: Event = { op, isCall: true, time: op.call, prev: null, next: null, match: null }
    const ret: Event = { op, isCall: false, time: op.ret, prev: null, next: null, match: null }
    call.match = ret
    evs.push(call, ret)
  }
  // Time order; on a tie a call goes first (treating the two ops as concurrent is the
  // conservative reading of equal timestamps).
  evs.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1))
  const head: Event = { op: ops[0]!, isCall: false, time: -Infinity, prev: null, next: null, match: null }
  let last = head
  for (const e of evs) {
    last.next = e
    e.prev = last
    last = e
  }
  return head
}

/** Takes a call and its return out of the list. */
function lift(call: Event): void {
  call.prev!.next = call.next
  if (call.next) call.next.prev = call.prev
  const ret = call.match!
  ret.prev!.next = ret.next
  if (ret.next) ret.next.prev = ret.prev
}

/** Puts them back (in the reverse order of lift, so the saved neighbours are still right). */
function unlift(call: Event): void {
  const ret = call.match!
  ret.prev!.next = ret
  if (ret.next) ret.next.prev = ret
  call.prev!.next = call
  if (call.next) call.next.prev = call
}

export interface CheckOptions {
  /** Give up (verdict 'unknown') after this many ms. */
  budgetMs: number
  /** The state before the first op: null (absent key) or ANY (unknown, for windows). */
  initial?: RegState
}

/**
 * Whether the ops (one key; failed ops already removed; reads with unknown outcome removed too,
 * since they change nothing) have a linearization.
 */
export function checkRegister(ops: RegOp[], o: CheckOptions): LinResult {
  const t0 = performance.now()
  if (ops.length === 0) return { verdict: 'valid', explored: 0, ms: 0 }
  const head = buildEvents(ops)
  const bits = new Bits(ops.length)
  const seen = new Set<string>()
  const stack: { call: Event; state: RegState }[] = []
  let state: RegState = o.initial === undefined ? null : o.initial
  let explored = 0
  let deepest: number[] = []
  let e: Event | null = head.next
  while (head.next !== null) {
    if ((++explored & 1023) === 0 && performance.now() - t0 > o.budgetMs) {
      return { verdict: 'unknown', explored, ms: performance.now() - t0 }
    }
    if (e === null) throw new Error('linearizability search ran off the end of the event list')
    if (e.isCall) {
      const next = step(state, e.op)
      if (next !== undefined) {
        bits.set(e.op.i)
        const k = `${bits.key()}|${stateKey(next)}`
        if (!seen.has(k)) {
          seen.add(k)
          stack.push({ call: e, state })
          state = next
          lift(e)
          e = head.next
          continue
        }
        bits.clear(e.op.i)
      }
      e = e.next
    } else {
      // The op returning here was not placed before its return: undo the last placement.
      if (stack.length > deepest.length) deepest = stack.map((s) => s.call.op.id)
      const top = stack.pop()
      if (top === undefined) return { verdict: 'invalid', explored, ms: performance.now() - t0, deepest }
      bits.clear(top.call.op.i)
      state = top.state
      unlift(top.call)
      e = top.call.next
    }
  }
  return { verdict: 'valid', explored, ms: performance.now() - t0 }
}

export { ANY }
