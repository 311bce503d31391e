// The `raftkv local` supervisor's control API: list, stop and start its node processes, so the
// visualizer can take a node down and bring it back. Loopback only, like the cluster itself.
// Any origin may call it (the visualizer is served by a node, on another port); every action is a
// plain POST with no body, which browsers send without a preflight. The leader node calls
// /local/replicas and /local/pods/:name/delete to scale the cluster and restart a node.
import Fastify, { type FastifyInstance } from 'fastify'
import { LOCAL_POD_PREFIX } from './local-orchestrator.ts'

export interface LocalNodeInfo {
  id: number
  pid: number | null
  running: boolean
  /** Stopped from here (not restarted, not an error). */
  held: boolean
  http: string
}

export interface LocalNodes {
  list(): LocalNodeInfo[]
  /** Signals node `id` and resolves once it exited; false when it was not running. */
  stop(id: number, signal: 'SIGTERM' | 'SIGKILL'): Promise<boolean>
  /** Starts node `id` again over its data; false when it is running already. */
  start(id: number): boolean
  /** How many nodes (ids 1 … n) should run. */
  replicas(): number
  /** Runs ids 1 … n: starts missing ones, stops the rest and discards their data. */
  scale(n: number): Promise<void>
  /** Kills node `id` (SIGKILL) and starts it again over its data; false when it is not a replica. */
  restart(id: number): Promise<boolean>
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1, maximum: 9 } } } as const

export async function startControl(host: string, port: number, nodes: LocalNodes): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.addHook('onRequest', async (_req, reply) => {
    void reply.header('access-control-allow-origin', '*')
  })
  const known = (id: number): boolean => nodes.list().some((n) => n.id === id)

  app.get('/local/nodes', { schema: { querystring: { type: 'object', properties: {} } } }, async () => ({ nodes: nodes.list() }))

  app.post<{ Params: { id: number }; Querystring: { signal: 'SIGTERM' | 'SIGKILL' } }>(
    '/local/nodes/:id/stop',
    { schema: { params: idParams, querystring: { type: 'object', properties: { signal: { type: 'string', enum: ['SIGTERM', 'SIGKILL'], default: 'SIGTERM' } } } } },
    async (req, reply) => {
      if (!known(req.params.id)) return reply.code(404).send({ error: `no node ${req.params.id}` })
      const stopped = await nodes.stop(req.params.id, req.query.signal)
      return stopped ? { ok: true } : reply.code(409).send({ error: `node ${req.params.id} is not running` })
    },
  )

  app.post<{ Params: { id: number } }>('/local/nodes/:id/start', { schema: { params: idParams } }, async (req, reply) => {
    if (!known(req.params.id)) return reply.code(404).send({ error: `no node ${req.params.id}` })
    return nodes.start(req.params.id) ? { ok: true } : reply.code(409).send({ error: `node ${req.params.id} is running already` })
  })

  // Cluster operations from the leader node (src/cluster/local-orchestrator.ts).
  app.get('/local/replicas', { schema: { querystring: { type: 'object', properties: {} } } }, async () => ({ replicas: nodes.replicas() }))
  app.put<{ Body: { replicas: number } }>(
    '/local/replicas',
    { schema: { body: { type: 'object', required: ['replicas'], additionalProperties: false, properties: { replicas: { type: 'integer', minimum: 1, maximum: 9 } } } } },
    async (req) => {
      await nodes.scale(req.body.replicas)
      return { replicas: nodes.replicas() }
    },
  )
  app.post<{ Params: { name: string } }>(
    '/local/pods/:name/delete',
    { schema: { params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: `^${LOCAL_POD_PREFIX}-[0-8]$` } } } } },
    async (req, reply) => {
      const id = Number(req.params.name.slice(LOCAL_POD_PREFIX.length + 1)) + 1
      return (await nodes.restart(id)) ? { ok: true, id } : reply.code(404).send({ error: `${req.params.name} is not running here` })
    },
  )

  await app.listen({ host, port })
  return app
}
