// The UDP control codec: round trips, authentication, and every way a packet is dropped.

import t from 'tap'
import { createHash } from 'node:crypto'
import { MsgType, emptyMessage, type Message } from '../../src/raft/types.ts'
import { siphash24Into } from '../../src/transport/siphash.ts'
import {
  WIRE_LAYOUT, WIRE_SIZE, WireType, decodeControl, deriveKey, encodeControl, isControlType,
  newWireCounters, type WireCounters,
} from '../../src/transport/wire.ts'
import { rng } from './helpers.ts'

const F = WIRE_LAYOUT.fields
const CLUSTER = 0xdeadbeef
const KEY = deriveKey('correct horse battery staple')
const CONTROL_TYPES = Object.values(WireType) as MsgType[]

/** A u64 that exercises both halves: mostly full 53-bit values, some small, some 0. */
function u53(r: ReturnType<typeof rng>): number {
  const k = r.int(4)
  if (k === 0) return 0
  if (k === 1) return r.int(1000)
  return r.int(0x200000) * 4294967296 + r.u32()
}

function randomMessage(r: ReturnType<typeof rng>, type: MsgType): Message {
  const m = emptyMessage(type, r.int(0x10000), r.int(0x10000), u53(r))
  m.index = u53(r)
  m.logTerm = u53(r)
  m.commit = u53(r)
  m.ctx = u53(r)
  m.hint = u53(r)
  m.reject = r.int(2) === 1
  m.transfer = r.int(2) === 1
  return m
}

/** Recomputes the MAC of a hand-edited packet, so only the edited field can cause the drop. */
function remac(b: Buffer, key: Uint8Array | null): Buffer {
  const out = new Uint32Array(2)
  if (key === null) b.fill(0, F.mac.offset)
  else {
    siphash24Into(key, b, 0, F.mac.offset, out)
    b.writeUInt32BE(out[0]!, F.mac.offset)
    b.writeUInt32BE(out[1]!, F.mac.offset + 4)
  }
  return b
}

/** The two assertions expectDrop needs (any tap Test has them). */
interface Asserts {
  pass(msg: string): unknown
  fail(msg: string): unknown
}

/** Asserts the packet is dropped with exactly one increment, of `counter`. */
function expectDrop(t: Asserts, buf: Uint8Array, key: Uint8Array | null, counter: keyof WireCounters, what: string, cluster = CLUSTER): void {
  const c = newWireCounters()
  const m = decodeControl(buf, cluster, key, c)
  const bumped = Object.entries(c).filter(([, v]) => v !== 0)
  if (m !== null || bumped.length !== 1 || bumped[0]![0] !== counter || bumped[0]![1] !== 1) {
    t.fail(`${what}: expected one ${counter}, got ${m === null ? JSON.stringify(c) : 'a message'}`)
  } else t.pass(what)
}

t.test('round trip of every control type with random fields, with and without a key', async (t) => {
  const r = rng(1)
  const out = Buffer.alloc(WIRE_SIZE)
  let ok = 0
  for (let i = 0; i < 4000; i++) {
    const type = CONTROL_TYPES[i % CONTROL_TYPES.length]!
    const m = randomMessage(r, type)
    const key = i % 2 === 0 ? KEY : null
    const cluster = r.u32()
    // Alternate between a fresh buffer and a reused one: both must give the same bytes.
    const b = i % 3 === 0 ? encodeControl(m, cluster, key, out) : encodeControl(m, cluster, key)
    const d = decodeControl(b, cluster, key, newWireCounters())
    if (b.length === WIRE_SIZE && JSON.stringify(d) === JSON.stringify(m)) ok++
    else t.same(d, m, `message ${i}`)
  }
  t.equal(ok, 4000, 'all decode to the identical Message (same fields, same key order)')
})

t.test('encoded bytes follow the layout (big-endian fields at the table offsets)', async (t) => {
  const m = emptyMessage(MsgType.AppendResp, 3, 0x1234, 0x1f_0000_0001)
  m.index = 7
  m.logTerm = 8
  m.commit = 9
  m.ctx = 10
  m.hint = Number.MAX_SAFE_INTEGER
  m.reject = true
  const b = encodeControl(m, 0x01020304, null)
  t.equal(b.readUInt32BE(F.magic.offset), 0x52464b56)
  t.equal(b.subarray(0, 4).toString('latin1'), 'RFKV', 'the magic spells RFKV on the wire')
  t.equal(b[F.version.offset], 1)
  t.equal(b[F.type.offset], MsgType.AppendResp)
  t.equal(b.readUInt16BE(F.flags.offset), 1)
  t.equal(b.readUInt32BE(F.cluster_id.offset), 0x01020304)
  t.equal(b.readUInt16BE(F.from.offset), 3)
  t.equal(b.readUInt16BE(F.to.offset), 0x1234)
  t.equal(b.readBigUInt64BE(F.term.offset), 0x1f_0000_0001n)
  t.equal(b.readBigUInt64BE(F.index.offset), 7n)
  t.equal(b.readBigUInt64BE(F.log_term.offset), 8n)
  t.equal(b.readBigUInt64BE(F.commit.offset), 9n)
  t.equal(b.readBigUInt64BE(F.ctx.offset), 10n)
  t.equal(b.readBigUInt64BE(F.hint.offset), BigInt(Number.MAX_SAFE_INTEGER))
  t.equal(b.readBigUInt64BE(F.mac.offset), 0n, 'no key → mac 0')
  m.transfer = true
  m.reject = false
  t.equal(encodeControl(m, 1, null).readUInt16BE(F.flags.offset), 2, 'transfer flag')
})

t.test('every single-bit flip of a MACed packet is dropped with the right counter', async (t) => {
  const r = rng(2)
  for (const type of CONTROL_TYPES) {
    const good = encodeControl(randomMessage(r, type), CLUSTER, KEY)
    let wrong = 0
    for (let bit = 0; bit < WIRE_SIZE * 8; bit++) {
      const b = Buffer.from(good)
      const byte = bit >>> 3
      b[byte]! ^= 1 << (bit & 7)
      // Which check fires first: the header checks precede the MAC check.
      let want: keyof WireCounters = 'badMac'
      if (byte < 4) want = 'badMagic'
      else if (byte === F.version.offset) want = 'badVersion'
      else if (byte === F.type.offset && !isControlType(b[byte]!)) want = 'badType'
      else if ((byte === 6 || byte === 7) && (b.readUInt16BE(6) & ~3) !== 0) want = 'badFlags'
      else if (byte >= 8 && byte < 12) want = 'badCluster'
      const c = newWireCounters()
      const d = decodeControl(b, CLUSTER, KEY, c)
      if (d !== null || c[want] !== 1 || Object.values(c).reduce((a, v) => a + v, 0) !== 1) wrong++
    }
    t.equal(wrong, 0, `type ${type}: ${WIRE_SIZE * 8} flips, each dropped once with the expected counter`)
  }
})

t.test('key mismatches are badMac', async (t) => {
  const m = randomMessage(rng(3), MsgType.Vote)
  expectDrop(t, encodeControl(m, CLUSTER, KEY), deriveKey('other secret'), 'badMac', 'MACed with another key')
  expectDrop(t, encodeControl(m, CLUSTER, KEY), null, 'badMac', 'MACed packet, receiver has no secret')
  expectDrop(t, encodeControl(m, CLUSTER, null), KEY, 'badMac', 'unMACed packet, receiver has a secret')
  expectDrop(t, encodeControl(m, CLUSTER, KEY), new Uint8Array(8), 'badMac', 'receiver key of the wrong length')
})

t.test('no-secret mode: mac must be 0, everything else still checked', async (t) => {
  const m = randomMessage(rng(4), MsgType.Heartbeat)
  const b = encodeControl(m, CLUSTER, null)
  t.same(decodeControl(b, CLUSTER, null, newWireCounters()), m, 'accepted with mac 0')
  for (let i = 0; i < 64; i++) {
    const x = Buffer.from(b)
    x[F.mac.offset + (i >>> 3)]! ^= 1 << (i & 7)
    expectDrop(t, x, null, 'badMac', `mac bit ${i} set`)
  }
  expectDrop(t, b, null, 'badCluster', 'other cluster', CLUSTER + 1)
})

t.test('wrong cluster', async (t) => {
  const b = encodeControl(randomMessage(rng(5), MsgType.PreVote), CLUSTER, KEY)
  expectDrop(t, b, KEY, 'badCluster', 'cluster + 1', CLUSTER + 1)
  expectDrop(t, b, KEY, 'badCluster', 'cluster 0', 0)
})

t.test('every size other than the header size is badSize', async (t) => {
  const good = encodeControl(randomMessage(rng(6), MsgType.VoteResp), CLUSTER, KEY)
  const big = Buffer.concat([good, good, good])
  let wrong = 0
  for (let len = 0; len <= 200; len++) {
    if (len === WIRE_SIZE) continue
    const c = newWireCounters()
    if (decodeControl(big.subarray(0, len), CLUSTER, KEY, c) !== null || c.badSize !== 1) wrong++
  }
  t.equal(wrong, 0, '200 wrong lengths dropped as badSize')
})

t.test('unknown types, magic and version are dropped even with a valid MAC', async (t) => {
  const good = encodeControl(randomMessage(rng(7), MsgType.Heartbeat), CLUSTER, KEY)
  for (let type = 0; type < 256; type++) {
    if (isControlType(type)) continue
    const b = Buffer.from(good)
    b[F.type.offset] = type
    expectDrop(t, remac(b, KEY), KEY, 'badType', `type ${type}`)
  }
  const v = Buffer.from(good)
  v[F.version.offset] = 2
  expectDrop(t, remac(v, KEY), KEY, 'badVersion', 'version 2')
  const mg = Buffer.from(good)
  mg.writeUInt32BE(0x564b4652, 0) // the magic byte-swapped: a little-endian sender
  expectDrop(t, remac(mg, KEY), KEY, 'badMagic', 'byte-swapped magic')
  for (const flags of [4, 8, 0x8000, 0xffff]) {
    const f = Buffer.from(good)
    f.writeUInt16BE(flags, F.flags.offset)
    expectDrop(t, remac(f, KEY), KEY, 'badFlags', `flags 0x${flags.toString(16)}`)
  }
})

t.test('u64 values above 2^53 - 1 are badValue; 2^53 - 1 itself is fine', async (t) => {
  const good = encodeControl(emptyMessage(MsgType.AppendResp, 1, 2, 3), CLUSTER, KEY)
  for (const name of ['term', 'index', 'log_term', 'commit', 'ctx', 'hint'] as const) {
    for (const v of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
      const b = Buffer.from(good)
      b.writeBigUInt64BE(v, F[name].offset)
      expectDrop(t, remac(b, KEY), KEY, 'badValue', `${name} = ${v}`)
    }
    const b = Buffer.from(good)
    b.writeBigUInt64BE(2n ** 53n - 1n, F[name].offset)
    const d = decodeControl(remac(b, KEY), CLUSTER, KEY, newWireCounters())
    t.ok(d !== null && Object.values(d).includes(Number.MAX_SAFE_INTEGER), `${name} = 2^53 - 1 decodes`)
  }
})

t.test('decode never throws on garbage', async (t) => {
  const r = rng(8)
  const c = newWireCounters()
  let accepted = 0
  for (let i = 0; i < 20000; i++) {
    const b = r.bytes(i % 4 === 0 ? r.int(200) : WIRE_SIZE)
    // Half the fixed-size ones get a valid header prefix, to reach the deeper checks.
    if (b.length === WIRE_SIZE && i % 2 === 0) {
      Buffer.from(b.buffer).writeUInt32BE(0x52464b56, 0)
      b[4] = 1
      b[5] = 1 + r.int(8)
      b[6] = 0
      b[7] = r.int(4)
      Buffer.from(b.buffer).writeUInt32BE(CLUSTER, 8)
    }
    if (decodeControl(b, CLUSTER, i % 3 === 0 ? null : KEY, c) !== null) accepted++
  }
  t.equal(accepted, 0, 'nothing random is accepted')
  t.equal(Object.values(c).reduce((a, v) => a + v, 0), 20000, 'every drop counted once')
  t.ok(c.badMac > 0 && c.badSize > 0 && c.badMagic > 0, `counters ${JSON.stringify(c)}`)
})

t.test('encode refuses what the wire cannot carry', async (t) => {
  const m = (): Message => emptyMessage(MsgType.Heartbeat, 1, 2, 3)
  t.throws(() => encodeControl({ ...m(), type: MsgType.Append }, 1, null), RangeError, 'data-plane type')
  t.throws(() => encodeControl({ ...m(), term: 2 ** 53 }, 1, null), RangeError, 'unsafe term')
  t.throws(() => encodeControl({ ...m(), index: -1 }, 1, null), RangeError, 'negative index')
  t.throws(() => encodeControl({ ...m(), commit: 1.5 }, 1, null), RangeError, 'fraction')
  t.throws(() => encodeControl({ ...m(), from: 0x10000 }, 1, null), RangeError, 'from > u16')
  t.throws(() => encodeControl(m(), 2 ** 32, null), RangeError, 'cluster > u32')
  t.throws(() => encodeControl(m(), 1, new Uint8Array(15)), RangeError, 'short key')
  t.throws(() => encodeControl(m(), 1, null, Buffer.alloc(71)), RangeError, 'small out buffer')
  const big = Buffer.alloc(100, 0xaa)
  const b = encodeControl(m(), 1, KEY, big)
  t.equal(b.length, WIRE_SIZE, 'a larger out buffer yields a 72-byte view')
  t.equal(b.buffer, big.buffer, 'written in place')
  t.equal(big[WIRE_SIZE], 0xaa, 'bytes after the header untouched')
})

t.test('isControlType', async (t) => {
  for (const ty of CONTROL_TYPES) t.ok(isControlType(ty), `${ty}`)
  for (const ty of [0, 9, 15, 16, 17, 18, 19, 255, 1.5, -1, NaN]) t.notOk(isControlType(ty), `${ty}`)
})

t.test('deriveKey: first 16 bytes of SHA-256(secret)', async (t) => {
  const k = deriveKey('s3cret')
  t.equal(k.length, 16)
  t.equal(k.byteLength, k.buffer.byteLength, 'owns its memory (no view onto the digest)')
  t.same(Buffer.from(k), createHash('sha256').update('s3cret').digest().subarray(0, 16))
  t.same(deriveKey('s3cret'), k, 'deterministic')
  t.notSame(deriveKey('s3cret2'), k)
  t.throws(() => deriveKey(''), RangeError, 'empty secret')
})
