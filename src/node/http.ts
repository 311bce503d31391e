// The node's HTTP API (DESIGN §6, REST): key-value access (src/node/rest/kv.ts, list.ts), probes,
// status and metrics (rest/health.ts), and the OpenAPI document generated from the route schemas,
// served with a UI at /docs (JSON at /docs/json). Every route has a JSON schema; bad input gets a
// 400 with fastify's validation message.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { KvMachine } from '../kv/machine.ts'
import type { NodeId } from '../raft/types.ts'
import type { NodeMetrics } from './metrics.ts'
import type { RaftNode } from './raftnode.ts'
import { healthRoutes } from './rest/health.ts'
import { kvRoutes } from './rest/kv.ts'
import { listRoutes } from './rest/list.ts'
import { MAX_KEY_LENGTH } from './rest/schemas.ts'

export interface HttpDeps {
  node: RaftNode
  sm: KvMachine
  log: Logger
  /** Extra fields for /status (transport counters, storage stats …). */
  extraStatus: () => Record<string, unknown>
  /** Prometheus metrics for /metrics (404 there without). */
  metrics?: NodeMetrics
  /** A member's HTTP base URL, for proxying and redirecting writes to the leader (none: 503s). */
  peerHttp?: (id: NodeId) => string | null
  /** Redirect mode (--redirect): followers answer writes with 307 instead of proxying them. */
  redirect?: boolean
  /** How long a write may take before its outcome is reported unknown (the node's own timeout). */
  requestTimeoutMs?: number
}

/** The OpenAPI document's description of the raw request body (fastify does not validate it). */
const rawBody = {
  required: false,
  description: 'The value, as raw bytes.',
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
}

export function buildHttp(d: HttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: d.log.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 16 << 20,
    // The router's limit is on the URL-encoded key (100 by default): room for MAX_KEY_LENGTH
    // characters of up to 4 UTF-8 bytes, each escaped as %XX; the schema then checks the length.
    routerOptions: { maxParamLength: 12 * MAX_KEY_LENGTH },
  })
  // Plugins load in registration order: swagger's route hook is in place before any route below
  // (or the observe plugin main.ts registers after) is added, so all of them are documented.
  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'raftkv', description: 'A Raft key-value store: the REST API of one node.', version: '0.1.0' },
      tags: [
        { name: 'kv', description: 'Keys and values' },
        { name: 'node', description: 'Probes, status and metrics' },
      ],
    },
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject
      const o = doc.openapiObject
      const put = o.paths?.['/kv/{key}']?.put
      if (put) Object.assign(put, { requestBody: rawBody })
      return o
    },
  })
  void app.register(swaggerUi, { routePrefix: '/docs' })

  rawKvBodies(app)
  const fwd = { node: d.node, peerHttp: d.peerHttp ?? (() => null), redirect: d.redirect ?? false, requestTimeoutMs: d.requestTimeoutMs ?? 5000 }
  void app.register(
    unencapsulated(async (root) => {
      kvRoutes(root, { ...fwd, sm: d.sm })
      listRoutes(root, { node: d.node, sm: d.sm, requestTimeoutMs: fwd.requestTimeoutMs })
      healthRoutes(root, { node: d.node, metrics: d.metrics ?? null, extraStatus: d.extraStatus })
    }),
  )
  return app
}

/**
 * Marks a plugin as not encapsulated (what fastify-plugin does): its routes live in the root
 * context, so root hooks added later — the RPC log's request hooks (src/observe/httphooks.ts) —
 * still apply to them.
 */
function unencapsulated(fn: (app: FastifyInstance) => Promise<void>): (app: FastifyInstance) => Promise<void> {
  ;(fn as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true
  return fn
}

/**
 * Under /kv a body is the value: raw bytes whatever its content type (a JSON or text value must
 * not be parsed). Elsewhere JSON and text bodies keep fastify's default parsing.
 */
function rawKvBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error')
  const isKv = (req: FastifyRequest): boolean => (req.routeOptions.url ?? '').startsWith('/kv')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    if (isKv(req)) done(null, body)
    else json(req, (body as Buffer).toString('utf8'), done)
  })
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (req, body, done) => done(null, isKv(req) ? body : (body as Buffer).toString()))
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
}
