// Quick throughput figures for the transport codecs (not a test). Run: npx tsx bench/wire.ts
//
// Measures: SipHash-2-4 over 64 bytes (the MAC'd part of a control packet) with the
// 32-bit-halves implementation vs a straightforward BigInt one; the control codec
// (encode, decode, round trip, with and without a key); two ways of writing a u64; and
// the TCP Append frame codec.

import { MsgType, emptyMessage, type Entry } from '../src/raft/types.ts'
import { siphash24Into } from '../src/transport/siphash.ts'
import { WIRE_SIZE, decodeControl, deriveKey, encodeControl, newWireCounters } from '../src/transport/wire.ts'
import { encodeAppend, decodeDataMessage } from '../src/transport/datamsg.ts'
import { FrameDecoder } from '../src/transport/frame.ts'

/** Runs fn repeatedly for ~ms milliseconds after a warm-up; returns operations per second. */
function rate(fn: () => void, ms = 1000): number {
  for (let i = 0; i < 20000; i++) fn()
  let n = 0
  const start = process.hrtime.bigint()
  const until = start + BigInt(ms) * 1_000_000n
  let now = start
  while (now < until) {
    for (let i = 0; i < 1000; i++) fn()
    n += 1000
    now = process.hrtime.bigint()
  }
  return (n * 1e9) / Number(now - start)
}

const fmt = (r: number): string => `${(r / 1e6).toFixed(2)} M/s`
const key = deriveKey('bench secret')
const data = new Uint8Array(64).map((_, i) => i)
const out = new Uint32Array(2)

// A plain BigInt SipHash-2-4, only to justify the choice of the 32-bit-halves version.
const M64 = (1n << 64n) - 1n
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & M64
function sipBig(k: Uint8Array, m: Uint8Array): bigint {
  const kv = new DataView(k.buffer, k.byteOffset, 16)
  const k0 = kv.getBigUint64(0, true)
  const k1 = kv.getBigUint64(8, true)
  let v0 = k0 ^ 0x736f6d6570736575n, v1 = k1 ^ 0x646f72616e646f6dn
  let v2 = k0 ^ 0x6c7967656e657261n, v3 = k1 ^ 0x7465646279746573n
  const round = (): void => {
    v0 = (v0 + v1) & M64; v1 = rotl(v1, 13n) ^ v0; v0 = rotl(v0, 32n)
    v2 = (v2 + v3) & M64; v3 = rotl(v3, 16n) ^ v2
    v0 = (v0 + v3) & M64; v3 = rotl(v3, 21n) ^ v0
    v2 = (v2 + v1) & M64; v1 = rotl(v1, 17n) ^ v2; v2 = rotl(v2, 32n)
  }
  const mv = new DataView(m.buffer, m.byteOffset, m.length)
  const blocks = m.length >> 3
  for (let i = 0; i <= blocks; i++) {
    let w: bigint
    if (i < blocks) w = mv.getBigUint64(i * 8, true)
    else {
      w = BigInt(m.length & 0xff) << 56n
      for (let j = 0; j < (m.length & 7); j++) w |= BigInt(m[blocks * 8 + j]!) << BigInt(8 * j)
    }
    v3 ^= w; round(); round(); v0 ^= w
  }
  v2 ^= 0xffn
  round(); round(); round(); round()
  return v0 ^ v1 ^ v2 ^ v3
}

const m = emptyMessage(MsgType.Heartbeat, 1, 2, 12345)
m.index = 987654321
m.logTerm = 12340
m.commit = 987654000
m.ctx = 77
const pkt = Buffer.alloc(WIRE_SIZE)
const signed = Buffer.from(encodeControl(m, 7, key))
const plain = Buffer.from(encodeControl(m, 7, null))
const counters = newWireCounters()
let sink = 0

console.log(`node ${process.version}`)
console.log(`siphash-2-4, 64 bytes, u32 halves    ${fmt(rate(() => siphash24Into(key, data, 0, 64, out)))}`)
console.log(`siphash-2-4, 64 bytes, BigInt        ${fmt(rate(() => { sink ^= Number(sipBig(key, data) & 1n) }, 500))}`)
console.log(`encodeControl + MAC (reused buffer)  ${fmt(rate(() => encodeControl(m, 7, key, pkt)))}`)
console.log(`decodeControl + MAC check            ${fmt(rate(() => { sink ^= decodeControl(signed, 7, key, counters)!.term }))}`)
console.log(`encode + decode + MAC (round trip)   ${fmt(rate(() => { sink ^= decodeControl(encodeControl(m, 7, key, pkt), 7, key, counters)!.term }))}`)
console.log(`encode + decode, no key              ${fmt(rate(() => { sink ^= decodeControl(encodeControl(m, 7, null, pkt), 7, null, counters)!.term }))}`)
void plain

// u64 write: two manual u32 stores (what bytes.ts does) vs Buffer.writeBigUInt64BE.
const v = 0x1f_1234_5678
const b8 = Buffer.alloc(8)
console.log(`u64 write, 2 × u32 byte stores       ${fmt(rate(() => {
  const hi = Math.floor(v / 4294967296), lo = v >>> 0
  b8[0] = hi >>> 24; b8[1] = hi >>> 16; b8[2] = hi >>> 8; b8[3] = hi
  b8[4] = lo >>> 24; b8[5] = lo >>> 16; b8[6] = lo >>> 8; b8[7] = lo
}))}`)
console.log(`u64 write, writeBigUInt64BE(BigInt)  ${fmt(rate(() => { b8.writeBigUInt64BE(BigInt(v), 0) }))}`)

// Data plane: an Append of 64 entries × 100 bytes, encoded, framed, decoded.
const app = emptyMessage(MsgType.Append, 1, 2, 5)
app.index = 1000
const entries: Entry[] = []
for (let i = 0; i < 64; i++) entries.push({ term: 5, index: 1001 + i, type: 0, data: new Uint8Array(100).fill(i) })
app.entries = entries
const frame = encodeAppend(app, 7)
const dec = new FrameDecoder((kind, payload) => { const r = decodeDataMessage(kind, payload, 7); if (r.ok) sink ^= r.value.msg.entries.length })
const appRate = rate(() => { dec.push(encodeAppend(app, 7)) }, 1000)
console.log(`Append 64×100 B encode+frame+decode  ${(appRate / 1e3).toFixed(1)} k/s = ${((appRate * frame.length) / 1e6).toFixed(0)} MB/s`)
if (sink === 0.5) console.log('unreachable') // keep results alive
