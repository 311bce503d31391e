// The request side of RESP, as Redis reads it (networking.c processMultibulkBuffer and
// processInlineBuffer): multibulk commands (`*N` then N `$len` bulk strings), inline commands
// (a line of words, with sdssplitargs quoting), pipelining (any number of commands per read, and
// commands split across reads). Protocol errors carry Redis's exact texts; after one the caller
// replies and closes the connection, as Redis does.
//
// Why not redis-parser here: it parses *replies* (`+`, `-`, `:`, nested arrays), so it would accept
// requests Redis rejects (`*1\r\n:1\r\n`), cannot read inline commands, and buffers a bulk of any
// announced length before it could complain. It parses the leader's replies in proxy.ts instead.

/** Redis's PROTO_INLINE_MAX_SIZE: the longest inline command or length line. */
export const MAX_INLINE = 64 * 1024
/** Redis's proto-max-bulk-len default: the largest bulk argument. */
export const MAX_BULK = 512 * 1024 * 1024
/** Redis's client-query-buffer-limit default: one command's arguments in all. */
export const MAX_QUERY = 1024 * 1024 * 1024
const INT_MAX = 2 ** 31 - 1
/** Before AUTH, Redis limits commands to 10 arguments of 16 KB (CVE-2021-32675). */
const UNAUTH_MAX_ARGS = 10
const UNAUTH_MAX_BULK = 16384

export class ProtocolError extends Error {}

const CR = 0x0d
const LF = 0x0a
const EMPTY = Buffer.alloc(0)

/** Redis's string2ll: an optional '-', no '+', no leading zeros, no spaces; undefined if invalid. */
export function string2ll(b: Buffer, start: number, end: number): number | undefined {
  const len = end - start
  if (len === 0 || len > 20) return undefined
  let i = start
  let neg = false
  if (b[i] === 0x2d) {
    neg = true
    i++
    if (i === end) return undefined
  }
  if (b[i] === 0x30) return len === 1 ? 0 : undefined
  if (b[i]! < 0x31 || b[i]! > 0x39) return undefined
  let v = 0
  for (; i < end; i++) {
    const c = b[i]!
    if (c < 0x30 || c > 0x39) return undefined
    v = v * 10 + (c - 0x30)
  }
  // Beyond 2^53 precision is lost, but every such value is rejected by the callers' limits anyway.
  return neg ? -v : v
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || (c !== undefined && c >= 0x09 && c <= 0x0d)
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return -1
}

/** Redis's sdssplitargs: words, "double quotes" with escapes, 'single quotes'; null if unbalanced. */
export function splitArgs(line: Buffer): Buffer[] | null {
  const out: Buffer[] = []
  // A NUL ends the line, as in C.
  const nul = line.indexOf(0)
  const end = nul >= 0 ? nul : line.length
  let p = 0
  const at = (i: number): number | undefined => (i < end ? line[i] : undefined)
  for (;;) {
    while (p < end && isSpace(line[p])) p++
    if (p >= end) return out
    let inq = false
    let insq = false
    const cur: number[] = []
    for (let done = false; !done; ) {
      const c = at(p)
      if (inq) {
        if (c === 0x5c && at(p + 1) === 0x78 && hexVal(at(p + 2) ?? -1) >= 0 && hexVal(at(p + 3) ?? -1) >= 0) {
          cur.push(hexVal(at(p + 2)!) * 16 + hexVal(at(p + 3)!))
          p += 3
        } else if (c === 0x5c && at(p + 1) !== undefined) {
          p++
          const e = at(p)!
          cur.push(e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : e === 0x62 ? 0x08 : e === 0x61 ? 0x07 : e)
        } else if (c === 0x22) {
          // A closing quote must be followed by a space or the end.
          if (at(p + 1) !== undefined && !isSpace(at(p + 1))) return null
          done = true
        } else if (c === undefined) {
          return null
        } else cur.push(c)
      } else if (insq) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++
          cur.push(0x27)
        } else if (c === 0x27) {
          if (at(p + 1) !== undefined && !isSpace(at(p + 1))) return null
          done = true
        } else if (c === undefined) {
          return null
        } else cur.push(c)
      } else if (c === undefined || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        done = true
      } else if (c === 0x22) {
        inq = true
      } else if (c === 0x27) {
        insq = true
      } else cur.push(c)
      if (c !== undefined) p++
    }
    out.push(Buffer.from(cur))
  }
}

/**
 * Incremental request parser. `feed` takes whatever the socket delivered and calls `onCommand`
 * for each complete command, in order; a protocol error stops parsing and throws ProtocolError
 * (the commands before it have been delivered). Big bulks are collected as a list of chunks and
 * joined once, so a 512 MB argument arriving in 64 KB reads is copied once, not 8,000 times.
 */
export class RequestParser {
  private buf: Buffer = EMPTY
  private pos = 0
  /** Chunks held back while a large bulk is incomplete, and their total length. */
  private held: Buffer[] = []
  private heldLen = 0
  /** Bytes needed in buf (from pos) before parsing can make progress; 0 = try with anything. */
  private need = 0
  // Multibulk state between reads (as Redis's client fields).
  private multibulk = 0
  private bulkLen = -1
  private argv: Buffer[] = []
  private argBytes = 0

  /** `authRequired` reflects the connection's state as each command is parsed (AUTH may change it). */
  constructor(private readonly authRequired: () => boolean) {}

  /** Bytes buffered but not yet parsed (the query buffer), for CLIENT LIST. */
  get buffered(): number {
    return this.buf.length - this.pos + this.heldLen
  }

  feed(chunk: Buffer, onCommand: (argv: Buffer[]) => void): void {
    if (this.need > 0 && this.buf.length - this.pos + this.heldLen + chunk.length < this.need) {
      this.held.push(chunk)
      this.heldLen += chunk.length
      return
    }
    if (this.held.length > 0 || this.pos < this.buf.length) {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), ...this.held, chunk])
      this.held = []
      this.heldLen = 0
    } else this.buf = chunk
    this.pos = 0
    this.need = 0
    while (this.pos < this.buf.length) {
      let argv: Buffer[] | null
      if (this.multibulk === 0 && this.buf[this.pos] !== 0x2a) argv = this.inline()
      else argv = this.multi()
      if (argv === null) break
      if (argv.length > 0) onCommand(argv)
    }
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY
      this.pos = 0
    }
  }

  private inline(): Buffer[] | null {
    const nl = this.buf.indexOf(LF, this.pos)
    if (nl < 0) {
      if (this.buf.length - this.pos > MAX_INLINE) throw new ProtocolError('Protocol error: too big inline request')
      return null
    }
    let end = nl
    if (end > this.pos && this.buf[end - 1] === CR) end--
    const args = splitArgs(this.buf.subarray(this.pos, end))
    if (args === null) throw new ProtocolError('Protocol error: unbalanced quotes in request')
    this.pos = nl + 1
    return args
  }

  private multi(): Buffer[] | null {
    const b = this.buf
    if (this.multibulk === 0) {
      const cr = b.indexOf(CR, this.pos)
      if (cr < 0) {
        if (b.length - this.pos > MAX_INLINE) throw new ProtocolError('Protocol error: too big mbulk count string')
        return null
      }
      // The line must be complete with its \n (not checked to be one: Redis skips two bytes).
      if (cr + 2 > b.length) return null
      const n = string2ll(b, this.pos + 1, cr)
      if (n === undefined || n > INT_MAX) throw new ProtocolError('Protocol error: invalid multibulk length')
      if (n > UNAUTH_MAX_ARGS && this.authRequired()) throw new ProtocolError('Protocol error: unauthenticated multibulk length')
      this.pos = cr + 2
      // `*0` and negative counts are empty commands: skipped.
      if (n <= 0) return []
      this.multibulk = n
      this.argv = []
      this.argBytes = 0
    }
    while (this.multibulk > 0) {
      if (this.bulkLen === -1) {
        const cr = b.indexOf(CR, this.pos)
        if (cr < 0) {
          if (b.length - this.pos > MAX_INLINE) throw new ProtocolError('Protocol error: too big bulk count string')
          return null
        }
        if (cr + 2 > b.length) return null
        if (b[this.pos] !== 0x24) throw new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(b[this.pos]!)}'`)
        const len = string2ll(b, this.pos + 1, cr)
        if (len === undefined || len < 0 || len > MAX_BULK) throw new ProtocolError('Protocol error: invalid bulk length')
        if (len > UNAUTH_MAX_BULK && this.authRequired()) throw new ProtocolError('Protocol error: unauthenticated bulk length')
        this.argBytes += len
        // Redis's client-query-buffer-limit: such a client is dropped without a reply.
        if (this.argBytes > MAX_QUERY) throw new ProtocolError('')
        this.pos = cr + 2
        this.bulkLen = len
      }
      if (b.length - this.pos < this.bulkLen + 2) {
        this.need = this.bulkLen + 2
        return null
      }
      // Redis does not check that the bulk is followed by \r\n: it skips two bytes.
      this.argv.push(b.subarray(this.pos, this.pos + this.bulkLen))
      this.pos += this.bulkLen + 2
      this.bulkLen = -1
      this.multibulk--
    }
    const argv = this.argv
    this.argv = []
    return argv
  }
}
