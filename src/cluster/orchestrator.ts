// What the cluster operations need from whatever runs the node processes: a StatefulSet on
// Kubernetes (k8s-orchestrator.ts) or the `raftkv local` supervisor (local-orchestrator.ts).
// Node id = ordinal + 1 in both; replica count n means ordinals 0 … n−1 (ids 1 … n) exist.
import type { NodeId } from '../raft/types.ts'

export interface Orchestrator {
  readonly kind: 'local' | 'kubernetes'
  /** The replica count the orchestrator currently wants (StatefulSet spec.replicas). */
  replicas(): Promise<number>
  /**
   * Asks for `n` replicas. Growing starts ordinals from the current count up; shrinking stops the
   * highest ordinals and discards their data (see scaler.ts on why a re-added ordinal must start
   * fresh). Resolves once the request is accepted, not when the processes are up.
   */
  scale(n: number): Promise<void>
  /** Deletes a pod (local: kills the process and starts it again over its data). */
  deletePod(name: string): Promise<void>
  /** Marks a member's pod as the leader or not (the leader Service selects the label). */
  labelLeader(id: NodeId, leader: boolean): Promise<void>
  /** The pod name of a member (`<statefulset>-<ordinal>`). */
  podName(id: NodeId): string
  /** The member a pod name denotes, or null when the name is not one of this cluster's. */
  idOfPod(name: string): NodeId | null
}

/** `<prefix>-<ordinal>` → id = ordinal + 1 (null when `name` does not have that shape). */
export function idFromOrdinalName(prefix: string, name: string): NodeId | null {
  if (!name.startsWith(`${prefix}-`)) return null
  const ord = name.slice(prefix.length + 1)
  if (!/^(0|[1-9][0-9]{0,3})$/.test(ord)) return null
  return Number(ord) + 1
}

/** An orchestrator request that failed (HTTP status and the orchestrator's message). */
export class OrchestratorError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}
