// Puts the RESP side of a node together: the service over the Raft node and the machine, the
// command dispatcher, the write proxy to the leader, active expiry, and the TCP server.
import type { Logger } from 'pino'
import type { RaftNode } from '../../node/raftnode.ts'
import type { NodeId } from '../../raft/types.ts'
import type { RaftStorage } from '../../storage/raft-storage.ts'
import type { PeerAddress } from '../../transport/transport.ts'
import { keySlot } from '../commands/cluster.ts'
import { buildDispatcher } from '../commands/index.ts'
import { ActiveExpiry } from '../expiry.ts'
import type { KvMachine } from '../machine.ts'
import { LeaderProxy } from '../proxy.ts'
import { KvService } from '../service.ts'
import { RespServer } from './server.ts'

export interface RespOptions {
  id: NodeId
  clusterId: number
  host: string
  port: number
  /** A busy port is fatal only when the operator chose it; the default port is best effort. */
  portExplicit: boolean
  requirepass: string | null
  redirect: boolean
  secret: string | null
  requestTimeoutMs: number
  respAddr: (id: NodeId) => PeerAddress | undefined
  raftAddr: (id: NodeId) => PeerAddress | undefined
}

export interface RunningResp {
  /** The port listened on, or 0 when the RESP service could not start (default port busy). */
  port: number
  svc: KvService
  close(): Promise<void>
}

export async function startResp(o: RespOptions, node: RaftNode, sm: KvMachine, storage: RaftStorage, log: Logger): Promise<RunningResp> {
  const l = log.child({ component: 'resp' })
  const svc = new KvService(
    node,
    sm,
    storage,
    {
      id: o.id,
      clusterId: o.clusterId,
      requirepass: o.requirepass,
      redirect: o.redirect,
      respAddr: o.respAddr,
      raftAddr: o.raftAddr,
      secret: o.secret,
      requestTimeoutMs: o.requestTimeoutMs,
    },
    l,
  )
  svc.slotOf = keySlot
  const d = buildDispatcher(svc)
  const proxy = new LeaderProxy({
    svc,
    log: l,
    // Forwarded writes that come back to this node (it became leader) run as a peer's would.
    local: (payload, session) => d.runForwarded(payload, session),
    respAddr: o.respAddr,
    selfId: o.id,
    password: o.requirepass,
    secret: o.secret,
  })
  svc.forwarder = proxy
  const expiry = new ActiveExpiry(svc, l)
  svc.expiredKeys = () => expiry.expired
  const server = new RespServer(svc, d, l)
  let port = 0
  try {
    port = await server.listen(o.port, o.host)
    l.info({ resp: `${o.host}:${port}`, redirect: o.redirect, auth: o.requirepass !== null }, 'RESP listening')
  } catch (e) {
    if (o.portExplicit) throw e
    l.warn({ err: e, port: o.port }, 'RESP port unavailable; running without the RESP service (choose one with --resp-port)')
  }
  expiry.start()
  return {
    port,
    svc,
    async close() {
      expiry.stop()
      proxy.close()
      if (port) await server.close()
    },
  }
}
