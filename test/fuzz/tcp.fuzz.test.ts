// Fuzzing the TCP data plane of a live node past its handshake: each input is a connection that
// presents a valid hello from a configured peer (the secret is known here) and then sends hostile
// frames — random payloads under a correct CRC (so the message decoder, not the frame checksum,
// must refuse them), real append frames with flipped bits or cut short and then re-sealed, bad
// kinds, huge lengths and raw garbage. The node decodes with the same code the test uses to
// predict the outcome, so every frame it must refuse is counted exactly once; it never crashes,
// keeps answering, and does not grow its memory with the number of inputs.
import { connect } from 'node:net'
import fc from 'fast-check'
import t from 'tap'
import { emptyMessage, MsgType, type Entry } from '../../src/raft/types.ts'
import { decodeDataMessage, encodeAppend } from '../../src/transport/datamsg.ts'
import { encodeFrame, FrameDecoder, FrameKind, sealFrame } from '../../src/transport/frame.ts'
import { encodeHello, helloKey } from '../../src/transport/hello.ts'
import { deriveKey } from '../../src/transport/wire.ts'
import { Cluster, waitFor } from '../cluster/fixtures/helpers.ts'
import { FUZZ_CONCURRENCY, FUZZ_RUNS, FUZZ_SEED, pool, RSS_GROWTH_LIMIT, rssBytes } from './support.ts'

const CLUSTER_ID = 1 // the node's default
const SECRET = 'fuzz-tcp-secret'

/** A real append from peer 2 to node 1 (term and entries vary). */
const append = fc
  .record({ term: fc.integer({ min: 0, max: 50 }), index: fc.integer({ min: 0, max: 100 }), n: fc.integer({ min: 0, max: 3 }), data: fc.uint8Array({ maxLength: 40 }) })
  .map((r) => {
    const entries: Entry[] = Array.from({ length: r.n }, (_, i) => ({ index: r.index + 1 + i, term: r.term, type: 0 as const, data: r.data }))
    return encodeAppend({ ...emptyMessage(MsgType.Append, 2, 1, r.term), index: r.index, logTerm: r.term, commit: 0, entries }, CLUSTER_ID)
  })

const frameInput: fc.Arbitrary<Buffer> = fc.oneof(
  // A correct frame around a random payload: only the message decoder can refuse it.
  fc.record({ kind: fc.constantFrom(FrameKind.Append, FrameKind.Snapshot, FrameKind.ReadIndex, FrameKind.ReadIndexResp), payload: fc.uint8Array({ maxLength: 200 }) }).map((r) => encodeFrame(r.kind, r.payload)),
  // A real append with flipped bits in its payload, re-sealed (the CRC agrees with the damage).
  fc.tuple(append, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3 })).map(([f, flips]) => {
    const b = Buffer.from(f)
    const span = b.length - 9 // between the 5-byte header and the 4-byte CRC
    for (const [at, bit] of flips) b[5 + (at % span)]! ^= 1 << bit
    return sealFrame(b)
  }),
  // A real append cut short, its length field and CRC made to agree with the cut.
  fc.tuple(append, fc.nat()).map(([f, cut]) => {
    const payload = f.subarray(5, f.length - 4)
    return encodeFrame(FrameKind.Append, payload.subarray(0, cut % Math.max(1, payload.length)))
  }),
  // A real append whose CRC is wrong.
  fc.tuple(append, fc.integer({ min: 1, max: 0xffffffff })).map(([f, x]) => {
    const b = Buffer.from(f)
    b.writeUInt32BE((b.readUInt32BE(b.length - 4) ^ x) >>> 0, b.length - 4)
    return b
  }),
  // Header damage: an unknown kind, or a length past the limit.
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 32 })).map(([kind, len, rest]) => {
    const b = Buffer.alloc(5 + rest.length)
    b.writeUInt32BE(len >>> 0, 0)
    b[4] = kind
    b.set(rest, 5)
    return b
  }),
  // Raw garbage, and valid frames followed by garbage.
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u)),
  fc.tuple(append, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([f, g]) => Buffer.concat([f, g])),
)

/** What the node must count for this input: frames refused (at most one: it closes), delivered. */
function predict(bytes: Buffer): { bad: number; delivered: number } {
  let bad = 0
  let delivered = 0
  let closed = false
  const dec = new FrameDecoder((kind, payload) => {
    if (closed) return
    const r = decodeDataMessage(kind, payload, CLUSTER_ID)
    if (!r.ok) {
      bad++
      closed = true
    } else delivered++
  })
  if (dec.push(bytes) && !closed) bad++
  return { bad, delivered }
}

t.test('TCP frames after a valid hello at a live node', async (t) => {
  // Three configured members, one running: peer 2 is known (its hello is accepted) but absent,
  // so nothing else writes to node 1's data plane while the test counts.
  const c = await Cluster.create(t, { nodes: 3, name: 'fuzz-tcp', logLevel: 'error', secret: SECRET })
  c.spawn(1)
  const base = await waitFor('node 1 answers /status', async () => (await c.status(1)) ?? undefined, 90_000)
  const pid = c.procs.get(1)!.pid
  const port = c.raftPort(1)
  const hkey = helloKey(deriveKey(SECRET))
  const inputs = fc.sample(frameInput, { numRuns: FUZZ_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) })
  let wantBad = 0
  let wantDelivered = 0
  let rss0 = 0
  await pool(inputs.length, FUZZ_CONCURRENCY, async (i) => {
    if (i === Math.min(500, inputs.length - 1)) rss0 = rssBytes(pid)
    const bytes = inputs[i]!
    const p = predict(bytes)
    wantBad += p.bad
    wantDelivered += p.delivered
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => s.end(Buffer.concat([encodeHello(hkey, CLUSTER_ID, 2, 1), bytes])))
      s.on('error', () => resolve())
      s.on('close', () => resolve())
      s.resume()
      setTimeout(() => s.destroy(), 5000).unref()
    })
  })
  const counted = (s: NonNullable<Awaited<ReturnType<typeof c.status>>>) => s.transport.tcpBadFrames - base.transport.tcpBadFrames
  const end = await waitFor('refused frames counted', async () => {
    const s = await c.status(1)
    return s && counted(s) >= wantBad ? s : undefined
  }, 30_000).catch(() => c.status(1))
  t.ok(end, 'node 1 still answers')
  t.equal(counted(end!), wantBad, `${wantBad} refused frames counted (of ${inputs.length} inputs)`)
  const delivered = end!.transport.tcpFramesReceived - base.transport.tcpFramesReceived + (end!.transport.misaddressed - base.transport.misaddressed)
  t.equal(delivered, wantDelivered, `${wantDelivered} well-formed frames delivered (or counted as misaddressed)`)
  t.equal(end!.transport.tcpBadHello - base.transport.tcpBadHello, 0, 'every hello accepted')
  t.ok(wantBad > inputs.length / 4 && wantDelivered > 0, 'both refused and accepted frames were exercised')
  t.ok(c.procs.get(1)!.alive, 'the node never crashed')
  const growth = rssBytes(pid) - rss0
  t.ok(growth < RSS_GROWTH_LIMIT, `memory growth ${(growth / 1048576).toFixed(1)} MiB over ${inputs.length} inputs`)
})
