// Client write requests over HTTP in the RPC log: their arrival and reply, and which proposal
// they made. These hooks sit on the node's whole HTTP server (not just the observe routes), so
// they only touch write requests to /kv/ and do no more than stamp a number.
import type { FastifyInstance } from 'fastify'
import { Kind, type RpcLog } from './rpclog.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** This node's number for a client write request (0: not one). */
    raftkvReq: number
  }
}

export const REQUEST_HEADER = 'x-raftkv-request'

export function installRequestHooks(app: FastifyInstance, log: RpcLog): void {
  let counter = 0
  const clear = (): void => {
    log.pendingRequest = 0
  }
  app.decorateRequest('raftkvReq', 0)
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS' && req.url.startsWith('/kv/')) {
      req.raftkvReq = ++counter
      log.event(Kind.Arrive, 0, 0, 0, 0, req.raftkvReq)
    }
    done()
  })
  // The write handlers propose synchronously right after their preHandler hooks (before any
  // await), so "the request being handled" is exact for that stretch; a microtask clears it
  // before anything else (a RESP write) could propose.
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.raftkvReq) {
      log.pendingRequest = req.raftkvReq
      queueMicrotask(clear)
    }
    done()
  })
  app.addHook('onSend', (req, reply, payload, done) => {
    // A follower that proxied the write relays the leader's id (the one that names the proposal).
    if (req.raftkvReq && !reply.hasHeader(REQUEST_HEADER)) void reply.header(REQUEST_HEADER, `h${log.node}.${req.raftkvReq}`)
    done(null, payload)
  })
  app.addHook('onResponse', (req, reply, done) => {
    if (req.raftkvReq) log.event(Kind.Reply, 0, 0, reply.statusCode, 0, req.raftkvReq)
    done()
  })
}
