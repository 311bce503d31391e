// TCP data-plane framing: a byte stream cut into checksummed, length-prefixed frames.
//
//   frame := length u32 BE | kind u8 | payload (length bytes) | crc u32 BE
//   crc   := CRC-32 of kind + payload (the bytes between length and crc)
//
// `length` counts the payload only, so a reader knows after 5 bytes how much to wait for and
// can refuse an oversized frame before buffering it. The kind is checked at the same point
// for the same reason. The CRC catches corruption TCP's 16-bit checksum misses (and bugs in
// our own buffering); the message codecs are in datamsg.ts.
//
// Decoding never throws: a malformed stream is reported once as a FrameError and the decoder
// stays failed (a byte stream cannot be resynchronised; the caller closes the connection).

import { MsgType } from '../raft/types.ts'
import { crc32 } from './crc32.ts'
import { get32, put32 } from './bytes.ts'

export const FRAME_HEADER = 5
export const FRAME_TRAILER = 4
/** Default largest accepted payload: room for a big append batch or snapshot chunk, bounded memory. */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024

/** Frame kinds are the data-plane message types (MsgType ≥ 16). */
export const FrameKind = {
  Append: MsgType.Append,
  Snapshot: MsgType.Snapshot,
  ReadIndex: MsgType.ReadIndex,
  ReadIndexResp: MsgType.ReadIndexResp,
} as const

export function isFrameKind(k: number): boolean {
  return k === FrameKind.Append || k === FrameKind.Snapshot || k === FrameKind.ReadIndex || k === FrameKind.ReadIndexResp
}

export type FrameErrorCode =
  | 'too-large' // length above the configured maximum
  | 'bad-kind' // unknown frame kind
  | 'bad-checksum' // CRC mismatch
  | 'truncated' // stream ended mid-frame, or a payload shorter than its fields need
  | 'bad-count' // an element count that cannot fit in the payload
  | 'bad-value' // a field outside its domain (u64 > 2^53-1, unknown entry type, bad bounds …)
  | 'trailing-bytes' // payload longer than its fields
  | 'bad-cluster' // a frame from another cluster

export interface FrameError {
  code: FrameErrorCode
  message: string
}

export function frameError(code: FrameErrorCode, message: string): FrameError {
  return { code, message }
}

/** Allocates a whole frame for a payload of payloadLen bytes, to be written at FRAME_HEADER, then sealFrame(). */
export function allocFrame(kind: number, payloadLen: number): Buffer {
  if (!isFrameKind(kind)) throw new RangeError(`frame: unknown kind ${kind}`)
  if (!Number.isInteger(payloadLen) || payloadLen < 0 || payloadLen > 0xffffffff - FRAME_HEADER - FRAME_TRAILER) {
    throw new RangeError(`frame: payload length ${payloadLen} out of range`)
  }
  const b = Buffer.allocUnsafe(FRAME_HEADER + payloadLen + FRAME_TRAILER)
  put32(b, 0, payloadLen)
  b[4] = kind
  return b
}

/** Writes the CRC of a frame whose payload is complete; returns the frame. */
export function sealFrame(frame: Buffer): Buffer {
  const end = frame.length - FRAME_TRAILER
  put32(frame, end, crc32(frame.subarray(4, end)))
  return frame
}

/** One frame around an existing payload (copies it). */
export function encodeFrame(kind: number, payload: Uint8Array): Buffer {
  const b = allocFrame(kind, payload.length)
  b.set(payload, FRAME_HEADER)
  return sealFrame(b)
}

export interface FrameDecoderOptions {
  /** Largest accepted payload length in bytes (default DEFAULT_MAX_FRAME). */
  maxFrame?: number
}

/**
 * Streaming decoder: push() socket chunks with any boundaries; onFrame(kind, payload) is called
 * once per complete, checksum-verified frame, in order. The payload may be a view into a pushed
 * chunk (no copy when a frame arrives whole), so do not reuse pushed buffers.
 */
export class FrameDecoder {
  readonly maxFrame: number
  private readonly onFrame: (kind: number, payload: Uint8Array) => void
  private readonly head = Buffer.alloc(FRAME_HEADER)
  private headFill = 0
  /** kind + payload + crc of the frame being assembled across chunks, or null between frames. */
  private body: Buffer | null = null
  private bodyFill = 0
  private error: FrameError | null = null

  constructor(onFrame: (kind: number, payload: Uint8Array) => void, opts: FrameDecoderOptions = {}) {
    this.onFrame = onFrame
    this.maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME
  }

  /** The error the stream failed with, if any. */
  get failed(): FrameError | null {
    return this.error
  }

  /** Whether a partial frame is buffered (a clean end of stream has none). */
  get pending(): boolean {
    return this.headFill > 0 || this.body !== null
  }

  /** Feeds bytes. Returns null, or the (sticky) error that makes the rest of the stream unreadable. */
  push(chunk: Uint8Array): FrameError | null {
    if (this.error !== null) return this.error
    let pos = 0
    const n = chunk.length
    while (pos < n) {
      if (this.body !== null) {
        // Continue a frame that spans chunks.
        const take = Math.min(this.body.length - this.bodyFill, n - pos)
        this.body.set(chunk.subarray(pos, pos + take), this.bodyFill)
        this.bodyFill += take
        pos += take
        if (this.bodyFill === this.body.length) {
          const body = this.body
          this.body = null
          if (!this.deliver(body, 0, body.length - FRAME_TRAILER)) return this.error
        }
        continue
      }
      if (this.headFill === 0 && n - pos >= FRAME_HEADER) {
        // Fast path: the header is in this chunk; if the whole frame is too, deliver a view.
        const len = get32(chunk, pos)
        if (!this.checkHeader(len, chunk[pos + 4]!)) return this.error
        const end = pos + FRAME_HEADER + len // where the crc starts
        if (end + FRAME_TRAILER <= n) {
          if (!this.deliver(chunk, pos + 4, end)) return this.error
          pos = end + FRAME_TRAILER
        } else {
          this.startBody(len, chunk[pos + 4]!)
          pos += FRAME_HEADER
        }
        continue
      }
      // Slow path: assemble the 5-byte header across chunks.
      const take = Math.min(FRAME_HEADER - this.headFill, n - pos)
      this.head.set(chunk.subarray(pos, pos + take), this.headFill)
      this.headFill += take
      pos += take
      if (this.headFill === FRAME_HEADER) {
        this.headFill = 0
        const len = get32(this.head, 0)
        if (!this.checkHeader(len, this.head[4]!)) return this.error
        this.startBody(len, this.head[4]!)
      }
    }
    return null
  }

  /** Call at end of stream: a partial frame is a 'truncated' error. */
  finish(): FrameError | null {
    if (this.error === null && this.pending) {
      this.error = frameError('truncated', 'stream ended inside a frame')
    }
    return this.error
  }

  private checkHeader(len: number, kind: number): boolean {
    if (len > this.maxFrame) {
      this.error = frameError('too-large', `frame of ${len} bytes exceeds the maximum ${this.maxFrame}`)
    } else if (!isFrameKind(kind)) {
      this.error = frameError('bad-kind', `unknown frame kind ${kind}`)
    }
    return this.error === null
  }

  private startBody(len: number, kind: number): void {
    this.body = Buffer.allocUnsafe(1 + len + FRAME_TRAILER)
    this.body[0] = kind
    this.bodyFill = 1
  }

  /** buf[from] is the kind, buf[from+1, crcAt) the payload, buf[crcAt, crcAt+4) the crc. */
  private deliver(buf: Uint8Array, from: number, crcAt: number): boolean {
    const want = get32(buf, crcAt)
    const got = crc32(buf.subarray(from, crcAt))
    if (want !== got) {
      this.error = frameError('bad-checksum', `frame checksum ${got.toString(16)} != ${want.toString(16)}`)
      return false
    }
    this.onFrame(buf[from]!, buf.subarray(from + 1, crcAt))
    return true
  }
}
