// The node's HTTP API (the runtime part: status, health, and plain key-value access for tools and
// tests). Every route has a JSON schema; bad input gets a 400 with a message.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { KvMachine } from '../kv/machine.ts'
import { encodeRequest } from '../kv/request.ts'
import { DroppedError, NotLeaderError, ReadFailedError, RefusedError, UnknownOutcomeError } from './errors.ts'
import type { RaftNode } from './raftnode.ts'

const enc = new TextEncoder()

export interface HttpDeps {
  node: RaftNode
  sm: KvMachine
  log: Logger
  /** Extra fields for /status (transport counters, storage stats …). */
  extraStatus: () => Record<string, unknown>
}

const keyParams = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1, maxLength: 4096 } },
} as const

export function buildHttp(d: HttpDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: d.log.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger, bodyLimit: 16 << 20 })
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  function writeError(e: unknown): { code: number; body: Record<string, unknown> } {
    if (e instanceof NotLeaderError) return { code: 503, body: { error: e.message, leader: e.leader } }
    if (e instanceof UnknownOutcomeError) return { code: 504, body: { error: e.message, outcome: 'unknown' } }
    if (e instanceof DroppedError || e instanceof RefusedError) return { code: 503, body: { error: e.message, outcome: 'not-applied' } }
    if (e instanceof ReadFailedError) return { code: 503, body: { error: e.message } }
    throw e
  }

  app.get('/status', async () => {
    const st = d.node.status()
    return {
      id: st.id,
      role: st.role,
      leader: st.leader,
      term: st.term,
      commit: st.commit,
      applied: st.applied,
      lastIndex: st.lastIndex,
      firstIndex: st.firstIndex,
      voters: st.conf.voters,
      learners: st.conf.learners,
      progress: Object.fromEntries([...st.progress].map(([id, p]) => [id, p])),
      ...d.extraStatus(),
    }
  })

  app.get('/livez', async () => ({ ok: true }))
  app.get('/health', async (_req, reply) => {
    const st = d.node.status()
    const ok = st.leader !== 0
    return reply.code(ok ? 200 : 503).send({ ok, leader: st.leader, role: st.role })
  })

  app.put<{ Params: { key: string }; Body: Buffer | string | undefined }>('/kv/:key', { schema: { params: keyParams } }, async (req, reply) => {
    const body = req.body
    const value = body === undefined ? new Uint8Array(0) : typeof body === 'string' ? enc.encode(body) : new Uint8Array(body)
    try {
      const r = await d.node.propose(encodeRequest({ now: Date.now(), ops: [{ t: 'set', key: enc.encode(req.params.key), value }] }))
      if (r.k === 'error') return reply.code(400).send({ error: r.v })
      return { ok: true }
    } catch (e) {
      const { code, body } = writeError(e)
      return reply.code(code).send(body)
    }
  })

  app.delete<{ Params: { key: string } }>('/kv/:key', { schema: { params: keyParams } }, async (req, reply) => {
    try {
      const r = await d.node.propose(encodeRequest({ now: Date.now(), ops: [{ t: 'del', keys: [enc.encode(req.params.key)] }] }))
      if (r.k === 'error') return reply.code(400).send({ error: r.v })
      return { ok: true }
    } catch (e) {
      const { code, body } = writeError(e)
      return reply.code(code).send(body)
    }
  })

  app.get<{ Params: { key: string }; Querystring: { consistency?: string } }>(
    '/kv/:key',
    {
      schema: {
        params: keyParams,
        querystring: { type: 'object', properties: { consistency: { type: 'string', enum: ['linearizable', 'stale'] } } },
      },
    },
    async (req, reply) => {
      try {
        if (req.query.consistency !== 'stale') await d.node.linearizableRead()
        const v = await d.sm.get(enc.encode(req.params.key))
        if (v === undefined) return reply.code(404).send({ error: 'not found' })
        return reply.type('application/octet-stream').send(Buffer.from(v.value))
      } catch (e) {
        const { code, body } = writeError(e)
        return reply.code(code).send(body)
      }
    },
  )
  return app
}
