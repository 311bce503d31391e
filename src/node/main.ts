// Composition root of one node process: storage, transport, run loop, HTTP.
import { mkdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import pino, { type Logger } from 'pino'
import { KvMachine } from '../kv/machine.ts'
import { RaftStorage } from '../storage/raft-storage.ts'
import { NetTransport } from '../transport/net-transport.ts'
import { deriveKey } from '../transport/wire.ts'
import type { NodeId } from '../raft/types.ts'
import type { PeerAddress } from '../transport/transport.ts'
import { startResp } from '../kv/resp/start.ts'
import { buildHttp } from './http.ts'
import { NodeMetrics } from './metrics.ts'
import { peerHttpResolver } from '../observe/options.ts'
import { resolveRespTemplate, resolveTemplate, type NodeConfig } from './options.ts'
import { RaftNode } from './raftnode.ts'
// ---- observe hook (src/observe: RPC log, traces, visualizer) ----
import { defaultObserveOptions, type ObserveOptions } from '../observe/options.ts'
import { observePlugin } from '../observe/routes.ts'
import { createObserver, observePluginOptions } from '../observe/setup.ts'
// ---- end observe hook ----
import { ClusterOps } from '../cluster/setup.ts' // cluster hook
import { defaultClusterOptions, type ClusterOptions } from '../cluster/options.ts' // cluster hook
import { OffloadBinding } from '../offload/binding.ts' // offload hook

export interface RunningNode {
  node: RaftNode
  close(): Promise<void>
  httpPort: number
  /** The RESP port (0 when the default port was busy and RESP is off). */
  respPort: number
}

/** A seeded generator for election timeouts, seeded from the OS (the core itself stays pure). */
function osRandom(): () => number {
  const seed = randomBytes(4).readUInt32LE(0)
  let s = seed
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function runNode(cfg: NodeConfig, log: Logger = pino({ level: cfg.logLevel }), observe: ObserveOptions = defaultObserveOptions(), clusterOpts: ClusterOptions = defaultClusterOptions()): Promise<RunningNode> {
  const l = log.child({ node: cfg.id })
  if (!cfg.secret) l.warn('running without a cluster secret: control messages are not authenticated (development only)')
  await mkdir(cfg.dataDir, { recursive: true })
  // Metrics exist before the storage so that it can report every fsync (the WAL fsync histogram).
  const metrics = new NodeMetrics()
  const storage = await RaftStorage.open(cfg.dataDir, { onSyncWrite: (ms) => metrics.observeFsync(ms) })
  const resolve = (id: NodeId): PeerAddress | undefined => {
    const p = cfg.peers.get(id)
    if (p) return p
    return cfg.peerTemplate ? resolveTemplate(cfg.peerTemplate, id, cfg.raftPortBase) : undefined
  }
  const transport = await NetTransport.listen({
    id: cfg.id,
    clusterId: cfg.clusterId,
    key: cfg.secret ? deriveKey(cfg.secret) : null,
    host: cfg.host,
    port: cfg.raftPort,
    peers: resolve,
    log: l.child({ component: 'transport' }),
  })
  const sm = new KvMachine(storage)
  await sm.recount()
  // cluster hook: the KV machine plus the cluster's own log entries (the /scale-cluster target)
  const cluster = new ClusterOps(clusterOpts, storage, sm, l)
  const observer = createObserver(cfg.id, observe) // observe hook
  // offload hook: the kernel fast path, attached before the node starts; bound to it once it exists.
  const electionTick = Math.max(2, Math.round(cfg.electionMs / cfg.tickMs))
  const offload = new OffloadBinding(
    { id: cfg.id, clusterId: cfg.clusterId, host: cfg.host, raftPort: cfg.raftPort, key: cfg.secret ? deriveKey(cfg.secret) : null, mode: cfg.offload, ifname: cfg.offloadIfname, tickMs: cfg.tickMs, electionTick, checkQuorum: true },
    l.child({ component: 'offload' }),
  )
  offload.load()
  const node = await RaftNode.start(
    {
      id: cfg.id,
      initialMembers: cfg.initialMembers,
      join: cfg.join,
      tickMs: cfg.tickMs,
      heartbeatTick: Math.max(1, Math.round(cfg.heartbeatMs / cfg.tickMs)),
      electionTick,
      snapshotEntries: cfg.snapshotEntries,
      snapshotBytes: cfg.snapshotBytes,
      compactionMargin: Math.min(5000, Math.floor(cfg.snapshotEntries / 2)),
      requestTimeoutMs: cfg.requestTimeoutMs,
      preVote: true,
      checkQuorum: true,
      readOnly: cfg.readMode,
      random: osRandom(),
    },
    storage,
    cluster.stateMachine, // cluster hook
    transport,
    l,
    offload.nodeEvents(observer?.events ?? {}), // observe hook + offload hook
  )
  // offload hook: before the loop's first turn (a setImmediate away), so its first Ready is published.
  offload.bind(node, storage, observer, metrics.registry)
  // cluster hook: the scaler loop (leader: drives the cluster to the committed target)
  cluster.start({
    node,
    raftAddr: (id) => {
      const a = resolve(id)
      return a ? `${a.host}:${a.port}` : null
    },
    httpAddr: peerHttpResolver(observe, { id: cfg.id, host: cfg.host, httpPort: cfg.httpPort }, resolve),
    requestTimeoutMs: cfg.requestTimeoutMs,
  })
  const http = buildHttp({
    node,
    sm,
    log: l,
    extraStatus: () => ({ transport: transport.counters, storage: storage.stats(), node: node.counters, cluster: cluster.status(), offload: offload.status() }),
    metrics: metrics.attach({ status: () => node.status(), counters: () => node.counters, transport: () => transport.counters }),
    // Followers proxy (or, with --redirect, 307) writes to the leader's HTTP address (--http-template).
    peerHttp: peerHttpResolver(observe, { id: cfg.id, host: cfg.host, httpPort: cfg.httpPort }, resolve),
    redirect: cfg.redirect,
    requestTimeoutMs: cfg.requestTimeoutMs,
  })
  await http.register(observePlugin, observePluginOptions(cfg, observe, observer, node, resolve, () => cluster.scaleProgress())) // observe hook + cluster hook: resize progress in the visualizer
  await http.register(cluster.routes) // cluster hook: /scale-cluster, /get-raft-instances, /delete-pod …
  await http.listen({ port: cfg.httpPort, host: cfg.host })
  const addr = http.server.address()
  const httpPort = typeof addr === 'object' && addr ? addr.port : cfg.httpPort
  // RESP addresses of members: the template, or each member's Raft host with port base + id.
  const respAddr = (id: NodeId): PeerAddress | undefined => {
    if (cfg.respTemplate) return resolveRespTemplate(cfg.respTemplate, id, cfg.respPortBase)
    if (id === cfg.id) return { host: cfg.host, port: cfg.respPort }
    const host = resolve(id)?.host
    return host ? { host, port: cfg.respPortBase + id } : undefined
  }
  const resp = await startResp(
    {
      id: cfg.id,
      clusterId: cfg.clusterId,
      host: cfg.host,
      port: cfg.respPort,
      portExplicit: cfg.respPortExplicit,
      requirepass: cfg.requirepass,
      redirect: cfg.redirect,
      secret: cfg.secret,
      requestTimeoutMs: cfg.requestTimeoutMs,
      respAddr,
      raftAddr: resolve,
    },
    node,
    sm,
    storage,
    l,
  )
  l.info({ raft: `${cfg.host}:${cfg.raftPort}`, http: `http://${cfg.host}:${httpPort}`, resp: resp.port ? `${cfg.host}:${resp.port}` : 'off' }, 'node listening')
  return {
    node,
    httpPort,
    respPort: resp.port,
    async close() {
      await resp.close()
      cluster.stop() // cluster hook
      await node.stop()
      offload.close() // offload hook: detach (the bpf_link would also go with the process)
      await http.close()
      await storage.close()
    },
  }
}
