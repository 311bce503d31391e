// The RESP server of one node: a TCP listener (node:net), one Connection per client.
import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Dispatcher } from '../commands/dispatch.ts'
import type { KvService } from '../service.ts'
import { Connection } from './connection.ts'

/** Redis's maxclients default. */
const MAX_CLIENTS = 10_000

export class RespServer {
  private readonly server: Server
  private readonly sockets = new Set<Socket>()

  constructor(
    private readonly svc: KvService,
    private readonly d: Dispatcher,
    private readonly log: Logger,
  ) {
    this.server = createServer({ noDelay: true, keepAlive: true }, (sock) => this.onConnection(sock))
    this.server.on('error', (e) => this.log.error({ err: e }, 'RESP server error'))
  }

  private onConnection(sock: Socket): void {
    this.svc.stats.connectionsReceived++
    if (this.svc.clients.size >= MAX_CLIENTS) {
      this.svc.stats.rejectedConnections++
      sock.end('-ERR max number of clients reached\r\n')
      return
    }
    const c = new Connection(sock, this.d, this.svc, this.log)
    this.sockets.add(sock)
    this.svc.clients.set(c.id, c)
    sock.on('close', () => {
      this.sockets.delete(sock)
      this.svc.clients.delete(c.id)
    })
  }

  /** Listens on host:port (port 0 = any); resolves with the port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e)
      this.server.once('error', onError)
      this.server.listen(port, host, () => {
        this.server.off('error', onError)
        const a = this.server.address()
        const p = typeof a === 'object' && a ? a.port : port
        this.svc.port = p
        resolve(p)
      })
    })
  }

  /** Stops accepting and closes every client connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}
