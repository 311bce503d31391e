// The reply side of RESP: Reply values encoded for RESP2 or RESP3 (per connection, chosen by HELLO).
// RESP3 types fall back the way Redis does in RESP2: maps become flat arrays, sets arrays, doubles
// bulk strings, booleans integers, nulls `$-1` (or `*-1` for a null array), verbatim text a bulk.
// Replies are appended to one growing buffer per flush, so a pipeline of 1,000 small replies leaves
// in one socket write.
import type { Reply } from '../reply.ts'

export type Proto = 2 | 3

/** Values at least this long are written as their own chunk instead of being copied. */
const BIG = 16 * 1024

/** Redis prints doubles with %.17g in RESP3 and RESP2 alike (inf, -inf, nan spelled out). */
export function formatDouble(v: number): string {
  if (Number.isNaN(v)) return 'nan'
  if (v === Infinity) return 'inf'
  if (v === -Infinity) return '-inf'
  if (Number.isInteger(v) && Math.abs(v) < 1e17) return String(v)
  let s = v.toPrecision(17)
  if (s.includes('e')) {
    const [m, e] = s.split('e') as [string, string]
    const mm = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m
    const ee = Number(e)
    s = `${mm}e${ee < 0 ? '-' : '+'}${String(Math.abs(ee)).padStart(2, '0')}`
  } else if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '')
  return s
}

/** Error texts are one line: Redis replaces CR and LF with spaces. */
function oneLine(s: string): string {
  return /[\r\n]/.test(s) ? s.replace(/[\r\n]/g, ' ') : s
}

export class ReplyWriter {
  private chunks: Buffer[] = []
  private buf = Buffer.allocUnsafe(8192)
  private len = 0
  private total = 0

  /** Bytes written since the last take(). */
  get size(): number {
    return this.total + this.len
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return
    if (this.len > 0) {
      this.chunks.push(this.buf.subarray(0, this.len))
      this.total += this.len
    }
    this.buf = Buffer.allocUnsafe(Math.max(8192, n))
    this.len = 0
  }

  private ascii(s: string): void {
    this.room(s.length * 3)
    this.len += this.buf.write(s, this.len, 'utf8')
  }

  private bytes(b: Uint8Array): void {
    if (b.length >= BIG) {
      if (this.len > 0) {
        this.chunks.push(this.buf.subarray(0, this.len))
        this.total += this.len
        this.buf = this.buf.subarray(this.len)
        this.len = 0
      }
      this.chunks.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
      this.total += b.length
      return
    }
    this.room(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }

  private bulk(b: Uint8Array): void {
    this.ascii(`$${b.length}\r\n`)
    this.bytes(b)
    this.ascii('\r\n')
  }

  private bulkStr(s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.bulk(b)
  }

  write(r: Reply, proto: Proto): void {
    switch (r.k) {
      case 'status':
        this.ascii(`+${oneLine(r.v)}\r\n`)
        return
      case 'error':
        this.ascii(`-${oneLine(r.v)}\r\n`)
        return
      case 'int':
        this.ascii(`:${r.v}\r\n`)
        return
      case 'bulk':
        if (r.v === null) this.ascii(proto === 3 ? '_\r\n' : '$-1\r\n')
        else this.bulk(r.v)
        return
      case 'double':
        if (proto === 3) this.ascii(`,${formatDouble(r.v)}\r\n`)
        else this.bulkStr(formatDouble(r.v))
        return
      case 'array':
        if (r.v === null) {
          this.ascii(proto === 3 ? '_\r\n' : '*-1\r\n')
          return
        }
        this.ascii(`*${r.v.length}\r\n`)
        for (const x of r.v) this.write(x, proto)
        return
      case 'set':
        this.ascii(`${proto === 3 ? '~' : '*'}${r.v.length}\r\n`)
        for (const x of r.v) this.write(x, proto)
        return
      case 'map':
        this.ascii(proto === 3 ? `%${r.v.length}\r\n` : `*${r.v.length * 2}\r\n`)
        for (const [k, v] of r.v) {
          this.write(k, proto)
          this.write(v, proto)
        }
        return
      case 'bool':
        this.ascii(proto === 3 ? (r.v ? '#t\r\n' : '#f\r\n') : r.v ? ':1\r\n' : ':0\r\n')
        return
      case 'null':
        this.ascii(proto === 3 ? '_\r\n' : '$-1\r\n')
        return
      case 'verbatim': {
        if (proto === 2) {
          this.bulkStr(r.v)
          return
        }
        const b = Buffer.from(`txt:${r.v}`, 'utf8')
        this.ascii(`=${b.length}\r\n`)
        this.bytes(b)
        this.ascii('\r\n')
        return
      }
    }
  }

  /** Everything written since the last take, as one buffer (or a few, for big values). */
  take(): Buffer[] {
    if (this.len > 0) {
      this.chunks.push(this.buf.subarray(0, this.len))
      this.buf = this.buf.subarray(this.len)
      if (this.buf.length < 1024) this.buf = Buffer.allocUnsafe(8192)
      this.len = 0
    }
    const out = this.chunks
    this.chunks = []
    this.total = 0
    return out
  }
}
