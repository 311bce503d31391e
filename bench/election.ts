// Election duration and failover window, kernel fast path on (generic or native XDP) vs off, on a
// netns cluster (test/offload/fixtures/netns.ts). Each run SIGKILLs the leader; the new leader's
// RPC log gives the phases of the election that elected it, on the same CLOCK_MONOTONIC as the
// kill (namespaces do not change it):
//   pre-vote  = became pre-candidate → became candidate (a pre-vote quorum: answered by the
//               peers' kernels when the fast path is on)
//   vote      = became candidate → became leader (grants persist the vote first: user space)
//   election  = pre-candidate → leader (start → quorum)
//   failover  = kill → new leader (includes the election timeout that detects the loss)
// The killed node is restarted and caught up before the next run. Reports numbers; asserts nothing.
//
//   npm run bench:election -- [--runs 5] [--nodes 3] [--mode generic|native]

import { parseArgs } from 'node:util'
import { NetnsCluster, netnsSkipReason, type NetnsMode } from '../test/offload/fixtures/netns.ts'
import { sleep, waitFor } from '../test/cluster/fixtures/helpers.ts'
import type { RpcLogPage } from '../src/observe/json.ts'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, nodes: { type: 'string', default: '3' }, mode: { type: 'string', default: 'generic' } } })
const runs = Number(values.runs)
const nodes = Number(values.nodes)
const onMode: NetnsMode = values.mode === 'native' ? 'native' : 'generic'

const skip = netnsSkipReason()
if (skip) {
  console.log(`bench/election: cannot run here: ${skip}`)
  process.exit(0)
}

interface Sample {
  preVoteMs: number
  voteMs: number
  electionMs: number
  failoverMs: number
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function phases(c: NetnsCluster, leader: number, killedAtNs: bigint): Promise<Sample | null> {
  const r = await fetch(`${c.url(leader)}/rpc-log?kind=role&limit=200`, { signal: AbortSignal.timeout(5000) })
  const page = (await r.json()) as RpcLogPage
  const roles = page.records.filter((x) => x.kind === 'role')
  const last = <T>(xs: T[], ok: (x: T) => boolean): number => {
    for (let i = xs.length - 1; i >= 0; i--) if (ok(xs[i]!)) return i
    return -1
  }
  const li = last(roles, (x) => x.role === 'leader')
  if (li < 0) return null
  const cand = roles[last(roles.slice(0, li), (x) => x.role === 'candidate')]
  const pre = roles[last(roles.slice(0, li), (x) => x.role === 'pre-candidate')]
  const lead = roles[li]!
  if (!cand || !pre) return null
  const ms = (a: number, b: number): number => (b - a) / 1e6
  return { preVoteMs: ms(pre.mono, cand.mono), voteMs: ms(cand.mono, lead.mono), electionMs: ms(pre.mono, lead.mono), failoverMs: ms(Number(killedAtNs), lead.mono) }
}

async function measure(mode: NetnsMode): Promise<Sample[]> {
  const c = await NetnsCluster.start(null, { nodes, mode, logLevel: 'warn' })
  const stop = (): void => void c.destroy().then(() => process.exit(130))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const out: Sample[] = []
  try {
    await c.waitForLeader(c.ids, 90_000)
    for (let i = 0; i < runs; i++) {
      const { leader } = await c.waitForLeader(c.ids, 30_000)
      await c.put(`warm${i}`, 'x')
      await sleep(500)
      const killedAt = process.hrtime.bigint()
      await c.kill(leader, 'SIGKILL')
      const next = await c.waitForLeader(c.alive(), 30_000)
      const s = await phases(c, next.leader, killedAt)
      if (s) out.push(s)
      else console.log(`  run ${i + 1}: no pre-candidate → leader sequence in node ${next.leader}'s RPC log`)
      c.spawn(leader)
      await waitFor('the killed node back', async () => (await c.status(leader))?.leader === next.leader, 90_000)
    }
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await c.destroy()
  }
  return out
}

console.log(`election and failover, ${nodes} nodes on a netns bridge, ${runs} leader kills per mode (election timeout 150–300 ms)`)
for (const mode of [onMode, 'off'] as const) {
  const s = await measure(mode)
  const f = (k: keyof Sample): string => `${median(s.map((x) => x[k])).toFixed(3)} ms`
  console.log(`  offload ${mode.padEnd(7)}: election p50 ${f('electionMs')} (pre-vote ${f('preVoteMs')}, vote ${f('voteMs')}), failover median ${f('failoverMs')}  [${s.length} runs; elections ${s.map((x) => x.electionMs.toFixed(2)).join(', ')} ms]`)
}
