// The TCP data plane's connection handshake. Before any frame, the connecting node sends one
// fixed-size hello that proves it holds the cluster secret:
//
//   magic 'RKVHELO1' (8) | cluster_id u32 | from u16 | to u16 | time_ms u64 | nonce (16) | mac (32)
//   mac = HMAC-SHA256(key, every byte before it)
//
// The receiver checks the magic, cluster, that `to` is itself and `from` a known peer, the time
// (within ±HELLO_WINDOW_MS of its own clock) and that the nonce was not seen within that window
// (a recorded hello cannot be replayed), then the MAC. Every frame on the connection must then come
// from that same peer. Without a cluster secret the MAC is all zeros and accepted (development).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { NodeId } from '../raft/types.ts'

export const HELLO_SIZE = 72
const MAGIC = Buffer.from('RKVHELO1', 'latin1')
const MAC_AT = 40
/** How far apart two nodes' clocks may be and a hello still count as fresh. */
export const HELLO_WINDOW_MS = 60 * 1000

/** The HMAC key for hellos, derived from the control-plane key so one secret serves both. */
export function helloKey(controlKey: Uint8Array | null): Buffer | null {
  if (controlKey === null) return null
  return createHash('sha256').update('raftkv tcp hello').update(controlKey).digest()
}

export function encodeHello(key: Buffer | null, clusterId: number, from: NodeId, to: NodeId, now = Date.now()): Buffer {
  const b = Buffer.alloc(HELLO_SIZE)
  MAGIC.copy(b, 0)
  b.writeUInt32BE(clusterId >>> 0, 8)
  b.writeUInt16BE(from, 12)
  b.writeUInt16BE(to, 14)
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now))), 16)
  randomBytes(16).copy(b, 24)
  if (key) createHmac('sha256', key).update(b.subarray(0, MAC_AT)).digest().copy(b, MAC_AT)
  return b
}

export type HelloResult = { ok: true; from: NodeId } | { ok: false; reason: string }

/** Checks hellos and remembers recent nonces (bounded by the time window). */
export class HelloVerifier {
  private readonly seen = new Map<string, number>()

  constructor(
    private readonly key: Buffer | null,
    private readonly clusterId: number,
    private readonly self: NodeId,
    private readonly isPeer: (id: NodeId) => boolean,
  ) {}

  verify(b: Uint8Array, now = Date.now()): HelloResult {
    if (b.length !== HELLO_SIZE) return { ok: false, reason: 'bad hello size' }
    const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    if (!buf.subarray(0, 8).equals(MAGIC)) return { ok: false, reason: 'bad hello magic' }
    if (buf.readUInt32BE(8) !== this.clusterId >>> 0) return { ok: false, reason: 'another cluster' }
    const from = buf.readUInt16BE(12)
    const to = buf.readUInt16BE(14)
    if (to !== this.self) return { ok: false, reason: `hello addressed to node ${to}` }
    if (from === this.self || !this.isPeer(from)) return { ok: false, reason: `unknown peer ${from}` }
    const mac = buf.subarray(MAC_AT)
    const want = this.key ? createHmac('sha256', this.key).update(buf.subarray(0, MAC_AT)).digest() : Buffer.alloc(32)
    if (!timingSafeEqual(mac, want)) return { ok: false, reason: 'bad hello mac' }
    if (this.key) {
      const t = Number(buf.readBigUInt64BE(16))
      if (Math.abs(t - now) > HELLO_WINDOW_MS) return { ok: false, reason: 'stale hello' }
      const nonce = buf.subarray(24, 40).toString('hex')
      this.prune(now)
      if (this.seen.has(nonce)) return { ok: false, reason: 'replayed hello' }
      this.seen.set(nonce, now)
    }
    return { ok: true, from }
  }

  private prune(now: number): void {
    if (this.seen.size < 1024) return
    for (const [n, at] of this.seen) if (now - at > 2 * HELLO_WINDOW_MS) this.seen.delete(n)
  }
}
