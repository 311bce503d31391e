// The deployment files, checked offline: every manifest validates against the Kubernetes schemas
// (kubernetes-models), the no-offload overlay applied to the base validates too, and the
// invariants the design relies on hold — Parallel pods with their own volumes, peers by ordinal
// DNS names through a headless Service that publishes not-ready pods, a leader Service on the
// label the leader sets, the RBAC the orchestrator needs, probes on the routes that exist, and
// container arguments that the node's own parsers accept and turn into the right identity.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadAllYaml } from '@kubernetes/client-node'
import t from 'tap'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import { Service, ServiceAccount } from 'kubernetes-models/v1'
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import type { IService } from 'kubernetes-models/v1/Service'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role'
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { LEADER_LABEL } from '../../src/cluster/k8s-orchestrator.ts'
import { splitClusterArgs } from '../../src/cluster/options.ts'
import { parseNodeArgs } from '../../src/node/options.ts'
import { splitObserveArgs } from '../../src/observe/options.ts'
import { repoRoot } from './fixtures/helpers.ts'

type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } } & Record<string, unknown>

const k8s = join(repoRoot, 'k8s')
const read = (p: string): string => readFileSync(join(k8s, p), 'utf8')

function loadKustomization(dir: string): { resources: string[]; patches: { path: string }[] } {
  const [k] = loadAllYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as [{ resources?: string[]; patches?: { path: string }[] }]
  return { resources: k.resources ?? [], patches: k.patches ?? [] }
}

function baseObjects(): Obj[] {
  return loadKustomization(k8s).resources.flatMap((f) => loadAllYaml(read(f)) as Obj[])
}

/** Validates one object with the kubernetes-models class of its kind (throws when invalid). */
function validate(o: Obj): void {
  const classes: Record<string, new (data: never) => { validate(): void }> = {
    StatefulSet,
    Service,
    ServiceAccount,
    Role,
    RoleBinding,
    PodDisruptionBudget,
  }
  const C = classes[o.kind]
  if (!C) throw new Error(`no schema check for kind ${o.kind}`)
  new C(o as never).validate()
}

/**
 * Kustomize's strategic merge, as far as the overlay uses it: maps merge, lists of named objects
 * (containers, env) merge by name, other lists are replaced.
 */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) {
    if (!Array.isArray(base) || patch.length === 0 || !patch.every((p) => typeof p === 'object' && p !== null && 'name' in p)) return patch
    const out = base.map((b: unknown) => {
      const p = patch.find((x: { name: string }) => x.name === (b as { name?: string }).name)
      return p ? merge(b, p) : b
    })
    for (const p of patch) if (!base.some((b: { name?: string }) => b.name === (p as { name: string }).name)) out.push(p)
    return out
  }
  if (typeof patch === 'object' && patch !== null) {
    const out: Record<string, unknown> = { ...(typeof base === 'object' && base !== null ? (base as Record<string, unknown>) : {}) }
    for (const [k, v] of Object.entries(patch)) out[k] = v === null ? undefined : merge(out[k], v)
    return out
  }
  return patch
}

function find<T>(objs: Obj[], kind: string, name: string): T {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name)
  if (!o) throw new Error(`no ${kind} ${name}`)
  return o as unknown as T
}

const container = (s: IStatefulSet): IContainer => s.spec!.template.spec!.containers.find((c) => c.name === 'raftkv')!
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v)

t.test('every manifest validates against the Kubernetes schemas', async (t) => {
  const objs = baseObjects()
  t.same([...new Set(objs.map((o) => o.kind))].sort(), ['PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'StatefulSet'], 'the kinds the deployment needs')
  for (const o of objs) t.doesNotThrow(() => validate(o), `${o.kind} ${o.metadata.name} is valid`)
  t.throws(() => validate({ ...find<Obj>(objs, 'StatefulSet', 'raftkv'), spec: { replicas: 'three' } } as unknown as Obj), 'the check does reject a broken object')
})

t.test('StatefulSet and Services: identity, peers, probes, leader label', async (t) => {
  const objs = baseObjects()
  const sts = find<IStatefulSet>(objs, 'StatefulSet', 'raftkv')
  const spec = sts.spec!
  const podLabels = spec.template.metadata!.labels!
  const c = container(sts)
  t.equal(spec.podManagementPolicy, 'Parallel', 'pods start in parallel')
  t.ok(spec.volumeClaimTemplates?.some((v) => v.metadata?.name === 'data' && c.volumeMounts?.some((m) => m.name === 'data')), 'each pod has its own volume, mounted')
  t.equal(spec.persistentVolumeClaimRetentionPolicy?.whenScaled, 'Delete', 'a scaled-away ordinal loses its data (a re-added ordinal starts fresh)')
  t.ok(c.resources?.requests?.cpu && c.resources.requests.memory, 'resource requests')

  const headless = find<IService>(objs, 'Service', spec.serviceName!)
  t.equal(headless.spec!.clusterIP, 'None', 'serviceName is a headless Service')
  t.equal(headless.spec!.publishNotReadyAddresses, true, 'peers resolve before they are ready')
  t.ok(selects(headless.spec!.selector!, podLabels), 'the headless Service selects the pods')
  const raftPorts = headless.spec!.ports!.filter((p) => p.port === 7000).map((p) => p.protocol)
  t.same(raftPorts.sort(), ['TCP', 'UDP'], 'Raft on TCP and UDP')

  const client = find<IService>(objs, 'Service', 'raftkv')
  t.ok(selects(client.spec!.selector!, podLabels), 'the client Service selects the pods')
  const named = new Set((c.ports ?? []).map((p) => p.name))
  for (const p of client.spec!.ports!) t.ok(named.has(String(p.targetPort)), `client port ${p.name} targets a container port`)
  t.same(client.spec!.ports!.map((p) => p.name).sort(), ['http', 'resp'], 'RESP and HTTP')
  const leader = find<IService>(objs, 'Service', 'raftkv-leader')
  t.equal(leader.spec!.selector![LEADER_LABEL], 'true', 'the leader Service selects the label the leader sets')
  t.ok(selects({ ...leader.spec!.selector!, [LEADER_LABEL]: 'x' }, { ...podLabels, [LEADER_LABEL]: 'x' }), 'and otherwise the same pods')

  t.equal(c.readinessProbe?.httpGet?.path, '/readyz', 'readiness: has a leader and caught up')
  t.equal(c.livenessProbe?.httpGet?.path, '/livez', 'liveness: the process only')
  t.equal(c.startupProbe?.httpGet?.path, '/livez', 'a startup probe for long replays')
  t.ok((c.startupProbe?.failureThreshold ?? 0) * (c.startupProbe?.periodSeconds ?? 0) >= 300, 'that waits minutes, not seconds')
  const preStop = c.lifecycle?.preStop?.exec?.command?.join(' ') ?? ''
  t.match(preStop, '/cluster/leadership/transfer', 'preStop hands leadership over')
  t.match(readFileSync(join(repoRoot, 'src/cluster/routes.ts'), 'utf8'), "'/cluster/leadership/transfer'", 'a route the node serves')
  t.same([...(c.securityContext?.capabilities?.add ?? [])].sort(), ['BPF', 'NET_ADMIN', 'PERFMON'], 'capabilities for XDP, nothing more')
  t.same(c.securityContext?.capabilities?.drop, ['ALL'], 'everything else dropped')
  t.equal(c.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace', 'the namespace from the downward API')
  const secretVol = spec.template.spec!.volumes!.find((v) => v.secret)
  t.ok(secretVol, 'the cluster secret comes from a Secret')
  const mount = c.volumeMounts!.find((m) => m.name === secretVol!.name)!
  t.ok(c.args!.some((a) => a.startsWith(`--cluster-secret-file=${mount.mountPath}/`)), 'and is read from where it is mounted')
  const sa = find<Obj>(objs, 'ServiceAccount', spec.template.spec!.serviceAccountName!)
  t.ok(sa, 'the pods run as the ServiceAccount the Role is bound to')
})

t.test('the container arguments give each pod its identity and DNS peers', async (t) => {
  const objs = baseObjects()
  const sts = find<IStatefulSet>(objs, 'StatefulSet', 'raftkv')
  const c = container(sts)
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-manifest-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const secret = join(dir, 'cluster-secret')
  writeFileSync(secret, 'a-secret\n')
  const args = c.args!.slice(1).map((a) => (a.startsWith('--cluster-secret-file=') ? `--cluster-secret-file=${secret}` : a))
  t.equal(c.args![0], 'node', 'runs one node')
  const env = { POD_NAMESPACE: 'kv' }
  for (const ordinal of [0, 1, 6]) {
    const host = `${sts.metadata!.name}-${ordinal}`
    const { rest: afterObserve, observe } = splitObserveArgs(args, env)
    const { rest, cluster } = splitClusterArgs(afterObserve, env, host)
    const cfg = parseNodeArgs(rest, env)
    t.equal(cfg.id, ordinal + 1, `${host}: node id = ordinal + 1`)
    t.equal(cfg.join, ordinal !== 0, `${host}: ${ordinal === 0 ? 'bootstraps the cluster alone' : 'joins (added by the leader)'}`)
    if (ordinal === 0) t.same(cfg.initialMembers, [1], 'a one-member bootstrap')
    t.same(cluster, { orchestrator: 'kubernetes', localControl: null, namespace: 'kv', statefulSet: sts.metadata!.name }, `${host}: orchestrated through its StatefulSet`)
    t.equal(cfg.secret, 'a-secret', 'reads the cluster secret')
    t.match(cfg.peerTemplate, `{ordinal}.${sts.spec!.serviceName}`, 'peers by ordinal DNS names of the headless Service (not IPs)')
    t.match(observe.httpTemplate, `{ordinal}.${sts.spec!.serviceName}`, 'HTTP addresses likewise')
    t.equal(cfg.raftPort, 7000, 'Raft on the port the Services name')
    t.equal(cfg.httpPort, 8080, 'HTTP on the probes’ port')
  }
})

t.test('RBAC: what the orchestrator calls, and no more', async (t) => {
  const objs = baseObjects()
  const role = find<IRole>(objs, 'Role', 'raftkv')
  const allowed = (group: string, resource: string, verb: string): boolean =>
    (role.rules ?? []).some((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource) && (r.verbs ?? []).includes(verb))
  t.ok(allowed('apps', 'statefulsets', 'get'), 'statefulsets get')
  for (const v of ['get', 'patch', 'update']) t.ok(allowed('apps', 'statefulsets/scale', v), `statefulsets/scale ${v}`)
  for (const v of ['get', 'patch', 'delete']) t.ok(allowed('', 'pods', v), `pods ${v}`)
  t.notOk(allowed('apps', 'statefulsets', 'patch'), 'the StatefulSet itself is not writable')
  t.notOk((role.rules ?? []).some((r) => (r.verbs ?? []).includes('*') || (r.resources ?? []).includes('*')), 'no wildcards')
  const rb = find<IRoleBinding>(objs, 'RoleBinding', 'raftkv')
  t.equal(rb.roleRef.name, role.metadata!.name, 'the binding names the Role')
  t.ok(rb.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === 'raftkv'), 'for the pods’ ServiceAccount')
  const pdb = find<IPodDisruptionBudget>(objs, 'PodDisruptionBudget', 'raftkv')
  t.equal(pdb.spec!.maxUnavailable, 1, 'one voluntary disruption at a time')
  const sts = find<IStatefulSet>(objs, 'StatefulSet', 'raftkv')
  t.ok(selects(pdb.spec!.selector!.matchLabels!, sts.spec!.template.metadata!.labels!), 'over the raftkv pods')
})

t.test('the no-offload overlay: valid, offload off, no capabilities, non-root', async (t) => {
  const dir = join(k8s, 'overlays', 'no-offload')
  const k = loadKustomization(dir)
  t.same(k.resources, ['../..'], 'built on the base')
  let objs = baseObjects()
  for (const p of k.patches) {
    const patch = loadAllYaml(readFileSync(join(dir, p.path), 'utf8'))[0] as Obj
    objs = objs.map((o) => (o.kind === patch.kind && o.metadata.name === patch.metadata.name ? (merge(o, patch) as Obj) : o))
  }
  const sts = find<IStatefulSet>(objs, 'StatefulSet', 'raftkv')
  t.doesNotThrow(() => validate(sts as unknown as Obj), 'the patched StatefulSet is valid')
  const c = container(sts)
  t.equal(c.env?.find((e) => e.name === 'RAFTKV_OFFLOAD')?.value, 'off', 'offload off')
  t.same(c.securityContext?.capabilities?.add, [], 'no added capabilities')
  t.same(c.securityContext?.capabilities?.drop, ['ALL'], 'all dropped')
  t.equal(c.securityContext?.runAsNonRoot, true, 'non-root')
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')
  const user = /^USER\s+(\d+)/m.exec(dockerfile)?.[1]
  t.equal(String(c.securityContext?.runAsUser), user, 'as the image’s own user')
  t.equal(c.env?.filter((e) => e.name === 'RAFTKV_OFFLOAD').length, 1, 'the variable is replaced, not duplicated')
})

t.test('Dockerfile: multi-stage, builds the fast path, non-root by default', async (t) => {
  const d = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')
  t.ok((d.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage')
  t.match(d, /scripts\/build-native\.sh/, 'the BPF object and the addon are built in the image')
  t.match(d, /COPY --from=build/, 'the runtime stage takes only the build output')
  t.match(d, /^USER\s+[1-9]\d*/m, 'runs as a non-root user unless the manifests say otherwise')
  t.match(d, /ENTRYPOINT \["node", "--max-semi-space-size=4", "\/app\/bin\/raftkv\.js"\]/, 'starts the raftkv command with the node runtime flags of src/cluster/runtime.ts')
  t.match(d, /ENV MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=4194304/, 'and its malloc settings')
})
