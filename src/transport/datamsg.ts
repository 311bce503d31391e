// Payload codecs of the TCP data-plane frames (frame.ts): Append, Snapshot chunks, ReadIndex.
//
// Every payload starts with the message header (all scalar Message fields), then a
// kind-specific tail. Big-endian throughout:
//
//   header   cluster_id u32 | from u16 | to u16 | term u64 | index u64 | log_term u64 |
//            commit u64 | ctx u64 | hint u64 | flags u8                          (57 bytes)
//   Append   count u32 | count × (term u64 | index u64 | type u8 | len u32 | data)
//   Snapshot meta_index u64 | meta_term u64 | n_voters u16 | voters u16… |
//            n_learners u16 | learners u16… | offset u64 | total u64 | last u8 | len u32 | data
//   ReadIndex, ReadIndexResp: header only (ctx = request, index = read index)
//
// Decoders check every count against the bytes left, every value against its domain and
// that nothing trails; they return a FrameError instead of throwing. Integrity is the
// frame CRC's job; these checks catch a buggy or hostile sender.

import { EntryType, MsgType, type Entry, type Message, type NodeId, type SnapshotMeta } from '../raft/types.ts'
import { checkU64, checkUint, get16, get32, get64, put16, put32, put64 } from './bytes.ts'
import { FRAME_HEADER, FrameKind, allocFrame, frameError, sealFrame, type FrameError } from './frame.ts'

const MSG_HEADER = 57
const ENTRY_FIXED = 21
const FLAG_REJECT = 1
const FLAG_TRANSFER = 2

/** One piece of a snapshot. total = 0 means "size not known in advance" (streamed); `last` ends it. */
export interface SnapshotChunk {
  meta: SnapshotMeta
  offset: number
  total: number
  last: boolean
  data: Uint8Array
}

/** A decoded data-plane message; `chunk` is set exactly for Snapshot (msg.snapshot stays null). */
export interface DataMessage {
  msg: Message
  chunk: SnapshotChunk | null
}

export type DecodeResult = { ok: true; value: DataMessage } | { ok: false; error: FrameError }

// ---- encoding (throws RangeError on values the wire cannot carry: a sender bug) ----

function writeHeader(b: Buffer, o: number, m: Message, clusterId: number): number {
  checkUint('clusterId', clusterId, 0xffffffff)
  checkUint('from', m.from, 0xffff)
  checkUint('to', m.to, 0xffff)
  checkU64('term', m.term)
  checkU64('index', m.index)
  checkU64('logTerm', m.logTerm)
  checkU64('commit', m.commit)
  checkU64('ctx', m.ctx)
  checkU64('hint', m.hint)
  put32(b, o, clusterId)
  put16(b, o + 4, m.from)
  put16(b, o + 6, m.to)
  put64(b, o + 8, m.term)
  put64(b, o + 16, m.index)
  put64(b, o + 24, m.logTerm)
  put64(b, o + 32, m.commit)
  put64(b, o + 40, m.ctx)
  put64(b, o + 48, m.hint)
  b[o + 56] = (m.reject ? FLAG_REJECT : 0) | (m.transfer ? FLAG_TRANSFER : 0)
  return o + MSG_HEADER
}

/** A whole Append frame (header + entries), ready to write to the socket. */
export function encodeAppend(m: Message, clusterId: number): Buffer {
  if (m.type !== MsgType.Append) throw new RangeError(`encodeAppend: type ${m.type}`)
  let size = MSG_HEADER + 4
  for (const e of m.entries) size += ENTRY_FIXED + e.data.length
  const b = allocFrame(FrameKind.Append, size)
  let o = writeHeader(b, FRAME_HEADER, m, clusterId)
  put32(b, o, m.entries.length)
  o += 4
  for (const e of m.entries) {
    checkU64('entry.term', e.term)
    checkU64('entry.index', e.index)
    put64(b, o, e.term)
    put64(b, o + 8, e.index)
    b[o + 16] = e.type
    put32(b, o + 17, e.data.length)
    b.set(e.data, o + ENTRY_FIXED)
    o += ENTRY_FIXED + e.data.length
  }
  return sealFrame(b)
}

/** A ReadIndex or ReadIndexResp frame. */
export function encodeReadIndex(m: Message, clusterId: number): Buffer {
  if (m.type !== MsgType.ReadIndex && m.type !== MsgType.ReadIndexResp) {
    throw new RangeError(`encodeReadIndex: type ${m.type}`)
  }
  const b = allocFrame(m.type, MSG_HEADER)
  writeHeader(b, FRAME_HEADER, m, clusterId)
  return sealFrame(b)
}

function checkIds(name: string, ids: NodeId[]): void {
  if (ids.length > 0xffff) throw new RangeError(`${name}: ${ids.length} ids`)
  for (const id of ids) checkUint(name, id, 0xffff)
}

/** One Snapshot frame carrying `chunk`; m supplies the header fields (type Snapshot). */
export function encodeSnapshotChunk(m: Message, clusterId: number, chunk: SnapshotChunk): Buffer {
  if (m.type !== MsgType.Snapshot) throw new RangeError(`encodeSnapshotChunk: type ${m.type}`)
  const { voters, learners } = chunk.meta.conf
  checkIds('voters', voters)
  checkIds('learners', learners)
  checkU64('meta.index', chunk.meta.index)
  checkU64('meta.term', chunk.meta.term)
  checkU64('offset', chunk.offset)
  checkU64('total', chunk.total)
  const size = MSG_HEADER + 16 + 2 + 2 * voters.length + 2 + 2 * learners.length + 21 + chunk.data.length
  const b = allocFrame(FrameKind.Snapshot, size)
  let o = writeHeader(b, FRAME_HEADER, m, clusterId)
  put64(b, o, chunk.meta.index)
  put64(b, o + 8, chunk.meta.term)
  o += 16
  for (const ids of [voters, learners]) {
    put16(b, o, ids.length)
    o += 2
    for (const id of ids) { put16(b, o, id); o += 2 }
  }
  put64(b, o, chunk.offset)
  put64(b, o + 8, chunk.total)
  b[o + 16] = chunk.last ? 1 : 0
  put32(b, o + 17, chunk.data.length)
  b.set(chunk.data, o + 21)
  return sealFrame(b)
}

/** Splits m.snapshot (data held in memory) into Snapshot frames of at most chunkSize data bytes. */
export function* snapshotFrames(m: Message, clusterId: number, chunkSize: number): Generator<Buffer> {
  if (m.snapshot === null) throw new RangeError('snapshotFrames: message has no snapshot')
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`snapshotFrames: chunkSize ${chunkSize}`)
  const { meta, data } = m.snapshot
  let offset = 0
  do {
    const end = Math.min(data.length, offset + chunkSize)
    yield encodeSnapshotChunk(m, clusterId, {
      meta, offset, total: data.length, last: end === data.length, data: data.subarray(offset, end),
    })
    offset = end
  } while (offset < data.length)
}

// ---- decoding (never throws) ----

function fail(code: FrameError['code'], message: string): DecodeResult {
  return { ok: false, error: frameError(code, message) }
}

/** Reads a u16 id list at o; returns the ids and the next offset, or a FrameError. */
function readIds(p: Uint8Array, o: number, what: string): { ids: NodeId[]; next: number } | FrameError {
  if (o + 2 > p.length) return frameError('truncated', `${what}: count missing`)
  const n = get16(p, o)
  o += 2
  if (o + 2 * n > p.length) return frameError('bad-count', `${what}: ${n} ids do not fit`)
  const ids: NodeId[] = []
  for (let i = 0; i < n; i++, o += 2) {
    const id = get16(p, o)
    if (id === 0) return frameError('bad-value', `${what}: node id 0`)
    ids.push(id)
  }
  return { ids, next: o }
}

/**
 * Decodes the payload of a frame of `kind` (as delivered by FrameDecoder). Entry and chunk
 * data are views into `payload`, not copies.
 */
export function decodeDataMessage(kind: number, payload: Uint8Array, clusterId: number): DecodeResult {
  const p = payload
  if (p.length < MSG_HEADER) return fail('truncated', `payload of ${p.length} bytes < header ${MSG_HEADER}`)
  if (get32(p, 0) !== clusterId) return fail('bad-cluster', `cluster ${get32(p, 0)} != ${clusterId}`)
  const flags = p[56]!
  if ((flags & ~(FLAG_REJECT | FLAG_TRANSFER)) !== 0) return fail('bad-value', `flags ${flags}`)
  const term = get64(p, 8)
  const index = get64(p, 16)
  const logTerm = get64(p, 24)
  const commit = get64(p, 32)
  const ctx = get64(p, 40)
  const hint = get64(p, 48)
  if (term < 0 || index < 0 || logTerm < 0 || commit < 0 || ctx < 0 || hint < 0) {
    return fail('bad-value', 'header u64 above 2^53-1')
  }
  if (kind !== MsgType.Append && kind !== MsgType.Snapshot && kind !== MsgType.ReadIndex && kind !== MsgType.ReadIndexResp) {
    return fail('bad-kind', `kind ${kind}`)
  }
  const msg: Message = {
    type: kind, from: get16(p, 4), to: get16(p, 6), term, index, logTerm, commit, hint, ctx,
    reject: (flags & FLAG_REJECT) !== 0, transfer: (flags & FLAG_TRANSFER) !== 0, entries: [], snapshot: null,
  }
  let o = MSG_HEADER
  let chunk: SnapshotChunk | null = null
  if (kind === MsgType.Append) {
    if (o + 4 > p.length) return fail('truncated', 'entry count missing')
    const count = get32(p, o)
    o += 4
    // Each entry needs ENTRY_FIXED bytes: reject an impossible count before allocating anything.
    if (count > (p.length - o) / ENTRY_FIXED) return fail('bad-count', `${count} entries cannot fit`)
    const entries: Entry[] = []
    for (let i = 0; i < count; i++) {
      if (o + ENTRY_FIXED > p.length) return fail('truncated', `entry ${i} header`)
      const eTerm = get64(p, o)
      const eIndex = get64(p, o + 8)
      const type = p[o + 16]!
      const len = get32(p, o + 17)
      o += ENTRY_FIXED
      if (eTerm < 0 || eIndex < 0) return fail('bad-value', `entry ${i}: u64 above 2^53-1`)
      // Raft: an append's entries follow the previous entry (index) contiguously.
      if (eIndex !== index + 1 + i) return fail('bad-value', `entry ${i}: index ${eIndex} != ${index + 1 + i}`)
      if (type !== EntryType.Normal && type !== EntryType.ConfChange) return fail('bad-value', `entry ${i}: type ${type}`)
      if (len > p.length - o) return fail('truncated', `entry ${i}: ${len} data bytes do not fit`)
      entries.push({ term: eTerm, index: eIndex, type, data: p.subarray(o, o + len) })
      o += len
    }
    msg.entries = entries
  } else if (kind === MsgType.Snapshot) {
    if (o + 16 > p.length) return fail('truncated', 'snapshot meta')
    const metaIndex = get64(p, o)
    const metaTerm = get64(p, o + 8)
    if (metaIndex < 0 || metaTerm < 0) return fail('bad-value', 'snapshot meta u64 above 2^53-1')
    const voters = readIds(p, o + 16, 'voters')
    if ('code' in voters) return { ok: false, error: voters }
    const learners = readIds(p, voters.next, 'learners')
    if ('code' in learners) return { ok: false, error: learners }
    o = learners.next
    if (o + 21 > p.length) return fail('truncated', 'snapshot chunk header')
    const offset = get64(p, o)
    const total = get64(p, o + 8)
    const lastByte = p[o + 16]!
    const len = get32(p, o + 17)
    o += 21
    if (offset < 0 || total < 0) return fail('bad-value', 'chunk u64 above 2^53-1')
    if (lastByte > 1) return fail('bad-value', `chunk last flag ${lastByte}`)
    if (len > p.length - o) return fail('truncated', `chunk of ${len} bytes does not fit`)
    const last = lastByte === 1
    // With a known total the chunk must lie inside it, and `last` must mean "reaches the end".
    if (total !== 0 && (offset + len > total || last !== (offset + len === total))) {
      return fail('bad-value', `chunk [${offset}, +${len}) last=${last} vs total ${total}`)
    }
    chunk = {
      meta: { index: metaIndex, term: metaTerm, conf: { voters: voters.ids, learners: learners.ids } },
      offset, total, last, data: p.subarray(o, o + len),
    }
    o += len
  }
  if (o !== p.length) return fail('trailing-bytes', `${p.length - o} bytes after the message`)
  return { ok: true, value: { msg, chunk } }
}
