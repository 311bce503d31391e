// Shared by the tap files: run a range of seeds and turn every violation into one failing assertion
// that carries its replay command. SIM_SEEDS scales the range (e.g. SIM_SEEDS=5000 npm test).
import type { Test } from 'tap'
import { replayCommand, runSeed } from './run.ts'

/** Seeds per tap file, overridable from the environment for longer soaks. */
export function seedCount(fallback: number): number {
  const v = Number(process.env.SIM_SEEDS)
  return Number.isInteger(v) && v > 0 ? v : fallback
}

export function runSeedRange(t: Test, start: number, count: number): void {
  const t0 = performance.now()
  let violations = 0
  const bySize = new Map<number, number>()
  for (let seed = start; seed < start + count; seed++) {
    const r = runSeed({ seed })
    bySize.set(r.size, (bySize.get(r.size) ?? 0) + 1)
    if (r.violation !== null) {
      violations++
      // Report the first few in full; the rest would only repeat (and the count says how many).
      if (violations <= 20) {
        t.fail(`seed ${seed} (${r.size} nodes, ${r.profile}): ${r.violation.kind}: ${r.violation.detail.split('\n')[0]}`, {
          replay: replayCommand(seed),
        })
      }
    }
  }
  const secs = (performance.now() - t0) / 1000
  t.comment(`seeds ${start}-${start + count - 1}: ${count} run (${[...bySize].map(([s, n]) => `${n}×${s}`).join(', ')} nodes), ${violations} violations, ${(count / secs).toFixed(1)} seeds/s`)
  t.equal(violations, 0, `no violations in seeds ${start}-${start + count - 1}`)
}
