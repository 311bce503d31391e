// Fuzzing the control and data planes' codecs in user space: UDP control packets that are random,
// truncated, extended, bit-flipped, forged (another key or cluster) and replayed; TCP frames split
// at random boundaries, bit-flipped and truncated. Decoding never throws, rejects every damaged
// packet with exactly one drop counter, and never delivers a frame that was not sent.
import fc from 'fast-check'
import t from 'tap'
import { emptyMessage, MsgType, type Message } from '../../src/raft/types.ts'
import { encodeFrame, FrameDecoder, FrameKind } from '../../src/transport/frame.ts'
import { decodeControl, deriveKey, encodeControl, newWireCounters, WIRE_SIZE, type WireCounters } from '../../src/transport/wire.ts'
import { FUZZ_RUNS, FUZZ_SEED } from './support.ts'

const KEY = deriveKey('fuzz-secret')
const OTHER_KEY = deriveKey('another-secret')
const CLUSTER = 0x5eed
const opts = { numRuns: FUZZ_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) }

const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const controlMessage: fc.Arbitrary<Message> = fc
  .record({ type: fc.integer({ min: 1, max: 8 }), from: fc.integer({ min: 1, max: 0xffff }), to: fc.integer({ min: 1, max: 0xffff }), term: u64, index: u64, logTerm: u64, commit: u64, reject: fc.boolean() })
  .map((r) => ({ ...emptyMessage(r.type as MsgType, r.from, r.to, r.term), index: r.index, logTerm: r.logTerm, commit: r.commit, reject: r.reject }))

const total = (c: WireCounters) => Object.values(c).reduce((a, b) => a + b, 0)

t.test('control packets: round trip, and every damaged one is dropped and counted once', async (t) => {
  fc.assert(
    fc.property(controlMessage, fc.array(fc.tuple(fc.nat(WIRE_SIZE * 8 - 1)), { minLength: 1, maxLength: 3 }), (m, flips) => {
      const good = encodeControl(m, CLUSTER, KEY)
      const c = newWireCounters()
      const back = decodeControl(good, CLUSTER, KEY, c)
      if (back === null || back.term !== m.term || back.index !== m.index || back.type !== m.type || total(c) !== 0) return false
      // A replay decodes to the same message (replays are Raft's to judge, by term and index).
      if (JSON.stringify(decodeControl(good, CLUSTER, KEY, c)) !== JSON.stringify(back)) return false
      const bad = Buffer.from(good)
      const bits = new Set(flips.map(([b]) => b))
      for (const b of bits) bad[b >> 3]! ^= 1 << (b & 7)
      const c2 = newWireCounters()
      return decodeControl(bad, CLUSTER, KEY, c2) === null && total(c2) === 1
    }),
    opts,
  )
  t.pass('bit flips')
  fc.assert(
    fc.property(controlMessage, fc.integer({ min: 0, max: WIRE_SIZE * 2 }), (m, len) => {
      fc.pre(len !== WIRE_SIZE)
      const good = encodeControl(m, CLUSTER, KEY)
      const resized = Buffer.alloc(len)
      good.copy(resized, 0, 0, Math.min(len, WIRE_SIZE))
      const c = newWireCounters()
      return decodeControl(resized, CLUSTER, KEY, c) === null && c.badSize === 1 && total(c) === 1
    }),
    opts,
  )
  t.pass('truncated and extended')
  fc.assert(
    fc.property(controlMessage, (m) => {
      const c = newWireCounters()
      const forged = decodeControl(encodeControl(m, CLUSTER, OTHER_KEY), CLUSTER, KEY, c) === null && c.badMac === 1
      const c2 = newWireCounters()
      const unsigned = decodeControl(encodeControl(m, CLUSTER, null), CLUSTER, KEY, c2) === null && c2.badMac === 1
      const c3 = newWireCounters()
      const foreign = decodeControl(encodeControl(m, CLUSTER + 1, KEY), CLUSTER, KEY, c3) === null && c3.badCluster === 1
      return forged && unsigned && foreign
    }),
    opts,
  )
  t.pass('forged: another key, no MAC, another cluster')
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: WIRE_SIZE + 8 }), (bytes) => {
      const c = newWireCounters()
      return decodeControl(bytes, CLUSTER, KEY, c) === null && total(c) === 1
    }),
    opts,
  )
  t.pass('random bytes')
})

const frame = fc.record({ kind: fc.constantFrom(...Object.values(FrameKind)), payload: fc.uint8Array({ maxLength: 300 }) })

/** Feeds `stream` to a decoder in chunks cut at `cuts`; returns the frames and the error. */
function decodeAll(stream: Buffer, cuts: number[]): { frames: { kind: number; payload: Buffer }[]; failed: boolean; pending: boolean } {
  const frames: { kind: number; payload: Buffer }[] = []
  const d = new FrameDecoder((kind, payload) => frames.push({ kind, payload: Buffer.from(payload) }), { maxFrame: 4096 })
  let pos = 0
  for (const cut of [...cuts.map((c) => c % (stream.length + 1)), stream.length].sort((a, b) => a - b)) {
    if (cut <= pos) continue
    d.push(stream.subarray(pos, cut))
    pos = cut
  }
  return { frames, failed: d.failed !== null, pending: d.pending }
}

t.test('TCP frames: any chunking decodes the same; damage is detected, never delivered', async (t) => {
  fc.assert(
    fc.property(fc.array(frame, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (fs, cuts) => {
      const stream = Buffer.concat(fs.map((f) => encodeFrame(f.kind, f.payload)))
      const r = decodeAll(stream, cuts)
      return !r.failed && !r.pending && r.frames.length === fs.length && r.frames.every((g, i) => g.kind === fs[i]!.kind && g.payload.equals(Buffer.from(fs[i]!.payload)))
    }),
    opts,
  )
  t.pass('chunking')
  fc.assert(
    fc.property(fc.array(frame, { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 0, max: 7 }), fc.array(fc.nat(), { maxLength: 4 }), (fs, at, bit, cuts) => {
      const encoded = fs.map((f) => encodeFrame(f.kind, f.payload))
      const stream = Buffer.concat(encoded)
      const pos = at % stream.length
      stream[pos]! ^= 1 << bit
      const r = decodeAll(stream, cuts)
      // Which frame holds the flipped byte: every frame before it arrives intact, that one never.
      let hit = 0
      for (let off = 0; off + encoded[hit]!.length <= pos; off += encoded[hit++]!.length);
      const intact = r.frames.slice(0, hit).every((g, i) => g.kind === fs[i]!.kind && g.payload.equals(Buffer.from(fs[i]!.payload)))
      return intact && r.frames.length <= hit && (r.failed || r.pending)
    }),
    opts,
  )
  t.pass('bit flips')
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
      // Random bytes: whatever the decoder makes of them, it does not throw and accepts at most
      // frames whose CRC happens to hold (checked by construction in the decoder).
      decodeAll(Buffer.from(bytes), cuts)
      return true
    }),
    opts,
  )
  t.pass('random bytes')
})
