// One client's way of executing each operation over RESP or HTTP, and how every answer maps to an
// outcome: ok; fail only when the operation definitely did not take effect (-CLUSTERDOWN, HTTP 503,
// a CAS whose comparison failed, an aborted EXEC, a connection lost before the write was sent);
// info whenever it may have (-TIMEOUT, HTTP 504, a timeout or a connection lost after sending, or
// an answer we do not recognise — counted separately so that surprises show up in the report).
import { ConnLost, RespConn, RespError, type RespValue } from './resp-conn.ts'
import type { Endpoint } from './cluster.ts'

export type Result<T> = { t: 'ok'; v: T } | { t: 'fail'; why: string } | { t: 'info'; why: string }

const ok = <T>(v: T): Result<T> => ({ t: 'ok', v })
const fail = <T>(why: string): Result<T> => ({ t: 'fail', why })
const info = <T>(why: string): Result<T> => ({ t: 'info', why })

/** A RESP error to a write: only -CLUSTERDOWN (nothing proposed) and EXECABORT are definite. */
function writeError<T>(e: RespError): Result<T> {
  if (e.message.startsWith('CLUSTERDOWN') || e.message.startsWith('EXECABORT')) return fail(e.message)
  return info(e.message)
}

export class RespOps {
  private conn: RespConn | null = null
  constructor(
    private ep: Endpoint,
    private readonly timeoutMs: number,
  ) {}

  retarget(ep: Endpoint): void {
    this.conn?.close()
    this.conn = null
    this.ep = ep
  }

  close(): void {
    this.conn?.close()
    this.conn = null
  }

  private async c(): Promise<RespConn> {
    if (this.conn?.alive) return this.conn
    this.conn = await RespConn.connect(this.ep.host, this.ep.resp, this.timeoutMs)
    return this.conn
  }

  /** Runs `args`; a connection that cannot be opened means the command was never sent. */
  private async send(args: string[]): Promise<RespValue | { lost: string; sent: boolean }> {
    let conn: RespConn
    try {
      conn = await this.c()
    } catch (e) {
      return { lost: (e as Error).message, sent: false }
    }
    try {
      return await conn.call(args, this.timeoutMs)
    } catch (e) {
      if (e instanceof ConnLost) return { lost: e.message, sent: true }
      throw e
    }
  }

  async get(key: string): Promise<Result<string | null>> {
    const r = await this.send(['GET', key])
    if (r instanceof RespError) return fail(r.message)
    if (r !== null && typeof r === 'object' && 'lost' in r) return info(r.lost)
    if (r === null || typeof r === 'string') return ok(r)
    return info(`unexpected reply to GET: ${JSON.stringify(r)}`)
  }

  async set(key: string, value: string): Promise<Result<null>> {
    const r = await this.send(['SET', key, value])
    if (r instanceof RespError) return writeError(r)
    if (r !== null && typeof r === 'object' && 'lost' in r) return r.sent ? info(r.lost) : fail(`not sent: ${r.lost}`)
    if (r === 'OK') return ok(null)
    return info(`unexpected reply to SET: ${JSON.stringify(r)}`)
  }

  async append(key: string, token: string): Promise<Result<null>> {
    const r = await this.send(['APPEND', key, token])
    if (r instanceof RespError) return writeError(r)
    if (r !== null && typeof r === 'object' && 'lost' in r) return r.sent ? info(r.lost) : fail(`not sent: ${r.lost}`)
    if (typeof r === 'number') return ok(null)
    return info(`unexpected reply to APPEND: ${JSON.stringify(r)}`)
  }

  /** WATCH, GET, compare, MULTI, SET, EXEC: a compare-and-set in Redis's own idiom. */
  async cas(key: string, expected: string, value: string): Promise<Result<null>> {
    // Until EXEC is sent nothing can have been proposed: failures before it are definite.
    for (const args of [['WATCH', key]]) {
      const r = await this.send(args)
      if (r !== 'OK') return this.abort(`WATCH: ${describe(r)}`)
    }
    const cur = await this.send(['GET', key])
    if (cur !== null && typeof cur !== 'string') return this.abort(`GET: ${describe(cur)}`)
    if (cur !== expected) {
      await this.send(['UNWATCH'])
      return fail(`compare failed: ${JSON.stringify(cur)}`)
    }
    const m = await this.send(['MULTI'])
    if (m !== 'OK') return this.abort(`MULTI: ${describe(m)}`)
    const q = await this.send(['SET', key, value])
    if (q !== 'QUEUED') return this.abort(`SET: ${describe(q)}`)
    const r = await this.send(['EXEC'])
    if (r instanceof RespError) return writeError(r)
    if (r !== null && typeof r === 'object' && 'lost' in r) return r.sent ? info(r.lost) : fail(`not sent: ${r.lost}`)
    if (r === null) return fail('EXEC aborted: the key changed')
    if (Array.isArray(r) && r.length === 1 && r[0] === 'OK') return ok(null)
    return info(`unexpected reply to EXEC: ${JSON.stringify(r)}`)
  }

  /** A step before EXEC failed: drop the connection (it may be mid-transaction) — nothing happened. */
  private abort<T>(why: string): Result<T> {
    this.close()
    return fail(why)
  }
}

function describe(r: RespValue | { lost: string; sent: boolean }): string {
  if (r instanceof RespError) return r.message
  if (r !== null && typeof r === 'object' && 'lost' in r) return r.lost
  return JSON.stringify(r)
}

/** fetch's error for a connection the server refused (nothing was sent). */
function refused(e: unknown): boolean {
  const cause = (e as { cause?: { code?: string } }).cause
  return cause?.code === 'ECONNREFUSED'
}

export class HttpOps {
  constructor(
    private base: string,
    private readonly timeoutMs: number,
  ) {}

  retarget(base: string): void {
    this.base = base
  }

  private url(key: string): string {
    return `${this.base}/kv/${encodeURIComponent(key)}`
  }

  async get(key: string): Promise<Result<{ value: string | null; etag: string | null }>> {
    try {
      const r = await fetch(this.url(key), { signal: AbortSignal.timeout(this.timeoutMs) })
      const text = await r.text()
      if (r.status === 200) return ok({ value: text, etag: r.headers.get('etag') })
      if (r.status === 404) return ok({ value: null, etag: null })
      return fail(`${r.status} ${text}`)
    } catch (e) {
      return info((e as Error).message)
    }
  }

  /** PUT, optionally If-Match: 200 ok; 412 and 503 fail (nothing applied); 504 and the rest info. */
  async put(key: string, value: string, ifMatch?: string): Promise<Result<null>> {
    try {
      const r = await fetch(this.url(key), {
        method: 'PUT',
        body: value,
        headers: { 'content-type': 'application/octet-stream', ...(ifMatch ? { 'if-match': ifMatch } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      const text = await r.text()
      if (r.status === 200) return ok(null)
      if (r.status === 412 || r.status === 503) return fail(`${r.status} ${text}`)
      return info(`${r.status} ${text}`)
    } catch (e) {
      // Refused connection: the request never left this process.
      if (refused(e)) return fail(`not sent: ${String((e as Error).cause)}`)
      return info((e as Error).message)
    }
  }

  async cas(key: string, expected: string, value: string): Promise<Result<null>> {
    const g = await this.get(key)
    if (g.t !== 'ok') return fail(`read before CAS: ${g.why}`)
    if (g.v.value !== expected || g.v.etag === null) return fail(`compare failed: ${JSON.stringify(g.v.value)}`)
    return this.put(key, value, g.v.etag)
  }
}
