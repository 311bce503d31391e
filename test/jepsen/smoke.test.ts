// The CI smoke set: short runs of the fault harness mixing every nemesis (alone and combined),
// each against a fresh cluster. Every run must finish with ops recorded, faults injected (when
// its nemeses can run here) and no violation. JEPSEN_SMOKE_SECONDS sets the length of each run.
import t from 'tap'
import type { NemesisKind } from './nemesis.ts'
import { runOnce } from './run.ts'

// Twelve runs of about half a minute each on a loaded 2-core machine: more than tap's default.
t.setTimeout(Number(process.env['JEPSEN_SMOKE_TIMEOUT_MS'] ?? 1_800_000))
const seconds = Number(process.env['JEPSEN_SMOKE_SECONDS'] ?? 6)
const seed = Number(process.env['JEPSEN_SMOKE_SEED'] ?? 1000)
const mixes: NemesisKind[][] = [
  ['kill'],
  ['pause'],
  ['partition'],
  ['netem'],
  ['failpoint'],
  ['clock'],
  ['scale'],
  ['kill', 'pause'],
  ['partition', 'clock'],
  ['failpoint', 'netem', 'kill'],
  ['kill', 'pause', 'partition', 'netem', 'scale', 'failpoint', 'clock'],
]
// Lease reads (--read-mode lease) under what attacks a lease: stalls, partitions, clock jumps.
const leaseMixes: NemesisKind[][] = [['pause', 'partition', 'clock']]

const runs = [...mixes.map((nemeses) => ({ nemeses, readMode: 'safe' as const })), ...leaseMixes.map((nemeses) => ({ nemeses, readMode: 'lease' as const }))]

runs.forEach(({ nemeses, readMode }, i) => {
  t.test(`run ${i + 1}: ${nemeses.join(',')}${readMode === 'lease' ? ' (lease reads)' : ''}`, async (t) => {
    const r = await runOnce({ seed: seed + i, seconds, nemeses, offload: 'off', readMode, nodes: 3, budgetMs: 5000, log: (l) => t.comment(l) })
    for (const s of r.skipped) t.comment(`skipped ${s}`)
    t.comment(`${r.ops} ops, ${r.indeterminate} indeterminate, ${r.faults} faults, ${r.histories} histories, ${r.unknown} unknown, checker ${r.checkerMs.toFixed(0)} ms`)
    t.equal(r.error, undefined, 'the run completed')
    t.ok(r.ops > 0, 'operations were recorded')
    const allSkipped = nemeses.every((n) => r.skipped.some((s) => s.startsWith(`${n}:`) || (s.startsWith('partition/netem') && (n === 'partition' || n === 'netem'))))
    if (!allSkipped) t.ok(r.faults > 0, 'faults were injected')
    t.equal(r.violations, 0, r.artifact ? `violation: see ${r.artifact}; replay: ${r.replay}` : 'no violation')
  })
})
