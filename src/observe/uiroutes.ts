// GET /ui: the visualizer, served from ui/dist (built there at first request when missing).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildUi, uiBuilt, uiDist } from './uibuild.ts'

const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
}

export function registerUiRoutes(app: FastifyInstance, dir = uiDist): void {
  let ready: Promise<void> | null = null
  /** Builds once if there is no build; a failed build is retried on the next request. */
  const ensure = (): Promise<void> => {
    ready ??= uiBuilt(dir)
      .then((ok) => (ok ? undefined : buildUi(dir)))
      .catch((e: unknown) => {
        ready = null
        throw e
      })
    return ready
  }
  const cache = new Map<string, Buffer>()
  const serve = async (file: string): Promise<Buffer> => {
    let b = cache.get(file)
    if (!b) {
      await ensure()
      b = await readFile(join(dir, file))
      cache.set(file, b)
    }
    return b
  }

  app.get('/ui', { schema: { querystring: { type: 'object', properties: {} } } }, async (_req, reply) => reply.redirect('/ui/'))
  app.get<{ Params: { file?: string } }>(
    '/ui/:file',
    { schema: { params: { type: 'object', properties: { file: { type: 'string', enum: ['', ...Object.keys(FILES)] } } } } },
    async (req, reply) => {
      const file = req.params.file || 'index.html'
      try {
        const body = await serve(file)
        return reply.type(FILES[file]!).header('cache-control', 'no-cache').send(body)
      } catch (e) {
        return reply.code(503).send({ error: `the visualizer is not built and could not be built: ${(e as Error).message}` })
      }
    },
  )
}
