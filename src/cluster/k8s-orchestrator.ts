// The orchestrator of a node running in a StatefulSet pod: the Kubernetes API through
// @kubernetes/client-node, with the pod's service account (in-cluster config). It calls exactly
// four endpoints, which the Role in k8s/rbac.yaml allows and the test stand-in serves:
//   GET   /apis/apps/v1/namespaces/NS/statefulsets/STS/scale     (read the replica count)
//   PATCH /apis/apps/v1/namespaces/NS/statefulsets/STS/scale     (merge-patch spec.replicas)
//   PATCH /api/v1/namespaces/NS/pods/POD                         (merge-patch the leader label)
//   DELETE /api/v1/namespaces/NS/pods/POD                        (delete-pod)
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import type { NodeId } from '../raft/types.ts'
import { OrchestratorError, idFromOrdinalName, type Orchestrator } from './orchestrator.ts'

/** The label the leader sets to "true" on its own pod; the leader Service selects it. */
export const LEADER_LABEL = 'raftkv.io/leader'

export interface KubernetesOptions {
  namespace: string
  statefulSet: string
  /** Where the API is and how to authenticate; default: the pod's in-cluster configuration. */
  kubeConfig?: KubeConfig
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

/** Turns the client's ApiException (which carries `code` and `body`) into an OrchestratorError. */
function wrap(what: string, e: unknown): OrchestratorError {
  const code = typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'number' ? e.code : 502
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e)
  return new OrchestratorError(`kubernetes: ${what}: ${msg}`, code)
}

export class KubernetesOrchestrator implements Orchestrator {
  readonly kind = 'kubernetes' as const
  private readonly apps: AppsV1Api
  private readonly core: CoreV1Api
  private readonly ns: string
  private readonly sts: string

  constructor(o: KubernetesOptions) {
    const kc = o.kubeConfig ?? inCluster()
    this.apps = kc.makeApiClient(AppsV1Api)
    this.core = kc.makeApiClient(CoreV1Api)
    this.ns = o.namespace
    this.sts = o.statefulSet
  }

  async replicas(): Promise<number> {
    try {
      const s = await this.apps.readNamespacedStatefulSetScale({ name: this.sts, namespace: this.ns })
      return s.spec?.replicas ?? 0
    } catch (e) {
      throw wrap(`read scale of statefulset ${this.sts}`, e)
    }
  }

  async scale(n: number): Promise<void> {
    try {
      await this.apps.patchNamespacedStatefulSetScale({ name: this.sts, namespace: this.ns, body: { spec: { replicas: n } } }, mergePatch)
    } catch (e) {
      throw wrap(`scale statefulset ${this.sts} to ${n}`, e)
    }
  }

  async deletePod(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.ns })
    } catch (e) {
      throw wrap(`delete pod ${name}`, e)
    }
  }

  async labelLeader(id: NodeId, leader: boolean): Promise<void> {
    const name = this.podName(id)
    try {
      await this.core.patchNamespacedPod({ name, namespace: this.ns, body: { metadata: { labels: { [LEADER_LABEL]: leader ? 'true' : 'false' } } } }, mergePatch)
    } catch (e) {
      throw wrap(`label pod ${name}`, e)
    }
  }

  podName(id: NodeId): string {
    return `${this.sts}-${id - 1}`
  }

  idOfPod(name: string): NodeId | null {
    return idFromOrdinalName(this.sts, name)
  }
}

/**
 * In a pod: the service account (in-cluster config). With $KUBECONFIG set (a node run outside the
 * cluster, or a test's stand-in API server): that file.
 */
export function fromEnvironment(o: { namespace: string; statefulSet: string }, env: NodeJS.ProcessEnv = process.env): KubernetesOrchestrator {
  if (!env['KUBECONFIG']) return new KubernetesOrchestrator(o)
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromDefault()
  return new KubernetesOrchestrator({ ...o, kubeConfig })
}

function inCluster(): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromCluster()
  return kc
}
