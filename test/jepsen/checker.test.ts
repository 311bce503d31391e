// The checkers against histories whose answer is known: linearizable and not, with indeterminate
// operations, the failing window, the time budget (→ unknown), and every append anomaly.
import t from 'tap'
import { checkAppendHistory } from './checker/append-check.ts'
import { checkRegister } from './checker/linearizable.ts'
import { checkRegisterHistory, failingWindow, toRegOps } from './checker/register-check.ts'
import type { HOp, OpBody, Outcome } from './history.ts'

let nextId = 0
/** An op on key k from `call` to `ret` (ret null = indeterminate). */
function op(process: number, body: OpBody, call: number, ret: number | null, outcome: Outcome = ret === null ? 'info' : 'ok', key = 'k'): HOp {
  return { id: nextId++, process, via: 'resp', node: 1, key, body, call, ret: ret ?? Infinity, outcome }
}
const w = (p: number, v: string, c: number, r: number | null, o?: Outcome) => op(p, { f: 'write', value: v }, c, r, o)
const rd = (p: number, v: string | null, c: number, r: number | null, o?: Outcome) => op(p, { f: 'read', value: v }, c, r, o)
const cas = (p: number, e: string, v: string, c: number, r: number | null, o?: Outcome) => op(p, { f: 'cas', expected: e, value: v }, c, r, o)
const verdict = (ops: HOp[]) => checkRegisterHistory(ops, 5000).keys[0]!.verdict

t.test('linearizable register histories', async (t) => {
  t.equal(verdict([w(0, 'a', 0, 1), rd(1, 'a', 2, 3)]), 'valid', 'read after write')
  t.equal(verdict([rd(1, null, 0, 1), w(0, 'a', 2, 3)]), 'valid', 'read of the empty key first')
  t.equal(verdict([w(0, 'a', 0, 10), rd(1, null, 1, 2), rd(2, 'a', 3, 4)]), 'valid', 'reads during a slow write may see either')
  t.equal(verdict([w(0, 'a', 0, 1), w(1, 'b', 2, 10), w(2, 'c', 3, 9), rd(3, 'b', 11, 12)]), 'valid', 'concurrent writes in either order')
  t.equal(verdict([w(0, 'a', 0, 1), cas(1, 'a', 'b', 2, 3), rd(2, 'b', 4, 5)]), 'valid', 'a successful CAS')
  t.equal(verdict([w(0, 'a', 0, 1), cas(1, 'x', 'b', 2, 3, 'fail'), rd(2, 'a', 4, 5)]), 'valid', 'a failed CAS changes nothing')
})

t.test('indeterminate operations may take effect at any later time, or never', async (t) => {
  t.equal(verdict([w(0, 'a', 0, null), rd(1, null, 5, 6), rd(1, 'a', 100, 101)]), 'valid', 'a timed-out write seen long after')
  t.equal(verdict([w(0, 'a', 0, 1), w(1, 'b', 2, null), rd(2, 'a', 50, 51)]), 'valid', 'a timed-out write never seen')
  t.equal(verdict([w(0, 'a', 0, 1), cas(1, 'a', 'b', 2, null), rd(2, 'b', 50, 51)]), 'valid', 'a timed-out CAS seen')
  t.equal(verdict([w(0, 'a', 0, 1), cas(1, 'zz', 'b', 2, null), rd(2, 'b', 50, 51)]), 'invalid', 'a timed-out CAS whose comparison cannot hold cannot take effect')
  t.equal(verdict([w(0, 'a', 0, 1), rd(1, 'zz', 2, null), rd(2, 'a', 5, 6)]), 'valid', 'a read with an unknown outcome constrains nothing')
  t.equal(verdict([w(0, 'a', 2, null), rd(1, 'a', 0, 1)]), 'invalid', 'but not before it was invoked')
  t.equal(verdict([w(0, 'a', 0, 1), w(1, 'b', 2, null), cas(2, 'b', 'c', 10, 11), rd(2, 'c', 12, 13)]), 'valid', 'a timed-out write seen only by a CAS')
  t.equal(verdict([w(0, 'a', 0, 1), w(1, 'b', 20, null), cas(2, 'b', 'c', 10, 11)]), 'invalid', 'a CAS cannot see a write invoked after it returned')
})

t.test('non-linearizable register histories', async (t) => {
  t.equal(verdict([w(0, 'a', 0, 1), w(0, 'b', 2, 3), rd(1, 'a', 4, 5)]), 'invalid', 'stale read')
  t.equal(verdict([rd(1, 'ghost', 0, 1)]), 'invalid', 'a value nobody wrote')
  t.equal(verdict([w(0, 'a', 0, 1, 'fail'), rd(1, 'a', 2, 3)]), 'invalid', 'a write reported failed (definite error) that took effect')
  t.equal(verdict([w(0, 'a', 0, 1), rd(1, 'a', 2, 3), rd(2, null, 4, 5)]), 'invalid', 'a write lost after it was read')
  t.equal(verdict([w(0, 'a', 0, 1), w(1, 'b', 0, 1), rd(2, 'a', 2, 3), rd(3, 'b', 4, 5), rd(4, 'a', 6, 7)]), 'invalid', 'reads flip-flop between concurrent writes')
  t.equal(verdict([w(0, 'a', 0, 1), cas(1, 'a', 'b', 2, 3), cas(2, 'a', 'c', 4, 5)]), 'invalid', 'two CAS from the same value both succeed')
})

t.test('the failing window is small and still failing', async (t) => {
  const ops: HOp[] = []
  for (let i = 0; i < 40; i++) ops.push(w(0, `v${i}`, i * 10, i * 10 + 2), rd(1, `v${i}`, i * 10 + 3, i * 10 + 4))
  const bad = rd(2, 'v3', 500, 501)
  ops.push(bad)
  for (let i = 0; i < 10; i++) ops.push(rd(1, 'v39', 510 + i * 2, 511 + i * 2))
  const reg = toRegOps(ops)
  t.equal(checkRegister(reg, { budgetMs: 5000 }).verdict, 'invalid')
  const win = failingWindow(reg, 5000)
  t.ok(win.length <= 3, `window of ${win.length} ops`)
  t.ok(win.some((o) => o.id === bad.id), 'contains the stale read')
  t.ok(win.every((o) => o.call <= bad.call), 'nothing after the failure')
})

t.test('a search over the budget is unknown, not a hang', async (t) => {
  // 40 fully concurrent writes and an impossible read: every subset of writes is a distinct state.
  const ops: HOp[] = []
  for (let i = 0; i < 40; i++) ops.push(w(i, `v${i}`, 0, 1000))
  for (let i = 0; i < 40; i++) ops.push(rd(100 + i, `v${i}`, 1 + i, 999))
  ops.push(rd(200, 'never', 1001, 1002))
  const t0 = performance.now()
  const r = checkRegisterHistory(ops, 50)
  t.equal(r.keys[0]!.verdict, 'unknown')
  t.equal(r.unknown, 1)
  t.ok(r.valid, 'unknown is not a violation')
  t.ok(performance.now() - t0 < 5000, 'gave up within the budget (plus the window search, skipped for unknown)')
})

t.test('keys are checked independently', async (t) => {
  const ops = [op(0, { f: 'write', value: 'a' }, 0, 1, 'ok', 'x'), op(1, { f: 'read', value: 'a' }, 2, 3, 'ok', 'y')]
  const r = checkRegisterHistory(ops, 1000)
  t.same(r.keys.map((k) => [k.key, k.verdict]), [['x', 'valid'], ['y', 'invalid']])
})

const ap = (p: number, tok: string, c: number, r: number | null, o?: Outcome) => op(p, { f: 'append', value: tok }, c, r, o, 'L')
const rl = (p: number, list: string[], c: number, r: number) => op(p, { f: 'read-list', value: list }, c, r, 'ok', 'L')
const kinds = (ops: HOp[]) => checkAppendHistory(ops).anomalies.map((a) => a.kind)

t.test('unique-append histories', async (t) => {
  t.same(kinds([ap(0, 'a', 0, 1), ap(1, 'b', 2, 3), rl(2, ['a'], 0.5, 2.5), rl(2, ['a', 'b'], 4, 5)]), [], 'valid')
  t.same(kinds([ap(0, 'a', 0, 1), ap(1, 'b', 2, null), rl(2, ['a'], 4, 5), rl(2, ['a', 'b'], 9, 10)]), [], 'an indeterminate append appears later')
  t.same(kinds([ap(0, 'a', 0, 1), ap(1, 'b', 2, 3), rl(2, ['a'], 4, 5)]), ['lost-append'], 'an acknowledged append missing from a later read')
  t.same(kinds([ap(0, 'a', 0, 1), ap(1, 'b', 0, 1), rl(2, ['a', 'b'], 2, 3), rl(2, ['b', 'a'], 4, 5)]), ['not-prefix'], 'two orders')
  t.same(kinds([ap(0, 'a', 0, 1), rl(2, ['a', 'x'], 2, 3)]), ['phantom'], 'a token never appended')
  t.same(kinds([ap(0, 'a', 0, 1, 'fail'), rl(2, ['a'], 2, 3)]), ['failed-append-visible'], 'a definitely failed append is visible')
  t.same(kinds([ap(0, 'a', 0, 1), rl(2, ['a', 'a'], 2, 3)]), ['duplicate'], 'applied twice')
  t.same(kinds([ap(0, 'a', 0, null), rl(1, ['a'], 1, 2), rl(2, [], 3, 4)]), ['stale-read'], 'a read going back in time')
  t.same(kinds([ap(0, 'a', 0, 1), ap(1, 'b', 2, 3), rl(2, ['b', 'a'], 4, 5)]), ['real-time-order'], 'appends out of real-time order')
})
