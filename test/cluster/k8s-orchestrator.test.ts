// The Kubernetes orchestrator against a narrow stand-in for the API server: a loopback HTTP server
// that serves exactly the four endpoints the orchestrator calls (read scale, merge-patch scale,
// merge-patch pod labels, delete pod), checks method, path, content type and bearer token, and
// answers 404 to everything else. The client is configured from a kubeconfig file pointing at it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import Fastify from 'fastify'
import t from 'tap'
import { KubernetesOrchestrator, LEADER_LABEL } from '../../src/cluster/k8s-orchestrator.ts'
import { OrchestratorError } from '../../src/cluster/orchestrator.ts'

const NS = 'kv'
const STS = 'raftkv'
const TOKEN = 'stand-in-token'

interface Call {
  method: string
  url: string
  contentType: string | undefined
  body: unknown
}

async function standIn(): Promise<{ url: string; calls: Call[]; unexpected: Call[]; replicas: () => number; labels: Map<string, Record<string, string>>; deleted: string[]; close: () => Promise<void> }> {
  const app = Fastify({ logger: false })
  const calls: Call[] = []
  const unexpected: Call[] = []
  let replicas = 3
  const pods = new Set(['raftkv-0', 'raftkv-1', 'raftkv-2'])
  const labels = new Map<string, Record<string, string>>()
  const deleted: string[] = []
  // Patches arrive as application/merge-patch+json; a DELETE says application/json with no body
  // (the API server takes both, so does the stand-in).
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body === '' ? undefined : JSON.parse(body as string)))
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, (_req, body, done) => done(null, JSON.parse(body as string)))
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply.code(401).send({ kind: 'Status', code: 401, message: 'Unauthorized' })
  })
  app.addHook('preHandler', async (req) => {
    calls.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body: req.body })
  })
  const scalePath = `/apis/apps/v1/namespaces/${NS}/statefulsets/${STS}/scale`
  const scaleObject = (): Record<string, unknown> => ({ apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: STS, namespace: NS }, spec: { replicas }, status: { replicas } })
  app.get(scalePath, async () => scaleObject())
  app.patch<{ Body: { spec?: { replicas?: number } } }>(scalePath, async (req, reply) => {
    if (req.headers['content-type'] !== 'application/merge-patch+json') return reply.code(415).send({ kind: 'Status', code: 415, message: 'want a merge patch' })
    const n = req.body.spec?.replicas
    if (typeof n !== 'number') return reply.code(422).send({ kind: 'Status', code: 422, message: 'spec.replicas' })
    replicas = n
    return scaleObject()
  })
  app.patch<{ Params: { name: string }; Body: { metadata?: { labels?: Record<string, string> } } }>(`/api/v1/namespaces/${NS}/pods/:name`, async (req, reply) => {
    if (req.headers['content-type'] !== 'application/merge-patch+json') return reply.code(415).send({ kind: 'Status', code: 415, message: 'want a merge patch' })
    if (!pods.has(req.params.name)) return reply.code(404).send({ kind: 'Status', code: 404, message: `pods "${req.params.name}" not found` })
    const l = { ...labels.get(req.params.name), ...req.body.metadata?.labels }
    labels.set(req.params.name, l)
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name: req.params.name, namespace: NS, labels: l } }
  })
  app.delete<{ Params: { name: string } }>(`/api/v1/namespaces/${NS}/pods/:name`, async (req, reply) => {
    if (!pods.has(req.params.name)) return reply.code(404).send({ kind: 'Status', code: 404, message: `pods "${req.params.name}" not found` })
    deleted.push(req.params.name)
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name: req.params.name, namespace: NS } }
  })
  app.setNotFoundHandler(async (req, reply) => {
    unexpected.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body: req.body })
    return reply.code(404).send({ kind: 'Status', code: 404, message: 'not served by the stand-in' })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return { url: `http://127.0.0.1:${port}`, calls, unexpected, replicas: () => replicas, labels, deleted, close: () => app.close() }
}

function kubeconfigFile(dir: string, server: string): string {
  const file = join(dir, 'kubeconfig')
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: stand-in',
      '  cluster:',
      `    server: ${server}`,
      // The client refuses plain HTTP unless told the stand-in has no TLS to verify.
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: raftkv',
      '  user:',
      `    token: ${TOKEN}`,
      'contexts:',
      '- name: stand-in',
      '  context:',
      '    cluster: stand-in',
      '    user: raftkv',
      `    namespace: ${NS}`,
      'current-context: stand-in',
      '',
    ].join('\n'),
  )
  return file
}

t.test('the Kubernetes orchestrator calls exactly the endpoints the Role allows', async (t) => {
  const s = await standIn()
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-k8s-'))
  t.teardown(async () => {
    await s.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfigFile(dir, s.url))
  const o = new KubernetesOrchestrator({ namespace: NS, statefulSet: STS, kubeConfig: kc })

  t.equal(await o.replicas(), 3, 'reads spec.replicas from the scale subresource')
  await o.scale(5)
  t.equal(s.replicas(), 5, 'the merge patch set spec.replicas')
  t.equal(await o.replicas(), 5, 'and reads it back')
  const patch = s.calls.find((c) => c.method === 'PATCH' && c.url.endsWith('/scale'))
  t.equal(patch?.contentType, 'application/merge-patch+json', 'scale is a merge patch')
  t.same(patch?.body, { spec: { replicas: 5 } }, 'that touches spec.replicas only')

  await o.labelLeader(2, true)
  await o.labelLeader(1, false)
  t.same(s.labels.get('raftkv-1'), { [LEADER_LABEL]: 'true' }, 'the leader (id 2 = ordinal 1) labels its pod')
  t.same(s.labels.get('raftkv-0'), { [LEADER_LABEL]: 'false' }, 'and clears the label on another')

  await o.deletePod('raftkv-2')
  t.same(s.deleted, ['raftkv-2'], 'delete-pod deletes the pod')

  const err = await o.deletePod('raftkv-8').catch((e: unknown) => e)
  t.ok(err instanceof OrchestratorError, 'a failure is an OrchestratorError')
  t.equal((err as OrchestratorError).status, 404, 'carrying the API status')
  t.match((err as OrchestratorError).message, /delete pod raftkv-8/, 'and saying what failed')

  t.equal(o.podName(1), 'raftkv-0', 'pod name of id 1')
  t.equal(o.idOfPod('raftkv-6'), 7, 'id of a pod')
  t.equal(o.idOfPod('other-0'), null, 'a pod of another StatefulSet is not ours')
  t.equal(o.idOfPod('raftkv-01'), null, 'nor a malformed ordinal')

  t.same(s.unexpected, [], 'no request outside the four endpoints')
  t.same(
    [...new Set(s.calls.map((c) => `${c.method} ${c.url.replace(/\?.*$/, '').replace(/raftkv-\d/, 'POD')}`))].sort(),
    [
      `DELETE /api/v1/namespaces/${NS}/pods/POD`,
      `GET /apis/apps/v1/namespaces/${NS}/statefulsets/${STS}/scale`,
      `PATCH /api/v1/namespaces/${NS}/pods/POD`,
      `PATCH /apis/apps/v1/namespaces/${NS}/statefulsets/${STS}/scale`,
    ],
    'exactly the four endpoints',
  )
})

t.test('a wrong token is refused with the API status', async (t) => {
  const s = await standIn()
  t.teardown(() => s.close())
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: s.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'wrong' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  })
  const o = new KubernetesOrchestrator({ namespace: NS, statefulSet: STS, kubeConfig: kc })
  const err = await o.replicas().catch((e: unknown) => e)
  t.ok(err instanceof OrchestratorError && err.status === 401, 'reading the scale fails with 401')
})
