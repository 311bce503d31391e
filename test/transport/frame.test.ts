// The TCP data plane: framing (FrameDecoder) and the Append / Snapshot / ReadIndex codecs.

import t from 'tap'
import { EntryType, MsgType, emptyMessage, type Entry, type Message } from '../../src/raft/types.ts'
import { crc32, crc32Js } from '../../src/transport/crc32.ts'
import {
  DEFAULT_MAX_FRAME, FRAME_HEADER, FRAME_TRAILER, FrameDecoder, FrameKind, encodeFrame, type FrameError,
} from '../../src/transport/frame.ts'
import {
  decodeDataMessage, encodeAppend, encodeReadIndex, encodeSnapshotChunk, snapshotFrames, type DataMessage,
} from '../../src/transport/datamsg.ts'
import { rng } from './helpers.ts'

const CLUSTER = 42
type Rng = ReturnType<typeof rng>

function appendMsg(r: Rng, n: number, maxData = 3000): Message {
  const m = emptyMessage(MsgType.Append, 1 + r.int(7), 1 + r.int(7), 1 + r.int(1000))
  m.index = r.int(2 ** 40)
  m.logTerm = r.int(m.term + 1)
  m.commit = r.int(m.index + 1)
  const entries: Entry[] = []
  for (let i = 0; i < n; i++) {
    entries.push({ term: m.term, index: m.index + 1 + i, type: r.int(5) === 0 ? EntryType.ConfChange : EntryType.Normal, data: r.bytes(r.int(maxData)) })
  }
  m.entries = entries
  return m
}

function snapshotMsg(r: Rng, size: number): Message {
  const m = emptyMessage(MsgType.Snapshot, 1, 2, 9)
  m.snapshot = {
    meta: { index: 1000 + r.int(1000), term: 9, conf: { voters: [1, 2, 3], learners: r.int(2) ? [4] : [] } },
    data: r.bytes(size),
  }
  return m
}

/** A comparable rendering of a decoded message (Uint8Array → hex). */
function show(d: unknown): string {
  // Look at the raw value (this[k]): Buffer.toJSON runs before a replacer sees `v`.
  return JSON.stringify(d, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k]
    return raw instanceof Uint8Array ? Buffer.from(raw).toString('hex') : v
  })
}

/** Feeds a stream to a fresh decoder in the given chunk sizes; returns decoded messages and the first error. */
function decodeStream(stream: Buffer, cuts: number[], maxFrame?: number): { msgs: DataMessage[]; error: FrameError | null } {
  const msgs: DataMessage[] = []
  let payloadError: FrameError | null = null
  const dec = new FrameDecoder((kind, payload) => {
    const r = decodeDataMessage(kind, payload, CLUSTER)
    if (r.ok) msgs.push(r.value)
    else payloadError ??= r.error
  }, maxFrame === undefined ? {} : { maxFrame })
  let pos = 0
  for (const c of [...cuts, stream.length]) {
    const end = Math.min(stream.length, Math.max(pos, c))
    const e = dec.push(stream.subarray(pos, end))
    pos = end
    if (e !== null) return { msgs, error: e }
  }
  return { msgs, error: payloadError ?? dec.finish() }
}

function randomStream(r: Rng): { stream: Buffer; sent: Message[] } {
  const frames: Buffer[] = []
  const sent: Message[] = []
  for (let i = 0; i < 30; i++) {
    const k = r.int(4)
    if (k === 0) {
      const m = appendMsg(r, r.int(20))
      sent.push(m)
      frames.push(encodeAppend(m, CLUSTER))
    } else if (k === 1) {
      const m = emptyMessage(r.int(2) ? MsgType.ReadIndex : MsgType.ReadIndexResp, 2, 1, 5)
      m.ctx = r.int(2 ** 50)
      m.index = r.int(1000)
      sent.push(m)
      frames.push(encodeReadIndex(m, CLUSTER))
    } else if (k === 2) {
      const m = snapshotMsg(r, r.int(5000))
      for (const f of snapshotFrames(m, CLUSTER, 1 + r.int(2000))) frames.push(f)
      sent.push(m)
    } else {
      const m = appendMsg(r, 0) // heartbeat-like empty append
      sent.push(m)
      frames.push(encodeAppend(m, CLUSTER))
    }
  }
  return { stream: Buffer.concat(frames), sent }
}

t.test('crc32 fallback equals node:zlib', async (t) => {
  const r = rng(11)
  for (let i = 0; i < 200; i++) {
    const a = r.bytes(r.int(300))
    const b = r.bytes(r.int(300))
    t.equal(crc32Js(b, crc32Js(a, 0)), crc32(Buffer.concat([a, b])), `case ${i}`)
  }
  t.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value')
})

t.test('a stream decodes identically under any chunking, and equals what was sent', async (t) => {
  const r = rng(12)
  for (let trial = 0; trial < 20; trial++) {
    const { stream, sent } = randomStream(r)
    const whole = decodeStream(stream, [])
    t.equal(whole.error, null, `trial ${trial}: whole stream decodes`)
    // Reassemble snapshots from their chunks, then compare with what was sent.
    const got: Message[] = []
    let snap: Buffer[] = []
    for (const d of whole.msgs) {
      if (d.chunk === null) { got.push(d.msg); continue }
      snap.push(Buffer.from(d.chunk.data))
      if (d.chunk.last) {
        got.push({ ...d.msg, snapshot: { meta: d.chunk.meta, data: new Uint8Array(Buffer.concat(snap)) } })
        snap = []
      }
    }
    t.equal(show(got), show(sent), `trial ${trial}: round trip`)
    const reference = show(whole.msgs)
    for (let k = 0; k < 10; k++) {
      const cuts: number[] = []
      const step = k === 0 ? 1 : 1 + r.int(k < 5 ? 64 : 20000)
      for (let p = step; p < stream.length; p += k === 0 ? 1 : 1 + r.int(step * 2)) cuts.push(p)
      const res = decodeStream(stream, cuts)
      if (res.error !== null || show(res.msgs) !== reference) {
        t.fail(`trial ${trial} chunking ${k} differs: ${res.error?.message}`)
      }
    }
  }
})

t.test('truncated streams: no frame, no throw, and finish() reports truncated', async (t) => {
  const r = rng(13)
  const frame = encodeAppend(appendMsg(r, 3, 50), CLUSTER)
  for (let len = 1; len < frame.length; len++) {
    const res = decodeStream(frame.subarray(0, len), [r.int(len)])
    t.equal(res.error?.code, 'truncated', `cut at ${len}`)
    t.equal(res.msgs.length, 0)
  }
  t.equal(decodeStream(Buffer.alloc(0), []).error, null, 'an empty stream is clean')
})

t.test('oversized frames are refused from the header alone', async (t) => {
  const head = Buffer.alloc(FRAME_HEADER)
  head.writeUInt32BE(DEFAULT_MAX_FRAME + 1, 0)
  head[4] = FrameKind.Append
  t.equal(decodeStream(head, []).error?.code, 'too-large', 'default max 64 MiB')
  head.writeUInt32BE(0xffffffff, 0)
  t.equal(decodeStream(head, [2]).error?.code, 'too-large', 'u32 max, header split')
  const f = encodeAppend(appendMsg(rng(14), 2, 100), CLUSTER)
  const payload = f.length - FRAME_HEADER - FRAME_TRAILER
  t.equal(decodeStream(f, [], payload).error, null, 'exactly the configured maximum is accepted')
  t.equal(decodeStream(f, [], payload - 1).error?.code, 'too-large', 'one byte over is refused')
})

t.test('bad kinds are refused from the header alone', async (t) => {
  for (const kind of [0, 1, 8, 15, 20, 255]) {
    const f = encodeFrame(FrameKind.ReadIndex, Buffer.alloc(10))
    f[4] = kind
    t.equal(decodeStream(f.subarray(0, FRAME_HEADER), []).error?.code, 'bad-kind', `kind ${kind}`)
  }
})

t.test('checksum mismatches are detected, and the error is sticky', async (t) => {
  const f = encodeAppend(appendMsg(rng(15), 2, 100), CLUSTER)
  for (const at of [4, 5, 60, f.length - 5, f.length - 1]) {
    const b = Buffer.from(f)
    b[at]! ^= 0x10
    const res = decodeStream(b, [])
    t.equal(res.error?.code, at === 4 ? 'bad-kind' : 'bad-checksum', `byte ${at}`)
  }
  const b = Buffer.from(f)
  b[f.length - 1]! ^= 1
  let frames = 0
  const dec = new FrameDecoder(() => frames++)
  const e1 = dec.push(b)
  const e2 = dec.push(f)
  t.equal(e1?.code, 'bad-checksum')
  t.equal(e2, e1, 'later pushes return the same error')
  t.equal(frames, 0, 'and deliver nothing')
})

t.test('every single-bit flip of a frame is an error, never a throw or a wrong message', async (t) => {
  const f = encodeAppend(appendMsg(rng(16), 2, 40), CLUSTER)
  let bad = 0
  for (let bit = 0; bit < f.length * 8; bit++) {
    const b = Buffer.from(f)
    b[bit >>> 3]! ^= 1 << (bit & 7)
    for (const cuts of [[], [bit >>> 3], [1, 2, 3, 4, 5, 6, 7]]) {
      const res = decodeStream(b, cuts)
      if (res.error === null || res.msgs.length !== 0) bad++
    }
  }
  t.equal(bad, 0, `${f.length * 8} flips × 3 chunkings all rejected`)
})

/** Re-frames a payload edited by `edit`, with a correct CRC, so only the payload checks can catch it. */
function edited(frame: Buffer, edit: (p: Buffer) => Buffer | void): { kind: number; payload: Buffer } {
  const p = Buffer.from(frame.subarray(FRAME_HEADER, frame.length - FRAME_TRAILER))
  return { kind: frame[4]!, payload: edit(p) ?? p }
}

function payloadError(frame: Buffer, edit: (p: Buffer) => Buffer | void): string | undefined {
  const { kind, payload } = edited(frame, edit)
  // Through the framing layer too: the edited payload gets a valid CRC.
  const res = decodeStream(encodeFrame(kind, payload), [])
  const direct = decodeDataMessage(kind, payload, CLUSTER)
  if (direct.ok) return undefined
  return res.error?.code === direct.error.code ? direct.error.code : `mismatch ${res.error?.code}`
}

t.test('payload validation: counts, bounds, values, trailing bytes, cluster', async (t) => {
  const r = rng(17)
  const app = encodeAppend(appendMsg(r, 2, 10), CLUSTER)
  // Append payload: header 57 bytes, count u32 at 57, entry 0 at 61 (term, index, type @77, len @78, data @82).
  t.equal(payloadError(app, () => {}), undefined, 'unedited decodes')
  t.equal(payloadError(app, (p) => { p.writeUInt32BE(0xffffffff, 57) }), 'bad-count', 'count 2^32-1')
  t.equal(payloadError(app, (p) => { p.writeUInt32BE(3, 57) }), 'bad-count', 'count one too many')
  t.equal(payloadError(app, (p) => { p.writeUInt32BE(1, 57) }), 'trailing-bytes', 'count one too few')
  t.equal(payloadError(app, (p) => { p[77] = 7 }), 'bad-value', 'entry type 7')
  t.equal(payloadError(app, (p) => { p.writeUInt32BE(0xffffff, 78) }), 'truncated', 'entry length past the end')
  t.equal(payloadError(app, (p) => { p.writeBigUInt64BE(2n ** 60n, 61) }), 'bad-value', 'entry term > 2^53')
  t.equal(payloadError(app, (p) => { p.writeBigUInt64BE(p.readBigUInt64BE(69) + 1n, 69) }), 'bad-value', 'index gap')
  t.equal(payloadError(app, (p) => { p.writeBigUInt64BE(2n ** 53n, 8) }), 'bad-value', 'header term > 2^53 - 1')
  t.equal(payloadError(app, (p) => { p[56] = 4 }), 'bad-value', 'unknown flag')
  t.equal(payloadError(app, (p) => { p.writeUInt32BE(CLUSTER + 1, 0) }), 'bad-cluster', 'other cluster')
  t.equal(payloadError(app, (p) => Buffer.concat([p, Buffer.alloc(1)])), 'trailing-bytes', 'one extra byte')
  let nonOk = 0
  const full = edited(app, () => {}).payload
  for (let len = 0; len < full.length; len++) if (decodeDataMessage(FrameKind.Append, full.subarray(0, len), CLUSTER).ok) nonOk++
  t.equal(nonOk, 0, 'every proper prefix of an append payload is refused')

  const snap = encodeSnapshotChunk(emptyMessage(MsgType.Snapshot, 1, 2, 3), CLUSTER, {
    meta: { index: 10, term: 3, conf: { voters: [1, 2], learners: [3] } }, offset: 100, total: 110, last: true, data: r.bytes(10),
  })
  // Snapshot payload: meta 57..73, voters count @73 (2 ids @75), learners count @79 (1 id @81),
  // offset @83, total @91, last @99, len @100, data @104.
  t.equal(payloadError(snap, () => {}), undefined, 'unedited chunk decodes')
  t.equal(payloadError(snap, (p) => { p.writeUInt16BE(0xffff, 73) }), 'bad-count', 'voter count')
  t.equal(payloadError(snap, (p) => { p.writeUInt16BE(0, 75) }), 'bad-value', 'voter id 0')
  t.equal(payloadError(snap, (p) => { p[99] = 0 }), 'bad-value', 'not last although it reaches total')
  t.equal(payloadError(snap, (p) => { p[99] = 2 }), 'bad-value', 'last flag 2')
  t.equal(payloadError(snap, (p) => { p.writeBigUInt64BE(105n, 91) }), 'bad-value', 'chunk beyond total')
  t.equal(payloadError(snap, (p) => { p.writeBigUInt64BE(0n, 91) }), undefined, 'total 0 = unknown size is allowed')
  t.equal(payloadError(snap, (p) => { p.writeUInt32BE(11, 100) }), 'truncated', 'chunk length past the end')
  const ri = encodeReadIndex(emptyMessage(MsgType.ReadIndex, 1, 2, 3), CLUSTER)
  t.equal(payloadError(ri, (p) => p.subarray(0, 56)), 'truncated', 'short header')
  t.equal(payloadError(ri, (p) => Buffer.concat([p, Buffer.alloc(4)])), 'trailing-bytes', 'read index with a tail')
})

t.test('random garbage never throws', async (t) => {
  const r = rng(18)
  let delivered = 0
  for (let i = 0; i < 2000; i++) {
    const kind = 16 + r.int(4)
    // Random payloads behind valid frames reach the payload decoder; none may throw.
    const res = decodeDataMessage(kind, r.bytes(r.int(300)), CLUSTER)
    if (res.ok) delivered++
    const dec = new FrameDecoder(() => delivered++)
    dec.push(r.bytes(r.int(100)))
    dec.finish()
  }
  t.pass(`survived (${delivered} accidental successes)`)
})

t.test('snapshotFrames chunking and encoder guards', async (t) => {
  const m = snapshotMsg(rng(19), 0)
  const frames = [...snapshotFrames(m, CLUSTER, 10)]
  t.equal(frames.length, 1, 'an empty snapshot is one last chunk')
  const d = decodeStream(frames[0]!, []).msgs[0]!
  t.ok(d.chunk?.last && d.chunk.total === 0 && d.chunk.data.length === 0)
  t.equal([...snapshotFrames(snapshotMsg(rng(20), 25), CLUSTER, 10)].length, 3, '25 bytes in 10-byte chunks')
  t.throws(() => encodeAppend(emptyMessage(MsgType.Heartbeat, 1, 2, 3), CLUSTER), RangeError)
  t.throws(() => encodeReadIndex(emptyMessage(MsgType.Append, 1, 2, 3), CLUSTER), RangeError)
  t.throws(() => [...snapshotFrames(emptyMessage(MsgType.Snapshot, 1, 2, 3), CLUSTER, 10)], RangeError)
  t.throws(() => encodeAppend({ ...appendMsg(rng(21), 0), term: 2 ** 53 }, CLUSTER), RangeError)
  t.throws(() => encodeFrame(3, Buffer.alloc(1)), RangeError, 'control types are not frame kinds')
})
