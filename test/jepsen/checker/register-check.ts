// The register workload's checker: partitions the history per key, drops what cannot matter
// (failed ops never happened; a read with an unknown outcome observed nothing), checks each key
// with the linearizability search, and for an invalid key cuts out the smallest failing window.
import type { HOp } from '../history.ts'
import { checkRegister, type Verdict } from './linearizable.ts'
import { ANY, type RegOp } from './register-model.ts'

export interface KeyResult {
  key: string
  ops: number
  verdict: Verdict
  ms: number
  explored: number
  /** For an invalid key: the ids of the ops of the smallest failing window found. */
  window?: number[]
}

export interface RegisterReport {
  keys: KeyResult[]
  valid: boolean
  unknown: number
  ms: number
}

/** The checker's view of a key's ops, in call order, with dense indexes. */
export function toRegOps(ops: HOp[]): RegOp[] {
  const out: RegOp[] = []
  const sorted = [...ops].sort((a, b) => a.call - b.call)
  // Values are unique, so a write or CAS with an unknown outcome whose value nobody observed can
  // be linearized after everything else, where it changes no answer: leaving it out is exact and
  // keeps the search small when a fault leaves many writes in doubt.
  const observed = new Set<string | null>()
  for (const h of ops) {
    if (h.outcome !== 'ok') continue
    if (h.body.f === 'read') observed.add(h.body.value)
    if (h.body.f === 'cas') observed.add(h.body.expected)
  }
  for (const h of sorted) {
    if (h.outcome === 'fail') continue
    const indeterminate = h.outcome !== 'ok'
    const b = h.body
    if (indeterminate && (b.f === 'write' || b.f === 'cas') && !observed.has(b.value)) continue
    if (b.f === 'read') {
      if (indeterminate) continue
      out.push({ i: out.length, id: h.id, f: 'read', value: b.value, call: h.call, ret: h.ret, indeterminate })
    } else if (b.f === 'write') {
      out.push({ i: out.length, id: h.id, f: 'write', value: b.value, call: h.call, ret: indeterminate ? Infinity : h.ret, indeterminate })
    } else if (b.f === 'cas') {
      out.push({ i: out.length, id: h.id, f: 'cas', value: b.value, expected: b.expected, call: h.call, ret: indeterminate ? Infinity : h.ret, indeterminate })
    }
  }
  return out
}

function reindex(ops: RegOp[]): RegOp[] {
  return ops.map((o, i) => ({ ...o, i }))
}

/**
 * The smallest failing window of an invalid history: the shortest prefix (in call order) that is
 * already invalid, then the latest start for which that prefix's tail, from an unknown initial
 * value, is still invalid. Both cuts are monotone (more ops only add constraints), so binary
 * search finds them. Checks that run out of budget count as "not shown invalid".
 */
export function failingWindow(ops: RegOp[], budgetMs: number): RegOp[] {
  const invalid = (xs: RegOp[], initial: null | typeof ANY) => checkRegister(reindex(xs), { budgetMs, initial }).verdict === 'invalid'
  let lo = 1
  let hi = ops.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (invalid(ops.slice(0, mid), null)) hi = mid
    else lo = mid + 1
  }
  const prefix = ops.slice(0, hi)
  let s0 = 0
  let s1 = prefix.length - 1
  while (s0 < s1) {
    const mid = (s0 + s1 + 1) >>> 1
    if (invalid(prefix.slice(mid), ANY)) s0 = mid
    else s1 = mid - 1
  }
  // An op that started before the window but was still running inside it belongs to it too.
  const start = prefix[s0]!.call
  return prefix.filter((o, idx) => idx >= s0 || o.ret > start)
}

export function checkRegisterHistory(ops: HOp[], budgetMs: number): RegisterReport {
  const byKey = new Map<string, HOp[]>()
  for (const o of ops) {
    if (o.body.f !== 'read' && o.body.f !== 'write' && o.body.f !== 'cas') continue
    let l = byKey.get(o.key)
    if (!l) byKey.set(o.key, (l = []))
    l.push(o)
  }
  const keys: KeyResult[] = []
  let ms = 0
  for (const [key, hops] of byKey) {
    const reg = toRegOps(hops)
    const r = checkRegister(reg, { budgetMs })
    const kr: KeyResult = { key, ops: reg.length, verdict: r.verdict, ms: r.ms, explored: r.explored }
    if (r.verdict === 'invalid') kr.window = failingWindow(reg, budgetMs).map((o) => o.id)
    ms += r.ms
    keys.push(kr)
  }
  return { keys, valid: keys.every((k) => k.verdict !== 'invalid'), unknown: keys.filter((k) => k.verdict === 'unknown').length, ms }
}
