// The orchestrator of a node run by the `raftkv local` supervisor: it asks the supervisor's control
// API (control.ts; its URL reaches every node in RAFTKV_LOCAL_CONTROL) to start, stop and restart
// node processes. Pod names mirror a StatefulSet's: `raftkv-<ordinal>`, ordinal = id − 1.
import type { NodeId } from '../raft/types.ts'
import { OrchestratorError, idFromOrdinalName, type Orchestrator } from './orchestrator.ts'

export const LOCAL_POD_PREFIX = 'raftkv'

export class LocalOrchestrator implements Orchestrator {
  readonly kind = 'local' as const

  constructor(
    private readonly control: string,
    private readonly timeoutMs = 10_000,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await fetch(this.control + path, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    })
    const text = await r.text()
    let json: unknown = null
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON: reported below with the raw text
    }
    if (!r.ok) {
      const msg = (json as { error?: string } | null)?.error ?? text
      throw new OrchestratorError(`local supervisor: ${method} ${path}: ${r.status} ${msg}`, r.status)
    }
    return json
  }

  async replicas(): Promise<number> {
    const j = (await this.call('GET', '/local/replicas')) as { replicas?: unknown }
    if (typeof j.replicas !== 'number') throw new OrchestratorError('local supervisor: no replica count in the answer', 502)
    return j.replicas
  }

  async scale(n: number): Promise<void> {
    await this.call('PUT', '/local/replicas', { replicas: n })
  }

  async deletePod(name: string): Promise<void> {
    await this.call('POST', `/local/pods/${encodeURIComponent(name)}/delete`)
  }

  /** No Service selects local processes: nothing to label. */
  async labelLeader(): Promise<void> {}

  podName(id: NodeId): string {
    return `${LOCAL_POD_PREFIX}-${id - 1}`
  }

  idOfPod(name: string): NodeId | null {
    return idFromOrdinalName(LOCAL_POD_PREFIX, name)
  }
}
