// Wires cluster operations into a node (main.ts): the state machine wrapper that keeps the scale
// target, the orchestrator, the scaler loop and the HTTP routes.
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { ScaleProgress } from '../observe/json.ts'
import type { StateMachine } from '../kv/statemachine.ts'
import type { RaftNode } from '../node/raftnode.ts'
import type { NodeId } from '../raft/types.ts'
import type { RaftStorage } from '../storage/raft-storage.ts'
import { LazyKubernetesOrchestrator } from './k8s-lazy.ts'
import { LocalOrchestrator } from './local-orchestrator.ts'
import type { ClusterOptions } from './options.ts'
import type { Orchestrator } from './orchestrator.ts'
import { clusterRoutes } from './routes.ts'
import { Scaler } from './scaler.ts'
import { ClusterStateMachine } from './statemachine.ts'

export function createOrchestrator(o: ClusterOptions): Orchestrator | null {
  switch (o.orchestrator) {
    case 'local':
      return new LocalOrchestrator(o.localControl!)
    case 'kubernetes':
      return new LazyKubernetesOrchestrator(o.namespace!, o.statefulSet!)
    case 'none':
      return null
  }
}

export interface ClusterStartDeps {
  node: RaftNode
  raftAddr: (id: NodeId) => string | null
  httpAddr: (id: NodeId) => string | null
  requestTimeoutMs: number
}

export class ClusterOps {
  readonly stateMachine: ClusterStateMachine
  readonly orchestrator: Orchestrator | null
  private scaler: Scaler | null = null
  private deps: ClusterStartDeps | null = null

  constructor(
    o: ClusterOptions,
    storage: RaftStorage,
    kv: StateMachine,
    private readonly log: Logger,
  ) {
    this.stateMachine = new ClusterStateMachine(kv, storage)
    this.orchestrator = createOrchestrator(o)
  }

  /** Starts the scaler loop once the node runs. */
  start(d: ClusterStartDeps): void {
    this.deps = d
    this.scaler = new Scaler({ node: d.node, sm: this.stateMachine, orchestrator: this.orchestrator, log: this.log.child({ component: 'cluster' }), raftAddr: d.raftAddr, httpAddr: d.httpAddr })
    this.scaler.start()
  }

  /** For /status. */
  status(): Record<string, unknown> | null {
    return this.scaler?.status() ?? null
  }

  /** For the visualizer (the observe plugin's 'status' events): the same progress, typed. */
  scaleProgress(): ScaleProgress | null {
    return this.scaler?.status() ?? null
  }

  /** The routes, as a fastify plugin (register after start()). */
  readonly routes = async (app: FastifyInstance): Promise<void> => {
    if (!this.scaler || !this.deps) throw new Error('cluster routes registered before ClusterOps.start')
    await clusterRoutes(app, { node: this.deps.node, scaler: this.scaler, orchestrator: this.orchestrator, peerHttp: this.deps.httpAddr, requestTimeoutMs: this.deps.requestTimeoutMs })
  }

  stop(): void {
    this.scaler?.stop()
  }
}
