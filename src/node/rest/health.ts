// Probes and introspection: /status (the node's Raft state), /livez (the process answers),
// /health (a leader is known), /readyz (a leader is known and this node has applied what it knows
// to be committed, so its stale reads are nearly current), /metrics (Prometheus).
import type { FastifyInstance } from 'fastify'
import type { NodeMetrics } from '../metrics.ts'
import type { RaftNode } from '../raftnode.ts'

/** /readyz: the most committed-but-unapplied entries a ready node may have (override: ?maxLag=). */
export const READY_MAX_LAG = 100

export interface HealthDeps {
  node: RaftNode
  metrics: NodeMetrics | null
  /** Extra fields for /status (transport counters, storage stats …). */
  extraStatus: () => Record<string, unknown>
}

const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const
const probeBody = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    leader: { type: 'integer' },
    role: { type: 'string' },
    commit: { type: 'integer' },
    applied: { type: 'integer' },
    lag: { type: 'integer' },
    reason: { type: 'string' },
  },
} as const

export function healthRoutes(app: FastifyInstance, d: HealthDeps): void {
  app.get(
    '/status',
    {
      schema: {
        summary: 'Raft state of this node',
        tags: ['node'],
        querystring: noQuery,
        response: {
          200: {
            type: 'object',
            // Transport, storage and node counters ride along unlisted (additionalProperties).
            additionalProperties: true,
            properties: {
              id: { type: 'integer' },
              role: { type: 'string' },
              leader: { type: 'integer' },
              term: { type: 'integer' },
              commit: { type: 'integer' },
              applied: { type: 'integer' },
              lastIndex: { type: 'integer' },
              firstIndex: { type: 'integer' },
              voters: { type: 'array', items: { type: 'integer' } },
              learners: { type: 'array', items: { type: 'integer' } },
              progress: { type: 'object', additionalProperties: true },
              transferee: { type: 'integer', description: 'The voter a leadership transfer is under way to (0: none)' },
            },
          },
        },
      },
    },
    async () => {
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
        transferee: st.transferee,
        ...d.extraStatus(),
      }
    },
  )

  app.get('/livez', { schema: { summary: 'The process is up', tags: ['node'], querystring: noQuery, response: { 200: probeBody } } }, async () => ({ ok: true }))

  app.get(
    '/health',
    { schema: { summary: 'A Raft leader is known (503 otherwise)', tags: ['node'], querystring: noQuery, response: { 200: probeBody, 503: probeBody } } },
    async (_req, reply) => {
      const st = d.node.status()
      const ok = st.leader !== 0
      return reply.code(ok ? 200 : 503).send({ ok, leader: st.leader, role: st.role })
    },
  )

  app.get<{ Querystring: { maxLag: number } }>(
    '/readyz',
    {
      schema: {
        summary: 'Ready to serve: a leader is known and the applied index is within maxLag of the commit index (503 otherwise)',
        description:
          "A follower knows the leader's commit index from the leader's messages (its own commit index); a node that is " +
          'installing a snapshot or replaying a backlog is not ready.',
        tags: ['node'],
        querystring: { type: 'object', properties: { maxLag: { type: 'integer', minimum: 0, maximum: 1_000_000, default: READY_MAX_LAG } }, additionalProperties: false },
        response: { 200: probeBody, 503: probeBody },
      },
    },
    async (req, reply) => {
      const st = d.node.status()
      const lag = Math.max(0, st.commit - st.applied)
      const reason = st.leader === 0 ? 'no raft leader' : lag > req.query.maxLag ? `applied index ${lag} behind commit` : undefined
      const body = { ok: reason === undefined, leader: st.leader, role: st.role, commit: st.commit, applied: st.applied, lag, ...(reason ? { reason } : {}) }
      return reply.code(reason === undefined ? 200 : 503).send(body)
    },
  )

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (etcd names, raftkv_ prefix)',
        tags: ['node'],
        querystring: noQuery,
        response: { 200: { description: 'Prometheus text format.', type: 'string' }, 404: { type: 'object', properties: { error: { type: 'string' } } } },
      },
    },
    async (_req, reply) => {
      if (!d.metrics) return reply.code(404).send({ error: 'metrics are not enabled on this node' })
      const text = await d.metrics.text()
      return reply.type(d.metrics.contentType).send(text)
    },
  )
}
