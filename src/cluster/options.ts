// The cluster-operation flags of a node process, taken off the command line before the node's own
// parser sees it (like src/observe/options.ts), plus the identity flags a StatefulSet pod needs:
//   --id-from-hostname       node id = ordinal + 1, from a hostname `<statefulset>-<ordinal>`
//   --bootstrap-id N         only node N bootstraps a new cluster (alone); every other node starts
//                            with --join and is added by the leader (see scaler.ts: a pod that
//                            comes back empty must never bootstrap a configuration of its own)
//   --orchestrator local|kubernetes|none   (default: local when RAFTKV_LOCAL_CONTROL is set)
//   --k8s-namespace NS       (default $POD_NAMESPACE)
//   --k8s-statefulset NAME   (default: the hostname without its ordinal)
import { hostname as osHostname } from 'node:os'
import { takeFlags } from '../flags.ts'

export type OrchestratorKind = 'local' | 'kubernetes' | 'none'

export interface ClusterOptions {
  orchestrator: OrchestratorKind
  /** The `raftkv local` supervisor's control API (local orchestrator). */
  localControl: string | null
  namespace: string | null
  statefulSet: string | null
}

export class ClusterUsageError extends Error {}

const VALUE_FLAGS = ['bootstrap-id', 'orchestrator', 'k8s-namespace', 'k8s-statefulset'] as const
const BOOL_FLAGS = ['id-from-hostname'] as const

/** `name-3` → { prefix: 'name', ordinal: 3 }; null for a hostname without an ordinal suffix. */
export function parseOrdinalHostname(h: string): { prefix: string; ordinal: number } | null {
  const m = /^(.+)-(0|[1-9][0-9]{0,3})$/.exec(h.split('.')[0]!)
  return m ? { prefix: m[1]!, ordinal: Number(m[2]) } : null
}

function idArg(argv: readonly string[]): number | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--id') return Number(argv[i + 1])
    if (a.startsWith('--id=')) return Number(a.slice(5))
  }
  return null
}

export function splitClusterArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, hostname: string = env['HOSTNAME'] ?? osHostname()): { rest: string[]; cluster: ClusterOptions } {
  const { found, rest } = takeFlags(argv, VALUE_FLAGS, BOOL_FLAGS, (m) => new ClusterUsageError(m))
  const ord = parseOrdinalHostname(hostname)
  if (found.has('id-from-hostname')) {
    if (!ord) throw new ClusterUsageError(`--id-from-hostname: hostname ${JSON.stringify(hostname)} does not end in -<ordinal>`)
    rest.push('--id', String(ord.ordinal + 1))
  }
  const boot = found.get('bootstrap-id')
  if (boot !== undefined) {
    const b = Number(boot)
    if (!Number.isInteger(b) || b < 1 || b > 65535) throw new ClusterUsageError(`--bootstrap-id must be a node id, got ${JSON.stringify(boot)}`)
    const id = idArg(rest)
    // Only a node with no data is affected: --join and --initial-members only shape a new node.
    rest.push(...(id === b ? ['--initial-members', String(b)] : ['--join']))
  }
  const localControl = env['RAFTKV_LOCAL_CONTROL'] ?? null
  const kind = found.get('orchestrator') ?? env['RAFTKV_ORCHESTRATOR'] ?? (localControl ? 'local' : 'none')
  if (kind !== 'local' && kind !== 'kubernetes' && kind !== 'none') throw new ClusterUsageError(`--orchestrator must be local, kubernetes or none, got ${JSON.stringify(kind)}`)
  if (kind === 'local' && !localControl) throw new ClusterUsageError('--orchestrator local needs RAFTKV_LOCAL_CONTROL (set by `raftkv local`)')
  const namespace = found.get('k8s-namespace') ?? env['POD_NAMESPACE'] ?? null
  const statefulSet = found.get('k8s-statefulset') ?? ord?.prefix ?? null
  if (kind === 'kubernetes' && (!namespace || !statefulSet)) {
    throw new ClusterUsageError('--orchestrator kubernetes needs a namespace (--k8s-namespace or $POD_NAMESPACE) and a StatefulSet name (--k8s-statefulset or a <name>-<ordinal> hostname)')
  }
  return { rest, cluster: { orchestrator: kind, localControl, namespace, statefulSet } }
}

export function defaultClusterOptions(env: NodeJS.ProcessEnv = process.env): ClusterOptions {
  return splitClusterArgs([], env).cluster
}
