// Fuzzing the UDP control plane where packets really arrive: through the XDP program under
// BPF_PROG_RUN (skipped without root/BPF, with the reason), and at a live node's Raft port.
// The XDP program must never answer (XDP_TX) a packet the user-space codec rejects, must never
// abort, and may only pass or drop the rest; the node must count every damaged packet as a drop
// and keep leading and serving writes. TCP: random bytes instead of the signed hello are refused
// and counted.
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import fc from 'fast-check'
import t from 'tap'
import { FastPath } from '../../src/offload/offload.ts'
import { MsgType } from '../../src/raft/types.ts'
import { decodeControl, deriveKey, encodeControl, newWireCounters, WIRE_SIZE } from '../../src/transport/wire.ts'
import { Cluster, waitFor } from '../cluster/fixtures/helpers.ts'
import { bpfSkipReason, CLUSTER, followerState, ipv4Packet, KEY, LEADER_EP, msg, XDP } from '../offload/helpers.ts'
import { FUZZ_RUNS, FUZZ_SEED, RSS_GROWTH_LIMIT, rssBytes } from './support.ts'

const seedOpt = FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}

/** A control payload: valid, bit-flipped, truncated, forged, or random. */
const payload = fc.oneof(
  fc.record({ type: fc.integer({ min: 1, max: 8 }), term: fc.integer({ min: 0, max: 9 }), index: fc.integer({ min: 0, max: 12 }) }).map((r) => encodeControl(msg(r.type as MsgType, 1, 2, r.term, { index: r.index, logTerm: 5, commit: 8 }), CLUSTER, KEY)),
  fc.tuple(fc.integer({ min: 1, max: 8 }), fc.nat(WIRE_SIZE * 8 - 1)).map(([ty, bit]) => {
    const b = encodeControl(msg(ty as MsgType, 1, 2, 5, { index: 10, logTerm: 5, commit: 8 }), CLUSTER, KEY)
    b[bit >> 3]! ^= 1 << (bit & 7)
    return b
  }),
  fc.nat(WIRE_SIZE - 1).map((n) => encodeControl(msg(MsgType.Heartbeat, 1, 2, 5, { index: 10, logTerm: 5 }), CLUSTER, KEY).subarray(0, n)),
  fc.integer({ min: 1, max: 8 }).map((ty) => encodeControl(msg(ty as MsgType, 1, 2, 5, { index: 10, logTerm: 5 }), CLUSTER, deriveKey('forger'))),
  fc.uint8Array({ maxLength: WIRE_SIZE + 16 }).map((u) => Buffer.from(u)),
)

const bpfSkip = bpfSkipReason()
t.test('XDP program under BPF_PROG_RUN: never answers what user space would reject', { skip: bpfSkip }, async (t) => {
  const fp = FastPath.open({ port: LEADER_EP.dport, slot: 0 })
  t.teardown(() => fp.close())
  fp.state.reset()
  fp.publish(followerState())
  const inputs = fc.sample(payload, { numRuns: FUZZ_RUNS, ...seedOpt })
  const verdicts = new Map<number, number>()
  const bad: string[] = []
  for (const p of inputs) {
    // A fresh liveness stamp each time: otherwise the program passes everything up (stale user space).
    fp.touch()
    const r = fp.testRun(ipv4Packet(Buffer.from(p)))
    verdicts.set(r.retval, (verdicts.get(r.retval) ?? 0) + 1)
    const valid = decodeControl(p, CLUSTER, KEY, newWireCounters()) !== null
    if (r.retval !== XDP.PASS && r.retval !== XDP.DROP && r.retval !== XDP.TX) bad.push(`verdict ${r.retval} for ${p.toString('hex')}`)
    if (r.retval === XDP.TX && !valid) bad.push(`answered an invalid packet ${p.toString('hex')}`)
  }
  t.comment(`verdicts: ${JSON.stringify(Object.fromEntries(verdicts))}`)
  t.same(bad.slice(0, 5), [], 'only PASS, DROP, or TX of a valid packet')
  t.ok((verdicts.get(XDP.TX) ?? 0) > 0, 'valid packets were answered in the kernel (the property is not vacuous)')
})

t.test('UDP and TCP garbage at a live node', async (t) => {
  const secret = 'fuzz-udp-secret'
  const c = await Cluster.start(t, { nodes: 1, name: 'fuzz-udp', logLevel: 'warn', secret })
  // Generous: starting a node under tsx takes long on a loaded 2-core machine.
  await c.waitForLeader(undefined, 90_000)
  const pid = c.procs.get(1)!.pid
  const port = c.raftPort(1)
  const before = (await c.status(1))!
  const dropsOf = (s: typeof before) => Object.values(s.transport.wire).reduce((a, b) => a + b, 0)
  const rss0 = rssBytes(pid)
  // Packets addressed as from peer 2 to node 1, in this cluster's id 1 (the default), damaged or
  // forged: none of them can carry a valid MAC under the node's key.
  const key = deriveKey(secret)
  const inputs = fc.sample(payload, { numRuns: FUZZ_RUNS, ...seedOpt }).map((p) => Buffer.from(p))
  let invalid = 0
  const sock = createSocket('udp4')
  t.teardown(() => sock.close())
  const counted = async (n: number) => {
    const s = await c.status(1)
    return s !== null && dropsOf(s) - dropsOf(before) >= n
  }
  for (let i = 0; i < inputs.length; i++) {
    const p = inputs[i]!
    // CLUSTER/KEY of the offload helpers differ from the node's cluster id 1 and key: all invalid.
    if (decodeControl(p, 1, key, newWireCounters()) === null) invalid++
    await new Promise<void>((r) => sock.send(p, port, '127.0.0.1', () => r()))
    // In batches the node has counted before the next: a full socket buffer would drop datagrams
    // before the node ever sees them (the kernel's drop, not the node's).
    if (i % 100 === 99) await waitFor(`${invalid} datagrams counted`, () => counted(invalid), 10_000)
  }
  // A valid packet from an unknown peer (id 9), replayed: counted, not acted on.
  const stray = encodeControl(msg(MsgType.Vote, 9, 1, 1_000_000, { index: 1, logTerm: 1 }), 1, key)
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => sock.send(stray, port, '127.0.0.1', () => r()))
  await waitFor('every datagram counted', () => counted(invalid + 3), 10_000)
  const after = (await c.status(1))!
  t.equal(dropsOf(after) - dropsOf(before), invalid + 3, `${invalid} damaged datagrams and 3 from an unknown peer counted as drops`)
  t.equal(after.role, 'leader', 'still the leader')
  t.equal(after.term, before.term, 'no stray packet moved the term')

  // TCP: random bytes where the signed hello should be.
  // Short ones end before a whole hello (72 bytes) arrived; long ones are a hello that fails.
  const tcpInputs = fc.sample(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 71 }), fc.uint8Array({ minLength: 72, maxLength: 300 })), { numRuns: Math.min(FUZZ_RUNS, 500), ...seedOpt })
  const whole = tcpInputs.filter((b) => b.length >= 72).length
  for (const bytes of tcpInputs) {
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => s.end(Buffer.from(bytes)))
      s.on('error', () => resolve())
      s.on('close', () => resolve())
      s.resume()
      setTimeout(() => s.destroy(), 2000)
    })
  }
  const end = await waitFor('bad hellos counted', async () => {
    const s = await c.status(1)
    return s && s.transport.tcpBadHello >= before.transport.tcpBadHello + whole ? s : undefined
  })
  t.equal(end.transport.tcpBadHello - before.transport.tcpBadHello, whole, `every one of the ${whole} whole random hellos refused and counted`)
  t.ok(c.procs.get(1)!.alive, 'the node never crashed')
  await c.put('after-fuzz', 'v', 5000)
  t.pass('still serving writes')
  const growth = rssBytes(pid) - rss0
  t.ok(growth < RSS_GROWTH_LIMIT, `memory growth ${(growth / 1048576).toFixed(1)} MiB`)
})
