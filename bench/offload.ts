// Durable write throughput and the leader's CPU per committed write, kernel fast path on vs off,
// at 3, 5 and 7 nodes on a netns cluster (test/offload/fixtures/netns.ts). `--writers` clients
// each PUT one key at a time to the leader for `--seconds`; a write counts once the leader
// answered 200 (committed and applied). Leader CPU is user + system time of its process from
// /proc/PID/stat over the same window, reported split: on veth, softirq work (a peer's XDP
// program, its XDP_TX reply, the bridge) runs in whichever process's syscall raised it and is
// charged to that process's system time, so the leader's system time also holds kernel work done
// for its followers. The machine's CPU per write (/proc/stat, every core, every process, the
// clients included) is the whole bill. Reports numbers; asserts nothing.
//
//   npm run bench:offload -- [--sizes 3,5,7] [--seconds 5] [--writers 16] [--rounds 3] [--mode generic|native]

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { NetnsCluster, netnsSkipReason, type NetnsMode } from '../test/offload/fixtures/netns.ts'
import { sleep } from '../test/cluster/fixtures/helpers.ts'

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '3,5,7' }, seconds: { type: 'string', default: '5' }, writers: { type: 'string', default: '16' }, rounds: { type: 'string', default: '3' }, mode: { type: 'string', default: 'generic' } } })
const sizes = values.sizes.split(',').map(Number)
const seconds = Number(values.seconds)
const writers = Number(values.writers)
const rounds = Math.max(1, Number(values.rounds))
const onMode: NetnsMode = values.mode === 'native' ? 'native' : 'generic'
/** USER_HZ: the unit of utime/stime in /proc/PID/stat on Linux. */
const CLK_TCK = 100

const skip = netnsSkipReason()
if (skip) {
  console.log(`bench/offload: cannot run here: ${skip}`)
  process.exit(0)
}

/** User and system CPU time of a process so far, ms. */
function cpuMs(pid: number): { user: number; sys: number } {
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the
  // 14th field of the line, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: (Number(f[11]) * 1000) / CLK_TCK, sys: (Number(f[12]) * 1000) / CLK_TCK }
}

/** Busy CPU time of the whole machine so far, all cores, ms (/proc/stat's first line less idle and iowait). */
function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number]
  void idle
  void iowait
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLK_TCK
}

interface Result {
  writesPerS: number
  cpuMsPerWrite: number
  /** Of which user time (the Node process itself) and system time (see the header). */
  userMsPerWrite: number
  sysMsPerWrite: number
  leaderCpuPct: number
  /** Busy CPU of the whole machine per write, every process. */
  machineMsPerWrite: number
  kernelHandled: number
  /** Per acknowledged write, on the leader: control messages user space received and sent, TCP frames sent, loop turns (Readies). */
  perWrite: { udpIn: number; udpOut: number; tcpOut: number; readies: number; kernel: number }
}

async function run(nodes: number, mode: NetnsMode): Promise<Result> {
  const c = await NetnsCluster.start(null, { nodes, mode, logLevel: 'warn' })
  const stop = (): void => void c.destroy().then(() => process.exit(130))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    const { leader } = await c.waitForLeader(c.ids, 120_000)
    const url = c.url(leader)
    // Warm up: connections, JIT, the followers' catch-up.
    for (let i = 0; i < 50; i++) await c.put(`warm${i}`, 'x')
    await sleep(500)
    let acked = 0
    let failed = 0
    let running = true
    const pid = c.procs.get(leader)!.pid
    const before = await c.status(leader, 5000)
    const cpu0 = cpuMs(pid)
    const busy0 = machineBusyMs()
    const t0 = performance.now()
    const loops = Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; running; i++) {
        try {
          const r = await fetch(`${url}/kv/w${w}-${i}`, { method: 'PUT', body: `value-${w}-${i}`, headers: { 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(5000) })
          await r.arrayBuffer()
          if (r.status === 200) acked++
          else failed++
        } catch {
          failed++
        }
      }
    })
    await sleep(seconds * 1000)
    running = false
    const elapsed = (performance.now() - t0) / 1000
    const cpu1 = cpuMs(pid)
    const busy = machineBusyMs() - busy0
    const user = cpu1.user - cpu0.user
    const sys = cpu1.sys - cpu0.sys
    const cpu = user + sys
    const countedAcked = acked
    await Promise.all(loops)
    if (failed > 0) console.log(`    (${nodes} nodes, offload ${mode}: ${failed} writes failed or timed out)`)
    const st = await c.status(leader, 5000)
    const handled = (s: typeof st): number => {
      let n = 0
      if (s && s.offload.mode !== 'off') for (const row of Object.values(s.offload.byType)) n += row.answered + row.consumed
      return n
    }
    const kernelHandled = handled(st)
    // The counters span a little more than the timed window (the loops' last writes): per write, that is noise.
    const w = Math.max(1, acked)
    const d = (f: (s: NonNullable<typeof st>) => number): number => (st && before ? (f(st) - f(before)) / w : NaN)
    const perWrite = {
      udpIn: d((s) => s.transport.udpReceived),
      udpOut: d((s) => s.transport.udpSent),
      tcpOut: d((s) => s.transport.tcpFramesSent),
      readies: d((s) => s.node.readies),
      kernel: st && before ? (kernelHandled - handled(before)) / w : NaN,
    }
    const per = Math.max(1, countedAcked)
    return { writesPerS: countedAcked / elapsed, cpuMsPerWrite: cpu / per, userMsPerWrite: user / per, sysMsPerWrite: sys / per, machineMsPerWrite: busy / per, leaderCpuPct: (100 * cpu) / (elapsed * 1000), kernelHandled, perWrite }
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await c.destroy()
  }
}

/** The median of each field over the rounds (the per-write counts too). */
function medianResult(rs: Result[]): Result {
  const med = (f: (r: Result) => number): number => {
    const xs = rs.map(f).sort((a, b) => a - b)
    return xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2
  }
  return {
    writesPerS: med((r) => r.writesPerS),
    cpuMsPerWrite: med((r) => r.cpuMsPerWrite),
    userMsPerWrite: med((r) => r.userMsPerWrite),
    sysMsPerWrite: med((r) => r.sysMsPerWrite),
    leaderCpuPct: med((r) => r.leaderCpuPct),
    machineMsPerWrite: med((r) => r.machineMsPerWrite),
    kernelHandled: med((r) => r.kernelHandled),
    perWrite: {
      udpIn: med((r) => r.perWrite.udpIn),
      udpOut: med((r) => r.perWrite.udpOut),
      tcpOut: med((r) => r.perWrite.tcpOut),
      readies: med((r) => r.perWrite.readies),
      kernel: med((r) => r.perWrite.kernel),
    },
  }
}

console.log(`durable writes through the leader's HTTP API, ${writers} writers, ${seconds} s per point, netns bridge, offload ${onMode} vs off, median of ${rounds} alternating rounds`)
for (const n of sizes) {
  // Alternating on and off, a fresh cluster each time: with 5 or 7 node processes on a small
  // machine, one run's figure depends on which node leads and how the scheduler places them.
  const ons: Result[] = []
  const offs: Result[] = []
  for (let i = 0; i < rounds; i++) {
    ons.push(await run(n, onMode))
    offs.push(await run(n, 'off'))
  }
  const on = medianResult(ons)
  const off = medianResult(offs)
  const line = (name: string, r: Result, all: Result[]): string =>
    `    offload ${name.padEnd(7)}: ${r.writesPerS.toFixed(0).padStart(6)} writes/s [${all.map((x) => x.writesPerS.toFixed(0)).join(', ')}], leader CPU ${r.cpuMsPerWrite.toFixed(3)} ms/write [${all.map((x) => x.cpuMsPerWrite.toFixed(3)).join(', ')}] (user ${r.userMsPerWrite.toFixed(3)} + sys ${r.sysMsPerWrite.toFixed(3)}; ${r.leaderCpuPct.toFixed(0)}% of a core), machine ${r.machineMsPerWrite.toFixed(3)} ms/write${r.kernelHandled ? `, ${r.kernelHandled.toFixed(0)} control messages handled in its kernel` : ''}\n` +
    `      per write on the leader: ${r.perWrite.udpIn.toFixed(2)} control msgs in, ${r.perWrite.udpOut.toFixed(2)} out (user space), ${r.perWrite.kernel.toFixed(2)} in its kernel, ${r.perWrite.tcpOut.toFixed(2)} append frames out, ${r.perWrite.readies.toFixed(3)} loop turns`
  const less = (a: number, b: number): string => `${((1 - a / b) * 100).toFixed(0)}% less`
  console.log(`  ${n} nodes:`)
  console.log(line(onMode, on, ons))
  console.log(line('off', off, offs))
  console.log(
    `    on/off: throughput ${(on.writesPerS / off.writesPerS).toFixed(2)}x, leader CPU per write ${less(on.cpuMsPerWrite, off.cpuMsPerWrite)} ` +
      `(user ${less(on.userMsPerWrite, off.userMsPerWrite)}, sys ${less(on.sysMsPerWrite, off.sysMsPerWrite)}), machine CPU per write ${less(on.machineMsPerWrite, off.machineMsPerWrite)}`,
  )
}
