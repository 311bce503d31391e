// The Kubernetes orchestrator, loaded on first use: @kubernetes/client-node takes a second or
// more to import, which every node would otherwise pay at startup whether it runs in a pod or not.
import type { NodeId } from '../raft/types.ts'
import { idFromOrdinalName, type Orchestrator } from './orchestrator.ts'

export class LazyKubernetesOrchestrator implements Orchestrator {
  readonly kind = 'kubernetes' as const
  private real: Promise<Orchestrator> | null = null

  constructor(
    private readonly namespace: string,
    private readonly statefulSet: string,
  ) {}

  private get(): Promise<Orchestrator> {
    this.real ??= import('./k8s-orchestrator.ts').then((m) => m.fromEnvironment({ namespace: this.namespace, statefulSet: this.statefulSet }))
    return this.real
  }

  async replicas(): Promise<number> {
    return (await this.get()).replicas()
  }

  async scale(n: number): Promise<void> {
    return (await this.get()).scale(n)
  }

  async deletePod(name: string): Promise<void> {
    return (await this.get()).deletePod(name)
  }

  async labelLeader(id: NodeId, leader: boolean): Promise<void> {
    return (await this.get()).labelLeader(id, leader)
  }

  podName(id: NodeId): string {
    return `${this.statefulSet}-${id - 1}`
  }

  idOfPod(name: string): NodeId | null {
    return idFromOrdinalName(this.statefulSet, name)
  }
}
