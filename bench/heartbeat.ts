// Heartbeat round trip, leader → follower → leader, kernel path vs user path in the same run.
//
// Three network namespaces on a bridge (test/offload/fixtures/netns.ts). Node 1 is played by this
// benchmark: bench/native/rtt_probe.c, run in node 1's namespace on node 1's Raft address,
// sends signed heartbeats of a term above everyone's and times each ack. Node 2 is a real node
// with the fast path attached (its kernel answers), node 3 a real node with it off (its run loop
// answers: socket → codec → Raft core → Ready → socket). Heartbeats alternate between the two, one
// in flight at a time. Reports p50/p99/max per path; asserts nothing.
//
//   npm run bench:heartbeat -- [--count 10000] [--mode generic|native] [--gap-us 0] [--spin]
//
// --gap-us pauses after each round trip: 0 measures both paths hot (the user-space node is busy
// answering and never sleeps); a gap of a millisecond or more is closer to a cluster, where a
// follower's process sleeps between heartbeats and must be woken for each one. --spin makes the
// probe poll its socket instead of sleeping in recvfrom (only worth it with a core to spare).

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { MsgType, emptyMessage } from '../src/raft/types.ts'
import { WIRE_LAYOUT, deriveKey, encodeControl } from '../src/transport/wire.ts'
import { NetnsCluster, netnsSkipReason } from '../test/offload/fixtures/netns.ts'
import { repoRoot, waitFor } from '../test/cluster/fixtures/helpers.ts'

const { values } = parseArgs({ options: { count: { type: 'string', default: '10000' }, mode: { type: 'string', default: 'generic' }, warmup: { type: 'string', default: '500' }, 'gap-us': { type: 'string', default: '0' }, spin: { type: 'boolean', default: false } } })
const gapUs = Number(values['gap-us'])
const count = Number(values.count)
const warmup = Number(values.warmup)
const mode = values.mode === 'native' ? 'native' : 'generic'
const SECRET = 'bench-heartbeat-secret'
const CLUSTER_ID = 1

const skip = netnsSkipReason()
if (skip) {
  console.log(`bench/heartbeat: cannot run here: ${skip}`)
  process.exit(0)
}

const work = mkdtempSync(join(tmpdir(), 'raftkv-hb-'))
const probe = join(work, 'rtt_probe')
// clang is what scripts/setup.sh installs (for the BPF object); a plain cc does as well.
let cc = spawnSync(process.env['CC'] ?? 'clang', ['-O2', '-o', probe, resolve(repoRoot, 'bench', 'native', 'rtt_probe.c')], { encoding: 'utf8' })
if (cc.status !== 0 && !process.env['CC']) cc = spawnSync('cc', ['-O2', '-o', probe, resolve(repoRoot, 'bench', 'native', 'rtt_probe.c')], { encoding: 'utf8' })
if (cc.status !== 0) {
  console.log(`bench/heartbeat: cannot build the probe: ${cc.stderr || cc.error?.message}`)
  process.exit(0)
}

function quantiles(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: s[s.length - 1] ?? NaN }
}

const us = (ns: number): string => (ns / 1000).toFixed(1)

const c = await NetnsCluster.start(null, { nodes: 3, mode, spawn: [2, 3], modeOf: (id) => (id === 2 ? mode : 'off'), secret: SECRET, logLevel: 'warn' })
const stop = (): void => void c.destroy().then(() => process.exit(130))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
try {
  const st = await waitFor('nodes 2 and 3 up', async () => {
    const m = await c.statuses([2, 3])
    return m.size === 2 ? m : undefined
  }, 90_000)
  const s2 = st.get(2)!
  if (s2.offload.mode !== mode) throw new Error(`node 2 did not attach in ${mode} mode: ${JSON.stringify(s2.offload)}`)
  const term = Math.max(...[...st.values()].map((s) => s.term)) + 1
  // [u8 target][u16le length][payload] per heartbeat; target 0 = node 2 (kernel), 1 = node 3 (user).
  const key = deriveKey(SECRET)
  const total = 2 * (count + warmup)
  const file = Buffer.alloc(total * (3 + WIRE_LAYOUT.size))
  let off = 0
  for (let i = 0; i < total; i++) {
    const to = i % 2 === 0 ? 2 : 3
    const m = emptyMessage(MsgType.Heartbeat, 1, to, term)
    m.ctx = i + 1
    const p = encodeControl(m, CLUSTER_ID, key)
    file.writeUInt8(i % 2, off)
    file.writeUInt16LE(p.length, off + 1)
    p.copy(file, off + 3)
    off += 3 + p.length
  }
  const payloads = join(work, 'payloads')
  const out = join(work, 'rtts')
  writeFileSync(payloads, file)
  const before = await waitFor('node 2 status', async () => (await c.status(2, 5000)) ?? undefined, 20_000)
  const r = spawnSync('ip', ['netns', 'exec', c.nsName(1), probe, c.addr(1), String(c.raftPort(1)), payloads, out, String(WIRE_LAYOUT.fields.type.offset), String(WIRE_LAYOUT.fields.ctx.offset), String(MsgType.HeartbeatResp), String(gapUs), values.spin ? '1' : '0', `${c.addr(2)}:${c.raftPort(2)}`, `${c.addr(3)}:${c.raftPort(3)}`], { encoding: 'utf8', timeout: 600_000 })
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`)
  const after = await waitFor('node 2 status', async () => (await c.status(2, 5000)) ?? undefined, 20_000)
  if (!c.procs.get(2)?.alive || !c.procs.get(3)?.alive) c.dumpLogs((l) => console.error(l))
  const raw = readFileSync(out)
  const kernel: number[] = []
  const user: number[] = []
  let lostK = 0
  let lostU = 0
  for (let i = 2 * warmup; i < total; i++) {
    const v = Number(raw.readBigInt64LE(8 * i))
    if (i % 2 === 0) v < 0 ? lostK++ : kernel.push(v)
    else v < 0 ? lostU++ : user.push(v)
  }
  const k = quantiles(kernel)
  const u = quantiles(user)
  const answered = (s: NonNullable<typeof before>): number => (s.offload.mode === 'off' ? 0 : s.offload.byType['Heartbeat']?.answered ?? 0)
  const hbAnswered = answered(after) - answered(before)
  console.log(`heartbeat round trip, ${mode} XDP on veth through a bridge, ${count} heartbeats per path (after ${warmup} warm-up each), one in flight, ${gapUs} µs pause after each`)
  console.log(`  kernel path (node 2): p50 ${us(k.p50)} µs  p99 ${us(k.p99)} µs  max ${us(k.max)} µs  (${k.n} acks, ${lostK} lost; its kernel answered ${hbAnswered} heartbeats)`)
  console.log(`  user path   (node 3): p50 ${us(u.p50)} µs  p99 ${us(u.p99)} µs  max ${us(u.max)} µs  (${u.n} acks, ${lostU} lost)`)
  console.log(`  user/kernel at p50: ${(u.p50 / k.p50).toFixed(1)}x   at p99: ${(u.p99 / k.p99).toFixed(1)}x`)
} finally {
  await c.destroy()
  rmSync(work, { recursive: true, force: true })
}
