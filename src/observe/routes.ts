// The observability routes of a node, as one fastify plugin: the RPC log (query, SSE stream),
// request traces across the cluster, the visualizer and the cluster-wide views it reads.
//
// Registered on the node's HTTP server by main.ts. The plugin itself is not encapsulated
// (skip-override) so that the request hooks (httphooks.ts) see the node's /kv routes; its routes
// live in an encapsulated child that answers any origin (CORS): the visualizer served by one
// member reads every member's stream directly, and keeps working when the one that served it dies.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import type { NodeId } from '../raft/types.ts'
import { registerClusterRoutes } from './clusterroutes.ts'
import { installRequestHooks } from './httphooks.ts'
import { MSG_TYPE_BY_NAME, MSG_TYPE_NAMES, RECORD_KINDS, type ScaleProgress } from './json.ts'
import type { Observer } from './observer.ts'
import { BadTraceId, traceCluster, type TraceQuery } from './fanout.ts'
import { parseRequestId } from './reqid.ts'
import { kindSet, queryPage, type RpcFilter } from './rpcquery.ts'
import { resolveProposal, traceSlice } from './traceslice.ts'
import { resumeFrom, RpcStreams } from './sse.ts'
import { membersOf, observeStatus, type StatusSource } from './status.ts'
import { registerUiRoutes } from './uiroutes.ts'

export interface ObservePluginOptions {
  node: StatusSource
  /** The RPC log and its hooks; null when the log is off (--rpc-log-size 0). */
  observer: Observer | null
  /** A member's HTTP base URL (options.ts peerHttpResolver). */
  peerHttp: (id: NodeId) => string | null
  electionMs: number
  heartbeatMs: number
  /** The `raftkv local` supervisor's control URL, if any. */
  localControl: string | null
  /** The cluster-resize progress shown in 'status' events (cluster/setup.ts), when scaling is wired. */
  scale?: () => ScaleProgress | null
  /** Where the built visualizer is (default ui/dist). */
  uiDir?: string
}

const typeNames = Object.values(MSG_TYPE_NAMES).join('|')
const kindNames = RECORD_KINDS.join('|')
const list = (names: string): string => `^(${names})(,(${names}))*$`

/** The filters GET /rpc-log and its stream share. */
const filterProps = {
  type: { type: 'string', pattern: list(typeNames), description: 'message types, comma-separated (Append,AppendResp,…)' },
  kind: { type: 'string', pattern: list(kindNames), description: 'record kinds, comma-separated (send,recv,propose,…)' },
  peer: { type: 'integer', minimum: 0, maximum: 65535 },
  path: { type: 'string', enum: ['user', 'kernel'] },
} as const

interface FilterQuery {
  type?: string
  kind?: string
  peer?: number
  path?: 'user' | 'kernel'
}

function toFilter(q: FilterQuery, limit: number, since?: number): RpcFilter {
  const f: RpcFilter = { limit }
  if (since !== undefined) f.since = since
  if (q.type) f.types = new Set(q.type.split(',').map((t) => MSG_TYPE_BY_NAME[t]!))
  const kinds = kindSet(q.kind)
  if (kinds) f.kinds = kinds
  if (q.peer !== undefined) f.peer = q.peer
  if (q.path) f.path = q.path
  return f
}

const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'x-raftkv-request' }

async function routes(app: FastifyInstance, o: ObservePluginOptions): Promise<void> {
  const obs = o.observer
  const log = obs?.log ?? null
  const status = () => observeStatus(o.node.status(), obs, o.electionMs, o.heartbeatMs, o.scale)
  const streams = new RpcStreams(log, status)
  const selfUrl = (): string | null => {
    const a = app.server.address()
    if (a && typeof a === 'object') return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address}:${a.port}`
    return null
  }
  const self = o.node.status().id
  const members = () => membersOf(o.node.status(), self, (id) => (id === self ? (selfUrl() ?? o.peerHttp(id)) : o.peerHttp(id)), o.localControl)

  app.addHook('onRequest', async (_req, reply) => {
    void reply.headers(CORS)
  })
  app.addHook('preClose', (done) => {
    streams.closeAll()
    done()
  })
  const noLog = { error: 'the RPC log is off on this node (--rpc-log-size 0)' }

  app.get<{ Querystring: FilterQuery & { since?: number; limit: number } }>(
    '/rpc-log',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { ...filterProps, since: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 } },
        },
      },
    },
    async (req, reply) => {
      if (!log) return reply.code(404).send(noLog)
      return queryPage(log, toFilter(req.query, req.query.limit, req.query.since))
    },
  )

  app.get<{ Querystring: FilterQuery & { since?: number; backlog: number; status: boolean; max: number } }>(
    '/rpc-log/stream',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...filterProps,
            since: { type: 'integer', minimum: 0 },
            backlog: { type: 'integer', minimum: 0, maximum: 10_000, default: 0 },
            status: { type: 'boolean', default: false },
            max: { type: 'integer', minimum: 1, maximum: 5000, default: 500 },
          },
        },
        headers: { type: 'object', properties: { 'last-event-id': { type: 'string', maxLength: 40 } } },
      },
    },
    async (req, reply) => {
      const q = req.query
      const lastId = req.headers['last-event-id']
      // A browser reconnecting resumes after the last event it saw, if it is from this run.
      const since = typeof lastId === 'string' ? resumeFrom(log, lastId) : (q.since ?? null)
      const f = toFilter(q, q.max)
      reply.hijack()
      streams.add(reply.raw, { filter: f, since, backlog: q.backlog, status: q.status, maxPerTick: q.max }, CORS)
    },
  )

  app.get<{ Querystring: { id?: string; key?: string } }>(
    '/rpc-log/resolve',
    { schema: { querystring: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 300 }, key: { type: 'string', minLength: 1, maxLength: 4096 } } } } },
    async (req, reply) => {
      const { id, key } = req.query
      if ((id === undefined) === (key === undefined)) return reply.code(400).send({ error: 'give exactly one of id, key' })
      const q = id !== undefined ? parseRequestId(id) : { t: 'key' as const, key: key! }
      if (!q) return reply.code(400).send({ error: `bad request id ${JSON.stringify(id)}` })
      const r = log ? resolveProposal(log, q) : null
      return r ?? reply.code(404).send({ error: 'no such proposal in this node’s log' })
    },
  )

  app.get<{ Querystring: { index: number; term: number; req: number; proposer: number } }>(
    '/rpc-log/slice',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['index'],
          properties: { index: { type: 'integer', minimum: 1 }, term: { type: 'integer', minimum: 0, default: 0 }, req: { type: 'integer', minimum: 0, default: 0 }, proposer: { type: 'integer', minimum: 0, default: 0 } },
        },
      },
    },
    async (req, reply) => {
      if (!log) return reply.code(404).send(noLog)
      const q = req.query
      return traceSlice(log, q.index, q.term, q.proposer === log.node ? q.req : 0)
    },
  )

  const trace = async (q: TraceQuery, reply: FastifyReply): Promise<unknown> => {
    if (!log) return reply.code(404).send(noLog)
    try {
      const t = await traceCluster(log, members().members, q)
      return t ?? reply.code(404).send({ error: 'no member logged that request (unknown, or older than the RPC logs hold)' })
    } catch (e) {
      if (e instanceof BadTraceId) return reply.code(400).send({ error: e.message })
      throw e
    }
  }
  app.get<{ Params: { requestId: string } }>(
    '/trace/:requestId',
    { schema: { params: { type: 'object', required: ['requestId'], properties: { requestId: { type: 'string', minLength: 1, maxLength: 300 } } } } },
    async (req, reply) => trace({ id: req.params.requestId }, reply),
  )
  app.get<{ Querystring: { key: string } }>(
    '/trace',
    { schema: { querystring: { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 4096 } } } } },
    async (req, reply) => trace({ key: req.query.key }, reply),
  )

  app.get('/observe/status', { schema: { querystring: { type: 'object', properties: {} } } }, async () => status())

  registerClusterRoutes(app, { self, log, members, status })
  registerUiRoutes(app, o.uiDir)
}

/** The plugin main.ts registers (see the top of this file for why it is not encapsulated). */
export const observePlugin: FastifyPluginAsync<ObservePluginOptions> = async (app, o) => {
  if (o.observer) installRequestHooks(app, o.observer.log)
  await app.register(routes, o)
}
;(observePlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true
