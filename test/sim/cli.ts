// npm run sim -- --seeds N --start S [--size 3|5|7] [--ticks T] [--trace] [--stats] [--no-liveness]
// Runs seeds S..S+N-1, prints one line per failing seed with the command that replays it, and on
// its last line the totals. Exit code 1 if any seed violated an invariant.
import { replayCommand, runSeed, type RunResult } from './run.ts'

interface CliArgs {
  seeds: number
  start: number
  size: number | undefined
  ticks: number | undefined
  trace: boolean
  stats: boolean
  liveness: boolean
}

function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = { seeds: 100, start: 1, size: undefined, ticks: undefined, trace: false, stats: false, liveness: true }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!
    const num = (): number => {
      const v = Number(argv[++i])
      if (!Number.isFinite(v)) throw new Error(`${k} needs a number`)
      return v
    }
    switch (k) {
      case '--seeds':
        a.seeds = num()
        break
      case '--start':
        a.start = num()
        break
      case '--size':
        a.size = num()
        if (![3, 5, 7].includes(a.size)) throw new Error('--size must be 3, 5 or 7')
        break
      case '--ticks':
        a.ticks = num()
        break
      case '--trace':
        a.trace = true
        break
      case '--stats':
        a.stats = true
        break
      case '--no-liveness':
        a.liveness = false
        break
      case '--help':
      case '-h':
        console.log('usage: npm run sim -- --seeds N --start S [--size 3|5|7] [--ticks T] [--trace] [--stats] [--no-liveness]')
        process.exit(0)
        break
      default:
        throw new Error(`unknown argument ${k}`)
    }
  }
  return a
}

function main(): void {
  const args = parseArgs(process.argv.slice(2))
  const t0 = performance.now()
  // CPU time too: on a shared machine wall-clock seeds/s says more about the neighbours.
  const cpu0 = process.cpuUsage()
  let violations = 0
  let events = 0
  const totals = new Map<string, number>()
  const end = args.start + args.seeds - 1
  for (let seed = args.start; seed <= end; seed++) {
    const r: RunResult = runSeed({
      seed,
      ...(args.size !== undefined ? { size: args.size } : {}),
      ...(args.ticks !== undefined ? { faultTicks: args.ticks } : {}),
      ...(args.trace ? { trace: (line: string) => process.stdout.write(line + '\n') } : {}),
      liveness: args.liveness,
    })
    events += r.events
    for (const [k, v] of Object.entries(r.stats)) totals.set(k, (totals.get(k) ?? 0) + v)
    if (r.violation !== null) {
      violations++
      const v = r.violation
      console.log(`seed ${seed} (${r.size} nodes, ${r.profile}): ${v.kind} at t=${v.time.toFixed(1)}: ${firstLine(v.detail)}`)
      console.log(`  replay: ${replayCommand(seed, args.size, args.ticks, args.liveness)}`)
    } else if (args.trace) {
      console.log(`seed ${seed}: ok, digest ${r.digest.toString(16)}, ${r.events} events`)
    }
  }
  const secs = (performance.now() - t0) / 1000
  if (args.stats) {
    const per = [...totals].map(([k, v]) => `${k}=${(v / args.seeds).toFixed(1)}`).join(' ')
    console.log(`per seed: ${per}`)
    const cu = process.cpuUsage(cpu0)
    const cpuSecs = (cu.user + cu.system) / 1e6
    console.log(`${(args.seeds / secs).toFixed(1)} seeds/s (${(args.seeds / cpuSecs).toFixed(1)} per CPU-second), ${(events / secs / 1000).toFixed(0)}k events/s, ${(events / args.seeds).toFixed(0)} events/seed`)
  }
  console.log(`seeds ${args.start}-${end}: ${args.seeds} run, ${violations} violations (${secs.toFixed(1)} s, ${(args.seeds / secs).toFixed(1)} seeds/s)`)
  process.exitCode = violations > 0 ? 1 : 0
}

function firstLine(s: string): string {
  const i = s.indexOf('\n')
  return i < 0 ? s : s.slice(0, i)
}

main()
