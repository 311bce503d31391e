// npm run jepsen -- --runs N --seconds S --nemesis kill,pause,… --offload on|off [--read-mode safe|lease] --seed X
// Run i uses seed X + i; a failing run prints its own replay command (one run, its seed).
import { parseArgs } from 'node:util'
import { NEMESES, type NemesisKind } from './nemesis.ts'
import { runOnce, type RunResult } from './run.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '20' },
    nemesis: { type: 'string', default: NEMESES.join(',') },
    offload: { type: 'string', default: 'off' },
    'read-mode': { type: 'string', default: 'safe' },
    seed: { type: 'string' },
    nodes: { type: 'string', default: '3' },
    'budget-ms': { type: 'string', default: '10000' },
    'nemesis-per-run': { type: 'string', default: '0' },
  },
})

function fail(msg: string): never {
  console.error(msg)
  process.exit(2)
}

const runs = Number(values.runs)
const seconds = Number(values.seconds)
const nodes = Number(values.nodes)
const budgetMs = Number(values['budget-ms'])
const perRun = Number(values['nemesis-per-run'])
if (!Number.isInteger(runs) || runs < 1) fail('--runs must be a positive integer')
if (!(seconds >= 3 && seconds <= 3600)) fail('--seconds must be in [3, 3600]')
if (!Number.isInteger(nodes) || nodes < 3 || nodes > 7) fail('--nodes must be 3…7')
const nemeses = values.nemesis.split(',').map((s) => s.trim()).filter(Boolean) as NemesisKind[]
for (const n of nemeses) if (!NEMESES.includes(n)) fail(`unknown nemesis ${n} (known: ${NEMESES.join(', ')})`)
if (values.offload !== 'on' && values.offload !== 'off') fail('--offload must be on or off')
const offload = values.offload
const readMode = values['read-mode']
if (readMode !== 'safe' && readMode !== 'lease') fail('--read-mode must be safe or lease')
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 1e9)
if (!Number.isInteger(seed)) fail('--seed must be an integer')

const totals = { runs: 0, ops: 0, indeterminate: 0, histories: 0, unknown: 0, violations: 0, checkerMs: 0, faults: 0, errors: 0, liveness: 0 }
const failing: RunResult[] = []
for (let i = 0; i < runs; i++) {
  // With --nemesis-per-run k, each run draws k of the listed nemeses (a mix across runs).
  let kinds = nemeses
  if (perRun > 0 && perRun < nemeses.length) {
    const rot = (seed + i) % nemeses.length
    kinds = [...nemeses.slice(rot), ...nemeses.slice(0, rot)].slice(0, perRun)
  }
  const r = await runOnce({ seed: seed + i, seconds, nemeses: kinds, offload, readMode, nodes, budgetMs, log: (l) => console.log(l) })
  totals.runs++
  totals.ops += r.ops
  totals.indeterminate += r.indeterminate
  totals.histories += r.histories
  totals.unknown += r.unknown
  totals.violations += r.violations
  totals.checkerMs += r.checkerMs
  totals.faults += r.faults
  if (r.error) totals.errors++
  if (r.liveness) totals.liveness++
  for (const s of r.skipped) console.log(`  skipped ${s}`)
  console.log(
    `run ${i + 1}/${runs} seed ${r.seed} [${kinds.join(',')}]: ${r.ops} ops, ${r.indeterminate} indeterminate, ${r.faults} faults, ${r.histories} histories, ${r.unknown} unknown, ${r.violations} violations, checker ${r.checkerMs.toFixed(0)} ms${r.error ? `, ERROR ${r.error}` : ''}`,
  )
  if (r.violations > 0) {
    failing.push(r)
    console.log(`  VIOLATION: artifact ${r.artifact}\n  replay: ${r.replay}`)
  } else if (r.liveness) {
    console.log(`  LIVENESS: artifact ${r.artifact}\n  replay: ${r.replay}`)
  }
}
console.log(
  `TOTAL runs ${totals.runs} ops ${totals.ops} indeterminate ${totals.indeterminate} faults ${totals.faults} histories ${totals.histories} unknown ${totals.unknown} violations ${totals.violations} liveness ${totals.liveness} errors ${totals.errors} checker ${(totals.checkerMs / 1000).toFixed(2)} s`,
)
for (const r of failing) console.log(`failing seed ${r.seed}: ${r.replay}`)
process.exit(totals.violations > 0 || totals.errors > 0 ? 1 : 0)
