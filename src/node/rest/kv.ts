// GET/PUT/DELETE /kv/:key: the value is the raw body; revisions travel as ETags; writes may carry
// a TTL, a precondition (compare-and-set) and an Idempotency-Key. A follower proxies writes to the
// leader (or redirects), so every proposal — and every TTL's absolute expiry — is made by a leader.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { KvMachine } from '../../kv/machine.ts'
import type { Reply } from '../../kv/reply.ts'
import { encodeRequest, type WriteOp, type WriteRequest } from '../../kv/request.ts'
import { DroppedError, NotLeaderError, RefusedError } from '../errors.ts'
import { badRequest, condition, conflictRevision, isBad, ttlMs, type Condition, type WriteHeaders, type WriteQuery } from './conditions.ts'
import { isForwarded, proxyToLeader, redirectToLeader, wantsRedirect, type ForwardDeps } from './forward.ts'
import { confirmRead } from '../confirm-read.ts'
import { readFailure, writeFailure } from './outcome.ts'
import { consistencyProp, deleteHeaders, errorBody, keyParams, readErrors, writeErrors, writeHeaders, writeOk, writeQuery } from './schemas.ts'

const enc = new TextEncoder()
/** Pause before proposing again after a definite refusal: a heartbeat round or so. */
const RETRY_MS = 10

export interface KvRouteDeps extends ForwardDeps {
  sm: KvMachine
}

type Params = { key: string }
type WriteRoute = { Params: Params; Querystring: WriteQuery; Headers: WriteHeaders; Body: Buffer | undefined }

function etag(rev: number): string {
  return `"${rev}"`
}

/** 412 with the key's current revision (0 = absent) in the body and the headers. */
function preconditionFailed(reply: FastifyReply, rev: number): FastifyReply {
  void reply.header('raftkv-revision', String(rev))
  if (rev > 0) void reply.header('etag', etag(rev))
  return reply.code(412).send({ error: 'precondition failed', rev })
}

/** Turns the state machine's reply to a PUT or DELETE into the HTTP answer. */
function answer(reply: FastifyReply, method: 'PUT' | 'DELETE', cond: Condition, r: Reply): FastifyReply {
  if (r.k === 'error') {
    const rev = conflictRevision(r.v)
    if (rev !== null) return preconditionFailed(reply, rev)
    return reply.code(500).send({ error: r.v })
  }
  if (cond.kind === 'rev' && r.k === 'int') {
    const rev = Number(r.v)
    if (method === 'DELETE') return reply.send({ ok: true, deleted: cond.rev > 0 ? 1 : 0 })
    return reply.header('etag', etag(rev)).header('raftkv-revision', String(rev)).send({ ok: true, rev })
  }
  // If-Match: * on a missing key: SET XX answers nil, DEL answers 0.
  if (cond.kind === 'exists' && ((r.k === 'bulk' && r.v === null) || (r.k === 'int' && r.v === 0))) return preconditionFailed(reply, 0)
  if (method === 'DELETE') return reply.send({ ok: true, deleted: r.k === 'int' ? Number(r.v) : 0 })
  return reply.send({ ok: true })
}

function putOp(key: Uint8Array, value: Uint8Array, cond: Condition, expireAt: number | undefined): WriteOp {
  if (cond.kind === 'rev') return { t: 'cas', key, rev: cond.rev, value, ...(expireAt !== undefined ? { expireAt } : {}) }
  return { t: 'set', key, value, ...(cond.kind === 'exists' ? { cond: 'xx' as const } : {}), ...(expireAt !== undefined ? { expireAt } : {}) }
}

function deleteOp(key: Uint8Array, cond: Condition): WriteOp {
  return cond.kind === 'rev' ? { t: 'cas', key, rev: cond.rev, value: null } : { t: 'del', keys: [key] }
}

/**
 * Proposes one write, again and again while the proposal is definitely not applied (dropped by a
 * new leader, refused during a leadership transfer or under back-pressure) and time is left: such
 * a failure says nothing about the request, only about the moment, and the client would have to
 * retry anyway. The first proposal is made synchronously, before any await: the RPC log's request
 * hooks (src/observe/httphooks.ts) rely on that to tie the request to its log entry.
 */
async function write(req: FastifyRequest<WriteRoute>, reply: FastifyReply, d: KvRouteDeps, build: (now: number) => WriteOp, cond: Condition): Promise<FastifyReply> {
  const method = req.method === 'DELETE' ? 'DELETE' : 'PUT'
  const deadline = Date.now() + d.requestTimeoutMs
  const idem = req.headers['idempotency-key']
  for (;;) {
    const now = Date.now()
    const wr: WriteRequest = { now, ops: [build(now)] }
    if (idem !== undefined) {
      // One session per key, one request in it: a retry of the same key is answered from the session.
      wr.client = `http:${idem}`
      wr.seq = 1
    }
    try {
      return answer(reply, method, cond, await d.node.propose(encodeRequest(wr)))
    } catch (e) {
      if (e instanceof NotLeaderError && !isForwarded(req)) {
        // Nothing was proposed here: hand the request to the leader.
        if (wantsRedirect(req, d)) return redirectToLeader(req, reply, d, e.leader)
        return proxyToLeader(req, reply, d, method === 'PUT' ? bodyBytes(req.body) : undefined)
      }
      if ((e instanceof DroppedError || e instanceof RefusedError) && Date.now() + RETRY_MS < deadline) {
        await sleep(RETRY_MS)
        continue
      }
      const f = writeFailure(e)
      return reply.code(f.code).send(f.body)
    }
  }
}

function bodyBytes(body: Buffer | undefined): Uint8Array {
  return body === undefined ? new Uint8Array(0) : new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
}

export function kvRoutes(app: FastifyInstance, d: KvRouteDeps): void {
  app.get<{ Params: Params; Querystring: { consistency: 'linearizable' | 'stale' } }>(
    '/kv/:key',
    {
      schema: {
        summary: 'Read a key',
        description: 'The value as the raw body, its revision as ETag and Raftkv-Revision, and Raftkv-Ttl-Ms when it expires.',
        tags: ['kv'],
        params: keyParams,
        querystring: { type: 'object', properties: { consistency: consistencyProp }, additionalProperties: false },
        response: {
          200: { description: 'The value (application/octet-stream).', type: 'string', format: 'binary' },
          404: { description: 'No such key.', ...errorBody },
          ...readErrors,
        },
      },
    },
    async (req, reply) => {
      try {
        if (req.query.consistency !== 'stale') await confirmRead(() => d.node.linearizableRead(), d.requestTimeoutMs)
        const rec = await d.sm.get(enc.encode(req.params.key))
        if (rec === undefined) return reply.code(404).send({ error: 'not found' })
        void reply.header('etag', etag(rec.rev)).header('raftkv-revision', String(rec.rev))
        if (rec.expireAt !== 0) void reply.header('raftkv-ttl-ms', String(Math.max(0, rec.expireAt - Date.now())))
        return reply.type('application/octet-stream').send(Buffer.from(rec.value.buffer, rec.value.byteOffset, rec.value.byteLength))
      } catch (e) {
        const f = readFailure(e)
        return reply.code(f.code).send(f.body)
      }
    },
  )

  app.put<WriteRoute>(
    '/kv/:key',
    {
      schema: {
        summary: 'Write a key',
        description:
          'The raw body is the value. With If-Match: "<rev>" (or If-None-Match: * to create only) it is a compare-and-set. ' +
          'On a follower the write is proxied to the leader, or answered with 307 when ?redirect=1 / Raftkv-Redirect: 1.',
        tags: ['kv'],
        params: keyParams,
        querystring: writeQuery,
        headers: writeHeaders,
        response: { 200: { description: 'Written.', ...writeOk }, 307: { description: 'Redirect to the leader.', ...errorBody }, ...writeErrors },
      },
    },
    async (req, reply) => {
      const ttl = ttlMs(req.query, req.headers)
      const cond = condition(req.headers)
      if (isBad(ttl)) return reply.code(400).send(ttl)
      if (isBad(cond)) return reply.code(400).send(cond)
      const key = enc.encode(req.params.key)
      const value = bodyBytes(req.body)
      return write(req, reply, d, (now) => putOp(key, value, cond, ttl === null ? undefined : now + ttl), cond)
    },
  )

  app.delete<WriteRoute>(
    '/kv/:key',
    {
      schema: {
        summary: 'Delete a key',
        description: 'With If-Match: "<rev>" only if the key is at that revision (412 otherwise).',
        tags: ['kv'],
        params: keyParams,
        querystring: { type: 'object', properties: { redirect: writeQuery.properties.redirect }, additionalProperties: false },
        headers: deleteHeaders,
        response: { 200: { description: 'Deleted (or absent).', ...writeOk }, 307: { description: 'Redirect to the leader.', ...errorBody }, ...writeErrors },
      },
    },
    async (req, reply) => {
      const cond = condition(req.headers)
      if (isBad(cond)) return reply.code(400).send(cond)
      if (req.headers['raftkv-ttl'] !== undefined) return reply.code(400).send(badRequest('a DELETE takes no TTL'))
      const key = enc.encode(req.params.key)
      return write(req, reply, d, () => deleteOp(key, cond), cond)
    },
  )
}
