// The `raftkv local` supervisor's control API: list, stop and start its node processes, so the
// visualizer can take a node down and bring it back. Loopback only, like the cluster itself.
// Any origin may call it (the visualizer is served by a node, on another port); every action is a
// plain POST with no body, which browsers send without a preflight.
import Fastify, { type FastifyInstance } from 'fastify'

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

  await app.listen({ host, port })
  return app
}
