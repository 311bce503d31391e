// The UDP control-plane codec: the TypeScript mirror of bpf/raft_wire.h.
//
// One control message = one datagram of exactly WIRE_LAYOUT.size bytes, big-endian,
// MAC'd with SipHash-2-4 under a key derived from the cluster secret. The layout lives in
// WIRE_LAYOUT (checked against the C header by test/transport/wire_layout.test.ts) and
// every offset below is taken from it, so the C and TS sides cannot drift apart.
//
// decodeControl never throws: every packet from the network is either a Message or a
// counted drop. encodeControl throws RangeError on a Message the wire cannot carry,
// because that is a programming error in the sender, not hostile input.

import { createHash } from 'node:crypto'
import { MsgType, type Message } from '../raft/types.ts'
import { checkU64, checkUint, get16, get32, get64, put16, put32, put64 } from './bytes.ts'
import { siphash24Into } from './siphash.ts'

/** Offsets and sizes of struct raft_wire_hdr; field names are the C names. */
export const WIRE_LAYOUT = {
  size: 72,
  fields: {
    magic: { offset: 0, size: 4 },
    version: { offset: 4, size: 1 },
    type: { offset: 5, size: 1 },
    flags: { offset: 6, size: 2 },
    cluster_id: { offset: 8, size: 4 },
    from: { offset: 12, size: 2 },
    to: { offset: 14, size: 2 },
    term: { offset: 16, size: 8 },
    index: { offset: 24, size: 8 },
    log_term: { offset: 32, size: 8 },
    commit: { offset: 40, size: 8 },
    ctx: { offset: 48, size: 8 },
    hint: { offset: 56, size: 8 },
    mac: { offset: 64, size: 8 },
  },
} as const

/** RAFT_WIRE_MAGIC: 'RFKV' as a big-endian u32. */
export const WIRE_MAGIC = 0x52464b56
/** RAFT_WIRE_VERSION. */
export const WIRE_VERSION = 1
/** RAFT_WIRE_SIZE. */
export const WIRE_SIZE = WIRE_LAYOUT.size

/** The control types (enum raft_wire_type). Values are MsgType's; the test checks both. */
export const WireType = {
  Heartbeat: MsgType.Heartbeat,
  HeartbeatResp: MsgType.HeartbeatResp,
  AppendResp: MsgType.AppendResp,
  Vote: MsgType.Vote,
  PreVote: MsgType.PreVote,
  VoteResp: MsgType.VoteResp,
  PreVoteResp: MsgType.PreVoteResp,
  TimeoutNow: MsgType.TimeoutNow,
} as const
/** RAFT_WIRE_TYPE_MIN / _MAX: the control types are one contiguous range. */
export const WIRE_TYPE_MIN = 1
export const WIRE_TYPE_MAX = 8

/** RAFT_WIRE_F_*: flag bits. Any other bit set is a drop (badFlags). */
export const WireFlag = { Reject: 1 << 0, Transfer: 1 << 1 } as const
const FLAGS_KNOWN = WireFlag.Reject | WireFlag.Transfer

/** Whether a message type travels on the UDP control plane (through this codec). */
export function isControlType(t: number): boolean {
  return t >= WIRE_TYPE_MIN && t <= WIRE_TYPE_MAX && Number.isInteger(t)
}

/** Why packets were dropped. Owned by the caller (one per socket); `unknownPeer` is counted by the caller. */
export interface WireCounters {
  badSize: number
  badMagic: number
  badVersion: number
  badType: number
  badFlags: number
  badCluster: number
  badMac: number
  badValue: number
  unknownPeer: number
}

export function newWireCounters(): WireCounters {
  return {
    badSize: 0, badMagic: 0, badVersion: 0, badType: 0, badFlags: 0,
    badCluster: 0, badMac: 0, badValue: 0, unknownPeer: 0,
  }
}

/**
 * The 16-byte SipHash key for a cluster secret: the first 16 bytes of SHA-256(secret, UTF-8).
 * The XDP side receives the same bytes (as struct raft_wire_key, little-endian words).
 */
export function deriveKey(secret: string): Uint8Array {
  if (secret.length === 0) throw new RangeError('cluster secret must not be empty (use no key instead)')
  // Copy so the key does not keep (or expose) the other 16 digest bytes.
  return new Uint8Array(createHash('sha256').update(secret, 'utf8').digest().subarray(0, 16))
}

// Offsets hoisted out of the table once, so the hot paths do no property lookups.
const F = WIRE_LAYOUT.fields
const O_MAGIC = F.magic.offset
const O_VERSION = F.version.offset
const O_TYPE = F.type.offset
const O_FLAGS = F.flags.offset
const O_CLUSTER = F.cluster_id.offset
const O_FROM = F.from.offset
const O_TO = F.to.offset
const O_TERM = F.term.offset
const O_INDEX = F.index.offset
const O_LOG_TERM = F.log_term.offset
const O_COMMIT = F.commit.offset
const O_CTX = F.ctx.offset
const O_HINT = F.hint.offset
const O_MAC = F.mac.offset

const mac = new Uint32Array(2) // [hi, lo] scratch; one per module is enough (single-threaded)

/**
 * Encodes a control message. Writes into `out` (which must hold WIRE_SIZE bytes; pass a
 * reused buffer to avoid allocating) or a fresh Buffer. With `key` null the mac is 0.
 */
export function encodeControl(m: Message, clusterId: number, key: Uint8Array | null, out?: Buffer): Buffer {
  if (!isControlType(m.type)) throw new RangeError(`wire: type ${m.type} is not a control type`)
  checkUint('wire: clusterId', clusterId, 0xffffffff)
  checkUint('wire: from', m.from, 0xffff)
  checkUint('wire: to', m.to, 0xffff)
  checkU64('wire: term', m.term)
  checkU64('wire: index', m.index)
  checkU64('wire: logTerm', m.logTerm)
  checkU64('wire: commit', m.commit)
  checkU64('wire: ctx', m.ctx)
  checkU64('wire: hint', m.hint)
  if (key !== null && key.length !== 16) throw new RangeError(`wire: key must be 16 bytes, got ${key.length}`)
  let b: Buffer
  if (out === undefined) b = Buffer.allocUnsafe(WIRE_SIZE)
  else if (out.length === WIRE_SIZE) b = out
  else if (out.length > WIRE_SIZE) b = out.subarray(0, WIRE_SIZE)
  else throw new RangeError(`wire: out buffer of ${out.length} bytes < ${WIRE_SIZE}`)

  put32(b, O_MAGIC, WIRE_MAGIC)
  b[O_VERSION] = WIRE_VERSION
  b[O_TYPE] = m.type
  put16(b, O_FLAGS, (m.reject ? WireFlag.Reject : 0) | (m.transfer ? WireFlag.Transfer : 0))
  put32(b, O_CLUSTER, clusterId)
  put16(b, O_FROM, m.from)
  put16(b, O_TO, m.to)
  put64(b, O_TERM, m.term)
  put64(b, O_INDEX, m.index)
  put64(b, O_LOG_TERM, m.logTerm)
  put64(b, O_COMMIT, m.commit)
  put64(b, O_CTX, m.ctx)
  put64(b, O_HINT, m.hint)
  if (key === null) {
    put32(b, O_MAC, 0)
    put32(b, O_MAC + 4, 0)
  } else {
    siphash24Into(key, b, 0, O_MAC, mac)
    put32(b, O_MAC, mac[0]!)
    put32(b, O_MAC + 4, mac[1]!)
  }
  return b
}

/**
 * Decodes and authenticates a control packet. Returns null (after incrementing exactly one
 * counter) for anything that is not a well-formed, correctly MAC'd packet of this cluster.
 * With `key` null only mac = 0 is accepted. Never throws.
 */
export function decodeControl(
  buf: Uint8Array,
  clusterId: number,
  key: Uint8Array | null,
  counters: WireCounters,
): Message | null {
  if (buf.length !== WIRE_SIZE) { counters.badSize++; return null }
  if (get32(buf, O_MAGIC) !== WIRE_MAGIC) { counters.badMagic++; return null }
  if (buf[O_VERSION] !== WIRE_VERSION) { counters.badVersion++; return null }
  const type = buf[O_TYPE]!
  if (type < WIRE_TYPE_MIN || type > WIRE_TYPE_MAX) { counters.badType++; return null }
  const flags = get16(buf, O_FLAGS)
  if ((flags & ~FLAGS_KNOWN) !== 0) { counters.badFlags++; return null }
  if (get32(buf, O_CLUSTER) !== clusterId) { counters.badCluster++; return null }
  // Authenticate before trusting any value below (a forged packet is a badMac, not a badValue).
  if (key === null) {
    if (get32(buf, O_MAC) !== 0 || get32(buf, O_MAC + 4) !== 0) { counters.badMac++; return null }
  } else if (key.length !== 16) {
    // A caller bug; falling back to "no key" would silently accept unauthenticated packets.
    counters.badMac++
    return null
  } else {
    siphash24Into(key, buf, 0, O_MAC, mac)
    if (get32(buf, O_MAC) !== mac[0] || get32(buf, O_MAC + 4) !== mac[1]) { counters.badMac++; return null }
  }
  const term = get64(buf, O_TERM)
  const index = get64(buf, O_INDEX)
  const logTerm = get64(buf, O_LOG_TERM)
  const commit = get64(buf, O_COMMIT)
  const ctx = get64(buf, O_CTX)
  const hint = get64(buf, O_HINT)
  if (term < 0 || index < 0 || logTerm < 0 || commit < 0 || ctx < 0 || hint < 0) {
    counters.badValue++
    return null
  }
  // Same property order as emptyMessage() so every Message shares one hidden class.
  return {
    type: type as MsgType,
    from: get16(buf, O_FROM),
    to: get16(buf, O_TO),
    term,
    index,
    logTerm,
    commit,
    hint,
    ctx,
    reject: (flags & WireFlag.Reject) !== 0,
    transfer: (flags & WireFlag.Transfer) !== 0,
    entries: [],
    snapshot: null,
  }
}
