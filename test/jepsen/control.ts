// The harness's stand-in for the `raftkv local` supervisor's control API (src/cluster/control.ts),
// which a node's local orchestrator calls to carry out /scale-cluster: the replica count, scaling
// (start ids up to it, stop and wipe the ones above), and restarting a "pod". With it, membership
// changes during a run are driven by the product's own scaler, as in production.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { JCluster } from './cluster.ts'

export class ControlServer {
  private constructor(
    private readonly srv: Server,
    readonly url: string,
  ) {}

  static async start(c: JCluster, host: string): Promise<ControlServer> {
    const srv = createServer((req, res) => void handle(c, req, res))
    await new Promise<void>((r) => srv.listen(0, host, r))
    const port = (srv.address() as { port: number }).port
    return new ControlServer(srv, `http://${host}:${port}`)
  }

  close(): Promise<void> {
    this.srv.closeAllConnections()
    return new Promise((r) => this.srv.close(() => r()))
  }
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const ch of req) chunks.push(ch as Buffer)
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return null
  }
}

function send(res: ServerResponse, code: number, v: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' })
  res.end(JSON.stringify(v))
}

async function handle(c: JCluster, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const url = req.url ?? ''
    if (req.method === 'GET' && url === '/local/replicas') return send(res, 200, { replicas: c.replicas })
    if (req.method === 'PUT' && url === '/local/replicas') {
      const b = (await body(req)) as { replicas?: unknown } | null
      const n = b?.replicas
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > c.maxNodes) return send(res, 400, { error: `replicas must be 1…${c.maxNodes}` })
      await c.scaleTo(n)
      return send(res, 200, { replicas: c.replicas })
    }
    const m = /^\/local\/pods\/raftkv-(\d)\/delete$/.exec(url)
    if (req.method === 'POST' && m) {
      const id = Number(m[1]) + 1
      if (id > c.replicas) return send(res, 404, { error: `raftkv-${m[1]} is not running here` })
      await c.kill(id)
      c.spawn(id)
      return send(res, 200, { ok: true, id })
    }
    send(res, 404, { error: 'not found' })
  } catch (e) {
    send(res, 500, { error: (e as Error).message })
  }
}
