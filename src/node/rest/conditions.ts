// The parts of a write request that are headers or query options: the TTL and the precondition
// (If-Match / If-None-Match). The schemas already checked each one's syntax; this resolves the
// combinations, which JSON schema cannot express across querystring and headers.

/** The precondition of a conditional write. */
export type Condition =
  | { kind: 'none' }
  /** The key's revision must be `rev` (0: the key must not exist). */
  | { kind: 'rev'; rev: number }
  /** If-Match: * — the key must exist. */
  | { kind: 'exists' }

export interface WriteHeaders {
  'if-match'?: string
  'if-none-match'?: string
  'idempotency-key'?: string
  'raftkv-ttl'?: string
  'raftkv-redirect'?: string
}

export interface WriteQuery {
  ttl?: number
  px?: number
  redirect?: string
}

/** A 400 in fastify's own validation format, for the checks made after schema validation. */
export interface BadRequest {
  statusCode: 400
  code: 'FST_ERR_VALIDATION'
  error: 'Bad Request'
  message: string
}

export function badRequest(message: string): BadRequest {
  return { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message }
}

export function isBad<T>(v: T | BadRequest): v is BadRequest {
  return typeof v === 'object' && v !== null && 'statusCode' in v && v.statusCode === 400
}

/** The TTL in milliseconds (null: none), from ?ttl, ?px or Raftkv-Ttl: at most one of them. */
export function ttlMs(q: WriteQuery, h: WriteHeaders): number | null | BadRequest {
  const given = [q.ttl !== undefined, q.px !== undefined, h['raftkv-ttl'] !== undefined].filter(Boolean).length
  if (given > 1) return badRequest('give at most one of ?ttl, ?px and the Raftkv-Ttl header')
  if (q.ttl !== undefined) return q.ttl * 1000
  if (q.px !== undefined) return q.px
  if (h['raftkv-ttl'] !== undefined) return Number(h['raftkv-ttl']) * 1000
  return null
}

export function condition(h: WriteHeaders): Condition | BadRequest {
  const m = h['if-match']
  const nm = h['if-none-match']
  if (m !== undefined && nm !== undefined) return badRequest('give either If-Match or If-None-Match, not both')
  if (nm !== undefined) return { kind: 'rev', rev: 0 } // the schema allows only "*": create-only
  if (m === undefined) return { kind: 'none' }
  if (m === '*') return { kind: 'exists' }
  const rev = Number(m.replaceAll('"', ''))
  if (!Number.isSafeInteger(rev)) return badRequest('headers/if-match must be a revision: "<integer>"')
  return { kind: 'rev', rev }
}

/** Revision conflicts come back from the state machine as `CONFLICT revision is N`. */
export function conflictRevision(err: string): number | null {
  const m = /^CONFLICT revision is (\d+)$/.exec(err)
  return m ? Number(m[1]) : null
}
